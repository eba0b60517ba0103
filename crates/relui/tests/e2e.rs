//! The real `relui` binary in a pseudo-terminal (portable-pty, screen read back with vt100)
//! against a real `releasd` from rel-testkit. Every wait polls the screen with a deadline;
//! nothing sleeps for a fixed time.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use rel_domain::config::EXAMPLE_APP_TOML;
use rel_testkit::{TestDaemon, bin};

/// Generous: debug builds on a shared 2-core machine. A deadline, not a sleep.
const DEADLINE: Duration = Duration::from_secs(30);

struct Tui {
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte relui wrote, for checks on the escape sequences themselves.
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Tui {
    fn spawn(args: &[&str], env: &[(&str, &Path)], cols: u16, rows: u16) -> Tui {
        let mut cmd = CommandBuilder::new(bin("relui"));
        cmd.args(args);
        Tui::spawn_cmd(cmd, env, cols, rows)
    }

    /// relui run as `nobody` (through setpriv): another user than the daemon's owner.
    fn spawn_as_nobody(args: &[&str], cols: u16, rows: u16) -> Tui {
        let (uid, gid) = nobody();
        let mut cmd = CommandBuilder::new("setpriv");
        cmd.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_string(),
            "--".to_string(),
        ]);
        cmd.arg(bin("relui"));
        cmd.args(args);
        // Somewhere nobody may write, should anything try to (nothing must).
        cmd.env("HOME", "/tmp");
        cmd.env_remove("XDG_RUNTIME_DIR");
        cmd.env_remove("XDG_DATA_HOME");
        Tui::spawn_cmd(cmd, &[], cols, rows)
    }

    fn spawn_cmd(mut cmd: CommandBuilder, env: &[(&str, &Path)], cols: u16, rows: u16) -> Tui {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        // A UTF-8 locale unless the test says otherwise (without one relui draws ASCII).
        cmd.env_remove("LC_ALL");
        cmd.env_remove("LC_CTYPE");
        cmd.env("LANG", "C.UTF-8");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn relui");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let p = parser.clone();
        let raw = Arc::new(Mutex::new(Vec::new()));
        let r = raw.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        r.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend_from_slice(&buf[..n]);
                        p.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .process(&buf[..n])
                    }
                }
            }
        });
        Tui {
            child,
            master: pair.master,
            writer,
            parser,
            raw,
        }
    }

    fn screen(&self) -> String {
        self.parser
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .screen()
            .contents()
    }

    /// Wait until every needle is on screen; returns the screen.
    fn wait_for(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needles:?}; the screen is:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Press `keys` until `needle` is on screen (each press may load another page).
    fn press_until(&mut self, keys: &str, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.send(keys);
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out pressing {keys:?} for {needle:?}; the screen is:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_gone(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let s = self.screen();
            if !s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} to go; the screen is:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, bytes: &str) {
        self.writer
            .write_all(bytes.as_bytes())
            .expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
        self.parser
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set_size(rows, cols);
    }

    /// After exit: whether relui left the alternate screen. The exit status can arrive before
    /// the reader thread has fed relui's last bytes to the parser, so wait for them.
    fn left_alternate_screen(&self) -> bool {
        rel_testkit::wait_until(DEADLINE, || {
            !self
                .parser
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .screen()
                .alternate_screen()
        })
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "relui did not exit; the screen is:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const ENTER: &str = "\r";
const ESC: &str = "\x1b";
const TAB: &str = "\t";
const CTRL_S: &str = "\x13";
const DOWN: &str = "\x1b[B";
const HOME: &str = "\x1b[H";

/// An app without checks: promoting to production then needs staging only. The example
/// app, with its check, goes through `the_seed_workflow_with_checks`.
const APP: &str = r#"
[pipelines.chat]
description = "answer a chat message"

[[pipelines.chat.stages]]
name = "prepare"

[[pipelines.chat.stages.steps]]
name = "greet"
kind = "template"
template = "You said: {{ input.message }}"

[endpoints.chat]
pipeline = "chat"
"#;

/// The last lines of a screen (the message line and the status bar), for failure output.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

fn relctl_ok(d: &TestDaemon, args: &[&str]) {
    let out = d.relctl().args(args).output().expect("run relctl");
    assert!(
        out.status.success(),
        "relctl {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_whole_workflow_in_the_tui() {
    let mut d = TestDaemon::start();
    let app = d.dir().join("app.toml");
    std::fs::write(&app, APP).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);

    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn(
        &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
        &[],
        80,
        24,
    );
    tui.wait_for(&["● connected", "No releases yet"]);

    // Create a release from the dialog.
    tui.send("n");
    tui.wait_for(&["New release", "Create Release"]);
    tui.send("v1.0.0");
    tui.wait_for(&["✓ v1.0.0 is free"]);
    tui.send(TAB);
    tui.send("first release");
    tui.send(CTRL_S);
    tui.wait_for(&["Created release v1.0.0", "READY"]);

    // Deploy it to staging through the confirmation (staging is offered first).
    tui.send("d");
    tui.wait_for(&[
        "Deploy v1.0.0",
        "‹ staging ›",
        "✓ allowed",
        "[ Deploy v1.0.0 to staging ]",
    ]);
    tui.send(ENTER);
    tui.wait_for(&["Deployed v1.0.0 to staging", "DEPLOYED"]);

    // Promote to production: protected, so the name must be typed.
    tui.send("2");
    tui.wait_for(&["History: staging", "deploy   v1.0.0"]);
    tui.send("p");
    tui.wait_for(&["Deploy v1.0.0", "‹ production ›", "PROTECTED", "✓ allowed"]);
    tui.send(ENTER);
    tui.wait_for(&["is protected: type its name"]);
    tui.send("production");
    tui.send(ENTER);
    // The message comes with the answer, the table with the reload after it.
    tui.wait_for(&["Deployed v1.0.0 to production", "production* v1.0.0"]);

    // A change made by relctl appears without a keypress.
    relctl_ok(&d, &["release", "create", "v1.1.0", "-d", "from relctl"]);
    relctl_ok(&d, &["deploy", "v1.1.0", "--env", "staging", "--yes"]);
    tui.wait_for(&["staging     v1.1.0", "deployed v1.1.0 to staging"]);

    // Promote v1.1.0 from staging, then roll production back to v1.0.0.
    tui.send("p");
    tui.wait_for(&["Deploy v1.1.0", "‹ production ›", "v1.0.0 → v1.1.0"]);
    tui.send("production");
    tui.send(ENTER);
    tui.wait_for(&["Deployed v1.1.0 to production", "production* v1.1.0"]);
    tui.send(DOWN);
    tui.wait_for(&["History: production"]);
    tui.send("r");
    tui.wait_for(&[
        "Roll back production",
        "v1.1.0 → v1.0.0",
        "v1.1.0 will be held in production",
        "type production :",
    ]);
    // Protected: the name is typed first, as relctl asks for it.
    tui.send("production");
    tui.wait_for(&["type production : production"]);
    tui.send(ENTER);
    let s = tui.wait_for(&["Rolled back production to v1.0.0", "production* v1.0.0"]);
    assert!(s.contains("▶ production*"), "selection moved:\n{s}");

    // The daemon goes away: the UI says so, then reconnects by itself, selection kept.
    d.terminate();
    tui.wait_for(&["DISCONNECTED"]);
    d.restart();
    let s = tui.wait_for(&["● connected"]);
    let s = if s.contains("DISCONNECTED") {
        tui.wait_gone("DISCONNECTED")
    } else {
        s
    };
    assert!(
        s.contains("▶ production*"),
        "selection lost after reconnect:\n{s}"
    );
    // …and it is subscribed again: a relctl change shows up on its own.
    relctl_ok(
        &d,
        &["release", "create", "v1.2.0", "-d", "after the restart"],
    );
    tui.wait_for(&["created release v1.2.0"]);
    tui.send("1");
    // The notes column is cut with "…" at 80 columns.
    tui.wait_for(&["v1.2.0", "after the rest"]);

    // Errors from the daemon are shown as said: v1.1.0 was rolled back out of production,
    // so it is held there and redeploying it is refused.
    tui.send(HOME);
    tui.send(DOWN);
    tui.wait_for(&["▶ v1.1.0"]);
    tui.send("d");
    let s = tui.wait_for(&["Deploy v1.1.0", "‹ production ›", "✗ "]);
    assert!(
        s.contains("held") || s.contains("--force"),
        "the verdict does not mention the hold:\n{s}"
    );
    tui.send("production");
    tui.send(ENTER);
    // Refused by the plan: nothing is sent; the dialog says why and how to override.
    tui.wait_for(&["The policy refuses this deploy", "Override"]);
    tui.send(ESC);
    tui.wait_gone("Deploy v1.1.0");

    // Execution logs: a run triggered elsewhere appears as it happens; Enter shows its steps.
    tui.send("3");
    tui.wait_for(&["Execution logs", "No runs yet"]);
    relctl_ok(
        &d,
        &[
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data",
            r#"{"message":"hi from relctl"}"#,
        ],
    );
    tui.wait_for(&["▶ #", "staging    chat       v1.1.0     OK"]);
    tui.send(ENTER);
    tui.wait_for(&["Run #", "Steps (1)", "greet", "You said: hi from relctl"]);
    tui.send(ESC);
    tui.wait_for(&["Execution logs"]);

    // Resizing redraws at the new size (the pid appears on wide terminals).
    tui.resize(120, 40);
    tui.wait_for(&["(pid "]);

    tui.send("q");
    let status = tui.wait_exit();
    assert!(status.success(), "relui exited with {status:?}");
    assert!(
        tui.left_alternate_screen(),
        "the terminal was left in the alternate screen"
    );
}

/// relctl that is expected to fail with `code` (e.g. 7: verification failed).
fn relctl_exit(d: &TestDaemon, args: &[&str], code: i32) -> String {
    let out = d.relctl().args(args).output().expect("run relctl");
    assert_eq!(
        out.status.code(),
        Some(code),
        "relctl {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The seed's workflow with rel's own example app config, checks included, all from the
/// keyboard: release & deploy to staging, the policy refusing an unverified promotion, `v`
/// verifying staging (PASSED), promoting to production typing its name, a second release
/// the same way, rolling production back; then a release whose check fails, verified by
/// relctl (the column changes without a key) and by `v` (FAILED).
#[test]
fn the_seed_workflow_with_checks() {
    let mut d = TestDaemon::start();
    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn(
        &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
        &[],
        80,
        24,
    );
    // A fresh store: relui applies the example app config (with its "chat replies" check).
    tui.wait_for(&["● connected", "example app config is now the draft"]);

    // Release & Deploy from the dialog: tag, notes, the toggle, staging.
    tui.send("n");
    tui.wait_for(&["New release", "[ Create Release ]"]);
    tui.send("v1.0.0");
    tui.wait_for(&["✓ v1.0.0 is free"]);
    tui.send(TAB);
    tui.send("first release");
    tui.send(TAB);
    tui.send(" ");
    tui.wait_for(&[
        "[x] Deploy after release",
        "staging",
        "[ Release & Deploy ]",
    ]);
    tui.send(CTRL_S);
    // Created, then the normal deploy confirmation: from → to, the diff, the policy.
    tui.wait_for(&[
        "Created release v1.0.0",
        "Deploy v1.0.0",
        "‹ staging ›",
        "✓ allowed",
    ]);
    tui.send(ENTER);
    tui.wait_for(&["Deployed v1.0.0 to staging", "DEPLOYED"]);

    // Promoting before verifying: the confirmation shows the policy's no and the key to fix it.
    tui.send("2");
    tui.send(HOME);
    tui.wait_for(&["History: staging", "▶ staging     v1.0.0", "not verified"]);
    tui.send("p");
    tui.wait_for(&[
        "Deploy v1.0.0",
        "‹ production ›",
        "✗ Policy denied",
        "has not passed verification",
        "Press v on the",
    ]);
    tui.send(ESC);
    tui.wait_gone("Deploy v1.0.0");

    // v runs the example's check against staging: PASSED, and the column says so.
    tui.send("v");
    tui.wait_for(&[
        "Verify staging: PASSED",
        "✓ PASSED  1/1 checks passed",
        "✓ chat replies",
        "held",
    ]);
    tui.send(ESC);
    tui.wait_gone("Verify staging:");
    tui.wait_for(&["passed 1/1", "✓ verified"]);

    // Promote to production: allowed now; protected, so the name is typed.
    tui.send("p");
    tui.wait_for(&["Deploy v1.0.0", "‹ production ›", "PROTECTED", "✓ allowed"]);
    tui.send("production");
    tui.send(ENTER);
    tui.wait_for(&["Deployed v1.0.0 to production", "production* v1.0.0"]);

    // A second release through the same path, so production has something to roll back to.
    // The draft changes outside the TUI (relctl app apply: rel's pipeline editor).
    let app = d.dir().join("app.toml");
    let reworded = EXAMPLE_APP_TOML.replace("You said:", "You wrote:");
    assert_ne!(
        reworded, EXAMPLE_APP_TOML,
        "the example's template changed shape"
    );
    std::fs::write(&app, reworded).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    tui.send("n");
    tui.wait_for(&["New release"]);
    tui.send("v1.1.0");
    tui.wait_for(&["✓ v1.1.0 is free"]);
    tui.send(TAB);
    tui.send(TAB);
    tui.send(" ");
    tui.wait_for(&["[ Release & Deploy ]"]);
    tui.send(CTRL_S);
    tui.wait_for(&["Created release v1.1.0", "Deploy v1.1.0", "v1.0.0 → v1.1.0"]);
    tui.send(ENTER);
    tui.wait_for(&["Deployed v1.1.0 to staging", "DEPLOYED   staging"]);
    tui.send("2");
    tui.send(HOME);
    tui.wait_for(&["▶ staging     v1.1.0", "not verified"]);
    tui.send("v");
    tui.wait_for(&["Verify staging: PASSED", "v1.1.0 in staging"]);
    tui.send(ENTER);
    tui.wait_gone("Verify staging:");
    tui.send("p");
    tui.wait_for(&["Deploy v1.1.0", "v1.0.0 → v1.1.0", "✓ allowed"]);
    tui.send("production");
    tui.send(ENTER);
    tui.wait_for(&["Deployed v1.1.0 to production", "production* v1.1.0"]);

    // Something is wrong in production: roll it back to v1.0.0.
    tui.send(DOWN);
    tui.wait_for(&["▶ production*", "History: production"]);
    tui.send("r");
    tui.wait_for(&[
        "Roll back production",
        "v1.1.0 → v1.0.0",
        "1 change",
        "You wrote:",
        "type production :",
    ]);
    tui.send("production");
    tui.wait_for(&["type production : production"]);
    tui.send(ENTER);
    tui.wait_for(&["Rolled back production to v1.0.0", "production* v1.0.0"]);

    // A release whose check fails, made and deployed with relctl.
    let failing = EXAMPLE_APP_TOML.replace(r#"contains("ping")"#, r#"contains("pong")"#);
    assert_ne!(
        failing, EXAMPLE_APP_TOML,
        "the example's check changed shape"
    );
    std::fs::write(&app, failing).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    relctl_ok(
        &d,
        &[
            "release",
            "create",
            "v1.2.0",
            "-d",
            "expects pong",
            "--deploy",
            "staging",
        ],
    );
    tui.send(HOME);
    tui.wait_for(&["▶ staging     v1.2.0", "not verified"]);
    // Someone else verifies: the column changes without a key.
    relctl_exit(&d, &["verify", "--env", "staging"], 7);
    tui.wait_for(&["FAILED 0/1", "✗ checks failed"]);
    // And v shows why.
    tui.send("v");
    tui.wait_for(&[
        "Verify staging: FAILED",
        "✗ FAILED  0/1 checks passed",
        "✗ chat replies",
        "expected",
    ]);
    tui.send(ESC);
    tui.wait_gone("Verify staging:");
    tui.wait_for(&["Verification of v1.2.0 in staging FAILED"]);

    tui.send("q");
    assert!(tui.wait_exit().success());
    d.terminate();
}

#[test]
fn starts_a_daemon_when_none_runs_and_applies_the_example() {
    // A socket nobody listens on, in a fresh dir; the data dir comes from the environment.
    let dir = tempfile::Builder::new()
        .prefix("relui-e2e-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let socket = dir.path().join("run").join("releasd.sock");
    let data = dir.path().join("data");
    // relui starts the releasd that sits next to it (cargo builds both into target/debug).
    let _ = bin("releasd");
    let mut tui = Tui::spawn(
        &["--socket", socket.to_str().expect("utf-8")],
        &[("RELEASD_DATA_DIR", &data)],
        120,
        40,
    );
    let s = tui.wait_for(&[
        "● connected to releasd",
        "started by relui)",
        "example app config is now the draft",
        "keeps running after q",
        "releasd.log",
    ]);
    let pid_on = |s: &str| -> i32 {
        s.split("(pid ")
            .nth(1)
            .and_then(|r| r.split([')', ',']).next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid on screen:\n{s}"))
    };
    let first = pid_on(&s);
    // The daemons relui starts outlive it (detached): stop them even when an assert fails.
    struct StopOnDrop(Vec<i32>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*p),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
    }
    let mut started = StopOnDrop(vec![first]);
    // The newcomer path: n, a tag and a description typed...
    tui.send("n");
    tui.wait_for(&["New release"]);
    tui.send("v0.1.0");
    tui.send(TAB);
    tui.send("kept");
    tui.wait_for(&["✓ v0.1.0 is free", "kept"]);
    // ...and the daemon relui started dies (kill -9 leaves its socket file). relui starts
    // it again by itself, no key needed (s would type into the dialog), and the dialog
    // keeps what was typed.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill releasd");
    let pid_file = data.join("releasd.pid");
    let read_pid = || -> Option<i32> {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
    };
    let restarted = rel_testkit::wait_until(DEADLINE, || read_pid().is_some_and(|p| p != first));
    assert!(
        restarted,
        "relui did not start releasd again:\n{}",
        tui.screen()
    );
    let pid = read_pid().expect("a pid in the pid file");
    started.0.push(pid);
    tui.wait_for(&["● connected to releasd", "✓ v0.1.0 is free", "kept"]);
    // Ctrl-S creates the release from the example draft, with what was typed before.
    tui.send(CTRL_S);
    tui.wait_for(&["Created release v0.1.0"]);
    let out = std::process::Command::new(bin("relctl"))
        .args([
            "--socket",
            socket.to_str().expect("utf-8"),
            "release",
            "show",
            "v0.1.0",
            "-o",
            "json",
        ])
        .output()
        .expect("relctl");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("\"kept\""), "{shown}");
    // Stopped on purpose (SIGTERM, as relctl daemon stop does; it removes its socket): relui
    // respects that and says so, and s starts it again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("stop releasd");
    tui.wait_for(&["stopped on purpose", "s starts it again"]);
    assert!(!socket.exists(), "a graceful stop removes the socket");
    tui.send("s");
    tui.wait_for(&["● connected to releasd"]);
    let pid = read_pid().expect("a pid in the pid file");
    started.0.push(pid);
    tui.send("q");
    assert!(tui.wait_exit().success());
    // The daemon was detached: it outlives relui. Stop it.
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, None).expect("the started releasd is still running");
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("stop releasd");
    let stopped = rel_testkit::wait_until(DEADLINE, || nix::sys::signal::kill(pid, None).is_err());
    assert!(stopped, "releasd {pid} did not stop on SIGTERM");
}

/// A daemon relui did not start (here rel-testkit's, with its own data dir) dies: relui
/// says where its data was and how to start it, and `s` starts nothing on its socket (a
/// default daemon there would serve an empty store). When the owner starts it again, relui
/// reconnects to that same daemon.
#[test]
fn a_daemon_relui_did_not_start_is_never_restarted_by_it() {
    let mut d = TestDaemon::start();
    let app = d.dir().join("app.toml");
    std::fs::write(&app, APP).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    relctl_ok(&d, &["release", "create", "v1.0.0", "-d", "first"]);
    let socket = d.socket().to_path_buf();
    let data = d.data_dir().display().to_string();
    // Autostart on (the default): it must still not start one.
    let mut tui = Tui::spawn(&["--socket", socket.to_str().expect("utf-8")], &[], 200, 20);
    tui.wait_for(&["● connected", "v1.0.0"]);
    assert!(!tui.screen().contains("started by relui"));
    d.kill9();
    let s = tui.wait_for(&["it was not started by relui", "from its last status"]);
    assert!(s.contains(&data), "{data} not on screen:\n{}", tail(&s));
    assert!(!s.contains("Press s"), "{s}");
    tui.send("s");
    // The refusal is the answer to s itself (nothing else sets a warning meanwhile).
    tui.wait_for(&["DISCONNECTED", "start it the way it was started"]);
    let s = tui.screen();
    assert!(!s.contains("starting"), "relui started a daemon:\n{s}");
    // Its owner starts it again (it would fail if relui had taken the socket).
    d.restart();
    let pid = d.pid().expect("pid").to_string();
    let s = tui.wait_for(&["● connected", &format!("(pid {pid})"), "v1.0.0"]);
    assert!(!s.contains(", started by relui"), "{s}");
    tui.wait_gone("not started by relui");
}

/// relui starting on a socket whose daemon died (kill -9 leaves the socket file): it does
/// not start a default daemon in its place, says why, and connects when the owner starts
/// that daemon again.
#[test]
fn a_stale_socket_gets_no_default_daemon() {
    let mut d = TestDaemon::start();
    let socket = d.socket().to_path_buf();
    d.kill9();
    assert!(socket.exists(), "kill -9 should leave the socket file");
    // Autostart on (the default).
    let tui = Tui::spawn(&["--socket", socket.to_str().expect("utf-8")], &[], 200, 30);
    let s = tui.wait_for(&["DISCONNECTED", "stopped without cleaning up"]);
    assert!(!s.contains("starting"), "relui started a daemon:\n{s}");
    // Still said after the retries (here: after the retry counter was seen to change).
    tui.wait_for(&["retry in 0.4s"]);
    let s = tui.wait_for(&["stopped without cleaning up"]);
    assert!(!s.contains("starting"), "relui started a daemon:\n{s}");
    d.restart();
    let pid = d.pid().expect("pid").to_string();
    let s = tui.wait_for(&["● connected", &format!("(pid {pid})")]);
    assert!(!s.contains(", started by relui"), "{s}");
}

/// Release & Deploy to a protected environment — one created while the dialog is open —
/// creates the release, then opens the deploy confirmation, which needs the environment's
/// name typed: Ctrl-S without it deploys nothing.
#[test]
fn release_and_deploy_to_a_protected_environment_needs_its_name() {
    let d = TestDaemon::start();
    let app = d.dir().join("app.toml");
    std::fs::write(&app, APP).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn(
        &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
        &[],
        80,
        24,
    );
    tui.wait_for(&["● connected", "No releases yet"]);
    tui.send("n");
    tui.wait_for(&["New release", "Create Release"]);
    tui.send("v1.0.0");
    tui.wait_for(&["✓ v1.0.0 is free"]);
    tui.send(TAB);
    tui.send(TAB);
    tui.send(" ");
    tui.wait_for(&["Release & Deploy", "[ staging ▾ ]"]);
    tui.send(TAB);
    // Created while the dialog is open: the dropdown offers it.
    relctl_ok(&d, &["env", "create", "prod2", "--protected"]);
    tui.wait_for(&["created environment prod2"]);
    // Open the dropdown and wait until the new environment is listed in it.
    tui.send(" ");
    let item = format!("{}prod2", " ".repeat(16));
    let s = tui.wait_for(&["▶ staging", item.as_str()]);
    let lines: Vec<&str> = s.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .expect("listed")
    };
    for _ in 0..at(&item) - at("▶ staging") {
        tui.send(DOWN);
    }
    tui.wait_for(&["▶ prod2"]);
    tui.send(ENTER);
    tui.wait_for(&["[ prod2 ▾ ]"]);
    tui.send(CTRL_S);
    tui.wait_for(&[
        "Created release v1.0.0",
        "Deploy v1.0.0",
        "‹ prod2 ›",
        "type prod2 :",
    ]);
    tui.send(CTRL_S);
    let s = tui.wait_for(&["prod2 is protected: type its name"]);
    assert!(!s.contains("Deployed"), "{s}");
    tui.send("prod2");
    tui.wait_for(&["type prod2 : prod2"]);
    tui.send(CTRL_S);
    tui.wait_for(&["Deployed v1.0.0 to prod2"]);
    tui.send("q");
    tui.wait_exit();
}

#[test]
fn sigterm_and_sighup_quit_and_restore_the_terminal() {
    let d = TestDaemon::start();
    let socket = d.socket().to_path_buf();
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let mut tui = Tui::spawn(
            &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
            &[],
            80,
            24,
        );
        tui.wait_for(&["● connected"]);
        let pid = tui.child.process_id().expect("relui pid");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("signal relui");
        let status = tui.wait_exit();
        assert!(status.success(), "{sig}: relui exited with {status:?}");
        assert!(
            tui.left_alternate_screen(),
            "{sig}: the terminal was left in the alternate screen"
        );
    }
}

/// The uid and gid of `nobody`.
fn nobody() -> (u32, u32) {
    let u = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    (u.uid.as_raw(), u.gid.as_raw())
}

/// Running as another user needs root (to drop to `nobody`); elsewhere say so and pass.
fn can_switch_user() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        eprintln!("skipped: switching to nobody needs root");
    }
    root
}

/// Another user's socket: relui says permission denied, never tries to start a daemon there,
/// and exits 5 like relctl.
#[test]
fn another_users_socket_is_permission_denied_and_starts_nothing() {
    if !can_switch_user() {
        return;
    }
    let d = TestDaemon::start();
    let socket = d.socket().to_path_buf();
    // Autostart on: it must still not try.
    let mut tui = Tui::spawn_as_nobody(&["--socket", socket.to_str().expect("utf-8")], 80, 24);
    let s = tui.wait_for(&["PERMISSION DENIED", "does not start a daemon"]);
    assert!(
        !s.contains("starting") && !s.contains("could not start"),
        "relui tried to start a daemon:\n{s}"
    );
    tui.send("q");
    let status = tui.wait_exit();
    assert_eq!(status.exit_code(), 5, "{status:?}");
}

/// The socket opens (nobody is in its group) but the daemon's config gives nobody no role:
/// relui says the daemon refused the user and shows the daemon's hint, not that the socket
/// may not be opened; exit 5.
#[test]
fn a_user_without_a_role_is_told_so_not_that_the_socket_is_closed() {
    if !can_switch_user() {
        return;
    }
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(nobody().1))
        .ok()
        .flatten()
        .expect("nobody's group");
    let d = TestDaemon::start_with_config(&format!("[socket]\ngroup = \"{}\"\n", group.name));
    std::fs::set_permissions(d.dir(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod the test dir");
    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn_as_nobody(&["--socket", socket.to_str().expect("utf-8")], 120, 40);
    let s = tui.wait_for(&["PERMISSION DENIED", "refused you", "no role", "viewer = ["]);
    assert!(!s.contains("may not open"), "{s}");
    assert!(
        !s.contains("starting") && !s.contains("could not start"),
        "relui tried to start a daemon:\n{s}"
    );
    tui.send("q");
    assert_eq!(tui.wait_exit().exit_code(), 5);
}

/// relctl as another user: exit 5 and no advice to start a daemon (there is one).
#[test]
fn relctl_on_another_users_socket_exits_5_without_start_advice() {
    if !can_switch_user() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let d = TestDaemon::start();
    let (uid, gid) = nobody();
    let out = std::process::Command::new(bin("relctl"))
        .args(["--socket", d.socket().to_str().expect("utf-8"), "status"])
        .uid(uid)
        .gid(gid)
        .output()
        .expect("run relctl as nobody");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(!stderr.contains("Start it"), "{stderr}");
}

/// LANG=C and TERM=vt100: relui writes nothing but ASCII (no box drawing, no ✓) and no
/// 256-colour sequences; at 60x20 the footer still says how to get help and quit.
#[test]
fn a_c_locale_and_a_vt100_get_ascii_and_no_colour() {
    let d = TestDaemon::start();
    let socket = d.socket().to_path_buf();
    // spawn_cmd sets a UTF-8 locale and xterm-256color: `env` overrides both for relui.
    let mut cmd = CommandBuilder::new("env");
    cmd.args(["LANG=C", "TERM=vt100"]);
    cmd.arg(bin("relui"));
    cmd.args(["--socket", socket.to_str().expect("utf-8"), "--no-start"]);
    let mut tui = Tui::spawn_cmd(cmd, &[], 60, 20);
    tui.wait_for(&["* connected", "? help", "q quit"]);
    tui.send("2");
    tui.wait_for(&["staging", "+-"]);
    tui.send("q");
    assert!(tui.wait_exit().success());
    let raw = tui.raw.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(raw.is_ascii(), "non-ASCII bytes written under LANG=C");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        !text.contains("38;5;"),
        "256-colour codes written to a vt100"
    );
}

/// releasd cuts list answers at `--page-bytes`: relui follows the cursor to the oldest
/// release and run instead of taking the first short page for the whole list.
#[test]
fn lists_are_read_whole_from_a_daemon_with_a_small_page_budget() {
    let d = TestDaemon::try_start_with_args(None, &["--page-bytes", "1024"])
        .expect("start releasd with a 1 KiB page budget");
    let app = d.dir().join("app.toml");
    std::fs::write(&app, APP).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    // ~600 bytes of notes each: one page holds a release or two.
    let notes = format!("tuning {}", "lorem ipsum ".repeat(50));
    for i in 0..12 {
        relctl_ok(
            &d,
            &["release", "create", &format!("v0.{i}.0"), "-d", &notes],
        );
    }
    relctl_ok(&d, &["deploy", "v0.11.0", "--env", "staging", "--yes"]);
    let message = format!(r#"{{"message":"{}"}}"#, "ping ".repeat(60));
    for _ in 0..8 {
        relctl_ok(
            &d,
            &["trigger", "chat", "--env", "staging", "--data", &message],
        );
    }
    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn(
        &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
        &[],
        80,
        24,
    );
    tui.wait_for(&["● connected", "v0.11.0"]);
    // End: the oldest release, pages fetched as the selection gets there.
    tui.press_until("G", "▶ v0.0.0");
    // A filter that matches every release counts all of them once the daemon says the
    // list ended.
    tui.send("/");
    tui.send("tuning");
    tui.send(ENTER);
    tui.wait_for(&["12 matches"]);
    // The logs: the first run is reachable too.
    tui.send("3");
    tui.wait_for(&["Execution logs", "#8"]);
    tui.press_until("G", "▶ #1 ");
    tui.send("/");
    tui.send("ping");
    tui.send(ENTER);
    tui.wait_for(&["8 matches"]);
}

/// Issue 11 in the TUI against a real daemon: freeze and unfreeze with a reason (the daemon
/// records it), stop the line and end it, a deploy to an environment that needs approvals opens a request instead of
/// going live, the Requests screen shows it, refuses to let its requester approve it, and
/// rejects it with a reason.
#[test]
fn freeze_unfreeze_and_a_request_from_the_tui() {
    let d = TestDaemon::start();
    let app = d.dir().join("app.toml");
    std::fs::write(&app, APP).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    relctl_ok(&d, &["release", "create", "v1.0.0", "-d", "first"]);
    relctl_ok(&d, &["env", "create", "gated", "--approvals", "1"]);
    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn(
        &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
        &[],
        80,
        24,
    );
    tui.wait_for(&["● connected", "v1.0.0"]);

    // Freeze staging from the Environments screen: a reason is required.
    tui.send("2");
    tui.wait_for(&["History: staging"]);
    tui.send("f");
    tui.wait_for(&["Freeze staging", "Reason"]);
    tui.send("release week");
    tui.send(ENTER);
    tui.wait_for(&["Froze staging", "FROZEN by", "release week"]);
    let out = d
        .relctl()
        .args(["env", "show", "staging", "-o", "json"])
        .output()
        .expect("relctl env show");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"reason\":\"release week\"")
            || json.contains("\"reason\": \"release week\""),
        "{json}"
    );
    // Unfreeze: asked once, then the banner goes.
    tui.send("u");
    tui.wait_for(&["Unfreeze staging"]);
    tui.send(ENTER);
    tui.wait_for(&["Unfroze staging"]);
    tui.wait_gone("FROZEN by");

    // Stop the line (F): every environment refuses deploys, as the daemon records it.
    tui.send("F");
    tui.wait_for(&["Stop the line", "Reason"]);
    tui.send("incident 42");
    tui.send(ENTER);
    tui.wait_for(&["Stopped the line", "LINE STOPPED by"]);
    let out = d
        .relctl()
        .args(["env", "show", "gated", "-o", "json"])
        .output()
        .expect("relctl env show");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("incident 42"), "{json}");
    // U ends it.
    tui.send("U");
    tui.wait_for(&["End the stopped line"]);
    tui.send(ENTER);
    tui.wait_for(&["Ended the stopped line"]);
    tui.wait_gone("LINE STOPPED");

    // A deploy to an environment that needs an approval says so, then opens a request.
    tui.send(":deploy v1.0.0 gated");
    tui.send(ENTER);
    tui.wait_for(&[
        "‹ gated ›",
        "needs 1 approval: this creates a request",
        "[ Request deploy of v1.0.0 to gated ]",
    ]);
    tui.send(ENTER);
    tui.wait_for(&["request #1 to deploy v1.0.0 is open"]);
    // On the Requests screen: the requester may not approve it, and may withdraw it.
    tui.send("4");
    tui.wait_for(&["#1", "approval", "gated", "0/1"]);
    tui.send("a");
    tui.wait_for(&["is yours"]);
    tui.send("x");
    tui.wait_for(&["Reject request #1"]);
    tui.send("wrong target");
    tui.send(ENTER);
    tui.wait_for(&["Rejected request #1", "No open requests"]);
    // Nothing went live in gated.
    let out = d
        .relctl()
        .args(["env", "show", "gated", "-o", "json"])
        .output()
        .expect("relctl env show");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"live\":null") || json.contains("\"live\": null"),
        "{json}"
    );
}

/// Four eyes through the TUI: a request opened by the daemon's owner is approved in relui by
/// another OS user (`nobody`, a deployer by the daemon's config), and that last approval
/// deploys it.
#[test]
fn another_user_approves_a_request_in_the_tui_and_it_deploys() {
    if !can_switch_user() {
        return;
    }
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(nobody().1))
        .ok()
        .flatten()
        .expect("nobody's group");
    let d = TestDaemon::start_with_config(&format!(
        "[roles]\ndeployer = [\"nobody\"]\n[socket]\ngroup = \"{}\"\n",
        group.name
    ));
    // nobody reaches the socket through its group; the directories must be passable.
    std::fs::set_permissions(d.dir(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod the test dir");
    let app = d.dir().join("app.toml");
    std::fs::write(&app, APP).expect("write app.toml");
    relctl_ok(&d, &["app", "apply", app.to_str().expect("utf-8 path")]);
    relctl_ok(&d, &["release", "create", "v1.0.0", "-d", "first"]);
    relctl_ok(&d, &["env", "create", "gated", "--approvals", "1"]);
    relctl_ok(&d, &["deploy", "v1.0.0", "--env", "gated"]);
    let socket = d.socket().to_path_buf();
    let mut tui = Tui::spawn_as_nobody(
        &["--socket", socket.to_str().expect("utf-8"), "--no-start"],
        80,
        24,
    );
    tui.wait_for(&["● connected", "nobody (deployer)", "4 Requests (1)"]);
    tui.send("4");
    tui.wait_for(&["#1", "gated", "0/1"]);
    tui.send("a");
    tui.wait_for(&[
        "Approve request #1",
        "Yours is the last approval needed (1/1)",
    ]);
    tui.send(ENTER);
    tui.wait_for(&["the last approval needed: deployed v1.0.0 to gated"]);
    let out = d
        .relctl()
        .args(["env", "show", "gated", "-o", "json"])
        .output()
        .expect("relctl env show");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"live\":\"v1.0.0\"") || json.contains("\"live\": \"v1.0.0\""),
        "{json}"
    );
}
