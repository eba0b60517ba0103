//! Test support (the daemon helper fills this in).
