//! `relui [--socket PATH] [--no-start]`: the rel terminal UI (`relui man DIR` and
//! `relui completions SHELL` write what a package installs).

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crossterm::execute;
use ratatui::DefaultTerminal;
use ratatui::layout::Rect;
use relui::cli::{Args, Sub};
use relui::daemon::{Options, now};
use relui::runtime::{run, spawn_background, spawn_terminal_input};
use relui::{App, Theme};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let args = Args::parse();
    match &args.command {
        Some(Sub::Man { dir }) => {
            return match relui::cli::write_man(dir) {
                Ok(path) => {
                    println!("wrote {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("relui: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Sub::Completions { shell }) => {
            print!("{}", relui::cli::completions(*shell));
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    init_tracing();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("relui: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(main_async(args));
    rt.shutdown_timeout(Duration::from_millis(200));
    match result {
        // 5 when the socket was refused, as relctl says for permission denied.
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("relui: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to the file named by `RELUI_LOG` (the terminal belongs to the UI); none otherwise.
fn init_tracing() {
    let Some(path) = std::env::var_os("RELUI_LOG").filter(|p| !p.is_empty()) else {
        return;
    };
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

/// Restores the terminal when dropped, including while unwinding.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    ratatui::restore();
    // ratatui's restore leaves the cursor as the last frame left it (hidden).
    let _ = execute!(io::stdout(), crossterm::cursor::Show);
}

/// `ratatui::try_init`: raw mode, the alternate screen and a panic hook that restores the
/// terminal before printing the panic (a panic must leave a usable shell behind).
fn setup_terminal() -> anyhow::Result<(TerminalGuard, DefaultTerminal)> {
    let terminal =
        ratatui::try_init().context("cannot set up the terminal (is stdin a terminal?)")?;
    Ok((TerminalGuard, terminal))
}

async fn main_async(args: Args) -> anyhow::Result<u8> {
    let socket = args.socket.unwrap_or_else(rel_proto::paths::default_socket);
    let (_guard, mut terminal) = setup_terminal()?;
    let size = terminal.size().context("cannot read the terminal size")?;
    let mut app = App::new(
        Theme::from_env(),
        socket.display().to_string(),
        Rect::new(0, 0, size.width, size.height),
        now(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    spawn_terminal_input(tx.clone());
    let opts = Options {
        socket,
        autostart: !args.no_start,
        client_name: format!("relui {}", env!("CARGO_PKG_VERSION")),
    };
    let exec = spawn_background(opts, tx, true);
    // SIGTERM (someone's `kill`) or SIGHUP (the SSH session went away): stop like `q` does, so
    // the guard restores the terminal instead of leaving it raw in the alternate screen.
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    tokio::select! {
        r = run(&mut terminal, &mut app, &mut rx, &exec) => r.context("drawing the UI")?,
        _ = term.recv() => tracing::info!("SIGTERM: quitting"),
        _ = hangup.recv() => tracing::info!("SIGHUP: quitting"),
    }
    Ok(app.exit_code())
}
