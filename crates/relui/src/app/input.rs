//! Keys: what the user presses changes the state and may ask the daemon for something.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use rel_domain::ReleaseView;
use rel_proto::Request;

use super::App;
use crate::dialogs::{
    Action, ActionsMenu, CreateDialog, Ctx, DeployDialog, Dialog, DiffDialog, RollbackDialog,
};
use crate::keys::{is_char, movement};
use crate::msg::{Command, Purpose};
use crate::order::next_env;
use crate::screens::{DetailScreen, Screen};
use crate::widgets::{FilterOutcome, ListFilter};

impl App {
    // ----- keys -----

    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        // A palette mistake was said; whatever comes next replaces it.
        if std::mem::take(&mut self.palette_message) {
            self.message = None;
        }
        if crate::keys::is_ctrl(&key, 'c') {
            // Like Esc in a shell prompt: Ctrl-C closes what is open (an error, the help, a
            // dialog, an edited filter, a detail view) and quits only from a main screen.
            if self.error.take().is_some() || std::mem::take(&mut self.help) {
                return vec![];
            }
            if self.dialog.take().is_some() {
                self.info("Cancelled.");
                return vec![];
            }
            if let Some(filter) = self.editing_filter() {
                filter.editing = false;
                return vec![];
            }
            if self.palette.take().is_some() {
                return vec![];
            }
            // A detail view (a release, a run) goes back to its list, as Esc does.
            let detail = match self.screen {
                Screen::Releases => self.detail.take().is_some(),
                Screen::Logs => self.logs.detail.take().is_some(),
                Screen::Environments | Screen::Requests => false,
            };
            if detail {
                return vec![];
            }
            return vec![Command::Quit];
        }
        if self.error.is_some() {
            if matches!(key.code, KeyCode::Enter | KeyCode::Esc) {
                self.error = None;
            }
            return vec![];
        }
        if self.help {
            // Moving keys scroll a help that does not fit; any other key closes it, and where
            // it fits every key does (its footer says "any key closes help").
            let max = crate::dialogs::help::max_scroll(self.size);
            match movement(&super::habits::alias(key)).filter(|_| max > 0) {
                Some(m) => {
                    self.help_scroll = crate::keys::apply_move(self.help_scroll, max + 1, 5, m);
                }
                None => {
                    self.help = false;
                    self.help_scroll = 0;
                }
            }
            return vec![];
        }
        if self.dialog.is_some() {
            return self.dialog_key(key);
        }
        if let Some(filter) = self.editing_filter() {
            return match filter.key(&key) {
                FilterOutcome::Changed => self.filter_changed(),
                FilterOutcome::Done | FilterOutcome::Nothing => vec![],
            };
        }
        if self.palette.is_some() {
            return self.palette_key(key);
        }
        if is_char(&key, ':') {
            self.palette = Some(crate::widgets::TextInput::new());
            return vec![];
        }
        if is_char(&key, 'y') {
            return self.copy_selected();
        }
        let key = super::habits::alias(key);
        self.unknown_key(&key);
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
        if ['2', '3', '4'].iter().any(|c| is_char(&key, *c)) || key.code == KeyCode::Tab {
            self.screen = if key.code == KeyCode::Tab {
                self.screen.next()
            } else if is_char(&key, '2') {
                Screen::Environments
            } else if is_char(&key, '3') {
                Screen::Logs
            } else {
                Screen::Requests
            };
            if self.screen == Screen::Environments && self.envs.history_env.is_none() {
                return self.history_cmd();
            }
            if self.screen == Screen::Logs && !self.logs.loaded && !self.logs.loading() {
                let g = self.next_gen();
                return vec![self.logs.reload(g)];
            }
            if self.screen == Screen::Requests && !self.requests.loaded && !self.requests.loading()
            {
                let g = self.next_gen();
                return vec![self.requests.reload(g)];
            }
            return vec![];
        }
        if is_char(&key, 'n') {
            self.open_create();
            return vec![];
        }
        if is_char(&key, 's') && matches!(self.conn, super::Conn::Disconnected { .. }) {
            if self.ever_connected && !self.daemon_is_ours() {
                // Not relui's daemon: its data dir and config are unknown here.
                let text = self.not_ours_text();
                self.warn(text);
                return vec![];
            }
            self.start_error = None;
            return vec![Command::StartDaemon];
        }
        match self.screen {
            Screen::Releases => self.releases_key(key),
            Screen::Environments => self.environments_key(key),
            Screen::Logs => self.logs_key(key),
            Screen::Requests => self.requests_key(key),
        }
    }

    pub(super) fn requests_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let page = self.page();
        if let Some(m) = movement(&key) {
            self.requests.move_selection(m, page);
            let g = self.next_gen();
            return self.requests.maybe_prefetch(g).into_iter().collect();
        }
        if is_char(&key, '/') {
            self.requests.filter.start();
            return vec![];
        }
        if key.code == KeyCode::Esc && self.requests.filter.clear() {
            return self.filter_changed();
        }
        if is_char(&key, 't') {
            self.requests.all = !self.requests.all;
            let g = self.next_gen();
            return vec![self.requests.reload(g)];
        }
        let approve = is_char(&key, 'a');
        if !approve && !is_char(&key, 'x') {
            return vec![];
        }
        let Some(r) = self.requests.selected_request().cloned() else {
            self.warn("No request selected.");
            return vec![];
        };
        if r.status != rel_domain::governance::RequestStatus::Pending {
            self.warn(format!(
                "Request #{} is {} already: nothing to decide.",
                r.id,
                r.status.as_str()
            ));
            return vec![];
        }
        let me = self.data.caller.as_ref().map(|c| c.actor.name.clone());
        if approve && me.as_deref() == Some(r.requested_by.as_str()) {
            self.warn(format!(
                "Request #{} is yours: another user must approve it (x withdraws it).",
                r.id
            ));
            return vec![];
        }
        let env = self.data.envs.iter().find(|e| e.env.name == r.env);
        let dialog = crate::app::gov::request_dialog(r.clone(), approve, env, self.now);
        self.dialog = Some(Dialog::Gov(dialog));
        vec![]
    }

    /// The `/` filter of the current list while it is being typed.
    fn editing_filter(&mut self) -> Option<&mut ListFilter> {
        let filter = match self.screen {
            Screen::Releases if self.detail.is_none() => &mut self.releases.filter,
            Screen::Environments => &mut self.envs.filter,
            Screen::Logs if self.logs.detail.is_none() => &mut self.logs.filter,
            Screen::Requests => &mut self.requests.filter,
            _ => return None,
        };
        filter.editing.then_some(filter)
    }

    /// The current list's filter changed: filter again (the releases on the daemon, the
    /// others on what is loaded), from the top.
    fn filter_changed(&mut self) -> Vec<Command> {
        let page = self.page();
        match self.screen {
            Screen::Releases => {
                let g = self.next_gen();
                self.releases.selected = 0;
                self.releases.offset = 0;
                vec![self.releases.reload(g)]
            }
            Screen::Environments => {
                let before = self.envs.history_env.clone();
                self.envs.selected = 0;
                self.envs.reselect(&self.data.envs, before.as_deref());
                let now = self.envs.selected(&self.data.envs).map(|e| &e.env.name);
                if now.is_some() && now != before.as_ref() {
                    return self.history_cmd();
                }
                vec![]
            }
            Screen::Logs => {
                self.logs.filters_changed(page);
                let g = self.next_gen();
                self.logs.maybe_prefetch(g, true).into_iter().collect()
            }
            Screen::Requests => {
                self.requests.filters_changed(page);
                let g = self.next_gen();
                self.requests.maybe_prefetch(g).into_iter().collect()
            }
        }
    }

    pub(super) fn logs_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let page = self.page();
        if let Some(m) = movement(&key) {
            self.logs.move_selection(m, page);
            let g = self.next_gen();
            return self.logs.maybe_prefetch(g, false).into_iter().collect();
        }
        match key.code {
            KeyCode::Enter => self.logs.open(),
            KeyCode::Esc if self.logs.detail.is_some() => self.logs.detail = None,
            // Esc clears the text filter first, then errors only.
            KeyCode::Esc if self.logs.filter.clear() => return self.filter_changed(),
            KeyCode::Esc if self.logs.errors_only => {
                self.logs.errors_only = false;
                return self.filter_changed();
            }
            _ if self.logs.detail.is_some() => {}
            _ if is_char(&key, '/') => self.logs.filter.start(),
            _ if is_char(&key, 'e') => {
                self.logs.errors_only = !self.logs.errors_only;
                return self.filter_changed();
            }
            _ if is_char(&key, 'f') => {
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
    pub(super) fn current_release(&self) -> Option<ReleaseView> {
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

    pub(super) fn releases_key(&mut self, key: KeyEvent) -> Vec<Command> {
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
            if self.releases.filter.clear() || self.releases.filter_active() {
                return self.filter_changed();
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
            self.releases.filter.start();
            return vec![];
        }
        if is_char(&key, 'v') {
            self.warn(
                "v verifies an environment: select it on the Environments screen (2) and press v, or press a on a live release.",
            );
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

    pub(super) fn environments_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if let Some(m) = movement(&key) {
            let before = self.envs.selected;
            self.envs.move_selection(m, &self.data.envs);
            if self.envs.selected != before {
                return self.history_cmd();
            }
            return vec![];
        }
        if is_char(&key, '/') {
            self.envs.filter.start();
            return vec![];
        }
        if key.code == KeyCode::Esc && self.envs.filter.clear() {
            return self.filter_changed();
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
        if is_char(&key, 'v') {
            return self.start_verify(env);
        }
        if is_char(&key, 'f') {
            self.open_freeze(&env);
            return vec![];
        }
        if is_char(&key, 'u') {
            self.open_unfreeze(&env);
            return vec![];
        }
        // Shifted: the same for every environment (stop the line, and end the stop).
        if key.code == KeyCode::Char('F') {
            self.open_freeze_all("");
            return vec![];
        }
        if key.code == KeyCode::Char('U') {
            self.open_unfreeze_all();
            return vec![];
        }
        if is_char(&key, 'd') || is_char(&key, 'a') {
            self.warn("d and a act on a release: pick one on the Releases screen (1).");
        }
        vec![]
    }

    /// Run the checks against what is live in `env`. The daemon decides whether there is
    /// anything to verify and whether the caller may; its answer opens the result dialog.
    pub(super) fn start_verify(&mut self, env: String) -> Vec<Command> {
        if self.verifying.contains(&env) {
            self.info(format!(
                "Already verifying {env}: the result will show when the checks finish."
            ));
            return vec![];
        }
        if self.verifying.is_empty() {
            self.verifying_since = Some(self.now);
        }
        self.verifying.push(env.clone());
        vec![Command::call(
            Purpose::Verify { env: env.clone() },
            Request::Verify { env },
        )]
    }

    /// Deploy what is live in `from` to the next environment in promotion order.
    pub(super) fn promote(&mut self, from: &str) -> Vec<Command> {
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

    pub(super) fn open_create(&mut self) {
        let mut d = CreateDialog::new(&self.data.envs, self.data.draft_digest.map(|d| d.short()));
        d.validate(&self.releases.rows);
        self.dialog = Some(Dialog::Create(d));
    }

    pub(super) fn open_deploy(
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

    pub(super) fn open_rollback(&mut self, envs: Vec<String>, index: usize) -> Vec<Command> {
        let protected = envs
            .iter()
            .map(|n| {
                self.data
                    .envs
                    .iter()
                    .any(|e| e.env.name == *n && e.env.protected)
            })
            .collect();
        self.dialog = Some(Dialog::Rollback(RollbackDialog::new(
            envs, index, protected,
        )));
        self.replan(None)
    }

    pub(super) fn dialog_key(&mut self, key: KeyEvent) -> Vec<Command> {
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
            Some(Dialog::Verify(d)) => d.handle_key(&key),
            Some(Dialog::Gov(d)) => d.handle_key(&key, self.now),
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
            Action::Verify { env } => {
                self.dialog = None;
                self.start_verify(env)
            }
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
