//! The README walkthrough, end to end, with the real `releasd` and `relctl`: exactly the
//! commands below, in this order, with what each must print.
//!
//! ```text
//! releasd &                                             # the test starts it on a temp socket
//! relctl app apply app.toml                             # the example config, with its check
//! relctl release create v1.0.0 -d "first release" --deploy staging
//! relctl trigger chat --env staging --data '{"message":"hi"}'
//!                                                       # → {"reply":"You said: hi","length":2}
//! relctl logs --env staging                             # the run, with release and status
//! relctl logs --id 1                                    # one run's steps
//! relctl deploy v1.0.0 --env production --yes           # refused, exit 5: not verified in staging
//! relctl verify --env staging                           # ✓ chat replies, exit 0
//! relctl deploy v1.0.0 --env production --yes           # now allowed
//! relctl trigger chat --env production --data '{"message":"hi"}'
//! # edit app.toml: the template says "You wrote: …" instead of "You said: …"
//! relctl app apply app.toml
//! relctl release create v1.1.0 -d "reword the reply"
//! relctl deploy v1.1.0 --env staging --verify --auto-rollback
//! relctl deploy v1.1.0 --env production --expect v1.0.0 --yes
//! relctl trigger chat --env production --data '{"message":"hi"}'   # → "You wrote: hi"
//! relctl rollback --env production --yes                # back to v1.0.0
//! relctl trigger chat --env production --data '{"message":"hi"}'   # → "You said: hi"
//! relctl env show production                            # v1.0.0 live, v1.1.0 held
//! ```

mod common;

use common::*;
use rel_domain::config::EXAMPLE_APP_TOML;
use rel_testkit::TestDaemon;
use serde_json::json;

#[test]
fn readme_walkthrough() {
    let d = TestDaemon::start();
    let app = write(&d, "app.toml", EXAMPLE_APP_TOML);
    let hi = r#"{"message":"hi"}"#;

    // relctl app apply app.toml
    let text = ok(&d, &["app", "apply", p(&app)]);
    assert!(text.contains("draft updated"), "{text}");

    // relctl release create v1.0.0 -d "first release" --deploy staging
    let text = ok(
        &d,
        &[
            "release",
            "create",
            "v1.0.0",
            "-d",
            "first release",
            "--deploy",
            "staging",
        ],
    );
    assert!(text.contains("created release v1.0.0"), "{text}");
    assert!(
        text.contains("deployed staging: (nothing) → v1.0.0"),
        "{text}"
    );

    // relctl trigger chat --env staging --data '{"message":"hi"}'
    let text = ok(&d, &["trigger", "chat", "--env", "staging", "--data", hi]);
    assert!(text.contains("\"reply\": \"You said: hi\""), "{text}");
    assert!(text.contains("v1.0.0 (b3:"), "{text}");
    let run = json(&d, &["trigger", "chat", "--env", "staging", "--data", hi]);
    assert_eq!(run["output"], json!({"reply": "You said: hi", "length": 2}));
    assert_eq!(run["status"], "ok");

    // relctl logs --env staging: both runs, newest first, with release, digest and steps.
    let text = ok(&d, &["logs", "--env", "staging"]);
    assert!(text.starts_with("ID"), "{text}");
    assert!(text.contains("v1.0.0"), "{text}");
    let logs = json(&d, &["logs", "--env", "staging"]);
    let logs = logs.as_array().expect("array");
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(logs[0]["id"], run["id"]);
    let digest = json(&d, &["release", "show", "v1.0.0"])["digest"].clone();
    for l in logs {
        assert_eq!(l["release"], "v1.0.0");
        assert_eq!(l["digest"], digest);
        assert_eq!(l["env"], "staging");
        let steps: Vec<(&str, &str, &str)> = l["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().expect("name"),
                    s["kind"].as_str().expect("kind"),
                    s["status"].as_str().expect("status"),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [("greet", "template", "ok"), ("shape", "transform", "ok")]
        );
    }

    // relctl logs --id 1: the first run, with its steps.
    let first = logs[1]["id"].as_u64().expect("id").to_string();
    let text = ok(&d, &["logs", "--id", &first]);
    assert!(text.contains(&format!("execution #{first}")), "{text}");
    assert!(
        text.contains("greet") && text.contains("transform"),
        "{text}"
    );

    // relctl deploy v1.0.0 --env production --yes: refused until staging verified it.
    let stderr = fails(
        &d,
        &["deploy", "v1.0.0", "--env", "production", "--yes"],
        EXIT_DENIED,
    );
    assert!(stderr.contains("relctl verify --env staging"), "{stderr}");
    assert_eq!(live(&d, "production"), serde_json::Value::Null);

    // relctl verify --env staging
    let text = ok(&d, &["verify", "--env", "staging"]);
    assert!(text.contains("✓ chat replies"), "{text}");
    assert!(text.contains("PASSED"), "{text}");
    let staging = json(&d, &["env", "show", "staging"]);
    assert_eq!(staging["verification"]["passed"], true, "{staging}");

    // relctl deploy v1.0.0 --env production --yes
    let text = ok(&d, &["deploy", "v1.0.0", "--env", "production", "--yes"]);
    assert!(
        text.contains("deployed production: (nothing) → v1.0.0"),
        "{text}"
    );
    let run = json(
        &d,
        &["trigger", "chat", "--env", "production", "--data", hi],
    );
    assert_eq!(
        (run["release"].as_str(), run["output"]["reply"].as_str()),
        (Some("v1.0.0"), Some("You said: hi"))
    );

    // A new revision: apply, release, deploy to staging with --verify --auto-rollback.
    let v2 = EXAMPLE_APP_TOML.replace("You said:", "You wrote:");
    std::fs::write(&app, v2).expect("edit app.toml");
    ok(&d, &["app", "apply", p(&app)]);
    ok(
        &d,
        &["release", "create", "v1.1.0", "-d", "reword the reply"],
    );
    let text = ok(
        &d,
        &[
            "deploy",
            "v1.1.0",
            "--env",
            "staging",
            "--verify",
            "--auto-rollback",
        ],
    );
    assert!(text.contains("deployed staging: v1.0.0 → v1.1.0"), "{text}");
    assert!(text.contains("PASSED"), "{text}");
    assert!(!text.contains("rolled back"), "{text}");

    // relctl deploy v1.1.0 --env production --expect v1.0.0 --yes
    ok(
        &d,
        &[
            "deploy",
            "v1.1.0",
            "--env",
            "production",
            "--expect",
            "v1.0.0",
            "--yes",
        ],
    );
    // Each environment runs its own live release.
    let prod = json(
        &d,
        &["trigger", "chat", "--env", "production", "--data", hi],
    );
    assert_eq!(
        (prod["release"].as_str(), prod["output"]["reply"].as_str()),
        (Some("v1.1.0"), Some("You wrote: hi"))
    );

    // relctl rollback --env production --yes
    let text = ok(&d, &["rollback", "--env", "production", "--yes"]);
    assert!(
        text.contains("rolled back production: v1.1.0 → v1.0.0"),
        "{text}"
    );
    let prod = json(
        &d,
        &["trigger", "chat", "--env", "production", "--data", hi],
    );
    assert_eq!(
        (prod["release"].as_str(), prod["output"]["reply"].as_str()),
        (Some("v1.0.0"), Some("You said: hi"))
    );

    // relctl env show production
    let env = json(&d, &["env", "show", "production"]);
    assert_eq!(env["live"], "v1.0.0");
    assert_eq!(env["held"], json!(["v1.1.0"]));
    let text = ok(&d, &["env", "show", "production"]);
    assert!(
        text.contains("v1.1.0 (redeploying needs --force --reason)"),
        "{text}"
    );
}
