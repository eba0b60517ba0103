//! The supervisor: a pool of worker processes, one run at a time each. A run that outlives
//! its step's limit (or its deadline) is stopped by killing its worker with SIGKILL; a
//! worker that dies mid-run (stack overflow, out of memory) fails that run only, with what
//! happened in its log. Either way the next run gets a freshly spawned worker.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rel_domain::RelError;
use rel_domain::model::{ExecStatus, Execution, StepResult};
use rel_pipeline::CompiledApp;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::admission::Admission;
use super::frame::{self, FromWorker, ToWorker};
use super::{Checked, Ran, RunError, RunOptions};

/// How much longer than a step's limit (or the run's deadline) the supervisor waits before
/// it kills: the worker's own answer, when it comes in time, says more.
const STEP_GRACE: Duration = Duration::from_millis(100);
const RUN_GRACE: Duration = Duration::from_millis(250);
/// What `expect` of a check may take on top of its endpoint's deadline.
const CHECK_EXPECT_LIMIT: Duration =
    Duration::from_millis(rel_domain::config::DEFAULT_STEP_TIMEOUT_MS);
/// Bytes of a worker's stderr kept to explain a crash.
const STDERR_TAIL: usize = 4096;
/// A run still going after this has its step marker read (and then every [`LOOK_EVERY`]), so
/// that a step is stopped at its own limit; most runs answer long before.
const LOOK_AFTER: Duration = Duration::from_millis(20);
const LOOK_EVERY: Duration = Duration::from_millis(20);

pub struct Pool {
    opts: RunOptions,
    idle: Mutex<Vec<Worker>>,
    admission: Admission,
    abort: CancellationToken,
    spawned: AtomicU64,
    /// Names runs in the step markers.
    seq: AtomicU64,
    /// A private directory of step-marker files, one per worker (`None`: none could be
    /// made; workers then announce steps on the pipe).
    marks: Option<MarkDir>,
}

/// The directory of step-marker files: on tmpfs where there is one (`/dev/shm`), private to
/// this daemon's user, removed with the pool.
struct MarkDir(PathBuf);

impl MarkDir {
    fn create() -> std::io::Result<MarkDir> {
        use std::os::unix::fs::DirBuilderExt;
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let dir = base.join(format!(
            "releasd-steps-{}-{:016x}",
            std::process::id(),
            u64::from_le_bytes(nonce)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        remove_stale(&base, &dir);
        Ok(MarkDir(dir))
    }
}

/// Remove marker directories that daemons of this user left when they were killed (their
/// pid is gone), so that crashes do not pile them up in `/dev/shm`.
fn remove_stale(base: &std::path::Path, ours: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata(ours).map(|m| m.uid()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("releasd-steps-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let mine = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if mine && path != ours && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

impl Drop for MarkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One worker's step-marker file, removed with the worker.
struct Mark {
    path: PathBuf,
    file: std::fs::File,
}

impl Drop for Mark {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Worker {
    child: Child,
    pid: u32,
    mark: Option<Mark>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    stderr_done: tokio::task::JoinHandle<()>,
}

/// The step in progress, as the worker announced it.
struct StepInfo {
    name: String,
    kind: String,
    by_deadline: bool,
    timeout_reason: String,
    started: Instant,
}

enum Stop {
    /// A step or the run outlived its limit.
    Timeout,
    /// The worker died: what happened, for the log.
    Crash(String),
    Shutdown,
}

enum Outcome {
    Answer(FromWorker),
    Stopped { step: Option<StepInfo>, why: Stop },
}

impl Pool {
    pub fn new(opts: RunOptions) -> Pool {
        let admission = Admission::new(opts.workers, opts.per_endpoint, opts.queue);
        let marks = MarkDir::create()
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot make a directory for step markers; workers announce steps on their pipe instead");
            })
            .ok();
        Pool {
            opts,
            idle: Mutex::new(Vec::new()),
            admission,
            abort: CancellationToken::new(),
            spawned: AtomicU64::new(0),
            seq: AtomicU64::new(1),
            marks,
        }
    }

    pub fn options(&self) -> &RunOptions {
        &self.opts
    }

    /// Worker processes started so far (a killed or crashed one is replaced by a new one).
    pub fn spawned(&self) -> u64 {
        self.spawned.load(Ordering::Relaxed)
    }

    /// Runs going on right now.
    pub fn running(&self) -> usize {
        self.admission.running()
    }

    /// Stop every run now (their workers are killed) and refuse new ones: shutdown, once
    /// the grace period for in-flight runs has passed.
    pub fn abort_all(&self) {
        self.admission.close();
        self.abort.cancel();
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Run `endpoint` of `app` in `env` in a worker, on `input` (JSON text the caller
    /// checked). `NotFound` (as `RunError::Failed`) when the release has no such endpoint;
    /// `Busy` when admission refuses the run.
    pub async fn run(
        &self,
        app: &Arc<CompiledApp>,
        endpoint: &str,
        env: &str,
        input: String,
    ) -> Result<Ran, RunError> {
        let Some(deadline) = app.deadline(endpoint) else {
            let known = app.endpoint_names().join(", ");
            return Err(RunError::Failed(RelError::not_found(format!(
                "release {} has no endpoint {endpoint:?} (it has: {}); check the name, or deploy a release that defines it",
                app.tag(),
                if known.is_empty() { "none" } else { &known }
            ))));
        };
        let _admitted = self
            .admission
            .admit(
                &format!("{env}/{endpoint}"),
                self.opts.queue_wait.min(deadline),
            )
            .await
            .map_err(RunError::Busy)?;
        let started_at = crate::dispatch::now();
        let start = Instant::now();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let msg = ToWorker::Run {
            seq,
            digest: app.digest(),
            endpoint: endpoint.to_string(),
            env: env.to_string(),
            input,
        };
        let bytes = frame::encode(&msg);
        match self
            .converse(app, seq, &bytes, start + deadline + RUN_GRACE)
            .await
        {
            Outcome::Answer(FromWorker::Ran {
                execution,
                deadline_exceeded,
                ..
            }) => Ok(Ran {
                execution: *execution,
                deadline_exceeded,
                crashed: false,
            }),
            Outcome::Answer(FromWorker::Failed { code, message }) => {
                Err(RunError::Failed(RelError::new(code, message)))
            }
            Outcome::Answer(other) => Err(RunError::Failed(unexpected(&other))),
            Outcome::Stopped { step, why } => {
                let ToWorker::Run { input, .. } = msg else {
                    return Err(RunError::Failed(RelError::internal("lost the run's input")));
                };
                let (deadline_exceeded, crashed) = match &why {
                    Stop::Timeout => (step.as_ref().is_none_or(|s| s.by_deadline), false),
                    Stop::Crash(_) => (false, true),
                    Stop::Shutdown => (false, false),
                };
                let execution =
                    stopped_execution(app, env, endpoint, &input, started_at, start, step, &why);
                Ok(Ran {
                    execution,
                    deadline_exceeded,
                    crashed,
                })
            }
        }
    }

    /// Run check number `index` of `app` in `env` in a worker.
    pub async fn check(
        &self,
        app: &Arc<CompiledApp>,
        index: usize,
        env: &str,
    ) -> Result<Checked, RunError> {
        let Some(endpoint) = app.check_endpoint(index).map(str::to_string) else {
            return Err(RunError::Failed(RelError::not_found(format!(
                "release {} has no check number {index}",
                app.tag()
            ))));
        };
        let name = app
            .check_names()
            .get(index)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let deadline = app.deadline(&endpoint).unwrap_or(Duration::from_millis(
            rel_domain::config::DEFAULT_RUN_DEADLINE_MS,
        )) + CHECK_EXPECT_LIMIT;
        let _admitted = self
            .admission
            .admit(&format!("{env}/verify"), self.opts.queue_wait.min(deadline))
            .await
            .map_err(RunError::Busy)?;
        let started_at = crate::dispatch::now();
        let start = Instant::now();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let msg = ToWorker::Check {
            seq,
            digest: app.digest(),
            env: env.to_string(),
            index,
        };
        match self
            .converse(app, seq, &frame::encode(&msg), start + deadline + RUN_GRACE)
            .await
        {
            Outcome::Answer(FromWorker::Checked {
                name,
                endpoint,
                passed,
                message,
                execution,
                ..
            }) => Ok(Checked {
                name,
                endpoint,
                passed,
                message,
                execution: *execution,
            }),
            Outcome::Answer(FromWorker::Failed { code, message }) => {
                Err(RunError::Failed(RelError::new(code, message)))
            }
            Outcome::Answer(other) => Err(RunError::Failed(unexpected(&other))),
            Outcome::Stopped { step, why } => {
                let execution =
                    stopped_execution(app, env, &endpoint, "null", started_at, start, step, &why);
                let message = format!(
                    "endpoint {endpoint:?} failed: {}",
                    execution.error.as_deref().unwrap_or("the run was stopped")
                );
                Ok(Checked {
                    name,
                    endpoint,
                    passed: false,
                    message,
                    execution,
                })
            }
        }
    }

    /// Send `request` (run `seq`) to a worker and wait for its answer, stopping it at the
    /// limits: the run's (`cap`) and its step's, as the worker marks (or announces) it.
    async fn converse(&self, app: &CompiledApp, seq: u64, request: &[u8], cap: Instant) -> Outcome {
        let mut worker = match self.take_worker() {
            Ok(w) => w,
            Err(e) => {
                return Outcome::Stopped {
                    step: None,
                    why: Stop::Crash(format!("cannot start a worker process: {e}")),
                };
            }
        };
        let mut step: Option<StepInfo> = None;
        // When the step in progress outlives its limit (as far as the supervisor knows).
        let mut step_end: Option<Instant> = None;
        let mut loaded = false;
        let mut sent = Instant::now();
        if let Err(e) = worker.stdin.write_all(request).await {
            return self.crashed(worker, step, &e).await;
        }
        let mut timer = cap.min(sent + LOOK_AFTER);
        loop {
            // One read per frame, kept across the looks at the marker: a read dropped
            // half-way would lose the bytes it took (a big answer takes a while to arrive).
            let read = {
                let next = frame::read::<FromWorker>(&mut worker.stdout);
                tokio::pin!(next);
                loop {
                    tokio::select! {
                        r = &mut next => break Ok(r),
                        _ = tokio::time::sleep_until(timer) => {
                            if let Some((s, end)) = marked(worker.mark.as_ref(), seq, sent) {
                                step = Some(s);
                                step_end = Some(end);
                            }
                            let now = Instant::now();
                            if now >= cap || step_end.is_some_and(|e| now >= e) {
                                break Err(Stop::Timeout);
                            }
                            timer = cap.min(now + LOOK_EVERY);
                            if let Some(e) = step_end {
                                timer = timer.min(e);
                            }
                        }
                        _ = self.abort.cancelled() => {
                            if let Some((s, _)) = marked(worker.mark.as_ref(), seq, sent) {
                                step = Some(s);
                            }
                            break Err(Stop::Shutdown);
                        }
                    }
                }
            };
            let read = match read {
                Ok(r) => r,
                Err(why) => {
                    kill(worker).await;
                    return Outcome::Stopped { step, why };
                }
            };
            match read {
                Err(e) => {
                    let step = marked(worker.mark.as_ref(), seq, sent)
                        .map(|(s, _)| s)
                        .or(step);
                    return self.crashed(worker, step, &e).await;
                }
                Ok(FromWorker::Step {
                    name,
                    kind,
                    limit_ms,
                    by_deadline,
                    timeout_reason,
                }) => {
                    let now = Instant::now();
                    let end = now + Duration::from_millis(limit_ms) + STEP_GRACE;
                    step_end = Some(end);
                    timer = cap.min(end);
                    step = Some(StepInfo {
                        name,
                        kind,
                        by_deadline,
                        timeout_reason,
                        started: now,
                    });
                }
                Ok(FromWorker::Missing) if !loaded => {
                    loaded = true;
                    let load = frame::encode(&ToWorker::Load {
                        digest: app.digest(),
                        tag: app.tag().to_string(),
                        config: frame::config_json(app.config()),
                    });
                    sent = Instant::now();
                    if let Err(e) = write_two(&mut worker.stdin, &load, request).await {
                        return self.crashed(worker, step, &e).await;
                    }
                }
                Ok(answer) => {
                    let tainted = matches!(
                        answer,
                        FromWorker::Ran { tainted: true, .. }
                            | FromWorker::Checked { tainted: true, .. }
                    ) || matches!(answer, FromWorker::Missing);
                    if tainted {
                        kill(worker).await;
                    } else {
                        self.put_back(worker);
                    }
                    return Outcome::Answer(answer);
                }
            }
        }
    }

    fn take_worker(&self) -> std::io::Result<Worker> {
        if let Some(w) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(w);
        }
        self.spawn()
    }

    fn put_back(&self, w: Worker) {
        if self.abort.is_cancelled() {
            return;
        }
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(w);
    }

    fn spawn(&self) -> std::io::Result<Worker> {
        // Workers run at a lower CPU priority (nice 5, through the standard `nice`, since
        // this workspace has no `unsafe` for setpriority): a CPU-bound run never starves
        // the control plane of the 2-core machines this targets. 5, not 10: at 10 the
        // workers lost the CPU to the ingress itself under load (5.1k vs 6.6k triggers/s),
        // while 5 still keeps the control plane's p99 far inside its budget under 500
        // runaway runs (docs/PERFORMANCE.md).
        let nice = ["/usr/bin/nice", "/bin/nice"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file());
        let mut cmd = match nice {
            Some(nice) => {
                let mut c = tokio::process::Command::new(nice);
                c.args(["-n", "5"]).arg(&self.opts.exe);
                c
            }
            None => tokio::process::Command::new(&self.opts.exe),
        };
        // Unique among this pool's markers (workers are spawned concurrently).
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let mark = self.marks.as_ref().and_then(|d| {
            use std::os::unix::fs::OpenOptionsExt;
            let path = d.0.join(format!("w{n}"));
            let made = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match made {
                Ok(file) => Some(Mark { path, file }),
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "cannot make a step marker; this worker announces steps on its pipe");
                    None
                }
            }
        });
        if let Some(m) = &mark {
            cmd.arg("--step-marker").arg(&m.path);
        }
        cmd.arg("--worker")
            .arg("--worker-memory")
            .arg(self.opts.memory_mib.to_string())
            // One malloc arena per thread would reserve 64 MiB of address space each,
            // eating into the worker's memory limit for nothing: it runs one thread.
            .env("MALLOC_ARENA_MAX", "2")
            // mimalloc (the global allocator) reserves address space 1 GiB at a time by
            // default: the whole --worker-memory limit. Small steps keep the limit for data.
            .env("MIMALLOC_ARENA_RESERVE", "16MiB")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            std::io::Error::new(e.kind(), format!("{}: {e}", self.opts.exe.display()))
        })?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("the worker's pipes are missing"));
        };
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        let sink = Arc::clone(&tail);
        let stderr_done = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut t = sink.lock().unwrap_or_else(|p| p.into_inner());
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..excess);
            }
        });
        self.spawned.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(pid, "worker started");
        Ok(Worker {
            child,
            pid,
            mark,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: tail,
            stderr_done,
        })
    }

    /// The worker stopped answering: reap it and say why, from its exit status and the
    /// end of its stderr.
    async fn crashed(&self, mut w: Worker, step: Option<StepInfo>, io: &std::io::Error) -> Outcome {
        let status = match tokio::time::timeout(Duration::from_secs(1), w.child.wait()).await {
            Ok(Ok(s)) => Some(s),
            _ => {
                let _ = w.child.start_kill();
                w.child.wait().await.ok()
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), &mut w.stderr_done).await;
        let tail = {
            let t = w.stderr.lock().unwrap_or_else(|p| p.into_inner());
            String::from_utf8_lossy(&t.iter().copied().collect::<Vec<u8>>()).into_owned()
        };
        let what = classify(status, &tail, self.opts.memory_mib, io);
        tracing::warn!(
            pid = w.pid,
            step = step.as_ref().map(|s| s.name.as_str()),
            "pipeline run crashed: {what}"
        );
        Outcome::Stopped {
            step,
            why: Stop::Crash(what),
        }
    }
}

/// The step of run `seq` that the worker marked last in `mark`, with when it outlives its
/// limit; `sent`: when the request went out (the mark's times count from there).
fn marked(mark: Option<&Mark>, seq: u64, sent: Instant) -> Option<(StepInfo, Instant)> {
    let m = frame::read_mark(&mark?.file).filter(|m| m.seq == seq)?;
    let started = sent + Duration::from_millis(m.at_ms);
    let end = started + Duration::from_millis(m.limit_ms) + STEP_GRACE;
    Some((
        StepInfo {
            name: m.name,
            kind: m.kind,
            by_deadline: m.by_deadline,
            timeout_reason: m.timeout_reason,
            started,
        },
        end,
    ))
}

async fn write_two(stdin: &mut ChildStdin, a: &[u8], b: &[u8]) -> std::io::Result<()> {
    stdin.write_all(a).await?;
    stdin.write_all(b).await
}

async fn kill(mut w: Worker) {
    let _ = w.child.start_kill();
    // SIGKILL cannot be ignored; reaping frees its memory and keeps no zombie.
    let _ = tokio::time::timeout(Duration::from_secs(1), w.child.wait()).await;
    tracing::debug!(pid = w.pid, "worker killed");
}

fn unexpected(answer: &FromWorker) -> RelError {
    RelError::internal(format!(
        "a worker process answered out of turn ({answer:?}); report it"
    ))
}

/// What killed a worker, in words for the execution log.
fn classify(
    status: Option<std::process::ExitStatus>,
    stderr: &str,
    memory_mib: u64,
    io: &std::io::Error,
) -> String {
    use std::os::unix::process::ExitStatusExt;
    if stderr.contains("has overflowed its stack") {
        return "stack overflow (the expression recursed too deeply)".to_string();
    }
    if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
        return format!("ran out of memory (limit {memory_mib} MiB, releasd --worker-memory)");
    }
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    match status {
        Some(s) if s.signal() == Some(9) => {
            format!(
                "its worker process was killed (SIGKILL; the system may be out of memory){last}"
            )
        }
        Some(s) if s.signal().is_some() => format!(
            "its worker process died of signal {}{last}",
            s.signal().unwrap_or(0)
        ),
        Some(s) => format!(
            "its worker process exited with {}{last}",
            s.code().unwrap_or(-1)
        ),
        None => format!("its worker process stopped answering ({io}){last}"),
    }
}

/// The log record of a run the supervisor had to stop.
#[allow(clippy::too_many_arguments)]
fn stopped_execution(
    app: &CompiledApp,
    env: &str,
    endpoint: &str,
    input: &str,
    started_at: rel_domain::Timestamp,
    start: Instant,
    step: Option<StepInfo>,
    why: &Stop,
) -> Execution {
    let reason = match (why, &step) {
        (Stop::Timeout, Some(s)) => format!(
            "{}; the run was stopped (its worker process was killed)",
            s.timeout_reason
        ),
        (Stop::Timeout, None) => {
            "the run's deadline passed; the run was stopped (its worker process was killed)"
                .to_string()
        }
        (Stop::Crash(what), Some(s)) => format!(
            "pipeline run crashed: {what} in step {:?}; only this run failed",
            s.name
        ),
        (Stop::Crash(what), None) => format!("pipeline run crashed: {what}; only this run failed"),
        (Stop::Shutdown, _) => {
            "releasd is shutting down: the run was stopped before it finished".to_string()
        }
    };
    let error = match &step {
        Some(s) => format!("step {:?} ({}) failed: {reason}", s.name, s.kind),
        None => reason.clone(),
    };
    let steps = step
        .map(|s| {
            vec![StepResult {
                name: s.name,
                kind: s.kind,
                status: ExecStatus::Error,
                duration_ms: millis(s.started.elapsed()),
                error: Some(reason),
                output: "null".to_string(),
            }]
        })
        .unwrap_or_default();
    Execution {
        id: 0,
        env: env.to_string(),
        endpoint: endpoint.to_string(),
        release: app.tag().to_string(),
        digest: app.digest(),
        status: ExecStatus::Error,
        // As a run that finished stores it: compact.
        input: serde_json::from_str::<Value>(input)
            .map_or_else(|_| "null".to_string(), |v| v.to_string()),
        output: "null".to_string(),
        error: Some(error),
        steps,
        started_at,
        duration_ms: millis(start.elapsed()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The releasd binary to start workers from: `--worker-exe`/`RELEASD_WORKER_EXE`, else this
/// executable when it is releasd, else a `releasd` next to it (or one directory up, where
/// cargo puts binaries relative to test executables).
pub fn default_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("RELEASD_WORKER_EXE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("releasd"));
    if me.file_name().is_some_and(|n| n == "releasd") {
        return me;
    }
    let dir = me.parent().map(PathBuf::from).unwrap_or_default();
    for candidate in [dir.join("releasd"), dir.join("..").join("releasd")] {
        if candidate.is_file() {
            return candidate;
        }
    }
    me
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_dirs_of_dead_daemons_are_removed_others_kept() {
        let base = tempfile::tempdir().expect("tempdir");
        let dead = base.path().join("releasd-steps-999999999-00");
        let alive = base
            .path()
            .join(format!("releasd-steps-{}-00", std::process::id()));
        let ours = base.path().join("releasd-steps-1-ours");
        let other = base.path().join("something-else-999999999");
        for d in [&dead, &alive, &ours, &other] {
            std::fs::create_dir(d).expect("mkdir");
        }
        std::fs::write(dead.join("w1"), b"x").expect("file");
        remove_stale(base.path(), &ours);
        assert!(!dead.exists(), "a dead daemon's markers stay");
        assert!(alive.exists() && ours.exists() && other.exists());
    }
}
