//! The seed workflow against a real sled store: create, deploy to staging, promote with
//! `--expect`, derived states, rollbacks that walk back, holds, policy and permissions.

mod common;

use common::*;
use rel_domain::model::*;
use rel_domain::{ErrorCode, Store};

#[test]
fn fresh_store_has_staging_then_production() {
    let (_d, s) = open();
    let envs = s.environments().expect("envs");
    let names: Vec<&str> = envs.iter().map(|e| e.env.name.as_str()).collect();
    assert_eq!(names, ["staging", "production"]);
    assert!(!envs[0].env.protected);
    assert!(envs[1].env.protected);
    assert_eq!(envs[1].env.requires, ["staging"]);
    assert_eq!(envs[1].live, None);
    let st = s.status().expect("status");
    assert_eq!((st.releases, st.environments, st.deployments), (0, 2, 0));
    assert!(s.verify_audit().expect("verify").ok);
}

#[test]
fn create_release_rules() {
    let (_d, s) = open();
    let req = |tag: &str| NewRelease {
        tag: tag.into(),
        description: String::new(),
        config: None,
        deploy_to: None,
    };
    let e = s
        .create_release(&req("v1.0.0"), &deployer(), t(0))
        .expect_err("empty draft");
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(
        e.message
            .starts_with("the draft is empty: apply an app config first")
            && e.message.contains("relctl app example > app.toml"),
        "{}",
        e.message
    );

    let first = release_with(&s, "v1.0.0", config("a"), 1);
    assert_eq!(first.release.state, ReleaseState::Ready);
    assert_eq!(first.release.release.seq, 1);
    assert_eq!(first.release.release.created_by, "bob");
    assert!(first.same_content_as.is_empty());
    assert_eq!(
        first.release.release.digest,
        s.draft().expect("draft").expect("some").digest
    );

    // Same content again: allowed, and the answer says so.
    let again = s
        .create_release(&req("v1.0.1"), &deployer(), t(2))
        .expect("same content");
    assert_eq!(again.same_content_as, ["v1.0.0"]);

    // Tags: unique ignoring case, shape-checked.
    let e = s
        .create_release(&req("V1.0.0"), &deployer(), t(3))
        .expect_err("taken");
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(
        e.message.contains("is taken by release v1.0.0"),
        "{}",
        e.message
    );
    let e = s
        .create_release(&req("bad tag"), &deployer(), t(3))
        .expect_err("shape");
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = s
        .create_release(&req("v9"), &viewer(), t(3))
        .expect_err("viewer");
    assert_eq!(e.code, ErrorCode::PermissionDenied);

    // --from: snapshot a given config instead of the draft.
    let from = NewRelease {
        tag: "from-file".into(),
        description: String::new(),
        config: Some(rel_domain::config::AppConfigText {
            format: rel_domain::config::ConfigFormat::Json,
            text: config("other").to_canonical_json(),
        }),
        deploy_to: None,
    };
    let c = s
        .create_release(&from, &deployer(), t(4))
        .expect("from file");
    assert_ne!(c.release.release.digest, first.release.release.digest);
    let snap = s.snapshot(&c.release.release.digest).expect("snapshot");
    assert_eq!(snap.config.pipelines["chat"].description, "other");

    // Unknown environment with --deploy: nothing is created.
    let e = s
        .create_release(
            &NewRelease {
                deploy_to: Some("qa".into()),
                ..req("v2")
            },
            &deployer(),
            t(5),
        )
        .expect_err("unknown env");
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(
        e.message
            .contains("environment qa does not exist (known: staging, production)"),
        "{}",
        e.message
    );
    assert_eq!(
        s.release("v2").expect_err("not created").code,
        ErrorCode::NotFound
    );
    assert_eq!(s.status().expect("status").releases, 3);
}

#[test]
fn create_and_deploy_is_one_transaction() {
    let (_d, s) = open();
    s.apply_draft(config_no_checks("a"), &deployer(), t(0))
        .expect("draft");
    let req = NewRelease {
        tag: "v1".into(),
        description: String::new(),
        config: None,
        deploy_to: Some("production".into()),
    };
    // The deploy half is refused (protected, and never live in staging): nothing happens.
    let audit_before = s.status().expect("status").audit_entries;
    let e = s.create_release(&req, &admin(), t(1)).expect_err("policy");
    assert_eq!(e.code, ErrorCode::PolicyDenied);
    // The advice creates and deploys in one go (`relctl deploy v1` would not find v1).
    assert!(
        e.message
            .contains("relctl release create v1 --deploy staging")
            && !e.message.contains("relctl deploy v1")
            && e.message.contains("nothing was created"),
        "{}",
        e.message
    );
    assert_eq!(
        s.release("v1").expect_err("rolled back").code,
        ErrorCode::NotFound
    );
    assert_eq!(s.status().expect("status").audit_entries, audit_before);
    // The tag is still free, and create + deploy to staging works in one go.
    let ok = s
        .create_release(
            &NewRelease {
                deploy_to: Some("staging".into()),
                ..req
            },
            &deployer(),
            t(2),
        )
        .expect("create and deploy");
    let dep = ok.deployment.expect("deployed").deployment;
    assert_eq!(
        (dep.env.as_str(), dep.release.as_str(), dep.kind),
        ("staging", "v1", DeploymentKind::Deploy)
    );
    assert_eq!(ok.release.state, ReleaseState::Deployed);
    assert_eq!(ok.release.live_in, ["staging"]);
}

#[test]
fn seed_workflow() {
    let (_d, s) = open();
    release_with(&s, "v1.0.0", config("one"), 1);

    // Deploy to staging; redeploying is a no-op that appends nothing.
    let d1 = deploy(&s, "v1.0.0", "staging", &deployer(), 2).expect("deploy staging");
    assert!(d1.changed);
    assert_eq!(d1.deployment.previous, None);
    let audit_n = s.status().expect("status").audit_entries;
    let again = deploy(&s, "v1.0.0", "staging", &deployer(), 3).expect("redeploy");
    assert!(!again.changed);
    assert_eq!(again.deployment.id, d1.deployment.id);
    assert_eq!(s.status().expect("status").audit_entries, audit_n);
    assert_eq!(s.history("staging", 10, None).expect("history").len(), 1);
    assert_eq!(
        state_of(&s, "v1.0.0"),
        (ReleaseState::Deployed, vec!["staging".to_string()])
    );

    // Production: deployers may not touch it; admins must follow the policy.
    let e = deploy(&s, "v1.0.0", "production", &deployer(), 4).expect_err("protected");
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    let e = deploy(&s, "v1.0.0", "production", &admin(), 4).expect_err("not verified");
    assert_eq!(e.code, ErrorCode::PolicyDenied);
    assert!(
        e.message.contains("has not passed verification in staging"),
        "{}",
        e.message
    );
    verify_pass(&s, "staging", 5);
    let p1 = deploy(&s, "v1.0.0", "production", &admin(), 6).expect("promote");
    assert!(p1.changed);
    assert_eq!(state_of(&s, "v1.0.0").1, ["staging", "production"]);

    // v1.1.0 cannot skip staging.
    release_with(&s, "v1.1.0", config("two"), 7);
    assert_eq!(state_of(&s, "v1.1.0").0, ReleaseState::Ready);
    let e = deploy(&s, "v1.1.0", "production", &admin(), 8).expect_err("skip staging");
    assert_eq!(
        e.message,
        "policy: v1.1.0 has not been live in staging, which production requires. Deploy it to staging first (relctl deploy v1.1.0 --env staging), or override as an admin with --force --reason TEXT"
    );
    deploy(&s, "v1.1.0", "staging", &deployer(), 9).expect("staging");
    verify_pass(&s, "staging", 10);
    // Promote with --expect: a stale expectation changes nothing.
    let stale = DeployRequest {
        expect: Some("v1.1.0".into()),
        ..deploy_req("v1.1.0", "production")
    };
    let e = s.deploy(&stale, &admin(), t(11)).expect_err("stale expect");
    assert_eq!(e.code, ErrorCode::Conflict);
    assert_eq!(
        e.message,
        "production is running v1.0.0, not v1.1.0 (--expect); nothing changed. Check with relctl env show production and retry"
    );
    // An expectation naming no release at all is a typo: not found, and nothing changes.
    let typo = DeployRequest {
        expect: Some("v0.9.0".into()),
        ..deploy_req("v1.1.0", "production")
    };
    let e = s.deploy(&typo, &admin(), t(11)).expect_err("typo expect");
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(
        e.message
            .starts_with("--expect v0.9.0: no such release (production is running v1.0.0)"),
        "{}",
        e.message
    );
    let good = DeployRequest {
        expect: Some("v1.0.0".into()),
        ..deploy_req("v1.1.0", "production")
    };
    let p2 = s
        .deploy(&good, &admin(), t(12))
        .expect("promote with expect");
    assert_eq!(p2.deployment.previous.as_deref(), Some("v1.0.0"));
    assert_eq!(state_of(&s, "v1.0.0").0, ReleaseState::Superseded);
    assert_eq!(state_of(&s, "v1.1.0").1, ["staging", "production"]);

    // v1.2.0 created and deployed to staging in one go, then promoted.
    s.apply_draft(config("three"), &deployer(), t(13))
        .expect("draft");
    let c = s
        .create_release(
            &NewRelease {
                tag: "v1.2.0".into(),
                description: "third".into(),
                config: None,
                deploy_to: Some("staging".into()),
            },
            &deployer(),
            t(13),
        )
        .expect("create+deploy");
    assert!(c.deployment.expect("deployed").changed);
    verify_pass(&s, "staging", 14);
    deploy(&s, "v1.2.0", "production", &admin(), 15).expect("promote v1.2.0");
    let prod = s.environment("production").expect("env");
    assert_eq!(prod.live.as_deref(), Some("v1.2.0"));
    assert_eq!(prod.rollback_to.as_deref(), Some("v1.1.0"));
    assert_eq!(prod.by.as_deref(), Some("alice"));

    // Deployers cannot roll back production; admins walk it back twice.
    let e = s
        .rollback(&rollback_req("production"), &deployer(), t(16))
        .expect_err("protected");
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    let plan = s.plan_rollback(&rollback_req("production")).expect("plan");
    assert_eq!((plan.from.as_str(), plan.to.as_str()), ("v1.2.0", "v1.1.0"));
    assert!(!plan.diff.is_empty());
    assert_eq!(
        live(&s, "production").as_deref(),
        Some("v1.2.0"),
        "a plan changes nothing"
    );
    let r1 = s
        .rollback(&rollback_req("production"), &admin(), t(17))
        .expect("rollback 1");
    assert_eq!(r1.deployment.kind, DeploymentKind::Rollback);
    assert_eq!(
        (
            r1.deployment.release.as_str(),
            r1.deployment.previous.as_deref()
        ),
        ("v1.1.0", Some("v1.2.0"))
    );
    let r2 = s
        .rollback(&rollback_req("production"), &admin(), t(18))
        .expect("rollback 2");
    assert_eq!(r2.deployment.release, "v1.0.0");
    let e = s
        .rollback(&rollback_req("production"), &admin(), t(19))
        .expect_err("bottom");
    assert!(e.message.starts_with("nothing to roll back to: v1.0.0 was the first release production ran, so there is nothing older"), "{}", e.message);
    assert_eq!(live(&s, "production").as_deref(), Some("v1.0.0"));

    // States: v1.2.0 is still live in staging; v1.1.0 nowhere now.
    assert_eq!(
        state_of(&s, "v1.2.0"),
        (ReleaseState::Deployed, vec!["staging".to_string()])
    );
    assert_eq!(state_of(&s, "v1.1.0").0, ReleaseState::Superseded);
    assert_eq!(
        state_of(&s, "v1.0.0"),
        (ReleaseState::Deployed, vec!["production".to_string()])
    );

    // Holds: the rolled-back releases need --force --reason to go back.
    let prod = s.environment("production").expect("env");
    let mut held = prod.held.clone();
    held.sort();
    assert_eq!(held, ["v1.1.0", "v1.2.0"]);
    let e = deploy(&s, "v1.2.0", "production", &admin(), 20).expect_err("held");
    assert_eq!(e.code, ErrorCode::PolicyDenied);
    assert!(
        e.message
            .starts_with("v1.2.0 was rolled back out of production by alice at "),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("relctl deploy v1.2.0 --env production --force --reason TEXT"),
        "{}",
        e.message
    );
    let forced = |reason: &str| DeployRequest {
        force_reason: Some(reason.into()),
        ..deploy_req("v1.2.0", "production")
    };
    assert_eq!(
        s.deploy(&forced("  "), &admin(), t(21))
            .expect_err("no reason")
            .code,
        ErrorCode::Invalid
    );
    assert_eq!(
        s.deploy(&forced("fixed"), &deployer(), t(21))
            .expect_err("not admin")
            .code,
        ErrorCode::PermissionDenied
    );
    let f = s
        .deploy(&forced("hotfix verified by hand"), &admin(), t(22))
        .expect("forced");
    assert!(f.deployment.forced);
    assert_eq!(
        f.deployment.reason.as_deref(),
        Some("hotfix verified by hand")
    );
    assert_eq!(s.environment("production").expect("env").held, ["v1.1.0"]);
    let last = s.audit(1, None).expect("audit").remove(0);
    assert_eq!(last.action, "deploy");
    assert!(
        last.detail.contains("forced: hotfix verified by hand"),
        "{}",
        last.detail
    );
    assert_eq!(last.actor, "alice");

    // History: newest first, paged.
    let h = s.history("production", 0, None).expect("history");
    let kinds: Vec<(&str, DeploymentKind)> =
        h.iter().map(|d| (d.release.as_str(), d.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("v1.2.0", DeploymentKind::Deploy),
            ("v1.0.0", DeploymentKind::Rollback),
            ("v1.1.0", DeploymentKind::Rollback),
            ("v1.2.0", DeploymentKind::Deploy),
            ("v1.1.0", DeploymentKind::Deploy),
            ("v1.0.0", DeploymentKind::Deploy),
        ]
    );
    let page2 = s.history("production", 2, Some(h[1].id)).expect("page");
    assert_eq!(page2, h[2..4].to_vec());
    let rh = s.release_history("v1.0.0", 0).expect("release history");
    assert!(
        rh.iter().all(|d| d.release == "v1.0.0") && rh.len() == 3,
        "{rh:?}"
    );

    // Listing by state.
    let q = |state| ReleaseQuery {
        state: Some(state),
        filter: None,
        before_seq: None,
        limit: 0,
    };
    let tags = |v: Vec<ReleaseView>| v.into_iter().map(|r| r.release.tag).collect::<Vec<_>>();
    // The forced deploy replaced v1.0.0 in production.
    assert_eq!(
        tags(s.releases(&q(ReleaseState::Deployed)).expect("deployed")),
        ["v1.2.0"]
    );
    assert_eq!(
        tags(
            s.releases(&q(ReleaseState::Superseded))
                .expect("superseded")
        ),
        ["v1.1.0", "v1.0.0"]
    );
    release_with(&s, "v2.0.0-rc1", config("four"), 23);
    assert_eq!(
        tags(s.releases(&q(ReleaseState::Ready)).expect("ready")),
        ["v2.0.0-rc1"]
    );
    let f = ReleaseQuery {
        state: None,
        filter: Some("V1.".into()),
        before_seq: Some(3),
        limit: 1,
    };
    assert_eq!(tags(s.releases(&f).expect("filtered")), ["v1.1.0"]);

    assert!(s.verify_audit().expect("verify").ok);
}

#[test]
fn only_ever_ran_and_empty_env_messages() {
    let (_d, s) = open();
    let e = s
        .rollback(&rollback_req("staging"), &deployer(), t(0))
        .expect_err("empty");
    assert_eq!(
        e.message,
        "nothing to roll back to: staging has no release deployed yet"
    );
    release_with(&s, "v1.0.0", config_no_checks("a"), 1);
    deploy(&s, "v1.0.0", "staging", &deployer(), 2).expect("staging");
    deploy(&s, "v1.0.0", "production", &admin(), 3)
        .expect("production: no checks, was live in staging");
    let e = s
        .rollback(&rollback_req("production"), &admin(), t(4))
        .expect_err("only one");
    assert_eq!(
        e.message,
        "nothing to roll back to: production has only ever run v1.0.0"
    );
    assert_eq!(
        s.plan_rollback(&rollback_req("production"))
            .expect_err("plan too")
            .message,
        e.message
    );
}

#[test]
fn rollback_to_and_expect() {
    let (_d, s) = open();
    for (i, tag) in ["a1", "a2", "a3", "a4"].iter().enumerate() {
        release_with(&s, tag, config_no_checks(tag), i as i64);
        deploy(&s, tag, "staging", &deployer(), 10 + i as i64).expect("deploy");
    }
    let to = |tag: &str, expect: Option<&str>| RollbackRequest {
        env: "staging".into(),
        to: Some(tag.into()),
        expect: expect.map(String::from),
        reason: Some("bad deploy".into()),
    };
    let e = s
        .rollback(&to("a1", Some("a3")), &deployer(), t(20))
        .expect_err("expect");
    assert_eq!(e.code, ErrorCode::Conflict);
    let plan = s.plan_rollback(&to("a1", None)).expect("plan");
    assert_eq!(plan.popped, ["a4", "a3", "a2"]);
    let r = s
        .rollback(&to("a1", Some("a4")), &deployer(), t(21))
        .expect("rollback --to");
    assert_eq!(r.deployment.release, "a1");
    assert_eq!(r.deployment.reason.as_deref(), Some("bad deploy"));
    assert_eq!(live(&s, "staging").as_deref(), Some("a1"));
    // Rolling back "to" what is live already changes nothing.
    let same = s
        .rollback(&to("a1", None), &deployer(), t(22))
        .expect("no-op");
    assert!(!same.changed);
    let e = s
        .rollback(&to("zz", None), &deployer(), t(22))
        .expect_err("unknown tag");
    assert_eq!(e.code, ErrorCode::NotFound);
    let mut held = s.environment("staging").expect("env").held;
    held.sort();
    assert_eq!(held, ["a2", "a3", "a4"]);
}

#[test]
fn plan_deploy_shows_diff_and_verdict() {
    let (_d, s) = open();
    release_with(&s, "v1", config("a"), 1);
    release_with(&s, "v2", config("b"), 2);
    deploy(&s, "v1", "staging", &deployer(), 3).expect("deploy");
    let plan = s
        .plan_deploy(&deploy_req("v2", "staging"), &deployer())
        .expect("plan");
    assert_eq!(plan.from.as_deref(), Some("v1"));
    assert!(plan.verdict.is_ok());
    assert!(!plan.already_live && !plan.protected);
    assert_eq!(plan.diff.changes.len(), 1);
    assert_eq!(plan.diff.changes[0].path, "pipelines.chat");
    let prod = s
        .plan_deploy(&deploy_req("v2", "production"), &admin())
        .expect("plan prod");
    assert!(prod.protected);
    assert_eq!(prod.from, None);
    assert_eq!(
        prod.verdict.expect_err("policy").code,
        ErrorCode::PolicyDenied
    );
    assert_eq!(
        live(&s, "staging").as_deref(),
        Some("v1"),
        "a plan changes nothing"
    );
}

#[test]
fn environments_and_permissions() {
    let (_d, s) = open();
    let env = |name: &str, requires: &[&str]| Environment {
        name: name.into(),
        description: "x".into(),
        protected: false,
        requires: requires.iter().map(|r| r.to_string()).collect(),
        created_at: t(0),
    };
    assert_eq!(
        s.create_environment(&env("qa", &[]), &deployer(), t(1))
            .expect_err("admin only")
            .code,
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        s.create_environment(&env("Bad_Name", &[]), &admin(), t(1))
            .expect_err("name")
            .code,
        ErrorCode::Invalid
    );
    assert_eq!(
        s.create_environment(&env("qa", &["nope"]), &admin(), t(1))
            .expect_err("requires")
            .code,
        ErrorCode::NotFound
    );
    // `canary` requires production; `qa` has no requirements: promotion order puts canary last.
    s.create_environment(&env("canary", &["production"]), &admin(), t(2))
        .expect("canary");
    s.create_environment(&env("qa", &[]), &admin(), t(3))
        .expect("qa");
    assert_eq!(
        s.create_environment(&env("qa", &[]), &admin(), t(4))
            .expect_err("dup")
            .code,
        ErrorCode::Conflict
    );
    let names: Vec<String> = s
        .environments()
        .expect("envs")
        .into_iter()
        .map(|e| e.env.name)
        .collect();
    assert_eq!(names, ["staging", "production", "canary", "qa"]);
    assert_eq!(
        s.environment("nope").expect_err("missing").code,
        ErrorCode::NotFound
    );
    // A viewer can read but not change anything.
    assert_eq!(
        s.apply_draft(config("a"), &viewer(), t(5))
            .expect_err("viewer")
            .code,
        ErrorCode::PermissionDenied
    );
    release_with(&s, "v1", config("a"), 6);
    assert_eq!(
        deploy(&s, "v1", "qa", &viewer(), 7)
            .expect_err("viewer")
            .code,
        ErrorCode::PermissionDenied
    );
    assert!(
        deploy(&s, "v1", "qa", &deployer(), 7)
            .expect("deployer on unprotected")
            .changed
    );
    assert_eq!(s.release("v1").expect("view").live_in, ["qa"]);
}

#[test]
fn a_release_rolled_back_out_of_staging_is_not_promoted() {
    let (_d, s) = open();
    release_with(&s, "v1", config("a"), 1);
    release_with(&s, "v2", config("b"), 2);
    deploy(&s, "v1", "staging", &deployer(), 3).expect("v1");
    deploy(&s, "v2", "staging", &deployer(), 4).expect("v2");
    verify_pass(&s, "staging", 5);
    s.rollback(&rollback_req("staging"), &deployer(), t(6))
        .expect("rollback");
    let e = deploy(&s, "v2", "production", &admin(), 7).expect_err("held in staging");
    assert_eq!(e.code, ErrorCode::PolicyDenied);
    assert!(
        e.message
            .starts_with("policy: v2 was rolled back out of staging"),
        "{}",
        e.message
    );
    // Redeployed to staging by force: its verification from before the rollback no longer
    // counts, so staging shows none and production still refuses it until it is verified.
    let again = DeployRequest {
        force_reason: Some("re-try".into()),
        ..deploy_req("v2", "staging")
    };
    s.deploy(&again, &admin(), t(7)).expect("forced redeploy");
    assert_eq!(s.environment("staging").expect("env").verification, None);
    let e = deploy(&s, "v2", "production", &admin(), 7).expect_err("not verified again");
    assert_eq!(e.code, ErrorCode::PolicyDenied, "{}", e.message);
    assert!(e.message.contains("verif"), "{}", e.message);
    // An admin can still override, and it is on record.
    let forced = DeployRequest {
        force_reason: Some("known good".into()),
        ..deploy_req("v2", "production")
    };
    assert!(
        s.deploy(&forced, &admin(), t(8))
            .expect("forced")
            .deployment
            .forced
    );
}

/// A release rolled back to was verified when it was live before: the environment shows that
/// verification again (the new rollback deployment has none of its own); another release
/// that was never verified shows none.
#[test]
fn rolling_back_to_a_verified_release_shows_its_verification_again() {
    let (_d, s) = open();
    release_with(&s, "v1", config("a"), 1);
    release_with(&s, "v2", config("b"), 2);
    deploy(&s, "v1", "staging", &deployer(), 3).expect("deploy v1");
    verify_pass(&s, "staging", 4);
    deploy(&s, "v2", "staging", &deployer(), 5).expect("deploy v2");
    assert_eq!(s.environment("staging").expect("env").verification, None);
    s.rollback(&rollback_req("staging"), &deployer(), t(6))
        .expect("rollback");
    let view = s.environment("staging").expect("env");
    assert_eq!(view.live.as_deref(), Some("v1"));
    let v = view.verification.expect("v1's earlier verification");
    assert!(v.passed);
    assert_eq!(v.at, t(4));
}
