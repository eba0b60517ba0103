//! The accept loop (à la mini-redis): one task per connection, bounded per user by
//! [`crate::limits`], graceful shutdown — stop accepting, let every in-flight request finish
//! and its answer go out, then return (dropping the listener removes the socket file).
//!
//! The loop keeps a few file descriptors in reserve: when the process runs out (EMFILE, e.g.
//! the HTTP port flooded with idle connections), it gives one up to accept on the Unix socket,
//! so an admin can always get in; it never spins and never exits on an accept error.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, prelude::*};
use rel_domain::{Store, Timestamp};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::Auth;
use crate::events::Events;
use crate::live::Live;
use crate::tokens::Tokens;

pub use crate::limits::DEFAULT_MAX_CONNECTIONS;
use crate::limits::{ConnLimits, Slots};

/// File descriptors the Unix accept loop keeps in reserve for when the process runs out.
const RESERVE_FDS: usize = 8;

/// What `status` reports about this daemon.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub socket: PathBuf,
    pub data_dir: PathBuf,
    pub started_at: Timestamp,
    pub pid: u32,
    pub http: Option<String>,
}

pub struct ServeOptions {
    pub info: DaemonInfo,
    pub auth: Auth,
    /// Connections per user, admin reserve, subscribers, deadlines.
    pub limits: ConnLimits,
    /// Byte budget of one page of a list answer.
    pub page_bytes: usize,
    /// Execution logs kept per environment (`[logs] retention`).
    pub retention: usize,
    /// Serve the HTTP ingress on this listener too (`--http`); `info.http` is set from it.
    pub http: Option<tokio::net::TcpListener>,
    /// Worker pool and admission limits for pipeline runs.
    pub runs: crate::worker::RunOptions,
    /// HTTP connections at once (`--http-connections`); `None` derives it from the
    /// open-file limit.
    pub http_connections: Option<usize>,
}

impl ServeOptions {
    /// Owner-only access, default limits, no HTTP ingress.
    pub fn new(info: DaemonInfo) -> ServeOptions {
        ServeOptions {
            info,
            auth: Auth::owner_only(),
            limits: ConnLimits::default(),
            page_bytes: crate::paging::DEFAULT_PAGE_BYTES,
            retention: crate::exec::DEFAULT_RETENTION,
            http: None,
            runs: crate::worker::RunOptions::default(),
            http_connections: None,
        }
    }
}

/// Everything a connection task needs.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub events: Events,
    pub info: DaemonInfo,
    pub auth: Auth,
    /// What each environment serves, compiled (the request hot path).
    pub live: Live,
    /// Bearer tokens seen valid (HTTP ingress).
    pub tokens: Tokens,
    pub retention: usize,
    /// Who holds which connection slots (Unix socket).
    pub slots: Slots,
    pub page_bytes: usize,
    /// Notified by a `DaemonStop` request: shut down as on SIGTERM.
    pub stop: tokio::sync::Notify,
    /// Pipeline runs: worker processes behind admission control (the data plane).
    pub pool: Arc<crate::worker::Pool>,
    /// The data plane's runtime (HTTP ingress, run supervision).
    pub data: crate::worker::DataPlane,
    /// Execution logs, written by a thread of their own (off the request path).
    pub execlog: crate::execlog::ExecLog,
}

/// Serve `listener` until `shutdown` completes, then finish in-flight work and return.
pub async fn serve(
    listener: Listener,
    store: Arc<dyn Store>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut info = opts.info;
    if let Some(l) = &opts.http {
        info.http = l.local_addr().ok().map(|a| a.to_string());
    }
    // Two threads: the data plane waits on pipes and sockets; the CPU work is in workers.
    let data = match crate::worker::DataPlane::new(2) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the data plane's runtime; not serving");
            return;
        }
    };
    let pool = Arc::new(crate::worker::Pool::new(opts.runs));
    let execlog = match crate::execlog::ExecLog::start(Arc::clone(&store), opts.retention.max(1)) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the execution log writer; not serving");
            return;
        }
    };
    let events = Events::new();
    match store.last_change() {
        Ok(seq) => events.set_newest(seq),
        Err(e) => tracing::warn!(error = %e, "cannot read the newest change's seq"),
    }
    // A store other daemons share: what is served follows every daemon's deploys.
    let follow = store.is_shared().then(crate::live_follow::Feed::new);
    {
        let events = events.clone();
        let feed = follow.as_ref().map(|(f, _)| f.clone());
        store.set_change_sink(Box::new(move |changes| {
            events.publish_changes(changes);
            if let Some(f) = &feed {
                f.changes(changes);
            }
        }));
    }
    let shared = Arc::new(Shared {
        store,
        events,
        info,
        auth: opts.auth,
        live: Live::new(),
        tokens: Tokens::new(),
        retention: opts.retention.max(1),
        slots: Slots::new(opts.limits),
        page_bytes: opts.page_bytes.max(1024),
        stop: tokio::sync::Notify::new(),
        pool,
        data,
        execlog,
    });
    if let Some((_, rx)) = follow {
        crate::live_follow::start(rx, Arc::downgrade(&shared));
    }
    // What is live is compiled before the first request is accepted.
    let loader = Arc::clone(&shared);
    if let Err(e) =
        tokio::task::spawn_blocking(move || loader.live.load_all(loader.store.as_ref())).await
    {
        tracing::error!(error = %e, "loading the live releases panicked; requests will load them on demand");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let http = opts.http.map(|listener| {
        shared.data.handle().spawn(crate::http::serve(
            listener,
            Arc::clone(&shared),
            stop_rx.clone(),
            opts.http_connections,
        ))
    });
    crate::exec::stop_runs_after_grace(&shared, stop_rx.clone());
    let scheduler = tokio::spawn(crate::scheduler::run(Arc::clone(&shared), stop_rx.clone()));
    let mut conns = JoinSet::new();
    let mut reserve = Reserve::new();
    let mut backoff = Duration::from_millis(10);
    // A signal, or an admin's `relctl daemon stop`.
    let stopper = Arc::clone(&shared);
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            () = stopper.stop.notified() => {}
        }
    };
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok(stream) => {
                backoff = Duration::from_millis(10);
                conns.spawn(crate::connection::run(
                    stream,
                    Arc::clone(&shared),
                    stop_rx.clone(),
                ));
                reserve.refill();
            }
            Err(e) if is_out_of_fds(&e) && reserve.release() => {
                // Out of descriptors: one from the reserve lets the next accept through.
                tracing::warn!(error = %e, "out of file descriptors; using one kept in reserve for the Unix socket (raise LimitNOFILE, or lower --http connection limits)");
            }
            Err(e) => {
                // Back off instead of spinning; keep serving the others.
                tracing::warn!(error = %e, "accept failed; retrying in {backoff:?}");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                reserve.refill();
            }
        }
        while let Some(done) = conns.try_join_next() {
            log_join(done);
        }
    }
    tracing::info!(
        connections = conns.len(),
        "shutting down: no new connections; finishing in-flight requests"
    );
    let _ = stop_tx.send(true);
    while let Some(done) = conns.join_next().await {
        log_join(done);
    }
    if let Err(e) = scheduler.await {
        tracing::error!(error = %e, "the request scheduler failed");
    }
    if let Some(h) = http
        && let Err(e) = h.await
    {
        tracing::error!(error = %e, "the HTTP ingress task failed");
    }
    // Idle workers exit when their stdin closes; kill any straggler now.
    shared.pool.abort_all();
    drop(listener);
    tracing::info!("all connections closed");
}

fn log_join(r: Result<(), tokio::task::JoinError>) {
    if let Err(e) = r
        && e.is_panic()
    {
        tracing::error!(error = %e, "a connection task panicked; only that connection was lost");
    }
}

fn is_out_of_fds(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == nix::libc::EMFILE || code == nix::libc::ENFILE
    )
}

/// Descriptors held open (on /dev/null) so the accept loop can free one when the process has
/// none left. Refilled when descriptors are available again.
struct Reserve {
    fds: Vec<std::fs::File>,
}

impl Reserve {
    fn new() -> Reserve {
        let mut r = Reserve { fds: Vec::new() };
        r.refill();
        if r.fds.len() < RESERVE_FDS {
            tracing::warn!(
                kept = r.fds.len(),
                "could not keep {RESERVE_FDS} file descriptors in reserve for the Unix socket"
            );
        }
        r
    }

    fn refill(&mut self) {
        while self.fds.len() < RESERVE_FDS {
            match std::fs::File::open("/dev/null") {
                Ok(f) => self.fds.push(f),
                Err(_) => break,
            }
        }
    }

    /// Give one descriptor back to the process; false if none is left.
    fn release(&mut self) -> bool {
        self.fds.pop().is_some()
    }
}
