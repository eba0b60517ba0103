//! The atomic switch (§3.6): many requests, over the socket and over HTTP, while another
//! task flips the environment between two releases with deploys and rollbacks. Every run's
//! output is wholly from the one release its log names, and none fails.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::inproc::*;
use rel_domain::{ExecStatus, Execution};
use rel_proto::{Request, Response};

const PASS: &str = r#".reply | contains("ping")"#;
const SOCKET_WORKERS: usize = 6;
const HTTP_WORKERS: usize = 2;
const PER_WORKER: usize = 120;
const FLIPS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_each_see_exactly_one_release_while_it_flips() {
    let d = InProc::start(1_000_000, true).await;
    let c = d.client().await;
    create_from(&c, "blue", marked_app("blue", PASS, ""), Some("staging")).await;
    create_from(&c, "green", marked_app("green", PASS, ""), None).await;
    let secret = match c
        .call(Request::TokenCreate {
            name: "load".into(),
        })
        .await
        .expect("token")
    {
        Response::TokenCreated { secret, .. } => secret,
        other => panic!("{other:?}"),
    };

    let flipping = Arc::new(AtomicBool::new(true));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..SOCKET_WORKERS {
        let c = d.client().await;
        workers.spawn(async move {
            let mut seen = Vec::with_capacity(PER_WORKER);
            for i in 0..PER_WORKER {
                let e = trigger(
                    &c,
                    "chat",
                    "staging",
                    &format!(r#"{{"message": "w{w} r{i}"}}"#),
                )
                .await;
                assert_consistent(&e);
                assert_eq!(
                    output(&e)["reply"],
                    format!("[{}] You said: w{w} r{i}", e.release)
                );
                seen.push(e);
            }
            seen
        });
    }
    for w in 0..HTTP_WORKERS {
        let url = d.url("chat");
        let bearer = format!("Bearer {secret}");
        workers.spawn(async move {
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let mut seen = Vec::with_capacity(PER_WORKER);
            for i in 0..PER_WORKER {
                let resp = http
                    .post(&url)
                    .header("X-Environment", "staging")
                    .header("Authorization", &bearer)
                    .body(format!(r#"{{"message": "h{w} r{i}"}}"#))
                    .send()
                    .await
                    .expect("post");
                let status = resp.status().as_u16();
                let v: serde_json::Value =
                    serde_json::from_str(&resp.text().await.expect("body")).expect("json");
                assert_eq!(status, 200, "{v}");
                let release = v["release"].as_str().expect("release").to_string();
                assert_eq!(v["output"]["mark"], release.as_str(), "{v}");
                assert_eq!(v["output"]["release"], release.as_str(), "{v}");
                assert_eq!(
                    v["output"]["reply"],
                    format!("[{release}] You said: h{w} r{i}")
                );
                // Rebuild the execution from the log to check it like the socket ones.
                seen.push(Execution {
                    id: v["id"].as_u64().expect("id"),
                    env: "staging".into(),
                    endpoint: "chat".into(),
                    release,
                    digest: rel_domain::Digest([0; 32]),
                    status: ExecStatus::Ok,
                    input: String::new(),
                    output: v["output"].to_string(),
                    error: None,
                    steps: vec![],
                    started_at: rel_domain::Timestamp::from_millis(0),
                    duration_ms: 0,
                });
            }
            seen
        });
    }

    // The flipper: deploy green, roll back to blue, again and again. After each "ok" the
    // next request runs the release just made live.
    let flipper = {
        let c = d.client().await;
        let flipping = Arc::clone(&flipping);
        tokio::spawn(async move {
            for _ in 0..FLIPS {
                c.call(deploy_req("green", "staging", true))
                    .await
                    .expect("deploy green");
                assert_eq!(trigger(&c, "chat", "staging", "{}").await.release, "green");
                c.call(rollback_req("staging")).await.expect("roll back");
                assert_eq!(trigger(&c, "chat", "staging", "{}").await.release, "blue");
            }
            flipping.store(false, Ordering::SeqCst);
        })
    };

    let mut all = Vec::new();
    while let Some(r) = workers.join_next().await {
        all.extend(r.expect("worker"));
    }
    flipper.await.expect("flipper");
    assert!(!flipping.load(Ordering::SeqCst));

    // What each run logged is the release it answered with.
    let digests: BTreeMap<String, rel_domain::Digest> = ["blue", "green"]
        .iter()
        .map(|t| {
            (
                t.to_string(),
                d.store.release(t).expect("release").release.digest,
            )
        })
        .collect();
    let mut per_release: BTreeMap<String, usize> = BTreeMap::new();
    for e in &all {
        let logged = d.store.execution(e.id).expect("logged");
        assert_eq!(logged.release, e.release, "log vs answer for #{}", e.id);
        assert_eq!(logged.digest, digests[&e.release]);
        assert_eq!(logged.status, ExecStatus::Ok);
        assert_eq!(
            logged.output,
            serde_json::from_str::<serde_json::Value>(&e.output)
                .expect("json")
                .to_string()
        );
        *per_release.entry(e.release.clone()).or_default() += 1;
    }
    assert_eq!(all.len(), (SOCKET_WORKERS + HTTP_WORKERS) * PER_WORKER);
    eprintln!("runs per release while flipping {FLIPS} times: {per_release:?}");
    d.stop().await;
}
