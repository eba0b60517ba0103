//! [`EtcdKv`]: the synchronous face of one etcd connection. Every call is bounded by the
//! options' timeout and fails with an error naming etcd.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, GetOptions, SortOrder, SortTarget, Txn, TxnOp};

use super::layout::{Layout, prefix_end};
use super::txn::Probe;
use super::watch::{self, Watcher};
use super::{EtcdError, EtcdOptions};

/// One key read from etcd, with the revision that last changed it (what a guard compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The store's key (without the prefix and tree).
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub mod_revision: i64,
}

/// "This key still is as I read it": its mod revision, or 0 for a key read as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub tree: &'static str,
    pub key: Vec<u8>,
    pub mod_revision: i64,
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put {
        tree: &'static str,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        tree: &'static str,
        key: Vec<u8>,
    },
}

/// What a guarded transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every guard held; the writes are committed at this revision.
    Committed { revision: i64 },
    /// A key read changed since; nothing was written. Re-run the rules on fresh reads.
    Conflict { revision: i64 },
}

/// The member that answered a status call, for `relctl status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub member_id: u64,
    pub member_name: String,
    /// The member's first client URL.
    pub member_url: String,
    pub leader_id: u64,
    pub revision: i64,
    pub version: String,
    pub db_size: i64,
    pub members: usize,
}

/// A connection to the cluster, usable from any thread.
pub struct EtcdKv {
    // Dropped in `Drop` without blocking (a runtime dropped inside another runtime's async
    // context would panic).
    rt: Option<tokio::runtime::Runtime>,
    client: Client,
    opts: EtcdOptions,
    layout: Layout,
}

impl EtcdKv {
    /// Connect and check that the cluster answers (a bounded read), so a wrong address or a
    /// cluster without quorum is an error at start-up, not on the first request.
    pub fn connect(opts: EtcdOptions) -> Result<EtcdKv, EtcdError> {
        let connect_options = opts.connect_options()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("etcd-client")
            .enable_all()
            .build()
            .map_err(|e| {
                EtcdError::Options(format!("cannot start the etcd client's threads: {e}"))
            })?;
        let urls = opts.endpoint_urls();
        let layout = Layout::new(&opts.url.prefix);
        let client = spawn_wait(rt.handle(), &opts, "a connection", Retry::Any, move || {
            Client::connect(urls.clone(), Some(connect_options.clone()))
        })?;
        let kv = EtcdKv {
            rt: Some(rt),
            client,
            opts,
            layout,
        };
        kv.revision()?;
        Ok(kv)
    }

    pub fn options(&self) -> &EtcdOptions {
        &self.opts
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.rt {
            Some(rt) => rt.handle(),
            // `rt` is only taken in Drop.
            None => unreachable!("EtcdKv used after drop"),
        }
    }

    fn run<T: Send + 'static, F>(
        &self,
        op: &'static str,
        retry: Retry,
        call: impl FnMut() -> F + Send + 'static,
    ) -> Result<T, EtcdError>
    where
        F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        spawn_wait(self.handle(), &self.opts, op, retry, call)
    }

    /// The cluster's current revision (a linearizable read: it needs a quorum).
    pub fn revision(&self) -> Result<i64, EtcdError> {
        let c = self.client.clone();
        let root = self.layout.root().to_vec();
        let resp = self.run("a read", Retry::Any, move || {
            let (mut c, root) = (c.clone(), root.clone());
            async move {
                c.get(
                    root,
                    Some(GetOptions::new().with_prefix().with_count_only()),
                )
                .await
            }
        })?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    /// One key, at `revision` (None: the latest, linearizable); also the revision read at.
    pub fn get(
        &self,
        tree: &'static str,
        key: &[u8],
        revision: Option<i64>,
    ) -> Result<(Option<KvEntry>, i64), EtcdError> {
        let c = self.client.clone();
        let full = self.layout.key(tree, key);
        let mut o = GetOptions::new();
        if let Some(r) = revision {
            o = o.with_revision(r);
        }
        let resp = self.run("a read", Retry::Any, move || {
            let (mut c, full, o) = (c.clone(), full.clone(), o.clone());
            async move { c.get(full, Some(o)).await }
        })?;
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        let entry = resp.kvs().first().map(|kv| KvEntry {
            key: key.to_vec(),
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
        });
        Ok((entry, rev))
    }

    /// Keys of `tree` in `[from, to)` (`to` None: to the tree's end), in key order or
    /// reversed, at most `limit` (0: no limit), at `revision` (None: the latest). Also
    /// whether more keys follow and the revision read at (page on with that revision for a
    /// consistent listing).
    #[allow(clippy::too_many_arguments)]
    pub fn range(
        &self,
        tree: &'static str,
        from: &[u8],
        to: Option<&[u8]>,
        reverse: bool,
        limit: i64,
        revision: Option<i64>,
    ) -> Result<(Vec<KvEntry>, bool, i64), EtcdError> {
        let c = self.client.clone();
        let start = self.layout.key(tree, from);
        let end = match to {
            Some(to) => self.layout.key(tree, to),
            None => prefix_end(&self.layout.tree(tree)),
        };
        let order = if reverse {
            SortOrder::Descend
        } else {
            SortOrder::Ascend
        };
        let mut o = GetOptions::new()
            .with_range(end)
            .with_sort(SortTarget::Key, order)
            .with_limit(limit);
        if let Some(r) = revision {
            o = o.with_revision(r);
        }
        let resp = self.run("a range read", Retry::Any, move || {
            let (mut c, start, o) = (c.clone(), start.clone(), o.clone());
            async move { c.get(start, Some(o)).await }
        })?;
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        let layout = &self.layout;
        let entries = resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let (_, k) = layout.split(kv.key())?;
                Some(KvEntry {
                    key: k.to_vec(),
                    value: kv.value().to_vec(),
                    mod_revision: kv.mod_revision(),
                })
            })
            .collect();
        Ok((entries, resp.more(), rev))
    }

    /// Apply `writes` atomically if every guard still holds. A timeout here means the
    /// outcome is unknown (etcd may still apply it); the error says so.
    pub fn txn(&self, guards: &[Guard], writes: &[Write]) -> Result<Outcome, EtcdError> {
        self.txn_since(guards, writes, None)
    }

    /// [`EtcdKv::txn`], also guarded by "no key of this store was written after revision
    /// `since`" when given: for transactions whose reads were scans (a scan has no per-key
    /// revisions to guard; every rel transaction writes at least one key).
    pub fn txn_since(
        &self,
        guards: &[Guard],
        writes: &[Write],
        since: Option<i64>,
    ) -> Result<Outcome, EtcdError> {
        let mut compares: Vec<Compare> = guards
            .iter()
            .map(|g| {
                let key = self.layout.key(g.tree, &g.key);
                if g.mod_revision == 0 {
                    // Read as absent: still absent (etcd compares a missing key's version as 0).
                    Compare::version(key, CompareOp::Equal, 0)
                } else {
                    Compare::mod_revision(key, CompareOp::Equal, g.mod_revision)
                }
            })
            .collect();
        if let Some(r) = since {
            compares.push(
                Compare::mod_revision(self.layout.root().to_vec(), CompareOp::Less, r + 1)
                    .with_prefix(),
            );
        }
        let ops: Vec<TxnOp> = writes
            .iter()
            .map(|w| match w {
                Write::Put { tree, key, value } => {
                    TxnOp::put(self.layout.key(tree, key), value.clone(), None)
                }
                Write::Delete { tree, key } => TxnOp::delete(self.layout.key(tree, key), None),
            })
            .collect();
        let txn = Txn::new().when(compares).and_then(ops);
        // What to look for if the outcome is unknown: the first put, and the newest revision
        // any guard names (a value written after it is ours).
        let probe = writes.iter().find_map(|w| match w {
            Write::Put { tree, key, value } => Some(Probe {
                key: self.layout.key(tree, key),
                value: value.clone(),
                after: guards.iter().map(|g| g.mod_revision).max().unwrap_or(0),
            }),
            Write::Delete { .. } => None,
        });
        let c = self.client.clone();
        let attempt = self.opts.op_timeout / 3;
        self.run("a transaction", Retry::Never, move || {
            super::txn::guarded(c.clone(), txn.clone(), probe.clone(), attempt)
        })
    }

    /// Which member answered, the leader, the revision and the database size.
    pub fn cluster_info(&self) -> Result<ClusterInfo, EtcdError> {
        let c = self.client.clone();
        let (status, members) = self.run("a status call", Retry::Any, move || {
            let mut c = c.clone();
            async move {
                let status = c.status().await?;
                let members = c.member_list().await?;
                Ok((status, members))
            }
        })?;
        let member_id = status.header().map(|h| h.member_id()).unwrap_or(0);
        let me = members.members().iter().find(|m| m.id() == member_id);
        Ok(ClusterInfo {
            member_id,
            member_name: me.map(|m| m.name().to_string()).unwrap_or_default(),
            member_url: me
                .and_then(|m| m.client_urls().first().cloned())
                .unwrap_or_default(),
            leader_id: status.leader(),
            revision: status.header().map(|h| h.revision()).unwrap_or(0),
            version: status.version().to_string(),
            db_size: status.db_size(),
            members: members.members().len(),
        })
    }

    /// Watch every key of this store from `start_revision` on (see [`Watcher`]).
    pub fn watch(&self, start_revision: i64) -> Watcher {
        watch::start(
            self.handle().clone(),
            self.client.clone(),
            self.layout.clone(),
            self.opts.op_timeout,
            start_revision,
        )
    }
}

impl Drop for EtcdKv {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Which failures a call may be retried on (within its one deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads and status: any "unreachable" failure (another member may answer).
    Any,
    /// Nothing: the call handles its own failures (a transaction, see `txn.rs`).
    Never,
}

/// Run `call` on the client's runtime and wait for it, retrying per `retry` with a short
/// backoff, all within the options' timeout. A member that just died stays in the client's
/// pool until a reconnect to it fails, so one attempt can fail while the others answer.
fn spawn_wait<T: Send + 'static, F>(
    handle: &tokio::runtime::Handle,
    opts: &EtcdOptions,
    op: &'static str,
    retry: Retry,
    mut call: impl FnMut() -> F + Send + 'static,
) -> Result<T, EtcdError>
where
    F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
{
    let limit = opts.op_timeout;
    let (tx, rx) = mpsc::sync_channel(1);
    handle.spawn(async move {
        let r = tokio::time::timeout(limit, async move {
            let mut pause = Duration::from_millis(20);
            loop {
                match call().await {
                    Ok(v) => return Ok(v),
                    Err(e) if retryable(&e, retry) => {
                        tracing::debug!(op, error = %e, "etcd: retrying on another member");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(500));
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        let _ = tx.send(r);
    });
    let endpoints = opts.url.endpoints.join(",");
    let timed_out = |detail: String| EtcdError::Unreachable {
        endpoints: endpoints.clone(),
        detail,
    };
    // The task itself is bounded; the extra second only covers a runtime shutting down.
    match rx.recv_timeout(limit + Duration::from_secs(1)) {
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(e))) => Err(classify(op, &endpoints, e)),
        Ok(Err(_)) | Err(_) => Err(timed_out(if op == "a transaction" {
            format!(
                "{op} got no answer within {limit:?} and its outcome is unknown; check the state before retrying"
            )
        } else {
            format!("{op} got no answer within {limit:?}")
        })),
    }
}

fn retryable(e: &etcd_client::Error, retry: Retry) -> bool {
    use tonic::Code;
    match (e, retry) {
        (_, Retry::Never) => false,
        (etcd_client::Error::TransportError(_), _) => true,
        (etcd_client::Error::GRpcStatus(s), Retry::Any) => {
            matches!(
                s.code(),
                Code::Unavailable | Code::Unknown | Code::DeadlineExceeded
            )
        }
        _ => false,
    }
}

/// Sort etcd's errors into "unreachable" (retry later), "compacted" and "refused", adding
/// the fix for the limits an operator can raise.
pub(super) fn classify(op: &'static str, endpoints: &str, e: etcd_client::Error) -> EtcdError {
    use tonic::Code;
    let unreachable = |detail: String| EtcdError::Unreachable {
        endpoints: endpoints.to_string(),
        detail,
    };
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            let msg = s.message().to_string();
            match s.code() {
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
                    unreachable(format!("{op}: {msg}"))
                }
                Code::OutOfRange if msg.contains("compacted") => EtcdError::Compacted,
                _ => EtcdError::Refused {
                    op,
                    detail: with_hint(&msg),
                },
            }
        }
        etcd_client::Error::TransportError(t) => unreachable(format!("{op}: {t}")),
        etcd_client::Error::IoError(io) => unreachable(format!("{op}: {io}")),
        other => EtcdError::Refused {
            op,
            detail: with_hint(&other.to_string()),
        },
    }
}

fn with_hint(msg: &str) -> String {
    let hint = if msg.contains("too many operations") {
        "; raise etcd's --max-txn-ops on every member (docs/SCALE-OUT.md)"
    } else if msg.contains("request is too large") {
        "; raise etcd's --max-request-bytes on every member (docs/SCALE-OUT.md)"
    } else if msg.contains("database space exceeded") {
        "; etcd is over its space quota: compact, defragment and disarm the NOSPACE alarm (docs/SCALE-OUT.md)"
    } else if msg.contains("password")
        || msg.contains("permission denied")
        || msg.contains("invalid auth token")
        || msg.contains("user name")
    {
        "; check --etcd-user, --etcd-password-file and the user's role on the store's prefix"
    } else {
        ""
    };
    format!("{msg}{hint}")
}
