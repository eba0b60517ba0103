//! Where things go on the screen. Shared by `update` (to know how many rows a page holds)
//! and `render`, so scrolling and drawing agree.

use ratatui::layout::{Constraint, Layout, Rect};

pub struct Chrome {
    pub tabs: Rect,
    pub main: Rect,
    pub message: Rect,
    pub status: Rect,
    pub footer: Rect,
}

/// `message_rows`: 1–4 rows for the message line (long messages wrap).
pub fn chrome(area: Rect, message_rows: u16) -> Chrome {
    let [tabs, main, message, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(message_rows.clamp(1, 4)),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Chrome {
        tabs,
        main,
        message,
        status,
        footer,
    }
}

/// Rows of data the releases table shows: the main area minus borders and the header.
pub fn release_rows(area: Rect, message_rows: u16) -> usize {
    usize::from(chrome(area, message_rows).main.height.saturating_sub(3)).max(1)
}

/// A centred rectangle of at most `width`×`height`, leaving a margin on small screens.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2)).max(1);
    let h = height.min(area.height.saturating_sub(2)).max(1);
    Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    }
}

/// The area dialogs use: nearly the whole screen on 80×24, bounded on big terminals.
pub fn dialog_area(area: Rect) -> Rect {
    let w = area.width.min(96);
    let h = area.height.min(34);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
