//! Events come in commit order with a store-wide seq, only for durable changes, and a
//! subscriber can resume after any seq without missing or repeating one — also across a
//! daemon restart.

mod common;

use common::*;
use rel_domain::Environment;
use rel_proto::{Client, Event, Request};
use rel_testkit::TestDaemon;

const DEPLOYERS: usize = 8;
const EACH: usize = 30;

async fn env_create(c: &Client, name: &str) {
    c.call(Request::EnvCreate(Environment {
        name: name.into(),
        description: String::new(),
        protected: false,
        requires: vec![],
        created_at: rel_domain::Timestamp::from_millis(0),
    }))
    .await
    .expect("env create");
}

/// Run concurrent deployers; returns how many deploys were acknowledged.
async fn deploy_storm(d: &TestDaemon) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..DEPLOYERS {
        let socket = d.socket().to_path_buf();
        tasks.spawn(async move {
            let c = connect(&socket).await;
            let env = format!("e{i}");
            for j in 0..EACH {
                let tag = if j % 2 == 0 { "a" } else { "b" };
                deploy(&c, tag, &env, None).await.expect("deploy");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("deployer");
    }
    DEPLOYERS * EACH
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_commit_order_and_resume_without_gap_or_repeat() {
    let mut d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    create(&c, "a", None).await.expect("create a");
    create(&c, "b", None).await.expect("create b");
    for i in 0..DEPLOYERS {
        env_create(&c, &format!("e{i}")).await;
    }
    let watcher = connect(d.socket()).await;
    let mut live = watcher.subscribe_since(None).await.expect("subscribe");
    let n = deploy_storm(&d).await;

    // Live: every deploy, seqs strictly increasing, deployment ids strictly increasing
    // (ids are handed out in commit order, so this is commit order).
    let mut seqs = Vec::new();
    let mut last_id = 0;
    while seqs.len() < n {
        let (seq, event) = live.next_seq().await.expect("event");
        let seq = seq.expect("a seq on every event");
        match event {
            Event::Deployed(dep) => {
                assert!(
                    dep.id > last_id,
                    "deployment #{} arrived after #{last_id}",
                    dep.id
                );
                last_id = dep.id;
            }
            other => panic!("unexpected event {other:?}"),
        }
        if let Some(prev) = seqs.last() {
            assert!(seq > *prev, "seq {seq} after {prev}");
        }
        seqs.push(seq);
    }

    // Resume from the middle: exactly the events after it, in order, then live ones.
    let mid = seqs[n / 2];
    let resumed_client = connect(d.socket()).await;
    let mut resumed = resumed_client
        .subscribe_since(Some(mid))
        .await
        .expect("resume");
    for want in &seqs[n / 2 + 1..] {
        let (seq, _) = resumed.next_seq().await.expect("replayed event");
        assert_eq!(seq, Some(*want), "replay is exact");
    }
    deploy(&c, "a", "e0", None).await.expect("one more deploy");
    let (seq, event) = resumed.next_seq().await.expect("live after replay");
    let expected_next = seqs.last().copied().unwrap_or(0) + 1;
    assert_eq!(
        seq,
        Some(expected_next),
        "live continues right after the replay"
    );
    assert!(matches!(event, Event::Deployed(_)), "{event:?}");

    // Across a restart (kill -9): the stored events are still there, same seqs.
    drop((live, resumed, watcher, resumed_client, c));
    d.kill9();
    d.restart();
    let c = connect(d.socket()).await;
    let mut after_restart = c.subscribe_since(Some(mid)).await.expect("resume");
    for want in seqs[n / 2 + 1..].iter().chain([&expected_next]) {
        let (seq, _) = after_restart.next_seq().await.expect("replayed");
        assert_eq!(
            seq,
            Some(*want),
            "stored events survive a crash with their seqs"
        );
    }
    // And relctl watch --since prints them as JSON lines with the seq.
    let out = tokio::task::spawn_blocking({
        let mut cmd = d.relctl();
        cmd.args(["watch", "--since", &(expected_next - 1).to_string()]);
        move || {
            let mut child = cmd
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("relctl watch");
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .expect("read a line");
            let _ = child.kill();
            let _ = child.wait();
            line
        }
    })
    .await
    .expect("watch task");
    let v: serde_json::Value = serde_json::from_str(&out).expect("a JSON line");
    assert_eq!(v["seq"], serde_json::json!(expected_next), "{out}");
    assert_eq!(v["event"], "deployed", "{out}");
}

/// A seq past the store's newest (an imported or replaced store, a typo) is not waited for
/// silently: the subscriber gets `Lagged` at the newest seq (resync) and then every new
/// event, none skipped.
#[tokio::test]
async fn resuming_from_a_seq_the_store_never_reached_resyncs_and_misses_nothing() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    create(&c, "a", None).await.expect("create a");
    let watcher = connect(d.socket()).await;
    let mut events = watcher
        .subscribe_since(Some(99_999))
        .await
        .expect("subscribe");
    let (seq, event) = events.next_seq().await.expect("resync marker");
    let newest = seq.expect("seq");
    assert!(newest < 99_999);
    assert!(matches!(event, Event::Lagged { missed: 0 }), "{event:?}");
    deploy(&c, "a", "staging", None).await.expect("deploy");
    let (seq, event) = events.next_seq().await.expect("the next event");
    assert_eq!(seq, Some(newest + 1));
    assert!(matches!(event, Event::Deployed(_)), "{event:?}");
}
