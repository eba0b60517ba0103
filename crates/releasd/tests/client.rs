//! The async client against a real daemon: pipelined calls from many tasks on one
//! connection get their own answers; a cancelled call does not poison the connection.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rel_proto::{Request, Response};
use rel_testkit::TestDaemon;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_on_one_client_get_their_own_answers() {
    let d = TestDaemon::start();
    let c = Arc::new(connect(d.socket()).await);
    apply_example(&c).await;
    for i in 0..10 {
        create(&c, &format!("t{i}"), None).await.expect("create");
    }
    let mut tasks = Vec::new();
    for n in 0..200 {
        let c = Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            let tag = format!("t{}", n % 10);
            match c
                .call(Request::ReleaseShow { tag: tag.clone() })
                .await
                .expect("show")
            {
                Response::Release(r) => {
                    assert_eq!(r.view.release.tag, tag, "answer routed to the wrong call")
                }
                other => panic!("{other:?}"),
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
}

#[tokio::test]
async fn a_cancelled_call_leaves_the_connection_usable() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    for i in 0..20 {
        // Give up on the call immediately; its answer arrives later and is discarded.
        let _ =
            tokio::time::timeout(Duration::from_nanos(1), create(&c, &format!("x{i}"), None)).await;
    }
    assert_eq!(c.call(Request::Ping).await.expect("ping"), Response::Pong);
    match c.call(Request::ReleaseShow { tag: "nope".into() }).await {
        Err(rel_proto::ClientError::Rpc(e)) => assert_eq!(e.code, rel_domain::ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }
}
