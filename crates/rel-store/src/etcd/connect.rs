//! How to reach the cluster: TLS files, a user whose password is read from a file (never a
//! command-line value, which `ps` shows to every user), and the timeouts that bound every call.

use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use super::{EtcdError, EtcdUrl};

/// Client TLS: the CA that signed the members' certificates, and optionally a client
/// certificate and key (for clusters run with `--client-cert-auth`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdTls {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl EtcdTls {
    pub fn is_enabled(&self) -> bool {
        self.cacert.is_some() || self.cert.is_some() || self.key.is_some()
    }
}

/// Everything needed to connect.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    pub url: EtcdUrl,
    pub tls: EtcdTls,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The bound on each call (read, transaction, status). A call that does not finish in
    /// time fails with an error naming etcd; nothing is acknowledged.
    pub op_timeout: Duration,
    /// The bound on opening a connection to one member.
    pub connect_timeout: Duration,
    /// The cluster's `--max-txn-ops`: the store's writer keeps each transaction's guards
    /// and writes within it (a batch of requests is split into several transactions).
    pub max_txn_ops: usize,
}

/// etcd's own default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;

/// Default bound on one etcd call: long enough for a leader election (about a second with
/// etcd's defaults on a LAN), short enough that a client is not left hanging.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl EtcdOptions {
    pub fn new(url: EtcdUrl) -> EtcdOptions {
        EtcdOptions {
            url,
            tls: EtcdTls::default(),
            user: None,
            password_file: None,
            op_timeout: DEFAULT_OP_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
        }
    }

    /// The endpoints as URLs (`https://` when TLS is on).
    pub fn endpoint_urls(&self) -> Vec<String> {
        let scheme = if self.tls.is_enabled() {
            "https"
        } else {
            "http"
        };
        self.url
            .endpoints
            .iter()
            .map(|e| format!("{scheme}://{e}"))
            .collect()
    }

    /// etcd-client's options, reading the TLS and password files now (so a bad path is a
    /// start-up error naming the flag, not a failure on the first request).
    pub(super) fn connect_options(&self) -> Result<ConnectOptions, EtcdError> {
        let mut o = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            // Pings find a dead connection (a member killed, a cable pulled) in seconds, so
            // a watch moves to another member instead of waiting on a silent socket.
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true)
            // A member cut off from the others must not serve a watch that will never fire.
            .with_require_leader(true);
        match (&self.user, &self.password_file) {
            (Some(user), Some(path)) => {
                let password = read_password(path)?;
                o = o
                    .with_user(user.clone(), password)
                    .with_auto_token_refresh(true);
            }
            (Some(_), None) => {
                return Err(EtcdError::Options(
                    "--etcd-user needs --etcd-password-file FILE (the password is read from a file so it never shows in ps)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(EtcdError::Options(
                    "--etcd-password-file needs --etcd-user NAME".into(),
                ));
            }
            (None, None) => {}
        }
        if self.tls.is_enabled() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &self.tls.cacert {
                tls = tls.ca_certificate(Certificate::from_pem(read_file("--etcd-cacert", ca)?));
            }
            match (&self.tls.cert, &self.tls.key) {
                (Some(cert), Some(key)) => {
                    tls = tls.identity(Identity::from_pem(
                        read_file("--etcd-cert", cert)?,
                        read_file("--etcd-key", key)?,
                    ));
                }
                (None, None) => {}
                _ => {
                    return Err(EtcdError::Options(
                        "--etcd-cert and --etcd-key go together: pass both or neither".into(),
                    ));
                }
            }
            o = o.with_tls(tls);
        }
        Ok(o)
    }
}

fn read_file(flag: &'static str, path: &Path) -> Result<Vec<u8>, EtcdError> {
    std::fs::read(path).map_err(|e| EtcdError::File {
        flag,
        path: path.to_path_buf(),
        reason: format!("cannot read it ({e})"),
    })
}

/// The password is the file's first line (a trailing newline is not part of it).
fn read_password(path: &Path) -> Result<String, EtcdError> {
    let bytes = read_file("--etcd-password-file", path)?;
    let text = String::from_utf8(bytes).map_err(|_| EtcdError::File {
        flag: "--etcd-password-file",
        path: path.to_path_buf(),
        reason: "it is not UTF-8 text".into(),
    })?;
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err(EtcdError::File {
            flag: "--etcd-password-file",
            path: path.to_path_buf(),
            reason: "its first line (the password) is empty".into(),
        });
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> EtcdOptions {
        EtcdOptions::new(EtcdUrl::parse("etcd://127.0.0.1:2379").expect("url"))
    }

    #[test]
    fn password_is_the_first_line_of_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").expect("write");
        assert_eq!(read_password(&p).expect("read"), "s3cret");
        std::fs::write(&p, "\n").expect("write");
        let e = read_password(&p).expect_err("empty").to_string();
        assert!(
            e.contains("--etcd-password-file") && e.contains("empty"),
            "{e}"
        );
    }

    #[test]
    fn mismatched_flags_are_refused_by_name() {
        let mut o = opts();
        o.user = Some("root".into());
        let e = o
            .connect_options()
            .expect_err("user without file")
            .to_string();
        assert!(e.contains("--etcd-password-file"), "{e}");
        let mut o = opts();
        o.tls.cert = Some("/nonexistent/cert.pem".into());
        let e = o
            .connect_options()
            .expect_err("cert without key")
            .to_string();
        assert!(e.contains("--etcd-key"), "{e}");
        let mut o = opts();
        o.tls.cacert = Some("/nonexistent/ca.pem".into());
        let e = o.connect_options().expect_err("missing CA").to_string();
        assert!(e.contains("--etcd-cacert /nonexistent/ca.pem"), "{e}");
        assert_eq!(o.endpoint_urls(), ["https://127.0.0.1:2379"]);
    }
}
