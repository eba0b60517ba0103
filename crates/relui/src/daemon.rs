//! The connection to `releasd`: connect, subscribe, forward events; when the daemon goes
//! away, say so and reconnect with backoff. With no daemon at start, start one (detached).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rel_domain::Timestamp;
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

/// Runs until the receiver of `tx` is gone.
pub async fn connection_loop(opts: Options, tx: mpsc::UnboundedSender<Msg>, current: Arc<Current>) {
    let mut backoff = BACKOFF_START;
    let mut first = true;
    // The seq of the last event seen: a reconnect resumes right after it (the daemon replays
    // what was committed meanwhile, in order), so no event is missed or shown twice.
    let mut last_seq: Option<u64> = None;
    loop {
        match Client::connect(&opts.socket, &opts.client_name).await {
            Ok(client) => {
                first = false;
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
            Err(ClientError::Unreachable { .. }) if first && opts.autostart => {
                first = false;
                let program = releasd_program();
                if tx
                    .send(Msg::StartingDaemon {
                        program: program.display().to_string(),
                    })
                    .is_err()
                {
                    return;
                }
                match start_daemon(&program, &opts.socket).await {
                    Ok(()) => continue,
                    Err(e) => {
                        // The reason stays on screen (the app keeps it until a connection
                        // succeeds) instead of the bare "no socket there" of the retries.
                        let log = rel_proto::paths::default_data_dir().join("releasd.log");
                        let retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
                        let reason = format!("{e} (see {})", log.display());
                        if tx
                            .send(Msg::StartFailed {
                                reason,
                                retry_in_ms,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            Err(e) => {
                first = false;
                if report(&tx, e.to_string(), backoff) {
                    return;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
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

/// Run `releasd --socket SOCKET` (it detaches itself and exits 0 once ready). Its stderr
/// goes to a temporary file, quoted if it fails, so it never scribbles on the UI.
pub async fn start_daemon(program: &Path, socket: &Path) -> Result<(), String> {
    let log = std::env::temp_dir().join(format!("relui-start-releasd-{}.log", std::process::id()));
    let stderr =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let spawned = tokio::process::Command::new(program)
        .arg("--socket")
        .arg(socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .kill_on_drop(false)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&log);
            return Err(format!(
                "cannot run {}: {e}. Install releasd next to relui or on PATH, or start it yourself",
                program.display()
            ));
        }
    };
    let status = tokio::time::timeout(START_DEADLINE, child.wait()).await;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let tail = output
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(" | ");
    match status {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(format!("{} exited with {s}: {tail}", program.display())),
        Ok(Err(e)) => Err(format!("waiting for {}: {e}", program.display())),
        Err(_) => Err(format!(
            "{} did not report ready within {START_DEADLINE:?}",
            program.display()
        )),
    }
}
