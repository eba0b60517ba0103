//! The etcd backend's writer thread: the same group commit as `writer.rs`, with etcd as the
//! durable log instead of the write-ahead log and sled.
//!
//! A batch's rules run against the mirror at one revision (held for the run), each read
//! remembered with the revision that last changed the key (0: absent). The batch commits as
//! one etcd transaction: `If` every key read is unchanged `Then` the batch's writes. When
//! another daemon changed one of them first, nothing is written: the writer waits until the
//! mirror has that change and runs the batch's rules again on fresh reads. After a commit at
//! revision C it waits until the mirror has applied C (its events are published by then)
//! before answering anyone, so every daemon reads its own writes. Refusals and read-only
//! answers are checked the same way (a transaction of the guards alone), so an answer never
//! rests on a stale copy.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use rel_domain::RelError;

use crate::etcd::{EtcdError, EtcdKv, Guard, Mirror, Outcome, Write};
use crate::trees::{Reads, Trees, Tx, WriteSet};
use crate::writer::{Finish, Job, MAX_BATCH, Mode};

/// Attempts of one batch before giving up on keys other daemons keep changing.
const MAX_ATTEMPTS: usize = 64;
/// How long after finding etcd unreachable new requests fail at once.
const FAIL_FAST: Duration = Duration::from_secs(1);

pub struct Loop {
    pub kv: Arc<EtcdKv>,
    pub mirror: Arc<Mirror>,
    /// etcd's `--max-txn-ops`: a batch stops growing before its guards or writes exceed it.
    pub max_ops: usize,
    pending: VecDeque<Job>,
    /// Until when to fail fast, and with what, after etcd was found unreachable.
    down: Option<(Instant, RelError)>,
}

impl Loop {
    pub fn new(kv: Arc<EtcdKv>, mirror: Arc<Mirror>, max_ops: usize) -> Loop {
        Loop {
            kv,
            mirror,
            max_ops: max_ops.max(1),
            pending: VecDeque::new(),
            down: None,
        }
    }

    pub fn run(mut self, rx: Receiver<Job>) {
        loop {
            if self.pending.is_empty() {
                match rx.recv() {
                    Ok(j) => self.pending.push_back(j),
                    Err(_) => return,
                }
            }
            while self.pending.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => self.pending.push_back(j),
                    Err(_) => break,
                }
            }
            let mut jobs = Vec::new();
            while let Some(j) = self.pending.pop_front() {
                // An exclusive job (prune, import: they scan) runs alone.
                if j.mode == Mode::Exclusive && !jobs.is_empty() {
                    self.pending.push_front(j);
                    break;
                }
                let alone = j.mode == Mode::Exclusive;
                jobs.push(j);
                if alone || jobs.len() >= MAX_BATCH {
                    break;
                }
            }
            let rest = self.batch(jobs);
            for j in rest.into_iter().rev() {
                self.pending.push_front(j);
            }
        }
    }

    /// Commit what fits of `jobs` in one transaction; return the jobs that did not fit.
    fn batch(&mut self, mut jobs: Vec<Job>) -> Vec<Job> {
        let limit = self.kv.options().op_timeout;
        // Right after etcd was found unreachable, fail fast instead of making every queued
        // request (execution logs of triggers, above all) wait out the timeout again.
        if let Some((until, e)) = &self.down
            && Instant::now() < *until
        {
            let (_, _, finishes, _, _) = self.run_rules(&mut jobs);
            finish_all(finishes, Some(e.clone()));
            return Vec::new();
        }
        let mut pause = Duration::from_micros(500);
        for _ in 0..MAX_ATTEMPTS {
            // An exclusive job (prune, import) decides on scans: guard the whole store.
            let exclusive = jobs.first().is_some_and(|j| j.mode == Mode::Exclusive);
            let (set, reads, finishes, used, revision) = self.run_rules(&mut jobs);
            let rest = jobs.split_off(used);
            let guards: Vec<Guard> = reads
                .iter()
                .map(|((t, key), rev)| Guard {
                    tree: t.name(),
                    key: key.clone(),
                    mod_revision: *rev,
                })
                .collect();
            let writes: Vec<Write> = set
                .map
                .iter()
                .map(|((t, key), v)| match v {
                    Some(value) => Write::Put {
                        tree: t.name(),
                        key: key.clone(),
                        value: value.to_vec(),
                    },
                    None => Write::Delete {
                        tree: t.name(),
                        key: key.clone(),
                    },
                })
                .collect();
            if guards.is_empty() && writes.is_empty() && !exclusive {
                finish_all(finishes, None);
                return rest;
            }
            let since = exclusive.then_some(revision);
            match self.kv.txn_since(&guards, &writes, since) {
                Ok(Outcome::Committed { revision }) => {
                    self.down = None;
                    if !writes.is_empty() && !self.mirror.wait_for(revision, limit) {
                        tracing::warn!(
                            revision,
                            "etcd mirror is behind the commit it just made; answering anyway"
                        );
                    }
                    finish_all(finishes, None);
                    return rest;
                }
                Ok(Outcome::Conflict { revision }) => {
                    // Another daemon committed first: read again once the copy has it.
                    drop(finishes);
                    self.mirror.wait_for(revision, limit);
                    std::thread::sleep(pause.mul_f64(crate::etcd::stm::jitter()));
                    pause = (pause * 2).min(Duration::from_millis(20));
                    jobs.extend(rest);
                }
                Err(e) => {
                    tracing::warn!(error = %e, requests = finishes.len(), "etcd: a batch failed");
                    let unreachable = matches!(e, EtcdError::Unreachable { .. });
                    let e = e.into_rel();
                    if unreachable {
                        self.down = Some((Instant::now() + FAIL_FAST, e.clone()));
                    }
                    finish_all(finishes, Some(e));
                    return rest;
                }
            }
        }
        let e = RelError::unavailable(format!(
            "etcd: gave up after {MAX_ATTEMPTS} attempts: other daemons kept changing the same keys; nothing was changed, retry"
        ));
        let used = jobs.len();
        let (_, _, finishes, _, _) = self.run_rules(&mut jobs[..used]);
        finish_all(finishes, Some(e));
        Vec::new()
    }

    /// Run the rules of as many jobs as fit in one transaction, on the mirror at one
    /// revision: the batch's writes, the guarded reads, how to answer, how many ran, and a
    /// revision the view holds at least (the mirror's revision is published after its
    /// entries, so read under the view it is never ahead of them).
    fn run_rules(&self, jobs: &mut [Job]) -> (WriteSet, Reads, Vec<Finish>, usize, i64) {
        let view = self.mirror.view();
        let revision = self.mirror.revision();
        let base = Trees(&view);
        let mut set = WriteSet::default();
        let mut reads = Reads::new();
        let mut finishes = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter_mut().enumerate() {
            let tx = Tx::new(base, &set);
            // A bug in one request's rules must not take the writer down (see writer.rs).
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(&tx)));
            let (writes, read) = tx.into_parts();
            let Ok((keep, finish)) = ran else {
                tracing::error!("a store transaction panicked; its writes were dropped");
                continue;
            };
            let new_reads = read.keys().filter(|k| !reads.contains_key(*k)).count();
            let new_writes = if keep {
                writes
                    .map
                    .keys()
                    .filter(|k| !set.map.contains_key(*k))
                    .count()
            } else {
                0
            };
            if i > 0
                && (reads.len() + new_reads > self.max_ops || set.len() + new_writes > self.max_ops)
            {
                // Next batch; its answer is dropped unsent and it runs again there.
                drop(finish);
                return (set, reads, finishes, i, revision);
            }
            reads.extend(read);
            if keep {
                set.merge(writes);
            }
            finishes.push(finish);
        }
        let n = jobs.len();
        (set, reads, finishes, n, revision)
    }
}

fn finish_all(finishes: Vec<Finish>, err: Option<RelError>) {
    for f in finishes {
        f(err.clone());
    }
}
