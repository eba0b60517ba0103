//! releasd: the rel daemon as a library, so tests can run [`serve`] in-process on a temp
//! socket and the binary stays a thin `main`.
//!
//! Modules, one concern each: [`cli`] (flags, env, defaults), [`config`] (the `--config`
//! TOML), [`datadir`] (data dir lock and pid file), [`socket`] (socket dir, stale/live
//! detection, bind), [`auth`] (peer credentials → user → role), [`server`] (accept loop,
//! shutdown), [`connection`] (handshake, per-connection requests and events), [`dispatch`]
//! (requests → store), [`exec`] (endpoint/verify/logs/tokens), [`live`] (what each
//! environment serves, compiled; lock-free lookup), [`http`] (the HTTP ingress), [`tokens`]
//! (API token secrets), [`events`] (broadcast), [`daemon`] (start-up sequence),
//! [`detach`] (backgrounding), [`limits`] (connections per user, deadlines), [`paging`]
//! (byte budget of list answers), [`rlimit`] (the file descriptor limit) and [`worker`]
//! (pipeline runs in worker processes, admission control, the data plane's runtime).

pub mod auth;
pub mod cli;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod datadir;
pub mod detach;
pub mod dispatch;
pub mod events;
pub mod exec;
pub mod execlog;
pub mod http;
pub mod limits;
pub mod live;
pub mod paging;
pub mod rlimit;
pub mod scheduler;
pub mod server;
pub mod socket;
pub mod store_choice;
pub mod tokens;
pub mod transfer;
pub mod worker;

pub use server::{DaemonInfo, ServeOptions, serve};
