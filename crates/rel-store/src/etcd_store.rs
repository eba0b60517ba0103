//! The store on an etcd cluster (`--store etcd://…`): the same rules as on sled, shared by
//! every daemon on the same cluster and prefix.
//!
//! Reads come from the mirror (a watch-fed copy of every tree with each key's mod revision)
//! at one revision; writes go through `etcd_writer.rs` as guarded etcd transactions. There
//! is no write-ahead log: etcd is the durable log (a commit is acknowledged once a majority
//! of members has fsynced it). Change events reach this daemon's subscribers from the
//! mirror, in commit (seq) order, whichever daemon committed them.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rel_domain::RelError;
use rel_domain::model::ChangeEvent;
use rel_domain::store::{BackendInfo, ChangeSink};

use crate::etcd::{Applied, EtcdError, EtcdKv, EtcdOptions, Mirror, MirrorView};
use crate::keys::{read_u64, u64k};
use crate::records::{SCHEMA_VERSION, dec, meta};
use crate::trees::{ALL, T, Trees};
use crate::writer::Writer;
use crate::{Backend, KvStore};

/// What the etcd backend holds beyond the shared store parts.
pub(crate) struct EtcdBackend {
    pub kv: Arc<EtcdKv>,
    pub mirror: Arc<Mirror>,
}

/// Why the store on etcd could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EtcdOpenError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error(
        "the store at prefix {prefix:?} in etcd was written by a newer rel (store schema {found}, this build knows {supported}); upgrade rel or use another prefix"
    )]
    Schema {
        prefix: String,
        found: u64,
        supported: u64,
    },
    #[error("cannot initialise the store in etcd: {0}")]
    Init(RelError),
    #[error("cannot start the etcd store's writer thread: {0}")]
    Thread(std::io::Error),
}

impl KvStore {
    /// Open the store under the URL's prefix (creating it if the prefix is empty). Fails
    /// within the options' timeouts when the cluster cannot be reached.
    pub fn open_etcd(opts: EtcdOptions, data_dir: &Path) -> Result<KvStore, EtcdOpenError> {
        let prefix = opts.url.prefix.clone();
        let max_ops = opts.max_txn_ops;
        let kv = Arc::new(EtcdKv::connect(opts)?);
        let names: Vec<&'static str> = ALL.iter().map(|t| t.name()).collect();
        let mirror = Arc::new(Mirror::start(Arc::clone(&kv), &names)?);
        let found = mirror
            .get(T::Meta.name(), meta::SCHEMA)
            .map(|(v, _)| read_u64(&v).unwrap_or(u64::MAX));
        if let Some(found) = found.filter(|v| *v > SCHEMA_VERSION) {
            return Err(EtcdOpenError::Schema {
                prefix,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let sink: Arc<RwLock<Option<ChangeSink>>> = Arc::new(RwLock::new(None));
        let published = {
            let view = mirror.view();
            crate::read::meta_u64(&Trees(&view), meta::LAST_EVENT).map_err(EtcdOpenError::Init)?
        };
        mirror.set_listener(publisher(Arc::clone(&sink), published));
        let writer = {
            let (kv, mirror) = (Arc::clone(&kv), Arc::clone(&mirror));
            Writer::spawn(move |rx| crate::etcd_writer::Loop::new(kv, mirror, max_ops).run(rx))
                .map_err(EtcdOpenError::Thread)?
        };
        let store = KvStore {
            execs: None,
            backend: Backend::Etcd(EtcdBackend { kv, mirror }),
            sink,
            writer,
            dir: data_dir.to_path_buf(),
        };
        store.seed(crate::now()).map_err(EtcdOpenError::Init)?;
        Ok(store)
    }
}

/// Publishes every event the mirror brings (this daemon's and the others'), in seq order,
/// each once: after a reload (compaction) it picks up from the last one published.
fn publisher(sink: Arc<RwLock<Option<ChangeSink>>>, published: u64) -> crate::etcd::Listener {
    let last = AtomicU64::new(published);
    Box::new(move |view: &MirrorView<'_>, applied: Applied<'_>| {
        let touched = match applied {
            Applied::Reloaded => true,
            Applied::Changes(changes) => changes.iter().any(|c| c.tree == T::Events.name()),
        };
        if !touched {
            return;
        }
        let from = last.load(Ordering::Relaxed).saturating_add(1);
        let trees = Trees(view);
        let mut evs = Vec::new();
        for item in trees.tree(T::Events).range(u64k(from)..) {
            let Ok((k, v)) = item else { continue };
            let Some(seq) = read_u64(&k) else { continue };
            match dec("event", &v) {
                Ok(change) => evs.push(ChangeEvent { seq, change }),
                Err(e) => {
                    tracing::error!(seq, error = %e.message, "cannot decode a change event from etcd; skipping it")
                }
            }
        }
        let Some(newest) = evs.last().map(|e| e.seq) else {
            return;
        };
        last.store(newest, Ordering::Relaxed);
        if let Some(s) = sink.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            s(&evs);
        }
    })
}

impl EtcdBackend {
    pub(crate) fn info(&self) -> BackendInfo {
        let o = self.kv.options();
        let location = format!("etcd://{}/{}", o.url.endpoints.join(","), o.url.prefix);
        let (answered_by, revision) = match self.kv.cluster_info() {
            Ok(c) => (
                Some(format!("{} {}", c.member_name, c.member_url)),
                Some(c.revision),
            ),
            Err(e) => (Some(format!("none: {e}")), None),
        };
        BackendInfo {
            kind: "etcd".into(),
            location,
            endpoints: o.url.endpoints.clone(),
            answered_by,
            revision,
        }
    }
}
