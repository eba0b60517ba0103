//! Snapshots of every read command's table and JSON output, rendered from fixed data so they
//! are deterministic. Review changes with `cargo insta review`.

use insta::assert_snapshot;
use rel_domain::config::{ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::diff::{Change, ChangeOp, Diff, FieldChange};
use rel_domain::governance::{
    Approval, ChangeRequest, Freeze, FreezeScope, FreezeView, FreezeWindow, GovernanceView,
    RequestKind, RequestStatus,
};
use rel_domain::{
    Actor, AppConfig, AuditEntry, AuditReport, Caller, CheckResult, CreateOutcome, DeployOutcome,
    DeployPlan, Deployment, DeploymentKind, Digest, Environment, EnvironmentView, PruneReport,
    RelError, Release, ReleaseState, ReleaseView, Role, RollbackPlan, Snapshot, StoreStatus,
    Timestamp, Verification,
};
use rel_proto::{DaemonStatus, DiffView, Event, ReleaseDetail};

use crate::json::{self, pretty};
use crate::table::{self, Ctx};

/// 2026-03-14T09:00:00Z.
const BASE: i64 = 1_773_478_800_000;

fn ts(minutes: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minutes * 60_000)
}

fn ctx() -> Ctx {
    Ctx {
        now: ts(60 * 26),
        width: 80,
    }
}

fn digest(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}

fn rel(
    seq: u64,
    tag: &str,
    desc: &str,
    state: ReleaseState,
    live_in: &[&str],
    at: i64,
) -> ReleaseView {
    ReleaseView {
        release: Release {
            seq,
            tag: tag.into(),
            description: desc.into(),
            created_at: ts(at),
            created_by: "alice".into(),
            digest: digest(tag),
        },
        state,
        live_in: live_in.iter().map(|s| s.to_string()).collect(),
    }
}

/// v1.1.0 is held in production (the fixture's envs).
fn holds() -> crate::holds::Holds {
    crate::holds::Holds::from_envs(&envs())
}

fn releases() -> Vec<ReleaseView> {
    vec![
        rel(
            4,
            "v1.2.0",
            "Add the search tool\nAlso bumps timeouts.",
            ReleaseState::Ready,
            &[],
            60 * 25,
        ),
        rel(
            3,
            "v1.1.0",
            "Shout louder in the chat pipeline, a very long description that will not fit in eighty columns",
            ReleaseState::Deployed,
            &["staging"],
            60 * 20,
        ),
        rel(
            2,
            "v1.0.0",
            "First production release",
            ReleaseState::Deployed,
            &["production"],
            60 * 2,
        ),
        rel(1, "v0.9.0", "", ReleaseState::Superseded, &[], 5),
    ]
}

fn dep(
    id: u64,
    env: &str,
    release: &str,
    previous: Option<&str>,
    kind: DeploymentKind,
    at: i64,
) -> Deployment {
    Deployment {
        id,
        env: env.into(),
        release: release.into(),
        release_seq: 1,
        previous: previous.map(Into::into),
        kind,
        actor: "alice".into(),
        at: ts(at),
        reason: None,
        forced: false,
        verification: None,
    }
}

fn history() -> Vec<Deployment> {
    let mut forced = dep(
        5,
        "production",
        "v1.1.0",
        Some("v1.0.0"),
        DeploymentKind::Deploy,
        60 * 24,
    );
    forced.forced = true;
    forced.reason = Some("hotfix for INC-42, staging is down".into());
    vec![
        dep(
            6,
            "production",
            "v1.0.0",
            Some("v1.1.0"),
            DeploymentKind::Rollback,
            60 * 25,
        ),
        forced,
        dep(
            3,
            "production",
            "v1.0.0",
            Some("v0.9.0"),
            DeploymentKind::Deploy,
            60 * 3,
        ),
        dep(2, "production", "v0.9.0", None, DeploymentKind::Deploy, 10),
    ]
}

fn envs() -> Vec<EnvironmentView> {
    let staging = EnvironmentView {
        env: Environment {
            name: "staging".into(),
            description: "pre-production".into(),
            protected: false,
            requires: vec![],
            created_at: ts(0),
        },
        live: Some("v1.1.0".into()),
        live_digest: Some(digest("v1.1.0")),
        rollback_to: Some("v1.0.0".into()),
        since: Some(ts(60 * 21)),
        by: Some("bob".into()),
        deployment_id: Some(4),
        verification: Some(Verification {
            at: ts(60 * 21 + 5),
            by: "bob".into(),
            passed: false,
            checks: vec![
                CheckResult {
                    name: "chat replies".into(),
                    passed: true,
                    message: "ok".into(),
                    execution_id: Some(7),
                },
                CheckResult {
                    name: "shouts".into(),
                    passed: false,
                    message: ".reply | contains(\"PING\") was false".into(),
                    execution_id: Some(8),
                },
            ],
        }),
        held: vec![],
        governance: Default::default(),
    };
    let production = EnvironmentView {
        env: Environment {
            name: "production".into(),
            description: String::new(),
            protected: true,
            requires: vec!["staging".into()],
            created_at: ts(0),
        },
        live: Some("v1.0.0".into()),
        live_digest: Some(digest("v1.0.0")),
        rollback_to: Some("v0.9.0".into()),
        since: Some(ts(60 * 25)),
        by: Some("alice".into()),
        deployment_id: Some(6),
        verification: None,
        held: vec!["v1.1.0".into()],
        governance: Default::default(),
    };
    let qa = EnvironmentView {
        env: Environment {
            name: "qa".into(),
            description: String::new(),
            protected: false,
            requires: vec![],
            created_at: ts(0),
        },
        live: None,
        live_digest: None,
        rollback_to: None,
        since: None,
        by: None,
        deployment_id: None,
        verification: None,
        held: vec![],
        governance: Default::default(),
    };
    vec![staging, production, qa]
}

fn a_diff() -> Diff {
    Diff {
        changes: vec![
            Change {
                path: "pipelines.chat.stages[prepare].steps[greet]".into(),
                op: ChangeOp::Changed,
                fields: vec![FieldChange {
                    field: "template".into(),
                    before: Some("\"You said: {{ input.message }}\"".into()),
                    after: Some("\"YOU SAID: {{ input.message | upper }} -- and this line is long enough to be cut\"".into()),
                }],
            },
            Change { path: "tools.search".into(), op: ChangeOp::Added, fields: vec![] },
            Change {
                path: "tools.shout".into(),
                op: ChangeOp::Changed,
                fields: vec![FieldChange { field: "timeout_ms".into(), before: None, after: Some("2000".into()) }],
            },
            Change { path: "checks[old check]".into(), op: ChangeOp::Removed, fields: vec![] },
        ],
    }
}

fn both(name: &str, table: String, json: String) {
    assert_snapshot!(format!("{name}_table"), table);
    assert_snapshot!(format!("{name}_json"), json);
}

#[test]
fn status() {
    let st = DaemonStatus {
        daemon_version: "0.1.0".into(),
        protocol: 1,
        pid: 4242,
        socket: "/run/user/1000/releasd/releasd.sock".into(),
        data_dir: "/home/alice/.local/share/releasd".into(),
        started_at: ts(60),
        http: None,
        log: Some("/home/alice/.local/share/releasd/releasd.log".into()),
        backend: rel_proto::StoreBackend::sled("/home/alice/.local/share/releasd"),
        degraded: None,
        store: StoreStatus {
            releases: 4,
            environments: 3,
            deployments: 6,
            audit_entries: 17,
            draft_digest: Some(digest("draft")),
        },
        caller: Caller {
            actor: Actor {
                uid: 1000,
                name: "alice".into(),
            },
            role: Role::Admin,
        },
    };
    let e = envs();
    both(
        "status",
        table::status(&st, &e, Some(2), ctx()),
        pretty(&json::status(&st, &e, Some(2), ctx().now)),
    );
    // A store that refuses writes since a disk failure: status leads with it.
    let sick = DaemonStatus {
        degraded: Some("applying a logged batch failed (No space left on device)".into()),
        ..st
    };
    both(
        "status_degraded",
        table::status(&sick, &[], Some(0), ctx()),
        pretty(&json::status(&sick, &[], Some(0), ctx().now)),
    );
}

#[test]
fn app_show_and_validate() {
    let cfg = AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example");
    let snap = Snapshot::of(cfg);
    assert_snapshot!(
        "app_show_table",
        table::draft_toml(&snap.digest, &snap.config)
    );
    // `app show` renders TOML that parses back to the same config.
    let back = AppConfig::parse(
        &table::draft_toml(&snap.digest, &snap.config),
        ConfigFormat::Toml,
    )
    .expect("round-trip");
    assert_eq!(back, snap.config);
    both(
        "app_validate",
        table::valid("app.toml", &snap.digest, &snap.config),
        pretty(&json::valid("app.toml", &snap)),
    );
}

#[test]
fn app_apply() {
    let d = digest("draft");
    both(
        "app_apply",
        table::draft_applied("app.toml", &d, &a_diff(), ctx()),
        pretty(&json::draft_applied("app.toml", &d, &a_diff())),
    );
}

#[test]
fn app_diff_and_diff() {
    let v = DiffView {
        from: "v1.1.0".into(),
        to: "draft".into(),
        from_digest: Some(digest("v1.1.0")),
        to_digest: Some(digest("draft")),
        diff: a_diff(),
    };
    both("app_diff", table::diff(&v, ctx()), pretty(&json::diff(&v)));
    let same = DiffView {
        from: "v1.0.0".into(),
        to: "v1.0.1".into(),
        from_digest: Some(digest("x")),
        to_digest: Some(digest("x")),
        diff: Diff::default(),
    };
    both(
        "diff_identical",
        table::diff(&same, ctx()),
        pretty(&json::diff(&same)),
    );
}

#[test]
fn release_list() {
    let list = releases();
    both(
        "release_list",
        table::releases(&list, false, &holds(), ctx()),
        pretty(&json::releases(&list, &holds())),
    );
    assert_snapshot!(
        "release_list_limited_table",
        table::releases(&list[..2], true, &holds(), ctx())
    );
}

#[test]
fn release_show() {
    let d = ReleaseDetail {
        view: releases()[1].clone(),
        config_json: AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml)
            .expect("example")
            .to_canonical_json(),
        previous: Some("v1.0.0".into()),
        diff_from_previous: a_diff(),
        history: history()[1..2].to_vec(),
    };
    both(
        "release_show",
        table::release_detail(&d, &holds(), ctx()),
        pretty(&json::release_detail(&d, &holds())),
    );
}

#[test]
fn release_create() {
    let o = CreateOutcome {
        release: releases()[0].clone(),
        same_content_as: vec!["v1.1.0".into()],
        deployment: Some(DeployOutcome {
            deployment: dep(
                7,
                "staging",
                "v1.2.0",
                Some("v1.1.0"),
                DeploymentKind::Deploy,
                60 * 26,
            ),
            changed: true,
        }),
    };
    both(
        "release_create",
        table::created(&o, ctx()),
        pretty(&json::created(&o)),
    );
}

#[test]
fn release_prune() {
    let r = PruneReport {
        removed: vec!["v0.1.0".into(), "v0.2.0".into()],
        protected: vec!["v0.9.0".into()],
        dry_run: true,
    };
    both(
        "release_prune",
        table::pruned(&r),
        pretty(&json::pruned(&r)),
    );
}

#[test]
fn env_list_show_history() {
    let e = envs();
    both(
        "env_list",
        table::environments(&e, ctx()),
        pretty(&json::environments(&e)),
    );
    both(
        "env_show_staging",
        table::environment(&e[0], ctx()),
        pretty(&json::environment(&e[0])),
    );
    both(
        "env_show_production",
        table::environment(&e[1], ctx()),
        pretty(&json::environment(&e[1])),
    );
    assert_snapshot!("env_show_empty_table", table::environment(&e[2], ctx()));
    let h = history();
    both(
        "env_history",
        table::history(&h, table::HistoryOf::Env, ctx()),
        pretty(&json::history(&h)),
    );
}

fn audit_entries() -> Vec<AuditEntry> {
    (1..=3)
        .rev()
        .map(|seq| AuditEntry {
            seq,
            at: ts(seq as i64 * 10),
            actor: "alice".into(),
            action: ["draft.apply", "release.create", "deploy"][seq as usize - 1].into(),
            detail: [
                "b3:0123456789ab",
                "v1.0.0",
                "v1.0.0 to staging (deployment #1), a long detail that goes past the edge",
            ][seq as usize - 1]
                .into(),
            prev: digest(&format!("prev{seq}")),
            hash: digest(&format!("hash{seq}")),
        })
        .collect()
}

#[test]
fn audit_and_verify() {
    let entries = audit_entries();
    both(
        "audit",
        table::audit(&entries, ctx()),
        pretty(&json::audit(&entries)),
    );
    let ok = AuditReport {
        entries: 17,
        ok: true,
        first_bad: None,
    };
    both(
        "audit_verify_ok",
        table::audit_report(&ok),
        pretty(&json::audit_report(&ok)),
    );
    let bad = AuditReport {
        entries: 17,
        ok: false,
        first_bad: Some((9, "hash does not match its content".into())),
    };
    both(
        "audit_verify_broken",
        table::audit_report(&bad),
        pretty(&json::audit_report(&bad)),
    );
}

#[test]
fn deploy_plan_and_results() {
    let plan = DeployPlan {
        env: "production".into(),
        from: Some("v1.0.0".into()),
        to: "v1.2.0".into(),
        diff: a_diff(),
        verdict: Err(RelError::policy(
            "v1.2.0 has not been live in staging; deploy it there first (or --force --reason as admin)",
        )),
        protected: true,
        already_live: false,
        governance: Default::default(),
        pending: vec![],
    };
    assert_snapshot!(
        "deploy_plan_denied_table",
        table::deploy_plan(&plan, false, ctx())
    );
    assert_snapshot!(
        "deploy_plan_forced_table",
        table::deploy_plan(&plan, true, ctx())
    );
    let first = DeployPlan {
        env: "staging".into(),
        from: None,
        to: "v1.0.0".into(),
        diff: Diff::default(),
        verdict: Ok(()),
        protected: false,
        already_live: false,
        governance: Default::default(),
        pending: vec![],
    };
    assert_snapshot!(
        "deploy_plan_first_table",
        table::deploy_plan(&first, false, ctx())
    );

    let changed = DeployOutcome {
        deployment: dep(
            7,
            "staging",
            "v1.2.0",
            Some("v1.1.0"),
            DeploymentKind::Deploy,
            60 * 26,
        ),
        changed: true,
    };
    both(
        "deploy_changed",
        table::deployed(&changed, ctx()),
        pretty(&json::outcome(&changed)),
    );
    let same = DeployOutcome {
        deployment: dep(
            4,
            "staging",
            "v1.1.0",
            Some("v1.0.0"),
            DeploymentKind::Deploy,
            60 * 21,
        ),
        changed: false,
    };
    both(
        "deploy_unchanged",
        table::deployed(&same, ctx()),
        pretty(&json::outcome(&same)),
    );
    let forced = DeployOutcome {
        deployment: history()[1].clone(),
        changed: true,
    };
    both(
        "deploy_forced",
        table::deployed(&forced, ctx()),
        pretty(&json::outcome(&forced)),
    );
}

#[test]
fn rollback_plan_and_result() {
    let plan = RollbackPlan {
        env: "production".into(),
        from: "v1.1.0".into(),
        to: "v1.0.0".into(),
        popped: vec!["v1.1.0".into()],
        diff: a_diff(),
    };
    both(
        "rollback_dry_run",
        table::rollback_plan(&plan, true, ctx()),
        pretty(&json::rollback_plan(&plan)),
    );
    let far = RollbackPlan {
        popped: vec!["v1.2.0".into(), "v1.1.0".into()],
        from: "v1.2.0".into(),
        to: "v1.0.0".into(),
        diff: Diff::default(),
        ..plan
    };
    assert_snapshot!(
        "rollback_plan_to_table",
        table::rollback_plan(&far, false, ctx())
    );
    let done = DeployOutcome {
        deployment: history()[0].clone(),
        changed: true,
    };
    both(
        "rollback_result",
        table::deployed(&done, ctx()),
        pretty(&json::outcome(&done)),
    );
}

#[test]
fn watch_events_and_errors() {
    let events = [
        Event::ReleaseCreated {
            release: releases()[0].clone(),
            actor: "alice".into(),
        },
        Event::Deployed(dep(
            7,
            "staging",
            "v1.2.0",
            Some("v1.1.0"),
            DeploymentKind::Deploy,
            60 * 26,
        )),
        Event::RolledBack(history()[0].clone()),
        Event::DraftApplied {
            digest: digest("draft"),
            actor: "alice".into(),
        },
        Event::EnvironmentCreated {
            name: "qa".into(),
            actor: "alice".into(),
        },
        Event::ReleasesPruned {
            removed: vec!["v0.1.0".into()],
            actor: "alice".into(),
        },
        Event::Imported {
            actor: "alice".into(),
        },
        Event::Lagged { missed: 12 },
    ];
    let lines: Vec<String> = events.iter().map(|e| json::line(&json::event(e))).collect();
    for l in &lines {
        assert!(!l.contains('\n'), "one object per line: {l}");
    }
    assert_snapshot!("watch_lines", lines.join("\n"));
    assert_snapshot!(
        "error_json",
        json::line(&json::error(
            "not_found",
            "no release \"v9\": relctl release list shows the tags"
        ))
    );
}

#[test]
fn tables_fit_80_columns() {
    let c = ctx();
    let outputs = [
        table::releases(&releases(), false, &holds(), c),
        table::environments(&envs(), c),
        table::history(&history(), table::HistoryOf::Env, c),
        table::history(&history(), table::HistoryOf::Release, c),
        table::audit(&audit_entries(), c),
        table::diff(
            &DiffView {
                from: "a".into(),
                to: "b".into(),
                from_digest: None,
                to_digest: None,
                diff: a_diff(),
            },
            c,
        ),
    ];
    for out in outputs {
        for line in out.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} columns: {line}",
                line.chars().count()
            );
        }
    }
}

#[test]
fn wrap_breaks_at_spaces_and_splits_long_words() {
    assert_eq!(table::wrap("one two three", 7), ["one two", "three"]);
    assert_eq!(table::wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    assert_eq!(table::wrap("", 4), [""]);
    assert_eq!(table::wrap("a  b", 10), ["a b"]);
}

fn gov_request(status: RequestStatus, kind: RequestKind) -> ChangeRequest {
    ChangeRequest {
        id: 7,
        kind,
        env: "production".into(),
        release: "v1.2.0".into(),
        expect: Some("v1.1.0".into()),
        requested_by: "alice".into(),
        requested_uid: 1000,
        requested_at: ts(60 * 25),
        status,
        at: (kind == RequestKind::Scheduled).then(|| ts(60 * 27)),
        expires_at: (kind == RequestKind::Approval).then(|| ts(60 * 49)),
        approvals_needed: 2,
        approvals: vec![Approval {
            by: "bob".into(),
            at: ts(60 * 25 + 30),
        }],
        force_reason: None,
        decided_by: None,
        decided_at: None,
        outcome: None,
        deployment_id: None,
    }
}

#[test]
fn governance_env_requests_and_events() {
    let c = ctx();
    let window = FreezeWindow {
        id: 3,
        spec: "Fri 15:00 - Mon 09:00 Europe/Berlin".into(),
        reason: "no weekend deploys".into(),
        added_by: "root".into(),
        added_at: ts(0),
    };
    let mut prod = envs().remove(1);
    *prod.governance = GovernanceView {
        approvals: 2,
        frozen: Some(FreezeView {
            by: "alice".into(),
            reason: "incident 42".into(),
            since: ts(60 * 25),
            until: Some(ts(60 * 27)),
            scope: FreezeScope::Env,
            window: None,
        }),
        windows: vec![window.clone()],
        pending_requests: 1,
    };
    both(
        "env_show_frozen",
        table::environment(&prod, c),
        pretty(&json::environment(&prod)),
    );
    let list = vec![
        gov_request(RequestStatus::Pending, RequestKind::Approval),
        gov_request(RequestStatus::Pending, RequestKind::Scheduled),
    ];
    both(
        "requests",
        crate::table_gov::requests(&list, c),
        pretty(&crate::json_gov::requests(&list)),
    );
    let r = gov_request(RequestStatus::Pending, RequestKind::Approval);
    both(
        "request_opened",
        crate::table_gov::request(&r, c),
        pretty(&crate::json_gov::RequestAnswerJson {
            request: crate::json_gov::request(&r),
        }),
    );
    let events = [
        Event::Frozen {
            env: None,
            freeze: Freeze {
                by: "alice".into(),
                reason: "release day".into(),
                since: ts(0),
                until: None,
            },
        },
        Event::Unfrozen {
            env: Some("production".into()),
            actor: "alice".into(),
        },
        Event::GovernanceChanged {
            env: "production".into(),
            actor: "root".into(),
            what: "approvals 0 -> 2".into(),
        },
        Event::RequestChanged(Box::new(gov_request(
            RequestStatus::Deployed,
            RequestKind::Approval,
        ))),
    ];
    let lines: Vec<String> = events.iter().map(|e| json::line(&json::event(e))).collect();
    assert_snapshot!("governance_watch_lines", lines.join("\n"));
    for out in [
        table::environment(&prod, c),
        crate::table_gov::requests(&list, c),
    ] {
        for line in out.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}
