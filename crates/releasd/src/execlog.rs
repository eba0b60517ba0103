//! Execution logs, written off the request path by a thread of their own: a run hands its
//! record over a bounded channel and waits only for the id the store gives it. The writer
//! drains whatever has queued up and writes it as one batch ([`write_batch`] is the one
//! place that talks to the store). Stored input and output are capped at
//! [`MAX_STORED_JSON`] bytes each; the caller's answer keeps them whole.

use std::sync::Arc;
use std::thread::JoinHandle;

use rel_domain::model::Execution;
use rel_domain::{RelError, RelResult, Store};
use tokio::sync::{mpsc, oneshot};

/// Records waiting for the writer at most; a run beyond that waits for room.
const QUEUE: usize = 4096;
/// Records written per batch at most.
const BATCH: usize = 256;
/// Largest input, output or step output stored with an execution, in bytes of JSON text.
/// A larger one is stored as `{"truncated": true, "bytes": N, "head": "…"}`.
pub const MAX_STORED_JSON: usize = 64 * 1024;

struct Job {
    exec: Execution,
    reply: oneshot::Sender<RelResult<u64>>,
}

pub struct ExecLog {
    tx: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ExecLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecLog").finish_non_exhaustive()
    }
}

impl ExecLog {
    pub fn start(store: Arc<dyn Store>, retention: usize) -> std::io::Result<ExecLog> {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("rel-execlog".to_string())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let (execs, replies): (Vec<Execution>, Vec<_>) =
                        batch.into_iter().map(|j| (j.exec, j.reply)).unzip();
                    let ids = write_batch(store.as_ref(), &execs, retention);
                    for (reply, id) in replies.into_iter().zip(ids) {
                        let _ = reply.send(id);
                    }
                }
            })?;
        Ok(ExecLog {
            tx: Some(tx),
            writer: Some(writer),
        })
    }

    /// Store `exec` (capped) and return its id.
    pub async fn append(&self, exec: &Execution) -> RelResult<u64> {
        let gone = || {
            RelError::unavailable("the execution log writer has stopped (releasd is shutting down)")
        };
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job {
            exec: capped(exec),
            reply,
        })
        .await
        .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl Drop for ExecLog {
    fn drop(&mut self) {
        // Close the channel, then wait for the writer to finish what was queued: it holds
        // the store, which must be closed (and its lock released) when the daemon stops.
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Write `execs` in order; one result (the id, or why not) per record.
fn write_batch(store: &dyn Store, execs: &[Execution], retention: usize) -> Vec<RelResult<u64>> {
    execs
        .iter()
        .map(|e| store.append_execution(e, retention))
        .collect()
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
