//! Group commit: concurrent writers share flushes.
//!
//! sled's `flush` makes everything written before the call durable, but concurrent calls do
//! not coalesce: each pays a full sync. Here every commit takes a ticket; a writer whose
//! ticket is not yet covered either starts a flush (covering every ticket handed out so
//! far) or waits for the one in progress and re-checks. With many writers one sync serves
//! all the commits that queued up behind the previous one.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    /// Tickets handed out (one per commit).
    committed: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    flushing: bool,
}

#[derive(Default)]
pub struct GroupFlush {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupFlush {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a ticket for a commit that has just been applied (call it while the commit is
    /// still exclusive, so ticket order is commit order).
    pub fn ticket(&self) -> u64 {
        let mut s = self.lock();
        s.committed += 1;
        s.committed
    }

    /// Return once `ticket` is durable, running `flush` ourselves if nobody else is.
    pub fn wait<E>(&self, ticket: u64, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let mut s = self.lock();
        loop {
            if s.durable >= ticket {
                return Ok(());
            }
            if !s.flushing {
                s.flushing = true;
                let target = s.committed;
                drop(s);
                let r = flush();
                s = self.lock();
                s.flushing = false;
                if r.is_ok() {
                    s.durable = s.durable.max(target);
                }
                self.done.notify_all();
                r?;
                continue;
            }
            s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn one_flush_covers_every_earlier_ticket() {
        let g = GroupFlush::default();
        let flushes = AtomicU64::new(0);
        let flush = || -> Result<(), ()> {
            flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let a = g.ticket();
        let b = g.ticket();
        g.wait(b, flush).expect("flush");
        g.wait(a, flush).expect("already durable");
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        let c = g.ticket();
        g.wait(c, flush).expect("flush");
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_flush_is_reported_and_retried() {
        let g = GroupFlush::default();
        let t = g.ticket();
        assert_eq!(g.wait(t, || Err("disk full")), Err("disk full"));
        assert_eq!(g.wait(t, || Ok::<(), &str>(())), Ok(()));
    }

    #[test]
    fn concurrent_writers_share_flushes() {
        let g = Arc::new(GroupFlush::default());
        let flushes = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let g = Arc::clone(&g);
                let flushes = Arc::clone(&flushes);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let t = g.ticket();
                        g.wait(t, || -> Result<(), ()> {
                            flushes.fetch_add(1, Ordering::SeqCst);
                            std::thread::yield_now();
                            Ok(())
                        })
                        .expect("flush");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        // Every ticket is durable, and never more flushes than commits.
        let s = g.lock();
        assert_eq!(s.durable, 800);
        assert!(flushes.load(Ordering::SeqCst) <= 800);
    }
}
