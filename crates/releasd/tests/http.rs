//! The HTTP ingress through a real HTTP client (reqwest) against `serve` with the ingress on
//! 127.0.0.1:0: the success shape, every documented error status, token revocation, body
//! limits, and a graceful shutdown that finishes a request in flight.

mod common;

use std::time::Duration;

use common::inproc::*;
use common::*;
use rel_domain::Environment;
use rel_proto::{Client, Request, Response};
use serde_json::Value;

const PASS: &str = r#".reply | contains("ping")"#;

async fn token(c: &Client, name: &str) -> String {
    match c
        .call(Request::TokenCreate {
            name: name.to_string(),
        })
        .await
        .expect("token create")
    {
        Response::TokenCreated { info, secret } => {
            assert_eq!(info.name, name);
            secret
        }
        other => panic!("{other:?}"),
    }
}

struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new() -> Http {
        Http {
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    async fn post(
        &self,
        url: &str,
        env: Option<&str>,
        auth: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut req = self.client.post(url).body(body);
        if let Some(env) = env {
            req = req.header("X-Environment", env);
        }
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, v)
    }
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

fn error_message(v: &Value) -> &str {
    v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {v}"))
}

const EXTRA: &str = r#"
[tools.nap]
kind = "command"
argv = ["sleep", "30"]
timeout_ms = 60000

[pipelines.slow]
[[pipelines.slow.stages]]
name = "s"
[[pipelines.slow.stages.steps]]
name = "nap"
kind = "command"
tool = "nap"

[pipelines.guarded]
[[pipelines.guarded.stages]]
name = "s"
[[pipelines.guarded.stages.steps]]
name = "needs-name"
kind = "assert"
expr = '.input.name != null'
message = "input.name is required"

[endpoints.slow]
pipeline = "slow"
deadline_ms = 300

[endpoints.guarded]
pipeline = "guarded"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_through_a_real_http_client() {
    let d = InProc::start(1000, true).await;
    let c = d.client().await;
    let http = Http::new();
    let chat = d.url("chat");
    let secret = token(&c, "ci").await;
    let bearer = format!("Bearer {secret}");
    let auth = Some(bearer.as_str());

    // Status reports where the ingress listens.
    match c.call(Request::Status).await.expect("status") {
        Response::Status(s) => assert_eq!(s.http, d.http.map(|a| a.to_string())),
        other => panic!("{other:?}"),
    }

    // 409: nothing live yet.
    let (st, v) = http.post(&chat, Some("staging"), auth, "{}").await;
    assert_eq!((st, error_code(&v)), (409, "nothing_live"), "{v}");
    assert!(
        error_message(&v).contains("nothing is live in staging"),
        "{v}"
    );

    create_from(&c, "v1", marked_app("v1", PASS, EXTRA), Some("staging")).await;

    // 200: the §4.3 execution shape.
    let (st, v) = http
        .post(&chat, Some("staging"), auth, r#"{"message": "hi"}"#)
        .await;
    assert_eq!(st, 200, "{v}");
    for key in [
        "id",
        "env",
        "endpoint",
        "release",
        "digest",
        "status",
        "output",
        "steps",
        "duration_ms",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    assert_eq!(v["status"], "ok");
    assert_eq!(v["release"], "v1");
    assert_eq!(v["env"], "staging");
    assert_eq!(v["output"]["reply"], "[v1] You said: hi");
    assert_eq!(v["steps"][0]["name"], "greet");
    assert_eq!(v["steps"][1]["kind"], "transform");
    for step in v["steps"].as_array().expect("steps") {
        for key in ["name", "kind", "status", "duration_ms", "error"] {
            assert!(step.get(key).is_some(), "{key} missing from step {step}");
        }
    }
    let view = d.store.environment("staging").expect("env");
    assert_eq!(v["digest"], view.live_digest.expect("digest").short());
    // ... and it is the logged execution.
    let id = v["id"].as_u64().expect("id");
    let logged = d.store.execution(id).expect("logged");
    assert_eq!(
        serde_json::to_value(rel_proto::json::execution(&logged)).expect("json"),
        v
    );

    // An empty body is `{}`.
    let (st, v) = http
        .post(&d.url("guarded"), Some("staging"), auth, "")
        .await;
    assert_eq!((st, error_code(&v)), (500, "run_failed"), "{v}");
    // 500: a failed run carries its execution, and says where to read it.
    assert_eq!(v["execution"]["status"], "error");
    assert!(
        error_message(&v).contains("needs-name")
            && error_message(&v).contains("input.name is required"),
        "{v}"
    );
    let failed_id = v["execution"]["id"].as_u64().expect("id");
    assert!(
        error_message(&v).contains(&format!("relctl logs --id {failed_id}")),
        "{v}"
    );

    // 400s.
    let (st, v) = http.post(&chat, None, auth, "{}").await;
    assert_eq!((st, error_code(&v)), (400, "missing_environment"), "{v}");
    assert!(error_message(&v).contains("X-Environment"), "{v}");
    let (st, v) = http.post(&chat, Some("stagign"), auth, "{}").await;
    assert_eq!((st, error_code(&v)), (400, "unknown_environment"), "{v}");
    assert!(
        error_message(&v).contains("known: staging, production"),
        "{v}"
    );
    let (st, v) = http.post(&chat, Some("staging"), auth, "{nope").await;
    assert_eq!((st, error_code(&v)), (400, "bad_json"), "{v}");
    assert!(error_message(&v).contains("not valid JSON"), "{v}");

    // 401s: none, not Bearer, unknown.
    let (st, v) = http.post(&chat, Some("staging"), None, "{}").await;
    assert_eq!((st, error_code(&v)), (401, "unauthorized"), "{v}");
    assert!(error_message(&v).contains("relctl token create"), "{v}");
    let (st, v) = http
        .post(&chat, Some("staging"), Some("Basic dXNlcjpwdw=="), "{}")
        .await;
    assert_eq!((st, error_code(&v)), (401, "unauthorized"), "{v}");
    let (st, v) = http
        .post(&chat, Some("staging"), Some("Bearer rel_0000"), "{}")
        .await;
    assert_eq!((st, error_code(&v)), (401, "unauthorized"), "{v}");
    assert!(error_message(&v).contains("unknown or revoked"), "{v}");
    // The token check comes first: no environment names for strangers.
    let (st, _) = http.post(&chat, Some("stagign"), None, "{}").await;
    assert_eq!(st, 401);

    // 404s: unknown endpoint (listing the known ones), unknown route.
    let (st, v) = http.post(&d.url("caht"), Some("staging"), auth, "{}").await;
    assert_eq!((st, error_code(&v)), (404, "unknown_endpoint"), "{v}");
    assert!(error_message(&v).contains("chat, guarded, slow"), "{v}");
    let (st, v) = http
        .post(
            &format!("http://{}/v1/run/chat", d.http.expect("http")),
            Some("staging"),
            auth,
            "{}",
        )
        .await;
    assert_eq!((st, error_code(&v)), (404, "no_route"), "{v}");

    // 405: not a POST.
    let resp = http
        .client
        .get(&chat)
        .header("Authorization", &bearer)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );

    // 413: over 1 MiB, declared by Content-Length.
    let big = format!(
        r#"{{"message": "{}"}}"#,
        "x".repeat(releasd::http::MAX_BODY_BYTES)
    );
    let (st, v) = http.post(&chat, Some("staging"), auth, big).await;
    assert_eq!((st, error_code(&v)), (413, "body_too_large"), "{v}");

    // 504: the endpoint's deadline (300 ms) passes while its step still sleeps.
    let (st, v) = http.post(&d.url("slow"), Some("staging"), auth, "{}").await;
    assert_eq!((st, error_code(&v)), (504, "deadline_exceeded"), "{v}");
    assert!(error_message(&v).contains("deadline"), "{v}");
    assert_eq!(v["execution"]["status"], "error");

    // 409 in another environment that exists but serves nothing.
    c.call(Request::EnvCreate(Environment {
        name: "qa".into(),
        description: String::new(),
        protected: false,
        requires: vec![],
        created_at: releasd::dispatch::now(),
    }))
    .await
    .expect("env create");
    let (st, v) = http.post(&chat, Some("qa"), auth, "{}").await;
    assert_eq!((st, error_code(&v)), (409, "nothing_live"), "{v}");

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_at_once() {
    let d = InProc::start(1000, true).await;
    let c = d.client().await;
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    let http = Http::new();
    let secret = token(&c, "ci").await;
    let bearer = format!("Bearer {secret}");
    let other = token(&c, "deploy-bot").await;
    let other_bearer = format!("Bearer {other}");
    let chat = d.url("chat");
    // Used (and so cached) before the revocation.
    let (st, _) = http.post(&chat, Some("staging"), Some(&bearer), "{}").await;
    assert_eq!(st, 200);

    let listed = match c.call(Request::TokenList).await.expect("list") {
        Response::Tokens(t) => t.into_iter().map(|t| t.name).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(listed, vec!["ci".to_string(), "deploy-bot".to_string()]);

    c.call(Request::TokenRevoke { name: "ci".into() })
        .await
        .expect("revoke");
    let (st, v) = http.post(&chat, Some("staging"), Some(&bearer), "{}").await;
    assert_eq!((st, error_code(&v)), (401, "unauthorized"), "{v}");
    // Others keep working.
    let (st, _) = http
        .post(&chat, Some("staging"), Some(&other_bearer), "{}")
        .await;
    assert_eq!(st, 200);

    let e = rpc_err(c.call(Request::TokenRevoke { name: "ci".into() }).await);
    assert_eq!(e.code, rel_domain::ErrorCode::NotFound);
    let e = rpc_err(
        c.call(Request::TokenCreate {
            name: "deploy-bot".into(),
        })
        .await,
    );
    assert_eq!(e.code, rel_domain::ErrorCode::Conflict);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_refused_without_a_length() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = InProc::start(1000, true).await;
    let c = d.client().await;
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    let secret = token(&c, "ci").await;
    let mut s = tokio::net::TcpStream::connect(d.http.expect("http"))
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/trigger/chat HTTP/1.1\r\nHost: x\r\nX-Environment: staging\r\nAuthorization: Bearer {secret}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b' '; 64 * 1024];
    // Keep sending until the server answers (it may stop reading at the limit).
    for _ in 0..(releasd::http::MAX_BODY_BYTES / chunk.len() + 2) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if s.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("body_too_large"), "{text}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_an_http_request_in_flight() {
    let d = InProc::start(1000, true).await;
    let c = d.client().await;
    let started = d.dir.path().join("started");
    let go = d.dir.path().join("go");
    let extra = format!(
        r#"
[tools.gate]
kind = "command"
argv = ["sh", "-c", "touch {}; while [ ! -e {} ]; do sleep 0.01; done; echo '\"done\"'"]
timeout_ms = 60000
[pipelines.slow]
[[pipelines.slow.stages]]
name = "s"
[[pipelines.slow.stages.steps]]
name = "wait"
kind = "command"
tool = "gate"
[endpoints.slow]
pipeline = "slow"
"#,
        started.display(),
        go.display()
    );
    create_from(&c, "v1", marked_app("v1", PASS, &extra), Some("staging")).await;
    let secret = token(&c, "ci").await;
    drop(c);
    let url = d.url("slow");
    let request = tokio::spawn(async move {
        Http::new()
            .post(
                &url,
                Some("staging"),
                Some(&format!("Bearer {secret}")),
                "{}",
            )
            .await
    });
    assert!(
        rel_testkit::wait_until(Duration::from_secs(30), || started.exists()),
        "the request never started running"
    );
    let addr = d.http.expect("http");
    let stopping = tokio::spawn(d.stop());
    // Let the run finish only once shutdown has begun: new connections are refused then.
    assert!(
        rel_testkit::wait_until(Duration::from_secs(30), || std::net::TcpStream::connect(
            addr
        )
        .is_err()),
        "the ingress kept accepting after the stop signal"
    );
    std::fs::write(&go, b"").expect("go");
    let (st, v) = tokio::time::timeout(Duration::from_secs(60), request)
        .await
        .expect("answered")
        .expect("request task");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["output"], "done");
    tokio::time::timeout(Duration::from_secs(60), stopping)
        .await
        .expect("serve returned")
        .expect("stop task");
}
