//! Admission control for pipeline runs: at most `workers` runs at once for the daemon and
//! `per_endpoint` for one endpoint of one environment, a queue of at most `queue` waiting
//! requests, each waiting no longer than its own deadline allows; beyond that the request
//! is refused at once (HTTP 503 with `Retry-After`), so a flood costs the daemon nothing
//! but the refusals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Admission {
    global: Arc<Semaphore>,
    global_limit: usize,
    per: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_limit: usize,
    queued: AtomicUsize,
    max_queue: usize,
}

/// A run may go ahead while this is held.
pub struct Admitted {
    _endpoint: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(global: usize, per_endpoint: usize, queue: usize) -> Admission {
        Admission {
            global: Arc::new(Semaphore::new(global.max(1))),
            global_limit: global.max(1),
            per: Mutex::new(HashMap::new()),
            per_limit: per_endpoint.max(1),
            queued: AtomicUsize::new(0),
            max_queue: queue,
        }
    }

    /// Runs going on right now.
    pub fn running(&self) -> usize {
        self.global_limit - self.global.available_permits()
    }

    /// Admit a run of `key` (`ENV/ENDPOINT`), waiting at most `wait`; `Err` says why not.
    pub async fn admit(&self, key: &str, wait: Duration) -> Result<Admitted, String> {
        let per = {
            let mut map = self.per.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                map.entry(key.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_limit))),
            )
        };
        if let (Ok(e), Ok(g)) = (
            Arc::clone(&per).try_acquire_owned(),
            Arc::clone(&self.global).try_acquire_owned(),
        ) {
            return Ok(Admitted {
                _endpoint: e,
                _global: g,
            });
        }
        let busy = || {
            format!(
                "releasd is busy: it runs at most {} pipeline runs at once ({} for one endpoint of one environment) and {} more are waiting; retry in a moment",
                self.global_limit, self.per_limit, self.max_queue
            )
        };
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        // Per endpoint first: one endpoint's waiters never hold more global slots than its own.
        let got = tokio::time::timeout(wait, async {
            let e = per.acquire_owned().await.ok()?;
            let g = Arc::clone(&self.global).acquire_owned().await.ok()?;
            Some(Admitted {
                _endpoint: e,
                _global: g,
            })
        })
        .await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        match got {
            Ok(Some(a)) => Ok(a),
            Ok(None) => {
                Err("releasd is shutting down; retry against the restarted daemon".to_string())
            }
            Err(_) => Err(format!(
                "{} (waited {} ms for a free slot)",
                busy(),
                wait.as_millis()
            )),
        }
    }

    /// Refuse every run from now on (shutdown).
    pub fn close(&self) {
        self.global.close();
    }
}
