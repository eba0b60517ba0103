//! Endpoint runs, verification, execution logs and tokens (§3.6, §4.5).
//!
//! A trigger resolves the environment lock-free ([`crate::live`]), runs the endpoint under
//! that one compiled release (a deploy landing mid-run changes nothing for it), appends the
//! execution log (bounded per environment by the retention setting) and announces
//! `ExecutionFinished`. A run that fails is still a successful request: the answer is the
//! execution with status `error`, and the caller decides what that means (relctl's exit
//! code, the HTTP ingress's status). The HTTP ingress uses the same pieces.

use std::sync::Arc;

use rel_domain::model::{CheckResult, ExecQuery, Execution, Verification};
use rel_domain::{Caller, ErrorCode, RelError, RelResult};
use rel_pipeline::CompiledApp;
use rel_proto::{Request, Response, VerifyOutcome};

use crate::dispatch::now;
use crate::server::Shared;
use crate::tokens;
use crate::worker::SHUTDOWN_GRACE;
pub use crate::worker::{Ran, RunError};

/// Execution logs kept per environment unless `[logs] retention` says otherwise.
pub const DEFAULT_RETENTION: usize = 1000;
/// `logs` pages: 0 asks for the default, and no page is larger than the maximum.
const DEFAULT_LOG_PAGE: usize = 50;
const MAX_LOG_PAGE: usize = 10_000;

/// Whether `request` is one of this module's.
pub fn handles(request: &Request) -> bool {
    matches!(
        request,
        Request::Trigger { .. }
            | Request::Verify { .. }
            | Request::Logs(_)
            | Request::LogShow { .. }
            | Request::TokenCreate { .. }
            | Request::TokenList
            | Request::TokenRevoke { .. }
    )
}

/// Handle one of this module's requests (already authorised by role). Runs on its own task
/// so that a panic anywhere in a pipeline step costs this request an `Internal` answer,
/// never the answer itself.
pub async fn handle(
    shared: &Arc<Shared>,
    caller: &Caller,
    request: Request,
) -> RelResult<Response> {
    let what = crate::dispatch::request_name(&request);
    let (shared, caller) = (Arc::clone(shared), caller.clone());
    let actor = caller.actor.name.clone();
    let result = match tokio::spawn(async move { handle_here(&shared, &caller, request).await })
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(request = what, error = %e, "request handler panicked");
            Err(RelError::internal(format!(
                "releasd hit an internal error handling {what}; see the releasd log and report it"
            )))
        }
    };
    if let Err(e) = &result {
        tracing::info!(request = what, %actor, code = %e.code, error = %e.message, "refused");
    }
    result
}

async fn handle_here(
    shared: &Arc<Shared>,
    caller: &Caller,
    request: Request,
) -> RelResult<Response> {
    match request {
        Request::Trigger {
            endpoint,
            env,
            input,
        } => {
            let input = parse_input(input)?;
            let app = resolve(shared, &env).await?;
            // On the data plane's runtime: supervising the run never takes a thread of
            // the control plane's.
            let s = Arc::clone(shared);
            let ran = shared
                .data
                .handle()
                .spawn(async move { run_logged(&s, &app, &endpoint, input, &env).await })
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "a triggered run panicked");
                    RelError::internal(
                        "releasd hit an internal error running the endpoint; see the releasd log and report it",
                    )
                })??;
            Ok(Response::Execution(ran.execution))
        }
        Request::Verify { env } => verify(shared, caller, &env).await.map(Response::Verified),
        Request::Logs(q) => logs(shared, q).await.map(Response::Executions),
        Request::LogShow { id } => {
            let s = Arc::clone(shared);
            blocking(move || s.store.execution(id))
                .await
                .map(Response::Execution)
        }
        Request::TokenCreate { name } => {
            let secret = tokens::new_secret()?;
            let (s, c, n) = (Arc::clone(shared), caller.clone(), name.clone());
            let h = tokens::hash(&secret);
            let info = blocking(move || s.store.create_token(&n, &h, &c, now())).await?;
            // The name only: the secret is shown to the caller once and logged nowhere.
            tracing::info!(token = %name, actor = %caller.actor.name, "token created");
            Ok(Response::TokenCreated { info, secret })
        }
        Request::TokenList => {
            let s = Arc::clone(shared);
            blocking(move || s.store.tokens())
                .await
                .map(Response::Tokens)
        }
        Request::TokenRevoke { name } => {
            let (s, c, n) = (Arc::clone(shared), caller.clone(), name.clone());
            blocking(move || s.store.revoke_token(&n, &c, now())).await?;
            shared.tokens.revoked(&name);
            tracing::info!(token = %name, actor = %caller.actor.name, "token revoked");
            Ok(Response::Done)
        }
        other => Err(RelError::internal(format!(
            "{} was routed to the endpoint handler by mistake; report it",
            crate::dispatch::request_name(&other)
        ))),
    }
}

/// A run's input, checked to be JSON text; empty text is `{}` (a trigger without data).
/// It stays text: the worker parses it (a value would be encoded again for the pipe).
pub fn parse_input(text: String) -> RelResult<String> {
    if text.trim().is_empty() {
        return Ok("{}".to_string());
    }
    check_json(text.as_bytes()).map(|()| text).map_err(|e| {
        RelError::invalid(format!(
            "input: not valid JSON ({e}); send a JSON value, e.g. {{\"message\": \"hi\"}}"
        ))
    })
}

/// `Ok` when `bytes` is one JSON value (with surrounding whitespace), without building it.
pub fn check_json(bytes: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map(|_| ())
}

/// The compiled release live in `env`: a lock-free lookup, or on a miss why nothing is
/// served there (`NotFound` naming the known environments, `Conflict` when nothing is live,
/// `Unavailable` when the live release cannot be compiled).
pub async fn resolve(shared: &Arc<Shared>, env: &str) -> RelResult<Arc<CompiledApp>> {
    if let Some(app) = shared.live.resolve(env) {
        return Ok(app);
    }
    let (s, env) = (Arc::clone(shared), env.to_string());
    blocking(move || s.live.explain_miss(s.store.as_ref(), &env)).await
}

/// Run `endpoint` of `app` as `env` in a worker, log it and announce it. `NotFound` when
/// the release has no such endpoint (listing those it has), `Busy` when admission control
/// refuses it; a failed, stopped or crashed run is an `Ok` with status `error`.
pub async fn run_logged(
    shared: &Arc<Shared>,
    app: &Arc<CompiledApp>,
    endpoint: &str,
    input: String,
    env: &str,
) -> Result<Ran, RunError> {
    let mut ran = shared.pool.run(app, endpoint, env, input).await?;
    ran.execution = log_run(shared, ran.execution)
        .await
        .map_err(RunError::Failed)?;
    let execution = &ran.execution;
    tracing::debug!(
        id = execution.id, env, endpoint, release = %execution.release,
        status = rel_proto::json::status_str(execution.status), duration_ms = execution.duration_ms,
        "endpoint ran"
    );
    Ok(ran)
}

/// After SIGTERM, runs in flight have [`SHUTDOWN_GRACE`] to finish; then their workers
/// are killed (the runs are logged as stopped) so that shutdown never waits on a runaway.
pub fn stop_runs_after_grace(shared: &Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let pool = Arc::clone(&shared.pool);
    shared.data.handle().spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        if pool.running() > 0 {
            tracing::warn!(
                runs = pool.running(),
                "runs still going {} s after the shutdown signal: stopping them",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        pool.abort_all();
    });
}

/// Append the execution log (trimming the environment's window to the retention) and
/// publish `ExecutionFinished`.
async fn log_run(shared: &Arc<Shared>, exec: Execution) -> RelResult<Execution> {
    let status = rel_proto::json::status_str(exec.status);
    let appended = shared.execlog.append(&exec).await;
    if let Err(e) = &appended
        && e.code == rel_domain::ErrorCode::Unavailable
        && shared.store.is_shared()
    {
        // A shared store (etcd) out of reach must not stop the serving of what is live:
        // the run is answered, its log is lost (id 0 marks it). A lone sled store failing
        // means the disk is failing: that stays an error.
        tracing::warn!(env = %exec.env, endpoint = %exec.endpoint, release = %exec.release, error = %e.message,
            "the run's execution log could not be written (the store is out of reach); answering the run anyway");
        return Ok(Execution { id: 0, ..exec });
    }
    let id = appended.map_err(|e| {
        RelError::new(
            e.code,
            format!(
                "the run finished ({status}) but its execution log could not be written: {}",
                e.message
            ),
        )
    })?;
    let exec = Execution { id, ..exec };
    // ExecutionFinished is published by the store with the log (in commit order).
    Ok(exec)
}

/// Run the checks of what is live in `env`, log each check's run, and record the outcome on
/// the deployment that made it live. An app without checks verifies trivially: a passing
/// verification with no check results is recorded.
async fn verify(shared: &Arc<Shared>, caller: &Caller, env: &str) -> RelResult<VerifyOutcome> {
    let (s, e) = (Arc::clone(shared), env.to_string());
    let view = blocking(move || s.store.environment(&e)).await?;
    let (Some(tag), Some(deployment_id)) = (view.live.clone(), view.deployment_id) else {
        return Err(RelError::conflict(format!(
            "nothing is live in {env}, so there is nothing to verify: deploy a release first (relctl deploy TAG --env {env})"
        )));
    };
    let mut app = resolve(shared, env).await?;
    if app.tag() != tag || Some(app.digest()) != view.live_digest {
        // The table and the store disagree for a moment (a deploy is being published):
        // verify exactly the release of the deployment the result will be recorded on.
        let (s, t) = (Arc::clone(shared), tag.clone());
        app = blocking(move || s.live.compile(s.store.as_ref(), &t)).await?;
    }
    // Each check in a worker, on the data plane's runtime, like a trigger.
    let (s, a, e) = (Arc::clone(shared), Arc::clone(&app), env.to_string());
    let checks = shared
        .data
        .handle()
        .spawn(async move { run_checks(&s, &a, &e).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a verification panicked");
            RelError::internal(
                "releasd hit an internal error running the checks; see the releasd log and report it",
            )
        })??;
    let verification = Verification {
        at: now(),
        by: caller.actor.name.clone(),
        passed: checks.iter().all(|c| c.passed),
        checks,
    };
    let (s, c, e, v) = (
        Arc::clone(shared),
        caller.clone(),
        env.to_string(),
        verification.clone(),
    );
    let deployment =
        blocking(move || s.store.record_verification(&e, deployment_id, &v, &c)).await?;
    // VerificationFinished is published by the store with the record (in commit order).
    tracing::info!(
        env, release = %tag, deployment_id, passed = verification.passed,
        checks = verification.checks.len(), actor = %caller.actor.name, "verified"
    );
    Ok(VerifyOutcome {
        env: env.to_string(),
        release: tag,
        deployment,
        verification,
    })
}

async fn run_checks(
    shared: &Arc<Shared>,
    app: &Arc<CompiledApp>,
    env: &str,
) -> RelResult<Vec<CheckResult>> {
    let mut checks = Vec::new();
    for index in 0..app.check_names().len() {
        let checked = shared.pool.check(app, index, env).await?;
        let exec = log_run(shared, checked.execution).await?;
        checks.push(CheckResult {
            name: checked.name,
            passed: checked.passed,
            message: checked.message,
            execution_id: Some(exec.id),
        });
    }
    Ok(checks)
}

async fn logs(shared: &Arc<Shared>, mut q: ExecQuery) -> RelResult<Vec<Execution>> {
    q.limit = match q.limit {
        0 => DEFAULT_LOG_PAGE,
        n => n.min(MAX_LOG_PAGE),
    };
    let s = Arc::clone(shared);
    blocking(move || {
        // A typo in --env would otherwise look like "no runs yet".
        if let Some(env) = &q.env {
            s.store.environment(env)?;
        }
        s.store.executions(&q)
    })
    .await
}

/// Run a store call on the blocking pool; a panic there is an `Internal` error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> RelResult<T> + Send + 'static,
) -> RelResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a store call panicked");
            Err(RelError::new(
                ErrorCode::Internal,
                "releasd hit an internal error talking to the store; see the releasd log and report it",
            ))
        }
    }
}
