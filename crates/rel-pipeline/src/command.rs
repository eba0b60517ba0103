//! `command` steps: spawn the tool's argv (no shell), JSON on stdin, stdout parsed as JSON
//! (else taken as trimmed text). The tool runs in its own process group so that at its
//! timeout — or when the run is abandoned — the whole group is killed, including anything
//! a wrapper script started.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::run::StepError;

/// The most a tool may write to stdout; more is an error (the output goes into the log).
pub const MAX_TOOL_OUTPUT_BYTES: usize = 4 * 1024 * 1024;
/// How much of stderr is kept to explain a failure.
const MAX_STDERR_BYTES: usize = 64 * 1024;

/// Kills the tool's process group if the step ends (timeout, or the run future is dropped)
/// before the tool was reaped.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // ESRCH (already gone) is fine: the point is that nothing is left running.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) async fn run_command(
    tool: &str,
    argv: &[String],
    input: &Value,
    limit: Duration,
) -> Result<Value, StepError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(StepError::Failed(format!("tools.{tool}.argv is empty")));
    };
    let stdin_bytes = serde_json::to_vec(input)
        .map_err(|e| StepError::Failed(format!("cannot encode the tool's input as JSON: {e}")))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            StepError::Failed(format!(
                "cannot start {program:?} (tools.{tool}.argv[0]): {e}; check that it is installed and on the daemon's PATH"
            ))
        })?;
    let mut guard = GroupGuard {
        pgid: child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    };
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(StepError::Failed(
            "the tool's stdio pipes were not set up".to_string(),
        ));
    };

    let feed = async move {
        // A tool that does not read its input (or exits early) closes the pipe: not an error.
        let _ = stdin.write_all(&stdin_bytes).await;
        drop(stdin);
    };
    let work = async {
        let ((out, out_truncated), (err, _), (), status) = tokio::join!(
            read_capped(stdout, MAX_TOOL_OUTPUT_BYTES, false),
            read_capped(stderr, MAX_STDERR_BYTES, true),
            feed,
            child.wait()
        );
        (out, out_truncated, err, status)
    };
    let outcome = tokio::time::timeout(limit, work).await;
    let Ok((out, out_truncated, err, status)) = outcome else {
        guard.kill();
        // Reap it, so it is gone (not a zombie) by the time the step reports.
        let _ = child.kill().await;
        return Err(StepError::TimedOut);
    };
    guard.disarm();
    let status =
        status.map_err(|e| StepError::Failed(format!("waiting for {program:?} failed: {e}")))?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let why = match (status.code(), status.signal()) {
            (Some(code), _) => format!("{program:?} exited with status {code}"),
            (None, Some(sig)) => format!("{program:?} was killed by signal {sig}"),
            (None, None) => format!("{program:?} failed ({status})"),
        };
        let stderr = String::from_utf8_lossy(&err);
        let last = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty());
        return Err(StepError::Failed(match last {
            Some(line) => format!("{why}: {line}"),
            None => format!("{why} and wrote nothing to stderr"),
        }));
    }
    if out_truncated {
        return Err(StepError::Failed(format!(
            "{program:?} wrote more than {MAX_TOOL_OUTPUT_BYTES} bytes to stdout; a step's output must be smaller"
        )));
    }
    Ok(parse_output(&out))
}

/// JSON if stdout is JSON, else the trimmed text.
pub(crate) fn parse_output(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    serde_json::from_str(trimmed).unwrap_or_else(|_| Value::String(trimmed.to_string()))
}

/// Read to the end, keeping at most `cap` bytes (the first ones, or with `tail` the last
/// ones), so a chatty tool never blocks on a full pipe.
async fn read_capped(mut r: impl AsyncRead + Unpin, cap: usize, tail: bool) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) if tail => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > cap {
                    truncated = true;
                    kept.drain(..kept.len() - cap);
                }
            }
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, truncated)
}
