//! Test support for rel: build the workspace binaries once per test process and run a real
//! `releasd` on a temporary socket and data dir.
//!
//! ```no_run
//! let d = rel_testkit::TestDaemon::start();
//! let out = d.relctl().args(["status"]).output().expect("relctl");
//! assert!(out.status.success());
//! ```
//!
//! Readiness is the daemon's own `releasd ready …` line on stdout, never a sleep. The
//! daemon's stderr (its tracing log) goes to `releasd.stderr` in the temp dir; it is quoted
//! in every start failure and available through [`TestDaemon::stderr_log`].

pub mod etcd;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a daemon may take to print its ready line. Generous: the machine is shared and
/// a debug build opening a big sled store is slow. This is a deadline, not a sleep.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// `$CARGO_TARGET_DIR` (relative paths are relative to the workspace root), else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

fn cargo_build(packages: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root()).args(["build", "--bins"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", PathBuf::from(&cargo).display()))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Err(format!(
            "cargo build -p {} failed ({}):\n{}",
            packages.join(" -p "),
            out.status,
            tail.join("\n")
        ))
    }
}

/// Build the workspace binaries (once per test process) and return the path of `name`
/// (`releasd`, `relctl` or `relui`).
///
/// All three are built together the first time. If that fails (for example another
/// package is mid-edit), the single package `name` is built on its own, so one broken
/// binary does not take every test down with it.
///
/// # Panics
/// When the build fails: a test cannot run without its binary, and the panic quotes cargo.
pub fn bin(name: &str) -> PathBuf {
    static ALL: OnceLock<Result<(), String>> = OnceLock::new();
    static ONE: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let all = ALL.get_or_init(|| cargo_build(&["releasd", "relctl", "relui"]));
    if all.is_err() {
        let map = ONE.get_or_init(|| Mutex::new(HashMap::new()));
        let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
        let res = map
            .entry(name.to_string())
            .or_insert_with(|| cargo_build(&[name]));
        if let Err(e) = res {
            panic!("rel-testkit: cannot build {name}: {e}");
        }
    }
    let path = target_dir().join("debug").join(name);
    assert!(
        path.exists(),
        "rel-testkit: {} does not exist after building",
        path.display()
    );
    path
}

/// Why a daemon did not become ready.
#[derive(Debug)]
pub struct StartError {
    /// The exit status, if the daemon exited.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stderr.
    pub stderr: String,
    pub reason: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "releasd did not become ready: {}", self.reason)?;
        if let Some(s) = self.status {
            write!(f, " (exit status {s})")?;
        }
        write!(f, "\n--- releasd stderr ---\n{}", self.stderr)
    }
}

impl std::error::Error for StartError {}

/// A real `releasd --foreground` on a temp socket and data dir, killed on drop.
pub struct TestDaemon {
    // Kept for its Drop: removes the directory.
    dir: tempfile::TempDir,
    socket: PathBuf,
    data_dir: PathBuf,
    config: Option<PathBuf>,
    /// More releasd flags (limits, --http) for tests that need them.
    extra_args: Vec<std::ffi::OsString>,
    child: Option<Child>,
    ready_line: String,
}

impl TestDaemon {
    /// Start a daemon with the default roles (the test's own user is admin).
    ///
    /// # Panics
    /// If the daemon does not become ready; the panic quotes its stderr.
    pub fn start() -> TestDaemon {
        Self::try_start(None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Start a daemon with `--config` pointing at a file holding `toml`.
    ///
    /// # Panics
    /// If the daemon does not become ready; the panic quotes its stderr.
    pub fn start_with_config(toml: &str) -> TestDaemon {
        Self::try_start(Some(toml)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`TestDaemon::start`] / [`TestDaemon::start_with_config`], but a daemon that
    /// refuses to start is an `Err` (for tests of start-up failures).
    pub fn try_start(config_toml: Option<&str>) -> Result<TestDaemon, StartError> {
        Self::try_start_with_args(config_toml, &[])
    }

    /// Like [`TestDaemon::try_start`], with more releasd flags (e.g. `--idle-timeout 1`).
    pub fn try_start_with_args(
        config_toml: Option<&str>,
        extra_args: &[&str],
    ) -> Result<TestDaemon, StartError> {
        let dir = make_tempdir();
        let socket = dir.path().join("run").join("releasd.sock");
        let data_dir = dir.path().join("data");
        let config = match config_toml {
            Some(text) => {
                let path = dir.path().join("releasd.toml");
                std::fs::write(&path, text).map_err(|e| StartError {
                    status: None,
                    stderr: String::new(),
                    reason: format!("cannot write {}: {e}", path.display()),
                })?;
                Some(path)
            }
            None => None,
        };
        let mut d = TestDaemon {
            dir,
            socket,
            data_dir,
            config,
            extra_args: extra_args.iter().map(Into::into).collect(),
            child: None,
            ready_line: String::new(),
        };
        d.spawn()?;
        Ok(d)
    }

    /// The command line this daemon runs with (without `--foreground`), for tests that start
    /// a second daemon on the same socket or data dir by hand.
    pub fn args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--socket".into(),
            self.socket.clone().into(),
            "--data-dir".into(),
            self.data_dir.clone().into(),
        ];
        if let Some(c) = &self.config {
            args.push("--config".into());
            args.push(c.clone().into());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("releasd.stderr")
    }

    fn spawn(&mut self) -> Result<(), StartError> {
        let fail = |reason: String, status: Option<ExitStatus>, this: &TestDaemon| StartError {
            status,
            stderr: this.stderr_log(),
            reason,
        };
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .map_err(|e| fail(format!("cannot open the stderr log: {e}"), None, self))?;
        let mut child = Command::new(bin("releasd"))
            .arg("--foreground")
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| fail(format!("cannot spawn releasd: {e}"), None, self))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail("no stdout pipe".into(), None, self));
        };
        // A thread reads stdout so that the wait has a deadline; it keeps draining after the
        // ready line so the daemon never blocks on (or fails writing to) a full pipe.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("releasd ready ") => {
                    self.ready_line = line;
                    self.child = Some(child);
                    return Ok(());
                }
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the daemon exited (or closed it) without being ready.
                    let status = wait_deadline(&mut child, Duration::from_secs(10));
                    if status.is_none() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    return Err(fail(
                        "it closed stdout without printing its ready line".into(),
                        status,
                        self,
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(
                        format!("no ready line within {READY_DEADLINE:?}"),
                        None,
                        self,
                    ));
                }
            }
        }
    }

    /// Stop the daemon if it still runs (SIGTERM, then wait) and start it again on the same
    /// socket and data dir.
    ///
    /// # Panics
    /// If it does not become ready again.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
        self.spawn().unwrap_or_else(|e| panic!("restart: {e}"));
    }

    /// SIGKILL the daemon and reap it. Leaves the socket file behind, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM the daemon and wait for it to exit; returns its exit status.
    ///
    /// # Panics
    /// If the daemon is not running, or does not exit within a minute (then it is killed).
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal_and_wait(Signal::SIGTERM)
    }

    /// Send `sig` (e.g. SIGINT) and wait for the exit; returns the exit status.
    ///
    /// # Panics
    /// If the daemon is not running, or does not exit within a minute (then it is killed).
    pub fn signal_and_wait(&mut self, sig: Signal) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .expect("rel-testkit: the daemon is not running");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits in i32"));
        let _ = kill(pid, sig);
        match wait_deadline(&mut child, Duration::from_secs(60)) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "rel-testkit: releasd did not exit within 60s of {sig}\n{}",
                    self.stderr_log()
                );
            }
        }
    }

    /// Wait for a daemon that was asked to stop some other way (e.g. `relctl daemon stop`);
    /// returns its exit status.
    ///
    /// # Panics
    /// If the daemon is not running, or does not exit within a minute (then it is killed).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .expect("rel-testkit: the daemon is not running");
        match wait_deadline(&mut child, Duration::from_secs(60)) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "rel-testkit: releasd did not exit within 60s\n{}",
                    self.stderr_log()
                );
            }
        }
    }

    /// The pid of the running daemon.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The temp dir holding socket dir, data dir, config and the stderr log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `releasd ready socket=… data_dir=… pid=…` line of the current run.
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    /// Everything the daemon wrote to stderr so far (all runs).
    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// `relctl --socket SOCKET` (add a subcommand and its arguments).
    pub fn relctl(&self) -> Command {
        let mut cmd = Command::new(bin("relctl"));
        cmd.arg("--socket").arg(&self.socket);
        cmd
    }

    /// Environment variables that point a program at this daemon without flags (relui).
    pub fn env_vars(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("RELEASD_SOCKET", self.socket.clone()),
            ("RELEASD_DATA_DIR", self.data_dir.clone()),
        ]
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A temp dir whose socket path stays well under the 108-byte `sun_path` limit.
fn make_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rel-test-")
        .tempdir()
        .expect("create a temp dir");
    if dir.path().as_os_str().len() <= 70 {
        return dir;
    }
    tempfile::Builder::new()
        .prefix("rel-test-")
        .tempdir_in("/tmp")
        .expect("create a temp dir in /tmp")
}

/// Wait for `child` to exit, polling until `limit` (a deadline on a condition, not a sleep
/// standing in for synchronisation).
pub fn wait_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

/// Poll `cond` every few milliseconds until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
