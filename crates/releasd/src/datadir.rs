//! The data dir: created owner-only, and locked so that one daemon serves it (§4.1). The lock
//! is an flock on `releasd.pid`, which also says who holds it; sled's own lock on the store
//! backs it up.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("another releasd{} is already using data dir {}; stop it first or choose another --data-dir", pid.map(|p| format!(" (pid {p})")).unwrap_or_default(), dir.display())]
    InUse { dir: PathBuf, pid: Option<u32> },
    #[error("--data-dir {}: {} is not a directory; choose a --data-dir that is a directory or does not exist yet", dir.display(), file.display())]
    NotADir { dir: PathBuf, file: PathBuf },
    // `error`, not `source`: the message shows it, and anyhow's `{:#}` would repeat it.
    #[error("cannot use data dir {}: {error}", dir.display())]
    Io { dir: PathBuf, error: std::io::Error },
}

/// Held for the daemon's lifetime; removes the pid file when dropped.
#[derive(Debug)]
pub struct DataDirLock {
    lock: Option<Flock<File>>,
    pid_file: PathBuf,
}

pub const PID_FILE: &str = "releasd.pid";

/// Create `dir` (0700) if needed.
pub fn create(dir: &Path) -> Result<(), DataDirError> {
    if let Some(file) = crate::socket::first_non_dir_ancestor(dir) {
        return Err(DataDirError::NotADir {
            dir: dir.to_path_buf(),
            file,
        });
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| DataDirError::Io {
            dir: dir.to_path_buf(),
            error,
        })
}

/// The directories `create(dir)` would make: `dir` and its missing ancestors, deepest first.
/// A start that fails removes those still empty, so a typo leaves nothing behind.
pub fn missing_dirs(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .take_while(|a| std::fs::symlink_metadata(a).is_err())
        .map(Path::to_path_buf)
        .collect()
}

/// Undo [`create`] after a failed start: remove the directories in `created` (from
/// [`missing_dirs`]) that are empty. `remove_dir` refuses a non-empty one, so nothing
/// written there is ever lost.
pub fn remove_if_empty(created: &[PathBuf]) {
    for d in created {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
    }
}

/// Create `dir` if needed, take its lock and write our pid.
pub fn lock(dir: &Path) -> Result<DataDirLock, DataDirError> {
    let io = |error| DataDirError::Io {
        dir: dir.to_path_buf(),
        error,
    };
    create(dir)?;
    let pid_file = dir.join(PID_FILE);
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&pid_file)
        .map_err(io)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(DataDirError::InUse {
                dir: dir.to_path_buf(),
                pid: text.trim().parse().ok(),
            });
        }
        Err((_, e)) => return Err(io(e.into())),
    };
    lock.set_len(0).map_err(io)?;
    lock.rewind().map_err(io)?;
    writeln!(&mut *lock, "{}", std::process::id()).map_err(io)?;
    lock.sync_all().map_err(io)?;
    Ok(DataDirLock {
        lock: Some(lock),
        pid_file,
    })
}

/// The pid written in `dir`'s pid file, if any.
pub fn read_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // Remove while still holding the lock, so no newcomer's fresh pid file is removed.
        let _ = std::fs::remove_file(&self.pid_file);
        drop(self.lock.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock(dir.path()).expect("first lock");
        assert_eq!(read_pid(dir.path()), Some(std::process::id()));
        match lock(dir.path()) {
            Err(DataDirError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("second lock: {other:?}"),
        }
        drop(held);
        assert!(!dir.path().join(PID_FILE).exists());
        let _again = lock(dir.path()).expect("lock after release");
    }
}
