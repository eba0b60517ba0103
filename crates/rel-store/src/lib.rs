//! The sled 0.34.7 implementation of `rel_domain::Store`.
//!
//! # Layout
//!
//! One sled database per data dir; one tree per concern. Numbers in keys are big-endian so
//! key order is numeric order; `(env, n)` keys are `env ++ 0x00 ++ n`. A value named by a type
//! below (`Release`, `Deployment`, ...) is a *record*: one version byte (now 1) followed by
//! bincode (size-limited on decode) of the store's own struct for it in `stored.rs`
//! (`ReleaseV1`, `DeploymentV1`, `ChangeV1`, ...), never of a domain or wire type. Other values are plain bincode or raw bytes as noted.
//!
//! # Schema versions (`meta/schema`)
//!
//! | schema | what changed | migration from the one before |
//! |---|---|---|
//! | 1 | the first versioned layout | — |
//! | 2 | write-ahead log (`wal/`), `events` tree | nothing stored changes |
//! | 3 | records are version byte + store-owned structs | log replayed, every record tree re-encoded |
//!
//! An older store is migrated after keeping a copy (`migrate.rs`); a newer one is refused.
//!
//! | tree | key → value |
//! |---|---|
//! | `meta` | counters (`last_release`, `last_deployment`, `last_execution`, `last_env_order`, `release_count`, `last_request`, `last_window`), `schema`, `seeded`, `audit_head` (seq, hash), `draft` (canonical JSON) + `draft_digest`, `env_names`, `pending/ENV` (pending requests of ENV, bounding them; filled once at open for older stores, marker `pending_counted`) |
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
//! | `executions`, `exec_by_env`, `exec_window` | id → `Execution`; (env, n) → id; env → `ExecWindow` (retention). etcd only: on sled, execution logs live in `DATA_DIR/execlog/` (`execlog`); what an older sled store (or an import) has here is moved there at open |
//! | `tokens`, `token_hash` | name → `TokenRecord` (hash only); hash → name |
//! | `events` | seq → `Change`: the newest [`events::KEEP`] committed changes, in commit order |
//! | `gov` | env name → `GovRecord` (approvals, own freeze, freeze windows); `*` → the stopped line |
//! | `requests`, `requests_due` | id → `ChangeRequest`; (due ms, id) → env name, for each pending request (a schedule's time, an approval request's expiry) |
//!
//! # Writes
//!
//! One commit loop (`writer.rs`; its writer thread, or an idle caller's own thread) runs
//! every mutating request: each request's rules run as
//! an overlay transaction (`trees::Tx`: point reads and writes only) stacked on the requests
//! before it in the same batch, so a batch of concurrent requests is one commit and one sync
//! (group commit of transactions), each request still atomic and seeing what the earlier ones
//! left; a refused request writes nothing. Decisions (permission, `--expect`, policy) are read
//! inside the transaction, so concurrent writers cannot both win. Deploy and rollback touch
//! O(1) keys per pushed/popped stack entry, independent of history length, and a commit only
//! touches the trees its writes name.
//!
//! # Durability
//!
//! A batch is appended to the write-ahead log (`wal.rs`) and `fdatasync`ed before it is
//! applied to sled and before any request in it is answered, refusals included. So `Ok` means
//! the change survives kill -9 and power loss (on a disk that honours cache flushes), and
//! every read, plan, refusal and event shows only such state: sled never holds anything the
//! log does not. Execution logs do not go through the writer on sled: `execlog` appends them
//! to segment files of their own in batches (written before the answer, so they survive
//! kill -9; synced within 50 ms). On etcd they skip the sync wait (`Mode::Logged`). sled itself is flushed in the
//! background (checkpoints), after which old log segments are deleted; opening replays what
//! is left.

mod audit_log;
mod deploy;
mod dump;
mod envs;
pub mod etcd;
mod etcd_store;
mod etcd_writer;
pub mod events;
mod exec;
mod execlog;
mod gov;
mod keys;
mod migrate;
mod prune;
mod read;
mod records;
mod releases;
mod store_impl;
mod stored;
mod stored_gov;
mod trees;
mod wal;
mod write;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use rel_domain::model::Environment;
use rel_domain::{RelError, RelResult, Timestamp};

use crate::records::{EnvRecord, SCHEMA_VERSION, meta};
use crate::trees::{SledTrees, T, Trees, Tx, TxError};
use crate::writer::{Finish, Job, Mode, Writer};

pub use etcd_store::EtcdOpenError;

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
    #[error("cannot migrate the store in {} from schema {from}: {reason}", dir.display())]
    Migrate {
        dir: PathBuf,
        from: u64,
        reason: String,
    },
    #[error("cannot recover the store in {}: {source}", dir.display())]
    Wal { dir: PathBuf, source: wal::WalError },
    #[error("cannot initialise the store in {}: {source}", dir.display())]
    Init { dir: PathBuf, source: RelError },
}

/// The store: the rules of rel-store over one backend, sled in a data dir (the embedded
/// default) or an etcd cluster shared with other daemons (`open_etcd`).
pub struct KvStore {
    /// sled only: execution logs in segment files of their own (`execlog`), off the writer.
    /// Dropped first: it answers and syncs what is queued, then stops.
    execs: Option<execlog::ExecLog>,
    backend: Backend,
    sink: Arc<RwLock<Option<rel_domain::store::ChangeSink>>>,
    /// Declared before nothing that it uses: dropping it drains the queue and joins the thread.
    writer: Writer,
    dir: PathBuf,
}

/// The name the embedded store has always had; the type runs on either backend.
pub type SledStore = KvStore;

enum Backend {
    Sled {
        trees: Arc<SledTrees>,
        /// Readers share it for a whole read; the writer takes it only to apply a committed
        /// batch.
        gate: Arc<RwLock<()>>,
        /// The counters as of the last applied batch that changed `meta`, set by the writer
        /// (None until the first such batch: `status` then reads them behind the gate).
        status: Arc<Mutex<Option<rel_domain::model::StoreStatus>>>,
        /// Why the writer refuses writes since a disk failure, if it does.
        degraded: Arc<Mutex<Option<String>>>,
    },
    Etcd(etcd_store::EtcdBackend),
}

/// A consistent read of the committed store: sled behind its gate, or the etcd mirror at
/// one revision.
pub(crate) enum Reader<'a> {
    Sled {
        _gate: RwLockReadGuard<'a, ()>,
        trees: &'a SledTrees,
    },
    Etcd(etcd::MirrorView<'a>),
}

impl Reader<'_> {
    pub(crate) fn trees(&self) -> Trees<'_> {
        match self {
            Reader::Sled { trees, .. } => Trees(*trees),
            Reader::Etcd(v) => Trees(v),
        }
    }
}

/// How often (10 ms apart) a locked data dir is tried again at open: see [`KvStore::open`].
const LOCK_RETRIES: u32 = 100;

/// sled's cache; the default (1 GiB) would blow the daemon's memory budget.
const CACHE_BYTES: u64 = 64 << 20;

impl KvStore {
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
        let open_trees = || -> Result<SledTrees, OpenError> {
            let db = sled::Config::new()
                .path(&dir)
                .cache_capacity(CACHE_BYTES)
                .open()
                .map_err(sled_err)?;
            SledTrees::open(db).map_err(sled_err)
        };
        // sled drops its file lock only when its background threads let go of the last
        // reference to a closed database, a moment after the drop: a reopen in the same
        // process right after a close (a test, an import into a fresh store) can see its own
        // lock. Another process's lock is still reported, after this short wait.
        let mut tries = 0;
        let mut trees = loop {
            match open_trees() {
                Err(OpenError::Locked { .. }) if tries < LOCK_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other?,
            }
        };
        // Before anything else (the log's format is part of the schema): refuse a newer
        // store untouched; migrate an older one after keeping a copy.
        let found = {
            use crate::trees::Kv;
            trees
                .get(T::Meta, meta::SCHEMA)
                .map_err(|source| OpenError::Init {
                    dir: dir.clone(),
                    source,
                })?
                .map(|v| keys::read_u64(&v).unwrap_or(u64::MAX))
        };
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(OpenError::Schema {
                    dir,
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(v) if v < SCHEMA_VERSION => {
                // sled must be closed for the copy to be a consistent store.
                drop(trees);
                let copy = migrate::keep_copy(&dir, v).map_err(|e| OpenError::Migrate {
                    dir: dir.clone(),
                    from: v,
                    reason: format!(
                        "cannot keep a copy of the data dir first ({e}); free some space next to it"
                    ),
                })?;
                trees = open_trees()?;
                migrate::run(&dir, &trees, v, SCHEMA_VERSION).map_err(|e| OpenError::Migrate {
                    dir: dir.clone(),
                    from: v,
                    reason: format!("{e}; the untouched copy is at {}", copy.display()),
                })?;
                tracing::warn!(
                    from = v,
                    to = SCHEMA_VERSION,
                    copy = %copy.display(),
                    "migrated the store to the current schema; the data dir as it was is kept at the copy"
                );
            }
            _ => {}
        }
        let trees = Arc::new(trees);
        let log_file = std::fs::File::open(dir.join("db")).map_err(|e| OpenError::Sled {
            dir: dir.clone(),
            source: sled::Error::Io(e),
        })?;
        let sync_sled: Arc<dyn Fn() -> RelResult<()> + Send + Sync> = {
            let trees = Arc::clone(&trees);
            let dir = dir.clone();
            Arc::new(move || {
                let failed = |e: &dyn std::fmt::Display| {
                    RelError::unavailable(format!(
                        "store: flushing sled failed ({e}); check the disk under {}",
                        dir.display()
                    ))
                };
                trees.db.flush().map_err(|e| failed(&e))?;
                // sled's flush ends in sync_file_range: not enough for power loss.
                log_file.sync_data().map_err(|e| failed(&e))
            })
        };
        let (wal, _) =
            wal::Wal::open(&dir.join("wal"), &trees, || sync_sled()).map_err(|source| {
                OpenError::Wal {
                    dir: dir.clone(),
                    source,
                }
            })?;
        gov::backfill_pending_counts(&trees).map_err(|source| OpenError::Init {
            dir: dir.clone(),
            source,
        })?;
        let gate = Arc::new(RwLock::new(()));
        let sink = Arc::new(RwLock::new(None));
        let status = Arc::new(Mutex::new(None));
        let degraded = Arc::new(Mutex::new(None));
        let after_apply: writer::AfterApply = {
            let trees = Arc::clone(&trees);
            let status = Arc::clone(&status);
            Box::new(move |set: &trees::WriteSet| {
                if !set.touches(T::Meta) {
                    return;
                }
                // Only the writer changes sled, so this read sees exactly the batch applied.
                let now = store_impl::status_of(&trees.view()).ok();
                *status.lock().unwrap_or_else(|e| e.into_inner()) = now;
            })
        };
        let writer = Writer::start(
            writer::Shared {
                trees: Arc::clone(&trees),
                gate: Arc::clone(&gate),
                sync_sled,
                data_dir: dir.clone(),
                sink: Arc::clone(&sink),
                after_apply,
                degraded: Arc::clone(&degraded),
            },
            wal,
        )
        .map_err(|e| OpenError::Sled {
            dir: dir.clone(),
            source: sled::Error::Io(e),
        })?;
        let execs = {
            use crate::trees::Kv;
            let last = trees
                .get(T::Meta, meta::LAST_EXECUTION)
                .map_err(|source| OpenError::Init {
                    dir: dir.clone(),
                    source,
                })?
                .and_then(|v| keys::read_u64(&v))
                .unwrap_or(0);
            execlog::ExecLog::open(&dir.join("execlog"), last + 1, Arc::clone(&sink)).map_err(
                |e| OpenError::Init {
                    dir: dir.clone(),
                    source: RelError::unavailable(format!(
                        "cannot open the execution log in {}: {e}",
                        dir.join("execlog").display()
                    )),
                },
            )?
        };
        let store = KvStore {
            execs: Some(execs),
            backend: Backend::Sled {
                trees,
                gate,
                status,
                degraded,
            },
            sink,
            writer,
            dir: dir.clone(),
        };
        store
            .seed(now())
            .and_then(|()| store.take_over_sled_executions())
            .map_err(|source| OpenError::Init { dir, source })?;
        Ok(store)
    }

    /// sled: the data dir. etcd: nothing on disk (the daemon's data dir holds its pid file,
    /// log and socket).
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// First open: the schema version and the two standard environments, in one transaction.
    fn seed(&self, now: Timestamp) -> RelResult<()> {
        self.mutate(move |tx| {
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

    /// Move execution logs that sled still holds (a store written before the segment log,
    /// or an import) into the segment log, then delete them from sled. Safe to repeat: a
    /// crash in between takes them over again (same ids, the later copy wins).
    fn take_over_sled_executions(&self) -> RelResult<()> {
        let Some(execs) = &self.execs else {
            return Ok(());
        };
        let keys: Vec<(T, sled::IVec)> = {
            let g = self.reader();
            let trees = g.trees();
            let mut keys = Vec::new();
            for t in [T::Executions, T::ExecByEnv, T::ExecWindow] {
                for item in trees.tree(t).iter() {
                    let (k, _) = item.map_err(crate::trees::storage_error)?;
                    keys.push((t, k));
                }
            }
            if keys.is_empty() {
                return Ok(());
            }
            let mut logs = trees.tree(T::Executions).iter().map(|item| {
                let (_, v) = item.map_err(crate::trees::storage_error)?;
                records::dec::<rel_domain::Execution>("execution", &v)
            });
            let n = execs.take_over(&mut logs)?;
            tracing::info!(
                logs = n,
                "moved execution logs from sled into the execution log"
            );
            keys
        };
        self.mutate(move |tx| {
            for (t, k) in &keys {
                tx.del(*t, k)?;
            }
            Ok(())
        })
    }

    /// Run one transaction in the writer's next batch; answer once the batch is durable.
    fn mutate<A: Send + 'static>(
        &self,
        f: impl FnMut(&Tx<'_>) -> Result<A, TxError> + Send + 'static,
    ) -> RelResult<A> {
        self.submit(Mode::Durable, f)
    }

    fn submit<A: Send + 'static>(
        &self,
        mode: Mode,
        f: impl FnMut(&Tx<'_>) -> Result<A, TxError> + Send + 'static,
    ) -> RelResult<A> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let mut f = f;
        self.writer.submit(Job {
            mode,
            run: Box::new(move |t: &Tx<'_>| {
                let r = f(t).map_err(RelError::from);
                let keep = r.is_ok();
                let tx = tx.clone();
                let finish: Finish = Box::new(move |failed| {
                    let _ = tx.send(match failed {
                        Some(e) => Err(e),
                        None => r,
                    });
                });
                (keep, finish)
            }),
        })?;
        rx.recv().map_err(|_| {
            RelError::internal(
                "store: the writer dropped a request without answering; see the releasd log",
            )
        })?
    }

    /// A consistent view of the committed store for one read.
    pub(crate) fn reader(&self) -> Reader<'_> {
        match &self.backend {
            Backend::Sled { trees, gate, .. } => Reader::Sled {
                _gate: gate.read().unwrap_or_else(|e| e.into_inner()),
                trees,
            },
            Backend::Etcd(b) => Reader::Etcd(b.mirror.view()),
        }
    }
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms)
}
