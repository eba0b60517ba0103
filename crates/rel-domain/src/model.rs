//! The records rel keeps and the views it answers with. Every type here travels over the
//! wire (bincode), so no `serde_json::Value` and no `skip_serializing_if`: JSON payloads
//! travel as canonical JSON text. Fields are only ever added at the end.

use serde::{Deserialize, Serialize};

use crate::diff::Diff;
use crate::governance::{ChangeRequest, Freeze, GovernanceView};
use crate::snapshot::Digest;
use crate::timestamp::Timestamp;

/// Who did something: the OS user behind the connection (SO_PEERCRED).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub uid: u32,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Viewer,
    Deployer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
}

/// The actor of a request together with the role the daemon granted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub actor: Actor,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub seq: u64,
    pub tag: String,
    pub description: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub digest: Digest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReleaseState {
    /// Never live anywhere.
    Ready,
    /// Live in at least one environment now.
    Deployed,
    /// Was live somewhere, is live nowhere now.
    Superseded,
}

impl ReleaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Ready => "ready",
            ReleaseState::Deployed => "deployed",
            ReleaseState::Superseded => "superseded",
        }
    }
    /// Derived, never stored: see §3.2.
    pub fn derive(live_in_count: usize, ever_live: bool) -> ReleaseState {
        if live_in_count > 0 {
            ReleaseState::Deployed
        } else if ever_live {
            ReleaseState::Superseded
        } else {
            ReleaseState::Ready
        }
    }
}

/// A release with its derived state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseView {
    pub release: Release,
    pub state: ReleaseState,
    /// Environments serving it now, in promotion order.
    pub live_in: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    pub description: String,
    pub protected: bool,
    /// Environments a release must have passed first (§3.5).
    pub requires: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentView {
    pub env: Environment,
    pub live: Option<String>,
    pub live_digest: Option<Digest>,
    /// What `rollback` would make live (the entry below the top of the stack).
    pub rollback_to: Option<String>,
    pub since: Option<Timestamp>,
    pub by: Option<String>,
    /// The id of the deployment that made `live` live.
    pub deployment_id: Option<u64>,
    /// The verification recorded on that deployment, if any.
    pub verification: Option<Verification>,
    /// Releases rolled back out of this environment: redeploying one needs `--force --reason`.
    pub held: Vec<String>,
    /// Freezes, windows, approvals and open requests (issue 11). Boxed: it is large and
    /// usually empty, and this travels inline in `Response`.
    pub governance: Box<GovernanceView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentKind {
    Deploy,
    Rollback,
}

impl DeploymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Deploy => "deploy",
            DeploymentKind::Rollback => "rollback",
        }
    }
}

/// One change of what an environment serves. Append-only; only `verification` is ever
/// filled in later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: u64,
    pub env: String,
    pub release: String,
    pub release_seq: u64,
    pub previous: Option<String>,
    pub kind: DeploymentKind,
    pub actor: String,
    pub at: Timestamp,
    /// Why: required with `--force`; optional otherwise.
    pub reason: Option<String>,
    /// An admin override of the policy or a hold.
    pub forced: bool,
    pub verification: Option<Verification>,
}

/// The answer to a deploy or rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutcome {
    /// The appended record, or (when `changed` is false) the one that made it live.
    pub deployment: Deployment,
    /// False when the release was already live: nothing was written.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub at: Timestamp,
    pub by: String,
    pub passed: bool,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// Why it failed, or a short description of what passed.
    pub message: String,
    pub execution_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRelease {
    pub tag: String,
    pub description: String,
    /// Snapshot this instead of the draft (`--from FILE`).
    pub config: Option<crate::config::AppConfigText>,
    /// Deploy it in the same transaction.
    pub deploy_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOutcome {
    pub release: ReleaseView,
    /// Tags of earlier releases with identical content, newest first.
    pub same_content_as: Vec<String>,
    pub deployment: Option<DeployOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRequest {
    pub tag: String,
    pub env: String,
    /// Compare-and-swap: the tag that must be live now (`"none"` is not special; use
    /// `expect_nothing`).
    pub expect: Option<String>,
    /// Admin override of policy and holds; must carry a reason.
    pub force_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub env: String,
    /// Pop until this release is on top.
    pub to: Option<String>,
    pub expect: Option<String>,
    pub reason: Option<String>,
}

/// What a rollback would do, without doing it (`--dry-run`, the confirmation screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackPlan {
    pub env: String,
    pub from: String,
    pub to: String,
    /// Releases popped off the stack (held afterwards), newest first; starts with `from`.
    pub popped: Vec<String>,
    pub diff: Diff,
}

/// What a deploy would do (the confirmation screen): from → to, the diff, the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployPlan {
    pub env: String,
    pub from: Option<String>,
    pub to: String,
    pub diff: Diff,
    /// `Ok(())` or the policy / permission / hold error the deploy would get without force.
    pub verdict: Result<(), crate::error::RelError>,
    pub protected: bool,
    pub already_live: bool,
    /// The target environment's freezes and approvals: with `approvals > 0` a deploy opens
    /// a request instead of going live. Boxed like `EnvironmentView::governance`.
    pub governance: Box<GovernanceView>,
    /// Open requests to deploy this release to this environment.
    pub pending: Vec<ChangeRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseQuery {
    pub state: Option<ReleaseState>,
    /// Case-insensitive substring of tag, author or description.
    pub filter: Option<String>,
    /// Only releases with `seq` below this (paging, newest first).
    pub before_seq: Option<u64>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    pub removed: Vec<String>,
    /// Kept although older than the cut: live or on a rollback stack.
    pub protected: Vec<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    pub releases: u64,
    pub environments: u64,
    pub deployments: u64,
    pub audit_entries: u64,
    pub draft_digest: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    /// e.g. `deploy`, `rollback`, `release.create`, `draft.apply`, `env.create`.
    pub action: String,
    pub detail: String,
    pub prev: Digest,
    pub hash: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub entries: u64,
    pub ok: bool,
    /// The first entry whose hash or link does not match, with why.
    pub first_bad: Option<(u64, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecStatus {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    pub kind: String,
    pub status: ExecStatus,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The step's output as JSON text.
    pub output: String,
}

/// One run of an endpoint (§3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub id: u64,
    pub env: String,
    pub endpoint: String,
    pub release: String,
    pub digest: Digest,
    pub status: ExecStatus,
    /// JSON text.
    pub input: String,
    /// JSON text (`null` on error).
    pub output: String,
    pub error: Option<String>,
    pub steps: Vec<StepResult>,
    pub started_at: Timestamp,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecQuery {
    pub env: Option<String>,
    pub endpoint: Option<String>,
    pub before_id: Option<u64>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// A committed change, as the store records it: in commit order, with a store-wide sequence
/// number, written in the same transaction as the change itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    ReleaseCreated {
        release: Release,
        /// Where it was deployed in the same transaction (`release create --deploy`).
        live_in: Vec<String>,
        actor: String,
    },
    Deployed(Deployment),
    RolledBack(Deployment),
    VerificationFinished {
        env: String,
        deployment_id: u64,
        release: String,
        passed: bool,
    },
    ExecutionFinished {
        id: u64,
        env: String,
        endpoint: String,
        release: String,
        status: ExecStatus,
    },
    DraftApplied {
        digest: Digest,
        actor: String,
    },
    EnvironmentCreated {
        name: String,
        actor: String,
    },
    ReleasesPruned {
        removed: Vec<String>,
        actor: String,
    },
    Imported {
        actor: String,
    },
    /// An environment (`env: None`: every environment, the line stopped) was frozen.
    Frozen {
        env: Option<String>,
        freeze: Freeze,
    },
    Unfrozen {
        env: Option<String>,
        actor: String,
    },
    /// Approvals or freeze windows of an environment changed; `what` says how.
    GovernanceChanged {
        env: String,
        actor: String,
        what: String,
    },
    /// A request was opened, approved, rejected, expired or carried out.
    RequestChanged(ChangeRequest),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Store-wide, strictly increasing in commit order, never reused.
    pub seq: u64,
    pub change: Change,
}
