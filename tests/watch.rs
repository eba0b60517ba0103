//! `relctl watch` prints one JSON object per line as other clients change things.

mod common;

use std::time::Duration;

use common::*;
use rel_testkit::TestDaemon;

/// A deadline for an event that should arrive at once; generous for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

type Watcher = Streaming;

/// Start `relctl watch` and wait for its "watching" line on stderr: from then on it is
/// subscribed, so nothing that happens afterwards can be missed.
fn watch(d: &TestDaemon) -> Watcher {
    streaming(d, &["watch", "-o", "json"], "watching releasd at ")
}

/// `relctl watch -o json` with its stdout and stderr lines apart, once it is ready.
fn watch_raw(
    d: &TestDaemon,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = d
        .relctl()
        .args(["watch", "-o", "json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn relctl watch");
    let stderr = lines_of(child.stderr.take().expect("stderr"));
    let stdout = lines_of(child.stdout.take().expect("stdout"));
    let ready = stderr.recv_timeout(DEADLINE).expect("ready line");
    assert!(ready.starts_with("watching releasd at "), "{ready}");
    (child, stdout, stderr)
}

fn next_event(w: &Watcher) -> serde_json::Value {
    w.next_json()
}

#[test]
fn watch_prints_a_json_line_per_event() {
    let mut d = TestDaemon::start();
    release(&d, "v1", 1);
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v1", "--env", "staging"]);

    let w = watch(&d);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    let e = next_event(&w);
    assert_eq!(e["event"], "deployed", "{e}");
    assert_eq!(e["deployment"]["release"], "v2");
    assert_eq!(e["deployment"]["previous"], "v1");
    assert_eq!(e["deployment"]["env"], "staging");

    ok(&d, &["rollback", "--env", "staging"]);
    let e = next_event(&w);
    assert_eq!(
        (e["event"].as_str(), e["deployment"]["release"].as_str()),
        (Some("rolled_back"), Some("v1")),
        "{e}"
    );

    let file = write(&d, "app-3.toml", &config(3));
    ok(&d, &["release", "create", "v3", "--from", p(&file)]);
    let e = next_event(&w);
    assert_eq!(
        (e["event"].as_str(), e["release"]["tag"].as_str()),
        (Some("release_created"), Some("v3")),
        "{e}"
    );

    // When the daemon goes away, watch ends with exit 6 and says so.
    let mut w = w;
    d.kill9();
    let status = rel_testkit::wait_deadline(&mut w.child, DEADLINE)
        .expect("watch exits when the daemon dies");
    assert_eq!(status.code(), Some(EXIT_UNREACHABLE));
}

#[test]
fn governance_changes_are_events_in_commit_order() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    let w = watch(&d);
    ok(&d, &["env", "freeze", "staging", "--reason", "incident"]);
    let e = next_event(&w);
    assert_eq!(e["event"], "frozen", "{e}");
    assert_eq!(e["env"], "staging");
    assert_eq!(e["freeze"]["reason"], "incident");
    ok(&d, &["env", "unfreeze", "staging"]);
    assert_eq!(next_event(&w)["event"], "unfrozen");
    ok(&d, &["freeze", "--all", "--reason", "stop"]);
    let e = next_event(&w);
    assert_eq!(
        (e["event"].as_str(), e["env"].is_null()),
        (Some("frozen"), true),
        "{e}"
    );
    ok(&d, &["unfreeze", "--all"]);
    assert_eq!(next_event(&w)["event"], "unfrozen");
    ok(&d, &["env", "set", "staging", "--approvals", "1"]);
    let e = next_event(&w);
    assert_eq!(e["event"], "governance_changed", "{e}");
    assert_eq!(e["what"], "approvals 0 -> 1");
    let r = json(&d, &["deploy", "v1", "--env", "staging"]);
    let e = next_event(&w);
    assert_eq!(e["event"], "request_changed", "{e}");
    assert_eq!(e["request"]["id"], r["request"]["id"]);
    assert_eq!(e["request"]["status"], "pending");
    ok(
        &d,
        &["reject", &r["request"]["id"].to_string(), "--reason", "no"],
    );
    let e = next_event(&w);
    assert_eq!(e["request"]["status"], "rejected", "{e}");
    // Last: the window could be in force on the day the test runs.
    ok(
        &d,
        &[
            "env",
            "freeze-window",
            "add",
            "staging",
            "Sat 00:00 - Sun 00:00 UTC",
            "--reason",
            "weekend",
        ],
    );
    assert_eq!(next_event(&w)["event"], "governance_changed");
    // A freeze that reaches its --until ends by itself, and watchers hear it.
    ok(
        &d,
        &[
            "env", "freeze", "staging", "--reason", "brief", "--until", "2s",
        ],
    );
    assert_eq!(next_event(&w)["event"], "frozen");
    let e = next_event(&w);
    assert_eq!(
        (e["event"].as_str(), e["env"].as_str(), e["actor"].as_str()),
        (Some("unfrozen"), Some("staging"), Some("releasd")),
        "{e}"
    );
}

#[test]
fn watch_without_since_says_the_exact_resume_command_and_it_misses_nothing() {
    let mut d = TestDaemon::start();
    release(&d, "v1", 1);
    // No event reaches this watcher: the resume seq is the store's at subscribe time.
    let (mut child, stdout, stderr) = watch_raw(&d);
    d.kill9();
    rel_testkit::wait_deadline(&mut child, DEADLINE).expect("watch exits when the daemon dies");
    assert_eq!(
        stdout.recv_timeout(DEADLINE),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
        "no event was printed"
    );
    let err: serde_json::Value =
        serde_json::from_str(&stderr.recv_timeout(DEADLINE).expect("error line")).expect("json");
    let msg = err["error"]["message"].as_str().expect("message");
    let since = msg
        .split("relctl watch --since ")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .unwrap_or_else(|| panic!("no resume seq in: {msg}"));
    let since: u64 = since.parse().expect("a seq");
    assert!(since > 0, "v1's creation is an event: {msg}");
    // Resuming from it replays what happened while nobody watched, and nothing before.
    d.restart();
    release(&d, "v2", 2);
    let w = streaming(
        &d,
        &["watch", "--since", &since.to_string(), "-o", "json"],
        "watching releasd at ",
    );
    // The first event replayed is the one right after the resume seq (no gap, no repeat)...
    let e = next_event(&w);
    assert_eq!(e["seq"], since + 1, "{e}");
    // ...and v2's creation (after its draft) follows.
    let e = next_event(&w);
    assert_eq!(
        (e["event"].as_str(), e["release"]["tag"].as_str()),
        (Some("release_created"), Some("v2")),
        "{e}"
    );
}

#[test]
fn ctrl_c_ends_a_watch_with_the_resume_command() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    let (mut child, stdout, stderr) = watch_raw(&d);
    ok(&d, &["deploy", "v1", "--env", "staging"]);
    let e: serde_json::Value =
        serde_json::from_str(&stdout.recv_timeout(DEADLINE).expect("an event")).expect("json");
    let seq = e["seq"].as_u64().expect("seq");

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = rel_testkit::wait_deadline(&mut child, DEADLINE).expect("watch ends on Ctrl-C");
    assert!(status.success(), "Ctrl-C is a normal end: {status:?}");
    let said = stderr.recv_timeout(DEADLINE).expect("a resume line");
    assert!(
        said.contains(&format!("relctl watch --since {seq} ")),
        "the resume seq is the last event printed ({seq}): {said}"
    );
}
