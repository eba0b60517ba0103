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
}

impl ServeOptions {
    /// Owner-only access, default limits.
    pub fn new(info: DaemonInfo) -> ServeOptions {
        ServeOptions {
            info,
            auth: Auth::owner_only(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Everything a connection task needs.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub events: Events,
    pub info: DaemonInfo,
    pub auth: Auth,
}

/// Serve `listener` until `shutdown` completes, then finish in-flight work and return.
pub async fn serve(
    listener: Listener,
    store: Arc<dyn Store>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Shared {
        store,
        events: Events::new(),
        info: opts.info,
        auth: opts.auth,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
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
