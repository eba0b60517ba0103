//! N clients deploy to one environment with the same `expect`: exactly one wins.

mod common;

use std::sync::Arc;

use common::*;
use rel_domain::ErrorCode;
use rel_proto::{ClientError, Request, Response};
use rel_testkit::TestDaemon;

const N: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_expect_exactly_one_wins() {
    let d = TestDaemon::start();
    let setup = connect(d.socket()).await;
    apply_variant(&setup, 0).await;
    create(&setup, "base", Some("staging")).await.expect("base");
    for i in 0..N {
        apply_variant(&setup, i as u64 + 1).await;
        create(&setup, &format!("c{i}"), None)
            .await
            .expect("create");
    }

    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::new();
    for i in 0..N {
        let socket = d.socket().to_path_buf();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let c = connect(&socket).await;
            barrier.wait().await;
            (
                i,
                deploy(&c, &format!("c{i}"), "staging", Some("base")).await,
            )
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, r) = t.await.expect("task");
        match r {
            Ok(out) => {
                assert!(out.changed);
                winners.push((i, out.deployment));
            }
            Err(ClientError::Rpc(e)) => {
                assert_eq!(e.code, ErrorCode::Conflict, "c{i}: {}", e.message)
            }
            Err(e) => panic!("c{i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let (w, dep) = &winners[0];
    assert_eq!(live(&setup, "staging").await, Some(format!("c{w}")));
    assert_eq!(dep.previous.as_deref(), Some("base"));

    // History: base, then the winner, nothing else.
    match setup
        .call(Request::EnvHistory {
            env: "staging".into(),
            limit: 100,
            before_id: None,
        })
        .await
        .expect("history")
    {
        Response::History(h) => {
            let tags: Vec<&str> = h.iter().map(|d| d.release.as_str()).collect();
            assert_eq!(tags, vec![format!("c{w}").as_str(), "base"], "newest first");
            assert_eq!(h[0].id, dep.id);
        }
        other => panic!("{other:?}"),
    }
}
