//! Shared fixtures: a real `SledStore` in a temp dir, callers with each role, configs.
#![allow(dead_code)]

use rel_domain::config::{AppConfig, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::model::*;
use rel_domain::{Store, Timestamp};
use rel_store::SledStore;

pub fn open() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SledStore::open(dir.path()).expect("open store");
    (dir, s)
}

pub fn who(name: &str, role: Role) -> Caller {
    Caller {
        actor: Actor {
            uid: 1000,
            name: name.into(),
        },
        role,
    }
}

pub fn admin() -> Caller {
    who("alice", Role::Admin)
}

pub fn deployer() -> Caller {
    who("bob", Role::Deployer)
}

pub fn viewer() -> Caller {
    who("carol", Role::Viewer)
}

pub fn t(n: i64) -> Timestamp {
    Timestamp(1_780_000_000_000 + n * 1000)
}

/// The example config (it has a check), with the chat pipeline's description set to `v`
/// so that different `v` give different content.
pub fn config(v: &str) -> AppConfig {
    let mut c = AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example");
    c.pipelines.get_mut("chat").expect("chat").description = v.to_string();
    c
}

/// The example without checks: promotion needs "was live in staging" only.
pub fn config_no_checks(v: &str) -> AppConfig {
    let mut c = config(v);
    c.checks.clear();
    c
}

pub fn release_with(s: &SledStore, tag: &str, cfg: AppConfig, n: i64) -> CreateOutcome {
    s.apply_draft(cfg, &deployer(), t(n)).expect("apply draft");
    s.create_release(
        &NewRelease {
            tag: tag.into(),
            description: format!("release {tag}"),
            config: None,
            deploy_to: None,
        },
        &deployer(),
        t(n),
    )
    .expect("create release")
}

pub fn deploy_req(tag: &str, env: &str) -> DeployRequest {
    DeployRequest {
        tag: tag.into(),
        env: env.into(),
        expect: None,
        force_reason: None,
    }
}

pub fn rollback_req(env: &str) -> RollbackRequest {
    RollbackRequest {
        env: env.into(),
        to: None,
        expect: None,
        reason: None,
    }
}

pub fn deploy(
    s: &SledStore,
    tag: &str,
    env: &str,
    who: &Caller,
    n: i64,
) -> rel_domain::RelResult<DeployOutcome> {
    s.deploy(&deploy_req(tag, env), who, t(n))
}

/// Record a passing verification on what is live in `env`.
pub fn verify_pass(s: &SledStore, env: &str, n: i64) {
    let view = s.environment(env).expect("env");
    let id = view.deployment_id.expect("something is live");
    let v = Verification {
        at: t(n),
        by: "bob".into(),
        passed: true,
        checks: vec![CheckResult {
            name: "chat replies".into(),
            passed: true,
            message: "ok".into(),
            execution_id: None,
        }],
    };
    s.record_verification(env, id, &v, &deployer())
        .expect("record verification");
}

pub fn state_of(s: &SledStore, tag: &str) -> (ReleaseState, Vec<String>) {
    let v = s.release(tag).expect("release");
    (v.state, v.live_in)
}

pub fn live(s: &SledStore, env: &str) -> Option<String> {
    s.environment(env).expect("env").live
}

pub fn all_releases(s: &SledStore) -> Vec<ReleaseView> {
    s.releases(&ReleaseQuery {
        state: None,
        filter: None,
        before_seq: None,
        limit: 0,
    })
    .expect("list")
}
