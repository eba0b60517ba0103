//! The STM runner against a real etcd cluster, with writers on two connections (as two
//! daemons): compare-and-swap has exactly one winner, counters hand out every id once.

use std::sync::{Arc, Barrier};

use rel_store::etcd::stm::{self, StmError, StmFail};
use rel_store::etcd::{EtcdKv, EtcdOptions, EtcdUrl, Mirror};
use rel_testkit::etcd::EtcdCluster;

fn connect(c: &EtcdCluster, prefix: &str) -> Arc<EtcdKv> {
    let url = EtcdUrl::parse(&c.store_url(prefix)).expect("url");
    Arc::new(EtcdKv::connect(EtcdOptions::new(url)).expect("connect"))
}

fn read_u64(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

#[test]
fn cas_has_one_winner_and_ids_are_handed_out_once_across_two_connections() {
    let c = EtcdCluster::start(3);
    race(&c, "direct", false);
}

#[test]
fn the_same_with_reads_from_a_watch_fed_mirror_on_each_connection() {
    let c = EtcdCluster::start(3);
    race(&c, "mirrored", true);
}

fn race(c: &EtcdCluster, prefix: &str, mirrored: bool) {
    let conns = [connect(c, prefix), connect(c, prefix)];
    let mirrors: Vec<Option<Arc<Mirror>>> = conns
        .iter()
        .map(|kv| {
            mirrored.then(|| {
                Arc::new(Mirror::start(Arc::clone(kv), &["env_state", "meta"]).expect("mirror"))
            })
        })
        .collect();

    // --expect-style CAS: 16 racers all expect "v1"; one moves it, the rest are refused.
    stm::run(&conns[0], mirrors[0].as_deref(), |tx| {
        tx.put("env_state", b"staging", b"v1");
        Ok::<_, StmFail<String>>(())
    })
    .expect("seed");
    let racers = 16;
    let barrier = Arc::new(Barrier::new(racers));
    let handles: Vec<_> = (0..racers)
        .map(|i| {
            let kv = Arc::clone(&conns[i % 2]);
            let mirror = mirrors[i % 2].clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                stm::run(&kv, mirror.as_deref(), |tx| {
                    let live = tx.get("env_state", b"staging")?;
                    if live.as_deref() != Some(b"v1".as_slice()) {
                        return Err(StmFail::Refused(format!(
                            "expected v1, live is {}",
                            String::from_utf8_lossy(&live.unwrap_or_default())
                        )));
                    }
                    tx.put("env_state", b"staging", format!("racer-{i}"));
                    Ok(i)
                })
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let winners: Vec<usize> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(i, _)| *i))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, StmError::Refused(m) if m.starts_with("expected v1, live is racer-")),
                "{e}"
            );
        }
    }
    let (live, _) = conns[0].get("env_state", b"staging", None).expect("get");
    assert_eq!(
        live.expect("live").value,
        format!("racer-{}", winners[0]).into_bytes()
    );

    // A counter bumped by 12 threads on two connections: every id once, none lost.
    let threads = 12;
    let per = 10u64;
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let kv = Arc::clone(&conns[i % 2]);
            let mirror = mirrors[i % 2].clone();
            std::thread::spawn(move || {
                (0..per)
                    .map(|_| {
                        stm::run(&kv, mirror.as_deref(), |tx| {
                            let id = read_u64(tx.get("meta", b"last_deployment")?) + 1;
                            tx.put("meta", b"last_deployment", id.to_be_bytes());
                            tx.put("deployments", id.to_be_bytes(), format!("by thread {i}"));
                            Ok::<_, StmFail<String>>(id)
                        })
                        .map(|(id, _)| id)
                        .unwrap_or_else(|e| panic!("bump: {e}"))
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut ids: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    ids.sort_unstable();
    let total = threads as u64 * per;
    assert_eq!(
        ids,
        (1..=total).collect::<Vec<_>>(),
        "each id handed out once"
    );
    let (rows, _, _) = conns[1]
        .range("deployments", b"", None, false, 0, None)
        .expect("range");
    assert_eq!(rows.len() as u64, total, "one record per id");
    // With mirrors, each daemon's copy holds the last commit (read-your-writes after run).
    for m in mirrors.iter().flatten() {
        assert!(m.wait_for(
            conns[0].revision().expect("rev"),
            std::time::Duration::from_secs(10)
        ));
        let (v, _) = m.get("meta", b"last_deployment").expect("mirrored");
        assert_eq!(read_u64(Some(v)), total);
    }
}
