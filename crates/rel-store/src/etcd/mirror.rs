//! A local copy of chosen trees of the store, kept current by the watch, so a transaction's
//! reads cost no round trip: a deploy is then one etcd transaction, not one per key read.
//!
//! Every entry carries the revision that last changed it, so the STM still guards what it
//! read; a stale copy only costs a conflict and a retry after the copy caught up. Whole
//! etcd revisions (one transaction each) are applied under one lock, in revision order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sled::IVec;

use rel_domain::RelResult;

use super::{Change, EtcdError, EtcdKv, WatchItem};
use crate::trees::{Base, Scan, T};

/// Keys read per page when loading a tree.
const PAGE: i64 = 1000;

/// One tree: key → (value, the revision that last changed it).
type Tree = BTreeMap<Vec<u8>, (Vec<u8>, i64)>;
type Entries = HashMap<String, Tree>;

/// What the follower just applied, for a [`Listener`].
pub enum Applied<'a> {
    /// The changes of one etcd revision.
    Changes(&'a [Change]),
    /// The whole copy was reloaded (the watch fell behind a compaction).
    Reloaded,
}

/// Called by the follower after each applied revision, with the copy as of it, before
/// waiters for that revision are woken (so whatever it publishes precedes their answers).
pub type Listener = Box<dyn Fn(&MirrorView<'_>, Applied<'_>) + Send + Sync>;

struct Inner {
    entries: RwLock<Entries>,
    /// Every change up to this revision is applied.
    revision: Mutex<i64>,
    advanced: Condvar,
    listener: RwLock<Option<Listener>>,
}

impl Inner {
    fn revision(&self) -> MutexGuard<'_, i64> {
        self.revision.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Tell the listener, then wake the waiters.
    fn advance(&self, revision: i64, applied: Option<Applied<'_>>) {
        if let Some(applied) = applied
            && let Some(l) = self
                .listener
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
        {
            let view = MirrorView { e: self.read() };
            l(&view, applied);
        }
        let mut r = self.revision();
        *r = (*r).max(revision);
        drop(r);
        self.advanced.notify_all();
    }
}

/// The copy; the thread that follows the watch stops when it is dropped.
pub struct Mirror {
    inner: Arc<Inner>,
    trees: BTreeSet<&'static str>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The copy at one revision, for as long as it is held (the follower waits meanwhile): the
/// etcd backend's committed store ([`Base`]).
pub struct MirrorView<'a> {
    e: RwLockReadGuard<'a, Entries>,
}

impl MirrorView<'_> {
    fn entry(&self, t: T, key: &[u8]) -> Option<&(Vec<u8>, i64)> {
        self.e.get(t.name())?.get(key)
    }
}

/// Whether a range is one `BTreeMap::range` accepts (it panics on an inverted one; sled
/// returns nothing).
fn well_formed(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a < b,
        _ => true,
    }
}

impl Base for MirrorView<'_> {
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>> {
        Ok(self.entry(t, key).map(|(v, _)| IVec::from(v.as_slice())))
    }

    fn scan<'a>(&'a self, t: T, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Scan<'a> {
        match self.e.get(t.name()) {
            Some(tree) if well_formed(lo, hi) => Box::new(
                tree.range::<[u8], _>((lo, hi))
                    .map(|(k, (v, _))| Ok((IVec::from(k.as_slice()), IVec::from(v.as_slice())))),
            ),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn get_guarded(&self, t: T, key: &[u8]) -> Option<(Option<IVec>, i64)> {
        Some(match self.entry(t, key) {
            Some((v, rev)) => (Some(IVec::from(v.as_slice())), *rev),
            None => (None, 0),
        })
    }
}

impl Mirror {
    /// Load `trees` at the current revision, then follow the watch from the next one.
    pub fn start(kv: Arc<EtcdKv>, trees: &[&'static str]) -> Result<Mirror, EtcdError> {
        let trees: BTreeSet<&'static str> = trees.iter().copied().collect();
        let revision = kv.revision()?;
        let entries = load(&kv, &trees, revision)?;
        let inner = Arc::new(Inner {
            entries: RwLock::new(entries),
            revision: Mutex::new(revision),
            advanced: Condvar::new(),
            listener: RwLock::new(None),
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

    /// Set what is told about every applied revision from now on.
    pub fn set_listener(&self, l: Listener) {
        *self
            .inner
            .listener
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(l);
    }

    /// Whether `tree` is mirrored.
    pub fn has(&self, tree: &str) -> bool {
        self.trees.contains(tree)
    }

    /// `key` of a mirrored tree: its value and mod revision, or None when absent.
    pub fn get(&self, tree: &str, key: &[u8]) -> Option<(Vec<u8>, i64)> {
        self.inner.read().get(tree)?.get(key).cloned()
    }

    /// The copy at one revision, until the view is dropped.
    pub fn view(&self) -> MirrorView<'_> {
        MirrorView {
            e: self.inner.read(),
        }
    }

    /// Every change up to this revision is in the copy.
    pub fn revision(&self) -> i64 {
        *self.inner.revision()
    }

    /// Wait until the copy has every change up to `revision`; false after `limit`.
    pub fn wait_for(&self, revision: i64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = self.inner.revision();
        while *st < revision {
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
                entries
                    .entry(tree.to_string())
                    .or_default()
                    .insert(e.key, (e.value, e.mod_revision));
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
            WatchItem::Progress { revision } => inner.advance(revision, None),
            WatchItem::Changes { revision, changes } => {
                {
                    let mut e = inner.entries.write().unwrap_or_else(|e| e.into_inner());
                    for c in &changes {
                        if !trees.contains(c.tree.as_str()) {
                            continue;
                        }
                        match &c.value {
                            Some(v) => {
                                e.entry(c.tree.clone())
                                    .or_default()
                                    .insert(c.key.clone(), (v.clone(), revision));
                            }
                            None => {
                                if let Some(t) = e.get_mut(&c.tree) {
                                    t.remove(&c.key);
                                }
                            }
                        }
                    }
                }
                inner.advance(revision, Some(Applied::Changes(&changes)));
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
                *inner.entries.write().unwrap_or_else(|e| e.into_inner()) = entries;
                inner.advance(revision, Some(Applied::Reloaded));
            }
        }
    }
}
