//! `releasd`: parse flags, then either detach (default) or serve in the foreground.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use releasd::cli::Cli;
use tracing_subscriber::EnvFilter;

/// mimalloc, not glibc's malloc: a trigger allocates a few hundred small objects in the
/// daemon and again in its worker, and glibc's malloc/free were ~11% of all CPU while
/// serving (docs/PERFORMANCE.md, "Session 4: serving").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// stderr is a terminal and `NO_COLOR` (https://no-color.org) is unset or empty.
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The reason for a failure exit, on stderr; a closed stderr leaves only the exit code.
fn say_error(msg: &str) {
    let _ = writeln!(std::io::stderr(), "releasd: {msg}");
}

fn main() -> ExitCode {
    // mimalloc's arenas would be backed by transparent huge pages: 70 MiB of RSS for an idle
    // daemon instead of 18. This applies to pages touched from now on, and to the workers
    // (kept across fork and exec). Failing only costs memory.
    let _ = nix::sys::prctl::set_thp_disable(true);
    let cli = Cli::parse();
    if cli.worker {
        return ExitCode::from(releasd::worker::child::main(
            cli.worker_memory,
            cli.step_marker.as_deref(),
        ));
    }
    if !cli.foreground {
        return match releasd::detach::run(&cli) {
            Ok(started) => {
                // Informational: a closed stdout (`releasd | head -1`) is no reason to panic,
                // and the daemon is running either way.
                let _ = writeln!(std::io::stdout(), "{}", started.message);
                for w in &started.warnings {
                    let _ = writeln!(std::io::stderr(), "releasd: warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                say_error(&format!("{e:#}"));
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: not in releasd.log, not in journalctl.
        .with_ansi(colour_wanted())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say_error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(releasd::daemon::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // stderr is releasd.log when detached, so this lands there too.
            say_error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}
