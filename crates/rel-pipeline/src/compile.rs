//! Compiling an app config once, when a release goes live: every template parsed, every jq
//! expression compiled, every tool resolved, every timeout chosen. A request then only
//! looks things up; a bad expression is found at apply time, never mid-request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rel_domain::config::{
    AppConfig, DEFAULT_RUN_DEADLINE_MS, DEFAULT_STEP_TIMEOUT_MS, Step, StepKind, Tool, ToolKind,
};
use rel_domain::{Digest, RelError, RelResult, Snapshot};
use serde_json::{Value, json};

use crate::jq::JqProgram;

/// An immutable, ready-to-run form of one release's app config. Cheap to share behind an
/// `Arc`; every run that resolved it keeps it alive until the run ends, so a deploy that
/// lands mid-run cannot change what the run executes.
pub struct CompiledApp {
    pub(crate) tag: String,
    pub(crate) digest: Digest,
    pub(crate) config: AppConfig,
    pub(crate) endpoints: HashMap<String, CompiledEndpoint>,
    pub(crate) checks: Vec<CompiledCheck>,
    pub(crate) templates: Arc<minijinja::Environment<'static>>,
    pub(crate) http: reqwest::Client,
    /// `{tag, digest}` as the steps see it under `release`.
    pub(crate) release_json: Value,
}

impl std::fmt::Debug for CompiledApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledApp")
            .field("tag", &self.tag)
            .field("digest", &self.digest)
            .field("endpoints", &self.endpoints.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(crate) struct CompiledEndpoint {
    pub(crate) pipeline: Arc<CompiledPipeline>,
    pub(crate) deadline: Duration,
    /// Where the deadline came from, for the message when it passes.
    pub(crate) deadline_source: String,
}

pub(crate) struct CompiledPipeline {
    pub(crate) steps: Vec<CompiledStep>,
}

pub(crate) struct CompiledStep {
    pub(crate) name: String,
    pub(crate) kind: StepKind,
    pub(crate) timeout: Duration,
    /// Where the timeout came from (`pipelines.p.stages[0].steps[1].timeout_ms`,
    /// `tools.t.timeout_ms` or `the default`), so a timeout message says what to raise.
    pub(crate) timeout_source: String,
    pub(crate) op: StepOp,
}

pub(crate) enum StepOp {
    /// The template's name in [`CompiledApp::templates`].
    Template(String),
    Transform(Arc<JqProgram>),
    Assert {
        cond: Arc<JqProgram>,
        message: Option<String>,
    },
    Http {
        tool: String,
        method: reqwest::Method,
        url: reqwest::Url,
        headers: reqwest::header::HeaderMap,
        input: Option<Arc<JqProgram>>,
    },
    Command {
        tool: String,
        argv: Arc<[String]>,
        input: Option<Arc<JqProgram>>,
    },
}

pub(crate) struct CompiledCheck {
    pub(crate) name: String,
    pub(crate) endpoint: String,
    pub(crate) input: Value,
    pub(crate) expect: Arc<JqProgram>,
}

impl CompiledApp {
    /// Compile the snapshot of release `tag`. Fails with `Invalid` naming the path of the
    /// first expression, template or tool setting that does not compile.
    pub fn compile(snapshot: &Snapshot, tag: &str) -> RelResult<CompiledApp> {
        let parts = on_compile_thread(|| Parts::build(&snapshot.config))?;
        // No proxy: tools are local services, and a proxy picked up from the daemon's
        // environment would silently reroute (or break) every tool call.
        let http = reqwest::Client::builder().no_proxy().build().map_err(|e| {
            RelError::internal(format!("cannot set up the HTTP client for tools: {e}"))
        })?;
        Ok(CompiledApp {
            tag: tag.to_string(),
            digest: snapshot.digest,
            config: snapshot.config.clone(),
            endpoints: parts.endpoints,
            checks: parts.checks,
            templates: Arc::new(parts.templates),
            http,
            release_json: json!({"tag": tag, "digest": snapshot.digest.short()}),
        })
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    pub fn has_endpoint(&self, name: &str) -> bool {
        self.endpoints.contains_key(name)
    }

    /// Endpoint names, sorted.
    pub fn endpoint_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.endpoints.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The run deadline of `endpoint` (its `deadline_ms`, else the default).
    pub fn deadline(&self, endpoint: &str) -> Option<Duration> {
        self.endpoints.get(endpoint).map(|e| e.deadline)
    }

    /// The endpoint check number `index` runs.
    pub fn check_endpoint(&self, index: usize) -> Option<&str> {
        self.checks.get(index).map(|c| c.endpoint.as_str())
    }

    /// Check names in config order.
    pub fn check_names(&self) -> Vec<&str> {
        self.checks.iter().map(|c| c.name.as_str()).collect()
    }
}

/// Reject a draft whose jq expressions or templates do not compile (or whose tools cannot
/// be called), with the path: `pipelines.chat.stages[0].steps[1].expr: jq: ...`.
/// Runs the structural validation first, so it is the one check a draft needs.
pub fn validate_app(config: &AppConfig) -> RelResult<()> {
    on_compile_thread(|| Parts::build(config).map(|_| ()))
}

/// jaq and minijinja parse and compile recursively. Input is limited first
/// ([`crate::limits`]); a thread with a large stack (virtual memory, touched only as deep
/// as the input goes) keeps whatever the limits let through from overflowing the caller's
/// stack, which would abort the daemon.
pub(crate) fn on_compile_thread<T: Send>(f: impl FnOnce() -> RelResult<T> + Send) -> RelResult<T> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("rel-compile".to_string())
            .stack_size(crate::limits::COMPILE_STACK_BYTES)
            .spawn_scoped(scope, f);
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(RelError::internal(
                    "compiling the app config panicked; see the log and report it",
                ))
            }),
            Err(e) => Err(RelError::unavailable(format!(
                "cannot start a thread to compile the app config: {e}; retry"
            ))),
        }
    })
}

/// Everything but the HTTP client: what `validate_app` and `compile` share.
struct Parts {
    endpoints: HashMap<String, CompiledEndpoint>,
    checks: Vec<CompiledCheck>,
    templates: minijinja::Environment<'static>,
}

impl Parts {
    fn build(cfg: &AppConfig) -> RelResult<Parts> {
        cfg.validate()?;
        let mut templates = minijinja::Environment::new();
        // Output is plain text (or JSON), never HTML: no escaping behind the author's back.
        templates.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // Every tool, used or not: a draft with a broken tool is broken.
        let mut tools = HashMap::new();
        for (tname, tool) in &cfg.tools {
            tools.insert(tname.as_str(), compile_tool(tname, tool)?);
        }
        let mut pipelines = HashMap::new();
        for (pname, pipeline) in &cfg.pipelines {
            let mut steps = Vec::new();
            let names: Vec<&str> = pipeline
                .stages
                .iter()
                .flat_map(|st| st.steps.iter().map(|s| s.name.as_str()))
                .collect();
            for (si, stage) in pipeline.stages.iter().enumerate() {
                for (ti, step) in stage.steps.iter().enumerate() {
                    let path = format!("pipelines.{pname}.stages[{si}].steps[{ti}]");
                    steps.push(compile_step(cfg, &tools, &path, step, &mut templates)?);
                    let k = steps.len() - 1;
                    check_step_refs(&templates, &path, step, &names[..k], &names[k + 1..])?;
                }
            }
            pipelines.insert(pname.clone(), Arc::new(CompiledPipeline { steps }));
        }
        let mut endpoints = HashMap::new();
        for (ename, endpoint) in &cfg.endpoints {
            let pipeline = pipelines.get(&endpoint.pipeline).cloned().ok_or_else(|| {
                RelError::invalid(format!(
                    "endpoints.{ename}.pipeline: unknown pipeline {:?}",
                    endpoint.pipeline
                ))
            })?;
            let (deadline, deadline_source) = match endpoint.deadline_ms {
                Some(ms) => (ms, format!("endpoints.{ename}.deadline_ms")),
                None => (
                    DEFAULT_RUN_DEADLINE_MS,
                    "the default run deadline".to_string(),
                ),
            };
            endpoints.insert(
                ename.clone(),
                CompiledEndpoint {
                    pipeline,
                    deadline: Duration::from_millis(deadline),
                    deadline_source,
                },
            );
        }
        let mut checks = Vec::new();
        for (i, check) in cfg.checks.iter().enumerate() {
            checks.push(CompiledCheck {
                name: check.name.clone(),
                endpoint: check.endpoint.clone(),
                input: check.input.clone(),
                expect: jq(&format!("checks[{i}].expect"), &check.expect)?,
            });
        }
        Ok(Parts {
            endpoints,
            checks,
            templates,
        })
    }
}

fn jq(path: &str, code: &str) -> RelResult<Arc<JqProgram>> {
    crate::limits::check_jq(code).map_err(|e| RelError::invalid(format!("{path}: {e}")))?;
    JqProgram::compile(code)
        .map(Arc::new)
        .map_err(|e| RelError::invalid(format!("{path}: jq: {e}")))
}

fn compile_step(
    cfg: &AppConfig,
    tools: &HashMap<&str, CompiledTool>,
    path: &str,
    step: &Step,
    templates: &mut minijinja::Environment<'static>,
) -> RelResult<CompiledStep> {
    let missing = |field: &str| RelError::invalid(format!("{path}.{field}: missing"));
    let tool = step
        .tool
        .as_ref()
        .and_then(|t| cfg.tools.get(t).map(|tool| (t, tool)));
    let op = match step.kind {
        StepKind::Template => {
            let source = step.template.clone().ok_or_else(|| missing("template"))?;
            let name = format!("{path}.template");
            crate::limits::check_template(&source)
                .map_err(|e| RelError::invalid(format!("{name}: {e}")))?;
            templates
                .add_template_owned(name.clone(), source)
                .map_err(|e| {
                    RelError::invalid(format!("{name}: template: {}", describe_template_error(&e)))
                })?;
            if let Some(unknown) = crate::template_check::unknown_filter_or_test(templates, &name) {
                return Err(RelError::invalid(format!("{name}: {unknown}")));
            }
            StepOp::Template(name)
        }
        StepKind::Transform => {
            let expr = step.expr.as_deref().ok_or_else(|| missing("expr"))?;
            StepOp::Transform(jq(&format!("{path}.expr"), expr)?)
        }
        StepKind::Assert => {
            let expr = step.expr.as_deref().ok_or_else(|| missing("expr"))?;
            StepOp::Assert {
                cond: jq(&format!("{path}.expr"), expr)?,
                message: step.message.clone(),
            }
        }
        StepKind::Http | StepKind::Command => {
            let tname = step.tool.as_deref().ok_or_else(|| missing("tool"))?;
            let input = input_expr(path, step)?;
            match (step.kind, tools.get(tname)) {
                (
                    StepKind::Http,
                    Some(CompiledTool::Http {
                        method,
                        url,
                        headers,
                    }),
                ) => StepOp::Http {
                    tool: tname.to_string(),
                    method: method.clone(),
                    url: url.clone(),
                    headers: headers.clone(),
                    input,
                },
                (StepKind::Command, Some(CompiledTool::Command { argv })) => StepOp::Command {
                    tool: tname.to_string(),
                    argv: argv.clone(),
                    input,
                },
                _ => {
                    return Err(RelError::invalid(format!(
                        "{path}.tool: {tname:?} is not a tool of kind {:?}",
                        step.kind.as_str()
                    )));
                }
            }
        }
    };
    let tool_timeout = tool.and_then(|(tname, t)| {
        t.timeout_ms
            .map(|ms| (ms, format!("tools.{tname}.timeout_ms")))
    });
    let (timeout, timeout_source) = match (step.timeout_ms, tool_timeout) {
        (Some(ms), _) => (ms, format!("{path}.timeout_ms")),
        (None, Some((ms, source))) => (ms, source),
        (None, None) => (
            DEFAULT_STEP_TIMEOUT_MS,
            "the default step timeout".to_string(),
        ),
    };
    Ok(CompiledStep {
        name: step.name.clone(),
        kind: step.kind,
        timeout: Duration::from_millis(timeout),
        timeout_source,
        op,
    })
}

/// Every `steps.NAME` the step reads names a step before it (see [`crate::step_refs`]).
fn check_step_refs(
    templates: &minijinja::Environment<'static>,
    path: &str,
    step: &Step,
    earlier: &[&str],
    later: &[&str],
) -> RelResult<()> {
    let found = match step.kind {
        StepKind::Template => {
            let name = format!("{path}.template");
            crate::step_refs::template(templates, &name, earlier, later).map(|e| (name, e))
        }
        StepKind::Transform | StepKind::Assert => step.expr.as_deref().and_then(|code| {
            crate::step_refs::jq(code, earlier, later).map(|e| (format!("{path}.expr"), e))
        }),
        StepKind::Http | StepKind::Command => step.input.as_deref().and_then(|code| {
            crate::step_refs::jq(code, earlier, later).map(|e| (format!("{path}.input"), e))
        }),
    };
    match found {
        Some((at, e)) => Err(RelError::invalid(format!("{at}: {e}"))),
        None => Ok(()),
    }
}

fn input_expr(path: &str, step: &Step) -> RelResult<Option<Arc<JqProgram>>> {
    step.input
        .as_deref()
        .map(|code| jq(&format!("{path}.input"), code))
        .transpose()
}

enum CompiledTool {
    Http {
        method: reqwest::Method,
        url: reqwest::Url,
        headers: reqwest::header::HeaderMap,
    },
    Command {
        argv: Arc<[String]>,
    },
}

fn compile_tool(tname: &str, tool: &Tool) -> RelResult<CompiledTool> {
    let tp = format!("tools.{tname}");
    if tool.kind == ToolKind::Command {
        return match &tool.argv {
            Some(argv) if !argv.is_empty() => Ok(CompiledTool::Command {
                argv: argv.clone().into(),
            }),
            _ => Err(RelError::invalid(format!(
                "{tp}.argv: a command tool needs argv = [\"program\", ...]"
            ))),
        };
    }
    let raw = tool
        .url
        .as_deref()
        .ok_or_else(|| RelError::invalid(format!("{tp}.url: missing")))?;
    let url = reqwest::Url::parse(raw)
        .map_err(|e| RelError::invalid(format!("{tp}.url: {raw:?} is not a valid URL: {e}")))?;
    if url.scheme() != "http" {
        return Err(RelError::invalid(format!(
            "{tp}.url: {raw:?}: only plain http:// is supported (tools are local services); \
             put a local proxy in front of an https service"
        )));
    }
    let method_text = tool
        .method
        .as_deref()
        .unwrap_or("POST")
        .to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method_text.as_bytes()).map_err(|_| {
        RelError::invalid(format!(
            "{tp}.method: {method_text:?} is not an HTTP method"
        ))
    })?;
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &tool.headers {
        let hn = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            RelError::invalid(format!("{tp}.headers: {name:?} is not a valid header name"))
        })?;
        let hv = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
            RelError::invalid(format!(
                "{tp}.headers.{name}: the value has characters a header cannot carry (control characters or non-ASCII)"
            ))
        })?;
        headers.insert(hn, hv);
    }
    Ok(CompiledTool::Http {
        method,
        url,
        headers,
    })
}

/// minijinja's Display repeats the template name; the caller already prints the path.
fn describe_template_error(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(detail) = e.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    if let Some(line) = e.line() {
        s.push_str(&format!(" (line {line})"));
    }
    s
}

pub(crate) fn describe_render_error(e: &minijinja::Error) -> String {
    describe_template_error(e)
}
