//! Governance confirmations (issue 11): freeze an environment (reason, optional until),
//! unfreeze it, approve a request, reject one (reason). One small form for all four, so
//! they read and behave alike: Tab between fields, Enter or Ctrl-S submits, Esc cancels.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use rel_domain::Timestamp;
use rel_domain::governance::{ChangeRequest, parse_time};
use rel_proto::Request;

use super::{Action, frame};
use crate::keys::is_ctrl;
use crate::msg::Purpose;
use crate::text::labeled;
use crate::theme::Theme;
use crate::widgets::TextInput;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GovKind {
    Freeze {
        env: String,
    },
    Unfreeze {
        env: String,
    },
    /// Stop the line: freeze every environment at once.
    FreezeAll,
    /// End the stopped line (environments frozen on their own stay frozen).
    UnfreezeAll,
    Approve {
        request: Box<ChangeRequest>,
    },
    Reject {
        request: Box<ChangeRequest>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GovFocus {
    Reason,
    Until,
    Button,
}

#[derive(Debug)]
pub struct GovDialog {
    pub kind: GovKind,
    /// What the action does, said before it is done.
    pub about: Vec<String>,
    pub reason: TextInput,
    pub until: TextInput,
    pub focus: GovFocus,
    pub submitting: bool,
    pub hint: Option<String>,
}

impl GovDialog {
    pub fn new(kind: GovKind, about: Vec<String>) -> GovDialog {
        let mut d = GovDialog {
            kind,
            about,
            reason: TextInput::new(),
            until: TextInput::new(),
            focus: GovFocus::Button,
            submitting: false,
            hint: None,
        };
        d.focus = d.fields()[0];
        d
    }

    pub fn title(&self) -> String {
        match &self.kind {
            GovKind::Freeze { env } => format!("Freeze {env}"),
            GovKind::Unfreeze { env } => format!("Unfreeze {env}"),
            GovKind::FreezeAll => "Stop the line: freeze every environment".into(),
            GovKind::UnfreezeAll => "End the stopped line".into(),
            GovKind::Approve { request } => format!("Approve request #{}", request.id),
            GovKind::Reject { request } => format!("Reject request #{}", request.id),
        }
    }

    fn button(&self) -> String {
        match &self.kind {
            GovKind::Freeze { env } => format!("Freeze {env}"),
            GovKind::Unfreeze { env } => format!("Unfreeze {env}"),
            GovKind::FreezeAll => "Freeze every environment".into(),
            GovKind::UnfreezeAll => "Unfreeze every environment".into(),
            GovKind::Approve { request } => format!("Approve #{}", request.id),
            GovKind::Reject { request } => format!("Reject #{}", request.id),
        }
    }

    fn fields(&self) -> Vec<GovFocus> {
        match self.kind {
            GovKind::Freeze { .. } | GovKind::FreezeAll => {
                vec![GovFocus::Reason, GovFocus::Until, GovFocus::Button]
            }
            GovKind::Reject { .. } => vec![GovFocus::Reason, GovFocus::Button],
            GovKind::Unfreeze { .. } | GovKind::UnfreezeAll | GovKind::Approve { .. } => {
                vec![GovFocus::Button]
            }
        }
    }

    fn cycle(&mut self, forward: bool) {
        let f = self.fields();
        let n = f.len();
        let i = f.iter().position(|x| *x == self.focus).unwrap_or(0);
        self.focus = f[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }

    /// The failed request may be tried again (the error modal said why).
    pub fn on_failed(&mut self) {
        self.submitting = false;
    }

    fn submit(&mut self, now: Timestamp) -> Action {
        if self.submitting {
            return Action::None;
        }
        let reason = self.reason.text().trim().to_string();
        let needs_reason = matches!(
            self.kind,
            GovKind::Freeze { .. } | GovKind::FreezeAll | GovKind::Reject { .. }
        );
        if needs_reason && reason.is_empty() {
            self.hint = Some(
                "Reason: required; everyone refused sees it, and the audit log keeps it.".into(),
            );
            self.focus = GovFocus::Reason;
            return Action::None;
        }
        let until = match self.until.text().trim() {
            "" => None,
            t => match parse_time("Until", t, now) {
                Ok(at) if at > now => Some(at),
                Ok(_) => {
                    self.hint = Some("Until: that time has passed; give a later one.".into());
                    self.focus = GovFocus::Until;
                    return Action::None;
                }
                Err(e) => {
                    self.hint = Some(e.message);
                    self.focus = GovFocus::Until;
                    return Action::None;
                }
            },
        };
        self.submitting = true;
        self.hint = None;
        let (purpose, request) = match &self.kind {
            GovKind::Freeze { env } => (
                Purpose::Freeze { env: env.clone() },
                Request::Freeze {
                    env: Some(env.clone()),
                    reason,
                    until,
                },
            ),
            GovKind::Unfreeze { env } => (
                Purpose::Unfreeze { env: env.clone() },
                Request::Unfreeze {
                    env: Some(env.clone()),
                },
            ),
            GovKind::FreezeAll => (
                Purpose::FreezeAll,
                Request::Freeze {
                    env: None,
                    reason,
                    until,
                },
            ),
            GovKind::UnfreezeAll => (Purpose::UnfreezeAll, Request::Unfreeze { env: None }),
            GovKind::Approve { request } => (
                Purpose::Approve { id: request.id },
                Request::Approve { id: request.id },
            ),
            GovKind::Reject { request } => (
                Purpose::Reject { id: request.id },
                Request::Reject {
                    id: request.id,
                    reason,
                },
            ),
        };
        Action::Call(purpose, request)
    }

    pub fn handle_key(&mut self, key: &KeyEvent, now: Timestamp) -> Action {
        if is_ctrl(key, 's') {
            return self.submit(now);
        }
        match key.code {
            KeyCode::Esc => Action::Close,
            KeyCode::Enter => self.submit(now),
            KeyCode::Tab => {
                self.cycle(true);
                Action::None
            }
            KeyCode::BackTab => {
                self.cycle(false);
                Action::None
            }
            _ => {
                let changed = match self.focus {
                    GovFocus::Reason => self.reason.handle(key),
                    GovFocus::Until => self.until.handle(key),
                    GovFocus::Button => false,
                };
                if changed {
                    self.hint = None;
                }
                Action::None
            }
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let height = u16::try_from(self.about.len() * 2 + 9)
            .unwrap_or(u16::MAX)
            .min(area.height);
        let rect = crate::layout::centered(area, 76, height);
        let inner = frame(f, rect, &self.title(), theme);
        let w = inner.width;
        let label = |name: &str, field: GovFocus| {
            if self.focus == field {
                Span::styled(format!("› {name:<7} "), theme.focus_label())
            } else {
                Span::raw(format!("  {name:<8}"))
            }
        };
        let mut lines = vec![];
        for a in &self.about {
            lines.extend(labeled(Span::raw("  "), a, Default::default(), w));
        }
        lines.push(Line::raw(""));
        let room = usize::from(w).saturating_sub(14).max(8);
        for field in self.fields() {
            let (name, input, note) = match field {
                GovFocus::Reason => ("Reason", &self.reason, " (required, audited)"),
                GovFocus::Until => (
                    "Until",
                    &self.until,
                    " (2h, 1d or RFC 3339; empty: until unfrozen)",
                ),
                GovFocus::Button => continue,
            };
            let mut l = vec![label(name, field)];
            let text = input.line(self.focus == field, room.min(40), theme);
            let shown = crate::text::width(&text.to_string());
            l.extend(text.spans);
            if input.text().is_empty() && 10 + shown + note.len() <= usize::from(w) {
                l.push(Span::styled(note, theme.dim()));
            }
            lines.push(Line::from(l));
        }
        let button = if self.submitting {
            "Sending…".to_string()
        } else {
            self.button()
        };
        let style = if self.focus == GovFocus::Button {
            theme.selected()
        } else {
            theme.title()
        };
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("[ {button} ]"), style),
            Span::styled("   Esc cancels", theme.dim()),
        ]));
        if let Some(h) = &self.hint {
            lines.extend(labeled(Span::raw("  "), h, theme.warn(), w));
        }
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
