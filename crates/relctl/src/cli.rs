//! The command line, as clap derive types. Parsing only: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "relctl",
    version,
    about = "Create immutable releases of app configuration, deploy them and roll them back",
    long_about = "relctl talks to releasd over its Unix socket. Every read has `-o json`; exit codes \
                  are stable: 0 ok, 1 error, 2 usage, 3 conflict, 4 not found, 5 policy or permission \
                  denied, 6 daemon unreachable, 7 verification failed, 8 applied but durability unknown."
)]
pub struct Cli {
    /// The releasd socket [default: $RELEASD_SOCKET, else $XDG_RUNTIME_DIR/releasd/releasd.sock, else /tmp/releasd-$UID/releasd.sock]
    // Not clap's `env =`: clap then counts the variable as a given argument and prints
    // `--socket <PATH>` in every usage error as if it were required. rel_proto's
    // default_socket() reads RELEASD_SOCKET instead.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Output format: `table` for people, `json` for scripts (errors go to stderr as JSON too)
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Daemon, store and environments at a glance
    Status,
    /// The draft app config: apply, show, diff, validate
    #[command(subcommand)]
    App(AppCmd),
    /// Immutable releases: create, list, show, prune
    #[command(subcommand)]
    Release(ReleaseCmd),
    /// Structural diff between two releases
    Diff {
        /// The release to compare from
        from: String,
        /// The release to compare to
        to: String,
    },
    /// Make a release live in an environment
    Deploy(DeployArgs),
    /// Put the previous release back in an environment
    Rollback(RollbackArgs),
    /// Environments: list, show, create, history
    #[command(subcommand)]
    Env(EnvCmd),
    /// Run an endpoint under the release live in an environment; exit 1 if the run fails
    Trigger(TriggerArgs),
    /// Run the live release's checks in an environment and record the result; exit 7 on failure
    Verify {
        /// The environment whose live release is checked
        #[arg(long, value_name = "ENV")]
        env: String,
    },
    /// Execution logs, newest first; --id for one run's steps, --follow for new runs as they finish
    Logs(LogsArgs),
    /// API tokens for the HTTP ingress: create (shows the secret once), list, revoke
    #[command(subcommand)]
    Token(TokenCmd),
    /// Print every event (releases, deploys, rollbacks, ...) as one JSON object per line
    Watch(WatchArgs),
    /// The hash-chained audit log (newest first); `audit verify` checks the chain
    #[command(args_conflicts_with_subcommands = true)]
    Audit(AuditArgs),
    /// Write the whole store to FILE (a JSON document) to move it to another machine
    Export {
        /// Where to write the dump ("-" for stdout). Written with mode 0600: it holds the
        /// audit log and token hashes
        file: PathBuf,
        /// Replace FILE if it exists (without it, an existing file is never overwritten)
        #[arg(long)]
        force: bool,
    },
    /// Load a store written by `relctl export` into a daemon that has no releases yet
    Import {
        /// The dump to load ("-" for stdin)
        file: PathBuf,
    },
    /// Print a shell completion script (e.g. `relctl completions bash > /etc/bash_completion.d/relctl`)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// The daemon itself: `daemon stop` stops it gracefully (admin only)
    #[command(subcommand)]
    Daemon(DaemonCmd),
    /// Stop the line: freeze every environment (deploys refused, rollbacks still work)
    Freeze {
        /// Every environment (required: `relctl env freeze ENV` freezes one)
        #[arg(long, required = true)]
        all: bool,
        /// Why (shown to everyone refused, kept in the audit log)
        #[arg(long, value_name = "TEXT", value_parser = non_empty_reason)]
        reason: String,
        /// End by itself at TIME: RFC 3339 (2026-12-24T09:00:00Z) or a duration (2h, 30m, 1d)
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
    /// End a stopped line (admin only); freezes of single environments stay
    Unfreeze {
        /// Every environment (required: `relctl env unfreeze ENV` ends one's freeze)
        #[arg(long, required = true)]
        all: bool,
    },
    /// Open deploy requests (waiting for approvals or for their time), newest first
    Requests {
        /// Only requests for this environment
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// Also the ones that ended (deployed, rejected, expired, conflict, refused)
        #[arg(long)]
        all: bool,
        /// At most this many (0: all)
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Approve someone else's deploy request; the last approval needed deploys it
    Approve {
        /// The request id (relctl requests)
        id: u64,
    },
    /// Reject a deploy request (or withdraw your own, or cancel a scheduled deploy)
    Reject {
        /// The request id (relctl requests)
        id: u64,
        /// Why (kept on the request and in the audit log)
        #[arg(long, value_name = "TEXT", value_parser = non_empty_reason)]
        reason: String,
    },
    /// Write man pages (relctl.1 and one per subcommand) into DIR, for packaging
    Man {
        /// Where to write the pages (created if missing)
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum DaemonCmd {
    /// Stop releasd gracefully (in-flight work finishes, the socket is removed) and wait for it
    Stop,
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Validate FILE and make it the draft that the next release snapshots
    Apply {
        /// TOML (or .json) app config
        file: PathBuf,
    },
    /// Print the draft as TOML (`-o json`: as JSON, which `app apply` accepts back)
    Show,
    /// What changed in the draft since a release (default: the newest release)
    Diff {
        /// The release to compare the draft with
        tag: Option<String>,
    },
    /// Check FILE without a daemon (for CI); exit 1 names the offending path
    Validate {
        /// TOML (or .json) app config
        file: PathBuf,
    },
    /// Print a working example app config (TOML) to start from: relctl app example > app.toml
    Example,
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCmd {
    /// Freeze the draft (or --from FILE) into an immutable release
    Create(CreateArgs),
    /// Releases, newest first
    List {
        /// Only releases in this state
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// At most this many (0: all)
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One release: notes, digest, where live, diff from the previous, deployments
    Show {
        /// The release tag
        tag: String,
    },
    /// Remove old releases, keeping the newest N and anything live or on a rollback stack
    Prune {
        /// How many of the newest releases to keep
        #[arg(long, value_name = "N")]
        keep: u64,
        /// Show what would be removed without removing it
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new tag, e.g. v1.2.0 (letters, digits, '.', '_', '+', '-'; never reused)
    pub tag: String,
    /// Release notes (the first line shows in lists)
    #[arg(short, long, value_name = "TEXT", default_value = "")]
    pub description: String,
    /// Snapshot this config file instead of the draft
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Deploy it to ENV in the same transaction (both happen or neither)
    #[arg(long, value_name = "ENV")]
    pub deploy: Option<String>,
    /// Do not ask for confirmation when --deploy targets a protected environment
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Ready,
    Deployed,
    Superseded,
    /// Rolled back out of an environment (whatever their state): redeploying one there needs
    /// --force --reason
    Held,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The release to make live
    pub tag: String,
    /// The target environment
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Only deploy if TAG is what ENV serves now (compare-and-swap); exit 3 otherwise
    #[arg(long, value_name = "TAG")]
    pub expect: Option<String>,
    /// Do not ask for confirmation on a protected environment
    #[arg(short, long)]
    pub yes: bool,
    /// Override the promotion policy or a hold (admin only; audited); needs --reason
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the override is needed (recorded in the deployment and the audit log)
    #[arg(long, value_name = "TEXT", requires = "force", value_parser = non_empty_reason)]
    pub reason: Option<String>,
    /// After deploying, run the checks (`relctl verify`); exit 7 if one fails
    #[arg(long)]
    pub verify: bool,
    /// If verification fails, roll the environment back to what it served before
    #[arg(long, requires = "verify")]
    pub auto_rollback: bool,
    /// Schedule it: deploy once at TIME (RFC 3339 or a duration such as 2h), under the
    /// freezes, approvals and policy in force then; cancel with relctl reject ID
    #[arg(long, value_name = "TIME", conflicts_with = "verify")]
    pub at: Option<String>,
    /// On an environment that needs approvals: the request expires after this (RFC 3339 or
    /// a duration; default 24h)
    #[arg(long, value_name = "TIME")]
    pub expires_in: Option<String>,
    /// Show from → to, the diff, the freeze, approvals and policy verdict without changing
    /// anything; exit 0 if the deploy would go through, else the exit code it would get
    #[arg(long, conflicts_with_all = ["at", "verify", "expires_in"])]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The endpoint to run (as named in the app config's [endpoints])
    pub endpoint: String,
    /// Run it under the release live in this environment
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// The input as JSON, e.g. '{"message":"hi"}' [default: {}]
    #[arg(long, value_name = "JSON", conflicts_with = "data_file")]
    pub data: Option<String>,
    /// Read the JSON input from FILE ("-" for stdin)
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start after this event seq (the `seq` of the last line you saw): replays the stored
    /// events after it, then continues live, with no gap and no repeat
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only runs in this environment
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Only runs of this endpoint
    #[arg(long, value_name = "NAME")]
    pub endpoint: Option<String>,
    /// At most this many, newest first (0: all)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Show one execution in full: input, output and every step
    #[arg(long, value_name = "ID", conflicts_with_all = ["env", "endpoint", "limit", "follow"])]
    pub id: Option<u64>,
    /// Print each new execution as it finishes (one JSON object per line with -o json) until interrupted
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token for the HTTP ingress; the secret is printed once and never again
    Create {
        /// A name for who or what uses it, e.g. ci-smoke-tests
        name: String,
    },
    /// Tokens by name (never their secrets)
    List,
    /// Revoke a token: requests using it get 401 from then on
    Revoke {
        /// The token's name
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment to roll back
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Roll back further, until this release is live again (it must be on the rollback stack)
    #[arg(long, value_name = "TAG")]
    pub to: Option<String>,
    /// Only roll back if TAG is what ENV serves now (compare-and-swap); exit 3 otherwise
    #[arg(long, value_name = "TAG")]
    pub expect: Option<String>,
    /// Show from → to and the diff without changing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation on a protected environment
    #[arg(short, long)]
    pub yes: bool,
    /// Why (recorded in the deployment and the audit log)
    #[arg(long, value_name = "TEXT", value_parser = non_empty_reason)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Environments in promotion order, with what is live
    List,
    /// One environment: live release, since when, by whom, rollback target, holds
    Show {
        /// The environment name
        name: String,
    },
    /// Create an environment (admin only)
    Create {
        /// Lowercase letters, digits and '-', at most 32 characters
        name: String,
        /// Deploys and rollbacks need confirmation (or --yes) and the admin role
        #[arg(long)]
        protected: bool,
        /// A release must have been live (and verified) there first; repeatable
        #[arg(long, value_name = "ENV")]
        requires: Vec<String>,
        /// What the environment is for
        #[arg(short, long, value_name = "TEXT", default_value = "")]
        description: String,
        /// Deploys need N approvals by other users (0: none)
        #[arg(long, value_name = "N", default_value_t = 0)]
        approvals: u32,
    },
    /// Change an environment's settings (admin only)
    Set {
        /// The environment name
        name: String,
        /// Deploys need N approvals by other users (0 turns approvals off)
        #[arg(long, value_name = "N")]
        approvals: u32,
    },
    /// Freeze an environment: deploys refused (rollbacks still work) until unfrozen or --until
    Freeze {
        /// The environment name
        env: String,
        /// Why (shown to everyone refused, kept in the audit log)
        #[arg(long, value_name = "TEXT", value_parser = non_empty_reason)]
        reason: String,
        /// End by itself at TIME: RFC 3339 (2026-12-24T09:00:00Z) or a duration (2h, 30m, 1d)
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
    /// End an environment's freeze (its freeze windows stay)
    Unfreeze {
        /// The environment name
        env: String,
    },
    /// Recurring freeze windows: add, list, remove
    #[command(subcommand)]
    FreezeWindow(FreezeWindowCmd),
    /// What an environment served, newest first
    History {
        /// The environment name
        env: String,
        /// At most this many (0: all)
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum FreezeWindowCmd {
    /// Add a window (admin only): "Fri 15:00 - Mon 09:00 Europe/Berlin" or "22:00 - 06:00 UTC"
    Add {
        /// The environment name
        env: String,
        /// DAY HH:MM - DAY HH:MM ZONE (weekly) or HH:MM - HH:MM ZONE (daily); end exclusive
        spec: String,
        /// Why (shown to everyone refused during the window)
        #[arg(long, value_name = "TEXT", value_parser = non_empty_reason)]
        reason: String,
    },
    /// An environment's windows, with the one in force now
    List {
        /// The environment name
        env: String,
    },
    /// Remove a window by its id (admin only)
    Remove {
        /// The environment name
        env: String,
        /// The window's id (relctl env freeze-window list ENV)
        id: u64,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCmd>,
    /// At most this many entries (0: all)
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Recompute the hash chain; exit 1 naming the first bad entry if anything was edited
    Verify,
}

/// `--reason` must say something: it is what the audit log and the people refused will read.
/// Checked here, before any plan is printed or the daemon is asked (a usage error, exit 2).
fn non_empty_reason(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("it is empty; say why in a few words (it is kept in the audit log)".to_string())
    } else {
        Ok(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_empty_reason_is_a_usage_error() {
        for args in [
            &[
                "relctl", "deploy", "v1", "--env", "prod", "--force", "--reason", "",
            ][..],
            &["relctl", "rollback", "--env", "prod", "--reason", "  "],
            &["relctl", "reject", "3", "--reason", ""],
        ] {
            let e = Cli::try_parse_from(args).expect_err("empty reason");
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains("say why"), "{e}");
        }
    }

    #[test]
    fn force_requires_reason() {
        let e = Cli::try_parse_from(["relctl", "deploy", "v1", "--env", "production", "--force"])
            .expect_err("needs --reason");
        assert_eq!(e.exit_code(), 2);
        let ok = Cli::try_parse_from([
            "relctl",
            "deploy",
            "v1",
            "--env",
            "production",
            "--force",
            "--reason",
            "hotfix",
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn auto_rollback_requires_verify() {
        let e = Cli::try_parse_from([
            "relctl",
            "deploy",
            "v1",
            "--env",
            "staging",
            "--auto-rollback",
        ])
        .expect_err("needs --verify");
        assert_eq!(e.exit_code(), 2);
        let c = Cli::try_parse_from([
            "relctl",
            "deploy",
            "v1",
            "--env",
            "staging",
            "--verify",
            "--auto-rollback",
        ])
        .expect("parse");
        assert!(matches!(
            c.command,
            Command::Deploy(DeployArgs {
                verify: true,
                auto_rollback: true,
                ..
            })
        ));
    }

    #[test]
    fn trigger_data_flags_conflict_and_logs_id_stands_alone() {
        let e = Cli::try_parse_from([
            "relctl",
            "trigger",
            "chat",
            "--env",
            "staging",
            "--data",
            "{}",
            "--data-file",
            "x.json",
        ])
        .expect_err("one input source");
        assert_eq!(e.exit_code(), 2);
        let e = Cli::try_parse_from(["relctl", "logs", "--id", "3", "--follow"])
            .expect_err("--id is one run");
        assert_eq!(e.exit_code(), 2);
        let c =
            Cli::try_parse_from(["relctl", "logs", "--env", "staging", "--follow"]).expect("parse");
        assert!(matches!(
            c.command,
            Command::Logs(LogsArgs { follow: true, .. })
        ));
    }

    #[test]
    fn audit_verify_and_limit() {
        let c = Cli::try_parse_from(["relctl", "audit", "verify"]).expect("parse");
        assert!(matches!(
            c.command,
            Command::Audit(AuditArgs {
                command: Some(AuditCmd::Verify),
                ..
            })
        ));
        let c =
            Cli::try_parse_from(["relctl", "audit", "--limit", "5", "-o", "json"]).expect("parse");
        assert!(matches!(
            c.command,
            Command::Audit(AuditArgs {
                command: None,
                limit: 5
            })
        ));
        assert_eq!(c.output, Output::Json);
    }
}
