//! Human output: aligned tables and short reports that fit in 80 columns. Pure functions over
//! the domain and protocol types plus a [`Ctx`] (now, width) so snapshots are deterministic.

use std::fmt::Write as _;

use rel_domain::diff::{ChangeOp, Diff};
use rel_domain::{
    AppConfig, AuditEntry, AuditReport, CreateOutcome, DeployOutcome, DeployPlan, Deployment,
    DeploymentKind, Digest, EnvironmentView, PruneReport, ReleaseView, RollbackPlan, StoreStatus,
    Timestamp,
};
use rel_proto::{DaemonStatus, DiffView, ReleaseDetail};

use crate::holds::Holds;

/// What rendering depends on besides the data.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub now: Timestamp,
    pub width: usize,
}

const DASH: &str = "-";

// ---------------------------------------------------------------------------------------
// Generic helpers

/// `s` cut to `n` characters, ending in `…` when cut.
pub fn truncate(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

pub(crate) fn or_dash(s: Option<&str>) -> String {
    s.unwrap_or(DASH).to_string()
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Columns separated by two spaces. When a table would be wider than `width`, only the
/// `flex` columns shrink (with `…`), in the order given, so tags, ids and times stay whole.
pub struct Table {
    headers: Vec<&'static str>,
    flex: Vec<usize>,
    rows: Vec<Vec<String>>,
    wrap_last: bool,
}

/// Greedy word wrap to `w` columns; words longer than a line are split.
pub fn wrap(text: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let cur_len = cur.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + word.len() <= w {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if cur_len > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than the line: split it.
            let rest = word.split_off(w.min(word.len()));
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

impl Table {
    pub fn new(headers: &[&'static str], flex: &[usize]) -> Table {
        Table {
            headers: headers.to_vec(),
            flex: flex.to_vec(),
            rows: Vec::new(),
            wrap_last: false,
        }
    }

    /// Wrap the last column onto continuation lines instead of cutting it.
    pub fn wrap_last(mut self) -> Table {
        self.wrap_last = true;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self, width: usize) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let total: usize = widths.iter().sum::<usize>() + 2 * n.saturating_sub(1);
        let mut excess = total.saturating_sub(width);
        for &i in &self.flex {
            if excess == 0 || i >= n {
                break;
            }
            let min = self.headers[i].chars().count().max(6);
            let cut = widths[i].saturating_sub(min).min(excess);
            widths[i] -= cut;
            excess -= cut;
        }
        let mut out = String::new();
        let indent = widths
            .iter()
            .take(n.saturating_sub(1))
            .map(|w| w + 2)
            .sum::<usize>();
        let wrap_last = self.wrap_last;
        let mut emit = |cells: &[String]| {
            let mut line = String::new();
            let mut more = Vec::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 < n {
                    let _ = write!(line, "{:<w$}  ", truncate(cell, *w));
                } else if wrap_last {
                    let mut parts = wrap(cell, *w).into_iter();
                    line.push_str(&parts.next().unwrap_or_default());
                    more.extend(parts);
                } else {
                    line.push_str(&truncate(cell, *w));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
            for part in more {
                let _ = writeln!(out, "{:indent$}{part}", "");
            }
        };
        emit(
            &self
                .headers
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>(),
        );
        for row in &self.rows {
            emit(row);
        }
        out
    }
}

/// Key/value lines with aligned keys.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let mut lines = v.lines();
        let first = lines.next().unwrap_or("");
        let _ = writeln!(out, "{k:<w$}  {first}");
        for more in lines {
            let _ = writeln!(out, "{:<w$}  {more}", "");
        }
    }
    out
}

/// `2026-03-15 10:00` (UTC): minutes are enough in a table; JSON has the full RFC 3339.
pub(crate) fn short_time(t: Timestamp) -> String {
    let full = t.rfc3339();
    match full.get(..16) {
        Some(head) if full.len() >= 20 => head.replacen('T', " ", 1),
        _ => full,
    }
}

pub(crate) fn when(t: Timestamp, ctx: Ctx) -> String {
    format!("{} ({} ago)", t.rfc3339(), t.age(ctx.now))
}

// ---------------------------------------------------------------------------------------
// Diffs

fn op_sign(op: ChangeOp) -> char {
    match op {
        ChangeOp::Added => '+',
        ChangeOp::Removed => '-',
        ChangeOp::Changed => '~',
    }
}

/// One line per change (`+ tools.search`, `- checks[x]`, `~ pipelines.chat...`) and one per
/// changed field underneath, each indented by `indent` and cut to `width`.
pub fn diff_lines(diff: &Diff, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let avail = width.saturating_sub(indent).max(20);
    let mut out = String::new();
    for c in &diff.changes {
        let _ = writeln!(
            out,
            "{pad}{}",
            truncate(&format!("{} {}", op_sign(c.op), c.path), avail)
        );
        for f in &c.fields {
            let before = f.before.as_deref().unwrap_or("(absent)");
            let after = f.after.as_deref().unwrap_or("(absent)");
            let line = format!("    {}: {before} → {after}", f.field);
            if line.chars().count() <= avail {
                let _ = writeln!(out, "{pad}{line}");
            } else {
                // Too long for one line: before and after on their own lines, so the part
                // that differs is not the part that gets cut.
                let _ = writeln!(out, "{pad}    {}:", f.field);
                let _ = writeln!(
                    out,
                    "{pad}{}",
                    truncate(&format!("      - {before}"), avail)
                );
                let _ = writeln!(out, "{pad}{}", truncate(&format!("      + {after}"), avail));
            }
        }
    }
    out
}

/// `relctl diff` and `relctl app diff`.
pub fn diff(v: &DiffView, ctx: Ctx) -> String {
    let label = |name: &str, d: Option<Digest>| match d {
        Some(d) => format!("{name} ({d})"),
        None => name.to_string(),
    };
    let from = label(&v.from, v.from_digest);
    let to = label(&v.to, v.to_digest);
    if v.diff.is_empty() {
        return format!("no changes: {from} and {to} have identical content\n");
    }
    let mut out = format!("{from} → {to}\n");
    out.push_str(&diff_lines(&v.diff, 0, ctx.width));
    let _ = writeln!(out, "{}", plural(v.diff.changes.len(), "change", "changes"));
    out
}

// ---------------------------------------------------------------------------------------
// Status and the draft

/// `open_requests`: deploy requests waiting for approvals or their time (`None`: unknown).
/// A refusal's reason without its "how to override" clause (the one naming `--force`): shown
/// under a plan that already overrides, it would only confuse. The clause is found by its
/// shape (the sentence, ", or …" or " (or …" that mentions --force), not by its wording, so
/// new refusals need nothing here.
fn without_override_hint(why: &str) -> &str {
    let Some(at) = why.find("--force") else {
        return why;
    };
    let head = &why[..at];
    let clause = [
        head.rfind(". ").map(|i| i + 1),
        head.rfind(", or "),
        head.rfind(" (or "),
    ]
    .into_iter()
    .flatten()
    .max();
    match clause {
        Some(i) => why[..i].trim_end(),
        None => why,
    }
}

pub fn status(
    s: &DaemonStatus,
    envs: &[EnvironmentView],
    open_requests: Option<usize>,
    ctx: Ctx,
) -> String {
    let st = &s.store;
    let mut pairs = vec![
        (
            "releasd",
            format!(
                "{} (protocol {}, pid {})",
                s.daemon_version, s.protocol, s.pid
            ),
        ),
        ("up since", when(s.started_at, ctx)),
        ("socket", s.socket.clone()),
        ("data dir", s.data_dir.clone()),
        (
            "log",
            s.log
                .clone()
                .unwrap_or_else(|| "its stderr (started with --foreground)".into()),
        ),
    ];
    if let Some(http) = &s.http {
        pairs.push(("http", http.clone()));
    }
    pairs.push((
        "you",
        format!(
            "{} (uid {}), role {}",
            s.caller.actor.name,
            s.caller.actor.uid,
            s.caller.role.as_str()
        ),
    ));
    pairs.push((
        "store",
        format!(
            "{}, {}, {}, {}",
            plural(st.releases as usize, "release", "releases"),
            plural(st.environments as usize, "environment", "environments"),
            plural(st.deployments as usize, "deployment", "deployments"),
            plural(st.audit_entries as usize, "audit entry", "audit entries"),
        ),
    ));
    let b = &s.backend;
    let mut backend = if b.kind == "sled" {
        "sled (in the data dir)".to_string()
    } else {
        format!("{} {}", b.kind, b.location)
    };
    if let Some(who) = &b.answered_by {
        backend.push_str(&format!(", answered by {who}"));
    }
    if let Some(rev) = b.revision {
        backend.push_str(&format!(", revision {rev}"));
    }
    pairs.push(("backend", backend));
    pairs.push((
        "draft",
        st.draft_digest
            .map(|d| d.short())
            .unwrap_or_else(|| "none (relctl app apply FILE)".into()),
    ));
    match open_requests {
        Some(0) => pairs.push(("requests", "none open".to_string())),
        Some(n) => pairs.push((
            "requests",
            format!(
                "{} waiting for approvals or their time (relctl requests)",
                plural(n, "deploy request", "deploy requests")
            ),
        )),
        None => {}
    }
    let mut out = String::new();
    // First, before anything that looks healthy: the store refuses writes.
    if let Some(why) = &s.degraded {
        out.push_str(&format!(
            "DEGRADED: the store refuses writes since a disk failure ({why}); reads may be stale. Fix the disk under {}, then restart releasd (it replays its write-ahead log)\n\n",
            s.data_dir
        ));
    }
    out.push_str(&fields(&pairs));
    if !envs.is_empty() {
        out.push('\n');
        out.push_str(&environments(envs, ctx));
    }
    out
}

pub fn draft_applied(file: &str, digest: &Digest, diff: &Diff, ctx: Ctx) -> String {
    let mut out = format!("draft updated from {file} ({digest})\n");
    if diff.is_empty() {
        out.push_str("no changes from the previous draft\n");
    } else {
        out.push_str(&diff_lines(diff, 2, ctx.width));
        let _ = writeln!(out, "{}", plural(diff.changes.len(), "change", "changes"));
    }
    out.push_str("next: relctl release create TAG -d \"what changed\"\n");
    out
}

/// A one-line outline of a config: `1 tool, 1 pipeline (1 stage, 2 steps), 1 endpoint, 1 check`.
pub fn outline(c: &AppConfig) -> String {
    let stages: usize = c.pipelines.values().map(|p| p.stages.len()).sum();
    let steps: usize = c
        .pipelines
        .values()
        .flat_map(|p| &p.stages)
        .map(|s| s.steps.len())
        .sum();
    format!(
        "{}, {} ({}, {}), {}, {}",
        plural(c.tools.len(), "tool", "tools"),
        plural(c.pipelines.len(), "pipeline", "pipelines"),
        plural(stages, "stage", "stages"),
        plural(steps, "step", "steps"),
        plural(c.endpoints.len(), "endpoint", "endpoints"),
        plural(c.checks.len(), "check", "checks"),
    )
}

pub fn valid(file: &str, digest: &Digest, c: &AppConfig) -> String {
    format!("{file} is valid ({digest}): {}\n", outline(c))
}

/// `app show`: the draft as TOML under a comment naming its digest.
pub fn draft_toml(digest: &Digest, c: &AppConfig) -> String {
    format!("# draft {digest}: {}\n{}", outline(c), c.to_toml())
}

// ---------------------------------------------------------------------------------------
// Releases

fn live_in(v: &ReleaseView) -> String {
    if v.live_in.is_empty() {
        DASH.to_string()
    } else {
        v.live_in.join(",")
    }
}

/// The STATE cell: `held` for a release live nowhere and rolled back out somewhere (the
/// JSON `state` stays `superseded`, with `held_in` beside it).
fn state_cell(v: &ReleaseView, held_in: &[String]) -> String {
    if v.state == rel_domain::ReleaseState::Superseded && !held_in.is_empty() {
        "HELD".to_string()
    } else {
        v.state.as_str().to_string()
    }
}

/// The LIVE IN cell, with where it is held: `staging; HELD in production`.
fn live_and_held(v: &ReleaseView, held_in: &[String]) -> String {
    match (v.live_in.is_empty(), held_in.is_empty()) {
        (_, true) => live_in(v),
        (true, false) => format!("HELD in {}", held_in.join(",")),
        (false, false) => format!("{}; HELD in {}", live_in(v), held_in.join(",")),
    }
}

/// `more`: older releases exist (the list was cut at `--limit`).
pub fn releases(list: &[ReleaseView], more: bool, holds: &Holds, ctx: Ctx) -> String {
    let mut t = Table::new(
        &["TAG", "STATE", "LIVE IN", "AGE", "AUTHOR", "DESCRIPTION"],
        &[5, 2, 4, 0],
    );
    for v in list {
        let r = &v.release;
        let held = holds.held_in(&r.tag);
        t.row(vec![
            r.tag.clone(),
            state_cell(v, held),
            live_and_held(v, held),
            r.created_at.age(ctx.now),
            r.created_by.clone(),
            first_line(&r.description).to_string(),
        ]);
    }
    let mut out = t.render(ctx.width);
    if more {
        let _ = writeln!(out, "{}", crate::paging::more_hint(list.len(), None));
    }
    out
}

pub fn release_detail(d: &ReleaseDetail, holds: &Holds, ctx: Ctx) -> String {
    let v = &d.view;
    let r = &v.release;
    let mut state = match v.live_in.is_empty() {
        true => v.state.as_str().to_string(),
        false => format!("{} in {}", v.state.as_str(), v.live_in.join(", ")),
    };
    let held = holds.held_in(&r.tag);
    if !held.is_empty() {
        state.push_str(&format!(
            "; HELD in {} (rolled back out; redeploying there needs --force --reason)",
            held.join(", ")
        ));
    }
    let mut pairs = vec![
        ("release", format!("{} (seq {})", r.tag, r.seq)),
        ("state", state),
        ("digest", r.digest.short()),
        (
            "created",
            format!("{} by {}", when(r.created_at, ctx), r.created_by),
        ),
    ];
    if let Ok(cfg) = AppConfig::from_json(&d.config_json) {
        pairs.push(("contents", outline(&cfg)));
    }
    pairs.push((
        "notes",
        if r.description.is_empty() {
            DASH.to_string()
        } else {
            r.description.clone()
        },
    ));
    let mut out = fields(&pairs);
    out.push('\n');
    match &d.previous {
        None => out.push_str("first release: nothing to diff against\n"),
        Some(prev) if d.diff_from_previous.is_empty() => {
            let _ = writeln!(out, "identical content to {prev}");
        }
        Some(prev) => {
            let _ = writeln!(out, "changes since {prev}:");
            out.push_str(&diff_lines(&d.diff_from_previous, 2, ctx.width));
        }
    }
    out.push('\n');
    if d.history.is_empty() {
        out.push_str("never deployed\n");
    } else {
        out.push_str("deployments (newest first):\n");
        out.push_str(&history(&d.history, HistoryOf::Release, ctx));
    }
    out
}

pub fn created(o: &CreateOutcome, ctx: Ctx) -> String {
    let r = &o.release.release;
    let mut out = format!("created release {} (seq {}, {})\n", r.tag, r.seq, r.digest);
    if let Some(first) = o.same_content_as.first() {
        let _ = writeln!(
            out,
            "note: same content as {first}; deploying one instead of the other changes no configuration"
        );
    }
    match &o.deployment {
        Some(d) => out.push_str(&deployed(d, ctx)),
        None => {
            let _ = writeln!(out, "next: relctl deploy {} --env staging", r.tag);
        }
    }
    out
}

pub fn pruned(r: &PruneReport) -> String {
    let mut out = String::new();
    let verb = if r.dry_run { "would remove" } else { "removed" };
    if r.removed.is_empty() {
        out.push_str("nothing to prune\n");
    } else {
        let _ = writeln!(
            out,
            "{verb} {}: {}",
            plural(r.removed.len(), "release", "releases"),
            r.removed.join(", ")
        );
    }
    if !r.protected.is_empty() {
        let _ = writeln!(
            out,
            "kept (live or on a rollback stack): {}",
            r.protected.join(", ")
        );
    }
    if r.dry_run && !r.removed.is_empty() {
        out.push_str("dry run: nothing removed; run again without --dry-run to prune\n");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Environments and deployments

fn policy(v: &EnvironmentView) -> String {
    let mut parts = Vec::new();
    if v.governance.frozen.is_some() {
        parts.push("FROZEN".to_string());
    }
    if v.governance.approvals > 0 {
        let n = v.governance.approvals;
        parts.push(format!("{n} approval{}", if n == 1 { "" } else { "s" }));
    }
    if v.env.protected {
        parts.push("protected".to_string());
    }
    if !v.env.requires.is_empty() {
        parts.push(format!("requires {}", v.env.requires.join(",")));
    }
    if parts.is_empty() {
        DASH.to_string()
    } else {
        parts.join(", ")
    }
}

pub fn environments(list: &[EnvironmentView], ctx: Ctx) -> String {
    let mut t = Table::new(
        &["ENV", "LIVE", "SINCE", "BY", "ROLLBACK TO", "POLICY"],
        &[5, 3, 4, 1, 0],
    );
    for v in list {
        t.row(vec![
            v.env.name.clone(),
            or_dash(v.live.as_deref()),
            v.since
                .map(|s| s.age(ctx.now))
                .unwrap_or_else(|| DASH.into()),
            or_dash(v.by.as_deref()),
            or_dash(v.rollback_to.as_deref()),
            policy(v),
        ]);
    }
    t.render(ctx.width)
}

pub fn environment(v: &EnvironmentView, ctx: Ctx) -> String {
    let e = &v.env;
    let name = if e.protected {
        format!("{} (protected)", e.name)
    } else {
        e.name.clone()
    };
    let mut pairs = vec![("environment", name)];
    if !e.description.is_empty() {
        pairs.push(("description", e.description.clone()));
    }
    pairs.push((
        "requires",
        if e.requires.is_empty() {
            DASH.into()
        } else {
            e.requires.join(", ")
        },
    ));
    let live = match (&v.live, v.since) {
        (Some(tag), Some(since)) => {
            let mut s = tag.clone();
            if let Some(d) = v.live_digest {
                let _ = write!(s, " ({d})");
            }
            let _ = write!(s, "\nsince {}", when(since, ctx));
            if let Some(by) = &v.by {
                let _ = write!(s, " by {by}");
            }
            if let Some(id) = v.deployment_id {
                let _ = write!(s, ", deployment #{id}");
            }
            s
        }
        (Some(tag), None) => tag.clone(),
        _ => "nothing yet".to_string(),
    };
    pairs.push(("live", live));
    if v.live.is_some() {
        let verified = match &v.verification {
            None => "not verified".to_string(),
            Some(ver) => {
                let word = if ver.passed { "passed" } else { "FAILED" };
                let failed = ver.checks.iter().filter(|c| !c.passed).count();
                let total = ver.checks.len();
                let mut s = format!(
                    "{word} ({} of {total} check{}) at {} by {}",
                    total - failed,
                    if total == 1 { "" } else { "s" },
                    ver.at.rfc3339(),
                    ver.by
                );
                for c in ver.checks.iter().filter(|c| !c.passed) {
                    let _ = write!(s, "\n✗ {}: {}", c.name, c.message);
                }
                s
            }
        };
        pairs.push(("verified", verified));
    }
    pairs.push((
        "rollback to",
        v.rollback_to
            .clone()
            .unwrap_or_else(|| "nothing (no earlier release)".into()),
    ));
    if !v.held.is_empty() {
        pairs.push((
            "held",
            format!("{} (redeploying needs --force --reason)", v.held.join(", ")),
        ));
    }
    pairs.extend(crate::table_gov::env_pairs(&v.governance, ctx));
    fields(&pairs)
}

/// Which history a table shows: one environment's (the ENV column would repeat) or one
/// release's (the RELEASE column would).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryOf {
    Env,
    Release,
}

pub fn history(list: &[Deployment], of: HistoryOf, ctx: Ctx) -> String {
    let (middle, value): (&'static str, fn(&Deployment) -> String) = match of {
        HistoryOf::Env => ("RELEASE", |d| d.release.clone()),
        HistoryOf::Release => ("ENV", |d| d.env.clone()),
    };
    let mut t = Table::new(
        &["ID", "KIND", middle, "PREVIOUS", "AT (UTC)", "BY", "REASON"],
        &[6, 5, 3, 2],
    )
    .wrap_last();
    for d in list {
        let kind = if d.forced {
            format!("{}!", d.kind.as_str())
        } else {
            d.kind.as_str().to_string()
        };
        t.row(vec![
            format!("#{}", d.id),
            kind,
            value(d),
            or_dash(d.previous.as_deref()),
            short_time(d.at),
            d.actor.clone(),
            d.reason.clone().unwrap_or_default(),
        ]);
    }
    let mut out = t.render(ctx.width);
    if list.iter().any(|d| d.forced) {
        out.push_str("(! = forced past the policy or a hold by an admin)\n");
    }
    out
}

/// The plan shown before a deploy: from → to, the diff, the policy verdict. A denial that is
/// not being forced is left out here: it is the command's error, printed once on stderr.
pub fn deploy_plan(p: &DeployPlan, forced: bool, ctx: Ctx) -> String {
    let from = p.from.as_deref().unwrap_or("(nothing)");
    let prot = if p.protected { " (protected)" } else { "" };
    let mut out = format!("deploy to {}{prot}: {from} → {}\n", p.env, p.to);
    if p.already_live {
        return out;
    }
    if p.from.is_none() {
        out.push_str("  first deployment to this environment\n");
    } else if p.diff.is_empty() {
        out.push_str("  no configuration changes (identical content)\n");
    } else {
        out.push_str(&diff_lines(&p.diff, 2, ctx.width));
    }
    if let Some(f) = &p.governance.frozen {
        let _ = writeln!(out, "{}", crate::table_gov::frozen_line(f, ctx));
    }
    if p.governance.approvals > 0 {
        let _ = writeln!(
            out,
            "approvals: {} needed; deploying opens a request for other users to approve",
            p.governance.approvals
        );
    }
    for r in &p.pending {
        let _ = writeln!(
            out,
            "open request #{} by {} ({} of {} approvals)",
            r.id,
            r.requested_by,
            r.approvals.len(),
            r.approvals_needed
        );
    }
    match &p.verdict {
        Ok(()) => out.push_str("policy: ok\n"),
        Err(e) if forced => {
            let why = e.message.strip_prefix("policy: ").unwrap_or(&e.message);
            let _ = writeln!(
                out,
                "policy: overridden with --force; without it: {}",
                without_override_hint(why)
            );
        }
        Err(_) => {}
    }
    out
}

/// The answer to a deploy (and to `release create --deploy`).
pub fn deployed(o: &DeployOutcome, ctx: Ctx) -> String {
    let _ = ctx;
    let d = &o.deployment;
    if !o.changed {
        return format!(
            "{} is already live in {}; nothing changed\n",
            d.release, d.env
        );
    }
    let verb = match d.kind {
        DeploymentKind::Deploy => "deployed",
        DeploymentKind::Rollback => "rolled back",
    };
    let from = d.previous.as_deref().unwrap_or("(nothing)");
    let mut out = format!(
        "{verb} {}: {from} → {} (deployment #{} by {})\n",
        d.env, d.release, d.id, d.actor
    );
    if d.forced {
        let _ = writeln!(
            out,
            "forced by an admin: {}",
            d.reason.as_deref().unwrap_or("(no reason given)")
        );
    }
    out
}

pub fn rollback_plan(p: &RollbackPlan, dry_run: bool, ctx: Ctx) -> String {
    // `--to` the release that is live already: nothing moves and nothing is held.
    if p.popped.is_empty() && p.from == p.to {
        let mut out = format!(
            "{} is already live in {}; nothing to roll back\n",
            p.to, p.env
        );
        if dry_run {
            out.push_str("dry run: nothing changed\n");
        }
        return out;
    }
    let mut out = format!("roll back {}: {} → {}\n", p.env, p.from, p.to);
    if p.popped.len() > 1 {
        let _ = writeln!(out, "  leaves the stack: {}", p.popped.join(", "));
    }
    if p.diff.is_empty() {
        out.push_str("  no configuration changes (identical content)\n");
    } else {
        out.push_str(&diff_lines(&p.diff, 2, ctx.width));
    }
    let _ = writeln!(
        out,
        "afterwards {} held in {}: redeploying needs --force --reason",
        if p.popped.len() > 1 {
            format!("{} are", p.popped.join(", "))
        } else {
            format!("{} is", p.from)
        },
        p.env
    );
    if dry_run {
        out.push_str("dry run: nothing changed\n");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Audit, store moves

pub fn audit(list: &[AuditEntry], ctx: Ctx) -> String {
    let mut t = Table::new(
        &["SEQ", "AT (UTC)", "ACTOR", "ACTION", "DETAIL"],
        &[4, 2, 3],
    )
    .wrap_last();
    for e in list {
        t.row(vec![
            e.seq.to_string(),
            short_time(e.at),
            e.actor.clone(),
            e.action.clone(),
            e.detail.clone(),
        ]);
    }
    t.render(ctx.width)
}

pub fn audit_report(r: &AuditReport) -> String {
    match &r.first_bad {
        None if r.ok => format!(
            "audit chain ok: {} verified\n",
            plural(r.entries as usize, "entry", "entries")
        ),
        None => format!(
            "audit chain BROKEN ({} checked)\n",
            plural(r.entries as usize, "entry", "entries")
        ),
        Some((seq, why)) => format!(
            "audit chain BROKEN at entry {seq}: {why}\n{} checked. The log was changed outside releasd: \
             treat entries from {seq} on as untrusted and restore the data dir from a backup or export.\n",
            plural(r.entries as usize, "entry", "entries")
        ),
    }
}

pub fn store(s: &StoreStatus) -> String {
    format!(
        "{}, {}, {}, {}\n",
        plural(s.releases as usize, "release", "releases"),
        plural(s.environments as usize, "environment", "environments"),
        plural(s.deployments as usize, "deployment", "deployments"),
        plural(s.audit_entries as usize, "audit entry", "audit entries"),
    )
}

#[cfg(test)]
mod tests {
    use super::without_override_hint;

    #[test]
    fn a_forced_plan_drops_the_hint_to_force() {
        let held = "v3 was rolled back out of production by alice at 2026-01-01 (deployment #6), so it is held there. If it is fixed and must go back, an admin can run: relctl deploy v3 --env production --force --reason TEXT";
        assert_eq!(
            without_override_hint(held),
            "v3 was rolled back out of production by alice at 2026-01-01 (deployment #6), so it is held there."
        );
        let promo = "v2 has not been live in staging, which production requires. Deploy it to staging first (relctl deploy v2 --env staging), or override as an admin with --force --reason TEXT";
        assert_eq!(
            without_override_hint(promo),
            "v2 has not been live in staging, which production requires. Deploy it to staging first (relctl deploy v2 --env staging)"
        );
        assert_eq!(without_override_hint("frozen"), "frozen");
    }
}
