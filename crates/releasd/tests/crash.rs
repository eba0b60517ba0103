//! SIGKILL while deploys are being acknowledged: after a restart every acknowledged release
//! and deploy is there, and environment state, rollback stack and history agree. SIGKILL
//! while triggers are answered: every answered run's log is there, no id is reused.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rel_domain::{ReleaseQuery, ReleaseState};
use rel_proto::{Request, Response};
use rel_testkit::TestDaemon;

/// Acknowledged deploys to wait for before the kill (the loop keeps going meanwhile).
const ACKED_BEFORE_KILL: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_deploy_survives_sigkill() {
    let mut d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;

    // (tag, deployment id) of every acknowledged create-and-deploy.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let writer = {
        let acked = Arc::clone(&acked);
        tokio::spawn(async move {
            for i in 0.. {
                // Alternate: one-transaction create+deploy, and a plain redeploy of an older
                // release (a deploy record whose release already existed).
                let r = if i % 3 == 2 {
                    let older = acked.lock().expect("lock").first().map(|(t, _)| t.clone());
                    match older {
                        Some(t) => deploy(&c, &t, "staging", None)
                            .await
                            .map(|o| (t, o.deployment.id)),
                        None => continue,
                    }
                } else {
                    let tag = format!("k{i}");
                    match create(&c, &tag, Some("staging")).await {
                        Ok(Response::Created(out)) => {
                            let dep = out.deployment.expect("deployed in the same transaction");
                            Ok((tag, dep.deployment.id))
                        }
                        Ok(other) => panic!("create answered {other:?}"),
                        Err(e) => Err(e),
                    }
                };
                match r {
                    Ok(ack) => {
                        let n = {
                            let mut a = acked.lock().expect("lock");
                            a.push(ack);
                            a.len()
                        };
                        let _ = tx.send(n);
                    }
                    // The daemon died under us: stop.
                    Err(_) => return,
                }
            }
        })
    };
    while let Some(n) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("deploys stalled")
    {
        if n >= ACKED_BEFORE_KILL {
            break;
        }
    }
    d.kill9();
    tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("writer did not stop")
        .expect("writer");
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL);

    d.restart();
    let c = connect(d.socket()).await;

    // Every acknowledged release exists.
    let releases = match c
        .call(Request::ReleaseList(ReleaseQuery {
            state: None,
            filter: None,
            before_seq: None,
            limit: 100_000,
        }))
        .await
        .expect("list")
    {
        Response::Releases(r) => r,
        other => panic!("{other:?}"),
    };
    let tags: BTreeSet<String> = releases.iter().map(|r| r.release.tag.clone()).collect();
    for (tag, _) in &acked {
        assert!(
            tags.contains(tag),
            "acknowledged release {tag} is missing after the crash"
        );
    }

    // Every acknowledged deployment is in the history, and every deployment in the history
    // names a release that exists (nothing half-applied).
    let history = match c
        .call(Request::EnvHistory {
            env: "staging".into(),
            limit: 100_000,
            before_id: None,
        })
        .await
    {
        Ok(Response::History(h)) => h,
        other => panic!("{other:?}"),
    };
    let ids: BTreeSet<u64> = history.iter().map(|h| h.id).collect();
    for (tag, id) in &acked {
        assert!(
            ids.contains(id),
            "acknowledged deployment {id} ({tag}) is missing after the crash"
        );
    }
    for h in &history {
        assert!(
            tags.contains(&h.release),
            "history names {} which does not exist",
            h.release
        );
    }
    // Every created k-release was deployed in its own transaction: no release without its deploy.
    let deployed: BTreeSet<&str> = history.iter().map(|h| h.release.as_str()).collect();
    for t in &tags {
        assert!(
            deployed.contains(t.as_str()),
            "release {t} exists without its deploy (half-done create+deploy)"
        );
    }

    // Live is the newest deployment, at or after the last acknowledged one.
    let newest = history.first().expect("history");
    let (last_tag, last_id) = acked.last().expect("acked");
    assert!(
        newest.id >= *last_id,
        "history lost deploys after {last_id} ({last_tag})"
    );
    let env = match c
        .call(Request::EnvShow {
            name: "staging".into(),
        })
        .await
        .expect("env")
    {
        Response::Environment(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        env.live.as_deref(),
        Some(newest.release.as_str()),
        "live release disagrees with history"
    );
    assert_eq!(env.deployment_id, Some(newest.id));
    assert_eq!(
        env.rollback_to.as_deref(),
        newest.previous.as_deref(),
        "rollback stack disagrees with history"
    );
    let live_view = releases
        .iter()
        .find(|r| Some(&r.release.tag) == env.live.as_ref())
        .expect("live release listed");
    assert_eq!(live_view.state, ReleaseState::Deployed);
    assert!(live_view.live_in.iter().any(|e| e == "staging"));

    // The audit chain is intact.
    match c.call(Request::AuditVerify).await.expect("audit verify") {
        Response::AuditReport(r) => assert!(r.ok, "audit chain broken after crash: {r:?}"),
        other => panic!("{other:?}"),
    }
}

/// Answered triggers whose execution logs must be readable after the kill.
const RUNS_BEFORE_KILL: usize = 40;

/// SIGKILL while triggers are being answered: every answered run's execution log is there
/// after a restart (a log is written, if not yet synced, before its run is answered), and
/// the ids handed out after the restart are above every id handed out before (never reused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_runs_log_survives_sigkill_and_no_id_is_reused() {
    let mut d = TestDaemon::start();
    let c = Arc::new(connect(d.socket()).await);
    apply_example(&c).await;
    create(&c, "v1", Some("staging")).await.expect("create v1");

    let answered: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    // Four triggers in flight at a time, so batches of several logs are being written.
    let mut callers = Vec::new();
    for _ in 0..4 {
        let (c, answered, tx) = (Arc::clone(&c), Arc::clone(&answered), tx.clone());
        callers.push(tokio::spawn(async move {
            loop {
                let r = c
                    .call(Request::Trigger {
                        endpoint: "chat".into(),
                        env: "staging".into(),
                        input: r#"{"message":"hi"}"#.into(),
                    })
                    .await;
                match r {
                    Ok(Response::Execution(e)) => {
                        let n = {
                            let mut a = answered.lock().expect("lock");
                            a.push(e.id);
                            a.len()
                        };
                        let _ = tx.send(n);
                    }
                    Ok(other) => panic!("trigger answered {other:?}"),
                    // The daemon died under us: stop.
                    Err(_) => return,
                }
            }
        }));
    }
    drop(tx);
    while let Some(n) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("triggers stalled")
    {
        if n >= RUNS_BEFORE_KILL {
            break;
        }
    }
    d.kill9();
    for caller in callers {
        tokio::time::timeout(Duration::from_secs(30), caller)
            .await
            .expect("trigger loop did not stop")
            .expect("trigger loop");
    }
    let answered = answered.lock().expect("lock").clone();
    assert!(answered.len() >= RUNS_BEFORE_KILL);

    d.restart();
    let c = connect(d.socket()).await;
    for id in &answered {
        match c.call(Request::LogShow { id: *id }).await {
            Ok(Response::Execution(e)) => assert_eq!(e.id, *id),
            other => panic!("answered run #{id} has no log after the crash: {other:?}"),
        }
    }
    let newest = answered.iter().max().copied().unwrap_or(0);
    match c
        .call(Request::Trigger {
            endpoint: "chat".into(),
            env: "staging".into(),
            input: r#"{"message":"after"}"#.into(),
        })
        .await
    {
        Ok(Response::Execution(e)) => assert!(
            e.id > newest,
            "id {} handed out again after the crash (had reached {newest})",
            e.id
        ),
        other => panic!("trigger after the restart answered {other:?}"),
    }
}
