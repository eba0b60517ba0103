//! The real releasd binary: `--http 127.0.0.1:0` prints the bound address in its ready line
//! and serves the seed's curl request; `[logs] retention` from `--config` bounds the logs;
//! what is live is served again right after a restart; no token secret reaches the log.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::inproc::*;
use common::*;
use rel_domain::ExecQuery;
use rel_proto::{Request, Response};
use rel_testkit::{TestDaemon, bin, wait_deadline};

const PASS: &str = r#".reply | contains("ping")"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_flag_serves_the_curl_example_and_stops_cleanly() {
    let dir = tempfile::Builder::new()
        .prefix("rel-http-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let socket = dir.path().join("run").join("releasd.sock");
    let stderr_path = dir.path().join("stderr");
    let mut child = Command::new(bin("releasd"))
        .args(["--foreground", "--http", "127.0.0.1:0", "--socket"])
        .arg(&socket)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        // Everything, so that a secret logged at any level would be caught.
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("spawn releasd");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "no ready line: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            )
        });
    assert!(ready.starts_with("releasd ready "), "{ready}");
    let addr = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .unwrap_or_else(|| panic!("no http= in {ready}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let c = connect(&socket).await;
    match c.call(Request::Status).await.expect("status") {
        Response::Status(s) => assert_eq!(s.http.as_deref(), Some(addr.as_str())),
        other => panic!("{other:?}"),
    }
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    let secret = match c
        .call(Request::TokenCreate { name: "ci".into() })
        .await
        .expect("token")
    {
        Response::TokenCreated { secret, .. } => secret,
        other => panic!("{other:?}"),
    };

    // The seed's example: curl -X POST -H 'X-Environment: staging' -H 'Authorization: Bearer …'
    //   -d '{"message":"hello"}' http://127.0.0.1:PORT/v1/trigger/chat
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("http://{addr}/v1/trigger/chat"))
        .header("X-Environment", "staging")
        .header("Authorization", format!("Bearer {secret}"))
        .header("Content-Type", "application/json")
        .body(r#"{"message":"hello"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 200);
    let v: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(v["output"]["reply"], "[v1] You said: hello");
    drop(c);

    // SIGTERM: a clean exit, socket removed.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = wait_deadline(&mut child, Duration::from_secs(60)).expect("exited");
    assert!(status.success(), "{status}");
    assert!(!socket.exists());
    let log = std::fs::read_to_string(&stderr_path).expect("log");
    assert!(log.contains("HTTP ingress serving"), "{log}");
    assert!(log.contains("token created"), "{log}");
    assert!(
        !log.contains(&secret) && !log.contains(&secret["rel_".len()..]),
        "the token secret reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_from_the_config_and_live_releases_after_a_restart() {
    let mut d = TestDaemon::start_with_config("[logs]\nretention = 3\n");
    let c = connect(d.socket()).await;
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    for _ in 0..5 {
        trigger(&c, "chat", "staging", "{}").await;
    }
    assert_eq!(staging_logs(&c).await.len(), 3);
    drop(c);

    d.restart();
    let c = connect(d.socket()).await;
    let e = trigger(&c, "chat", "staging", r#"{"message":"again"}"#).await;
    assert_eq!(e.release, "v1");
    assert_consistent(&e);
    // Logs survived the restart, still within the window.
    let after = staging_logs(&c).await;
    assert_eq!(after.len(), 3);
    assert_eq!(after[0].id, e.id);
    assert!(
        d.stderr_log()
            .contains("live releases compiled and published"),
        "{}",
        d.stderr_log()
    );
}

async fn staging_logs(c: &rel_proto::Client) -> Vec<rel_domain::Execution> {
    match c
        .call(Request::Logs(ExecQuery {
            env: Some("staging".into()),
            endpoint: None,
            before_id: None,
            limit: 100,
        }))
        .await
        .expect("logs")
    {
        Response::Executions(l) => l,
        other => panic!("{other:?}"),
    }
}
