//! Helpers shared by the end-to-end tests: run the real `relctl` against a real `releasd`
//! (rel-testkit) and look at exit codes, stdout and stderr.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use rel_domain::config::EXAMPLE_APP_TOML;
use rel_testkit::TestDaemon;
use serde_json::Value;

/// Exit codes of §4.3.
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_CONFLICT: i32 = 3;
pub const EXIT_NOT_FOUND: i32 = 4;
pub const EXIT_DENIED: i32 = 5;
pub const EXIT_UNREACHABLE: i32 = 6;
pub const EXIT_VERIFY_FAILED: i32 = 7;

/// Run `relctl ARGS` against `d` with no terminal on stdin.
pub fn relctl(d: &TestDaemon, args: &[&str]) -> Output {
    d.relctl()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run relctl")
}

fn show(args: &[&str], out: &Output) -> String {
    format!(
        "relctl {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run and require success; returns stdout.
pub fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let out = relctl(d, args);
    assert!(
        out.status.success(),
        "expected success:\n{}",
        show(args, &out)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Run with `-o json`, require success, parse stdout.
pub fn json(d: &TestDaemon, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let text = ok(d, &all);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("relctl {}: not JSON ({e}):\n{text}", all.join(" ")))
}

/// Run and require exit `code`; returns stderr.
pub fn fails(d: &TestDaemon, args: &[&str], code: i32) -> String {
    let out = relctl(d, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "wrong exit code:\n{}",
        show(args, &out)
    );
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

/// Run with `-o json`, require exit `code`, and return the parsed `{"error":{...}}` on stderr.
pub fn fails_json(d: &TestDaemon, args: &[&str], code: i32) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let stderr = fails(d, &all, code);
    let v: Value = serde_json::from_str(stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not one JSON error ({e}):\n{stderr}"));
    assert!(v["error"]["message"].is_string(), "{v}");
    v
}

/// The example app config without its smoke checks (so promotion needs no `verify`; the
/// verify tests use the full example), with `rev` in the pipeline description so each
/// revision differs.
pub fn config(rev: u32) -> String {
    let base = EXAMPLE_APP_TOML.split("[[checks]]").next().expect("split");
    base.replace(
        "description = \"answer a chat message\"",
        &format!("description = \"answer a chat message (rev {rev})\""),
    )
}

/// Write `text` to `name` in the daemon's temp dir.
pub fn write(d: &TestDaemon, name: &str, text: &str) -> PathBuf {
    let path = d.dir().join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Apply revision `rev` of the config and create release `tag` from it.
pub fn release(d: &TestDaemon, tag: &str, rev: u32) {
    let file = write(d, &format!("app-{rev}.toml"), &config(rev));
    ok(d, &["app", "apply", p(&file)]);
    ok(
        d,
        &["release", "create", tag, "-d", &format!("revision {rev}")],
    );
}

/// `{tag: state}` from `release list -o json`.
pub fn states(d: &TestDaemon) -> Vec<(String, String)> {
    let list = json(d, &["release", "list"]);
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["tag"].as_str().expect("tag").to_string(),
                r["state"].as_str().expect("state").to_string(),
            )
        })
        .collect()
}

pub fn live(d: &TestDaemon, env: &str) -> Value {
    json(d, &["env", "show", env])["live"].clone()
}

/// Run `relctl ARGS -o json`, require exit `code`, and parse stdout (the result printed
/// before a failure exit, e.g. a failed run or verification) and stderr.
pub fn json_exit(d: &TestDaemon, args: &[&str], code: i32) -> (Value, String) {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = relctl(d, &all);
    assert_eq!(
        out.status.code(),
        Some(code),
        "wrong exit code:\n{}",
        show(&all, &out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", show(&all, &out)));
    (v, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A deadline for a line that should arrive at once; generous for a loaded machine.
pub const LINE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A long-running relctl (`watch`, `logs --follow`) whose stdout lines arrive on a channel;
/// killed and reaped on drop.
pub struct Streaming {
    pub child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Streaming {
    /// The next stdout line parsed as one JSON object.
    pub fn next_json(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(LINE_DEADLINE)
            .expect("a line from relctl");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"))
    }
}

/// Each line of `r` on a channel, read by a thread of its own.
pub fn lines_of(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Start `relctl ARGS` on `d` and wait for its first stderr line to start with `ready` (its
/// readiness signal: from then on nothing that happens can be missed).
pub fn streaming(d: &TestDaemon, args: &[&str], ready: &str) -> Streaming {
    let mut child = d
        .relctl()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relctl");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = lines_of(child.stderr.take().expect("stderr"));
    let first = stderr
        .recv_timeout(LINE_DEADLINE)
        .unwrap_or_else(|_| panic!("relctl {args:?} never said it was ready"));
    assert!(first.starts_with(ready), "{first}");
    Streaming {
        child,
        lines: lines_of(stdout),
    }
}
