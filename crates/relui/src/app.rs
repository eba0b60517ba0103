//! The application state and `update`: every change of state happens here, in answer to a
//! `Msg`, and every request to the daemon leaves as a `Command`. No I/O.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::layout::Rect;
use rel_domain::config::{AppConfig, AppConfigText, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::{Caller, Deployment, Digest, EnvironmentView, ReleaseView, Timestamp};
use rel_proto::{ClientError, Event, Request, Response, Welcome};

use crate::dialogs::{
    Action, ActionsMenu, CreateDialog, Ctx, DeployDialog, Dialog, DiffDialog, ErrorModal,
    RollbackDialog,
};
use crate::keys::{is_char, movement};
use crate::layout;
use crate::msg::{Command, Msg, Purpose};
use crate::order::{next_env, promotion_order};
use crate::screens::releases::FilterOutcome;
use crate::screens::{DetailScreen, EnvironmentsScreen, LogsScreen, ReleasesScreen, Screen};
use crate::text::{error_message, error_title, event_summary};
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
    Starting { program: String },
    Connected(Welcome),
    Disconnected { reason: String, retry_in_ms: u64 },
}

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
    pub dialog: Option<Dialog>,
    pub help: bool,
    pub error: Option<ErrorModal>,
    pub message: Option<Message>,
    pub last_event: Option<(String, Timestamp)>,
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
            dialog: None,
            help: false,
            error: None,
            message: None,
            last_event: None,
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
            (Conn::Disconnected { reason, .. }, _) => Some((reason.clone(), true)),
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

    /// Rows the message line needs at the current width (1–3).
    pub fn message_rows(&self) -> u16 {
        let width = usize::from(self.size.width.saturating_sub(2)).max(10);
        let rows = self
            .message_text()
            .map(|(t, _)| crate::text::wrap_words(&t, width).len())
            .unwrap_or(1);
        u16::try_from(rows.clamp(1, 3)).unwrap_or(1)
    }

    fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
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
                vec![]
            }
            Msg::StartingDaemon { program } => {
                self.conn = Conn::Starting { program };
                vec![]
            }
            Msg::Connected(welcome) => {
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

    // ----- daemon events -----

    fn on_event(&mut self, event: Event, at: Timestamp) -> Vec<Command> {
        self.last_event = Some((event_summary(&event), at));
        let mut cmds = vec![];
        match event {
            Event::ReleaseCreated { release, .. } => {
                let page = self.page();
                if !self.releases.insert_created(release, page) {
                    let g = self.next_gen();
                    cmds.push(self.releases.reload(g));
                }
                cmds.push(Command::call(Purpose::Status, Request::Status));
                if let Some(Dialog::Create(d)) = &mut self.dialog {
                    d.validate(&self.releases.rows);
                }
            }
            Event::Deployed(d) | Event::RolledBack(d) => cmds.extend(self.on_deployment(&d)),
            Event::VerificationFinished { release, .. } => {
                cmds.push(Command::call(Purpose::Environments, Request::EnvList));
                cmds.extend(self.reload_detail_if(&[release.as_str()]));
            }
            Event::DraftApplied { digest, .. } => self.data.draft_digest = Some(digest),
            Event::EnvironmentCreated { .. } => {
                cmds.push(Command::call(Purpose::Environments, Request::EnvList))
            }
            Event::ReleasesPruned { .. } | Event::Imported { .. } | Event::Lagged { .. } => {
                cmds.extend(self.refresh_all())
            }
            Event::ExecutionFinished { id, env, .. } => {
                if self.logs.wants(&env) {
                    cmds.push(Command::call(
                        Purpose::LogShow { id },
                        Request::LogShow { id },
                    ));
                }
            }
        }
        cmds
    }

    /// Someone (maybe us) changed what an environment serves: patch the list in place and
    /// reload the small things that show it.
    fn on_deployment(&mut self, d: &Deployment) -> Vec<Command> {
        let order = self.env_names();
        self.releases.apply_deployment(d, &order);
        let mut cmds = vec![Command::call(Purpose::Environments, Request::EnvList)];
        let mut tags = vec![d.release.as_str()];
        if let Some(p) = &d.previous {
            tags.push(p);
        }
        cmds.extend(self.reload_detail_if(&tags));
        if self.envs.history_env.as_deref() == Some(d.env.as_str()) {
            cmds.extend(self.history_cmd());
        }
        cmds.extend(self.replan(Some(&d.env)));
        cmds
    }

    fn reload_detail_if(&self, tags: &[&str]) -> Vec<Command> {
        match &self.detail {
            Some(det) if tags.contains(&det.tag.as_str()) => {
                vec![Command::call(
                    Purpose::ReleaseDetail {
                        tag: det.tag.clone(),
                    },
                    Request::ReleaseShow {
                        tag: det.tag.clone(),
                    },
                )]
            }
            _ => vec![],
        }
    }

    // ----- RPC answers -----

    fn on_rpc(&mut self, purpose: Purpose, result: Result<Response, ClientError>) -> Vec<Command> {
        let response = match result {
            Ok(r) => r,
            Err(e) => return self.on_rpc_error(purpose, e),
        };
        match (purpose, response) {
            (Purpose::Status, Response::Status(s)) => {
                self.data.release_total = Some(s.store.releases);
                self.data.draft_digest = s.store.draft_digest;
                if !self.example_checked {
                    self.example_checked = true;
                    if s.store.releases == 0 {
                        return vec![Command::call(Purpose::Draft, Request::DraftShow)];
                    }
                }
            }
            (Purpose::Draft, Response::Draft(draft)) => {
                let empty = match draft {
                    None => true,
                    Some(v) => AppConfig::from_json(&v.config_json).is_ok_and(|c| c.is_empty()),
                };
                if empty && self.data.release_total == Some(0) {
                    return vec![Command::call(
                        Purpose::ApplyExample,
                        Request::DraftApply(AppConfigText {
                            format: ConfigFormat::Toml,
                            text: EXAMPLE_APP_TOML.to_string(),
                        }),
                    )];
                }
            }
            (Purpose::ApplyExample, Response::DraftApplied { digest, .. }) => {
                self.data.draft_digest = Some(digest);
                self.info("Fresh store: rel's example app config is now the draft. Press n to release it.");
            }
            (Purpose::Releases { generation, append }, Response::Releases(rows)) => {
                let page = self.page();
                if self.releases.on_page(generation, append, rows, page) {
                    let g = self.next_gen();
                    if let Some(c) = self.releases.maybe_prefetch(g) {
                        return vec![c];
                    }
                }
            }
            (Purpose::Environments, Response::Environments(envs)) => {
                let keep = self
                    .envs
                    .selected(&self.data.envs)
                    .map(|e| e.env.name.clone());
                self.data.envs = promotion_order(envs);
                self.data.envs_loaded = true;
                self.envs.reselect(&self.data.envs, keep.as_deref());
                if self.screen == Screen::Environments || self.envs.history_env.is_some() {
                    return self.history_cmd();
                }
            }
            (Purpose::ReleaseDetail { tag }, Response::Release(detail)) => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.tag == tag) {
                    d.set(detail);
                }
            }
            (Purpose::EnvHistory { env }, Response::History(rows)) => {
                self.envs.on_history(&env, rows)
            }
            (Purpose::PlanDeploy { generation }, Response::DeployPlan(plan)) => {
                if let Some(Dialog::Deploy(d)) = &mut self.dialog {
                    d.on_plan(generation, Ok(plan));
                }
            }
            (Purpose::PlanRollback { generation }, Response::RollbackPlan(plan)) => {
                if let Some(Dialog::Rollback(d)) = &mut self.dialog {
                    d.on_plan(generation, Ok(plan));
                }
            }
            (Purpose::Deploy { tag, env }, Response::Deployed(outcome)) => {
                if matches!(self.dialog, Some(Dialog::Deploy(_))) {
                    self.dialog = None;
                }
                if outcome.changed {
                    self.info(format!(
                        "Deployed {tag} to {env} (deployment #{}).",
                        outcome.deployment.id
                    ));
                    return self.on_deployment(&outcome.deployment);
                }
                self.info(format!("{tag} was already live in {env}: nothing changed."));
            }
            (Purpose::Rollback { env }, Response::Deployed(outcome)) => {
                if matches!(self.dialog, Some(Dialog::Rollback(_))) {
                    self.dialog = None;
                }
                let d = &outcome.deployment;
                self.info(format!(
                    "Rolled back {env} to {} (deployment #{}); {} is now held there.",
                    d.release,
                    d.id,
                    d.previous.as_deref().unwrap_or("the previous release")
                ));
                let d = d.clone();
                return self.on_deployment(&d);
            }
            (Purpose::Create { tag, deploy_to }, Response::Created(outcome)) => {
                if matches!(self.dialog, Some(Dialog::Create(_))) {
                    self.dialog = None;
                }
                let mut text = format!(
                    "Created release {tag} ({}).",
                    outcome.release.release.digest
                );
                if let Some(first) = outcome.same_content_as.first() {
                    text.push_str(&format!(" Same content as {first}."));
                }
                if let (Some(env), Some(dep)) = (&deploy_to, &outcome.deployment) {
                    text.push_str(&format!(
                        " Deployed to {env} (deployment #{}).",
                        dep.deployment.id
                    ));
                }
                self.info(text);
                self.screen = Screen::Releases;
                self.detail = None;
                let page = self.page();
                let mut cmds = vec![Command::call(Purpose::Status, Request::Status)];
                if !self.releases.insert_created(outcome.release.clone(), page) {
                    let g = self.next_gen();
                    cmds.push(self.releases.reload(g));
                }
                self.releases.select_tag(&tag, page);
                if let Some(dep) = &outcome.deployment {
                    cmds.extend(self.on_deployment(&dep.deployment));
                }
                return cmds;
            }
            (Purpose::Diff { .. }, Response::Diff(view)) => {
                if let Some(Dialog::Diff(d)) = &mut self.dialog {
                    let digests = match (view.from_digest, view.to_digest) {
                        (Some(a), Some(b)) => format!(" ({a} → {b})"),
                        _ => String::new(),
                    };
                    d.set(format!("{} → {}{digests}", view.from, view.to), view.diff);
                }
            }
            (Purpose::Logs { generation, append }, Response::Executions(rows)) => {
                let page = self.page();
                if self.logs.on_page(generation, append, rows, page) {
                    let g = self.next_gen();
                    if let Some(c) = self.logs.maybe_prefetch(g) {
                        return vec![c];
                    }
                }
            }
            (Purpose::LogShow { .. }, Response::Execution(exec)) => {
                let page = self.page();
                self.logs.insert(exec, page);
            }
            (Purpose::Diff { .. }, Response::Release(detail)) => {
                if let Some(Dialog::Diff(d)) = &mut self.dialog {
                    let header = match &detail.previous {
                        Some(p) => format!("{p} → {}", detail.view.release.tag),
                        None => format!(
                            "{} is the first release: nothing to compare with",
                            detail.view.release.tag
                        ),
                    };
                    d.set(header, detail.diff_from_previous);
                }
            }
            (purpose, other) => {
                self.warn(format!(
                    "releasd answered {purpose:?} with an unexpected {}",
                    response_name(&other)
                ));
            }
        }
        vec![]
    }

    fn on_rpc_error(&mut self, purpose: Purpose, e: ClientError) -> Vec<Command> {
        let title = error_title(&e).to_string();
        let message = error_message(&e);
        let connection = matches!(
            e,
            ClientError::Disconnected(_) | ClientError::Unreachable { .. }
        );
        let modal = |context: String| ErrorModal {
            title: title.clone(),
            message: message.clone(),
            context,
        };
        match purpose {
            Purpose::Deploy { tag, env } => {
                if let Some(Dialog::Deploy(d)) = &mut self.dialog {
                    d.on_failed();
                }
                self.error = Some(modal(format!("Deploy {tag} to {env}")));
                // What the confirmation showed may be stale now (Conflict): show the truth.
                return self.replan(Some(&env));
            }
            Purpose::Rollback { env } => {
                if let Some(Dialog::Rollback(d)) = &mut self.dialog {
                    d.on_failed();
                }
                self.error = Some(modal(format!("Roll back {env}")));
                return self.replan(Some(&env));
            }
            Purpose::Create { tag, .. } => {
                if let Some(Dialog::Create(d)) = &mut self.dialog {
                    d.submitting = false;
                }
                self.error = Some(modal(format!("Create release {tag}")));
            }
            Purpose::Diff { title: what } => {
                if matches!(self.dialog, Some(Dialog::Diff(_))) {
                    self.dialog = None;
                }
                self.error = Some(modal(format!("Diff {what}")));
            }
            Purpose::PlanDeploy { generation } => {
                if let Some(Dialog::Deploy(d)) = &mut self.dialog {
                    d.on_plan(generation, Err(format!("{title}: {message}")));
                }
            }
            Purpose::PlanRollback { generation } => {
                if let Some(Dialog::Rollback(d)) = &mut self.dialog {
                    d.on_plan(generation, Err(format!("{title}: {message}")));
                }
            }
            Purpose::ReleaseDetail { tag } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.tag == tag) {
                    d.error = Some(message);
                }
            }
            Purpose::EnvHistory { env } => self.envs.on_history_error(&env, message),
            Purpose::Releases { generation, .. } => {
                self.releases.on_error(generation);
                if !connection {
                    self.warn(format!("Cannot load releases: {message}"));
                }
            }
            Purpose::Status | Purpose::Environments | Purpose::Draft => {
                if !connection {
                    self.warn(format!("{title}: {message}"));
                }
            }
            Purpose::Logs { generation, .. } => self.logs.on_error(generation, message),
            // The run may have been trimmed by retention already; the list stays as it is.
            Purpose::LogShow { .. } => {}
            Purpose::ApplyExample => {
                if !connection {
                    self.warn(format!(
                        "Could not apply the example app config as the draft: {message}"
                    ));
                }
            }
        }
        vec![]
    }

    // ----- keys -----

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        if crate::keys::is_ctrl(&key, 'c') {
            return vec![Command::Quit];
        }
        if self.error.is_some() {
            if matches!(key.code, KeyCode::Enter | KeyCode::Esc) {
                self.error = None;
            }
            return vec![];
        }
        if self.help {
            self.help = false;
            return vec![];
        }
        if self.dialog.is_some() {
            return self.dialog_key(key);
        }
        if self.screen == Screen::Releases && self.detail.is_none() && self.releases.filter_editing
        {
            return match self.releases.filter_key(&key) {
                FilterOutcome::Requery => {
                    let g = self.next_gen();
                    self.releases.selected = 0;
                    self.releases.offset = 0;
                    vec![self.releases.reload(g)]
                }
                FilterOutcome::Done | FilterOutcome::Nothing => vec![],
            };
        }
        if is_char(&key, 'q') {
            return vec![Command::Quit];
        }
        if is_char(&key, '?') {
            self.help = true;
            return vec![];
        }
        if is_char(&key, '1') {
            self.screen = Screen::Releases;
            return vec![];
        }
        if is_char(&key, '2') || is_char(&key, '3') || key.code == KeyCode::Tab {
            self.screen = if key.code == KeyCode::Tab {
                self.screen.next()
            } else if is_char(&key, '2') {
                Screen::Environments
            } else {
                Screen::Logs
            };
            if self.screen == Screen::Environments && self.envs.history_env.is_none() {
                return self.history_cmd();
            }
            if self.screen == Screen::Logs && !self.logs.loaded && !self.logs.loading() {
                let g = self.next_gen();
                return vec![self.logs.reload(g)];
            }
            return vec![];
        }
        if is_char(&key, 'n') {
            self.open_create();
            return vec![];
        }
        match self.screen {
            Screen::Releases => self.releases_key(key),
            Screen::Environments => self.environments_key(key),
            Screen::Logs => self.logs_key(key),
        }
    }

    fn logs_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let page = self.page();
        if let Some(m) = movement(&key) {
            self.logs.move_selection(m, page);
            let g = self.next_gen();
            return self.logs.maybe_prefetch(g).into_iter().collect();
        }
        match key.code {
            KeyCode::Enter => self.logs.open(),
            KeyCode::Esc => self.logs.detail = None,
            _ if is_char(&key, '/') => {
                let names = self.env_names();
                self.logs.cycle_env(&names);
                let g = self.next_gen();
                return vec![self.logs.reload(g)];
            }
            _ => {}
        }
        vec![]
    }

    /// The release the Releases screen acts on: the open detail's, else the selected row.
    fn current_release(&self) -> Option<ReleaseView> {
        if let Some(d) = &self.detail {
            return d.view().cloned().or_else(|| {
                self.releases
                    .rows
                    .iter()
                    .find(|r| r.release.tag == d.tag)
                    .cloned()
            });
        }
        self.releases.selected().cloned()
    }

    fn releases_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if let Some(m) = movement(&key) {
            let page = self.page();
            if let Some(d) = &mut self.detail {
                d.scroll(m, page);
                return vec![];
            }
            self.releases.move_selection(m, page);
            let g = self.next_gen();
            return self.releases.maybe_prefetch(g).into_iter().collect();
        }
        if key.code == KeyCode::Esc {
            if self.detail.take().is_some() {
                return vec![];
            }
            if self.releases.filter_active() || !self.releases.filter.text().is_empty() {
                self.releases.filter.clear();
                let g = self.next_gen();
                return vec![self.releases.reload(g)];
            }
            return vec![];
        }
        if key.code == KeyCode::Enter && self.detail.is_none() {
            let Some(tag) = self.releases.selected_tag() else {
                return vec![];
            };
            self.detail = Some(DetailScreen::new(tag.clone()));
            return vec![Command::call(
                Purpose::ReleaseDetail { tag: tag.clone() },
                Request::ReleaseShow { tag },
            )];
        }
        if is_char(&key, '/') && self.detail.is_none() {
            self.releases.filter_editing = true;
            return vec![];
        }
        let Some(release) = self.current_release() else {
            if ['d', 'a', 'r', 'p'].iter().any(|c| is_char(&key, *c)) {
                self.warn("No release selected. Press n to create one.");
            }
            return vec![];
        };
        if is_char(&key, 'd') {
            return self.open_deploy(release.release.tag.clone(), Some(release), None);
        }
        if is_char(&key, 'a') {
            self.dialog = Some(Dialog::Actions(ActionsMenu::new(&release, &self.data.envs)));
            return vec![];
        }
        if is_char(&key, 'r') {
            if release.live_in.is_empty() {
                self.warn(format!(
                    "{} is not live anywhere, so there is nothing to roll back. To roll back an environment, select it on the Environments screen (2) and press r.",
                    release.release.tag
                ));
                return vec![];
            }
            let n = release.live_in.len();
            return self.open_rollback(release.live_in.clone(), n - 1);
        }
        if is_char(&key, 'p') {
            let Some(from) = release.live_in.last().cloned() else {
                self.warn(format!(
                    "{} is not live anywhere yet: press d to deploy it first.",
                    release.release.tag
                ));
                return vec![];
            };
            return self.promote(&from);
        }
        vec![]
    }

    fn environments_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if let Some(m) = movement(&key) {
            let before = self.envs.selected;
            self.envs.move_selection(m, self.data.envs.len());
            if self.envs.selected != before {
                return self.history_cmd();
            }
            return vec![];
        }
        let Some(env) = self
            .envs
            .selected(&self.data.envs)
            .map(|e| e.env.name.clone())
        else {
            return vec![];
        };
        if is_char(&key, 'r') {
            return self.open_rollback(vec![env], 0);
        }
        if is_char(&key, 'p') {
            return self.promote(&env);
        }
        if is_char(&key, 'd') || is_char(&key, 'a') {
            self.warn("d and a act on a release: pick one on the Releases screen (1).");
        }
        vec![]
    }

    /// Deploy what is live in `from` to the next environment in promotion order.
    fn promote(&mut self, from: &str) -> Vec<Command> {
        let Some(env) = self.data.envs.iter().find(|e| e.env.name == from) else {
            self.warn(format!(
                "Environment {from} is not loaded yet; try again in a moment."
            ));
            return vec![];
        };
        let Some(live) = env.live.clone() else {
            self.warn(format!(
                "Nothing is live in {from}, so there is nothing to promote."
            ));
            return vec![];
        };
        let Some(next) = next_env(&self.data.envs, from).map(|e| e.env.name.clone()) else {
            self.warn(format!(
                "{from} is the last environment in promotion order: nothing to promote to."
            ));
            return vec![];
        };
        let release = self
            .releases
            .rows
            .iter()
            .find(|r| r.release.tag == live)
            .cloned();
        self.open_deploy(live, release, Some(next))
    }

    fn open_create(&mut self) {
        let mut d = CreateDialog::new(&self.data.envs, self.data.draft_digest.map(|d| d.short()));
        d.validate(&self.releases.rows);
        self.dialog = Some(Dialog::Create(d));
    }

    fn open_deploy(
        &mut self,
        tag: String,
        release: Option<ReleaseView>,
        prefer: Option<String>,
    ) -> Vec<Command> {
        if self.data.envs.is_empty() {
            self.warn("No environments are loaded yet (is releasd connected?).");
            return vec![];
        }
        let admin = self
            .data
            .caller
            .as_ref()
            .is_some_and(|c| c.role == rel_domain::Role::Admin);
        let d = DeployDialog::new(
            tag,
            release.as_ref(),
            &self.data.envs,
            prefer.as_deref(),
            admin,
        );
        self.dialog = Some(Dialog::Deploy(d));
        self.replan(None)
    }

    fn open_rollback(&mut self, envs: Vec<String>, index: usize) -> Vec<Command> {
        self.dialog = Some(Dialog::Rollback(RollbackDialog::new(envs, index)));
        self.replan(None)
    }

    fn dialog_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let ctx = Ctx {
            envs: &self.data.envs,
            releases: &self.releases.rows,
            caller: self.data.caller.as_ref(),
            theme: self.theme,
            now: self.now,
        };
        let action = match &mut self.dialog {
            Some(Dialog::Create(d)) => d.handle_key(&key, &ctx),
            Some(Dialog::Actions(m)) => m.handle_key(&key),
            Some(Dialog::Deploy(d)) => d.handle_key(&key),
            Some(Dialog::Rollback(d)) => d.handle_key(&key),
            Some(Dialog::Diff(d)) => d.handle_key(&key),
            None => Action::None,
        };
        match action {
            Action::None => vec![],
            Action::Close => {
                self.dialog = None;
                vec![]
            }
            Action::Call(purpose, request) => vec![Command::Call { purpose, request }],
            Action::PlanDeploy | Action::PlanRollback => self.replan(None),
            Action::OpenDeploy { tag } => {
                let release = self
                    .releases
                    .rows
                    .iter()
                    .find(|r| r.release.tag == tag)
                    .cloned();
                self.open_deploy(tag, release, None)
            }
            Action::OpenRollback { env } => self.open_rollback(vec![env], 0),
            Action::Diff(purpose, request) => {
                let title = match &purpose {
                    Purpose::Diff { title } => title.clone(),
                    _ => String::new(),
                };
                self.dialog = Some(Dialog::Diff(DiffDialog::new(title)));
                vec![Command::Call { purpose, request }]
            }
        }
    }
}

fn response_name(r: &Response) -> &'static str {
    match r {
        Response::Pong => "Pong",
        Response::Status(_) => "Status",
        Response::Draft(_) => "Draft",
        Response::DraftApplied { .. } => "DraftApplied",
        Response::Diff(_) => "Diff",
        Response::Valid { .. } => "Valid",
        Response::Created(_) => "Created",
        Response::Releases(_) => "Releases",
        Response::Release(_) => "Release",
        Response::Pruned(_) => "Pruned",
        Response::DeployPlan(_) => "DeployPlan",
        Response::Deployed(_) => "Deployed",
        Response::RollbackPlan(_) => "RollbackPlan",
        Response::Environments(_) => "Environments",
        Response::Environment(_) => "Environment",
        Response::History(_) => "History",
        Response::Audit(_) => "Audit",
        Response::AuditReport(_) => "AuditReport",
        Response::Export { .. } => "Export",
        Response::Imported(_) => "Imported",
        Response::Subscribed => "Subscribed",
        Response::Execution(_) => "Execution",
        Response::Executions(_) => "Executions",
        Response::Verified(_) => "Verified",
        Response::TokenCreated { .. } => "TokenCreated",
        Response::Tokens(_) => "Tokens",
        Response::Done => "Done",
    }
}
