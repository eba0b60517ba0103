//! Verify a deployment with the real `releasd` and `relctl` (issue 4): trigger, execution
//! logs, checks that pass and fail, the staging-first policy waiting for a verification,
//! `deploy --verify --auto-rollback`, `logs --follow`, and the exit codes of each failure.

mod common;

use std::time::Duration;

use common::*;
use rel_domain::config::EXAMPLE_APP_TOML;
use rel_testkit::TestDaemon;
use serde_json::{Value, json};

/// A deadline for output that should arrive at once; generous for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

const HI: &str = r#"{"message":"hi"}"#;

/// The example config with a check that can never pass (the reply never says "pong").
fn failing_config() -> String {
    let bad = EXAMPLE_APP_TOML.replace(
        r#"expect = '.reply | contains("ping")'"#,
        r#"expect = '.reply | contains("pong")'"#,
    );
    assert_ne!(
        bad, EXAMPLE_APP_TOML,
        "the example's check changed; update this test"
    );
    bad
}

/// Create release `tag` from `text` (not through the draft).
fn release_from(d: &TestDaemon, tag: &str, text: &str) {
    let file = write(d, &format!("{tag}.toml"), text);
    ok(d, &["release", "create", tag, "--from", p(&file)]);
}

#[test]
fn trigger_logs_verify_then_promote() {
    let d = TestDaemon::start();
    let app = write(&d, "app.toml", EXAMPLE_APP_TOML);
    ok(&d, &["app", "apply", p(&app)]);
    ok(&d, &["release", "create", "v1", "--deploy", "staging"]);

    let run = json(&d, &["trigger", "chat", "--env", "staging", "--data", HI]);
    assert_eq!(run["output"], json!({"reply": "You said: hi", "length": 2}));
    assert_eq!(run["env"], "staging");
    assert_eq!(run["endpoint"], "chat");
    assert_eq!(run["release"], "v1");
    assert!(run["duration_ms"].is_u64(), "{run}");

    // The log records what ran: release, digest, input, output and each step.
    let logs = json(&d, &["logs"]);
    let logged = &logs[0];
    assert_eq!(logged["id"], run["id"]);
    assert_eq!(logged["release"], "v1");
    assert_eq!(
        logged["digest"],
        json(&d, &["release", "show", "v1"])["digest"]
    );
    assert_eq!(logged["input"], json!({"message": "hi"}));
    assert_eq!(logged["output"], run["output"]);
    assert_eq!(logged["steps"][0]["name"], "greet");
    assert_eq!(logged["steps"][0]["output"], "You said: hi");
    assert_eq!(logged["steps"][1]["kind"], "transform");
    let id = run["id"].as_u64().expect("id").to_string();
    assert_eq!(json(&d, &["logs", "--id", &id]), *logged);

    // Promotion waits for a passing verification in staging.
    let err = fails_json(
        &d,
        &["deploy", "v1", "--env", "production", "--yes"],
        EXIT_DENIED,
    );
    assert_eq!(err["error"]["code"], "policy_denied");
    let v = json(&d, &["verify", "--env", "staging"]);
    assert_eq!(v["env"], "staging");
    assert_eq!(v["release"], "v1");
    assert_eq!(v["passed"], true);
    assert_eq!(v["checks"][0]["name"], "chat replies");
    assert_eq!(v["checks"][0]["passed"], true);
    // Each check's run is in the log under the id the result names.
    let check_run = v["checks"][0]["execution_id"]
        .as_u64()
        .expect("execution_id")
        .to_string();
    let check_log = json(&d, &["logs", "--id", &check_run]);
    assert_eq!(check_log["input"], json!({"message": "ping"}));
    // Recorded on the deployment that made v1 live in staging.
    let staging = json(&d, &["env", "show", "staging"]);
    assert_eq!(v["deployment"], staging["deployment_id"]);
    assert_eq!(staging["verification"]["passed"], true);
    let dep = json(&d, &["deploy", "v1", "--env", "production", "--yes"]);
    assert_eq!(dep["changed"], true);
    assert_eq!(live(&d, "production"), "v1");

    // Filters.
    json(
        &d,
        &["trigger", "chat", "--env", "production", "--data", HI],
    );
    let prod = json(&d, &["logs", "--env", "production"]);
    assert_eq!(prod.as_array().map(Vec::len), Some(1), "{prod}");
    assert_eq!(prod[0]["env"], "production");
    let one = json(&d, &["logs", "--limit", "1"]);
    assert_eq!(one.as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one[0]["env"], "production");
    let none = json(&d, &["logs", "--endpoint", "nope"]);
    assert_eq!(none, json!([]));
    let err = fails_json(&d, &["logs", "--env", "nope"], EXIT_NOT_FOUND);
    assert_eq!(err["error"]["code"], "not_found");
}

#[test]
fn a_failing_check_exits_7_and_blocks_promotion() {
    let d = TestDaemon::start();
    let file = write(&d, "bad.toml", &failing_config());
    ok(&d, &["app", "apply", p(&file)]);
    ok(&d, &["release", "create", "v1", "--deploy", "staging"]);

    let (v, stderr) = json_exit(&d, &["verify", "--env", "staging"], EXIT_VERIFY_FAILED);
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(v["checks"][0]["passed"], false, "{v}");
    let message = v["checks"][0]["message"].as_str().expect("message");
    assert!(message.contains("pong"), "{message}");
    let err: Value = serde_json::from_str(stderr.trim()).expect("JSON error on stderr");
    assert_eq!(err["error"]["code"], "verification_failed");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("relctl rollback --env staging")),
        "{err}"
    );

    // The table says which check failed and why; stderr says what to do.
    let out = relctl(&d, &["verify", "--env", "staging"]);
    assert_eq!(out.status.code(), Some(EXIT_VERIFY_FAILED));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("✗ chat replies"), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");

    // Recorded, and production stays out of reach.
    let staging = json(&d, &["env", "show", "staging"]);
    assert_eq!(staging["verification"]["passed"], false);
    let err = fails_json(
        &d,
        &["deploy", "v1", "--env", "production", "--yes"],
        EXIT_DENIED,
    );
    assert_eq!(err["error"]["code"], "policy_denied");
    assert_eq!(live(&d, "production"), Value::Null);
}

#[test]
fn deploy_verify_auto_rollback_rolls_back_a_bad_release() {
    let d = TestDaemon::start();
    release_from(&d, "good", EXAMPLE_APP_TOML);
    release_from(&d, "bad", &failing_config());
    ok(&d, &["deploy", "good", "--env", "staging"]);

    // --auto-rollback without --verify is a usage error.
    fails(
        &d,
        &["deploy", "bad", "--env", "staging", "--auto-rollback"],
        EXIT_USAGE,
    );

    let (doc, stderr) = json_exit(
        &d,
        &[
            "deploy",
            "bad",
            "--env",
            "staging",
            "--verify",
            "--auto-rollback",
        ],
        EXIT_VERIFY_FAILED,
    );
    assert_eq!(doc["release"], "bad");
    assert_eq!(doc["previous"], "good");
    assert_eq!(doc["verify"]["passed"], false);
    assert_eq!(doc["verification"]["passed"], false, "recorded: {doc}");
    assert_eq!(doc["auto_rollback"]["kind"], "rollback");
    assert_eq!(doc["auto_rollback"]["release"], "good");
    assert_eq!(doc["auto_rollback_error"], Value::Null);
    let err: Value = serde_json::from_str(stderr.trim()).expect("JSON error on stderr");
    assert_eq!(err["error"]["code"], "verification_failed");

    // The previous release is live again, the bad one held, the reason recorded.
    let staging = json(&d, &["env", "show", "staging"]);
    assert_eq!(staging["live"], "good");
    assert_eq!(staging["held"], json!(["bad"]));
    let hist = json(&d, &["env", "history", "staging"]);
    assert_eq!(hist[0]["kind"], "rollback");
    assert!(
        hist[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("auto-rollback") && r.contains("chat replies")),
        "{hist}"
    );
    let run = json(&d, &["trigger", "chat", "--env", "staging", "--data", HI]);
    assert_eq!(run["release"], "good");

    // The table mode says it rolled back, and still exits 7.
    release_from(&d, "bad2", &failing_config());
    let out = relctl(
        &d,
        &[
            "deploy",
            "bad2",
            "--env",
            "staging",
            "--verify",
            "--auto-rollback",
        ],
    );
    assert_eq!(out.status.code(), Some(EXIT_VERIFY_FAILED));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("rolled back staging: bad2 → good"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rolled staging back to good"), "{stderr}");
    assert_eq!(live(&d, "staging"), "good");
}

#[test]
fn deploy_verify_without_rollback_and_when_already_live() {
    let d = TestDaemon::start();
    release_from(&d, "good", EXAMPLE_APP_TOML);
    release_from(&d, "bad", &failing_config());

    // A passing --verify exits 0 and records the verification.
    let doc = json(&d, &["deploy", "good", "--env", "staging", "--verify"]);
    assert_eq!(doc["verify"]["passed"], true);
    assert_eq!(doc["auto_rollback"], Value::Null);

    // Already live: nothing changes, but it is still verified.
    let doc = json(&d, &["deploy", "good", "--env", "staging", "--verify"]);
    assert_eq!(doc["changed"], false);
    assert_eq!(doc["verify"]["release"], "good");
    assert_eq!(doc["verify"]["passed"], true);

    // A failing --verify without --auto-rollback leaves the release live, exits 7.
    let (doc, stderr) = json_exit(
        &d,
        &["deploy", "bad", "--env", "staging", "--verify"],
        EXIT_VERIFY_FAILED,
    );
    assert_eq!(doc["verify"]["passed"], false);
    assert_eq!(doc["auto_rollback"], Value::Null);
    assert!(stderr.contains("still live"), "{stderr}");
    assert_eq!(live(&d, "staging"), "bad");

    // Already live and failing, with --auto-rollback: rolled back all the same.
    let (doc, _) = json_exit(
        &d,
        &[
            "deploy",
            "bad",
            "--env",
            "staging",
            "--verify",
            "--auto-rollback",
        ],
        EXIT_VERIFY_FAILED,
    );
    assert_eq!(doc["changed"], false);
    assert_eq!(doc["auto_rollback"]["release"], "good");
    assert_eq!(live(&d, "staging"), "good");
}

#[test]
fn auto_rollback_with_nothing_to_roll_back_to_still_exits_7() {
    let d = TestDaemon::start();
    release_from(&d, "bad", &failing_config());
    let (doc, stderr) = json_exit(
        &d,
        &[
            "deploy",
            "bad",
            "--env",
            "staging",
            "--verify",
            "--auto-rollback",
        ],
        EXIT_VERIFY_FAILED,
    );
    assert_eq!(doc["auto_rollback"], Value::Null);
    let why = doc["auto_rollback_error"]
        .as_str()
        .expect("why no rollback");
    assert!(why.contains("nothing to roll back to"), "{why}");
    assert!(
        stderr.contains("automatic rollback did not happen"),
        "{stderr}"
    );
    assert_eq!(live(&d, "staging"), "bad");
}

#[test]
fn trigger_errors_name_the_problem_and_exit_codes() {
    let d = TestDaemon::start();

    // Nothing live yet: a conflict (3) that says to deploy first.
    let err = fails_json(&d, &["trigger", "chat", "--env", "staging"], EXIT_CONFLICT);
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(
        msg.contains("nothing is live in staging") && msg.contains("relctl deploy"),
        "{msg}"
    );

    release_from(&d, "v1", EXAMPLE_APP_TOML);
    ok(&d, &["deploy", "v1", "--env", "staging"]);

    // Bad JSON: exit 1, naming the flag and where the parse failed; nothing ran.
    let stderr = fails(
        &d,
        &[
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data",
            "{\"message\":",
        ],
        EXIT_ERROR,
    );
    assert!(
        stderr.contains("--data: not valid JSON") && stderr.contains("line 1 column"),
        "{stderr}"
    );
    let file = write(&d, "input.json", "{\n  \"message\": \"hi\",\n}\n");
    let stderr = fails(
        &d,
        &[
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data-file",
            p(&file),
        ],
        EXIT_ERROR,
    );
    assert!(
        stderr.contains("--data-file") && stderr.contains("line 3 column"),
        "{stderr}"
    );
    assert_eq!(json(&d, &["logs"]), json!([]), "nothing ran");

    // --data-file with good JSON; no data at all means {}.
    let file = write(&d, "good.json", HI);
    let run = json(
        &d,
        &[
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data-file",
            p(&file),
        ],
    );
    assert_eq!(run["output"]["reply"], "You said: hi");
    let run = json(&d, &["trigger", "chat", "--env", "staging"]);
    assert_eq!(run["input"], json!({}));

    // Unknown environment or endpoint: not found (4).
    let err = fails_json(&d, &["trigger", "chat", "--env", "qa"], EXIT_NOT_FOUND);
    assert_eq!(err["error"]["code"], "not_found");
    let err = fails_json(&d, &["trigger", "chot", "--env", "staging"], EXIT_NOT_FOUND);
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(msg.contains("chot") && msg.contains("chat"), "{msg}");

    // Both input flags: usage (2).
    fails(
        &d,
        &[
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data",
            "{}",
            "--data-file",
            p(&file),
        ],
        EXIT_USAGE,
    );
}

#[test]
fn a_failed_run_is_printed_logged_and_exits_1() {
    let d = TestDaemon::start();
    // An endpoint whose assert step fails for short messages.
    let text = format!(
        "{EXAMPLE_APP_TOML}
[pipelines.strict]
[[pipelines.strict.stages]]
name = \"check\"
[[pipelines.strict.stages.steps]]
name = \"long_enough\"
kind = \"assert\"
expr = '.input.message | length > 10'
message = \"the message is too short\"

[endpoints.strict]
pipeline = \"strict\"
"
    );
    release_from(&d, "v1", &text);
    ok(&d, &["deploy", "v1", "--env", "staging"]);

    let (run, stderr) = json_exit(
        &d,
        &["trigger", "strict", "--env", "staging", "--data", HI],
        EXIT_ERROR,
    );
    assert_eq!(run["status"], "error");
    assert_eq!(run["steps"][0]["name"], "long_enough");
    assert_eq!(run["steps"][0]["status"], "error");
    let err: Value = serde_json::from_str(stderr.trim()).expect("JSON error on stderr");
    assert_eq!(err["error"]["code"], "run_failed");
    let id = run["id"].as_u64().expect("id");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("relctl logs --id {id}"))),
        "{err}"
    );
    let logged = json(&d, &["logs", "--id", &id.to_string()]);
    assert_eq!(logged["status"], "error");
    assert!(
        logged["error"]
            .as_str()
            .is_some_and(|e| e.contains("long_enough")),
        "{logged}"
    );

    // The table shows the failing step and its reason.
    let out = relctl(&d, &["trigger", "strict", "--env", "staging", "--data", HI]);
    assert_eq!(out.status.code(), Some(EXIT_ERROR));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("long_enough"), "{stdout}");
}

type Follower = Streaming;

/// Start `relctl logs --follow ARGS` and wait for its ready line on stderr: from then on
/// every run that finishes is printed.
fn follow(d: &TestDaemon, args: &[&str]) -> Follower {
    let mut all = vec!["logs", "--follow"];
    all.extend_from_slice(args);
    streaming(d, &all, "following executions at ")
}

#[test]
fn logs_follow_prints_runs_from_other_clients() {
    let mut d = TestDaemon::start();
    release_from(&d, "v1", EXAMPLE_APP_TOML);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    ok(
        &d,
        &[
            "deploy",
            "v1",
            "--env",
            "production",
            "--yes",
            "--force",
            "--reason",
            "test set-up",
        ],
    );
    // A run before following is not printed.
    json(&d, &["trigger", "chat", "--env", "staging", "--data", HI]);

    let f = follow(&d, &["--env", "staging", "-o", "json"]);
    // Filtered out: another environment.
    json(
        &d,
        &["trigger", "chat", "--env", "production", "--data", HI],
    );
    let run = json(
        &d,
        &[
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data",
            r#"{"message":"followed"}"#,
        ],
    );
    let line = f.lines.recv_timeout(DEADLINE).expect("a line for the run");
    let printed: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
    assert_eq!(printed["id"], run["id"], "{printed}");
    assert_eq!(printed["env"], "staging");
    assert_eq!(printed["output"]["reply"], "You said: followed");
    assert_eq!(printed["steps"][1]["name"], "shape");

    // verify's check runs are executions too.
    json(&d, &["verify", "--env", "staging"]);
    let line = f
        .lines
        .recv_timeout(DEADLINE)
        .expect("a line for the check");
    let printed: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(printed["input"], json!({"message": "ping"}));

    // The table mode prints a header, then one line per run.
    let t = follow(&d, &[]);
    let header = t.lines.recv_timeout(DEADLINE).expect("the header");
    assert!(header.trim_start().starts_with("ID"), "{header}");
    let run = json(
        &d,
        &["trigger", "chat", "--env", "production", "--data", HI],
    );
    let line = t.lines.recv_timeout(DEADLINE).expect("a line for the run");
    let id = run["id"].as_u64().expect("id").to_string();
    assert!(
        line.trim_start().starts_with(&id) && line.contains("production"),
        "{line}"
    );

    // When the daemon goes away, follow ends with exit 6.
    let mut f = f;
    d.kill9();
    let status = rel_testkit::wait_deadline(&mut f.child, DEADLINE)
        .expect("follow exits when the daemon dies");
    assert_eq!(status.code(), Some(EXIT_UNREACHABLE));
}
