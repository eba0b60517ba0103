//! Rollback confirmation: from → to, the diff, and the hold it will place
//! (`Request::PlanRollback`). Rolling back is the 3 a.m. path, so it asks for Enter only —
//! except in a protected environment, whose name must be typed first (as relctl asks).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rel_domain::{RollbackPlan, RollbackRequest};
use rel_proto::Request;

use super::{Action, confirm_hint, confirm_line, frame};
use crate::keys::is_ctrl;
use crate::msg::Purpose;
use crate::text::{diff_lines, diff_summary, labeled, render_diff_pane};
use crate::theme::Theme;
use crate::widgets::TextInput;

#[derive(Debug)]
pub struct RollbackDialog {
    /// Environments the user can pick between (where the release is live, or just the
    /// selected one).
    pub envs: Vec<String>,
    pub env_index: usize,
    pub plan: Option<RollbackPlan>,
    pub plan_error: Option<String>,
    pub awaiting: Option<u64>,
    pub submitting: bool,
    pub hint: Option<String>,
    pub scroll: usize,
    /// Per entry of `envs`: protected, so its name must be typed.
    pub protected: Vec<bool>,
    pub confirm: TextInput,
}

impl RollbackDialog {
    pub fn new(envs: Vec<String>, env_index: usize, protected: Vec<bool>) -> RollbackDialog {
        RollbackDialog {
            protected,
            confirm: TextInput::new(),
            env_index: env_index.min(envs.len().saturating_sub(1)),
            envs,
            plan: None,
            plan_error: None,
            awaiting: None,
            submitting: false,
            hint: None,
            scroll: 0,
        }
    }

    pub fn env(&self) -> &str {
        self.envs
            .get(self.env_index)
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn is_protected(&self) -> bool {
        self.protected.get(self.env_index).copied().unwrap_or(false)
    }

    pub fn plan_request(&self) -> Request {
        Request::PlanRollback(RollbackRequest {
            env: self.env().to_string(),
            to: None,
            expect: None,
            reason: None,
        })
    }

    pub fn on_plan(&mut self, generation: u64, result: Result<RollbackPlan, String>) {
        if self.awaiting != Some(generation) {
            return;
        }
        self.awaiting = None;
        match result {
            Ok(p) => {
                self.plan = Some(p);
                self.plan_error = None;
            }
            Err(e) => {
                self.plan = None;
                self.plan_error = Some(e);
            }
        }
    }

    /// The plan was refused (nothing to roll back to, …): an informational state whose only
    /// action is closing.
    pub fn refused(&self) -> bool {
        self.plan_error.is_some()
    }

    pub fn on_failed(&mut self) {
        self.submitting = false;
    }

    fn submit(&mut self) -> Action {
        if self.submitting {
            return Action::None;
        }
        let Some(plan) = &self.plan else {
            self.hint = Some(match &self.plan_error {
                Some(_) => "cannot roll back: see the reason above; Esc closes".into(),
                None => "waiting for the plan from releasd…".into(),
            });
            return Action::None;
        };
        if self.is_protected() && self.confirm.text() != plan.env {
            self.hint = Some(confirm_hint(&plan.env));
            return Action::None;
        }
        self.submitting = true;
        Action::Call(
            Purpose::Rollback {
                env: plan.env.clone(),
            },
            Request::Rollback(RollbackRequest {
                env: plan.env.clone(),
                to: None,
                // Only undo what the confirmation showed: a concurrent change is a Conflict.
                expect: Some(plan.from.clone()),
                reason: None,
            }),
        )
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Action {
        if is_ctrl(key, 's') {
            return self.submit();
        }
        match key.code {
            KeyCode::Esc => Action::Close,
            KeyCode::Enter if self.refused() => Action::Close,
            KeyCode::Enter => self.submit(),
            KeyCode::PageDown => {
                self.scroll = (self.scroll + 5).min(self.diff_rows());
                Action::None
            }
            KeyCode::PageUp => {
                self.scroll = self.scroll.saturating_sub(5);
                Action::None
            }
            // ←/→ move the cursor once a name is being typed; Tab always switches.
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab
                if self.envs.len() > 1
                    && (matches!(key.code, KeyCode::Tab | KeyCode::BackTab)
                        || self.confirm.text().is_empty()) =>
            {
                let n = self.envs.len();
                let fwd = matches!(key.code, KeyCode::Right | KeyCode::Tab);
                self.env_index = if fwd {
                    (self.env_index + 1) % n
                } else {
                    (self.env_index + n - 1) % n
                };
                self.plan = None;
                self.plan_error = None;
                self.hint = None;
                self.scroll = 0;
                self.confirm.clear();
                Action::PlanRollback
            }
            _ if self.is_protected() => {
                if self.confirm.handle(key) {
                    self.hint = None;
                }
                Action::None
            }
            _ => Action::None,
        }
    }

    /// Rows the diff takes unwrapped: a bound for scrolling.
    fn diff_rows(&self) -> usize {
        self.plan
            .as_ref()
            .map(|p| p.diff.changes.iter().map(|c| 1 + 3 * c.fields.len()).sum())
            .unwrap_or(0)
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let inner = frame(f, area, &format!("Roll back {}", self.env()), theme);
        let w = inner.width;
        let label = |s: &str| Span::styled(format!("  {s:<12}"), theme.dim());
        let mut head = vec![];
        let mut env_line = vec![
            label("Environment"),
            Span::styled(self.env().to_string(), theme.title()),
        ];
        if self.is_protected() {
            env_line.push(Span::styled("  PROTECTED", theme.warn()));
        }
        if self.envs.len() > 1 && w >= 76 {
            env_line.push(Span::styled("  (←/→ other environments)", theme.dim()));
        }
        head.push(Line::from(env_line));
        match (&self.plan, &self.plan_error) {
            (_, Some(e)) => {
                // "Invalid: nothing to roll back to: …" is not a failure of the user's: say
                // it plainly, as information.
                let nothing = e
                    .find("nothing to roll back to")
                    .map(|i| &e[i..])
                    .map(|rest| format!("N{}", &rest[1..]));
                match nothing {
                    Some(text) => head.extend(labeled(label("Plan"), &text, theme.warn(), w)),
                    None => head.extend(labeled(label("Plan"), &format!("✗ {e}"), theme.bad(), w)),
                }
            }
            (None, None) => head.push(Line::from(vec![
                label("Plan"),
                Span::styled("asking releasd…", theme.dim()),
            ])),
            (Some(p), None) => {
                head.push(Line::from(vec![
                    label("Change"),
                    Span::raw(format!("{} → {}", p.from, p.to)),
                ]));
                let held = if p.popped.is_empty() {
                    vec![p.from.clone()]
                } else {
                    p.popped.clone()
                };
                head.extend(labeled(
                    label("Hold"),
                    &format!(
                        "{} will be held in {}: deploying it there again needs an admin's override",
                        held.join(", "),
                        p.env
                    ),
                    theme.warn(),
                    w,
                ));
                head.push(Line::from(vec![
                    label("Diff"),
                    Span::raw(diff_summary(&p.diff)),
                ]));
            }
        }
        let mut foot = vec![Line::raw("")];
        // A refused plan (nothing to roll back to, no such environment): there is nothing to
        // confirm, so offer only the way out instead of a button that would do nothing.
        let refused = self.plan_error.is_some();
        if refused {
            foot.push(Line::from(vec![
                Span::raw(" ".repeat(14)),
                Span::styled("Nothing to do here. Enter or Esc closes.", theme.dim()),
            ]));
        }
        if self.is_protected() && !refused {
            foot.push(confirm_line(
                Span::styled(format!("› {:<12}", "Confirm"), theme.focus()),
                self.env(),
                &self.confirm,
                true,
                theme,
            ));
        }
        let blocked = self.is_protected() && self.confirm.text() != self.env();
        let button = if self.submitting {
            "Rolling back…".to_string()
        } else {
            match &self.plan {
                Some(p) => format!("Roll back {} to {}", p.env, p.to),
                None => format!("Roll back {}", self.env()),
            }
        };
        if !refused {
            foot.push(Line::from(vec![
                Span::raw(" ".repeat(14)),
                Span::styled(
                    format!("[ {button} ]"),
                    if blocked {
                        theme.dim()
                    } else {
                        theme.selected()
                    },
                ),
                Span::styled("   Esc cancels", theme.dim()),
            ]));
        }
        if let Some(h) = &self.hint {
            foot.extend(labeled(Span::raw("  "), h, theme.warn(), w));
        }
        let [h_area, d_area, f_area] = Layout::vertical([
            Constraint::Length(head.len() as u16 + 1),
            Constraint::Min(1),
            Constraint::Length(foot.len() as u16),
        ])
        .areas(inner);
        f.render_widget(Paragraph::new(head), h_area);
        // An empty diff is said once, on the Diff line.
        if let Some(p) = self.plan.as_ref().filter(|p| !p.diff.is_empty()) {
            render_diff_pane(f, d_area, diff_lines(&p.diff, theme), self.scroll);
        }
        f.render_widget(Paragraph::new(foot), f_area);
    }
}
