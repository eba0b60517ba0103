//! relui's command line: the UI by default, plus the files a package installs (a man page
//! and shell completions), generated from the same clap definitions as `--help`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

/// Keyboard-driven terminal UI for rel: releases, environments, deploys and rollbacks.
///
/// Screens: 1 Releases, 2 Environments, 3 Logs, 4 Requests (Tab cycles). n creates a release from the
/// draft, d deploys the selected release, p promotes what is live to the next environment,
/// r rolls an environment back, v runs its checks, / filters any list, : opens the command
/// palette, y copies the selected tag, digest or run id, ? lists every key, q quits.
/// Every deploy and rollback is confirmed with the diff and the policy verdict first.
///
/// With no releasd on the socket, relui starts one (detached; it keeps running after q,
/// stop it with `relctl daemon stop`) unless --no-start is given. On a socket the user may
/// not open it starts nothing and exits 5. A locale that is not UTF-8 gets ASCII drawing;
/// NO_COLOR and TERM without colour get none. RELUI_LOG=FILE writes a debug log.
#[derive(Parser, Debug)]
#[command(name = "relui", version)]
pub struct Args {
    /// The releasd socket [default: $RELEASD_SOCKET, else $XDG_RUNTIME_DIR/releasd/releasd.sock,
    /// else /tmp/releasd-$UID/releasd.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Do not start releasd when none is running; just keep trying to connect.
    #[arg(long)]
    pub no_start: bool,
    #[command(subcommand)]
    pub command: Option<Sub>,
}

#[derive(Subcommand, Debug)]
pub enum Sub {
    /// Print a shell completion script (e.g. `relui completions bash > ~/.local/share/bash-completion/completions/relui`)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Write the man page relui.1 into DIR, for packaging
    #[command(hide = true)]
    Man {
        /// Where to write the page (created if missing)
        dir: PathBuf,
    },
}

/// `relui man DIR`: writes DIR/relui.1 and returns its path.
pub fn write_man(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("relui.1");
    let mut buf = Vec::new();
    clap_mangen::Man::new(Args::command())
        .render(&mut buf)
        .context("cannot render relui.1")?;
    std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `relui completions SHELL`: the script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "relui", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_documents_the_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_man(dir.path()).expect("man page");
        let text = std::fs::read_to_string(path).expect("read relui.1");
        assert!(text.contains(".SH SYNOPSIS"), "{text}");
        assert!(text.contains("no\\-start"), "{text}");
        assert!(text.contains("socket"), "{text}");
    }

    #[test]
    fn completions_name_the_flags() {
        let bash = completions(clap_complete::Shell::Bash);
        assert!(
            bash.contains("--no-start") && bash.contains("relui"),
            "{bash}"
        );
    }

    #[test]
    fn no_subcommand_runs_the_ui() {
        let a = Args::try_parse_from(["relui", "--socket", "/tmp/x.sock"]).expect("parse");
        assert!(a.command.is_none());
        assert_eq!(a.socket.as_deref(), Some(Path::new("/tmp/x.sock")));
    }
}
