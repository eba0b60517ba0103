//! A small multi-line text area: Enter inserts a newline, arrows move, Backspace joins
//! lines. Enough for release notes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::text::{Line, Span};

use crate::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextArea {
    lines: Vec<String>,
    row: usize,
    /// Column in chars.
    col: usize,
}

impl Default for TextArea {
    fn default() -> Self {
        TextArea {
            lines: vec![String::new()],
            row: 0,
            col: 0,
        }
    }
}

fn byte_at(s: &str, char_idx: usize) -> usize {
    s.char_indices()
        .nth(char_idx)
        .map(|(b, _)| b)
        .unwrap_or(s.len())
}

impl TextArea {
    pub fn new() -> TextArea {
        TextArea::default()
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    fn len(&self, row: usize) -> usize {
        self.lines.get(row).map(|l| l.chars().count()).unwrap_or(0)
    }

    /// Handle an editing key; returns whether the text changed.
    pub fn handle(&mut self, key: &KeyEvent) -> bool {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        match key.code {
            KeyCode::Char(c) => {
                let line = &mut self.lines[self.row];
                let b = byte_at(line, self.col);
                line.insert(b, c);
                self.col += 1;
                true
            }
            KeyCode::Enter => {
                let line = &mut self.lines[self.row];
                let b = byte_at(line, self.col);
                let rest = line.split_off(b);
                self.row += 1;
                self.lines.insert(self.row, rest);
                self.col = 0;
                true
            }
            KeyCode::Backspace => {
                if self.col > 0 {
                    self.col -= 1;
                    let line = &mut self.lines[self.row];
                    let b = byte_at(line, self.col);
                    line.remove(b);
                    true
                } else if self.row > 0 {
                    let cur = self.lines.remove(self.row);
                    self.row -= 1;
                    self.col = self.len(self.row);
                    self.lines[self.row].push_str(&cur);
                    true
                } else {
                    false
                }
            }
            KeyCode::Left => {
                if self.col > 0 {
                    self.col -= 1;
                } else if self.row > 0 {
                    self.row -= 1;
                    self.col = self.len(self.row);
                }
                false
            }
            KeyCode::Right => {
                if self.col < self.len(self.row) {
                    self.col += 1;
                } else if self.row + 1 < self.lines.len() {
                    self.row += 1;
                    self.col = 0;
                }
                false
            }
            KeyCode::Up => {
                self.row = self.row.saturating_sub(1);
                self.col = self.col.min(self.len(self.row));
                false
            }
            KeyCode::Down => {
                self.row = (self.row + 1).min(self.lines.len() - 1);
                self.col = self.col.min(self.len(self.row));
                false
            }
            KeyCode::Home => {
                self.col = 0;
                false
            }
            KeyCode::End => {
                self.col = self.len(self.row);
                false
            }
            _ => false,
        }
    }

    /// `height` lines around the cursor, the cursor shown when focused.
    pub fn view(
        &self,
        focused: bool,
        width: usize,
        height: usize,
        theme: Theme,
    ) -> Vec<Line<'static>> {
        let height = height.max(1);
        let width = width.max(2);
        let first = (self.row + 1).saturating_sub(height);
        let mut out = Vec::new();
        for (i, line) in self.lines.iter().enumerate().skip(first).take(height) {
            let chars: Vec<char> = line.chars().collect();
            if focused && i == self.row {
                let start = (self.col + 1).saturating_sub(width);
                let rel = self.col - start;
                let vis: Vec<char> = chars.iter().skip(start).take(width).copied().collect();
                let before: String = vis.iter().take(rel).collect();
                let at: String = vis
                    .get(rel)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| " ".into());
                let after: String = vis.iter().skip(rel + 1).collect();
                out.push(Line::from(vec![
                    Span::raw(before),
                    Span::styled(at, theme.selected()),
                    Span::raw(after),
                ]));
            } else {
                out.push(Line::raw(chars.iter().take(width).collect::<String>()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn newlines_and_joins() {
        let mut t = TextArea::new();
        for c in "ab".chars() {
            t.handle(&key(KeyCode::Char(c)));
        }
        t.handle(&key(KeyCode::Left));
        t.handle(&key(KeyCode::Enter));
        assert_eq!(t.text(), "a\nb");
        assert_eq!(t.line_count(), 2);
        t.handle(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "ab");
        t.handle(&key(KeyCode::End));
        t.handle(&key(KeyCode::Enter));
        t.handle(&key(KeyCode::Char('c')));
        assert_eq!(t.text(), "ab\nc");
    }
}
