//! Snapshots of real relctl output from a real daemon, with the variable parts (times,
//! digests, the OS user running the tests) filtered out.

mod common;

use common::*;
use rel_testkit::TestDaemon;

/// Replace what differs between runs and machines.
fn stable(d: &TestDaemon, text: &str) -> String {
    let user = json(d, &["status"])["caller"]["user"]
        .as_str()
        .expect("user")
        .to_string();
    // Whole words only: the user name may be a substring of other words.
    text.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .map(|tok| {
            let word =
                tok.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'));
            if word == user {
                tok.replacen(&user, "[user]", 1)
            } else {
                tok.to_string()
            }
        })
        .collect()
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]");
    s.add_filter(r"b3:[0-9a-f]{12}", "b3:[digest]");
    s.add_filter(r"\b\d+[smhd] ago\b", "[age] ago");
    s
}

fn workflow() -> TestDaemon {
    let d = TestDaemon::start();
    release(&d, "v1.0.0", 1);
    release(&d, "v1.1.0", 2);
    ok(&d, &["deploy", "v1.0.0", "--env", "staging"]);
    ok(&d, &["deploy", "v1.0.0", "--env", "production", "--yes"]);
    ok(&d, &["deploy", "v1.1.0", "--env", "staging"]);
    ok(
        &d,
        &[
            "deploy",
            "v1.1.0",
            "--env",
            "production",
            "--yes",
            "--expect",
            "v1.0.0",
        ],
    );
    d
}

#[test]
fn real_outputs() {
    let d = workflow();
    let _guard = settings().bind_to_scope();

    let list = ok(&d, &["release", "list", "-o", "json"]);
    insta::assert_snapshot!("e2e_release_list_json", stable(&d, &list));

    let dry = ok(&d, &["rollback", "--env", "production", "--dry-run"]);
    insta::assert_snapshot!("e2e_rollback_dry_run", stable(&d, &dry));

    let rb = ok(
        &d,
        &[
            "rollback",
            "--env",
            "production",
            "--yes",
            "--reason",
            "latency up",
        ],
    );
    insta::assert_snapshot!("e2e_rollback", stable(&d, &rb));

    let hist = ok(&d, &["env", "history", "production", "-o", "json"]);
    insta::assert_snapshot!("e2e_env_history_json", stable(&d, &hist));

    let diff = ok(&d, &["diff", "v1.0.0", "v1.1.0"]);
    insta::assert_snapshot!("e2e_diff", stable(&d, &diff));
}
