//! The request scheduler (issue 11): fires scheduled deploys at their time and expires
//! approval requests nobody approved in time. Everything it needs is in the store (the
//! `requests_due` index), so after a crash or restart it picks up where it left off: a
//! schedule whose time passed while the daemon was down fires on start. Each request is
//! fired in one store transaction that also marks it, so it runs exactly once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::dispatch::{now, publish};
use crate::server::Shared;

/// The longest the scheduler sleeps between looks at the index: a new schedule is picked up
/// within this, and a due one fires within this of its time.
const TICK: Duration = Duration::from_millis(200);

pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let s = Arc::clone(&shared);
        let next = match tokio::task::spawn_blocking(move || step(&s)).await {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "scheduler: could not process due requests; retrying");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "scheduler step panicked; retrying");
                None
            }
        };
        let wait = match next {
            Some(t) => {
                let ms = u64::try_from((t.0 - now().0).max(1)).unwrap_or(1);
                Duration::from_millis(ms).min(TICK)
            }
            None => TICK,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Fire or expire every request due now; answer when the next one falls due. Blocking
/// (store transactions).
fn step(shared: &Shared) -> rel_domain::RelResult<Option<rel_domain::Timestamp>> {
    let at = now();
    for r in shared.store.due_requests(at)? {
        let requester = shared.auth.caller_for_uid(r.requested_uid);
        let Some((req, outcome)) = shared.store.fire_request(r.id, &requester, at)? else {
            continue;
        };
        match outcome {
            Some(Ok(out)) => {
                publish(shared, &out.deployment);
                tracing::info!(request = req.id, env = %req.env, release = %req.release, deployment = out.deployment.id, "scheduled deploy carried out");
            }
            Some(Err(e)) => {
                tracing::info!(request = req.id, env = %req.env, release = %req.release, code = %e.code, error = %e.message, "scheduled deploy refused")
            }
            None => tracing::info!(
                request = req.id,
                status = req.status.as_str(),
                "request ended"
            ),
        }
    }
    shared.store.next_due()
}
