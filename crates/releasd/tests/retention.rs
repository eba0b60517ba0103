//! Execution logs are bounded per environment: a flood of requests leaves at most
//! `retention` logs in each environment, the newest ones, and the oldest are gone.

mod common;

use common::inproc::*;
use common::*;
use rel_domain::{Environment, ErrorCode, ExecQuery};
use rel_proto::{Request, Response};

const PASS: &str = r#".reply | contains("ping")"#;
const RETENTION: usize = 10;

async fn count(c: &rel_proto::Client, env: Option<&str>) -> Vec<u64> {
    match c
        .call(Request::Logs(ExecQuery {
            env: env.map(str::to_string),
            endpoint: None,
            before_id: None,
            limit: 1000,
        }))
        .await
        .expect("logs")
    {
        Response::Executions(list) => list.into_iter().map(|e| e.id).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_keeps_each_environment_within_its_retention() {
    let d = InProc::start(RETENTION, false).await;
    let c = d.client().await;
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    c.call(Request::EnvCreate(Environment {
        name: "qa".into(),
        description: String::new(),
        protected: false,
        requires: vec![],
        created_at: releasd::dispatch::now(),
    }))
    .await
    .expect("env create");
    c.call(deploy_req("v1", "qa", false))
        .await
        .expect("deploy qa");

    let first = trigger(&c, "chat", "staging", "{}").await.id;
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = d.client().await;
        flood.spawn(async move {
            let mut last = 0;
            for _ in 0..40 {
                last = last.max(trigger(&c, "chat", "staging", "{}").await.id);
            }
            last
        });
    }
    let qa: Vec<u64> = {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(trigger(&c, "chat", "qa", "{}").await.id);
        }
        ids
    };
    let mut newest = 0;
    while let Some(r) = flood.join_next().await {
        newest = newest.max(r.expect("flood worker"));
    }

    let staging = count(&c, Some("staging")).await;
    assert_eq!(staging.len(), RETENTION, "staging keeps exactly its window");
    assert_eq!(staging.first(), Some(&newest), "the newest is kept");
    assert_eq!(
        count(&c, Some("qa")).await,
        qa.into_iter().rev().collect::<Vec<_>>()
    );
    assert_eq!(count(&c, None).await.len(), RETENTION + 3);
    // The oldest run aged out.
    let e = rpc_err(c.call(Request::LogShow { id: first }).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("aged out"), "{}", e.message);
    d.stop().await;
}
