//! On a terminal, changing a protected environment asks the person to type its name after
//! showing the plan: the right name goes ahead, anything else aborts with nothing changed.

mod common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use rel_testkit::TestDaemon;

const DEADLINE: Duration = Duration::from_secs(30);

/// Run `relctl ARGS` on a pseudo-terminal, wait for the confirmation prompt, type `answer`,
/// and return (exit code, everything the terminal showed).
fn on_terminal(d: &TestDaemon, args: &[&str], answer: &str) -> (u32, String) {
    let pair = native_pty_system()
        .openpty(PtySize::default())
        .expect("open a pty");
    let mut cmd = CommandBuilder::new(rel_testkit::bin("relctl"));
    cmd.arg("--socket");
    cmd.arg(d.socket());
    cmd.args(args);
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .expect("spawn relctl on the pty");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("pty reader");
    let mut writer = pair.master.take_writer().expect("pty writer");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = String::new();
    let deadline = Instant::now() + DEADLINE;
    while !screen.contains("to confirm: ") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no prompt; the terminal showed:\n{screen}"));
        screen.push_str(&String::from_utf8_lossy(&chunk));
    }
    writer
        .write_all(format!("{answer}\r").as_bytes())
        .expect("type");
    writer.flush().expect("flush");
    let status = child.wait().expect("wait for relctl");
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
        screen.push_str(&String::from_utf8_lossy(&chunk));
    }
    (status.exit_code(), screen)
}

#[test]
fn typing_the_name_confirms_anything_else_aborts() {
    let d = TestDaemon::start();
    release(&d, "v1", 1);
    ok(&d, &["deploy", "v1", "--env", "staging"]);

    let (code, screen) = on_terminal(&d, &["deploy", "v1", "--env", "production"], "prod");
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("deploy to production (protected): (nothing) → v1"),
        "the plan is shown first:\n{screen}"
    );
    assert!(
        screen.contains("Type the environment name (production) to confirm:"),
        "{screen}"
    );
    assert!(
        screen.contains("aborted") && screen.contains("nothing changed"),
        "{screen}"
    );
    assert_eq!(live(&d, "production"), serde_json::Value::Null);

    let (code, screen) = on_terminal(&d, &["deploy", "v1", "--env", "production"], "production");
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("deployed production: (nothing) → v1"),
        "{screen}"
    );
    assert_eq!(live(&d, "production"), "v1");

    // Rollbacks of protected environments ask too.
    release(&d, "v2", 2);
    ok(&d, &["deploy", "v2", "--env", "staging"]);
    ok(&d, &["deploy", "v2", "--env", "production", "--yes"]);
    let (code, screen) = on_terminal(&d, &["rollback", "--env", "production"], "production");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("roll back production: v2 → v1"), "{screen}");
    assert_eq!(live(&d, "production"), "v1");
}
