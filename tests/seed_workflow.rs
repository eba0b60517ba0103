//! The seed workflow end to end with the real `releasd` and `relctl`: apply, create, deploy
//! to staging, promote with `--expect`, derived states, rollbacks that walk back, policy,
//! holds, idempotent redeploys, and that all of it survives a restart.

mod common;

use common::*;
use rel_domain::config::EXAMPLE_APP_TOML;
use rel_testkit::TestDaemon;
use serde_json::json;

fn state_of(d: &TestDaemon, tag: &str) -> String {
    states(d)
        .into_iter()
        .find(|(t, _)| t == tag)
        .unwrap_or_else(|| panic!("{tag} not listed"))
        .1
}

#[test]
fn seed_workflow() {
    let mut d = TestDaemon::start();

    // The draft: apply the example config, show it back as TOML.
    let app = write(&d, "app.toml", EXAMPLE_APP_TOML);
    let applied = ok(&d, &["app", "apply", p(&app)]);
    assert!(applied.contains("draft updated"), "{applied}");
    let shown = ok(&d, &["app", "show"]);
    assert!(
        shown.contains("[tools.shout]") && shown.contains("[endpoints.chat]"),
        "{shown}"
    );

    // Release v1 from the draft (revision 1, without checks so promotion needs no verify).
    release(&d, "v1.0.0", 1);
    assert_eq!(state_of(&d, "v1.0.0"), "ready");
    let v1 = &json(&d, &["release", "list"])[0];
    assert_eq!(v1["tag"], "v1.0.0");
    assert_eq!(v1["live_in"], json!([]));
    assert!(
        v1["digest"].as_str().expect("digest").starts_with("b3:"),
        "{v1}"
    );
    assert!(
        v1["created_at"]
            .as_str()
            .expect("created_at")
            .ends_with('Z'),
        "{v1}"
    );

    // Deploy to staging: Deployed there.
    let dep = json(&d, &["deploy", "v1.0.0", "--env", "staging"]);
    assert_eq!(dep["env"], "staging");
    assert_eq!(dep["release"], "v1.0.0");
    assert_eq!(dep["previous"], serde_json::Value::Null);
    assert_eq!(dep["kind"], "deploy");
    assert_eq!(dep["changed"], true);
    assert_eq!(state_of(&d, "v1.0.0"), "deployed");
    assert_eq!(
        json(&d, &["release", "list"])[0]["live_in"],
        json!(["staging"])
    );

    // Promote to production (protected: --yes, there is no terminal here).
    let dep = json(&d, &["deploy", "v1.0.0", "--env", "production", "--yes"]);
    assert_eq!(dep["changed"], true);
    assert_eq!(live(&d, "production"), "v1.0.0");

    // v2 and v3 through staging into production, each promotion with --expect.
    release(&d, "v2.0.0", 2);
    ok(&d, &["deploy", "v2.0.0", "--env", "staging"]);
    let dep = json(
        &d,
        &[
            "deploy",
            "v2.0.0",
            "--env",
            "production",
            "--expect",
            "v1.0.0",
            "--yes",
        ],
    );
    assert_eq!(dep["previous"], "v1.0.0");
    assert_eq!(state_of(&d, "v1.0.0"), "superseded");
    assert_eq!(state_of(&d, "v2.0.0"), "deployed");

    release(&d, "v3.0.0", 3);
    assert_eq!(state_of(&d, "v3.0.0"), "ready");
    ok(&d, &["deploy", "v3.0.0", "--env", "staging"]);
    ok(
        &d,
        &[
            "deploy",
            "v3.0.0",
            "--env",
            "production",
            "--expect",
            "v2.0.0",
            "--yes",
        ],
    );
    assert_eq!(state_of(&d, "v2.0.0"), "superseded");
    assert_eq!(
        json(&d, &["env", "show", "production"])["rollback_to"],
        "v2.0.0"
    );

    // A dry run shows from → to and changes nothing.
    let plan = json(&d, &["rollback", "--env", "production", "--dry-run"]);
    assert_eq!(
        (plan["from"].as_str(), plan["to"].as_str()),
        (Some("v3.0.0"), Some("v2.0.0"))
    );
    assert_eq!(live(&d, "production"), "v3.0.0");

    // Rollback walks back: v3 → v2 → v1, never forward again.
    let rb = json(&d, &["rollback", "--env", "production", "--yes"]);
    assert_eq!(
        (
            rb["kind"].as_str(),
            rb["release"].as_str(),
            rb["previous"].as_str()
        ),
        (Some("rollback"), Some("v2.0.0"), Some("v3.0.0"))
    );
    let rb = json(&d, &["rollback", "--env", "production", "--yes"]);
    assert_eq!(
        (rb["release"].as_str(), rb["previous"].as_str()),
        (Some("v1.0.0"), Some("v2.0.0"))
    );
    assert_eq!(live(&d, "production"), "v1.0.0");
    let err = fails_json(
        &d,
        &["rollback", "--env", "production", "--yes"],
        EXIT_ERROR,
    );
    assert_eq!(err["error"]["code"], "invalid");
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(msg.starts_with("nothing to roll back to"), "{msg}");
    assert_eq!(live(&d, "production"), "v1.0.0");

    // Holds: v3 was rolled back out of production; redeploying it needs --force --reason.
    let held = json(&d, &["env", "show", "production"]);
    assert!(
        held["held"]
            .as_array()
            .expect("held")
            .contains(&json!("v3.0.0")),
        "{held}"
    );
    // ... and release list/show say so: v3 is still live in staging, and held in production,
    // with held_in beside state (§3.2).
    let list = json(&d, &["release", "list"]);
    let v3 = list
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["tag"] == "v3.0.0")
        .expect("v3 listed");
    assert_eq!(
        (&v3["state"], &v3["live_in"], &v3["held_in"]),
        (
            &json!("deployed"),
            &json!(["staging"]),
            &json!(["production"])
        ),
        "{v3}"
    );
    let show = json(&d, &["release", "show", "v3.0.0"]);
    assert_eq!(show["held_in"], json!(["production"]), "{show}");
    let table = d
        .relctl()
        .args(["release", "list"])
        .output()
        .expect("relctl");
    let table = String::from_utf8_lossy(&table.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("v3.0.0"))
        .expect("v3 row");
    assert!(row.contains("staging; HELD in production"), "{row}");
    let stderr = fails(
        &d,
        &["deploy", "v3.0.0", "--env", "production", "--yes"],
        EXIT_DENIED,
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(live(&d, "production"), "v1.0.0");
    let forced = json(
        &d,
        &[
            "deploy",
            "v3.0.0",
            "--env",
            "production",
            "--yes",
            "--force",
            "--reason",
            "the fix is in v3 after all",
        ],
    );
    assert_eq!(forced["forced"], true);
    assert_eq!(forced["reason"], "the fix is in v3 after all");
    assert_eq!(live(&d, "production"), "v3.0.0");

    // Idempotent redeploy: changed false, exit 0, said plainly.
    let same = json(&d, &["deploy", "v3.0.0", "--env", "production", "--yes"]);
    assert_eq!(same["changed"], false);
    let text = ok(&d, &["deploy", "v3.0.0", "--env", "staging"]);
    assert!(
        text.contains("v3.0.0 is already live in staging; nothing changed"),
        "{text}"
    );

    // History, newest first.
    let hist = json(&d, &["env", "history", "production"]);
    let kinds: Vec<(&str, &str)> = hist
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().expect("kind"),
                h["release"].as_str().expect("release"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("deploy", "v3.0.0"),
            ("rollback", "v1.0.0"),
            ("rollback", "v2.0.0"),
            ("deploy", "v3.0.0"),
            ("deploy", "v2.0.0"),
            ("deploy", "v1.0.0")
        ]
    );

    // Everything survives a restart.
    let before = (states(&d), json(&d, &["env", "list"]), hist);
    d.restart();
    let after = (
        states(&d),
        json(&d, &["env", "list"]),
        json(&d, &["env", "history", "production"]),
    );
    assert_eq!(before, after);
    assert_eq!(live(&d, "production"), "v3.0.0");

    let verify = json(&d, &["audit", "verify"]);
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(
        verify["entries"].as_u64().expect("entries") >= 12,
        "{verify}"
    );
}

#[test]
fn policy_denial_and_audited_override() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    // Never live in staging: production refuses it (exit 5), nothing changes.
    let err = fails_json(
        &d,
        &["deploy", "v1", "--env", "production", "--yes"],
        EXIT_DENIED,
    );
    assert_eq!(err["error"]["code"], "policy_denied");
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(msg.contains("staging") && msg.contains("--force"), "{msg}");
    assert_eq!(live(&d, "production"), serde_json::Value::Null);

    // The table mode shows the plan on stdout and the denial once, on stderr.
    let out = relctl(&d, &["deploy", "v1", "--env", "production", "--yes"]);
    assert_eq!(out.status.code(), Some(EXIT_DENIED));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("deploy to production (protected): (nothing) → v1"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: policy: v1 has not been live in staging"),
        "{stderr}"
    );

    // An admin override with a reason goes through and is audited.
    let dep = json(
        &d,
        &[
            "deploy",
            "v1",
            "--env",
            "production",
            "--yes",
            "--force",
            "--reason",
            "INC-7 hotfix",
        ],
    );
    assert_eq!(
        (dep["forced"].as_bool(), dep["release"].as_str()),
        (Some(true), Some("v1"))
    );
    let audit = json(&d, &["audit"]);
    let entries = audit.as_array().expect("array");
    assert!(
        entries.iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|s| s.contains("INC-7 hotfix"))),
        "the override reason is in the audit log: {audit:#}"
    );
    // Newest first.
    let seqs: Vec<u64> = entries
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
}

#[test]
fn checks_make_promotion_wait_for_verification() {
    let d = TestDaemon::start();
    // The full example defines checks: being live in staging is not enough.
    let app = write(&d, "app.toml", EXAMPLE_APP_TOML);
    ok(&d, &["app", "apply", p(&app)]);
    ok(&d, &["release", "create", "v1", "--deploy", "staging"]);
    assert_eq!(live(&d, "staging"), "v1");
    let err = fails_json(
        &d,
        &["deploy", "v1", "--env", "production", "--yes"],
        EXIT_DENIED,
    );
    let msg = err["error"]["message"].as_str().expect("message");
    assert!(msg.contains("verif"), "{msg}");
}

#[test]
fn create_and_deploy_in_one_step_and_same_content() {
    let d = TestDaemon::start();
    let file = write(&d, "app.toml", &config(1));
    let created = json(
        &d,
        &[
            "release",
            "create",
            "v1",
            "-d",
            "first\nmore notes",
            "--from",
            p(&file),
            "--deploy",
            "staging",
        ],
    );
    assert_eq!(created["tag"], "v1");
    assert_eq!(created["state"], "deployed");
    assert_eq!(created["deployment"]["env"], "staging");
    assert_eq!(live(&d, "staging"), "v1");
    // Same content again: allowed, and the answer says so.
    let again = json(&d, &["release", "create", "v1-again", "--from", p(&file)]);
    assert_eq!(again["same_content_as"], json!(["v1"]));
    assert_eq!(again["digest"], created["digest"]);
    // A taken tag is refused (case-insensitively).
    let stderr = fails(
        &d,
        &["release", "create", "V1", "--from", p(&file)],
        EXIT_CONFLICT,
    );
    assert!(stderr.contains("V1") || stderr.contains("v1"), "{stderr}");

    // The table mode of release list fits 80 columns and shows the first line of the notes.
    let table = ok(&d, &["release", "list"]);
    assert!(table.starts_with("TAG"), "{table}");
    assert!(
        table.contains("first") && !table.contains("more notes"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");

    // release show and diff between releases.
    let shown = json(&d, &["release", "show", "v1"]);
    assert_eq!(shown["history"][0]["env"], "staging");
    assert_eq!(shown["config"]["endpoints"]["chat"]["pipeline"], "chat");
    let file2 = write(&d, "app2.toml", &config(2));
    ok(&d, &["release", "create", "v2", "--from", p(&file2)]);
    let diff = json(&d, &["diff", "v1", "v2"]);
    assert_eq!(diff["identical"], false);
    assert!(
        diff["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("pipelines.chat"))),
        "{diff:#}"
    );
}
