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
//!
//! The committed store is read through [`Base`], the backend boundary: sled's trees
//! ([`SledTrees`]) or the etcd mirror (`etcd::Mirror`). [`Trees`] is the handle the read
//! side takes; it exposes one tree at a time ([`TreeView`]) with sled-like point reads and
//! ordered scans, so the rules and the read paths are written once for both backends.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

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

/// One scanned entry; sled's error type, which the in-memory etcd mirror never returns.
pub type Item = Result<(IVec, IVec), sled::Error>;
/// An ordered scan of one tree (reversible: newest-first listings).
pub type Scan<'a> = Box<dyn DoubleEndedIterator<Item = Item> + 'a>;

/// The committed store as the rules and the read paths see it: one backend (sled, or the
/// etcd mirror at one revision).
pub trait Base: Sync {
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>>;
    /// Keys of `t` within the bounds, in key order.
    fn scan<'a>(&'a self, t: T, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Scan<'a>;
    /// The value and the revision that last changed it (0: absent), for a backend whose
    /// commits are guarded by what the transaction read (etcd); None when it is not.
    fn get_guarded(&self, _t: T, _key: &[u8]) -> Option<(Option<IVec>, i64)> {
        None
    }
}

/// The read side's handle on the committed store.
#[derive(Clone, Copy)]
pub struct Trees<'a>(pub &'a dyn Base);

/// One tree of a [`Trees`], with sled's reading methods.
pub struct TreeView<'a> {
    base: &'a dyn Base,
    t: T,
}

impl<'a> Trees<'a> {
    pub fn tree(&self, t: T) -> TreeView<'a> {
        TreeView { base: self.0, t }
    }
}

fn bound<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<'a> TreeView<'a> {
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, sled::Error> {
        self.base
            .get(self.t, key.as_ref())
            .map_err(|e| sled::Error::Io(std::io::Error::other(e.message)))
    }

    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, sled::Error> {
        Ok(self.get(key)?.is_some())
    }

    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Scan<'a> {
        self.base
            .scan(self.t, bound(range.start_bound()), bound(range.end_bound()))
    }

    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Scan<'a> {
        let prefix = prefix.as_ref();
        let end = prefix_end(prefix);
        let hi = match &end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        self.base.scan(self.t, Bound::Included(prefix), hi)
    }

    pub fn iter(&self) -> Scan<'a> {
        self.base.scan(self.t, Bound::Unbounded, Bound::Unbounded)
    }
}

/// The smallest key above every key starting with `prefix` (None: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// sled's trees: the embedded backend.
pub struct SledTrees {
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

impl SledTrees {
    pub fn open(db: sled::Db) -> Result<SledTrees, sled::Error> {
        let trees = ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SledTrees { db, trees })
    }

    pub fn view(&self) -> Trees<'_> {
        Trees(self)
    }

    pub fn tree(&self, t: T) -> &Tree {
        &self.trees[t as usize]
    }

    /// Apply a committed batch, key by key. Not atomic across keys by itself: readers are
    /// kept out by the store's gate, and after a crash the write-ahead log replays the whole
    /// batch (blind writes, so replaying is idempotent). Plain inserts, not sled's
    /// `apply_batch`: each of those rolls sled's I/O buffer twice (two `pwrite` +
    /// `sync_file_range` on sled's threads per tree touched, ~20 per deploy), an atomicity
    /// the log already gives, paid for on the disk our log syncs on.
    pub fn apply(&self, w: &WriteSet) -> RelResult<()> {
        for ((t, k), v) in &w.map {
            let tree = self.tree(*t);
            match v {
                Some(v) => tree.insert(k.as_slice(), v.clone()),
                None => tree.remove(k.as_slice()),
            }
            .map_err(storage_error)?;
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

impl Base for SledTrees {
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>> {
        self.tree(t).get(key).map_err(storage_error)
    }

    fn scan<'a>(&'a self, t: T, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Scan<'a> {
        let own = |b: Bound<&[u8]>| match b {
            Bound::Included(k) => Bound::Included(IVec::from(k)),
            Bound::Excluded(k) => Bound::Excluded(IVec::from(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        Box::new(self.tree(t).range::<IVec, _>((own(lo), own(hi))))
    }
}

impl Kv for SledTrees {
    type E = RelError;
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>> {
        self.tree(t).get(key).map_err(storage_error)
    }
}

impl Kv for Trees<'_> {
    type E = RelError;
    fn get(&self, t: T, key: &[u8]) -> RelResult<Option<IVec>> {
        self.0.get(t, key)
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

    /// Whether it writes anything in tree `t`.
    pub fn touches(&self, t: T) -> bool {
        self.map
            .range((t, Vec::new())..)
            .next()
            .is_some_and(|((tt, _), _)| *tt == t)
    }

    /// Later writes win.
    pub fn merge(&mut self, later: WriteSet) {
        self.map.extend(later.map);
    }

    fn lookup(&self, k: &(T, Vec<u8>)) -> Option<&Option<IVec>> {
        self.map.get(k)
    }
}

/// What a transaction read from the committed store: key → the revision that last changed
/// it (0: absent). Only kept for a guarded backend (etcd), whose commit checks them.
pub type Reads = BTreeMap<(T, Vec<u8>), i64>;

/// One transaction: an overlay of writes over the batch before it and the committed store.
pub struct Tx<'a> {
    base: Trees<'a>,
    batch: &'a WriteSet,
    /// A batch logged but not yet applied to `base` (its sync is still running): the rules
    /// of the next batch run on top of it (`writer.rs`).
    below: Option<&'a WriteSet>,
    own: RefCell<WriteSet>,
    reads: RefCell<Reads>,
}

impl<'a> Tx<'a> {
    pub fn new(base: Trees<'a>, batch: &'a WriteSet) -> Tx<'a> {
        Tx {
            base,
            batch,
            below: None,
            own: RefCell::new(WriteSet::default()),
            reads: RefCell::new(Reads::new()),
        }
    }

    /// A transaction over `batch`, over `below` (logged, not yet applied), over `base`.
    pub fn stacked(base: Trees<'a>, below: Option<&'a WriteSet>, batch: &'a WriteSet) -> Tx<'a> {
        let mut tx = Tx::new(base, batch);
        tx.below = below;
        tx
    }

    /// The committed store, for the few writes that must scan (prune, import). Only valid
    /// for a transaction run alone (`writer::Mode::Exclusive`): the batch before it is empty.
    /// On etcd such a transaction is guarded as a whole (nothing under the prefix written
    /// since the revision it read; `etcd_writer.rs`).
    pub fn committed(&self) -> Trees<'a> {
        self.base
    }

    pub fn into_writes(self) -> WriteSet {
        self.own.into_inner()
    }

    /// The writes and the guarded reads (empty on sled).
    pub fn into_parts(self) -> (WriteSet, Reads) {
        (self.own.into_inner(), self.reads.into_inner())
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
        // BTreeMap<(T, Vec<u8>)> cannot be queried by (T, &[u8]) without allocating: one
        // allocation serves every layer.
        let k = (t, key.to_vec());
        if let Some(v) = self.own.borrow().lookup(&k) {
            return Ok(v.clone());
        }
        if let Some(v) = self.batch.lookup(&k) {
            return Ok(v.clone());
        }
        if let Some(v) = self.below.and_then(|b| b.lookup(&k)) {
            return Ok(v.clone());
        }
        match self.base.0.get_guarded(t, key) {
            Some((v, rev)) => {
                self.reads.borrow_mut().insert((t, key.to_vec()), rev);
                Ok(v)
            }
            None => Ok(self.base.0.get(t, key)?),
        }
    }
}
