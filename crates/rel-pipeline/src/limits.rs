//! Size and nesting limits checked before an expression or template reaches its parser.
//!
//! jaq's parser and compiler recurse once per nesting level and once per operator of a
//! chain (`1 + 1 + …` builds a tree as deep as it is long), so an expression crafted deep
//! enough overflows the stack of whatever thread compiles it, and a stack overflow aborts
//! the whole process. A cheap linear scan refuses such input first, with the config path
//! and what to change. minijinja guards its own parser (150 levels); templates get the same
//! size limit and a nesting limit of their tags so the error reads the same.

/// Longest jq expression accepted, in bytes.
pub const MAX_JQ_BYTES: usize = 16 * 1024;
/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;
/// Deepest nesting of brackets, `if … end`, `def …;` and string interpolations in a jq
/// expression, and of brackets and block tags in a template.
pub const MAX_NESTING: usize = 64;
/// Most operators (`|`, `,`, `+`, `and`, unary `-`, `try`, …) in a row at one level.
pub const MAX_CHAIN: usize = 256;
/// Most nesting levels plus operators of the enclosing levels at any point: the depth of
/// the tree jaq builds. Compilation runs on a thread with [`COMPILE_STACK_BYTES`] of stack,
/// which holds several times this depth even in a debug build.
pub const MAX_WEIGHT: usize = 1024;
/// Stack of the thread that compiles (apply, validate, deploy, worker load).
pub const COMPILE_STACK_BYTES: usize = 64 << 20;

/// `Err("nesting deeper than 64 levels; simplify the expression")` (no path: the caller
/// prefixes it) when `code` is over one of the limits.
pub fn check_jq(code: &str) -> Result<(), String> {
    if code.len() > MAX_JQ_BYTES {
        return Err(format!(
            "{} bytes, over the limit of {MAX_JQ_BYTES}; split the work into several steps",
            code.len()
        ));
    }
    let mut scan = Scan::default();
    let bytes = code.as_bytes();
    // Frames of string mode: a string interpolation `\(` returns to code until its `)`.
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' if bytes.get(i + 1) == Some(&b'(') => {
                    scan.open(Frame::Interp)?;
                    in_string = false;
                    i += 2;
                    continue;
                }
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => scan.open(Frame::Bracket)?,
            b')' if scan.top() == Some(Frame::Interp) => {
                scan.close();
                in_string = true;
            }
            b')' | b']' | b'}' => scan.close_bracket(),
            b';' if scan.top() == Some(Frame::Def) => scan.close(),
            b'|' | b',' | b'+' | b'-' | b'*' | b'/' | b'%' | b'=' | b'<' | b'>' | b'?' => {
                // `==`, `//=`, `|=`… count once: only the first byte of a run of them.
                let prev = i.checked_sub(1).map(|p| bytes[p]);
                if !prev.is_some_and(|p| b"|+-*/%=<>!?".contains(&p)) {
                    scan.operator()?;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                // A field (`.if`) or variable (`$end`) is not a keyword.
                let after_dot_or_dollar = start > 0 && matches!(bytes[start - 1], b'.' | b'$');
                if !after_dot_or_dollar {
                    match &code[start..i] {
                        "if" => scan.open(Frame::If)?,
                        "end" if scan.top() == Some(Frame::If) => scan.close(),
                        "def" => scan.open(Frame::Def)?,
                        "and" | "or" | "as" | "try" | "catch" | "reduce" | "foreach" | "label"
                        | "then" | "elif" | "else" => scan.operator()?,
                        _ => {}
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The same limits for a minijinja template: its size, and the nesting of brackets inside
/// tags plus block tags (`{% if %}`, `{% for %}`, … up to their `end`).
pub fn check_template(source: &str) -> Result<(), String> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "{} bytes, over the limit of {MAX_TEMPLATE_BYTES}; split the template into several steps",
            source.len()
        ));
    }
    const BLOCKS: &[&str] = &[
        "if",
        "for",
        "macro",
        "call",
        "filter",
        "with",
        "block",
        "autoescape",
    ];
    let mut scan = Scan::default();
    let mut rest = source;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let is_stmt = close == "%}";
        let body_end = after.find(close).unwrap_or(after.len());
        let body = &after[1..body_end.max(1)];
        let depth_before = scan.depth();
        for c in body.bytes() {
            match c {
                b'(' | b'[' | b'{' => scan.open(Frame::Bracket)?,
                b')' | b']' | b'}' => scan.close_bracket(),
                _ => {}
            }
        }
        // Unbalanced brackets are the parser's to report; only nesting across tags counts.
        while scan.depth() > depth_before {
            scan.close();
        }
        if is_stmt {
            let word = body
                .trim_start_matches(['-', '+'])
                .split_whitespace()
                .next()
                .unwrap_or("");
            if BLOCKS.contains(&word) {
                scan.open(Frame::If)?;
            } else if word.starts_with("end") && scan.top() == Some(Frame::If) {
                scan.close();
            }
        }
        rest = after.get(body_end + close.len()..).unwrap_or("");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Bracket,
    Interp,
    If,
    Def,
}

#[derive(Default)]
struct Scan {
    /// Open frames, each with the operators seen at its level.
    stack: Vec<(Frame, usize)>,
    top_level_ops: usize,
    /// Open frames plus the operators in them.
    weight: usize,
}

impl Scan {
    fn depth(&self) -> usize {
        self.stack.len()
    }

    fn top(&self) -> Option<Frame> {
        self.stack.last().map(|(f, _)| *f)
    }

    fn open(&mut self, f: Frame) -> Result<(), String> {
        if self.stack.len() >= MAX_NESTING {
            return Err(format!(
                "nesting deeper than {MAX_NESTING} levels; simplify the expression"
            ));
        }
        self.stack.push((f, 0));
        self.add_weight()
    }

    fn add_weight(&mut self) -> Result<(), String> {
        self.weight += 1;
        if self.weight > MAX_WEIGHT {
            return Err(format!(
                "nesting and operator chains deeper than {MAX_WEIGHT} levels; simplify the expression"
            ));
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some((_, ops)) = self.stack.pop() {
            self.weight = self.weight.saturating_sub(1 + ops);
        }
    }

    /// A closing bracket also ends the `if`/`def` frames left open inside it (the parser
    /// reports those; the scan only needs to stay in step).
    fn close_bracket(&mut self) {
        while let Some(f) = self.top() {
            self.close();
            if matches!(f, Frame::Bracket | Frame::Interp) {
                break;
            }
        }
    }

    fn operator(&mut self) -> Result<(), String> {
        let n = match self.stack.last_mut() {
            Some((_, n)) => n,
            None => &mut self.top_level_ops,
        };
        *n += 1;
        if *n > MAX_CHAIN {
            return Err(format!(
                "more than {MAX_CHAIN} operators in a row at one level; split the expression \
                 (e.g. into several steps, or with `def` and `as $name`)"
            ));
        }
        self.add_weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_expressions_pass() {
        for ok in [
            ".input.message | ascii_upcase",
            r#"{reply: "hi \(.input.name | ascii_downcase)", n: (.input.n // 1)}"#,
            "def f: if . <= 1 then 1 else . * (. - 1 | f) end; .input.n | f",
            "[.[] | select(.if == $end)] # a comment with ((((",
            ".a |= . + 1",
        ] {
            check_jq(ok).expect("accepted");
        }
    }

    #[test]
    fn deep_nesting_and_long_chains_are_refused() {
        let parens = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
        assert!(
            check_jq(&parens)
                .expect_err("refused")
                .contains("nesting deeper than 64")
        );
        let sum = vec!["1"; 2000].join(" + ");
        assert!(
            check_jq(&sum)
                .expect_err("refused")
                .contains("operators in a row")
        );
        let ifs = "if . then ".repeat(100) + "1" + &" else 0 end".repeat(100);
        assert!(check_jq(&ifs).expect_err("refused").contains("nesting"));
        let interp = "\"\\(".repeat(100) + "1" + &")\"".repeat(100);
        assert!(check_jq(&interp).expect_err("refused").contains("nesting"));
        let wide = format!(
            "{}1{}",
            "(1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + "
                .repeat(60),
            ")".repeat(60)
        );
        assert!(
            check_jq(&wide)
                .expect_err("refused")
                .contains("deeper than 1024")
        );
        let big = ".a ".repeat(10_000);
        assert!(
            check_jq(&big)
                .expect_err("refused")
                .contains("over the limit")
        );
    }

    #[test]
    fn the_worst_accepted_expression_compiles_without_overflowing() {
        let inner = vec!["1"; 250].join(" + ");
        let code = format!(
            "{}{inner}{}",
            "1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + (".repeat(63),
            ")".repeat(63)
        );
        check_jq(&code).expect("accepted");
        crate::compile::on_compile_thread(|| {
            crate::jq::JqProgram::compile(&code)
                .map(|_| ())
                .map_err(rel_domain::RelError::invalid)
        })
        .expect("accepted");
    }

    #[test]
    fn templates_nesting_is_limited() {
        check_template(
            "{% for x in input.items %}{% if x %}{{ x | upper }}{% endif %}{% endfor %}",
        )
        .expect("accepted");
        let deep = "{% if a %}".repeat(100) + &"{% endif %}".repeat(100);
        assert!(
            check_template(&deep)
                .expect_err("refused")
                .contains("nesting")
        );
        let brackets = format!("{{{{ {}1{} }}}}", "(".repeat(100), ")".repeat(100));
        assert!(
            check_template(&brackets)
                .expect_err("refused")
                .contains("nesting")
        );
    }
}
