//! The foreground start-up sequence: config, data dir lock, store, socket, ready line, serve
//! until SIGTERM/SIGINT, clean up.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use rel_domain::Store;

use crate::auth::{Auth, group_gid};
use crate::cli::{Cli, absolute};
use crate::config::DaemonConfig;
use crate::server::{DaemonInfo, ServeOptions, serve};
use crate::socket::SocketPolicy;

/// Run in the foreground until a signal; `Ok` means a clean shutdown (exit 0).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = absolute(cli.data_dir_path());
    // A start that fails must not leave a new, empty data dir behind (e.g. a typo'd path, or
    // a second daemon refused on a fresh --data-dir).
    let created = crate::datadir::missing_dirs(&data_dir);
    // The same for the socket's directory (e.g. `--http` on a taken port fails after it).
    let socket_dir = absolute(cli.socket_path())
        .parent()
        .map(crate::datadir::missing_dirs)
        .unwrap_or_default();
    let result = start_and_serve(cli, data_dir).await;
    if result.is_err() {
        crate::datadir::remove_if_empty(&created);
        crate::datadir::remove_if_empty(&socket_dir);
    }
    result
}

async fn start_and_serve(cli: Cli, data_dir: std::path::PathBuf) -> anyhow::Result<()> {
    let socket = absolute(cli.socket_path());
    let limits = cli.limits()?;
    match crate::rlimit::raise_nofile() {
        Ok((soft, hard)) => {
            tracing::info!(soft, hard, "file descriptor limit (RLIMIT_NOFILE)");
            let wanted = limits.max_connections as u64 + 256;
            if soft < wanted {
                tracing::warn!(
                    soft,
                    wanted,
                    "the file descriptor limit is low for --max-connections; raise LimitNOFILE"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the file descriptor limit"),
    }

    let config = match &cli.config {
        Some(path) => DaemonConfig::load(path)?,
        None => DaemonConfig::default(),
    };
    let auth = Auth::new(&config.roles, cli.config.clone().map(absolute));
    // Logged before the ready line, so the detaching launcher shows them too.
    for w in auth.unknown_entries() {
        tracing::warn!("{w}");
    }
    let policy = match &config.socket.group {
        Some(name) => {
            let gid = group_gid(name).with_context(|| {
                format!("socket.group: group {name:?} does not exist on this machine (see `getent group`)")
            })?;
            SocketPolicy {
                group: Some((name.clone(), gid)),
            }
        }
        None => SocketPolicy::default(),
    };

    // Refuse a live socket or an unusable socket dir, and a taken --http port, before the
    // data dir is touched: a refused start then writes nothing there.
    crate::socket::check(&socket, &policy).await?;
    let http = match cli.http {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("--http {addr}: cannot listen there (another process on that port? pick another address, or port 0 for any free one)")
        })?),
        None => None,
    };
    let choice = crate::store_choice::choose(
        &cli.store,
        &config.store,
        cli.config
            .as_deref()
            .and_then(|p| absolute(p.to_path_buf()).parent().map(|d| d.to_path_buf()))
            .as_deref(),
    )
    .map_err(anyhow::Error::msg)?;
    let lock = crate::datadir::lock(&data_dir)?;
    let store = open_store(&data_dir, choice)?;
    let listener = crate::socket::bind(&socket, &policy).await?;
    let http_addr = match &http {
        Some(l) => Some(
            l.local_addr()
                .context("--http: cannot read the bound address")?
                .to_string(),
        ),
        None => None,
    };

    let shutdown = shutdown_signal()?;
    let info = DaemonInfo {
        socket: socket.clone(),
        data_dir: data_dir.clone(),
        started_at: crate::dispatch::now(),
        pid: std::process::id(),
        http: http_addr.clone(),
    };
    tracing::info!(socket = %socket.display(), data_dir = %data_dir.display(), pid = info.pid, "releasd serving");
    // The readiness signal for the detaching parent and for tests: exactly one line. A
    // parent that has gone away is not an error (writes then fail; ignore them).
    let mut out = std::io::stdout().lock();
    // With --http the bound address ends the line (port 0 picks a free one).
    let http_part = http_addr
        .as_ref()
        .map(|a| format!(" http={a}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "releasd ready socket={} data_dir={} pid={}{http_part}",
        socket.display(),
        data_dir.display(),
        info.pid
    );
    let _ = out.flush();
    drop(out);

    let mut runs = crate::worker::RunOptions::default();
    if let Some(n) = cli.workers {
        runs.workers = n as usize;
        runs.per_endpoint = crate::worker::default_per_endpoint(runs.workers);
        runs.queue = crate::worker::default_queue(runs.workers);
    }
    if let Some(n) = cli.max_runs_per_endpoint {
        runs.per_endpoint = n as usize;
    }
    if let Some(n) = cli.run_queue {
        runs.queue = n as usize;
    }
    runs.memory_mib = cli.worker_memory;
    let opts = ServeOptions {
        info,
        auth,
        limits,
        page_bytes: cli.page_bytes,
        retention: config.logs.retention,
        http,
        runs,
        http_connections: cli.http_connections.map(|n| n as usize),
    };
    serve(listener, Arc::clone(&store), opts, shutdown).await;
    // serve returned: every request answered, socket removed. Drop the store (sled flushes
    // and releases its lock), then the pid file lock.
    drop(store);
    drop(lock);
    tracing::info!("releasd stopped cleanly");
    Ok(())
}

fn open_store(
    data_dir: &std::path::Path,
    choice: crate::store_choice::StoreChoice,
) -> anyhow::Result<Arc<dyn Store>> {
    if let crate::store_choice::StoreChoice::Etcd(opts) = choice {
        let endpoints = opts.url.endpoints.join(",");
        tracing::info!(endpoints = %endpoints, prefix = %opts.url.prefix, "opening the store on etcd");
        let store = rel_store::KvStore::open_etcd(*opts, data_dir)
            .with_context(|| format!("--store etcd://{endpoints}: cannot open the store"))?;
        return Ok(Arc::new(store));
    }
    match rel_store::SledStore::open(data_dir) {
        Ok(s) => Ok(Arc::new(s)),
        // The pid-file lock normally catches a second daemon first; sled's lock is the
        // backstop (e.g. a daemon of an older build without the pid file).
        Err(rel_store::OpenError::Locked { .. }) => {
            let other = crate::datadir::read_pid(data_dir).filter(|p| *p != std::process::id());
            Err(crate::datadir::DataDirError::InUse {
                dir: data_dir.to_path_buf(),
                pid: other,
            }
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Install the handlers now (before the ready line, so a signal sent right after it is not
/// fatal) and return a future that completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    Ok(async move {
        let which = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                // A closing terminal must not take a daemon down; there is nothing to reload.
                _ = hup.recv() => tracing::info!("SIGHUP ignored (restart releasd to apply a changed --config)"),
            }
        };
        tracing::info!("{which} received: shutting down gracefully");
    })
}
