//! The worker process (`releasd --worker`): runs one pipeline run at a time for the
//! supervisor, which kills it when a run outlives its limit. It limits itself first: an
//! address-space limit (so a runaway allocation aborts this process, not the machine), a
//! bounded stack for the thread that evaluates, and death with its parent.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::sync::{Arc, Mutex};

use rel_domain::{Digest, ErrorCode, Snapshot};
use rel_pipeline::{CompiledApp, FailureKind, RunHooks, StepStart};

use super::frame::{self, FromWorker, ToWorker};

/// Stack of the thread that runs pipelines. jq and minijinja recurse; a recursion deeper
/// than this overflows and aborts the worker, which the supervisor reports as a crash.
pub const WORKER_STACK_BYTES: usize = 16 << 20;
/// Compiled apps a worker keeps (releases live or recently used).
const CACHED_APPS: usize = 16;

/// Serve the supervisor on stdin/stdout until stdin closes. Returns the exit code.
pub fn main(memory_mib: u64) -> u8 {
    if let Err(e) = limit_self(memory_mib) {
        eprintln!("releasd worker: cannot set its limits: {e}");
        return 70;
    }
    let spawned = std::thread::Builder::new()
        .name("rel-worker".to_string())
        .stack_size(WORKER_STACK_BYTES)
        .spawn(serve);
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

fn serve() -> u8 {
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
                let snapshot = Snapshot {
                    config: *config,
                    digest,
                };
                match CompiledApp::compile(&snapshot, &tag) {
                    Ok(app) => {
                        if apps.len() >= CACHED_APPS
                            && let Some(old) = apps.keys().next().copied()
                        {
                            apps.remove(&old);
                        }
                        apps.insert(digest, Arc::new(app));
                        continue;
                    }
                    Err(e) => FromWorker::Failed {
                        code: e.code,
                        message: e.message,
                    },
                }
            }
            ToWorker::Run {
                digest,
                endpoint,
                env,
                input,
            } => match apps.get(&digest) {
                None => FromWorker::Missing,
                Some(app) => runtime.block_on(run(app, &endpoint, &env, input, &out)),
            },
            ToWorker::Check { digest, env, index } => match apps.get(&digest) {
                None => FromWorker::Missing,
                Some(app) => runtime.block_on(check(app, index, &env, &out)),
            },
        };
        let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
        if frame::write_blocking(&mut *w, &answer).is_err() {
            // The supervisor went away.
            return 0;
        }
    }
}

type Out = Mutex<BufWriter<std::io::Stdout>>;

/// Tell the supervisor each step as it starts, so that it can stop the run at the step's
/// limit and say which step it stopped (or which one crashed the worker).
fn announcer<'a>(out: &'a Out) -> impl Fn(&StepStart<'_>) + Sync + 'a {
    move |s: &StepStart<'_>| {
        let msg = FromWorker::Step {
            name: s.name.to_string(),
            kind: s.kind.as_str().to_string(),
            limit_ms: u64::try_from(s.limit.as_millis()).unwrap_or(u64::MAX),
            by_deadline: s.by_deadline,
            timeout_reason: s.timeout_reason.clone(),
        };
        let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = frame::write_blocking(&mut *w, &msg);
    }
}

async fn run(
    app: &CompiledApp,
    endpoint: &str,
    env: &str,
    input: serde_json::Value,
    out: &Out,
) -> FromWorker {
    let announce = announcer(out);
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

async fn check(app: &CompiledApp, index: usize, env: &str, out: &Out) -> FromWorker {
    let announce = announcer(out);
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
