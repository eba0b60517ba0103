//! Change governance rules (issue 11) over point reads and writes on a `Tx`: freezes, the
//! stopped line, freeze windows, approvals, change requests and scheduled deploys. A request
//! is carried out (deployed, or marked conflict/refused) in the same transaction that marks
//! it, so it runs exactly once.
//!
//! Keys: `gov`: env name → `GovRecord`, `*` → the stopped line; `requests`: id → request;
//! `requests_due`: (due ms, id) → env name, one entry per pending request (a schedule's time
//! or an approval request's expiry), deleted when the request ends.

use rel_domain::governance::{self as g, *};
pub use rel_domain::governance::{Decided, Submitted};
use rel_domain::model::*;
use rel_domain::policy::{self, Action};
use rel_domain::{RelError, RelResult, Timestamp};

use crate::deploy::{self, DeployPrep, Gate};
use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::stored_gov::GovRecord;
use crate::trees::{Kv, T, Trees, Tx, TxError, storage_error};
use crate::{events, write};

/// The `gov` key of the stopped line (not a valid environment name).
pub(crate) const LINE: &[u8] = b"*";

pub fn gov<K: Kv>(k: &K, env: &str) -> Result<GovRecord, K::E> {
    match k.get(T::Gov, env.as_bytes())? {
        Some(v) => Ok(dec_at(T::Gov, env.as_bytes(), &v)?),
        None => Ok(GovRecord::default()),
    }
}

fn line<K: Kv>(k: &K) -> Result<Option<Freeze>, K::E> {
    match k.get(T::Gov, LINE)? {
        Some(v) => Ok(dec_at::<GovRecord>(T::Gov, LINE, &v)?.freeze),
        None => Ok(None),
    }
}

/// The freeze in force on `env` at `now`: its own, the stopped line, or a window.
pub fn freeze_in_force<K: Kv>(
    k: &K,
    env: &str,
    now: Timestamp,
) -> Result<Option<FreezeView>, K::E> {
    let own = gov(k, env)?;
    let all = line(k)?;
    Ok(g::freeze_in_force(
        own.freeze.as_ref(),
        all.as_ref(),
        &own.windows,
        now,
    ))
}

/// What gates a deploy to `env` at `now`: the freeze in force and the approvals needed
/// (two point reads, on the deploy path).
pub fn gate<K: Kv>(k: &K, env: &str, now: Timestamp) -> Result<(Option<FreezeView>, u32), K::E> {
    let own = gov(k, env)?;
    let all = line(k)?;
    let frozen = g::freeze_in_force(own.freeze.as_ref(), all.as_ref(), &own.windows, now);
    Ok((frozen, own.approvals))
}

/// Read side: an environment's governance as `env show` answers it.
pub fn view(trees: &Trees, env: &str, now: Timestamp) -> RelResult<GovernanceView> {
    let own = gov(trees, env)?;
    let mut pending = 0;
    for item in trees.tree(T::RequestsDue).iter() {
        if item.map_err(storage_error)?.1.as_ref() == env.as_bytes() {
            pending += 1;
        }
    }
    Ok(GovernanceView {
        approvals: own.approvals,
        frozen: freeze_in_force(trees, env, now)?,
        windows: own.windows,
        pending_requests: pending,
    })
}

pub fn request<K: Kv>(k: &K, id: u64) -> Result<Option<ChangeRequest>, K::E> {
    let key = u64k(id);
    match k.get(T::Requests, &key)? {
        Some(v) => Ok(Some(dec_at(T::Requests, &key, &v)?)),
        None => Ok(None),
    }
}

fn request_required<K: Kv>(k: &K, id: u64) -> Result<ChangeRequest, K::E> {
    request(k, id)?.ok_or_else(|| {
        RelError::not_found(format!(
            "no request #{id}; relctl requests --all lists them"
        ))
        .into()
    })
}

pub(crate) fn due_key(r: &ChangeRequest) -> Option<[u8; 16]> {
    let due = match r.kind {
        RequestKind::Scheduled => r.at,
        RequestKind::Approval => r.expires_at,
    }?;
    Some(u64_u64(u64::try_from(due.0).unwrap_or(0), r.id))
}

/// Write a request and its event; keep `requests_due` in step with its status.
fn save(tx: &Tx<'_>, r: &ChangeRequest) -> Result<(), TxError> {
    tx.put(T::Requests, u64k(r.id), enc(r)?)?;
    if let Some(k) = due_key(r) {
        let was_pending = tx.get(T::RequestsDue, &k)?.is_some();
        let pending = r.status == RequestStatus::Pending;
        if pending {
            tx.put(T::RequestsDue, k, r.env.as_bytes())?;
        } else {
            tx.del(T::RequestsDue, k)?;
        }
        if pending != was_pending {
            let key = meta::pending(&r.env);
            let n = read::meta_u64(tx, &key)?;
            let n = if pending { n + 1 } else { n.saturating_sub(1) };
            write::put_u64(tx, T::Meta, &key, n)?;
        }
    }
    events::append(tx, &Change::RequestChanged(r.clone()))?;
    Ok(())
}

// --- freezes --------------------------------------------------------------------------------

/// Freeze `env`, or every environment (`None`). Returns the environments now frozen.
pub fn freeze_tx(
    tx: &Tx<'_>,
    env: Option<&str>,
    reason: &str,
    until: Option<Timestamp>,
    caller: &Caller,
    now: Timestamp,
) -> Result<Vec<String>, TxError> {
    let reason = g::check_reason("--reason", reason)?;
    if let Some(u) = until {
        g::check_future("--until", u, now)?;
    }
    let freeze = Freeze {
        by: caller.actor.name.clone(),
        reason: reason.clone(),
        since: now,
        until,
    };
    let until_text = until.map(|u| format!(" until {u}")).unwrap_or_default();
    let names = match env {
        Some(name) => {
            let rec = read::env_required(tx, name)?;
            policy::authorize(
                caller,
                &Action::Freeze {
                    env: Some(&rec.env),
                },
            )?;
            let mut gr = gov(tx, name)?;
            if let Some(old) = gr.freeze.as_ref().filter(|f| f.in_force(now)) {
                return Err(already_frozen(Some(name), old).into());
            }
            gr.freeze = Some(freeze.clone());
            tx.put(T::Gov, name.as_bytes(), enc(&gr)?)?;
            write::audit(
                tx,
                now,
                &caller.actor.name,
                "env.freeze",
                &format!("{name}{until_text}: {reason}"),
            )?;
            vec![name.to_string()]
        }
        None => {
            policy::authorize(caller, &Action::Freeze { env: None })?;
            if let Some(old) = line(tx)?.filter(|f| f.in_force(now)) {
                return Err(already_frozen(None, &old).into());
            }
            let gr = GovRecord {
                freeze: Some(freeze.clone()),
                ..GovRecord::default()
            };
            tx.put(T::Gov, LINE, enc(&gr)?)?;
            write::audit(
                tx,
                now,
                &caller.actor.name,
                "freeze.all",
                &format!("every environment{until_text}: {reason}"),
            )?;
            read::env_names(tx)?
        }
    };
    events::append(
        tx,
        &Change::Frozen {
            env: env.map(str::to_string),
            freeze,
        },
    )?;
    Ok(names)
}

/// A second freeze never replaces the first one silently (its reason and end would be lost).
/// `env`: None for the stopped line.
fn already_frozen(env: Option<&str>, old: &Freeze) -> RelError {
    let until = match old.until {
        Some(u) => format!(" until {u}"),
        None => " until unfrozen".to_string(),
    };
    let (what, unfreeze) = match env {
        Some(name) => (name.to_string(), format!("relctl env unfreeze {name}")),
        None => ("the line".to_string(), "relctl unfreeze --all".to_string()),
    };
    RelError::conflict(format!(
        "{what} is frozen already, by {} since {}{until}: {}. To change the reason or the end, unfreeze first ({unfreeze}), then freeze again",
        old.by, old.since, old.reason
    ))
}

/// End the explicit freeze of `env`, or the stopped line (`None`). Windows stay.
pub fn unfreeze_tx(
    tx: &Tx<'_>,
    env: Option<&str>,
    caller: &Caller,
    now: Timestamp,
) -> Result<Vec<String>, TxError> {
    let names = match env {
        Some(name) => {
            let rec = read::env_required(tx, name)?;
            policy::authorize(
                caller,
                &Action::Unfreeze {
                    env: Some(&rec.env),
                },
            )?;
            let mut gr = gov(tx, name)?;
            // A freeze is someone's decision: a deployer may end their own, only an admin
            // someone else's (otherwise any deployer could lift the freeze an admin set).
            if let Some(f) = &gr.freeze
                && caller.role < Role::Admin
                && f.by != caller.actor.name
            {
                return Err(RelError::permission(format!(
                    "{name} was frozen by {} ({}); only {} or an admin can end that freeze. Ask them, or an admin: relctl env unfreeze {name}",
                    f.by, f.reason, f.by
                ))
                .into());
            }
            let Some(old) = gr.freeze.take() else {
                return Err(RelError::conflict(format!(
                    "{name} has no freeze of its own to end{}",
                    if line(tx)?.is_some() {
                        "; the line is stopped for every environment: relctl unfreeze --all (admin)"
                    } else {
                        " (a freeze window ends by itself; relctl env freeze-window list shows them)"
                    }
                ))
                .into());
            };
            tx.put(T::Gov, name.as_bytes(), enc(&gr)?)?;
            write::audit(
                tx,
                now,
                &caller.actor.name,
                "env.unfreeze",
                &format!(
                    "{name} (frozen by {} since {}: {})",
                    old.by, old.since, old.reason
                ),
            )?;
            vec![name.to_string()]
        }
        None => {
            policy::authorize(caller, &Action::Unfreeze { env: None })?;
            let Some(old) = line(tx)? else {
                return Err(RelError::conflict(
                    "the line is not stopped (relctl freeze --all stops it)",
                )
                .into());
            };
            tx.del(T::Gov, LINE)?;
            write::audit(
                tx,
                now,
                &caller.actor.name,
                "unfreeze.all",
                &format!(
                    "every environment (stopped by {} since {}: {})",
                    old.by, old.since, old.reason
                ),
            )?;
            read::env_names(tx)?
        }
    };
    events::append(
        tx,
        &Change::Unfrozen {
            env: env.map(str::to_string),
            actor: caller.actor.name.clone(),
        },
    )?;
    Ok(names)
}

/// End freezes whose `--until` has passed (the scheduler's job): they already stopped
/// refusing deploys at that instant; this clears them and tells watchers (`unfrozen`, actor
/// `releasd`). `names`: the environments (`*`: the line) a read found expired; each is
/// re-read here. Returns the ones ended.
pub fn expire_freezes_tx(
    tx: &Tx<'_>,
    names: &[String],
    now: Timestamp,
) -> Result<Vec<String>, TxError> {
    let mut ended = Vec::new();
    for name in names {
        let key = name.as_bytes();
        let Some(v) = tx.get(T::Gov, key)? else {
            continue;
        };
        let mut gr: GovRecord = dec_at(T::Gov, key, &v)?;
        let Some(f) = gr.freeze.take().filter(|f| !f.in_force(now)) else {
            continue;
        };
        if key == LINE {
            tx.del(T::Gov, LINE)?;
        } else {
            tx.put(T::Gov, key, enc(&gr)?)?;
        }
        let what = if key == LINE {
            "every environment".to_string()
        } else {
            name.clone()
        };
        write::audit(
            tx,
            now,
            "releasd",
            "freeze.ended",
            &format!(
                "{what}: the freeze by {} ({}) reached its --until {}",
                f.by,
                f.reason,
                fmt_opt(f.until)
            ),
        )?;
        events::append(
            tx,
            &Change::Unfrozen {
                env: (key != LINE).then(|| name.clone()),
                actor: "releasd".into(),
            },
        )?;
        ended.push(name.clone());
    }
    Ok(ended)
}

/// Read side: the `gov` keys whose freeze has an `--until` at or before `now`, and the
/// earliest `--until` still ahead.
pub fn freeze_ends(trees: &Trees, now: Timestamp) -> RelResult<(Vec<String>, Option<Timestamp>)> {
    let mut due = Vec::new();
    let mut next: Option<Timestamp> = None;
    for item in trees.tree(T::Gov).iter() {
        let (k, v) = item.map_err(storage_error)?;
        let gr: GovRecord = dec_at(T::Gov, &k, &v)?;
        let Some(until) = gr.freeze.and_then(|f| f.until) else {
            continue;
        };
        if until <= now {
            due.push(String::from_utf8_lossy(&k).into_owned());
        } else {
            next = Some(next.map_or(until, |n| n.min(until)));
        }
    }
    Ok((due, next))
}

pub fn window_add_tx(
    tx: &Tx<'_>,
    env: &str,
    spec: &str,
    reason: &str,
    caller: &Caller,
    now: Timestamp,
) -> Result<FreezeWindow, TxError> {
    policy::authorize(caller, &Action::ManageGovernance { env })?;
    read::env_required(tx, env)?;
    let parsed = WindowSpec::parse(spec)?;
    let reason = g::check_reason("--reason", reason)?;
    let mut gr = gov(tx, env)?;
    if gr.windows.len() >= g::MAX_WINDOWS {
        return Err(RelError::invalid(format!(
            "{env} has {} freeze windows, the most allowed; remove one first",
            g::MAX_WINDOWS
        ))
        .into());
    }
    let w = FreezeWindow {
        id: write::bump(tx, meta::LAST_WINDOW)?,
        spec: parsed.normalised(),
        reason,
        added_by: caller.actor.name.clone(),
        added_at: now,
    };
    gr.windows.push(w.clone());
    tx.put(T::Gov, env.as_bytes(), enc(&gr)?)?;
    let what = format!("freeze window #{} added: {} ({})", w.id, w.spec, w.reason);
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "env.freeze-window",
        &format!("{env}: {what}"),
    )?;
    changed(tx, env, caller, what)?;
    Ok(w)
}

pub fn window_remove_tx(
    tx: &Tx<'_>,
    env: &str,
    id: u64,
    caller: &Caller,
    now: Timestamp,
) -> Result<(), TxError> {
    policy::authorize(caller, &Action::ManageGovernance { env })?;
    read::env_required(tx, env)?;
    let mut gr = gov(tx, env)?;
    let Some(pos) = gr.windows.iter().position(|w| w.id == id) else {
        return Err(RelError::not_found(format!(
            "{env} has no freeze window #{id}; relctl env freeze-window list {env} shows them"
        ))
        .into());
    };
    let w = gr.windows.remove(pos);
    tx.put(T::Gov, env.as_bytes(), enc(&gr)?)?;
    let what = format!("freeze window #{id} removed: {}", w.spec);
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "env.freeze-window",
        &format!("{env}: {what}"),
    )?;
    changed(tx, env, caller, what)
}

pub fn set_approvals_tx(
    tx: &Tx<'_>,
    env: &str,
    approvals: u32,
    caller: &Caller,
    now: Timestamp,
) -> Result<(), TxError> {
    policy::authorize(caller, &Action::ManageGovernance { env })?;
    read::env_required(tx, env)?;
    if approvals > g::MAX_APPROVALS {
        return Err(RelError::invalid(format!(
            "--approvals: {approvals} is over the limit of {}",
            g::MAX_APPROVALS
        ))
        .into());
    }
    let mut gr = gov(tx, env)?;
    if gr.approvals == approvals {
        return Ok(());
    }
    let what = format!("approvals {} -> {approvals}", gr.approvals);
    gr.approvals = approvals;
    tx.put(T::Gov, env.as_bytes(), enc(&gr)?)?;
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "env.approvals",
        &format!("{env}: {what}"),
    )?;
    changed(tx, env, caller, what)
}

fn changed(tx: &Tx<'_>, env: &str, caller: &Caller, what: String) -> Result<(), TxError> {
    events::append(
        tx,
        &Change::GovernanceChanged {
            env: env.to_string(),
            actor: caller.actor.name.clone(),
            what,
        },
    )?;
    Ok(())
}

// --- requests -------------------------------------------------------------------------------

/// A deploy as asked: at once, or as a scheduled or approval request.
pub fn submit_tx(
    tx: &Tx<'_>,
    req: &DeployRequest,
    at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    caller: &Caller,
    now: Timestamp,
) -> Result<Submitted, TxError> {
    let env = read::env_required(tx, &req.env)?;
    let name = env.env.name.clone();
    let approvals = gov(tx, &name)?.approvals;
    let kind = match at {
        Some(at) => {
            g::check_future("--at", at, now)?;
            // Who may deploy there is checked now too, so a refusal comes at once; freezes,
            // approvals, --expect and the policy are checked when it fires.
            let release = read::release_by_tag(tx, &req.tag)?;
            let forced = policy::check_force_reason(req.force_reason.as_deref())?.is_some();
            policy::authorize(
                caller,
                &Action::Deploy {
                    env: &env.env,
                    tag: &release.tag,
                    forced,
                },
            )?;
            RequestKind::Scheduled
        }
        None if approvals == 0 => {
            let out = deploy::deploy_tx(tx, req, caller, now)?;
            if out.changed {
                events::append(tx, &Change::Deployed(out.deployment.clone()))?;
            }
            return Ok(Submitted::Deployed(out));
        }
        None => {
            // Refuse now what would be refused when approved (permission, freeze, --expect,
            // holds, policy); a request for what is already live changes nothing.
            if let DeployPrep::NoOp(dep) =
                deploy::prepare_deploy(tx, req, caller, now, Gate::Approved)?
            {
                return Ok(Submitted::Deployed(DeployOutcome {
                    deployment: dep,
                    changed: false,
                }));
            }
            RequestKind::Approval
        }
    };
    let expires_at = match kind {
        RequestKind::Scheduled => None,
        RequestKind::Approval => {
            let e =
                expires_at.unwrap_or(Timestamp(now.0.saturating_add(g::DEFAULT_REQUEST_TTL_MS)));
            g::check_future("--expires-in", e, now)?;
            Some(e)
        }
    };
    let open = read::meta_u64(tx, &meta::pending(&name))?;
    if open >= g::MAX_PENDING_PER_ENV {
        return Err(RelError::conflict(format!(
            "{name} has {open} pending requests, the limit ({}); approve or reject some first (relctl requests --env {name}; relctl reject ID --reason TEXT)",
            g::MAX_PENDING_PER_ENV
        ))
        .into());
    }
    let release = read::release_by_tag(tx, &req.tag)?;
    let r = ChangeRequest {
        id: write::bump(tx, meta::LAST_REQUEST)?,
        kind,
        env: name.clone(),
        release: release.tag.clone(),
        expect: req.expect.clone(),
        requested_by: caller.actor.name.clone(),
        requested_uid: caller.actor.uid,
        requested_at: now,
        status: RequestStatus::Pending,
        at,
        expires_at,
        approvals_needed: approvals,
        approvals: Vec::new(),
        force_reason: req.force_reason.clone(),
        decided_by: None,
        decided_at: None,
        outcome: None,
        deployment_id: None,
    };
    let when = match (at, expires_at) {
        (Some(a), _) => format!("scheduled for {a}"),
        (None, Some(e)) => format!("needs {approvals} approval(s), expires {e}"),
        _ => String::new(),
    };
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "deploy.request",
        &format!("request #{}: {} to {name} ({when})", r.id, r.release),
    )?;
    save(tx, &r)?;
    Ok(Submitted::Requested(r))
}

/// Count `caller`'s approval; the last one needed carries the deploy out as `requester`.
pub fn approve_tx(
    tx: &Tx<'_>,
    id: u64,
    caller: &Caller,
    requester: &Caller,
    now: Timestamp,
) -> Result<Decided, TxError> {
    let mut r = request_required(tx, id)?;
    if r.status != RequestStatus::Pending {
        return Err(RelError::conflict(format!(
            "request #{id} is {}; only a pending request can be approved",
            r.status.as_str()
        ))
        .into());
    }
    let env = read::env_required(tx, &r.env)?;
    if caller.actor.uid == r.requested_uid {
        return Err(RelError::permission(format!(
            "request #{id} was made by you ({}); another user must approve it (four eyes)",
            caller.actor.name
        ))
        .into());
    }
    policy::authorize(caller, &Action::Approve { env: &env.env })?;
    if r.kind == RequestKind::Approval && r.expires_at.is_some_and(|e| e <= now) {
        return expire(tx, r, now).map(|r| {
            let e = RelError::conflict(format!(
                "request #{id} expired at {}; nothing was deployed",
                fmt_opt(r.expires_at)
            ));
            (r, Some(Err(e)))
        });
    }
    if r.approvals.iter().any(|a| a.by == caller.actor.name) {
        return Err(RelError::conflict(format!(
            "you already approved request #{id}; it needs another user's approval"
        ))
        .into());
    }
    r.approvals.push(Approval {
        by: caller.actor.name.clone(),
        at: now,
    });
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "request.approve",
        &format!(
            "request #{id}: {} to {} ({} of {})",
            r.release,
            r.env,
            r.approvals.len(),
            r.approvals_needed
        ),
    )?;
    let enough = r.approvals.len() >= r.approvals_needed as usize;
    let outcome = if r.kind == RequestKind::Approval && enough {
        Some(carry_out(tx, &mut r, requester, &caller.actor.name, now)?)
    } else {
        None
    };
    save(tx, &r)?;
    Ok((r, outcome))
}

/// Reject a pending request (its requester withdraws it, or someone who may approve it).
pub fn reject_tx(
    tx: &Tx<'_>,
    id: u64,
    reason: &str,
    caller: &Caller,
    now: Timestamp,
) -> Result<ChangeRequest, TxError> {
    let mut r = request_required(tx, id)?;
    let reason = g::check_reason("--reason", reason)?;
    if r.status != RequestStatus::Pending {
        return Err(RelError::conflict(format!(
            "request #{id} is {}; only a pending request can be rejected",
            r.status.as_str()
        ))
        .into());
    }
    if caller.actor.uid != r.requested_uid {
        let env = read::env_required(tx, &r.env)?;
        policy::authorize(caller, &Action::Approve { env: &env.env })?;
    }
    r.status = RequestStatus::Rejected;
    r.decided_by = Some(caller.actor.name.clone());
    r.decided_at = Some(now);
    r.outcome = Some(reason.clone());
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "request.reject",
        &format!("request #{id}: {} to {}: {reason}", r.release, r.env),
    )?;
    save(tx, &r)?;
    Ok(r)
}

/// The scheduler's step for a due request: expire an approval request, or fire a schedule
/// as `requester` under the freezes, approvals and policy in force now. `None` when there is
/// nothing to do (already ended, or not due yet).
pub fn fire_tx(
    tx: &Tx<'_>,
    id: u64,
    requester: &Caller,
    now: Timestamp,
) -> Result<Option<Decided>, TxError> {
    let Some(mut r) = request(tx, id)? else {
        return Ok(None);
    };
    if r.status != RequestStatus::Pending {
        return Ok(None);
    }
    match r.kind {
        RequestKind::Approval => {
            if r.expires_at.is_none_or(|e| e > now) {
                return Ok(None);
            }
            Ok(Some((expire(tx, r, now)?, None)))
        }
        RequestKind::Scheduled => {
            if r.at.is_none_or(|a| a > now) {
                return Ok(None);
            }
            let needed = gov(tx, &r.env)?.approvals;
            let outcome = if (r.approvals.len() as u32) < needed {
                let e = RelError::policy(format!(
                    "{} needs {needed} approval(s) and scheduled request #{id} had {}; nothing was deployed",
                    r.env,
                    r.approvals.len()
                ));
                finish(
                    &mut r,
                    RequestStatus::Refused,
                    "releasd",
                    now,
                    e.message.clone(),
                );
                write::audit(
                    tx,
                    now,
                    "releasd",
                    "request.refused",
                    &format!("request #{id}: {}", e.message),
                )?;
                Err(e)
            } else {
                carry_out(tx, &mut r, requester, "releasd", now)?
            };
            save(tx, &r)?;
            Ok(Some((r, Some(outcome))))
        }
    }
}

fn expire(tx: &Tx<'_>, mut r: ChangeRequest, now: Timestamp) -> Result<ChangeRequest, TxError> {
    let why = format!(
        "not approved in time ({} of {} approvals by {})",
        r.approvals.len(),
        r.approvals_needed,
        fmt_opt(r.expires_at)
    );
    finish(&mut r, RequestStatus::Expired, "releasd", now, why.clone());
    write::audit(
        tx,
        now,
        "releasd",
        "request.expire",
        &format!("request #{}: {}", r.id, why),
    )?;
    save(tx, &r)?;
    Ok(r)
}

fn fmt_opt(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

fn finish(r: &mut ChangeRequest, status: RequestStatus, by: &str, now: Timestamp, outcome: String) {
    r.status = status;
    r.decided_by = Some(by.to_string());
    r.decided_at = Some(now);
    r.outcome = Some(outcome);
}

/// Deploy what `r` asks, as `requester`, with its original `--expect`. A refusal is not an
/// error of the transaction: the request is marked (conflict or refused) and that commits.
fn carry_out(
    tx: &Tx<'_>,
    r: &mut ChangeRequest,
    requester: &Caller,
    decided_by: &str,
    now: Timestamp,
) -> Result<Result<DeployOutcome, RelError>, TxError> {
    let dreq = DeployRequest {
        tag: r.release.clone(),
        env: r.env.clone(),
        expect: r.expect.clone(),
        force_reason: r.force_reason.clone(),
    };
    match deploy::prepare_deploy(tx, &dreq, requester, now, Gate::Approved) {
        Ok(DeployPrep::NoOp(dep)) => {
            let msg = format!(
                "{} was already live in {} (deployment #{})",
                r.release, r.env, dep.id
            );
            finish(r, RequestStatus::Deployed, decided_by, now, msg);
            r.deployment_id = Some(dep.id);
            Ok(Ok(DeployOutcome {
                deployment: dep,
                changed: false,
            }))
        }
        Ok(DeployPrep::Push(p)) => {
            let out = deploy::apply_push(tx, &p, requester, now)?;
            events::append(tx, &Change::Deployed(out.deployment.clone()))?;
            let msg = format!("deployed as deployment #{}", out.deployment.id);
            finish(r, RequestStatus::Deployed, decided_by, now, msg);
            r.deployment_id = Some(out.deployment.id);
            write::audit(
                tx,
                now,
                decided_by,
                "request.deployed",
                &format!(
                    "request #{}: {} to {} as {}, deployment #{}",
                    r.id, r.release, r.env, requester.actor.name, out.deployment.id
                ),
            )?;
            Ok(Ok(out))
        }
        Err(TxError::Rel(e)) => {
            let status = if e.code == rel_domain::ErrorCode::Conflict {
                RequestStatus::Conflict
            } else {
                RequestStatus::Refused
            };
            let msg = format!("request #{} not carried out: {}", r.id, e.message);
            finish(r, status, decided_by, now, e.message.clone());
            write::audit(
                tx,
                now,
                decided_by,
                &format!("request.{}", status.as_str()),
                &msg,
            )?;
            Ok(Err(RelError::new(e.code, msg)))
        }
    }
}

// --- read side --------------------------------------------------------------------------------

/// Requests, newest first: pending only unless `all`; of one environment if `env`. Pending
/// ones come from the small `requests_due` index, so listing them does not read history.
pub fn list(
    trees: &Trees,
    env: Option<&str>,
    all: bool,
    limit: usize,
    before_id: Option<u64>,
) -> RelResult<Vec<ChangeRequest>> {
    let keep = |r: &ChangeRequest| env.is_none_or(|e| e == r.env);
    let below = before_id.unwrap_or(u64::MAX);
    if !all {
        let mut ids = Vec::new();
        for item in trees.tree(T::RequestsDue).iter() {
            let (k, v) = item.map_err(storage_error)?;
            if env.is_some_and(|e| e.as_bytes() != v.as_ref()) {
                continue;
            }
            if let Some(id) = k.get(8..).and_then(read_u64).filter(|id| *id < below) {
                ids.push(id);
            }
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::new();
        for id in ids.into_iter().take(limit) {
            if let Some(r) = request(trees, id)?.filter(|r| keep(r)) {
                out.push(r);
            }
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for item in trees.tree(T::Requests).range(..u64k(below)).rev() {
        if out.len() >= limit {
            break;
        }
        let (k, v) = item.map_err(storage_error)?;
        let r: ChangeRequest = dec_at(T::Requests, &k, &v)?;
        if keep(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Pending requests due at `now` (schedules to fire, approval requests to expire), oldest
/// due first.
pub fn due(trees: &Trees, now: Timestamp) -> RelResult<Vec<ChangeRequest>> {
    let end = u64_u64(u64::try_from(now.0).unwrap_or(0).saturating_add(1), 0);
    let mut out = Vec::new();
    for item in trees.tree(T::RequestsDue).range(..end.to_vec()) {
        let (k, _) = item.map_err(storage_error)?;
        let Some(id) = k.get(8..).and_then(read_u64) else {
            continue;
        };
        if let Some(r) = request(trees, id)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The next instant something is due, if anything is pending.
pub fn next_due(trees: &Trees) -> RelResult<Option<Timestamp>> {
    match trees
        .tree(T::RequestsDue)
        .iter()
        .next()
        .transpose()
        .map_err(storage_error)?
    {
        Some((k, _)) => Ok(read_u64(&k).map(|ms| Timestamp(i64::try_from(ms).unwrap_or(i64::MAX)))),
        None => Ok(None),
    }
}

/// Pending requests to deploy `tag` to `env` (the deploy plan shows them).
pub fn pending_for(trees: &Trees, env: &str, tag: &str) -> RelResult<Vec<ChangeRequest>> {
    let mut out = Vec::new();
    for item in trees.tree(T::RequestsDue).iter() {
        let (k, v) = item.map_err(storage_error)?;
        if v.as_ref() != env.as_bytes() {
            continue;
        }
        if let Some(r) = k
            .get(8..)
            .and_then(read_u64)
            .map(|id| request(trees, id))
            .transpose()?
            .flatten()
            && r.release.eq_ignore_ascii_case(tag)
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// Meta key set once the per-environment pending counters were filled from `requests_due`.
const PENDING_COUNTED: &[u8] = b"pending_counted";

/// A sled store written before the pending counters existed: count its pending requests
/// once at open (after the log replay), so the cap and `env show` agree from the start.
pub(crate) fn backfill_pending_counts(trees: &crate::trees::SledTrees) -> RelResult<()> {
    let meta_tree = trees.tree(T::Meta);
    if meta_tree
        .get(PENDING_COUNTED)
        .map_err(storage_error)?
        .is_some()
    {
        return Ok(());
    }
    let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    for item in trees.tree(T::RequestsDue).iter() {
        let (_, env) = item.map_err(storage_error)?;
        *counts.entry(env.to_vec()).or_default() += 1;
    }
    let mut batch = sled::Batch::default();
    for (env, n) in counts {
        let env = String::from_utf8_lossy(&env).into_owned();
        batch.insert(meta::pending(&env), &u64k(n));
    }
    batch.insert(PENDING_COUNTED, b"1");
    meta_tree.apply_batch(batch).map_err(storage_error)
}

/// A second request for the same release in the same environment while one is pending would
/// only be a stale copy someone could approve later: refuse it, naming the open one. Checked
/// on a read before the submit (a race of two identical submits may still open two).
pub fn refuse_duplicate(trees: &Trees, env: &str, tag: &str) -> RelResult<()> {
    let open = pending_for(trees, env, tag)?;
    match open.iter().find(|r| r.kind == RequestKind::Approval) {
        Some(r) => Err(g::duplicate_request(r, env)),
        None => Ok(()),
    }
}
