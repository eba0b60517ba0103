//! Test support: compile an app from TOML, a real local HTTP tool server, process checks.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rel_domain::Snapshot;
use rel_domain::config::{AppConfig, ConfigFormat};
use rel_pipeline::CompiledApp;
use serde_json::json;
use tokio::net::TcpListener;

pub fn config(toml: &str) -> AppConfig {
    AppConfig::parse(toml, ConfigFormat::Toml).expect("test config is valid")
}

pub fn compile(toml: &str, tag: &str) -> CompiledApp {
    CompiledApp::compile(&Snapshot::of(config(toml)), tag).expect("test config compiles")
}

/// Is `pid` gone (or a zombie, i.e. no longer running and only waiting to be reaped)?
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // Field 3 (after the parenthesised command name) is the state.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Poll `cond` until it holds or `limit` passes; returns whether it held.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Read a pid a test tool wrote to `path`, once it is there.
pub fn read_pid(path: &Path) -> u32 {
    assert!(
        wait_for(Duration::from_secs(10), || std::fs::read_to_string(path)
            .is_ok_and(|s| s.trim().parse::<u32>().is_ok())),
        "the tool never wrote its pid to {}",
        path.display()
    );
    std::fs::read_to_string(path)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

/// A real HTTP server on 127.0.0.1 playing the tools:
/// - `/echo`: 200 with `{"method", "body": <the JSON body>, "x_test": <header>}`
/// - `/text`: 200 `plain words` (text/plain)
/// - `/fail`: 503 `overloaded, try later`
/// - `/slow`: answers after 5 s (longer than any test timeout)
pub async fn start_tool_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind test server");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
    addr
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let x_test = req
        .headers()
        .get("x-test")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = |status: StatusCode, text: String| {
        let mut resp = Response::new(Full::new(Bytes::from(text)));
        *resp.status_mut() = status;
        Ok(resp)
    };
    match path.as_str() {
        "/echo" => {
            let parsed: serde_json::Value = if body.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&body).unwrap_or(json!("<not json>"))
            };
            reply(
                StatusCode::OK,
                json!({"method": method, "body": parsed, "x_test": x_test}).to_string(),
            )
        }
        "/text" => reply(StatusCode::OK, "plain words\n".to_string()),
        "/fail" => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded, try later".to_string(),
        ),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            reply(StatusCode::OK, "\"late\"".to_string())
        }
        _ => reply(StatusCode::NOT_FOUND, "no such path".to_string()),
    }
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}
