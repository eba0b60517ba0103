//! Environments: creation (in a transaction), views and per-environment history.

use rel_domain::model::*;
use rel_domain::names;
use rel_domain::policy::{self, Action};
use rel_domain::rollback::{self, RollbackDecision, StackState};
use rel_domain::{RelError, RelResult, Timestamp};

use crate::keys::*;
use crate::read::{self, KvStack};
use crate::records::*;
use crate::trees::{Kv, T, Trees, Tx, TxError, storage_error};
use crate::write;

/// Environments a store holds at most. The environment list is one answer (it is not
/// cursor-paged), so its size is bounded here instead: 256 environments with descriptions of
/// at most [`MAX_ENV_DESCRIPTION_BYTES`] stay far inside one frame.
pub const MAX_ENVIRONMENTS: usize = 256;
/// Longest environment description, in bytes.
pub const MAX_ENV_DESCRIPTION_BYTES: usize = 4 * 1024;

pub fn create_tx(
    tx: &Tx<'_>,
    env: &Environment,
    caller: &Caller,
    now: Timestamp,
) -> Result<EnvRecord, TxError> {
    policy::authorize(caller, &Action::CreateEnvironment { name: &env.name })?;
    names::validate_env_name(&env.name)?;
    if env.description.len() > MAX_ENV_DESCRIPTION_BYTES {
        return Err(RelError::invalid(format!(
            "description: {} bytes is over the limit of {MAX_ENV_DESCRIPTION_BYTES} bytes (4 KiB) for an environment; shorten it and link to longer notes",
            env.description.len()
        ))
        .into());
    }
    if read::env_record(tx, &env.name)?.is_some() {
        return Err(RelError::conflict(format!(
            "environment {} already exists; relctl env show {} shows it",
            env.name, env.name
        ))
        .into());
    }
    let mut requires: Vec<String> = Vec::new();
    for r in &env.requires {
        if r == &env.name {
            return Err(RelError::invalid(format!(
                "environment {}: it cannot require itself",
                env.name
            ))
            .into());
        }
        read::env_required(tx, r)?;
        if !requires.contains(r) {
            requires.push(r.clone());
        }
    }
    if read::env_names(tx)?.len() >= MAX_ENVIRONMENTS {
        return Err(RelError::invalid(format!(
            "environment {}: the store already holds {MAX_ENVIRONMENTS} environments, the limit; reuse an existing one (relctl env list)",
            env.name
        ))
        .into());
    }
    let rec = EnvRecord {
        env: Environment {
            name: env.name.clone(),
            description: env.description.clone(),
            protected: env.protected,
            requires,
            created_at: now,
        },
        order: write::bump(tx, meta::LAST_ENV_ORDER)?,
    };
    insert_tx(tx, &rec)?;
    let mut detail = env.name.clone();
    if rec.env.protected {
        detail.push_str(" (protected)");
    }
    if !rec.env.requires.is_empty() {
        detail.push_str(&format!(" requires {}", rec.env.requires.join(", ")));
    }
    write::audit(tx, now, &caller.actor.name, "env.create", &detail)?;
    Ok(rec)
}

/// Write a new environment record and add it to the name list.
pub fn insert_tx(tx: &Tx<'_>, rec: &EnvRecord) -> Result<(), TxError> {
    tx.put(T::Envs, rec.env.name.as_bytes(), enc(rec)?)?;
    let mut names = read::env_names(tx)?;
    if !names.contains(&rec.env.name) {
        names.push(rec.env.name.clone());
    }
    tx.put(T::Meta, meta::ENV_NAMES, enc_plain(&names)?)
}

pub fn view(trees: &Trees, rec: EnvRecord) -> RelResult<EnvironmentView> {
    let name = rec.env.name.clone();
    let state = read::env_state(trees, &name)?;
    let live = match state.live {
        Some(seq) => Some(read::release_required(trees, seq)?),
        None => None,
    };
    let dep = match state.deployment_id {
        Some(id) => read::deployment(trees, id)?,
        None => None,
    };
    let st = StackState {
        env: &name,
        height: state.height,
        history_len: state.history_len,
    };
    let rollback_to = match rollback::plan_rollback(
        &st,
        None,
        &mut KvStack {
            k: trees,
            env: &name,
        },
    ) {
        Ok(RollbackDecision::Move(m)) => Some(read::release_required(trees, m.to)?.tag),
        _ => None,
    };
    let mut held = Vec::new();
    for item in trees.tree(T::Holds).scan_prefix(env_prefix(&name)) {
        let (k, _) = item.map_err(storage_error)?;
        if let Some(seq) = env_u64_tail(&k)
            && let Some(r) = read::release(trees, seq)?
        {
            held.push(r.tag);
        }
    }
    let governance = crate::gov::view(trees, &name, crate::now())?;
    Ok(EnvironmentView {
        governance: Box::new(governance),
        live_digest: live.as_ref().map(|r| r.digest),
        live: live.map(|r| r.tag),
        rollback_to,
        since: state.since,
        by: state.by,
        deployment_id: state.deployment_id,
        verification: match dep {
            Some(d) if d.verification.is_some() => d.verification,
            Some(d) => earlier_verification(trees, &name, d.release_seq)?,
            None => None,
        },
        held,
        env: rec.env,
    })
}

/// How far back [`earlier_verification`] looks: the release was live there recently.
const EARLIER_VERIFICATION_SCAN: usize = 1000;

/// The newest verification recorded in `env` on an earlier deployment of release `seq`: a
/// release rolled back to (or redeployed) is the same content, so what its checks said then
/// still describes it (§3.6). Read side only; only looked up when `VerifiedIn` says there is
/// one, and bounded.
fn earlier_verification(trees: &Trees, env: &str, seq: u64) -> RelResult<Option<Verification>> {
    if trees.get(T::VerifiedIn, &env_u64(env, seq))?.is_none() {
        return Ok(None);
    }
    for item in trees
        .tree(T::DepByEnv)
        .scan_prefix(env_prefix(env))
        .rev()
        .take(EARLIER_VERIFICATION_SCAN)
    {
        let (k, _) = item.map_err(storage_error)?;
        let Some(id) = env_u64_tail(&k) else { continue };
        if let Some(d) = read::deployment(trees, id)?
            && d.release_seq == seq
            && d.verification.is_some()
        {
            return Ok(d.verification);
        }
    }
    Ok(None)
}

/// Deployments in one environment, newest first, below `before_id`.
pub fn history(
    trees: &Trees,
    env: &str,
    limit: usize,
    before_id: Option<u64>,
) -> RelResult<Vec<Deployment>> {
    let limit = if limit == 0 { usize::MAX } else { limit };
    let start = env_prefix(env);
    let end = env_u64(env, before_id.unwrap_or(u64::MAX));
    let mut out = Vec::new();
    for item in trees.tree(T::DepByEnv).range(start..end).rev() {
        let (k, _) = item.map_err(storage_error)?;
        let Some(id) = env_u64_tail(&k) else { continue };
        if let Some(d) = read::deployment(trees, id)? {
            out.push(d);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
