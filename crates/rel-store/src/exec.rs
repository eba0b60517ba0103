//! Verifications, execution logs (bounded per environment) and API tokens.

use rel_domain::model::*;
use rel_domain::policy::{self, Action};
use rel_domain::{Digest, RelError, RelResult, Timestamp};

use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::trees::{Kv, T, Trees, Tx, TxError, storage_error};
use crate::write;

/// Record a verification on the deployment that is live in `env` now.
pub fn record_verification_tx(
    tx: &Tx<'_>,
    env: &str,
    deployment_id: u64,
    v: &Verification,
    caller: &Caller,
) -> Result<Deployment, TxError> {
    let rec = read::env_required(tx, env)?;
    policy::authorize(caller, &Action::RecordVerification { env: &rec.env })?;
    let state = read::env_state(tx, env)?;
    if state.deployment_id != Some(deployment_id) {
        let now = match state.deployment_id {
            Some(id) => format!("#{id} is live there now"),
            None => "nothing is live there".to_string(),
        };
        return Err(RelError::conflict(format!(
            "deployment #{deployment_id} is no longer live in {env} ({now}); the checks ran against something else. Run relctl verify --env {env} again"
        ))
        .into());
    }
    let mut dep = read::deployment(tx, deployment_id)?.ok_or_else(|| {
        RelError::internal(format!("store: deployment #{deployment_id} is missing"))
    })?;
    dep.verification = Some(v.clone());
    tx.put(T::Deployments, u64k(dep.id), enc(&dep)?)?;
    tx.put(
        T::VerifiedIn,
        env_u64(env, dep.release_seq),
        [u8::from(v.passed)],
    )?;
    let failed: Vec<&str> = v
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    let outcome = if v.passed {
        let n = v.checks.len();
        format!("passed ({n} check{})", if n == 1 { "" } else { "s" })
    } else {
        format!("failed: {}", failed.join(", "))
    };
    write::audit(
        tx,
        v.at,
        &caller.actor.name,
        "verify",
        &format!(
            "{} in {env}, deployment #{deployment_id}: {outcome}",
            dep.release
        ),
    )?;
    Ok(dep)
}

/// Append a log and trim the environment's window to `retention` entries.
pub fn append_tx(tx: &Tx<'_>, exec: &Execution, retention: usize) -> Result<u64, TxError> {
    let id = write::bump(tx, meta::LAST_EXECUTION)?;
    let mut e = exec.clone();
    e.id = id;
    tx.put(T::Executions, u64k(id), enc(&e)?)?;
    let mut w: ExecWindow = match tx.get(T::ExecWindow, e.env.as_bytes())? {
        Some(v) => dec("execution window", &v)?,
        None => ExecWindow::default(),
    };
    tx.put(T::ExecByEnv, env_u64(&e.env, w.next), u64k(id))?;
    w.next += 1;
    let keep = retention.max(1) as u64;
    while w.next - w.oldest > keep {
        let key = env_u64(&e.env, w.oldest);
        if let Some(old) = tx.get(T::ExecByEnv, &key)?.and_then(|v| read_u64(&v)) {
            tx.del(T::Executions, u64k(old))?;
        }
        tx.del(T::ExecByEnv, key)?;
        w.oldest += 1;
    }
    tx.put(T::ExecWindow, e.env.as_bytes(), enc(&w)?)?;
    Ok(id)
}

/// Newest first, filtered.
pub fn list(trees: &Trees, q: &ExecQuery) -> RelResult<Vec<Execution>> {
    let limit = if q.limit == 0 { usize::MAX } else { q.limit };
    let below = q.before_id.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    let mut take = |e: Execution| -> bool {
        if e.id < below && q.endpoint.as_ref().is_none_or(|p| &e.endpoint == p) {
            out.push(e);
        }
        out.len() >= limit
    };
    match &q.env {
        Some(env) => {
            for item in trees.tree(T::ExecByEnv).scan_prefix(env_prefix(env)).rev() {
                let (_, v) = item.map_err(storage_error)?;
                let Some(id) = read_u64(&v) else { continue };
                if id >= below {
                    continue;
                }
                if let Some(e) = execution(trees, id)?
                    && take(e)
                {
                    break;
                }
            }
        }
        None => {
            for item in trees.tree(T::Executions).range(..u64k(below)).rev() {
                let (_, v) = item.map_err(storage_error)?;
                if take(dec("execution", &v)?) {
                    break;
                }
            }
        }
    }
    Ok(out)
}

pub fn execution<K: Kv>(k: &K, id: u64) -> Result<Option<Execution>, K::E> {
    match k.get(T::Executions, &u64k(id))? {
        Some(v) => Ok(Some(dec("execution", &v)?)),
        None => Ok(None),
    }
}

fn validate_token_name(name: &str) -> RelResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RelError::invalid(format!(
            "token name {name:?}: use 1-64 letters, digits, '-', '_' or '.' (e.g. ci-staging)"
        )))
    }
}

pub fn create_token_tx(
    tx: &Tx<'_>,
    name: &str,
    hash: &Digest,
    caller: &Caller,
    now: Timestamp,
) -> Result<TokenInfo, TxError> {
    policy::authorize(caller, &Action::ManageTokens)?;
    validate_token_name(name)?;
    if tx.get(T::Tokens, name.as_bytes())?.is_some() {
        return Err(RelError::conflict(format!(
            "a token named {name} already exists; revoke it first (relctl token revoke {name}) or pick another name"
        ))
        .into());
    }
    if tx.get(T::TokenHash, &hash.0)?.is_some() {
        return Err(RelError::conflict(
            "that secret is already in use by another token; generate a new one",
        )
        .into());
    }
    let info = TokenInfo {
        name: name.to_string(),
        created_at: now,
        created_by: caller.actor.name.clone(),
    };
    tx.put(
        T::Tokens,
        name.as_bytes(),
        enc(&TokenRecord {
            info: info.clone(),
            hash: *hash,
        })?,
    )?;
    tx.put(T::TokenHash, hash.0, name.as_bytes())?;
    write::audit(tx, now, &caller.actor.name, "token.create", name)?;
    Ok(info)
}

pub fn revoke_token_tx(
    tx: &Tx<'_>,
    name: &str,
    caller: &Caller,
    now: Timestamp,
) -> Result<(), TxError> {
    policy::authorize(caller, &Action::ManageTokens)?;
    let rec: TokenRecord = match tx.get(T::Tokens, name.as_bytes())? {
        Some(v) => dec("token", &v)?,
        None => {
            return Err(RelError::not_found(format!(
                "no token named {name}; relctl token list shows them"
            ))
            .into());
        }
    };
    tx.del(T::Tokens, name.as_bytes())?;
    tx.del(T::TokenHash, rec.hash.0)?;
    write::audit(tx, now, &caller.actor.name, "token.revoke", name)?;
    Ok(())
}

pub fn tokens(trees: &Trees) -> RelResult<Vec<TokenInfo>> {
    let mut out = Vec::new();
    for item in trees.tree(T::Tokens).iter() {
        let (_, v) = item.map_err(storage_error)?;
        out.push(dec::<TokenRecord>("token", &v)?.info);
    }
    Ok(out)
}

pub fn token_by_hash(trees: &Trees, hash: &Digest) -> RelResult<Option<TokenInfo>> {
    let Some(name) = trees.get(T::TokenHash, &hash.0)? else {
        return Ok(None);
    };
    match trees.get(T::Tokens, &name)? {
        Some(v) => Ok(Some(dec::<TokenRecord>("token", &v)?.info)),
        None => Ok(None),
    }
}
