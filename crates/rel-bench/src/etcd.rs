//! `relbench etcd`: the raw etcd figures the etcd backend is measured against (SPEC §7), from
//! the same client library and the same process as the daemon would use:
//! - one guarded transaction (a compare + a put, like the smallest deploy), sequential;
//! - 64 concurrent clients doing such transactions, transactions/s;
//! - commit on one client → seen by another client's watch (the floor of "deploy on A,
//!   served on B");
//! - the same through the STM with watch-fed mirrors: a deploy-shaped transaction (~20
//!   reads, a counter bump, ~6 writes), alone and from 64 writers (own counters, or one
//!   shared counter as deployment ids are), and commit on A → B's mirror holds it.
//!
//! Then two daemons on one etcd store, end to end (`etcd_daemons.rs`).
//!
//! The cluster is `RELBENCH_ETCD=etcd://HOST:PORT,…/PREFIX` if set, else a 3-member cluster of
//! the local `etcd` binary on loopback (data on `TMPDIR`'s disk: it fsyncs like production).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use rel_store::etcd::{EtcdKv, EtcdOptions, EtcdUrl, Guard, Outcome, WatchItem, Write};

use crate::{median, report};

pub fn run(rt: &tokio::runtime::Runtime) -> Result<()> {
    // Keep the cluster (if we started one) alive for the whole run. Ours runs with
    // --max-txn-ops 1024 (rel-testkit); for another, say what it runs with.
    let (url, _cluster, max_ops) = match std::env::var("RELBENCH_ETCD") {
        Ok(url) if !url.is_empty() => {
            let ops = std::env::var("RELBENCH_ETCD_MAX_TXN_OPS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(rel_store::etcd::DEFAULT_MAX_TXN_OPS);
            (url, None, ops)
        }
        _ => {
            let c = rel_testkit::etcd::EtcdCluster::start(3);
            (c.store_url("relbench"), Some(c), 1024)
        }
    };
    let url = EtcdUrl::parse(&url).map_err(|e| anyhow!("{e}"))?;
    println!("etcd: {} (prefix {})", url.endpoints.join(","), url.prefix);
    let kv = Arc::new(EtcdKv::connect(EtcdOptions::new(url.clone())).map_err(|e| anyhow!("{e}"))?);

    let lone = lone_txns(&kv, 500)?;
    let lone_median = median(lone.clone());
    report("etcd raw: one guarded txn (compare + put)", lone);

    let raw_rate = concurrent_txns(&url, 64, Duration::from_secs(10))?;
    println!(
        "{:<44} {raw_rate:>10.0} txn/s (64 clients, 2 connections)",
        "etcd raw: concurrent guarded txns"
    );

    let seen = watch_delay(&kv, &url, 300)?;
    report("etcd raw: commit -> other client's watch", seen);

    let (stm_lone, elsewhere) = stm_figures(&url, 500)?;
    let stm_median = median(stm_lone.clone());
    report("etcd STM+mirror: deploy-shaped txn", stm_lone);
    println!(
        "{:<44} {:.2}x raw txn (budget <= 2x)",
        "etcd STM+mirror / raw",
        stm_median.as_secs_f64() / lone_median.as_secs_f64()
    );
    report("etcd STM+mirror: commit on A -> B's mirror", elsewhere);
    for shared in [false, true] {
        let (rate, gave_up) = stm_concurrent(&url, 64, Duration::from_secs(10), shared)?;
        let what = if shared {
            "etcd STM+mirror: 64 writers, one shared counter"
        } else {
            "etcd STM+mirror: 64 writers, own keys"
        };
        println!(
            "{what:<44} {rate:>10.0} txn/s ({:.2}x raw; {gave_up} gave up after {} conflicts)",
            rate / raw_rate,
            rel_store::etcd::stm::MAX_ATTEMPTS
        );
    }
    let mut daemons_url = url.clone();
    daemons_url.prefix = format!("{}-daemons", url.prefix);
    rt.block_on(crate::etcd_daemons::run(
        daemons_url,
        max_ops,
        lone_median,
        raw_rate,
    ))
}

/// The trees a deploy reads: mirrored, as the backend would.
const MIRRORED: [&str; 2] = ["meta", "env_state"];

/// A transaction shaped like a deploy: ~20 point reads, a counter bump, ~6 writes.
fn deploy_shaped(
    kv: &EtcdKv,
    mirror: &rel_store::etcd::Mirror,
    env: &str,
    counter: &[u8],
) -> Result<i64> {
    use rel_store::etcd::stm::{self, StmFail};
    let (_, rev) = stm::run(kv, Some(mirror), |tx| {
        for i in 0..18u8 {
            tx.get("env_state", &[env.as_bytes(), &[0, i]].concat())?;
        }
        let n = tx
            .get("meta", counter)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
            + 1;
        tx.get("meta", b"audit_head")?;
        tx.put("meta", counter, n.to_be_bytes());
        for i in 0..5u8 {
            tx.put(
                "env_state",
                [env.as_bytes(), &[0, i]].concat(),
                n.to_be_bytes(),
            );
        }
        Ok::<_, StmFail<String>>(())
    })
    .map_err(|e| anyhow!("{e}"))?;
    Ok(rev)
}

fn mirrored(url: &EtcdUrl) -> Result<(Arc<EtcdKv>, rel_store::etcd::Mirror)> {
    let kv = Arc::new(EtcdKv::connect(EtcdOptions::new(url.clone())).map_err(|e| anyhow!("{e}"))?);
    let m =
        rel_store::etcd::Mirror::start(Arc::clone(&kv), &MIRRORED).map_err(|e| anyhow!("{e}"))?;
    Ok((kv, m))
}

/// Lone deploy-shaped STM commits on A; and how long until B's mirror holds each.
fn stm_figures(url: &EtcdUrl, n: usize) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let (a, ma) = mirrored(url)?;
    let (_b, mb) = mirrored(url)?;
    let (mut lone, mut elsewhere) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        let rev = deploy_shaped(&a, &ma, "staging", b"last_deployment")?;
        lone.push(t.elapsed());
        let answered = Instant::now();
        if !mb.wait_for(rev, Duration::from_secs(10)) {
            return Err(anyhow!("B's mirror did not reach revision {rev}"));
        }
        elsewhere.push(answered.elapsed());
    }
    Ok((lone, elsewhere))
}

/// `clients` threads over two mirrored connections, each on its own environment; `shared`:
/// all bump one counter (as deployment ids and the audit head are shared by every deploy).
fn stm_concurrent(
    url: &EtcdUrl,
    clients: usize,
    run_for: Duration,
    shared: bool,
) -> Result<(f64, u64)> {
    let conns = [Arc::new(mirrored(url)?), Arc::new(mirrored(url)?)];
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let c = Arc::clone(&conns[i % 2]);
            std::thread::spawn(move || -> Result<(u64, u64)> {
                let env = format!("bench-{i}");
                let counter = if shared {
                    b"shared_counter".to_vec()
                } else {
                    format!("counter-{i}").into_bytes()
                };
                let (mut n, mut gave_up) = (0u64, 0u64);
                while start.elapsed() < run_for {
                    match deploy_shaped(&c.0, &c.1, &env, &counter) {
                        Ok(_) => n += 1,
                        Err(e) if e.to_string().contains("gave up") => gave_up += 1,
                        Err(e) => return Err(e),
                    }
                }
                Ok((n, gave_up))
            })
        })
        .collect();
    let (mut total, mut gave_up) = (0, 0);
    for h in handles {
        let (n, g) = h.join().map_err(|_| anyhow!("a bench thread panicked"))??;
        total += n;
        gave_up += g;
    }
    Ok((total as f64 / start.elapsed().as_secs_f64(), gave_up))
}

fn txn_on(kv: &EtcdKv, key: &[u8], last: &mut i64, n: u64) -> Result<()> {
    let guard = Guard {
        tree: "bench",
        key: key.to_vec(),
        mod_revision: *last,
    };
    let w = Write::Put {
        tree: "bench",
        key: key.to_vec(),
        value: n.to_be_bytes().to_vec(),
    };
    match kv.txn(&[guard], &[w]).map_err(|e| anyhow!("{e}"))? {
        Outcome::Committed { revision } => {
            *last = revision;
            Ok(())
        }
        Outcome::Conflict { .. } => Err(anyhow!("bench key changed under the bench")),
    }
}

/// Start each key from its current revision (a previous run may have left it).
fn current(kv: &EtcdKv, key: &[u8]) -> Result<i64> {
    let (e, _) = kv.get("bench", key, None).map_err(|e| anyhow!("{e}"))?;
    Ok(e.map(|e| e.mod_revision).unwrap_or(0))
}

fn lone_txns(kv: &EtcdKv, n: u64) -> Result<Vec<Duration>> {
    let key = b"lone".to_vec();
    let mut last = current(kv, &key)?;
    let mut xs = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        txn_on(kv, &key, &mut last, i)?;
        xs.push(t.elapsed());
    }
    Ok(xs)
}

/// `clients` threads over two connections (as two daemons would have), each on its own key.
fn concurrent_txns(url: &EtcdUrl, clients: usize, run_for: Duration) -> Result<f64> {
    let conns = [
        Arc::new(EtcdKv::connect(EtcdOptions::new(url.clone())).map_err(|e| anyhow!("{e}"))?),
        Arc::new(EtcdKv::connect(EtcdOptions::new(url.clone())).map_err(|e| anyhow!("{e}"))?),
    ];
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let kv = Arc::clone(&conns[i % 2]);
            std::thread::spawn(move || -> Result<u64> {
                let key = format!("c{i}").into_bytes();
                let mut last = current(&kv, &key)?;
                let mut n = 0u64;
                while start.elapsed() < run_for {
                    txn_on(&kv, &key, &mut last, n)?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| anyhow!("a bench thread panicked"))??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Commit on `kv`; a watcher on a second connection sees it. The delay counts from the
/// commit's answer (what a client of daemon A sees) to the watch event.
fn watch_delay(kv: &EtcdKv, url: &EtcdUrl, n: u64) -> Result<Vec<Duration>> {
    let other = EtcdKv::connect(EtcdOptions::new(url.clone())).map_err(|e| anyhow!("{e}"))?;
    let start_rev = other.revision().map_err(|e| anyhow!("{e}"))?;
    let mut w = other.watch(start_rev + 1);
    let key = b"watched".to_vec();
    let mut last = current(kv, &key)?;
    let mut xs = Vec::new();
    for i in 0..n {
        txn_on(kv, &key, &mut last, i)?;
        let answered = Instant::now();
        loop {
            match w.next_blocking(Duration::from_secs(10)) {
                Some(WatchItem::Changes { revision, .. }) if revision >= last => break,
                Some(_) => continue,
                None => return Err(anyhow!("the watch saw nothing for 10 s")),
            }
        }
        xs.push(answered.elapsed());
    }
    Ok(xs)
}
