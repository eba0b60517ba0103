//! Deploy confirmation: target environment, from → to, the diff and the policy verdict
//! (`Request::PlanDeploy`). A protected environment needs its name typed. Admins may type an
//! override reason when the policy says no; the daemon has the last word either way.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rel_domain::{DeployPlan, DeployRequest, EnvironmentView, ErrorCode, RelError, ReleaseView};
use rel_proto::Request;

use super::{Action, confirm_hint, confirm_line, frame};
use crate::keys::is_ctrl;
use crate::msg::Purpose;
use crate::text::{
    code_title, diff_lines, diff_summary, labeled, policy_message, render_diff_pane, tui_message,
};
use crate::theme::Theme;
use crate::widgets::TextInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Env,
    Confirm,
    Reason,
    Button,
}

#[derive(Debug)]
pub struct DeployDialog {
    pub tag: String,
    pub envs: Vec<String>,
    pub protected: Vec<bool>,
    pub env_index: usize,
    pub plan: Option<DeployPlan>,
    pub plan_error: Option<String>,
    /// Generation of the plan request in flight.
    pub awaiting: Option<u64>,
    pub confirm: TextInput,
    pub reason: TextInput,
    pub focus: Focus,
    pub submitting: bool,
    pub hint: Option<String>,
    pub admin: bool,
    pub scroll: usize,
    /// When the policy wants a verification: which key gets it (set by the app, which
    /// knows what is live where).
    pub verify_hint: Option<String>,
}

impl DeployDialog {
    /// `prefer` picks the environment (promote); otherwise the first environment, in
    /// promotion order, that does not serve the release yet.
    pub fn new(
        tag: String,
        release: Option<&ReleaseView>,
        envs: &[EnvironmentView],
        prefer: Option<&str>,
        admin: bool,
    ) -> DeployDialog {
        let names: Vec<String> = envs.iter().map(|e| e.env.name.clone()).collect();
        let serving = |name: &str| {
            release.is_some_and(|r| r.live_in.iter().any(|l| l == name))
                || envs
                    .iter()
                    .any(|e| e.env.name == name && e.live.as_deref() == Some(tag.as_str()))
        };
        let env_index = prefer
            .and_then(|p| names.iter().position(|n| n == p))
            .or_else(|| names.iter().position(|n| !serving(n)))
            .unwrap_or(0);
        let mut d = DeployDialog {
            tag,
            protected: envs.iter().map(|e| e.env.protected).collect(),
            envs: names,
            env_index,
            plan: None,
            plan_error: None,
            awaiting: None,
            confirm: TextInput::new(),
            reason: TextInput::new(),
            focus: Focus::Button,
            submitting: false,
            hint: None,
            admin,
            scroll: 0,
            verify_hint: None,
        };
        d.focus = d.initial_focus();
        d
    }

    fn initial_focus(&self) -> Focus {
        if self.is_protected() {
            Focus::Confirm
        } else {
            Focus::Button
        }
    }

    pub fn env(&self) -> &str {
        self.envs
            .get(self.env_index)
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn is_protected(&self) -> bool {
        self.plan
            .as_ref()
            .map(|p| p.protected)
            .unwrap_or_else(|| self.protected.get(self.env_index).copied().unwrap_or(false))
    }

    /// Submitting opens a request instead of deploying.
    pub fn needs_approval(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|p| p.governance.approvals > 0)
    }

    fn denied(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.verdict.is_err())
    }

    pub fn plan_request(&self) -> Request {
        Request::PlanDeploy(DeployRequest {
            tag: self.tag.clone(),
            env: self.env().to_string(),
            expect: None,
            force_reason: None,
        })
    }

    /// A plan arrived; ignore it unless it answers the latest request.
    pub fn on_plan(&mut self, generation: u64, result: Result<DeployPlan, String>) {
        if self.awaiting != Some(generation) {
            return;
        }
        self.awaiting = None;
        match result {
            Ok(plan) => {
                self.plan = Some(plan);
                self.plan_error = None;
                if self.is_protected()
                    && self.focus == Focus::Button
                    && self.confirm.text() != self.env()
                {
                    self.focus = Focus::Confirm;
                }
            }
            Err(e) => {
                self.plan = None;
                self.plan_error = Some(e);
            }
        }
    }

    fn fields(&self) -> Vec<Focus> {
        let mut v = vec![Focus::Env];
        if self.is_protected() {
            v.push(Focus::Confirm);
        }
        if self.denied() && self.admin {
            v.push(Focus::Reason);
        }
        v.push(Focus::Button);
        v
    }

    fn cycle(&mut self, forward: bool) {
        let f = self.fields();
        let i = f.iter().position(|x| *x == self.focus).unwrap_or(0);
        let n = f.len();
        self.focus = f[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }

    fn change_env(&mut self, forward: bool) -> Action {
        let n = self.envs.len();
        if n < 2 {
            return Action::None;
        }
        self.env_index = if forward {
            (self.env_index + 1) % n
        } else {
            (self.env_index + n - 1) % n
        };
        self.plan = None;
        self.plan_error = None;
        self.verify_hint = None;
        self.confirm.clear();
        self.hint = None;
        self.scroll = 0;
        Action::PlanDeploy
    }

    fn submit(&mut self) -> Action {
        if self.submitting {
            return Action::None;
        }
        let Some(plan) = &self.plan else {
            self.hint = Some(match &self.plan_error {
                Some(_) => "cannot deploy: see the error above".into(),
                None => "waiting for the plan from releasd…".into(),
            });
            return Action::None;
        };
        if self.is_protected() && self.confirm.text() != self.env() {
            self.hint = Some(confirm_hint(self.env()));
            self.focus = Focus::Confirm;
            return Action::None;
        }
        let reason = self.reason.text().trim().to_string();
        let force_reason = (self.denied() && !reason.is_empty()).then_some(reason);
        // The policy said no: sending it again would only be refused again. Something must
        // change first (an override reason, another environment, the release verified).
        if self.denied() && force_reason.is_none() {
            self.hint = Some(if self.admin {
                "The policy refuses this deploy. To override it, type a reason in the Override field (audited), or press Esc.".into()
            } else {
                "The policy refuses this deploy; nothing was sent. Esc closes.".into()
            });
            if self.admin {
                self.focus = Focus::Reason;
            }
            return Action::None;
        }
        self.submitting = true;
        self.hint = None;
        Action::Call(
            Purpose::Deploy {
                tag: self.tag.clone(),
                env: self.env().to_string(),
            },
            Request::Deploy(DeployRequest {
                tag: self.tag.clone(),
                env: self.env().to_string(),
                // Compare-and-swap on what the confirmation showed: if someone else deployed
                // meanwhile, the daemon answers Conflict instead of overwriting it.
                expect: plan.from.clone(),
                force_reason,
            }),
        )
    }

    /// The focused field is a text field with text in it: ←/→ move its cursor.
    fn editing_text(&self) -> bool {
        match self.focus {
            Focus::Confirm => !self.confirm.text().is_empty(),
            Focus::Reason => !self.reason.text().is_empty(),
            Focus::Env | Focus::Button => false,
        }
    }

    /// The deploy failed: allow another try (the plan is refreshed by the app).
    pub fn on_failed(&mut self) {
        self.submitting = false;
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Action {
        if is_ctrl(key, 's') {
            return self.submit();
        }
        match key.code {
            KeyCode::Esc => return Action::Close,
            KeyCode::Tab => {
                self.cycle(true);
                return Action::None;
            }
            KeyCode::BackTab => {
                self.cycle(false);
                return Action::None;
            }
            KeyCode::PageDown => {
                self.scroll = (self.scroll + 5).min(self.diff_rows());
                return Action::None;
            }
            KeyCode::PageUp => {
                self.scroll = self.scroll.saturating_sub(5);
                return Action::None;
            }
            KeyCode::Enter => return self.submit(),
            // ←/→ pick another environment from any field, as the hint says, unless they
            // are moving the cursor in text being typed.
            KeyCode::Left | KeyCode::Right if !self.editing_text() => {
                return self.change_env(key.code == KeyCode::Right);
            }
            _ => {}
        }
        match self.focus {
            // Only arrows change the target: a space or letters typed here by mistake (meant
            // for a text field) must not silently deploy somewhere else.
            Focus::Env => match key.code {
                KeyCode::Right | KeyCode::Down => self.change_env(true),
                KeyCode::Left | KeyCode::Up => self.change_env(false),
                KeyCode::Char(_) => {
                    self.hint = Some(
                        "The environment changes with ←/→; Tab moves to the next field.".into(),
                    );
                    Action::None
                }
                _ => Action::None,
            },
            Focus::Confirm => {
                if self.confirm.handle(key) {
                    self.hint = None;
                }
                Action::None
            }
            Focus::Reason => {
                self.reason.handle(key);
                Action::None
            }
            Focus::Button => Action::None,
        }
    }

    /// Rows the diff takes unwrapped: a bound for scrolling.
    fn diff_rows(&self) -> usize {
        self.plan
            .as_ref()
            .map(|p| p.diff.changes.iter().map(|c| 1 + 3 * c.fields.len()).sum())
            .unwrap_or(0)
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, now: rel_domain::Timestamp) {
        let inner = frame(f, area, &format!("Deploy {}", self.tag), theme);
        let w = inner.width;
        // Field labels read as labels (not dimmed, which looks disabled); the focused one
        // is marked and reversed, visible without colour too.
        let label = |name: &str, field: Option<Focus>| {
            let focused = field.is_some_and(|x| x == self.focus);
            if focused {
                Span::styled(format!("› {name:<11} "), theme.focus_label())
            } else {
                Span::raw(format!("  {name:<12}"))
            }
        };
        let mut head = vec![];
        let mut env_line = vec![
            label("Environment", Some(Focus::Env)),
            Span::styled(format!("‹ {} ›", self.env()), theme.title()),
        ];
        if self.is_protected() {
            env_line.push(Span::styled("  PROTECTED", theme.warn()));
        }
        // The hint only where it fits: clipped at the border it reads as garbage.
        if self.envs.len() > 1 && w >= 76 {
            env_line.push(Span::styled("  (←/→ other environments)", theme.dim()));
        }
        head.push(Line::from(env_line));
        match (&self.plan, &self.plan_error) {
            (_, Some(e)) => head.extend(labeled(
                label("Plan", None),
                &format!("✗ {e}"),
                theme.bad(),
                w,
            )),
            (None, None) => head.push(Line::from(vec![
                label("Plan", None),
                Span::styled("asking releasd…", theme.dim()),
            ])),
            (Some(p), None) => {
                let from = p.from.as_deref().unwrap_or("(nothing live)");
                let mut change = vec![
                    label("Change", None),
                    Span::raw(format!("{from} → {}", p.to)),
                ];
                if p.already_live {
                    change.push(Span::styled(
                        "   already live: nothing would change",
                        theme.warn(),
                    ));
                }
                head.push(Line::from(change));
                match &p.verdict {
                    Ok(()) => head.push(Line::from(vec![
                        label("Policy", None),
                        Span::styled("✓ allowed", theme.ok()),
                    ])),
                    Err(e) => {
                        let cleaned = tui_message(&e.message);
                        let message = if e.code == ErrorCode::PolicyDenied {
                            policy_message(&cleaned)
                        } else {
                            &cleaned
                        };
                        head.extend(labeled(
                            label("Policy", None),
                            &format!("✗ {}: {message}", code_title(e.code)),
                            theme.bad(),
                            w,
                        ));
                        if let Some(h) = &self.verify_hint {
                            head.extend(labeled(label("Hint", None), h, theme.warn(), w));
                        }
                    }
                }
                // Approvals: what submitting does, and the requests already open for it.
                if p.governance.approvals > 0 {
                    head.extend(labeled(
                        label("Approvals", None),
                        &format!(
                            "{} needs {}: this creates a request; nothing goes live until other users approve it (Requests, 4).",
                            p.env,
                            crate::text::count(u64::from(p.governance.approvals), "approval", "approvals")
                        ),
                        theme.warn(),
                        w,
                    ));
                }
                for r in p.pending.iter().take(2) {
                    head.extend(labeled(
                        label("Pending", None),
                        &crate::gov::pending_line(r, now),
                        theme.warn(),
                        w,
                    ));
                }
                head.push(Line::from(vec![
                    label("Diff", None),
                    Span::raw(diff_summary(&p.diff)),
                ]));
            }
        }
        let mut foot = vec![];
        if self.is_protected() {
            foot.push(confirm_line(
                label("Confirm", Some(Focus::Confirm)),
                self.env(),
                &self.confirm,
                self.focus == Focus::Confirm,
                theme,
            ));
        }
        if self.denied() {
            if self.admin {
                let mut l = vec![
                    label("Override", Some(Focus::Reason)),
                    Span::raw("reason (audited): "),
                ];
                l.extend(
                    self.reason
                        .line(self.focus == Focus::Reason, 30, theme)
                        .spans,
                );
                foot.push(Line::from(l));
            } else {
                foot.extend(labeled(
                    Span::raw("  "),
                    "Only an admin can override this.",
                    theme.dim(),
                    w,
                ));
            }
        }
        let button = if self.submitting {
            "Deploying…".to_string()
        } else if self.denied() && !self.reason.text().trim().is_empty() {
            format!("Force-deploy {} to {}", self.tag, self.env())
        } else if self.needs_approval() {
            format!("Request deploy of {} to {}", self.tag, self.env())
        } else {
            format!("Deploy {} to {}", self.tag, self.env())
        };
        let button_style = if self.focus == Focus::Button {
            theme.selected()
        } else {
            theme.title()
        };
        let button = format!("[ {button} ]");
        let fits_esc = 14 + crate::text::width(&button) + 14 <= usize::from(w);
        foot.push(Line::from(vec![
            Span::raw(" ".repeat(14)),
            Span::styled(button, button_style),
            Span::styled(if fits_esc { "   Esc cancels" } else { "" }, theme.dim()),
        ]));
        if let Some(h) = &self.hint {
            foot.extend(labeled(Span::raw("  "), h, theme.warn(), w));
        }
        let [h_area, d_area, f_area] = Layout::vertical([
            Constraint::Length(head.len() as u16 + 1),
            Constraint::Min(1),
            Constraint::Length(foot.len() as u16 + 1),
        ])
        .areas(inner);
        f.render_widget(Paragraph::new(head), h_area);
        // An empty diff is said once, on the Diff line.
        if let Some(p) = self.plan.as_ref().filter(|p| !p.diff.is_empty()) {
            render_diff_pane(f, d_area, diff_lines(&p.diff, theme), self.scroll);
        }
        let mut fl = vec![Line::raw("")];
        fl.extend(foot);
        f.render_widget(Paragraph::new(fl), f_area);
    }
}

/// When the daemon refuses `tag` in `target` because it has not passed verification in an
/// environment `target` requires, say which key fixes that: `v` on the Environments screen
/// if the release is live there now, else deploy it there first. `None` for other errors.
pub fn verify_hint(
    tag: &str,
    target: &str,
    error: &RelError,
    envs: &[EnvironmentView],
) -> Option<String> {
    if error.code != ErrorCode::PolicyDenied {
        return None;
    }
    let requires = &envs.iter().find(|e| e.env.name == target)?.env.requires;
    let req = requires
        .iter()
        .find(|r| error.message.contains(&format!("verification in {r}")))?;
    let live_there = envs
        .iter()
        .any(|e| &e.env.name == req && e.live.as_deref() == Some(tag));
    Some(if live_there {
        format!("Press v on the Environments screen (2) to verify {req}, then promote {tag} again.")
    } else {
        format!(
            "Deploy {tag} to {req} first, then press v on the Environments screen (2) to verify {req}."
        )
    })
}
