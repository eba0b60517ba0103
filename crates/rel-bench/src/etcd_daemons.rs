//! `relbench etcd`, second half: two daemons on the same etcd store (`--store etcd://…`),
//! in this process, each with its own etcd connection, mirror, socket and live table.
//! - a lone deploy through A's socket (compare with one raw guarded txn);
//! - A answers a deploy → a trigger on B runs the new release (B polls with triggers, so
//!   the figure includes one trigger's run time as its resolution);
//! - 64 deployers, 32 on each daemon, each on its own environment, deploys/s (compare with
//!   raw etcd txns/s).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rel_domain::config::{ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::{Environment, NewRelease, Store};
use rel_proto::{Client, Request, Response};
use rel_store::etcd::{EtcdOptions, EtcdUrl};

use crate::{deploy_req, median, now, p99, report};

const DEPLOYERS: usize = 64;

struct Daemon {
    socket: std::path::PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(url: &EtcdUrl, max_ops: usize, dir: &Path, name: &str) -> Result<Daemon> {
    let mut o = EtcdOptions::new(url.clone());
    o.max_txn_ops = max_ops;
    let data = dir.join(name);
    std::fs::create_dir_all(&data)?;
    let store: Arc<dyn Store> =
        Arc::new(rel_store::KvStore::open_etcd(o, &data).map_err(|e| anyhow!("{e}"))?);
    let socket = dir.join(format!("{name}.sock"));
    let stop = crate::serve_in_process(store, &socket, data).await?;
    Ok(Daemon {
        socket,
        _stop: stop,
    })
}

/// Two releases with different content and `DEPLOYERS` environments, through A.
async fn seed(a: &Client) -> Result<()> {
    for (tag, n) in [("v1", 1), ("v2", 2)] {
        let text = EXAMPLE_APP_TOML.replace(
            "answer a chat message",
            &format!("answer a chat message ({n})"),
        );
        a.call(Request::ReleaseCreate(NewRelease {
            tag: tag.into(),
            description: String::new(),
            config: Some(rel_domain::config::AppConfigText {
                format: ConfigFormat::Toml,
                text,
            }),
            deploy_to: None,
        }))
        .await?;
    }
    for i in 0..DEPLOYERS {
        a.call(Request::EnvCreate(Environment {
            name: format!("e{i}"),
            description: String::new(),
            protected: false,
            requires: Vec::new(),
            created_at: now(),
        }))
        .await?;
    }
    Ok(())
}

async fn trigger_release(c: &Client) -> Result<String> {
    match c
        .call(Request::Trigger {
            endpoint: "chat".into(),
            env: "staging".into(),
            input: r#"{"message":"hi"}"#.into(),
        })
        .await?
    {
        Response::Execution(e) => Ok(e.release),
        other => bail!("trigger answered {other:?}"),
    }
}

pub async fn run(url: EtcdUrl, max_ops: usize, raw_median: Duration, raw_rate: f64) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let a = start(&url, max_ops, dir.path(), "a").await?;
    let b = start(&url, max_ops, dir.path(), "b").await?;
    let ca = Client::connect(&a.socket, "relbench").await?;
    let cb = Client::connect(&b.socket, "relbench").await?;
    seed(&ca).await?;

    // Lone deploys through A, alternating so each one changes what is live.
    let mut lone = Vec::new();
    for i in 0..200 {
        let tag = if i % 2 == 0 { "v1" } else { "v2" };
        let t = Instant::now();
        ca.call(Request::Deploy(deploy_req(tag, "staging"))).await?;
        lone.push(t.elapsed());
    }
    let lone_median = median(lone.clone());
    report("daemons on etcd: lone deploy through A", lone);
    println!(
        "{:<44} {:.2}x raw txn (budget <= 2x)",
        "daemons on etcd: lone deploy / raw txn",
        lone_median.as_secs_f64() / raw_median.as_secs_f64()
    );

    // Deploy answered on A -> B's trigger runs it.
    let mut elsewhere = Vec::new();
    let mut polls = 0u64;
    for i in 0..100 {
        let tag = if i % 2 == 0 { "v1" } else { "v2" };
        ca.call(Request::Deploy(deploy_req(tag, "staging"))).await?;
        let t = Instant::now();
        loop {
            polls += 1;
            if trigger_release(&cb).await? == tag {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                bail!("B did not serve {tag} within 10 s of A's deploy");
            }
        }
        elsewhere.push(t.elapsed());
    }
    let n = elsewhere.len() as u64;
    report(
        "daemons on etcd: deploy on A -> served on B",
        elsewhere.clone(),
    );
    println!(
        "{:<44} p99 {:.1?} (budget <= 100 ms; {:.1} triggers per deploy)",
        "",
        p99(elsewhere),
        polls as f64 / n as f64
    );

    // 64 deployers, half on each daemon, each flipping its own environment.
    let run_for = Duration::from_secs(10);
    let start_at = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..DEPLOYERS {
        let socket = if i % 2 == 0 {
            a.socket.clone()
        } else {
            b.socket.clone()
        };
        tasks.spawn(async move {
            let c = Client::connect(&socket, "relbench").await?;
            let env = format!("e{i}");
            let mut n = 0u64;
            while start_at.elapsed() < run_for {
                let tag = if n.is_multiple_of(2) { "v1" } else { "v2" };
                c.call(Request::Deploy(deploy_req(tag, &env))).await?;
                n += 1;
            }
            anyhow::Ok(n)
        });
    }
    let mut total = 0u64;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    let rate = total as f64 / start_at.elapsed().as_secs_f64();
    println!(
        "{:<44} {rate:>10.0} deploys/s ({:.2}x raw txn/s; budget >= 0.5x)",
        "daemons on etcd: 64 deployers on A and B",
        rate / raw_rate
    );
    Ok(())
}
