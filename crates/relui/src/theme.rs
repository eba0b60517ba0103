//! Styles. With `NO_COLOR` set, no colours are used at all; meaning is carried by text
//! (badges, ✓/✗, markers) and by bold/reverse, which NO_COLOR allows.

use ratatui::style::{Color, Modifier, Style};
use rel_domain::ReleaseState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    /// Draw with ASCII only (borders, markers): the locale is not UTF-8.
    pub ascii: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to anything non-empty (https://no-color.org) or `TERM`
    /// cannot show it; ASCII unless the locale (`LC_ALL`, `LC_CTYPE`, `LANG`) is UTF-8.
    pub fn from_env() -> Theme {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let no_color = !var("NO_COLOR").is_empty();
        Theme {
            color: !no_color && term_has_color(&var("TERM")),
            ascii: !locale_is_utf8(&var("LC_ALL"), &var("LC_CTYPE"), &var("LANG")),
        }
    }

    pub fn colored() -> Theme {
        Theme {
            color: true,
            ascii: false,
        }
    }

    pub fn plain() -> Theme {
        Theme {
            color: false,
            ascii: false,
        }
    }

    /// The same, drawn with ASCII only.
    pub fn in_ascii(self) -> Theme {
        Theme {
            ascii: true,
            ..self
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn state(self, s: ReleaseState) -> Style {
        match s {
            ReleaseState::Ready => self.fg(Color::Cyan),
            ReleaseState::Deployed => self.fg(Color::Green).add_modifier(Modifier::BOLD),
            ReleaseState::Superseded => self.fg(Color::DarkGray),
        }
    }

    pub fn held(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn title(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn header(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn added(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn removed(self) -> Style {
        self.fg(Color::Red)
    }

    pub fn changed(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// The label of the focused dialog field.
    pub fn focus_label(self) -> Style {
        self.focus().add_modifier(Modifier::REVERSED)
    }

    pub fn focus(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn tab_active(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn status_bar(self) -> Style {
        if self.color {
            Style::default().bg(Color::DarkGray).fg(Color::White)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn disconnected(self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Red)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}

/// The badge of a release rolled back out of an environment and live nowhere (§3.2).
pub const HELD_BADGE: &str = "HELD";

/// Environments in `envs` (promotion order) where `tag` is held.
pub fn held_in(envs: &[rel_domain::EnvironmentView], tag: &str) -> Vec<String> {
    envs.iter()
        .filter(|e| e.held.iter().any(|h| h == tag))
        .map(|e| e.env.name.clone())
        .collect()
}

/// The badge text for a state: readable without colour.
pub fn state_badge(s: ReleaseState) -> &'static str {
    match s {
        ReleaseState::Ready => "READY",
        ReleaseState::Deployed => "DEPLOYED",
        ReleaseState::Superseded => "SUPERSEDED",
    }
}

/// The locale's character set is UTF-8. The first non-empty of `LC_ALL`, `LC_CTYPE`, `LANG`
/// decides (POSIX precedence); none at all is the C locale, which is ASCII.
pub fn locale_is_utf8(lc_all: &str, lc_ctype: &str, lang: &str) -> bool {
    let chosen = [lc_all, lc_ctype, lang]
        .into_iter()
        .find(|v| !v.is_empty())
        .unwrap_or("");
    let lower = chosen.to_ascii_lowercase();
    lower.contains("utf-8") || lower.contains("utf8")
}

/// Whether `TERM` can show colour at all. crossterm writes every colour as a 256-colour
/// sequence (`38;5;N`), which a vt100, a vt220, `ansi` or a dumb terminal prints as garbage
/// or ignores, so those get bold and reverse only.
pub fn term_has_color(term: &str) -> bool {
    let t = term.to_ascii_lowercase();
    !(t.is_empty() || t == "dumb" || t == "ansi" || t.starts_with("vt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_locales() {
        assert!(locale_is_utf8("", "", "en_US.UTF-8"));
        assert!(locale_is_utf8("C.utf8", "", ""));
        assert!(!locale_is_utf8("", "", "C"));
        assert!(!locale_is_utf8("", "", ""));
        // LC_ALL wins over LANG.
        assert!(!locale_is_utf8("C", "", "en_US.UTF-8"));
        assert!(!locale_is_utf8("", "en_US.ISO-8859-1", "en_US.UTF-8"));
    }

    #[test]
    fn terms_with_colour() {
        for t in [
            "xterm-256color",
            "screen",
            "tmux-256color",
            "linux",
            "xterm",
        ] {
            assert!(term_has_color(t), "{t}");
        }
        for t in ["vt100", "vt220", "dumb", "", "ansi"] {
            assert!(!term_has_color(t), "{t}");
        }
    }
}
