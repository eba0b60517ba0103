//! The event loop, generic over the ratatui backend: messages in, `update`, commands out,
//! redraw. Terminal input, daemon events and RPC answers all arrive on one channel.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use rel_proto::ClientError;
use tokio::sync::{mpsc, watch};

use crate::app::App;
use crate::daemon::{Current, Options, connection_loop, now};
use crate::msg::{Command, Msg};

/// Runs requests on the current connection, each in its own task, answering with a
/// `Msg::Rpc`. Requests are pipelined by the client, so a slow one blocks nothing.
#[derive(Clone)]
pub struct Executor {
    tx: mpsc::UnboundedSender<Msg>,
    current: watch::Receiver<Option<Arc<rel_proto::Client>>>,
    start: mpsc::UnboundedSender<()>,
}

impl Executor {
    pub fn run(&self, command: Command) -> bool {
        match command {
            Command::Quit => true,
            Command::StartDaemon => {
                let _ = self.start.send(());
                false
            }
            Command::Copy(text) => {
                // Between frames, on the terminal relui draws on: it reaches the user's own
                // terminal even over SSH.
                use std::io::Write as _;
                let seq = crate::clipboard::osc52(&text, crate::clipboard::in_tmux());
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(seq.as_bytes()).and_then(|()| out.flush());
                false
            }
            Command::Call { purpose, request } => {
                let client = self.current.borrow().clone();
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = match client {
                        Some(c) => c.call(request).await,
                        None => Err(ClientError::Disconnected(crate::text::NOT_CONNECTED.into())),
                    };
                    let _ = tx.send(Msg::Rpc { purpose, result });
                });
                false
            }
        }
    }
}

/// Start the daemon connection and the clock; returns the executor for commands.
pub fn spawn_background(opts: Options, tx: mpsc::UnboundedSender<Msg>, ticks: bool) -> Executor {
    let (current, rx) = watch::channel(None);
    let current: Arc<Current> = Arc::new(current);
    let (start, start_rx) = mpsc::unbounded_channel();
    tokio::spawn(connection_loop(opts, tx.clone(), current, start_rx));
    if ticks {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if tx.send(Msg::Tick(now())).is_err() {
                    return;
                }
            }
        });
    }
    Executor {
        tx,
        current: rx,
        start,
    }
}

/// Forward terminal events (keys, resizes) from crossterm.
pub fn spawn_terminal_input(tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let mut events = crossterm::event::EventStream::new();
        while let Some(ev) = events.next().await {
            let msg = match ev {
                Ok(crossterm::event::Event::Key(k)) => Msg::Key(k),
                Ok(crossterm::event::Event::Resize(width, height)) => Msg::Resize { width, height },
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("terminal input: {e}");
                    break;
                }
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
}

/// Apply one message; true when the app asked to quit.
pub fn step(app: &mut App, msg: Msg, exec: &Executor) -> bool {
    let mut quit = false;
    for c in app.update(msg) {
        quit |= exec.run(c);
    }
    quit
}

/// The loop: draw, then for each batch of pending messages update and draw again. Returns
/// when the app quits or every sender is gone.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    exec: &Executor,
) -> Result<(), B::Error> {
    terminal.draw(|f| app.render(f))?;
    while let Some(msg) = rx.recv().await {
        if step(app, msg, exec) {
            return Ok(());
        }
        // Coalesce a burst (a paste, a flood of events) into one redraw.
        while let Ok(msg) = rx.try_recv() {
            if step(app, msg, exec) {
                return Ok(());
            }
        }
        terminal.draw(|f| app.render(f))?;
    }
    Ok(())
}
