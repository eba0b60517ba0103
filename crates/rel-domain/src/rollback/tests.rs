//! Unit tests of the messages, and a model-based property test: the indexed stack (what a
//! store keeps: entries by index, a height, on-stack counts, holds) driven through
//! `decide_deploy` / `plan_rollback` behaves like a plain `Vec` with the rules written out
//! directly, and keeps the invariants of §3.3/§3.4.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;
use crate::model::ReleaseState;

/// One environment the way a store keeps it.
#[derive(Default, Clone, Debug)]
struct Indexed {
    entries: HashMap<u64, u64>,
    height: u64,
    on_stack: HashMap<u64, u64>,
    holds: BTreeMap<u64, Hold>,
    history_len: u64,
}

impl StackReader for Indexed {
    type Error = RelError;
    fn entry(&mut self, index: u64) -> RelResult<u64> {
        assert!(index < self.height, "read above the top");
        self.entries
            .get(&index)
            .copied()
            .ok_or_else(|| RelError::internal("missing entry"))
    }
    fn is_held(&mut self, seq: u64) -> RelResult<bool> {
        Ok(self.holds.contains_key(&seq))
    }
    fn on_stack(&mut self, seq: u64) -> RelResult<bool> {
        Ok(self.on_stack.get(&seq).copied().unwrap_or(0) > 0)
    }
    fn tag(&mut self, seq: u64) -> RelResult<String> {
        Ok(format!("v{seq}"))
    }
}

impl Indexed {
    fn live(&self) -> Option<u64> {
        self.height
            .checked_sub(1)
            .and_then(|i| self.entries.get(&i).copied())
    }

    fn deploy(
        &mut self,
        env: &str,
        seq: u64,
        forced: bool,
        expect: Option<u64>,
    ) -> RelResult<bool> {
        check_expect(
            env,
            self.live().map(tag).as_deref(),
            expect.map(tag).as_deref(),
        )?;
        let hold = self.holds.get(&seq).cloned();
        match decide_deploy(env, self.live(), seq, &tag(seq), hold.as_ref(), forced)? {
            DeployDecision::AlreadyLive => Ok(false),
            DeployDecision::Push { clears_hold } => {
                self.entries.insert(self.height, seq);
                self.height += 1;
                *self.on_stack.entry(seq).or_default() += 1;
                if clears_hold {
                    self.holds.remove(&seq);
                }
                self.history_len += 1;
                Ok(true)
            }
        }
    }

    fn rollback(&mut self, env: &str, to: Option<u64>) -> RelResult<bool> {
        let st = StackState {
            env,
            height: self.height,
            history_len: self.history_len,
        };
        match plan_rollback(&st, to, self)? {
            RollbackDecision::AlreadyLive(_) => Ok(false),
            RollbackDecision::Move(m) => {
                assert_eq!(m.popped.len() as u64, self.height - m.new_height);
                for idx in m.new_height..self.height {
                    let s = self.entries.remove(&idx).expect("entry");
                    let c = self.on_stack.get_mut(&s).expect("count");
                    *c -= 1;
                }
                for s in &m.popped {
                    self.holds.entry(*s).or_insert(Hold {
                        by: "x".into(),
                        at: Timestamp(0),
                        deployment_id: 0,
                    });
                }
                self.height = m.new_height;
                self.history_len += 1;
                assert_eq!(self.live(), Some(m.to));
                Ok(true)
            }
        }
    }
}

fn tag(seq: u64) -> String {
    format!("v{seq}")
}

/// The obvious model: a Vec and a set.
#[derive(Default, Clone, Debug)]
struct Model {
    stack: Vec<u64>,
    held: BTreeSet<u64>,
}

impl Model {
    fn deploy(&mut self, seq: u64, forced: bool) -> Result<bool, ()> {
        if self.stack.last() == Some(&seq) {
            return Ok(false);
        }
        if self.held.contains(&seq) && !forced {
            return Err(());
        }
        self.held.remove(&seq);
        self.stack.push(seq);
        Ok(true)
    }
    fn rollback(&mut self, to: Option<u64>) -> Result<bool, ()> {
        let top = *self.stack.last().ok_or(())?;
        let mut st = self.stack.clone();
        let mut bad = BTreeSet::new();
        match to {
            Some(t) if t == top => return Ok(false),
            Some(t) => {
                if !st.contains(&t) || self.held.contains(&t) {
                    return Err(());
                }
                while st.last() != Some(&t) {
                    bad.insert(st.pop().ok_or(())?);
                }
            }
            None => {
                bad.insert(st.pop().ok_or(())?);
                while let Some(&x) = st.last() {
                    if self.held.contains(&x) || bad.contains(&x) {
                        bad.insert(x);
                        st.pop();
                    } else {
                        break;
                    }
                }
                if st.is_empty() {
                    return Err(());
                }
            }
        }
        self.stack = st;
        self.held.extend(bad);
        Ok(true)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Deploy {
        env: usize,
        seq: u64,
        forced: bool,
        expect_live: bool,
    },
    Rollback {
        env: usize,
    },
    RollbackTo {
        env: usize,
        seq: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 1..6u64, proptest::bool::weighted(0.2), proptest::bool::ANY)
            .prop_map(|(env, seq, forced, expect_live)| Op::Deploy { env, seq, forced, expect_live }),
        3 => (0..2usize).prop_map(|env| Op::Rollback { env }),
        1 => (0..2usize, 1..6u64).prop_map(|(env, seq)| Op::RollbackTo { env, seq }),
    ]
}

const ENVS: [&str; 2] = ["staging", "production"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn indexed_stack_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut impls = [Indexed::default(), Indexed::default()];
        let mut models = [Model::default(), Model::default()];
        let mut ever_live: BTreeSet<u64> = BTreeSet::new();
        for op in ops {
            let (env, before_live, before_held) = match &op {
                Op::Deploy { env, .. } | Op::Rollback { env } | Op::RollbackTo { env, .. } => {
                    (*env, impls[*env].live(), impls[*env].holds.keys().copied().collect::<BTreeSet<_>>())
                }
            };
            let name = ENVS[env];
            let is_rollback = !matches!(op, Op::Deploy { .. });
            let (got, want, forced) = match op {
                Op::Deploy { seq, forced, expect_live, .. } => {
                    // A stale expectation is refused whatever else holds.
                    let expect = if expect_live { before_live } else { Some(seq + 100) };
                    let got = impls[env].deploy(name, seq, forced, expect);
                    if !expect_live {
                        prop_assert_eq!(got.as_ref().map_err(|e| e.code), Err(crate::ErrorCode::Conflict));
                        continue;
                    }
                    (got, models[env].deploy(seq, forced), forced)
                }
                Op::Rollback { .. } => (impls[env].rollback(name, None), models[env].rollback(None), false),
                Op::RollbackTo { seq, .. } => (impls[env].rollback(name, Some(seq)), models[env].rollback(Some(seq)), false),
            };
            prop_assert_eq!(got.is_ok(), want.is_ok(), "{:?} vs {:?}", got, want);
            if let (Ok(g), Ok(w)) = (&got, &want) {
                prop_assert_eq!(g, w);
            }
            // Same stack and holds as the model.
            let im = &impls[env];
            let stack: Vec<u64> = (0..im.height).map(|i| im.entries[&i]).collect();
            prop_assert_eq!(&stack, &models[env].stack);
            prop_assert_eq!(im.holds.keys().copied().collect::<BTreeSet<_>>(), models[env].held.clone());
            for (s, c) in &im.on_stack {
                prop_assert_eq!(*c as usize, stack.iter().filter(|x| *x == s).count());
            }
            let live = im.live();
            if let Some(l) = live {
                ever_live.insert(l);
                // Nothing live is held.
                prop_assert!(!im.holds.contains_key(&l));
                // Without force, nothing held before becomes live.
                if !forced && live != before_live {
                    prop_assert!(!before_held.contains(&l), "held release {} went live without force", l);
                }
            }
            // A rollback makes the rolled-back release not live, and held.
            if is_rollback && matches!(got, Ok(true)) {
                let b = before_live.expect("a rollback had something live");
                prop_assert!(live != Some(b));
                prop_assert!(im.holds.contains_key(&b));
            }
            // Derived states agree with a direct reading of the model.
            for seq in 1..6u64 {
                let live_in = models.iter().filter(|m| m.stack.last() == Some(&seq)).count();
                let want = if live_in > 0 {
                    ReleaseState::Deployed
                } else if ever_live.contains(&seq) {
                    ReleaseState::Superseded
                } else {
                    ReleaseState::Ready
                };
                let impl_live = impls.iter().filter(|i| i.live() == Some(seq)).count();
                prop_assert_eq!(ReleaseState::derive(impl_live, ever_live.contains(&seq)), want);
            }
        }
    }

    #[test]
    fn rollback_only_walks_back(deploys in proptest::collection::vec(1..5u64, 1..20), rollbacks in 1..10usize) {
        let mut im = Indexed::default();
        for s in deploys {
            let _ = im.deploy("staging", s, false, None);
        }
        for _ in 0..rollbacks {
            let before: Vec<u64> = (0..im.height).map(|i| im.entries[&i]).collect();
            let top = im.live();
            match im.rollback("staging", None) {
                Ok(changed) => {
                    prop_assert!(changed);
                    let after: Vec<u64> = (0..im.height).map(|i| im.entries[&i]).collect();
                    // The new stack is a strict prefix of the old: never forward.
                    prop_assert!(after.len() < before.len() && before.starts_with(&after));
                    prop_assert!(im.live() != top);
                    prop_assert!(im.holds.contains_key(&top.expect("was live")));
                }
                Err(e) => {
                    prop_assert!(e.message.starts_with("nothing to roll back to"), "{}", e.message);
                    // Nothing changed.
                    let after: Vec<u64> = (0..im.height).map(|i| im.entries[&i]).collect();
                    prop_assert_eq!(after, before);
                }
            }
        }
    }
}

#[test]
fn seed_workflow_messages() {
    let mut p = Indexed::default();
    let e = p.rollback("staging", None).expect_err("empty");
    assert_eq!(
        e.message,
        "nothing to roll back to: staging has no release deployed yet"
    );
    assert!(p.deploy("production", 1, false, None).expect("deploy"));
    assert!(
        !p.deploy("production", 1, false, None).expect("idempotent"),
        "redeploy is a no-op"
    );
    let e = p.rollback("production", None).expect_err("only one");
    assert_eq!(
        e.message,
        "nothing to roll back to: production has only ever run v1"
    );
    let e = p
        .deploy("production", 2, false, Some(9))
        .expect_err("expect");
    assert_eq!(e.code, crate::ErrorCode::Conflict);
    assert_eq!(
        e.message,
        "production is running v1, not v9 (--expect); nothing changed. Check with relctl env show production and retry"
    );
    p.deploy("production", 2, false, Some(1)).expect("cas ok");
    p.deploy("production", 3, false, None).expect("v3");
    // Rollback twice walks back: v3 -> v2 -> v1.
    p.rollback("production", None).expect("to v2");
    assert_eq!(p.live(), Some(2));
    p.rollback("production", None).expect("to v1");
    assert_eq!(p.live(), Some(1));
    let e = p.rollback("production", None).expect_err("bottom");
    assert!(
        e.message.starts_with(
            "nothing to roll back to: v1 was the first release production ran, so there is nothing older \
             (the releases deployed after it were rolled back out and are held; relctl env show production lists them)"
        ),
        "{}",
        e.message
    );
    // v3 is held: redeploying needs force.
    let e = p.deploy("production", 3, false, None).expect_err("held");
    assert_eq!(e.code, crate::ErrorCode::PolicyDenied);
    assert!(
        e.message
            .contains("v3 was rolled back out of production by x"),
        "{}",
        e.message
    );
    assert!(e.message.contains("--force --reason TEXT"), "{}", e.message);
    assert!(p.deploy("production", 3, true, None).expect("forced"));
    assert!(!p.holds.contains_key(&3), "a forced deploy clears the hold");
}

#[test]
fn rollback_to_and_held_entries() {
    let mut p = Indexed::default();
    for s in [1, 2, 1, 3] {
        p.deploy("staging", s, false, None).expect("deploy");
    }
    // --to pops until the target is on top.
    let e = p.rollback("staging", Some(4)).expect_err("not on stack");
    assert!(
        e.message
            .starts_with("v4 is not on staging's rollback stack"),
        "{}",
        e.message
    );
    assert!(!p.rollback("staging", Some(3)).expect("already live"));
    p.rollback("staging", Some(2)).expect("to v2");
    assert_eq!(p.live(), Some(2));
    assert!(p.holds.contains_key(&1) && p.holds.contains_key(&3));
    // v1 is also lower on the stack but held: a rollback skips it and finds nothing.
    let e = p.rollback("staging", None).expect_err("all held");
    assert!(e.message.contains("(held: v1)"), "{}", e.message);
    let e = p.rollback("staging", Some(1)).expect_err("held target");
    assert_eq!(e.code, crate::ErrorCode::PolicyDenied);
    // v3 was rolled back out, so it is off the stack and held: say so and suggest what
    // works (an admin's forced deploy), not a plain deploy that the hold refuses.
    let e = p
        .rollback("staging", Some(3))
        .expect_err("held, off the stack");
    assert_eq!(e.code, crate::ErrorCode::PolicyDenied);
    assert!(
        e.message
            .starts_with("v3 was rolled back out of staging earlier, so it is held there")
            && e.message
                .contains("relctl deploy v3 --env staging --force --reason TEXT"),
        "{}",
        e.message
    );
    assert_eq!(p.live(), Some(2), "failed rollbacks change nothing");
}

#[test]
fn expect_on_empty_env() {
    let e = check_expect("staging", None, Some("v1")).expect_err("nothing live");
    assert_eq!(
        e.message,
        "staging has no release deployed, not v1 (--expect); nothing changed. Check with relctl env show staging and retry"
    );
    assert!(
        check_expect("staging", Some("V1"), Some("v1")).is_ok(),
        "tags compare case-insensitively"
    );
}

#[test]
fn bottom_of_stack_after_rollback_is_the_first_release() {
    let mut p = Indexed::default();
    p.deploy("production", 1, false, None).expect("v1");
    p.deploy("production", 2, false, None).expect("v2");
    p.rollback("production", None).expect("back to v1");
    let e = p.rollback("production", None).expect_err("nothing older");
    assert!(
        e.message
            .starts_with("nothing to roll back to: v1 was the first release production ran"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("removed the rest"), "{}", e.message);
}
