//! Validation of user-chosen names: release tags and environment names.

use crate::error::{RelError, RelResult};

/// Tags: 1–64 chars, `[A-Za-z0-9][A-Za-z0-9._+-]*`. Uniqueness is case-insensitive and is the
/// store's job; this checks the shape only.
pub fn validate_tag(tag: &str) -> RelResult<()> {
    if tag.is_empty() {
        return Err(RelError::invalid("tag: must not be empty (e.g. v1.0.0)"));
    }
    if tag.len() > 64 {
        return Err(RelError::invalid(format!(
            "tag: {} characters is too long; at most 64",
            tag.len()
        )));
    }
    let mut chars = tag.chars();
    let first = chars.next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(RelError::invalid(format!(
            "tag {tag:?}: must start with an ASCII letter or digit (e.g. v1.0.0, 2024-03-15-fix)"
        )));
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
    {
        return Err(RelError::invalid(format!(
            "tag {tag:?}: character {bad:?} is not allowed; use ASCII letters, digits, '.', '_', '+' or '-'"
        )));
    }
    Ok(())
}

/// The closest of `known` to a misspelt `name` (edit distance at most 2, ignoring case), for
/// "did you mean staging?". `None` when nothing is that close or `name` is itself known.
/// A case-only difference counts (`Staging` → `staging`).
pub fn did_you_mean<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    // A short form people type (`prod` for production): the one known name it begins.
    if lower.len() >= 3 {
        let mut starting = known
            .iter()
            .filter(|k| k.as_str() != name && k.to_lowercase().starts_with(&lower));
        if let (Some(only), None) = (starting.next(), starting.next()) {
            return Some(only.as_str());
        }
    }
    known
        .iter()
        .filter(|k| k.as_str() != name)
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance over chars; names are short, so the O(n·m) row is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The key a tag is unique under.
pub fn tag_key(tag: &str) -> String {
    tag.to_ascii_lowercase()
}

/// Environment names: `[a-z0-9][a-z0-9-]{0,31}`.
pub fn validate_env_name(name: &str) -> RelResult<()> {
    let ok_len = !name.is_empty() && name.len() <= 32;
    let mut chars = name.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok_len && ok_first && ok_rest {
        Ok(())
    } else {
        Err(RelError::invalid(format!(
            "environment name {name:?}: use 1-32 lowercase letters, digits or '-', starting with a letter or digit (e.g. staging, eu-prod)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tags() {
        for ok in ["v1.0.0", "2024-03-15-fix", "a", "X_1+build.2"] {
            assert!(validate_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-v1", ".x", "v 1", "v/1", &"a".repeat(65)] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
        assert_eq!(tag_key("V1.0"), "v1.0");
        let e = validate_tag("ünicode").expect_err("non-ASCII first char");
        assert!(
            e.message
                .contains("must start with an ASCII letter or digit"),
            "{}",
            e.message
        );
    }
    #[test]
    fn suggestions() {
        let known = ["production".to_string(), "staging".to_string()];
        assert_eq!(did_you_mean("stagin", &known), Some("staging"));
        assert_eq!(did_you_mean("prodcution", &known), Some("production"));
        assert_eq!(did_you_mean("Staging", &known), Some("staging"));
        assert_eq!(did_you_mean("staging", &known), None);
        assert_eq!(did_you_mean("dev", &known), None);
        // A short form that begins exactly one name.
        assert_eq!(did_you_mean("prod", &known), Some("production"));
        assert_eq!(did_you_mean("PROD", &known), Some("production"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
    #[test]
    fn envs() {
        assert!(validate_env_name("staging").is_ok());
        assert!(validate_env_name("eu-prod-2").is_ok());
        for bad in ["", "Prod", "-x", "a_b", &"a".repeat(33)] {
            assert!(validate_env_name(bad).is_err(), "{bad}");
        }
    }
}
