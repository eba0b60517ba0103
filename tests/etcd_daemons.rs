//! Several releasd on one real etcd cluster (`--store etcd://…`, issue 9): the same state
//! and guarantees from every daemon, every daemon live, and what failures do.
//!
//! Each test starts its own 3-member cluster on loopback (rel-testkit's `EtcdCluster`).
//! A daemon learns of another daemon's commit through its watch, so "B sees what A did" is
//! polled with a deadline (there is no readiness signal for another process's watch).

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;
use rel_testkit::etcd::EtcdCluster;
use rel_testkit::{TestDaemon, wait_until};
use serde_json::Value;

/// For a change to reach another daemon through etcd's watch; generous for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

fn daemon(cluster: &EtcdCluster, prefix: &str, extra: &[&str]) -> TestDaemon {
    let url = cluster.store_url(prefix);
    let mut args = vec!["--store", url.as_str()];
    args.extend_from_slice(extra);
    TestDaemon::try_start_with_args(None, &args)
        .unwrap_or_else(|e| panic!("releasd on etcd did not start: {e}\n{}", cluster.logs()))
}

fn live_tag(d: &TestDaemon, env: &str) -> Option<String> {
    live(d, env).as_str().map(str::to_string)
}

/// Wait until `d` says `env` runs `tag`.
fn wait_live(d: &TestDaemon, env: &str, tag: &str) {
    assert!(
        wait_until(DEADLINE, || live_tag(d, env).as_deref() == Some(tag)),
        "{env} never showed {tag} on this daemon (it shows {:?})",
        live_tag(d, env)
    );
}

/// Wait until a trigger on `d` in `env` runs `tag` (what a daemon serves follows another
/// daemon's deploy through its watch, a moment after the store shows it).
fn wait_served(d: &TestDaemon, env: &str, tag: &str) {
    let mut last = String::new();
    let served = wait_until(DEADLINE, || {
        last = trigger_release(d, env);
        last == tag
    });
    assert!(
        served,
        "{env} never served {tag} on this daemon (it serves {last})"
    );
}

fn trigger_release(d: &TestDaemon, env: &str) -> String {
    let run = json(
        d,
        &[
            "trigger",
            "chat",
            "--env",
            env,
            "--data",
            r#"{"message":"hi"}"#,
        ],
    );
    assert_eq!(run["status"], "ok", "{run}");
    run["release"].as_str().expect("release").to_string()
}

type Watcher = Streaming;

/// `relctl watch -o json` on `d`, subscribed once it says so.
fn watch(d: &TestDaemon) -> Watcher {
    streaming(d, &["watch", "-o", "json"], "watching releasd at ")
}

fn next_event(w: &Watcher) -> Value {
    w.next_json()
}

#[test]
fn daemons_share_state_cas_triggers_events_and_logs() {
    let cluster = EtcdCluster::start(3);
    let a = daemon(&cluster, "shared", &[]);
    let b = daemon(&cluster, "shared", &[]);
    let c = daemon(&cluster, "shared", &[]);

    // Seeded once: both standard environments, one store.init audit entry.
    let status = json(&b, &["status"]);
    assert_eq!(status["backend"]["kind"], "etcd", "{status}");
    assert!(
        status["backend"]["answered_by"]
            .as_str()
            .is_some_and(|m| m.contains("127.0.0.1")),
        "{status}"
    );
    assert_eq!(status["store"]["audit_entries"], 1, "{status}");

    // B subscribes; everything A and C do arrives in commit order.
    let w = watch(&b);
    release(&a, "v1", 1);
    ok(&a, &["deploy", "v1", "--env", "staging"]);
    wait_live(&b, "staging", "v1");
    // The trigger on B runs what A deployed.
    wait_served(&b, "staging", "v1");

    for tag in ["v2", "v3", "v4", "v5", "v6", "v7"] {
        release(&c, tag, tag[1..].parse().expect("n"));
    }
    wait_until(DEADLINE, || states(&a).len() == 7);

    // CAS race across daemons: six deploys, each expecting v1, through three daemons at
    // once: exactly one wins, the rest exit 3.
    let racers: Vec<(usize, &str)> = vec![
        (0, "v2"),
        (1, "v3"),
        (2, "v4"),
        (0, "v5"),
        (1, "v6"),
        (2, "v7"),
    ];
    let ds = [&a, &b, &c];
    let children: Vec<(String, Child)> = racers
        .iter()
        .map(|(i, tag)| {
            let child = ds[*i]
                .relctl()
                .args(["deploy", tag, "--env", "staging", "--expect", "v1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn relctl deploy");
            (tag.to_string(), child)
        })
        .collect();
    let mut winners = Vec::new();
    for (tag, child) in children {
        let out = child.wait_with_output().expect("wait relctl");
        match out.status.code() {
            Some(0) => winners.push(tag),
            Some(EXIT_CONFLICT) => {}
            other => panic!(
                "deploy {tag}: exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    for d in ds {
        wait_live(d, "staging", &winners[0]);
    }

    // B's subscriber saw every change, in commit order, from all daemons (its own trigger
    // runs' events interleave; they are left out of the comparison).
    let mut seen = Vec::new();
    let mut last_seq = 0;
    while seen.len() < 16 {
        let e = next_event(&w);
        let seq = e["seq"].as_u64().expect("seq");
        assert!(
            seq > last_seq,
            "events out of order: {seq} after {last_seq}"
        );
        last_seq = seq;
        let kind = e["event"].as_str().expect("event").to_string();
        if kind != "execution_finished" {
            seen.push(kind);
        }
    }
    let mut expected = vec!["draft_applied", "release_created", "deployed"];
    for _ in 0..6 {
        expected.extend(["draft_applied", "release_created"]);
    }
    expected.push("deployed");
    assert_eq!(seen, expected);

    // One history, unique deployment ids, one verifiable audit chain, from any daemon.
    let hist = json(&c, &["env", "history", "staging"]);
    let ids: Vec<u64> = hist
        .as_array()
        .expect("history")
        .iter()
        .map(|d| d["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2, "v1 then the winner: {hist}");
    assert_ne!(ids[0], ids[1]);
    ok(&a, &["audit", "verify"]);

    // Execution logs are one view: runs through A and C show on B.
    let winner = winners[0].clone();
    wait_served(&a, "staging", &winner);
    wait_served(&c, "staging", &winner);
    assert!(
        wait_until(DEADLINE, || json(&b, &["logs", "--env", "staging"])
            .as_array()
            .is_some_and(|l| l.len() >= 3)),
        "B lists the runs served by A, B and C"
    );
}

#[test]
fn one_member_down_then_all_down_then_back() {
    let mut cluster = EtcdCluster::start(3);
    let a = daemon(&cluster, "fail", &["--etcd-timeout", "2"]);
    let b = daemon(&cluster, "fail", &["--etcd-timeout", "2"]);
    release(&a, "v1", 1);
    release(&a, "v2", 2);
    ok(&a, &["deploy", "v1", "--env", "staging"]);
    wait_live(&b, "staging", "v1");

    // One member of three down: everything works.
    cluster.kill(0);
    ok(&b, &["deploy", "v2", "--env", "staging"]);
    wait_live(&a, "staging", "v2");
    wait_served(&a, "staging", "v2");
    cluster.restart(0);

    // All down: a change fails (bounded by --etcd-timeout) naming etcd, and the trigger
    // keeps serving the last known live release.
    cluster.stop_all();
    let err = fails(&a, &["deploy", "v1", "--env", "staging"], EXIT_UNREACHABLE);
    assert!(err.contains("etcd"), "{err}");
    wait_served(&b, "staging", "v2");

    // Back: the daemons recover by themselves.
    cluster.start_all();
    assert!(
        wait_until(DEADLINE, || relctl(
            &a,
            &["deploy", "v1", "--env", "staging"]
        )
        .status
        .success()),
        "deploys work again once etcd is back"
    );
    wait_live(&b, "staging", "v1");
    wait_served(&b, "staging", "v1");
    ok(&b, &["audit", "verify"]);
}

#[test]
fn a_daemon_behind_a_compaction_catches_up_with_nothing_missed() {
    let cluster = EtcdCluster::start(3);
    let a = daemon(&cluster, "compact", &[]);
    let b = daemon(&cluster, "compact", &[]);
    release(&a, "v1", 1);
    ok(&a, &["deploy", "v1", "--env", "staging"]);
    wait_live(&b, "staging", "v1");
    let w = watch(&b);

    // B stops reading its watch; A changes things; etcd compacts past B's position.
    let pid = b.pid().expect("b runs").to_string();
    let stop = |sig: &str| {
        let s = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(s.success());
    };
    stop("-STOP");
    release(&a, "v2", 2);
    ok(&a, &["deploy", "v2", "--env", "staging"]);
    cluster.compact();
    stop("-CONT");

    wait_live(&b, "staging", "v2");
    wait_served(&b, "staging", "v2");
    // Its subscriber got the three changes it slept through, in order.
    let got: Vec<String> = (0..3)
        .map(|_| next_event(&w)["event"].as_str().expect("event").to_string())
        .collect();
    assert_eq!(got, ["draft_applied", "release_created", "deployed"]);
}

#[test]
fn a_daemon_killed_mid_deploy_leaves_no_partial_state() {
    let cluster = EtcdCluster::start(3);
    let mut a = daemon(&cluster, "killed", &[]);
    let b = daemon(&cluster, "killed", &[]);
    release(&a, "v1", 1);
    release(&a, "v2", 2);
    // Deploys keep flowing through A (v1, v2, v1, …) while it is killed.
    let mut children: Vec<Child> = (0..16)
        .map(|i| {
            a.relctl()
                .args([
                    "deploy",
                    if i % 2 == 0 { "v1" } else { "v2" },
                    "--env",
                    "staging",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn relctl deploy")
        })
        .collect();
    // Once B has seen some of them committed, A dies mid-stream.
    assert!(wait_until(DEADLINE, || live_tag(&b, "staging").is_some()));
    a.kill9();
    for c in &mut children {
        let _ = c.wait();
    }

    // B sees whole deploys only: the history's newest entry is what is live, every id once,
    // one verifiable audit chain.
    let hist = json(&b, &["env", "history", "staging"]);
    let entries = hist.as_array().expect("history");
    assert!(!entries.is_empty());
    assert_eq!(
        entries[0]["release"].as_str(),
        live_tag(&b, "staging").as_deref(),
        "{hist}"
    );
    let mut ids: Vec<u64> = entries
        .iter()
        .map(|d| d["id"].as_u64().expect("id"))
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "deployment ids are unique: {hist}");
    ok(&b, &["audit", "verify"]);

    // A restarts on the same store and carries on.
    a.restart();
    ok(&a, &["deploy", "v1", "--env", "staging"]);
    ok(&a, &["deploy", "v2", "--env", "staging"]);
    wait_live(&b, "staging", "v2");
    ok(&a, &["audit", "verify"]);
}

/// `POST /v1/trigger/chat` in staging on `addr` with `token`: the HTTP status.
fn http_trigger(addr: &str, token: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP ingress");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let body = r#"{"message":"hi"}"#;
    let request = format!(
        "POST /v1/trigger/chat HTTP/1.1\r\nHost: {addr}\r\nX-Environment: staging\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read the answer");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"))
}

#[test]
fn a_token_revoked_through_one_daemon_is_refused_by_another() {
    let cluster = EtcdCluster::start(3);
    let a = daemon(&cluster, "tokens", &[]);
    let b = daemon(&cluster, "tokens", &["--http", "127.0.0.1:0"]);
    let addr = b
        .ready_line()
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .expect("http address")
        .to_string();
    release(&a, "v1", 1);
    ok(&a, &["deploy", "v1", "--env", "staging"]);
    let secret = json(&a, &["token", "create", "ci"])["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    // B knows the token A created (once its watch has it) and serves with it.
    assert!(
        wait_until(DEADLINE, || http_trigger(&addr, &secret) == 200),
        "B never accepted the token created through A"
    );
    ok(&a, &["token", "revoke", "ci"]);
    assert!(
        wait_until(DEADLINE, || http_trigger(&addr, &secret) == 401),
        "B kept accepting a token revoked through A"
    );
}

#[test]
fn export_from_sled_import_into_etcd() {
    let sled = TestDaemon::start();
    release(&sled, "v1", 1);
    release(&sled, "v2", 2);
    ok(&sled, &["deploy", "v1", "--env", "staging"]);
    ok(&sled, &["deploy", "v2", "--env", "staging"]);
    let file = sled.dir().join("store.json");
    ok(&sled, &["export", p(&file)]);

    let cluster = EtcdCluster::start(3);
    let a = daemon(&cluster, "moved", &["--etcd-max-txn-ops", "1024"]);
    let b = daemon(&cluster, "moved", &[]);
    ok(&a, &["import", p(&file)]);
    assert_eq!(states(&a), states(&sled));
    wait_live(&b, "staging", "v2");
    wait_served(&b, "staging", "v2");
    // The rollback stack came along: B rolls back to v1.
    ok(&b, &["rollback", "--env", "staging"]);
    wait_live(&a, "staging", "v1");

    // Prune (a scan, guarded as a whole on etcd) through B removes what nobody uses (v3,
    // and v2 since the rollback popped it); A sees them gone.
    release(&a, "v3", 3);
    release(&a, "v4", 4);
    assert!(wait_until(DEADLINE, || states(&b).len() == 4));
    let done = json(&b, &["release", "prune", "--keep", "1"]);
    assert_eq!(done["removed"], serde_json::json!(["v3", "v2"]), "{done}");
    assert!(wait_until(DEADLINE, || states(&a).len() == 2));
    ok(&a, &["audit", "verify"]);
}

#[test]
fn tls_to_etcd() {
    let cluster = EtcdCluster::start_tls(1);
    let t = cluster.tls().expect("tls files");
    let (ca, cert, key) = (
        t.ca.to_str().expect("utf-8").to_string(),
        t.client_cert.to_str().expect("utf-8").to_string(),
        t.client_key.to_str().expect("utf-8").to_string(),
    );
    let d = daemon(
        &cluster,
        "tls",
        &[
            "--etcd-cacert",
            &ca,
            "--etcd-cert",
            &cert,
            "--etcd-key",
            &key,
        ],
    );
    release(&d, "v1", 1);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    wait_served(&d, "staging", "v1");
    let status = json(&d, &["status"]);
    assert_eq!(status["backend"]["kind"], "etcd", "{status}");
}
