//! `relbench hostile [RUNS] [--serve]`: the control plane under hostile runs (issue 7).
//!
//! Starts the release `releasd` binary next to this one (a process of its own, so the
//! load generator does not share a runtime with the daemon) with the HTTP ingress, deploys
//! an app whose `spin` endpoint never finishes (`last(range(1e12))`, stopped at its 2 s
//! timeout), and keeps RUNS (default 500) such requests in flight from as many clients.
//! Meanwhile it times `status`, a release read, `deploy` and `rollback` over the Unix
//! socket, and compares with the same calls on the idle daemon.
//!
//! `--serve` only starts the daemon with the two-step example live in staging and prints
//! the URL and token for `wrk` (see docs/PERFORMANCE.md, "Serving"); Ctrl-C stops it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rel_domain::config::{AppConfigText, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::model::{NewRelease, RollbackRequest};
use rel_proto::{Client, Request, Response};

use super::{deploy_req, report};

const SAMPLES: usize = 200;

const SPIN: &str = r#"
[pipelines.spin]
[[pipelines.spin.stages]]
name = "s"
[[pipelines.spin.stages.steps]]
name = "forever"
kind = "transform"
expr = 'last(range(1e12))'
timeout_ms = 2000
[endpoints.spin]
pipeline = "spin"
"#;

struct Daemon {
    child: Child,
    _dir: tempfile::TempDir,
    socket: std::path::PathBuf,
    http: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Result<Daemon> {
    let exe = std::env::current_exe()?
        .parent()
        .context("relbench has no directory")?
        .join("releasd");
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("run").join("releasd.sock");
    let mut child = Command::new(&exe)
        .args(["--foreground", "--http", "127.0.0.1:0", "--socket"])
        .arg(&socket)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (cargo build --release -p releasd)",
                exe.display()
            )
        })?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .with_context(|| format!("no http= in the ready line {line:?}"))?
        .to_string();
    Ok(Daemon {
        child,
        _dir: dir,
        socket,
        http,
    })
}

async fn release(c: &Client, tag: &str, text: String, deploy_to: Option<&str>) -> Result<()> {
    c.call(Request::ReleaseCreate(NewRelease {
        tag: tag.into(),
        description: String::new(),
        config: Some(AppConfigText {
            format: ConfigFormat::Toml,
            text,
        }),
        deploy_to: deploy_to.map(str::to_string),
    }))
    .await?;
    Ok(())
}

async fn token(c: &Client) -> Result<String> {
    match c
        .call(Request::TokenCreate {
            name: "bench".into(),
        })
        .await?
    {
        Response::TokenCreated { secret, .. } => Ok(secret),
        other => bail!("token create answered {other:?}"),
    }
}

pub async fn serve() -> Result<()> {
    let d = start(&[])?;
    let c = Client::connect(&d.socket, "relbench").await?;
    release(&c, "v1", EXAMPLE_APP_TOML.to_string(), Some("staging")).await?;
    let secret = token(&c).await?;
    println!(
        "url=http://{}/v1/trigger/chat token={secret} pid={}",
        d.http,
        d.child.id()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

pub async fn run(runs: usize) -> Result<()> {
    let d = start(&[])?;
    let c = Client::connect(&d.socket, "relbench").await?;
    let app = format!("{EXAMPLE_APP_TOML}{SPIN}");
    release(&c, "v1", app.clone(), Some("staging")).await?;
    release(
        &c,
        "v2",
        app.replace("answer a chat message", "answer (v2)"),
        None,
    )
    .await?;
    let secret = token(&c).await?;

    control_plane(&c, "idle").await?;

    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let url = format!("http://{}/v1/trigger/spin", d.http);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..runs {
        let (stop, counts, url, secret) = (
            Arc::clone(&stop),
            Arc::clone(&counts),
            url.clone(),
            secret.clone(),
        );
        tasks.spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build()?;
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(&url)
                    .bearer_auth(&secret)
                    .header("X-Environment", "staging")
                    .body("{}")
                    .send()
                    .await;
                let slot = match r.as_ref().map(|r| r.status().as_u16()) {
                    Ok(500) => 0,
                    Ok(503) => {
                        // As a polite client would: Retry-After says 1 s.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        1
                    }
                    Ok(_) => 2,
                    Err(_) => 3,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    // Let the flood fill every worker and the queue.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_during = rss_kib(d.child.id());
    control_plane(&c, &format!("{runs} hostile runs in flight")).await?;
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    println!(
        "{:<44} {} stopped at their timeout (500), {} refused (503), {} other, {} errors",
        "hostile: answers",
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
        counts[2].load(Ordering::Relaxed),
        counts[3].load(Ordering::Relaxed),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "{:<44} daemon {} MiB during the flood, {} MiB 1 s after",
        "hostile: RSS",
        rss_during.map_or(0, |k| k / 1024),
        rss_kib(d.child.id()).map_or(0, |k| k / 1024)
    );
    Ok(())
}

async fn control_plane(c: &Client, when: &str) -> Result<()> {
    let (mut status, mut read, mut deploy, mut rollback) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let t = Instant::now();
        c.call(Request::Status).await?;
        status.push(t.elapsed());
        let t = Instant::now();
        c.call(Request::ReleaseShow { tag: "v1".into() }).await?;
        read.push(t.elapsed());
        let t = Instant::now();
        let mut req = deploy_req("v2", "staging");
        req.force_reason = Some("relbench".into());
        c.call(Request::Deploy(req)).await?;
        deploy.push(t.elapsed());
        let t = Instant::now();
        c.call(Request::Rollback(RollbackRequest {
            env: "staging".into(),
            to: None,
            expect: None,
            reason: None,
        }))
        .await?;
        rollback.push(t.elapsed());
    }
    report(&format!("status, {when}"), status);
    report(&format!("release show, {when}"), read);
    report(&format!("deploy, {when}"), deploy);
    report(&format!("rollback, {when}"), rollback);
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
