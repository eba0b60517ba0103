//! Reopening a data dir gives back everything; a second opener is refused with a clear error.

mod common;

use common::*;
use rel_domain::Store;
use rel_domain::model::*;
use rel_store::{OpenError, SledStore};

#[test]
fn reopen_persists_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (releases, envs, history, audit, draft) = {
        let s = SledStore::open(dir.path()).expect("open");
        release_with(&s, "v1", config_no_checks("a"), 1);
        release_with(&s, "v2", config_no_checks("b"), 2);
        deploy(&s, "v1", "staging", &deployer(), 3).expect("deploy");
        deploy(&s, "v2", "staging", &deployer(), 4).expect("deploy");
        s.rollback(&rollback_req("staging"), &deployer(), t(5))
            .expect("rollback");
        s.apply_draft(config("draft"), &deployer(), t(6))
            .expect("draft");
        (
            all_releases(&s),
            s.environments().expect("envs"),
            s.history("staging", 0, None).expect("history"),
            s.audit(0, None).expect("audit"),
            s.draft().expect("draft").expect("some"),
        )
    };
    let s = SledStore::open(dir.path()).expect("reopen");
    assert_eq!(all_releases(&s), releases);
    assert_eq!(s.environments().expect("envs"), envs);
    assert_eq!(s.history("staging", 0, None).expect("history"), history);
    assert_eq!(s.audit(0, None).expect("audit"), audit);
    assert_eq!(s.draft().expect("draft").expect("some"), draft);
    assert!(s.verify_audit().expect("verify").ok);
    // Seeding happens once: the environments are not re-created.
    assert_eq!(s.status().expect("status").environments, 2);
    assert_eq!(
        s.audit(0, None)
            .expect("audit")
            .iter()
            .filter(|e| e.action == "store.init")
            .count(),
        1
    );
    // Counters continue: the next release is #3, the next deployment #4, and v2 is still held.
    let c = release_with(&s, "v3", config_no_checks("c"), 7);
    assert_eq!(c.release.release.seq, 3);
    let d = deploy(&s, "v3", "staging", &deployer(), 8).expect("deploy");
    assert_eq!(d.deployment.id, 4);
    assert_eq!(
        deploy(&s, "v2", "staging", &deployer(), 9)
            .expect_err("held")
            .code,
        rel_domain::ErrorCode::PolicyDenied
    );
}

#[test]
fn a_second_opener_is_told_the_dir_is_locked() {
    let (dir, _s) = open();
    match SledStore::open(dir.path()) {
        Err(e @ OpenError::Locked { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("is locked") && m.contains("another releasd"),
                "{m}"
            );
            assert!(m.contains(&dir.path().display().to_string()), "{m}");
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second store opened the same data dir"),
    }
}

#[test]
fn executions_are_bounded_per_environment() {
    let (_d, s) = open();
    let exec = |env: &str, endpoint: &str| Execution {
        id: 0,
        env: env.into(),
        endpoint: endpoint.into(),
        release: "v1".into(),
        digest: rel_domain::Digest::of(b"x"),
        status: ExecStatus::Ok,
        input: "{}".into(),
        output: "{}".into(),
        error: None,
        steps: vec![],
        started_at: t(0),
        duration_ms: 1,
    };
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            s.append_execution(
                &exec("staging", if i % 2 == 0 { "chat" } else { "echo" }),
                5,
            )
            .expect("append"),
        );
    }
    let prod = s
        .append_execution(&exec("production", "chat"), 5)
        .expect("append");
    let q = |env: Option<&str>, endpoint: Option<&str>| ExecQuery {
        env: env.map(String::from),
        endpoint: endpoint.map(String::from),
        before_id: None,
        limit: 0,
    };
    let staging: Vec<u64> = s
        .executions(&q(Some("staging"), None))
        .expect("list")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        staging,
        ids[2..].iter().rev().copied().collect::<Vec<_>>(),
        "only the newest 5 are kept"
    );
    assert_eq!(
        s.execution(ids[0]).expect_err("trimmed").code,
        rel_domain::ErrorCode::NotFound
    );
    assert_eq!(s.execution(prod).expect("kept").env, "production");
    let all = s.executions(&q(None, None)).expect("all");
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].id, prod);
    let chats: Vec<u64> = s
        .executions(&q(Some("staging"), Some("chat")))
        .expect("chat")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(chats, [ids[6], ids[4], ids[2]]);
    let paged = ExecQuery {
        before_id: Some(ids[5]),
        limit: 1,
        ..q(Some("staging"), None)
    };
    assert_eq!(s.executions(&paged).expect("page")[0].id, ids[4]);
}

#[test]
fn tokens_keep_only_the_hash() {
    let (_d, s) = open();
    let h = rel_domain::Digest::of(b"secret");
    assert_eq!(
        s.create_token("ci", &h, &deployer(), t(0))
            .expect_err("admin")
            .code,
        rel_domain::ErrorCode::PermissionDenied
    );
    let info = s.create_token("ci", &h, &admin(), t(1)).expect("create");
    assert_eq!(info.created_by, "alice");
    assert_eq!(
        s.create_token("ci", &rel_domain::Digest::of(b"x"), &admin(), t(2))
            .expect_err("dup")
            .code,
        rel_domain::ErrorCode::Conflict
    );
    assert_eq!(s.token_by_hash(&h).expect("lookup"), Some(info.clone()));
    assert_eq!(s.tokens().expect("list"), vec![info]);
    s.revoke_token("ci", &admin(), t(3)).expect("revoke");
    assert_eq!(s.token_by_hash(&h).expect("lookup"), None);
    assert_eq!(
        s.revoke_token("ci", &admin(), t(4)).expect_err("gone").code,
        rel_domain::ErrorCode::NotFound
    );
    let export = s.export().expect("export");
    assert!(!export.contains("secret"));
}

/// The serving path's logs skip the sync wait but not the log: they are readable at once,
/// interleave with durable ones without reusing an id, survive a reopen (with no gap in the
/// ids after a clean close), and are announced in order to the change sink as live notices
/// (seq 0: sled keeps execution logs outside the stored change sequence).
#[test]
fn logged_executions_are_visible_ordered_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exec = || Execution {
        id: 0,
        env: "staging".into(),
        endpoint: "chat".into(),
        release: "v1".into(),
        digest: rel_domain::Digest::of(b"x"),
        status: ExecStatus::Ok,
        input: "{}".into(),
        output: "{}".into(),
        error: None,
        steps: vec![],
        started_at: t(0),
        duration_ms: 1,
    };
    let announced = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let ids: Vec<u64> = {
        let s = rel_store::SledStore::open(dir.path()).expect("open");
        let seen = std::sync::Arc::clone(&announced);
        s.set_change_sink(Box::new(move |evs| {
            for e in evs {
                if let rel_domain::Change::ExecutionFinished { id, .. } = e.change {
                    seen.lock().expect("lock").push((e.seq, id));
                }
            }
        }));
        let mut ids = Vec::new();
        for i in 0..6 {
            let id = if i % 2 == 0 {
                s.append_execution_logged(&exec(), 100).expect("logged")
            } else {
                s.append_execution(&exec(), 100).expect("durable")
            };
            assert_eq!(s.execution(id).expect("readable at once").id, id);
            ids.push(id);
        }
        ids
    };
    assert_eq!(
        ids,
        (1..=6).collect::<Vec<u64>>(),
        "one id sequence, no reuse"
    );
    assert_eq!(
        *announced.lock().expect("lock"),
        ids.iter().map(|id| (0, *id)).collect::<Vec<_>>(),
        "ExecutionFinished announced in order, as live notices"
    );
    let s = rel_store::SledStore::open(dir.path()).expect("reopen");
    for id in &ids {
        assert_eq!(s.execution(*id).expect("survives").id, *id);
    }
    assert!(
        s.changes_since(0, 100)
            .expect("events")
            .iter()
            .all(|e| !matches!(e.change, rel_domain::Change::ExecutionFinished { .. })),
        "execution notices are not stored changes"
    );
    assert_eq!(
        s.append_execution_logged(&exec(), 100)
            .expect("after reopen"),
        7,
        "a clean close leaves no gap"
    );
}
