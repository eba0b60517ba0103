//! The rel domain: app configuration, snapshots, releases, environments, deployments,
//! the rollback stack, the promotion policy, diffs and the audit chain.
//!
//! Pure: no I/O, no async, no clocks. Callers pass in "now" and the actor, so every rule
//! here can be unit- and property-tested without a daemon or a disk.

pub mod audit;
pub mod config;
pub mod diff;
pub mod error;
pub mod governance;
pub mod model;
pub mod names;
pub mod policy;
pub mod rollback;
pub mod snapshot;
pub mod store;
pub mod timestamp;

pub use config::AppConfig;
pub use error::{ErrorCode, RelError, RelResult};
pub use model::*;
pub use snapshot::{Digest, Snapshot};
pub use store::Store;
pub use timestamp::Timestamp;
