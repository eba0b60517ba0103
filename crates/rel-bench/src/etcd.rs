//! `relbench etcd`: the raw etcd figures the etcd backend is measured against (SPEC §7), from
//! the same client library and the same process as the daemon would use:
//! - one guarded transaction (a compare + a put, like the smallest deploy), sequential;
//! - 64 concurrent clients doing such transactions, transactions/s;
//! - commit on one client → seen by another client's watch (the floor of "deploy on A,
//!   served on B").
//!
//! The cluster is `RELBENCH_ETCD=etcd://HOST:PORT,…/PREFIX` if set, else a 3-member cluster of
//! the local `etcd` binary on loopback (data on `TMPDIR`'s disk: it fsyncs like production).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use rel_store::etcd::{EtcdKv, EtcdOptions, EtcdUrl, Guard, Outcome, WatchItem, Write};

use crate::{median, report};

pub fn run() -> Result<()> {
    // Keep the cluster (if we started one) alive for the whole run.
    let (url, _cluster) = match std::env::var("RELBENCH_ETCD") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let c = rel_testkit::etcd::EtcdCluster::start(3);
            (c.store_url("relbench"), Some(c))
        }
    };
    let url = EtcdUrl::parse(&url).map_err(|e| anyhow!("{e}"))?;
    println!("etcd: {} (prefix {})", url.endpoints.join(","), url.prefix);
    let kv = Arc::new(EtcdKv::connect(EtcdOptions::new(url.clone())).map_err(|e| anyhow!("{e}"))?);

    let lone = lone_txns(&kv, 500)?;
    let lone_median = median(lone.clone());
    report("etcd raw: one guarded txn (compare + put)", lone);

    let rate = concurrent_txns(&url, 64, Duration::from_secs(10))?;
    println!(
        "{:<44} {rate:>10.0} txn/s (64 clients, 2 connections)",
        "etcd raw: concurrent guarded txns"
    );

    let seen = watch_delay(&kv, &url, 300)?;
    report("etcd raw: commit -> other client's watch", seen);
    println!(
        "{:<44} {lone_median:>10.1?}",
        "etcd raw: lone txn median (for the ratio)"
    );
    Ok(())
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
