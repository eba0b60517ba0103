//! One guarded transaction, sent so that its outcome is known whenever etcd can tell.
//!
//! A transaction in flight when the leader dies is neither acknowledged nor refused: the
//! follower that took it forwarded it to a leader that is gone, and only answers "request
//! timed out" seconds later. Its outcome is settled as soon as a new leader serves a
//! linearizable read (raft commits or drops every older entry before that), so this reads
//! back the transaction's first put: our value there, newer than every guard, means it
//! committed; otherwise it never will, and it is sent again. Sending again is safe for the
//! same reason, and because its guards make a second copy conflict rather than apply twice.

use std::time::Duration;

use etcd_client::{Client, Txn};

use super::kv::Outcome;

/// How to recognise our own commit: `value` at `key`, last modified after `after`.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub after: i64,
}

/// Send `txn` until its outcome is known (the caller bounds the whole call); each attempt
/// is bounded by `attempt`.
pub(super) async fn guarded(
    mut c: Client,
    txn: Txn,
    probe: Option<Probe>,
    attempt: Duration,
) -> Result<Outcome, etcd_client::Error> {
    let mut pause = Duration::from_millis(20);
    let mut unknown = false;
    loop {
        if unknown {
            let Some(p) = &probe else {
                // Nothing to read back (a delete-only transaction): report it.
                return Err(etcd_client::Error::Internal(
                    "a transaction's outcome is unknown (etcd lost its leader while it was in flight); check the state before retrying".into(),
                ));
            };
            match tokio::time::timeout(attempt, c.get(p.key.clone(), None)).await {
                Ok(Ok(resp)) => {
                    if let Some(kv) = resp.kvs().first()
                        && kv.value() == p.value.as_slice()
                        && kv.mod_revision() > p.after
                    {
                        return Ok(Outcome::Committed {
                            revision: kv.mod_revision(),
                        });
                    }
                    unknown = false; // settled: not applied, and it never will be
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                    continue;
                }
            }
        }
        match tokio::time::timeout(attempt, c.txn(txn.clone())).await {
            Ok(Ok(resp)) => {
                let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
                return Ok(if resp.succeeded() {
                    Outcome::Committed { revision }
                } else {
                    Outcome::Conflict { revision }
                });
            }
            Ok(Err(e)) if not_sent(&e) => {
                tracing::debug!(error = %e, "etcd: transaction not sent; sending to another member");
            }
            Ok(Err(e)) if in_doubt(&e) => {
                tracing::info!(error = %e, "etcd: transaction outcome unknown; reading it back");
                unknown = true;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                tracing::info!("etcd: transaction not answered in time; reading it back");
                unknown = true;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The request never reached etcd: the connection to that member failed to open, or hyper
/// cancelled it while still queued on a connection that closed.
fn not_sent(e: &etcd_client::Error) -> bool {
    use tonic::Code;
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            (s.code() == Code::Unavailable && s.message().contains("connect"))
                || (s.code() == Code::Cancelled && s.message().contains("operation was canceled"))
        }
        _ => false,
    }
}

/// It may have reached etcd, and etcd may yet apply it.
fn in_doubt(e: &etcd_client::Error) -> bool {
    use tonic::Code;
    match e {
        etcd_client::Error::GRpcStatus(s) => matches!(
            s.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
        ),
        etcd_client::Error::IoError(_) => true,
        _ => false,
    }
}
