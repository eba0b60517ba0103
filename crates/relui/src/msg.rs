//! What flows into `App::update` (messages) and out of it (commands).

use crossterm::event::KeyEvent;
use rel_domain::Timestamp;
use rel_proto::{ClientError, Event, Request, Response, Welcome};

/// Everything the event loop feeds into the app.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one message at a time; boxing buys nothing here
pub enum Msg {
    Key(KeyEvent),
    Resize {
        width: u16,
        height: u16,
    },
    /// The wall clock, for ages ("5m ago"); sent once a second.
    Tick(Timestamp),
    /// relui is starting a daemon because none answered.
    StartingDaemon {
        program: String,
    },
    Connected(Welcome),
    /// The daemon could not be reached or went away; the loop retries after `retry_in_ms`.
    Disconnected {
        reason: String,
        retry_in_ms: u64,
    },
    /// Starting a daemon failed; `reason` says why (and where its log is). It stays on
    /// screen until a connection succeeds.
    StartFailed {
        reason: String,
        retry_in_ms: u64,
    },
    /// This user may not open the socket (or the daemon refused us): relui never starts a
    /// daemon then, and says so until access works.
    Denied {
        reason: String,
        /// The socket opened but the daemon refused this user (no role in its config).
        by_daemon: bool,
    },
    /// The daemon relui started was stopped on purpose (`relctl daemon stop`, SIGTERM: it
    /// removed its socket). relui does not bring it back; `s` does.
    OursStopped {
        retry_in_ms: u64,
    },
    /// relui started releasd itself: its pid and log file (it keeps running after `q`).
    DaemonStarted {
        pid: Option<u32>,
        log: Option<String>,
    },
    Event {
        event: Event,
        at: Timestamp,
    },
    /// The answer to a `Command::Call`.
    Rpc {
        purpose: Purpose,
        result: Result<Response, ClientError>,
    },
}

/// What `update` asks the loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send `request`; its answer comes back as `Msg::Rpc { purpose, .. }`.
    Call {
        purpose: Purpose,
        request: Request,
    },
    /// Start releasd now (the user asked, after it went away).
    StartDaemon,
    /// Put the text on the clipboard (OSC 52, `y`).
    Copy(String),
    Quit,
}

impl Command {
    pub fn call(purpose: Purpose, request: Request) -> Command {
        Command::Call { purpose, request }
    }
}

/// Why a request was sent, so its answer lands in the right place (and stale answers are
/// recognised by their generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    Status,
    Draft,
    ApplyExample,
    /// A page of the release list; `append` adds below what is loaded, else it replaces.
    Releases {
        generation: u64,
        append: bool,
    },
    Environments,
    ReleaseDetail {
        tag: String,
    },
    EnvHistory {
        env: String,
    },
    PlanDeploy {
        generation: u64,
    },
    Deploy {
        tag: String,
        env: String,
    },
    PlanRollback {
        generation: u64,
    },
    Rollback {
        env: String,
    },
    Create {
        tag: String,
        deploy_to: Option<String>,
    },
    /// A diff asked for from the actions menu.
    Diff {
        title: String,
    },
    /// A page of execution logs.
    Logs {
        generation: u64,
        append: bool,
    },
    /// One run, fetched after its `ExecutionFinished` event.
    LogShow {
        id: u64,
    },
    /// The checks run against what is live in `env` (key `v`).
    Verify {
        env: String,
    },
    /// A page of change requests (issue 11).
    Requests {
        generation: u64,
        append: bool,
    },
    Freeze {
        env: String,
    },
    Unfreeze {
        env: String,
    },
    Approve {
        id: u64,
    },
    Reject {
        id: u64,
    },
    /// Stop the line (`Request::Freeze { env: None }`).
    FreezeAll,
    /// End the stopped line (`Request::Unfreeze { env: None }`).
    UnfreezeAll,
    /// `:deploy TAG [ENV]` for a tag not loaded: does the daemon know it? Opens the deploy
    /// confirmation when it does.
    PaletteDeploy {
        tag: String,
        env: Option<String>,
    },
}

impl Purpose {
    /// Requests the user asked for explicitly: their errors get a modal. Background loads
    /// only note the error in the message line (the status bar already shows a lost daemon).
    pub fn is_user_action(&self) -> bool {
        matches!(
            self,
            Purpose::Deploy { .. }
                | Purpose::Rollback { .. }
                | Purpose::Create { .. }
                | Purpose::Diff { .. }
                | Purpose::Verify { .. }
                | Purpose::Freeze { .. }
                | Purpose::Unfreeze { .. }
                | Purpose::FreezeAll
                | Purpose::UnfreezeAll
                | Purpose::Approve { .. }
                | Purpose::Reject { .. }
        )
    }
}
