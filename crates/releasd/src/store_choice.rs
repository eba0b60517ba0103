//! Which store the daemon runs on: sled in `--data-dir` (the default), or an etcd cluster
//! shared with other daemons (`--store etcd://…`, `RELEASD_STORE`, or `[store]` in the config
//! file). A flag wins over the config file, field by field.
//!
//! ```toml
//! [store]
//! url = "etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/rel"
//! cacert = "/etc/rel/etcd-ca.pem"          # TLS to etcd (paths relative to this file)
//! cert = "/etc/rel/etcd-client.pem"
//! key = "/etc/rel/etcd-client-key.pem"
//! user = "rel"
//! password_file = "/etc/rel/etcd-password" # never a value on the command line
//! max_txn_ops = 1024                       # the cluster's --max-txn-ops
//! timeout = 5.0                            # seconds, bound on each etcd call
//! ```

use std::path::{Path, PathBuf};

use rel_store::etcd::{EtcdOptions, EtcdTls, EtcdUrl};
use serde::Deserialize;

/// The store flags (flattened into the daemon's command line).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StoreArgs {
    /// Run on an etcd cluster instead of sled in --data-dir:
    /// etcd://HOST:PORT[,HOST:PORT…][/PREFIX] (prefix default "rel"). Several releasd on one
    /// cluster and prefix share one store. "sled" is the default.
    #[arg(long, env = "RELEASD_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// CA certificate (PEM) that signed the etcd members' certificates; turns on TLS.
    #[arg(long, value_name = "FILE")]
    pub etcd_cacert: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's --client-cert-auth; needs --etcd-key.
    #[arg(long, value_name = "FILE")]
    pub etcd_cert: Option<PathBuf>,
    /// Client key (PEM) for --etcd-cert.
    #[arg(long, value_name = "FILE")]
    pub etcd_key: Option<PathBuf>,
    /// etcd user (etcd authentication); the password comes from --etcd-password-file.
    #[arg(long, value_name = "NAME")]
    pub etcd_user: Option<String>,
    /// File whose first line is the etcd user's password (a file, so it never shows in ps).
    #[arg(long, value_name = "FILE")]
    pub etcd_password_file: Option<PathBuf>,
    /// The etcd cluster's --max-txn-ops [default: 128, etcd's default]: each store
    /// transaction stays within it (a batch of concurrent requests is split).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(16..))]
    pub etcd_max_txn_ops: Option<u32>,
    /// Bound on each etcd call, in seconds [default: 5]: a change fails within about this
    /// when etcd is unreachable or has no quorum.
    #[arg(long, value_name = "SECS")]
    pub etcd_timeout: Option<f64>,
}

/// `[store]` in the daemon config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub url: Option<String>,
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub max_txn_ops: Option<u32>,
    pub timeout: Option<f64>,
}

/// The store to open.
#[derive(Debug, Clone)]
pub enum StoreChoice {
    Sled,
    Etcd(Box<EtcdOptions>),
}

/// Combine flags and config file. `config_dir` anchors relative paths of the config file;
/// relative flag paths are made absolute against the current directory (a detached daemon
/// runs from `/`).
pub fn choose(
    args: &StoreArgs,
    config: &StoreConfig,
    config_dir: Option<&Path>,
) -> Result<StoreChoice, String> {
    let from_file = |p: &Option<PathBuf>| {
        p.as_ref().map(|p| match config_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        })
    };
    let from_flag = |p: &Option<PathBuf>| p.clone().map(crate::cli::absolute);
    let pick = |flag: &Option<PathBuf>, file: &Option<PathBuf>| {
        from_flag(flag).or_else(|| from_file(file))
    };

    let url = args
        .store
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| config.url.clone());
    let tls = EtcdTls {
        cacert: pick(&args.etcd_cacert, &config.cacert),
        cert: pick(&args.etcd_cert, &config.cert),
        key: pick(&args.etcd_key, &config.key),
    };
    let user = args.etcd_user.clone().or_else(|| config.user.clone());
    let password_file = pick(&args.etcd_password_file, &config.password_file);
    let max_txn_ops = args.etcd_max_txn_ops.or(config.max_txn_ops);
    let timeout = args.etcd_timeout.or(config.timeout);
    let etcd_only = tls.is_enabled()
        || user.is_some()
        || password_file.is_some()
        || max_txn_ops.is_some()
        || timeout.is_some();

    match url.as_deref() {
        None | Some("sled") => {
            if etcd_only {
                return Err("the --etcd-* options (or [store] cacert/cert/key/user/password_file) need --store etcd://HOST:PORT[,…][/PREFIX]; without --store the daemon uses sled in --data-dir".into());
            }
            Ok(StoreChoice::Sled)
        }
        Some(u) => {
            let url = EtcdUrl::parse(u).map_err(|e| e.to_string())?;
            let mut o = EtcdOptions::new(url);
            o.tls = tls;
            o.user = user;
            o.password_file = password_file;
            if let Some(n) = max_txn_ops {
                o.max_txn_ops = n as usize;
            }
            if let Some(t) = timeout {
                if !(t.is_finite() && (0.1..=600.0).contains(&t)) {
                    return Err(format!(
                        "--etcd-timeout {t}: give seconds between 0.1 and 600"
                    ));
                }
                o.op_timeout = std::time::Duration::from_secs_f64(t);
            }
            Ok(StoreChoice::Etcd(Box::new(o)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_sled_and_etcd_flags_alone_are_refused() {
        let args = StoreArgs::default();
        assert!(matches!(
            choose(&args, &StoreConfig::default(), None),
            Ok(StoreChoice::Sled)
        ));
        let args = StoreArgs {
            etcd_cacert: Some("/ca.pem".into()),
            ..StoreArgs::default()
        };
        let e = choose(&args, &StoreConfig::default(), None).expect_err("no --store");
        assert!(e.contains("need --store etcd://"), "{e}");
    }

    #[test]
    fn flags_win_over_the_config_file_whose_paths_are_relative_to_it() {
        let config = StoreConfig {
            url: Some("etcd://a:2379/from-file".into()),
            cacert: Some("ca.pem".into()),
            user: Some("file-user".into()),
            password_file: Some("pw".into()),
            ..StoreConfig::default()
        };
        let args = StoreArgs {
            etcd_user: Some("flag-user".into()),
            ..StoreArgs::default()
        };
        let Ok(StoreChoice::Etcd(o)) = choose(&args, &config, Some(Path::new("/etc/rel"))) else {
            panic!("expected etcd");
        };
        assert_eq!(o.url.prefix, "from-file");
        assert_eq!(o.tls.cacert.as_deref(), Some(Path::new("/etc/rel/ca.pem")));
        assert_eq!(o.user.as_deref(), Some("flag-user"));
        assert_eq!(o.password_file.as_deref(), Some(Path::new("/etc/rel/pw")));

        let args = StoreArgs {
            store: Some("etcd://b:1,c:2".into()),
            ..StoreArgs::default()
        };
        let Ok(StoreChoice::Etcd(o)) = choose(&args, &config, None) else {
            panic!("expected etcd");
        };
        assert_eq!(o.url.endpoints, ["b:1", "c:2"]);
    }

    #[test]
    fn etcd_limits_come_from_flags_or_the_file_and_a_bad_timeout_names_its_flag() {
        let config = StoreConfig {
            url: Some("etcd://a:2379".into()),
            max_txn_ops: Some(1024),
            timeout: Some(2.5),
            ..StoreConfig::default()
        };
        let Ok(StoreChoice::Etcd(o)) = choose(&StoreArgs::default(), &config, None) else {
            panic!("expected etcd");
        };
        assert_eq!(o.max_txn_ops, 1024);
        assert_eq!(o.op_timeout, std::time::Duration::from_millis(2500));
        let args = StoreArgs {
            etcd_timeout: Some(0.0),
            ..StoreArgs::default()
        };
        let e = choose(&args, &config, None).expect_err("zero timeout");
        assert!(e.contains("--etcd-timeout"), "{e}");
        let args = StoreArgs {
            etcd_max_txn_ops: Some(256),
            ..StoreArgs::default()
        };
        let e = choose(&args, &StoreConfig::default(), None).expect_err("no --store");
        assert!(e.contains("need --store etcd://"), "{e}");
    }

    #[test]
    fn a_bad_url_names_the_flag() {
        let args = StoreArgs {
            store: Some("etcd://host-without-port".into()),
            ..StoreArgs::default()
        };
        let e = choose(&args, &StoreConfig::default(), None).expect_err("bad url");
        assert!(e.contains("--store") && e.contains("has no port"), "{e}");
    }
}
