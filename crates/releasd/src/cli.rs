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

    /// Internal: serve as a pipeline worker on stdin/stdout (started by releasd itself).
    #[arg(long, hide = true)]
    pub worker: bool,
}

impl Cli {
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
