//! Presentation shared by relctl and relui, so the two say things the same way. Pure text,
//! no terminal: durations and times ahead for now (diffs and outlines can move here the same way).

/// `3 ms`, `480 ms`, `4.0 s`, `75.3 s`: milliseconds while they are few, seconds after.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// How far ahead a point `ms` milliseconds away is: `59s`, `5m`, `2h`, `1h 30m`, `1d 2h`.
/// Rounded up to the minute, never down: a freeze set `--until 2h` a second ago reads `2h`.
pub fn ahead(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 60_000 {
        return format!("{}s", (ms + 999) / 1000);
    }
    let minutes = (ms + 59_999) / 60_000;
    match (minutes / 1440, minutes / 60 % 24, minutes % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ahead_rounds_up_to_the_minute() {
        assert_eq!(ahead(2 * 3_600_000 - 1_000), "2h");
        assert_eq!(ahead(90 * 60_000), "1h 30m");
        assert_eq!(ahead(59_000), "59s");
        assert_eq!(ahead(5 * 60_000 - 1), "5m");
        assert_eq!(ahead(26 * 3_600_000), "1d 2h");
        assert_eq!(ahead(-5), "0s");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(3), "3 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(4003), "4.0 s");
        assert_eq!(duration(75_300), "75.3 s");
    }
}
