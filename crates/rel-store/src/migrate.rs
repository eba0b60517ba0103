//! Opening a store written by an older rel: keep a copy of the data dir, then migrate it in
//! place, one schema step at a time. A store from a newer rel is refused before anything is
//! touched (see `SledStore::open`).
//!
//! Steps:
//! - 1 → 2: the write-ahead log (`wal/`) and the `events` tree are new; both start empty, and
//!   no existing record changes. Only the schema number moves.

use std::path::{Path, PathBuf};

use crate::records::meta;
use crate::trees::{T, Trees, storage_error};

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
pub fn run(trees: &Trees, from: u64, to: u64) -> rel_domain::RelResult<()> {
    let mut at = from;
    while at < to {
        // Each step only rewrites what changed in its layout; 1 -> 2 changed nothing stored.
        at += 1;
        trees
            .tree(T::Meta)
            .insert(meta::SCHEMA, &crate::keys::u64k(at))
            .map_err(storage_error)?;
    }
    trees.db.flush().map_err(storage_error)?;
    Ok(())
}
