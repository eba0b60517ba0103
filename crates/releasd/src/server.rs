//! The accept loop (à la mini-redis): bounded connections, one task per connection, graceful
//! shutdown — stop accepting, let every in-flight request finish and its answer go out, then
//! return (dropping the listener removes the socket file).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, prelude::*};
use rel_domain::{Store, Timestamp};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::auth::Auth;
use crate::events::Events;
use crate::live::Live;
use crate::tokens::Tokens;

/// Connections served at once; more wait in the listen backlog until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

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
    pub max_connections: usize,
    /// Execution logs kept per environment (`[logs] retention`).
    pub retention: usize,
    /// Serve the HTTP ingress on this listener too (`--http`); `info.http` is set from it.
    pub http: Option<tokio::net::TcpListener>,
}

impl ServeOptions {
    /// Owner-only access, default limits, no HTTP ingress.
    pub fn new(info: DaemonInfo) -> ServeOptions {
        ServeOptions {
            info,
            auth: Auth::owner_only(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retention: crate::exec::DEFAULT_RETENTION,
            http: None,
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
    let events = Events::new();
    {
        let events = events.clone();
        store.set_change_sink(Box::new(move |changes| events.publish_changes(changes)));
    }
    let shared = Arc::new(Shared {
        store,
        events,
        info,
        auth: opts.auth,
        live: Live::new(),
        tokens: Tokens::new(),
        retention: opts.retention.max(1),
    });
    // What is live is compiled before the first request is accepted.
    let loader = Arc::clone(&shared);
    if let Err(e) =
        tokio::task::spawn_blocking(move || loader.live.load_all(loader.store.as_ref())).await
    {
        tracing::error!(error = %e, "loading the live releases panicked; requests will load them on demand");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let http = opts.http.map(|listener| {
        tokio::spawn(crate::http::serve(
            listener,
            Arc::clone(&shared),
            stop_rx.clone(),
        ))
    });
    let slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let mut conns = JoinSet::new();
    let mut backoff = Duration::from_millis(10);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
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
                    permit,
                ));
            }
            Err(e) => {
                // Typically EMFILE: back off instead of spinning, keep serving the others.
                tracing::warn!(error = %e, "accept failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
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
    if let Some(h) = http
        && let Err(e) = h.await
    {
        tracing::error!(error = %e, "the HTTP ingress task failed");
    }
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
