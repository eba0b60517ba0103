//! Execution logs, written off the request path. The sled store takes a log without
//! blocking (`Store::append_execution_nowait`: its own segment log, written in batches by
//! one thread) and answers once it is written. Other stores (etcd) get it through threads of
//! their own here (never the shared blocking pool the control plane's store calls use): a
//! run hands its record over a bounded channel and waits only for the id the store gives it.
//! Either way the answer comes once the record is written, without waiting for a disk sync
//! (it is synced within tens of milliseconds; see docs/RELIABILITY.md for the loss window on
//! power loss), and concurrent appends are batched into one write. Stored input and output are capped at
//! [`MAX_STORED_JSON`] bytes each; the caller's answer keeps them whole.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rel_domain::model::Execution;
use rel_domain::store::ExecDone;
use rel_domain::{RelError, RelResult, Store};
use tokio::sync::{mpsc, oneshot};

/// Records waiting for a writer at most; a run beyond that waits for room.
const QUEUE: usize = 4096;
/// Appends in flight at once: enough for the store to batch them.
const WRITERS: usize = 8;
/// Largest input, output or step output stored with an execution, in bytes of JSON text.
/// A larger one is stored as `{"truncated": true, "bytes": N, "head": "…"}`.
pub const MAX_STORED_JSON: usize = 64 * 1024;

struct Job {
    exec: Execution,
    reply: oneshot::Sender<RelResult<u64>>,
}

pub struct ExecLog {
    store: Arc<dyn Store>,
    retention: usize,
    tx: Option<mpsc::Sender<Job>>,
    writers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ExecLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecLog").finish_non_exhaustive()
    }
}

impl ExecLog {
    pub fn start(store: Arc<dyn Store>, retention: usize) -> std::io::Result<ExecLog> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let mut writers = Vec::with_capacity(WRITERS);
        for i in 0..WRITERS {
            let (rx, store) = (Arc::clone(&rx), Arc::clone(&store));
            // (The writers serve stores that cannot append without blocking: etcd.)
            let spawned = std::thread::Builder::new()
                .name(format!("rel-execlog-{i}"))
                .stack_size(256 << 10)
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                        let Some(job) = job else { break };
                        let id = store.append_execution_logged(&job.exec, retention);
                        let _ = job.reply.send(id);
                    }
                });
            match spawned {
                Ok(h) => writers.push(h),
                // Fewer writers still work; none does not.
                Err(e) if writers.is_empty() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "cannot start another execution log writer"),
            }
        }
        Ok(ExecLog {
            store,
            retention,
            tx: Some(tx),
            writers,
        })
    }

    /// Store `exec` (capped) and return its id.
    pub async fn append(&self, exec: &Execution) -> RelResult<u64> {
        let gone = || {
            RelError::unavailable("the execution log writer has stopped (releasd is shutting down)")
        };
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        let (reply, answer) = oneshot::channel();
        // The sled store queues the log and answers from its own writer: no thread hop.
        let done: ExecDone = Box::new(move |r| {
            let _ = reply.send(r);
        });
        if let Err(refused) = self
            .store
            .append_execution_nowait(capped(exec), self.retention, done)
        {
            let (exec, done) = *refused;
            let (reply, answer) = oneshot::channel();
            tx.send(Job { exec, reply }).await.map_err(|_| gone())?;
            let r = answer.await.map_err(|_| gone())?;
            done(r);
        }
        answer.await.map_err(|_| gone())?
    }
}

impl Drop for ExecLog {
    fn drop(&mut self) {
        // Close the channel, then wait for the writers to finish what was queued: they hold
        // the store, which must be closed (and its lock released) when the daemon stops.
        self.tx.take();
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
    }
}

/// `exec` with its input, output and step outputs cut to [`MAX_STORED_JSON`].
fn capped(exec: &Execution) -> Execution {
    let mut e = exec.clone();
    cap(&mut e.input);
    cap(&mut e.output);
    for s in &mut e.steps {
        cap(&mut s.output);
    }
    e
}

fn cap(json: &mut String) {
    if json.len() <= MAX_STORED_JSON {
        return;
    }
    let mut cut = MAX_STORED_JSON - 128;
    while !json.is_char_boundary(cut) {
        cut -= 1;
    }
    let marker = serde_json::json!({
        "truncated": true,
        "bytes": json.len(),
        "head": &json[..cut],
    });
    *json = marker.to_string();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_json_is_stored_as_a_marked_head() {
        let mut small = "{\"a\":1}".to_string();
        cap(&mut small);
        assert_eq!(small, "{\"a\":1}");
        let mut big = serde_json::to_string(&"é".repeat(100_000)).expect("json");
        let bytes = big.len();
        cap(&mut big);
        let v: serde_json::Value = serde_json::from_str(&big).expect("still JSON");
        assert_eq!(v["truncated"], true);
        assert_eq!(v["bytes"], bytes);
        // Escaping may grow the head a little, never past twice the cap.
        assert!(big.len() < 2 * MAX_STORED_JSON, "{}", big.len());
    }
}
