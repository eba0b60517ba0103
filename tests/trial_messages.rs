//! Messages a new-user trial found wanting: each says what went wrong and what to do next.

mod common;

use std::process::{Command, Stdio};

use common::*;
use rel_testkit::TestDaemon;

#[test]
fn misspelt_environment_suggests_the_close_one() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    let stderr = fails(&d, &["deploy", "v1", "--env", "stagin"], EXIT_NOT_FOUND);
    assert!(stderr.contains("did you mean staging?"), "{stderr}");
    assert!(stderr.contains("relctl env create stagin"), "{stderr}");
    // Nothing close: no suggestion, just the create hint.
    let stderr = fails(&d, &["env", "show", "qa"], EXIT_NOT_FOUND);
    assert!(!stderr.contains("did you mean"), "{stderr}");
    assert!(stderr.contains("relctl env create qa"), "{stderr}");
}

#[test]
fn empty_app_config_is_refused_and_keeps_the_draft() {
    let d = TestDaemon::start();
    let good = write(&d, "app.toml", &config(1));
    ok(&d, &["app", "apply", p(&good)]);
    let before = json(&d, &["app", "show"]);
    for (name, text) in [("empty.toml", ""), ("empty.json", "{}")] {
        let file = write(&d, name, text);
        let stderr = fails(&d, &["app", "apply", p(&file)], EXIT_ERROR);
        assert!(
            stderr.contains(name)
                && stderr
                    .contains("defines no tools, pipelines, endpoints or checks; nothing applied"),
            "{stderr}"
        );
        // validate agrees with apply.
        let stderr = fails(&d, &["app", "validate", p(&file)], EXIT_ERROR);
        assert!(
            stderr.contains(name) && stderr.contains("relctl app apply would refuse it"),
            "{stderr}"
        );
    }
    assert_eq!(json(&d, &["app", "show"]), before, "the draft is untouched");
}

#[test]
fn unknown_template_filter_is_refused_at_apply() {
    let d = TestDaemon::start();
    let text = config(1).replace("{{ input.message }}", "{{ input.message | nofilter }}");
    assert!(
        text.contains("nofilter"),
        "the example's template changed; update this test"
    );
    let file = write(&d, "app.toml", &text);
    let stderr = fails(&d, &["app", "apply", p(&file)], EXIT_ERROR);
    assert!(
        stderr.contains("pipelines.chat.stages[0].steps[0].template: unknown filter \"nofilter\""),
        "{stderr}"
    );
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app.toml");
    std::fs::write(&file, "[tools.a]\nkind = \"command\nargv = [\"x\"]\n").expect("write");
    let out = Command::new(rel_testkit::bin("relctl"))
        .args(["--socket", "/nonexistent/releasd.sock", "app", "validate"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run relctl");
    assert_eq!(out.status.code(), Some(EXIT_ERROR));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TOML syntax: "), "{stderr}");
    assert!(stderr.contains("at line 2, column "), "{stderr}");
}

#[test]
fn socket_from_the_environment_is_not_shown_as_required_in_usage() {
    let out = Command::new(rel_testkit::bin("relctl"))
        .env("RELEASD_SOCKET", "/nonexistent/releasd.sock")
        .args(["deploy", "v1", "--env", "production", "--force"])
        .stdin(Stdio::null())
        .output()
        .expect("run relctl");
    assert_eq!(out.status.code(), Some(EXIT_USAGE));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--reason"), "{stderr}");
    assert!(!stderr.contains("--socket"), "{stderr}");
}

#[test]
fn rollback_to_the_live_release_says_so_and_holds_nothing() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    let dry = ok(
        &d,
        &["rollback", "--env", "staging", "--to", "v2", "--dry-run"],
    );
    assert!(dry.contains("v2 is already live in staging"), "{dry}");
    assert!(!dry.contains("held"), "nothing is held by a no-op: {dry}");
    let out = ok(&d, &["rollback", "--env", "staging", "--to", "v2", "--yes"]);
    assert!(
        out.contains("already live") && !out.contains("held"),
        "{out}"
    );
    assert_eq!(live(&d, "staging"), "v2");
}

#[test]
fn a_refused_create_and_deploy_advises_creating_and_deploying_in_one_go() {
    let d = TestDaemon::start();
    let file = write(&d, "app.toml", &config(1));
    ok(&d, &["app", "apply", p(&file)]);
    let stderr = fails(
        &d,
        &["release", "create", "v9", "--deploy", "production", "--yes"],
        EXIT_DENIED,
    );
    assert!(
        stderr.contains("relctl release create v9 --deploy staging")
            && stderr.contains("nothing was created"),
        "{stderr}"
    );
    // The advice works.
    ok(&d, &["release", "create", "v9", "--deploy", "staging"]);
}

#[test]
fn a_misspelt_step_reference_is_refused_with_its_path_and_the_steps_it_could_use() {
    let d = TestDaemon::start();
    let text = config(1).replace(".steps.greet", ".steps.gret");
    assert!(
        text.contains(".steps.gret"),
        "the example changed; update this test"
    );
    let file = write(&d, "app.toml", &text);
    for cmd in ["validate", "apply"] {
        let stderr = fails(&d, &["app", cmd, p(&file)], EXIT_ERROR);
        assert!(
            stderr.contains("pipelines.chat.stages[0].steps[1].expr: .steps.gret refers to unknown step \"gret\"")
                && stderr.contains("\"greet\""),
            "{cmd}: {stderr}"
        );
    }
    // In a template too.
    let text = config(1).replace("{{ input.message }}", "{{ steps.nothere }}");
    let file = write(&d, "app2.toml", &text);
    let stderr = fails(&d, &["app", "validate", p(&file)], EXIT_ERROR);
    assert!(
        stderr.contains("steps.nothere refers to unknown step \"nothere\"")
            && stderr.contains("this is the first step"),
        "{stderr}"
    );
}

#[test]
fn app_example_prints_a_config_that_applies_and_releases() {
    let d = TestDaemon::start();
    // A fresh store through relctl has no draft; the error says where to get one.
    let stderr = fails(&d, &["app", "show"], EXIT_NOT_FOUND);
    assert!(stderr.contains("relctl app example > app.toml"), "{stderr}");
    let example = ok(&d, &["app", "example"]);
    let file = write(&d, "app.toml", &example);
    ok(&d, &["app", "validate", p(&file)]);
    ok(&d, &["app", "apply", p(&file)]);
    ok(&d, &["release", "create", "v1.0.0"]);
    ok(&d, &["deploy", "v1.0.0", "--env", "staging"]);
}

#[test]
fn freeze_window_remove_says_what_went_and_what_is_left() {
    let d = TestDaemon::start();
    let add = |spec: &str| {
        ok(
            &d,
            &[
                "env",
                "freeze-window",
                "add",
                "staging",
                spec,
                "--reason",
                "weekend",
            ],
        )
    };
    add("Sat 00:00 - Sun 00:00 UTC");
    add("Fri 15:00 - Mon 09:00 UTC");
    let out = ok(&d, &["env", "freeze-window", "remove", "staging", "1"]);
    assert!(
        out.starts_with(
            "removed freeze window #1 from staging: Sat 00:00 - Sun 00:00 UTC (weekend)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("#2") && out.contains("Fri 15:00 - Mon 09:00 UTC"),
        "{out}"
    );
    let out = ok(&d, &["env", "freeze-window", "remove", "staging", "2"]);
    assert!(
        out.starts_with("removed freeze window #2 from staging"),
        "{out}"
    );
    assert!(out.contains("staging has no freeze windows left"), "{out}");
    assert!(!out.contains("freeze-window add"), "{out}");
}

/// An admin's forced dry run of v2 to staging.
const FORCED_DRY_RUN: &[&str] = &[
    "deploy",
    "v2",
    "--env",
    "staging",
    "--dry-run",
    "--force",
    "--reason",
    "hotfix",
];

#[test]
fn deploy_dry_run_shows_the_plan_changes_nothing_and_exits_as_the_deploy_would() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    let out = ok(&d, &["deploy", "v2", "--env", "staging", "--dry-run"]);
    assert!(out.starts_with("deploy to staging: v1 → v2\n"), "{out}");
    assert!(out.contains("policy: ok"), "{out}");
    assert!(
        out.contains("dry run: nothing changed; deploying would make it live"),
        "{out}"
    );
    let plan = json(&d, &["deploy", "v2", "--env", "staging", "--dry-run"]);
    assert_eq!(
        (
            &plan["from"],
            &plan["to"],
            &plan["verdict"],
            &plan["dry_run"]
        ),
        (&"v1".into(), &"v2".into(), &"ok".into(), &true.into()),
        "{plan}"
    );
    assert!(
        plan["changes"].as_array().is_some_and(|c| !c.is_empty()),
        "{plan}"
    );
    assert_eq!(live(&d, "staging"), "v1", "a dry run changes nothing");
    // A freeze would refuse it: the plan still prints, and the exit code is the refusal's.
    ok(&d, &["env", "freeze", "staging", "--reason", "incident"]);
    let (plan, stderr) = json_exit(
        &d,
        &["deploy", "v2", "--env", "staging", "--dry-run"],
        EXIT_DENIED,
    );
    assert_eq!(plan["verdict"], "refused", "{plan}");
    assert_eq!(plan["refusal"]["code"], "policy_denied", "{plan}");
    assert_eq!(plan["frozen"]["reason"], "incident", "{plan}");
    assert!(stderr.contains("incident"), "{stderr}");
    assert_eq!(live(&d, "staging"), "v1");
    // An admin's --force would override the freeze: the dry run says so and exits 0.
    let plan = json(&d, FORCED_DRY_RUN);
    assert_eq!(plan["verdict"], "overridden", "{plan}");
    assert_eq!(live(&d, "staging"), "v1");
    // With approvals, a request's --force never passes a freeze: refused, as the deploy is.
    ok(&d, &["env", "set", "staging", "--approvals", "1"]);
    let (plan, stderr) = json_exit(&d, FORCED_DRY_RUN, EXIT_DENIED);
    assert_eq!(plan["verdict"], "refused", "{plan}");
    assert!(stderr.contains("incident"), "{stderr}");
    let real = fails(
        &d,
        &[
            "deploy", "v2", "--env", "staging", "--force", "--reason", "hotfix",
        ],
        EXIT_DENIED,
    );
    assert!(real.contains("end the freeze first"), "{real}");
    assert_eq!(live(&d, "staging"), "v1");
}

#[test]
fn near_miss_commands_get_the_one_that_works() {
    for (args, tip) in [
        (
            &["stop"][..],
            "tip: to stop the daemon gracefully (admin only): relctl daemon stop",
        ),
        (&["ls"][..], "relctl release list"),
        (
            &["rollback", "staging"][..],
            "tip: the environment is an option: relctl rollback --env staging",
        ),
    ] {
        // Usage errors need no daemon.
        let out = Command::new(rel_testkit::bin("relctl"))
            .args(["--socket", "/nonexistent/releasd.sock"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run relctl");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(tip), "{args:?}: {stderr}");
    }
}

#[test]
fn see_more_is_said_only_when_more_exists() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    release(&d, "v2", 2);
    let cut = ok(&d, &["release", "list", "--limit", "1"]);
    assert!(
        cut.contains("(the newest 1; pass --limit N to see more or --limit 0 for all)"),
        "{cut}"
    );
    for limit in ["2", "0"] {
        let all = ok(&d, &["release", "list", "--limit", limit]);
        assert!(
            all.contains("v1") && all.contains("v2") && !all.contains("see more"),
            "--limit {limit} shows everything and says nothing of more: {all}"
        );
    }
    // The other lists say it too: the audit log (several entries by now), env history.
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    for args in [
        &["audit", "--limit", "1"][..],
        &["env", "history", "staging", "--limit", "1"],
    ] {
        let cut = ok(&d, args);
        assert!(
            cut.contains("(the newest 1; pass --limit N to see more"),
            "{args:?}: {cut}"
        );
    }
    let all = ok(&d, &["env", "history", "staging", "--limit", "2"]);
    assert!(!all.contains("see more"), "{all}");
    // With -o json stdout stays one document; the note goes to stderr.
    let out = relctl(
        &d,
        &["env", "history", "staging", "--limit", "1", "-o", "json"],
    );
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pass --limit N to see more"), "{stderr}");
}
