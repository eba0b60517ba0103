//! `relctl token create | list | revoke` against a real `releasd --http`: the secret is
//! shown once, works as a bearer token on the HTTP ingress, is never listed, and stops
//! working when revoked.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use rel_domain::config::EXAMPLE_APP_TOML;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

/// A releasd started by hand, because the HTTP ingress needs `--http` (port 0: any free
/// port, read back from the ready line). Killed on drop.
struct HttpDaemon {
    child: Child,
    socket: PathBuf,
    http: String,
    dir: tempfile::TempDir,
}

impl Drop for HttpDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HttpDaemon {
    fn start() -> HttpDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("run").join("releasd.sock");
        let mut child = Command::new(rel_testkit::bin("releasd"))
            .arg("--foreground")
            .arg("--socket")
            .arg(&socket)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn releasd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let ready = loop {
            let line = rx.recv_timeout(DEADLINE).expect("releasd ready line");
            if line.starts_with("releasd ready ") {
                break line;
            }
        };
        let http = ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http="))
            .unwrap_or_else(|| panic!("no http= in {ready:?}"))
            .to_string();
        HttpDaemon {
            child,
            socket,
            http,
            dir,
        }
    }

    fn relctl(&self, args: &[&str]) -> Output {
        Command::new(rel_testkit::bin("relctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run relctl")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.relctl(args);
        assert!(
            out.status.success(),
            "relctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// `POST /v1/trigger/{endpoint}` over plain HTTP/1.1; the status code and the raw body.
    fn post(&self, endpoint: &str, env: &str, token: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.http).expect("connect to the HTTP ingress");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let request = format!(
            "POST /v1/trigger/{endpoint} HTTP/1.1\r\nHost: {}\r\nX-Environment: {env}\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.http,
            body.len()
        );
        s.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read the answer");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {answer}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

#[test]
fn token_create_list_revoke_and_the_http_ingress() {
    let d = HttpDaemon::start();
    let file = d.dir.path().join("app.toml");
    std::fs::write(&file, EXAMPLE_APP_TOML).expect("write app.toml");
    d.ok(&["app", "apply", file.to_str().expect("utf-8")]);
    d.ok(&["release", "create", "v1", "--deploy", "staging"]);

    // Table mode: the secret once, with the warning.
    let text = d.ok(&["token", "create", "ops-laptop"]);
    assert!(
        text.contains("Store it now; it cannot be shown again"),
        "{text}"
    );
    let secret = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("rel_"))
        .unwrap_or_else(|| panic!("no secret line in {text}"))
        .to_string();

    // JSON mode.
    let created = d.json(&["token", "create", "ci"]);
    assert_eq!(created["name"], "ci");
    let ci_secret = created["secret"].as_str().expect("secret").to_string();
    assert!(ci_secret.len() >= 32, "{created}");
    assert_ne!(ci_secret, secret);
    assert!(
        created["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // A taken name is a conflict (3).
    let out = d.relctl(&["token", "create", "ci"]);
    assert_eq!(out.status.code(), Some(EXIT_CONFLICT));

    // Listed by name, never with the secret.
    let list = d.json(&["token", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(
        names.contains(&"ci") && names.contains(&"ops-laptop"),
        "{list}"
    );
    assert!(!list.to_string().contains(&ci_secret), "{list}");
    assert!(list[0].get("secret").is_none(), "{list}");
    let table = d.ok(&["token", "list"]);
    assert!(
        table.starts_with("NAME") && !table.contains("rel_"),
        "{table}"
    );

    // The secret works on the HTTP ingress; the answer is the execution shape.
    let (status, body) = d.post("chat", "staging", &ci_secret, r#"{"message":"hi"}"#);
    assert_eq!(status, 200, "{body}");
    let run: Value = serde_json::from_str(body.trim()).expect("JSON body");
    assert_eq!(run["output"], json!({"reply": "You said: hi", "length": 2}));
    assert_eq!(run["release"], "v1");
    // The same run as relctl logs prints it: one shape for both.
    let id = run["id"].as_u64().expect("id").to_string();
    assert_eq!(d.json(&["logs", "--id", &id]), run);

    // Revoked: 401 from then on; the other token still works.
    let text = d.ok(&["token", "revoke", "ci"]);
    assert!(text.contains("revoked token ci"), "{text}");
    let (status, body) = d.post("chat", "staging", &ci_secret, "{}");
    assert_eq!(status, 401, "{body}");
    let (status, body) = d.post("chat", "staging", &secret, "{}");
    assert_eq!(status, 200, "{body}");
    let list = d.json(&["token", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "ops-laptop");

    // Revoking an unknown token: not found (4).
    let out = d.relctl(&["token", "revoke", "ci"]);
    assert_eq!(out.status.code(), Some(EXIT_NOT_FOUND));
    let revoked = d.json(&["token", "revoke", "ops-laptop"]);
    assert_eq!(revoked, json!({"name": "ops-laptop", "revoked": true}));
}
