//! Writes inside a transaction: counters, the audit chain, and content-addressed snapshots
//! with reference counts.

use std::collections::BTreeSet;

use rel_domain::audit;
use rel_domain::model::AuditEntry;
use rel_domain::snapshot::Snapshot;
use rel_domain::{Digest, Timestamp};

use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::trees::{T, Tx, TxError};

pub fn put_u64(tx: &Tx<'_>, t: T, key: &[u8], n: u64) -> Result<(), TxError> {
    tx.put(t, key, u64k(n))
}

/// Increment a `meta` counter and return the new value.
pub fn bump(tx: &Tx<'_>, key: &[u8]) -> Result<u64, TxError> {
    let n = read::meta_u64(tx, key)? + 1;
    put_u64(tx, T::Meta, key, n)?;
    Ok(n)
}

/// Append the next entry of the hash chain and move the head.
pub fn audit(
    tx: &Tx<'_>,
    now: Timestamp,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<AuditEntry, TxError> {
    let head = read::audit_head(tx)?;
    let e = audit::next_entry(head, now, actor, action, detail);
    tx.put(T::Audit, u64k(e.seq), enc(&e)?)?;
    tx.put(T::Meta, meta::AUDIT_HEAD, enc_plain(&(e.seq, e.hash))?)?;
    Ok(e)
}

/// Store a snapshot content-addressed and count one more release using it. Parts already
/// stored (shared with other releases) are not written again.
pub fn add_snapshot_ref(tx: &Tx<'_>, snap: &Snapshot) -> Result<(), TxError> {
    if let Some(mut rec) = read::manifest(tx, &snap.digest)? {
        rec.refs += 1;
        return tx.put(T::Manifests, snap.digest.0, enc(&rec)?);
    }
    let (manifest, parts) = snap.split();
    for (d, bytes) in &parts {
        let refs = tx.get_u64(T::BlobRefs, &d.0)?;
        if refs == 0 {
            tx.put(T::Blobs, d.0, bytes)?;
        }
        put_u64(tx, T::BlobRefs, &d.0, refs + 1)?;
    }
    tx.put(
        T::Manifests,
        snap.digest.0,
        enc(&ManifestRecord { manifest, refs: 1 })?,
    )
}

/// One release fewer uses `digest`; drop the manifest and any parts nobody uses any more.
pub fn drop_snapshot_ref(tx: &Tx<'_>, digest: &Digest) -> Result<(), TxError> {
    let Some(mut rec) = read::manifest(tx, digest)? else {
        return Ok(());
    };
    if rec.refs > 1 {
        rec.refs -= 1;
        return tx.put(T::Manifests, digest.0, enc(&rec)?);
    }
    tx.del(T::Manifests, digest.0)?;
    let parts: BTreeSet<Digest> = rec.manifest.part_digests().copied().collect();
    for d in parts {
        let refs = tx.get_u64(T::BlobRefs, &d.0)?;
        if refs <= 1 {
            tx.del(T::BlobRefs, d.0)?;
            tx.del(T::Blobs, d.0)?;
        } else {
            put_u64(tx, T::BlobRefs, &d.0, refs - 1)?;
        }
    }
    Ok(())
}

impl Tx<'_> {
    pub fn get_u64(&self, t: T, key: &[u8]) -> Result<u64, TxError> {
        use crate::trees::Kv;
        Ok(self.get(t, key)?.and_then(|v| read_u64(&v)).unwrap_or(0))
    }
}
