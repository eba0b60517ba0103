//! Start-up of the real releasd binary against the file system: which socket directories it
//! creates, leaves alone, tightens or refuses; clear errors for paths that are files; nothing
//! left behind by a refused start; logs without colour codes; the detached message.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rel_testkit::{TestDaemon, bin, wait_until};

/// Permission bits including setuid/setgid/sticky.
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
}

/// `releasd --foreground ARGS` without the socket/data-dir environment of the caller.
fn releasd(args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new(bin("releasd"));
    cmd.arg("--foreground")
        .args(args)
        .env_remove("RELEASD_SOCKET")
        .env_remove("RELEASD_DATA_DIR")
        .stdin(Stdio::null());
    cmd
}

/// A daemon started by hand; SIGTERMed and reaped on drop.
struct Running(Child);

impl Running {
    /// Spawn `cmd` and wait for its ready line.
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn releasd");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if !line.starts_with("releasd ready ") {
            let out = child.wait_with_output().expect("wait");
            panic!(
                "releasd did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Running(child)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "releasd started but should not have");
    assert!(
        out.stdout.is_empty(),
        "a refused start printed a ready line"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_created_socket_dir_is_0700_and_an_existing_shared_dir_keeps_its_mode() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Created by releasd (with a missing parent): 0700.
    let made = tmp.path().join("a").join("run");
    let _d = Running::start(releasd(&[
        "--socket".as_ref(),
        made.join("s.sock").as_os_str(),
        "--data-dir".as_ref(),
        tmp.path().join("d1").as_os_str(),
    ]));
    assert_eq!(mode(&made), 0o700);
    assert_eq!(mode(&made.join("s.sock")), 0o600);

    // An existing sticky, world-writable dir (like /tmp) is used as it is.
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    chmod(&shared, 0o1777);
    let _d = Running::start(releasd(&[
        "--socket".as_ref(),
        shared.join("s.sock").as_os_str(),
        "--data-dir".as_ref(),
        tmp.path().join("d2").as_os_str(),
    ]));
    assert_eq!(mode(&shared), 0o1777, "the shared dir was re-permissioned");
    assert_eq!(mode(&shared.join("s.sock")), 0o600);

    // An existing dir of ours (restart of a daemon whose dir was opened up) is left alone.
    let mut t = TestDaemon::start();
    let dir = t.socket().parent().expect("socket dir").to_path_buf();
    t.terminate();
    chmod(&dir, 0o755);
    t.restart();
    assert_eq!(mode(&dir), 0o755);
    assert_eq!(
        mode(t.socket()),
        0o600,
        "the socket itself stays owner-only"
    );
}

#[test]
fn a_relative_socket_path_does_not_touch_the_working_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cwd = tmp.path().join("project");
    std::fs::create_dir(&cwd).expect("mkdir");
    chmod(&cwd, 0o755);
    let mut cmd = releasd(&[
        "--socket".as_ref(),
        "rel.sock".as_ref(),
        "--data-dir".as_ref(),
        tmp.path().join("data").as_os_str(),
    ]);
    cmd.current_dir(&cwd);
    let _d = Running::start(cmd);
    assert_eq!(mode(&cwd), 0o755, "the working directory was chmodded");
    assert_eq!(mode(&cwd.join("rel.sock")), 0o600);
}

#[test]
fn the_default_socket_dir_of_ours_is_tightened() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runtime = tmp.path().join("xdg");
    let dedicated = runtime.join("releasd");
    std::fs::create_dir_all(&dedicated).expect("mkdir");
    chmod(&dedicated, 0o755);
    let mut cmd = releasd(&["--data-dir".as_ref(), tmp.path().join("data").as_os_str()]);
    cmd.env("XDG_RUNTIME_DIR", &runtime);
    let _d = Running::start(cmd);
    assert_eq!(mode(&dedicated), 0o700);
    assert_eq!(mode(&dedicated.join("releasd.sock")), 0o600);
}

#[test]
fn a_dir_others_could_replace_the_socket_in_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    chmod(&open, 0o777);
    let data = tmp.path().join("data");
    let out = releasd(&[
        "--socket".as_ref(),
        open.join("s.sock").as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ])
    .output()
    .expect("run releasd");
    let err = failed(&out);
    assert!(
        err.contains(&open.display().to_string()) && err.contains("sticky"),
        "{err}"
    );
    assert_eq!(mode(&open), 0o777, "a refused dir was chmodded");
    assert!(
        !data.exists(),
        "a refused start left its new data dir behind"
    );

    // Someone else's directory: as root we can make one. Sticky (like /tmp) is fine,
    // group-writable without the sticky bit is not.
    if nix::unistd::Uid::effective().is_root() {
        let nobody = Some(nix::unistd::Uid::from_raw(65534));
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir(&theirs).expect("mkdir");
        nix::unistd::chown(&theirs, nobody, None).expect("chown");
        chmod(&theirs, 0o1777);
        let _d = Running::start(releasd(&[
            "--socket".as_ref(),
            theirs.join("s.sock").as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ]));
        assert_eq!(mode(&theirs), 0o1777);
        assert_eq!(
            std::fs::metadata(&theirs).expect("stat").uid(),
            65534,
            "not chowned"
        );
        drop(_d);

        chmod(&theirs, 0o775);
        let out = releasd(&[
            "--socket".as_ref(),
            theirs.join("s.sock").as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ])
        .output()
        .expect("run releasd");
        let err = failed(&out);
        assert!(err.contains("sticky"), "{err}");
    }
}

#[test]
fn a_file_where_a_directory_should_be_is_named_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("app.toml");
    std::fs::write(&file, "x = 1\n").expect("write");
    let data = tmp.path().join("data");

    // The socket's parent is a file.
    let out = releasd(&[
        "--socket".as_ref(),
        file.join("s.sock").as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ])
    .output()
    .expect("run releasd");
    let err = failed(&out);
    assert!(
        err.contains(&format!("{} is not a directory", file.display())),
        "{err}"
    );
    assert!(!err.contains("os error"), "raw OS error shown: {err}");
    assert!(
        !data.exists(),
        "a refused start left its new data dir behind"
    );

    // --data-dir is a file, or under one.
    for d in [file.clone(), file.join("data")] {
        let out = releasd(&[
            "--socket".as_ref(),
            tmp.path().join("run").join("s.sock").as_os_str(),
            "--data-dir".as_ref(),
            d.as_os_str(),
        ])
        .output()
        .expect("run releasd");
        let err = failed(&out);
        assert!(
            err.contains(&format!("{} is not a directory", file.display()))
                && err.contains("--data-dir"),
            "{err}"
        );
        assert_eq!(err.matches("not a directory").count(), 1, "{err}");
    }
}

#[test]
fn a_refused_second_daemon_leaves_no_new_data_dir_behind() {
    let d = TestDaemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data2 = tmp.path().join("data2").join("nested");

    // Foreground.
    let out = releasd(&[
        "--socket".as_ref(),
        d.socket().as_os_str(),
        "--data-dir".as_ref(),
        data2.as_os_str(),
    ])
    .output()
    .expect("run releasd");
    let err = failed(&out);
    assert!(err.contains("already serving"), "{err}");
    assert!(
        !tmp.path().join("data2").exists(),
        "foreground start left its data dir"
    );

    // Detached: the parent made the dir and the log; both go again.
    let out = Command::new(bin("releasd"))
        .arg("--socket")
        .arg(d.socket())
        .arg("--data-dir")
        .arg(&data2)
        .env_remove("RELEASD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("run releasd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already serving"), "{err}");
    assert!(
        !tmp.path().join("data2").exists(),
        "detached start left its data dir"
    );

    // An existing data dir is never removed, even if empty.
    std::fs::create_dir(tmp.path().join("mine")).expect("mkdir");
    let out = releasd(&[
        "--socket".as_ref(),
        d.socket().as_os_str(),
        "--data-dir".as_ref(),
        tmp.path().join("mine").as_os_str(),
    ])
    .output()
    .expect("run releasd");
    failed(&out);
    assert!(tmp.path().join("mine").is_dir());
}

#[test]
fn logs_have_no_colour_codes_when_not_on_a_terminal() {
    // Foreground with stderr to a file (as under systemd).
    let d = TestDaemon::start();
    let log = d.stderr_log();
    assert!(log.contains("releasd serving"), "{log}");
    assert!(!log.contains("\x1b["), "ANSI codes in a piped log: {log:?}");
}

#[test]
fn detached_start_shows_the_http_address_and_logs_without_colour() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("run").join("releasd.sock");
    let data = tmp.path().join("data");
    let (out, _stop) = detached(&socket, &data, &["--http", "127.0.0.1:0"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains(&socket.display().to_string())
            && first.contains("HTTP on http://127.0.0.1:"),
        "{stdout}"
    );
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("port in the message");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the printed HTTP address does not answer"
    );
    let log = std::fs::read_to_string(data.join("releasd.log")).expect("log");
    assert!(log.contains("releasd serving"), "{log}");
    assert!(!log.contains("\x1b["), "ANSI codes in releasd.log: {log:?}");
}

/// Stops a detached daemon (by the pid in its pid file) whatever the asserts say.
struct Stop(Option<u32>, PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGTERM);
            wait_until(Duration::from_secs(30), || !self.1.exists());
        }
    }
}

/// `releasd --socket SOCKET --data-dir DATA ARGS` the normal (detaching) way.
fn detached(socket: &Path, data: &Path, args: &[&str]) -> (Output, Stop) {
    let out = Command::new(bin("releasd"))
        .arg("--socket")
        .arg(socket)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("RELEASD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("run releasd");
    let stop = Stop(pid_file(data), socket.to_path_buf());
    (out, stop)
}

fn pid_file(data: &Path) -> Option<u32> {
    std::fs::read_to_string(data.join("releasd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A detached start that fails at once says it did not start and why (the config error),
/// never that it timed out, and leaves out the start-up chatter.
#[test]
fn a_detached_start_with_a_bad_config_names_the_error_not_a_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("releasd.toml");
    std::fs::write(&config, "viewer = [\"nobody\"]\n").expect("config");
    let out = Command::new(bin("releasd"))
        .arg("--socket")
        .arg(tmp.path().join("run").join("releasd.sock"))
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .arg("--config")
        .arg(&config)
        .env_remove("RELEASD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("run releasd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("did not start"), "{stderr}");
    assert!(
        !stderr.contains("releasd: releasd"),
        "the prefix once: {stderr}"
    );
    assert!(
        !stderr.contains("within"),
        "blamed the ready timeout: {stderr}"
    );
    assert!(stderr.contains("viewer"), "names the bad field: {stderr}");
    assert!(
        !stderr.contains(" INFO "),
        "start-up chatter in the reason: {stderr}"
    );
}

/// A detached start runs the daemon the command line asked for: every flag reaches the
/// background process (a dropped `--store` once gave each host its own empty sled store).
#[test]
fn a_detached_start_passes_every_flag_to_the_daemon() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("run").join("releasd.sock");
    let data = tmp.path().join("data");
    let (out, stop) = detached(&socket, &data, &["--workers", "3", "--page-bytes=65536"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = stop.0.expect("pid file");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let has = |pair: &[&str]| args.windows(pair.len()).any(|w| w == pair);
    assert!(has(&["--workers", "3"]), "{args:?}");
    assert!(has(&["--page-bytes=65536"]), "{args:?}");
    assert!(has(&["--foreground"]), "{args:?}");
    // The paths the parent resolved, once each.
    assert_eq!(
        args.iter().filter(|a| *a == "--socket").count(),
        1,
        "{args:?}"
    );
}

/// A misspelt user in `[roles]` is named at start, like a missing group, on the launcher's
/// stderr (the log is where nobody looks) and in the log.
#[test]
fn a_detached_start_warns_about_roles_naming_no_such_user_or_group() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("run").join("releasd.sock");
    let data = tmp.path().join("data");
    let config = tmp.path().join("releasd.toml");
    std::fs::write(
        &config,
        "[roles]\ndeployer = [\"nobdy-rel-test\", \"@nogrp-rel-test\"]\n",
    )
    .expect("config");
    let config = config.display().to_string();
    let (out, _stop) = detached(&socket, &data, &["--config", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "releasd: warning: [roles] deployer: user \"nobdy-rel-test\" does not exist on this machine"
        ) && stderr.contains("getent passwd nobdy-rel-test"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[roles] deployer: group \"@nogrp-rel-test\" does not exist"),
        "{stderr}"
    );
    let log = std::fs::read_to_string(data.join("releasd.log")).expect("log");
    assert!(log.contains("user \"nobdy-rel-test\""), "{log}");
}

/// `releasd | head -1` closes the launcher's stdout: no panic, exit 0, the daemon runs.
#[test]
fn a_closed_stdout_does_not_make_the_launcher_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("run").join("releasd.sock");
    let data = tmp.path().join("data");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(bin("releasd"))
        .arg("--socket")
        .arg(&socket)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("RELEASD_SOCKET")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run releasd");
    let _stop = Stop(pid_file(&data), socket.clone());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_ok(),
        "the daemon is serving"
    );
}

/// The primary group of this user, by name: one `chown` may set without privileges.
fn my_group() -> (String, u32) {
    let gid = nix::unistd::Gid::effective();
    let name = nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .expect("our primary group has a name")
        .name;
    (name, gid.as_raw())
}

/// A socket dir made 0700 by a start without `[socket] group` is opened to the group by a
/// start with it (it is releasd's: nothing but its socket in it); a dir holding anything
/// else is refused, naming the fix, and left as it was.
#[test]
fn a_socket_group_opens_a_private_socket_dir_of_releasd_and_refuses_anyone_elses() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (group, gid) = my_group();
    let config = tmp.path().join("releasd.toml");
    std::fs::write(&config, format!("[socket]\ngroup = \"{group}\"\n")).expect("config");
    let run = tmp.path().join("run");
    let sock = run.join("releasd.sock");
    let data = tmp.path().join("data");
    let start = |with_group: bool| {
        let mut args = vec![
            "--socket".as_ref(),
            sock.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ];
        if with_group {
            args.extend(["--config".as_ref(), config.as_os_str()]);
        }
        Running::start(releasd(&args))
    };
    drop(start(false));
    assert_eq!(mode(&run), 0o700);
    let d = start(true);
    assert_eq!(mode(&run), 0o750, "the group can reach the socket now");
    assert_eq!(std::fs::metadata(&run).expect("stat").gid(), gid);
    assert_eq!(mode(&sock), 0o660);
    drop(d);

    // Someone's private dir that happens to hold the socket: not releasd's to open.
    let private = tmp.path().join("private");
    std::fs::create_dir(&private).expect("mkdir");
    std::fs::write(private.join("notes.txt"), "mine").expect("write");
    chmod(&private, 0o700);
    let out = releasd(&[
        "--socket".as_ref(),
        private.join("releasd.sock").as_os_str(),
        "--data-dir".as_ref(),
        tmp.path().join("data2").as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
    .output()
    .expect("run releasd");
    let err = failed(&out);
    let p = private.display();
    assert!(
        err.contains(&format!("socket directory {p} (mode 700"))
            && err.contains(&format!("chgrp {group} {p} && chmod 0750 {p}")),
        "{err}"
    );
    assert_eq!(mode(&private), 0o700, "refused, and left as it was");
}

/// A start that fails after preparing its socket dir (`--http` on a taken port) leaves
/// neither its data dir nor a socket dir it created behind.
#[test]
fn a_failed_start_removes_the_socket_dir_it_created() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let fresh = tmp.path().join("fresh");
    let out = releasd(&[
        "--socket".as_ref(),
        fresh.join("run").join("releasd.sock").as_os_str(),
        "--data-dir".as_ref(),
        tmp.path().join("data").as_os_str(),
        "--http".as_ref(),
        addr.as_ref(),
    ])
    .output()
    .expect("run releasd");
    let err = failed(&out);
    assert!(err.contains("--http"), "{err}");
    assert!(!fresh.exists(), "the failed start left {}", fresh.display());
    assert!(!tmp.path().join("data").exists());
}
