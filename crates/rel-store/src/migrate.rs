//! Opening a store written by an older rel: keep a copy of the data dir, then migrate it in
//! place, one schema step at a time. A store from a newer rel is refused before anything is
//! touched (see `SledStore::open`).
//!
//! Steps:
//! - 1 → 2: the write-ahead log (`wal/`) and the `events` tree are new; both start empty, and
//!   no existing record changes. Only the schema number moves.
//! - 2 → 3: record-tree values become `version byte ++ bincode` of the store's own record
//!   types (`stored.rs`) instead of bare bincode of the domain types. Any write-ahead log left
//!   by an unclean stop is replayed first (it holds old-format values). Each tree is rewritten
//!   in one sled transaction together with a `migrated3/TREE` marker in `meta`, so a crash
//!   mid-migration resumes without re-encoding a tree twice.

use std::path::{Path, PathBuf};

use rel_domain::rollback::Hold;
use rel_domain::{AuditEntry, Change, Deployment, Execution, RelError, RelResult, Release};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::records::{
    EnvRecord, EnvState, ExecWindow, ManifestRecord, Record, TagEntry, TokenRecord, dec_plain, enc,
    meta,
};
use crate::trees::{SledTrees as Trees, T, storage_error};

/// 2 → 3: re-encode every record tree (see the module docs).
fn to_versioned_records(dir: &Path, trees: &Trees) -> RelResult<()> {
    // A schema-2 store may hold acknowledged batches only in its log: apply them (in the old
    // format) before rewriting, and leave the log empty so nothing old is replayed later.
    let flush = || trees.db.flush().map(|_| ()).map_err(storage_error);
    crate::wal::Wal::open(&dir.join("wal"), trees, flush)
        .map_err(|e| RelError::internal(format!("replaying the write-ahead log: {e}")))?;
    reencode::<Release>(trees, T::Releases)?;
    reencode::<TagEntry>(trees, T::Tags)?;
    reencode::<ManifestRecord>(trees, T::Manifests)?;
    reencode::<EnvRecord>(trees, T::Envs)?;
    reencode::<EnvState>(trees, T::EnvState)?;
    reencode::<Hold>(trees, T::Holds)?;
    reencode::<Deployment>(trees, T::Deployments)?;
    reencode::<AuditEntry>(trees, T::Audit)?;
    reencode::<Execution>(trees, T::Executions)?;
    reencode::<ExecWindow>(trees, T::ExecWindow)?;
    reencode::<TokenRecord>(trees, T::Tokens)?;
    reencode::<Change>(trees, T::Events)
}

fn reencode<R: Record + serde::de::DeserializeOwned>(trees: &Trees, t: T) -> RelResult<()> {
    let marker = format!("migrated3/{}", t.name());
    let meta_tree = trees.tree(T::Meta);
    if meta_tree.get(&marker).map_err(storage_error)?.is_some() {
        return Ok(());
    }
    let tree = trees.tree(t);
    let mut batch = sled::Batch::default();
    for kv in tree.iter() {
        let (k, v) = kv.map_err(storage_error)?;
        let what = format!("{} (key {})", t.name(), hex(&k));
        // Schemas 1 and 2 stored bare bincode of the (then identical) domain types.
        let old: R = dec_plain(&what, &v)?;
        batch.insert(k, enc(&old)?);
    }
    (tree, meta_tree)
        .transaction(|(tree, meta_tree)| {
            tree.apply_batch(&batch)?;
            meta_tree.insert(marker.as_bytes(), &b"1"[..])?;
            Ok::<(), ConflictableTransactionError<()>>(())
        })
        .map_err(|e| match e {
            TransactionError::Storage(e) => storage_error(e),
            TransactionError::Abort(()) => RelError::internal("migration aborted"),
        })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Copy `dir` to a sibling `DIR.schema{from}-backup` (or `…-backup-2`, …: never overwritten).
pub fn keep_copy(dir: &Path, from: u64) -> std::io::Result<PathBuf> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let base = dir.with_file_name(format!("{name}.schema{from}-backup"));
    let mut target = base.clone();
    let mut n = 2;
    while target.exists() {
        target = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    copy_dir(dir, &target)?;
    Ok(target)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    std::fs::File::open(to)?.sync_all()
}

/// Run every step from `from` up to `to`, then make it durable.
pub fn run(dir: &Path, trees: &Trees, from: u64, to: u64) -> RelResult<()> {
    let mut at = from;
    while at < to {
        // Each step only rewrites what changed in its layout; 1 -> 2 changed nothing stored.
        at += 1;
        if at == 3 {
            to_versioned_records(dir, trees)?;
        }
        trees
            .tree(T::Meta)
            .insert(meta::SCHEMA, &crate::keys::u64k(at))
            .map_err(storage_error)?;
    }
    trees.db.flush().map_err(storage_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::u64k;
    use crate::records::{dec, enc_plain};
    use rel_domain::{Digest, Timestamp};

    /// A crash after some trees were rewritten: the rerun skips them (a second re-encode would
    /// read a versioned record as an old one) and finishes the rest.
    #[test]
    fn a_partly_done_2_to_3_step_resumes_without_re_encoding_twice() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let trees = Trees::open(sled::open(tmp.path().join("db")).expect("sled")).expect("trees");
        let release = Release {
            seq: 1,
            tag: "v1".into(),
            description: String::new(),
            created_at: Timestamp(1),
            created_by: "ana".into(),
            digest: Digest([2; 32]),
        };
        let old = |t: T, k: &[u8], v: Vec<u8>| trees.tree(t).insert(k, v).expect("insert");
        old(T::Releases, &u64k(1), enc_plain(&release).expect("enc"));
        old(T::Tags, b"v1", enc_plain(&TagEntry::Live(1)).expect("enc"));
        reencode::<Release>(&trees, T::Releases).expect("first tree");
        to_versioned_records(tmp.path(), &trees).expect("the rest");
        let get = |t: T, k: &[u8]| trees.tree(t).get(k).expect("get").expect("present");
        let back: Release = dec("release", &get(T::Releases, &u64k(1))).expect("release");
        assert_eq!(back, release);
        let tag: TagEntry = dec("tag", &get(T::Tags, b"v1")).expect("tag");
        assert_eq!(tag, TagEntry::Live(1));
    }

    #[test]
    fn an_undecodable_old_record_stops_the_step_naming_tree_and_key() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let trees = Trees::open(sled::open(tmp.path().join("db")).expect("sled")).expect("trees");
        trees
            .tree(T::Deployments)
            .insert(u64k(7), &[0xff][..])
            .expect("insert");
        let err = to_versioned_records(tmp.path(), &trees)
            .expect_err("garbage")
            .to_string();
        assert!(err.contains("deployments (key 0000000000000007)"), "{err}");
    }
}
