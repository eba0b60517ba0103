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

mod checks;
mod command;
mod compile;
mod http;
pub mod jq;
mod live;
mod run;

pub use checks::{CheckOutcome, CheckRef, check, eval_expect, run_checks};
pub use command::MAX_TOOL_OUTPUT_BYTES;
pub use compile::{CompiledApp, validate_app};
pub use live::LiveTable;
pub use run::{Failure, FailureKind, RunResult, StepRun, run};
