//! `http` steps: call a tool of kind http with the step's input as a JSON body. The
//! response is parsed as JSON, else taken as text; a non-2xx status is an error naming it.

use serde_json::Value;

use crate::command::{MAX_TOOL_OUTPUT_BYTES, parse_output};
use crate::run::StepError;

pub(crate) struct HttpCall<'a> {
    pub client: &'a reqwest::Client,
    pub tool: &'a str,
    pub method: &'a reqwest::Method,
    pub url: &'a reqwest::Url,
    pub headers: &'a reqwest::header::HeaderMap,
}

/// The caller bounds this with the step's timeout (dropping the future aborts the request).
pub(crate) async fn call(c: HttpCall<'_>, body: &Value) -> Result<Value, StepError> {
    let what = format!("{} {}", c.method, c.url);
    let mut req = c
        .client
        .request(c.method.clone(), c.url.clone())
        .headers(c.headers.clone());
    // A GET carries its input nowhere: bodies on GET are ignored or refused by servers.
    if *c.method != reqwest::Method::GET {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            StepError::Failed(format!("cannot encode the request body as JSON: {e}"))
        })?;
        if !c.headers.contains_key(reqwest::header::CONTENT_TYPE) {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        req = req.body(bytes);
    }
    let mut resp = req.send().await.map_err(|e| {
        StepError::Failed(format!(
            "cannot reach {what} (tools.{}.url): {}; is the service running?",
            c.tool,
            error_chain(&e)
        ))
    })?;
    let status = resp.status();
    let mut bytes = Vec::new();
    let mut too_big = false;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_TOOL_OUTPUT_BYTES {
                    too_big = true;
                    break;
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(StepError::Failed(format!(
                    "{what} answered {status} but the body could not be read: {}",
                    error_chain(&e)
                )));
            }
        }
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        let snippet: String = first.unwrap_or("").chars().take(200).collect();
        return Err(StepError::Failed(if snippet.is_empty() {
            format!("{what} answered HTTP {status}")
        } else {
            format!("{what} answered HTTP {status}: {snippet}")
        }));
    }
    if too_big {
        return Err(StepError::Failed(format!(
            "{what} answered with more than {MAX_TOOL_OUTPUT_BYTES} bytes; a step's output must be smaller"
        )));
    }
    Ok(parse_output(&bytes))
}

/// reqwest's top-level message is generic ("error sending request"); the cause
/// ("connection refused") is in the source chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}
