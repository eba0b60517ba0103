//! Pruning keeps what can still be needed and reserves tags; export → import into a fresh
//! store gives the same views.

mod common;

use common::*;
use rel_domain::model::*;
use rel_domain::{ErrorCode, Store};

#[test]
fn prune_protects_live_and_stacked_releases() {
    let (_d, s) = open();
    for (i, tag) in ["v1", "v2", "v3", "v4", "v5", "v6"].iter().enumerate() {
        // v1 and v6 share content; the others are unique.
        let content = if *tag == "v6" {
            "v1".to_string()
        } else {
            tag.to_string()
        };
        release_with(&s, tag, config_no_checks(&content), i as i64);
    }
    for (i, tag) in ["v1", "v2", "v3"].iter().enumerate() {
        deploy(&s, tag, "staging", &deployer(), 10 + i as i64).expect("deploy");
    }
    // v3 is rolled back: held, off the stack. Stack: v1, v2 (live).
    s.rollback(&rollback_req("staging"), &deployer(), t(20))
        .expect("rollback");
    let v4 = s.release("v4").expect("v4").release.digest;
    let v1 = s.release("v1").expect("v1").release.digest;

    assert_eq!(
        s.prune(1, true, &deployer(), t(21))
            .expect_err("admin only")
            .code,
        ErrorCode::PermissionDenied
    );
    let dry = s.prune(1, true, &admin(), t(21)).expect("dry run");
    assert!(dry.dry_run);
    assert_eq!(dry.removed, ["v5", "v4", "v3"]);
    assert_eq!(dry.protected, ["v2", "v1"]);
    assert_eq!(all_releases(&s).len(), 6, "a dry run removes nothing");

    let audit_before = s.status().expect("status").audit_entries;
    let real = s.prune(1, false, &admin(), t(22)).expect("prune");
    assert_eq!(real.removed, dry.removed);
    assert!(!real.dry_run);
    let left: Vec<String> = all_releases(&s)
        .into_iter()
        .map(|r| r.release.tag)
        .collect();
    assert_eq!(left, ["v6", "v2", "v1"]);
    assert_eq!(s.status().expect("status").releases, 3);
    assert_eq!(s.status().expect("status").audit_entries, audit_before + 1);

    // Gone, but the tag stays reserved (in any case).
    let e = s.release("v4").expect_err("pruned");
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("was pruned"), "{}", e.message);
    s.apply_draft(config_no_checks("new"), &deployer(), t(23))
        .expect("draft");
    let req = NewRelease {
        tag: "V4".into(),
        description: String::new(),
        config: None,
        deploy_to: None,
    };
    let e = s
        .create_release(&req, &deployer(), t(24))
        .expect_err("reserved");
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(e.message.contains("never reused"), "{}", e.message);

    // Unreferenced content is collected; shared content stays.
    assert_eq!(
        s.snapshot(&v4).expect_err("collected").code,
        ErrorCode::NotFound
    );
    assert_eq!(s.snapshot(&v1).expect("still used").digest, v1);
    // The held release is gone from the environment's hold list; history is untouched.
    assert!(s.environment("staging").expect("env").held.is_empty());
    assert_eq!(s.history("staging", 0, None).expect("history").len(), 4);
    // Rollback still works onto the protected v1.
    s.rollback(&rollback_req("staging"), &deployer(), t(25))
        .expect("rollback to v1");
    assert_eq!(live(&s, "staging").as_deref(), Some("v1"));
    assert!(s.verify_audit().expect("verify").ok);
    // Nothing more to prune: no audit entry for a no-op.
    let n = s.status().expect("status").audit_entries;
    assert!(
        s.prune(10, false, &admin(), t(26))
            .expect("noop")
            .removed
            .is_empty()
    );
    assert_eq!(s.status().expect("status").audit_entries, n);
}

/// A store with a bit of everything in it.
fn rich_store() -> (tempfile::TempDir, rel_store::SledStore) {
    let (d, s) = open();
    release_with(&s, "v1", config("a"), 1);
    deploy(&s, "v1", "staging", &deployer(), 2).expect("deploy");
    verify_pass(&s, "staging", 3);
    deploy(&s, "v1", "production", &admin(), 4).expect("promote");
    release_with(&s, "v2", config("b"), 5);
    release_with(&s, "v3", config("c"), 6);
    deploy(&s, "v2", "staging", &deployer(), 7).expect("deploy");
    deploy(&s, "v3", "staging", &deployer(), 8).expect("deploy");
    s.rollback(&rollback_req("staging"), &deployer(), t(9))
        .expect("rollback");
    release_with(&s, "v4", config("d"), 10);
    s.prune(1, false, &admin(), t(11))
        .expect("prune v3? no: held only");
    let env = Environment {
        name: "qa".into(),
        description: "q".into(),
        protected: false,
        requires: vec![],
        created_at: t(0),
    };
    s.create_environment(&env, &admin(), t(12)).expect("env");
    s.create_token("ci", &rel_domain::Digest::of(b"tok"), &admin(), t(13))
        .expect("token");
    let exec = Execution {
        id: 0,
        env: "staging".into(),
        endpoint: "chat".into(),
        release: "v2".into(),
        digest: rel_domain::Digest::of(b"x"),
        status: ExecStatus::Ok,
        input: "{}".into(),
        output: "{\"reply\":1}".into(),
        error: None,
        steps: vec![],
        started_at: t(14),
        duration_ms: 3,
    };
    s.append_execution(&exec, 10).expect("exec");
    s.apply_draft(config("draft"), &deployer(), t(15))
        .expect("draft");
    // Governance: approvals with a pending request, a freeze, a freeze window and a
    // scheduled deploy (export version 2).
    s.set_approvals("qa", 1, &admin(), t(16))
        .expect("approvals");
    let to_qa = DeployRequest {
        tag: "v2".into(),
        env: "qa".into(),
        expect: None,
        force_reason: None,
    };
    s.submit_deploy(&to_qa, None, None, &deployer(), t(17))
        .expect("request");
    s.freeze(Some("production"), "incident 9", None, &admin(), t(18))
        .expect("freeze");
    s.add_freeze_window("staging", "20:00 - 21:00 UTC", "nightly", &admin(), t(19))
        .expect("window");
    let later = DeployRequest {
        tag: "v4".into(),
        env: "staging".into(),
        expect: None,
        force_reason: None,
    };
    s.submit_deploy(&later, Some(t(10_000_000)), None, &deployer(), t(19))
        .expect("scheduled");
    (d, s)
}

#[test]
fn export_then_import_gives_equal_views() {
    let (_a, a) = rich_store();
    let dump = a.export().expect("export");
    let (_b, b) = open();
    assert_eq!(
        b.import(&dump, &deployer(), t(20))
            .expect_err("admin only")
            .code,
        ErrorCode::PermissionDenied
    );
    let status = b.import(&dump, &admin(), t(20)).expect("import");
    let sa = a.status().expect("status");
    assert_eq!(
        (status.releases, status.deployments, status.environments),
        (sa.releases, sa.deployments, sa.environments)
    );
    assert_eq!(status.draft_digest, sa.draft_digest);

    assert_eq!(all_releases(&b), all_releases(&a));
    assert_eq!(
        b.environments().expect("envs"),
        a.environments().expect("envs")
    );
    for env in ["staging", "production", "qa"] {
        assert_eq!(
            b.history(env, 0, None).expect("h"),
            a.history(env, 0, None).expect("h"),
            "{env}"
        );
    }
    for r in all_releases(&a) {
        assert_eq!(
            b.snapshot(&r.release.digest).expect("snap"),
            a.snapshot(&r.release.digest).expect("snap")
        );
        assert_eq!(
            b.release_history(&r.release.tag, 0).expect("rh"),
            a.release_history(&r.release.tag, 0).expect("rh")
        );
    }
    assert_eq!(b.draft().expect("draft"), a.draft().expect("draft"));
    // Governance came along: the environments compared above carry approvals, freezes,
    // windows and pending counts; the requests themselves too.
    let frozen = &b.environment("production").expect("env").governance.frozen;
    assert_eq!(
        frozen.as_ref().map(|f| f.reason.as_str()),
        Some("incident 9")
    );
    assert_eq!(b.environment("qa").expect("env").governance.approvals, 1);
    let requests = b.requests(None, true, 100, None).expect("requests");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests,
        a.requests(None, true, 100, None).expect("requests")
    );
    assert_eq!(b.tokens().expect("tokens"), a.tokens().expect("tokens"));
    assert!(
        b.token_by_hash(&rel_domain::Digest::of(b"tok"))
            .expect("lookup")
            .is_some()
    );
    let q = ExecQuery {
        env: Some("staging".into()),
        endpoint: None,
        before_id: None,
        limit: 0,
    };
    assert_eq!(
        b.executions(&q).expect("execs"),
        a.executions(&q).expect("execs")
    );
    // The audit chain is preserved and extended by one import entry.
    let audit_a = a.audit(0, None).expect("audit");
    let mut audit_b = b.audit(0, None).expect("audit");
    let import_entry = audit_b.remove(0);
    assert_eq!(import_entry.action, "store.import");
    assert_eq!(import_entry.prev, audit_a[0].hash);
    assert_eq!(audit_b, audit_a);
    assert!(b.verify_audit().expect("verify").ok);
    // Window ids continue from the old store's counter: a new window never reuses #1.
    let added = b
        .add_freeze_window("qa", "20:00 - 21:00 UTC", "nightly", &admin(), t(21))
        .expect("window");
    let ids: Vec<u64> = added.governance.windows.iter().map(|w| w.id).collect();
    let old_ids: Vec<u64> = b
        .environment("staging")
        .expect("env")
        .governance
        .windows
        .iter()
        .map(|w| w.id)
        .collect();
    assert!(!old_ids.is_empty());
    assert!(
        ids.iter().all(|i| !old_ids.contains(i)),
        "{ids:?} vs {old_ids:?}"
    );
    // Tags pruned in A stay reserved in B; counters continue.
    let e = b.create_release(
        &NewRelease {
            tag: "v3".into(),
            description: String::new(),
            config: None,
            deploy_to: None,
        },
        &deployer(),
        t(30),
    );
    assert_eq!(e.expect_err("v3 was pruned in A").code, ErrorCode::Conflict);
    let again = release_with(&b, "v5", config("e"), 30);
    assert_eq!(again.release.release.seq, 5);
    // The imported store behaves: the stacks came along (staging rolls back v2 -> v1).
    b.rollback(&rollback_req("staging"), &deployer(), t(31))
        .expect("rollback");
    assert_eq!(live(&b, "staging").as_deref(), Some("v1"));

    // Importing into a store that has releases is refused, and changes nothing.
    let e = b.import(&dump, &admin(), t(40)).expect_err("not empty");
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(
        e.message
            .contains("import only goes into a store that never had one"),
        "{}",
        e.message
    );
    assert_eq!(b.release("v5").expect("still there").release.tag, "v5");
}

#[test]
fn a_tampered_export_is_refused() {
    let (_a, a) = rich_store();
    let dump = a.export().expect("export");
    let (_b, b) = open();
    // An edited audit entry.
    let at = dump.find("\"audit\":[").expect("audit section");
    let (head, tail) = dump.split_at(at);
    let edited = format!(
        "{head}{}",
        tail.replacen("\"actor\":\"bob\"", "\"actor\":\"eve\"", 1)
    );
    assert_ne!(edited, dump);
    let e = b.import(&edited, &admin(), t(1)).expect_err("tampered");
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(
        e.message.contains("audit log does not verify"),
        "{}",
        e.message
    );
    // Garbage and wrong versions.
    assert_eq!(
        b.import("{}", &admin(), t(1)).expect_err("garbage").code,
        ErrorCode::Invalid
    );
    let v9 = dump.replacen("\"version\":2", "\"version\":9", 1);
    let e = b.import(&v9, &admin(), t(1)).expect_err("version");
    assert!(e.message.contains("format version 9"), "{}", e.message);
    // Nothing was imported.
    assert_eq!(b.status().expect("status").releases, 0);
    assert!(
        b.import(&dump, &admin(), t(2)).is_ok(),
        "the untouched export still imports"
    );
}

#[test]
fn the_streamed_export_is_a_whole_document() {
    let (_d, a) = rich_store();
    let mut streamed = Vec::new();
    a.export_to(&mut streamed).expect("export_to");
    // Written piece by piece from the trees, it is still one JSON document with every
    // section (and `export_then_import_gives_equal_views` imports it).
    let v: serde_json::Value = serde_json::from_slice(&streamed).expect("one JSON document");
    for key in [
        "format",
        "version",
        "exported_at",
        "counters",
        "draft",
        "releases",
        "pruned_tags",
        "snapshots",
        "environments",
        "deployments",
        "audit",
        "executions",
        "tokens",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert!(!v["releases"].as_array().expect("array").is_empty());
    assert!(!v["snapshots"].as_array().expect("array").is_empty());
}

#[test]
fn a_version_1_export_without_governance_still_imports() {
    let (_a, a) = rich_store();
    let mut v: serde_json::Value =
        serde_json::from_str(&a.export().expect("export")).expect("json");
    let doc = v.as_object_mut().expect("object");
    doc.remove("governance");
    doc.remove("requests");
    doc.insert("version".into(), 1.into());
    if let Some(c) = doc.get_mut("counters").and_then(|c| c.as_object_mut()) {
        c.remove("last_request");
    }
    let (_b, b) = open();
    b.import(&v.to_string(), &admin(), t(20))
        .expect("a version 1 export imports");
    assert_eq!(
        b.status().expect("status").releases,
        a.status().expect("status").releases
    );
    // Version 1 had no governance: none arrives, and requests start from #1.
    assert_eq!(b.environment("qa").expect("env").governance.approvals, 0);
    assert!(
        b.requests(None, true, 100, None)
            .expect("requests")
            .is_empty()
    );
}
