//! A diff asked for from the Actions menu, scrollable.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use rel_domain::diff::Diff;

use super::{Action, frame};
use crate::keys::{apply_move, movement};
use crate::text::{diff_lines, diff_summary, render_diff_pane};
use crate::theme::Theme;

#[derive(Debug)]
pub struct DiffDialog {
    pub title: String,
    /// `None` while the answer is on its way.
    pub diff: Option<(String, Diff)>,
    pub scroll: usize,
}

impl DiffDialog {
    pub fn new(title: String) -> DiffDialog {
        DiffDialog {
            title,
            diff: None,
            scroll: 0,
        }
    }

    /// `header` is e.g. "v1 → v2 (b3:… → b3:…)".
    pub fn set(&mut self, header: String, diff: Diff) {
        self.diff = Some((header, diff));
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Action {
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
            return Action::Close;
        }
        if let Some(m) = movement(key) {
            let len = self
                .diff
                .as_ref()
                .map(|(_, d)| d.changes.len() * 4 + 2)
                .unwrap_or(1);
            self.scroll = apply_move(self.scroll, len, 10, m);
        }
        Action::None
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let inner = frame(f, area, &format!("Diff: {}", self.title), theme);
        let [head, body, foot] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        match &self.diff {
            None => f.render_widget(
                Paragraph::new(Line::styled("asking releasd…", theme.dim())),
                head,
            ),
            Some((header, d)) => {
                // An empty diff says so once, in the summary line.
                let summary = if d.is_empty() {
                    "no changes: identical configuration".to_string()
                } else {
                    diff_summary(d)
                };
                let lines = vec![
                    Line::raw(header.clone()),
                    Line::styled(summary, theme.header()),
                ];
                f.render_widget(Paragraph::new(lines), head);
                if !d.is_empty() {
                    render_diff_pane(f, body, diff_lines(d, theme), self.scroll);
                }
            }
        }
        f.render_widget(
            Paragraph::new(Line::styled(
                "↑↓ PgUp/PgDn scroll · Esc closes",
                theme.dim(),
            )),
            foot,
        );
    }
}
