//! Deploy and rollback: decided by the pure rules of `rel_domain::{policy, rollback}` over
//! point reads, then applied with O(1) writes per pushed or popped stack entry. The same
//! `prepare_*` code answers the plan (dry-run) requests outside a transaction.

use rel_domain::model::*;
use rel_domain::policy::{self, Action, RequirementFacts};
use rel_domain::rollback::{
    self, DeployDecision, Hold, RollbackDecision, RollbackMove, StackState,
};
use rel_domain::{RelError, Timestamp};

use crate::keys::*;
use crate::read::{self, KvStack};
use crate::records::*;
use crate::trees::{Kv, T, Tx, TxError};
use crate::write;

/// What a deploy will do, decided but not applied. Short-lived, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum DeployPrep {
    /// Already live: the deployment that made it live.
    NoOp(Deployment),
    Push(Push),
}

pub struct Push {
    pub env: EnvRecord,
    pub state: EnvState,
    pub release: Release,
    pub previous: Option<Release>,
    pub clears_hold: bool,
    pub reason: Option<String>,
    /// A forced deploy over a freeze: the freeze it overrode, for the audit log.
    pub over_freeze: Option<String>,
}

/// Which governance gates a deploy passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// A deploy as asked: an environment that needs approvals refuses it (the daemon
    /// opens a request instead, `gov::submit_tx`).
    Direct,
    /// Carrying out an approved or scheduled request (or planning one): approvals are
    /// counted by the request, not here.
    Approved,
}

/// Check permission, freezes, approvals, `--expect`, holds and the promotion policy, in
/// that order.
pub fn prepare_deploy<K: Kv>(
    k: &K,
    req: &DeployRequest,
    caller: &Caller,
    now: Timestamp,
    gate: Gate,
) -> Result<DeployPrep, K::E> {
    let env = read::env_required(k, &req.env)?;
    let release = read::release_by_tag(k, &req.tag)?;
    let reason = policy::check_force_reason(req.force_reason.as_deref())?;
    let forced = reason.is_some();
    policy::authorize(
        caller,
        &Action::Deploy {
            env: &env.env,
            tag: &release.tag,
            forced,
        },
    )?;
    // A freeze refuses even a no-op deploy: the answer must not depend on what is live.
    let (frozen, approvals) = crate::gov::gate(k, &env.env.name, now)?;
    let mut over_freeze = None;
    if let Some(f) = frozen {
        if !forced {
            return Err(f.refusal(&env.env.name).into());
        }
        // A request's --force was given before anyone approved it, maybe before the
        // freeze: it never carries a deploy past a freeze. Overriding one is an admin's
        // deliberate act, now (a direct `deploy --force --reason`).
        if gate == Gate::Approved {
            let mut e = f.refusal(&env.env.name);
            e.message.push_str(if approvals > 0 {
                // Here a direct deploy would be refused too (it needs approvals).
                "; a request's --force does not override a freeze: end the freeze first, or (admin) set the environment's approvals to 0 and deploy directly with --force --reason"
            } else {
                "; a request's --force does not override a freeze (an admin can deploy directly with --force --reason)"
            });
            return Err(e.into());
        }
        over_freeze = Some(format!(
            "{} freeze by {}: {}",
            f.scope.as_str(),
            f.by,
            f.reason
        ));
    }
    if gate == Gate::Direct && approvals > 0 {
        return Err(RelError::policy(format!(
            "{} needs {approvals} approval(s) per deploy: `relctl deploy {} --env {}` opens a request that others approve (relctl requests, relctl approve ID)",
            env.env.name, release.tag, env.env.name
        ))
        .into());
    }
    let state = read::env_state(k, &env.env.name)?;
    let previous = match state.live {
        Some(seq) => Some(read::release_required(k, seq)?),
        None => None,
    };
    check_expect(
        k,
        &env.env.name,
        previous.as_ref().map(|r| r.tag.as_str()),
        req.expect.as_deref(),
    )?;
    let hold = read::hold(k, &env.env.name, release.seq)?;
    match rollback::decide_deploy(
        &env.env.name,
        state.live,
        release.seq,
        &release.tag,
        hold.as_ref(),
        forced,
    )? {
        DeployDecision::AlreadyLive => {
            let id = state.deployment_id.unwrap_or(0);
            let dep = read::deployment(k, id)?.ok_or_else(|| {
                RelError::internal(format!(
                    "store: deployment #{id} of {} is missing",
                    env.env.name
                ))
            })?;
            Ok(DeployPrep::NoOp(dep))
        }
        DeployDecision::Push { clears_hold } => {
            if !forced {
                let facts = requirement_facts(k, &env, release.seq)?;
                let has_checks = read::has_checks(k, &release.digest)?;
                policy::check_promotion(&release.tag, &env.env, has_checks, &facts)?;
            }
            Ok(DeployPrep::Push(Push {
                env,
                state,
                release,
                previous,
                clears_hold,
                reason,
                over_freeze,
            }))
        }
    }
}

fn requirement_facts<K: Kv>(
    k: &K,
    env: &EnvRecord,
    seq: u64,
) -> Result<Vec<RequirementFacts>, K::E> {
    let mut out = Vec::new();
    for r in &env.env.requires {
        out.push(RequirementFacts {
            env: r.clone(),
            was_live: k.get(T::WasLiveIn, &env_u64(r, seq))?.is_some(),
            live_now: k.get(T::LiveIn, &u64_str(seq, r))?.is_some(),
            verified: k
                .get(T::VerifiedIn, &env_u64(r, seq))?
                .map(|v| v.first() == Some(&1)),
            held: k.get(T::Holds, &env_u64(r, seq))?.is_some(),
        });
    }
    Ok(out)
}

/// Apply a decided push: one stack entry, the indexes, the record, the audit entry.
pub fn apply_push(
    tx: &Tx<'_>,
    p: &Push,
    caller: &Caller,
    now: Timestamp,
) -> Result<DeployOutcome, TxError> {
    let env = &p.env.env.name;
    let seq = p.release.seq;
    let id = write::bump(tx, meta::LAST_DEPLOYMENT)?;
    let dep = Deployment {
        id,
        env: env.clone(),
        release: p.release.tag.clone(),
        release_seq: seq,
        previous: p.previous.as_ref().map(|r| r.tag.clone()),
        kind: DeploymentKind::Deploy,
        actor: caller.actor.name.clone(),
        at: now,
        reason: p.reason.clone(),
        forced: p.reason.is_some(),
        verification: None,
    };
    record_deployment(tx, &dep)?;
    tx.put(T::Stack, env_u64(env, p.state.height), u64k(seq))?;
    let count = read::on_stack_count(tx, seq, env)?;
    write::put_u64(tx, T::OnStack, &u64_str(seq, env), count + 1)?;
    if p.clears_hold {
        tx.del(T::Holds, env_u64(env, seq))?;
    }
    set_live(tx, env, p.previous.as_ref().map(|r| r.seq), seq)?;
    let state = EnvState {
        live: Some(seq),
        since: Some(now),
        by: Some(caller.actor.name.clone()),
        height: p.state.height + 1,
        deployment_id: Some(id),
        history_len: p.state.history_len + 1,
    };
    tx.put(T::EnvState, env.as_bytes(), enc(&state)?)?;
    let was = p
        .previous
        .as_ref()
        .map(|r| format!(" (was {})", r.tag))
        .unwrap_or_default();
    let mut forced = p
        .reason
        .as_ref()
        .map(|r| format!("; forced: {r}"))
        .unwrap_or_default();
    if let Some(f) = &p.over_freeze {
        forced.push_str(&format!(" (over the {f})"));
    }
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "deploy",
        &format!("{} to {env}{was}, deployment #{id}{forced}", p.release.tag),
    )?;
    Ok(DeployOutcome {
        deployment: dep,
        changed: true,
    })
}

fn record_deployment(tx: &Tx<'_>, dep: &Deployment) -> Result<(), TxError> {
    tx.put(T::Deployments, u64k(dep.id), enc(dep)?)?;
    tx.put(T::DepByEnv, env_u64(&dep.env, dep.id), b"")?;
    tx.put(T::DepByRelease, u64_u64(dep.release_seq, dep.id), b"")?;
    Ok(())
}

/// Move "live in `env`" from `old` to `new`, and remember that `new` has been live there.
fn set_live(tx: &Tx<'_>, env: &str, old: Option<u64>, new: u64) -> Result<(), TxError> {
    if let Some(o) = old {
        tx.del(T::LiveIn, u64_str(o, env))?;
    }
    tx.put(T::LiveIn, u64_str(new, env), b"")?;
    // Often already there (always for a rollback target): a read is cheaper than a write.
    if tx.get(T::EverLive, &u64k(new))?.is_none() {
        tx.put(T::EverLive, u64k(new), b"")?;
    }
    if tx.get(T::WasLiveIn, &env_u64(env, new))?.is_none() {
        tx.put(T::WasLiveIn, env_u64(env, new), b"")?;
    }
    Ok(())
}

/// Deploy inside a transaction (also used by create-and-deploy).
pub fn deploy_tx(
    tx: &Tx<'_>,
    req: &DeployRequest,
    caller: &Caller,
    now: Timestamp,
) -> Result<DeployOutcome, TxError> {
    match prepare_deploy(tx, req, caller, now, Gate::Direct)? {
        DeployPrep::NoOp(dep) => Ok(DeployOutcome {
            deployment: dep,
            changed: false,
        }),
        DeployPrep::Push(p) => apply_push(tx, &p, caller, now),
    }
}

/// What a rollback will do, decided but not applied.
pub enum RollbackPrep {
    NoOp(Deployment),
    Move {
        env: EnvRecord,
        state: EnvState,
        mv: RollbackMove,
    },
}

/// `--expect` that differs from what is live is a Conflict (exit 3: re-read and retry), but
/// one naming no release at all is a typo: NotFound (exit 4), for deploy and rollback alike.
fn check_expect<K: Kv>(
    k: &K,
    env: &str,
    live: Option<&str>,
    expect: Option<&str>,
) -> Result<(), K::E> {
    let Err(conflict) = rollback::check_expect(env, live, expect) else {
        return Ok(());
    };
    if let Some(want) = expect
        && !matches!(read::tag_entry(k, want)?, Some(TagEntry::Live(_)))
    {
        let running = live.map_or(format!("{env} has no release deployed"), |l| {
            format!("{env} is running {l}")
        });
        return Err(RelError::not_found(format!(
            "--expect {want}: no such release ({running}); pass the tag that is live now \
             (relctl env show {env}) and try again (nothing changed)"
        ))
        .into());
    }
    Err(conflict.into())
}

/// Resolve, check `--expect` and plan the pops. Permission is checked by the caller of a
/// real rollback (a plan needs none).
pub fn prepare_rollback<K: Kv>(k: &K, req: &RollbackRequest) -> Result<RollbackPrep, K::E> {
    let env = read::env_required(k, &req.env)?;
    let name = env.env.name.clone();
    let state = read::env_state(k, &name)?;
    let live_tag = match state.live {
        Some(seq) => Some(read::release_required(k, seq)?.tag),
        None => None,
    };
    check_expect(k, &name, live_tag.as_deref(), req.expect.as_deref())?;
    let to = match &req.to {
        Some(tag) => Some(read::release_by_tag(k, tag)?.seq),
        None => None,
    };
    let st = StackState {
        env: &name,
        height: state.height,
        history_len: state.history_len,
    };
    match rollback::plan_rollback(&st, to, &mut KvStack { k, env: &name })? {
        RollbackDecision::AlreadyLive(_) => {
            let id = state.deployment_id.unwrap_or(0);
            let dep = read::deployment(k, id)?.ok_or_else(|| {
                RelError::internal(format!("store: deployment #{id} of {name} is missing"))
            })?;
            Ok(RollbackPrep::NoOp(dep))
        }
        RollbackDecision::Move(mv) => Ok(RollbackPrep::Move { env, state, mv }),
    }
}

pub fn rollback_tx(
    tx: &Tx<'_>,
    req: &RollbackRequest,
    caller: &Caller,
    now: Timestamp,
) -> Result<DeployOutcome, TxError> {
    let env = read::env_required(tx, &req.env)?;
    policy::authorize(caller, &Action::Rollback { env: &env.env })?;
    let reason = req
        .reason
        .as_ref()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let (env, state, mv) = match prepare_rollback(tx, req)? {
        RollbackPrep::NoOp(dep) => {
            return Ok(DeployOutcome {
                deployment: dep,
                changed: false,
            });
        }
        RollbackPrep::Move { env, state, mv } => (env, state, mv),
    };
    let name = &env.env.name;
    let from = read::release_required(tx, mv.from)?;
    let to = read::release_required(tx, mv.to)?;
    let id = write::bump(tx, meta::LAST_DEPLOYMENT)?;
    let dep = Deployment {
        id,
        env: name.clone(),
        release: to.tag.clone(),
        release_seq: to.seq,
        previous: Some(from.tag.clone()),
        kind: DeploymentKind::Rollback,
        actor: caller.actor.name.clone(),
        at: now,
        reason: reason.clone(),
        forced: false,
        verification: None,
    };
    record_deployment(tx, &dep)?;
    // Pop: remove the entries above the target, count them off, hold what was popped.
    for idx in mv.new_height..state.height {
        let key = env_u64(name, idx);
        let seq = tx
            .get(T::Stack, &key)?
            .and_then(|v| read_u64(&v))
            .unwrap_or(0);
        tx.del(T::Stack, key)?;
        let count = read::on_stack_count(tx, seq, name)?;
        if count <= 1 {
            tx.del(T::OnStack, u64_str(seq, name))?;
        } else {
            write::put_u64(tx, T::OnStack, &u64_str(seq, name), count - 1)?;
        }
    }
    let hold = enc(&Hold {
        by: caller.actor.name.clone(),
        at: now,
        deployment_id: id,
    })?;
    for seq in &mv.popped {
        if read::hold(tx, name, *seq)?.is_none() {
            tx.put(T::Holds, env_u64(name, *seq), &hold)?;
        }
        // Rolled back out: its checks here no longer vouch for it. A forced redeploy must be
        // verified again before an environment that requires this one takes it (§3.5).
        tx.del(T::VerifiedIn, env_u64(name, *seq))?;
    }
    set_live(tx, name, Some(mv.from), mv.to)?;
    let new_state = EnvState {
        live: Some(mv.to),
        since: Some(now),
        by: Some(caller.actor.name.clone()),
        height: mv.new_height,
        deployment_id: Some(id),
        history_len: state.history_len + 1,
    };
    tx.put(T::EnvState, name.as_bytes(), enc(&new_state)?)?;
    let mut popped = Vec::new();
    for s in &mv.popped {
        let t = read::release_required(tx, *s)?.tag;
        if !popped.contains(&t) {
            popped.push(t);
        }
    }
    let why = reason.map(|r| format!("; reason: {r}")).unwrap_or_default();
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "rollback",
        &format!(
            "{name}: {} -> {} (held: {}), deployment #{id}{why}",
            from.tag,
            to.tag,
            popped.join(", ")
        ),
    )?;
    Ok(DeployOutcome {
        deployment: dep,
        changed: true,
    })
}
