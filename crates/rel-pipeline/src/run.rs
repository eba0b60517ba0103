//! Running an endpoint: its pipeline's steps in order over the context
//! `{input, steps: {NAME: OUTPUT…}, env, release}`, each bounded by its timeout and all of
//! them by the run's deadline. The first failing step ends the run.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rel_domain::config::StepKind;
use rel_domain::model::{ExecStatus, Execution, StepResult};
use rel_domain::{Digest, RelError, RelResult, Timestamp};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::compile::{CompiledApp, CompiledStep, StepOp, describe_render_error};
use crate::jq::{JqProgram, truthy};
use crate::{command, http};

/// Why a step did not produce an output.
#[derive(Debug)]
pub(crate) enum StepError {
    Failed(String),
    /// The step's time limit (its timeout, or what was left of the run's deadline) passed.
    TimedOut,
}

/// One step that ran.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    pub name: String,
    pub kind: StepKind,
    pub status: ExecStatus,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// `null` when the step failed.
    pub output: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The step itself failed: a jq or template error, a false assert, a tool error.
    Step,
    /// The step ran past its own timeout.
    StepTimeout,
    /// The run's deadline passed (HTTP ingress answers 504 for this).
    Deadline,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The step that failed.
    pub step: String,
    pub kind: FailureKind,
    /// The step's own error message.
    pub reason: String,
}

/// What a run did. `into_execution` turns it into the logged [`Execution`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub env: String,
    pub endpoint: String,
    pub release: String,
    pub digest: Digest,
    pub input: Value,
    /// The last step's output; `null` when the run failed.
    pub output: Value,
    pub status: ExecStatus,
    /// `step "NAME" (KIND) failed: REASON` when the run failed.
    pub error: Option<String>,
    pub failure: Option<Failure>,
    /// The steps that ran, in order; steps after a failure did not run and are absent.
    pub steps: Vec<StepRun>,
    pub started_at: Timestamp,
    pub duration_ms: u64,
}

impl RunResult {
    pub fn is_ok(&self) -> bool {
        self.status == ExecStatus::Ok
    }

    pub fn deadline_exceeded(&self) -> bool {
        self.failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Deadline)
    }

    /// The execution log record, with the id the store assigned.
    pub fn into_execution(self, id: u64) -> Execution {
        Execution {
            id,
            env: self.env,
            endpoint: self.endpoint,
            release: self.release,
            digest: self.digest,
            status: self.status,
            input: json_text(&self.input),
            output: json_text(&self.output),
            error: self.error,
            steps: self
                .steps
                .into_iter()
                .map(|s| StepResult {
                    name: s.name,
                    kind: s.kind.as_str().to_string(),
                    status: s.status,
                    duration_ms: s.duration_ms,
                    error: s.error,
                    output: json_text(&s.output),
                })
                .collect(),
            started_at: self.started_at,
            duration_ms: self.duration_ms,
        }
    }
}

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

pub(crate) fn now_timestamp() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_millis(ms)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A step about to start, for whoever supervises the run from outside (the daemon's worker
/// supervisor kills a worker whose step outlives `limit`, and writes `timeout_error`).
#[derive(Debug, Clone)]
pub struct StepStart<'a> {
    pub name: &'a str,
    pub kind: StepKind,
    /// Its timeout, or what is left of the run's deadline if that is sooner.
    pub limit: Duration,
    /// `limit` is what is left of the run's deadline.
    pub by_deadline: bool,
    /// Why the step failed, should it run past `limit` (the log's step error).
    pub timeout_reason: String,
}

/// How a run is carried out. The default is the daemon-free behaviour: template and jq
/// evaluation on tokio's blocking pool, abandoned (not stopped) at the step's timeout.
#[derive(Default, Clone, Copy)]
pub struct RunHooks<'a> {
    /// Evaluate templates and jq on the calling thread. For a process that is killed from
    /// outside at the step's limit (a worker), where a thread handoff per step buys nothing.
    pub inline: bool,
    /// Called before each step starts.
    pub on_step: Option<&'a (dyn Fn(&StepStart<'_>) + Sync)>,
}

/// Run `endpoint` of `app` with `input`, as environment `env`.
///
/// The run's deadline is the endpoint's (`deadline_ms`, default 30 s) or `deadline` if
/// that is sooner (e.g. the caller's own timeout). Errors only when the endpoint does not
/// exist (`NotFound`, listing the ones that do); everything that goes wrong while running
/// is in the result, which always describes a finished run.
pub async fn run(
    app: &CompiledApp,
    endpoint: &str,
    input: Value,
    env: &str,
    deadline: Option<Instant>,
) -> RelResult<RunResult> {
    run_with(app, endpoint, input, env, deadline, RunHooks::default()).await
}

/// [`run`], carried out as `hooks` say.
pub async fn run_with(
    app: &CompiledApp,
    endpoint: &str,
    input: Value,
    env: &str,
    deadline: Option<Instant>,
    hooks: RunHooks<'_>,
) -> RelResult<RunResult> {
    let ep = app.endpoints.get(endpoint).ok_or_else(|| {
        let known = app.endpoint_names().join(", ");
        RelError::not_found(format!(
            "release {} has no endpoint {endpoint:?} (it has: {}); check the name, or deploy a release that defines it",
            app.tag,
            if known.is_empty() { "none" } else { &known }
        ))
    })?;
    let started_at = now_timestamp();
    let start = Instant::now();
    let own_deadline = start + ep.deadline;
    let (deadline, deadline_what) = match deadline {
        Some(d) if d < own_deadline => (d, "the caller's deadline".to_string()),
        _ => (
            own_deadline,
            format!(
                "the run deadline of {} ms ({})",
                millis(ep.deadline),
                ep.deadline_source
            ),
        ),
    };

    let mut ctx = Arc::new(json!({
        "input": input,
        "steps": {},
        "env": env,
        "release": app.release_json,
    }));
    let mut last = ctx["input"].clone();
    let mut steps = Vec::with_capacity(ep.pipeline.steps.len());
    let mut failure = None;

    for step in &ep.pipeline.steps {
        let step_start = Instant::now();
        let remaining = deadline.saturating_duration_since(step_start);
        let (result, by_deadline) = if remaining.is_zero() {
            (Err(StepError::TimedOut), true)
        } else {
            let limit = step.timeout.min(remaining);
            let by_deadline = remaining < step.timeout;
            if let Some(on_step) = hooks.on_step {
                on_step(&StepStart {
                    name: &step.name,
                    kind: step.kind,
                    limit,
                    by_deadline,
                    timeout_reason: timeout_reason(step, by_deadline, &deadline_what),
                });
            }
            (
                exec_step(app, step, &ctx, &last, limit, hooks.inline).await,
                by_deadline,
            )
        };
        let duration_ms = millis(step_start.elapsed());
        match result {
            Ok(out) => {
                if let Some(steps_obj) = Arc::make_mut(&mut ctx)["steps"].as_object_mut() {
                    steps_obj.insert(step.name.clone(), out.clone());
                }
                steps.push(StepRun {
                    name: step.name.clone(),
                    kind: step.kind,
                    status: ExecStatus::Ok,
                    duration_ms,
                    error: None,
                    output: out.clone(),
                });
                last = out;
            }
            Err(e) => {
                let (kind, reason) = match e {
                    StepError::Failed(m) => (FailureKind::Step, m),
                    StepError::TimedOut if by_deadline => (
                        FailureKind::Deadline,
                        timeout_reason(step, true, &deadline_what),
                    ),
                    StepError::TimedOut => (
                        FailureKind::StepTimeout,
                        timeout_reason(step, false, &deadline_what),
                    ),
                };
                steps.push(StepRun {
                    name: step.name.clone(),
                    kind: step.kind,
                    status: ExecStatus::Error,
                    duration_ms,
                    error: Some(reason.clone()),
                    output: Value::Null,
                });
                failure = Some(Failure {
                    step: step.name.clone(),
                    kind,
                    reason,
                });
                break;
            }
        }
    }

    let input = match Arc::try_unwrap(ctx) {
        Ok(mut v) => v["input"].take(),
        Err(shared) => shared["input"].clone(),
    };
    let error = failure.as_ref().map(|f| {
        let kind = steps.last().map_or("step", |s| s.kind.as_str());
        format!("step {:?} ({kind}) failed: {}", f.step, f.reason)
    });
    Ok(RunResult {
        env: env.to_string(),
        endpoint: endpoint.to_string(),
        release: app.tag.clone(),
        digest: app.digest,
        input,
        output: if failure.is_some() { Value::Null } else { last },
        status: if failure.is_some() {
            ExecStatus::Error
        } else {
            ExecStatus::Ok
        },
        error,
        failure,
        steps,
        started_at,
        duration_ms: millis(start.elapsed()),
    })
}

fn timeout_reason(step: &CompiledStep, by_deadline: bool, deadline_what: &str) -> String {
    if by_deadline {
        format!("{deadline_what} passed; raise it or make the steps faster")
    } else {
        format!(
            "timed out after {} ms ({}); raise it or make the step faster",
            millis(step.timeout),
            step.timeout_source
        )
    }
}

async fn exec_step(
    app: &CompiledApp,
    step: &CompiledStep,
    ctx: &Arc<Value>,
    previous: &Value,
    limit: Duration,
    inline: bool,
) -> Result<Value, StepError> {
    match &step.op {
        StepOp::Template(name) => {
            let (templates, ctx, name) = (app.templates.clone(), ctx.clone(), name.clone());
            pure(limit, inline, move || {
                let tmpl = templates.get_template(&name).map_err(|e| {
                    StepError::Failed(format!("template: {}", describe_render_error(&e)))
                })?;
                tmpl.render(&*ctx).map(Value::String).map_err(|e| {
                    StepError::Failed(format!("template: {}", describe_render_error(&e)))
                })
            })
            .await
        }
        StepOp::Transform(prog) => {
            let (prog, ctx) = (prog.clone(), ctx.clone());
            pure(limit, inline, move || first_value(&prog, &ctx)).await
        }
        StepOp::Assert { cond, message } => {
            let (prog, ctx) = (cond.clone(), ctx.clone());
            let verdict = pure(limit, inline, move || first_value(&prog, &ctx)).await?;
            if truthy(&verdict) {
                // An assert guards; it passes the previous output through unchanged.
                Ok(previous.clone())
            } else {
                Err(StepError::Failed(match message {
                    Some(m) => m.clone(),
                    None => format!("assertion failed: {} (it gave {verdict})", cond.source()),
                }))
            }
        }
        StepOp::Http {
            tool,
            method,
            url,
            headers,
            input,
        } => {
            let started = Instant::now();
            let body = tool_input(input.as_ref(), ctx, limit, inline).await?;
            let left = limit.saturating_sub(started.elapsed());
            let call = http::HttpCall {
                client: &app.http,
                tool,
                method,
                url,
                headers,
            };
            match tokio::time::timeout(left, http::call(call, &body)).await {
                Ok(r) => r,
                Err(_) => Err(StepError::TimedOut),
            }
        }
        StepOp::Command { tool, argv, input } => {
            let started = Instant::now();
            let body = tool_input(input.as_ref(), ctx, limit, inline).await?;
            let left = limit.saturating_sub(started.elapsed());
            command::run_command(tool, argv, &body, left).await
        }
    }
}

/// A tool's input: its `input` jq expression over the context, else the run's input.
async fn tool_input(
    expr: Option<&Arc<JqProgram>>,
    ctx: &Arc<Value>,
    limit: Duration,
    inline: bool,
) -> Result<Value, StepError> {
    match expr {
        None => Ok(ctx["input"].clone()),
        Some(prog) => {
            let (prog, ctx) = (prog.clone(), ctx.clone());
            pure(limit, inline, move || {
                first_value(&prog, &ctx).map_err(|e| match e {
                    StepError::Failed(m) => StepError::Failed(format!("input: {m}")),
                    other => other,
                })
            })
            .await
        }
    }
}

fn first_value(prog: &JqProgram, ctx: &Value) -> Result<Value, StepError> {
    match prog.first(ctx) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(StepError::Failed(format!(
            "jq: {} produced no value (an `empty` or a `select` that matched nothing)",
            prog.source()
        ))),
        Err(e) => Err(StepError::Failed(format!("jq: {e}"))),
    }
}

/// Template and jq evaluation is CPU work that cannot be interrupted. It runs on the
/// blocking pool so that a runaway expression costs a pool thread, not an executor thread,
/// and the step still fails at its timeout (the computation finishes in the background).
/// `inline`: on this thread, for a process that is killed from outside at the limit.
async fn pure(
    limit: Duration,
    inline: bool,
    f: impl FnOnce() -> Result<Value, StepError> + Send + 'static,
) -> Result<Value, StepError> {
    if inline {
        return f();
    }
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(StepError::Failed(format!(
            "internal error while evaluating the step: {join}"
        ))),
        Err(_) => Err(StepError::TimedOut),
    }
}
