//! What can go wrong talking to etcd, each with what to do about it.

use std::path::PathBuf;

use rel_domain::RelError;

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("--store {input}: {reason}; expected etcd://HOST:PORT[,HOST:PORT…][/PREFIX]")]
    Url { input: String, reason: String },
    #[error("{flag} {}: {reason}", path.display())]
    File {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{0}")]
    Options(String),
    /// No member answered in time: down, unreachable, or no quorum.
    #[error(
        "etcd at {endpoints} is unreachable ({detail}); nothing was acknowledged. Check that the etcd cluster is up, has a quorum and is reachable from this host, then retry"
    )]
    Unreachable { endpoints: String, detail: String },
    /// etcd answered with an error.
    #[error("etcd refused {op}: {detail}")]
    Refused { op: &'static str, detail: String },
    /// A read at a revision etcd has compacted away.
    #[error("etcd has compacted the revision this read asked for; re-read at a newer one")]
    Compacted,
}

impl EtcdError {
    /// The store-level error a client sees. Nothing was acknowledged when this is returned,
    /// so every kind is safe to retry.
    pub fn into_rel(self) -> RelError {
        match self {
            EtcdError::Unreachable { .. } | EtcdError::Compacted => {
                RelError::unavailable(self.to_string())
            }
            EtcdError::Refused { .. } => RelError::unavailable(self.to_string()),
            EtcdError::Url { .. } | EtcdError::File { .. } | EtcdError::Options(_) => {
                RelError::invalid(self.to_string())
            }
        }
    }
}

impl From<EtcdError> for RelError {
    fn from(e: EtcdError) -> Self {
        e.into_rel()
    }
}
