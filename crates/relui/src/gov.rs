//! Change governance as relui says it (issue 11): freezes, approvals and requests, in the
//! same words on every screen and dialog.

use rel_domain::governance::{ChangeRequest, FreezeScope, FreezeView, RequestKind, RequestStatus};
use rel_domain::{EnvironmentView, Timestamp};

/// "in 2h", "in 1h 30m" for a time ahead of `now` (rounded up to the minute).
pub fn until_text(at: Timestamp, now: Timestamp) -> String {
    format!("in {}", rel_proto::present::ahead(at.0 - now.0))
}

/// `FROZEN by alice 5m ago, until 2026-12-01T17:00:00Z (in 2h): release week` — who, why,
/// until when, and where the freeze comes from when it is not this environment's own.
pub fn freeze_banner(f: &FreezeView, now: Timestamp) -> String {
    let scope = match f.scope {
        FreezeScope::Env => String::new(),
        FreezeScope::All => " (the line is stopped for every environment)".into(),
        FreezeScope::Window => format!(
            " (freeze window {})",
            f.window.as_ref().map(|w| w.spec.as_str()).unwrap_or("?")
        ),
    };
    let until = match f.until {
        Some(u) => format!("until {u} ({})", until_text(u, now)),
        None => "until unfrozen".into(),
    };
    format!(
        "FROZEN{scope} by {} {} ago, {until}: {}",
        f.by,
        f.since.age(now),
        f.reason
    )
}

/// The stopped line (`freeze --all`), as the environments report it: the freeze in force
/// with scope `All` on any of them. An environment with its own freeze reports that one
/// instead, so one without is enough to see the stop.
pub fn line_stop(envs: &[EnvironmentView]) -> Option<&FreezeView> {
    envs.iter()
        .filter_map(|e| e.governance.frozen.as_ref())
        .find(|f| f.scope == FreezeScope::All)
}

/// "1/2" approvals of a request.
pub fn approvals_text(r: &ChangeRequest) -> String {
    format!("{}/{}", r.approvals.len(), r.approvals_needed)
}

/// What a request is waiting for: "expires in 23h", "fires in 2h", or its end state.
pub fn request_state(r: &ChangeRequest, now: Timestamp) -> String {
    match (r.status, r.kind) {
        (RequestStatus::Pending, RequestKind::Approval) => match r.expires_at {
            Some(e) => format!("expires {}", until_text(e, now)),
            None => "pending".into(),
        },
        (RequestStatus::Pending, RequestKind::Scheduled) => match r.at {
            Some(at) => format!("fires {}", until_text(at, now)),
            None => "scheduled".into(),
        },
        (s, _) => s.as_str().to_string(),
    }
}

/// `request #4 by bob: 1/2 approvals, expires in 23h` for the deploy dialog.
pub fn pending_line(r: &ChangeRequest, now: Timestamp) -> String {
    match r.kind {
        RequestKind::Approval => format!(
            "request #{} by {}: {} approvals, {}",
            r.id,
            r.requested_by,
            approvals_text(r),
            request_state(r, now)
        ),
        RequestKind::Scheduled => format!(
            "scheduled deploy #{} by {}: {}",
            r.id,
            r.requested_by,
            request_state(r, now)
        ),
    }
}

/// Open requests over every environment (the tab's count).
pub fn pending_total(envs: &[EnvironmentView]) -> u64 {
    envs.iter().map(|e| e.governance.pending_requests).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_reads_forward() {
        let now = Timestamp(10_000_000);
        assert_eq!(until_text(Timestamp(now.0 + 7_200_000), now), "in 2h");
        assert_eq!(until_text(Timestamp(now.0 - 5), now), "in 0s");
        // Rounded up to the minute: `--until 2h` set a second ago still reads "in 2h".
        let at = |ms: i64| Timestamp(now.0 + ms);
        assert_eq!(until_text(at(2 * 3_600_000 - 1_000), now), "in 2h");
        assert_eq!(until_text(at(90 * 60_000), now), "in 1h 30m");
        assert_eq!(until_text(at(59_000), now), "in 59s");
        assert_eq!(until_text(at(5 * 60_000 - 1), now), "in 5m");
        assert_eq!(until_text(at(26 * 3_600_000), now), "in 1d 2h");
    }

    #[test]
    fn the_banner_says_who_why_until() {
        let now = Timestamp(1_764_000_000_000);
        let f = FreezeView {
            by: "alice".into(),
            reason: "release week".into(),
            since: Timestamp(now.0 - 300_000),
            until: Some(Timestamp(now.0 + 7_200_000)),
            scope: FreezeScope::Env,
            window: None,
        };
        assert_eq!(
            freeze_banner(&f, now),
            "FROZEN by alice 5m ago, until 2025-11-24T18:00:00Z (in 2h): release week"
        );
    }
}
