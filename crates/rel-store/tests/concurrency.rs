//! Concurrent deployers with the same `--expect`: exactly one wins, the rest get Conflict,
//! and the history and stack agree afterwards.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use rel_domain::model::*;
use rel_domain::{ErrorCode, Store};

#[test]
fn same_expect_has_exactly_one_winner() {
    const N: usize = 8;
    let (_d, s) = open();
    release_with(&s, "base", config_no_checks("base"), 0);
    for i in 0..N {
        release_with(
            &s,
            &format!("c{i}"),
            config_no_checks(&format!("c{i}")),
            1 + i as i64,
        );
    }
    deploy(&s, "base", "staging", &deployer(), 20).expect("base");
    let s = Arc::new(s);
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let req = DeployRequest {
                    expect: Some("base".into()),
                    ..deploy_req(&format!("c{i}"), "staging")
                };
                barrier.wait();
                (i, s.deploy(&req, &deployer(), t(30 + i as i64)))
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (_, r) in &results {
        if let Err(e) = r {
            assert_eq!(e.code, ErrorCode::Conflict, "{e:?}");
            assert!(
                e.message.contains("not base (--expect); nothing changed"),
                "{}",
                e.message
            );
        }
    }
    let (wi, w) = winners[0];
    let won = w.as_ref().expect("winner");
    assert!(won.changed);
    assert_eq!(won.deployment.previous.as_deref(), Some("base"));
    let winner_tag = format!("c{wi}");
    assert_eq!(live(&s, "staging"), Some(winner_tag.clone()));
    // History: the base deploy and the one winner, nothing else.
    let h = s.history("staging", 0, None).expect("history");
    assert_eq!(
        h.iter().map(|d| d.release.clone()).collect::<Vec<_>>(),
        [winner_tag.clone(), "base".to_string()]
    );
    assert_eq!(s.status().expect("status").deployments, 2);
    // The stack agrees: one rollback gets back to base, then nothing.
    assert_eq!(
        s.environment("staging")
            .expect("env")
            .rollback_to
            .as_deref(),
        Some("base")
    );
    s.rollback(&rollback_req("staging"), &deployer(), t(50))
        .expect("rollback");
    assert_eq!(live(&s, "staging").as_deref(), Some("base"));
    assert!(
        s.rollback(&rollback_req("staging"), &deployer(), t(51))
            .is_err()
    );
    for i in 0..N {
        let want = if i == *wi {
            ReleaseState::Superseded
        } else {
            ReleaseState::Ready
        };
        assert_eq!(state_of(&s, &format!("c{i}")).0, want, "c{i}");
    }
    assert!(s.verify_audit().expect("verify").ok);
}

#[test]
fn concurrent_mixed_writers_keep_the_chain_and_counters_consistent() {
    let (_d, s) = open();
    for i in 0..4 {
        release_with(&s, &format!("r{i}"), config_no_checks(&format!("r{i}")), i);
    }
    let s = Arc::new(s);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for j in 0..25 {
                    let tag = format!("r{}", (i + j) % 4);
                    let _ = deploy(&s, &tag, "staging", &deployer(), 100 + j);
                    if j % 5 == 4 {
                        let _ = s.rollback(&rollback_req("staging"), &deployer(), t(200 + j));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let report = s.verify_audit().expect("verify");
    assert!(report.ok, "{report:?}");
    let history = s.history("staging", 0, None).expect("history");
    assert_eq!(
        history.len() as u64,
        s.status().expect("status").deployments
    );
    // Ids are dense and newest first; the live release is the one the newest record made live.
    for w in history.windows(2) {
        assert_eq!(w[0].id, w[1].id + 1);
        assert_eq!(
            w[0].previous.as_deref(),
            Some(w[1].release.as_str()),
            "each record starts where the last ended"
        );
    }
    assert_eq!(
        live(&s, "staging"),
        history.first().map(|d| d.release.clone())
    );
}

/// Many more writers than cores: the writer syncs batch N on its sync thread while it runs
/// batch N+1's rules on top of N's writes (not yet in sled). If N+1 read sled instead, ids
/// would repeat and a record would not start where the one before it ended.
#[test]
fn pipelined_batches_see_the_batch_before_them() {
    let (_d, s) = open();
    for i in 0..4 {
        release_with(&s, &format!("r{i}"), config_no_checks(&format!("r{i}")), i);
    }
    let s = Arc::new(s);
    let before = s.status().expect("status").deployments;
    let threads = 16u64;
    let per = 30u64;
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut changed = 0u64;
                for j in 0..per {
                    let tag = format!("r{}", (i + j) % 4);
                    if let Ok(o) = deploy(&s, &tag, "staging", &deployer(), 100 + j as i64)
                        && o.changed
                    {
                        changed += 1;
                    }
                }
                changed
            })
        })
        .collect();
    let changed: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert!(
        changed > threads,
        "the deployers mostly changed something: {changed}"
    );
    let status = s.status().expect("status");
    assert_eq!(status.deployments, before + changed, "one id per change");
    let history = s.history("staging", 0, None).expect("history");
    assert_eq!(history.len() as u64, status.deployments);
    for w in history.windows(2) {
        assert_eq!(w[0].id, w[1].id + 1);
        assert_eq!(w[0].previous.as_deref(), Some(w[1].release.as_str()));
    }
    assert!(s.verify_audit().expect("verify").ok);
}

/// A lone request commits on its own thread when the loop is idle (leader), others queue to
/// the writer thread; a prune (run alone, on sled itself) must never overlap either. Deployers
/// and pruners racing: ids stay dense, every record starts where the one before ended, the
/// audit chain verifies, and the releases a prune kept (live or stacked) are all still there.
#[test]
fn leaders_queued_writers_and_exclusive_prunes_never_overlap() {
    let (_d, s) = open();
    for i in 0..6 {
        release_with(&s, &format!("r{i}"), config_no_checks(&format!("r{i}")), i);
    }
    let s = Arc::new(s);
    let handles: Vec<_> = (0..4u64)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for j in 0..25u64 {
                    let tag = format!("r{}", (i + j) % 3);
                    let _ = deploy(&s, &tag, "staging", &deployer(), 100 + j as i64);
                }
            })
        })
        .collect();
    let pruner = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            let mut pruned = 0usize;
            for k in 0..10 {
                let r = s.prune(1, false, &admin(), t(300 + k)).expect("prune");
                pruned += r.removed.len();
            }
            pruned
        })
    };
    for h in handles {
        h.join().expect("deployer");
    }
    pruner.join().expect("pruner");
    let status = s.status().expect("status");
    let history = s.history("staging", 0, None).expect("history");
    assert_eq!(history.len() as u64, status.deployments);
    for w in history.windows(2) {
        assert_eq!(w[0].id, w[1].id + 1, "ids are dense");
        assert_eq!(w[0].previous.as_deref(), Some(w[1].release.as_str()));
    }
    let live = live(&s, "staging").expect("something is live");
    s.release(&live)
        .expect("the live release survived every prune");
    assert!(s.verify_audit().expect("verify").ok);
}

/// Whoever commits (a caller leading, or the writer thread draining the queue, pipelined),
/// the change sink gets every stored event once, in seq order with no gap, and a deployer
/// hears its answer only after the event of its deployment was published.
#[test]
fn events_reach_the_sink_in_seq_order_before_the_answer_whoever_commits() {
    let (_d, s) = open();
    for i in 0..4 {
        release_with(&s, &format!("r{i}"), config_no_checks(&format!("r{i}")), i);
    }
    let first = s.last_change().expect("last change") + 1;
    let published = Arc::new(std::sync::Mutex::new(Vec::<(u64, Option<u64>)>::new()));
    {
        let p = Arc::clone(&published);
        s.set_change_sink(Box::new(move |evs| {
            let mut p = p.lock().expect("lock");
            for e in evs {
                let dep = match &e.change {
                    Change::Deployed(d) => Some(d.id),
                    _ => None,
                };
                p.push((e.seq, dep));
            }
        }));
    }
    let s = Arc::new(s);
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            let s = Arc::clone(&s);
            let p = Arc::clone(&published);
            std::thread::spawn(move || {
                for j in 0..20u64 {
                    let tag = format!("r{}", (i + j) % 4);
                    let Ok(o) = deploy(&s, &tag, "staging", &deployer(), 100 + j as i64) else {
                        continue;
                    };
                    if o.changed {
                        let id = o.deployment.id;
                        assert!(
                            p.lock().expect("lock").iter().any(|(_, d)| *d == Some(id)),
                            "deployment {id} answered before its event was published"
                        );
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("deployer");
    }
    let published = published.lock().expect("lock").clone();
    let seqs: Vec<u64> = published.iter().map(|(q, _)| *q).collect();
    let want: Vec<u64> = (first..first + seqs.len() as u64).collect();
    assert_eq!(seqs, want, "published once each, in seq order, no gap");
    let stored: Vec<u64> = s
        .changes_since(first - 1, 10_000)
        .expect("changes")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(stored, want, "what was published is what is stored");
    assert!(!seqs.is_empty());
}
