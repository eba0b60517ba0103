//! `y` copies through the terminal: an OSC 52 sequence sets the clipboard of the terminal the
//! user sits at, which works over SSH. Inside tmux the sequence is wrapped in tmux's DCS
//! passthrough (tmux also needs `set -g set-clipboard on`, its default in recent versions).

use base64::Engine as _;

/// The bytes that put `text` on the clipboard; `tmux` wraps them for tmux's passthrough.
pub fn osc52(text: &str, tmux: bool) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let seq = format!("\x1b]52;c;{b64}\x07");
    if tmux {
        // Every ESC inside the passthrough is doubled.
        format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
    } else {
        seq
    }
}

/// Inside tmux (the `TMUX` variable is set by tmux for its panes).
pub fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tmux_sequences() {
        assert_eq!(osc52("v1.2.0", false), "\x1b]52;c;djEuMi4w\x07");
        assert_eq!(
            osc52("v1.2.0", true),
            "\x1bPtmux;\x1b\x1b]52;c;djEuMi4w\x07\x1b\\"
        );
    }
}
