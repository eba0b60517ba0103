//! Who is calling (peer credentials → user) and what they may do (roles, §6).

use std::path::PathBuf;

use nix::unistd::{Gid, Group, Uid, User};
use rel_domain::{Actor, Caller, RelError, Role};
use rel_proto::Request;

use crate::config::RolesConfig;

/// The peer of a connection as the kernel reports it (SO_PEERCRED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    User(String),
    Group(String),
}

/// The role table: the daemon's own user is always admin; everyone else needs an entry.
#[derive(Debug, Clone)]
pub struct Auth {
    owner_uid: u32,
    owner_name: String,
    /// Where to tell a refused user to ask for access.
    config_path: Option<PathBuf>,
    entries: Vec<(Role, Principal)>,
}

impl Auth {
    /// Only the daemon's own user gets in.
    pub fn owner_only() -> Auth {
        Self::new(&RolesConfig::default(), None)
    }

    pub fn new(roles: &RolesConfig, config_path: Option<PathBuf>) -> Auth {
        let owner_uid = Uid::effective().as_raw();
        let owner_name = user_name(owner_uid);
        let mut entries = Vec::new();
        for (role, names) in [
            (Role::Admin, &roles.admin),
            (Role::Deployer, &roles.deployer),
            (Role::Viewer, &roles.viewer),
        ] {
            for n in names {
                let p = match n.strip_prefix('@') {
                    Some(g) => Principal::Group(g.to_string()),
                    None => Principal::User(n.clone()),
                };
                entries.push((role, p));
            }
        }
        Auth {
            owner_uid,
            owner_name,
            config_path,
            entries,
        }
    }

    /// Entries of the table naming a user or group that does not exist on this machine
    /// (a typo lets nobody in): one warning each, naming the entry and the fix.
    pub fn unknown_entries(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(role, p)| (role.as_str(), p))
            .filter_map(|(role, p)| match p {
                Principal::Group(g) if !matches!(Group::from_name(g), Ok(Some(_))) => Some(format!(
                    "[roles] {role}: group \"@{g}\" does not exist on this machine, so it lets nobody in; \
                     fix the spelling (getent group {g}) and restart releasd"
                )),
                Principal::User(u) if !user_exists(u) => Some(format!(
                    "[roles] {role}: user \"{u}\" does not exist on this machine, so it lets nobody in; \
                     fix the spelling (getent passwd {u}; a group is written \"@GROUP\") and restart releasd"
                )),
                _ => None,
            })
            .collect()
    }

    /// The caller behind `peer`, or a refusal that says who to ask and what to edit.
    pub fn identify(&self, peer: &Peer) -> Result<Caller, RelError> {
        let name = user_name(peer.uid);
        let actor = Actor {
            uid: peer.uid,
            name: name.clone(),
        };
        if peer.uid == self.owner_uid {
            return Ok(Caller {
                actor,
                role: Role::Admin,
            });
        }
        let user = User::from_uid(Uid::from_raw(peer.uid)).ok().flatten();
        let primary_gid = user.as_ref().map(|u| u.gid.as_raw());
        let role = self
            .entries
            .iter()
            .filter(|(_, p)| match p {
                Principal::User(u) => *u == name,
                Principal::Group(g) => in_group(g, &name, peer.gid, primary_gid),
            })
            .map(|(r, _)| *r)
            .max();
        match role {
            Some(role) => Ok(Caller { actor, role }),
            None => {
                let config = match &self.config_path {
                    Some(p) => format!("the [roles] section of {}", p.display()),
                    None => {
                        "the [roles] section of a config file passed with `releasd --config FILE`"
                            .to_string()
                    }
                };
                Err(RelError::permission(format!(
                    "user {name} (uid {}) may not use this releasd: it serves only its owner {} and the users listed in its roles. \
                     Ask {} to add `viewer = [\"{name}\"]` (or deployer/admin) under `[roles]` in {config} and restart releasd",
                    peer.uid, self.owner_name, self.owner_name
                )))
            }
        }
    }
}

fn in_group(group: &str, user: &str, peer_gid: u32, primary_gid: Option<u32>) -> bool {
    let Ok(Some(g)) = Group::from_name(group) else {
        return false;
    };
    let gid = g.gid.as_raw();
    gid == peer_gid || Some(gid) == primary_gid || g.mem.iter().any(|m| m == user)
}

impl Auth {
    /// The caller `uid` would be if it connected now (a scheduled or approved request runs
    /// as its requester, under the roles in force when it runs). A user no longer let in
    /// gets the viewer role, so the deploy is refused and the request says why.
    pub fn caller_for_uid(&self, uid: u32) -> Caller {
        let gid = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.gid.as_raw())
            .unwrap_or(u32::MAX);
        let peer = Peer {
            uid,
            gid,
            pid: None,
        };
        self.identify(&peer).unwrap_or_else(|_| Caller {
            actor: Actor {
                uid,
                name: user_name(uid),
            },
            role: Role::Viewer,
        })
    }
}

/// The login name of `uid`, or `uid1234` when it has none (a container without /etc/passwd).
pub fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid{uid}"),
    }
}

/// A login name, or `uidNNN` for a uid without one (what [`user_name`] calls it).
fn user_exists(name: &str) -> bool {
    if let Some(n) = name.strip_prefix("uid")
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return true;
    }
    matches!(User::from_name(name), Ok(Some(_)))
}

/// The gid of group `name`.
pub fn group_gid(name: &str) -> Option<Gid> {
    Group::from_name(name).ok().flatten().map(|g| g.gid)
}

/// The least role a request needs. Protected environments and overrides are checked again
/// inside the store's transaction, where the environment's flags are known.
pub fn required_role(request: &Request) -> Role {
    match request {
        Request::Ping
        | Request::Status
        | Request::DraftShow
        | Request::DraftDiff { .. }
        | Request::Validate(_)
        | Request::ReleaseList(_)
        | Request::ReleaseShow { .. }
        | Request::Diff { .. }
        | Request::PlanDeploy(_)
        | Request::PlanRollback(_)
        | Request::EnvList
        | Request::EnvShow { .. }
        | Request::EnvHistory { .. }
        | Request::Audit { .. }
        | Request::AuditVerify
        | Request::Subscribe
        | Request::SubscribeSince { .. }
        | Request::Logs(_)
        | Request::LogShow { .. }
        | Request::TokenList
        | Request::Requests { .. } => Role::Viewer,
        Request::DraftApply(_)
        | Request::ReleaseCreate(_)
        | Request::Deploy(_)
        | Request::Rollback(_)
        | Request::Export
        | Request::ExportStream
        | Request::Trigger { .. }
        | Request::Verify { .. }
        | Request::SubmitDeploy { .. }
        | Request::Freeze { .. }
        | Request::Unfreeze { .. }
        | Request::Approve { .. }
        | Request::Reject { .. } => Role::Deployer,
        // Even a dry run: the store's policy treats pruning as admin-only.
        Request::ReleasePrune { .. }
        | Request::EnvCreate(_)
        | Request::Import { .. }
        | Request::TokenCreate { .. }
        | Request::TokenRevoke { .. }
        | Request::DaemonStop
        | Request::ImportChunk { .. }
        | Request::ImportCommit
        | Request::FreezeWindowAdd { .. }
        | Request::FreezeWindowRemove { .. }
        | Request::EnvSetApprovals { .. }
        | Request::EnvCreateGoverned { .. } => Role::Admin,
    }
}

/// What a refused request would have done, in words (the request's name says the rest).
fn describe(request: &Request) -> String {
    match request {
        Request::FreezeWindowAdd { env, .. } | Request::FreezeWindowRemove { env, .. } => {
            format!("freeze windows of {env}")
        }
        Request::EnvSetApprovals { env, .. } => format!("approvals of {env}"),
        Request::EnvCreate(e) => format!("create environment {}", e.name),
        _ => "this request".to_string(),
    }
}

/// `Ok` when `caller` may send `request`, else a PermissionDenied naming both roles.
pub fn authorize(caller: &Caller, request: &Request) -> Result<(), RelError> {
    let need = required_role(request);
    if caller.role >= need {
        Ok(())
    } else {
        Err(RelError::permission(format!(
            "permission denied: {} ({}) needs the {} role; {} has the {} role. Ask the releasd owner to grant it in the [roles] config",
            crate::dispatch::request_name(request),
            describe(request),
            need.as_str(),
            caller.actor.name,
            caller.role.as_str(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Peer {
        Peer {
            uid: Uid::effective().as_raw(),
            gid: Gid::effective().as_raw(),
            pid: None,
        }
    }

    #[test]
    fn owner_is_admin_and_others_are_refused_with_a_hint() {
        let auth = Auth::owner_only();
        assert_eq!(auth.identify(&me()).expect("owner").role, Role::Admin);
        // A uid that is surely not ours.
        let other = Peer {
            uid: me().uid.wrapping_add(4242),
            gid: 4242,
            pid: None,
        };
        let e = auth.identify(&other).expect_err("stranger let in");
        assert_eq!(e.code, rel_domain::ErrorCode::PermissionDenied);
        assert!(e.message.contains("releasd --config FILE"), "{}", e.message);
    }

    #[test]
    fn listed_users_get_their_highest_role() {
        let stranger_uid = me().uid.wrapping_add(4243);
        let name = user_name(stranger_uid);
        let roles = RolesConfig {
            admin: vec![],
            deployer: vec![name.clone()],
            viewer: vec![name],
        };
        let auth = Auth::new(&roles, Some("/etc/releasd.toml".into()));
        let c = auth
            .identify(&Peer {
                uid: stranger_uid,
                gid: 4243,
                pid: None,
            })
            .expect("listed");
        assert_eq!(c.role, Role::Deployer);
    }

    #[test]
    fn misspelt_users_and_groups_are_named_with_the_fix() {
        let roles = RolesConfig {
            admin: vec![user_name(me().uid)],
            deployer: vec!["nobdy-rel-test".into(), "@nogrp-rel-test".into()],
            viewer: vec![],
        };
        let warnings = Auth::new(&roles, None).unknown_entries();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("[roles] deployer: user \"nobdy-rel-test\" does not exist")
                && warnings[0].contains("getent passwd nobdy-rel-test"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("[roles] deployer: group \"@nogrp-rel-test\" does not exist"),
            "{warnings:?}"
        );
    }

    #[test]
    fn roles_gate_requests() {
        let viewer = Caller {
            actor: Actor {
                uid: 1,
                name: "v".into(),
            },
            role: Role::Viewer,
        };
        assert!(authorize(&viewer, &Request::EnvList).is_ok());
        let e = authorize(
            &viewer,
            &Request::ReleasePrune {
                keep: 1,
                dry_run: false,
            },
        )
        .expect_err("viewer pruned");
        assert!(
            e.message.contains("viewer") && e.message.contains("admin"),
            "{}",
            e.message
        );
    }
}
