//! Creating releases (inside a transaction) and reading them back as views with their
//! derived state (outside one, under the store's read gate).

use rel_domain::model::*;
use rel_domain::names;
use rel_domain::policy::{self, Action};
use rel_domain::snapshot::Snapshot;
use rel_domain::{RelError, RelResult, Timestamp};

use crate::deploy;
use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::trees::{T, Trees, Tx, TxError};
use crate::write;

pub const EMPTY_DRAFT: &str = "the draft is empty: apply an app config first (relctl app example > app.toml gives a working one; then relctl app apply app.toml)";

/// Create (and with `deploy_to`, deploy) in one transaction. `given` is the already parsed
/// `--from` config; otherwise the draft is snapshotted as it is inside the transaction.
pub fn create_tx(
    tx: &Tx<'_>,
    req: &NewRelease,
    given: Option<&Snapshot>,
    caller: &Caller,
    now: Timestamp,
) -> Result<(Release, Option<DeployOutcome>), TxError> {
    policy::authorize(caller, &Action::CreateRelease)?;
    names::validate_tag(&req.tag)?;
    match read::tag_entry(tx, &req.tag)? {
        Some(TagEntry::Live(seq)) => {
            let other = read::release_required(tx, seq)?;
            return Err(RelError::conflict(format!(
                "tag {} is taken by release {} (#{seq}); tags are unique ignoring case and never reused, pick another",
                req.tag, other.tag
            ))
            .into());
        }
        Some(TagEntry::Pruned(_)) => {
            return Err(RelError::conflict(format!(
                "tag {} belonged to a release that was pruned; tags are never reused, pick another",
                req.tag
            ))
            .into());
        }
        None => {}
    }
    if let Some(env) = &req.deploy_to {
        // Fail on an unknown environment before anything else is decided.
        read::env_required(tx, env)?;
    }
    let snap = match given {
        Some(s) => s.clone(),
        None => match read::draft(tx)? {
            Some(cfg) if !cfg.is_empty() => Snapshot::of(cfg),
            _ => return Err(RelError::invalid(EMPTY_DRAFT).into()),
        },
    };
    if snap.config.is_empty() {
        return Err(RelError::invalid(
            "the app config is empty: it needs at least one pipeline or endpoint",
        )
        .into());
    }
    let seq = write::bump(tx, meta::LAST_RELEASE)?;
    let release = Release {
        seq,
        tag: req.tag.clone(),
        description: req.description.clone(),
        created_at: now,
        created_by: caller.actor.name.clone(),
        digest: snap.digest,
    };
    tx.put(T::Releases, u64k(seq), enc(&release)?)?;
    tx.put(
        T::Tags,
        names::tag_key(&req.tag).as_bytes(),
        enc(&TagEntry::Live(seq))?,
    )?;
    tx.put(T::Digests, digest_u64(&snap.digest, seq), b"")?;
    write::add_snapshot_ref(tx, &snap)?;
    write::bump(tx, meta::RELEASE_COUNT)?;
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "release.create",
        &format!("{} (#{seq}, {})", release.tag, release.digest),
    )?;
    let deployed = match &req.deploy_to {
        Some(env) => {
            let d = DeployRequest {
                tag: req.tag.clone(),
                env: env.clone(),
                expect: None,
                force_reason: None,
            };
            Some(deploy::deploy_tx(tx, &d, caller, now).map_err(|e| {
                // The release does not exist after a refusal (one transaction), so the
                // deploy rule's `relctl deploy TAG` advice would fail: point at the create.
                let TxError::Rel(mut e) = e;
                e.message = e.message.replace(
                    &format!("relctl deploy {} --env ", req.tag),
                    &format!("relctl release create {} --deploy ", req.tag),
                );
                e.message
                    .push_str("; nothing was created (the release and its deploy are one change)");
                TxError::Rel(e)
            })?)
        }
        None => None,
    };
    Ok((release, deployed))
}

/// Environment names in promotion order: each after the ones it requires, then by creation.
pub fn promotion_order(trees: &Trees) -> RelResult<Vec<EnvRecord>> {
    let mut all = Vec::new();
    for item in trees.tree(T::Envs).iter() {
        let (_, v) = item.map_err(crate::trees::storage_error)?;
        all.push(dec::<EnvRecord>("environment", &v)?);
    }
    all.sort_by_key(|r| r.order);
    let mut placed: Vec<EnvRecord> = Vec::with_capacity(all.len());
    while !all.is_empty() {
        let ready = all.iter().position(|r| {
            r.env.requires.iter().all(|q| {
                placed.iter().any(|p| &p.env.name == q) || !all.iter().any(|a| &a.env.name == q)
            })
        });
        // A cycle cannot be created (requires must exist first); fall back to creation order.
        let i = ready.unwrap_or(0);
        placed.push(all.remove(i));
    }
    Ok(placed)
}

/// Where a release is live now, in promotion order.
fn live_in(trees: &Trees, seq: u64, order: &[String]) -> RelResult<Vec<String>> {
    let mut envs = Vec::new();
    for item in trees.tree(T::LiveIn).scan_prefix(u64k(seq)) {
        let (k, _) = item.map_err(crate::trees::storage_error)?;
        if let Some(e) = u64_str_tail(&k) {
            envs.push(e.to_string());
        }
    }
    envs.sort_by_key(|e| order.iter().position(|o| o == e).unwrap_or(usize::MAX));
    Ok(envs)
}

pub fn view(trees: &Trees, release: Release, order: &[String]) -> RelResult<ReleaseView> {
    let live_in = live_in(trees, release.seq, order)?;
    let ever = trees
        .tree(T::EverLive)
        .contains_key(u64k(release.seq))
        .map_err(crate::trees::storage_error)?;
    Ok(ReleaseView {
        state: ReleaseState::derive(live_in.len(), ever),
        live_in,
        release,
    })
}

pub fn order_names(trees: &Trees) -> RelResult<Vec<String>> {
    Ok(promotion_order(trees)?
        .into_iter()
        .map(|r| r.env.name)
        .collect())
}

fn matches(r: &Release, filter: &Option<String>) -> bool {
    match filter {
        None => true,
        Some(f) => {
            let f = f.to_lowercase();
            r.tag.to_lowercase().contains(&f)
                || r.created_by.to_lowercase().contains(&f)
                || r.description.to_lowercase().contains(&f)
        }
    }
}

/// Newest first. Each state filter walks the smallest index that answers it, stopping at
/// the limit: Deployed walks `live_in` (a handful of entries), Superseded `ever_live`, the
/// rest the releases themselves.
pub fn list(trees: &Trees, q: &ReleaseQuery) -> RelResult<Vec<ReleaseView>> {
    let order = order_names(trees)?;
    let limit = if q.limit == 0 { usize::MAX } else { q.limit };
    let below = q.before_seq.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    let consider = |out: &mut Vec<ReleaseView>, r: Release| -> RelResult<bool> {
        if !matches(&r, &q.filter) {
            return Ok(false);
        }
        let v = view(trees, r, &order)?;
        if q.state.is_none_or(|s| s == v.state) {
            out.push(v);
        }
        Ok(out.len() >= limit)
    };
    match q.state {
        Some(ReleaseState::Deployed) => {
            let mut seqs = Vec::new();
            for item in trees.tree(T::LiveIn).iter() {
                let (k, _) = item.map_err(crate::trees::storage_error)?;
                if let Some(s) = read_u64(&k).filter(|s| *s < below) {
                    seqs.push(s);
                }
            }
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            seqs.dedup();
            for s in seqs {
                if let Some(r) = read::release(trees, s)?
                    && consider(&mut out, r)?
                {
                    break;
                }
            }
        }
        Some(ReleaseState::Superseded) => {
            for item in trees.tree(T::EverLive).range(..u64k(below)).rev() {
                let (k, _) = item.map_err(crate::trees::storage_error)?;
                let Some(s) = read_u64(&k) else { continue };
                if let Some(r) = read::release(trees, s)?
                    && consider(&mut out, r)?
                {
                    break;
                }
            }
        }
        _ => {
            for item in trees.tree(T::Releases).range(..u64k(below)).rev() {
                let (k, v) = item.map_err(crate::trees::storage_error)?;
                if consider(&mut out, dec_at(T::Releases, &k, &v)?)? {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// At most this many tags in `same_content_as`: enough to say so, bounded however many
/// releases share the content.
pub const SAME_CONTENT_MAX: usize = 10;

/// Earlier releases with the same digest, newest first, at most [`SAME_CONTENT_MAX`].
pub fn same_content(trees: &Trees, release: &Release) -> RelResult<Vec<String>> {
    let mut out = Vec::new();
    for item in trees.tree(T::Digests).scan_prefix(release.digest.0).rev() {
        if out.len() >= SAME_CONTENT_MAX {
            break;
        }
        let (k, _) = item.map_err(crate::trees::storage_error)?;
        let Some(s) = k.get(32..).and_then(read_u64) else {
            continue;
        };
        if s != release.seq
            && let Some(r) = read::release(trees, s)?
        {
            out.push(r.tag);
        }
    }
    Ok(out)
}

/// Deployments of one release, newest first.
pub fn release_history(trees: &Trees, seq: u64, limit: usize) -> RelResult<Vec<Deployment>> {
    let limit = if limit == 0 { usize::MAX } else { limit };
    let mut out = Vec::new();
    for item in trees.tree(T::DepByRelease).scan_prefix(u64k(seq)).rev() {
        let (k, _) = item.map_err(crate::trees::storage_error)?;
        let Some(id) = k.get(8..).and_then(read_u64) else {
            continue;
        };
        if let Some(d) = read::deployment(trees, id)? {
            out.push(d);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
