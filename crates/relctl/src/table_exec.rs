//! Human output for endpoint runs, verification and tokens (issue 4). Pure functions like
//! [`crate::table`], so they are snapshot-tested with fixed data.

use std::fmt::Write as _;

use rel_domain::{ExecStatus, Execution, TokenInfo};
use rel_proto::VerifyOutcome;

use crate::table::{Ctx, Table, fields, or_dash, plural, short_time, truncate, when};

fn status_word(s: ExecStatus) -> &'static str {
    rel_proto::json::status_str(s)
}

/// One wording for relctl and relui (rel_proto::present).
pub fn duration(ms: u64) -> String {
    rel_proto::present::duration(ms)
}

/// Stored JSON text pretty-printed (text that is not JSON is shown as it is).
fn pretty_json(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string()),
        Err(_) => text.to_string(),
    }
}

fn indented(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    let mut out = String::new();
    for line in text.lines() {
        let _ = writeln!(out, "{pad}{line}");
    }
    out
}

/// One run in full (`relctl trigger`, `relctl logs --id`): what ran where, the output
/// pretty-printed, and one line per step.
pub fn execution(e: &Execution, ctx: Ctx) -> String {
    let mut out = format!(
        "execution #{}: {} in {} {} in {}\n",
        e.id,
        e.endpoint,
        e.env,
        match e.status {
            ExecStatus::Ok => "ok",
            ExecStatus::Error => "FAILED",
        },
        duration(e.duration_ms)
    );
    let mut pairs = vec![
        ("release", format!("{} ({})", e.release, e.digest)),
        ("started", when(e.started_at, ctx)),
        (
            "input",
            truncate(
                &serde_json::from_str::<serde_json::Value>(&e.input)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|_| e.input.clone()),
                ctx.width.saturating_sub(9).max(20),
            ),
        ),
    ];
    if let Some(err) = &e.error {
        // Wrapped, not cut: the reason is the one thing a person reading this needs whole.
        let lines = crate::table::wrap(err, ctx.width.saturating_sub(11).max(20));
        pairs.push(("error", lines.join("\n")));
    }
    out.push_str(&indented(&fields(&pairs), 2));
    if e.status == ExecStatus::Ok {
        out.push_str("output:\n");
        out.push_str(&indented(&pretty_json(&e.output), 2));
    }
    if e.steps.is_empty() {
        out.push_str("steps: none ran\n");
    } else {
        out.push_str("steps:\n");
        let mut t = Table::new(&["STEP", "KIND", "STATUS", "DURATION", "ERROR"], &[4]).wrap_last();
        for s in &e.steps {
            t.row(vec![
                s.name.clone(),
                s.kind.clone(),
                status_word(s.status).to_string(),
                duration(s.duration_ms),
                or_dash(s.error.as_deref()),
            ]);
        }
        out.push_str(&indented(&t.render(ctx.width.saturating_sub(2)), 2));
    }
    out
}

/// `relctl logs`: newest first.
/// `more`: runs older than these exist (the list was cut at `--limit`).
pub fn executions(list: &[Execution], more: bool, ctx: Ctx) -> String {
    if list.is_empty() {
        return "no executions match; run one with relctl trigger ENDPOINT --env ENV\n".to_string();
    }
    let mut t = Table::new(
        &[
            "ID", "AT (UTC)", "ENV", "ENDPOINT", "RELEASE", "STATUS", "DURATION",
        ],
        &[3, 2],
    );
    for e in list {
        t.row(vec![
            e.id.to_string(),
            short_time(e.started_at),
            e.env.clone(),
            e.endpoint.clone(),
            e.release.clone(),
            status_word(e.status).to_string(),
            duration(e.duration_ms),
        ]);
    }
    let mut out = t.render(ctx.width);
    if more {
        let hint = crate::paging::more_hint(list.len(), Some("--id ID for one run's steps"));
        let _ = writeln!(out, "{hint}");
    }
    out
}

/// One line per run for `relctl logs --follow` in table mode: columns of fixed width (there
/// is no whole table to measure) that fit 80 columns, the time of day to the second, and a
/// failed run's error on the next line.
pub fn follow_line(e: &Execution) -> String {
    let full = e.started_at.rfc3339();
    let time = full.get(11..19).unwrap_or(&full);
    let mut line = format!(
        "{:>6}  {time:<8}  {:<12}  {:<16}  {:<12}  {:<6}  {:>8}",
        e.id,
        e.env,
        e.endpoint,
        e.release,
        status_word(e.status),
        duration(e.duration_ms),
    );
    line = line.trim_end().to_string();
    line.push('\n');
    if let Some(err) = &e.error {
        let _ = writeln!(line, "{:8}error: {err}", "");
    }
    line
}

/// The header printed once above the `follow_line`s.
pub fn follow_header() -> String {
    format!(
        "{:>6}  {:<8}  {:<12}  {:<16}  {:<12}  {:<6}  {:>8}\n",
        "ID", "UTC", "ENV", "ENDPOINT", "RELEASE", "STATUS", "DURATION"
    )
}

/// `relctl verify` (and the verify part of `deploy --verify`): each check, then the verdict.
pub fn verified(o: &VerifyOutcome, ctx: Ctx) -> String {
    let v = &o.verification;
    let mut out = format!(
        "verify {}: {} (deployment #{})\n",
        o.env, o.release, o.deployment.id
    );
    if v.checks.is_empty() {
        let _ = writeln!(
            out,
            "{} defines no checks: nothing to run; recorded as passed",
            o.release
        );
        return out;
    }
    let avail = ctx.width.saturating_sub(4).max(20);
    for c in &v.checks {
        let mark = if c.passed { '✓' } else { '✗' };
        let mut text = format!("{}: {}", c.name, c.message);
        if let Some(id) = c.execution_id {
            let _ = write!(text, " (execution #{id})");
        }
        let mut lines = crate::table::wrap(&text, avail).into_iter();
        let _ = writeln!(out, "  {mark} {}", lines.next().unwrap_or_default());
        for more in lines {
            let _ = writeln!(out, "    {more}");
        }
    }
    let failed = v.checks.iter().filter(|c| !c.passed).count();
    let total = plural(v.checks.len(), "check", "checks");
    if failed == 0 {
        let _ = writeln!(
            out,
            "PASSED: {total} passed; recorded on deployment #{}",
            o.deployment.id
        );
    } else {
        let _ = writeln!(
            out,
            "FAILED: {failed} of {total} failed; recorded on deployment #{}",
            o.deployment.id
        );
    }
    out
}

/// `relctl token list`.
pub fn tokens(list: &[TokenInfo], ctx: Ctx) -> String {
    if list.is_empty() {
        return "no tokens; create one with relctl token create NAME\n".to_string();
    }
    let mut t = Table::new(&["NAME", "CREATED (UTC)", "BY"], &[0]);
    for tok in list {
        t.row(vec![
            tok.name.clone(),
            short_time(tok.created_at),
            tok.created_by.clone(),
        ]);
    }
    t.render(ctx.width)
}

/// `relctl token create`: the secret, once, with what to do with it.
pub fn token_created(info: &TokenInfo, secret: &str) -> String {
    format!(
        "created token {name} (by {by} at {at})\n\
         \n\
         {secret}\n\
         \n\
         Store it now; it cannot be shown again (releasd keeps only a hash of it).\n\
         Use it with the HTTP ingress (releasd --http ADDR), e.g. with REL_TOKEN set to it:\n  \
         curl -X POST http://ADDR/v1/trigger/ENDPOINT -H 'X-Environment: staging' \\\n    \
         -H \"Authorization: Bearer $REL_TOKEN\" -d '{{\"message\":\"hi\"}}'\n\
         Revoke it with relctl token revoke {name}\n",
        name = info.name,
        by = info.created_by,
        at = info.created_at.rfc3339(),
    )
}
