//! Moving and trimming a store from the shell: export → import into a fresh daemon, and
//! `release prune` never removing what is live or on a rollback stack.

mod common;

use common::*;
use rel_testkit::TestDaemon;
use serde_json::json;

#[test]
fn export_then_import_into_a_fresh_daemon() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    ok(&d, &["rollback", "--env", "staging"]);
    ok(
        &d,
        &["env", "freeze", "production", "--reason", "incident 43"],
    );
    let dump = d.dir().join("store.json");
    let out = json(&d, &["export", p(&dump)]);
    assert_eq!(out["file"], p(&dump));
    assert!(out["bytes"].as_u64().expect("bytes") > 0);
    assert!(!d.dir().join("store.json.partial").exists());
    // The dump holds the audit log and token hashes: owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dump).expect("dump").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    // An existing file is never overwritten without --force.
    let stderr = fails(&d, &["export", p(&dump)], EXIT_CONFLICT);
    assert!(stderr.contains("--force"), "{stderr}");
    ok(&d, &["export", p(&dump), "--force"]);

    let fresh = TestDaemon::start();
    let st = json(&fresh, &["import", p(&dump)]);
    assert_eq!(st["releases"], 2);
    assert_eq!(states(&fresh), states(&d));
    assert_eq!(json(&fresh, &["env", "list"]), json(&d, &["env", "list"]));
    assert_eq!(
        json(&fresh, &["env", "history", "staging"]),
        json(&d, &["env", "history", "staging"])
    );
    assert_eq!(json(&fresh, &["app", "show"]), json(&d, &["app", "show"]));
    // The hold came along: v2 was rolled back out of staging.
    assert_eq!(
        json(&fresh, &["env", "show", "staging"])["held"],
        json!(["v2"])
    );

    // Governance came along: production is still frozen, for the same reason.
    assert_eq!(
        json(&fresh, &["env", "show", "production"])["frozen"]["reason"],
        "incident 43"
    );

    // A store that has releases refuses an import (nothing is overwritten).
    let stderr = fails(&fresh, &["import", p(&dump)], EXIT_CONFLICT);
    assert!(stderr.contains("already has releases"), "{stderr}");
    assert_eq!(states(&fresh), states(&d));
}

#[test]
fn prune_keeps_live_and_stacked_releases() {
    let d = TestDaemon::start();
    for (i, tag) in ["v1", "v2", "v3", "v4", "v5"].iter().enumerate() {
        release(&d, tag, i as u32 + 1);
    }
    // v1 on production's stack under v2; v3 live in staging; v4, v5 newest.
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    ok(&d, &["deploy", "v1", "--env", "production", "--yes"]);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    ok(&d, &["deploy", "v2", "--env", "production", "--yes"]);
    ok(&d, &["deploy", "v3", "--env", "staging"]);

    let plan = json(&d, &["release", "prune", "--keep", "1", "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    let removed: Vec<&str> = plan["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(removed, ["v4"], "{plan:#}");
    for kept in ["v1", "v2", "v3"] {
        assert!(
            plan["protected"]
                .as_array()
                .expect("protected")
                .contains(&json!(kept)),
            "{kept}: {plan:#}"
        );
    }
    assert_eq!(states(&d).len(), 5, "a dry run removes nothing");

    let done = json(&d, &["release", "prune", "--keep", "1"]);
    assert_eq!(done["removed"], json!(["v4"]));
    let tags: Vec<String> = states(&d).into_iter().map(|(t, _)| t).collect();
    assert_eq!(tags, ["v5", "v3", "v2", "v1"]);
    // Rolling back production still works: v1 is still there.
    ok(&d, &["rollback", "--env", "production", "--yes"]);
    assert_eq!(live(&d, "production"), "v1");
}
