//! One client connection: handshake (peer credentials → caller, protocol version), then
//! requests handled concurrently (answers matched by id), and an optional event stream.
//! Anything malformed closes this connection only.

use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::{Stream, prelude::*};
use rel_domain::{Caller, RelError};
use rel_proto::codec::{self, CodecError, read_frame};
use rel_proto::{ClientFrame, Hello, PROTOCOL_VERSION, Request, Response, ServerFrame, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::auth::Peer;
use crate::server::Shared;

/// A client has this long to say `Hello` after connecting.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests of one connection running at once; further frames wait (backpressure).
const MAX_IN_FLIGHT: usize = 64;
/// Frames queued for the writer of one connection.
const OUT_BUFFER: usize = 256;

pub async fn run(
    stream: Stream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let peer = match stream.peer_creds() {
        Ok(c) => match (c.euid(), c.egid()) {
            (Some(uid), Some(gid)) => Peer {
                uid,
                gid,
                pid: c.pid(),
            },
            _ => {
                tracing::warn!("peer credentials carry no uid; closing");
                return;
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot read peer credentials; closing");
            return;
        }
    };
    let stream = Arc::new(stream);

    let hello = tokio::select! {
        _ = stop.wait_for(|s| *s) => return,
        h = tokio::time::timeout(HELLO_TIMEOUT, read_hello(&stream)) => h,
    };
    let hello = match hello {
        Ok(Ok(h)) => h,
        Ok(Err(why)) => {
            tracing::debug!(uid = peer.uid, pid = ?peer.pid, "closing before handshake: {why}");
            return;
        }
        Err(_) => {
            tracing::debug!(uid = peer.uid, pid = ?peer.pid, "no Hello within {HELLO_TIMEOUT:?}; closing");
            return;
        }
    };

    let caller = shared.auth.identify(&peer);
    let welcome = caller.clone().map(|caller| Welcome {
        protocol: PROTOCOL_VERSION,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        caller,
        pid: shared.info.pid,
    });
    if write_direct(&stream, &ServerFrame::Welcome(welcome))
        .await
        .is_err()
    {
        return;
    }
    let caller = match caller {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(uid = peer.uid, pid = ?peer.pid, client = %hello.client, "refused: {}", e.message);
            return;
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        // The Welcome names our version; the client reports the mismatch to its user.
        tracing::warn!(
            client = %hello.client, user = %caller.actor.name,
            "protocol version mismatch: client speaks v{}, releasd speaks v{PROTOCOL_VERSION}; closing", hello.protocol
        );
        return;
    }
    tracing::debug!(client = %hello.client, user = %caller.actor.name, role = caller.role.as_str(), pid = ?peer.pid, "connected");
    session(stream, shared, stop, caller).await;
}

async fn read_hello(stream: &Stream) -> Result<Hello, String> {
    let mut r = stream;
    match read_frame::<_, ClientFrame>(&mut r).await {
        Ok(ClientFrame::Hello(h)) => Ok(h),
        Ok(ClientFrame::Request { .. }) => Err("a request before Hello".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Write one frame on a stream nobody else writes to yet (the handshake).
async fn write_direct(stream: &Stream, frame: &ServerFrame) -> Result<(), CodecError> {
    let bytes = codec::frame(frame)?;
    let mut w = stream;
    w.write_all(&bytes).await?;
    Ok(())
}

async fn session(
    stream: Arc<Stream>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    caller: Caller,
) {
    let (out_tx, out_rx) = mpsc::channel::<ServerFrame>(OUT_BUFFER);
    let writer = tokio::spawn(write_loop(Arc::clone(&stream), out_rx));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut forwarder: Option<JoinHandle<()>> = None;
    let user = caller.actor.name.clone();
    // Buffered: a frame's length prefix and payload usually arrive in one read.
    let mut r = tokio::io::BufReader::new(&*stream);
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            f = read_frame::<_, ClientFrame>(&mut r) => f,
        };
        match frame {
            Ok(ClientFrame::Request {
                id,
                request: request @ (Request::Subscribe | Request::SubscribeSince { .. }),
            }) => {
                // Subscribe before answering (and before any replay from the store) so no
                // event committed meanwhile is missed.
                let sub = shared.events.subscribe();
                if out_tx
                    .send(ServerFrame::Response {
                        id,
                        result: Ok(Response::Subscribed),
                    })
                    .await
                    .is_err()
                {
                    break;
                }
                if let Some(f) = forwarder.take() {
                    f.abort();
                }
                let tx = out_tx.clone();
                forwarder = Some(match request {
                    Request::SubscribeSince { after } => tokio::spawn(
                        crate::events::forward_since(Arc::clone(&shared.store), sub, after, tx),
                    ),
                    _ => tokio::spawn(crate::events::forward_plain(sub, tx)),
                });
            }
            Ok(ClientFrame::Request { id, request }) => {
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    break;
                };
                let (tx, shared, caller) = (out_tx.clone(), Arc::clone(&shared), caller.clone());
                tasks.spawn(async move {
                    let result = crate::dispatch::handle(&shared, &caller, request).await;
                    let _ = tx.send(ServerFrame::Response { id, result }).await;
                    drop(permit);
                });
            }
            Ok(ClientFrame::Hello(_)) => {
                tracing::warn!(%user, "a second Hello on one connection; closing it");
                break;
            }
            Err(CodecError::Closed) => break,
            Err(e) => {
                tracing::warn!(%user, "closing the connection: {e}");
                break;
            }
        }
        while let Some(done) = tasks.try_join_next() {
            log_join(done);
        }
    }
    // Finish what was asked (a deploy in flight completes and is answered), then close.
    while let Some(done) = tasks.join_next().await {
        log_join(done);
    }
    if let Some(f) = forwarder {
        f.abort();
    }
    drop(out_tx);
    let _ = writer.await;
}

fn log_join(r: Result<(), tokio::task::JoinError>) {
    if let Err(e) = r
        && e.is_panic()
    {
        tracing::error!(error = %e, "a request task panicked");
    }
}

async fn write_loop(stream: Arc<Stream>, mut rx: mpsc::Receiver<ServerFrame>) {
    let mut w = &*stream;
    while let Some(frame) = rx.recv().await {
        let bytes = match codec::frame(&frame) {
            Ok(b) => b,
            Err(e) => match frame {
                // An answer too big for a frame becomes an error answer, not a hang.
                ServerFrame::Response { id, .. } => {
                    let err = RelError::internal(format!(
                        "the answer is too large to send ({e}); ask for less (e.g. a smaller --limit)"
                    ));
                    match codec::frame(&ServerFrame::Response {
                        id,
                        result: Err(err),
                    }) {
                        Ok(b) => b,
                        Err(_) => continue,
                    }
                }
                _ => {
                    tracing::warn!("dropping an event that cannot be encoded: {e}");
                    continue;
                }
            },
        };
        if w.write_all(&bytes).await.is_err() {
            // The client went away; keep draining so senders never block on us.
            while rx.recv().await.is_some() {}
            return;
        }
    }
}
