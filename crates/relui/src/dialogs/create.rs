//! The Create Release dialog: Tag (required, validated as you type), Description
//! (multi-line), a *Deploy after release* toggle revealing an Environment dropdown, and a
//! button reading *Create Release* or *Release & Deploy*. The deploy is not part of the
//! create: once the release exists, the normal deploy confirmation opens for it (from → to,
//! diff, policy, a protected environment's name), as for every deploy.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use rel_domain::names::{tag_key, validate_tag};
use rel_domain::{EnvironmentView, NewRelease, ReleaseView};
use rel_proto::Request;

use super::{Action, Ctx, frame};
use crate::keys::{is_char, is_ctrl};
use crate::msg::Purpose;
use crate::theme::Theme;
use crate::widgets::{TextArea, TextInput};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Tag,
    Description,
    Deploy,
    Env,
    Button,
}

/// Rows of the description box.
const DESC_ROWS: usize = 4;

#[derive(Debug)]
pub struct CreateDialog {
    pub focus: Field,
    pub tag: TextInput,
    pub description: TextArea,
    pub deploy: bool,
    pub envs: Vec<String>,
    pub protected_envs: Vec<String>,
    pub env_index: usize,
    pub dropdown_open: bool,
    /// Why the tag cannot be used, recomputed on every edit.
    pub tag_error: Option<String>,
    /// The tag was edited at least once (an untouched empty tag is not an error yet).
    pub touched: bool,
    pub submitting: bool,
    /// The draft's digest, to say what will be frozen.
    pub draft: Option<String>,
}

impl CreateDialog {
    pub fn new(envs: &[EnvironmentView], draft: Option<String>) -> CreateDialog {
        let protected_envs = envs
            .iter()
            .filter(|e| e.env.protected)
            .map(|e| e.env.name.clone())
            .collect();
        let envs = envs.iter().map(|e| e.env.name.clone()).collect();
        let mut d = CreateDialog {
            protected_envs,
            focus: Field::Tag,
            tag: TextInput::new(),
            description: TextArea::new(),
            deploy: false,
            envs,
            env_index: 0,
            dropdown_open: false,
            tag_error: None,
            touched: false,
            submitting: false,
            draft,
        };
        d.validate(&[]);
        d
    }

    pub fn button_label(&self) -> &'static str {
        if self.deploy {
            "Release & Deploy"
        } else {
            "Create Release"
        }
    }

    pub fn env(&self) -> Option<&str> {
        self.envs.get(self.env_index).map(String::as_str)
    }

    /// The environments changed (one was created while the dialog is open): offer them,
    /// keeping the chosen one by name.
    pub fn refresh_envs(&mut self, envs: &[EnvironmentView]) {
        let keep = self.env().map(str::to_string);
        self.envs = envs.iter().map(|e| e.env.name.clone()).collect();
        self.protected_envs = envs
            .iter()
            .filter(|e| e.env.protected)
            .map(|e| e.env.name.clone())
            .collect();
        self.env_index = keep
            .and_then(|k| self.envs.iter().position(|n| *n == k))
            .unwrap_or(0);
        if !self.fields().contains(&self.focus) {
            self.focus = Field::Env;
        }
    }

    /// Shape of the tag, then uniqueness against the releases loaded (the daemon has the
    /// last word on tags older than what is loaded).
    pub fn validate(&mut self, releases: &[ReleaseView]) {
        let tag = self.tag.text();
        self.tag_error = match validate_tag(tag) {
            Err(e) => Some(e.message),
            Ok(()) => {
                let key = tag_key(tag);
                releases.iter().find(|r| tag_key(&r.release.tag) == key).map(|r| {
                    format!(
                        "tag {tag:?} is taken by release #{} ({}); tags are never reused, pick another",
                        r.release.seq, r.release.tag
                    )
                })
            }
        };
    }

    fn fields(&self) -> Vec<Field> {
        let mut v = vec![Field::Tag, Field::Description, Field::Deploy];
        if self.deploy {
            v.push(Field::Env);
        }
        v.push(Field::Button);
        v
    }

    fn cycle(&mut self, forward: bool) {
        let fields = self.fields();
        let i = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = fields.len();
        self.focus = fields[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
        self.dropdown_open = false;
    }

    fn submit(&mut self, ctx: &Ctx) -> Action {
        if self.submitting {
            return Action::None;
        }
        self.touched = true;
        self.validate(ctx.releases);
        if self.tag_error.is_some() {
            self.focus = Field::Tag;
            return Action::None;
        }
        let deploy_to = if self.deploy {
            self.env().map(str::to_string)
        } else {
            None
        };
        self.submitting = true;
        let tag = self.tag.text().to_string();
        Action::Call(
            Purpose::Create {
                tag: tag.clone(),
                deploy_to: deploy_to.clone(),
            },
            // Created without the deploy: the deploy confirmation opens once it exists.
            Request::ReleaseCreate(NewRelease {
                tag,
                description: self.description.text().trim_end().to_string(),
                config: None,
                deploy_to: None,
            }),
        )
    }

    pub fn handle_key(&mut self, key: &KeyEvent, ctx: &Ctx) -> Action {
        if is_ctrl(key, 's') {
            return self.submit(ctx);
        }
        match key.code {
            KeyCode::Esc if self.dropdown_open => {
                self.dropdown_open = false;
                return Action::None;
            }
            KeyCode::Esc => return Action::Close,
            KeyCode::Tab => {
                self.cycle(true);
                return Action::None;
            }
            KeyCode::BackTab => {
                self.cycle(false);
                return Action::None;
            }
            _ => {}
        }
        match self.focus {
            Field::Tag => {
                if key.code == KeyCode::Enter {
                    return self.submit(ctx);
                }
                if self.tag.handle(key) {
                    self.touched = true;
                    self.validate(ctx.releases);
                }
            }
            Field::Description => {
                self.description.handle(key);
            }
            Field::Deploy => {
                if is_char(key, ' ') {
                    self.deploy = !self.deploy;
                } else if key.code == KeyCode::Enter {
                    return self.submit(ctx);
                }
            }
            Field::Env => {
                let n = self.envs.len().max(1);
                match key.code {
                    KeyCode::Char(' ') => self.dropdown_open = !self.dropdown_open,
                    KeyCode::Enter if self.dropdown_open => self.dropdown_open = false,
                    KeyCode::Enter => return self.submit(ctx),
                    KeyCode::Down | KeyCode::Right | KeyCode::Char('j') => {
                        self.env_index = (self.env_index + 1) % n
                    }
                    KeyCode::Up | KeyCode::Left | KeyCode::Char('k') => {
                        self.env_index = (self.env_index + n - 1) % n
                    }
                    _ => {}
                }
            }
            Field::Button => {
                if key.code == KeyCode::Enter || is_char(key, ' ') {
                    return self.submit(ctx);
                }
            }
        }
        Action::None
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let inner = frame(f, area, "New release", theme);
        let w = usize::from(inner.width.saturating_sub(16)).max(8);
        // Labels read as labels (dim looks disabled); the focused one is marked and reversed.
        let label = |name: &str, field: Field| {
            if self.focus == field {
                Span::styled(format!("› {name:<11} "), theme.focus_label())
            } else {
                Span::raw(format!("  {name:<12}"))
            }
        };
        let mut lines = vec![Line::raw(match &self.draft {
            Some(d) => format!(" Freezes the current draft ({d}) as an immutable release."),
            None => " Freezes the current draft as an immutable release.".to_string(),
        })];
        lines.push(Line::raw(""));
        let mut tag_line = vec![label("Tag", Field::Tag)];
        tag_line.extend(self.tag.line(self.focus == Field::Tag, w, theme).spans);
        lines.push(Line::from(tag_line));
        let (status, style) = match (&self.tag_error, self.touched) {
            (Some(e), true) => (format!("✗ {e}"), theme.bad()),
            (Some(_), false) => (
                "required, e.g. v1.0.0 or 2024-03-15-fix".to_string(),
                theme.dim(),
            ),
            (None, _) => (format!("✓ {} is free", self.tag.text()), theme.ok()),
        };
        lines.extend(crate::text::labeled(
            Span::raw(" ".repeat(14)),
            &status,
            style,
            inner.width,
        ));
        let desc = self
            .description
            .view(self.focus == Field::Description, w, DESC_ROWS, theme);
        for i in 0..DESC_ROWS {
            let head = if i == 0 {
                label("Description", Field::Description)
            } else {
                Span::raw(" ".repeat(14))
            };
            let body = desc
                .get(i)
                .cloned()
                .unwrap_or_else(|| Line::styled("·", theme.dim()));
            let mut spans = vec![head];
            spans.extend(body.spans);
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(""));
        let focused = self.focus == Field::Deploy;
        lines.push(Line::from(vec![
            Span::styled(if focused { "› " } else { "  " }, theme.focus()),
            Span::styled(
                format!(
                    "[{}] Deploy after release",
                    if self.deploy { "x" } else { " " }
                ),
                if focused {
                    theme.focus()
                } else {
                    Default::default()
                },
            ),
            Span::styled("   (Space toggles)", theme.dim()),
        ]));
        if self.deploy {
            let env = self.env().unwrap_or("(no environments)");
            let protected = self.env().and_then(|e| self.protected(e)).unwrap_or(false);
            let mut spans = vec![label("Environment", Field::Env)];
            spans.push(Span::styled(
                format!("[ {env} ▾ ]"),
                if self.focus == Field::Env {
                    theme.focus()
                } else {
                    Default::default()
                },
            ));
            if protected {
                spans.push(Span::styled("  PROTECTED", theme.warn()));
            }
            lines.push(Line::from(spans));
            if self.dropdown_open {
                for (i, e) in self.envs.iter().enumerate() {
                    let sel = i == self.env_index;
                    lines.push(Line::from(vec![
                        Span::raw(" ".repeat(14)),
                        Span::styled(
                            format!("{} {e}", if sel { "▶" } else { " " }),
                            if sel {
                                theme.selected()
                            } else {
                                Default::default()
                            },
                        ),
                    ]));
                }
            }
            lines.push(Line::styled(
                format!(
                    "{}then the deploy confirmation: from → to, diff, policy",
                    " ".repeat(14)
                ),
                theme.dim(),
            ));
        }
        lines.push(Line::raw(""));
        let label = if self.submitting {
            "Creating…"
        } else {
            self.button_label()
        };
        let focused = self.focus == Field::Button;
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(14)),
            Span::styled(
                format!("[ {label} ]"),
                if focused {
                    theme.selected()
                } else {
                    theme.title()
                },
            ),
        ]));
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }

    fn protected(&self, env: &str) -> Option<bool> {
        Some(self.protected_envs.iter().any(|p| p == env))
    }
}
