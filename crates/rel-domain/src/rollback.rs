//! Deploy and rollback rules over an environment's rollback stack (§3.3, §3.4), pure.
//!
//! The stack holds release seqs; the top is what is live. A store keeps it as entries keyed
//! `(env, index)` plus a height, so these functions never see the whole history: they read
//! entries from the top down through a [`StackReader`], touching O(1) entries per popped
//! release, and answer with what to change.
//!
//! - Deploy pushes; deploying what is live changes nothing.
//! - Rollback pops the top (that release becomes *held* in the environment) and makes the
//!   first entry below it that is not held live. Held entries met on the way are popped too,
//!   so a rollback never makes a rolled-back release live again; repeating walks further back.
//! - `to` pops until that release is on top.
//! - Deploying a held release needs an admin's `--force --reason`, which clears the hold.

use serde::{Deserialize, Serialize};

use crate::error::{RelError, RelResult};
use crate::names::tag_key;
use crate::timestamp::Timestamp;

/// Why a release is held in an environment: who rolled it back out, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub by: String,
    pub at: Timestamp,
    /// The rollback deployment that popped it.
    pub deployment_id: u64,
}

/// `--expect`: compare-and-swap on what is live. `Conflict` when it differs.
pub fn check_expect(env: &str, live: Option<&str>, expect: Option<&str>) -> RelResult<()> {
    let Some(want) = expect else { return Ok(()) };
    let running = match live {
        Some(l) if tag_key(l) == tag_key(want) => return Ok(()),
        Some(l) => format!("{env} is running {l}"),
        None => format!("{env} has no release deployed"),
    };
    Err(RelError::conflict(format!(
        "{running}, not {want} (--expect); nothing changed. Check with relctl env show {env} and retry"
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployDecision {
    /// Already live there: write nothing, answer `changed: false`.
    AlreadyLive,
    /// Push the release; when `clears_hold`, remove its hold in this environment.
    Push { clears_hold: bool },
}

/// The stack part of a deploy: is it a no-op, and may a held release go back?
/// Permission, `--expect` and the promotion policy are checked separately.
pub fn decide_deploy(
    env: &str,
    live: Option<u64>,
    seq: u64,
    tag: &str,
    hold: Option<&Hold>,
    forced: bool,
) -> RelResult<DeployDecision> {
    if live == Some(seq) {
        return Ok(DeployDecision::AlreadyLive);
    }
    match hold {
        Some(h) if !forced => Err(RelError::policy(format!(
            "{tag} was rolled back out of {env} by {} at {} (deployment #{}), so it is held there. \
             If it is fixed and must go back, an admin can run: relctl deploy {tag} --env {env} --force --reason TEXT",
            h.by, h.at, h.deployment_id
        ))),
        Some(_) => Ok(DeployDecision::Push { clears_hold: true }),
        None => Ok(DeployDecision::Push { clears_hold: false }),
    }
}

/// Read access to one environment's stack, for [`plan_rollback`]. The error type lets a
/// store run this inside a transaction whose reads can fail with a retryable conflict.
pub trait StackReader {
    type Error: From<RelError>;
    /// The release seq at `index` (0 = bottom). Only called for `index < height`.
    fn entry(&mut self, index: u64) -> Result<u64, Self::Error>;
    /// Is `seq` held (rolled back out of) this environment?
    fn is_held(&mut self, seq: u64) -> Result<bool, Self::Error>;
    /// Is `seq` anywhere on this environment's stack?
    fn on_stack(&mut self, seq: u64) -> Result<bool, Self::Error>;
    /// The tag of `seq`, for messages.
    fn tag(&mut self, seq: u64) -> Result<String, Self::Error>;
}

/// An environment's stack, summarised.
#[derive(Debug, Clone, Copy)]
pub struct StackState<'a> {
    pub env: &'a str,
    pub height: u64,
    /// Deployment records in this environment (tells "only ever ran" apart from "the rest
    /// was rolled back").
    pub history_len: u64,
}

/// What a rollback changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackMove {
    /// Live now (the top).
    pub from: u64,
    /// Live afterwards.
    pub to: u64,
    /// Popped seqs, top first; starts with `from`. Each is held afterwards.
    pub popped: Vec<u64>,
    /// The stack height afterwards (`to` sits at `new_height - 1`).
    pub new_height: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackDecision {
    /// `--to` names what is live already: nothing to do.
    AlreadyLive(u64),
    Move(RollbackMove),
}

/// Plan a rollback of `st.env`, to the previous release (`to = None`) or to `to = Some(seq)`.
/// Errors say what is wrong and what to do instead.
pub fn plan_rollback<R: StackReader>(
    st: &StackState<'_>,
    to: Option<u64>,
    r: &mut R,
) -> Result<RollbackDecision, R::Error> {
    let env = st.env;
    if st.height == 0 {
        return Err(RelError::invalid(format!(
            "nothing to roll back to: {env} has no release deployed yet"
        ))
        .into());
    }
    let top = r.entry(st.height - 1)?;
    if let Some(t) = to {
        if t == top {
            return Ok(RollbackDecision::AlreadyLive(top));
        }
        let tag = r.tag(t)?;
        if r.is_held(t)? {
            return Err(RelError::policy(format!(
                "{tag} was rolled back out of {env} earlier, so it is held there and a rollback will not bring it back. \
                 If it must run again, an admin can run: relctl deploy {tag} --env {env} --force --reason TEXT"
            ))
            .into());
        }
        // Checked after the hold: a release rolled back out is off the stack too, and the
        // plain `relctl deploy` suggested here would be refused for its hold.
        if !r.on_stack(t)? {
            return Err(RelError::invalid(format!(
                "{tag} is not on {env}'s rollback stack, so there is nothing to roll back to there \
                 (relctl env show {env} shows the rollback target). To run it anyway, deploy it: relctl deploy {tag} --env {env}"
            ))
            .into());
        }
    }
    let mut popped = vec![top];
    let mut skipped_held = Vec::new();
    let mut i = st.height - 1;
    while i > 0 {
        i -= 1;
        let s = r.entry(i)?;
        let target = match to {
            Some(t) => s == t,
            // A popped release is held afterwards, so it is skipped like any held one.
            None => !popped.contains(&s) && !r.is_held(s)?,
        };
        if target {
            return Ok(RollbackDecision::Move(RollbackMove {
                from: top,
                to: s,
                popped,
                new_height: i + 1,
            }));
        }
        if to.is_none() {
            skipped_held.push(s);
        }
        popped.push(s);
    }
    if to.is_some() {
        return Err(RelError::internal(format!(
            "the rollback stack of {env} is inconsistent (the target is indexed but not found); restore from an export"
        ))
        .into());
    }
    let top_tag = r.tag(top)?;
    if skipped_held.is_empty() {
        // Nothing below the top, so the top is index 0. A rollback always leaves at least one
        // entry, so index 0 is never popped: it is the first release this env ever ran.
        if st.history_len <= 1 {
            return Err(RelError::invalid(format!(
                "nothing to roll back to: {env} has only ever run {top_tag}"
            ))
            .into());
        }
        return Err(RelError::invalid(format!(
            "nothing to roll back to: {top_tag} was the first release {env} ran, so there is nothing older \
             (the releases deployed after it were rolled back out and are held; relctl env show {env} lists them). \
             To run another release, deploy it: relctl deploy TAG --env {env}"
        ))
        .into());
    }
    let mut held = Vec::new();
    for s in skipped_held {
        let t = r.tag(s)?;
        if !held.contains(&t) {
            held.push(t);
        }
    }
    Err(RelError::invalid(format!(
        "nothing to roll back to: every release below {top_tag} on {env}'s rollback stack was rolled back out of it (held: {}). \
         To run one anyway, an admin can run: relctl deploy TAG --env {env} --force --reason TEXT",
        held.join(", ")
    ))
    .into())
}

#[cfg(test)]
mod tests;
