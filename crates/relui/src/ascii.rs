//! ASCII mode: when the locale is not UTF-8, every drawn frame is rewritten cell by cell to
//! ASCII, so box drawing, markers and arrows never reach a Latin-1 or C-locale terminal as
//! garbage. One pass over the finished buffer covers every screen and dialog alike, and each
//! substitute is one cell wide, so layouts stay exactly as in UTF-8.

use ratatui::buffer::Buffer;

/// The one-cell ASCII stand-in for `symbol` (a cell's grapheme).
pub fn ascii_symbol(symbol: &str) -> &str {
    if symbol.is_ascii() {
        return symbol;
    }
    let mut chars = symbol.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return "?";
    };
    match c {
        '─' | '━' | '═' | '╌' | '┄' | '—' | '–' => "-",
        '│' | '┃' | '║' | '╎' | '┆' => "|",
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╰' | '╯' | '╔' | '╗'
        | '╚' | '╝' => "+",
        '▶' | '›' | '→' | '►' | '»' => ">",
        '‹' | '←' | '◀' | '«' => "<",
        '↑' | '▲' => "^",
        '↓' | '▼' => "v",
        '✓' | '✔' => "+",
        '✗' | '✘' | '×' => "x",
        '●' | '•' | '⟳' | '◆' | '★' => "*",
        '…' => "~",
        '·' => ".",
        '█' | '▇' | '▆' | '▅' => "#",
        '░' | '▒' | '▓' => ":",
        '⠋' | '⠙' | '⠹' | '⠸' | '⠼' | '⠴' | '⠦' | '⠧' | '⠇' | '⠏' => "*",
        _ => "?",
    }
}

/// Rewrite every cell of `buf` to ASCII.
pub fn asciify(buf: &mut Buffer) {
    for cell in &mut buf.content {
        let sym = cell.symbol();
        if !sym.is_ascii() {
            let a = ascii_symbol(sym).to_string();
            cell.set_symbol(&a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borders_markers_and_text() {
        assert_eq!(ascii_symbol("┌"), "+");
        assert_eq!(ascii_symbol("│"), "|");
        assert_eq!(ascii_symbol("✓"), "+");
        assert_eq!(ascii_symbol("▶"), ">");
        assert_eq!(ascii_symbol("a"), "a");
        // A CJK character or emoji in someone's notes: a visible placeholder.
        assert_eq!(ascii_symbol("漢"), "?");
        assert_eq!(ascii_symbol("👍"), "?");
    }
}
