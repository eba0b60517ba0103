//! `relbench trigger`: endpoint runs (issue 4). The example app's `chat` endpoint, a
//! two-step pipeline (template + jq transform), live in staging of an in-process daemon with
//! the HTTP ingress on 127.0.0.1:0. Every run is logged durably (one store transaction and
//! flush), as in production.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rel_domain::Store;
use rel_proto::{Client, Request, Response};

use super::{deploy_req, now, report, seeded_store};

const CONCURRENCY: usize = 16;
const PER_CLIENT: usize = 500;
const SEQUENTIAL: usize = 2000;
const BODY: &str = r#"{"message": "hello"}"#;

pub async fn run() -> Result<()> {
    resolve_overhead()?;

    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("run").join("releasd.sock");
    let data = dir.path().join("data");
    let store: Arc<dyn Store> = Arc::new(seeded_store(&data)?);
    let listener = releasd::socket::bind(&socket, &releasd::socket::SocketPolicy::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = http.local_addr()?;
    let info = releasd::DaemonInfo {
        socket: socket.clone(),
        data_dir: data,
        started_at: now(),
        pid: std::process::id(),
        http: None,
    };
    let mut opts = releasd::ServeOptions::new(info);
    opts.http = Some(http);
    let (_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(releasd::serve(listener, store, opts, async {
        let _ = stop_rx.await;
    }));

    let client = Client::connect(&socket, "relbench").await?;
    client
        .call(Request::Deploy(deploy_req("v1", "staging")))
        .await?;
    let secret = match client
        .call(Request::TokenCreate {
            name: "bench".into(),
        })
        .await?
    {
        Response::TokenCreated { secret, .. } => secret,
        other => bail!("token create answered {other:?}"),
    };

    // Socket: one client, one request at a time.
    let mut xs = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        one_socket(&client).await?;
        xs.push(t.elapsed());
    }
    report("trigger: socket, sequential", xs);
    let rss_before = rss_kib();

    // Socket: many clients at once.
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let socket = socket.clone();
        tasks.spawn(async move {
            let c = Client::connect(&socket, "relbench").await?;
            for _ in 0..PER_CLIENT {
                one_socket(&c).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("socket client")??;
    }
    rate("trigger: socket", start.elapsed());

    // HTTP: one keep-alive client, one request at a time.
    let url = format!("http://{addr}/v1/trigger/chat");
    let bearer = format!("Bearer {secret}");
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut xs = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        one_http(&http, &url, &bearer).await?;
        xs.push(t.elapsed());
    }
    report("trigger: HTTP, sequential", xs);
    // The HTTP stack alone (client and server, keep-alive), for comparison: a 404.
    let nothing = format!("http://{addr}/v1/nothing");
    let mut xs = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        let resp = http.post(&nothing).body(BODY).send().await?;
        let _ = resp.bytes().await?;
        xs.push(t.elapsed());
    }
    report("HTTP round trip without a run (404)", xs);

    // HTTP: many connections at once.
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (url, bearer) = (url.clone(), bearer.clone());
        tasks.spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build()?;
            for _ in 0..PER_CLIENT {
                one_http(&http, &url, &bearer).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("HTTP client")??;
    }
    rate("trigger: HTTP", start.elapsed());

    // Memory under a long flood: RSS after each further round should level off (the logs
    // are bounded by retention; sled's cache is capped).
    let mut total = 2 * (SEQUENTIAL + CONCURRENCY * PER_CLIENT);
    let mut seen = vec![rss_before, rss_kib()];
    for _ in 0..3 {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let socket = socket.clone();
            tasks.spawn(async move {
                let c = Client::connect(&socket, "relbench").await?;
                for _ in 0..PER_CLIENT {
                    one_socket(&c).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.context("socket client")??;
        }
        total += CONCURRENCY * PER_CLIENT;
        seen.push(rss_kib());
    }
    let seen: Vec<String> = seen
        .iter()
        .map(|k| k.map_or("?".to_string(), |k| format!("{} MiB", k / 1024)))
        .collect();
    println!(
        "{:<44} {} (after {SEQUENTIAL} runs, then every further {} / {})",
        "trigger: RSS of this process",
        seen.join(" -> "),
        2 * CONCURRENCY * PER_CLIENT + SEQUENTIAL,
        CONCURRENCY * PER_CLIENT
    );
    match client
        .call(Request::Logs(rel_domain::ExecQuery {
            env: Some("staging".into()),
            endpoint: None,
            before_id: None,
            limit: 10_000,
        }))
        .await?
    {
        Response::Executions(l) => println!(
            "{:<44} {} logs kept of {total} runs",
            "trigger: retention",
            l.len()
        ),
        other => bail!("logs answered {other:?}"),
    }
    Ok(())
}

async fn one_socket(c: &Client) -> Result<()> {
    match c
        .call(Request::Trigger {
            endpoint: "chat".into(),
            env: "staging".into(),
            input: BODY.into(),
        })
        .await?
    {
        Response::Execution(e) if e.status == rel_domain::ExecStatus::Ok => Ok(()),
        other => bail!("trigger answered {other:?}"),
    }
}

async fn one_http(http: &reqwest::Client, url: &str, bearer: &str) -> Result<()> {
    let resp = http
        .post(url)
        .header("X-Environment", "staging")
        .header("Authorization", bearer)
        .body(BODY)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

fn rate(name: &str, took: Duration) {
    let n = CONCURRENCY * PER_CLIENT;
    println!(
        "{:<44} {:.0} requests/s ({n} runs from {CONCURRENCY} clients in {:.2}s)",
        format!("{name}, {CONCURRENCY} concurrent"),
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    );
}

/// The hot-path lookup alone: environment → live compiled release.
fn resolve_overhead() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = seeded_store(dir.path())?;
    let out = store.deploy(&deploy_req("v1", "staging"), &super::admin(), now())?;
    let live = releasd::live::Live::new();
    live.publish(&store, "staging", "v1", out.deployment.id);
    live.publish(&store, "production", "v2", out.deployment.id + 1);
    // What a deploy of a release not compiled recently adds before its "ok".
    let mut xs = Vec::with_capacity(200);
    for _ in 0..200 {
        let fresh = releasd::live::Live::new();
        let t = Instant::now();
        fresh.compile(&store, "v2")?;
        xs.push(t.elapsed());
    }
    report("live: compile a release (cache miss)", xs);
    let n = 2_000_000u32;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(live.resolve(std::hint::black_box("staging")));
    }
    let per = t.elapsed() / n;
    println!(
        "{:<44} {per:.1?} per resolve (budget <= 1 us, lock-free)",
        "live: resolve env -> compiled release"
    );
    Ok(())
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
