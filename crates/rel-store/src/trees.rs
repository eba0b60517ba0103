//! The sled trees, point reads that work both inside and outside a transaction ([`Kv`]),
//! and [`Tx`]: a transaction as an in-memory overlay over a read-only base.
//!
//! The rules (deploy, rollback, releases, ...) only do point `get`/`put`/`del` on a `Tx`.
//! Reads go to the transaction's own writes first, then to the writes of the requests before
//! it in the same batch ([`WriteSet`]), then to the committed store. Writes stay in the
//! overlay; the writer thread (`writer.rs`) merges an accepted transaction's writes into its
//! batch and commits the batch as blind writes, touching only the trees it wrote. A backend
//! with optimistic concurrency (etcd) would also record what each `get` read to guard the
//! commit; sled has one writer per data dir, so there is nothing to guard against.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sled::{IVec, Tree};

use rel_domain::{RelError, RelResult};

/// Every tree, in a fixed order (the index into [`Trees::trees`] and a transaction's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum T {
    Meta,
    Releases,
    Tags,
    Digests,
    Manifests,
    Blobs,
    BlobRefs,
    Envs,
    EnvState,
    Stack,
    OnStack,
    Holds,
    Deployments,
    DepByEnv,
    DepByRelease,
    LiveIn,
    EverLive,
    WasLiveIn,
    VerifiedIn,
    Audit,
    Executions,
    ExecByEnv,
    ExecWindow,
    Tokens,
    TokenHash,
    Events,
    Gov,
    Requests,
    RequestsDue,
}

pub const ALL: [T; 29] = [
    T::Meta,
    T::Releases,
    T::Tags,
    T::Digests,
    T::Manifests,
    T::Blobs,
    T::BlobRefs,
    T::Envs,
    T::EnvState,
    T::Stack,
    T::OnStack,
    T::Holds,
    T::Deployments,
    T::DepByEnv,
    T::DepByRelease,
    T::LiveIn,
    T::EverLive,
    T::WasLiveIn,
    T::VerifiedIn,
    T::Audit,
    T::Executions,
    T::ExecByEnv,
    T::ExecWindow,
    T::Tokens,
    T::TokenHash,
    T::Events,
    T::Gov,
    T::Requests,
    T::RequestsDue,
];

impl T {
    /// The tree with index `i` in [`ALL`] (the byte a write-ahead-log record stores).
    pub fn from_index(i: u8) -> Option<T> {
        ALL.get(i as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            T::Meta => "meta",
            T::Releases => "releases",
            T::Tags => "tags",
            T::Digests => "digests",
            T::Manifests => "manifests",
            T::Blobs => "blobs",
            T::BlobRefs => "blob_refs",
            T::Envs => "envs",
            T::EnvState => "env_state",
            T::Stack => "stack",
            T::OnStack => "on_stack",
            T::Holds => "holds",
            T::Deployments => "deployments",
            T::DepByEnv => "dep_by_env",
            T::DepByRelease => "dep_by_release",
            T::LiveIn => "live_in",
            T::EverLive => "ever_live",
            T::WasLiveIn => "was_live_in",
            T::VerifiedIn => "verified_in",
            T::Audit => "audit",
            T::Executions => "executions",
            T::ExecByEnv => "exec_by_env",
            T::ExecWindow => "exec_window",
            T::Tokens => "tokens",
            T::TokenHash => "token_hash",
            T::Events => "events",
            T::Gov => "gov",
            T::Requests => "requests",
            T::RequestsDue => "requests_due",
        }
    }
}

pub struct Trees {
    pub db: sled::Db,
    trees: Vec<Tree>,
}

pub fn storage_error(e: sled::Error) -> RelError {
    match e {
        sled::Error::Io(io) => RelError::unavailable(format!(
            "store: disk I/O failed ({io}); check free space and the disk, then retry"
        )),
        sled::Error::Corruption { .. } => RelError::internal(format!(
            "store: {e}; restore the data dir from a backup or an export"
        )),
        other => RelError::internal(format!("store: {other}")),
    }
}

impl Trees {
    pub fn open(db: sled::Db) -> Result<Trees, sled::Error> {
        let trees = ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Trees { db, trees })
    }

    pub fn tree(&self, t: T) -> &Tree {
        &self.trees[t as usize]
    }

    /// Apply a committed batch: one sled batch per tree it touched. Not atomic across trees
    /// by itself: readers are kept out by the store's gate, and after a crash the
    /// write-ahead log replays the whole batch (blind writes, so replaying is idempotent).
    pub fn apply(&self, w: &WriteSet) -> RelResult<()> {
        let mut per_tree: BTreeMap<T, sled::Batch> = BTreeMap::new();
        for ((t, k), v) in &w.map {
            let b = per_tree.entry(*t).or_default();
            match v {
                Some(v) => b.insert(k.as_slice(), v.clone()),
                None => b.remove(k.as_slice()),
            }
        }
        for (t, b) in per_tree {
            self.tree(t).apply_batch(b).map_err(storage_error)?;
        }
        Ok(())
    }
}

/// Errors inside a transaction: a refusal or failure from the rules (the transaction's writes
/// are discarded).
#[derive(Debug)]
pub enum TxError {
    Rel(RelError),
}

impl From<RelError> for TxError {
    fn from(e: RelError) -> Self {
        TxError::Rel(e)
    }
}

impl From<TxError> for RelError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Rel(r) => r,
        }
    }
}

/// Point reads, inside or outside a transaction.
pub trait Kv {
    type E: From<RelError>;
    fn get(&self, t: T, key: &[u8]) -> Result<Option<IVec>, Self::E>;
}

impl Kv for Trees {
    type E = RelError;
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>> {
        self.tree(t).get(key).map_err(storage_error)
    }
}

/// Blind writes (`None` deletes), ordered by tree and key.
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    pub map: BTreeMap<(T, Vec<u8>), Option<IVec>>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Later writes win.
    pub fn merge(&mut self, later: WriteSet) {
        self.map.extend(later.map);
    }

    fn lookup(&self, t: T, key: &[u8]) -> Option<&Option<IVec>> {
        // BTreeMap<(T, Vec<u8>)> cannot be queried by (T, &[u8]) without allocating;
        // the key is short, so the allocation is the cheap part of a lookup.
        self.map.get(&(t, key.to_vec()))
    }
}

/// One transaction: an overlay of writes over the batch before it and the committed store.
pub struct Tx<'a> {
    base: &'a Trees,
    batch: &'a WriteSet,
    own: RefCell<WriteSet>,
}

impl<'a> Tx<'a> {
    pub fn new(base: &'a Trees, batch: &'a WriteSet) -> Tx<'a> {
        Tx {
            base,
            batch,
            own: RefCell::new(WriteSet::default()),
        }
    }

    /// The committed store, for the few writes that must scan (prune, import). Only valid
    /// for a transaction run alone (`writer::Mode::Exclusive`): the batch before it is empty.
    pub fn committed(&self) -> &'a Trees {
        self.base
    }

    pub fn into_writes(self) -> WriteSet {
        self.own.into_inner()
    }

    pub fn put(&self, t: T, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.own
            .borrow_mut()
            .map
            .insert((t, key.as_ref().to_vec()), Some(IVec::from(value.as_ref())));
        Ok(())
    }

    pub fn del(&self, t: T, key: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.own
            .borrow_mut()
            .map
            .insert((t, key.as_ref().to_vec()), None);
        Ok(())
    }
}

impl Kv for Tx<'_> {
    type E = TxError;
    fn get(&self, t: T, key: &[u8]) -> Result<Option<IVec>, TxError> {
        if let Some(v) = self.own.borrow().lookup(t, key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.batch.lookup(t, key) {
            return Ok(v.clone());
        }
        Ok(self.base.get(t, key)?)
    }
}

impl Kv for std::sync::Arc<Trees> {
    type E = RelError;
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>> {
        self.as_ref().get(t, key)
    }
}
