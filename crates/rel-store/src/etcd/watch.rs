//! A watch on every key of one store that never silently misses a change: it resumes from
//! the revision after the last one delivered when a member dies or the stream breaks, and
//! when etcd has compacted that revision away it says so ([`WatchItem::Resync`]) so the
//! consumer re-reads the state and continues from there.

use std::time::Duration;

use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::mpsc;

use super::layout::Layout;

/// One change of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub tree: String,
    pub key: Vec<u8>,
    /// The new value; None for a delete.
    pub value: Option<Vec<u8>>,
}

/// What a [`Watcher`] delivers, in revision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// Every change one transaction committed at `revision`.
    Changes { revision: i64, changes: Vec<Change> },
    /// Changes up to some revision were compacted before they could be delivered: re-read
    /// the state at `revision` (or later); the items that follow are all newer than it.
    Resync { revision: i64 },
    /// Everything up to `revision` has been delivered (etcd's progress notification).
    Progress { revision: i64 },
}

/// The receiving end of a watch; the watch stops when it is dropped.
pub struct Watcher {
    rx: mpsc::Receiver<WatchItem>,
    task: tokio::task::JoinHandle<()>,
    handle: tokio::runtime::Handle,
}

impl Watcher {
    /// The next item (async).
    pub async fn next(&mut self) -> Option<WatchItem> {
        self.rx.recv().await
    }

    /// The next item, waiting at most `limit`; for threads outside any async runtime.
    ///
    /// # Panics
    /// When called from inside an async runtime (use [`Watcher::next`] there).
    pub fn next_blocking(&mut self, limit: Duration) -> Option<WatchItem> {
        let rx = &mut self.rx;
        self.handle
            .block_on(async { tokio::time::timeout(limit, rx.recv()).await.ok().flatten() })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Items buffered between etcd and a slow consumer (etcd keeps the rest; nothing is lost).
const BUFFER: usize = 1024;

pub(super) fn start(
    handle: tokio::runtime::Handle,
    client: Client,
    layout: Layout,
    op_timeout: Duration,
    start_revision: i64,
) -> Watcher {
    let (tx, rx) = mpsc::channel(BUFFER);
    let task = handle.spawn(run(client, layout, op_timeout, start_revision, tx));
    Watcher { rx, task, handle }
}

async fn run(
    mut client: Client,
    layout: Layout,
    op_timeout: Duration,
    start_revision: i64,
    tx: mpsc::Sender<WatchItem>,
) {
    let mut next = start_revision.max(1);
    let mut backoff = Duration::from_millis(50);
    loop {
        if tx.is_closed() {
            return;
        }
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(next)
            .with_progress_notify();
        let opened =
            tokio::time::timeout(op_timeout, client.watch(layout.root().to_vec(), Some(opts)))
                .await;
        let mut stream = match opened {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "etcd watch: cannot open; retrying");
                pause(&mut backoff).await;
                continue;
            }
            Err(_) => {
                tracing::warn!("etcd watch: opening timed out; retrying");
                pause(&mut backoff).await;
                continue;
            }
        };
        loop {
            let resp = match stream.message().await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    tracing::warn!(next, "etcd watch: stream ended; resuming");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, next, "etcd watch: stream broke; resuming");
                    break;
                }
            };
            if resp.canceled() {
                if resp.compact_revision() > 0 {
                    // The revisions we still needed are gone: the consumer re-reads the
                    // state at the current revision, and we continue after it.
                    match current_revision(&mut client, &layout, op_timeout).await {
                        Some(rev) => {
                            tracing::info!(
                                compacted = resp.compact_revision(),
                                rev,
                                "etcd watch: history compacted; resync"
                            );
                            if tx.send(WatchItem::Resync { revision: rev }).await.is_err() {
                                return;
                            }
                            next = rev + 1;
                        }
                        None => pause(&mut backoff).await,
                    }
                } else {
                    tracing::warn!(
                        reason = resp.cancel_reason(),
                        "etcd watch: canceled by etcd; resuming"
                    );
                    pause(&mut backoff).await;
                }
                break;
            }
            backoff = Duration::from_millis(50);
            let header_rev = resp.header().map(|h| h.revision()).unwrap_or(0);
            if resp.events().is_empty() {
                if !resp.created() && header_rev >= next {
                    // Progress: nothing of ours happened up to header_rev.
                    next = header_rev + 1;
                    if tx
                        .send(WatchItem::Progress {
                            revision: header_rev,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                continue;
            }
            for (revision, changes) in group(&layout, resp.events()) {
                if revision < next {
                    continue; // already delivered before a reconnect
                }
                next = revision + 1;
                if tx
                    .send(WatchItem::Changes { revision, changes })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        pause(&mut backoff).await;
    }
}

/// Events grouped by the revision (one transaction) that made them, in order.
fn group(layout: &Layout, events: &[etcd_client::Event]) -> Vec<(i64, Vec<Change>)> {
    let mut out: Vec<(i64, Vec<Change>)> = Vec::new();
    for ev in events {
        let Some(kv) = ev.kv() else { continue };
        let Some((tree, key)) = layout.split(kv.key()) else {
            continue;
        };
        let change = Change {
            tree: tree.to_string(),
            key: key.to_vec(),
            value: match ev.event_type() {
                EventType::Put => Some(kv.value().to_vec()),
                EventType::Delete => None,
            },
        };
        let rev = kv.mod_revision();
        match out.last_mut() {
            Some((r, changes)) if *r == rev => changes.push(change),
            _ => out.push((rev, vec![change])),
        }
    }
    out
}

async fn current_revision(client: &mut Client, layout: &Layout, limit: Duration) -> Option<i64> {
    let opts = etcd_client::GetOptions::new()
        .with_prefix()
        .with_count_only();
    match tokio::time::timeout(limit, client.get(layout.root().to_vec(), Some(opts))).await {
        Ok(Ok(r)) => r.header().map(|h| h.revision()),
        _ => None,
    }
}

async fn pause(backoff: &mut Duration) {
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
}
