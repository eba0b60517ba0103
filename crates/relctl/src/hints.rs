//! Near-misses ops people type (`relctl stop`, `relctl ls`, `relctl rollback staging`): clap
//! only says "unrecognized subcommand"; this adds the command that does what they meant.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Options that take a value and may come before the subcommand.
const GLOBAL_WITH_VALUE: [&str; 3] = ["--socket", "-o", "--output"];

/// The subcommand the user typed and the words after it (global options left out).
fn split(args: &[String]) -> Option<(&str, Vec<&str>)> {
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        if GLOBAL_WITH_VALUE.contains(&a) {
            it.next();
        } else if !a.starts_with('-') {
            return Some((a, it.collect()));
        }
    }
    None
}

/// Positional words after the subcommand, skipping options and their values (a value is
/// guessed to follow any `--name` without `=`, which is right for the commands checked here).
fn positionals<'a>(rest: &[&'a str], flags: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        if a.starts_with('-') {
            if !a.contains('=') && !flags.contains(a) {
                it.next();
            }
        } else {
            out.push(*a);
        }
    }
    out
}

/// What the user probably meant, for an error clap raised on `args` (without argv[0]).
pub fn tip(args: &[String], kind: ErrorKind) -> Option<String> {
    let (sub, rest) = split(args)?;
    if kind == ErrorKind::InvalidSubcommand {
        return Some(
            match sub {
                "stop" | "shutdown" | "halt" | "kill" => {
                    "to stop the daemon gracefully (admin only): relctl daemon stop"
                }
                "start" | "serve" | "run" | "daemon-start" => {
                    "relctl does not start the daemon: run releasd (it detaches and prints its socket)"
                }
                "ls" | "list" => {
                    "releases: relctl release list; environments: relctl env list; runs: relctl logs"
                }
                "releases" | "tags" => "relctl release list",
                "envs" | "environments" => "relctl env list",
                "history" => "relctl env history ENV",
                "tail" | "follow" | "log" => "relctl logs --follow",
                "promote" | "push" => "relctl deploy TAG --env ENV",
                "undo" | "revert" | "rollback-to" => "relctl rollback --env ENV [--to TAG]",
                "events" => "relctl watch",
                _ => return None,
            }
            .to_string(),
        );
    }
    if kind != ErrorKind::UnknownArgument && kind != ErrorKind::MissingRequiredArgument {
        return None;
    }
    // `release show` and `env show` exist, so `logs show ID` is a natural guess.
    if sub == "logs" && rest.first() == Some(&"show") {
        let id = rest.get(1).copied().unwrap_or("ID");
        return Some(format!("one run in full: relctl logs --id {id}"));
    }
    // The environment given as a word instead of --env.
    let (flags, words): (&[&str], usize) = match sub {
        "rollback" => (&["--dry-run", "--yes", "-y"], 0),
        "verify" => (&[], 0),
        "deploy" => (
            &["--yes", "-y", "--force", "--verify", "--auto-rollback"],
            1,
        ),
        "trigger" => (&[], 1),
        _ => return None,
    };
    if rest
        .iter()
        .any(|a| *a == "--env" || a.starts_with("--env="))
    {
        return None;
    }
    let pos = positionals(&rest, flags);
    let env = pos.get(words)?;
    let before = pos[..words].join(" ");
    let head = if before.is_empty() {
        format!("relctl {sub}")
    } else {
        format!("relctl {sub} {before}")
    };
    Some(format!("the environment is an option: {head} --env {env}"))
}

/// Add `tip` to a clap error (shown as "tip: ..." under the error line).
pub fn add_tip(err: &mut clap::Error, tip: String) {
    err.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![tip.into()]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str, kind: ErrorKind) -> Option<String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        tip(&args, kind)
    }

    #[test]
    fn near_misses_get_the_command_that_works() {
        let sub = ErrorKind::InvalidSubcommand;
        let unk = ErrorKind::UnknownArgument;
        assert!(t("stop", sub).is_some_and(|s| s.contains("relctl daemon stop")));
        assert!(t("--socket /x.sock stop", sub).is_some_and(|s| s.contains("daemon stop")));
        assert!(t("ls", sub).is_some_and(|s| s.contains("relctl release list")));
        assert!(
            t("logs show 14", ErrorKind::UnknownArgument)
                .is_some_and(|s| s.contains("relctl logs --id 14"))
        );
        assert_eq!(
            t("rollback staging", unk).as_deref(),
            Some("the environment is an option: relctl rollback --env staging")
        );
        assert_eq!(
            t("rollback --yes staging", unk).as_deref(),
            Some("the environment is an option: relctl rollback --env staging")
        );
        assert_eq!(
            t("deploy v1 staging", unk).as_deref(),
            Some("the environment is an option: relctl deploy v1 --env staging")
        );
        assert_eq!(t("deploy v1 --env staging x", unk), None);
        assert_eq!(t("frobnicate", sub), None);
    }
}
