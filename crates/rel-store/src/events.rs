//! Change events: written by the transaction that makes the change, with a store-wide seq, so
//! their order is commit order and they are exactly as durable as the change. The writer
//! hands each durable batch's events to the sink in seq order; `changes_since` replays them
//! for a subscriber that resumes.
//!
//! Retention: the newest [`KEEP`] events are kept; appending event `n` deletes event
//! `n - KEEP` (one point delete, so the tree never grows past `KEEP`).

use rel_domain::RelResult;
use rel_domain::model::{Change, ChangeEvent, Execution};

use crate::keys::*;
use crate::records::{dec, enc, meta};
use crate::trees::{T, Trees, Tx, TxError, WriteSet};
use crate::{exec, read, write};

pub const KEEP: u64 = 100_000;

/// Record `change` as the next event of this transaction.
pub fn append(tx: &Tx<'_>, change: &Change) -> Result<u64, TxError> {
    let seq = write::bump(tx, meta::LAST_EVENT)?;
    tx.put(T::Events, u64k(seq), enc(change)?)?;
    if seq > KEEP {
        tx.del(T::Events, u64k(seq - KEEP))?;
    }
    Ok(seq)
}

/// The events a committed batch wrote, in seq order (the write set is ordered by key).
pub fn in_batch(w: &WriteSet) -> Vec<ChangeEvent> {
    w.map
        .range((T::Events, Vec::new())..)
        .take_while(|((t, _), _)| *t == T::Events)
        .filter_map(|((_, k), v)| {
            let seq = read_u64(k)?;
            let change = dec("event", v.as_ref()?).ok()?;
            Some(ChangeEvent { seq, change })
        })
        .collect()
}

pub fn since(trees: &Trees, after: u64, limit: usize) -> RelResult<Vec<ChangeEvent>> {
    let mut out = Vec::new();
    for item in trees.tree(T::Events).range(u64k(after.saturating_add(1))..) {
        if out.len() >= limit {
            break;
        }
        let (k, v) = item.map_err(crate::trees::storage_error)?;
        let Some(seq) = read_u64(&k) else { continue };
        out.push(ChangeEvent {
            seq,
            change: dec("event", &v)?,
        });
    }
    Ok(out)
}

pub fn last(trees: &Trees) -> RelResult<u64> {
    read::meta_u64(trees, meta::LAST_EVENT)
}

/// Append an execution log and its `ExecutionFinished` event.
pub fn append_execution(tx: &Tx<'_>, e: &Execution, retention: usize) -> Result<u64, TxError> {
    let id = exec::append_tx(tx, e, retention)?;
    append(
        tx,
        &Change::ExecutionFinished {
            id,
            env: e.env.clone(),
            endpoint: e.endpoint.clone(),
            release: e.release.clone(),
            status: e.status,
        },
    )?;
    Ok(id)
}
