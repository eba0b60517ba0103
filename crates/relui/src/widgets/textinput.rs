//! A single-line text input with a cursor (by char index).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::text::{Line, Span};

use crate::theme::Theme;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    /// Cursor position in chars.
    cursor: usize,
}

impl TextInput {
    pub fn new() -> TextInput {
        TextInput::default()
    }

    pub fn with(text: &str) -> TextInput {
        TextInput {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    /// Handle an editing key; returns whether the text changed. Keys that are not editing
    /// keys (Enter, Tab, Esc…) are left to the caller.
    pub fn handle(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                let changed = !self.text.is_empty();
                self.clear();
                changed
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                let b = self.byte_at(self.cursor);
                self.text.insert(b, c);
                self.cursor += 1;
                true
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let b = self.byte_at(self.cursor);
                self.text.remove(b);
                true
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let b = self.byte_at(self.cursor);
                self.text.remove(b);
                true
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.text.chars().count());
                false
            }
            KeyCode::Home => {
                self.cursor = 0;
                false
            }
            KeyCode::End => {
                self.cursor = self.text.chars().count();
                false
            }
            _ => false,
        }
    }

    /// The text with a visible cursor (a reversed cell) when focused, fitting `width`
    /// columns by scrolling horizontally so the cursor stays in view.
    pub fn line(&self, focused: bool, width: usize, theme: Theme) -> Line<'static> {
        let chars: Vec<char> = self.text.chars().collect();
        let width = width.max(2);
        let start = (self.cursor + 1).saturating_sub(width);
        let mut vis: Vec<char> = chars.iter().skip(start).take(width).copied().collect();
        // Text scrolled out of view on either side is marked with '…'.
        if start > 0 {
            vis[0] = '…';
        }
        let rel_cursor = self.cursor - start;
        if start + width < chars.len() && rel_cursor + 1 < vis.len() {
            let last = vis.len() - 1;
            vis[last] = '…';
        }
        let visible: String = vis.into_iter().collect();
        if !focused {
            return Line::raw(visible);
        }
        let rel = self.cursor - start;
        let before: String = visible.chars().take(rel).collect();
        let at: String = visible
            .chars()
            .nth(rel)
            .map(String::from)
            .unwrap_or_else(|| " ".into());
        let after: String = visible.chars().skip(rel + 1).collect();
        Line::from(vec![
            Span::raw(before),
            Span::styled(at, theme.selected()),
            Span::raw(after),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits_at_the_cursor() {
        let mut t = TextInput::new();
        for c in "v1.0".chars() {
            assert!(t.handle(&key(KeyCode::Char(c))));
        }
        t.handle(&key(KeyCode::Left));
        t.handle(&key(KeyCode::Left));
        assert!(t.handle(&key(KeyCode::Backspace)));
        assert_eq!(t.text(), "v.0");
        t.handle(&key(KeyCode::Char('2')));
        assert_eq!(t.text(), "v2.0");
        t.handle(&key(KeyCode::End));
        assert!(!t.handle(&key(KeyCode::Delete)));
        assert!(t.handle(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
        assert_eq!(t.text(), "");
    }

    #[test]
    fn text_out_of_view_is_marked() {
        let t = TextInput::with("a-very-long-reason");
        let shown: String = t
            .line(false, 8, Theme::plain())
            .spans
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(shown, "…reason");
    }

    #[test]
    fn unicode_is_safe() {
        let mut t = TextInput::with("héé");
        t.handle(&key(KeyCode::Backspace));
        t.handle(&key(KeyCode::Left));
        t.handle(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "é");
    }
}
