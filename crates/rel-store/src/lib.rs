//! The sled 0.34.7 implementation of `rel_domain::Store`.
//!
//! # Layout
//!
//! One sled database per data dir; one tree per concern. Numbers in keys are big-endian so
//! key order is numeric order; `(env, n)` keys are `env ++ 0x00 ++ n`. Values are bincode
//! (size-limited on decode) unless noted.
//!
//! | tree | key → value |
//! |---|---|
//! | `meta` | counters (`last_release`, `last_deployment`, `last_execution`, `last_env_order`, `release_count`), `schema`, `seeded`, `audit_head` (seq, hash), `draft` (canonical JSON) + `draft_digest`, `env_names` |
//! | `releases` | seq → `Release` |
//! | `tags` | lowercased tag → `TagEntry::Live(seq)` or, after pruning, `Pruned(seq)` (tags are never reused) |
//! | `digests` | (digest, seq) → () — releases with the same content |
//! | `manifests` | snapshot digest → `ManifestRecord` (parts + how many releases use it) |
//! | `blobs`, `blob_refs` | part digest → canonical JSON bytes; part digest → how many manifests use it |
//! | `envs`, `env_state` | name → `EnvRecord`; name → `EnvState` (live seq, since, by, stack height, deployment id, history length) |
//! | `stack` | (env, index) → seq: the rollback stack; the top is `height - 1` |
//! | `on_stack` | (seq, env) → count of stack entries (prune protection, `rollback --to`) |
//! | `holds` | (env, seq) → `Hold` (who rolled it back out, when) |
//! | `deployments`, `dep_by_env`, `dep_by_release` | id → `Deployment`; (env, id) → (); (seq, id) → () |
//! | `live_in`, `ever_live`, `was_live_in`, `verified_in` | (seq, env) → (); seq → (); (env, seq) → (); (env, seq) → passed (1 byte) |
//! | `audit` | seq → `AuditEntry` (hash-chained) |
//! | `executions`, `exec_by_env`, `exec_window` | id → `Execution`; (env, n) → id; env → `ExecWindow` (retention) |
//! | `tokens`, `token_hash` | name → `TokenRecord` (hash only); hash → name |
//!
//! # Writes
//!
//! Every mutating method is ONE sled transaction over all trees (point reads and writes only:
//! sled transactions cannot scan), including its audit entry, followed by a flush before it
//! returns (concurrent writers share flushes: group commit, see `flush.rs`). Decisions (permission, `--expect`, policy) are read inside the same
//! transaction, so concurrent writers cannot both win. sled 0.34 runs transactions under a
//! global lock; the store adds a read/write gate so that plain reads and scans (views,
//! listings, export) never observe a transaction half-applied. Deploy and rollback touch
//! O(1) keys per pushed/popped stack entry, independent of history length.
//!
//! # Durability
//!
//! `Ok` means the transaction committed, sled's flush returned (its log written with
//! `sync_file_range`: the change survives the process being killed) and the log file was
//! then `fdatasync`ed (the disk's write cache flushed and the file's size recorded: the change
//! survives power loss on a disk that honours cache flushes). See the README's durability
//! section for the measured cost.

mod audit_log;
mod deploy;
mod dump;
mod envs;
pub mod etcd;
mod exec;
mod flush;
mod keys;
mod prune;
mod read;
mod records;
mod releases;
mod store_impl;
mod trees;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use rel_domain::model::Environment;
use rel_domain::{RelError, RelResult, Timestamp};

use crate::records::{EnvRecord, SCHEMA_VERSION, meta};
use crate::trees::{T, Trees, Tx, TxError};

pub use records::SCHEMA_VERSION as STORE_SCHEMA_VERSION;

/// Why a data dir could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// sled's exclusive lock is held: another process (another releasd) uses this dir.
    #[error("data dir {} is locked: another process (another releasd?) is using it; stop that one or pass a different --data-dir", dir.display())]
    Locked { dir: PathBuf },
    #[error("data dir {} was written by a newer rel (store schema {found}, this build knows {supported}); upgrade rel or use a different --data-dir", dir.display())]
    Schema {
        dir: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("cannot open the store in {}: {source}", dir.display())]
    Sled { dir: PathBuf, source: sled::Error },
    #[error("cannot initialise the store in {}: {source}", dir.display())]
    Init { dir: PathBuf, source: RelError },
}

/// The sled-backed store.
pub struct SledStore {
    trees: Trees,
    /// Writers take it exclusively for the transaction (not the flush); readers share it.
    gate: RwLock<()>,
    /// Concurrent writers share flushes.
    group: flush::GroupFlush,
    /// sled's log file (`DIR/db`), fdatasync'ed after each flush (see `durable`).
    log_file: std::fs::File,
    dir: PathBuf,
}

/// sled's cache; the default (1 GiB) would blow the daemon's memory budget.
const CACHE_BYTES: u64 = 64 << 20;

impl SledStore {
    /// Open (creating if needed) the store in `dir`. A new store gets `staging` and
    /// `production` (protected, requires staging), once.
    pub fn open(dir: impl AsRef<Path>) -> Result<SledStore, OpenError> {
        let dir = dir.as_ref().to_path_buf();
        let sled_err = |source: sled::Error| {
            let locked = matches!(&source, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"));
            if locked {
                OpenError::Locked { dir: dir.clone() }
            } else {
                OpenError::Sled {
                    dir: dir.clone(),
                    source,
                }
            }
        };
        let db = sled::Config::new()
            .path(&dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(sled_err)?;
        let trees = Trees::open(db).map_err(sled_err)?;
        let log_file = std::fs::File::open(dir.join("db")).map_err(|e| OpenError::Sled {
            dir: dir.clone(),
            source: sled::Error::Io(e),
        })?;
        let store = SledStore {
            trees,
            gate: RwLock::new(()),
            group: flush::GroupFlush::default(),
            log_file,
            dir: dir.clone(),
        };
        let found = {
            use crate::trees::Kv;
            store
                .trees
                .get(T::Meta, meta::SCHEMA)
                .map_err(|source| OpenError::Init {
                    dir: dir.clone(),
                    source,
                })?
        };
        if let Some(v) = found {
            let found = keys::read_u64(&v).unwrap_or(u64::MAX);
            if found != SCHEMA_VERSION {
                return Err(OpenError::Schema {
                    dir,
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        store
            .seed(now())
            .map_err(|source| OpenError::Init { dir, source })?;
        Ok(store)
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// First open: the schema version and the two standard environments, in one transaction.
    fn seed(&self, now: Timestamp) -> RelResult<()> {
        self.mutate(|tx| {
            use crate::trees::Kv;
            if tx.get(T::Meta, meta::SEEDED)?.is_some() {
                return Ok(());
            }
            write::put_u64(tx, T::Meta, meta::SCHEMA, SCHEMA_VERSION)?;
            tx.put(T::Meta, meta::SEEDED, b"1")?;
            for (name, description, protected, requires) in [
                ("staging", "where releases are tried first", false, vec![]),
                (
                    "production",
                    "what users get; releases must pass staging first",
                    true,
                    vec!["staging".to_string()],
                ),
            ] {
                let rec = EnvRecord {
                    env: Environment {
                        name: name.to_string(),
                        description: description.to_string(),
                        protected,
                        requires,
                        created_at: now,
                    },
                    order: write::bump(tx, meta::LAST_ENV_ORDER)?,
                };
                envs::insert_tx(tx, &rec)?;
            }
            write::audit(
                tx,
                now,
                "releasd",
                "store.init",
                "created environments staging and production (protected, requires staging)",
            )?;
            Ok(())
        })
    }

    /// Run one transaction exclusively, then make it durable before answering.
    fn mutate<A>(&self, f: impl Fn(&Tx<'_>) -> Result<A, TxError>) -> RelResult<A> {
        let (r, ticket) = {
            let _g = self.write_gate();
            let r = self.trees.write(f)?;
            (r, self.group.ticket())
        };
        self.durable(ticket)?;
        Ok(r)
    }

    /// Wait until the commit holding `ticket` is flushed (sharing the flush with others).
    fn durable(&self, ticket: u64) -> RelResult<()> {
        self.group.wait(ticket, || {
            let failed = |e: &dyn std::fmt::Display| {
                RelError::unavailable(format!(
                    "the change was applied but could not be flushed to disk ({e}); it may be lost if the machine crashes now. Check the disk under {}",
                    self.dir.display()
                ))
            };
            self.trees.db.flush().map_err(|e| failed(&e))?;
            // sled's flush ends in sync_file_range on Linux: enough for kill -9, but it neither
            // flushes the disk's write cache nor the file's size. fdatasync on the log file
            // does both, so an "ok" also survives power loss on a disk that honours flushes.
            self.log_file.sync_data().map_err(|e| failed(&e))
        })
    }

    fn read_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_gate(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms)
}
