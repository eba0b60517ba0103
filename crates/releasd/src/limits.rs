//! Connection limits per principal (issue 7): how many Unix-socket connections and event
//! subscriptions each user may hold, with slots kept for admins, and the deadlines a
//! connection lives under. One user's idle or hostile connections must never lock out
//! another user, and nobody can lock out an admin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rel_domain::RelError;

/// Defaults of every limit; each has a flag (see `releasd --help` and docs/SECURITY.md).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
pub const DEFAULT_MAX_CONNECTIONS_PER_USER: usize = 32;
pub const DEFAULT_ADMIN_RESERVED: usize = 16;
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 128;
pub const DEFAULT_MAX_SUBSCRIBERS_PER_USER: usize = 8;
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections served at once, all users together.
    pub max_connections: usize,
    /// Connections one non-admin user may hold.
    pub per_user: usize,
    /// Of `max_connections`, this many only admins may take.
    pub admin_reserved: usize,
    /// Subscribed connections (`relctl watch`, relui), all users together / per non-admin.
    pub max_subscribers: usize,
    pub subscribers_per_user: usize,
    /// To say `Hello` after connecting.
    pub handshake_timeout: Duration,
    /// A connection with no request in flight and no subscription is closed after this.
    pub idle_timeout: Duration,
    /// A frame that has started must arrive whole (and an answer be taken) within this.
    pub frame_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            per_user: DEFAULT_MAX_CONNECTIONS_PER_USER,
            admin_reserved: DEFAULT_ADMIN_RESERVED,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            subscribers_per_user: DEFAULT_MAX_SUBSCRIBERS_PER_USER,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_uid: HashMap<u32, usize>,
}

impl Counts {
    fn take(&mut self, uid: u32) {
        self.total += 1;
        *self.by_uid.entry(uid).or_default() += 1;
    }

    fn give_back(&mut self, uid: u32) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.by_uid.get_mut(&uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_uid.remove(&uid);
            }
        }
    }

    fn of(&self, uid: u32) -> usize {
        self.by_uid.get(&uid).copied().unwrap_or(0)
    }
}

/// The live counts, shared by the accept loop and every connection.
#[derive(Clone)]
pub struct Slots {
    limits: Arc<ConnLimits>,
    conns: Arc<Mutex<Counts>>,
    subs: Arc<Mutex<Counts>>,
}

/// Held for as long as a connection (or a subscription) lives; gives its slot back on drop.
pub struct Slot {
    uid: u32,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.counts).give_back(self.uid);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Slots {
    pub fn new(limits: ConnLimits) -> Slots {
        Slots {
            limits: Arc::new(limits),
            conns: Arc::default(),
            subs: Arc::default(),
        }
    }

    pub fn limits(&self) -> &ConnLimits {
        &self.limits
    }

    /// Connections open now: (all users, this uid).
    pub fn open(&self, uid: u32) -> (usize, usize) {
        let c = lock(&self.conns);
        (c.total, c.of(uid))
    }

    /// A connection slot for `uid`, or the refusal to send it (naming the limit and its flag).
    pub fn connect(&self, uid: u32, user: &str, admin: bool) -> Result<Slot, RelError> {
        let l = &self.limits;
        let mut c = lock(&self.conns);
        if c.total >= l.max_connections {
            return Err(RelError::unavailable(format!(
                "releasd is serving its maximum of {} connections (--max-connections); try again when some close",
                l.max_connections
            )));
        }
        if !admin {
            let open_to_users = l.max_connections.saturating_sub(l.admin_reserved);
            if c.total >= open_to_users {
                return Err(RelError::unavailable(format!(
                    "releasd is serving {} connections; the last {} of its {} are kept for admins (--admin-connections, --max-connections); try again when some close",
                    c.total, l.admin_reserved, l.max_connections
                )));
            }
            if c.of(uid) >= l.per_user {
                return Err(RelError::unavailable(format!(
                    "user {user} already has {} connections open to releasd, the limit per user (--max-connections-per-user {}); close some (idle ones close after --idle-timeout)",
                    c.of(uid),
                    l.per_user
                )));
            }
        }
        c.take(uid);
        Ok(Slot {
            uid,
            counts: Arc::clone(&self.conns),
        })
    }

    /// A subscription slot for `uid`, or the refusal naming the limit and its flag. Admins
    /// are bounded only by the total.
    pub fn subscribe(&self, uid: u32, user: &str, admin: bool) -> Result<Slot, RelError> {
        let l = &self.limits;
        let mut s = lock(&self.subs);
        if s.total >= l.max_subscribers {
            return Err(RelError::unavailable(format!(
                "releasd already serves its maximum of {} event subscriptions (--max-subscribers); close a `relctl watch` or relui",
                l.max_subscribers
            )));
        }
        if !admin && s.of(uid) >= l.subscribers_per_user {
            return Err(RelError::unavailable(format!(
                "user {user} already has {} event subscriptions, the limit per user (--max-subscribers-per-user {}); close a `relctl watch` or relui",
                s.of(uid),
                l.subscribers_per_user
            )));
        }
        s.take(uid);
        Ok(Slot {
            uid,
            counts: Arc::clone(&self.subs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots() -> Slots {
        Slots::new(ConnLimits {
            max_connections: 10,
            per_user: 3,
            admin_reserved: 4,
            max_subscribers: 3,
            subscribers_per_user: 1,
            ..ConnLimits::default()
        })
    }

    #[test]
    fn one_user_is_capped_and_admins_keep_their_reserve() {
        let s = slots();
        let held: Vec<Slot> = (0..3)
            .map(|_| s.connect(1, "eve", false).expect("slot"))
            .collect();
        let e = s.connect(1, "eve", false).err().expect("refused");
        assert!(
            e.message.contains("--max-connections-per-user 3"),
            "{}",
            e.message
        );
        // Other users fill what is open to non-admins (10 - 4 = 6).
        let more: Vec<Slot> = (0..3)
            .map(|_| s.connect(2, "bob", false).expect("slot"))
            .collect();
        let e = s.connect(3, "carol", false).err().expect("refused");
        assert!(e.message.contains("--admin-connections"), "{}", e.message);
        // Admins still get in, up to the total.
        let admin: Vec<Slot> = (0..4)
            .map(|_| s.connect(0, "root", true).expect("admin"))
            .collect();
        let e = s.connect(0, "root", true).err().expect("full");
        assert!(e.message.contains("--max-connections"), "{}", e.message);
        drop((held, more, admin));
        assert_eq!(s.open(1), (0, 0));
    }

    #[test]
    fn subscribers_are_bounded_per_user_and_in_total() {
        let s = slots();
        let a = s.subscribe(1, "eve", false).expect("first");
        let e = s.subscribe(1, "eve", false).err().expect("second refused");
        assert!(
            e.message.contains("--max-subscribers-per-user 1"),
            "{}",
            e.message
        );
        let b = s.subscribe(2, "bob", false).expect("bob");
        let c = s.subscribe(0, "root", true).expect("admin");
        let e = s.subscribe(0, "root", true).err().expect("total");
        assert!(e.message.contains("--max-subscribers"), "{}", e.message);
        drop((a, b, c));
        assert!(s.subscribe(1, "eve", false).is_ok());
    }
}
