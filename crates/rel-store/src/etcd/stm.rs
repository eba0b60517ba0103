//! Software transactional memory over etcd (etcd's STM pattern): run a pure closure against a
//! consistent snapshot, remember the revision of every key it read, commit its writes only if
//! none of those keys changed since, and run it again on fresh reads if one did.
//!
//! Reads are served, in order, from the attempt's own writes, from what it already read, and
//! from etcd at one pinned revision (the first read of an attempt is linearizable and pins it),
//! so a refusal the closure returns is based on one committed state, never on a mix.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{EtcdError, EtcdKv, Guard, Outcome, Write};

/// Attempts before giving up on a key that others keep changing.
pub const MAX_ATTEMPTS: usize = 64;

type Key = (&'static str, Vec<u8>);
/// A value read (None: absent) and the revision that last changed it (0: absent).
type Read = (Option<Vec<u8>>, i64);

/// One attempt's view: reads at a pinned revision, buffered writes.
pub struct StmTx<'a> {
    kv: &'a EtcdKv,
    revision: RefCell<Option<i64>>,
    /// Key → value read and its mod revision (0: absent).
    reads: RefCell<BTreeMap<Key, Read>>,
    writes: RefCell<BTreeMap<Key, Option<Vec<u8>>>>,
}

impl<'a> StmTx<'a> {
    fn new(kv: &'a EtcdKv) -> StmTx<'a> {
        StmTx {
            kv,
            revision: RefCell::new(None),
            reads: RefCell::new(BTreeMap::new()),
            writes: RefCell::new(BTreeMap::new()),
        }
    }

    /// The value of `key` in `tree` as this transaction sees it.
    pub fn get(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, EtcdError> {
        let k = (tree, key.to_vec());
        if let Some(v) = self.writes.borrow().get(&k) {
            return Ok(v.clone());
        }
        if let Some((v, _)) = self.reads.borrow().get(&k) {
            return Ok(v.clone());
        }
        let pinned = *self.revision.borrow();
        let (entry, at) = self.kv.get(tree, key, pinned)?;
        if pinned.is_none() {
            *self.revision.borrow_mut() = Some(at);
        }
        let (value, rev) = match entry {
            Some(e) => (Some(e.value), e.mod_revision),
            None => (None, 0),
        };
        self.reads.borrow_mut().insert(k, (value.clone(), rev));
        Ok(value)
    }

    pub fn put(&self, tree: &'static str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.writes
            .borrow_mut()
            .insert((tree, key.as_ref().to_vec()), Some(value.as_ref().to_vec()));
    }

    pub fn del(&self, tree: &'static str, key: impl AsRef<[u8]>) {
        self.writes
            .borrow_mut()
            .insert((tree, key.as_ref().to_vec()), None);
    }

    /// The revision this attempt reads at (None before its first read).
    pub fn revision(&self) -> Option<i64> {
        *self.revision.borrow()
    }

    fn commit(self) -> Result<Outcome, EtcdError> {
        let guards: Vec<Guard> = self
            .reads
            .into_inner()
            .into_iter()
            .map(|((tree, key), (_, mod_revision))| Guard {
                tree,
                key,
                mod_revision,
            })
            .collect();
        let writes: Vec<Write> = self
            .writes
            .into_inner()
            .into_iter()
            .map(|((tree, key), v)| match v {
                Some(value) => Write::Put { tree, key, value },
                None => Write::Delete { tree, key },
            })
            .collect();
        if writes.is_empty() {
            // Read-only: the snapshot it read was committed; nothing to guard.
            return Ok(Outcome::Committed { revision: 0 });
        }
        self.kv.txn(&guards, &writes)
    }
}

/// Why an STM run ended without committing.
#[derive(Debug, thiserror::Error)]
pub enum StmError<E> {
    /// The closure refused (nothing was written).
    #[error("{0}")]
    Refused(E),
    #[error(transparent)]
    Etcd(EtcdError),
    #[error("etcd: gave up after {0} attempts: other writers kept changing the same keys; retry")]
    Contended(usize),
}

/// Run `f` until it commits (its result, and the revision it committed at), refuses, or fails.
/// `f` must be pure: it may run several times. A read that hits a compacted revision restarts
/// the attempt at a fresh one.
pub fn run<A, E>(
    kv: &EtcdKv,
    mut f: impl FnMut(&StmTx<'_>) -> Result<A, StmFail<E>>,
) -> Result<(A, i64), StmError<E>> {
    let mut pause = Duration::from_micros(200);
    for _ in 0..MAX_ATTEMPTS {
        let tx = StmTx::new(kv);
        let a = match f(&tx) {
            Ok(a) => a,
            Err(StmFail::Refused(e)) => return Err(StmError::Refused(e)),
            Err(StmFail::Etcd(EtcdError::Compacted)) => continue,
            Err(StmFail::Etcd(e)) => return Err(StmError::Etcd(e)),
        };
        match tx.commit() {
            Ok(Outcome::Committed { revision }) => return Ok((a, revision)),
            Ok(Outcome::Conflict { .. }) => {
                // Jittered back-off keeps a crowd on one key from retrying in lockstep.
                std::thread::sleep(pause + jitter(pause));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(StmError::Etcd(e)),
        }
    }
    Err(StmError::Contended(MAX_ATTEMPTS))
}

/// What the closure returns instead of a value: its own refusal, or an etcd failure from a
/// read (`?` on [`StmTx::get`] gives the latter).
#[derive(Debug)]
pub enum StmFail<E> {
    Refused(E),
    Etcd(EtcdError),
}

impl<E> From<EtcdError> for StmFail<E> {
    fn from(e: EtcdError) -> Self {
        StmFail::Etcd(e)
    }
}

fn jitter(d: Duration) -> Duration {
    // No RNG dependency: the clock's nanoseconds are random enough to de-synchronise retries.
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d.mul_f64(f64::from(n % 1000) / 1000.0)
}
