//! Failures from the shell's point of view: every one has its exit code (§4.3), a message
//! that says what to do next, and leaves the store unchanged.

mod common;

use std::process::{Command, Stdio};

use common::*;
use rel_testkit::TestDaemon;

#[test]
fn unreachable_daemon_is_exit_6() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("nobody-home.sock");
    let out = Command::new(rel_testkit::bin("relctl"))
        .arg("--socket")
        .arg(&socket)
        .arg("status")
        .stdin(Stdio::null())
        .output()
        .expect("run relctl");
    assert_eq!(out.status.code(), Some(EXIT_UNREACHABLE));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot reach releasd at "),
        "{stderr}"
    );
    assert!(
        stderr.contains(socket.to_str().expect("utf-8")) && stderr.contains("Start it with"),
        "{stderr}"
    );

    // The same through RELEASD_SOCKET, as JSON.
    let out = Command::new(rel_testkit::bin("relctl"))
        .env("RELEASD_SOCKET", &socket)
        .args(["env", "list", "-o", "json"])
        .stdin(Stdio::null())
        .output()
        .expect("run relctl");
    assert_eq!(out.status.code(), Some(EXIT_UNREACHABLE));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(err["error"]["code"], "unavailable");
    assert!(out.stdout.is_empty());
}

#[test]
fn validate_works_without_a_daemon_and_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("app.toml");
    std::fs::write(&good, rel_domain::config::EXAMPLE_APP_TOML).expect("write");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        rel_domain::config::EXAMPLE_APP_TOML.replace("pipeline = \"chat\"", "pipeline = \"chta\""),
    )
    .expect("write");
    let run = |file: &std::path::Path, json: bool| {
        let mut cmd = Command::new(rel_testkit::bin("relctl"));
        cmd.args(["--socket", "/nonexistent/releasd.sock", "app", "validate"])
            .arg(file);
        if json {
            cmd.args(["-o", "json"]);
        }
        cmd.stdin(Stdio::null()).output().expect("run relctl")
    };
    let out = run(&good, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["valid"].as_bool(), v["endpoints"].as_u64()),
        (Some(true), Some(1))
    );

    let out = run(&bad, false);
    assert_eq!(out.status.code(), Some(EXIT_ERROR));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml: endpoints.chat.pipeline: unknown pipeline \"chta\""),
        "{stderr}"
    );
}

#[test]
fn invalid_config_is_exit_1_naming_file_and_path_and_keeps_the_draft() {
    let d = TestDaemon::start();
    let good = write(&d, "app.toml", &config(1));
    ok(&d, &["app", "apply", p(&good)]);
    let before = json(&d, &["app", "show"]);

    let text = config(2).replace("kind = \"template\"", "kind = \"shell\"");
    let bad = write(&d, "broken.toml", &text);
    let stderr = fails(&d, &["app", "apply", p(&bad)], EXIT_ERROR);
    assert!(stderr.contains("broken.toml"), "{stderr}");
    assert!(
        stderr.contains("pipelines.chat.stages[0].steps[0].kind"),
        "{stderr}"
    );
    assert_eq!(
        json(&d, &["app", "show"]),
        before,
        "a rejected apply leaves the draft alone"
    );

    // --from with a bad file: same message, no release.
    let stderr = fails(
        &d,
        &["release", "create", "v1", "--from", p(&bad)],
        EXIT_ERROR,
    );
    assert!(stderr.contains("broken.toml"), "{stderr}");
    assert_eq!(states(&d), Vec::<(String, String)>::new());

    // A file that is not there.
    let stderr = fails(&d, &["app", "apply", "/nonexistent/app.toml"], EXIT_ERROR);
    assert!(
        stderr.contains("cannot read /nonexistent/app.toml"),
        "{stderr}"
    );
}

#[test]
fn not_found_is_exit_4() {
    let d = TestDaemon::start();
    let err = fails_json(&d, &["release", "show", "v9.9.9"], EXIT_NOT_FOUND);
    assert_eq!(err["error"]["code"], "not_found");
    assert!(
        err["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("v9.9.9"),
        "{err}"
    );
    fails(&d, &["env", "show", "nowhere"], EXIT_NOT_FOUND);
    release(&d, "v1", 1);
    fails(&d, &["deploy", "v1", "--env", "nowhere"], EXIT_NOT_FOUND);
    fails(&d, &["deploy", "v2", "--env", "staging"], EXIT_NOT_FOUND);
    // No draft yet in a fresh store is "not found" too, with what to do.
    let fresh = TestDaemon::start();
    let stderr = fails(&fresh, &["app", "show"], EXIT_NOT_FOUND);
    assert!(stderr.contains("relctl app apply"), "{stderr}");
}

#[test]
fn expect_mismatch_is_exit_3_and_changes_nothing() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    let err = fails_json(
        &d,
        &["deploy", "v2", "--env", "staging", "--expect", "v2"],
        EXIT_CONFLICT,
    );
    assert_eq!(err["error"]["code"], "conflict");
    // A tag that names no release is a typo, not a concurrent change: not found, and says so.
    let err = fails_json(
        &d,
        &["deploy", "v2", "--env", "staging", "--expect", "v9.9.9"],
        EXIT_NOT_FOUND,
    );
    assert_eq!(err["error"]["code"], "not_found");
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(
        msg.starts_with("--expect v9.9.9: no such release (staging is running v1)"),
        "{msg}"
    );
    assert_eq!(live(&d, "staging"), "v1");
    fails(
        &d,
        &["rollback", "--env", "staging", "--expect", "v2"],
        EXIT_CONFLICT,
    );
    // Rollback agrees with deploy: a tag that names no release is exit 4.
    let err = fails_json(
        &d,
        &["rollback", "--env", "staging", "--expect", "v9", "--yes"],
        EXIT_NOT_FOUND,
    );
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(
        msg.starts_with("--expect v9: no such release (staging is running v1)"),
        "{msg}"
    );
    assert_eq!(live(&d, "staging"), "v1");
    // The right expectation goes through.
    ok(&d, &["deploy", "v2", "--env", "staging", "--expect", "v1"]);
    assert_eq!(live(&d, "staging"), "v2");
}

#[test]
fn protected_environment_without_yes_and_without_a_terminal_refuses() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    let stderr = fails(&d, &["deploy", "v1", "--env", "production"], EXIT_ERROR);
    assert!(
        stderr.contains("protected") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert_eq!(live(&d, "production"), serde_json::Value::Null);

    ok(&d, &["deploy", "v1", "--env", "production", "--yes"]);
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    ok(&d, &["deploy", "v2", "--env", "production", "--yes"]);
    let stderr = fails(&d, &["rollback", "--env", "production"], EXIT_ERROR);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(live(&d, "production"), "v2");
    // --dry-run needs no confirmation: it changes nothing.
    ok(&d, &["rollback", "--env", "production", "--dry-run"]);
    // Unprotected environments need none either.
    ok(&d, &["rollback", "--env", "staging"]);
    assert_eq!(live(&d, "staging"), "v1");
}

#[test]
fn usage_errors_are_exit_2_before_any_daemon_is_needed() {
    let usage = |args: &[&str]| {
        let out = Command::new(rel_testkit::bin("relctl"))
            .args(["--socket", "/nonexistent/releasd.sock"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run relctl");
        assert_eq!(
            out.status.code(),
            Some(EXIT_USAGE),
            "relctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = usage(&["deploy", "v1", "--env", "production", "--force"]);
    assert!(stderr.contains("--reason"), "{stderr}");
    usage(&["deploy", "v1"]);
    usage(&["release", "list", "--state", "live"]);
    usage(&["frobnicate"]);
    // Completions need no daemon either.
    let out = Command::new(rel_testkit::bin("relctl"))
        .args(["completions", "bash"])
        .output()
        .expect("run relctl");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("relctl"));
}

#[test]
fn env_create_and_list() {
    let d = TestDaemon::start();
    let v = json(
        &d,
        &[
            "env",
            "create",
            "canary",
            "--requires",
            "staging",
            "-d",
            "1% of traffic",
        ],
    );
    assert_eq!(
        (v["name"].as_str(), v["protected"].as_bool()),
        (Some("canary"), Some(false))
    );
    assert_eq!(v["requires"], serde_json::json!(["staging"]));
    let names: Vec<String> = json(&d, &["env", "list"])
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_string())
        .collect();
    assert!(
        names.contains(&"canary".to_string()) && names.contains(&"production".to_string()),
        "{names:?}"
    );
    // Bad names are refused with the rule.
    let stderr = fails(&d, &["env", "create", "Prod_2"], EXIT_ERROR);
    assert!(stderr.contains("Prod_2"), "{stderr}");
    // Requiring an unknown environment is refused.
    let stderr = fails(
        &d,
        &["env", "create", "late", "--requires", "nowhere"],
        EXIT_NOT_FOUND,
    );
    assert!(stderr.contains("nowhere"), "{stderr}");
}

#[test]
fn validate_without_a_daemon_checks_jq_and_templates_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "badjq.toml",
            rel_domain::config::EXAMPLE_APP_TOML.replace(
                "expr = '{reply: .steps.greet, length: (.input.message | length)}'",
                "expr = '{reply: .steps.greet'",
            ),
            "pipelines.chat.stages[0].steps[1].expr",
        ),
        (
            "badfilter.toml",
            rel_domain::config::EXAMPLE_APP_TOML
                .replace("{{ input.message }}", "{{ input.message | nofilter }}"),
            "unknown filter \"nofilter\"",
        ),
    ];
    for (name, text, want) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("write");
        let out = Command::new(rel_testkit::bin("relctl"))
            .args(["--socket", "/nonexistent/releasd.sock", "app", "validate"])
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .expect("run relctl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_ERROR), "{name}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(want),
            "{name}: {stderr}"
        );
    }
}
