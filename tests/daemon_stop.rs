//! The daemon's lifecycle from relctl: `status` says its pid, uptime and log file, and
//! `daemon stop` stops it gracefully and returns once its socket is gone.

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
    // relctl returned only once the socket was gone, and the daemon exits 0 as on SIGTERM.
    assert!(!d.socket().exists(), "the socket is still there");
    assert!(d.wait_exit().success());
    // Nothing answers now: exit 6.
    let out = d.relctl().arg("status").output().expect("relctl");
    assert_eq!(out.status.code(), Some(6));
}
