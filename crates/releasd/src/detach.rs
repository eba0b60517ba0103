//! Backgrounding without `unsafe`: re-run this binary with `--foreground` in its own process
//! group, stdin from /dev/null, stderr appended to `DATA_DIR/releasd.log`, and wait for its
//! ready line on a pipe. Then say where it runs and exit, or show why it did not start.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{Cli, absolute};

/// How long the child may take to become ready (opening a large store can take a while).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub const LOG_FILE: &str = "releasd.log";

/// A detached daemon that is serving.
pub struct Started {
    /// Where it runs: for stdout (relui reads it).
    pub message: String,
    /// What it warned about while starting (a misspelt `[roles]` entry, a low fd limit),
    /// which would otherwise sit unseen in its log: for stderr.
    pub warnings: Vec<String>,
}

/// Start the daemon in the background.
pub fn run(cli: &Cli) -> anyhow::Result<Started> {
    let data_dir = absolute(cli.data_dir_path());
    let created = crate::datadir::missing_dirs(&data_dir);
    let result = start(cli, &data_dir);
    if result.is_err() && !created.is_empty() {
        // A failed start in a data dir made just now: its log holds only the error, which
        // the message shows; remove both so nothing is left behind.
        let _ = std::fs::remove_file(data_dir.join(LOG_FILE));
        crate::datadir::remove_if_empty(&created);
    }
    result
}

fn start(cli: &Cli, data_dir: &Path) -> anyhow::Result<Started> {
    let socket = absolute(cli.socket_path());
    crate::datadir::create(data_dir)?;
    let log_path = data_dir.join(LOG_FILE);
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open the log file {}", log_path.display()))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);

    let exe = std::env::current_exe().context("cannot find the releasd executable to start")?;
    let mut cmd = Command::new(exe);
    cmd.arg("--foreground")
        .arg("--socket")
        .arg(&socket)
        .arg("--data-dir")
        .arg(data_dir);
    if let Some(c) = &cli.config {
        cmd.arg("--config").arg(absolute(c.clone()));
    }
    // Every other flag as given (--store, --http, limits, --etcd-*…): the background daemon
    // must be the one the command line asked for, not a default one on the same socket.
    cmd.args(passed_through(std::env::args_os().skip(1)));
    let mut child = cmd
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        // Its own process group: a Ctrl-C or hangup aimed at this terminal's foreground job
        // does not reach the daemon.
        .process_group(0)
        .spawn()
        .context("cannot start the releasd daemon process")?;
    let stdout = child
        .stdout
        .take()
        .context("no pipe to the daemon process")?;

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let received = rx.recv_timeout(READY_TIMEOUT);
    let timed_out = received.is_err();
    let line = received.unwrap_or_default();
    if line.starts_with("releasd ready ") {
        // The child's line ends with ` http=ADDR` when it serves HTTP (the real port for :0).
        let http = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http="))
            .map(|a| format!(", HTTP on http://{a}"))
            .unwrap_or_default();
        let message = format!(
            "releasd started (pid {}) on {}{http}\n  data dir: {}\n  log:      {}",
            child.id(),
            socket.display(),
            data_dir.display(),
            log_path.display()
        );
        return Ok(Started {
            message,
            warnings: warnings_since(&log_path, log_start),
        });
    }
    // Not ready: it exited (say why, from its log) or hangs (stop it). A child that closed
    // its stdout without the ready line is exiting: give it a moment to be reaped, so an
    // instant failure is never reported as the ready timeout.
    let status = if timed_out {
        None
    } else {
        wait_briefly(&mut child)
    };
    let status = match status {
        Some(s) => Some(s),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    let tail = log_since(&log_path, log_start);
    match status {
        // main prefixes "releasd: ": no need to say it twice.
        Some(s) => bail!("did not start ({s}); its log says:\n{tail}"),
        None => bail!(
            "did not become ready within {READY_TIMEOUT:?} and was stopped; its log says:\n{tail}"
        ),
    }
}

/// Flags set here for the child, with their values: left out of what passes through.
const SET_HERE: [&str; 3] = ["--socket", "--data-dir", "--config"];
/// Flags whose value is a path: made absolute, since the child runs in `/`.
const PATH_FLAGS: [&str; 4] = [
    "--etcd-cacert",
    "--etcd-cert",
    "--etcd-key",
    "--etcd-password-file",
];

/// The command line's flags for the child: all of them but [`SET_HERE`], with the paths
/// of [`PATH_FLAGS`] made absolute. Handles both `--flag VALUE` and `--flag=VALUE`.
fn passed_through(mut args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (text.clone(), None),
        };
        if SET_HERE.contains(&flag.as_str()) {
            if inline.is_none() {
                args.next();
            }
            continue;
        }
        if PATH_FLAGS.contains(&flag.as_str()) {
            let value = match inline {
                Some(v) => Some(OsString::from(v)),
                None => args.next(),
            };
            out.push(OsString::from(&flag));
            if let Some(v) = value {
                out.push(absolute(PathBuf::from(v)).into_os_string());
            }
            continue;
        }
        out.push(arg);
    }
    out
}

/// The exit status of a child that is exiting, waiting at most a few seconds.
fn wait_briefly(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => return None,
        }
    }
}

/// The WARN lines the child logged after `start`, without timestamp, level and target.
fn warnings_since(path: &Path, start: u64) -> Vec<String> {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.seek(SeekFrom::Start(start));
        let _ = f.read_to_string(&mut text);
    }
    text.lines()
        .filter_map(|l| l.split_once(" WARN ").map(|(_, rest)| rest.trim()))
        .map(|rest| match rest.split_once(": ") {
            Some((target, msg)) if !target.contains(' ') => msg.to_string(),
            _ => rest.to_string(),
        })
        .collect()
}

/// What the child wrote to the log after `start` (its error), at most the last 40 lines.
/// Informational lines are left out: the reason it stopped is what the reader needs, and on
/// a small terminal (relui shows this) it must not be pushed out by start-up chatter.
fn log_since(path: &Path, start: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.seek(SeekFrom::Start(start));
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(" INFO ") && !l.contains(" DEBUG "))
        .collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    if tail.is_empty() {
        format!("(nothing in {})", path.display())
    } else {
        tail.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn every_flag_passes_but_the_ones_set_here_and_paths_become_absolute() {
        let given = os(&[
            "--store",
            "etcd://127.0.0.1:2379/rel",
            "--socket",
            "rel.sock",
            "--data-dir=data",
            "--workers",
            "3",
            "--config",
            "c.toml",
            "--etcd-cacert",
            "ca.pem",
            "--etcd-key=/abs/key.pem",
            "--http",
            "127.0.0.1:0",
        ]);
        let got = passed_through(given.into_iter());
        let cwd = std::env::current_dir().expect("cwd");
        let mut want = os(&["--store", "etcd://127.0.0.1:2379/rel", "--workers", "3"]);
        want.push("--etcd-cacert".into());
        want.push(cwd.join("ca.pem").into_os_string());
        want.extend(os(&["--etcd-key", "/abs/key.pem", "--http", "127.0.0.1:0"]));
        assert_eq!(got, want);
    }
}
