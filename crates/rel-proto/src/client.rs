//! The async client every program uses to talk to `releasd`.
//!
//! API contract (the daemon helper implements the bodies; relctl and relui code against it):
//! - `Client::connect(socket, "relctl 0.1.0")` connects, sends `Hello`, checks `Welcome`.
//!   Unreachable socket ⇒ `ClientError::Unreachable`; version mismatch ⇒ `ClientError::Version`
//!   naming both versions.
//! - `call(&self, Request)` may be used concurrently from several tasks (requests are
//!   pipelined; a background reader matches responses by id).
//! - `subscribe(&self)` sends `Request::Subscribe` and returns a stream of `Event`s; the
//!   stream ends (`None`) when the daemon goes away.
//!
//! Inside: one writer task owns the sending side and writes whole, pre-encoded frames (so a
//! cancelled `call` can never leave half a frame on the socket); one reader task routes each
//! `Response` to the oneshot its `call` waits on and each `Event` to the subscription. When
//! the connection drops, every pending and later call fails with `Disconnected` and the
//! event stream ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interprocess::local_socket::tokio::{Stream, prelude::*};
use interprocess::local_socket::{GenericFilePath, ToFsName};
use rel_domain::RelError;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::PROTOCOL_VERSION;
use crate::codec::{self, CodecError, FrameReader, read_frame};
use crate::messages::{ClientFrame, Event, Hello, Request, Response, ServerFrame, Welcome};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `reason` ends with what to do (it differs: nothing there vs a daemon that died).
    #[error("cannot reach releasd at {}: {reason}", socket.display())]
    Unreachable { socket: PathBuf, reason: String },
    #[error(
        "protocol version mismatch: this client speaks v{client}, releasd speaks v{daemon}; upgrade the older one"
    )]
    Version { client: u32, daemon: u32 },
    #[error("{0}")]
    Rpc(RelError),
    #[error("connection to releasd lost: {0}")]
    Disconnected(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The socket (or a directory above it) may not be opened by this user. Never a reason
    /// to start a daemon there: one is (or may be) running, owned by someone else.
    #[error("permission denied opening releasd's socket {}: {reason}", socket.display())]
    Denied { socket: PathBuf, reason: String },
}

/// How long the daemon may take to answer `Hello`. A daemon that accepts but never answers
/// (wedged, or not releasd at all) must not hang a script forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Events buffered for a subscriber that is not reading; beyond this they are dropped and
/// the subscriber gets `Event::Lagged` (it must refresh), rather than stalling responses.
const EVENT_BUFFER: usize = 4096;

/// An event and its seq (`None` on a plain `Subscribe`).
type SeqEvent = (Option<u64>, Event);

/// Where an answer goes: the one `call` waiting for it, or a stream of answers
/// ([`Client::call_stream`]).
enum Reply {
    Once(oneshot::Sender<Result<Response, RelError>>),
    Stream(mpsc::Sender<Result<Response, RelError>>),
}

/// Answers to one streamed request, in order ([`Client::call_stream`]).
pub struct ResponseStream {
    rx: mpsc::Receiver<Result<Response, RelError>>,
}

impl ResponseStream {
    /// The next answer; `Err(Disconnected)` if the connection went away before the end.
    pub async fn next(&mut self) -> Result<Response, ClientError> {
        match self.rx.recv().await {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(ClientError::Rpc(e)),
            None => Err(ClientError::Disconnected(
                "releasd closed the connection in the middle of a streamed answer".to_string(),
            )),
        }
    }
}

/// Answers buffered for a streamed request before the reader waits for its consumer.
const STREAM_BUFFER: usize = 4;

/// A streamed answer goes on after a piece (`Export`); anything else ends it.
fn ends_stream(result: &Result<Response, RelError>) -> bool {
    !matches!(result, Ok(Response::Export { .. }))
}

/// State shared between the `Client` handle and its reader task.
struct Shared {
    pending: Mutex<Pending>,
    events: Mutex<Option<mpsc::Sender<SeqEvent>>>,
}

struct Pending {
    replies: HashMap<u64, Reply>,
    /// Set once the connection is gone: why.
    closed: Option<String>,
}

pub struct Client {
    welcome: Welcome,
    next_id: AtomicU64,
    shared: Arc<Shared>,
    frames: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

pub struct EventStream {
    rx: mpsc::Receiver<SeqEvent>,
}

impl Client {
    pub async fn connect(socket: &Path, client_name: &str) -> Result<Client, ClientError> {
        Self::connect_with_protocol(socket, client_name, PROTOCOL_VERSION).await
    }

    /// Like [`Client::connect`] but announcing `protocol` in `Hello`: for tests of the version
    /// handshake. Everything else should use `connect`.
    pub async fn connect_with_protocol(
        socket: &Path,
        client_name: &str,
        protocol: u32,
    ) -> Result<Client, ClientError> {
        let unreachable = |reason: String| ClientError::Unreachable {
            socket: socket.to_path_buf(),
            reason,
        };
        let name = socket.to_fs_name::<GenericFilePath>().map_err(|e| {
            unreachable(format!(
                "not a usable socket path: {e}. Check --socket / RELEASD_SOCKET"
            ))
        })?;
        let stream = Stream::connect(name).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                ClientError::Denied {
                    socket: socket.to_path_buf(),
                    reason: blocking_dir(socket).unwrap_or_else(|| describe_connect_error(&e)),
                }
            } else {
                unreachable(describe_connect_error(&e))
            }
        })?;
        let stream = Arc::new(stream);

        let hello = ClientFrame::Hello(Hello {
            protocol,
            client: client_name.to_string(),
        });
        let welcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&stream, &hello))
            .await
            .map_err(|_| {
                unreachable(format!(
                    "no answer to the handshake within {}s (is that really releasd?)",
                    HANDSHAKE_TIMEOUT.as_secs()
                ))
            })??;
        if welcome.protocol != protocol {
            return Err(ClientError::Version {
                client: protocol,
                daemon: welcome.protocol,
            });
        }

        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                replies: HashMap::new(),
                closed: None,
            }),
            events: Mutex::new(None),
        });
        let (frames, frames_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(
            Arc::clone(&stream),
            frames_rx,
            Arc::clone(&shared),
        ));
        let reader = tokio::spawn(read_loop(stream, Arc::clone(&shared)));
        Ok(Client {
            welcome,
            next_id: AtomicU64::new(1),
            shared,
            frames,
            reader,
            writer,
        })
    }

    /// Who the daemon says we are, its pid and version.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    pub async fn call(&self, request: Request) -> Result<Response, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = codec::frame(&ClientFrame::Request { id, request })
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = lock(&self.shared.pending);
            if let Some(why) = &p.closed {
                return Err(ClientError::Disconnected(why.clone()));
            }
            p.replies.insert(id, Reply::Once(tx));
        }
        if self.frames.send(bytes).is_err() {
            lock(&self.shared.pending).replies.remove(&id);
            return Err(ClientError::Disconnected(self.closed_reason()));
        }
        match rx.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(ClientError::Rpc(e)),
            Err(_) => Err(ClientError::Disconnected(self.closed_reason())),
        }
    }

    /// Send a request answered by several responses (`ExportStream`: `Export` pieces, then
    /// `Done`) and return them as a stream. The reader waits for the consumer (the daemon
    /// then waits for us): memory stays bounded whatever the answer's size.
    pub async fn call_stream(&self, request: Request) -> Result<ResponseStream, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = codec::frame(&ClientFrame::Request { id, request })
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        {
            let mut p = lock(&self.shared.pending);
            if let Some(why) = &p.closed {
                return Err(ClientError::Disconnected(why.clone()));
            }
            p.replies.insert(id, Reply::Stream(tx));
        }
        if self.frames.send(bytes).is_err() {
            lock(&self.shared.pending).replies.remove(&id);
            return Err(ClientError::Disconnected(self.closed_reason()));
        }
        Ok(ResponseStream { rx })
    }

    /// Start receiving events on this connection. A second call replaces the first stream
    /// (which then ends). Requests keep working on a subscribed client.
    pub async fn subscribe(&self) -> Result<EventStream, ClientError> {
        self.subscribe_with(Request::Subscribe).await
    }

    /// Events with their store-wide seq: with `after: Some(SEQ)`, first the stored events
    /// after SEQ, then live ones, with no gap and no repeat (resume after a reconnect).
    pub async fn subscribe_since(&self, after: Option<u64>) -> Result<EventStream, ClientError> {
        self.subscribe_with(Request::SubscribeSince { after }).await
    }

    async fn subscribe_with(&self, request: Request) -> Result<EventStream, ClientError> {
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        // Installed before asking, so no event sent right after `Subscribed` can be missed.
        *lock(&self.shared.events) = Some(tx);
        match self.call(request).await {
            Ok(Response::Subscribed) => Ok(EventStream { rx }),
            Ok(other) => {
                *lock(&self.shared.events) = None;
                Err(ClientError::Protocol(format!(
                    "expected Subscribed, got {other:?}"
                )))
            }
            Err(e) => {
                *lock(&self.shared.events) = None;
                Err(e)
            }
        }
    }

    fn closed_reason(&self) -> String {
        lock(&self.shared.pending)
            .closed
            .clone()
            .unwrap_or_else(|| "the connection closed".to_string())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The tasks hold the socket; stopping them closes it.
        self.reader.abort();
        self.writer.abort();
    }
}

impl EventStream {
    /// The next event, or `None` when the connection is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await.map(|(_, e)| e)
    }

    /// The next event with its seq (`None` for a plain `subscribe`, and for a `Lagged` the
    /// client itself reports because this stream was not read fast enough).
    pub async fn next_seq(&mut self) -> Option<SeqEvent> {
        self.rx.recv().await
    }
}

/// A poisoned lock only means another task panicked mid-update of plain data; keep going.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// When a directory on the way, not the socket itself, keeps this user out: which one, its
/// mode and owner, and the fix. Found by stat(): it needs search permission on the parent
/// directory only, so the deepest directory we can stat whose entry we cannot is the one.
fn blocking_dir(socket: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let denied = |p: &Path| {
        std::fs::metadata(p).is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
    };
    let mut entry = socket;
    for dir in socket
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        match std::fs::metadata(dir) {
            Ok(m) if denied(entry) => {
                return Some(format!(
                    "its directory {} (mode {:o}, owner uid {}, group id {}) does not let you \
                     pass. The daemon's owner can give a group access: set `group` in the \
                     [socket] section of releasd's config and restart it (releasd then makes \
                     the directory 0750), or run `chgrp GROUP {} && chmod 0750 {}`",
                    dir.display(),
                    m.mode() & 0o7777,
                    m.uid(),
                    m.gid(),
                    dir.display(),
                    dir.display()
                ));
            }
            Ok(_) => return None,
            Err(_) => entry = dir,
        }
    }
    None
}

fn describe_connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "no socket there (releasd is not running, or uses another --socket). {START_HINT}"
        ),
        // A daemon ran here and did not clean up: its data dir is unknown to the client, and
        // a plain `releasd` would serve the default one, maybe an empty store, on this socket.
        std::io::ErrorKind::ConnectionRefused => "connection refused: a releasd ran here and \
             stopped without cleaning up (a crash or kill -9). Start it again the way it was \
             started, with the same --data-dir and config (e.g. systemctl restart releasd); a \
             plain `releasd` serves its default data dir, which may not be this store"
            .to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "only the daemon's owner, and the group set in its [socket] config, may open it. \
             Ask its owner for access, or run your own daemon with a --socket you own"
                .to_string()
        }
        _ => format!("{e}. {START_HINT}"),
    }
}

const START_HINT: &str = "Start it with `releasd` (or check --socket / RELEASD_SOCKET)";

async fn handshake(stream: &Stream, hello: &ClientFrame) -> Result<Welcome, ClientError> {
    let lost = |e: CodecError| ClientError::Disconnected(format!("during the handshake: {e}"));
    let bytes = codec::frame(hello).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let mut w = stream;
    w.write_all(&bytes).await.map_err(|e| lost(e.into()))?;
    let mut r = stream;
    match read_frame::<_, ServerFrame>(&mut r).await {
        Ok(ServerFrame::Welcome(Ok(welcome))) => Ok(welcome),
        Ok(ServerFrame::Welcome(Err(e))) => Err(ClientError::Rpc(e)),
        Ok(other) => Err(ClientError::Protocol(format!(
            "expected Welcome, got {other:?}"
        ))),
        Err(e @ CodecError::Decode(_)) => Err(ClientError::Protocol(format!(
            "cannot read releasd's handshake answer ({e}); it may speak a different protocol version than v{PROTOCOL_VERSION}"
        ))),
        Err(e) => Err(lost(e)),
    }
}

async fn write_loop(
    stream: Arc<Stream>,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    let mut w = &*stream;
    while let Some(bytes) = frames.recv().await {
        if let Err(e) = w.write_all(&bytes).await {
            close(&shared, format!("cannot send to releasd: {e}"));
            return;
        }
    }
}

async fn read_loop(stream: Arc<Stream>, shared: Arc<Shared>) {
    // Buffered: a frame's length prefix and payload usually arrive in one read.
    let mut r = FrameReader::new(tokio::io::BufReader::new(&*stream));
    // Events dropped because the subscriber is not reading; reported as one `Lagged`.
    let mut missed: u64 = 0;
    let why = loop {
        match r.next::<ServerFrame>().await {
            Ok(ServerFrame::Response { id, result }) => {
                let reply = {
                    let mut p = lock(&shared.pending);
                    match p.replies.get(&id) {
                        Some(Reply::Stream(tx)) if !ends_stream(&result) => {
                            Some(Reply::Stream(tx.clone()))
                        }
                        _ => p.replies.remove(&id),
                    }
                };
                match reply {
                    // The caller may have given up (dropped its future): nothing to do.
                    Some(Reply::Once(tx)) => {
                        let _ = tx.send(result);
                    }
                    Some(Reply::Stream(tx)) => {
                        if tx.send(result).await.is_err() {
                            lock(&shared.pending).replies.remove(&id);
                        }
                    }
                    None => tracing::debug!(id, "response for a request nobody waits for"),
                }
            }
            Ok(ServerFrame::Event(event)) => {
                let tx = lock(&shared.events).clone();
                if let Some(tx) = tx {
                    missed = deliver(&tx, (None, event), missed);
                }
            }
            Ok(ServerFrame::SeqEvent { seq, event }) => {
                let tx = lock(&shared.events).clone();
                if let Some(tx) = tx {
                    missed = deliver(&tx, (Some(seq), event), missed);
                }
            }
            Ok(ServerFrame::Welcome(_)) => {
                break "releasd sent a second Welcome (protocol error)".to_string();
            }
            Err(CodecError::Closed) => {
                break "releasd closed the connection (stopped or restarted)".to_string();
            }
            Err(e) => break e.to_string(),
        }
    };
    close(&shared, why);
}

/// Hand `event` to the subscriber without ever blocking the reader (responses must keep
/// flowing). Returns the new count of missed events.
fn deliver(
    tx: &mpsc::Sender<(Option<u64>, Event)>,
    event: (Option<u64>, Event),
    missed: u64,
) -> u64 {
    if missed > 0 && tx.try_send((None, Event::Lagged { missed })).is_err() {
        return missed + 1;
    }
    match tx.try_send(event) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => 0,
        Err(mpsc::error::TrySendError::Full(_)) => 1,
    }
}

/// Mark the connection gone: fail every pending call and end the event stream.
fn close(shared: &Shared, why: String) {
    let replies = {
        let mut p = lock(&shared.pending);
        if p.closed.is_none() {
            p.closed = Some(why);
        }
        std::mem::take(&mut p.replies)
    };
    // Dropping the senders wakes each waiting call with `Disconnected`.
    drop(replies);
    *lock(&shared.events) = None;
}
