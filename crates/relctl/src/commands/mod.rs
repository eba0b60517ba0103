//! One module per command family; `run` dispatches.

mod app;
mod change;
mod env;
pub(crate) mod exec;
mod gov;
mod misc;
mod release;
mod token;

use crate::cli::{Cli, Command, DaemonCmd};
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
        Command::Trigger(args) => exec::trigger(&s, args).await,
        Command::Verify { env } => exec::verify(&s, env).await,
        Command::Logs(args) => exec::logs(&s, args).await,
        Command::Token(cmd) => token::run(&s, cmd).await,
        Command::Watch(a) => misc::watch(&s, a.since).await,
        Command::Audit(args) => misc::audit(&s, args).await,
        Command::Export { file, force } => misc::export(&s, &file, force).await,
        Command::Import { file } => misc::import(&s, &file).await,
        Command::Completions { shell } => misc::completions(shell),
        Command::Daemon(DaemonCmd::Stop) => misc::daemon_stop(&s).await,
        Command::Man { dir } => misc::man(&dir),
        Command::Freeze { reason, until, .. } => gov::freeze(&s, None, reason, until).await,
        Command::Unfreeze { .. } => gov::unfreeze(&s, None).await,
        Command::Requests { env, all, limit } => gov::requests(&s, env, all, limit).await,
        Command::Approve { id } => gov::approve(&s, id).await,
        Command::Reject { id, reason } => gov::reject(&s, id, reason).await,
    }
}
