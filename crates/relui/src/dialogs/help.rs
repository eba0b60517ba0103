//! The `?` overlay: every key, from the same table as the footer hints.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::frame;
use crate::keys::{HELP, KeyGroup};
use crate::theme::Theme;

fn group_lines(g: &KeyGroup, theme: Theme) -> Vec<Line<'static>> {
    let mut out = vec![Line::styled(g.title, theme.header())];
    for k in g.keys {
        out.push(Line::from(vec![
            Span::styled(format!(" {:<10}", k.keys), theme.key()),
            Span::raw(k.what),
        ]));
    }
    out
}

/// Below this width the groups stack in one column (two would cut the descriptions).
const TWO_COLUMNS: u16 = 80;
/// Two lines, so it fits one column of the two-column overlay at 80×24.
const LEGEND: [&str; 2] = ["Status bar:", " daemon · user · work · last change"];

fn rows(gs: &[KeyGroup]) -> usize {
    gs.iter().map(|g| g.keys.len() + 1).sum()
}

/// Where the groups split into two columns: as even as can be (the right one also holds the
/// status-bar legend), so the overlay is as short as it can be.
fn split() -> usize {
    let tall = |i: usize| rows(&HELP[..i]).max(rows(&HELP[i..]) + 3);
    (1..HELP.len()).min_by_key(|i| tall(*i)).unwrap_or(1)
}

/// Content rows of the overlay at this terminal size.
fn content_rows(area: Rect) -> usize {
    if area.width >= TWO_COLUMNS {
        let i = split();
        rows(&HELP[..i]).max(rows(&HELP[i..]) + 3)
    } else {
        rows(HELP) + 3
    }
}

/// How far the overlay scrolls when it does not fit (0 when it does).
pub fn max_scroll(area: Rect) -> usize {
    let room = usize::from(area.height.saturating_sub(4));
    content_rows(area).saturating_sub(room)
}

pub fn render(f: &mut Frame, area: Rect, theme: Theme, scroll: usize) {
    let height = u16::try_from(content_rows(area)).unwrap_or(u16::MAX) + 2;
    let rect = crate::layout::centered(area, 100, height);
    let max = max_scroll(area);
    let scroll = scroll.min(max);
    let title = if max > 0 {
        "Help — relui keys (j/k scroll)"
    } else {
        "Help — relui keys"
    };
    // The screen below goes: its borders peeking out beside the overlay read as the
    // overlay's own, broken ones.
    // The tabs (top row) and the footer (bottom row, "any key closes help") stay.
    let below = Rect::new(
        area.x,
        area.y + 1,
        area.width,
        area.height.saturating_sub(2),
    );
    f.render_widget(ratatui::widgets::Clear, below);
    let inner = frame(f, rect, title, theme);
    let legend = || LEGEND.map(|l| Line::styled(l, theme.dim()));
    let offset = (u16::try_from(scroll).unwrap_or(u16::MAX), 0);
    if area.width < TWO_COLUMNS {
        let mut l = vec![];
        for g in HELP {
            l.extend(group_lines(g, theme));
        }
        l.push(Line::raw(""));
        l.extend(legend());
        f.render_widget(Paragraph::new(l).scroll(offset), inner);
    } else {
        let half = split();
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(inner);
        let mut l = vec![];
        for g in &HELP[..half] {
            l.extend(group_lines(g, theme));
        }
        let mut r = vec![];
        for g in &HELP[half..] {
            r.extend(group_lines(g, theme));
        }
        r.push(Line::raw(""));
        r.extend(legend());
        f.render_widget(Paragraph::new(l).scroll(offset), left);
        f.render_widget(Paragraph::new(r).scroll(offset), right);
    }
    // What is below the fold, said on the bottom border.
    if scroll < max && rect.height > 1 {
        let more = Rect::new(
            rect.x + 2,
            rect.y + rect.height - 1,
            rect.width.saturating_sub(4),
            1,
        );
        f.render_widget(
            Paragraph::new(Span::styled(
                format!(" ↓ {} more (j) ", max - scroll),
                theme.dim(),
            )),
            more,
        );
    }
}
