//! Change governance (issue 11): freezes, recurring freeze windows, approval requests and
//! scheduled deploys. The records and the pure rules over them; the store applies them in
//! the same transaction as the deploy they gate.

use serde::{Deserialize, Serialize};

use crate::error::{RelError, RelResult};
use crate::timestamp::Timestamp;

/// How long an approval request stays open when the requester does not say.
pub const DEFAULT_REQUEST_TTL_MS: i64 = 24 * 3600 * 1000;
/// The furthest ahead a deploy may be scheduled, or a freeze may run.
pub const MAX_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;
/// The most approvals an environment may ask for.
pub const MAX_APPROVALS: u32 = 16;
/// Freeze windows per environment.
pub const MAX_WINDOWS: usize = 32;
/// Pending requests per environment at most: each holds a reason of up to 4 KiB, and every
/// approver reads the list, so one requester cannot flood it.
pub const MAX_PENDING_PER_ENV: u64 = 64;
/// Longest reason (freeze, reject, override) kept.
pub const MAX_REASON_BYTES: usize = 4096;

/// An explicit freeze of one environment, or of all of them (stop the line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    pub by: String,
    pub reason: String,
    pub since: Timestamp,
    /// Ends by itself at this instant; `None`: until unfrozen.
    pub until: Option<Timestamp>,
}

impl Freeze {
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// A recurring freeze window of one environment, e.g. `Fri 15:00 - Mon 09:00 Europe/Berlin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeWindow {
    /// Unique in the store, never reused (`relctl env freeze-window remove ENV ID`).
    pub id: u64,
    /// As written (normalised): see [`WindowSpec::parse`].
    pub spec: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: Timestamp,
}

/// Where a freeze in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FreezeScope {
    /// `relctl env freeze ENV`.
    Env,
    /// `relctl freeze --all` (stop the line).
    All,
    /// A recurring window of the environment.
    Window,
}

impl FreezeScope {
    pub fn as_str(self) -> &'static str {
        match self {
            FreezeScope::Env => "env",
            FreezeScope::All => "all",
            FreezeScope::Window => "window",
        }
    }
}

/// The freeze in force on an environment now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeView {
    pub by: String,
    pub reason: String,
    pub since: Timestamp,
    pub until: Option<Timestamp>,
    pub scope: FreezeScope,
    /// The window's id and spec when `scope` is `Window`.
    pub window: Option<FreezeWindow>,
}

impl FreezeView {
    /// The refusal a deploy gets: who, why, until when, and what still works.
    pub fn refusal(&self, env: &str) -> RelError {
        let what = match self.scope {
            FreezeScope::Env => format!("{env} is frozen"),
            FreezeScope::All => {
                format!("{env} is frozen: the line is stopped for every environment")
            }
            FreezeScope::Window => format!(
                "{env} is in a freeze window ({})",
                self.window.as_ref().map(|w| w.spec.as_str()).unwrap_or("?")
            ),
        };
        let until = match self.until {
            Some(u) => format!("until {u}"),
            None => "until unfrozen".to_string(),
        };
        RelError::policy(format!(
            "{what} by {} since {} {until}: {}. Rollback still works; an admin may override with --force --reason TEXT",
            self.by, self.since, self.reason
        ))
    }
}

/// Governance settings of one environment, as the daemon answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceView {
    /// Approvals a deploy needs (0: deploys go live at once).
    pub approvals: u32,
    /// The freeze in force now, if any.
    pub frozen: Option<FreezeView>,
    pub windows: Vec<FreezeWindow>,
    /// Open (pending) requests for this environment.
    pub pending_requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestKind {
    /// Waits for approvals; the Nth approval deploys.
    Approval,
    /// Fires once at its time (`deploy --at`).
    Scheduled,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Approval => "approval",
            RequestKind::Scheduled => "scheduled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestStatus {
    Pending,
    /// Carried out: `deployment_id` says which deployment.
    Deployed,
    Rejected,
    /// Not approved in time.
    Expired,
    /// Its `--expect` no longer held when it was carried out; nothing changed.
    Conflict,
    /// Refused when carried out (freeze, policy, permission, missing approvals).
    Refused,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Deployed => "deployed",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Expired => "expired",
            RequestStatus::Conflict => "conflict",
            RequestStatus::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: Timestamp,
}

/// A deploy waiting for approvals or for its time. Fields only grow at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    pub id: u64,
    pub kind: RequestKind,
    pub env: String,
    pub release: String,
    /// The `--expect` given with the request: checked again when it is carried out.
    pub expect: Option<String>,
    pub requested_by: String,
    pub requested_uid: u32,
    pub requested_at: Timestamp,
    pub status: RequestStatus,
    /// Scheduled: when it fires.
    pub at: Option<Timestamp>,
    /// Approval: when it expires unless approved.
    pub expires_at: Option<Timestamp>,
    /// Approvals needed when it was requested.
    pub approvals_needed: u32,
    pub approvals: Vec<Approval>,
    /// `--force --reason` given with it (an admin override, re-checked when it runs).
    pub force_reason: Option<String>,
    /// Who ended it (rejected, approved last, `releasd` for expiry and schedules), when,
    /// and why or what happened.
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub outcome: Option<String>,
    pub deployment_id: Option<u64>,
}

/// What a submitted deploy became: live at once, or a request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Submitted {
    Deployed(crate::model::DeployOutcome),
    Requested(ChangeRequest),
}

/// An approval or a fired schedule: the request as it is now, and what carrying it out did
/// (`None`: not carried out this time; `Some(Err)`: refused, and the request says so).
pub type Decided = (
    ChangeRequest,
    Option<Result<crate::model::DeployOutcome, RelError>>,
);

/// A reason: trimmed, not empty, bounded.
pub fn check_reason(field: &str, reason: &str) -> RelResult<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(RelError::invalid(format!(
            "{field}: a reason is required (it is shown to the people it affects and kept in the audit log)"
        )));
    }
    if r.len() > MAX_REASON_BYTES {
        return Err(RelError::invalid(format!(
            "{field}: {} bytes is over the limit of {MAX_REASON_BYTES}; shorten it",
            r.len()
        )));
    }
    Ok(r.to_string())
}

/// A point in time given on the command line: RFC 3339 (`2026-12-24T09:00:00Z`,
/// `2026-12-24T10:00:00+01:00`) or a duration from `now` (`90s`, `15m`, `2h`, `1d`, `1h30m`).
pub fn parse_time(field: &str, text: &str, now: Timestamp) -> RelResult<Timestamp> {
    let t = text.trim();
    if let Some(ms) = parse_duration_ms(t) {
        return Ok(Timestamp(now.0.saturating_add(ms)));
    }
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => Ok(Timestamp(ts.as_millisecond())),
        Err(_) => Err(RelError::invalid(format!(
            "{field}: {t:?} is neither an RFC 3339 time (2026-12-24T09:00:00Z) nor a duration (90s, 15m, 2h, 1d, 1h30m)"
        ))),
    }
}

/// `1h30m` → milliseconds; `None` when it is not a duration.
fn parse_duration_ms(t: &str) -> Option<i64> {
    if t.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            's' => 1000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

/// A future instant within [`MAX_AHEAD_MS`].
pub fn check_future(field: &str, at: Timestamp, now: Timestamp) -> RelResult<()> {
    if at <= now {
        return Err(RelError::invalid(format!(
            "{field}: {at} is not in the future (now is {now})"
        )));
    }
    if at.0 - now.0 > MAX_AHEAD_MS {
        return Err(RelError::invalid(format!(
            "{field}: {at} is more than 366 days ahead; pick a nearer time"
        )));
    }
    Ok(())
}

/// A parsed recurring window: weekly (`Fri 15:00 - Mon 09:00 Europe/Berlin`) or daily
/// (`22:00 - 06:00 UTC`). The end is exclusive; a window may wrap past the week's or the
/// day's end. The zone is an IANA name from the tz database built into rel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// Minutes since Monday 00:00 (weekly) or since midnight (daily).
    pub start: u32,
    pub end: u32,
    pub weekly: bool,
    pub zone: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEK: u32 = 7 * 24 * 60;
const DAY: u32 = 24 * 60;

impl WindowSpec {
    pub fn parse(text: &str) -> RelResult<WindowSpec> {
        let bad = |why: &str| {
            RelError::invalid(format!(
                "freeze window {text:?}: {why}. Write `DAY HH:MM - DAY HH:MM ZONE` (e.g. `Fri 15:00 - Mon 09:00 Europe/Berlin`) or `HH:MM - HH:MM ZONE` for every day"
            ))
        };
        let (left, right) = text
            .split_once('-')
            .ok_or_else(|| bad("no `-` between start and end"))?;
        let left: Vec<&str> = left.split_whitespace().collect();
        let right: Vec<&str> = right.split_whitespace().collect();
        let (weekly, start, end, zone) = match (left.as_slice(), right.as_slice()) {
            ([d1, t1], [d2, t2, zone]) => {
                let s = day(d1).ok_or_else(|| bad(&format!("{d1:?} is not a day (Mon..Sun)")))?
                    * DAY
                    + hm(t1).ok_or_else(|| bad(&format!("{t1:?} is not HH:MM")))?;
                let e = day(d2).ok_or_else(|| bad(&format!("{d2:?} is not a day (Mon..Sun)")))?
                    * DAY
                    + hm(t2).ok_or_else(|| bad(&format!("{t2:?} is not HH:MM")))?;
                (true, s, e, *zone)
            }
            ([t1], [t2, zone]) => (
                false,
                hm(t1).ok_or_else(|| bad(&format!("{t1:?} is not HH:MM")))?,
                hm(t2).ok_or_else(|| bad(&format!("{t2:?} is not HH:MM")))?,
                *zone,
            ),
            // Say what is missing rather than "unexpected": these are the usual slips.
            ([_, _], [t2, _]) if hm(t2).is_some() => {
                return Err(bad(
                    "the end needs a day too, like the start (e.g. Mon 09:00 UTC)",
                ));
            }
            ([_], [_, t2, _]) if hm(t2).is_some() => {
                return Err(bad(
                    "the start needs a day too, like the end (e.g. Fri 15:00)",
                ));
            }
            ([_, _], [_, _]) | ([_], [_]) => {
                return Err(bad(
                    "the time zone is missing after the end time (e.g. UTC)",
                ));
            }
            _ => {
                return Err(bad(&format!(
                    "expected `DAY HH:MM` or `HH:MM` on each side of `-`, got {:?} and {:?}",
                    left.join(" "),
                    right.join(" ")
                )));
            }
        };
        if start == end {
            return Err(bad("start and end are the same"));
        }
        jiff::tz::TimeZone::get(zone).map_err(|_| {
            bad(&format!(
                "{zone:?} is not a time zone (use an IANA name such as Europe/Berlin, or UTC)"
            ))
        })?;
        Ok(WindowSpec {
            start,
            end,
            weekly,
            zone: zone.to_string(),
        })
    }

    /// The canonical text (`Fri 15:00 - Mon 09:00 Europe/Berlin`).
    pub fn normalised(&self) -> String {
        let show = |m: u32| {
            let t = format!("{:02}:{:02}", (m % DAY) / 60, m % 60);
            if self.weekly {
                let d = DAYS[(m / DAY) as usize % 7];
                let mut d = d.to_string();
                d[..1].make_ascii_uppercase();
                format!("{d} {t}")
            } else {
                t
            }
        };
        format!("{} - {} {}", show(self.start), show(self.end), self.zone)
    }

    /// If `now` falls in the window: the instants it started and ends.
    pub fn occurrence(&self, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let tz = jiff::tz::TimeZone::get(&self.zone).ok()?;
        let z = jiff::Timestamp::from_millisecond(now.0)
            .ok()?
            .to_zoned(tz.clone());
        let period = if self.weekly { WEEK } else { DAY };
        let day_off = if self.weekly {
            u32::from(z.weekday().to_monday_zero_offset().unsigned_abs()) * DAY
        } else {
            0
        };
        let cur = day_off
            + u32::from(z.hour().unsigned_abs()) * 60
            + u32::from(z.minute().unsigned_abs());
        let inside = if self.start < self.end {
            self.start <= cur && cur < self.end
        } else {
            cur >= self.start || cur < self.end
        };
        if !inside {
            return None;
        }
        let since_start = (cur + period - self.start) % period;
        let to_end = (self.end + period - cur) % period;
        // Civil minutes, turned into instants in the zone (DST-correct at both ends).
        let at = |minutes_from_now: i64| -> Option<Timestamp> {
            let base = z
                .datetime()
                .with()
                .second(0)
                .subsec_nanosecond(0)
                .build()
                .ok()?;
            let dt = base
                .checked_add(jiff::Span::new().minutes(minutes_from_now))
                .ok()?;
            let zz = dt.to_zoned(tz.clone()).ok()?;
            Some(Timestamp(zz.timestamp().as_millisecond()))
        };
        Some((at(-i64::from(since_start))?, at(i64::from(to_end))?))
    }
}

fn day(s: &str) -> Option<u32> {
    let l = s.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| l.len() >= 3 && d.starts_with(&l[..3]) && full_day_ok(&l))
        .map(|i| i as u32)
}

fn full_day_ok(l: &str) -> bool {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    l.len() == 3 || FULL.contains(&l)
}

fn hm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() <= 5).then_some(h * 60 + m)
}

/// The freeze in force on an environment: its own freeze, else the line stopped, else the
/// first of its windows that `now` falls in.
pub fn freeze_in_force(
    own: Option<&Freeze>,
    all: Option<&Freeze>,
    windows: &[FreezeWindow],
    now: Timestamp,
) -> Option<FreezeView> {
    let explicit = |f: &Freeze, scope| FreezeView {
        by: f.by.clone(),
        reason: f.reason.clone(),
        since: f.since,
        until: f.until,
        scope,
        window: None,
    };
    let own = own
        .filter(|f| f.in_force(now))
        .map(|f| explicit(f, FreezeScope::Env));
    let line = all
        .filter(|f| f.in_force(now))
        .map(|f| explicit(f, FreezeScope::All));
    // Both in force: show the one that blocks longer (the line on a tie), so "unfreeze
    // this environment" is never offered as the way out while a longer stop remains.
    let end = |v: &FreezeView| v.until.map_or(i64::MAX, |u| u.0);
    match (own, line) {
        (Some(o), Some(l)) => return Some(if end(&o) > end(&l) { o } else { l }),
        (Some(v), None) | (None, Some(v)) => return Some(v),
        (None, None) => {}
    }
    windows.iter().find_map(|w| {
        let spec = WindowSpec::parse(&w.spec).ok()?;
        let (since, until) = spec.occurrence(now)?;
        Some(FreezeView {
            by: w.added_by.clone(),
            reason: w.reason.clone(),
            since,
            until: Some(until),
            scope: FreezeScope::Window,
            window: Some(w.clone()),
        })
    })
}

/// The refusal of a second request for what a pending one already asks (exit 3).
pub fn duplicate_request(r: &ChangeRequest, env: &str) -> RelError {
    RelError::conflict(format!(
        "request #{} by {} already asks to deploy {} to {env} ({} of {} approvals): another user approves it (relctl approve {}), or its requester or an approver withdraws it (relctl reject {} --reason TEXT) before asking again",
        r.id,
        r.requested_by,
        r.release,
        r.approvals.len(),
        r.approvals_needed,
        r.id,
        r.id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().expect("time").as_millisecond())
    }

    #[test]
    fn durations_and_times_parse() {
        let now = Timestamp(1_000);
        assert_eq!(
            parse_time("--until", "2h", now).expect("2h").0,
            1_000 + 7_200_000
        );
        assert_eq!(
            parse_time("--until", "1h30m", now).expect("1h30m").0,
            1_000 + 5_400_000
        );
        assert_eq!(parse_time("--until", "2s", now).expect("2s").0, 3_000);
        assert_eq!(
            parse_time("--until", "1970-01-01T00:00:10Z", now)
                .expect("rfc3339")
                .0,
            10_000
        );
        let e = parse_time("--until", "soon", now)
            .expect_err("bad")
            .to_string();
        assert!(e.contains("--until") && e.contains("RFC 3339"), "{e}");
    }

    #[test]
    fn weekly_window_wraps_the_weekend_in_its_zone() {
        let w = WindowSpec::parse("fri 15:00 - Monday 09:00 Europe/Berlin").expect("parse");
        assert_eq!(w.normalised(), "Fri 15:00 - Mon 09:00 Europe/Berlin");
        // Friday 2026-12-04 14:30 UTC is 15:30 in Berlin (CET, +1): inside.
        let (since, until) = w.occurrence(at("2026-12-04T14:30:00Z")).expect("inside");
        assert_eq!(since, at("2026-12-04T14:00:00Z"));
        assert_eq!(until, at("2026-12-07T08:00:00Z"));
        // Friday 13:30 UTC is 14:30 in Berlin: outside. Wednesday: outside.
        assert!(w.occurrence(at("2026-12-04T13:30:00Z")).is_none());
        assert!(w.occurrence(at("2026-12-02T12:00:00Z")).is_none());
        // Sunday: inside.
        assert!(w.occurrence(at("2026-12-06T12:00:00Z")).is_some());
    }

    #[test]
    fn daily_window_and_bad_specs() {
        let w = WindowSpec::parse("22:00 - 06:00 UTC").expect("daily");
        assert!(w.occurrence(at("2026-12-02T23:00:00Z")).is_some());
        assert!(w.occurrence(at("2026-12-02T12:00:00Z")).is_none());
        for bad in [
            "Fri 15:00 Mon 09:00 UTC",
            "Fri 25:00 - Mon 09:00 UTC",
            "Fri 15:00 - Mon 09:00 Mars/Base",
            "Frx 15:00 - Mon 09:00 UTC",
            "10:00 - 10:00 UTC",
        ] {
            let e = WindowSpec::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("freeze window"), "{e}");
        }
        // The usual slips are named.
        for (bad, says) in [
            ("Fri 15:00 - Mon 09:00", "the time zone is missing"),
            ("22:00 - 06:00", "the time zone is missing"),
            ("Fri 15:00 - 09:00 UTC", "the end needs a day too"),
            ("15:00 - Mon 09:00 UTC", "the start needs a day too"),
        ] {
            let e = WindowSpec::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn own_freeze_beats_the_line_and_expires() {
        let f = Freeze {
            by: "ana".into(),
            reason: "incident".into(),
            since: Timestamp(0),
            until: Some(Timestamp(10)),
        };
        let v = freeze_in_force(Some(&f), None, &[], Timestamp(5)).expect("frozen");
        assert_eq!(v.scope, FreezeScope::Env);
        assert!(freeze_in_force(Some(&f), None, &[], Timestamp(10)).is_none());
        let all = Freeze {
            until: None,
            ..f.clone()
        };
        let v = freeze_in_force(Some(&f), Some(&all), &[], Timestamp(11)).expect("line");
        assert_eq!(v.scope, FreezeScope::All);
        // Both in force: the one that blocks longer shows (a stopped line is never hidden
        // behind a shorter freeze of one environment).
        let v = freeze_in_force(Some(&f), Some(&all), &[], Timestamp(5)).expect("both");
        assert_eq!(v.scope, FreezeScope::All);
        let short_line = Freeze {
            until: Some(Timestamp(8)),
            ..f.clone()
        };
        let v = freeze_in_force(Some(&f), Some(&short_line), &[], Timestamp(5)).expect("both");
        assert_eq!(v.scope, FreezeScope::Env);
        let msg = v.refusal("production").to_string();
        assert!(
            msg.contains("ana") && msg.contains("incident") && msg.contains("Rollback still works"),
            "{msg}"
        );
    }
}
