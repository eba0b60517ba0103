//! The write-ahead log: how a committed batch becomes durable before anyone can see it.
//!
//! The writer thread appends each batch's blind writes as one record to the current segment
//! (`DIR/wal/NNNN.log`), `fdatasync`s it when the batch holds a change that must be durable
//! before its answer, and only then applies the writes to sled. So sled, and every read of it,
//! only ever holds changes that are already in the log: a read never sees state a crash
//! could undo, and never waits for a flush.
//!
//! sled's own log is flushed in the background (a checkpoint): once a flush that started
//! after a segment's last record was applied has completed (and sled's log file was
//! `fdatasync`ed), that segment is deleted. On open, every remaining segment is replayed in
//! order (blind writes, so replaying what sled already has is harmless); a torn record at the
//! end of the last segment (a crash mid-append, never acknowledged) is cut off.
//!
//! Segments grow in zeroed chunks of [`GROW_BYTES`] written ahead of the records: an
//! `fdatasync` of a file whose size did not change flushes only data, not a journal commit
//! of the file's metadata, which on ext4 is what makes a sync of an appending file slow. A
//! zero length marks the end of the records.
//!
//! Record: `len: u32 LE | check: first 8 bytes of blake3(payload) | payload`; payload:
//! `count: u32`, then per write `tree: u8 | key_len: u32 | key | 0 (delete) or 1 value_len: u32 value`.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sled::IVec;

use crate::trees::{SledTrees as Trees, T, WriteSet};

/// A segment is closed and checkpointed once it grows past this.
pub const SEGMENT_BYTES: u64 = 32 << 20;
/// Zeroes written ahead of the records at a time.
pub const GROW_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("write-ahead log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write-ahead log {} is corrupt at byte {offset} and later segments exist; restore the data dir from a backup or an export", path.display())]
    Corrupt { path: PathBuf, offset: u64 },
    #[error("replaying the write-ahead log into the store failed: {0}")]
    Apply(rel_domain::RelError),
}

pub struct Wal {
    dir: PathBuf,
    seg: u64,
    /// Shared with the writer's syncer thread, which `fdatasync`s it while the writer
    /// appends the next batch.
    file: Arc<File>,
    /// End of the records.
    len: u64,
    /// Size of the file (zeroes from `len` on).
    allocated: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn seg_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.log"))
}

/// Segment numbers present in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>, WalError> {
    numbered_files(dir, ".log").map_err(io(dir))
}

/// The numbers `N` of the files `N{suffix}` in `dir`, ascending (log and execution-log
/// segments); other files are ignored.
pub(crate) fn numbered_files(dir: &Path, suffix: &str) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_suffix(suffix))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

pub fn encode(w: &WriteSet) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 * w.len() + 16);
    p.extend_from_slice(&(w.len() as u32).to_le_bytes());
    for ((t, k), v) in &w.map {
        p.push(*t as u8);
        p.extend_from_slice(&(k.len() as u32).to_le_bytes());
        p.extend_from_slice(k);
        match v {
            None => p.push(0),
            Some(v) => {
                p.push(1);
                p.extend_from_slice(&(v.len() as u32).to_le_bytes());
                p.extend_from_slice(v);
            }
        }
    }
    let mut rec = Vec::with_capacity(p.len() + 12);
    rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
    rec.extend_from_slice(&blake3::hash(&p).as_bytes()[..8]);
    rec.extend_from_slice(&p);
    rec
}

/// Parse the record at the start of `b`: the writes and the record's length, or `None` if it
/// is torn or does not check out.
fn decode(b: &[u8]) -> Option<(WriteSet, usize)> {
    let len = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let check = b.get(4..12)?;
    let p = b.get(12..12 + len)?;
    if &blake3::hash(p).as_bytes()[..8] != check {
        return None;
    }
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = p.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let u32_of =
        |s: &[u8]| -> Option<usize> { Some(u32::from_le_bytes(s.try_into().ok()?) as usize) };
    let count = u32_of(take(4)?)?;
    let mut w = WriteSet::default();
    for _ in 0..count {
        let t = T::from_index(take(1)?[0])?;
        let klen = u32_of(take(4)?)?;
        let k = take(klen)?.to_vec();
        let v = match take(1)?[0] {
            0 => None,
            1 => {
                let vlen = u32_of(take(4)?)?;
                Some(IVec::from(take(vlen)?))
            }
            _ => return None,
        };
        w.map.insert((t, k), v);
    }
    Some((w, 12 + len))
}

impl Wal {
    /// Replay whatever the log holds into `trees`, make sled durable, delete the replayed
    /// segments and start a fresh one. Returns the log and how many batches were replayed.
    pub fn open(
        dir: &Path,
        trees: &Trees,
        sync_sled: impl Fn() -> Result<(), rel_domain::RelError>,
    ) -> Result<(Wal, u64), WalError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let segs = segments(dir)?;
        let mut replayed = 0u64;
        for (i, n) in segs.iter().enumerate() {
            let path = seg_path(dir, *n);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(io(&path))?;
            let mut at = 0usize;
            while at < bytes.len() {
                if bytes.get(at..at + 4).is_none_or(|l| l == [0u8; 4]) {
                    // The zeroed space ahead of the records: the end.
                    break;
                }
                match decode(&bytes[at..]) {
                    Some((w, used)) => {
                        trees.apply(&w).map_err(WalError::Apply)?;
                        replayed += 1;
                        at += used;
                    }
                    None if i + 1 == segs.len() => {
                        // A crash mid-append: this record was never acknowledged.
                        tracing::warn!(segment = %path.display(), offset = at, cut = bytes.len() - at, "write-ahead log: cut off a torn record at the end");
                        break;
                    }
                    None => {
                        return Err(WalError::Corrupt {
                            path,
                            offset: at as u64,
                        });
                    }
                }
            }
        }
        if replayed > 0 {
            tracing::info!(
                batches = replayed,
                "write-ahead log replayed after an unclean stop"
            );
        }
        sync_sled().map_err(WalError::Apply)?;
        let next = segs.last().map(|n| n + 1).unwrap_or(1);
        let wal = Wal::create(dir, next)?;
        for n in segs {
            let p = seg_path(dir, n);
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
        sync_dir(dir)?;
        Ok((wal, replayed))
    }

    fn create(dir: &Path, seg: u64) -> Result<Wal, WalError> {
        let path = seg_path(dir, seg);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut wal = Wal {
            dir: dir.to_path_buf(),
            seg,
            file: Arc::new(file),
            len: 0,
            allocated: 0,
        };
        wal.grow(GROW_BYTES).map_err(io(&path))?;
        sync_dir(dir)?;
        Ok(wal)
    }

    /// Make the file at least `need` bytes, zero-filled, in `GROW_BYTES` steps, and sync it
    /// (so the syncs of the records written into it do not change the file's size).
    fn grow(&mut self, need: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        if need <= self.allocated {
            return Ok(());
        }
        let target = need.div_ceil(GROW_BYTES) * GROW_BYTES;
        let zeros = vec![0u8; (target - self.allocated) as usize];
        self.file.write_all_at(&zeros, self.allocated)?;
        self.file.sync_data()?;
        self.allocated = target;
        Ok(())
    }

    /// Append one batch (written, not yet synced: it survives the process being killed, not
    /// yet power loss). On failure the segment is cut back to before the record; if even that
    /// fails the error says so (`Err(true)`: the log may hold a partial record).
    pub fn append(&mut self, w: &WriteSet) -> Result<(), (std::io::Error, bool)> {
        use std::os::unix::fs::FileExt;
        let rec = encode(w);
        let written = self
            .grow(self.len + rec.len() as u64)
            .and_then(|()| self.file.write_all_at(&rec, self.len));
        match written {
            Ok(()) => {
                self.len += rec.len() as u64;
                Ok(())
            }
            Err(e) => {
                let len = self.len;
                let cut = self.cut_to(len);
                Err((e, cut.is_err()))
            }
        }
    }

    /// Length before the last append, to cut a batch whose sync failed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Forget everything after `len` (a record whose sync failed): the file is cut there, so
    /// no replay can see it; the next append grows it again.
    pub fn cut_to(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.len = len;
        self.allocated = len;
        Ok(())
    }

    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Tests of the failure paths: from now on appends succeed but every sync and every cut
    /// fails (`/dev/null` takes writes; `fdatasync` and `ftruncate` on it are EINVAL).
    #[cfg(test)]
    pub(crate) fn fail_syncs_and_cuts(&mut self) {
        let null = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .expect("/dev/null");
        self.file = Arc::new(null);
        // No growing: that would sync too.
        self.allocated = u64::MAX / 2;
    }

    /// The current segment's file, for a sync on another thread: it covers every record
    /// appended before the sync starts.
    pub fn file(&self) -> Arc<File> {
        Arc::clone(&self.file)
    }

    pub fn is_full(&self) -> bool {
        self.len >= SEGMENT_BYTES
    }

    /// Start a new segment; returns the paths of the segments before it (to delete once a
    /// checkpoint covers them).
    pub fn rotate(&mut self) -> Result<Vec<PathBuf>, WalError> {
        let next = Wal::create(&self.dir, self.seg + 1)?;
        let old = std::mem::replace(self, next);
        drop(old);
        Ok(segments(&self.dir)?
            .into_iter()
            .filter(|n| *n < self.seg)
            .map(|n| seg_path(&self.dir, n))
            .collect())
    }

    pub fn path(&self) -> PathBuf {
        seg_path(&self.dir, self.seg)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Delete checkpointed segments (after sled's flush covered them).
pub fn remove(dir: &Path, old: &[PathBuf]) -> Result<(), WalError> {
    for p in old {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(p)(e)),
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_torn_ones_are_rejected() {
        let mut w = WriteSet::default();
        w.map
            .insert((T::Meta, b"a".to_vec()), Some(IVec::from(&b"1"[..])));
        w.map.insert((T::Deployments, vec![0, 1]), None);
        let rec = encode(&w);
        let (back, used) = decode(&rec).expect("decodes");
        assert_eq!(used, rec.len());
        assert_eq!(back.map, w.map);
        assert!(decode(&rec[..rec.len() - 1]).is_none(), "torn");
        let mut bad = rec.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode(&bad).is_none(), "bit flip");
    }
}
