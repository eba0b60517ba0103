//! Styles. With `NO_COLOR` set, no colours are used at all; meaning is carried by text
//! (badges, ✓/✗, markers) and by bold/reverse, which NO_COLOR allows.

use ratatui::style::{Color, Modifier, Style};
use rel_domain::ReleaseState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to anything non-empty (https://no-color.org).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    pub fn colored() -> Theme {
        Theme { color: true }
    }

    pub fn plain() -> Theme {
        Theme { color: false }
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
