//! The file descriptor limit: raised to the hard limit at start, so a daemon started with
//! systemd's default soft limit (1024) can hold what its connection limits allow.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns (soft, hard) after.
pub fn raise_nofile() -> Result<(u64, u64), nix::Error> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    getrlimit(Resource::RLIMIT_NOFILE)
}
