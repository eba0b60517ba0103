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
    #[error("socket directory {} is owned by uid {owner}, not by this user (uid {me}); choose another --socket", path.display())]
    ForeignDir { path: PathBuf, owner: u32, me: u32 },
    #[error("cannot prepare socket directory {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot bind {}: {source}", path.display())]
    Bind {
        path: PathBuf,
        source: std::io::Error,
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

/// Create the socket's directory with the policy's mode; tighten it if it is ours but wider.
pub fn prepare_dir(dir: &Path, policy: &SocketPolicy) -> Result<(), SocketError> {
    let derr = |source| SocketError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    let want = policy.dir_mode();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(want)
        .create(dir)
        .map_err(derr)?;
    let meta = std::fs::metadata(dir).map_err(derr)?;
    let me = Uid::effective().as_raw();
    if meta.uid() != me {
        return Err(SocketError::ForeignDir {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if let Some((_, gid)) = &policy.group {
        nix::unistd::chown(dir, None, Some(*gid)).map_err(|e| derr(e.into()))?;
    }
    if meta.permissions().mode() & 0o777 != want {
        tracing::info!(dir = %dir.display(), from = format!("{:o}", meta.permissions().mode() & 0o777), to = format!("{want:o}"), "setting socket directory permissions");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(want)).map_err(derr)?;
    }
    Ok(())
}

/// Look at what is at `path`: nothing, a stale socket, or a live daemon.
pub async fn probe(path: &Path) -> Result<Probe, SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Missing),
        Err(source) => {
            return Err(SocketError::Dir {
                path: path.to_path_buf(),
                source,
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
            source,
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

/// Prepare the directory, replace a stale socket, refuse a live one, and bind with the
/// policy's mode (applied before `bind`, so there is no window with wider permissions).
pub async fn bind(path: &Path, policy: &SocketPolicy) -> Result<Listener, SocketError> {
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
    match probe(path).await? {
        Probe::Missing => {}
        Probe::Stale => {
            tracing::warn!(socket = %path.display(), "replacing a stale socket left by a daemon that is gone");
            std::fs::remove_file(path).map_err(|source| SocketError::Bind {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Probe::Live(Some(pid)) => {
            return Err(SocketError::LiveWithPid {
                path: path.to_path_buf(),
                pid,
            });
        }
        Probe::Live(None) => {
            return Err(SocketError::Live {
                path: path.to_path_buf(),
            });
        }
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
                    source,
                }
            }
        })?;
    let berr = |source| SocketError::Bind {
        path: path.to_path_buf(),
        source,
    };
    if let Some((_, gid)) = &policy.group {
        nix::unistd::chown(path, None, Some(*gid)).map_err(|e| berr(e.into()))?;
    }
    // The mode set before bind() is still filtered through the umask (022 turns 0660 into
    // 0640); set it exactly. The directory (0700/0750) keeps others out meanwhile.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(policy.socket_mode()))
        .map_err(berr)?;
    Ok(listener)
}
