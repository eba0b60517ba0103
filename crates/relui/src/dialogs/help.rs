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

pub fn render(f: &mut Frame, area: Rect, theme: Theme) {
    let rows = |gs: &[KeyGroup]| gs.iter().map(|g| g.keys.len() + 1).sum::<usize>();
    // Split the groups where the two columns come out most even (the right one also holds
    // the status-bar legend), so the overlay is as short as it can be.
    let tall = |i: usize| rows(&HELP[..i]).max(rows(&HELP[i..]) + 2);
    let half = (1..HELP.len()).min_by_key(|i| tall(*i)).unwrap_or(1);
    let height = u16::try_from(tall(half)).unwrap_or(u16::MAX) + 2;
    let rect = crate::layout::centered(area, 100, height);
    let inner = frame(f, rect, "Help — relui keys", theme);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    let mut l = vec![];
    for g in &HELP[..half] {
        l.extend(group_lines(g, theme));
    }
    let mut r = vec![];
    for g in &HELP[half..] {
        r.extend(group_lines(g, theme));
    }
    r.push(Line::raw(""));
    r.push(Line::styled(
        "Status bar: daemon · user · last event",
        theme.dim(),
    ));
    f.render_widget(Paragraph::new(l), left);
    f.render_widget(Paragraph::new(r), right);
}
