//! Follow a log tree (keys: big-endian u64 seq; values: records) through a watch, delivering
//! every record once, in seq order, with no gap: records the watch cannot deliver (a stream
//! that broke, history compacted under it) are read from the tree itself. This is how one
//! daemon sees the change events other daemons commit, in commit order.

use std::time::Duration;

use super::{EtcdError, EtcdKv, WatchItem, Watcher};
use crate::keys::{read_u64, u64k};

/// Records read per page when filling a gap.
const PAGE: i64 = 1000;

pub struct Follower<'a> {
    kv: &'a EtcdKv,
    tree: &'static str,
    watcher: Watcher,
    /// The seq of the last record delivered.
    last: u64,
    /// Records read but not yet delivered (the backlog at start, or a filled gap).
    ready: Vec<(u64, Vec<u8>)>,
}

impl<'a> Follower<'a> {
    /// Follow `tree` from the record after `after`.
    pub fn start(
        kv: &'a EtcdKv,
        tree: &'static str,
        after: u64,
    ) -> Result<Follower<'a>, EtcdError> {
        let revision = kv.revision()?;
        let mut f = Follower {
            kv,
            tree,
            watcher: kv.watch(revision + 1),
            last: after,
            ready: Vec::new(),
        };
        f.fill(u64::MAX, Some(revision))?;
        Ok(f)
    }

    /// Follow `tree` from the record after `after`, watching from `revision + 1` (the caller
    /// has read everything up to `revision`). If etcd has compacted that far back, the gap is
    /// read from the tree.
    pub fn start_from(
        kv: &'a EtcdKv,
        tree: &'static str,
        after: u64,
        revision: i64,
    ) -> Follower<'a> {
        Follower {
            kv,
            tree,
            watcher: kv.watch(revision + 1),
            last: after,
            ready: Vec::new(),
        }
    }

    /// The seq of the last record delivered.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The next records in seq order (at least one), waiting at most `limit` (then empty).
    pub fn next_blocking(&mut self, limit: Duration) -> Result<Vec<(u64, Vec<u8>)>, EtcdError> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if !self.ready.is_empty() {
                return Ok(std::mem::take(&mut self.ready));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            match self.watcher.next_blocking(left) {
                None => return Ok(Vec::new()),
                Some(WatchItem::Progress { .. }) => {}
                Some(WatchItem::Resync { revision }) => self.fill(u64::MAX, Some(revision))?,
                Some(WatchItem::Changes { revision, changes }) => {
                    for c in changes {
                        if c.tree != self.tree {
                            continue;
                        }
                        let (Some(seq), Some(value)) = (read_u64(&c.key), c.value) else {
                            continue; // a delete: retention dropping an old record
                        };
                        if seq <= self.last {
                            continue;
                        }
                        if seq > self.last + 1 {
                            self.fill(seq, Some(revision))?;
                        }
                        // Past the gap (records retention already dropped are simply absent).
                        if seq > self.last {
                            self.ready.push((seq, value));
                            self.last = seq;
                        }
                    }
                }
            }
        }
    }

    /// Read records `(last, until)` from the tree at `revision` into `ready`.
    fn fill(&mut self, until: u64, revision: Option<i64>) -> Result<(), EtcdError> {
        loop {
            let from = u64k(self.last + 1);
            let to = (until != u64::MAX).then(|| u64k(until));
            let (page, more, _) = self.kv.range(
                self.tree,
                &from,
                to.as_ref().map(|k| &k[..]),
                false,
                PAGE,
                revision,
            )?;
            for e in page {
                let Some(seq) = read_u64(&e.key) else {
                    continue;
                };
                if seq > self.last {
                    self.ready.push((seq, e.value));
                    self.last = seq;
                }
            }
            if !more {
                return Ok(());
            }
        }
    }
}
