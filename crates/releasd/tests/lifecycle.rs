//! The real releasd binary: start-up, handshake, socket lifecycle, singletons, signals,
//! detaching, restart.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rel_domain::Role;
use rel_proto::{Client, ClientError, PROTOCOL_VERSION, Request, Response};
use rel_testkit::{TestDaemon, bin, wait_until};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[tokio::test]
async fn handshake_identifies_the_caller_and_status_reports_the_daemon() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    let w = c.welcome();
    assert_eq!(w.protocol, PROTOCOL_VERSION);
    assert_eq!(Some(w.pid), d.pid());
    assert_eq!(w.caller.role, Role::Admin, "the daemon's own user is admin");
    assert_eq!(w.caller.actor.uid, nix::unistd::Uid::effective().as_raw());
    match c.call(Request::Status).await.expect("status") {
        Response::Status(s) => {
            assert_eq!(s.socket, d.socket().display().to_string());
            assert_eq!(s.data_dir, d.data_dir().display().to_string());
            assert_eq!(
                s.store.environments, 2,
                "a new store has staging and production"
            );
        }
        other => panic!("status answered {other:?}"),
    }
    assert!(
        d.ready_line().contains(&format!("pid={}", w.pid)),
        "{}",
        d.ready_line()
    );
}

#[tokio::test]
async fn version_mismatch_names_both_versions_and_the_daemon_keeps_serving() {
    let d = TestDaemon::start();
    let err = match Client::connect_with_protocol(d.socket(), "old-relctl", 999).await {
        Err(e) => e,
        Ok(_) => panic!("a v999 client was accepted"),
    };
    assert!(
        matches!(err, ClientError::Version { client: 999, daemon } if daemon == PROTOCOL_VERSION),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("v999") && msg.contains(&format!("v{PROTOCOL_VERSION}")),
        "{msg}"
    );
    let c = connect(d.socket()).await;
    assert_eq!(c.call(Request::Ping).await.expect("ping"), Response::Pong);
    assert!(
        wait_until(Duration::from_secs(30), || d
            .stderr_log()
            .contains("protocol version mismatch")),
        "the daemon logs it too"
    );
}

#[tokio::test]
async fn unreachable_socket_is_reported_as_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.sock");
    let e = Client::connect(&missing, "t")
        .await
        .err()
        .expect("connected to nothing");
    assert!(
        matches!(&e, ClientError::Unreachable { socket, .. } if *socket == missing),
        "{e:?}"
    );
    assert!(e.to_string().contains("Start it with `releasd`"), "{e}");

    // A stale socket file (daemon killed) is unreachable too, not a hang.
    let mut d = TestDaemon::start();
    d.kill9();
    assert!(d.socket().exists(), "SIGKILL leaves the socket file behind");
    let e = Client::connect(d.socket(), "t")
        .await
        .err()
        .expect("connected to a dead daemon");
    assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
    // Not "start it with releasd": that would serve the default data dir on this socket.
    let said = e.to_string();
    assert!(
        said.contains("stopped without cleaning up") && said.contains("same --data-dir"),
        "{said}"
    );
    assert!(!said.contains("Start it with `releasd`"), "{said}");
}

#[test]
fn socket_dir_is_0700_and_socket_0600() {
    // Existing, shared and default directories: see tests/startup.rs.
    let d = TestDaemon::start();
    let dir = d.socket().parent().expect("socket dir");
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(d.socket()), 0o600);
}

#[test]
fn a_socket_group_makes_dir_0750_and_socket_0660() {
    let gid = nix::unistd::Gid::effective();
    let group = nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .expect("our primary group has a name")
        .name;
    let d = TestDaemon::start_with_config(&format!("[socket]\ngroup = \"{group}\"\n"));
    let dir = d.socket().parent().expect("socket dir");
    assert_eq!(mode(dir), 0o750);
    assert_eq!(mode(d.socket()), 0o660);
    assert_eq!(
        std::fs::metadata(d.socket()).expect("stat").gid(),
        gid.as_raw()
    );
}

#[test]
fn a_bad_config_is_refused_naming_the_key() {
    let e = TestDaemon::try_start(Some("[roles]\nadmins = [\"x\"]\n"))
        .err()
        .expect("bad config accepted");
    assert!(e.status.is_some_and(|s| !s.success()), "{e}");
    assert!(
        e.stderr.contains("admins") && e.stderr.contains("releasd.toml"),
        "{e}"
    );
}

#[test]
fn a_second_daemon_on_the_same_data_dir_exits_naming_the_first() {
    let d = TestDaemon::start();
    let other_socket = d.dir().join("other.sock");
    let out = Command::new(bin("releasd"))
        .arg("--foreground")
        .arg("--socket")
        .arg(&other_socket)
        .arg("--data-dir")
        .arg(d.data_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run a second releasd");
    assert!(
        !out.status.success(),
        "second daemon on one data dir started"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let pid = d.pid().expect("running");
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(err.contains(&d.data_dir().display().to_string()), "{err}");
    assert!(out.stdout.is_empty(), "no ready line from the loser");
    assert!(!other_socket.exists(), "the loser did not bind a socket");
    // The first one is unharmed.
    assert!(std::os::unix::net::UnixStream::connect(d.socket()).is_ok());
}

#[test]
fn a_live_socket_is_not_taken_over() {
    let d = TestDaemon::start();
    let other = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin("releasd"))
        .arg("--foreground")
        .arg("--socket")
        .arg(d.socket())
        .arg("--data-dir")
        .arg(other.path().join("data"))
        .stdin(Stdio::null())
        .output()
        .expect("run a second releasd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let pid = d.pid().expect("running");
    assert!(
        err.contains(&format!(
            "another releasd (pid {pid}) is already serving {}",
            d.socket().display()
        )),
        "{err}"
    );
    assert!(d.socket().exists(), "the live socket was not removed");
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_data_survives_a_restart() {
    let mut d = TestDaemon::start();
    {
        let c = connect(d.socket()).await;
        apply_example(&c).await;
        create(&c, "v1.0.0", Some("staging"))
            .await
            .expect("create+deploy");
    }
    d.kill9();
    assert!(d.socket().exists(), "stale socket left behind");
    d.restart();
    assert!(
        d.stderr_log().contains("stale socket"),
        "the replacement is logged"
    );
    let c = connect(d.socket()).await;
    assert_eq!(live(&c, "staging").await.as_deref(), Some("v1.0.0"));
    // And after a clean restart too.
    drop(c);
    d.restart();
    let c = connect(d.socket()).await;
    assert_eq!(live(&c, "staging").await.as_deref(), Some("v1.0.0"));
}

#[test]
fn sigterm_and_sigint_exit_0_and_remove_the_socket() {
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let mut d = TestDaemon::start();
        let status = d.signal_and_wait(sig);
        assert!(status.success(), "{sig}: {status}");
        assert!(!d.socket().exists(), "{sig}: socket left behind");
        assert!(
            !d.data_dir().join("releasd.pid").exists(),
            "{sig}: pid file left behind"
        );
        assert!(d.stderr_log().contains(sig.as_str()), "{sig}: not logged");
    }
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let mut d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    // Fire a burst of creations without waiting, then SIGTERM: every request the daemon
    // read is answered (ok), the rest fail cleanly with Disconnected; none is lost half-way.
    let c = std::sync::Arc::new(c);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = std::sync::Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            (i, create(&c, &format!("b{i}"), None).await)
        }));
    }
    // Wait until the daemon has acknowledged at least one, so the burst is in flight.
    let probe = connect(d.socket()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Response::Release(_)) =
            probe.call(Request::ReleaseShow { tag: "b0".into() }).await
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "b0 never created");
        tokio::task::yield_now().await;
    }
    let status = tokio::task::spawn_blocking(move || {
        let s = d.terminate();
        (s, d)
    });
    let mut acked = Vec::new();
    for t in tasks {
        let (i, r) = t.await.expect("task");
        match r {
            Ok(Response::Created(_)) => acked.push(i),
            Err(ClientError::Disconnected(_)) => {}
            other => panic!("b{i}: {other:?}"),
        }
    }
    let (status, mut d) = status.await.expect("terminate");
    assert!(status.success(), "{status}");
    d.restart();
    let c = connect(d.socket()).await;
    for i in acked {
        let r = c
            .call(Request::ReleaseShow {
                tag: format!("b{i}"),
            })
            .await;
        assert!(
            matches!(r, Ok(Response::Release(_))),
            "acknowledged b{i} lost: {r:?}"
        );
    }
}

#[test]
fn without_foreground_it_detaches_and_reports_its_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("run").join("releasd.sock");
    let data = dir.path().join("data");
    let out = Command::new(bin("releasd"))
        .arg("--socket")
        .arg(&socket)
        .arg("--data-dir")
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .expect("run releasd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let prefix = "releasd started (pid ";
    assert!(
        stdout.starts_with(prefix) && stdout.contains(&socket.display().to_string()),
        "{stdout}"
    );
    let pid: i32 = stdout[prefix.len()..]
        .split(')')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("pid in the message");
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_ok(),
        "detached daemon not serving"
    );
    assert_eq!(rel_testkit_pid(&data), Some(pid as u32));

    // A second detached start on the same dirs fails and shows the child's reason.
    let out2 = Command::new(bin("releasd"))
        .arg("--socket")
        .arg(&socket)
        .arg("--data-dir")
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .expect("run releasd again");
    assert!(!out2.status.success());
    let err = String::from_utf8_lossy(&out2.stderr);
    assert!(
        err.contains("already") && err.contains(&pid.to_string()),
        "{err}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    assert!(
        wait_until(Duration::from_secs(30), || !socket.exists()),
        "detached daemon did not stop on SIGTERM"
    );
    assert!(
        std::fs::read_to_string(data.join("releasd.log"))
            .expect("log")
            .contains("releasd serving")
    );
}

fn rel_testkit_pid(data: &std::path::Path) -> Option<u32> {
    std::fs::read_to_string(data.join("releasd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[tokio::test]
async fn sighup_does_not_stop_the_daemon() {
    let d = TestDaemon::start();
    let pid = nix::unistd::Pid::from_raw(d.pid().expect("running") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    assert!(
        wait_until(Duration::from_secs(30), || d
            .stderr_log()
            .contains("SIGHUP ignored")),
        "SIGHUP not handled"
    );
    let c = connect(d.socket()).await;
    assert_eq!(c.call(Request::Ping).await.expect("ping"), Response::Pong);
}
