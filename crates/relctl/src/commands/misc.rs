//! `relctl status | watch | audit [verify] | export | import | completions`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use clap::CommandFactory;
use rel_domain::RelError;
use rel_proto::{Request, Response};

use crate::cli::{AuditArgs, AuditCmd, Cli};
use crate::session::{Session, out};
use crate::{json, reply, table};

pub async fn status(s: &Session) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let open_requests = async {
        let fetch = async |before_id, limit: usize| {
            let req = Request::Requests {
                env: None,
                all: false,
                limit: limit as u64,
                before_id,
            };
            Ok(reply!(conn, req, Response::Requests(l) => l))
        };
        crate::paging::collect(0, fetch, |r| r.id).await
    };
    let (st, envs, open) = tokio::join!(
        conn.call(Request::Status),
        conn.call(Request::EnvList),
        open_requests
    );
    // Status must answer even where requests cannot be listed (an older daemon): no line then.
    let open = open.ok().map(|l| l.len());
    let st = match st? {
        Response::Status(st) => st,
        other => return Err(crate::session::unexpected(&other)),
    };
    let envs = match envs? {
        Response::Environments(l) => l,
        other => return Err(crate::session::unexpected(&other)),
    };
    s.show(
        || table::status(&st, &envs, open, s.ctx),
        || json::status(&st, &envs, open, s.ctx.now),
    )
}

/// `relctl daemon stop`: ask releasd to stop (admin only) and wait until its socket is gone,
/// so a script can start another right after.
pub async fn daemon_stop(s: &Session) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let pid = reply!(conn, Request::Status, Response::Status(st) => st.pid);
    reply!(conn, Request::DaemonStop, Response::Done => ());
    drop(conn);
    let deadline = std::time::Instant::now() + STOP_DEADLINE;
    while s.socket.exists() {
        if std::time::Instant::now() >= deadline {
            return Err(RelError::unavailable(format!(
                "releasd (pid {pid}) is still finishing its work after {}s; its socket {} is still there. Check its log, or wait and run relctl status",
                STOP_DEADLINE.as_secs(),
                s.socket.display()
            ))
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The socket goes first; the data dir's lock is released only when the process exits.
    // Wait for that too, so `relctl daemon stop && releasd` never finds the dir still taken.
    while process_running(pid) {
        if std::time::Instant::now() >= deadline {
            return Err(RelError::unavailable(format!(
                "releasd (pid {pid}) removed its socket but is still running after {}s (closing its store). Check its log, or wait and check with: ps -p {pid}",
                STOP_DEADLINE.as_secs()
            ))
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.show(
        || format!("releasd (pid {pid}) stopped; {} is gone\n", s.socket.display()),
        || serde_json::json!({ "stopped": true, "pid": pid, "socket": s.socket.display().to_string() }),
    )
}

/// Whether process `pid` still runs (Linux `/proc`; a zombie has exited). Where there is no
/// `/proc`, or the daemon runs in another pid namespace, this says no and the socket is the
/// only signal.
fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last ')' (comm may contain one).
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| !matches!(state, 'Z' | 'X')),
        Err(_) => false,
    }
}

/// In-flight requests finish before the daemon exits; a verify can take a while.
const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// One JSON object per event per line, flushed as it arrives, until the daemon goes away.
pub async fn watch(s: &Session, since: Option<u64>) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    // Without --since, ask from a seq past the end: the daemon answers first with `Lagged`
    // at the store's newest seq and continues live from there without a gap (the same as
    // "live from now"), so the resume hint below has a true seq even if no event came.
    let mut events = conn
        .client
        .subscribe_since(Some(since.unwrap_or(u64::MAX)))
        .await?;
    let mut last_seen = since;
    // That first answer is awaited before the ready line, so from then on the resume seq is
    // known (a daemon gone a moment later still gets a true `--since`).
    let mut first = None;
    if since.is_none() {
        match events.next_seq().await {
            Some((Some(newest), rel_proto::Event::Lagged { missed: 0 })) => {
                last_seen = Some(newest)
            }
            other => first = other,
        }
    }
    // On stderr, so stdout stays pure JSON lines; scripts can wait for it as a ready signal.
    eprintln!(
        "watching releasd at {}: one JSON object per event (Ctrl-C to stop)",
        s.socket.display()
    );
    // Ctrl-C is how a watch normally ends: say where to resume, like a lost daemon does.
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let next = match first.take() {
            Some(e) => Some(e),
            None => tokio::select! {
                next = events.next_seq() => next,
                _ = &mut interrupted => {
                    if let Some(seq) = last_seen {
                        eprintln!(
                            "stopped; to go on from here later: relctl watch --since {seq} (it replays every event after {seq} first)"
                        );
                    }
                    return Ok(());
                }
            },
        };
        let Some((seq, event)) = next else { break };
        if let (Some(asked), Some(seq), rel_proto::Event::Lagged { .. }) = (since, seq, &event)
            && seq < asked
        {
            eprintln!(
                "note: the newest event is {seq}, before --since {asked}: this store was imported or replaced since you last watched; going on from {seq} (check its state: relctl status)"
            );
        }
        last_seen = seq.or(last_seen);
        let mut line = json::line(&json::SeqEventJson {
            seq,
            event: json::event(&event),
        });
        line.push('\n');
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {}
            // The reader went away (`relctl watch | head -1`): done.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(anyhow::Error::new(e).context("cannot write to stdout")),
        }
    }
    let why = format!(
        "the event stream from releasd at {} ended (the daemon stopped or closed the connection)",
        s.socket.display()
    );
    Err(RelError::unavailable(match last_seen {
        Some(seq) => format!(
            "{why}; once it runs again (start it with releasd), resume with relctl watch --since {seq}: \
             it replays every event after {seq} first, so nothing in between is missed"
        ),
        // Only if the daemon never said where the store was.
        None => format!(
            "{why}; once it runs again (start it with releasd), relctl watch shows events from \
             then on (what happened in between: relctl audit)"
        ),
    })
    .into())
}

pub async fn audit(s: &Session, args: AuditArgs) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    match args.command {
        None => {
            let fetch = async |before_seq, limit: usize| {
                let req = Request::Audit {
                    limit: limit as u64,
                    before_seq,
                };
                Ok(reply!(conn, req, Response::Audit(l) => l))
            };
            let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
            let (list, more) = crate::paging::collect_more(limit, fetch, |a| a.seq).await?;
            s.show(|| table::audit(&list, s.ctx), || json::audit(&list))?;
            s.more_note(more, list.len(), true)
        }
        Some(AuditCmd::Verify) => {
            let r = reply!(conn, Request::AuditVerify, Response::AuditReport(r) => r);
            if r.ok {
                return s.show(|| table::audit_report(&r), || json::audit_report(&r));
            }
            // Broken: the report on stdout for scripts (JSON), the error on stderr, exit 1.
            if s.json() {
                out(&format!("{}\n", json::pretty(&json::audit_report(&r))))?;
            }
            Err(RelError::internal(table::audit_report(&r).trim_end().to_string()).into())
        }
    }
}

/// Pieces of the file sent per `ImportChunk`: well inside a frame.
const IMPORT_CHUNK: usize = 1024 * 1024;

pub async fn export(s: &Session, file: &Path, force: bool) -> anyhow::Result<()> {
    let to_stdout = file.as_os_str() == "-";
    if !to_stdout && !force && file.exists() {
        return Err(RelError::conflict(format!(
            "{} exists; export never overwrites a file unless told to: pass --force to replace it, or choose another name",
            file.display()
        ))
        .into());
    }
    let conn = s.connect().await?;
    // Write beside the target and rename, so an interrupted export never leaves half a dump.
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let cannot_write = |e: std::io::Error| {
        RelError::invalid(format!(
            "cannot write {}: {e}; check the directory exists and is writable",
            file.display()
        ))
    };
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(
            // 0600: the dump holds the audit log and token hashes.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&partial)
                .map_err(cannot_write)?,
        ))
    };
    // The export streams in pieces: any store size, bounded memory on both sides.
    let mut pieces = conn.client.call_stream(Request::ExportStream).await?;
    let mut bytes = 0usize;
    let streamed = async {
        loop {
            match pieces.next().await? {
                Response::Export { dump } => {
                    bytes += dump.len();
                    match sink.write_all(dump.as_bytes()) {
                        Ok(()) => {}
                        Err(e) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => {
                            return Ok(());
                        }
                        Err(e) => return Err(cannot_write(e).into()),
                    }
                }
                Response::Done => return Ok(()),
                other => return Err(crate::session::unexpected(&other)),
            }
        }
    };
    let result: anyhow::Result<()> = streamed.await;
    let flushed = sink.flush();
    drop(sink);
    if let Err(e) = result {
        if !to_stdout {
            let _ = std::fs::remove_file(&partial);
        }
        return Err(e);
    }
    if to_stdout {
        return Ok(());
    }
    flushed
        .and_then(|()| std::fs::rename(&partial, file))
        .map_err(cannot_write)?;
    let name = file.display().to_string();
    s.show(
        || format!("exported the store to {name} ({bytes} bytes)\nmove it with: relctl import {name} (into a daemon with no releases)\n"),
        || json::ExportJson { file: name.clone(), bytes },
    )
}

pub async fn import(s: &Session, file: &Path) -> anyhow::Result<()> {
    let mut input: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| {
            RelError::invalid(format!(
                "cannot read {}: {e}; check the path",
                file.display()
            ))
        })?)
    };
    let conn = s.connect().await?;
    // In pieces on one connection; the daemon imports them all at once on commit.
    let mut buf = vec![0u8; IMPORT_CHUNK];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| RelError::invalid(format!("cannot read {}: {e}", file.display())))?;
        carry.extend_from_slice(&buf[..n]);
        if carry.is_empty() {
            break;
        }
        let valid = match std::str::from_utf8(&carry) {
            Ok(_) => carry.len(),
            Err(e) if e.error_len().is_none() && n > 0 => e.valid_up_to(),
            Err(e) => {
                return Err(RelError::invalid(format!(
                    "{} is not a rel export: it is not UTF-8 text ({e})",
                    file.display()
                ))
                .into());
            }
        };
        let rest = carry.split_off(valid);
        let data = String::from_utf8(std::mem::replace(&mut carry, rest)).unwrap_or_default();
        reply!(conn, Request::ImportChunk { data }, Response::Done => ());
        if n == 0 && carry.is_empty() {
            break;
        }
    }
    let st = reply!(conn, Request::ImportCommit, Response::Imported(st) => st);
    s.show(
        || format!("imported {}: {}", file.display(), table::store(&st)),
        || json::store(&st),
    )
}

/// `relctl man DIR`: relctl.1 plus relctl-SUB.1 for every subcommand (and their own
/// subcommands), generated from the same clap definitions as `--help`.
pub fn man(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RelError::invalid(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    write_pages(Cli::command(), "relctl", dir, &mut written)?;
    out(&format!(
        "wrote {} man pages to {}\n",
        written.len(),
        dir.display()
    ))
}

fn write_pages(
    cmd: clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<()> {
    // The page name (relctl-release-list) and the command line as typed (relctl release list).
    let cmd = cmd
        .display_name(name.to_string())
        .bin_name(name.replace('-', " "));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(sub.clone(), &sub_name, dir, written)?;
    }
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| RelError::internal(format!("cannot render {name}.1: {e}")))?;
    std::fs::write(&path, buf)
        .map_err(|e| RelError::invalid(format!("cannot write {}: {e}", path.display())))?;
    written.push(path);
    Ok(())
}

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "relctl", &mut buf);
    out(&String::from_utf8_lossy(&buf))
}

#[cfg(test)]
mod tests {
    #[test]
    fn man_pages_for_every_visible_command() {
        let dir = std::env::temp_dir().join(format!("relctl-man-{}", std::process::id()));
        super::man(&dir).expect("man pages");
        for page in ["relctl.1", "relctl-daemon-stop.1", "relctl-release-list.1"] {
            let text = std::fs::read_to_string(dir.join(page)).expect(page);
            assert!(text.contains(".SH SYNOPSIS"), "{page}: {text}");
        }
        let list = std::fs::read_to_string(dir.join("relctl-release-list.1")).expect("page");
        assert!(list.contains("relctl release list"), "{list}");
        // `man` is listed in --help (packagers look there), so it has a page like the rest.
        assert!(dir.join("relctl-man.1").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
