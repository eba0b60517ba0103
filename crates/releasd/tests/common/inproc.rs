//! An in-process daemon (`releasd::serve` with a real SledStore on a temp dir, optionally
//! with the HTTP ingress on 127.0.0.1:0), app configs whose every output names the release
//! that produced it, and a local HTTP tool server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response as HttpResponse};
use hyper_util::rt::TokioIo;
use rel_domain::config::{AppConfigText, ConfigFormat};
use rel_domain::{DeployRequest, Execution, NewRelease, RollbackRequest, Store};
use rel_proto::{Client, Request, Response};
use releasd::socket::{SocketPolicy, bind};
use releasd::{DaemonInfo, ServeOptions, serve};

pub struct InProc {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub http: Option<SocketAddr>,
    pub store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl InProc {
    pub async fn start(retention: usize, with_http: bool) -> InProc {
        let dir = tempfile::Builder::new()
            .prefix("rel-exec-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(rel_store::SledStore::open(dir.path().join("data")).expect("open store"));
        Self::serve_store(dir, store, retention, with_http).await
    }

    /// Stop serving (gracefully) and serve the same store again, as a restart would.
    pub async fn restart(self) -> InProc {
        let mut this = self;
        this.shutdown().await;
        let InProc {
            dir, store, http, ..
        } = this;
        Self::serve_store(dir, store, 1000, http.is_some()).await
    }

    async fn serve_store(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        retention: usize,
        with_http: bool,
    ) -> InProc {
        let socket = dir.path().join("run").join("releasd.sock");
        let listener = bind(&socket, &SocketPolicy::default()).await.expect("bind");
        let http_listener = if with_http {
            Some(
                tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind http"),
            )
        } else {
            None
        };
        let http = http_listener
            .as_ref()
            .map(|l| l.local_addr().expect("http addr"));
        let info = DaemonInfo {
            socket: socket.clone(),
            data_dir: dir.path().join("data"),
            started_at: releasd::dispatch::now(),
            pid: std::process::id(),
            http: None,
        };
        let mut opts = ServeOptions::new(info);
        opts.retention = retention;
        opts.http = http_listener;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&store), opts, async {
            let _ = stop_rx.await;
        }));
        InProc {
            dir,
            socket,
            http,
            store,
            stop: Some(stop_tx),
            server: Some(server),
        }
    }

    pub async fn client(&self) -> Client {
        super::connect(&self.socket).await
    }

    pub fn url(&self, endpoint: &str) -> String {
        format!(
            "http://{}/v1/trigger/{endpoint}",
            self.http.expect("started with http")
        )
    }

    /// Graceful shutdown; returns once `serve` returned.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(60), server)
                .await
                .expect("serve did not return within 60s of the stop signal")
                .expect("serve task");
        }
    }
}

/// The example app, marked: the template, the transform and the check all carry `mark`, so
/// every output says which release made it (`{reply: "[MARK] You said: …", mark, release}`).
/// `extra` is appended (more tools, pipelines, endpoints).
pub fn marked_app(mark: &str, check_expect: &str, extra: &str) -> String {
    format!(
        r#"
[tools.shout]
kind = "command"
argv = ["tr", "a-z", "A-Z"]
timeout_ms = 5000

[pipelines.chat]
description = "answer a chat message"

[[pipelines.chat.stages]]
name = "prepare"

[[pipelines.chat.stages.steps]]
name = "greet"
kind = "template"
template = "[{mark}] You said: {{{{ input.message }}}}"

[[pipelines.chat.stages.steps]]
name = "shape"
kind = "transform"
expr = '{{reply: .steps.greet, mark: "{mark}", release: .release.tag, env: .env}}'

[endpoints.chat]
pipeline = "chat"

[[checks]]
name = "chat replies"
endpoint = "chat"
input = {{ message = "ping" }}
expect = '{check_expect}'
{extra}
"#
    )
}

pub fn toml(text: String) -> AppConfigText {
    AppConfigText {
        format: ConfigFormat::Toml,
        text,
    }
}

/// Create release `tag` from `config` (not the draft), optionally deploying it.
pub async fn create_from(c: &Client, tag: &str, config: String, deploy_to: Option<&str>) {
    let r = c
        .call(Request::ReleaseCreate(NewRelease {
            tag: tag.to_string(),
            description: format!("release {tag}"),
            config: Some(toml(config)),
            deploy_to: deploy_to.map(str::to_string),
        }))
        .await
        .unwrap_or_else(|e| panic!("create {tag}: {e}"));
    assert!(matches!(r, Response::Created(_)), "{r:?}");
}

pub fn deploy_req(tag: &str, env: &str, force: bool) -> Request {
    Request::Deploy(DeployRequest {
        tag: tag.to_string(),
        env: env.to_string(),
        expect: None,
        force_reason: force.then(|| "test flips the environment".to_string()),
    })
}

pub fn rollback_req(env: &str) -> Request {
    Request::Rollback(RollbackRequest {
        env: env.to_string(),
        to: None,
        expect: None,
        reason: None,
    })
}

pub fn trigger_req(endpoint: &str, env: &str, input: &str) -> Request {
    Request::Trigger {
        endpoint: endpoint.to_string(),
        env: env.to_string(),
        input: input.to_string(),
    }
}

pub async fn trigger(c: &Client, endpoint: &str, env: &str, input: &str) -> Execution {
    match c.call(trigger_req(endpoint, env, input)).await {
        Ok(Response::Execution(e)) => e,
        other => panic!("trigger {endpoint} in {env} answered {other:?}"),
    }
}

pub fn output(e: &Execution) -> serde_json::Value {
    serde_json::from_str(&e.output).expect("output is JSON text")
}

/// Assert that `e` ran wholly under the release its log names.
pub fn assert_consistent(e: &Execution) {
    assert_eq!(
        e.status,
        rel_domain::ExecStatus::Ok,
        "run failed: {:?}",
        e.error
    );
    let out = output(e);
    assert_eq!(out["mark"], e.release.as_str(), "transform vs log: {out}");
    assert_eq!(out["release"], e.release.as_str(), "context vs log: {out}");
    let reply = out["reply"].as_str().expect("reply");
    assert!(
        reply.starts_with(&format!("[{}] ", e.release)),
        "template vs log ({}): {reply}",
        e.release
    );
}

/// A real HTTP server on 127.0.0.1 playing an http tool: `/echo` answers
/// `{"echo": <the JSON body>, "method": M}`; `/hang` accepts and never answers.
pub async fn start_tool_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind tool server");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = service_fn(|req: HttpRequest<Incoming>| async move {
                    let method = req.method().to_string();
                    let path = req.uri().path().to_string();
                    if path == "/hang" {
                        std::future::pending::<()>().await;
                    }
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let body: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let answer = serde_json::json!({"echo": body, "method": method});
                    Ok::<_, Infallible>(HttpResponse::new(Full::new(Bytes::from(
                        answer.to_string(),
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}
