//! Promotion order of environments: an environment comes after every environment it
//! `requires` (staging before production). Ties keep the daemon's order (creation order),
//! and a dependency cycle (which the daemon should refuse) degrades to that order instead of
//! looping.

use rel_domain::EnvironmentView;

/// `envs` sorted in promotion order.
pub fn promotion_order(envs: Vec<EnvironmentView>) -> Vec<EnvironmentView> {
    let mut left: Vec<EnvironmentView> = envs;
    let mut out: Vec<EnvironmentView> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left.iter().position(|e| {
            e.env.requires.iter().all(|r| {
                out.iter().any(|o| &o.env.name == r) || !left.iter().any(|l| &l.env.name == r)
            })
        });
        // No environment is ready: a cycle. Take the first so the list stays complete.
        let i = ready.unwrap_or(0);
        out.push(left.remove(i));
    }
    out
}

/// The environment after `name` in promotion order: the first later one that requires it,
/// else simply the next one.
pub fn next_env<'a>(ordered: &'a [EnvironmentView], name: &str) -> Option<&'a EnvironmentView> {
    let pos = ordered.iter().position(|e| e.env.name == name)?;
    let later = &ordered[pos + 1..];
    later
        .iter()
        .find(|e| e.env.requires.iter().any(|r| r == name))
        .or_else(|| later.first())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rel_domain::{Environment, Timestamp};

    fn env(name: &str, requires: &[&str]) -> EnvironmentView {
        EnvironmentView {
            env: Environment {
                name: name.into(),
                description: String::new(),
                protected: false,
                requires: requires.iter().map(|s| s.to_string()).collect(),
                created_at: Timestamp(0),
            },
            live: None,
            live_digest: None,
            rollback_to: None,
            since: None,
            by: None,
            deployment_id: None,
            verification: None,
            held: vec![],
            governance: Default::default(),
        }
    }

    fn names(v: &[EnvironmentView]) -> Vec<&str> {
        v.iter().map(|e| e.env.name.as_str()).collect()
    }

    #[test]
    fn required_envs_come_first() {
        let o = promotion_order(vec![
            env("production", &["qa"]),
            env("qa", &["staging"]),
            env("staging", &[]),
            env("dev", &[]),
        ]);
        assert_eq!(names(&o), ["staging", "qa", "production", "dev"]);
        assert_eq!(
            next_env(&o, "staging").map(|e| e.env.name.as_str()),
            Some("qa")
        );
        assert_eq!(
            next_env(&o, "qa").map(|e| e.env.name.as_str()),
            Some("production")
        );
        assert_eq!(
            next_env(&o, "production").map(|e| e.env.name.as_str()),
            Some("dev")
        );
        assert!(next_env(&o, "dev").is_none());
    }

    #[test]
    fn cycles_do_not_hang() {
        let o = promotion_order(vec![env("a", &["b"]), env("b", &["a"])]);
        assert_eq!(o.len(), 2);
    }
}
