//! One client connection: handshake (peer credentials → caller, protocol version), then
//! requests handled concurrently (answers matched by id), and an optional event stream.
//! Anything malformed closes this connection only.

use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::{Stream, prelude::*};
use rel_domain::{Caller, RelError, Role};
use rel_proto::codec::{self, CodecError, FrameReader};
use rel_proto::{ClientFrame, Hello, PROTOCOL_VERSION, Request, Response, ServerFrame, Welcome};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::auth::Peer;
use crate::limits::Slot;
use crate::server::Shared;

/// Requests of one connection running at once; further frames wait (backpressure).
const MAX_IN_FLIGHT: usize = 64;
/// Frames queued for the writer of one connection.
const OUT_BUFFER: usize = 256;
/// How long a refused client gets to take its refusal before the connection is dropped.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);

type Reader<'a> = FrameReader<BufReader<&'a Stream>>;

pub async fn run(stream: Stream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
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
    // Who it is decides which slots it may take: admins keep a reserve nobody else can use.
    let caller = shared.auth.identify(&peer);
    let admin = matches!(&caller, Ok(c) if c.role == Role::Admin);
    let name = match &caller {
        Ok(c) => c.actor.name.clone(),
        Err(_) => crate::auth::user_name(peer.uid),
    };
    let slot = match shared.slots.connect(peer.uid, &name, admin) {
        Ok(s) => s,
        Err(e) => {
            // The refusal is the handshake's answer. Take the Hello first (briefly), so the
            // client is not cut off mid-write and reads why.
            tracing::info!(uid = peer.uid, pid = ?peer.pid, "connection refused: {}", e.message);
            let mut r = FrameReader::new(&stream);
            let _ = tokio::time::timeout(REFUSAL_WRITE, r.next::<ClientFrame>()).await;
            let refusal = ServerFrame::Welcome(Err(e));
            let _ = tokio::time::timeout(REFUSAL_WRITE, write_direct(&stream, &refusal)).await;
            return;
        }
    };
    let limits = shared.slots.limits().clone();
    let stream = Arc::new(stream);
    let mut reader: Reader<'_> =
        FrameReader::new(BufReader::new(&*stream)).with_frame_timeout(limits.frame_timeout);

    let hello = tokio::select! {
        _ = stop.wait_for(|s| *s) => return,
        h = tokio::time::timeout(limits.handshake_timeout, read_hello(&mut reader)) => h,
    };
    let hello = match hello {
        Ok(Ok(h)) => h,
        Ok(Err(why)) => {
            tracing::debug!(uid = peer.uid, pid = ?peer.pid, "closing before handshake: {why}");
            return;
        }
        Err(_) => {
            tracing::debug!(uid = peer.uid, pid = ?peer.pid, "no Hello within {:?} (--handshake-timeout); closing", limits.handshake_timeout);
            return;
        }
    };

    let welcome = caller.clone().map(|caller| Welcome {
        protocol: PROTOCOL_VERSION,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        caller,
        pid: shared.info.pid,
    });
    let sent = tokio::time::timeout(
        limits.frame_timeout,
        write_direct(&stream, &ServerFrame::Welcome(welcome)),
    )
    .await;
    if !matches!(sent, Ok(Ok(()))) {
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
    session(&stream, reader, shared, stop, caller, slot).await;
}

async fn read_hello(reader: &mut Reader<'_>) -> Result<Hello, String> {
    match reader.next::<ClientFrame>().await {
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
    stream: &Arc<Stream>,
    mut reader: Reader<'_>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    caller: Caller,
    _slot: Slot,
) {
    let limits = shared.slots.limits().clone();
    let admin = caller.role == Role::Admin;
    let (out_tx, out_rx) = mpsc::channel::<ServerFrame>(OUT_BUFFER);
    let (stalled_tx, mut stalled) = oneshot::channel::<()>();
    let writer = tokio::spawn(write_loop(
        Arc::clone(stream),
        out_rx,
        limits.frame_timeout,
        stalled_tx,
    ));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut forwarder: Option<JoinHandle<()>> = None;
    let mut upload = crate::transfer::Upload::default();
    let user = caller.actor.name.clone();
    let mut idle_since = Instant::now();
    loop {
        // Idle: nothing asked, nothing running, no subscription (subscribers have their own
        // bound) and no frame on its way.
        let idle = tasks.is_empty() && forwarder.is_none();
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = &mut stalled => {
                tracing::warn!(%user, "the client stopped taking answers (none taken within {:?}, --frame-timeout); closing", limits.frame_timeout);
                break;
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                log_join(done);
                idle_since = Instant::now();
                continue;
            }
            _ = tokio::time::sleep_until(idle_since + limits.idle_timeout), if idle => {
                if reader.partial() > 0 {
                    // A frame is arriving; the frame deadline governs it.
                    idle_since = Instant::now();
                    continue;
                }
                tracing::debug!(%user, "idle for {:?} (--idle-timeout); closing", limits.idle_timeout);
                break;
            }
            f = reader.next::<ClientFrame>() => f,
        };
        idle_since = Instant::now();
        match frame {
            Ok(ClientFrame::Request {
                id,
                request: request @ (Request::Subscribe | Request::SubscribeSince { .. }),
            }) => {
                let sub_slot = match shared.slots.subscribe(caller.actor.uid, &user, admin) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::info!(%user, "subscription refused: {}", e.message);
                        if out_tx
                            .send(ServerFrame::Response { id, result: Err(e) })
                            .await
                            .is_err()
                        {
                            break;
                        }
                        continue;
                    }
                };
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
                    Request::SubscribeSince { after } => {
                        let store = Arc::clone(&shared.store);
                        tokio::spawn(async move {
                            let _slot = sub_slot;
                            crate::events::forward_since(store, sub, after, tx).await
                        })
                    }
                    _ => tokio::spawn(async move {
                        let _slot = sub_slot;
                        crate::events::forward_plain(sub, tx).await
                    }),
                });
            }
            Ok(ClientFrame::Request {
                id,
                request: Request::ExportStream,
            }) => {
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    break;
                };
                let (tx, shared, caller) = (out_tx.clone(), Arc::clone(&shared), caller.clone());
                tasks.spawn(async move {
                    crate::transfer::export(shared, caller, id, tx).await;
                    drop(permit);
                });
            }
            Ok(ClientFrame::Request {
                id,
                request: Request::ImportChunk { data },
            }) => {
                // In order, on this connection: appended before the next frame is read.
                let result = upload.append(&shared, &caller, data).await;
                if out_tx
                    .send(ServerFrame::Response { id, result })
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Ok(ClientFrame::Request { id, request }) => {
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    break;
                };
                let request = match request {
                    Request::ImportCommit => match upload.take().await {
                        Ok(dump) => Request::Import { dump },
                        Err(e) => {
                            let _ = out_tx
                                .send(ServerFrame::Response { id, result: Err(e) })
                                .await;
                            continue;
                        }
                    },
                    other => other,
                };
                let (tx, shared, caller) = (out_tx.clone(), Arc::clone(&shared), caller.clone());
                tasks.spawn(async move {
                    let result = crate::dispatch::handle(&shared, &caller, request).await;
                    let result = result.map(|r| crate::paging::fit(r, shared.page_bytes));
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

/// Write answers and events in order. A client that takes no bytes for `stall` (it stopped
/// reading) is reported through `stalled` so the session closes it: its answers must not pile
/// up in the daemon's memory.
async fn write_loop(
    stream: Arc<Stream>,
    mut rx: mpsc::Receiver<ServerFrame>,
    stall: Duration,
    stalled: oneshot::Sender<()>,
) {
    let mut w = &*stream;
    while let Some(frame) = rx.recv().await {
        let bytes = match codec::frame(&frame) {
            Ok(b) => b,
            Err(e) => match frame {
                // An answer too big for a frame becomes an error answer, not a hang.
                ServerFrame::Response { id, .. } => {
                    let err = RelError::internal(format!(
                        "the answer is too large to send in one frame ({e}); this is a bug in releasd's paging, please report it"
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
        match tokio::time::timeout(stall, w.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                let _ = stalled.send(());
                break;
            }
        }
    }
    // The client went away or stalled; keep draining so senders never block on us.
    while rx.recv().await.is_some() {}
}
