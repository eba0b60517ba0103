//! Presentation shared by relctl and relui, so the two say things the same way. Pure text,
//! no terminal: durations for now (diffs and outlines can move here the same way).

/// `3 ms`, `480 ms`, `4.0 s`, `75.3 s`: milliseconds while they are few, seconds after.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(3), "3 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(4003), "4.0 s");
        assert_eq!(duration(75_300), "75.3 s");
    }
}
