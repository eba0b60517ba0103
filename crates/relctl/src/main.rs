//! relctl: the scripted CLI over releasd's RPC (§4.3).

mod cli;
mod commands;
mod confirm;
mod error;
mod hints;
mod holds;
mod json;
mod json_gov;
mod paging;
mod session;
mod table;
mod table_exec;
mod table_gov;

#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod snapshots_exec;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(mut e) => {
            let args: Vec<String> = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if let Some(tip) = hints::tip(&args, e.kind()) {
                hints::add_tip(&mut e, tip);
            }
            e.exit()
        }
    };
    let output = cli.output;
    // One thread is plenty for one request/response and keeps start-up cheap.
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::Error::new(e).context("cannot start the async runtime"))
        .and_then(|rt| rt.block_on(commands::run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let f = error::classify(&err);
            if output == cli::Output::Json {
                eprintln!("{}", json::line(&json::error(f.code, &f.message)));
            } else {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.exit)
        }
    }
}
