//! The Actions menu on a release: Deploy to Environment, Rollback to Previous and Verify (one
//! entry per environment where it is live), and Diff (against the previous release, what is
//! live in each environment, or the draft).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rel_domain::{EnvironmentView, ReleaseView};
use rel_proto::Request;

use super::{Action, frame};
use crate::keys::{Move, apply_move, movement};
use crate::msg::Purpose;
use crate::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Deploy,
    Rollback { env: String },
    Verify { env: String },
    DiffPrevious,
    DiffLive { env: String, live: String },
    DiffDraft,
}

#[derive(Debug)]
pub struct ActionsMenu {
    pub tag: String,
    pub items: Vec<(String, Item)>,
    pub selected: usize,
}

impl ActionsMenu {
    pub fn new(release: &ReleaseView, envs: &[EnvironmentView]) -> ActionsMenu {
        let tag = release.release.tag.clone();
        let mut items = vec![("Deploy to Environment…".to_string(), Item::Deploy)];
        for env in &release.live_in {
            let target = envs
                .iter()
                .find(|e| &e.env.name == env)
                .and_then(|e| e.rollback_to.clone())
                .map(|t| format!(" → {t}"))
                .unwrap_or_default();
            items.push((
                format!("Rollback to Previous in {env}{target}"),
                Item::Rollback { env: env.clone() },
            ));
        }
        for env in &release.live_in {
            items.push((
                format!("Verify in {env} (run the checks)"),
                Item::Verify { env: env.clone() },
            ));
        }
        items.push((
            "Diff against the previous release".to_string(),
            Item::DiffPrevious,
        ));
        for e in envs {
            if let Some(live) = e.live.as_ref().filter(|l| **l != tag) {
                items.push((
                    format!("Diff against {live} (live in {})", e.env.name),
                    Item::DiffLive {
                        env: e.env.name.clone(),
                        live: live.clone(),
                    },
                ));
            }
        }
        items.push(("Diff against the draft".to_string(), Item::DiffDraft));
        ActionsMenu {
            tag,
            items,
            selected: 0,
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Action {
        if let Some(m) = movement(key) {
            let m = match m {
                Move::PageUp => Move::Home,
                Move::PageDown => Move::End,
                m => m,
            };
            self.selected = apply_move(self.selected, self.items.len(), 1, m);
            return Action::None;
        }
        match key.code {
            KeyCode::Esc => Action::Close,
            KeyCode::Enter => self.choose(),
            KeyCode::Char(c) => match self.shortcuts().iter().position(|k| *k == c) {
                Some(i) => {
                    self.selected = i;
                    self.choose()
                }
                None => Action::None,
            },
            _ => Action::None,
        }
    }

    /// One key per item, shown in brackets. d, r and v do here what they do everywhere
    /// (deploy, roll back, verify); the diffs get letters no screen uses for something else
    /// (b before, c compare with live, w working draft; p is promote, l open, f freeze), and
    /// a second item of a kind the next of `SPARE`.
    pub fn shortcuts(&self) -> Vec<char> {
        const SPARE: [char; 9] = ['i', 'm', 'o', 'z', '5', '6', '7', '8', '9'];
        let mut used: Vec<char> = Vec::new();
        for (_, item) in &self.items {
            let want = match item {
                Item::Deploy => 'd',
                Item::Rollback { .. } => 'r',
                Item::Verify { .. } => 'v',
                Item::DiffPrevious => 'b',
                Item::DiffLive { .. } => 'c',
                Item::DiffDraft => 'w',
            };
            let key = if used.contains(&want) {
                SPARE.into_iter().find(|d| !used.contains(d)).unwrap_or(' ')
            } else {
                want
            };
            used.push(key);
        }
        used
    }

    fn choose(&self) -> Action {
        let Some((_, item)) = self.items.get(self.selected) else {
            return Action::None;
        };
        let tag = self.tag.clone();
        match item {
            Item::Deploy => Action::OpenDeploy { tag },
            Item::Rollback { env } => Action::OpenRollback { env: env.clone() },
            Item::Verify { env } => Action::Verify { env: env.clone() },
            Item::DiffPrevious => Action::Diff(
                Purpose::Diff {
                    title: format!("{tag} against the previous release"),
                },
                Request::ReleaseShow { tag },
            ),
            Item::DiffLive { env, live } => Action::Diff(
                Purpose::Diff {
                    title: format!("{live} (live in {env}) → {tag}"),
                },
                Request::Diff {
                    from: live.clone(),
                    to: tag,
                },
            ),
            Item::DiffDraft => Action::Diff(
                Purpose::Diff {
                    title: format!("{tag} against the draft"),
                },
                Request::DraftDiff { tag: Some(tag) },
            ),
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let width = self
            .items
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(20) as u16
            + 12;
        let height = self.items.len() as u16 + 2;
        let rect = crate::layout::centered(area, width.max(36), height);
        let inner = frame(f, rect, &format!("Actions: {}", self.tag), theme);
        let keys = self.shortcuts();
        let lines: Vec<Line> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (label, _))| {
                let sel = i == self.selected;
                let key = keys.get(i).copied().unwrap_or(' ');
                Line::from(Span::styled(
                    format!("{} [{key}] {label}", if sel { "▶" } else { " " }),
                    if sel {
                        theme.selected()
                    } else {
                        Default::default()
                    },
                ))
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }
}
