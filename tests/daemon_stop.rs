//! The daemon's lifecycle from relctl: `status` says its pid, uptime and log file, and
//! `daemon stop` stops it gracefully and returns once its socket is gone and it has exited.

use rel_testkit::TestDaemon;

#[test]
fn status_shows_pid_uptime_and_log_then_daemon_stop_stops_it() {
    let mut d = TestDaemon::start();
    let pid = d.pid().expect("pid");

    let out = d
        .relctl()
        .args(["status", "-o", "json"])
        .output()
        .expect("relctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["pid"], pid);
    assert!(v["uptime_s"].is_u64(), "{v}");
    // Without --store the store is sled in the data dir.
    assert_eq!(v["backend"]["kind"], "sled", "{v}");
    assert_eq!(
        v["backend"]["location"].as_str(),
        d.data_dir().to_str(),
        "{v}"
    );
    // rel-testkit sends the daemon's stderr to a file: that is its log.
    let log = v["log"].as_str().expect("log path");
    assert!(std::path::Path::new(log).is_file(), "{log}");

    let out = d.relctl().arg("status").output().expect("relctl");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("pid {pid}")) && table.contains(log),
        "{table}"
    );

    let out = d
        .relctl()
        .args(["daemon", "stop"])
        .output()
        .expect("relctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("releasd (pid {pid}) stopped")),
        "{stdout}"
    );
    // relctl returned only once the socket was gone and the process had exited (so its data
    // dir lock is free for the next `releasd`): the test harness, its parent, has not reaped
    // it yet, so it is a zombie at most.
    assert!(!d.socket().exists(), "the socket is still there");
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state
        .rsplit_once(')')
        .map(|(_, r)| r.trim_start().to_string());
    assert!(
        state
            .as_deref()
            .is_none_or(|r| r.starts_with('Z') || r.starts_with('X')),
        "releasd still running after daemon stop returned: {state:?}"
    );
    assert!(d.wait_exit().success());
    // Nothing answers now: exit 6.
    let out = d.relctl().arg("status").output().expect("relctl");
    assert_eq!(out.status.code(), Some(6));
}
