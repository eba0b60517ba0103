//! The HTTP ingress (`releasd --http ADDR`, §4.5): `POST /v1/trigger/{endpoint}` with
//! `X-Environment: ENV`, `Authorization: Bearer TOKEN` and a JSON body runs the endpoint
//! under what is live in ENV, exactly like `relctl trigger` (same resolve, same log).
//!
//! Built on hyper 1 (HTTP/1.1) + hyper-util: one route needs no router, and both are
//! already in the build for the pipeline's HTTP tools. Every error is
//! `{"error":{"code","message"}}` with a status that says what to fix:
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `missing_environment`, `unknown_environment`, `bad_json`, `bad_request` | no/unknown `X-Environment`, a body that is not JSON |
//! | 401 | `unauthorized` | no bearer token, or one that is unknown or revoked |
//! | 404 | `unknown_endpoint`, `no_route` | the live release has no such endpoint; another path |
//! | 405 | `method_not_allowed` | not a POST |
//! | 408 | `request_timeout` | the body did not arrive in time |
//! | 409 | `nothing_live` | nothing is deployed in that environment |
//! | 413 | `body_too_large` | a body over [`MAX_BODY_BYTES`] |
//! | 500 | `run_failed`, `run_crashed`, `internal` | a step failed, or its worker process died (stack overflow, out of memory); the body also carries `execution` |
//! | 503 | `busy` | admission control: too many runs at once and the queue is full (with `Retry-After: 1`) |
//! | 503 | `unavailable` | the live release cannot be compiled; the log cannot be written |
//! | 504 | `deadline_exceeded` | the run's deadline passed (the body also carries `execution`) |
//!
//! A run that succeeded answers 200 with the execution object of §4.3. Runs continue (and
//! are logged) even if the client goes away; shutdown waits for them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rel_domain::ErrorCode;
use rel_proto::json::{self, ErrorJson, ExecutionJson};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::exec;
use crate::server::Shared;

/// Largest request body accepted (1 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// An oversized body up to this size is read and dropped before the 413, so the client,
/// still writing, gets the answer rather than a broken pipe.
const DRAIN_LIMIT_BYTES: u64 = 4 << 20;
/// HTTP connections served at once at most, whatever the open-file limit; more wait in the
/// listen backlog.
const MAX_HTTP_CONNECTIONS: usize = 4096;
/// File descriptors the ingress leaves to everything else: Unix-socket connections, the
/// store's files, worker pipes, logs.
const FD_RESERVE: u64 = 512;
/// A client has this long to send its headers, and then its body.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
const ROUTE: &str = "/v1/trigger/";

type Answer = Response<Full<Bytes>>;

/// Serve until `stop` turns true, then stop accepting, let every connection finish the
/// request it is on, and wait for runs whose client went away.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    max_connections: Option<usize>,
) {
    let max_connections = max_connections.unwrap_or_else(|| default_max_connections(&shared));
    match listener.local_addr() {
        Ok(addr) => {
            tracing::info!(%addr, max_connections, "HTTP ingress serving POST {ROUTE}{{endpoint}}");
        }
        Err(e) => tracing::warn!(error = %e, "HTTP ingress: cannot read the bound address"),
    }
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let runs = TaskTracker::new();
    let mut conns = JoinSet::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(10);
                conns.spawn(connection(
                    stream,
                    peer,
                    Arc::clone(&shared),
                    stop.clone(),
                    runs.clone(),
                    permit,
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    tracing::info!(
        connections = conns.len(),
        "HTTP ingress: no new connections; finishing in-flight requests"
    );
    while conns.join_next().await.is_some() {}
    runs.close();
    runs.wait().await;
}

/// What the open-file limit leaves after [`FD_RESERVE`] and three pipes per worker, at
/// least 16 and at most [`MAX_HTTP_CONNECTIONS`]: TCP clients can never take the
/// descriptors the Unix socket and the store need.
fn default_max_connections(shared: &Shared) -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft);
    let workers = shared.pool.options().workers as u64;
    let left = soft.saturating_sub(FD_RESERVE + 3 * workers);
    usize::try_from(left)
        .unwrap_or(usize::MAX)
        .clamp(16, MAX_HTTP_CONNECTIONS)
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    runs: TaskTracker,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| {
        let (shared, runs) = (Arc::clone(&shared), runs.clone());
        async move { Ok::<_, Infallible>(handle(&shared, &runs, req).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
                break;
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                // Finish the request in progress, then close.
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// An error answer: status, stable code, a message saying what to do.
struct Reject {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn reject(status: StatusCode, code: &'static str, message: impl Into<String>) -> Reject {
    Reject {
        status,
        code,
        message: message.into(),
    }
}

/// The body of a failed run: the error, and the execution that was logged.
#[derive(Serialize)]
struct FailedRun {
    error: rel_proto::json::ErrorDetail,
    execution: ExecutionJson,
}

fn json_answer<T: Serialize>(status: StatusCode, body: &T) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|e| {
        format!(
            "{{\"error\":{{\"code\":\"internal\",\"message\":\"cannot encode the answer: {e}\"}}}}"
        )
        .into_bytes()
    });
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_answer(r: Reject) -> Answer {
    let body: ErrorJson = json::error(r.code, r.message);
    let mut a = json_answer(r.status, &body);
    match r.status {
        StatusCode::UNAUTHORIZED => {
            a.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"releasd\""),
            );
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            a.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        StatusCode::SERVICE_UNAVAILABLE if r.code == "busy" => {
            // Runs are short: a slot is usually free again within a second.
            a.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    a
}

async fn handle(shared: &Arc<Shared>, runs: &TaskTracker, req: Request<Incoming>) -> Answer {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match trigger(shared, runs, req).await {
        Ok(a) => a,
        Err(r) => {
            tracing::debug!(%method, %path, status = r.status.as_u16(), code = r.code, error = %r.message, "HTTP request refused");
            error_answer(r)
        }
    }
}

async fn trigger(
    shared: &Arc<Shared>,
    runs: &TaskTracker,
    req: Request<Incoming>,
) -> Result<Answer, Reject> {
    let endpoint = match req.uri().path().strip_prefix(ROUTE) {
        Some(e) if !e.is_empty() && !e.contains('/') => e.to_string(),
        _ => {
            return Err(reject(
                StatusCode::NOT_FOUND,
                "no_route",
                format!(
                    "no such route {}; the ingress serves POST {ROUTE}ENDPOINT",
                    req.uri().path()
                ),
            ));
        }
    };
    if req.method() != Method::POST {
        return Err(reject(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} is not allowed here; use POST {ROUTE}{endpoint}",
                req.method()
            ),
        ));
    }
    let token_name = authenticate(shared, req.headers()).await?;
    let env = environment(req.headers())?;
    let input = read_input(req).await?;

    let app = exec::resolve(shared, &env).await.map_err(|e| {
        let (status, code) = match e.code {
            ErrorCode::NotFound => (StatusCode::BAD_REQUEST, "unknown_environment"),
            ErrorCode::Conflict => (StatusCode::CONFLICT, "nothing_live"),
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let hint = if code == "unknown_environment" {
            "; set X-Environment to one of them"
        } else {
            ""
        };
        reject(status, code, format!("X-Environment: {}{hint}", e.message))
    })?;
    if !app.has_endpoint(&endpoint) {
        let known = app.endpoint_names().join(", ");
        return Err(reject(
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
            format!(
                "release {} live in {env} has no endpoint {endpoint:?} (it has: {}); check the URL, or deploy a release that defines it",
                app.tag(),
                if known.is_empty() { "none" } else { &known }
            ),
        ));
    }
    tracing::debug!(token = %token_name, %env, %endpoint, release = app.tag(), "HTTP trigger");

    // A task of its own, tracked: the run finishes and is logged even if the client hangs up.
    let s = Arc::clone(shared);
    let run = runs.spawn(async move { exec::run_logged(&s, &app, &endpoint, input, &env).await });
    let ran = match run.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "an HTTP-triggered run panicked");
            return Err(reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "releasd hit an internal error running the endpoint; see the releasd log and report it",
            ));
        }
    };
    let ran = match ran {
        Ok(r) => r,
        Err(exec::RunError::Busy(message)) => {
            return Err(reject(StatusCode::SERVICE_UNAVAILABLE, "busy", message));
        }
        Err(exec::RunError::Failed(e)) => {
            let (status, code) = match e.code {
                ErrorCode::NotFound => (StatusCode::NOT_FOUND, "unknown_endpoint"),
                ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            };
            return Err(reject(status, code, e.message));
        }
    };
    let execution = json::execution(&ran.execution);
    if ran.execution.error.is_none() {
        return Ok(json_answer(StatusCode::OK, &execution));
    }
    let (status, code) = if ran.deadline_exceeded {
        (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded")
    } else if ran.crashed {
        (StatusCode::INTERNAL_SERVER_ERROR, "run_crashed")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "run_failed")
    };
    let message = format!(
        "{}; the execution is logged as #{} (relctl logs --id {})",
        ran.execution.error.as_deref().unwrap_or("the run failed"),
        ran.execution.id,
        ran.execution.id
    );
    Ok(json_answer(
        status,
        &FailedRun {
            error: json::error(code, message).error,
            execution,
        },
    ))
}

/// The name of the token the request carries, or 401.
async fn authenticate(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<String, Reject> {
    const HOW: &str = "send -H 'Authorization: Bearer TOKEN' with a token from `relctl token create NAME` (an admin creates it; the secret is shown once)";
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(reject(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("missing Authorization header; {HOW}"),
        ));
    };
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            reject(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("the Authorization header is not of the form 'Bearer TOKEN'; {HOW}"),
            )
        })?
        .to_string();
    if let Some(name) = shared.tokens.cached(&secret) {
        return Ok(name);
    }
    let s = Arc::clone(shared);
    match exec::blocking(move || s.tokens.check(s.store.as_ref(), &secret)).await {
        Ok(Some(name)) => Ok(name),
        Ok(None) => Err(reject(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("the bearer token is not valid (unknown or revoked); {HOW}"),
        )),
        Err(e) => Err(reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("cannot check the token: {}", e.message),
        )),
    }
}

fn environment(headers: &HeaderMap) -> Result<String, Reject> {
    match headers
        .get("x-environment")
        .map(|v| v.to_str().map(str::trim))
    {
        Some(Ok(env)) if !env.is_empty() => Ok(env.to_string()),
        Some(Err(_)) => Err(reject(
            StatusCode::BAD_REQUEST,
            "unknown_environment",
            "the X-Environment header is not plain text; name the environment, e.g. -H 'X-Environment: staging'",
        )),
        _ => Err(reject(
            StatusCode::BAD_REQUEST,
            "missing_environment",
            "missing X-Environment header: name the environment to run in, e.g. -H 'X-Environment: staging' (relctl env list shows them)",
        )),
    }
}

/// The JSON body (at most [`MAX_BODY_BYTES`]) as text, checked to be JSON; an empty body
/// is `{}`.
async fn read_input(req: Request<Incoming>) -> Result<String, Reject> {
    let too_large = || {
        reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is over the limit of {MAX_BODY_BYTES} bytes; send less"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_BODY_BYTES as u64) {
        // A client still writing its body when the 413 goes out sees a broken pipe instead of
        // the answer. Read (and drop) a moderately oversized body first so it gets the reason;
        // a huge one is refused at once (the connection closes).
        if n <= DRAIN_LIMIT_BYTES {
            let mut body = req.into_body();
            let drain = async { while let Some(Ok(_)) = body.frame().await {} };
            let _ = tokio::time::timeout(BODY_READ_TIMEOUT, drain).await;
        }
        return Err(too_large());
    }
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES);
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, body.collect()).await {
        Err(_) => {
            return Err(reject(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("cannot read the request body: {e}"),
            ));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok("{}".to_string());
    }
    let bad_json = |e: &dyn std::fmt::Display| {
        reject(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!(
                "the request body is not valid JSON ({e}); send a JSON value, e.g. -d '{{\"message\": \"hi\"}}'"
            ),
        )
    };
    exec::check_json(&bytes).map_err(|e| bad_json(&e))?;
    // Valid JSON is UTF-8 (serde_json checks strings; the rest is ASCII).
    String::from_utf8(bytes.into()).map_err(|e| bad_json(&e))
}
