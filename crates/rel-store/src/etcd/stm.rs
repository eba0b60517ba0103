//! Software transactional memory over etcd (etcd's STM pattern): run a pure closure, remember
//! the revision of every key it read (0 for a key read as absent), commit its writes only if
//! none of those keys changed since, and run it again on fresh reads if one did.
//!
//! Reads come from the attempt's own writes, then from what it already read, then from the
//! [`Mirror`] for the trees it holds (no round trip) or from etcd. Because every read is
//! guarded, a commit is serializable whatever the reads' ages. An answer that commits nothing
//! — a refusal, or a read-only result — is checked the same way (an etcd transaction of the
//! guards alone) so it too reflects one committed state, never a mix or a stale copy.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{EtcdError, EtcdKv, Guard, Mirror, Outcome, Write};

/// Attempts before giving up on keys that others keep changing.
pub const MAX_ATTEMPTS: usize = 64;

type Key = (&'static str, Vec<u8>);
/// A value read (None: absent) and the revision that last changed it (0: absent).
type Read = (Option<Vec<u8>>, i64);

/// One attempt's view: guarded reads, buffered writes.
pub struct StmTx<'a> {
    kv: &'a EtcdKv,
    mirror: Option<&'a Mirror>,
    reads: RefCell<BTreeMap<Key, Read>>,
    writes: RefCell<BTreeMap<Key, Option<Vec<u8>>>>,
}

impl<'a> StmTx<'a> {
    fn new(kv: &'a EtcdKv, mirror: Option<&'a Mirror>) -> StmTx<'a> {
        StmTx {
            kv,
            mirror,
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
        let (value, rev) = match self.mirror.filter(|m| m.has(tree)) {
            Some(m) => match m.get(tree, key) {
                Some((v, rev)) => (Some(v), rev),
                None => (None, 0),
            },
            None => match self.kv.get(tree, key, None)?.0 {
                Some(e) => (Some(e.value), e.mod_revision),
                None => (None, 0),
            },
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

    fn guards(&self) -> Vec<Guard> {
        self.reads
            .borrow()
            .iter()
            .map(|((tree, key), (_, mod_revision))| Guard {
                tree,
                key: key.clone(),
                mod_revision: *mod_revision,
            })
            .collect()
    }

    fn writes(&self) -> Vec<Write> {
        self.writes
            .borrow()
            .iter()
            .map(|((tree, key), v)| match v {
                Some(value) => Write::Put {
                    tree,
                    key: key.clone(),
                    value: value.clone(),
                },
                None => Write::Delete {
                    tree,
                    key: key.clone(),
                },
            })
            .collect()
    }
}

/// Why an STM run ended without committing.
#[derive(Debug, thiserror::Error)]
pub enum StmError<E> {
    /// The closure refused on committed state (nothing was written).
    #[error("{0}")]
    Refused(E),
    #[error(transparent)]
    Etcd(EtcdError),
    #[error("etcd: gave up after {0} attempts: other writers kept changing the same keys; retry")]
    Contended(usize),
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

/// Run `f` until it commits (its result and the revision it committed at; 0 when it wrote
/// nothing), refuses on committed state, or fails. `f` must be pure: it may run several times.
/// With a mirror, a commit returns once the mirror holds it (this daemon reads its own writes).
pub fn run<A, E>(
    kv: &EtcdKv,
    mirror: Option<&Mirror>,
    mut f: impl FnMut(&StmTx<'_>) -> Result<A, StmFail<E>>,
) -> Result<(A, i64), StmError<E>> {
    let limit = kv.options().op_timeout;
    let mut pause = Duration::from_micros(200);
    for _ in 0..MAX_ATTEMPTS {
        let tx = StmTx::new(kv, mirror);
        let result = f(&tx);
        let writes = tx.writes();
        let (result, writes) = match result {
            Ok(a) => (Ok(a), writes),
            Err(StmFail::Refused(e)) => (Err(e), Vec::new()),
            Err(StmFail::Etcd(EtcdError::Compacted)) => continue,
            Err(StmFail::Etcd(e)) => return Err(StmError::Etcd(e)),
        };
        let guards = tx.guards();
        let outcome = if writes.is_empty() && guards.is_empty() {
            Outcome::Committed { revision: 0 }
        } else {
            kv.txn(&guards, &writes).map_err(StmError::Etcd)?
        };
        match outcome {
            Outcome::Committed { revision } => {
                if let Some(m) = mirror
                    && !writes.is_empty()
                    && !m.wait_for(revision, limit)
                {
                    tracing::warn!(revision, "etcd mirror is behind the commit it just made");
                }
                let revision = if writes.is_empty() { 0 } else { revision };
                return match result {
                    Ok(a) => Ok((a, revision)),
                    Err(e) => Err(StmError::Refused(e)),
                };
            }
            Outcome::Conflict { revision } => {
                // Someone committed first: read again once the copy has their change.
                if let Some(m) = mirror {
                    m.wait_for(revision, limit);
                }
                // Jittered back-off keeps a crowd on one key from retrying in lockstep.
                std::thread::sleep(pause.mul_f64(jitter()));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
    Err(StmError::Contended(MAX_ATTEMPTS))
}

/// A factor in [0.5, 1.5) from the clock's nanoseconds (no RNG dependency needed to
/// de-synchronise retries).
pub(crate) fn jitter() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    0.5 + f64::from(n % 1000) / 1000.0
}
