//! Confirmation before changing a protected environment: on a terminal, type its name; with
//! no terminal and no `--yes`, refuse (exit 1) rather than guess.

use std::io::{BufRead, IsTerminal, Write};

use rel_domain::RelError;

/// How a protected change was allowed to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// `--yes` was given.
    Yes,
    /// A person typed the environment's name after seeing the plan.
    Typed,
}

/// Ask for (or check) consent to change the protected environment `env`. `plan` is shown on
/// stderr first when stdout is not where the plan already went (JSON mode).
pub async fn protected(
    env: &str,
    yes: bool,
    plan_on_stderr: Option<String>,
) -> anyhow::Result<Consent> {
    if yes {
        return Ok(Consent::Yes);
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(RelError::invalid(format!(
            "{env} is protected and there is no terminal to confirm on: pass --yes to go ahead without asking (nothing changed)"
        ))
        .into());
    }
    let env_owned = env.to_string();
    // Reading stdin blocks; keep it off the runtime thread so the connection stays serviced.
    let typed = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut err = std::io::stderr().lock();
        if let Some(plan) = plan_on_stderr {
            err.write_all(plan.as_bytes())?;
        }
        write!(err, "Type the environment name ({env_owned}) to confirm: ")?;
        err.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    })
    .await??;
    let typed = typed.trim();
    if typed == env {
        Ok(Consent::Typed)
    } else {
        Err(RelError::invalid(format!(
            "aborted: you typed {typed:?}, not {env:?}; nothing changed"
        ))
        .into())
    }
}
