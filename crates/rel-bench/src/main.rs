//! relbench: measures rel against the budgets of SPEC §7 and prints one line per figure.
//! A benchmark, not a test: it asserts nothing, it reports medians and rates.
//!
//! Build release binaries first (`cargo build --release --workspace`), then
//! `cargo run --release -p rel-bench -- [fsync|store|rpc|deploy|concurrent|cli|scale|trigger|hostile|etcd|crash|all]`.
//! `hostile [RUNS]` (not part of `all`) times the control plane while RUNS runaway runs
//! are in flight (`hostile --serve` starts a daemon for `wrk`).
//! `etcd` (not part of `all`) measures the raw etcd figures the etcd backend is held to.
//! `crash [ROUNDS]` (not part of `all`) is the crash harness (see `crash.rs`).
//! `trigger` (not part of `all`) measures endpoint runs: live-table resolve, and requests/s
//! for the example's two-step pipeline through the socket and through the HTTP ingress.
//! Everything runs on a temp dir on the same disk as the working directory's filesystem
//! (`TMPDIR` decides; point it at the disk you care about).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rel_domain::Store;
use rel_domain::config::{ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::model::*;
use rel_proto::{Client, Request, Response};
// The daemon's clock, so the bench stamps records exactly as releasd does.
use releasd::dispatch::now;

mod crash;
mod etcd;
mod etcd_daemons;
mod hostile;
mod trigger;

fn main() -> Result<()> {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let all = what == "all";
    // The store's figures side by side: fsync, a lone deploy, 64 deployers + status p99.
    let durable = what == "durable";
    if all || durable || what == "fsync" {
        fsync()?;
    }
    // A lone deploy on the store itself (no RPC): with the socket figure below, it splits
    // a lone deploy into store time and RPC + thread-hop time.
    if all || durable || what == "store" {
        store_deploy()?;
    }
    if all || durable || what == "store-concurrent" {
        store_concurrent(64)?;
    }
    if all || durable || what == "rpc" || what == "deploy" || what == "concurrent" {
        rt.block_on(rpc(&what))?;
    }
    if all || what == "cli" {
        cli()?;
    }
    if what == "trigger" {
        rt.block_on(trigger::run())?;
    }
    if what == "hostile" {
        if std::env::args().any(|a| a == "--serve") {
            rt.block_on(hostile::serve())?;
        } else {
            rt.block_on(hostile::run(arg_num(2, 500) as usize))?;
        }
    }
    if what == "etcd" {
        etcd::run(&rt)?;
    }
    if what == "crash" {
        let rounds = arg_num(2, 100);
        rt.block_on(crash::run(rounds))?;
    }
    if what == "scale" {
        let releases = arg_num(2, 100_000);
        let deployments = arg_num(3, 1_000_000);
        scale(releases, deployments)?;
    }
    Ok(())
}

fn arg_num(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn p99(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[(xs.len() * 99 / 100).min(xs.len() - 1)]
}

fn report(name: &str, xs: Vec<Duration>) {
    let n = xs.len();
    println!(
        "{name:<44} median {:>10.1?}  p99 {:>10.1?}  (n={n})",
        median(xs.clone()),
        p99(xs)
    );
}

fn admin() -> Caller {
    Caller {
        actor: Actor {
            uid: 0,
            name: "bench".into(),
        },
        role: Role::Admin,
    }
}

/// One 4 KiB write + fdatasync on the bench disk: the unit the deploy budget is stated in.
fn fsync() -> Result<()> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let mut f = std::fs::File::create(dir.path().join("probe"))?;
    let block = vec![7u8; 4096];
    let mut xs = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        xs.push(t.elapsed());
    }
    report("fsync: 4 KiB write + fdatasync", xs);
    // The same into space already allocated (what the store's log does): no size change, so
    // the sync flushes data without a journal commit of the file's metadata.
    let mut f = std::fs::File::create(dir.path().join("probe-prealloc"))?;
    f.write_all(&vec![0u8; 300 * 4096])?;
    f.sync_all()?;
    let mut xs = Vec::new();
    for i in 0..300u64 {
        use std::os::unix::fs::FileExt;
        let t = Instant::now();
        f.write_all_at(&block, i * 4096)?;
        f.sync_data()?;
        xs.push(t.elapsed());
    }
    report("fsync: 4 KiB overwrite + fdatasync", xs);
    Ok(())
}

fn seeded_store(dir: &Path) -> Result<rel_store::SledStore> {
    let store = rel_store::SledStore::open(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = rel_domain::AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml)?;
    store.apply_draft(cfg, &admin(), now())?;
    for tag in ["v1", "v2"] {
        store.create_release(
            &NewRelease {
                tag: tag.into(),
                description: String::new(),
                config: None,
                deploy_to: None,
            },
            &admin(),
            now(),
        )?;
    }
    Ok(store)
}

fn deploy_req(tag: &str, env: &str) -> DeployRequest {
    DeployRequest {
        tag: tag.into(),
        env: env.into(),
        expect: None,
        force_reason: None,
    }
}

/// A durable deploy straight on the store: one transaction + flush.
fn store_deploy() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = seeded_store(dir.path())?;
    let mut xs = Vec::new();
    for i in 0..500 {
        let tag = if i % 2 == 0 { "v1" } else { "v2" };
        let t = Instant::now();
        let out = store.deploy(&deploy_req(tag, "staging"), &admin(), now())?;
        xs.push(t.elapsed());
        if !out.changed {
            bail!("bench deploy did not change anything");
        }
    }
    report("store: durable deploy (txn + flush)", xs);
    Ok(())
}

/// 64 threads deploying straight on the store (no RPC): the store's own group-commit rate.
fn store_concurrent(n: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(seeded_store(dir.path())?);
    for i in 0..n {
        let env = Environment {
            name: format!("bench-{i}"),
            description: String::new(),
            protected: false,
            requires: vec![],
            created_at: now(),
        };
        store.create_environment(&env, &admin(), now())?;
    }
    let per_thread = 200usize;
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || -> Result<()> {
                let env = format!("bench-{i}");
                for j in 0..per_thread {
                    let tag = if j % 2 == 0 { "v1" } else { "v2" };
                    store.deploy(&deploy_req(tag, &env), &admin(), now())?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("deployer thread panicked"))??;
    }
    let total = n * per_thread;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:<44} {:.0} deploys/s ({total} durable deploys in {secs:.2}s)",
        format!("store: {n} concurrent deployers (no RPC)"),
        total as f64 / secs
    );
    Ok(())
}

async fn start_daemon(
    dir: &Path,
) -> Result<(std::path::PathBuf, tokio::sync::oneshot::Sender<()>)> {
    let socket = dir.join("run").join("releasd.sock");
    let data = dir.join("data");
    let store: Arc<dyn Store> = Arc::new(seeded_store(&data)?);
    let stop = serve_in_process(store, &socket, data).await?;
    Ok((socket, stop))
}

/// A releasd serving `store` on `socket` in this process (same `serve` as the daemon), until
/// the returned sender is dropped or fired.
async fn serve_in_process(
    store: Arc<dyn Store>,
    socket: &Path,
    data: std::path::PathBuf,
) -> Result<tokio::sync::oneshot::Sender<()>> {
    let listener = releasd::socket::bind(socket, &releasd::socket::SocketPolicy::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let info = releasd::DaemonInfo {
        socket: socket.to_path_buf(),
        data_dir: data,
        started_at: now(),
        pid: std::process::id(),
        http: None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(releasd::serve(
        listener,
        store,
        releasd::ServeOptions::new(info),
        async {
            let _ = rx.await;
        },
    ));
    Ok(tx)
}

async fn rpc(what: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (socket, _stop) = start_daemon(dir.path()).await?;
    let client = Client::connect(&socket, "relbench").await?;
    let all = what == "all" || what == "rpc";

    if all {
        // Size of a status answer, to ping-pong the same number of bytes raw.
        let status = client.call(Request::Status).await?;
        let size = rel_proto::encode(&rel_proto::ServerFrame::Response {
            id: 1,
            result: Ok(status),
        })?
        .len();
        let mut xs = Vec::new();
        for _ in 0..3000 {
            let t = Instant::now();
            client.call(Request::Status).await?;
            xs.push(t.elapsed());
        }
        let rpc_median = median(xs.clone());
        report("rpc: status round trip", xs);
        let raw = raw_ping_pong(dir.path(), size).await?;
        let raw_median = median(raw.clone());
        report(&format!("raw unix-socket ping-pong ({size} B)"), raw);
        println!(
            "{:<44} {:.1}x raw (budget <= 3x)",
            "rpc: status / raw",
            rpc_median.as_secs_f64() / raw_median.as_secs_f64()
        );
    }
    if all || what == "durable" || what == "deploy" {
        let mut xs = Vec::new();
        for i in 0..500 {
            let tag = if i % 2 == 0 { "v1" } else { "v2" };
            let t = Instant::now();
            match client
                .call(Request::Deploy(deploy_req(tag, "staging")))
                .await?
            {
                Response::Deployed(o) if o.changed => {}
                other => bail!("unexpected answer {other:?}"),
            }
            xs.push(t.elapsed());
        }
        report("rpc: durable deploy over the socket", xs);
    }
    if all || what == "durable" || what == "concurrent" {
        concurrent(&socket, &client, 64).await?;
    }
    Ok(())
}

/// 64 clients, each on its own connection and environment, deploying as fast as they can.
async fn concurrent(socket: &Path, client: &Client, n: usize) -> Result<()> {
    for i in 0..n {
        let env = Environment {
            name: format!("bench-{i}"),
            description: String::new(),
            protected: false,
            requires: vec![],
            created_at: now(),
        };
        client.call(Request::EnvCreate(env)).await?;
    }
    let per_task = 200usize;
    // A reader polling status on its own connection during the storm: reads must not wait
    // for flushes they did not observe.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let socket = socket.to_path_buf();
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let c = Client::connect(&socket, "relbench-status").await?;
            let mut xs = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                c.call(Request::Status).await?;
                xs.push(t.elapsed());
            }
            anyhow::Ok(xs)
        })
    };
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let socket = socket.to_path_buf();
        tasks.spawn(async move {
            let c = Client::connect(&socket, "relbench").await?;
            let env = format!("bench-{i}");
            for j in 0..per_task {
                let tag = if j % 2 == 0 { "v1" } else { "v2" };
                c.call(Request::Deploy(deploy_req(tag, &env))).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("deployer task")??;
    }
    let total = n * per_task;
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let xs = poller.await.context("status poller")??;
    report("rpc: status during the 64-deployer storm", xs);
    println!(
        "{:<44} {:.0} deploys/s ({total} durable deploys in {secs:.2}s; budget >= 20000/s)",
        format!("rpc: {n} concurrent deployers"),
        total as f64 / secs
    );
    Ok(())
}

async fn raw_ping_pong(dir: &Path, size: usize) -> Result<Vec<Duration>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = dir.join("raw.sock");
    let listener = tokio::net::UnixListener::bind(&path)?;
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; size];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut c = tokio::net::UnixStream::connect(&path).await?;
    let mut buf = vec![1u8; size];
    let mut xs = Vec::new();
    for _ in 0..3000 {
        let t = Instant::now();
        c.write_all(&buf).await?;
        c.read_exact(&mut buf).await?;
        xs.push(t.elapsed());
    }
    Ok(xs)
}

/// `relctl status` process start to exit, against a running daemon.
fn cli() -> Result<()> {
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("bench exe dir")?;
    let relctl = bin_dir.join("relctl");
    if !relctl.exists() {
        bail!(
            "{} not found: run `cargo build --release --workspace` first",
            relctl.display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let (socket, _stop) = rt.block_on(start_daemon(dir.path()))?;
    let mut xs = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let out = std::process::Command::new(&relctl)
            .arg("--socket")
            .arg(&socket)
            .arg("status")
            .output()?;
        xs.push(t.elapsed());
        if !out.status.success() {
            bail!(
                "relctl status failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    report("relctl status: process start to exit", xs);
    drop(rt);
    Ok(())
}

/// History scale: N releases and M deployments, then reopen and time the first pages.
fn scale(releases: u64, deployments: u64) -> Result<()> {
    // RELBENCH_KEEP=DIR builds the store there and keeps it, so a real releasd can then be
    // started on it to measure its start-up time and RSS.
    let kept = std::env::var_os("RELBENCH_KEEP").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir()?;
    let dir_path = kept.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let dir = &dir_path;
    {
        let store = seeded_store(dir.as_path())?;
        let t = Instant::now();
        for i in 0..releases {
            store.create_release(
                &NewRelease {
                    tag: format!("r{i}"),
                    description: format!("release {i}"),
                    config: None,
                    deploy_to: None,
                },
                &admin(),
                now(),
            )?;
        }
        println!("scale: created {releases} releases in {:.1?}", t.elapsed());
        let t = Instant::now();
        for i in 0..deployments {
            let tag = format!("r{}", i % releases.max(1));
            store.deploy(&deploy_req(&tag, "staging"), &admin(), now())?;
        }
        println!("scale: {deployments} deployments in {:.1?}", t.elapsed());
    }
    let t = Instant::now();
    let store = rel_store::SledStore::open(dir.as_path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("scale: reopen store {:.1?}", t.elapsed());
    let t = Instant::now();
    let page = store.releases(&ReleaseQuery {
        state: None,
        filter: None,
        before_seq: None,
        limit: 50,
    })?;
    println!(
        "scale: first page of releases ({}) {:.1?}",
        page.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let hist = store.history("staging", 50, None)?;
    println!(
        "scale: first page of staging history ({}) {:.1?}",
        hist.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let envs = store.environments()?;
    println!("scale: environments ({}) {:.1?}", envs.len(), t.elapsed());
    if let Ok(s) = std::fs::read_to_string("/proc/self/status")
        && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM"))
    {
        println!(
            "scale: peak RSS of this process {}",
            l.trim_start_matches("VmHWM:").trim()
        );
    }
    Ok(())
}
