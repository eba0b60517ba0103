//! Events to subscribers: one bounded broadcast channel. A subscriber that falls behind
//! loses the oldest events and is told how many (`Event::Lagged`), so one slow `relctl watch`
//! can never hold up a deploy.

use rel_proto::Event;
use tokio::sync::broadcast;

/// Events kept for the slowest subscriber before it lags.
pub const EVENT_CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(EVENT_CAPACITY);
        Events { tx }
    }

    /// Send to every current subscriber (none is fine).
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
        }
    }
}

pub struct Subscription {
    rx: broadcast::Receiver<Event>,
}

impl Subscription {
    /// The next event (`Lagged` after a gap), or `None` once the daemon stops publishing.
    pub async fn next(&mut self) -> Option<Event> {
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged() {
        let events = Events::new();
        let mut sub = events.subscribe();
        let n = EVENT_CAPACITY as u64 + 5;
        for i in 0..n {
            events.publish(Event::Imported {
                actor: i.to_string(),
            });
        }
        assert_eq!(sub.next().await, Some(Event::Lagged { missed: 5 }));
        // Then the oldest event still kept.
        assert_eq!(
            sub.next().await,
            Some(Event::Imported { actor: "5".into() })
        );
    }
}
