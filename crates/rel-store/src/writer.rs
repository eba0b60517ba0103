//! One commit loop owns every write: group commit of transactions.
//!
//! Requests queue to it (bounded). Whoever holds the loop takes every request waiting (up to
//! [`MAX_BATCH`]), runs
//! each one's rules against an overlay stacked on the batch so far (a request sees what the
//! earlier ones left; a refused request's writes are dropped), appends the whole batch to the
//! write-ahead log as one record, syncs it once, applies it to sled once, and only then
//! answers every request in the batch. Refusals are answered after the same sync, so even a
//! refusal never reports state a crash could undo. While it syncs, the next batch queues up.
//!
//! Leader/follower: a durable request that finds the loop idle commits its own batch (plus
//! whatever is queued) on its own thread, so a lone request pays no hand-off to the writer
//! thread and back (two thread wake-ups, tens of µs each on a VM). A request that finds the
//! loop busy queues; the writer thread drains the queue, pipelined (see [`Loop::session`]).

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use rel_domain::RelError;

use crate::trees::{SledTrees, Tx, WriteSet};
use crate::wal::{self, Wal};

/// Requests per batch at most (bounds the latency of the last one in a batch).
pub const MAX_BATCH: usize = 512;
/// Requests waiting for the writer at most; beyond that, callers block (back-pressure).
pub const QUEUE: usize = 4096;
/// A write that does not wait for a sync (execution logs) is synced within this.
pub const LOGGED_SYNC_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answered after the batch is synced to disk (survives power loss).
    Durable,
    /// Answered once the batch is written to the log (survives kill -9), synced within
    /// [`LOGGED_SYNC_EVERY`] or by the next durable batch.
    Logged,
    /// Run alone, after the batch before it is committed: for writes that scan (prune, import).
    Exclusive,
}

/// Called once the batch holding the request is committed (`None`) or failed (`Some`).
pub type Finish = Box<dyn FnOnce(Option<RelError>) + Send>;
/// Runs the rules; returns whether to keep the transaction's writes, and how to answer.
/// `FnMut`: on etcd a batch whose reads another daemon changed runs again on fresh reads.
pub type Run = Box<dyn FnMut(&Tx<'_>) -> (bool, Finish) + Send>;

pub struct Job {
    pub mode: Mode,
    pub run: Run,
}

/// What the writer shares with the store's readers.
pub struct Shared {
    pub trees: Arc<SledTrees>,
    /// Readers hold it shared for a whole read; the writer takes it only to apply a batch
    /// (in memory, microseconds), so a read never sees half a batch.
    pub gate: Arc<RwLock<()>>,
    /// sled flush + fdatasync of its log file, for checkpoints.
    pub sync_sled: Arc<dyn Fn() -> Result<(), RelError> + Send + Sync>,
    pub data_dir: PathBuf,
    /// Where each durable batch's change events go, in seq order.
    pub sink: Arc<RwLock<Option<rel_domain::store::ChangeSink>>>,
    /// Called with each batch once sled holds it (out of the gate, before anyone in the
    /// batch is answered).
    pub after_apply: AfterApply,
    /// Why writes are refused since a disk failure (`relctl status` shows it), if they are.
    pub degraded: Arc<std::sync::Mutex<Option<String>>>,
}

pub type AfterApply = Box<dyn FnMut(&WriteSet) + Send>;

pub struct Writer {
    inner: Inner,
}

enum Inner {
    /// A thread of its own reads the queue (the etcd backend's commit loop).
    Thread {
        tx: Option<SyncSender<Job>>,
        thread: Option<JoinHandle<()>>,
    },
    /// The sled loop: led by an idle caller, or by the writer thread.
    Local {
        front: Arc<Front>,
        thread: Option<JoinHandle<()>>,
    },
}

fn stopped() -> RelError {
    RelError::unavailable(
        "store: the writer has stopped (the daemon is shutting down); retry against the restarted daemon",
    )
}

impl Writer {
    /// A writer whose thread runs `run` on the queue (the etcd backend's commit loop).
    pub fn spawn(run: impl FnOnce(Receiver<Job>) + Send + 'static) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("rel-store-writer".into())
            .spawn(move || run(rx))?;
        Ok(Writer {
            inner: Inner::Thread {
                tx: Some(tx),
                thread: Some(thread),
            },
        })
    }

    pub fn start(shared: Shared, wal: Wal) -> std::io::Result<Writer> {
        let front = Arc::new(Front {
            q: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            space: Condvar::new(),
            core: Mutex::new(Some(Loop::new(shared, wal))),
        });
        let f = Arc::clone(&front);
        let thread = std::thread::Builder::new()
            .name("rel-store-writer".into())
            .spawn(move || writer_thread(&f))?;
        Ok(Writer {
            inner: Inner::Local {
                front,
                thread: Some(thread),
            },
        })
    }

    /// Queue `job`, or run it at once on this thread when it is durable and the loop is idle
    /// (its answer is then already given when this returns).
    pub fn submit(&self, job: Job) -> Result<(), RelError> {
        match &self.inner {
            Inner::Thread { tx, .. } => tx
                .as_ref()
                .ok_or_else(stopped)?
                .send(job)
                .map_err(|_| stopped()),
            Inner::Local { front, .. } => front.submit(job),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        match &mut self.inner {
            Inner::Thread { tx, thread } => {
                // Closing the queue lets the thread finish what is queued, sync, and exit.
                tx.take();
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            Inner::Local { front, thread } => {
                front.close();
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// The queue in front of the commit loop, and the loop: whoever holds `core` commits.
struct Front {
    q: Mutex<Queue>,
    /// The writer thread waits here for jobs.
    ready: Condvar,
    /// Callers wait here while the queue is full.
    space: Condvar,
    /// `None` once the writer has shut down.
    core: Mutex<Option<Loop>>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// The writer thread waits on `ready` (only then is a wake-up worth a syscall).
    writer_idle: bool,
    /// Callers waiting on `space`.
    blocked: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Front {
    fn submit(&self, job: Job) -> Result<(), RelError> {
        if job.mode == Mode::Durable {
            let core = match self.core.try_lock() {
                Ok(g) => Some(g),
                Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut core) = core {
                let Some(core) = core.as_mut() else {
                    return Err(stopped());
                };
                let led =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| core.lead(self, job)));
                if led.is_err() {
                    core.panicked();
                }
                return Ok(());
            }
        }
        let mut q = lock(&self.q);
        while q.jobs.len() >= QUEUE && !q.closed {
            q.blocked += 1;
            q = self.space.wait(q).unwrap_or_else(|e| e.into_inner());
            q.blocked -= 1;
        }
        if q.closed {
            return Err(stopped());
        }
        q.jobs.push_back(job);
        let wake = q.writer_idle;
        drop(q);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// The next queued job, if any.
    fn pop(&self) -> Option<Job> {
        let mut q = lock(&self.q);
        let j = q.jobs.pop_front();
        if j.is_some() && q.blocked > 0 {
            self.space.notify_one();
        }
        j
    }

    /// Queued jobs onto `jobs` up to [`MAX_BATCH`], stopping before an exclusive one.
    fn take_batch(&self, jobs: &mut Vec<Job>) {
        let mut q = lock(&self.q);
        let before = q.jobs.len();
        while jobs.len() < MAX_BATCH && q.jobs.front().is_some_and(|j| j.mode != Mode::Exclusive) {
            jobs.extend(q.jobs.pop_front());
        }
        if q.jobs.len() < before && q.blocked > 0 {
            self.space.notify_all();
        }
    }

    /// Refuse new jobs; the writer thread finishes the queued ones and shuts down.
    fn close(&self) {
        lock(&self.q).closed = true;
        self.ready.notify_all();
        self.space.notify_all();
    }
}

/// Drains the queue whenever no caller leads; syncs unsynced logged writes; shuts the loop
/// down once the queue is closed and empty.
fn writer_thread(front: &Front) {
    // If this thread dies (a bug), callers must hear "stopped", not wait forever.
    struct Closer<'a>(&'a Front);
    impl Drop for Closer<'_> {
        fn drop(&mut self) {
            let dropped: Vec<Job> = {
                let mut q = lock(&self.0.q);
                q.closed = true;
                q.jobs.drain(..).collect()
            };
            // Their answer channels close: each caller hears "dropped without answering".
            drop(dropped);
            self.0.space.notify_all();
        }
    }
    let _closer = Closer(front);
    let mut unsynced = false;
    loop {
        {
            let mut q = lock(&front.q);
            while q.jobs.is_empty() && !q.closed {
                q.writer_idle = true;
                if unsynced {
                    let (g, t) = front
                        .ready
                        .wait_timeout(q, LOGGED_SYNC_EVERY)
                        .unwrap_or_else(|e| e.into_inner());
                    q = g;
                    if t.timed_out() && q.jobs.is_empty() {
                        q.writer_idle = false;
                        drop(q);
                        if let Some(c) = lock(&front.core).as_mut() {
                            c.sync_logged();
                            unsynced = c.unsynced();
                        }
                        q = lock(&front.q);
                    }
                } else {
                    q = front.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            }
            q.writer_idle = false;
            if q.jobs.is_empty() && q.closed {
                break;
            }
        }
        let mut core = lock(&front.core);
        let Some(c) = core.as_mut() else { return };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.session(front))).is_err() {
            c.panicked();
        }
        unsynced = c.unsynced();
    }
    let core = lock(&front.core).take();
    if let Some(c) = core {
        c.shutdown();
    }
}

struct Loop {
    s: Shared,
    wal: Wal,
    /// Length of the current segment covered by the last sync (records past it may be
    /// lost to power loss: `Mode::Logged` writes, or a batch whose sync is running).
    synced_to: u64,
    /// After a disk failure that left the log in an unknown state, every write is refused.
    poisoned: Option<String>,
    checkpoint: Checkpointer,
    syncer: Syncer,
    /// Batches committed and requests in them, logged at shutdown (group-commit efficiency).
    batches: u64,
    requests: u64,
    /// Batches whose sync ran while the writer ran the next batch's rules.
    overlapped: u64,
    /// Time spent running rules, appending + syncing the log (waiting for the syncer
    /// included), and applying to sled.
    t_rules: Duration,
    t_sync: Duration,
    t_apply: Duration,
    /// Tests of the failure paths: this many applies to sled fail.
    #[cfg(test)]
    fail_applies: usize,
}

/// A batch run and appended to the log, not yet applied to sled nor answered.
struct Written {
    set: WriteSet,
    finishes: Vec<Finish>,
    must_sync: bool,
    /// Length of the log before its record: where to cut it if its sync fails.
    before: u64,
    /// The batch could not be written (nothing of it is in the log).
    failed: Option<RelError>,
}

impl Written {
    fn answer(self, err: Option<RelError>) {
        for f in self.finishes {
            f(err.clone());
        }
    }
}

/// A written batch whose `fdatasync` runs on the syncer thread.
struct InFlight {
    batch: Written,
    /// The log length the sync covers.
    upto: u64,
}

impl Loop {
    fn new(s: Shared, wal: Wal) -> Loop {
        let checkpoint = Checkpointer::start(Arc::clone(&s.sync_sled), wal.dir().to_path_buf());
        Loop {
            s,
            wal,
            synced_to: 0,
            poisoned: None,
            checkpoint,
            syncer: Syncer::start(),
            batches: 0,
            requests: 0,
            overlapped: 0,
            t_rules: Duration::ZERO,
            t_sync: Duration::ZERO,
            t_apply: Duration::ZERO,
            #[cfg(test)]
            fail_applies: 0,
        }
    }

    fn unsynced(&self) -> bool {
        self.wal.len() > self.synced_to
    }

    /// A durable request that found the loop idle: its batch (it, then what is queued) is
    /// written, synced and answered on the caller's thread. Nothing is in flight (every
    /// session ends with its last batch answered), so it needs no pipeline.
    fn lead(&mut self, front: &Front, own: Job) {
        let mut jobs = vec![own];
        front.take_batch(&mut jobs);
        let next = self.write(jobs, None);
        self.finish(next, None);
        if self.wal.is_full() && self.poisoned.is_none() {
            self.rotate();
        }
    }

    /// The writer thread's turn: run batches until the queue is empty and the last one is
    /// answered. The pipeline: while batch N's sync runs on the syncer thread, the writer
    /// takes batch N+1, runs its rules on top of N's writes and appends it; then it waits for
    /// N's sync, applies N to sled and answers N, and only then starts N+1's sync. A batch
    /// with nothing queued behind it is synced on this thread: no hand-off to pay for.
    fn session(&mut self, front: &Front) {
        // Jobs taken off the queue but not yet run (an Exclusive one waits for its turn).
        let mut backlog: VecDeque<Job> = VecDeque::new();
        let mut inflight: Option<InFlight> = None;
        loop {
            if backlog.is_empty() {
                match front.pop() {
                    Some(j) => backlog.push_back(j),
                    None => {
                        // Never return while a batch waits for its answer.
                        if inflight.is_none() {
                            return;
                        }
                        self.complete(inflight.take());
                        continue;
                    }
                }
            }
            let exclusive = backlog.front().is_some_and(|j| j.mode == Mode::Exclusive);
            let mut jobs = Vec::new();
            if exclusive {
                jobs.extend(backlog.pop_front());
                // It runs alone on sled itself: the batch before it must be applied first.
                self.complete(inflight.take());
            } else {
                while jobs.len() < MAX_BATCH {
                    match backlog.pop_front().or_else(|| front.pop()) {
                        Some(j) if j.mode == Mode::Exclusive => {
                            backlog.push_front(j);
                            break;
                        }
                        Some(j) => jobs.push(j),
                        None => break,
                    }
                }
            }
            let next = self.write(jobs, inflight.as_ref().map(|f| &f.batch.set));
            // Sled applies batches in log order, and nothing about N+1 (not even a refusal,
            // which read N's writes) is answered before N is durable.
            let cut = self.complete(inflight.take());
            if cut {
                let err = match next.failed.clone() {
                    Some(e) => e,
                    // The log could not be cut back: this batch's record is still in it and
                    // replays on restart if it reached the disk.
                    None if self.wal.len() > next.before => RelError::durability_unknown(format!(
                        "store: the change before this one could not be synced to disk and could not be undone, so whether this one survives a restart is unknown. Check the disk under {}, restart releasd, then look (relctl env show / status) before retrying",
                        self.s.data_dir.display()
                    )),
                    None => RelError::unavailable(
                        "store: the change before this one could not be synced to disk, so this one was not kept; nothing was changed. Check the disk, then retry",
                    ),
                };
                next.answer(Some(err));
                continue;
            }
            if next.failed.is_none() && self.poisoned.is_some() {
                // Applying N failed after N+1 was written: N+1 is refused like every change
                // after it (nothing of it may reach sled now) and taken back out of the log.
                let err = match self.wal.cut_to(next.before) {
                    Ok(()) => self.refused(),
                    Err(e) => Some(RelError::durability_unknown(format!(
                        "store: the change before this one could not be applied, and this one could not be taken back out of the write-ahead log ({e}); whether it survives a restart is unknown. Check the disk under {}, restart releasd, then look (relctl env show / status) before retrying",
                        self.s.data_dir.display()
                    ))),
                };
                self.synced_to = self.synced_to.min(self.wal.len());
                next.answer(err);
                continue;
            }
            if next.failed.is_none() && next.must_sync && self.poisoned.is_none() {
                if backlog.is_empty()
                    && let Some(j) = front.pop()
                {
                    backlog.push_back(j);
                }
                // A full segment is synced here and rotated below, even under load.
                if !backlog.is_empty() && self.unsynced() && !self.wal.is_full() {
                    // More work is queued: sync this batch while the next one runs its rules.
                    let upto = self.wal.len();
                    if self.syncer.start_sync(self.wal.file()) {
                        self.overlapped += 1;
                        inflight = Some(InFlight { batch: next, upto });
                        continue;
                    }
                }
            }
            self.finish(next, None);
            if inflight.is_none() && self.wal.is_full() && self.poisoned.is_none() {
                self.rotate();
            }
        }
    }

    /// Wait for an in-flight batch's sync and finish it. Returns whether its sync failed
    /// and the log was cut back to before it (dropping anything appended after it).
    fn complete(&mut self, f: Option<InFlight>) -> bool {
        let Some(f) = f else { return false };
        let started = std::time::Instant::now();
        let synced = self.syncer.wait();
        self.t_sync += started.elapsed();
        let cut = synced.is_err();
        self.finish(f.batch, Some((synced, f.upto)));
        cut
    }

    /// A clean stop: everything is applied, so flush sled and leave no log to replay.
    fn shutdown(self) {
        tracing::info!(
            batches = self.batches,
            requests = self.requests,
            "store writer stopped"
        );
        if std::env::var_os("REL_STORE_STATS").is_some() {
            eprintln!(
                "rel-store writer: {} requests in {} batches ({} synced while the next ran); rules {:?}, log append+sync {:?}, sled apply {:?}",
                self.requests,
                self.batches,
                self.overlapped,
                self.t_rules,
                self.t_sync,
                self.t_apply
            );
        }
        let Loop {
            s,
            mut wal,
            checkpoint,
            poisoned,
            ..
        } = self;
        drop(checkpoint);
        if poisoned.is_some() {
            // Keep the log: it may hold a batch sled did not fully apply.
            return;
        }
        let segs = match wal.rotate() {
            Ok(old) => old,
            Err(e) => {
                tracing::warn!(error = %e, "write-ahead log: cannot close the current segment at shutdown");
                return;
            }
        };
        match (s.sync_sled)() {
            Ok(()) => {
                let mut all = segs;
                all.push(wal.path());
                drop(wal);
                if let Err(e) = wal::remove(&s.data_dir.join("wal"), &all) {
                    tracing::warn!(error = %e, "write-ahead log: cannot delete segments at shutdown");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "shutdown: sled flush failed; the log replays on the next start")
            }
        }
    }

    /// Sync writes that did not wait for one (execution logs).
    fn sync_logged(&mut self) {
        // Once poisoned, a retry every 50 ms would only log again and replace the reason
        // `status` shows with a later symptom.
        if !self.unsynced() || self.poisoned.is_some() {
            return;
        }
        match self.wal.sync() {
            Ok(()) => self.synced_to = self.wal.len(),
            Err(e) => {
                tracing::error!(error = %e, "write-ahead log: sync of execution logs failed; refusing further writes");
                self.poison(format!("syncing the write-ahead log failed ({e})"));
            }
        }
    }

    /// Refuse every write from now on, and say why in `status`.
    fn poison(&mut self, why: String) {
        tracing::error!(reason = %why, "store: refusing writes until releasd restarts");
        *self.s.degraded.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        self.poisoned = Some(why);
    }

    /// A commit panicked outside a request's rules (a bug): sled may hold part of a batch,
    /// so refuse every later write, as after a disk failure. The requests of that batch
    /// hear "dropped without answering"; the log replays the batch on restart.
    fn panicked(&mut self) {
        self.poison("a store commit panicked (a bug; see the releasd log)".into());
    }

    fn refused(&self) -> Option<RelError> {
        let why = self.poisoned.as_ref()?;
        Some(RelError::unavailable(format!(
            "store: writes are refused since an earlier disk failure ({why}); nothing was changed. Check the disk under {}, then restart releasd",
            self.s.data_dir.display()
        )))
    }

    /// Run each job's rules on an overlay over `below` (the batch before, logged but not yet
    /// applied) and sled, and append the accepted writes to the log as one record.
    fn write(&mut self, jobs: Vec<Job>, below: Option<&WriteSet>) -> Written {
        self.batches += 1;
        self.requests += jobs.len() as u64;
        let started = std::time::Instant::now();
        let mut set = WriteSet::default();
        let mut finishes = Vec::with_capacity(jobs.len());
        let mut must_sync = false;
        for mut job in jobs {
            let tx = Tx::stacked(self.s.trees.view(), below, &set);
            // A bug in one request's rules must not take the writer (and every later write)
            // down: its writes are dropped and its caller hears "dropped without answering".
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(&tx)));
            let writes = tx.into_writes();
            let Ok((keep, finish)) = ran else {
                tracing::error!("a store transaction panicked; its writes were dropped");
                continue;
            };
            if keep {
                set.merge(writes);
            }
            must_sync |= job.mode != Mode::Logged;
            finishes.push(finish);
        }
        self.t_rules += started.elapsed();
        let started = std::time::Instant::now();
        let before = self.wal.len();
        let mut failed = self.refused();
        if failed.is_none()
            && !set.is_empty()
            && let Err((e, partial)) = self.wal.append(&set)
        {
            if partial {
                self.poison(format!(
                    "writing the write-ahead log failed ({e}) and could not be undone"
                ));
            }
            failed = Some(RelError::unavailable(format!(
                "store: writing the change to disk failed ({e}); nothing was changed. Check free space and the disk under {}, then retry",
                self.s.data_dir.display()
            )));
        }
        self.t_sync += started.elapsed();
        Written {
            set,
            finishes,
            must_sync,
            before,
            failed,
        }
    }

    /// Make a written batch durable (unless its sync already ran: `synced`), apply it to
    /// sled, publish its events and answer it.
    fn finish(&mut self, w: Written, synced: Option<(std::io::Result<()>, u64)>) {
        if let Some(e) = w.failed.clone() {
            return w.answer(Some(e));
        }
        let started = std::time::Instant::now();
        let synced = match synced {
            Some(r) => Some(r),
            None if w.must_sync && self.unsynced() => {
                let upto = self.wal.len();
                Some((self.wal.sync(), upto))
            }
            None => None,
        };
        match synced {
            Some((Ok(()), upto)) => self.synced_to = self.synced_to.max(upto),
            Some((Err(e), _)) => {
                // The record may or may not be on disk. Cut it off (with anything appended
                // after it) so the store stays consistent with what sled holds; if even that
                // fails, stop writing.
                if let Err(e2) = self.wal.cut_to(w.before) {
                    self.poison(format!("sync failed ({e}), then undoing it failed ({e2})"));
                }
                self.synced_to = self.synced_to.min(self.wal.len());
                let err = RelError::durability_unknown(format!(
                    "store: the change was written but syncing it to disk failed ({e}); whether it survives a crash is unknown. Check the disk under {}, then look (relctl env show / status) before retrying",
                    self.s.data_dir.display()
                ));
                return w.answer(Some(err));
            }
            None => {}
        }
        let applied = std::time::Instant::now();
        self.t_sync += applied.duration_since(started);
        if !w.set.is_empty() {
            let gate = Arc::clone(&self.s.gate);
            let result = {
                let _g = gate.write().unwrap_or_else(|e| e.into_inner());
                self.apply(&w.set)
            };
            if let Err(e) = result {
                // The batch is in the log (and replays on restart) but sled is half-applied:
                // stop writing so nothing is decided on that state.
                self.poison(format!("applying a logged batch failed ({e})"));
                let err = RelError::durability_unknown(format!(
                    "store: the change is in the write-ahead log but applying it failed ({e}); restart releasd to replay it"
                ));
                return w.answer(Some(err));
            }
        }
        (self.s.after_apply)(&w.set);
        self.t_apply += applied.elapsed();
        // Published before anyone in the batch is answered, in commit order, from this one
        // thread: a subscriber never gets an older event after a newer one.
        let evs = crate::events::in_batch(&w.set);
        if !evs.is_empty()
            && let Some(sink) = self
                .s
                .sink
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
        {
            sink(&evs);
        }
        w.answer(None);
    }

    fn apply(&mut self, set: &WriteSet) -> Result<(), RelError> {
        #[cfg(test)]
        if self.fail_applies > 0 {
            self.fail_applies -= 1;
            return Err(RelError::unavailable("No space left on device (test)"));
        }
        self.s.trees.apply(set)
    }

    fn rotate(&mut self) {
        if self.checkpoint.busy() {
            return;
        }
        match self.wal.rotate() {
            Ok(old) => {
                // The old segment's unsynced records (execution logs) are covered by the
                // checkpoint's sled flush.
                self.synced_to = 0;
                self.checkpoint.request(old)
            }
            Err(e) => {
                tracing::warn!(error = %e, "write-ahead log: cannot start a new segment; keeping the current one")
            }
        }
    }
}

/// Runs `fdatasync` of the log on its own thread, one at a time, so the writer can run the
/// next batch's rules meanwhile.
struct Syncer {
    tx: Option<SyncSender<Arc<File>>>,
    done: Receiver<std::io::Result<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    fn start() -> Syncer {
        let (tx, rx) = mpsc::sync_channel::<Arc<File>>(1);
        let (done_tx, done) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("rel-store-sync".into())
            .spawn(move || {
                for f in rx {
                    if done_tx.send(f.sync_data()).is_err() {
                        return;
                    }
                }
            })
            .ok();
        Syncer {
            tx: thread.as_ref().map(|_| tx),
            done,
            thread,
        }
    }

    /// Start a sync of `f`; false if the thread is gone (the caller syncs itself).
    fn start_sync(&self, f: Arc<File>) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(f).is_ok())
    }

    fn wait(&self) -> std::io::Result<()> {
        self.done.recv().unwrap_or_else(|_| {
            Err(std::io::Error::other(
                "the log's sync thread stopped without answering",
            ))
        })
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Flushes sled in the background and deletes the log segments the flush covers.
struct Checkpointer {
    tx: Option<SyncSender<Vec<PathBuf>>>,
    busy: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(
        sync_sled: Arc<dyn Fn() -> Result<(), RelError> + Send + Sync>,
        dir: PathBuf,
    ) -> Checkpointer {
        let (tx, rx) = mpsc::sync_channel::<Vec<PathBuf>>(1);
        let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let b = Arc::clone(&busy);
        let thread = std::thread::Builder::new()
            .name("rel-store-checkpoint".into())
            .spawn(move || {
                for old in rx {
                    // Everything in `old` was applied to sled before this flush started.
                    match sync_sled() {
                        Ok(()) => {
                            if let Err(e) = wal::remove(&dir, &old) {
                                tracing::warn!(error = %e, "checkpoint: cannot delete old log segments");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "checkpoint: sled flush failed; keeping the log segments"),
                    }
                    b.store(false, std::sync::atomic::Ordering::Release);
                }
            })
            .ok();
        Checkpointer {
            tx: Some(tx),
            busy,
            thread,
        }
    }

    fn busy(&self) -> bool {
        self.thread.is_none() || self.busy.load(std::sync::atomic::Ordering::Acquire)
    }

    fn request(&self, old: Vec<PathBuf>) {
        if let Some(tx) = &self.tx {
            self.busy.store(true, std::sync::atomic::Ordering::Release);
            if tx.try_send(old).is_err() {
                self.busy.store(false, std::sync::atomic::Ordering::Release);
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trees::{Kv, T};
    use rel_domain::ErrorCode;

    /// A commit loop; with `failing_log`, its log takes appends but fails every sync and cut.
    fn test_loop(
        dir: &std::path::Path,
        failing_log: bool,
    ) -> (Loop, Arc<SledTrees>, Arc<Mutex<Option<String>>>) {
        let db = sled::Config::new()
            .path(dir.join("db"))
            .open()
            .expect("sled");
        let trees = Arc::new(SledTrees::open(db).expect("trees"));
        let (mut wal, _) = Wal::open(&dir.join("wal"), &trees, || Ok(())).expect("wal");
        if failing_log {
            wal.fail_syncs_and_cuts();
        }
        let degraded = Arc::new(Mutex::new(None));
        let shared = Shared {
            trees: Arc::clone(&trees),
            gate: Arc::new(RwLock::new(())),
            sync_sled: Arc::new(|| Ok(())),
            data_dir: dir.to_path_buf(),
            sink: Arc::new(RwLock::new(None)),
            after_apply: Box::new(|_| {}),
            degraded: Arc::clone(&degraded),
        };
        (Loop::new(shared, wal), trees, degraded)
    }

    /// A durable job writing `key` in `meta`; `during` runs inside its rules.
    fn put(
        key: &'static [u8],
        during: impl FnOnce() + Send + 'static,
    ) -> (Job, Receiver<Option<RelError>>) {
        let (tx, rx) = mpsc::channel();
        let mut during = Some(during);
        let run: Run = Box::new(move |t: &Tx<'_>| {
            t.put(T::Meta, key, b"1").expect("put");
            if let Some(f) = during.take() {
                f();
            }
            let tx = tx.clone();
            let finish: Finish = Box::new(move |e| {
                let _ = tx.send(e);
            });
            (true, finish)
        });
        (
            Job {
                mode: Mode::Durable,
                run,
            },
            rx,
        )
    }

    /// One session of two durable puts, `test-first` (N) then `test-second` (N+1); N+1
    /// arrives while N's rules run, so N syncs on the sync thread (pipelined). Their answers.
    fn pipelined_pair(
        lp: &mut Loop,
        front: &Arc<Front>,
    ) -> (Receiver<Option<RelError>>, Receiver<Option<RelError>>) {
        let (second, rx2) = put(b"test-second", || {});
        let f = Arc::clone(front);
        let (first, rx1) = put(b"test-first", move || {
            lock(&f.q).jobs.push_back(second);
        });
        lock(&front.q).jobs.push_back(first);
        lp.session(front);
        (rx1, rx2)
    }

    fn new_front() -> Arc<Front> {
        Arc::new(Front {
            q: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            space: Condvar::new(),
            core: Mutex::new(None),
        })
    }

    fn code(rx: &Receiver<Option<RelError>>) -> ErrorCode {
        rx.recv()
            .expect("answered")
            .expect("answered with an error")
            .code
    }

    /// Batch N syncs on the sync thread while N+1 is appended; N's sync fails and the log
    /// cannot be cut back. N+1's record is still in the log (it may replay on restart), so
    /// N+1 must hear "durability unknown", not "nothing was changed"; every later write is
    /// refused; the reason `status` shows stays the first failure.
    #[test]
    fn failed_sync_that_cannot_be_undone_leaves_the_next_batch_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut lp, trees, degraded) = test_loop(dir.path(), true);
        let front = new_front();
        let (rx1, rx2) = pipelined_pair(&mut lp, &front);
        assert_eq!(code(&rx1), ErrorCode::DurabilityUnknown);
        assert_eq!(
            code(&rx2),
            ErrorCode::DurabilityUnknown,
            "N+1's record could not be cut from the log: it may replay"
        );
        for k in [&b"test-first"[..], b"test-second"] {
            assert_eq!(trees.get(T::Meta, k).expect("read"), None, "sled untouched");
        }
        let why = degraded
            .lock()
            .expect("degraded")
            .clone()
            .expect("degraded");
        assert!(why.contains("undoing it failed"), "{why}");

        let (third, rx3) = put(b"test-third", || {});
        lp.lead(&front, third);
        assert_eq!(code(&rx3), ErrorCode::Unavailable, "refused after poison");
        assert_eq!(trees.get(T::Meta, b"test-third").expect("read"), None);
        // The writer thread retries unsynced records every 50 ms; that must not replace
        // the reason with a later symptom.
        lp.sync_logged();
        assert_eq!(
            degraded.lock().expect("degraded").as_deref(),
            Some(why.as_str())
        );
    }

    /// Back-pressure: while the loop is busy, a durable request queues instead of leading;
    /// at [`QUEUE`] waiting, the next caller blocks until one is taken, and none is lost.
    #[test]
    fn a_busy_loop_queues_and_a_full_queue_blocks_the_next_caller() {
        let front = new_front();
        let busy = lock(&front.core);
        let mut answers = Vec::new();
        for _ in 0..QUEUE {
            let (job, rx) = put(b"k", || {});
            front.submit(job).expect("queued");
            answers.push(rx);
        }
        assert_eq!(lock(&front.q).jobs.len(), QUEUE);
        let f = Arc::clone(&front);
        let late = std::thread::spawn(move || {
            let (job, _rx) = put(b"late", || {});
            f.submit(job)
        });
        // Readiness, not a sleep: the caller has registered as blocked.
        while lock(&front.q).blocked == 0 {
            assert!(!late.is_finished(), "a full queue took one more");
            std::thread::yield_now();
        }
        assert!(front.pop().is_some());
        late.join()
            .expect("thread")
            .expect("queued once there was room");
        assert_eq!(
            lock(&front.q).jobs.len(),
            QUEUE,
            "none lost, none beyond the bound"
        );
        drop(busy);
        front.close();
        let (job, _rx) = put(b"after", || {});
        let refused = front.submit(job).expect_err("closed and no loop");
        assert_eq!(refused.code, ErrorCode::Unavailable);
        drop(answers);
    }

    /// Batch N is synced but applying it to sled fails (disk full) after N+1 was written on
    /// top of it: N hears "durability unknown" (it is in the log and replays), N+1 is refused
    /// like every change after it, nothing of N+1 reaches sled, and its record is taken back
    /// out of the log (a restart replays N, not N+1).
    #[test]
    fn a_failed_apply_refuses_the_batch_written_behind_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut lp, trees, degraded) = test_loop(dir.path(), false);
        lp.fail_applies = 1;
        let front = new_front();
        let (rx1, rx2) = pipelined_pair(&mut lp, &front);
        assert_eq!(code(&rx1), ErrorCode::DurabilityUnknown);
        assert_eq!(code(&rx2), ErrorCode::Unavailable, "refused once degraded");
        assert_eq!(trees.get(T::Meta, b"test-second").expect("read"), None);
        assert!(degraded.lock().expect("degraded").is_some());
        drop(lp);
        // What a restart replays.
        let db = sled::Config::new()
            .path(dir.path().join("replayed"))
            .open()
            .expect("sled");
        let replayed = SledTrees::open(db).expect("trees");
        Wal::open(&dir.path().join("wal"), &replayed, || Ok(())).expect("replay");
        assert!(
            replayed
                .get(T::Meta, b"test-first")
                .expect("read")
                .is_some()
        );
        assert_eq!(replayed.get(T::Meta, b"test-second").expect("read"), None);
    }
}
