//! The hot path of a request: resolve the live app for an environment, run a two-step
//! pipeline (the spec's template + transform example).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rel_domain::Snapshot;
use rel_domain::config::{AppConfig, ConfigFormat, EXAMPLE_APP_TOML};
use rel_pipeline::jq::JqProgram;
use rel_pipeline::{CompiledApp, LiveTable, run};
use serde_json::json;

fn example_app(tag: &str) -> Arc<CompiledApp> {
    let cfg = AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example parses");
    Arc::new(CompiledApp::compile(&Snapshot::of(cfg), tag).expect("example compiles"))
}

fn resolve(c: &mut Criterion) {
    let table = LiveTable::new();
    for env in ["dev", "staging", "production", "eu-1", "us-1"] {
        table.publish(env, example_app("v1"));
    }
    c.bench_function("live_table_resolve", |b| {
        b.iter(|| black_box(table.resolve(black_box("production"))))
    });
}

fn two_step_run(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let table = LiveTable::new();
    table.publish("staging", example_app("v1"));
    c.bench_function("run_two_step_pipeline", |b| {
        b.iter(|| {
            rt.block_on(async {
                let app = table.resolve("staging").expect("live");
                let r = run(&app, "chat", json!({"message": "ping"}), "staging", None)
                    .await
                    .expect("runs");
                black_box(r)
            })
        })
    });
    // For comparison: the transform step's jq alone, without the runner around it.
    let prog = JqProgram::compile("{reply: .steps.greet, length: (.input.message | length)}")
        .expect("compiles");
    let ctx = json!({"input": {"message": "ping"}, "steps": {"greet": "You said: ping"},
                     "env": "staging", "release": {"tag": "v1", "digest": "b3:000000000000"}});
    c.bench_function("jq_transform_eval_only", |b| {
        b.iter(|| black_box(prog.first(black_box(&ctx))))
    });
    c.bench_function("compile_example_app", |b| {
        b.iter(|| black_box(example_app("v1")))
    });
}

criterion_group!(benches, resolve, two_step_run);
criterion_main!(benches);
