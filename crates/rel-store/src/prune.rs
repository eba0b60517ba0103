//! `release prune --keep N`: drop old releases nobody can need, and the snapshot parts only
//! they used. A release live anywhere or on any rollback stack is kept; tags stay reserved.

use rel_domain::model::*;
use rel_domain::names::tag_key;
use rel_domain::policy::{self, Action};
use rel_domain::{RelResult, Timestamp};

use crate::SledStore;
use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::trees::{T, Trees, storage_error};
use crate::write;
use crate::writer::Mode;

struct Plan {
    removed: Vec<Release>,
    protected: Vec<String>,
    /// `dep_by_release` keys of the removed releases.
    dep_keys: Vec<sled::IVec>,
}

fn plan(trees: &Trees, keep: usize) -> RelResult<Plan> {
    let mut p = Plan {
        removed: Vec::new(),
        protected: Vec::new(),
        dep_keys: Vec::new(),
    };
    for item in trees.tree(T::Releases).iter().rev().skip(keep) {
        let (_, v) = item.map_err(storage_error)?;
        let r: Release = dec("release", &v)?;
        let live = trees
            .tree(T::LiveIn)
            .scan_prefix(u64k(r.seq))
            .next()
            .is_some();
        let stacked = trees
            .tree(T::OnStack)
            .scan_prefix(u64k(r.seq))
            .next()
            .is_some();
        if live || stacked {
            p.protected.push(r.tag);
            continue;
        }
        for k in trees
            .tree(T::DepByRelease)
            .scan_prefix(u64k(r.seq))
            .map(|r| r.map(|(k, _)| k))
        {
            p.dep_keys.push(k.map_err(storage_error)?);
        }
        p.removed.push(r);
    }
    Ok(p)
}

impl SledStore {
    pub(crate) fn prune_impl(
        &self,
        keep: usize,
        dry_run: bool,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<PruneReport> {
        policy::authorize(caller, &Action::Prune)?;
        let report = |p: &Plan| PruneReport {
            removed: p.removed.iter().map(|r| r.tag.clone()).collect(),
            protected: p.protected.clone(),
            dry_run,
        };
        if dry_run {
            let g = self.reader();
            return Ok(report(&plan(&g.trees(), keep)?));
        }
        let caller = caller.clone();
        let p = self.submit(Mode::Exclusive, move |tx| {
            // Run alone: the plan (a scan) and the writes are one decision.
            let trees = tx.committed();
            let p = plan(&trees, keep)?;
            if p.removed.is_empty() {
                return Ok(p);
            }
            let envs = read::env_names(&trees)?;
            policy::authorize(&caller, &Action::Prune)?;
            for r in &p.removed {
                tx.del(T::Releases, u64k(r.seq))?;
                tx.put(
                    T::Tags,
                    tag_key(&r.tag).as_bytes(),
                    enc(&TagEntry::Pruned(r.seq))?,
                )?;
                tx.del(T::Digests, digest_u64(&r.digest, r.seq))?;
                write::drop_snapshot_ref(tx, &r.digest)?;
                tx.del(T::EverLive, u64k(r.seq))?;
                for env in &envs {
                    tx.del(T::Holds, env_u64(env, r.seq))?;
                    tx.del(T::WasLiveIn, env_u64(env, r.seq))?;
                    tx.del(T::VerifiedIn, env_u64(env, r.seq))?;
                }
            }
            for k in &p.dep_keys {
                tx.del(T::DepByRelease, k)?;
            }
            let count = read::meta_u64(tx, meta::RELEASE_COUNT)?;
            write::put_u64(
                tx,
                T::Meta,
                meta::RELEASE_COUNT,
                count.saturating_sub(p.removed.len() as u64),
            )?;
            let mut tags: Vec<&str> = p.removed.iter().take(20).map(|r| r.tag.as_str()).collect();
            let more = p.removed.len().saturating_sub(tags.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            tags.reverse();
            write::audit(
                tx,
                now,
                &caller.actor.name,
                "release.prune",
                &format!("kept the newest {keep}; removed {}{more}", tags.join(", ")),
            )?;
            crate::events::append(
                tx,
                &Change::ReleasesPruned {
                    removed: p.removed.iter().map(|r| r.tag.clone()).collect(),
                    actor: caller.actor.name.clone(),
                },
            )?;
            Ok(p)
        })?;
        Ok(report(&p))
    }
}
