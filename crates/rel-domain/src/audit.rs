//! The hash chain of the audit log: each entry commits to the one before it.
//!
//! `hash = blake3(prev || canonical JSON of {seq, at, actor, action, detail})`, and the first
//! entry's `prev` is all zeroes. Editing any field of any entry breaks its own hash or the
//! next entry's link, which [`verify`] reports with the first bad entry. (Cutting entries off
//! the *end* is caught by the store, which keeps the head's seq and hash separately.)

use serde_json::json;

use crate::model::{AuditEntry, AuditReport};
use crate::snapshot::{Digest, canonical_json};
use crate::timestamp::Timestamp;

/// The `prev` of the first entry.
pub const GENESIS: Digest = Digest([0u8; 32]);

/// The hash an entry must carry.
pub fn entry_hash(
    prev: &Digest,
    seq: u64,
    at: Timestamp,
    actor: &str,
    action: &str,
    detail: &str,
) -> Digest {
    let body = canonical_json(&json!({
        "seq": seq,
        "at": at.millis(),
        "actor": actor,
        "action": action,
        "detail": detail,
    }));
    let mut h = blake3::Hasher::new();
    h.update(&prev.0);
    h.update(body.as_bytes());
    Digest(*h.finalize().as_bytes())
}

/// The entry after `head` (`None` for the first): seq + 1, linked to its hash.
pub fn next_entry(
    head: Option<(u64, Digest)>,
    at: Timestamp,
    actor: &str,
    action: &str,
    detail: &str,
) -> AuditEntry {
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS),
    };
    AuditEntry {
        seq,
        at,
        actor: actor.to_string(),
        action: action.to_string(),
        detail: detail.to_string(),
        prev,
        hash: entry_hash(&prev, seq, at, actor, action, detail),
    }
}

/// Checks entries one at a time (oldest first), so a store can stream a long log.
#[derive(Debug, Default)]
pub struct Verifier {
    last: Option<(u64, Digest)>,
    count: u64,
    first_bad: Option<(u64, String)>,
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next entry. After the first bad one the rest are only counted.
    pub fn push(&mut self, e: &AuditEntry) {
        self.count += 1;
        if self.first_bad.is_some() {
            return;
        }
        let (want_seq, want_prev) = match self.last {
            Some((s, h)) => (s + 1, h),
            None => (1, GENESIS),
        };
        let why = if e.seq != want_seq {
            Some(format!(
                "expected entry #{want_seq} here, found #{} (an entry was removed or renumbered)",
                e.seq
            ))
        } else if e.prev != want_prev {
            Some(format!(
                "its link to the previous entry ({}) does not match that entry's hash ({}): an entry before it was edited, removed or inserted",
                e.prev, want_prev
            ))
        } else if entry_hash(&e.prev, e.seq, e.at, &e.actor, &e.action, &e.detail) != e.hash {
            Some("its contents do not match its hash: the entry was edited".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            self.first_bad = Some((e.seq, why));
        }
        self.last = Some((e.seq, e.hash));
    }

    /// The seq and hash of the last entry fed, to compare with a separately kept head.
    pub fn head(&self) -> Option<(u64, Digest)> {
        self.last
    }

    /// Report a problem found outside the chain itself (e.g. a missing tail), unless an
    /// earlier entry is already bad.
    pub fn fail(&mut self, seq: u64, why: impl Into<String>) {
        if self.first_bad.is_none() {
            self.first_bad = Some((seq, why.into()));
        }
    }

    pub fn finish(self) -> AuditReport {
        AuditReport {
            entries: self.count,
            ok: self.first_bad.is_none(),
            first_bad: self.first_bad,
        }
    }
}

/// Verify a whole sequence, oldest first.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> AuditReport {
    let mut v = Verifier::new();
    for e in entries {
        v.push(e);
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|e| (e.seq, e.hash));
            out.push(next_entry(
                head,
                Timestamp(1_000 * i as i64),
                "alice",
                "deploy",
                &format!("v{i} to staging"),
            ));
        }
        out
    }

    #[test]
    fn a_fresh_chain_verifies() {
        let c = chain(5);
        assert_eq!(c[0].prev, GENESIS);
        assert_eq!(c[3].prev, c[2].hash);
        let r = verify(&c);
        assert!(r.ok && r.first_bad.is_none());
        assert_eq!(r.entries, 5);
        assert!(verify(&[]).ok);
    }

    #[test]
    fn removal_is_detected() {
        let mut c = chain(5);
        c.remove(2);
        let r = verify(&c);
        assert_eq!(r.first_bad.map(|b| b.0), Some(4));
    }

    proptest! {
        /// Any single-field edit of any entry is detected, at that entry or the next.
        #[test]
        fn any_single_field_edit_is_detected(n in 1usize..8, pick in 0usize..8, field in 0usize..7, junk in "[a-z]{1,5}") {
            let mut c = chain(n);
            let i = pick % n;
            let e = &mut c[i];
            match field {
                0 => e.seq += 1,
                1 => e.at = Timestamp(e.at.0 + 1),
                2 => e.actor.push_str(&junk),
                3 => e.action.push_str(&junk),
                4 => e.detail.push_str(&junk),
                5 => e.prev.0[0] ^= 1,
                _ => e.hash.0[31] ^= 1,
            }
            let r = verify(&c);
            prop_assert!(!r.ok);
            let bad = r.first_bad.expect("bad entry").0;
            // Editing an entry's own hash shows up at the next link (or at itself if it is the last and its
            // hash no longer matches).
            prop_assert!(bad == c[i].seq || bad == (i as u64) + 1 || bad == (i as u64) + 2, "bad={} i={}", bad, i);
        }
    }
}
