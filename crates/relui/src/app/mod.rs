//! The application state and `update`: every change of state happens here, in answer to a
//! `Msg`, and every request to the daemon leaves as a `Command`. No I/O.
//!
//! `answers.rs` handles daemon events and RPC answers, `input.rs` keys.

mod answers;
pub mod gov;
pub mod habits;
mod input;

use ratatui::layout::Rect;
use rel_domain::{Caller, Digest, EnvironmentView, Timestamp};
use rel_proto::{Request, Welcome};

use crate::dialogs::{Dialog, ErrorModal};
use crate::layout;
use crate::msg::{Command, Msg, Purpose};
use crate::screens::{
    DetailScreen, EnvironmentsScreen, LogsScreen, ReleasesScreen, RequestsScreen, Screen,
};
use crate::theme::Theme;

/// Data loaded from the daemon that several components read.
#[derive(Debug, Default)]
pub struct Data {
    /// In promotion order.
    pub envs: Vec<EnvironmentView>,
    pub envs_loaded: bool,
    pub caller: Option<Caller>,
    pub release_total: Option<u64>,
    pub draft_digest: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Starting {
        program: String,
    },
    Connected(Welcome),
    Disconnected {
        reason: String,
        retry_in_ms: u64,
    },
    /// This user may not use the daemon; relui does not start a daemon there. `by_daemon`:
    /// the socket opened but the daemon refused this user (no role in its config), else the
    /// socket itself may not be opened.
    Denied {
        reason: String,
        by_daemon: bool,
    },
}

/// A daemon relui started itself: it keeps running after relui quits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedDaemon {
    pub pid: Option<u32>,
    pub log: Option<String>,
}

const NOT_OURS: &str = "it was not started by relui";

/// How long an info message stays in the message line.
const INFO_TTL_MS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

pub struct App {
    pub theme: Theme,
    pub now: Timestamp,
    pub size: Rect,
    /// Where the daemon is expected, for messages.
    pub socket: String,
    pub conn: Conn,
    pub data: Data,
    pub screen: Screen,
    pub releases: ReleasesScreen,
    pub detail: Option<DetailScreen>,
    pub envs: EnvironmentsScreen,
    pub logs: LogsScreen,
    pub requests: RequestsScreen,
    pub dialog: Option<Dialog>,
    pub help: bool,
    /// Rows the help overlay is scrolled by (it scrolls where it does not fit).
    pub help_scroll: usize,
    pub error: Option<ErrorModal>,
    pub message: Option<Message>,
    pub last_event: Option<(String, Timestamp)>,
    /// Environments whose checks are running on our request, oldest first (status bar,
    /// VERIFIED column).
    pub verifying: Vec<String>,
    /// Why relui could not start a daemon; shown instead of the bare connection error until
    /// a connection succeeds.
    pub start_error: Option<String>,
    /// When the oldest running verification started (spinner and elapsed time).
    pub verifying_since: Option<Timestamp>,
    /// The `:` command palette while it is open.
    pub palette: Option<crate::widgets::TextInput>,
    /// The daemon this relui started, if it did.
    pub started: Option<StartedDaemon>,
    /// The daemon relui started was stopped on purpose; cleared by the next connection.
    pub ours_stopped: bool,
    /// Set once a connection worked: a later loss offers to start releasd again (only the
    /// one relui started, see `daemon_is_ours`).
    pub ever_connected: bool,
    /// The pid and data dir from the daemon's last status: which daemon went away, and
    /// where its data is, when it was not relui's own.
    pub last_status: Option<(u32, Option<String>)>,
    /// When the info message was set: info messages expire (errors stay).
    message_at: Option<Timestamp>,
    /// The message is a palette mistake: the next key clears it.
    palette_message: bool,
    /// The fresh-store check (apply the example draft) runs once per session.
    example_checked: bool,
    generation: u64,
}

impl App {
    pub fn new(theme: Theme, socket: String, size: Rect, now: Timestamp) -> App {
        App {
            theme,
            now,
            size,
            socket,
            conn: Conn::Connecting,
            data: Data::default(),
            screen: Screen::Releases,
            releases: ReleasesScreen::default(),
            detail: None,
            envs: EnvironmentsScreen::default(),
            logs: LogsScreen::default(),
            requests: RequestsScreen::default(),
            dialog: None,
            help: false,
            help_scroll: 0,
            error: None,
            message: None,
            last_event: None,
            verifying: Vec::new(),
            start_error: None,
            started: None,
            ours_stopped: false,
            ever_connected: false,
            last_status: None,
            palette: None,
            verifying_since: None,
            message_at: None,
            palette_message: false,
            example_checked: false,
            generation: 0,
        }
    }

    fn next_gen(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Data rows the release table shows at the current size.
    pub fn page(&self) -> usize {
        layout::release_rows(self.size, self.message_rows())
    }

    /// The message line's text and whether it is bad news: the lost daemon first, then
    /// a starting daemon, then the latest message.
    pub fn message_text(&self) -> Option<(String, bool)> {
        match (&self.conn, &self.message) {
            (Conn::Denied { reason, by_daemon }, _) => Some((
                if *by_daemon {
                    format!("releasd at {} refused you: {reason}", self.socket)
                } else {
                    format!("Permission denied on {}: {reason}", self.socket)
                },
                true,
            )),
            (Conn::Disconnected { reason, .. }, _) => match &self.start_error {
                Some(e) => Some((format!("could not start releasd: {e}"), true)),
                None if self.ours_stopped => Some((
                    format!(
                        "The releasd relui started on {} was stopped on purpose (its socket is gone, as after relctl daemon stop); relui does not restart it. s starts it again.",
                        self.socket
                    ),
                    true,
                )),
                None if self.ever_connected && !self.daemon_is_ours() => {
                    Some((self.not_ours_text(), true))
                }
                None if self.ever_connected => Some((
                    format!(
                        "{}. relui restarts the releasd it started by itself; s does it now.",
                        reason.trim_end_matches(['…', '.'])
                    ),
                    true,
                )),
                None => Some((reason.clone(), true)),
            },
            (Conn::Starting { program }, _) if self.ever_connected => Some((
                format!(
                    "releasd went away: relui starts the one it started again ({program} on {})…",
                    self.socket
                ),
                false,
            )),
            (Conn::Starting { program }, _) => Some((
                format!(
                    "No releasd was running: starting {program} on {}…",
                    self.socket
                ),
                false,
            )),
            (_, Some(m)) => Some((m.text.clone(), m.error)),
            (_, None) => None,
        }
    }

    /// Rows the message line needs at the current width (1–4: a daemon that went away
    /// needs its whole explanation at 60 columns).
    pub fn message_rows(&self) -> u16 {
        let width = usize::from(self.size.width.saturating_sub(2)).max(10);
        let rows = self
            .message_text()
            .map(|(t, _)| crate::text::wrap_words(&t, width).len())
            .unwrap_or(1);
        u16::try_from(rows.clamp(1, 4)).unwrap_or(1)
    }

    fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
        self.message_at = Some(self.now);
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
        self.message_at = Some(self.now);
    }

    /// What the Releases pane says while there is nothing to show and no daemon: what is
    /// happening and how to get one. `None` when connected (then it is loading).
    pub fn offline_text(&self) -> Option<String> {
        let retry = match &self.conn {
            Conn::Connected(_) => return None,
            Conn::Connecting => return Some(format!("Connecting to releasd at {}…", self.socket)),
            Conn::Starting { program } => {
                return Some(format!(
                    "No releasd was running at {}: starting {program}…",
                    self.socket
                ));
            }
            Conn::Disconnected { retry_in_ms, .. } => *retry_in_ms,
            Conn::Denied {
                reason,
                by_daemon: true,
            } => {
                return Some(format!(
                    "releasd at {} refused you: the socket opened, but your user has no role in the daemon's config.\n\n{reason}.\n\nrelui keeps retrying in case a role is granted; q quits.",
                    self.socket
                ));
            }
            Conn::Denied { reason, .. } => {
                return Some(format!(
                    "Permission denied: you may not open the releasd socket at {}.\n\n{reason}.\n\nrelui does not start a daemon there (one belongs to someone else). Run your own with: relui --socket PATH-YOU-OWN\nrelui keeps retrying in case access is granted; q quits.",
                    self.socket
                ));
            }
        };
        let mut text = format!(
            "Not connected to releasd at {}; retrying in {:.1}s.\n\n",
            self.socket,
            retry as f64 / 1000.0
        );
        if let Some(e) = &self.start_error {
            text.push_str(&format!("relui could not start releasd: {e}\n\n"));
        }
        if self.ever_connected && !self.daemon_is_ours() {
            text.push_str(&self.not_ours_text());
            text.push_str("\nrelui reconnects as soon as it answers.");
            return Some(text);
        }
        text.push_str(&format!(
            "Press s to start releasd now, or start one in another shell with: releasd --socket {}\nrelui connects as soon as it answers.",
            self.socket
        ));
        Some(text)
    }

    /// Whether the daemon relui talks (or talked) to is the one it started itself: only that
    /// one may relui start again, with the arguments it used. Any other was started with a
    /// data dir and config relui does not know, and starting a default one in its place
    /// would serve an empty store on its socket.
    pub fn daemon_is_ours(&self) -> bool {
        let Some(started) = &self.started else {
            return false;
        };
        match (started.pid, &self.last_status) {
            (Some(ours), Some((pid, _))) => ours == *pid,
            // No status since relui started it: the one it started is the only one it knows.
            _ => true,
        }
    }

    /// Why a submit went nowhere while disconnected, and what happens next: the input is
    /// kept, and whether relui brings the daemon back itself depends on whose it is.
    pub fn not_connected_text(&self) -> String {
        let next = if matches!(self.conn, Conn::Denied { .. }) {
            "this user may not use that releasd (see the status bar)"
        } else if self.ever_connected && !self.daemon_is_ours() {
            "that releasd was not started by relui, so it reconnects once whoever runs it starts it again; then submit again"
        } else if self.started.is_some() {
            "relui is starting the releasd it started again by itself; submit again once the status bar says connected"
        } else {
            "relui keeps trying to connect (s on a list starts releasd); submit again once the status bar says connected"
        };
        format!(
            "relui is not connected to releasd, so nothing was sent; what you typed is kept. {next}."
        )
    }

    /// The lost daemon was not relui's: how to start it, and why relui does not.
    pub fn not_ours_text(&self) -> String {
        let data = match &self.last_status {
            Some((_, Some(dir))) => format!("data dir {dir} from its last status"),
            _ => "its data dir unknown".to_string(),
        };
        format!(
            "releasd at {} stopped; {NOT_OURS} ({data}): start it the way it was started (e.g. systemctl restart releasd).",
            self.socket
        )
    }

    /// What to know about a daemon relui started: where it is, and that it outlives relui.
    pub fn started_note(&self) -> Option<String> {
        let started = self.started.as_ref()?;
        let pid = started
            .pid
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        let log = started
            .log
            .as_deref()
            .map(|l| format!(", log {l}"))
            .unwrap_or_default();
        Some(format!(
            "relui started releasd{pid}{log}; it keeps running after q (stop it with: relctl daemon stop)."
        ))
    }

    /// The process exit code when quitting now: 5 when access was refused (as relctl).
    pub fn exit_code(&self) -> u8 {
        if matches!(self.conn, Conn::Denied { .. }) {
            5
        } else {
            0
        }
    }

    pub fn connected(&self) -> bool {
        matches!(self.conn, Conn::Connected(_))
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        let cmds = self.update_inner(msg);
        // The message line may have grown or shrunk: keep the selection in view.
        let page = self.page();
        self.releases.fix_scroll(page);
        cmds
    }

    fn update_inner(&mut self, msg: Msg) -> Vec<Command> {
        match msg {
            Msg::Key(k) => self.on_key(k),
            Msg::Resize { width, height } => {
                self.size = Rect::new(0, 0, width, height);
                let page = self.page();
                self.releases.fix_scroll(page);
                vec![]
            }
            Msg::Tick(now) => {
                self.now = now;
                // Info messages ("Rolled back …") expire; errors stay until the next one.
                let expired = self.message.as_ref().is_some_and(|m| !m.error)
                    && self
                        .message_at
                        .is_some_and(|at| now.0.saturating_sub(at.0) >= INFO_TTL_MS);
                if expired {
                    self.message = None;
                }
                vec![]
            }
            Msg::StartFailed {
                reason,
                retry_in_ms,
            } => {
                self.start_error = Some(reason.clone());
                self.conn = Conn::Disconnected {
                    reason,
                    retry_in_ms,
                };
                vec![]
            }
            Msg::StartingDaemon { program } => {
                self.conn = Conn::Starting { program };
                vec![]
            }
            Msg::Denied { reason, by_daemon } => {
                self.conn = Conn::Denied { reason, by_daemon };
                vec![]
            }
            Msg::DaemonStarted { pid, log } => {
                // relui had started one, and it was not stopped on purpose: it died (a crash,
                // kill -9, OOM) and relui started it again. Say so: at 3 a.m. "started" alone
                // reads as a first start and hides that the daemon crashed.
                let died = self
                    .started
                    .as_ref()
                    .filter(|_| !self.ours_stopped)
                    .map(|old| old.pid);
                self.started = Some(StartedDaemon { pid, log });
                // A new daemon: the last status was another's.
                self.last_status = None;
                if let Some(note) = self.started_note() {
                    match died {
                        Some(old) => {
                            let old = old.map(|p| format!(" (pid {p})")).unwrap_or_default();
                            self.info(format!(
                                "the releasd relui started{old} went away without a stop (crashed or killed: its log may say why); {}",
                                note.replacen("relui started releasd", "relui started it again", 1)
                            ));
                        }
                        None => self.info(note),
                    }
                }
                vec![]
            }
            Msg::Connected(welcome) => {
                self.ours_stopped = false;
                // The welcome names the daemon; its data dir comes with the next status.
                if self
                    .last_status
                    .as_ref()
                    .is_none_or(|(p, _)| *p != welcome.pid)
                {
                    self.last_status = Some((welcome.pid, None));
                }
                // The refusal of `s` was about the daemon that went away.
                if self
                    .message
                    .as_ref()
                    .is_some_and(|m| m.text.contains(NOT_OURS))
                {
                    self.message = None;
                }
                self.ever_connected = true;
                self.start_error = None;
                self.data.caller = Some(welcome.caller.clone());
                self.conn = Conn::Connected(welcome);
                self.refresh_all()
            }
            Msg::Disconnected {
                reason,
                retry_in_ms,
            } => {
                self.conn = Conn::Disconnected {
                    reason,
                    retry_in_ms,
                };
                vec![]
            }
            Msg::OursStopped { retry_in_ms } => {
                self.ours_stopped = true;
                self.conn = Conn::Disconnected {
                    reason: format!("releasd on {} was stopped", self.socket),
                    retry_in_ms,
                };
                vec![]
            }
            Msg::Event { event, at } => self.on_event(event, at),
            Msg::Rpc { purpose, result } => self.on_rpc(purpose, result),
        }
    }

    /// Everything from scratch (after a (re)connect or a lagged subscription), keeping the
    /// selection by tag and environment name.
    fn refresh_all(&mut self) -> Vec<Command> {
        let mut cmds = vec![
            Command::call(Purpose::Status, Request::Status),
            Command::call(Purpose::Environments, Request::EnvList),
        ];
        let g = self.next_gen();
        cmds.push(self.releases.reload(g));
        if let Some(d) = &self.detail {
            cmds.push(Command::call(
                Purpose::ReleaseDetail { tag: d.tag.clone() },
                Request::ReleaseShow { tag: d.tag.clone() },
            ));
        }
        if self.logs.loaded || self.screen == Screen::Logs {
            let g = self.next_gen();
            cmds.push(self.logs.reload(g));
        }
        if self.requests.loaded || self.screen == Screen::Requests {
            let g = self.next_gen();
            cmds.push(self.requests.reload(g));
        }
        cmds.extend(self.replan(None));
        cmds
    }

    /// Ask again for the plan of an open deploy/rollback dialog (if it targets `env`, or
    /// any env when `None`).
    fn replan(&mut self, env: Option<&str>) -> Vec<Command> {
        let generation = self.next_gen();
        match &mut self.dialog {
            Some(Dialog::Deploy(d)) if !d.submitting && env.is_none_or(|e| e == d.env()) => {
                d.awaiting = Some(generation);
                vec![Command::call(
                    Purpose::PlanDeploy { generation },
                    d.plan_request(),
                )]
            }
            Some(Dialog::Rollback(d)) if !d.submitting && env.is_none_or(|e| e == d.env()) => {
                d.awaiting = Some(generation);
                vec![Command::call(
                    Purpose::PlanRollback { generation },
                    d.plan_request(),
                )]
            }
            _ => vec![],
        }
    }

    fn env_names(&self) -> Vec<String> {
        self.data.envs.iter().map(|e| e.env.name.clone()).collect()
    }

    fn history_cmd(&mut self) -> Vec<Command> {
        self.envs
            .load_history(&self.data.envs)
            .into_iter()
            .collect()
    }
}
