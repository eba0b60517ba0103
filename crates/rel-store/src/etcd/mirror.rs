//! A local copy of chosen trees of the store, kept current by the watch, so a transaction's
//! reads cost no round trip: a deploy is then one etcd transaction, not one per key read.
//!
//! Every entry carries the revision that last changed it, so the STM still guards what it
//! read; a stale copy only costs a conflict and a retry after the copy caught up. Whole
//! etcd revisions (one transaction each) are applied under one lock, in revision order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{EtcdError, EtcdKv, WatchItem};

/// Keys read per page when loading a tree.
const PAGE: i64 = 1000;

type Entries = BTreeMap<(String, Vec<u8>), (Vec<u8>, i64)>;

#[derive(Default)]
struct State {
    /// Every change up to this revision is applied.
    revision: i64,
    entries: Entries,
}

struct Inner {
    state: Mutex<State>,
    advanced: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The copy; the thread that follows the watch stops when it is dropped.
pub struct Mirror {
    inner: Arc<Inner>,
    trees: BTreeSet<&'static str>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Mirror {
    /// Load `trees` at the current revision, then follow the watch from the next one.
    pub fn start(kv: Arc<EtcdKv>, trees: &[&'static str]) -> Result<Mirror, EtcdError> {
        let trees: BTreeSet<&'static str> = trees.iter().copied().collect();
        let revision = kv.revision()?;
        let entries = load(&kv, &trees, revision)?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State { revision, entries }),
            advanced: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (inner, stop, trees) = (Arc::clone(&inner), Arc::clone(&stop), trees.clone());
            std::thread::Builder::new()
                .name("etcd-mirror".into())
                .spawn(move || follow(kv, inner, trees, revision, stop))
                .map_err(|e| {
                    EtcdError::Options(format!("cannot start the etcd mirror thread: {e}"))
                })?
        };
        Ok(Mirror {
            inner,
            trees,
            stop,
            thread: Some(thread),
        })
    }

    /// Whether `tree` is mirrored.
    pub fn has(&self, tree: &str) -> bool {
        self.trees.contains(tree)
    }

    /// `key` of a mirrored tree: its value and mod revision, or None when absent.
    pub fn get(&self, tree: &str, key: &[u8]) -> Option<(Vec<u8>, i64)> {
        self.inner
            .lock()
            .entries
            .get(&(tree.to_string(), key.to_vec()))
            .cloned()
    }

    /// Every change up to this revision is in the copy.
    pub fn revision(&self) -> i64 {
        self.inner.lock().revision
    }

    /// Wait until the copy has every change up to `revision`; false after `limit`.
    pub fn wait_for(&self, revision: i64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = self.inner.lock();
        while st.revision < revision {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .inner
                .advanced
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        true
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn load(kv: &EtcdKv, trees: &BTreeSet<&'static str>, revision: i64) -> Result<Entries, EtcdError> {
    let mut entries = Entries::new();
    for tree in trees {
        let mut from = Vec::new();
        loop {
            let (page, more, _) = kv.range(tree, &from, None, false, PAGE, Some(revision))?;
            for e in page {
                from = e.key.clone();
                from.push(0); // the next page starts just after this key
                entries.insert((tree.to_string(), e.key), (e.value, e.mod_revision));
            }
            if !more {
                break;
            }
        }
    }
    Ok(entries)
}

fn follow(
    kv: Arc<EtcdKv>,
    inner: Arc<Inner>,
    trees: BTreeSet<&'static str>,
    revision: i64,
    stop: Arc<AtomicBool>,
) {
    let mut watcher = kv.watch(revision + 1);
    while !stop.load(Ordering::Relaxed) {
        // A short wait so a dropped mirror stops promptly.
        let Some(item) = watcher.next_blocking(Duration::from_millis(200)) else {
            continue;
        };
        match item {
            WatchItem::Progress { revision } => {
                let mut st = inner.lock();
                st.revision = st.revision.max(revision);
            }
            WatchItem::Changes { revision, changes } => {
                let mut st = inner.lock();
                for c in changes {
                    if !trees.contains(c.tree.as_str()) {
                        continue;
                    }
                    match c.value {
                        Some(v) => {
                            st.entries.insert((c.tree, c.key), (v, revision));
                        }
                        None => {
                            st.entries.remove(&(c.tree, c.key));
                        }
                    }
                }
                st.revision = revision;
            }
            WatchItem::Resync { .. } => {
                // Reload at a fresh revision and watch on from there; until then the copy
                // stays at its old revision (transactions that read it conflict and wait,
                // they never commit on stale reads).
                let mut pause = Duration::from_millis(50);
                let (entries, revision) = loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match kv.revision().and_then(|r| Ok((load(&kv, &trees, r)?, r))) {
                        Ok(x) => break x,
                        Err(e) => {
                            tracing::warn!(error = %e, "etcd mirror: reload failed; retrying");
                            std::thread::sleep(pause);
                            pause = (pause * 2).min(Duration::from_secs(1));
                        }
                    }
                };
                watcher = kv.watch(revision + 1);
                let mut st = inner.lock();
                st.entries = entries;
                st.revision = revision;
            }
        }
        inner.advanced.notify_all();
    }
}
