//! The one place that turns a failure into an exit code and an error code (§4.3).

use rel_domain::{ErrorCode, RelError};
use rel_proto::ClientError;

// 0 ok; 2 usage is clap's own exit code.
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CONFLICT: u8 = 3;
pub const EXIT_NOT_FOUND: u8 = 4;
pub const EXIT_DENIED: u8 = 5;
pub const EXIT_UNREACHABLE: u8 = 6;
pub const EXIT_VERIFY_FAILED: u8 = 7;
/// The daemon applied the change but could not make sure it is on disk: never 6, which
/// scripts read as "unreachable, retry" (a retry could repeat an applied change).
pub const EXIT_DURABILITY_UNKNOWN: u8 = 8;

/// A failure whose code relctl decides itself rather than the daemon: the request worked
/// but what it reports is a failure (a run that failed, a check that failed). The result
/// was already printed on stdout; this is the line on stderr and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub code: &'static str,
    pub exit: u8,
    pub message: String,
}

impl Reported {
    /// An endpoint run that finished with status `error`: exit 1, code `run_failed`.
    pub fn run_failed(message: String) -> Reported {
        Reported {
            code: "run_failed",
            exit: EXIT_ERROR,
            message,
        }
    }

    /// At least one check failed: exit 7, code `verification_failed`.
    pub fn verification_failed(message: String) -> Reported {
        Reported {
            code: "verification_failed",
            exit: EXIT_VERIFY_FAILED,
            message,
        }
    }
}

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Reported {}

pub fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::NotFound => EXIT_NOT_FOUND,
        ErrorCode::Conflict => EXIT_CONFLICT,
        ErrorCode::Invalid | ErrorCode::Internal => EXIT_ERROR,
        ErrorCode::PolicyDenied | ErrorCode::PermissionDenied => EXIT_DENIED,
        ErrorCode::Unavailable => EXIT_UNREACHABLE,
        ErrorCode::DurabilityUnknown => EXIT_DURABILITY_UNKNOWN,
    }
}

/// A failure ready to print: the JSON `code`, the process exit code and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub exit: u8,
    pub message: String,
}

/// Classify an error from anywhere in relctl. RPC errors keep the daemon's message as-is;
/// anything local (a file that cannot be read, ...) is exit 1 with the whole context chain.
pub fn classify(err: &anyhow::Error) -> Failure {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Reported>() {
            return Failure {
                code: e.code,
                exit: e.exit,
                message: e.message.clone(),
            };
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return client_failure(e);
        }
        if let Some(e) = cause.downcast_ref::<RelError>() {
            return Failure {
                code: e.code.as_str(),
                exit: exit_code(e.code),
                message: format!("{err:#}"),
            };
        }
    }
    Failure {
        code: ErrorCode::Invalid.as_str(),
        exit: EXIT_ERROR,
        message: format!("{err:#}"),
    }
}

fn client_failure(e: &ClientError) -> Failure {
    let (code, exit) = match e {
        ClientError::Rpc(rel) => {
            return Failure {
                code: rel.code.as_str(),
                exit: exit_code(rel.code),
                message: rel.message.clone(),
            };
        }
        ClientError::Unreachable { .. } | ClientError::Disconnected(_) => {
            (ErrorCode::Unavailable, EXIT_UNREACHABLE)
        }
        ClientError::Version { .. } | ClientError::Protocol(_) => (ErrorCode::Internal, EXIT_ERROR),
        // Someone else's daemon: exit 5 like any refusal, and no advice to start one.
        ClientError::Denied { .. } => (ErrorCode::PermissionDenied, EXIT_DENIED),
    };
    Failure {
        code: code.as_str(),
        exit,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_exit_codes() {
        let cases = [
            (RelError::not_found("x"), 4),
            (RelError::conflict("x"), 3),
            (RelError::invalid("x"), 1),
            (RelError::policy("x"), 5),
            (RelError::permission("x"), 5),
            (RelError::unavailable("x"), 6),
            (RelError::internal("x"), 1),
        ];
        for (e, exit) in cases {
            let code = e.code.as_str();
            let f = classify(&anyhow::Error::new(ClientError::Rpc(e)));
            assert_eq!((f.code, f.exit, f.message.as_str()), (code, exit, "x"));
        }
    }

    #[test]
    fn unreachable_is_6_and_says_what_to_do() {
        let e = ClientError::Unreachable {
            socket: "/tmp/x.sock".into(),
            reason: "No such file".into(),
        };
        let f = classify(&anyhow::Error::new(e));
        assert_eq!(f.exit, EXIT_UNREACHABLE);
        assert_eq!(f.code, "unavailable");
        assert!(
            f.message.contains("/tmp/x.sock") && f.message.contains("releasd"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_socket_we_may_not_open_is_5_and_does_not_suggest_starting_releasd() {
        let e = ClientError::Denied {
            socket: "/run/other/releasd.sock".into(),
            reason: "only the daemon's owner may open it".into(),
        };
        let f = classify(&anyhow::Error::new(e));
        assert_eq!((f.code, f.exit), ("permission_denied", EXIT_DENIED));
        assert!(
            f.message.contains("/run/other/releasd.sock"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("Start it"), "{}", f.message);
    }

    #[test]
    fn reported_failures_keep_their_exit_code() {
        let f = classify(&anyhow::Error::new(Reported::verification_failed(
            "1 of 2 checks failed".into(),
        )));
        assert_eq!(
            (f.code, f.exit, f.message.as_str()),
            ("verification_failed", 7, "1 of 2 checks failed")
        );
        let f = classify(&anyhow::Error::new(Reported::run_failed(
            "step failed".into(),
        )));
        assert_eq!((f.code, f.exit), ("run_failed", 1));
    }

    #[test]
    fn local_errors_keep_context() {
        let e = anyhow::Error::new(RelError::invalid("bad")).context("app.toml");
        let f = classify(&e);
        assert_eq!(
            (f.code, f.exit, f.message.as_str()),
            ("invalid", 1, "app.toml: bad")
        );
        let f = classify(&anyhow::anyhow!("plain"));
        assert_eq!((f.code, f.exit), ("invalid", 1));
    }
}
