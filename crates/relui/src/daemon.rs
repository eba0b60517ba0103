//! The connection to `releasd`: connect, subscribe, forward events; when the daemon goes
//! away, say so and reconnect with backoff. With no daemon at start, start one (detached);
//! when the one relui started goes away, start it again by itself (with the same backoff).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rel_domain::{ErrorCode, Timestamp};
use rel_proto::{Client, ClientError};
use tokio::sync::{mpsc, watch};

use crate::msg::Msg;

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a starting daemon may take to say it is ready (it exits 0 once it is).
const START_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    /// Start a daemon when none answers at the first attempt.
    pub autostart: bool,
    pub client_name: String,
}

/// The client shared with the tasks that run requests; `None` while disconnected.
pub type Current = watch::Sender<Option<Arc<Client>>>;

pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// Runs until the receiver of `tx` is gone. `start` asks it to start a daemon now (the
/// user pressed the key offered after the daemon went away).
pub async fn connection_loop(
    opts: Options,
    tx: mpsc::UnboundedSender<Msg>,
    current: Arc<Current>,
    mut start: mpsc::UnboundedReceiver<()>,
) {
    let mut backoff = BACKOFF_START;
    let mut first = true;
    let mut start_now = false;
    // The socket was stale at the first attempt: say why nothing was started at every retry.
    let mut stale = false;
    // The seq of the last event seen: a reconnect resumes right after it (the daemon replays
    // what was committed meanwhile, in order), so no event is missed or shown twice.
    let mut last_seq: Option<u64> = None;
    // The pid of the daemon this loop last started, and whether the one that went away was
    // that one: then relui starts it again itself (any other daemon's data dir and config are
    // unknown here, so only its owner may start it).
    let mut started_pid: Option<u32> = None;
    let mut restart_ours = false;
    loop {
        if start_now {
            start_now = false;
            match spawn_and_report(&opts, &tx, backoff).await {
                None => return,
                Some(pid) => started_pid = pid.or(started_pid),
            }
        }
        match Client::connect(&opts.socket, &opts.client_name).await {
            Ok(client) => {
                first = false;
                stale = false;
                // Ours only if it is the very daemon relui started (by pid): one its owner
                // started again on this socket meanwhile is theirs.
                restart_ours = started_pid.is_some_and(|p| p == client.welcome().pid);
                let client = Arc::new(client);
                let mut events = match client.subscribe_since(last_seq).await {
                    Ok(s) => s,
                    Err(e) => {
                        if report(
                            &tx,
                            format!(
                                "connected to releasd but could not subscribe to its events: {e}"
                            ),
                            backoff,
                        ) {
                            return;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                };
                backoff = BACKOFF_START;
                current.send_replace(Some(client.clone()));
                if tx.send(Msg::Connected(client.welcome().clone())).is_err() {
                    return;
                }
                while let Some((seq, event)) = events.next_seq().await {
                    if let Some(seq) = seq.filter(|s| *s > 0) {
                        last_seq = Some(seq);
                    }
                    if tx.send(Msg::Event { event, at: now() }).is_err() {
                        return;
                    }
                }
                current.send_replace(None);
                tracing::info!("releasd connection lost");
                if report(
                    &tx,
                    format!(
                        "releasd went away (socket {}); reconnecting…",
                        opts.socket.display()
                    ),
                    backoff,
                ) {
                    return;
                }
            }
            // Someone else's socket (or theirs refusing us): never start a daemon there.
            Err(ClientError::Denied { reason, .. }) => {
                first = false;
                backoff = BACKOFF_MAX;
                if tx
                    .send(Msg::Denied {
                        reason,
                        by_daemon: false,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(ClientError::Rpc(e)) if e.code == ErrorCode::PermissionDenied => {
                first = false;
                backoff = BACKOFF_MAX;
                // The socket opened: the daemon itself refused this user (its roles).
                if tx
                    .send(Msg::Denied {
                        reason: e.message,
                        by_daemon: true,
                    })
                    .is_err()
                {
                    return;
                }
            }
            // A socket file nobody answers on: a daemon ran there and stopped without
            // cleaning up. Its data dir and config are unknown here, so a default daemon in
            // its place could serve an empty store on that socket: only `s` starts one.
            Err(ClientError::Unreachable { .. })
                if first && opts.autostart && opts.socket.exists() =>
            {
                first = false;
                stale = true;
                if report(&tx, stale_socket_text(&opts.socket), backoff) {
                    return;
                }
            }
            Err(ClientError::Unreachable { .. }) if first && opts.autostart => {
                first = false;
                match spawn_and_report(&opts, &tx, backoff).await {
                    None => return,
                    Some(pid) => started_pid = pid.or(started_pid),
                }
                continue;
            }
            // The daemon relui started was stopped on purpose: a graceful stop removes its
            // socket. Respect that (an upgrade, a backup of the data dir); `s` starts it.
            Err(ClientError::Unreachable { .. }) if restart_ours && !opts.socket.exists() => {
                restart_ours = false;
                let retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
                if tx.send(Msg::OursStopped { retry_in_ms }).is_err() {
                    return;
                }
            }
            // The daemon relui started died (kill -9 leaves its socket file: that one is
            // ours to replace). Start it again; if that fails, the next try waits the backoff.
            Err(ClientError::Unreachable { .. }) if restart_ours => {
                match spawn_and_report(&opts, &tx, backoff).await {
                    None => return,
                    Some(Some(pid)) => {
                        started_pid = Some(pid);
                        continue;
                    }
                    // Started, pid unknown; or it failed and the message says why.
                    Some(None) => {}
                }
            }
            Err(e) => {
                first = false;
                let reason = match e {
                    ClientError::Unreachable { .. } if stale => stale_socket_text(&opts.socket),
                    e => e.to_string(),
                };
                if report(&tx, reason, backoff) {
                    return;
                }
            }
        }
        // Wait for the retry, or start a daemon at once when asked to.
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            asked = start.recv() => match asked {
                Some(()) => start_now = true,
                // The app is gone.
                None => return,
            },
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Start a daemon and tell the app how it went: `None` when the app is gone, else the
/// started daemon's pid (`Some(None)` if it did not start or did not say).
async fn spawn_and_report(
    opts: &Options,
    tx: &mpsc::UnboundedSender<Msg>,
    backoff: Duration,
) -> Option<Option<u32>> {
    let program = releasd_program();
    tx.send(Msg::StartingDaemon {
        program: program.display().to_string(),
    })
    .ok()?;
    match start_daemon(&program, &opts.socket).await {
        Ok(started) => {
            let pid = started.pid;
            tx.send(Msg::DaemonStarted {
                pid,
                log: started.log,
            })
            .ok()?;
            Some(pid)
        }
        Err(e) => {
            // The reason stays on screen (the app keeps it until a connection succeeds)
            // instead of the bare "no socket there" of the retries.
            let retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
            tx.send(Msg::StartFailed {
                reason: e,
                retry_in_ms,
            })
            .ok()?;
            Some(None)
        }
    }
}

/// Why relui did not start a daemon on a stale socket, and what to do.
pub fn stale_socket_text(socket: &Path) -> String {
    format!(
        "no releasd answers at {}, but its socket is there: a daemon ran there and stopped without cleaning up. relui does not start a default one in its place (that one's data dir and config may differ): start it the way it was started, or press s to start a default releasd here",
        socket.display()
    )
}

/// Tell the app; true when it is gone.
fn report(tx: &mpsc::UnboundedSender<Msg>, reason: String, retry: Duration) -> bool {
    let retry_in_ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
    tx.send(Msg::Disconnected {
        reason,
        retry_in_ms,
    })
    .is_err()
}

/// `releasd` next to this executable, else the one on PATH.
pub fn releasd_program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("releasd")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("releasd"))
}

/// What a started daemon said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Started {
    pub pid: Option<u32>,
    pub log: Option<String>,
}

/// Read `releasd started (pid N) on SOCKET` and `  log: PATH` from releasd's own message.
pub fn parse_started(stdout: &str) -> Started {
    let pid = stdout
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.trim().parse().ok());
    let log = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("log:"))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    Started { pid, log }
}

/// Run `releasd --socket SOCKET` (it detaches itself, prints where it runs and exits 0 once
/// ready). Its stderr goes to a temporary file, quoted if it fails, so it never scribbles on
/// the UI; its stdout says the pid and the log file.
pub async fn start_daemon(program: &Path, socket: &Path) -> Result<Started, String> {
    let log = std::env::temp_dir().join(format!("relui-start-releasd-{}.log", std::process::id()));
    let stderr =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let spawned = tokio::process::Command::new(program)
        .arg("--socket")
        .arg(socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(false)
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&log);
            return Err(format!(
                "cannot run {}: {e}. Install releasd next to relui or on PATH, or start it yourself",
                program.display()
            ));
        }
    };
    let output = tokio::time::timeout(START_DEADLINE, child.wait_with_output()).await;
    let errors = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let tail = errors
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(" | ");
    match output {
        Ok(Ok(o)) if o.status.success() => Ok(parse_started(&String::from_utf8_lossy(&o.stdout))),
        Ok(Ok(o)) => Err(format!(
            "{} exited with {}: {tail}",
            program.display(),
            o.status
        )),
        Ok(Err(e)) => Err(format!("waiting for {}: {e}", program.display())),
        Err(_) => Err(format!(
            "{} did not report ready within {START_DEADLINE:?}",
            program.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pid_and_log_from_the_started_message() {
        let s = parse_started(
            "releasd started (pid 4242) on /tmp/x/releasd.sock\n  data dir: /d\n  log:      /d/releasd.log\n",
        );
        assert_eq!(s.pid, Some(4242));
        assert_eq!(s.log.as_deref(), Some("/d/releasd.log"));
        assert_eq!(parse_started(""), Started::default());
    }
}
