//! Change governance (issue 11) from the shell, with a real daemon and real other OS users:
//! freezes and the stopped line, approvals by someone other than the requester, and
//! scheduled deploys that fire once, also across a crash. Running relctl as other users needs
//! root (to switch to `nobody` and `daemon`); elsewhere these tests say so and pass vacuously.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use nix::unistd::{Group, Uid, User};
use rel_testkit::{TestDaemon, wait_until};
use serde_json::Value;

/// Bound on waiting for the scheduler (it looks every 200 ms); generous for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

fn root_or_skip() -> bool {
    if Uid::effective().is_root() {
        true
    } else {
        eprintln!("skipped: running relctl as other users needs root");
        false
    }
}

fn socket_group() -> Group {
    let nobody = User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    Group::from_gid(nobody.gid)
        .ok()
        .flatten()
        .expect("nobody's group")
}

/// A daemon whose socket `nobody` and `daemon` reach through the socket's group, with
/// `roles` (the daemon's own user, root, is admin).
fn daemon(roles: &str) -> TestDaemon {
    let d = TestDaemon::start_with_config(&format!(
        "[roles]\n{roles}\n[socket]\ngroup = \"{}\"\n",
        socket_group().name
    ));
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

/// `relctl ARGS` as `user` (in the socket's group).
fn relctl_as(d: &TestDaemon, user: &str, args: &[&str]) -> Output {
    let u = User::from_name(user).ok().flatten().expect("user exists");
    d.relctl()
        .args(args)
        .stdin(Stdio::null())
        .uid(u.uid.as_raw())
        .gid(socket_group().gid.as_raw())
        .output()
        .expect("run relctl as another user")
}

fn code_as(d: &TestDaemon, user: &str, args: &[&str]) -> (i32, String, String) {
    let out = relctl_as(d, user, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_as(d: &TestDaemon, user: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let (code, out, err) = code_as(d, user, &all);
    assert_eq!(code, 0, "relctl {} as {user}: {err}", all.join(" "));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn request(d: &TestDaemon, id: u64) -> Value {
    let all = json(d, &["requests", "--all"]);
    all.as_array()
        .expect("array")
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("request #{id} not listed: {all}"))
}

/// The audit log as JSON text (the table may shorten long details).
fn audit_text(d: &TestDaemon) -> String {
    json(d, &["audit", "--limit", "200"]).to_string()
}

fn deploys_of(d: &TestDaemon, env: &str, tag: &str) -> usize {
    json(d, &["env", "history", env])
        .as_array()
        .expect("array")
        .iter()
        .filter(|h| h["release"] == tag && h["kind"] == "deploy")
        .count()
}

#[test]
fn a_freeze_refuses_deploys_but_never_rollbacks_and_an_admin_override_is_audited() {
    if !root_or_skip() {
        return;
    }
    let d = daemon("deployer = [\"nobody\", \"daemon\"]");
    for (tag, rev) in [("v1", 1), ("v2", 2), ("v3", 3)] {
        release(&d, tag, rev);
    }
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    ok(&d, &["deploy", "v2", "--env", "staging"]);

    // A deployer freezes staging; deploys are refused naming who, why and until when.
    let (code, _, err) = code_as(
        &d,
        "nobody",
        &["env", "freeze", "staging", "--reason", "incident 7"],
    );
    assert_eq!(code, 0, "{err}");
    let frozen = &json(&d, &["env", "show", "staging"])["frozen"];
    assert_eq!(frozen["by"], "nobody");
    assert_eq!(frozen["reason"], "incident 7");
    assert!(
        frozen["since"].is_string() && frozen["until"].is_null(),
        "{frozen}"
    );
    // A second freeze never replaces the first silently: refused, naming the first.
    let stderr = fails(
        &d,
        &["env", "freeze", "staging", "--reason", "another"],
        EXIT_CONFLICT,
    );
    assert!(
        stderr.contains("frozen already, by nobody") && stderr.contains("incident 7"),
        "{stderr}"
    );
    assert_eq!(
        json(&d, &["env", "show", "staging"])["frozen"]["reason"],
        "incident 7"
    );
    let err = fails_json(&d, &["deploy", "v3", "--env", "staging"], EXIT_DENIED);
    let msg = err["error"]["message"].as_str().expect("message");
    assert_eq!(err["error"]["code"], "policy_denied");
    assert!(
        msg.contains("frozen")
            && msg.contains("nobody")
            && msg.contains("incident 7")
            && msg.contains("until unfrozen"),
        "{msg}"
    );
    assert_eq!(
        live(&d, "staging"),
        "v2",
        "the refused deploy changed nothing"
    );

    // Rollback always works.
    ok(&d, &["rollback", "--env", "staging"]);
    assert_eq!(live(&d, "staging"), "v1");

    // A deployer cannot override; an admin can, with a reason, and the audit says so.
    let (code, _, err) = code_as(
        &d,
        "nobody",
        &[
            "deploy", "v3", "--env", "staging", "--force", "--reason", "hotfix",
        ],
    );
    assert_eq!(code, EXIT_DENIED, "{err}");
    ok(
        &d,
        &[
            "deploy",
            "v3",
            "--env",
            "staging",
            "--force",
            "--reason",
            "hotfix for 7",
        ],
    );
    assert_eq!(live(&d, "staging"), "v3");
    let audit = audit_text(&d);
    assert!(
        audit.contains("hotfix for 7") && audit.contains("over the env freeze by nobody"),
        "{audit}"
    );
    assert!(audit.contains("env.freeze"), "{audit}");

    // Another deployer may not lift nobody's freeze (only nobody or an admin may).
    let (code, _, err) = code_as(&d, "daemon", &["env", "unfreeze", "staging"]);
    assert_eq!(code, EXIT_DENIED, "{err}");
    assert!(
        err.contains("frozen by nobody") && err.contains("an admin"),
        "{err}"
    );
    assert_eq!(
        json(&d, &["env", "show", "staging"])["frozen"]["by"],
        "nobody"
    );

    // nobody ends their own freeze; then a freeze with --until ends by itself.
    let (code, _, err) = code_as(&d, "nobody", &["env", "unfreeze", "staging"]);
    assert_eq!(code, 0, "a deployer ends their own freeze: {err}");
    assert!(json(&d, &["env", "show", "staging"])["frozen"].is_null());
    ok(
        &d,
        &[
            "env", "freeze", "staging", "--reason", "short", "--until", "4s",
        ],
    );
    assert!(json(&d, &["env", "show", "staging"])["frozen"]["until"].is_string());
    fails(&d, &["deploy", "v1", "--env", "staging"], EXIT_DENIED);
    assert!(
        wait_until(DEADLINE, || json(&d, &["env", "show", "staging"])["frozen"]
            .is_null()),
        "the freeze --until 2s never ended"
    );
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    assert_eq!(live(&d, "staging"), "v1");

    // Stop the line: every environment, including ones the freezer cannot deploy to; only an
    // admin restarts it.
    let (code, _, err) = code_as(
        &d,
        "nobody",
        &["freeze", "--all", "--reason", "release day"],
    );
    assert_eq!(code, 0, "{err}");
    for env in ["staging", "production"] {
        let f = &json(&d, &["env", "show", env])["frozen"];
        assert_eq!(f["scope"], "all", "{env}: {f}");
        assert_eq!(f["reason"], "release day");
    }
    let msg = fails(&d, &["deploy", "v3", "--env", "staging"], EXIT_DENIED);
    assert!(
        msg.contains("every environment") && msg.contains("release day"),
        "{msg}"
    );
    ok(&d, &["rollback", "--env", "staging"]);
    let (code, _, err) = code_as(&d, "nobody", &["unfreeze", "--all"]);
    assert_eq!(
        code, EXIT_DENIED,
        "a deployer may not restart the line: {err}"
    );
    ok(&d, &["unfreeze", "--all"]);
    release(&d, "v4", 4);
    ok(&d, &["deploy", "v4", "--env", "staging"]);
    assert_eq!(live(&d, "staging"), "v4");
}

#[test]
fn approvals_need_other_users_and_the_last_one_deploys_with_the_original_expect() {
    if !root_or_skip() {
        return;
    }
    let d = daemon("deployer = [\"nobody\", \"daemon\"]");
    release(&d, "v1", 1);
    release(&d, "v2", 2);
    let env = json(&d, &["env", "create", "qa", "--approvals", "2"]);
    assert_eq!(env["approvals"], 2);
    let (code, _, err) = code_as(&d, "nobody", &["env", "set", "qa", "--approvals", "0"]);
    assert_eq!(code, EXIT_DENIED, "changing approvals is admin only: {err}");

    // A deploy opens a request (exit 0); nothing goes live.
    let r = json(&d, &["deploy", "v1", "--env", "qa"]);
    let req = &r["request"];
    assert_eq!(req["status"], "pending");
    assert_eq!(req["env"], "qa");
    assert_eq!(req["release"], "v1");
    assert_eq!(req["requested_by"], "root");
    assert!(req["expect"].is_null());
    let id = req["id"].as_u64().expect("id");
    let ids = id.to_string();
    assert!(live(&d, "qa").is_null());
    assert_eq!(json(&d, &["requests", "--env", "qa"])[0]["id"], id);
    assert_eq!(
        json(&d, &["status"])["open_requests"],
        1,
        "status counts it"
    );
    assert!(
        ok(&d, &["status"]).contains("1 deploy request waiting for approvals"),
        "the status table names it"
    );

    // Not the requester; not twice by the same user; the second user's approval deploys.
    let msg = fails(&d, &["approve", &ids], EXIT_DENIED);
    assert!(msg.contains("four eyes"), "{msg}");
    let a = json_as(&d, "nobody", &["approve", &ids]);
    assert_eq!(a["request"]["status"], "pending");
    assert!(a["deployment"].is_null());
    assert!(
        live(&d, "qa").is_null(),
        "one approval of two deploys nothing"
    );
    let (code, _, _) = code_as(&d, "nobody", &["approve", &ids]);
    assert_eq!(code, EXIT_CONFLICT, "the same user cannot approve twice");
    let a = json_as(&d, "daemon", &["approve", &ids]);
    assert_eq!(a["request"]["status"], "deployed");
    assert_eq!(a["deployment"]["release"], "v1");
    assert_eq!(
        json(&d, &["status"])["open_requests"],
        0,
        "it is no longer open"
    );
    assert_eq!(
        a["deployment"]["actor"], "root",
        "it deploys as its requester"
    );
    assert_eq!(live(&d, "qa"), "v1");

    // A stale --expect: the last approval is a conflict, nothing changes, the request says so.
    let r = json(&d, &["deploy", "v2", "--env", "qa", "--expect", "v1"]);
    let stale = r["request"]["id"].as_u64().expect("id").to_string();
    ok(&d, &["env", "set", "qa", "--approvals", "0"]);
    ok(&d, &["deploy", "v2", "--env", "qa"]);
    ok(&d, &["rollback", "--env", "qa"]);
    ok(&d, &["env", "set", "qa", "--approvals", "2"]);
    assert_eq!(live(&d, "qa"), "v1");
    json_as(&d, "nobody", &["approve", &stale]);
    // qa serves v1 again, but v2 is held there now: the policy refuses it (exit 5).
    let (code, _, err) = code_as(&d, "daemon", &["approve", &stale]);
    assert_eq!(code, EXIT_DENIED, "{err}");
    assert_eq!(request(&d, stale.parse().expect("id"))["status"], "refused");

    let r = json(
        &d,
        &[
            "deploy",
            "v2",
            "--env",
            "qa",
            "--expect",
            "v1",
            "--force",
            "--reason",
            "retry after hold",
        ],
    );
    let stale = r["request"]["id"].as_u64().expect("id");
    let s = stale.to_string();
    ok(&d, &["env", "set", "qa", "--approvals", "0"]);
    ok(
        &d,
        &[
            "deploy", "v2", "--env", "qa", "--force", "--reason", "direct",
        ],
    );
    ok(&d, &["env", "set", "qa", "--approvals", "2"]);
    json_as(&d, "nobody", &["approve", &s]);
    let (code, _, err) = code_as(&d, "daemon", &["approve", &s, "-o", "json"]);
    assert_eq!(code, EXIT_CONFLICT, "{err}");
    assert!(err.contains("conflict") && err.contains("v1"), "{err}");
    assert_eq!(request(&d, stale)["status"], "conflict");
    assert_eq!(live(&d, "qa"), "v2", "the conflict changed nothing");
    // The table says why it did not deploy, and that it was forced.
    let table = ok(&d, &["requests", "--all"]);
    assert!(
        table.contains(&format!("#{stale} conflict: "))
            && table.contains(&format!("#{stale}: forced by root (retry after hold)")),
        "{table}"
    );

    // Rejection and expiry change nothing.
    let r = json(&d, &["deploy", "v1", "--env", "qa"]);
    let rej = r["request"]["id"].as_u64().expect("id");
    let rejected = json_as(
        &d,
        "nobody",
        &["reject", &rej.to_string(), "--reason", "not today"],
    );
    assert_eq!(rejected["request"]["status"], "rejected");
    assert_eq!(rejected["request"]["outcome"], "not today");
    let (code, _, _) = code_as(&d, "daemon", &["approve", &rej.to_string()]);
    assert_eq!(code, EXIT_CONFLICT, "a rejected request cannot be approved");
    let r = json(&d, &["deploy", "v1", "--env", "qa", "--expires-in", "2s"]);
    let exp = r["request"]["id"].as_u64().expect("id");
    assert!(
        wait_until(DEADLINE, || request(&d, exp)["status"] == "expired"),
        "request #{exp} never expired: {}",
        request(&d, exp)
    );
    let (code, _, _) = code_as(&d, "nobody", &["approve", &exp.to_string()]);
    assert_eq!(code, EXIT_CONFLICT);
    assert_eq!(live(&d, "qa"), "v2");
    assert_eq!(
        deploys_of(&d, "qa", "v1"),
        1,
        "only the approved request deployed v1"
    );
    let audit = audit_text(&d);
    for action in [
        "deploy.request",
        "request.approve",
        "request.deployed",
        "request.reject",
        "request.expire",
        "request.conflict",
        "env.approvals",
    ] {
        assert!(
            audit.contains(action),
            "{action} missing from the audit log:\n{audit}"
        );
    }
    ok(&d, &["audit", "verify"]);
}

#[test]
fn a_scheduled_deploy_fires_once_also_after_a_crash_and_respects_a_freeze_then() {
    if !root_or_skip() {
        return;
    }
    let mut d = daemon("deployer = [\"nobody\"]");
    for (tag, rev) in [("v1", 1), ("v2", 2), ("v3", 3)] {
        release(&d, tag, rev);
    }
    ok(&d, &["deploy", "v1", "--env", "staging"]);

    // Scheduled by a deployer; the daemon is killed before the time and started after it.
    let (code, out, err) = code_as(
        &d,
        "nobody",
        &[
            "deploy", "v2", "--env", "staging", "--at", "3s", "-o", "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(r["request"]["kind"], "scheduled");
    assert_eq!(r["request"]["status"], "pending");
    let id = r["request"]["id"].as_u64().expect("id");
    let at = r["request"]["at"].as_str().expect("at").to_string();
    assert_eq!(json(&d, &["requests"])[0]["id"], id, "requests shows it");
    d.kill9();
    let due = rel_domain::governance::parse_time("at", &at, rel_domain::Timestamp(0)).expect("at");
    assert!(
        // RFC 3339 in the answer has whole seconds: wait a second past it.
        wait_until(DEADLINE, || now_ms() > due.0 + 1000),
        "the clock never passed {at}"
    );
    d.restart();
    assert!(
        wait_until(DEADLINE, || live(&d, "staging") == "v2"),
        "the schedule did not fire after the restart: {}",
        request(&d, id)
    );
    let done = request(&d, id);
    assert_eq!(done["status"], "deployed");
    let hist = json(&d, &["env", "history", "staging"]);
    assert_eq!(hist[0]["release"], "v2");
    assert_eq!(hist[0]["actor"], "nobody", "it ran as its requester");
    d.restart();
    assert_eq!(deploys_of(&d, "staging", "v2"), 1, "it fired exactly once");
    assert!(
        json(&d, &["requests"])
            .as_array()
            .expect("array")
            .is_empty()
    );

    // A freeze in force at the time refuses it; nothing changes.
    let r = json(&d, &["deploy", "v3", "--env", "staging", "--at", "5s"]);
    let frozen_id = r["request"]["id"].as_u64().expect("id");
    ok(&d, &["env", "freeze", "staging", "--reason", "holiday"]);
    assert!(
        wait_until(DEADLINE, || request(&d, frozen_id)["status"] == "refused"),
        "{}",
        request(&d, frozen_id)
    );
    let outcome = request(&d, frozen_id)["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        outcome.contains("frozen") && outcome.contains("holiday"),
        "{outcome}"
    );
    assert_eq!(live(&d, "staging"), "v2");
    ok(&d, &["env", "unfreeze", "staging"]);

    // Cancelled with reject: never fires.
    let r = json(&d, &["deploy", "v3", "--env", "staging", "--at", "1h"]);
    let later = r["request"]["id"].as_u64().expect("id");
    let c = json(
        &d,
        &["reject", &later.to_string(), "--reason", "changed my mind"],
    );
    assert_eq!(c["request"]["status"], "rejected");
    assert_eq!(deploys_of(&d, "staging", "v3"), 0);
    let audit = audit_text(&d);
    assert!(
        audit.contains("scheduled for") && audit.contains("request.refused"),
        "{audit}"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
