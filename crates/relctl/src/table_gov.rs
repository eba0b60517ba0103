//! Human output of change governance (issue 11): freezes, windows and requests.

use std::fmt::Write as _;

use rel_domain::governance::{
    ChangeRequest, FreezeView, FreezeWindow, GovernanceView, RequestKind, RequestStatus,
};

use crate::table::{Ctx, Table, fields, or_dash, short_time, when};

/// `FROZEN by ana: reason` and, on a second line, since and until (UTC).
pub fn frozen_line(f: &FreezeView, ctx: Ctx) -> String {
    let _ = ctx;
    let scope = match (f.scope, &f.window) {
        (rel_domain::governance::FreezeScope::All, _) => " (the line is stopped)".to_string(),
        (rel_domain::governance::FreezeScope::Window, Some(w)) => {
            format!(" (window #{}: {})", w.id, w.spec)
        }
        _ => String::new(),
    };
    // Prose, not a column under a "(UTC)" header: say the zone, and how far away it is.
    let until = f
        .until
        .map(|u| {
            format!(
                "until {} UTC (in {})",
                short_time(u),
                rel_proto::present::ahead(u.0 - ctx.now.0)
            )
        })
        .unwrap_or_else(|| "until unfrozen".into());
    format!(
        "FROZEN{scope} by {}: {}\nsince {} UTC, {until}",
        f.by,
        f.reason,
        short_time(f.since),
    )
}

/// The governance lines `env show` adds.
pub fn env_pairs(g: &GovernanceView, ctx: Ctx) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    if let Some(f) = &g.frozen {
        pairs.push(("frozen", frozen_line(f, ctx)));
    }
    if g.approvals > 0 {
        pairs.push((
            "approvals",
            format!(
                "{} per deploy by other users ({} open request{})",
                g.approvals,
                g.pending_requests,
                if g.pending_requests == 1 { "" } else { "s" }
            ),
        ));
    } else if g.pending_requests > 0 {
        pairs.push((
            "requests",
            format!("{} open (relctl requests)", g.pending_requests),
        ));
    }
    if !g.windows.is_empty() {
        let list: Vec<String> = g
            .windows
            .iter()
            .map(|w| format!("#{} {} ({})", w.id, w.spec, w.reason))
            .collect();
        pairs.push(("freeze windows", list.join("\n")));
    }
    pairs
}

pub fn windows(g: &GovernanceView, env: &str, ctx: Ctx) -> String {
    if g.windows.is_empty() {
        return format!(
            "{env} has no freeze windows: relctl env freeze-window add {env} \"Fri 15:00 - Mon 09:00 Europe/Berlin\" --reason TEXT\n"
        );
    }
    let mut t = Table::new(&["ID", "WINDOW", "BY", "REASON"], &[3, 1]).wrap_last();
    for w in &g.windows {
        t.row(vec![
            format!("#{}", w.id),
            w.spec.clone(),
            w.added_by.clone(),
            w.reason.clone(),
        ]);
    }
    let mut out = t.render(ctx.width);
    if let Some(f) = &g.frozen {
        let _ = writeln!(out, "{}", frozen_line(f, ctx));
    }
    out
}

/// `freeze-window remove`: what went, then what is left.
pub fn window_removed(removed: &FreezeWindow, g: &GovernanceView, env: &str, ctx: Ctx) -> String {
    let mut out = format!(
        "removed freeze window #{} from {env}: {} ({})\n",
        removed.id, removed.spec, removed.reason
    );
    if g.windows.is_empty() {
        let _ = writeln!(out, "{env} has no freeze windows left");
    } else {
        out.push_str(&windows(g, env, ctx));
    }
    out
}

/// When a pending request falls due: a schedule's time, an approval request's expiry.
fn due(r: &ChangeRequest) -> String {
    match r.kind {
        RequestKind::Scheduled => r.at,
        RequestKind::Approval => r.expires_at,
    }
    .map(short_time)
    .unwrap_or_default()
}

pub fn requests(list: &[ChangeRequest], ctx: Ctx) -> String {
    if list.is_empty() {
        return "no open requests (relctl requests --all shows the ones that ended)\n".into();
    }
    let mut t = Table::new(
        &[
            "ID",
            "KIND",
            "ENV",
            "RELEASE",
            "BY",
            "STATUS",
            "APPROVALS",
            "DUE (UTC)",
        ],
        &[7, 3],
    );
    for r in list {
        t.row(vec![
            format!("#{}", r.id),
            r.kind.as_str().into(),
            r.env.clone(),
            r.release.clone(),
            r.requested_by.clone(),
            r.status.as_str().into(),
            format!("{}/{}", r.approvals.len(), r.approvals_needed),
            due(r),
        ]);
    }
    let mut out = t.render(ctx.width);
    // What the table has no room for but an approver must see: a forced request, and why
    // one that ended did not deploy.
    for r in list {
        if let Some(reason) = &r.force_reason {
            out.push_str(&format!(
                "#{}: forced by {} ({reason}); it overrides the policy when carried out, never a freeze or the approvals\n",
                r.id, r.requested_by
            ));
        }
        if r.status != RequestStatus::Deployed
            && r.status != RequestStatus::Pending
            && let Some(why) = &r.outcome
        {
            out.push_str(&format!("#{} {}: {why}\n", r.id, r.status.as_str()));
        }
    }
    out
}

pub fn request(r: &ChangeRequest, ctx: Ctx) -> String {
    let mut pairs = vec![
        ("request", format!("#{} ({})", r.id, r.kind.as_str())),
        ("deploy", format!("{} to {}", r.release, r.env)),
        ("expect", or_dash(r.expect.as_deref())),
        (
            "requested",
            format!("by {} {}", r.requested_by, when(r.requested_at, ctx)),
        ),
        ("status", r.status.as_str().to_string()),
    ];
    if let Some(at) = r.at {
        pairs.push(("runs at", at.rfc3339()));
    }
    if let Some(e) = r.expires_at {
        pairs.push(("expires", e.rfc3339()));
    }
    let by: Vec<&str> = r.approvals.iter().map(|a| a.by.as_str()).collect();
    pairs.push((
        "approvals",
        format!(
            "{} of {}{}",
            r.approvals.len(),
            r.approvals_needed,
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            }
        ),
    ));
    if let Some(o) = &r.outcome {
        pairs.push(("outcome", o.clone()));
    }
    let mut out = fields(&pairs);
    if r.status == rel_domain::governance::RequestStatus::Pending {
        match r.kind {
            RequestKind::Approval => {
                let _ = writeln!(
                    out,
                    "another user approves it with: relctl approve {}",
                    r.id
                );
            }
            RequestKind::Scheduled => {
                let _ = writeln!(out, "cancel it with: relctl reject {} --reason TEXT", r.id);
            }
        }
    }
    out
}
