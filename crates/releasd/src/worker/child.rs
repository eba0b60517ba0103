//! The worker process (`releasd --worker`): runs one pipeline run at a time for the
//! supervisor, which kills it when a run outlives its limit. It limits itself first: an
//! address-space limit (so a runaway allocation aborts this process, not the machine), a
//! bounded stack for the thread that evaluates, and death with its parent.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rel_domain::{Digest, ErrorCode, Snapshot};
use rel_pipeline::{CompiledApp, FailureKind, RunHooks, StepStart};

use super::frame::{self, FromWorker, ToWorker};

/// Stack of the thread that runs pipelines. jq and minijinja recurse; a recursion deeper
/// than this overflows and aborts the worker, which the supervisor reports as a crash.
pub const WORKER_STACK_BYTES: usize = 16 << 20;
/// Compiled apps a worker keeps (releases live or recently used).
const CACHED_APPS: usize = 16;

/// Serve the supervisor on stdin/stdout until stdin closes. Returns the exit code. Each step
/// is marked in `step_marker` as it starts (announced on stdout without one).
pub fn main(memory_mib: u64, step_marker: Option<&Path>) -> u8 {
    if let Err(e) = limit_self(memory_mib) {
        eprintln!("releasd worker: cannot set its limits: {e}");
        return 70;
    }
    let marker = match step_marker.map(|p| OpenOptions::new().write(true).open(p)) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            eprintln!("releasd worker: cannot open its step marker: {e}");
            return 70;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("rel-worker".to_string())
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || serve(marker.as_ref()));
    match spawned.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => 70,
        Err(e) => {
            eprintln!("releasd worker: cannot start its thread: {e}");
            70
        }
    }
}

fn limit_self(memory_mib: u64) -> nix::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    // The daemon may die without closing our stdin (SIGKILL): die with it.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    let bytes = memory_mib.saturating_mul(1 << 20);
    setrlimit(Resource::RLIMIT_AS, bytes, bytes)?;
    // A crash report is a line on stderr, not a core file of up to the memory limit.
    setrlimit(Resource::RLIMIT_CORE, 0, 0)
}

fn serve(marker: Option<&File>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("releasd worker: cannot start its runtime: {e}");
            return 70;
        }
    };
    let mut input = BufReader::new(std::io::stdin().lock());
    let out = Mutex::new(BufWriter::new(std::io::stdout()));
    let mut apps: HashMap<Digest, Arc<CompiledApp>> = HashMap::new();
    // Why a load failed, answered to the request that follows it (a load has no answer of
    // its own, so the supervisor reads exactly one answer per request).
    let mut failed_load: Option<(Digest, FromWorker)> = None;
    loop {
        let msg: ToWorker = match frame::read_blocking(&mut input) {
            Ok(Some(m)) => m,
            // The supervisor closed our stdin: it is done with us.
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("releasd worker: bad request from the supervisor: {e}");
                return 70;
            }
        };
        let answer = match msg {
            ToWorker::Load {
                digest,
                tag,
                config,
            } => {
                let compiled = frame::parse_config(&config)
                    .map_err(|message| rel_domain::RelError::new(ErrorCode::Internal, message))
                    .and_then(|config| CompiledApp::compile(&Snapshot { config, digest }, &tag));
                match compiled {
                    Ok(app) => {
                        if apps.len() >= CACHED_APPS
                            && let Some(old) = apps.keys().next().copied()
                        {
                            apps.remove(&old);
                        }
                        apps.insert(digest, Arc::new(app));
                        continue;
                    }
                    Err(e) => {
                        failed_load = Some((
                            digest,
                            FromWorker::Failed {
                                code: e.code,
                                message: e.message,
                            },
                        ));
                        continue;
                    }
                }
            }
            ToWorker::Run {
                seq,
                digest,
                endpoint,
                env,
                input,
            } => match apps.get(&digest) {
                None => missing(&mut failed_load, digest),
                Some(app) => {
                    let mark = Marker::new(&out, marker, seq);
                    runtime.block_on(run(app, &endpoint, &env, input, &mark))
                }
            },
            ToWorker::Check {
                seq,
                digest,
                env,
                index,
            } => match apps.get(&digest) {
                None => missing(&mut failed_load, digest),
                Some(app) => {
                    let mark = Marker::new(&out, marker, seq);
                    runtime.block_on(check(app, index, &env, &mark))
                }
            },
        };
        let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
        if frame::write_blocking(&mut *w, &answer).is_err() {
            // The supervisor went away.
            return 0;
        }
    }
}

/// The answer for a request whose app is not loaded: why its load failed, or `Missing`.
fn missing(failed_load: &mut Option<(Digest, FromWorker)>, digest: Digest) -> FromWorker {
    match failed_load.take() {
        Some((d, answer)) if d == digest => answer,
        _ => FromWorker::Missing,
    }
}

type Out = Mutex<BufWriter<std::io::Stdout>>;

/// Where each step of one run is told as it starts, so that the supervisor can stop the run
/// at the step's limit and say which step it stopped (or which one crashed the worker): the
/// step-marker file (no wake-up of the supervisor; it reads the file when it needs to), or
/// else a frame on stdout.
struct Marker<'a> {
    out: &'a Out,
    file: Option<&'a File>,
    seq: u64,
    start: Instant,
}

impl<'a> Marker<'a> {
    fn new(out: &'a Out, file: Option<&'a File>, seq: u64) -> Marker<'a> {
        Marker {
            out,
            file,
            seq,
            start: Instant::now(),
        }
    }

    fn step(&self, s: &StepStart<'_>) {
        let limit_ms = u64::try_from(s.limit.as_millis()).unwrap_or(u64::MAX);
        if let Some(file) = self.file {
            let mark = frame::StepMark {
                seq: self.seq,
                at_ms: u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
                name: s.name.to_string(),
                kind: s.kind.as_str().to_string(),
                limit_ms,
                by_deadline: s.by_deadline,
                timeout_reason: s.timeout_reason.clone(),
            };
            if frame::write_mark(file, &mark).is_ok() {
                return;
            }
        }
        let msg = FromWorker::Step {
            name: s.name.to_string(),
            kind: s.kind.as_str().to_string(),
            limit_ms,
            by_deadline: s.by_deadline,
            timeout_reason: s.timeout_reason.clone(),
        };
        let mut w = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = frame::write_blocking(&mut *w, &msg);
    }
}

async fn run(
    app: &CompiledApp,
    endpoint: &str,
    env: &str,
    input: String,
    mark: &Marker<'_>,
) -> FromWorker {
    // The supervisor sends only text it checked to be JSON.
    let input: serde_json::Value = match serde_json::from_str(&input) {
        Ok(v) => v,
        Err(e) => {
            return FromWorker::Failed {
                code: ErrorCode::Invalid,
                message: format!("input: not valid JSON ({e})"),
            };
        }
    };
    let announce = |s: &StepStart<'_>| mark.step(s);
    let hooks = RunHooks {
        inline: true,
        on_step: Some(&announce),
    };
    match rel_pipeline::run_with(app, endpoint, input, env, None, hooks).await {
        Ok(result) => {
            let deadline_exceeded = result.deadline_exceeded();
            let tainted = timed_out(result.failure.as_ref().map(|f| f.kind));
            FromWorker::Ran {
                execution: Box::new(result.into_execution(0)),
                deadline_exceeded,
                tainted,
            }
        }
        Err(e) => FromWorker::Failed {
            code: e.code,
            message: e.message,
        },
    }
}

async fn check(app: &CompiledApp, index: usize, env: &str, mark: &Marker<'_>) -> FromWorker {
    let announce = |s: &StepStart<'_>| mark.step(s);
    let hooks = RunHooks {
        inline: true,
        on_step: Some(&announce),
    };
    match rel_pipeline::run_check(app, index, env, None, hooks).await {
        Some(o) => {
            let tainted = timed_out(o.run.failure.as_ref().map(|f| f.kind));
            FromWorker::Checked {
                name: o.name,
                endpoint: o.endpoint,
                passed: o.passed,
                message: o.message,
                execution: Box::new(o.run.into_execution(0)),
                tainted,
            }
        }
        None => FromWorker::Failed {
            code: ErrorCode::NotFound,
            message: format!("release {} has no check number {index}", app.tag()),
        },
    }
}

/// A tool step that timed out may have left work behind in this process (a request in
/// flight, a reaped command's pipes): start the next run in a fresh worker.
fn timed_out(kind: Option<FailureKind>) -> bool {
    matches!(kind, Some(FailureKind::StepTimeout | FailureKind::Deadline))
}
