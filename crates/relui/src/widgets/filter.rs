//! The `/` text filter every list shares: type to filter, Enter keeps it, Esc clears it.
//! The title shows the text and the match count the same way on every screen.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::Span;

use super::TextInput;
use crate::theme::Theme;

#[derive(Debug, Default)]
pub struct ListFilter {
    pub input: TextInput,
    pub editing: bool,
}

/// What a key did to the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOutcome {
    /// The text changed (typed, deleted, cleared): filter again.
    Changed,
    /// Editing ended with the text kept.
    Done,
    Nothing,
}

impl ListFilter {
    /// The filter text as it applies (surrounding blanks do not count).
    pub fn text(&self) -> &str {
        self.input.text().trim()
    }

    pub fn active(&self) -> bool {
        !self.text().is_empty()
    }

    pub fn start(&mut self) {
        self.editing = true;
    }

    /// Forget the text (Esc outside editing); true when there was one.
    pub fn clear(&mut self) -> bool {
        self.editing = false;
        let had = !self.input.text().is_empty();
        self.input.clear();
        had
    }

    /// A key while editing. Enter keeps the filter, Esc clears it.
    pub fn key(&mut self, key: &KeyEvent) -> FilterOutcome {
        match key.code {
            KeyCode::Enter => {
                self.editing = false;
                FilterOutcome::Done
            }
            KeyCode::Esc => {
                if self.clear() {
                    FilterOutcome::Changed
                } else {
                    FilterOutcome::Done
                }
            }
            _ if self.input.handle(key) => FilterOutcome::Changed,
            _ => FilterOutcome::Nothing,
        }
    }

    /// Whether any of `fields` contains the filter text (case-insensitive); everything
    /// matches an empty filter.
    pub fn matches<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> bool {
        let needle = self.text().to_lowercase();
        needle.is_empty()
            || fields
                .into_iter()
                .any(|f| f.to_lowercase().contains(&needle))
    }

    /// `· filter: TEXT▏ · 3 matches ` for a title, or nothing while no filter is typed;
    /// the text scrolls within what is left of `avail` columns so the count stays in view.
    /// `more`: rows not loaded yet may match too ("3+ matches").
    pub fn title_spans(
        &self,
        matches: usize,
        more: bool,
        avail: usize,
        theme: Theme,
    ) -> Vec<Span<'static>> {
        if !self.editing && self.input.text().is_empty() {
            return vec![];
        }
        let count = self
            .active()
            .then(|| format!("· {} ", match_count(matches, more)));
        let fixed = "· filter: ".len() + 1 + count.as_deref().map_or(0, crate::text::width);
        let room = avail.saturating_sub(fixed).max(4);
        let mut spans = vec![Span::raw("· filter: ")];
        spans.extend(self.input.line(self.editing, room, theme).spans);
        spans.push(Span::raw(" "));
        if let Some(count) = count {
            spans.push(Span::styled(count, theme.dim()));
        }
        spans
    }
}

/// Display width of title spans (to know what room is left for the filter).
pub fn title_width(spans: &[Span]) -> usize {
    spans.iter().map(|s| crate::text::width(&s.content)).sum()
}

/// "0 matches", "1 match", "3 matches", "3+ matches".
pub fn match_count(n: usize, more: bool) -> String {
    let plus = if more { "+" } else { "" };
    let word = if n == 1 && !more { "match" } else { "matches" };
    format!("{}{plus} {word}", crate::text::thousands(n as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_english() {
        assert_eq!(match_count(0, false), "0 matches");
        assert_eq!(match_count(1, false), "1 match");
        assert_eq!(match_count(1, true), "1+ matches");
        assert_eq!(match_count(3, false), "3 matches");
        assert_eq!(match_count(1200, false), "1,200 matches");
    }

    #[test]
    fn matching_ignores_case_and_blanks() {
        let mut f = ListFilter::default();
        assert!(f.matches(["anything"]));
        f.input = TextInput::with(" Prod ");
        assert!(f.matches(["x", "production"]));
        assert!(!f.matches(["staging"]));
    }
}
