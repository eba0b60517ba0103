//! Execution logs of the sled backend, kept outside sled (issue 7, item 6): every trigger
//! writes one, so they must cost a `write()`, not a transaction through the store's writer.
//!
//! Append-only segment files in `DATA_DIR/execlog/` (`segment.rs`), written in batches:
//! the first appender to find no batch in progress writes everything queued in one
//! `write()` (others queue meanwhile and ride along with the next), and each append is
//! answered once its batch is written (in the page cache: it survives kill -9). A thread of
//! its own starts new segments and reserves ids; another `fdatasync`s within
//! [`SYNC_EVERY`] of a write: that is the window power loss can take.
//! An in-memory index (`index.rs`) finds a log by id and each environment's logs in order;
//! the retention is a per-environment floor written as a frame of its own, so a trimmed log
//! stays trimmed after a restart. A segment no kept log uses is deleted; one that is mostly
//! dead has its kept logs copied to the newest segment first (compaction).
//!
//! Ids are handed out in blocks reserved durably in `execlog/ids` (hi/lo): after a crash
//! the next id is above anything that could have been handed out, so an id is never reused
//! even when power loss takes logs that were answered. A clean close records the exact
//! next id, so a restart leaves no gap.
//!
//! `ExecutionFinished` events go to the change sink as live notices with seq 0: they are
//! not part of the store's stored change sequence (`changes_since` does not replay them).

mod index;
mod segment;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rel_domain::model::{Change, ChangeEvent, ExecQuery, Execution};
use rel_domain::store::ChangeSink;
use rel_domain::{RelError, RelResult};

use crate::records::{dec, enc};
use index::{Index, Loc, Seg};

/// Answers one append: the log's id, once written.
pub type Done = Box<dyn FnOnce(RelResult<u64>) + Send>;

/// A segment takes no more batches once this big.
const SEGMENT_BYTES: u64 = 16 << 20;
/// A written log is synced to disk within this (the power-loss window).
pub const SYNC_EVERY: Duration = Duration::from_millis(50);
/// Ids reserved durably at a time; a crash skips at most this many.
const ID_BLOCK: u64 = 16_384;
/// Logs read per index lookup when listing (the writer waits for the index only that long).
const READ_CHUNK: usize = 64;
/// Largest write when taking logs over from sled or an import.
const TAKE_OVER_CHUNK: usize = 4 << 20;

struct Pending {
    id: u64,
    exec: Execution,
    retention: usize,
    done: Done,
}

struct Queue {
    /// The next id to hand out.
    next: u64,
    /// Ids below this are reserved durably.
    hi: u64,
    pending: Vec<Pending>,
    /// Someone (an appender, or the writer thread) is writing a batch: appends queue for it.
    busy: bool,
    closing: bool,
}

/// The segment being appended to and the id reservation: the writer thread's, held for a
/// batch (and by the rare callers that rewrite the log: take-over, clear).
struct Active {
    seg: u64,
    file: Arc<File>,
    size: u64,
    ids: File,
    /// What `ids` says.
    hi: u64,
}

struct Shared {
    dir: PathBuf,
    q: Mutex<Queue>,
    /// The writer waits on it for work.
    wake: Condvar,
    /// Appenders wait on it for ids.
    room: Condvar,
    active: Mutex<Active>,
    index: RwLock<Index>,
    /// Written since the last sync; the file the syncer syncs.
    dirty: AtomicBool,
    sync_file: Mutex<Arc<File>>,
    closing: AtomicBool,
    /// Set when a write or sync failed: appends are refused from then on.
    broken: Mutex<Option<String>>,
    sink: Arc<RwLock<Option<ChangeSink>>>,
}

pub struct ExecLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    syncer: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn io_error(dir: &Path, what: &str, e: &std::io::Error) -> RelError {
    RelError::unavailable(format!(
        "execution log: cannot {what} in {} ({e}); check the disk",
        dir.display()
    ))
}

fn open_segment(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(create)
        .open(path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A new segment, starting with every environment's floor (so the floors survive the
/// deletion of the segments that first recorded them).
fn new_segment(dir: &Path, n: u64, floors: &[(String, u64)]) -> std::io::Result<(Arc<File>, u64)> {
    let mut f = open_segment(&dir.join(segment::file_name(n)), true)?;
    let mut head = Vec::new();
    for (env, floor) in floors {
        segment::push_floor(&mut head, env, *floor);
    }
    f.write_all(&head)?;
    f.sync_data()?;
    sync_dir(dir)?;
    Ok((Arc::new(f), head.len() as u64))
}

fn write_hi(ids: &File, hi: u64) -> std::io::Result<()> {
    // 8 bytes at offset 0: one sector, written whole or not at all.
    ids.write_all_at(&hi.to_le_bytes(), 0)?;
    ids.sync_data()
}

impl ExecLog {
    /// Open (creating) the log in `dir`; ids start at `min_next` at least.
    pub fn open(
        dir: &Path,
        min_next: u64,
        sink: Arc<RwLock<Option<ChangeSink>>>,
    ) -> std::io::Result<ExecLog> {
        std::fs::create_dir_all(dir)?;
        let mut ix = Index::default();
        let segs = segment::list(dir)?;
        for (i, n) in segs.iter().enumerate() {
            let path = dir.join(segment::file_name(*n));
            let bytes = std::fs::read(&path)?;
            let (frames, intact) = segment::scan(&bytes);
            let file = open_segment(&path, false)?;
            if intact < bytes.len() {
                if i + 1 == segs.len() {
                    // The tail of the last batch a crash cut short: never answered.
                    tracing::warn!(segment = %path.display(), dropped = bytes.len() - intact,
                        "execution log: dropping the torn end of the last segment");
                    file.set_len(intact as u64)?;
                } else {
                    tracing::error!(segment = %path.display(), at = intact,
                        "execution log: a segment is damaged; the logs after that point in it are skipped");
                }
            }
            ix.segs.insert(
                *n,
                Seg {
                    file: Arc::new(file),
                    size: intact as u64,
                    live: 0,
                    live_bytes: 0,
                },
            );
            for f in frames {
                match f {
                    segment::Frame::Exec {
                        id,
                        env,
                        record_at,
                        record_len,
                    } => ix.insert(
                        id,
                        env,
                        Loc {
                            seg: *n,
                            at: record_at as u64,
                            len: record_len,
                        },
                    ),
                    segment::Frame::Floor { env, floor } => ix.set_floor(env, floor),
                }
            }
        }
        let (seg, file, size) = match ix.segs.iter().next_back() {
            Some((n, s)) if s.size < SEGMENT_BYTES => (*n, Arc::clone(&s.file), s.size),
            last => {
                let n = last.map_or(1, |(n, _)| n + 1);
                let (file, size) = new_segment(dir, n, &floors_of(&ix))?;
                ix.segs.insert(
                    n,
                    Seg {
                        file: Arc::clone(&file),
                        size,
                        live: 0,
                        live_bytes: 0,
                    },
                );
                (n, file, size)
            }
        };
        let ids_path = dir.join("ids");
        let fresh = !ids_path.exists();
        let ids = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&ids_path)?;
        let mut word = [0u8; 8];
        let stored_hi = match ids.read_exact_at(&mut word, 0) {
            Ok(()) => u64::from_le_bytes(word),
            Err(_) => 0,
        };
        let next = stored_hi.max(ix.last_id() + 1).max(min_next).max(1);
        let hi = next + ID_BLOCK;
        write_hi(&ids, hi)?;
        if fresh {
            sync_dir(dir)?;
        }
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            q: Mutex::new(Queue {
                next,
                hi,
                pending: Vec::new(),
                busy: false,
                closing: false,
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
            active: Mutex::new(Active {
                seg,
                file: Arc::clone(&file),
                size,
                ids,
                hi,
            }),
            index: RwLock::new(ix),
            dirty: AtomicBool::new(false),
            sync_file: Mutex::new(file),
            closing: AtomicBool::new(false),
            broken: Mutex::new(None),
            sink,
        });
        let s = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("rel-execlog".into())
            .spawn(move || writer_loop(&s))?;
        let s = Arc::clone(&shared);
        let syncer = std::thread::Builder::new()
            .name("rel-execlog-sync".into())
            .stack_size(128 << 10)
            .spawn(move || syncer_loop(&s))?;
        Ok(ExecLog {
            shared,
            writer: Some(writer),
            syncer: Some(syncer),
        })
    }

    /// Queue `exec` (its id is set here); `done` gets the id once the log is written. When
    /// no batch is being written, the caller writes this one itself (one `write()` to the
    /// page cache, no thread hop: on a busy host the hop cost more than the write); otherwise
    /// the batch being written picks it up. Never syncs or starts a segment: the writer
    /// thread does those.
    pub fn append(&self, exec: Execution, retention: usize, done: Done) {
        let sh = &self.shared;
        if let Some(why) = lock(&sh.broken).clone() {
            done(Err(RelError::unavailable(why)));
            return;
        }
        let mut q = lock(&sh.q);
        loop {
            if q.closing {
                drop(q);
                done(Err(RelError::unavailable(
                    "the execution log is closed (releasd is shutting down)",
                )));
                return;
            }
            if q.next < q.hi {
                break;
            }
            // Out of reserved ids: the writer reserves more.
            sh.wake.notify_one();
            q = sh.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        let id = q.next;
        q.next += 1;
        q.pending.push(Pending {
            id,
            exec,
            retention,
            done,
        });
        if q.busy {
            return;
        }
        q.busy = true;
        let batch = std::mem::take(&mut q.pending);
        drop(q);
        drain(sh, batch, true);
    }

    /// [`ExecLog::append`], waiting for the answer; `durable`: and for a sync of it.
    pub fn append_wait(&self, exec: &Execution, retention: usize, durable: bool) -> RelResult<u64> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.append(
            exec.clone(),
            retention,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        let id = rx.recv().unwrap_or_else(|_| {
            Err(RelError::internal(
                "execution log: the writer stopped without answering; see the releasd log",
            ))
        })?;
        if durable {
            // The segment it went to is the current one, or was synced when it was closed.
            let file = Arc::clone(&lock(&self.shared.sync_file));
            file.sync_data()
                .map_err(|e| io_error(&self.shared.dir, "sync", &e))?;
        }
        Ok(id)
    }

    pub fn get(&self, id: u64) -> RelResult<Option<Execution>> {
        let found = {
            let ix = self.index();
            ix.by_id.get(&id).and_then(|e| {
                ix.segs
                    .get(&e.loc.seg)
                    .map(|s| (e.loc, Arc::clone(&s.file)))
            })
        };
        match found {
            Some((loc, file)) => self.read(&file, loc).map(Some),
            None => Ok(None),
        }
    }

    /// Newest first, filtered, like the sled trees answered.
    pub fn list(&self, q: &ExecQuery) -> RelResult<Vec<Execution>> {
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        let mut below = q.before_id.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        while out.len() < limit {
            let chunk = self.chunk(q.env.as_deref(), below, true);
            let Some((last, _, _)) = chunk.last() else {
                break;
            };
            below = *last;
            for (_, loc, file) in chunk {
                let e = self.read(&file, loc)?;
                if q.endpoint.as_ref().is_none_or(|p| &e.endpoint == p) {
                    out.push(e);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every kept log, oldest first (export), read a chunk at a time.
    pub fn for_each(&self, mut f: impl FnMut(Execution) -> RelResult<()>) -> RelResult<()> {
        let mut above = 0;
        loop {
            let chunk = self.chunk(None, above, false);
            let Some((last, _, _)) = chunk.last() else {
                return Ok(());
            };
            above = *last;
            for (_, loc, file) in chunk {
                f(self.read(&file, loc)?)?;
            }
        }
    }

    /// The newest id handed out (0: none yet).
    pub fn last_id(&self) -> u64 {
        lock(&self.shared.q).next - 1
    }

    /// Up to [`READ_CHUNK`] logs below `bound` (newest first) or above it (oldest first).
    fn chunk(
        &self,
        env: Option<&str>,
        bound: u64,
        newest_first: bool,
    ) -> Vec<(u64, Loc, Arc<File>)> {
        let ix = self.index();
        let place = |id: u64| {
            let e = ix.by_id.get(&id)?;
            let s = ix.segs.get(&e.loc.seg)?;
            Some((id, e.loc, Arc::clone(&s.file)))
        };
        match (env, newest_first) {
            (Some(env), true) => ix.by_env.get(env).map_or_else(Vec::new, |ids| {
                let end = ids.partition_point(|x| *x < bound);
                ids.range(..end)
                    .rev()
                    .take(READ_CHUNK)
                    .filter_map(|id| place(*id))
                    .collect()
            }),
            (Some(env), false) => ix.by_env.get(env).map_or_else(Vec::new, |ids| {
                let start = ids.partition_point(|x| *x <= bound);
                ids.range(start..)
                    .take(READ_CHUNK)
                    .filter_map(|id| place(*id))
                    .collect()
            }),
            (None, true) => ix
                .by_id
                .range(..bound)
                .rev()
                .take(READ_CHUNK)
                .filter_map(|(id, _)| place(*id))
                .collect(),
            (None, false) => ix
                .by_id
                .range(bound.saturating_add(1)..)
                .take(READ_CHUNK)
                .filter_map(|(id, _)| place(*id))
                .collect(),
        }
    }

    fn read(&self, file: &File, loc: Loc) -> RelResult<Execution> {
        let mut buf = vec![0u8; loc.len as usize];
        file.read_exact_at(&mut buf, loc.at)
            .map_err(|e| io_error(&self.shared.dir, "read a log", &e))?;
        dec("execution", &buf)
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.shared.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write logs that already have ids (taken over from sled, or imported), synced before
    /// this returns; ids continue above them.
    pub fn take_over(
        &self,
        execs: &mut dyn Iterator<Item = RelResult<Execution>>,
    ) -> RelResult<usize> {
        let sh = &self.shared;
        let mut a = lock(&sh.active);
        let mut count = 0;
        let mut top = 0;
        loop {
            let mut buf = Vec::new();
            let mut placed: Vec<(u64, String, Loc)> = Vec::new();
            let base = a.size;
            for e in &mut *execs {
                let e = e?;
                let rec = enc(&e)?;
                let (at, len) = segment::push_exec(&mut buf, e.id, &e.env, &rec);
                let loc = Loc {
                    seg: a.seg,
                    at: base + at as u64,
                    len,
                };
                top = top.max(e.id);
                placed.push((e.id, e.env, loc));
                if buf.len() >= TAKE_OVER_CHUNK {
                    break;
                }
            }
            if placed.is_empty() {
                break;
            }
            count += placed.len();
            a.file
                .as_ref()
                .write_all(&buf)
                .and_then(|()| a.file.sync_data())
                .map_err(|e| io_error(&sh.dir, "write", &e))?;
            a.size += buf.len() as u64;
            {
                let mut ix = sh.index.write().unwrap_or_else(|p| p.into_inner());
                if let Some(s) = ix.segs.get_mut(&a.seg) {
                    s.size = a.size;
                }
                for (id, env, loc) in placed {
                    ix.insert(id, &env, loc);
                }
            }
            if a.size >= SEGMENT_BYTES {
                roll(sh, &mut a).map_err(|e| io_error(&sh.dir, "start a segment", &e))?;
            }
        }
        let mut q = lock(&sh.q);
        q.next = q.next.max(top + 1);
        let want = q.next + ID_BLOCK;
        drop(q);
        if a.hi < want {
            write_hi(&a.ids, want).map_err(|e| io_error(&sh.dir, "reserve ids", &e))?;
            a.hi = want;
            lock(&sh.q).hi = want;
            sh.room.notify_all();
        }
        Ok(count)
    }

    /// Forget every log (an import replaces them); ids keep counting up.
    pub fn clear(&self) -> RelResult<()> {
        let sh = &self.shared;
        let mut a = lock(&sh.active);
        let old: Vec<u64> = {
            let mut ix = sh.index.write().unwrap_or_else(|p| p.into_inner());
            let old = ix.segs.keys().copied().collect();
            *ix = Index::default();
            old
        };
        start_next(sh, &mut a, &[]).map_err(|e| io_error(&sh.dir, "start a segment", &e))?;
        for s in old {
            let _ = std::fs::remove_file(sh.dir.join(segment::file_name(s)));
        }
        Ok(())
    }
}

impl Drop for ExecLog {
    fn drop(&mut self) {
        let sh = &self.shared;
        lock(&sh.q).closing = true;
        sh.wake.notify_all();
        sh.room.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        sh.closing.store(true, Ordering::SeqCst);
        if let Some(s) = self.syncer.take() {
            s.thread().unpark();
            let _ = s.join();
        }
        let a = lock(&sh.active);
        let next = lock(&sh.q).next;
        // Everything written is synced; the exact next id spares a clean restart a gap.
        if let Err(e) = a.file.sync_data().and_then(|()| write_hi(&a.ids, next)) {
            tracing::error!(error = %e, "execution log: the final sync failed");
        }
    }
}

fn floors_of(ix: &Index) -> Vec<(String, u64)> {
    ix.floors
        .iter()
        .map(|(env, f)| (env.to_string(), *f))
        .collect()
}

/// Close the active segment (synced) and start the next.
fn roll(sh: &Shared, a: &mut Active) -> std::io::Result<()> {
    a.file.sync_data()?;
    let floors = floors_of(&sh.index.read().unwrap_or_else(|p| p.into_inner()));
    start_next(sh, a, &floors)
}

/// Start segment `a.seg + 1` (with `floors` at its head), index it and make it the active
/// one, also for the syncer.
fn start_next(sh: &Shared, a: &mut Active, floors: &[(String, u64)]) -> std::io::Result<()> {
    let n = a.seg + 1;
    let (file, size) = new_segment(&sh.dir, n, floors)?;
    sh.index
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .segs
        .insert(
            n,
            Seg {
                file: Arc::clone(&file),
                size,
                live: 0,
                live_bytes: 0,
            },
        );
    *lock(&sh.sync_file) = Arc::clone(&file);
    a.seg = n;
    a.file = file;
    a.size = size;
    Ok(())
}

fn writer_loop(sh: &Shared) {
    loop {
        let batch = {
            let mut q = lock(&sh.q);
            loop {
                let work = !q.pending.is_empty() && !q.busy;
                let low = q.hi.saturating_sub(q.next) < ID_BLOCK / 2;
                if work || low || (q.closing && !q.busy) {
                    break;
                }
                q = sh.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.closing && q.pending.is_empty() && !q.busy {
                return;
            }
            if q.busy || q.pending.is_empty() {
                // Woken for ids, or someone else is writing.
                Vec::new()
            } else {
                q.busy = true;
                std::mem::take(&mut q.pending)
            }
        };
        if !batch.is_empty() {
            drain(sh, batch, false);
        }
        reserve_ids(sh, &mut lock(&sh.active));
    }
}

/// Write `batch`, then whatever queued meanwhile, until the queue is empty; the caller set
/// `busy` and this clears it. An appender (`inline`) leaves what needs the disk's attention
/// (a new segment, more ids) to the writer thread.
fn drain(sh: &Shared, mut batch: Vec<Pending>, inline: bool) {
    let mut a = lock(&sh.active);
    loop {
        if inline && a.size >= SEGMENT_BYTES {
            let mut q = lock(&sh.q);
            batch.append(&mut q.pending);
            q.pending = batch;
            q.busy = false;
            drop(q);
            sh.wake.notify_one();
            return;
        }
        write_batch(sh, &mut a, batch);
        let mut q = lock(&sh.q);
        if q.pending.is_empty() {
            q.busy = false;
            let low = q.hi.saturating_sub(q.next) < ID_BLOCK / 2;
            let closing = q.closing;
            drop(q);
            if low || closing || !inline {
                sh.wake.notify_one();
            }
            return;
        }
        batch = std::mem::take(&mut q.pending);
    }
}

fn reserve_ids(sh: &Shared, a: &mut Active) {
    let next = lock(&sh.q).next;
    if a.hi.saturating_sub(next) >= ID_BLOCK / 2 {
        return;
    }
    let hi = next + ID_BLOCK;
    match write_hi(&a.ids, hi) {
        Ok(()) => {
            a.hi = hi;
            lock(&sh.q).hi = hi;
        }
        Err(e) => fail_hard(sh, &io_error(&sh.dir, "reserve ids", &e)),
    }
    sh.room.notify_all();
}

/// A failed write or sync: refuse appends from now on (what was answered stands).
fn fail_hard(sh: &Shared, e: &RelError) {
    tracing::error!(error = %e.message, "execution log: refusing further logs");
    *lock(&sh.broken) = Some(e.message.clone());
    let mut q = lock(&sh.q);
    for p in std::mem::take(&mut q.pending) {
        (p.done)(Err(e.clone()));
    }
    // Appenders waiting for ids must not wait forever.
    q.hi = q.hi.max(q.next + 1);
}

fn write_batch(sh: &Shared, a: &mut Active, batch: Vec<Pending>) {
    if a.size >= SEGMENT_BYTES
        && let Err(e) = roll(sh, a)
    {
        let e = io_error(&sh.dir, "start a segment", &e);
        for p in batch {
            (p.done)(Err(e.clone()));
        }
        return;
    }
    let base = a.size;
    let mut buf = Vec::with_capacity(batch.len() * 1024);
    let mut placed = Vec::with_capacity(batch.len());
    let mut written = Vec::with_capacity(batch.len());
    // Per environment: the new ids, and the retention the newest append asked for.
    let mut per_env: BTreeMap<String, (Vec<u64>, usize)> = BTreeMap::new();
    for p in batch {
        let mut exec = p.exec;
        exec.id = p.id;
        match enc(&exec) {
            Ok(rec) => {
                let (at, len) = segment::push_exec(&mut buf, p.id, &exec.env, &rec);
                let loc = Loc {
                    seg: a.seg,
                    at: base + at as u64,
                    len,
                };
                let e = per_env.entry(exec.env.clone()).or_default();
                e.0.push(p.id);
                e.1 = p.retention;
                placed.push((p.id, loc));
                written.push((exec, p.done));
            }
            Err(e) => (p.done)(Err(e)),
        }
    }
    let (floors, moved) = {
        let ix = sh.index.read().unwrap_or_else(|p| p.into_inner());
        let floors: Vec<(String, u64)> = per_env
            .iter()
            .filter_map(|(env, (ids, keep))| {
                ix.floor_for(env, ids, *keep).map(|f| (env.clone(), f))
            })
            .collect();
        let moved = compact(&ix, a.seg, base, &mut buf);
        (floors, moved)
    };
    for (env, f) in &floors {
        segment::push_floor(&mut buf, env, *f);
    }
    if let Err(e) = a.file.as_ref().write_all(&buf) {
        // Leave no half batch in the middle of the segment.
        let _ = a.file.set_len(base);
        let e = io_error(&sh.dir, "write", &e);
        for (_, done) in written {
            done(Err(e.clone()));
        }
        return;
    }
    a.size += buf.len() as u64;
    sh.dirty.store(true, Ordering::Release);
    let dead = {
        let mut ix = sh.index.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = ix.segs.get_mut(&a.seg) {
            s.size = a.size;
        }
        for ((id, loc), (exec, _)) in placed.iter().zip(&written) {
            ix.insert(*id, &exec.env, *loc);
        }
        for (id, env, loc) in &moved {
            ix.insert(*id, env, *loc);
        }
        for (env, f) in &floors {
            ix.set_floor(env, *f);
        }
        let dead: Vec<u64> = ix
            .segs
            .iter()
            .filter(|(n, s)| **n != a.seg && s.live == 0)
            .map(|(n, _)| *n)
            .collect();
        for n in &dead {
            ix.segs.remove(n);
        }
        dead
    };
    for n in dead {
        let _ = std::fs::remove_file(sh.dir.join(segment::file_name(n)));
    }
    let events: Vec<ChangeEvent> = written
        .iter()
        .map(|(e, _)| ChangeEvent {
            seq: 0,
            change: Change::ExecutionFinished {
                id: e.id,
                env: e.env.clone(),
                endpoint: e.endpoint.clone(),
                release: e.release.clone(),
                status: e.status,
            },
        })
        .collect();
    if let Some(sink) = sh.sink.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        sink(&events);
    }
    for (e, done) in written {
        done(Ok(e.id));
    }
}

/// Copy the kept logs of one mostly dead segment (under a quarter of it kept) into `buf`,
/// which goes to the active segment at `base`; the emptied segment is deleted after the
/// write. Reading them here is fine: such a segment holds under 4 MiB of kept logs.
fn compact(ix: &Index, active: u64, base: u64, buf: &mut Vec<u8>) -> Vec<(u64, Arc<str>, Loc)> {
    let Some((victim, seg)) = ix
        .segs
        .iter()
        .find(|(n, s)| **n != active && s.live > 0 && s.live_bytes * 4 < s.size)
    else {
        return Vec::new();
    };
    let mut moved = Vec::new();
    let mut rec = Vec::new();
    let start = buf.len();
    for (id, e) in &ix.by_id {
        if e.loc.seg != *victim {
            continue;
        }
        rec.resize(e.loc.len as usize, 0);
        if let Err(err) = seg.file.read_exact_at(&mut rec, e.loc.at) {
            // Leave the segment as it is; it is tried again after the next batch.
            tracing::warn!(error = %err, segment = victim, "execution log: cannot compact a segment");
            buf.truncate(start);
            return Vec::new();
        }
        let (at, len) = segment::push_exec(buf, *id, &e.env, &rec);
        moved.push((
            *id,
            Arc::clone(&e.env),
            Loc {
                seg: active,
                at: base + at as u64,
                len,
            },
        ));
    }
    moved
}

fn syncer_loop(sh: &Shared) {
    loop {
        std::thread::park_timeout(SYNC_EVERY);
        let stop = sh.closing.load(Ordering::SeqCst);
        if sh.dirty.swap(false, Ordering::AcqRel) {
            let file = Arc::clone(&lock(&sh.sync_file));
            if let Err(e) = file.sync_data() {
                fail_hard(sh, &io_error(&sh.dir, "sync", &e));
            }
        }
        if stop {
            return;
        }
    }
}
