//! The etcd client layer: where the cluster is (`etcd://…`), how to reach it (TLS, a user whose
//! password comes from a file), and the few operations a store needs, each with a bounded
//! timeout — point reads at a revision, ordered range scans, one transaction of puts and
//! deletes guarded by the revisions its reads saw (etcd's STM pattern), and a watch on the
//! store's prefix that resumes from a revision and survives compaction.
//!
//! The client is `etcd-client` (tonic gRPC). It runs on a small private tokio runtime so that
//! the store's synchronous rules can call it from any thread, including the daemon's blocking
//! pool, without depending on the caller's runtime.

mod connect;
mod error;
mod follow;
mod kv;
mod layout;
mod mirror;
pub mod stm;
mod txn;
mod url;
mod watch;

pub use connect::{DEFAULT_MAX_TXN_OPS, EtcdOptions, EtcdTls};
pub use error::EtcdError;
pub use follow::Follower;
pub use kv::{ClusterInfo, EtcdKv, Guard, KvEntry, Outcome, Write};
pub use layout::Layout;
pub use mirror::{Applied, Listener, Mirror, MirrorView};
pub use url::{DEFAULT_PREFIX, EtcdUrl};
pub use watch::{Change, WatchItem, Watcher};
