//! What a durable change costs (§7): one fsync of a small file in the same directory as the
//! baseline, a durable deploy (transaction + flush), and 64 concurrent deployers sharing
//! flushes. Run with `cargo bench -p rel-store --bench durable`.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rel_domain::config::{AppConfig, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::model::*;
use rel_domain::{Store, Timestamp};
use rel_store::SledStore;

fn admin() -> Caller {
    Caller {
        actor: Actor {
            uid: 0,
            name: "bench".into(),
        },
        role: Role::Admin,
    }
}

fn config(v: &str) -> AppConfig {
    let mut c = AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example");
    c.pipelines.get_mut("chat").expect("chat").description = v.into();
    c.checks.clear();
    c
}

fn store_with_two_releases(dir: &std::path::Path) -> SledStore {
    let s = SledStore::open(dir).expect("open");
    for tag in ["a", "b"] {
        let req = NewRelease {
            tag: tag.into(),
            description: String::new(),
            config: None,
            deploy_to: None,
        };
        s.apply_draft(config(tag), &admin(), Timestamp(0))
            .expect("draft");
        s.create_release(&req, &admin(), Timestamp(0))
            .expect("create");
    }
    s
}

fn deploy(s: &SledStore, tag: &str, env: &str) {
    let req = DeployRequest {
        tag: tag.into(),
        env: env.into(),
        expect: None,
        force_reason: None,
    };
    let out = s.deploy(&req, &admin(), Timestamp(1)).expect("deploy");
    assert!(out.changed);
}

fn fsync_baseline(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = std::fs::File::create(dir.path().join("probe")).expect("file");
    let block = [7u8; 4096];
    c.bench_function("fsync_4k_baseline", |b| {
        b.iter(|| {
            f.write_all(&block).expect("write");
            f.sync_data().expect("fsync");
        })
    });
}

fn durable_deploy(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store_with_two_releases(dir.path());
    let mut flip = false;
    c.bench_function("durable_deploy", |b| {
        b.iter(|| {
            flip = !flip;
            deploy(&s, if flip { "a" } else { "b" }, "staging");
        })
    });
}

fn concurrent_deploys(c: &mut Criterion) {
    const WRITERS: usize = 64;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(store_with_two_releases(dir.path()));
    for i in 0..WRITERS {
        let env = Environment {
            name: format!("e{i}"),
            description: String::new(),
            protected: false,
            requires: vec![],
            created_at: Timestamp(0),
        };
        s.create_environment(&env, &admin(), Timestamp(0))
            .expect("env");
    }
    let mut group = c.benchmark_group("concurrent");
    group.sample_size(10);
    // Time per deploy with 64 writers, each alternating releases in its own environment.
    group.bench_function("64_writers_per_deploy", |b| {
        b.iter_custom(|iters| {
            let per = (iters as usize).div_ceil(WRITERS).max(1);
            let start = Instant::now();
            std::thread::scope(|scope| {
                for w in 0..WRITERS {
                    let s = Arc::clone(&s);
                    scope.spawn(move || {
                        let env = format!("e{w}");
                        let live = s.environment(&env).expect("env").live;
                        let mut flip = live.as_deref() == Some("a");
                        for _ in 0..per {
                            deploy(&s, if flip { "b" } else { "a" }, &env);
                            flip = !flip;
                        }
                    });
                }
            });
            let total = start.elapsed();
            total
                .mul_f64(iters as f64 / (per * WRITERS) as f64)
                .max(Duration::from_nanos(1))
        })
    });
    group.finish();
}

criterion_group!(benches, fsync_baseline, durable_deploy, concurrent_deploys);
criterion_main!(benches);
