//! What every command shares: where the daemon is, how to print, and the connection.

use std::io::Write;
use std::path::PathBuf;

use rel_domain::{RelError, Timestamp};
use rel_proto::{Client, Request, Response};
use serde::Serialize;

use crate::cli::Output;
use crate::json;
use crate::table::Ctx;

pub const CLIENT_NAME: &str = concat!("relctl ", env!("CARGO_PKG_VERSION"));

pub struct Session {
    pub socket: PathBuf,
    pub output: Output,
    pub ctx: Ctx,
}

impl Session {
    pub fn new(socket: Option<PathBuf>, output: Output) -> Session {
        let socket = socket.unwrap_or_else(rel_proto::paths::default_socket);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // People can widen tables with COLUMNS; the default suits an 80-column SSH window.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(80usize)
            .max(40);
        Session {
            socket,
            output,
            ctx: Ctx {
                now: Timestamp::from_millis(now),
                width,
            },
        }
    }

    pub fn json(&self) -> bool {
        self.output == Output::Json
    }

    pub async fn connect(&self) -> anyhow::Result<Conn> {
        let client = Client::connect(&self.socket, CLIENT_NAME).await?;
        Ok(Conn { client })
    }

    /// Human text or pretty JSON on stdout, depending on `-o`.
    pub fn show<T: Serialize>(
        &self,
        human: impl FnOnce() -> String,
        machine: impl FnOnce() -> T,
    ) -> anyhow::Result<()> {
        if self.json() {
            let mut s = json::pretty(&machine());
            s.push('\n');
            out(&s)
        } else {
            out(&human())
        }
    }

    /// After a list cut at `--limit` (`more`): a line under the table when `table_line` (the
    /// tables of `release list` and `logs` carry their own), and for `-o json` a note on
    /// stderr, since stdout stays one JSON document.
    pub fn more_note(&self, more: bool, shown: usize, table_line: bool) -> anyhow::Result<()> {
        if !more {
            return Ok(());
        }
        let note = crate::paging::more_hint(shown, None);
        if self.json() {
            eprintln!("{note}");
            Ok(())
        } else if table_line {
            out(&format!("{note}\n"))
        } else {
            Ok(())
        }
    }
}

/// Write to stdout. A closed pipe (`relctl release list | head -1`) is not an error.
pub fn out(s: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

pub struct Conn {
    pub client: Client,
}

impl Conn {
    pub async fn call(&self, request: Request) -> anyhow::Result<Response> {
        Ok(self.client.call(request).await?)
    }
}

/// The daemon answered with a response this request never gets: a version skew or a bug.
pub fn unexpected(r: &Response) -> anyhow::Error {
    let name = format!("{r:?}");
    let name = name
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("?")
        .to_string();
    RelError::internal(format!(
        "releasd sent an unexpected {name} response; are relctl and releasd the same version? (relctl {})",
        env!("CARGO_PKG_VERSION")
    ))
    .into()
}

/// `reply!(conn, Request::X, Response::Y(v) => v)`: call and unpack one response variant.
#[macro_export]
macro_rules! reply {
    ($conn:expr, $req:expr, $pat:pat => $val:expr) => {
        match $conn.call($req).await? {
            $pat => $val,
            other => return Err($crate::session::unexpected(&other)),
        }
    };
}

/// Read a file the user named ("-" is stdin), with an error that names it.
pub fn read_input(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
            .map_err(|e| RelError::invalid(format!("cannot read stdin: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| {
        RelError::invalid(format!(
            "cannot read {}: {e}; check the path",
            path.display()
        ))
        .into()
    })
}
