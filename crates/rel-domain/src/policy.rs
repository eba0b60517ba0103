//! The promotion policy (§3.5) and who may change what (§6), as pure functions.
//!
//! Roles: `viewer` reads; `deployer` applies the draft, creates releases, records
//! verifications and deploys / rolls back *unprotected* environments; `admin` may also touch
//! protected environments, override the policy and holds with `--force --reason`, create
//! environments, import, prune and manage tokens.

use crate::error::{RelError, RelResult};
use crate::model::{Caller, Environment, Role};

/// Something a caller wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Read,
    ApplyDraft,
    CreateRelease,
    /// `forced`: with `--force --reason` (an admin override).
    Deploy {
        env: &'a Environment,
        tag: &'a str,
        forced: bool,
    },
    Rollback {
        env: &'a Environment,
    },
    RecordVerification {
        env: &'a Environment,
    },
    CreateEnvironment {
        name: &'a str,
    },
    Import,
    Prune,
    ManageTokens,
    /// Freeze one environment, or all (`None`, stop the line).
    Freeze {
        env: Option<&'a Environment>,
    },
    /// End a freeze of one environment, or the stopped line (`None`).
    Unfreeze {
        env: Option<&'a Environment>,
    },
    /// Approvals and freeze windows of an environment.
    ManageGovernance {
        env: &'a str,
    },
    /// Approve or reject someone else's request to deploy to `env`.
    Approve {
        env: &'a Environment,
    },
}

impl Action<'_> {
    fn needs(&self) -> Role {
        match self {
            Action::Read => Role::Viewer,
            Action::ApplyDraft | Action::CreateRelease | Action::RecordVerification { .. } => {
                Role::Deployer
            }
            Action::Deploy { env, forced, .. } => {
                if env.protected || *forced {
                    Role::Admin
                } else {
                    Role::Deployer
                }
            }
            Action::Rollback { env } => {
                if env.protected {
                    Role::Admin
                } else {
                    Role::Deployer
                }
            }
            Action::CreateEnvironment { .. }
            | Action::Import
            | Action::Prune
            | Action::ManageTokens
            | Action::ManageGovernance { .. }
            | Action::Unfreeze { env: None } => Role::Admin,
            // Anyone who may deploy may stop the line; only an admin restarts it.
            Action::Freeze { env: None } => Role::Deployer,
            Action::Freeze { env: Some(env) }
            | Action::Unfreeze { env: Some(env) }
            | Action::Approve { env } => {
                if env.protected {
                    Role::Admin
                } else {
                    Role::Deployer
                }
            }
        }
    }

    /// What the caller tried, for the message.
    fn describe(&self) -> String {
        match self {
            Action::Read => "reading".into(),
            Action::ApplyDraft => "applying an app config".into(),
            Action::CreateRelease => "creating a release".into(),
            Action::Deploy {
                env, forced: true, ..
            } => format!("a forced deploy (--force) to {}", env.name),
            Action::Deploy { env, .. } => format!("deploying to {} (protected)", env.name),
            Action::Rollback { env } => format!("rolling back {} (protected)", env.name),
            Action::RecordVerification { env } => {
                format!("recording a verification in {}", env.name)
            }
            Action::CreateEnvironment { name } => format!("creating environment {name}"),
            Action::Import => "importing a store".into(),
            Action::Prune => "pruning releases".into(),
            Action::ManageTokens => "managing tokens".into(),
            Action::Freeze { env: None } => "stopping the line (freeze --all)".into(),
            Action::Freeze { env: Some(e) } => format!("freezing {}", e.name),
            Action::Unfreeze { env: None } => "ending a stopped line (unfreeze --all)".into(),
            Action::Unfreeze { env: Some(e) } => format!("unfreezing {}", e.name),
            Action::ManageGovernance { env } => {
                format!("changing approvals or freeze windows of {env}")
            }
            Action::Approve { env } => {
                format!("approving or rejecting a deploy to {}", env.name)
            }
        }
    }
}

/// May `caller` do `action`? `PermissionDenied` naming the role it needs otherwise.
pub fn authorize(caller: &Caller, action: &Action<'_>) -> RelResult<()> {
    let needs = action.needs();
    if caller.role >= needs {
        return Ok(());
    }
    let who = &caller.actor.name;
    let has = caller.role.as_str();
    let hint = match action {
        Action::Deploy {
            env,
            tag,
            forced: false,
        } => format!(
            "; ask an admin to run it (relctl deploy {tag} --env {}), or to give you the admin role in the releasd config",
            env.name
        ),
        _ => format!(
            "; ask an admin to do it, or to give you the {} role in the releasd config",
            needs.as_str()
        ),
    };
    Err(RelError::permission(format!(
        "permission denied: {who} has the {has} role, and {} needs {}{hint}",
        action.describe(),
        needs.as_str()
    )))
}

/// A forced change must say why (the reason goes into the deployment and the audit log).
pub fn check_force_reason(reason: Option<&str>) -> RelResult<Option<String>> {
    match reason {
        None => Ok(None),
        Some(r) if r.trim().is_empty() => Err(RelError::invalid(
            "--force needs --reason TEXT saying why the override is needed (it is recorded in the audit log)",
        )),
        Some(r) => Ok(Some(r.trim().to_string())),
    }
}

/// What the store knows about a release in one environment that `env.requires` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementFacts {
    pub env: String,
    /// Was it ever live there?
    pub was_live: bool,
    /// Is it live there now?
    pub live_now: bool,
    /// The latest verification of it there: `Some(true)` passed, `Some(false)` failed.
    pub verified: Option<bool>,
    /// Was it rolled back out of there (held)? Then it did not pass, whatever it did before.
    pub held: bool,
}

/// The promotion policy: `tag` may go live in `env` only if it has been live in every
/// environment `env` requires and, when its app config defines checks (`has_checks`), passed
/// verification there. `facts` has one entry per required environment.
pub fn check_promotion(
    tag: &str,
    env: &Environment,
    has_checks: bool,
    facts: &[RequirementFacts],
) -> RelResult<()> {
    let override_hint = "or override as an admin with --force --reason TEXT";
    for req in &env.requires {
        let fact = facts.iter().find(|f| &f.env == req);
        let was_live = fact.is_some_and(|f| f.was_live);
        if !was_live {
            return Err(RelError::policy(format!(
                "policy: {tag} has not been live in {req}, which {} requires. Deploy it to {req} first (relctl deploy {tag} --env {req}), {override_hint}",
                env.name
            )));
        }
        if fact.is_some_and(|f| f.held) {
            return Err(RelError::policy(format!(
                "policy: {tag} was rolled back out of {req}, which {} requires it to have passed. Ship a fixed release through {req}, {override_hint}",
                env.name
            )));
        }
        if has_checks {
            let live_now = fact.is_some_and(|f| f.live_now);
            let how = if live_now {
                format!("Run the checks there (relctl verify --env {req})")
            } else {
                format!(
                    "Deploy it to {req} again and run the checks (relctl deploy {tag} --env {req}; relctl verify --env {req})"
                )
            };
            match fact.and_then(|f| f.verified) {
                Some(true) => {}
                Some(false) => {
                    return Err(RelError::policy(format!(
                        "policy: {tag} failed verification in {req}, which {} requires to pass. Fix the release, or re-run the checks if the failure was transient ({}), {override_hint}",
                        env.name,
                        if live_now {
                            format!("relctl verify --env {req}")
                        } else {
                            format!("relctl deploy {tag} --env {req}; relctl verify --env {req}")
                        }
                    )));
                }
                None => {
                    return Err(RelError::policy(format!(
                        "policy: {tag} has not passed verification in {req}, which {} requires because the app defines checks (a pass counts only while the release was not rolled back out of {req} since). {how}, {override_hint}",
                        env.name
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Actor;
    use crate::timestamp::Timestamp;

    fn caller(role: Role) -> Caller {
        Caller {
            actor: Actor {
                uid: 1000,
                name: "alice".into(),
            },
            role,
        }
    }

    fn env(name: &str, protected: bool, requires: &[&str]) -> Environment {
        Environment {
            name: name.into(),
            description: String::new(),
            protected,
            requires: requires.iter().map(|s| s.to_string()).collect(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn roles() {
        let staging = env("staging", false, &[]);
        let prod = env("production", true, &["staging"]);
        let deploy = |e, forced| Action::Deploy {
            env: e,
            tag: "v1",
            forced,
        };
        let viewer = caller(Role::Viewer);
        let deployer = caller(Role::Deployer);
        let admin = caller(Role::Admin);
        assert!(authorize(&viewer, &Action::Read).is_ok());
        for a in [
            Action::ApplyDraft,
            Action::CreateRelease,
            deploy(&staging, false),
        ] {
            let e = authorize(&viewer, &a).expect_err("viewer is read-only");
            assert_eq!(e.code, crate::ErrorCode::PermissionDenied);
            assert!(authorize(&deployer, &a).is_ok());
        }
        for a in [
            deploy(&prod, false),
            deploy(&staging, true),
            Action::Rollback { env: &prod },
            Action::CreateEnvironment { name: "qa" },
            Action::Import,
            Action::Prune,
            Action::ManageTokens,
        ] {
            assert!(authorize(&deployer, &a).is_err(), "{a:?}");
            assert!(authorize(&admin, &a).is_ok(), "{a:?}");
        }
        assert!(authorize(&deployer, &Action::Rollback { env: &staging }).is_ok());
        let m = authorize(&deployer, &deploy(&prod, false))
            .expect_err("protected")
            .message;
        assert_eq!(
            m,
            "permission denied: alice has the deployer role, and deploying to production (protected) needs admin; ask an admin to run it (relctl deploy v1 --env production), or to give you the admin role in the releasd config"
        );
    }

    #[test]
    fn force_needs_a_reason() {
        assert!(check_force_reason(Some("  ")).is_err());
        assert_eq!(
            check_force_reason(Some(" hotfix ")).expect("ok"),
            Some("hotfix".into())
        );
        assert_eq!(check_force_reason(None).expect("ok"), None);
    }

    #[test]
    fn promotion() {
        let prod = env("production", true, &["staging"]);
        let fact = |was_live, live_now, verified| RequirementFacts {
            env: "staging".into(),
            was_live,
            live_now,
            verified,
            held: false,
        };
        let e = check_promotion("v1.1.0", &prod, true, &[fact(false, false, None)])
            .expect_err("not live");
        assert_eq!(e.code, crate::ErrorCode::PolicyDenied);
        assert_eq!(
            e.message,
            "policy: v1.1.0 has not been live in staging, which production requires. Deploy it to staging first (relctl deploy v1.1.0 --env staging), or override as an admin with --force --reason TEXT"
        );
        // Missing facts count as "never live".
        assert!(check_promotion("v1", &prod, false, &[]).is_err());
        // Without checks, having been live is enough.
        assert!(check_promotion("v1", &prod, false, &[fact(true, false, None)]).is_ok());
        // With checks, it must have passed.
        let m = check_promotion("v1", &prod, true, &[fact(true, true, None)])
            .expect_err("unverified")
            .message;
        assert!(m.contains("relctl verify --env staging"), "{m}");
        let m = check_promotion("v1", &prod, true, &[fact(true, false, Some(false))])
            .expect_err("failed")
            .message;
        assert!(m.contains("failed verification in staging"), "{m}");
        assert!(check_promotion("v1", &prod, true, &[fact(true, false, Some(true))]).is_ok());
        // Rolled back out of staging: not promotable, even after passing once.
        let held = RequirementFacts {
            held: true,
            ..fact(true, false, Some(true))
        };
        let m = check_promotion("v1", &prod, true, &[held])
            .expect_err("held")
            .message;
        assert!(m.contains("v1 was rolled back out of staging"), "{m}");
        // No requirements, no policy.
        assert!(check_promotion("v1", &env("staging", false, &[]), true, &[]).is_ok());
    }
}
