//! The sled trees, point reads that work both inside and outside a transaction ([`Kv`]),
//! and the one way to write: [`Trees::write`], a multi-tree transaction over every tree.

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::{IVec, Transactional, Tree};

use rel_domain::{RelError, RelResult};

/// Every tree, in a fixed order (the index into [`Trees::trees`] and a transaction's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

pub const ALL: [T; 25] = [
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
];

impl T {
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

    /// One transaction over every tree. `f` must be pure: sled may run it more than once.
    pub fn write<A>(&self, f: impl Fn(&Tx<'_>) -> Result<A, TxError>) -> RelResult<A> {
        let refs: Vec<&Tree> = self.trees.iter().collect();
        let r = refs.as_slice().transaction(|v: &Vec<TransactionalTree>| {
            f(&Tx { v }).map_err(|e| match e {
                TxError::Rel(r) => ConflictableTransactionError::Abort(r),
                TxError::Sled(u) => u.into(),
            })
        });
        match r {
            Ok(a) => Ok(a),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(storage_error(e)),
        }
    }
}

/// Errors inside a transaction: ours (abort) or sled's (a conflict sled retries, or storage).
#[derive(Debug)]
pub enum TxError {
    Rel(RelError),
    Sled(UnabortableTransactionError),
}

impl From<RelError> for TxError {
    fn from(e: RelError) -> Self {
        TxError::Rel(e)
    }
}

impl From<UnabortableTransactionError> for TxError {
    fn from(e: UnabortableTransactionError) -> Self {
        TxError::Sled(e)
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

/// A transaction's view of every tree.
pub struct Tx<'a> {
    v: &'a Vec<TransactionalTree>,
}

impl Kv for Tx<'_> {
    type E = TxError;
    fn get(&self, t: T, key: &[u8]) -> Result<Option<IVec>, TxError> {
        Ok(self.v[t as usize].get(key)?)
    }
}

impl Tx<'_> {
    pub fn put(&self, t: T, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.v[t as usize].insert(key.as_ref(), value.as_ref())?;
        Ok(())
    }
    pub fn del(&self, t: T, key: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.v[t as usize].remove(key.as_ref())?;
        Ok(())
    }
}
