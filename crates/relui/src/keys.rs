//! Every key relui understands, in one table: the help overlay and the footer hints are
//! built from it, so they cannot drift from each other.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub struct KeyHelp {
    pub keys: &'static str,
    pub what: &'static str,
}

pub struct KeyGroup {
    pub title: &'static str,
    pub keys: &'static [KeyHelp],
}

const fn k(keys: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp { keys, what }
}

pub const HELP: &[KeyGroup] = &[
    KeyGroup {
        title: "Screens",
        keys: &[
            k("1 2 3 4", "Releases Envs Logs Requests"),
            k("Tab", "next screen"),
            k(":", "command palette"),
            k("?", "this help (any key closes)"),
            k("q", "quit (Ctrl-C on a list)"),
        ],
    },
    KeyGroup {
        title: "Move",
        keys: &[
            k("j/k ↓/↑", "move down / up"),
            k("Home/End", "first / last row (g/G)"),
            k("PgUp/PgDn", "page up / down"),
            k("Enter", "open a detail (l too)"),
            k("Esc", "back / cancel (h, Ctrl-C)"),
            k("/", "filter the list by text"),
        ],
    },
    KeyGroup {
        title: "In a dialog",
        keys: &[
            k("Tab/S-Tab", "next / previous field"),
            k("Space", "toggle / open dropdown"),
            k("←/→", "change environment"),
            k("Enter", "submit (field or button)"),
            k("Ctrl-S", "submit from anywhere"),
            k("Esc", "cancel"),
        ],
    },
    KeyGroup {
        title: "Act",
        keys: &[
            k("n", "new release from the draft"),
            k("a", "actions on the release"),
            k("d", "deploy selected release"),
            k("r", "roll back selected env"),
            k("p", "promote live → next env"),
            k("v", "verify env (run checks)"),
            k("y", "copy tag / digest / run id"),
            k("e / f", "Logs: errors only / env"),
            k("f / u", "Envs: freeze / unfreeze"),
            k("F / U", "Envs: stop line / end it"),
            k("a / x", "Requests: approve / reject"),
            k("s", "start releasd (when gone)"),
        ],
    },
];

/// The footer hint for a context: short pairs of key and action.
pub fn footer(context: FooterContext) -> &'static [(&'static str, &'static str)] {
    match context {
        FooterContext::Releases => &[
            ("↑↓", "move"),
            ("Enter", "detail"),
            ("n", "new"),
            ("d", "deploy"),
            ("a", "actions"),
            ("/", "filter"),
            ("?", "help"),
            ("q", "quit"),
        ],
        FooterContext::Detail => &[
            ("↑↓", "scroll"),
            ("d", "deploy"),
            ("r", "rollback"),
            ("a", "actions"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
        FooterContext::Environments => &[
            ("↑↓", "move"),
            ("p", "promote"),
            ("v", "verify"),
            ("r", "rollback"),
            ("f", "freeze"),
            ("/", "filter"),
            ("n", "new"),
            ("1", "releases"),
            ("?", "help"),
            ("q", "quit"),
        ],
        FooterContext::Logs => &[
            ("↑↓", "move"),
            ("Enter", "run detail"),
            ("/", "filter"),
            ("e", "errors"),
            ("f", "env"),
            ("?", "help"),
            ("q", "quit"),
        ],
        FooterContext::Requests => &[
            ("↑↓", "move"),
            ("a", "approve"),
            ("x", "reject"),
            ("t", "open/all"),
            ("/", "filter"),
            ("?", "help"),
            ("q", "quit"),
        ],
        FooterContext::LogDetail => &[
            ("↑↓", "scroll"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
        FooterContext::Filter => &[("type", "filter"), ("Enter", "keep"), ("Esc", "clear")],
        FooterContext::Dialog => &[
            ("Tab", "next field"),
            ("Enter", "submit"),
            ("Ctrl-S", "submit"),
            ("Esc", "cancel"),
        ],
        FooterContext::Menu => &[
            ("↑↓", "move"),
            ("Enter", "choose"),
            ("[key]", "choose at once"),
            ("Esc", "cancel"),
        ],
        FooterContext::Modal => &[("Enter/Esc", "dismiss")],
        FooterContext::Info => &[("Enter/Esc", "close")],
        FooterContext::VerifyResult => &[("↑↓", "scroll"), ("Enter/Esc", "close")],
        // Where the help scrolls, its title says j/k; here it would be wrong where it fits.
        FooterContext::Help => &[("any key", "closes help")],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterContext {
    Releases,
    Detail,
    Environments,
    Logs,
    LogDetail,
    Requests,
    Filter,
    Dialog,
    Menu,
    Modal,
    /// A dialog that only informs (a refused rollback plan): closing is all there is.
    Info,
    VerifyResult,
    Help,
}

/// Plain key without modifiers (Shift allowed, it is part of the character).
pub fn is_char(key: &KeyEvent, c: char) -> bool {
    key.code == KeyCode::Char(c)
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

pub fn is_ctrl(key: &KeyEvent, c: char) -> bool {
    key.code == KeyCode::Char(c) && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// A movement in a list, if `key` is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    Home,
    End,
    PageUp,
    PageDown,
}

pub fn movement(key: &KeyEvent) -> Option<Move> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Move::Up,
        KeyCode::Down | KeyCode::Char('j') => Move::Down,
        KeyCode::Home => Move::Home,
        KeyCode::End => Move::End,
        KeyCode::PageUp => Move::PageUp,
        KeyCode::PageDown => Move::PageDown,
        _ => return None,
    })
}

/// Apply a movement to an index in a list of `len` rows with `page` visible rows.
pub fn apply_move(index: usize, len: usize, page: usize, m: Move) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    let page = page.max(1);
    match m {
        Move::Up => index.saturating_sub(1),
        Move::Down => (index + 1).min(last),
        Move::Home => 0,
        Move::End => last,
        Move::PageUp => index.saturating_sub(page),
        Move::PageDown => (index + page).min(last),
    }
}

/// Keep `selected` visible in a window of `height` rows starting at `offset`.
pub fn scroll_to(offset: usize, selected: usize, height: usize) -> usize {
    let height = height.max(1);
    if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_clamp() {
        assert_eq!(apply_move(0, 10, 5, Move::Up), 0);
        assert_eq!(apply_move(9, 10, 5, Move::Down), 9);
        assert_eq!(apply_move(2, 10, 5, Move::PageDown), 7);
        assert_eq!(apply_move(8, 10, 5, Move::PageDown), 9);
        assert_eq!(apply_move(3, 10, 5, Move::PageUp), 0);
        assert_eq!(apply_move(3, 0, 5, Move::End), 0);
    }

    #[test]
    fn scroll_keeps_selection_visible_without_jumping() {
        assert_eq!(scroll_to(0, 25, 20), 6);
        assert_eq!(scroll_to(6, 24, 20), 6);
        assert_eq!(scroll_to(6, 5, 20), 5);
    }
}
