//! Turning domain data into display text. Computed in `update` (or cheaply in render) and
//! never doing I/O.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use rel_domain::config::AppConfig;
use rel_domain::diff::{ChangeOp, Diff};
use rel_domain::{Deployment, DeploymentKind, ErrorCode, Verification};
use rel_proto::{ClientError, Event};

use crate::theme::Theme;

/// The first line of a multi-line text.
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Thousands separators: 100000 → "100,000".
/// `1 approval`, `2 approvals`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The diff as styled lines: `+ added`, `- removed`, `~ changed` with `field: before → after`.
pub fn diff_lines(diff: &Diff, theme: Theme) -> Vec<Line<'static>> {
    if diff.is_empty() {
        return vec![Line::styled(
            "  no changes: identical configuration",
            theme.dim(),
        )];
    }
    let mut out = Vec::new();
    for c in &diff.changes {
        let (mark, style) = match c.op {
            ChangeOp::Added => ("+ ", theme.added()),
            ChangeOp::Removed => ("- ", theme.removed()),
            ChangeOp::Changed => ("~ ", theme.changed()),
        };
        out.push(Line::from(vec![
            Span::styled(mark, style),
            Span::styled(c.path.clone(), style),
        ]));
        for f in &c.fields {
            let before = f.before.as_deref().unwrap_or("(none)");
            let after = f.after.as_deref().unwrap_or("(none)");
            out.push(Line::from(vec![
                Span::raw("    "),
                Span::styled(f.field.clone(), theme.dim()),
            ]));
            out.push(Line::from(vec![
                Span::styled("      - ", theme.removed()),
                Span::raw(before.to_string()),
            ]));
            out.push(Line::from(vec![
                Span::styled("      + ", theme.added()),
                Span::raw(after.to_string()),
            ]));
        }
    }
    out
}

/// A short count line: "3 changes: 1 added, 1 removed, 1 changed".
pub fn diff_summary(diff: &Diff) -> String {
    if diff.is_empty() {
        return "no changes".into();
    }
    let count = |op| diff.changes.iter().filter(|c| c.op == op).count();
    let n = diff.changes.len();
    format!(
        "{n} change{}: {} added, {} removed, {} changed",
        if n == 1 { "" } else { "s" },
        count(ChangeOp::Added),
        count(ChangeOp::Removed),
        count(ChangeOp::Changed)
    )
}

/// The snapshot outline: pipelines with their stages and steps, endpoints, tools, checks.
pub fn outline(config_json: &str) -> Vec<String> {
    let cfg = match AppConfig::from_json(config_json) {
        Ok(c) => c,
        Err(e) => return vec![format!("(cannot read the snapshot: {})", e.message)],
    };
    let mut out = Vec::new();
    if cfg.is_empty() {
        out.push("(empty configuration)".into());
        return out;
    }
    out.push(format!("pipelines ({})", cfg.pipelines.len()));
    for (name, p) in &cfg.pipelines {
        let desc = if p.description.is_empty() {
            String::new()
        } else {
            format!(" — {}", first_line(&p.description))
        };
        out.push(format!("  {name}{desc}"));
        for stage in &p.stages {
            out.push(format!("    stage {}", stage.name));
            for step in &stage.steps {
                let tool = step
                    .tool
                    .as_deref()
                    .map(|t| format!(" → tool {t}"))
                    .unwrap_or_default();
                out.push(format!(
                    "      step {} ({}){tool}",
                    step.name,
                    step.kind.as_str()
                ));
            }
        }
    }
    out.push(format!("endpoints ({})", cfg.endpoints.len()));
    for (name, e) in &cfg.endpoints {
        out.push(format!("  {name} → pipeline {}", e.pipeline));
    }
    out.push(format!("tools ({})", cfg.tools.len()));
    for (name, t) in &cfg.tools {
        let what = match (&t.argv, &t.url) {
            (Some(argv), _) => format!("command: {}", argv.join(" ")),
            (None, Some(url)) => format!("http: {url}"),
            (None, None) => String::new(),
        };
        out.push(format!("  {name} ({what})"));
    }
    out.push(format!("checks ({})", cfg.checks.len()));
    for c in &cfg.checks {
        out.push(format!("  {} → endpoint {}", c.name, c.endpoint));
    }
    out
}

/// One line describing a deployment: "alice deployed v2 to staging (was v1)".
pub fn deployment_summary(d: &Deployment) -> String {
    let forced = if d.forced { " (forced)" } else { "" };
    match d.kind {
        DeploymentKind::Deploy => match &d.previous {
            Some(p) => format!(
                "{} deployed {} to {} (was {p}){forced}",
                d.actor, d.release, d.env
            ),
            None => format!("{} deployed {} to {}{forced}", d.actor, d.release, d.env),
        },
        DeploymentKind::Rollback => format!(
            "{} rolled back {} to {} (from {}){forced}",
            d.actor,
            d.env,
            d.release,
            d.previous.as_deref().unwrap_or("nothing")
        ),
    }
}

/// What the status bar says about an event.
pub fn event_summary(e: &Event) -> String {
    match e {
        Event::ReleaseCreated { release, actor } => {
            format!("{actor} created release {}", release.release.tag)
        }
        Event::Deployed(d) | Event::RolledBack(d) => deployment_summary(d),
        Event::VerificationFinished {
            env,
            release,
            passed,
            ..
        } => format!(
            "verification of {release} in {env} {}",
            if *passed { "passed" } else { "FAILED" }
        ),
        Event::ExecutionFinished {
            endpoint,
            env,
            release,
            status,
            ..
        } => format!(
            "{endpoint} ran in {env} under {release}: {}",
            match status {
                rel_domain::ExecStatus::Ok => "ok",
                rel_domain::ExecStatus::Error => "error",
            }
        ),
        Event::DraftApplied { digest, actor } => format!("{actor} applied a new draft ({digest})"),
        Event::EnvironmentCreated { name, actor } => format!("{actor} created environment {name}"),
        Event::ReleasesPruned { removed, actor } => {
            format!("{actor} pruned {} release(s)", removed.len())
        }
        Event::Imported { actor } => format!("{actor} imported a store"),
        Event::Lagged { missed } => format!("missed {missed} event(s); reloaded everything"),
        Event::Frozen { env, freeze } => format!(
            "{} froze {}: {}",
            freeze.by,
            env.as_deref().unwrap_or("every environment"),
            freeze.reason
        ),
        Event::Unfrozen { env, actor } => format!(
            "{actor} unfroze {}",
            env.as_deref().unwrap_or("every environment")
        ),
        Event::GovernanceChanged { env, actor, what } => format!("{actor} changed {env}: {what}"),
        Event::RequestChanged(r) => format!(
            "request #{} ({} to {}) by {}: {}",
            r.id,
            r.release,
            r.env,
            r.requested_by,
            r.status.as_str()
        ),
    }
}

/// "passed 2/2", "FAILED 1/2", or "not verified".
pub fn verification_text(v: Option<&Verification>) -> String {
    match v {
        None => "not verified".into(),
        Some(v) => {
            let passed = v.checks.iter().filter(|c| c.passed).count();
            let word = if v.passed { "passed" } else { "FAILED" };
            format!("{word} {passed}/{}", v.checks.len())
        }
    }
}

/// Where a release is live, fitted to `width` columns: all of it when it fits
/// ("staging,production"), else as many whole names as fit and a count of the rest
/// ("staging +1"), else the first name cut with "…" and the count ("production-e… +2").
/// Never cuts a name silently: a cut is marked, and the count says how many are hidden.
pub fn live_in_text(envs: &[String], width: usize) -> String {
    if envs.is_empty() {
        return "—".into();
    }
    let all = envs.join(",");
    if all.chars().count() <= width {
        return all;
    }
    let mut shown = String::new();
    let mut count = 0;
    for (i, name) in envs.iter().enumerate() {
        let rest = envs.len() - i - 1;
        let candidate = if shown.is_empty() {
            name.clone()
        } else {
            format!("{shown},{name}")
        };
        let tail = if rest > 0 {
            format!(" +{rest}")
        } else {
            String::new()
        };
        if candidate.chars().count() + tail.chars().count() > width {
            break;
        }
        shown = candidate;
        count += 1;
    }
    if count > 0 {
        return format!("{shown} +{}", envs.len() - count);
    }
    // Not even the first name fits next to the count: cut it, visibly.
    let tail = format!(" +{}", envs.len() - 1);
    let tail = if envs.len() > 1 { tail } else { String::new() };
    let keep = width.saturating_sub(tail.chars().count() + 1);
    let cut: String = envs[0].chars().take(keep).collect();
    format!("{cut}…{tail}")
}

/// The LIVE IN cell with where the release is held (rolled back out), as relctl says it:
/// "staging; HELD in production"; shorter forms where that does not fit, always keeping
/// "HELD" in sight; "HELD in production" when it is live nowhere.
pub fn live_and_held_text(live: &[String], held: &[String], width: usize) -> String {
    use crate::widgets::columns::fit;
    if held.is_empty() {
        return live_in_text(live, width);
    }
    let h = held.join(",");
    if live.is_empty() {
        return fit(&format!("HELD in {h}"), width);
    }
    let l = live.join(",");
    for candidate in [format!("{l}; HELD in {h}"), format!("{l}; HELD {h}")] {
        if self::width(&candidate) <= width {
            return candidate;
        }
    }
    // "; HELD" and at least one character of a held name must stay.
    let live_part = live_in_text(live, width.saturating_sub(8).max(1));
    fit(&format!("{live_part}; HELD {h}"), width)
}

/// "1/1 checks passed", "0/2 checks passed", "no checks defined" (read as a score, so
/// "checks" even for one).
pub fn checks_count(v: &Verification) -> String {
    if v.checks.is_empty() {
        return "no checks defined".into();
    }
    let passed = v.checks.iter().filter(|c| c.passed).count();
    format!("{passed}/{} checks passed", v.checks.len())
}

/// Columns `s` takes on a terminal: CJK and emoji count two.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// A daemon message as relui shows it: without the relctl commands it suggests (relui has
/// its own keys and fields for those). Parenthesised `(relctl …)` asides go, and so do
/// sentences and clauses that tell the reader to run relctl or pass `--force`.
pub fn tui_message(message: &str) -> String {
    let mut text = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(" (relctl ") {
        text.push_str(&rest[..i]);
        // Skip to the matching ')' (asides do not nest further than one level).
        let aside = &rest[i + 2..];
        let mut depth = 1usize;
        let mut end = aside.len();
        for (j, c) in aside.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &aside[end..];
    }
    text.push_str(rest);
    // "(…; relctl env show staging lists them)": keep the aside, drop its relctl part.
    while let Some(i) = text.find("; relctl ") {
        let end = text[i..].find(')').map_or(text.len(), |j| i + j);
        text.replace_range(i..end, "");
    }
    let cli = |s: &str| s.contains("relctl") || s.contains("--force");
    let sentences: Vec<String> = text
        .split(". ")
        .filter(|sentence| {
            // A sentence that is only CLI advice goes entirely.
            let t = sentence.trim_start();
            !(cli(t) && (t.contains(" run") || t.starts_with("To ") || t.starts_with("If ")))
        })
        .map(|sentence| {
            sentence
                .split(", ")
                .filter(|clause| !cli(clause))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut out = sentences.join(". ");
    if out == message {
        return out;
    }
    // Something was cut from the end: close the sentence.
    if !out.ends_with(['.', '!', '?']) && !out.is_empty() {
        out.push('.');
    }
    out
}

/// A policy message without the daemon's own "policy: " lead-in (the UI already says
/// "Policy denied").
pub fn policy_message(message: &str) -> &str {
    message.strip_prefix("policy: ").unwrap_or(message)
}

/// A human title for an error from the daemon or the connection.
pub fn error_title(e: &ClientError) -> &'static str {
    match e {
        ClientError::Rpc(r) => code_title(r.code),
        ClientError::Unreachable { .. } | ClientError::Disconnected(_) => {
            "Not connected to releasd"
        }
        ClientError::Version { .. } => "Protocol version mismatch",
        ClientError::Protocol(_) => "Protocol error",
        ClientError::Denied { .. } => "Permission denied",
    }
}

/// Why a request could not even be sent: the executor has no connection right now.
pub const NOT_CONNECTED: &str = "not connected";

pub fn code_title(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NotFound => "Not found",
        ErrorCode::Conflict => "Conflict",
        ErrorCode::Invalid => "Invalid",
        ErrorCode::PolicyDenied => "Policy denied",
        ErrorCode::PermissionDenied => "Permission denied",
        ErrorCode::Unavailable => "Unavailable",
        ErrorCode::Internal => "Internal error",
        ErrorCode::DurabilityUnknown => "Applied, durability unknown",
    }
}

/// The message exactly as the daemon (or the client library) said it.
pub fn error_message(e: &ClientError) -> String {
    match e {
        ClientError::Rpc(r) => tui_message(&r.message),
        // One sentence, not the client library's chain of "lost: not connected: …".
        ClientError::Disconnected(why) if why == NOT_CONNECTED => {
            "relui is not connected to releasd, so nothing was sent; try again once the status bar says connected.".to_string()
        }
        ClientError::Disconnected(why) => format!(
            "The connection to releasd was lost ({why}); relui is reconnecting. Check the screen once it is back: the change may or may not have been made."
        ),
        other => other.to_string(),
    }
}

/// Rows `lines` take when wrapped to `width` columns (word wrapping may need a little more;
/// callers leave a row of slack).
pub fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(w).max(1)).sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// Word-wrap `text` to `width` columns (chars); over-long words are split.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    // textwrap measures display width (a CJK tag takes two columns) and splits words longer
    // than a line; each '\n' starts a new line, and an empty paragraph stays an empty line.
    // Break only at spaces (not inside paths or dates at '-' or '/'), greedily.
    let opts = textwrap::Options::new(width.max(1))
        .break_words(true)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit);
    text.split('\n')
        .flat_map(|para| {
            let lines = textwrap::wrap(para, &opts);
            if lines.is_empty() {
                vec![String::new()]
            } else {
                lines.into_iter().map(|l| l.into_owned()).collect()
            }
        })
        .collect()
}

/// `label` then `text` wrapped to `width`, continuation lines indented under the text.
pub fn labeled(label: Span<'static>, text: &str, style: Style, width: u16) -> Vec<Line<'static>> {
    let indent = label.width();
    let avail = usize::from(width).saturating_sub(indent).max(10);
    wrap_words(text, avail)
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let head = if i == 0 {
                label.clone()
            } else {
                Span::raw(" ".repeat(indent))
            };
            Line::from(vec![head, Span::styled(chunk, style)])
        })
        .collect()
}

/// A diff in a pane: indented, wrapped, scrolled by `scroll` rows (clamped).
pub fn render_diff_pane(
    f: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    lines: Vec<Line<'static>>,
    scroll: usize,
) {
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            let mut spans = vec![Span::raw("  ")];
            spans.extend(l.spans);
            Line::from(spans)
        })
        .collect();
    let total = wrapped_height(&lines, area.width);
    let max = total.saturating_sub(area.height);
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX).min(max);
    // Clipped below: the last row says so (and how to see the rest) instead of a diff that
    // silently looks complete.
    let clipped = total > scroll.saturating_add(area.height) && area.height > 1;
    let text_area = if clipped {
        ratatui::layout::Rect {
            height: area.height - 1,
            ..area
        }
    } else {
        area
    };
    f.render_widget(
        ratatui::widgets::Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .scroll((scroll, 0)),
        text_area,
    );
    if clipped {
        let below = total - scroll - text_area.height;
        let marker = ratatui::layout::Rect {
            y: area.y + area.height - 1,
            height: 1,
            ..area
        };
        f.render_widget(
            ratatui::widgets::Paragraph::new(format!(
                "  ↓ {below} more line{} (PgDn)",
                if below == 1 { "" } else { "s" }
            ))
            .style(ratatui::style::Style::default().add_modifier(ratatui::style::Modifier::DIM)),
            marker,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tui_messages_drop_relctl_advice() {
        let held = "v3 was rolled back out of production by alice at 2026-01-01 (deployment #6), so it is held there. If it is fixed and must go back, an admin can run: relctl deploy v3 --env production --force --reason TEXT";
        assert_eq!(
            tui_message(held),
            "v3 was rolled back out of production by alice at 2026-01-01 (deployment #6), so it is held there."
        );
        let policy = "policy: v1.1.0 has not been live in staging, which production requires. Deploy it to staging first (relctl deploy v1.1.0 --env staging), or override as an admin with --force --reason TEXT";
        assert_eq!(
            tui_message(policy),
            "policy: v1.1.0 has not been live in staging, which production requires. Deploy it to staging first."
        );
        let nothing = "nothing to roll back to: v1 was the first release staging ran, so there is nothing older (the releases deployed after it were rolled back out and are held; relctl env show staging lists them). To run another release, deploy it: relctl deploy TAG --env staging";
        assert_eq!(
            tui_message(nothing),
            "nothing to roll back to: v1 was the first release staging ran, so there is nothing older (the releases deployed after it were rolled back out and are held)."
        );
    }

    #[test]
    fn wraps_words_and_long_words() {
        assert_eq!(wrap_words("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap_words("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap_words("a\nb", 10), ["a", "b"]);
        assert_eq!(wrap_words("", 10), [""]);
    }

    #[test]
    fn live_in_fits_the_column() {
        let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(live_in_text(&[], 17), "—");
        assert_eq!(live_in_text(&v(&["staging"]), 17), "staging");
        assert_eq!(
            live_in_text(&v(&["staging", "production"]), 24),
            "staging,production"
        );
        assert_eq!(
            live_in_text(&v(&["staging", "production"]), 17),
            "staging +1"
        );
        assert_eq!(
            live_in_text(&v(&["dev", "qa", "staging", "production"]), 17),
            "dev,qa,staging +1"
        );
        assert_eq!(
            live_in_text(&v(&["production-eu-west", "staging"]), 17),
            "production-eu… +1"
        );
        assert_eq!(
            live_in_text(&v(&["production-eu-west-1"]), 17),
            "production-eu-we…"
        );
        for names in [
            v(&["staging", "production"]),
            v(&["a-very-long-environment", "b", "c"]),
        ] {
            for w in 6..30 {
                assert!(
                    live_in_text(&names, w).chars().count() <= w,
                    "{names:?} at {w}"
                );
            }
        }
    }

    #[test]
    fn policy_lead_in_is_dropped_once() {
        assert_eq!(policy_message("policy: v1 has not"), "v1 has not");
        assert_eq!(policy_message("held there"), "held there");
    }

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn outline_of_the_example() {
        let cfg = AppConfig::parse(
            rel_domain::config::EXAMPLE_APP_TOML,
            rel_domain::config::ConfigFormat::Toml,
        )
        .expect("example parses");
        let lines = outline(&cfg.to_canonical_json());
        assert!(
            lines.contains(&"      step greet (template)".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"  chat → pipeline chat".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"  shout (command: tr a-z A-Z)".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"  chat replies → endpoint chat".to_string()),
            "{lines:?}"
        );
    }
}

/// Fit `text` into `max` columns for the status bar: whole if it fits, else without its
/// trailing parenthesised details ("(was v1.2)"), else cut at a word with "…" — never
/// mid-word.
/// `text` without its trailing details in parentheses ("deployed v1 (alice)" → "deployed v1").
pub fn without_details(text: &str) -> &str {
    let mut short = text.trim_end();
    while let Some(open) = short.rfind(" (").filter(|_| short.ends_with(')')) {
        short = &short[..open];
    }
    short
}

pub fn fit_words(text: &str, max: usize) -> String {
    let len = |s: &str| s.chars().count();
    if len(text) <= max {
        return text.to_string();
    }
    let mut short = text.trim_end();
    while let Some(open) = short.rfind(" (").filter(|_| short.ends_with(')')) {
        short = &short[..open];
        if len(short) <= max {
            return short.to_string();
        }
    }
    let mut out = String::new();
    for word in short.split(' ') {
        let next = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if len(&next) + 1 > max {
            break;
        }
        out = next;
    }
    if out.is_empty() {
        // One word longer than the room: cut it, marked.
        out = short.chars().take(max.saturating_sub(1)).collect();
    }
    out.push('…');
    out
}

#[cfg(test)]
mod fit_tests {
    use super::{fit_words, live_and_held_text};

    #[test]
    fn held_stays_in_sight() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            live_and_held_text(&s(&["staging"]), &s(&["production"]), 40),
            "staging; HELD in production"
        );
        assert_eq!(
            live_and_held_text(&s(&["staging"]), &s(&["production"]), 24),
            "staging; HELD production"
        );
        assert_eq!(
            live_and_held_text(&s(&["staging"]), &s(&["production"]), 17),
            "staging; HELD pr…"
        );
        assert_eq!(
            live_and_held_text(&[], &s(&["production"]), 30),
            "HELD in production"
        );
        assert_eq!(live_and_held_text(&s(&["staging"]), &[], 30), "staging");
    }

    #[test]
    fn fits_drops_details_then_cuts_at_a_word() {
        assert_eq!(fit_words("a b c", 10), "a b c");
        assert_eq!(
            fit_words("alice deployed v1.3 to staging (was v1.2)", 32),
            "alice deployed v1.3 to staging"
        );
        assert_eq!(
            fit_words("alice deployed v1.3 to staging", 20),
            "alice deployed v1.3…"
        );
        assert_eq!(fit_words("abcdefghij", 5), "abcd…");
    }
}
