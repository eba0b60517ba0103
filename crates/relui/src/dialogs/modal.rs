//! An error from the daemon (or the connection), shown as it was said, until dismissed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::frame;
use crate::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorModal {
    pub title: String,
    pub message: String,
    /// What the user was doing, e.g. "Deploy v2 to production".
    pub context: String,
    /// What relui knows to do about it (e.g. which key verifies), below the daemon's words.
    pub hint: Option<String>,
}

impl ErrorModal {
    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let width = 70.min(area.width.saturating_sub(4)).max(20);
        let mut body = vec![
            Line::styled(format!("{} failed:", self.context), theme.bad()),
            Line::raw(""),
            Line::raw(self.message.clone()),
            Line::raw(""),
        ];
        if let Some(h) = &self.hint {
            body.push(Line::styled(h.clone(), theme.warn()));
            body.push(Line::raw(""));
        }
        body.push(Line::styled("Enter or Esc to dismiss", theme.dim()));
        let height = crate::text::wrapped_height(&body, width.saturating_sub(2)) + 3;
        let rect = crate::layout::centered(area, width, height);
        let inner = frame(f, rect, &self.title, theme);
        f.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), inner);
    }
}
