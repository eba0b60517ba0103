//! UTC timestamps as milliseconds since the Unix epoch. The caller supplies "now".

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    /// RFC 3339 in UTC with second precision, e.g. `2026-11-26T23:24:27Z`.
    pub fn rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        match OffsetDateTime::from_unix_timestamp(secs) {
            Ok(t) => t.format(&Rfc3339).unwrap_or_else(|_| secs.to_string()),
            Err(_) => secs.to_string(),
        }
    }
    /// A short human age relative to `now`: `12s`, `5m`, `3h`, `4d`.
    pub fn age(self, now: Timestamp) -> String {
        let s = (now.0 - self.0).max(0) / 1000;
        match s {
            0..=59 => format!("{s}s"),
            60..=3599 => format!("{}m", s / 60),
            3600..=86_399 => format!("{}h", s / 3600),
            _ => format!("{}d", s / 86_400),
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn formats_utc() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(90_000).age(Timestamp(90_000 + 3_600_000)), "1h");
    }
}
