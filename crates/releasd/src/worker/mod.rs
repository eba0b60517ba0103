//! Pipeline runs, isolated from the daemon in worker processes (issue 7).
//!
//! A jq expression or template cannot be interrupted in-process (jaq has no fuel), and a
//! stack overflow in any thread aborts the whole process. So runs go to a pool of worker
//! processes (this same binary, `releasd --worker`), each with its own memory limit and
//! stack, one run at a time; the supervisor ([`pool`]) kills a worker whose run outlives
//! its limit and replaces a worker that died. [`admission`] bounds how many runs go on and
//! wait; [`DataPlane`] is the runtime the HTTP ingress and the supervisor run on, apart
//! from the control plane's. See docs/ARCHITECTURE.md ("Isolated pipeline runs").

pub mod admission;
pub mod child;
pub mod frame;
pub mod pool;

use std::path::PathBuf;
use std::time::Duration;

use rel_domain::RelError;
use rel_domain::model::Execution;

pub use pool::Pool;

/// Worker memory limit (address space) unless `--worker-memory` says otherwise.
pub const DEFAULT_WORKER_MEMORY_MIB: u64 = 1024;
/// How long a request may wait for a free run slot (at most its run deadline).
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_secs(2);
/// How long runs in flight may finish after SIGTERM before their workers are killed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Workers (= concurrent runs) by default: four per core, since runs that wait on HTTP or
/// command tools hold a worker while idle; at least 4, at most 64.
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 4).clamp(4, 64)
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The releasd executable workers are started from.
    pub exe: PathBuf,
    /// Worker processes, i.e. runs at once for the whole daemon (`--workers`).
    pub workers: usize,
    /// Runs at once for one endpoint of one environment (`--max-runs-per-endpoint`).
    pub per_endpoint: usize,
    /// Requests waiting for a slot at most (`--run-queue`); more get 503 at once.
    pub queue: usize,
    pub queue_wait: Duration,
    /// Each worker's address-space limit (`--worker-memory`, MiB).
    pub memory_mib: u64,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        let workers = default_workers();
        RunOptions {
            exe: pool::default_exe(),
            workers,
            per_endpoint: default_per_endpoint(workers),
            queue: default_queue(workers),
            queue_wait: DEFAULT_QUEUE_WAIT,
            memory_mib: DEFAULT_WORKER_MEMORY_MIB,
        }
    }
}

/// Three quarters of the workers: one busy endpoint leaves room for the others.
pub fn default_per_endpoint(workers: usize) -> usize {
    (workers - workers / 4).max(1)
}

pub fn default_queue(workers: usize) -> usize {
    (workers * 16).max(64)
}

/// A run that finished (or was stopped) and is ready to be logged.
#[derive(Debug)]
pub struct Ran {
    pub execution: Execution,
    /// The run's deadline passed (HTTP 504).
    pub deadline_exceeded: bool,
    /// The worker died mid-run (HTTP 500 `run_crashed`).
    pub crashed: bool,
}

/// One check's run.
#[derive(Debug)]
pub struct Checked {
    pub name: String,
    pub endpoint: String,
    pub passed: bool,
    pub message: String,
    pub execution: Execution,
}

#[derive(Debug)]
pub enum RunError {
    /// Admission refused the run: HTTP 503 with `Retry-After`, `Unavailable` over RPC.
    Busy(String),
    Failed(RelError),
}

impl From<RunError> for RelError {
    fn from(e: RunError) -> RelError {
        match e {
            RunError::Busy(m) => RelError::unavailable(m),
            RunError::Failed(e) => e,
        }
    }
}

/// The data plane's own runtime: the HTTP ingress and the run supervisor live here, so a
/// flood of requests or runs never takes an executor thread from the Unix-socket RPC.
pub struct DataPlane {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl DataPlane {
    pub fn new(threads: usize) -> std::io::Result<DataPlane> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("rel-data")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(DataPlane {
            runtime: Some(runtime),
            handle,
        })
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane").finish_non_exhaustive()
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
