//! Command line, environment and defaults (§4.1).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// releasd: the rel daemon. Owns the release store and serves the Unix-socket RPC that
/// `relctl` and `relui` talk to.
#[derive(Debug, Clone, Parser)]
#[command(name = "releasd", version, about, long_about = None)]
pub struct Cli {
    /// Unix socket to serve on [default: $XDG_RUNTIME_DIR/releasd/releasd.sock, else
    /// /tmp/releasd-$UID/releasd.sock].
    #[arg(long, env = "RELEASD_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Directory holding the store [default: $XDG_DATA_HOME/releasd, else
    /// ~/.local/share/releasd].
    #[arg(long, env = "RELEASD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Daemon config (TOML): who may do what, socket group. See the crate README.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Serve the HTTP ingress on this address (e.g. 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,

    /// Unix-socket connections served at once, all users together.
    #[arg(long, value_name = "N", default_value_t = crate::limits::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Unix-socket connections one user may hold (admins are bounded only by
    /// --max-connections).
    #[arg(long, value_name = "N", default_value_t = crate::limits::DEFAULT_MAX_CONNECTIONS_PER_USER)]
    pub max_connections_per_user: usize,

    /// Of --max-connections, how many only admins (the daemon's own user and the admin
    /// role) may take, so that nobody else can lock them out.
    #[arg(long, value_name = "N", default_value_t = crate::limits::DEFAULT_ADMIN_RESERVED)]
    pub admin_connections: usize,

    /// Event subscriptions (`relctl watch`, relui) served at once, all users together.
    #[arg(long, value_name = "N", default_value_t = crate::limits::DEFAULT_MAX_SUBSCRIBERS)]
    pub max_subscribers: usize,

    /// Event subscriptions one non-admin user may hold.
    #[arg(long, value_name = "N", default_value_t = crate::limits::DEFAULT_MAX_SUBSCRIBERS_PER_USER)]
    pub max_subscribers_per_user: usize,

    /// Seconds a new connection has to say Hello.
    #[arg(long, value_name = "SECS", default_value_t = crate::limits::DEFAULT_HANDSHAKE_TIMEOUT.as_secs_f64())]
    pub handshake_timeout: f64,

    /// Seconds after which a connection with nothing in flight and no subscription is closed.
    #[arg(long, value_name = "SECS", default_value_t = crate::limits::DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
    pub idle_timeout: f64,

    /// Seconds within which a frame that has started must arrive whole (and a client must
    /// take an answer); slower connections are closed.
    #[arg(long, value_name = "SECS", default_value_t = crate::limits::DEFAULT_FRAME_TIMEOUT.as_secs_f64())]
    pub frame_timeout: f64,

    /// Byte budget of one page of a list answer (releases, history, audit, logs); clients
    /// follow the cursor for the rest.
    #[arg(long, value_name = "BYTES", default_value_t = crate::paging::DEFAULT_PAGE_BYTES)]
    pub page_bytes: usize,

    /// Stay in the foreground (for systemd and tests) instead of detaching. Prints one line
    /// `releasd ready socket=PATH data_dir=DIR pid=N` to stdout once it serves.
    #[arg(long)]
    pub foreground: bool,

    /// Worker processes that run pipelines, i.e. runs at once [default: 4 per core, 4..64].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,

    /// Memory (address space) each worker may use, in MiB; a run that needs more fails
    /// with "ran out of memory".
    #[arg(long, value_name = "MIB", default_value_t = crate::worker::DEFAULT_WORKER_MEMORY_MIB,
          value_parser = clap::value_parser!(u64).range(64..))]
    pub worker_memory: u64,

    /// Runs at once for one endpoint of one environment [default: 3/4 of --workers].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_runs_per_endpoint: Option<u32>,

    /// Requests that may wait for a run slot; more get HTTP 503 at once [default: 16 per
    /// worker, at least 64].
    #[arg(long, value_name = "N")]
    pub run_queue: Option<u32>,

    /// HTTP connections served at once [default: from the open-file limit, keeping a
    /// reserve for the Unix socket, the store and the workers; at most 4096].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub http_connections: Option<u32>,

    #[command(flatten)]
    pub store: crate::store_choice::StoreArgs,

    /// Internal: serve as a pipeline worker on stdin/stdout (started by releasd itself).
    #[arg(long, hide = true)]
    pub worker: bool,

    /// Internal (with --worker): the file where the worker marks each step as it starts.
    #[arg(long, hide = true, value_name = "PATH", requires = "worker")]
    pub step_marker: Option<std::path::PathBuf>,
}

impl Cli {
    /// The connection limits from the flags; a bad duration is an error naming its flag.
    pub fn limits(&self) -> anyhow::Result<crate::limits::ConnLimits> {
        let secs = |v: f64, flag: &str| {
            std::time::Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| anyhow::anyhow!("{flag} {v}: must be a positive number of seconds"))
        };
        Ok(crate::limits::ConnLimits {
            max_connections: self.max_connections.max(1),
            per_user: self.max_connections_per_user.max(1),
            admin_reserved: self.admin_connections,
            max_subscribers: self.max_subscribers,
            subscribers_per_user: self.max_subscribers_per_user,
            handshake_timeout: secs(self.handshake_timeout, "--handshake-timeout")?,
            idle_timeout: secs(self.idle_timeout, "--idle-timeout")?,
            frame_timeout: secs(self.frame_timeout, "--frame-timeout")?,
        })
    }

    /// The socket path, with the §4.1 default applied.
    pub fn socket_path(&self) -> PathBuf {
        self.socket
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(rel_proto::paths::default_socket)
    }

    /// The data dir, with the §4.1 default applied.
    pub fn data_dir_path(&self) -> PathBuf {
        self.data_dir
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(rel_proto::paths::default_data_dir)
    }
}

/// Make `p` absolute against the current directory (a detached daemon runs from `/`).
pub fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        return p;
    }
    std::path::absolute(&p).unwrap_or(p)
}
