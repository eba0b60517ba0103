//! The live table: publish/resolve, and runs that keep the app they resolved while
//! publishes land.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{compile, wait_for};
use rel_pipeline::{CompiledApp, LiveTable, run};
use serde_json::json;

/// An app whose template text itself embeds `tag`, so output proves which compiled
/// templates ran, not just which release the context named.
fn tagged_app(tag: &str) -> CompiledApp {
    let toml = format!(
        r#"
[tools.echo]
kind = "command"
argv = ["cat"]
[[pipelines.p.stages]]
name = "s"
[[pipelines.p.stages.steps]]
name = "t"
kind = "template"
template = "{tag} says {{{{ input.i }}}}"
[[pipelines.p.stages.steps]]
name = "tool"
kind = "command"
tool = "echo"
input = '.steps.t'
[[pipelines.p.stages.steps]]
name = "shape"
kind = "transform"
expr = '{{text: .steps.tool, tag: .release.tag, digest: .release.digest}}'
[endpoints.e]
pipeline = "p"
"#
    );
    compile(&toml, tag)
}

#[tokio::test]
async fn publish_resolve_unpublish() {
    let table = LiveTable::new();
    assert!(table.resolve("staging").is_none());
    let v1 = Arc::new(tagged_app("v1"));
    let v2 = Arc::new(tagged_app("v2"));
    table.publish("staging", v1.clone());
    table.publish("production", v1.clone());
    assert_eq!(table.resolve("staging").expect("live").tag(), "v1");
    table.publish("staging", v2.clone());
    assert_eq!(table.resolve("staging").expect("live").tag(), "v2");
    assert_eq!(table.resolve("production").expect("live").tag(), "v1");
    assert_eq!(
        table.live(),
        [
            ("production".to_string(), "v1".to_string()),
            ("staging".to_string(), "v2".to_string())
        ]
    );
    assert_eq!(
        table.unpublish("staging").map(|a| a.tag().to_string()),
        Some("v2".to_string())
    );
    assert!(table.resolve("staging").is_none());
    table.publish_all([("qa".to_string(), v2)]);
    assert!(table.resolve("production").is_none());
    assert_eq!(table.resolve("qa").expect("live").tag(), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_its_app_when_a_publish_lands_mid_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = dir.path().join("started");
    let go = dir.path().join("go");
    let toml = |tag: &str| {
        format!(
            r#"
[tools.gate]
kind = "command"
argv = ["sh", "-c", "touch {started}; while [ ! -e {go} ]; do sleep 0.01; done; cat"]
timeout_ms = 20000
[[pipelines.p.stages]]
name = "s"
[[pipelines.p.stages.steps]]
name = "wait"
kind = "command"
tool = "gate"
input = '"{tag}"'
[[pipelines.p.stages.steps]]
name = "after"
kind = "template"
template = "{tag} then {{{{ steps.wait }}}}"
[endpoints.e]
pipeline = "p"
"#,
            started = started.display(),
            go = go.display()
        )
    };
    let table = Arc::new(LiveTable::new());
    table.publish("staging", Arc::new(compile(&toml("old"), "old")));
    let task = {
        let table = table.clone();
        tokio::spawn(async move {
            let app = table.resolve("staging").expect("live");
            run(&app, "e", json!({}), "staging", None).await
        })
    };
    let started2 = started.clone();
    assert!(tokio::task::spawn_blocking(move || wait_for(Duration::from_secs(10), || started2.exists())).await.expect("join"));
    // The run is inside its first step: deploy something else.
    table.publish("staging", Arc::new(compile(&toml("new"), "new")));
    assert_eq!(table.resolve("staging").expect("live").tag(), "new");
    std::fs::write(&go, b"").expect("release the gate");
    let r = task.await.expect("join").expect("runs");
    assert!(r.is_ok(), "{:?}", r.error);
    assert_eq!(r.release, "old");
    assert_eq!(r.output, json!("old then old"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_are_each_wholly_from_the_app_they_resolved() {
    let apps: Vec<Arc<CompiledApp>> = ["blue", "green"]
        .into_iter()
        .map(|t| Arc::new(tagged_app(t)))
        .collect();
    let digests: HashMap<String, String> = apps
        .iter()
        .map(|a| (a.tag().to_string(), a.digest().short()))
        .collect();
    let table = Arc::new(LiveTable::new());
    table.publish("prod", apps[0].clone());
    let done = Arc::new(AtomicBool::new(false));

    let publisher = {
        let (table, apps, done) = (table.clone(), apps.clone(), done.clone());
        tokio::spawn(async move {
            let mut flips = 0u64;
            // Bounded: stops when the runners finish, or after 1M flips at most.
            while !done.load(Ordering::Relaxed) && flips < 1_000_000 {
                table.publish("prod", apps[(flips % 2) as usize].clone());
                flips += 1;
                tokio::task::yield_now().await;
            }
            flips
        })
    };

    let mut runners = Vec::new();
    for worker in 0..8 {
        let (table, digests) = (table.clone(), digests.clone());
        runners.push(tokio::spawn(async move {
            let mut seen: HashMap<String, u32> = HashMap::new();
            for i in 0..40 {
                let app = table.resolve("prod").expect("something is live");
                let n = worker * 1000 + i;
                let r = run(&app, "e", json!({"i": n}), "prod", None)
                    .await
                    .expect("runs");
                assert!(r.is_ok(), "run failed: {:?}", r.error);
                let tag = app.tag().to_string();
                assert_eq!(r.release, tag);
                assert_eq!(
                    r.output,
                    json!({"text": format!("{tag} says {n}"), "tag": tag, "digest": digests[&tag]}),
                    "a run mixed two releases"
                );
                *seen.entry(tag).or_default() += 1;
            }
            seen
        }));
    }
    let mut seen: HashMap<String, u32> = HashMap::new();
    for r in runners {
        for (tag, n) in r.await.expect("runner panicked") {
            *seen.entry(tag).or_default() += n;
        }
    }
    done.store(true, Ordering::Relaxed);
    let flips = publisher.await.expect("publisher");
    assert_eq!(seen.values().sum::<u32>(), 8 * 40);
    assert!(flips > 1, "the publisher never flipped");
    assert!(
        seen.len() == 2,
        "runs only ever saw {seen:?} while the publisher flipped {flips} times"
    );
}
