//! The `Store` trait: everything the daemon needs from persistence, one atomic, durable
//! operation per method. sled implements it (crate `rel-store`); an etcd implementation
//! could (§8). Mutating methods take the caller so that permission, policy and the audit
//! record are decided inside the same transaction as the change.

use crate::config::AppConfig;
use crate::error::RelResult;
use crate::governance::{ChangeRequest, Decided, Submitted};
use crate::model::*;
use crate::snapshot::{Digest, Snapshot};
use crate::timestamp::Timestamp;

/// Receives committed changes, in commit order, once they are durable (called on the
/// store's writer thread: it must not block). An event with seq 0 is a live notice that is
/// not part of the stored sequence (`changes_since` never returns it): the sled store's
/// `ExecutionFinished`, sent once the log is written, from the execution log's own thread.
pub type ChangeSink = Box<dyn Fn(&[ChangeEvent]) + Send + Sync>;

/// Answers an [`Store::append_execution_nowait`]: the log's id once it is written.
pub type ExecDone = Box<dyn FnOnce(RelResult<u64>) + Send>;

/// Whole-store dump for `export` / `import` (a versioned, self-describing JSON document).
pub type Dump = String;

pub trait Store: Send + Sync + 'static {
    fn status(&self) -> RelResult<StoreStatus>;

    // --- draft -------------------------------------------------------------------------
    fn draft(&self) -> RelResult<Option<Snapshot>>;
    /// Replace the draft (already validated). Returns its digest.
    fn apply_draft(&self, config: AppConfig, caller: &Caller, now: Timestamp) -> RelResult<Digest>;

    // --- releases ----------------------------------------------------------------------
    /// Snapshot the draft (or `req.config`), optionally deploying in the same transaction.
    fn create_release(
        &self,
        req: &NewRelease,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<CreateOutcome>;
    fn release(&self, tag: &str) -> RelResult<ReleaseView>;
    /// Newest first.
    fn releases(&self, query: &ReleaseQuery) -> RelResult<Vec<ReleaseView>>;
    /// Verified against its digest; a mismatch is an error, never served.
    fn snapshot(&self, digest: &Digest) -> RelResult<Snapshot>;
    /// Deployments of one release across environments, newest first.
    fn release_history(&self, tag: &str, limit: usize) -> RelResult<Vec<Deployment>>;
    fn prune(
        &self,
        keep: usize,
        dry_run: bool,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<PruneReport>;

    // --- environments ------------------------------------------------------------------
    /// In promotion order (an environment after those it requires; then by creation).
    fn environments(&self) -> RelResult<Vec<EnvironmentView>>;
    fn environment(&self, name: &str) -> RelResult<EnvironmentView>;
    fn create_environment(
        &self,
        env: &Environment,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView>;
    /// Newest first; `before_id` pages.
    fn history(
        &self,
        env: &str,
        limit: usize,
        before_id: Option<u64>,
    ) -> RelResult<Vec<Deployment>>;

    // --- changes -----------------------------------------------------------------------
    fn plan_deploy(&self, req: &DeployRequest, caller: &Caller) -> RelResult<DeployPlan>;
    fn deploy(
        &self,
        req: &DeployRequest,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<DeployOutcome>;
    fn plan_rollback(&self, req: &RollbackRequest) -> RelResult<RollbackPlan>;
    fn rollback(
        &self,
        req: &RollbackRequest,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<DeployOutcome>;

    // --- audit -------------------------------------------------------------------------
    /// Newest first.
    fn audit(&self, limit: usize, before_seq: Option<u64>) -> RelResult<Vec<AuditEntry>>;
    fn verify_audit(&self) -> RelResult<AuditReport>;

    // --- moving stores -----------------------------------------------------------------
    fn export(&self) -> RelResult<Dump>;
    /// The same document as [`Store::export`], written to `out` piece by piece, so that a
    /// store of any size exports in bounded memory. The default builds it whole.
    fn export_to(&self, out: &mut dyn std::io::Write) -> RelResult<()> {
        let dump = self.export()?;
        out.write_all(dump.as_bytes())
            .map_err(|e| crate::RelError::internal(format!("export: cannot write: {e}")))
    }
    /// Only into a store with no releases; refuses otherwise.
    fn import(&self, dump: &str, caller: &Caller, now: Timestamp) -> RelResult<StoreStatus>;

    // --- verification, executions, tokens (§3.6, §4.5) -----------------------------------
    /// Record a verification on deployment `deployment_id` of `env` (must still be live).
    fn record_verification(
        &self,
        env: &str,
        deployment_id: u64,
        verification: &Verification,
        caller: &Caller,
    ) -> RelResult<Deployment>;
    /// Append a log; keeps at most `retention` per environment. Returns the id.
    fn append_execution(&self, exec: &Execution, retention: usize) -> RelResult<u64>;
    /// Like `append_execution`, but without waiting for a disk sync (the serving path): the
    /// store may answer once the log survives the process being killed, and sync it within a
    /// short bound (sled: 50 ms; see docs/RELIABILITY.md). The id is never handed out again
    /// while the daemon runs. By default it is `append_execution`.
    fn append_execution_logged(&self, exec: &Execution, retention: usize) -> RelResult<u64> {
        self.append_execution(exec, retention)
    }
    /// Like `append_execution_logged`, without blocking the caller: `done` gets the id once
    /// the log is written. A store that cannot do that hands both back (`Err`); the caller
    /// then uses `append_execution_logged` on a thread of its own. The default cannot.
    fn append_execution_nowait(
        &self,
        exec: Execution,
        retention: usize,
        done: ExecDone,
    ) -> Result<(), Box<(Execution, ExecDone)>> {
        let _ = retention;
        Err(Box::new((exec, done)))
    }
    fn executions(&self, query: &ExecQuery) -> RelResult<Vec<Execution>>;
    fn execution(&self, id: u64) -> RelResult<Execution>;
    fn create_token(
        &self,
        name: &str,
        secret_hash: &Digest,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<TokenInfo>;
    fn tokens(&self) -> RelResult<Vec<TokenInfo>>;
    fn revoke_token(&self, name: &str, caller: &Caller, now: Timestamp) -> RelResult<()>;
    fn token_by_hash(&self, secret_hash: &Digest) -> RelResult<Option<TokenInfo>>;

    // --- change events (§9: in commit order, durable) ----------------------------------
    /// Where committed changes go from now on (one sink; the daemon's publisher).
    fn set_change_sink(&self, sink: ChangeSink);
    /// Changes with `seq > after`, oldest first, at most `limit`. The store keeps the most
    /// recent ones only (see the store's docs): asking for older ones starts at the oldest kept.
    fn changes_since(&self, after: u64, limit: usize) -> RelResult<Vec<ChangeEvent>>;
    /// The seq of the newest committed change (0: none yet).
    fn last_change(&self) -> RelResult<u64>;

    /// Where the store lives, for `relctl status`; None: the embedded default (sled in the
    /// daemon's data dir). May ask a remote store (bounded), so not for hot paths.
    fn backend(&self) -> Option<BackendInfo> {
        None
    }

    /// Why the store refuses writes since a disk failure (until the daemon restarts), if it
    /// does: `relctl status` leads with it.
    fn degraded(&self) -> Option<String> {
        None
    }

    /// Whether other processes change this store too (several daemons on etcd): then the
    /// daemon follows the change events to keep what it serves current.
    fn is_shared(&self) -> bool {
        false
    }

    // --- change governance (issue 11) ----------------------------------------------------
    /// Freeze `env`, or every environment (`None`: stop the line). Answers the
    /// environments frozen.
    fn freeze(
        &self,
        env: Option<&str>,
        reason: &str,
        until: Option<Timestamp>,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<Vec<EnvironmentView>>;
    /// End `env`'s own freeze, or the stopped line (`None`).
    fn unfreeze(
        &self,
        env: Option<&str>,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<Vec<EnvironmentView>>;
    fn add_freeze_window(
        &self,
        env: &str,
        spec: &str,
        reason: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView>;
    fn remove_freeze_window(
        &self,
        env: &str,
        id: u64,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView>;
    fn set_approvals(
        &self,
        env: &str,
        approvals: u32,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView>;
    /// Create an environment and set its approvals in one transaction.
    fn create_environment_governed(
        &self,
        env: &Environment,
        approvals: u32,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView>;
    /// A deploy at once, or a request: scheduled (`at`), or waiting for approvals.
    fn submit_deploy(
        &self,
        req: &DeployRequest,
        at: Option<Timestamp>,
        expires_at: Option<Timestamp>,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<Submitted>;
    /// Newest first; pending only unless `all`.
    fn requests(
        &self,
        env: Option<&str>,
        all: bool,
        limit: usize,
        before_id: Option<u64>,
    ) -> RelResult<Vec<ChangeRequest>>;
    fn request(&self, id: u64) -> RelResult<ChangeRequest>;
    /// Count `caller`'s approval; the last needed one deploys as `requester` (the caller
    /// the requester's uid maps to now).
    fn approve(
        &self,
        id: u64,
        caller: &Caller,
        requester: &Caller,
        now: Timestamp,
    ) -> RelResult<Decided>;
    fn reject(
        &self,
        id: u64,
        reason: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<ChangeRequest>;
    /// Pending requests due at `now` (schedules to fire, approvals to expire).
    fn due_requests(&self, now: Timestamp) -> RelResult<Vec<ChangeRequest>>;
    /// When the next pending request falls due, or the next freeze reaches its `--until`.
    fn next_due(&self) -> RelResult<Option<Timestamp>>;
    /// Clear freezes whose `--until` has passed, with an `Unfrozen` event each (they stopped
    /// refusing deploys at that instant already). Returns the environments (`*`: the line).
    fn expire_freezes(&self, now: Timestamp) -> RelResult<Vec<String>>;
    /// Fire a due schedule as `requester`, or expire a due approval request, in one
    /// transaction (exactly once). `None`: nothing to do.
    fn fire_request(
        &self,
        id: u64,
        requester: &Caller,
        now: Timestamp,
    ) -> RelResult<Option<Decided>>;
}

/// A store that is not the embedded default (`relctl status`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendInfo {
    /// e.g. `etcd`.
    pub kind: String,
    /// e.g. `etcd://HOST:PORT,…/PREFIX`.
    pub location: String,
    pub endpoints: Vec<String>,
    /// The member that answered (`NAME URL`), or why none did.
    pub answered_by: Option<String>,
    /// The store's revision as that member saw it.
    pub revision: Option<i64>,
}
