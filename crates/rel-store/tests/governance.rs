//! Governance rules (issue 11) on a real store: requests are carried out exactly once, a
//! refusal writes nothing, a failed carry-out commits only the request's new status, freezes
//! and windows gate deploys at the time given, never rollbacks.

mod common;

use common::*;
use rel_domain::governance::{RequestKind, RequestStatus, Submitted};
use rel_domain::model::*;
use rel_domain::{ErrorCode, Store};
use rel_store::SledStore;

fn user(uid: u32, name: &str, role: Role) -> Caller {
    Caller {
        actor: Actor {
            uid,
            name: name.into(),
        },
        role,
    }
}

fn requested(s: &SledStore, req: &DeployRequest, at: Option<i64>, who: &Caller, n: i64) -> u64 {
    match s
        .submit_deploy(req, at.map(t), None, who, t(n))
        .expect("submit")
    {
        Submitted::Requested(r) => {
            assert_eq!(r.status, RequestStatus::Pending);
            r.id
        }
        Submitted::Deployed(d) => panic!("went live at once: {d:?}"),
    }
}

fn deploys_of(s: &SledStore, env: &str, tag: &str) -> usize {
    s.history(env, 100, None)
        .expect("history")
        .iter()
        .filter(|d| d.release == tag && d.kind == DeploymentKind::Deploy)
        .count()
}

#[test]
fn approvals_and_schedules_run_exactly_once_and_refusals_change_nothing() {
    let (_d, s) = open();
    let alice = user(1, "alice", Role::Admin);
    let bob = user(2, "bob", Role::Deployer);
    let carol = user(3, "carol", Role::Deployer);
    release_with(&s, "v1", config_no_checks("1"), 1);
    release_with(&s, "v2", config_no_checks("2"), 2);
    let e = s
        .set_approvals("staging", 1, &bob, t(3))
        .expect_err("admin only");
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    s.set_approvals("staging", 1, &alice, t(3)).expect("set");

    // A direct deploy is refused; a submitted one opens a request.
    let e = deploy(&s, "v1", "staging", &bob, 4).expect_err("needs approval");
    assert_eq!(e.code, ErrorCode::PolicyDenied);
    let id = requested(&s, &deploy_req("v1", "staging"), None, &bob, 4);
    let audit_before = s.status().expect("status").audit_entries;
    let e = s.approve(id, &bob, &bob, t(5)).expect_err("four eyes");
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert_eq!(
        s.status().expect("status").audit_entries,
        audit_before,
        "a refused approval writes nothing"
    );
    let (r, out) = s.approve(id, &carol, &bob, t(5)).expect("approve");
    assert_eq!(r.status, RequestStatus::Deployed);
    let dep = out.expect("carried out").expect("deployed");
    assert_eq!((dep.deployment.actor.as_str(), dep.changed), ("bob", true));
    assert_eq!(live(&s, "staging").as_deref(), Some("v1"));
    assert!(s.fire_request(id, &bob, t(6)).expect("fire").is_none());
    let e = s.approve(id, &alice, &bob, t(6)).expect_err("done");
    assert_eq!(e.code, ErrorCode::Conflict);

    // A schedule: not before its time, then once.
    s.set_approvals("staging", 0, &alice, t(7)).expect("set");
    let id = requested(&s, &deploy_req("v2", "staging"), Some(10), &bob, 7);
    assert_eq!(s.next_due().expect("next"), Some(t(10)));
    assert!(s.due_requests(t(9)).expect("due").is_empty());
    assert!(s.fire_request(id, &bob, t(9)).expect("early").is_none());
    assert_eq!(s.due_requests(t(10)).expect("due").len(), 1);
    let (r, out) = s
        .fire_request(id, &bob, t(10))
        .expect("fire")
        .expect("fired");
    assert_eq!(
        (r.kind, r.status),
        (RequestKind::Scheduled, RequestStatus::Deployed)
    );
    assert!(out.expect("carried out").is_ok());
    assert!(s.fire_request(id, &bob, t(11)).expect("again").is_none());
    assert!(s.due_requests(t(1000)).expect("due").is_empty());
    assert_eq!(deploys_of(&s, "staging", "v2"), 1);

    // A stale --expect when it runs: marked conflict, nothing else changes.
    let mut stale = deploy_req("v1", "staging");
    stale.expect = Some("v1".into());
    let id = requested(&s, &stale, Some(20), &bob, 12);
    let (r, out) = s
        .fire_request(id, &bob, t(20))
        .expect("fire")
        .expect("fired");
    assert_eq!(r.status, RequestStatus::Conflict);
    assert_eq!(
        out.expect("tried").expect_err("stale").code,
        ErrorCode::Conflict
    );
    assert_eq!(live(&s, "staging").as_deref(), Some("v2"));
    let listed = s.requests(Some("staging"), true, 10, None).expect("list");
    assert_eq!(listed[0].status, RequestStatus::Conflict);
    assert!(
        s.requests(None, false, 10, None)
            .expect("pending")
            .is_empty()
    );
}

#[test]
fn freezes_and_windows_gate_deploys_at_the_time_given_but_not_rollbacks() {
    let (_d, s) = open();
    let alice = user(1, "alice", Role::Admin);
    let bob = user(2, "bob", Role::Deployer);
    for (tag, n) in [("v1", 1), ("v2", 2), ("v3", 3)] {
        release_with(&s, tag, config_no_checks(tag), n);
    }
    deploy(&s, "v1", "staging", &bob, 4).expect("v1");
    deploy(&s, "v2", "staging", &bob, 5).expect("v2");
    s.freeze(Some("staging"), "incident", Some(t(20)), &bob, t(6))
        .expect("freeze");
    let e = deploy(&s, "v3", "staging", &bob, 7).expect_err("frozen");
    assert_eq!(e.code, ErrorCode::PolicyDenied);
    assert!(
        e.message.contains("bob") && e.message.contains("incident"),
        "{e}"
    );
    s.rollback(&rollback_req("staging"), &bob, t(8))
        .expect("rollback works");
    deploy(&s, "v3", "staging", &bob, 20).expect("the freeze ended at its --until");

    // The stopped line covers every environment; an admin's forced deploy goes through.
    s.freeze(None, "release day", None, &bob, t(21))
        .expect("stop the line");
    let e = deploy(&s, "v1", "production", &alice, 22).expect_err("line stopped");
    assert!(e.message.contains("every environment"), "{e}");
    let e = s.unfreeze(None, &bob, t(23)).expect_err("admin only");
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    let mut forced = deploy_req("v2", "staging");
    forced.force_reason = Some("hotfix".into());
    let out = s.deploy(&forced, &alice, t(24)).expect("forced");
    assert!(out.deployment.forced);
    s.unfreeze(None, &alice, t(25)).expect("unfreeze");

    // A daily window around t(0) (2026-05-28T20:26:40Z): in force at t(30), gone by t(3600).
    s.add_freeze_window("staging", "20:00 - 21:00 UTC", "nightly", &alice, t(26))
        .expect("window");
    let e = deploy(&s, "v3", "staging", &bob, 30).expect_err("window");
    assert!(
        e.message.contains("freeze window") && e.message.contains("nightly"),
        "{e}"
    );
    s.rollback(&rollback_req("staging"), &bob, t(31))
        .expect("rollback works");
    deploy(&s, "v1", "staging", &alice, 3600).expect("outside the window nothing freezes it");
    let bad = s
        .add_freeze_window(
            "staging",
            "Fri 15:00 - Mon 09:00 Mars/Olympus",
            "x",
            &alice,
            t(32),
        )
        .expect_err("bad zone");
    assert!(bad.message.contains("Mars/Olympus"), "{bad}");
    assert!(s.verify_audit().expect("verify").ok);
}

/// An admin's forced request never carries a deploy past a freeze set before it is approved:
/// the approval marks it refused and nothing goes live.
#[test]
fn a_forced_request_does_not_pass_a_freeze_set_later() {
    let (_d, s) = open();
    let alice = user(1, "alice", Role::Admin);
    let carol = user(3, "carol", Role::Deployer);
    release_with(&s, "v1", config_no_checks("1"), 1);
    s.set_approvals("staging", 1, &alice, t(2)).expect("set");
    let mut forced = deploy_req("v1", "staging");
    forced.force_reason = Some("boss says".into());
    let id = requested(&s, &forced, None, &alice, 3);
    s.freeze(Some("staging"), "incident", None, &carol, t(4))
        .expect("freeze");
    let (r, out) = s.approve(id, &carol, &alice, t(5)).expect("approve");
    let e = out.expect("tried").expect_err("refused by the freeze");
    assert!(
        e.message.contains("frozen") && e.message.contains("does not override a freeze"),
        "{}",
        e.message
    );
    assert_eq!(r.status, RequestStatus::Refused);
    assert_eq!(live(&s, "staging"), None);
}

#[test]
fn pending_requests_per_environment_are_bounded_and_ending_one_makes_room() {
    let (_d, s) = open();
    let alice = user(1, "alice", Role::Admin);
    let bob = user(2, "bob", Role::Deployer);
    release_with(&s, "v1", config_no_checks("1"), 1);
    s.set_approvals("staging", 1, &alice, t(2)).expect("set");
    let limit = rel_domain::governance::MAX_PENDING_PER_ENV;
    // Scheduled deploys and approval requests count alike (one request per release may wait
    // for approvals; schedules may repeat).
    let mut ids: Vec<u64> = (1..limit)
        .map(|i| {
            requested(
                &s,
                &deploy_req("v1", "staging"),
                Some(1_000_000 + i as i64),
                &bob,
                3,
            )
        })
        .collect();
    ids.push(requested(&s, &deploy_req("v1", "staging"), None, &bob, 3));
    let e = s
        .submit_deploy(
            &deploy_req("v1", "staging"),
            Some(t(2_000_000)),
            None,
            &bob,
            t(4),
        )
        .expect_err("over the limit");
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(
        e.message.contains("pending requests, the limit")
            && e.message.contains("relctl requests --env staging"),
        "{}",
        e.message
    );
    assert_eq!(
        s.environment("staging")
            .expect("env")
            .governance
            .pending_requests,
        limit
    );
    // Another environment is not affected (a scheduled deploy there); ending one request
    // makes room for one more.
    requested(
        &s,
        &deploy_req("v1", "production"),
        Some(1_000_000),
        &alice,
        5,
    );
    // A second approval request for v1 while one is pending is refused, naming it.
    let open = *ids.last().expect("the approval request");
    s.reject(ids[0], "not now", &alice, t(6)).expect("reject");
    let e = s
        .submit_deploy(&deploy_req("v1", "staging"), None, None, &bob, t(7))
        .expect_err("a duplicate");
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(
        e.message
            .contains(&format!("request #{open} by bob already asks")),
        "{}",
        e.message
    );
    // Rejecting it makes room for a new one.
    s.reject(open, "stale", &alice, t(8)).expect("reject");
    requested(&s, &deploy_req("v1", "staging"), None, &bob, 9);
}
