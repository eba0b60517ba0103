//! Socket lifecycle (§4.1, §6): a private directory, an owner-only (or group) socket, a stale
//! socket replaced, a live one left alone.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, Stream, prelude::*};
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use nix::unistd::{Gid, Uid};
use rel_proto::codec::{frame, read_frame};
use rel_proto::{ClientFrame, Hello, PROTOCOL_VERSION, ServerFrame};
use tokio::io::AsyncWriteExt;

/// Who besides the owner may reach the socket.
#[derive(Debug, Clone, Default)]
pub struct SocketPolicy {
    /// Group-accessible (dir 0750, socket 0660) for this group.
    pub group: Option<(String, Gid)>,
}

impl SocketPolicy {
    fn dir_mode(&self) -> u32 {
        if self.group.is_some() { 0o750 } else { 0o700 }
    }
    fn socket_mode(&self) -> u32 {
        if self.group.is_some() { 0o660 } else { 0o600 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("another releasd (pid {pid}) is already serving {}; stop it first (`kill {pid}`) or choose another --socket", path.display())]
    LiveWithPid { path: PathBuf, pid: u32 },
    #[error("another releasd is already serving {} (it did not say its pid); stop it first or choose another --socket", path.display())]
    Live { path: PathBuf },
    #[error("{} exists and is not a socket; move it away or choose another --socket", path.display())]
    NotASocket { path: PathBuf },
    #[error("socket directory {} is owned by uid {owner}, not by this user (uid {me}); remove it or choose another --socket", path.display())]
    ForeignDir { path: PathBuf, owner: u32, me: u32 },
    #[error("{} is not a directory, so the socket cannot go there; choose a --socket path inside a directory", path.display())]
    NotADir { path: PathBuf },
    #[error("socket directory {} (mode {mode:o}) can be written by other users and has no sticky bit, so they could replace the socket; choose a --socket in a directory only you can write to (or `chmod +t` it)", path.display())]
    ReplaceableDir { path: PathBuf, mode: u32 },
    // `error`, not `source`: the message already shows it, and anyhow's `{:#}` would repeat it.
    #[error("socket directory {dir} (mode {mode:o}, group id {gid}) does not let members of the [socket] group {group} reach the socket, and it is not releasd's to change; run `chgrp {group} {dir} && chmod 0750 {dir}` (as its owner or root), or choose a --socket in a directory of releasd's own", dir = path.display())]
    GroupBlocked {
        path: PathBuf,
        mode: u32,
        gid: u32,
        group: String,
    },
    #[error("cannot prepare socket directory {}: {error}", path.display())]
    Dir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot bind {}: {error}", path.display())]
    Bind {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("socket path {} is not usable: {reason}", path.display())]
    BadPath { path: PathBuf, reason: String },
}

/// What is at the socket path now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Missing,
    /// A socket file nobody listens on (a daemon died without cleaning up).
    Stale,
    /// A daemon answered; its pid if it let us in.
    Live(Option<u32>),
}

/// Make sure the socket's directory exists and is safe to put the socket in.
///
/// A directory releasd creates gets the policy's mode (0700, or 0750 group-owned). An existing
/// directory is never re-permissioned — it may be shared (`/tmp`, a project dir, the cwd) —
/// except releasd's own default directory ([`is_dedicated_dir`]), which is tightened when it
/// grants group/other more than the policy does, and a directory of ours that the `[socket]`
/// group cannot enter: opened to it (0750) if it is releasd's (the default one, or holding
/// only sockets), refused naming the fix otherwise. What guards access is the socket file's own
/// mode (0600/0660: connecting needs write permission on it). An existing directory in which
/// someone else could replace the socket is refused.
pub fn prepare_dir(dir: &Path, policy: &SocketPolicy) -> Result<(), SocketError> {
    let derr = |error| SocketError::Dir {
        path: dir.to_path_buf(),
        error,
    };
    if let Some(file) = first_non_dir_ancestor(dir) {
        return Err(SocketError::NotADir { path: file });
    }
    let want = policy.dir_mode();
    let created = match std::fs::DirBuilder::new().mode(want).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Missing parents: create them like `mkdir -p` (umask applies to them); only the
            // socket's own directory gets the policy's mode.
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent).map_err(derr)?;
            }
            match std::fs::DirBuilder::new().mode(want).create(dir) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(derr(e)),
            }
        }
        Err(e) => return Err(derr(e)),
    };
    let meta = std::fs::metadata(dir).map_err(derr)?;
    if !meta.is_dir() {
        return Err(SocketError::NotADir {
            path: dir.to_path_buf(),
        });
    }
    let me = Uid::effective().as_raw();
    let mode = meta.permissions().mode() & 0o7777;
    if created {
        if let Some((_, gid)) = &policy.group {
            nix::unistd::chown(dir, None, Some(*gid)).map_err(|e| derr(e.into()))?;
        }
        // The mode given to mkdir was filtered through the umask; set it exactly.
        if mode & 0o777 != want {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(want)).map_err(derr)?;
        }
        return Ok(());
    }
    // Our own default directory: nobody else should own it (a squatter could have made it
    // to intercept clients).
    if is_dedicated_dir(dir) && meta.uid() != me {
        return Err(SocketError::ForeignDir {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if let Some((group, gid)) = &policy.group
        && !group_may_enter(&meta, *gid)
    {
        // Made private by an earlier start without the group (or by hand): members would be
        // refused at the directory although the socket is theirs to open.
        let ours = meta.uid() == me && (is_dedicated_dir(dir) || holds_only_sockets(dir));
        if !ours {
            return Err(SocketError::GroupBlocked {
                path: dir.to_path_buf(),
                mode: mode & 0o777,
                gid: meta.gid(),
                group: group.clone(),
            });
        }
        tracing::warn!(dir = %dir.display(), from = format!("{:o}", mode & 0o777), group = %group, "opening the socket directory to the [socket] group (mode 750)");
        nix::unistd::chown(dir, None, Some(*gid)).map_err(|e| derr(e.into()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(want)).map_err(derr)?;
        return Ok(());
    }
    if is_dedicated_dir(dir) {
        // Ours (checked above): it should not be wider than configured.
        if let Some((_, gid)) = &policy.group {
            nix::unistd::chown(dir, None, Some(*gid)).map_err(|e| derr(e.into()))?;
        }
        if mode & 0o077 & !want != 0 {
            tracing::info!(dir = %dir.display(), from = format!("{:o}", mode & 0o777), to = format!("{want:o}"), "tightening the default socket directory");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(want)).map_err(derr)?;
        }
        return Ok(());
    }
    // Someone who may write to a directory without the sticky bit may delete our socket and
    // put theirs in its place, and clients would talk to them.
    let sticky = mode & 0o1000 != 0;
    let others_write = if meta.uid() == me {
        // Our own dir: a group-writable one is usually our private group (umask 002).
        mode & 0o002 != 0
    } else {
        mode & 0o022 != 0
    };
    if others_write && !sticky {
        return Err(SocketError::ReplaceableDir {
            path: dir.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

/// May members of `gid` pass through this directory (search permission)?
fn group_may_enter(meta: &std::fs::Metadata, gid: Gid) -> bool {
    let mode = meta.mode();
    mode & 0o001 != 0 || (meta.gid() == gid.as_raw() && mode & 0o010 != 0)
}

/// A directory with nothing in it but sockets (an earlier releasd's, stale or not): one
/// releasd made for its socket, so it may re-permission it. Anything else may be someone's.
fn holds_only_sockets(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .into_iter()
        .all(|e| e.and_then(|e| e.file_type()).is_ok_and(|t| t.is_socket()))
}

/// The directory releasd uses by default (§4.1), which it may tighten:
/// `$XDG_RUNTIME_DIR/releasd` or `/tmp/releasd-$UID`.
pub fn is_dedicated_dir(dir: &Path) -> bool {
    let mut dedicated = vec![
        PathBuf::from(format!("/tmp/releasd-{}", Uid::current().as_raw())),
        PathBuf::from(format!("/tmp/releasd-{}", Uid::effective().as_raw())),
    ];
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        dedicated.push(PathBuf::from(x).join("releasd"));
    }
    dedicated.iter().any(|d| d == dir)
}

/// The first of `dir` and its ancestors that exists but is not a directory, if any (then
/// mkdir would fail with a puzzling "File exists" / "Not a directory").
pub fn first_non_dir_ancestor(dir: &Path) -> Option<PathBuf> {
    for a in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => return None,
            Ok(_) => return Some(a.to_path_buf()),
            // ENOTDIR: an ancestor further up is a file; keep walking to name it.
            Err(_) => continue,
        }
    }
    None
}

/// Look at what is at `path`: nothing, a stale socket, or a live daemon.
pub async fn probe(path: &Path) -> Result<Probe, SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Missing),
        Err(source) => {
            return Err(SocketError::Dir {
                path: path.to_path_buf(),
                error: source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    let name = fs_name(path)?;
    match Stream::connect(name).await {
        Ok(stream) => Ok(Probe::Live(ask_pid(&stream).await)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(Probe::Stale),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Probe::Missing),
        Err(source) => Err(SocketError::Bind {
            path: path.to_path_buf(),
            error: source,
        }),
    }
}

/// Handshake with whoever listens and return its pid (from `Welcome`), if it tells.
async fn ask_pid(stream: &Stream) -> Option<u32> {
    let hello = ClientFrame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        client: "releasd (probe)".into(),
    });
    let bytes = frame(&hello).ok()?;
    let exchange = async {
        let mut w = stream;
        w.write_all(&bytes).await.ok()?;
        let mut r = stream;
        match read_frame::<_, ServerFrame>(&mut r).await {
            Ok(ServerFrame::Welcome(Ok(w))) => Some(w.pid),
            _ => None,
        }
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}

fn fs_name(path: &Path) -> Result<interprocess::local_socket::Name<'_>, SocketError> {
    path.to_fs_name::<GenericFilePath>()
        .map_err(|e| SocketError::BadPath {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Err if a daemon answers at `path` (naming its pid); otherwise what is there.
pub async fn refuse_live(path: &Path) -> Result<Probe, SocketError> {
    match probe(path).await? {
        Probe::Live(Some(pid)) => Err(SocketError::LiveWithPid {
            path: path.to_path_buf(),
            pid,
        }),
        Probe::Live(None) => Err(SocketError::Live {
            path: path.to_path_buf(),
        }),
        other => Ok(other),
    }
}

/// Everything that can refuse `path` before we bind: its length, its directory, a daemon
/// already answering there. Returns what is there (missing or a stale socket).
pub async fn check(path: &Path, policy: &SocketPolicy) -> Result<Probe, SocketError> {
    // sun_path is 108 bytes on Linux; say so instead of a cryptic EINVAL.
    if path.as_os_str().len() > 107 {
        return Err(SocketError::BadPath {
            path: path.to_path_buf(),
            reason: "longer than the 107 bytes a Unix socket path may have".into(),
        });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        prepare_dir(dir, policy)?;
    }
    refuse_live(path).await
}

/// Check (above), replace a stale socket, and bind with the policy's mode (applied before
/// `bind`, so there is no window with wider permissions).
pub async fn bind(path: &Path, policy: &SocketPolicy) -> Result<Listener, SocketError> {
    if check(path, policy).await? == Probe::Stale {
        tracing::warn!(socket = %path.display(), "replacing a stale socket left by a daemon that is gone");
        std::fs::remove_file(path).map_err(|source| SocketError::Bind {
            path: path.to_path_buf(),
            error: source,
        })?;
    }
    let listener = ListenerOptions::new()
        .name(fs_name(path)?)
        .mode(policy.socket_mode())
        .create_tokio()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                // Lost a race with another daemon starting at the same moment.
                SocketError::Live {
                    path: path.to_path_buf(),
                }
            } else {
                SocketError::Bind {
                    path: path.to_path_buf(),
                    error: source,
                }
            }
        })?;
    let berr = |source| SocketError::Bind {
        path: path.to_path_buf(),
        error: source,
    };
    if let Some((_, gid)) = &policy.group {
        nix::unistd::chown(path, None, Some(*gid)).map_err(|e| berr(e.into()))?;
    }
    // The mode set before bind() is still filtered through the umask (022 turns 0660 into
    // 0640); set it exactly. Until then it is narrower than asked, never wider.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(policy.socket_mode()))
        .map_err(berr)?;
    Ok(listener)
}
