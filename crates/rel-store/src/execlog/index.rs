//! The in-memory index of the execution log: where each kept log is, each environment's
//! logs in id order (bounded by the retention), and how much of each segment is still
//! kept (a segment nobody needs is deleted, a mostly dead one compacted).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub seg: u64,
    /// Of the record (not the frame) in the segment file.
    pub at: u64,
    pub len: u32,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub env: Arc<str>,
    pub loc: Loc,
}

#[derive(Debug)]
pub struct Seg {
    pub file: Arc<File>,
    /// Bytes in the file.
    pub size: u64,
    /// Records of kept logs in it.
    pub live: u64,
    pub live_bytes: u64,
}

#[derive(Debug, Default)]
pub struct Index {
    pub by_id: BTreeMap<u64, Entry>,
    pub by_env: HashMap<Arc<str>, VecDeque<u64>>,
    /// Per environment: logs below this id were trimmed.
    pub floors: HashMap<Arc<str>, u64>,
    pub segs: BTreeMap<u64, Seg>,
}

impl Index {
    fn env_key(&mut self, env: &str) -> Arc<str> {
        match self.by_env.get_key_value(env) {
            Some((k, _)) => Arc::clone(k),
            None => {
                let k: Arc<str> = Arc::from(env);
                self.by_env.insert(Arc::clone(&k), VecDeque::new());
                k
            }
        }
    }

    /// Record that log `id` of `env` is at `loc` (a later copy of the same log replaces the
    /// earlier one). Below the environment's floor it is already trimmed: ignored.
    pub fn insert(&mut self, id: u64, env: &str, loc: Loc) {
        if self.floors.get(env).is_some_and(|f| id < *f) {
            return;
        }
        if let Some(old) = self.by_id.get(&id).map(|e| e.loc) {
            self.forget_loc(old);
            if let Some(e) = self.by_id.get_mut(&id) {
                e.loc = loc;
            }
        } else {
            let key = self.env_key(env);
            let ids = self.by_env.entry(Arc::clone(&key)).or_default();
            // Ids arrive in order, except copies and logs taken over from an older store.
            if ids.back().is_none_or(|last| *last < id) {
                ids.push_back(id);
            } else {
                let at = ids.partition_point(|x| *x < id);
                ids.insert(at, id);
            }
            self.by_id.insert(id, Entry { env: key, loc });
        }
        if let Some(s) = self.segs.get_mut(&loc.seg) {
            s.live += 1;
            s.live_bytes += u64::from(loc.len);
        }
    }

    /// Trim `env`'s logs below `floor`.
    pub fn set_floor(&mut self, env: &str, floor: u64) {
        let key = self.env_key(env);
        let f = self.floors.entry(Arc::clone(&key)).or_insert(0);
        if *f >= floor {
            return;
        }
        *f = floor;
        let mut gone = Vec::new();
        if let Some(ids) = self.by_env.get_mut(&key) {
            while ids.front().is_some_and(|id| *id < floor) {
                gone.extend(ids.pop_front());
            }
        }
        for id in gone {
            if let Some(e) = self.by_id.remove(&id) {
                self.forget_loc(e.loc);
            }
        }
    }

    fn forget_loc(&mut self, loc: Loc) {
        if let Some(s) = self.segs.get_mut(&loc.seg) {
            s.live = s.live.saturating_sub(1);
            s.live_bytes = s.live_bytes.saturating_sub(u64::from(loc.len));
        }
    }

    /// The floor that keeps the newest `keep` of `env`'s logs once `new` (ascending, above
    /// every kept one) are added; `None` if nothing needs trimming.
    pub fn floor_for(&self, env: &str, new: &[u64], keep: usize) -> Option<u64> {
        let kept = self.by_env.get(env);
        let have = kept.map_or(0, |k| k.len());
        let count = have + new.len();
        let drop = count.checked_sub(keep.max(1)).filter(|d| *d > 0)?;
        if drop < have {
            kept.and_then(|k| k.get(drop).copied())
        } else {
            new.get(drop - have).copied()
        }
    }

    /// The newest id kept (0: none).
    pub fn last_id(&self) -> u64 {
        self.by_id.keys().next_back().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(seg: u64, at: u64) -> Loc {
        Loc { seg, at, len: 10 }
    }

    #[test]
    fn floors_trim_and_copies_move() {
        let mut ix = Index::default();
        let f = Arc::new(tempfile::tempfile().expect("file"));
        for n in [1, 2] {
            ix.segs.insert(
                n,
                Seg {
                    file: Arc::clone(&f),
                    size: 100,
                    live: 0,
                    live_bytes: 0,
                },
            );
        }
        for id in 1..=4 {
            ix.insert(id, "staging", loc(1, id * 10));
        }
        assert_eq!(ix.floor_for("staging", &[5, 6], 3), Some(4));
        assert_eq!(ix.floor_for("staging", &[5], 10), None);
        ix.insert(5, "staging", loc(2, 0));
        ix.set_floor("staging", 3);
        assert_eq!(
            ix.by_env["staging"].iter().copied().collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(ix.segs[&1].live, 2);
        // A copy of 3 into segment 2 moves it; an old copy below the floor is ignored.
        ix.insert(3, "staging", loc(2, 10));
        ix.insert(1, "staging", loc(2, 20));
        assert_eq!((ix.segs[&1].live, ix.segs[&2].live), (1, 2));
        assert_eq!(ix.by_id[&3].loc, loc(2, 10));
        assert!(!ix.by_id.contains_key(&1));
        assert_eq!(ix.last_id(), 5);
    }
}
