//! Where the socket and the data live by default (§4.1). Shared by the daemon and clients so
//! they always agree.

use std::path::PathBuf;

/// `$RELEASD_SOCKET`, else `$XDG_RUNTIME_DIR/releasd/releasd.sock`, else
/// `/tmp/releasd-$UID/releasd.sock`.
pub fn default_socket() -> PathBuf {
    if let Some(p) = std::env::var_os("RELEASD_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(dir).join("releasd").join("releasd.sock");
    }
    PathBuf::from(format!("/tmp/releasd-{}", nix_uid())).join("releasd.sock")
}

/// `$RELEASD_DATA_DIR`, else `$XDG_DATA_HOME/releasd`, else `~/.local/share/releasd`.
pub fn default_data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("RELEASD_DATA_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(dir).join("releasd");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local").join("share").join("releasd")
}

fn nix_uid() -> u32 {
    // SAFETY-free: read our uid from /proc rather than pulling libc into the protocol crate.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(0)
}
