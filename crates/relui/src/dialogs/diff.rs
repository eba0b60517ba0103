//! A diff asked for from the Actions menu, scrollable.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use rel_domain::diff::Diff;

use super::{Action, frame};
use crate::keys::{apply_move, movement};
use crate::text::{diff_lines, diff_summary};
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
        let mut lines = vec![];
        match &self.diff {
            None => lines.push(Line::styled("asking releasd…", theme.dim())),
            Some((header, d)) => {
                lines.push(Line::raw(header.clone()));
                lines.push(Line::styled(diff_summary(d), theme.header()));
                lines.extend(diff_lines(d, theme));
            }
        }
        let height = usize::from(inner.height.saturating_sub(1));
        let max = lines.len().saturating_sub(height);
        let mut visible: Vec<Line> = lines
            .into_iter()
            .skip(self.scroll.min(max))
            .take(height)
            .collect();
        while visible.len() < height {
            visible.push(Line::raw(""));
        }
        visible.push(Line::styled(
            "↑↓ PgUp/PgDn scroll · Esc closes",
            theme.dim(),
        ));
        f.render_widget(Paragraph::new(visible), inner);
    }
}
