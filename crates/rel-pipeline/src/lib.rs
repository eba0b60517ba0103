//! The rel pipeline runner (§3.6): what `releasd` uses to serve endpoints.
//!
//! * [`CompiledApp::compile`] turns a release's snapshot into an immutable, pre-parsed app:
//!   every minijinja template and jq expression compiled once, errors naming their path.
//!   [`validate_app`] does the same checks for a draft at apply time.
//! * [`LiveTable`] maps environment → live `Arc<CompiledApp>`; `resolve` is lock-free.
//! * [`run`] executes an endpoint's pipeline (template, transform, assert, http, command
//!   steps) with per-step timeouts and a run deadline; [`RunResult::into_execution`] makes
//!   the log record.
//! * [`run_checks`] runs the app's smoke tests; [`eval_expect`] / [`check`] evaluate one
//!   expectation.
//!
//! Step semantics, for the docs and for whoever reads an execution log:
//! * `template`: minijinja over the context; the output is the rendered string. Undefined
//!   variables render empty (jinja's usual leniency); unknown filters fail at run time.
//! * `transform`: jq over the context; the output is the first value. No value (`empty`)
//!   fails the step. `env`, `input`, `inputs` are not available; `halt` fails.
//! * `assert`: jq over the context; `false`/`null` (or no value) fails the run with the
//!   step's `message`, else `assertion failed: EXPR`. Its output is the previous output,
//!   so an assert at the end of a pipeline does not change the run's output.
//! * `http`: the tool's method (default POST) to its URL (plain `http://` only), with its
//!   headers and the step's `input` (jq) or the run's input as a JSON body (none for GET).
//!   The answer is parsed as JSON, else kept as trimmed text; non-2xx fails the step.
//! * `command`: the tool's argv, no shell, in its own process group; the input as JSON on
//!   stdin; stdout parsed as JSON, else trimmed text; a non-zero exit fails the step with
//!   stderr's last line. At the timeout the whole group is killed and reaped.
//! * Timeouts: `step.timeout_ms`, else the tool's `timeout_ms`, else 5 s; the run's
//!   deadline is `endpoint.deadline_ms` (else 30 s) or the caller's, whichever is sooner.
//!   Template and jq evaluation runs on tokio's blocking pool so that a runaway expression
//!   fails its step at the timeout without stalling the executor (it finishes in the
//!   background). Tool output is capped at [`MAX_TOOL_OUTPUT_BYTES`].

mod checks;
mod command;
mod compile;
mod http;
pub mod jq;
mod limits;
mod live;
mod run;
mod step_refs;
mod template_check;

pub use checks::{CheckOutcome, CheckRef, check, eval_expect, run_check, run_checks};
pub use command::MAX_TOOL_OUTPUT_BYTES;
pub use compile::{CompiledApp, validate_app};
pub use limits::{MAX_CHAIN, MAX_JQ_BYTES, MAX_NESTING, MAX_TEMPLATE_BYTES, MAX_WEIGHT};
pub use live::LiveTable;
pub use run::{Failure, FailureKind, RunHooks, RunResult, StepRun, StepStart, run, run_with};
