//! Smoke tests (§3.6): each check runs an endpoint with an input and holds a jq condition
//! against the output. `run_checks` is what `relctl verify` and `deploy --verify` call.

use std::time::Duration;

use rel_domain::config::DEFAULT_STEP_TIMEOUT_MS;
use rel_domain::model::CheckResult;
use serde_json::Value;
use tokio::time::Instant;

use crate::compile::CompiledApp;
use crate::jq::truthy;
use crate::run::{RunHooks, RunResult, run_with};

/// A check by its position in `checks` or by its name.
#[derive(Debug, Clone, Copy)]
pub enum CheckRef<'a> {
    Index(usize),
    Name(&'a str),
}

impl From<usize> for CheckRef<'_> {
    fn from(i: usize) -> Self {
        CheckRef::Index(i)
    }
}

impl<'a> From<&'a str> for CheckRef<'a> {
    fn from(n: &'a str) -> Self {
        CheckRef::Name(n)
    }
}

/// Whether `output` meets the check's `expect` (jq truthiness of its first value). `Err`
/// says why it could not be decided: no such check, or the expression failed on `output`.
pub fn eval_expect<'a>(
    app: &CompiledApp,
    which: impl Into<CheckRef<'a>>,
    output: &Value,
) -> Result<bool, String> {
    let check = match which.into() {
        CheckRef::Index(i) => app.checks.get(i),
        CheckRef::Name(n) => app.checks.iter().find(|c| c.name == n),
    }
    .ok_or_else(|| format!("release {} has no such check", app.tag))?;
    match check.expect.first(output) {
        Ok(Some(v)) => Ok(truthy(&v)),
        Ok(None) => Ok(false),
        Err(e) => Err(format!("jq: {e}")),
    }
}

/// [`eval_expect`], with anything undecidable counted as a failure.
pub fn check<'a>(app: &CompiledApp, which: impl Into<CheckRef<'a>>, output: &Value) -> bool {
    eval_expect(app, which, output).unwrap_or(false)
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    pub name: String,
    pub endpoint: String,
    pub passed: bool,
    /// What passed, or why it failed, in one line.
    pub message: String,
    /// The run it made, to be logged as an execution.
    pub run: RunResult,
}

impl CheckOutcome {
    /// The record for a `Verification`, given the id the run was logged under.
    pub fn to_check_result(&self, execution_id: Option<u64>) -> CheckResult {
        CheckResult {
            name: self.name.clone(),
            passed: self.passed,
            message: self.message.clone(),
            execution_id,
        }
    }
}

/// Run every check of `app`, in order, as environment `env`. `deadline` bounds each run
/// (on top of its endpoint's own deadline). An app without checks gives an empty list.
pub async fn run_checks(
    app: &CompiledApp,
    env: &str,
    deadline: Option<Instant>,
) -> Vec<CheckOutcome> {
    let mut outcomes = Vec::with_capacity(app.checks.len());
    for i in 0..app.checks.len() {
        if let Some(o) = run_check(app, i, env, deadline, RunHooks::default()).await {
            outcomes.push(o);
        }
    }
    outcomes
}

/// Run check number `index` of `app` (`None` if there is no such check), as `hooks` say.
pub async fn run_check(
    app: &CompiledApp,
    index: usize,
    env: &str,
    deadline: Option<Instant>,
    hooks: RunHooks<'_>,
) -> Option<CheckOutcome> {
    let c = app.checks.get(index)?;
    let result = match run_with(app, &c.endpoint, c.input.clone(), env, deadline, hooks).await {
        Ok(r) => r,
        // Compilation guarantees the endpoint exists; should it not, the check fails.
        Err(e) => {
            return Some(failed_to_start(
                app,
                env,
                c.name.clone(),
                c.endpoint.clone(),
                c.input.clone(),
                e.message,
            ));
        }
    };
    let expect = c.expect.source();
    let (passed, message) = if let Some(err) = &result.error {
        (false, format!("endpoint {:?} failed: {err}", c.endpoint))
    } else {
        let verdict = if hooks.inline {
            eval_inline(app, index, &result.output)
        } else {
            eval_bounded(app, index, &result.output).await
        };
        match verdict {
            Ok(true) => (true, format!("{expect} held")),
            Ok(false) => (
                false,
                format!(
                    "expected {expect}, but the output was {}",
                    preview(&result.output)
                ),
            ),
            Err(e) => (
                false,
                format!(
                    "cannot evaluate {expect} on the output {}: {e}",
                    preview(&result.output)
                ),
            ),
        }
    };
    Some(CheckOutcome {
        name: c.name.clone(),
        endpoint: c.endpoint.clone(),
        passed,
        message,
        run: result,
    })
}

fn eval_inline(app: &CompiledApp, index: usize, output: &Value) -> Result<bool, String> {
    let Some(c) = app.checks.get(index) else {
        return Err("no such check".to_string());
    };
    match c.expect.first(output) {
        Ok(Some(v)) => Ok(truthy(&v)),
        Ok(None) => Ok(false),
        Err(e) => Err(format!("jq: {e}")),
    }
}

/// Evaluate on the blocking pool with a time limit, like a pipeline step.
async fn eval_bounded(app: &CompiledApp, index: usize, output: &Value) -> Result<bool, String> {
    let Some(c) = app.checks.get(index) else {
        return Err("no such check".to_string());
    };
    let (prog, output) = (c.expect.clone(), output.clone());
    let job = tokio::task::spawn_blocking(move || prog.first(&output));
    match tokio::time::timeout(Duration::from_millis(DEFAULT_STEP_TIMEOUT_MS), job).await {
        Ok(Ok(Ok(Some(v)))) => Ok(truthy(&v)),
        Ok(Ok(Ok(None))) => Ok(false),
        Ok(Ok(Err(e))) => Err(format!("jq: {e}")),
        Ok(Err(join)) => Err(format!("internal error: {join}")),
        Err(_) => Err(format!("timed out after {DEFAULT_STEP_TIMEOUT_MS} ms")),
    }
}

fn failed_to_start(
    app: &CompiledApp,
    env: &str,
    name: String,
    endpoint: String,
    input: Value,
    why: String,
) -> CheckOutcome {
    let run = RunResult {
        env: env.to_string(),
        endpoint: endpoint.clone(),
        release: app.tag.clone(),
        digest: app.digest,
        input,
        output: Value::Null,
        status: rel_domain::model::ExecStatus::Error,
        error: Some(why.clone()),
        failure: None,
        steps: Vec::new(),
        started_at: crate::run::now_timestamp(),
        duration_ms: 0,
    };
    CheckOutcome {
        name,
        endpoint,
        passed: false,
        message: why,
        run,
    }
}

/// The output as compact JSON, cut to keep a message on one screen line.
fn preview(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text
    }
}
