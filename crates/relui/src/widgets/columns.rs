//! Table cells that fit their column: ratatui's `Table` clips a long cell silently
//! ("product", "ENDPOI"), so every cell is fitted first, cut with "…" where it must be, and
//! headers have a short form for narrow terminals.

use ratatui::layout::{Constraint, Flex, Layout, Rect};

/// The widths `Table` gives `widths` inside `inner` columns (its defaults: spacing 1,
/// `Flex::Start`, no selection column).
pub fn column_widths(inner: u16, widths: &[Constraint]) -> Vec<usize> {
    Layout::horizontal(widths.iter().copied())
        .flex(Flex::Start)
        .spacing(1)
        .split(Rect::new(0, 0, inner, 1))
        .iter()
        .map(|r| usize::from(r.width))
        .collect()
}

/// `text` in `width` columns: whole when it fits, else cut with "…" (display width, so CJK
/// and emoji count two).
pub fn fit(text: &str, width: usize) -> String {
    if crate::text::width(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A header: `long` where it fits, else `short`, else `short` cut with "…".
pub fn header(long: &str, short: &str, width: usize) -> String {
    if crate::text::width(long) <= width {
        long.to_string()
    } else {
        fit(short, width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_are_marked() {
        assert_eq!(fit("production", 7), "produc…");
        assert_eq!(fit("staging", 7), "staging");
        assert_eq!(fit("漢字漢字", 5), "漢字…");
        assert_eq!(header("ENDPOINT", "EP", 6), "EP");
        assert_eq!(header("ENDPOINT", "EP", 8), "ENDPOINT");
    }

    #[test]
    fn widths_are_the_tables() {
        let w = column_widths(20, &[Constraint::Length(5), Constraint::Min(3)]);
        assert_eq!(w, vec![5, 14]);
    }
}
