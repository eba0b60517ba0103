//! JSON shapes shared by every front end that prints executions: `relctl trigger` / `logs`
//! (`-o json`) and the HTTP ingress answer with the same object (§4.3). Fields may be
//! added, never renamed or removed; structs (not maps) keep the documented field order.

use rel_domain::model::{ExecStatus, Execution, StepResult};
use serde::Serialize;
use serde_json::Value;

/// `ok` or `error`.
pub fn status_str(s: ExecStatus) -> &'static str {
    match s {
        ExecStatus::Ok => "ok",
        ExecStatus::Error => "error",
    }
}

/// One execution: `{"id","env","endpoint","release","digest","status","output","steps",
/// "duration_ms"}` as §4.3 documents, then the added `error`, `input` and `started_at`.
/// `output` and `input` are embedded JSON (not strings).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionJson {
    pub id: u64,
    pub env: String,
    pub endpoint: String,
    pub release: String,
    pub digest: String,
    pub status: &'static str,
    pub output: Value,
    pub steps: Vec<StepJson>,
    pub duration_ms: u64,
    /// Why the run failed (`step "NAME" (KIND) failed: REASON`), else null.
    pub error: Option<String>,
    pub input: Value,
    /// RFC 3339 UTC.
    pub started_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepJson {
    pub name: String,
    pub kind: String,
    pub status: &'static str,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The step's output (null when it failed).
    pub output: Value,
}

/// Stored JSON text back to a value; text that is not JSON (it always is, as the runner
/// writes it) is kept as a string rather than lost.
fn embed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

pub fn step(s: &StepResult) -> StepJson {
    StepJson {
        name: s.name.clone(),
        kind: s.kind.clone(),
        status: status_str(s.status),
        duration_ms: s.duration_ms,
        error: s.error.clone(),
        output: embed(&s.output),
    }
}

pub fn execution(e: &Execution) -> ExecutionJson {
    ExecutionJson {
        id: e.id,
        env: e.env.clone(),
        endpoint: e.endpoint.clone(),
        release: e.release.clone(),
        digest: e.digest.short(),
        status: status_str(e.status),
        output: embed(&e.output),
        steps: e.steps.iter().map(step).collect(),
        duration_ms: e.duration_ms,
        error: e.error.clone(),
        input: embed(&e.input),
        started_at: e.started_at.rfc3339(),
    }
}

/// Newest first, as the store lists them.
pub fn executions(list: &[Execution]) -> Vec<ExecutionJson> {
    list.iter().map(execution).collect()
}

/// `{"error":{"code","message"}}`: how errors look in JSON everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorJson {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

pub fn error(code: impl Into<String>, message: impl Into<String>) -> ErrorJson {
    ErrorJson {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rel_domain::{Digest, Timestamp};

    #[test]
    fn execution_has_the_documented_fields_in_order() {
        let e = Execution {
            id: 7,
            env: "staging".into(),
            endpoint: "chat".into(),
            release: "v1".into(),
            digest: Digest::of(b"x"),
            status: ExecStatus::Ok,
            input: r#"{"message":"hi"}"#.into(),
            output: r#"{"reply":"You said: hi"}"#.into(),
            error: None,
            steps: vec![StepResult {
                name: "greet".into(),
                kind: "template".into(),
                status: ExecStatus::Ok,
                duration_ms: 1,
                error: None,
                output: r#""You said: hi""#.into(),
            }],
            started_at: Timestamp::from_millis(0),
            duration_ms: 2,
        };
        let text = serde_json::to_string(&execution(&e)).expect("json");
        let keys = [
            "\"id\"",
            "\"env\"",
            "\"endpoint\"",
            "\"release\"",
            "\"digest\"",
            "\"status\"",
            "\"output\"",
            "\"steps\"",
            "\"duration_ms\"",
        ];
        let mut at = 0;
        for k in keys {
            let pos = text[at..]
                .find(k)
                .unwrap_or_else(|| panic!("{k} missing or out of order in {text}"));
            at += pos + k.len();
        }
        let v: Value = serde_json::from_str(&text).expect("parse");
        assert_eq!(v["output"]["reply"], "You said: hi");
        assert_eq!(v["status"], "ok");
        assert_eq!(v["steps"][0]["kind"], "template");
        assert_eq!(v["steps"][0]["error"], Value::Null);
        assert!(v["digest"].as_str().is_some_and(|d| d.starts_with("b3:")));
    }
}
