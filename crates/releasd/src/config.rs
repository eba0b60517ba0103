//! The daemon config file (`--config FILE`, TOML): who may do what, and the socket's group.
//!
//! ```toml
//! [roles]
//! # Users by login name, groups as "@group". The daemon's own user is always admin.
//! admin    = ["alice"]
//! deployer = ["bob", "@deploy"]
//! viewer   = ["@ops"]
//!
//! [socket]
//! # Let this group reach the socket: directory 0750 and socket 0660, both group-owned.
//! # Without it the directory is 0700 and the socket 0600 (owner only).
//! group = "ops"
//!
//! [logs]
//! # Execution logs kept per environment; older ones are dropped as new runs are logged.
//! retention = 1000
//! ```
//!
//! Roles (§6): `viewer` reads; `deployer` also applies the draft, creates releases and deploys
//! or rolls back unprotected environments; `admin` also touches protected environments,
//! overrides policy and holds, creates environments, prunes, imports and manages tokens.
//! Someone listed under several roles gets the highest. Unknown keys are errors.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    #[serde(default)]
    pub roles: RolesConfig,
    #[serde(default)]
    pub socket: SocketConfig,
    #[serde(default)]
    pub logs: LogsConfig,
    /// Where the store lives (sled by default; etcd, see `store_choice`).
    #[serde(default)]
    pub store: crate::store_choice::StoreConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesConfig {
    #[serde(default)]
    pub admin: Vec<String>,
    #[serde(default)]
    pub deployer: Vec<String>,
    #[serde(default)]
    pub viewer: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketConfig {
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Execution logs kept per environment (at least 1).
    #[serde(default = "default_retention")]
    pub retention: usize,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            retention: default_retention(),
        }
    }
}

fn default_retention() -> usize {
    crate::exec::DEFAULT_RETENTION
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // `error`, not `source`: the message shows it, and anyhow's `{:#}` would repeat it.
    #[error("cannot read config {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl DaemonConfig {
    pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parse and check the shape; the message names the offending key.
    pub fn parse(text: &str) -> Result<DaemonConfig, String> {
        let cfg: DaemonConfig =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        for (role, names) in [
            ("admin", &cfg.roles.admin),
            ("deployer", &cfg.roles.deployer),
            ("viewer", &cfg.roles.viewer),
        ] {
            for (i, n) in names.iter().enumerate() {
                let bare = n.strip_prefix('@').unwrap_or(n);
                if bare.is_empty()
                    || bare
                        .chars()
                        .any(|c| c.is_whitespace() || c == ':' || c == '/')
                {
                    return Err(format!(
                        "roles.{role}[{i}]: {n:?} is not a user or \"@group\" name (write e.g. \"alice\" or \"@ops\")"
                    ));
                }
            }
        }
        if let Some(g) = cfg
            .socket
            .group
            .as_ref()
            .filter(|g| g.is_empty() || g.starts_with('@'))
        {
            return Err(format!(
                "socket.group: {g:?} must be a plain group name such as \"ops\""
            ));
        }
        if cfg.logs.retention == 0 {
            return Err(
                "logs.retention: must be at least 1 (the number of execution logs kept per environment, default 1000)"
                    .to_string(),
            );
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let cfg = DaemonConfig::parse(
            "[roles]\nadmin = [\"alice\"]\ndeployer = [\"bob\", \"@deploy\"]\nviewer = [\"@ops\"]\n[socket]\ngroup = \"ops\"\n",
        )
        .expect("parse");
        assert_eq!(
            cfg.roles.deployer,
            vec!["bob".to_string(), "@deploy".to_string()]
        );
        assert_eq!(cfg.socket.group.as_deref(), Some("ops"));
    }

    #[test]
    fn unknown_keys_and_bad_names_are_errors_naming_the_key() {
        let e = DaemonConfig::parse("[roles]\nadmins = [\"alice\"]\n").expect_err("typo accepted");
        assert!(e.contains("admins"), "{e}");
        let e = DaemonConfig::parse("[roles]\nviewer = [\"ok\", \"two words\"]\n")
            .expect_err("space accepted");
        assert!(e.contains("roles.viewer[1]"), "{e}");
        let e = DaemonConfig::parse("[socket]\ngroup = \"@ops\"\n").expect_err("@ accepted");
        assert!(e.contains("socket.group"), "{e}");
    }

    #[test]
    fn logs_retention_defaults_and_must_be_positive() {
        assert_eq!(
            DaemonConfig::parse("").expect("empty").logs.retention,
            crate::exec::DEFAULT_RETENTION
        );
        assert_eq!(
            DaemonConfig::parse("[logs]\nretention = 5\n")
                .expect("parse")
                .logs
                .retention,
            5
        );
        let e = DaemonConfig::parse("[logs]\nretention = 0\n").expect_err("0 accepted");
        assert!(e.contains("logs.retention"), "{e}");
        let e = DaemonConfig::parse("[logs]\nretain = 5\n").expect_err("typo accepted");
        assert!(e.contains("retain"), "{e}");
    }

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(
            DaemonConfig::parse("").expect("empty"),
            DaemonConfig::default()
        );
    }
}
