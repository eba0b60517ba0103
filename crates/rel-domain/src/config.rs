//! The app config (§2.1): tools, pipelines of stages of steps, endpoints and checks.
//!
//! Parsed from TOML or JSON with unknown keys rejected, then validated so that every
//! reference resolves. Every error names the path of the offending value, e.g.
//! `pipelines.chat.stages[0].steps[1].tool: unknown tool "serch"`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{RelError, RelResult};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    #[serde(default)]
    pub tools: BTreeMap<String, Tool>,
    #[serde(default)]
    pub pipelines: BTreeMap<String, Pipeline>,
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
    #[serde(default)]
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    Command,
    Http,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub kind: ToolKind,
    /// `command`: the program and its arguments. JSON goes to stdin; stdout is JSON or text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// `http`: where to send the step's input as a JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `http`: the method, default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// The step kinds of §3.6. Anything else is a validation error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Template,
    Transform,
    Assert,
    Http,
    Command,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Template => "template",
            StepKind::Transform => "transform",
            StepKind::Assert => "assert",
            StepKind::Http => "http",
            StepKind::Command => "command",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub kind: StepKind,
    /// `template`: minijinja source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `transform` / `assert`: a jq expression over the context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// `http` / `command`: the tool to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// `http` / `command`: a jq expression over the context building the tool's input
    /// (default: the run's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `assert`: the message when the condition is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub pipeline: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Deadline for a whole run, default [`DEFAULT_RUN_DEADLINE_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub endpoint: String,
    #[serde(default)]
    pub input: Value,
    /// A jq condition on the run's output.
    pub expect: String,
}

pub const DEFAULT_STEP_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_RUN_DEADLINE_MS: u64 = 30_000;
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// Which syntax a config file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigFormat {
    Toml,
    Json,
}

impl ConfigFormat {
    /// `.json` files are JSON; everything else is read as TOML.
    pub fn from_path(path: &str) -> Self {
        if path.to_ascii_lowercase().ends_with(".json") {
            ConfigFormat::Json
        } else {
            ConfigFormat::Toml
        }
    }
}

impl AppConfig {
    /// Parse and validate. Errors are `Invalid` and name the path.
    pub fn parse(text: &str, format: ConfigFormat) -> RelResult<AppConfig> {
        let cfg: AppConfig = match format {
            ConfigFormat::Json => {
                let de = &mut serde_json::Deserializer::from_str(text);
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    json_error(text, &path, &inner)
                })?
            }
            ConfigFormat::Toml => {
                // Syntax errors get line and column from the span; data errors get the key path.
                let de =
                    toml::Deserializer::parse(text).map_err(|e| toml_syntax_error(text, &e))?;
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    RelError::invalid(format!("{}: {}", display_path(&path), inner.message()))
                })?
            }
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The canonical JSON form: the one the digest is computed over and the wire carries.
    pub fn to_canonical_json(&self) -> String {
        crate::snapshot::canonical_json(&self.to_value())
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Parse the canonical JSON (already validated when it was stored).
    pub fn from_json(text: &str) -> RelResult<AppConfig> {
        Self::parse(text, ConfigFormat::Json)
    }

    /// Human-editable TOML, for `app show`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render as TOML: {e}\n"))
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
            && self.pipelines.is_empty()
            && self.endpoints.is_empty()
            && self.checks.is_empty()
    }

    /// For `app apply` only (a stored snapshot may legitimately be empty): applying a config
    /// that defines nothing would silently remove everything from the draft, which is almost
    /// always the wrong file or a truncated one.
    pub fn check_not_empty(&self) -> RelResult<()> {
        if self.is_empty() {
            return Err(RelError::invalid(
                "this config defines no tools, pipelines, endpoints or checks; nothing applied \
                 (check the file name, or that the file was not truncated)",
            ));
        }
        Ok(())
    }

    /// Every reference resolves, names are unique, each step has the fields its kind needs.
    pub fn validate(&self) -> RelResult<()> {
        for (name, tool) in &self.tools {
            let p = format!("tools.{name}");
            check_ident(&p, name)?;
            match tool.kind {
                ToolKind::Command => {
                    match &tool.argv {
                        Some(argv) if !argv.is_empty() && !argv[0].is_empty() => {}
                        _ => {
                            return Err(inv(
                                &p,
                                "argv",
                                "a command tool needs argv = [\"program\", \"arg\", ...]",
                            ));
                        }
                    }
                    if tool.url.is_some() || tool.method.is_some() || !tool.headers.is_empty() {
                        return Err(inv(
                            &p,
                            "url",
                            "url, method and headers are for kind = \"http\"; a command tool takes argv",
                        ));
                    }
                }
                ToolKind::Http => {
                    match &tool.url {
                        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
                        Some(u) => {
                            return Err(inv(
                                &p,
                                "url",
                                &format!("{u:?} is not an http:// or https:// URL"),
                            ));
                        }
                        None => {
                            return Err(inv(
                                &p,
                                "url",
                                "an http tool needs url = \"http://host:port/path\"",
                            ));
                        }
                    }
                    if tool.argv.is_some() {
                        return Err(inv(
                            &p,
                            "argv",
                            "argv is for kind = \"command\"; an http tool takes url",
                        ));
                    }
                    if let Some(m) = &tool.method
                        && !matches!(
                            m.to_ascii_uppercase().as_str(),
                            "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
                        )
                    {
                        return Err(inv(
                            &p,
                            "method",
                            &format!("{m:?} is not one of GET, POST, PUT, PATCH, DELETE"),
                        ));
                    }
                }
            }
            check_timeout(&p, tool.timeout_ms)?;
        }
        for (name, pipeline) in &self.pipelines {
            let p = format!("pipelines.{name}");
            check_ident(&p, name)?;
            if pipeline.stages.is_empty() {
                return Err(inv(
                    &p,
                    "stages",
                    "a pipeline needs at least one stage with one step",
                ));
            }
            let mut stage_names = BTreeSet::new();
            let mut step_names = BTreeSet::new();
            for (si, stage) in pipeline.stages.iter().enumerate() {
                let sp = format!("{p}.stages[{si}]");
                if stage.name.is_empty() {
                    return Err(inv(&sp, "name", "a stage needs a name"));
                }
                if !stage_names.insert(stage.name.as_str()) {
                    return Err(inv(
                        &sp,
                        "name",
                        &format!("duplicate stage name {:?}", stage.name),
                    ));
                }
                if stage.steps.is_empty() {
                    return Err(inv(&sp, "steps", "a stage needs at least one step"));
                }
                for (ti, step) in stage.steps.iter().enumerate() {
                    let tp = format!("{sp}.steps[{ti}]");
                    self.validate_step(&tp, step)?;
                    if !step_names.insert(step.name.as_str()) {
                        return Err(inv(
                            &tp,
                            "name",
                            &format!(
                                "duplicate step name {:?} in pipeline {name:?}; steps are addressed as steps.NAME",
                                step.name
                            ),
                        ));
                    }
                }
            }
        }
        for (name, endpoint) in &self.endpoints {
            let p = format!("endpoints.{name}");
            check_ident(&p, name)?;
            if !self.pipelines.contains_key(&endpoint.pipeline) {
                return Err(inv(
                    &p,
                    "pipeline",
                    &format!(
                        "unknown pipeline {:?}{}",
                        endpoint.pipeline,
                        known(self.pipelines.keys())
                    ),
                ));
            }
            check_timeout(&p, endpoint.deadline_ms)?;
        }
        let mut check_names = BTreeSet::new();
        for (i, check) in self.checks.iter().enumerate() {
            let p = format!("checks[{i}]");
            if check.name.is_empty() {
                return Err(inv(&p, "name", "a check needs a name"));
            }
            if !check_names.insert(check.name.as_str()) {
                return Err(inv(
                    &p,
                    "name",
                    &format!("duplicate check name {:?}", check.name),
                ));
            }
            if !self.endpoints.contains_key(&check.endpoint) {
                return Err(inv(
                    &p,
                    "endpoint",
                    &format!(
                        "unknown endpoint {:?}{}",
                        check.endpoint,
                        known(self.endpoints.keys())
                    ),
                ));
            }
            if check.expect.trim().is_empty() {
                return Err(inv(
                    &p,
                    "expect",
                    "a check needs a jq condition, e.g. expect = '.reply | contains(\"ping\")'",
                ));
            }
        }
        Ok(())
    }

    fn validate_step(&self, p: &str, step: &Step) -> RelResult<()> {
        if step.name.is_empty() {
            return Err(inv(p, "name", "a step needs a name"));
        }
        check_ident(&format!("{p}.name"), &step.name)?;
        let need = |field: &str, v: &Option<String>, example: &str| -> RelResult<()> {
            match v {
                Some(s) if !s.trim().is_empty() => Ok(()),
                _ => Err(inv(
                    p,
                    field,
                    &format!("a {} step needs {field} = {example}", step.kind.as_str()),
                )),
            }
        };
        let forbid = |field: &str, present: bool| -> RelResult<()> {
            if present {
                Err(inv(
                    p,
                    field,
                    &format!("{field} does not apply to a {} step", step.kind.as_str()),
                ))
            } else {
                Ok(())
            }
        };
        match step.kind {
            StepKind::Template => {
                need("template", &step.template, "\"Hello {{ input.name }}\"")?;
                forbid("expr", step.expr.is_some())?;
                forbid("tool", step.tool.is_some())?;
            }
            StepKind::Transform | StepKind::Assert => {
                need("expr", &step.expr, "'.input'")?;
                forbid("template", step.template.is_some())?;
                forbid("tool", step.tool.is_some())?;
            }
            StepKind::Http | StepKind::Command => {
                need("tool", &step.tool, "\"TOOL_NAME\"")?;
                forbid("template", step.template.is_some())?;
                forbid("expr", step.expr.is_some())?;
                let tool_name = step.tool.as_deref().unwrap_or_default();
                let Some(tool) = self.tools.get(tool_name) else {
                    return Err(inv(
                        p,
                        "tool",
                        &format!("unknown tool {tool_name:?}{}", known(self.tools.keys())),
                    ));
                };
                let want = if step.kind == StepKind::Http {
                    ToolKind::Http
                } else {
                    ToolKind::Command
                };
                if tool.kind != want {
                    return Err(inv(
                        p,
                        "tool",
                        &format!(
                            "tool {tool_name:?} is of kind {:?} but a {} step needs a tool of kind {:?}",
                            kind_name(tool.kind),
                            step.kind.as_str(),
                            kind_name(want)
                        ),
                    ));
                }
            }
        }
        if step.kind != StepKind::Assert {
            forbid("message", step.message.is_some())?;
        }
        if !matches!(step.kind, StepKind::Http | StepKind::Command) {
            forbid("input", step.input.is_some())?;
        }
        check_timeout(p, step.timeout_ms)
    }

    /// Names of all pipelines, endpoints etc. that a step context can see (for outlines).
    pub fn endpoint_names(&self) -> impl Iterator<Item = &str> {
        self.endpoints.keys().map(String::as_str)
    }
}

fn kind_name(k: ToolKind) -> &'static str {
    match k {
        ToolKind::Command => "command",
        ToolKind::Http => "http",
    }
}

fn inv(path: &str, field: &str, msg: &str) -> RelError {
    RelError::invalid(format!("{path}.{field}: {msg}"))
}

fn check_timeout(p: &str, t: Option<u64>) -> RelResult<()> {
    match t {
        Some(0) => Err(inv(p, "timeout_ms", "must be at least 1")),
        Some(t) if t > MAX_TIMEOUT_MS => Err(inv(
            p,
            "timeout_ms",
            &format!("{t} is more than the maximum {MAX_TIMEOUT_MS}"),
        )),
        _ => Ok(()),
    }
}

/// Names are identifiers so that templates and jq can address them (`steps.greet`).
fn check_ident(path: &str, name: &str) -> RelResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(RelError::invalid(format!(
            "{path}: name {name:?} must start with a letter or '_' and use only letters, digits, '_' or '-' (at most 64)"
        )))
    }
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<String> = names.map(|n| format!("{n:?}")).collect();
    if list.is_empty() {
        " (none are defined)".to_string()
    } else {
        format!(" (known: {})", list.join(", "))
    }
}

/// serde_path_to_error prints `.` for the root; make it read as a place in the file.
/// A JSON syntax error has no meaningful key path (serde_path_to_error shows `?`), so it is
/// reported by position; a data error (wrong type, unknown field) is reported by path.
fn json_error(text: &str, path: &str, e: &serde_json::Error) -> RelError {
    use serde_json::error::Category;
    let syntax = matches!(e.classify(), Category::Syntax | Category::Eof)
        // serde_json reports some type mismatches (a number where an enum name belongs) as
        // syntax; if the text parses as JSON on its own, the problem is the data.
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err();
    if syntax {
        // serde_json's Display already ends in "at line L column C".
        RelError::invalid(format!("JSON syntax: {e}"))
    } else {
        RelError::invalid(format!("{}: {}", display_path(path), e))
    }
}

/// `TOML syntax: MESSAGE at line L, column C` — the position is computed from the error's
/// byte span so an operator can jump straight to it.
fn toml_syntax_error(text: &str, e: &toml::de::Error) -> RelError {
    let msg = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            RelError::invalid(format!("TOML syntax: {msg} at line {line}, column {col}"))
        }
        None => RelError::invalid(format!("TOML syntax: {msg}")),
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn display_path(p: &str) -> String {
    if p == "." || p.is_empty() {
        "(top level)".to_string()
    } else {
        p.to_string()
    }
}

/// The example app config shipped with rel (the spec's §2.1 minus the external http tool),
/// used by the README walkthrough and by `relui` on a fresh store.
pub const EXAMPLE_APP_TOML: &str = r#"# An example rel app config: one endpoint "chat" running a two-step pipeline.
[tools.shout]
kind = "command"
argv = ["tr", "a-z", "A-Z"]
timeout_ms = 2000

[pipelines.chat]
description = "answer a chat message"

[[pipelines.chat.stages]]
name = "prepare"

[[pipelines.chat.stages.steps]]
name = "greet"
kind = "template"
template = "You said: {{ input.message }}"

[[pipelines.chat.stages.steps]]
name = "shape"
kind = "transform"
expr = '{reply: .steps.greet, length: (.input.message | length)}'

[endpoints.chat]
pipeline = "chat"

[[checks]]
name = "chat replies"
endpoint = "chat"
input = { message = "ping" }
expect = '.reply | contains("ping")'
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        AppConfig::parse(text, ConfigFormat::Toml)
            .expect_err("should fail")
            .message
    }

    #[test]
    fn toml_syntax_error_has_line_and_column() {
        let text = "[tools.a]\nkind = \"command\"\nargv = [\"x]\n";
        let m = err(text);
        assert!(m.starts_with("TOML syntax: "), "{m}");
        assert!(m.contains("at line 3, column "), "{m}");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ü\nx", 3), (2, 1));
        assert_eq!(line_col("üx", 2), (1, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn json_syntax_error_has_position_not_path() {
        let m = AppConfig::parse(
            r#"{"tools": {"a": {"kind": "command",}}}"#,
            ConfigFormat::Json,
        )
        .expect_err("trailing comma")
        .message;
        assert!(
            m.starts_with("JSON syntax: trailing comma at line 1 column "),
            "{m}"
        );
        assert!(!m.contains('?'), "{m}");
        let m = AppConfig::parse(r#"{"tools": {"#, ConfigFormat::Json)
            .expect_err("eof")
            .message;
        assert!(m.starts_with("JSON syntax: EOF"), "{m}");
    }

    #[test]
    fn json_data_error_keeps_path() {
        let m = AppConfig::parse(r#"{"tools": {"a": {"kind": 5}}}"#, ConfigFormat::Json)
            .expect_err("wrong type")
            .message;
        assert!(m.starts_with("tools.a.kind: "), "{m}");
    }

    #[test]
    fn empty_config_is_refused_for_apply() {
        for (text, fmt) in [("", ConfigFormat::Toml), ("{}", ConfigFormat::Json)] {
            let cfg = AppConfig::parse(text, fmt).expect("an empty config parses");
            let e = cfg.check_not_empty().expect_err("empty");
            assert_eq!(e.code, crate::ErrorCode::Invalid);
            assert!(
                e.message
                    .contains("defines no tools, pipelines, endpoints or checks")
            );
        }
        let cfg = AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("valid");
        cfg.check_not_empty().expect("the example defines things");
    }

    #[test]
    fn example_parses() {
        let cfg = AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example is valid");
        assert_eq!(cfg.pipelines["chat"].stages[0].steps.len(), 2);
        assert_eq!(cfg.checks[0].input["message"], "ping");
        let again = AppConfig::from_json(&cfg.to_canonical_json()).expect("roundtrip");
        assert_eq!(cfg, again);
    }

    #[test]
    fn unknown_tool_names_the_path() {
        let text = r#"
[tools.search]
kind = "http"
url = "http://127.0.0.1:9000/search"
[[pipelines.chat.stages]]
name = "s"
[[pipelines.chat.stages.steps]]
name = "a"
kind = "template"
template = "x"
[[pipelines.chat.stages.steps]]
name = "b"
kind = "http"
tool = "serch"
"#;
        assert_eq!(
            err(text),
            r#"pipelines.chat.stages[0].steps[1].tool: unknown tool "serch" (known: "search")"#
        );
    }

    #[test]
    fn unknown_keys_and_kinds_are_errors() {
        let m = err("[pipelines.p]\ncolour = 1\n");
        assert!(m.starts_with("pipelines.p"), "{m}");
        assert!(m.contains("colour"), "{m}");
        let m = err(
            "[[pipelines.p.stages]]\nname='s'\n[[pipelines.p.stages.steps]]\nname='a'\nkind='shell'\n",
        );
        assert!(m.starts_with("pipelines.p.stages[0].steps[0].kind"), "{m}");
        assert!(m.contains("shell"), "{m}");
        let m = err("[tools.t]\nkind='grpc'\n");
        assert!(m.starts_with("tools.t.kind"), "{m}");
    }

    #[test]
    fn references_resolve() {
        assert_eq!(
            err("[endpoints.e]\npipeline = 'nope'\n"),
            r#"endpoints.e.pipeline: unknown pipeline "nope" (none are defined)"#
        );
        let m = err("[[checks]]\nname='c'\nendpoint='x'\nexpect='true'\n");
        assert!(m.starts_with("checks[0].endpoint: unknown endpoint"), "{m}");
    }

    #[test]
    fn json_is_accepted() {
        let cfg =
            AppConfig::parse(r#"{"endpoints":{},"tools":{}}"#, ConfigFormat::Json).expect("json");
        assert!(cfg.is_empty());
        let m = AppConfig::parse(r#"{"tools":{"t":{"kind":"command"}}}"#, ConfigFormat::Json)
            .expect_err("no argv")
            .message;
        assert!(m.starts_with("tools.t.argv"), "{m}");
    }
}

/// A config as the user wrote it, carried to the daemon which parses and validates it
/// (the boundary), so errors are the same from every client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfigText {
    pub format: ConfigFormat,
    pub text: String,
}

impl AppConfigText {
    pub fn parse(&self) -> RelResult<AppConfig> {
        AppConfig::parse(&self.text, self.format)
    }
}
