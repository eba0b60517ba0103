//! One module per command family; `run` dispatches.

mod app;
mod change;
mod env;
mod misc;
mod release;

use crate::cli::{Cli, Command};
use crate::session::Session;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let s = Session::new(cli.socket, cli.output);
    match cli.command {
        Command::Status => misc::status(&s).await,
        Command::App(cmd) => app::run(&s, cmd).await,
        Command::Release(cmd) => release::run(&s, cmd).await,
        Command::Diff { from, to } => release::diff(&s, from, to).await,
        Command::Deploy(args) => change::deploy(&s, args).await,
        Command::Rollback(args) => change::rollback(&s, args).await,
        Command::Env(cmd) => env::run(&s, cmd).await,
        Command::Watch => misc::watch(&s).await,
        Command::Audit(args) => misc::audit(&s, args).await,
        Command::Export { file } => misc::export(&s, &file).await,
        Command::Import { file } => misc::import(&s, &file).await,
        Command::Completions { shell } => misc::completions(shell),
    }
}
