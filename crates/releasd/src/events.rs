//! Events to subscribers, in commit order.
//!
//! The store records each change as an event with a store-wide seq in the same transaction
//! as the change, and hands every durable batch's events to [`Events::publish_changes`] from
//! its one writer thread, in seq order. So subscribers get events in commit order and only
//! for durable changes. One bounded broadcast channel fans them out: a live subscriber that
//! falls behind either re-reads the gap from the store (`SubscribeSince`) or is told how many
//! it missed (`Event::Lagged`, plain `Subscribe`), so one slow `relctl watch` can never hold
//! up a deploy.
//!
//! The sled store announces execution logs as live notices (seq 0, from its execution
//! log's thread, once the log is written): they are not stored changes, so a `SubscribeSince`
//! subscriber gets them with the seq of the last stored change it has (resuming from it
//! loses no stored change) and a replay after a gap does not repeat them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rel_domain::model::{Change, ChangeEvent, ReleaseState, ReleaseView};
use rel_domain::{RelResult, Store};
use rel_proto::{Event, ServerFrame};
use tokio::sync::{broadcast, mpsc};

/// Events kept for the slowest subscriber before it lags.
pub const EVENT_CAPACITY: usize = 1024;
/// Stored events read per store call when replaying.
const REPLAY_PAGE: usize = 1000;

#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<(u64, Event)>,
    /// The newest stored change's seq published (or found at start).
    newest: Arc<AtomicU64>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

/// The wire form of a stored change.
pub fn to_wire(change: Change) -> Event {
    match change {
        Change::ReleaseCreated {
            release,
            live_in,
            actor,
        } => Event::ReleaseCreated {
            release: ReleaseView {
                release,
                state: if live_in.is_empty() {
                    ReleaseState::Ready
                } else {
                    ReleaseState::Deployed
                },
                live_in,
            },
            actor,
        },
        Change::Deployed(d) => Event::Deployed(d),
        Change::RolledBack(d) => Event::RolledBack(d),
        Change::VerificationFinished {
            env,
            deployment_id,
            release,
            passed,
        } => Event::VerificationFinished {
            env,
            deployment_id,
            release,
            passed,
        },
        Change::ExecutionFinished {
            id,
            env,
            endpoint,
            release,
            status,
        } => Event::ExecutionFinished {
            id,
            env,
            endpoint,
            release,
            status,
        },
        Change::DraftApplied { digest, actor } => Event::DraftApplied { digest, actor },
        Change::EnvironmentCreated { name, actor } => Event::EnvironmentCreated { name, actor },
        Change::ReleasesPruned { removed, actor } => Event::ReleasesPruned { removed, actor },
        Change::Imported { actor } => Event::Imported { actor },
        Change::Frozen { env, freeze } => Event::Frozen { env, freeze },
        Change::Unfrozen { env, actor } => Event::Unfrozen { env, actor },
        Change::GovernanceChanged { env, actor, what } => {
            Event::GovernanceChanged { env, actor, what }
        }
        Change::RequestChanged(r) => Event::RequestChanged(Box::new(r)),
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(EVENT_CAPACITY);
        Events {
            tx,
            newest: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The store's newest change at start (notices before any new change carry it).
    pub fn set_newest(&self, seq: u64) {
        self.newest.fetch_max(seq, Ordering::Relaxed);
    }

    /// Send to every current subscriber (none is fine). Called by the store's writer thread
    /// with each durable batch's events, in seq order.
    pub fn publish_changes(&self, changes: &[ChangeEvent]) {
        for c in changes {
            if c.seq > 0 {
                self.newest.fetch_max(c.seq, Ordering::Relaxed);
            }
            let _ = self.tx.send((c.seq, to_wire(c.change.clone())));
        }
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
            newest: Arc::clone(&self.newest),
        }
    }
}

#[allow(clippy::large_enum_variant)] // short-lived, moved once: boxing buys nothing
pub enum Next {
    Event(u64, Event),
    Lagged(u64),
}

pub struct Subscription {
    rx: broadcast::Receiver<(u64, Event)>,
    newest: Arc<AtomicU64>,
}

impl Subscription {
    /// The next event, a gap, or `None` once the daemon stops publishing.
    pub async fn next(&mut self) -> Option<Next> {
        match self.rx.recv().await {
            Ok((seq, e)) => Some(Next::Event(seq, e)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Next::Lagged(missed)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Forward events to one plain (`Subscribe`) subscriber: no seq, `Lagged` on a gap.
pub async fn forward_plain(mut sub: Subscription, tx: mpsc::Sender<ServerFrame>) {
    while let Some(n) = sub.next().await {
        let event = match n {
            Next::Event(_, e) => e,
            Next::Lagged(missed) => Event::Lagged { missed },
        };
        if tx.send(ServerFrame::Event(event)).await.is_err() {
            break;
        }
    }
}

/// Forward events with their seq (`SubscribeSince`): first the stored ones after `after`,
/// then live ones, skipping any already sent; a live gap is re-read from the store. `sub`
/// must have been taken before this is called, so nothing committed meanwhile is missed.
pub async fn forward_since(
    store: Arc<dyn Store>,
    mut sub: Subscription,
    after: Option<u64>,
    tx: mpsc::Sender<ServerFrame>,
) {
    let mut last = after;
    if let Some(a) = after {
        // A seq from the future (the store was imported or replaced, or a typo): waiting for
        // it would skip every new event silently. Say where the store really is (`Lagged` at
        // its newest seq: resync) and go on from there.
        let s = Arc::clone(&store);
        let newest = tokio::task::spawn_blocking(move || s.last_change())
            .await
            .unwrap_or(Ok(0))
            .unwrap_or(0);
        if a > newest {
            last = Some(newest);
            let frame = ServerFrame::SeqEvent {
                seq: newest,
                event: Event::Lagged { missed: 0 },
            };
            if tx.send(frame).await.is_err() {
                return;
            }
        } else if replay(&store, a, &mut last, &tx).await.is_err() {
            return;
        }
    }
    while let Some(n) = sub.next().await {
        match n {
            // A live notice (an execution log): not a stored change, never skipped.
            Next::Event(0, event) => {
                let seq = last.unwrap_or_else(|| sub.newest.load(Ordering::Relaxed));
                if tx.send(ServerFrame::SeqEvent { seq, event }).await.is_err() {
                    return;
                }
            }
            Next::Event(seq, event) => {
                if last.is_some_and(|l| seq <= l) {
                    continue;
                }
                last = Some(seq);
                if tx.send(ServerFrame::SeqEvent { seq, event }).await.is_err() {
                    return;
                }
            }
            Next::Lagged(missed) => match last {
                Some(l) => {
                    if replay(&store, l, &mut last, &tx).await.is_err() {
                        return;
                    }
                }
                None => {
                    let frame = ServerFrame::SeqEvent {
                        seq: 0,
                        event: Event::Lagged { missed },
                    };
                    if tx.send(frame).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}

/// Send the stored events after `from`; `Lagged` first if retention already dropped some.
async fn replay(
    store: &Arc<dyn Store>,
    from: u64,
    last: &mut Option<u64>,
    tx: &mpsc::Sender<ServerFrame>,
) -> Result<(), ()> {
    let mut at = from;
    loop {
        let s = Arc::clone(store);
        let page: RelResult<Vec<ChangeEvent>> =
            tokio::task::spawn_blocking(move || s.changes_since(at, REPLAY_PAGE))
                .await
                .unwrap_or_else(|_| Ok(Vec::new()));
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "replaying stored events failed");
                return Err(());
            }
        };
        if let Some(first) = page.first()
            && first.seq > at + 1
        {
            let frame = ServerFrame::SeqEvent {
                seq: at,
                event: Event::Lagged {
                    missed: first.seq - at - 1,
                },
            };
            tx.send(frame).await.map_err(|_| ())?;
        }
        let n = page.len();
        for c in page {
            at = c.seq;
            *last = Some(c.seq);
            let frame = ServerFrame::SeqEvent {
                seq: c.seq,
                event: to_wire(c.change),
            };
            tx.send(frame).await.map_err(|_| ())?;
        }
        if n < REPLAY_PAGE {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged() {
        let events = Events::new();
        let sub = events.subscribe();
        let n = EVENT_CAPACITY as u64 + 5;
        let changes: Vec<ChangeEvent> = (0..n)
            .map(|i| ChangeEvent {
                seq: i + 1,
                change: Change::Imported {
                    actor: i.to_string(),
                },
            })
            .collect();
        events.publish_changes(&changes);
        let (tx, mut rx) = mpsc::channel(8);
        tokio::spawn(forward_plain(sub, tx));
        assert_eq!(
            rx.recv().await,
            Some(ServerFrame::Event(Event::Lagged { missed: 5 }))
        );
        // Then the oldest event still kept.
        assert_eq!(
            rx.recv().await,
            Some(ServerFrame::Event(Event::Imported { actor: "5".into() }))
        );
    }
}
