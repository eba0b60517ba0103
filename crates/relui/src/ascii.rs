//! ASCII mode: when the locale is not UTF-8, every drawn frame is rewritten cell by cell to
//! ASCII, so box drawing, markers and arrows never reach a Latin-1 or C-locale terminal as
//! garbage. One pass over the finished buffer covers every screen and dialog alike. Most
//! substitutes are one cell wide, so layouts stay as in UTF-8; the check mark and the
//! ellipsis become "ok" and "..." (a "+" or "~" would read as the diff's "+ added" and
//! "~ changed"), taking the room from the blank run that follows them.

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
        // Only where "ok" does not fit (see `asciify`).
        '✓' | '✔' => "v",
        '✗' | '✘' | '×' => "x",
        '●' | '•' | '⟳' | '◆' | '★' => "*",
        // Only where "..." does not fit (see `asciify`).
        '…' => ".",
        '·' => ".",
        '█' | '▇' | '▆' | '▅' => "#",
        '░' | '▒' | '▓' => ":",
        '⠋' | '⠙' | '⠹' | '⠸' | '⠼' | '⠴' | '⠦' | '⠧' | '⠇' | '⠏' => "*",
        _ => "?",
    }
}

/// The wider ASCII spelling of `symbol`, where there is room for it.
fn ascii_wide(symbol: &str) -> Option<&'static str> {
    match symbol {
        "✓" | "✔" => Some("ok"),
        "…" => Some("..."),
        _ => None,
    }
}

/// Rewrite every cell of `buf` to ASCII.
pub fn asciify(buf: &mut Buffer) {
    let width = usize::from(buf.area.width);
    if width == 0 {
        return;
    }
    for row in buf.content.chunks_mut(width) {
        let mut x = 0;
        while x < row.len() {
            let sym = row[x].symbol().to_string();
            if sym.is_ascii() {
                x += 1;
                continue;
            }
            // An ellipsis ends a table cell: it takes only the blanks right after it, so the
            // next column stays where it is. A check mark starts prose and may push it.
            if let Some(wide) = ascii_wide(&sym)
                && make_room(row, x, wide.len() - 1, sym != "…")
            {
                for (i, c) in wide.chars().enumerate() {
                    row[x + i].set_char(c);
                }
                x += wide.len();
                continue;
            }
            let a = ascii_symbol(&sym).to_string();
            row[x].set_symbol(&a);
            x += 1;
        }
    }
}

/// Make `extra` cells of room right after `row[x]`: blanks right after it, or with `shift`
/// further on, shifting what lies between right. Only a blank that has another blank after
/// it is used (so words stay apart and nothing is pushed past a border or off the row).
/// False, and nothing moved, when there is no room.
fn make_room(row: &mut [ratatui::buffer::Cell], x: usize, extra: usize, shift: bool) -> bool {
    let blank = |c: &ratatui::buffer::Cell| c.symbol() == " ";
    let mut gaps = Vec::with_capacity(extra);
    let mut p = x + 1;
    while gaps.len() < extra && p + 1 < row.len() {
        if !shift && !blank(&row[p]) {
            break;
        }
        if blank(&row[p]) && blank(&row[p + 1]) {
            // The last blank of a run is never used: words stay apart.
            gaps.push(p);
        }
        p += 1;
    }
    if gaps.len() < extra {
        return false;
    }
    // Remove the chosen blanks from the left (a removal leaves the blanks to its right in
    // place), each shifting the cells before it right by one.
    for &gap in &gaps {
        row[x + 1..=gap].rotate_right(1);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borders_markers_and_text() {
        assert_eq!(ascii_symbol("┌"), "+");
        assert_eq!(ascii_symbol("│"), "|");
        assert_eq!(ascii_symbol("✓"), "v");
        assert_eq!(ascii_symbol("▶"), ">");
        assert_eq!(ascii_symbol("a"), "a");
        // A CJK character or emoji in someone's notes: a visible placeholder.
        assert_eq!(ascii_symbol("漢"), "?");
        assert_eq!(ascii_symbol("👍"), "?");
    }

    fn row_text(line: &str, width: u16) -> String {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, width, 1));
        buf.set_string(0, 0, line, ratatui::style::Style::default());
        asciify(&mut buf);
        buf.content.iter().map(|c| c.symbol()).collect()
    }

    #[test]
    fn check_marks_and_ellipses_take_the_blank_after_them() {
        assert_eq!(row_text("|✓ verified   |", 15), "|ok verified  |");
        assert_eq!(row_text("|product…   #4 |", 16), "|product... #4 |");
        assert_eq!(row_text("|product…  #4 |", 15), "|product.  #4 |");
        // No room: one cell each, still not the diff's + or ~.
        assert_eq!(row_text("|product… #4|", 13), "|product. #4|");
        assert_eq!(row_text("✓ a b", 5), "v a b");
        // A check mark pushes the words after it; an ellipsis never moves the next column.
        assert_eq!(row_text("|✓ PASSED 2/2   |", 17), "|ok PASSED 2/2  |");
        assert_eq!(row_text("|ab… 3h   bob|", 14), "|ab. 3h   bob|");
    }
}
