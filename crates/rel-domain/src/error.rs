//! One error type for every layer: a machine-readable code plus a human message that says
//! what went wrong and what to do next. The code maps 1:1 onto the wire and onto exit codes.

use serde::{Deserialize, Serialize};

/// What kind of failure this is. Only grows; never renumber (it is on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    NotFound,
    Conflict,
    Invalid,
    PolicyDenied,
    PermissionDenied,
    Unavailable,
    Internal,
    /// The change was applied but whether it is durable is unknown (a disk sync failed).
    /// Not "unreachable": retrying blindly could repeat an applied change; look first.
    DurabilityUnknown,
}

impl ErrorCode {
    /// The stable snake_case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Invalid => "invalid",
            ErrorCode::PolicyDenied => "policy_denied",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::DurabilityUnknown => "durability_unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RelError {
    pub code: ErrorCode,
    pub message: String,
}

pub type RelResult<T> = Result<T, RelError>;

impl RelError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RelError {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, m)
    }
    pub fn policy(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::PolicyDenied, m)
    }
    pub fn permission(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, m)
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, m)
    }
    pub fn durability_unknown(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::DurabilityUnknown, m)
    }
}
