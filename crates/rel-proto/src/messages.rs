//! Every message on the wire. Append-only: add variants and fields at the end.

use rel_domain::config::AppConfigText;
use rel_domain::diff::Diff;
use rel_domain::governance::{ChangeRequest, Freeze};
use rel_domain::model::*;
use rel_domain::snapshot::Digest;
use rel_domain::{RelError, Timestamp};
use serde::{Deserialize, Serialize};

/// Client → daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientFrame {
    /// Must be the first frame on a connection.
    Hello(Hello),
    Request {
        id: u64,
        request: Request,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    /// e.g. `relctl 0.1.0`, for the daemon's logs.
    pub client: String,
}

/// Daemon → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The answer to `Hello`: who the daemon thinks you are, or why it refuses.
    Welcome(Result<Welcome, RelError>),
    Response {
        id: u64,
        result: Result<Response, RelError>,
    },
    /// Only after `Request::Subscribe`.
    Event(Event),
    /// Only after `Request::SubscribeSince`: the event and its store-wide sequence number
    /// (commit order; `Lagged` carries the seq of the last event before the gap).
    SeqEvent { seq: u64, event: Event },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub daemon_version: String,
    pub caller: Caller,
    pub pid: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Liveness probe; answers `Pong`.
    Ping,
    Status,
    DraftShow,
    DraftApply(AppConfigText),
    /// Draft vs a release (default: the newest).
    DraftDiff {
        tag: Option<String>,
    },
    /// Parse and validate without storing.
    Validate(AppConfigText),
    ReleaseCreate(NewRelease),
    ReleaseList(ReleaseQuery),
    ReleaseShow {
        tag: String,
    },
    ReleasePrune {
        keep: u64,
        dry_run: bool,
    },
    Diff {
        from: String,
        to: String,
    },
    PlanDeploy(DeployRequest),
    Deploy(DeployRequest),
    PlanRollback(RollbackRequest),
    Rollback(RollbackRequest),
    EnvList,
    EnvShow {
        name: String,
    },
    EnvCreate(Environment),
    EnvHistory {
        env: String,
        limit: u64,
        before_id: Option<u64>,
    },
    Audit {
        limit: u64,
        before_seq: Option<u64>,
    },
    AuditVerify,
    Export,
    Import {
        dump: String,
    },
    /// Turns this connection into a stream of `ServerFrame::Event` (after the `Subscribed`
    /// response). Other requests still work on it.
    Subscribe,
    /// Run an endpoint under what is live in `env`. `input` is JSON text.
    Trigger {
        endpoint: String,
        env: String,
        input: String,
    },
    /// Run the checks against what is live in `env` and record the result.
    Verify {
        env: String,
    },
    Logs(ExecQuery),
    LogShow {
        id: u64,
    },
    TokenCreate {
        name: String,
    },
    TokenList,
    TokenRevoke {
        name: String,
    },
    /// Stop the daemon gracefully (admin only), as SIGTERM does; answers `Done` first.
    DaemonStop,
    /// Like `Subscribe`, but every event comes with its seq (`ServerFrame::SeqEvent`), and
    /// with `after: Some(SEQ)` the daemon first replays the stored events after SEQ, then
    /// continues live without a gap or a repeat. `None`: live from now.
    SubscribeSince {
        after: Option<u64>,
    },
    /// `Export` without the one-frame limit: answered by a sequence of `Response::Export`
    /// pieces of the document (in order, each well inside a frame), then `Response::Done`.
    ExportStream,
    /// `Import` without the one-frame limit: the document in pieces, in order, on one
    /// connection; each is answered `Done`. Nothing is imported until `ImportCommit`.
    ImportChunk {
        data: String,
    },
    /// Import the pieces this connection sent (answered `Imported`).
    ImportCommit,
    /// Freeze one environment, or every one (`env: None`, stop the line). Answered
    /// `Environments` with the environments it froze.
    Freeze {
        env: Option<String>,
        reason: String,
        until: Option<Timestamp>,
    },
    /// End an explicit freeze of one environment, or the stopped line (`env: None`).
    /// Windows are not affected. Answered `Environments`.
    Unfreeze {
        env: Option<String>,
    },
    /// Add a recurring freeze window (admin). Answered `Environment`.
    FreezeWindowAdd {
        env: String,
        spec: String,
        reason: String,
    },
    /// Remove a freeze window by id (admin). Answered `Environment`.
    FreezeWindowRemove {
        env: String,
        id: u64,
    },
    /// Set how many approvals a deploy to `env` needs (admin; 0 turns approvals off).
    EnvSetApprovals {
        env: String,
        approvals: u32,
    },
    /// `env create --approvals N`: the environment and its approvals in one transaction.
    EnvCreateGoverned {
        env: Environment,
        approvals: u32,
    },
    /// A deploy that may wait: `at` schedules it; on an environment that needs approvals
    /// it opens a request that expires at `expires_at` (default: 24 h). Answered
    /// `Deployed` when it went live at once, else `ChangeRequest`.
    SubmitDeploy {
        deploy: DeployRequest,
        at: Option<Timestamp>,
        expires_at: Option<Timestamp>,
    },
    /// Requests, newest first: open ones, or all with `all` (`before_id` pages).
    Requests {
        env: Option<String>,
        all: bool,
        limit: u64,
        before_id: Option<u64>,
    },
    /// Approve request `id` (not its requester). Answered `RequestDecided`.
    Approve {
        id: u64,
    },
    /// Reject (or, by its requester, withdraw) request `id`. Answered `ChangeRequest`.
    Reject {
        id: u64,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Pong,
    Status(DaemonStatus),
    Draft(Option<DraftView>),
    DraftApplied {
        digest: Digest,
        diff: Diff,
    },
    Diff(DiffView),
    Valid {
        digest: Digest,
    },
    Created(CreateOutcome),
    Releases(Vec<ReleaseView>),
    Release(ReleaseDetail),
    Pruned(PruneReport),
    DeployPlan(DeployPlan),
    Deployed(DeployOutcome),
    RollbackPlan(RollbackPlan),
    Environments(Vec<EnvironmentView>),
    Environment(EnvironmentView),
    History(Vec<Deployment>),
    Audit(Vec<AuditEntry>),
    AuditReport(AuditReport),
    Export {
        dump: String,
    },
    Imported(StoreStatus),
    Subscribed,
    Execution(Execution),
    Executions(Vec<Execution>),
    Verified(VerifyOutcome),
    TokenCreated {
        info: TokenInfo,
        secret: String,
    },
    Tokens(Vec<TokenInfo>),
    Done,
    /// A deploy that did not go live at once: the request it opened. (Boxed, like the
    /// other large request-carrying variants, to keep frames small in memory.)
    ChangeRequest(Box<ChangeRequest>),
    Requests(Vec<ChangeRequest>),
    /// An approval: the request as it is now, and the deploy the last approval carried out.
    RequestDecided {
        request: Box<ChangeRequest>,
        deployed: Option<DeployOutcome>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub daemon_version: String,
    pub protocol: u32,
    pub pid: u32,
    pub socket: String,
    pub data_dir: String,
    pub started_at: Timestamp,
    pub http: Option<String>,
    pub store: StoreStatus,
    pub caller: Caller,
    /// Where the daemon's log goes when it is a file (a detached daemon's `releasd.log`).
    pub log: Option<String>,
    /// Which store backs the daemon: sled in its data dir, or an etcd cluster.
    pub backend: StoreBackend,
    /// Why the store refuses writes since a disk failure (restart releasd once the disk is
    /// fixed), or `None` when healthy.
    pub degraded: Option<String>,
}

/// Where the store lives (`relctl status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreBackend {
    /// `sled` or `etcd`.
    pub kind: String,
    /// sled: the data dir; etcd: the store's URL, `etcd://HOST:PORT,…/PREFIX`.
    pub location: String,
    /// etcd: the cluster's client endpoints, as configured.
    pub endpoints: Vec<String>,
    /// etcd: the member that answered this status call (`NAME URL`), or why none did.
    pub answered_by: Option<String>,
    /// etcd: the cluster's revision as that member saw it.
    pub revision: Option<i64>,
}

impl StoreBackend {
    /// The embedded default: sled in `data_dir`.
    pub fn sled(data_dir: &str) -> StoreBackend {
        StoreBackend {
            kind: "sled".into(),
            location: data_dir.to_string(),
            endpoints: Vec::new(),
            answered_by: None,
            revision: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftView {
    pub digest: Digest,
    /// Canonical JSON of the app config.
    pub config_json: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffView {
    /// e.g. `v1.0.0` or `draft`.
    pub from: String,
    pub to: String,
    pub from_digest: Option<Digest>,
    pub to_digest: Option<Digest>,
    pub diff: Diff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDetail {
    pub view: ReleaseView,
    /// Canonical JSON of the snapshot.
    pub config_json: String,
    /// The release before this one (by seq), and the diff from it.
    pub previous: Option<String>,
    pub diff_from_previous: Diff,
    /// Deployments of this release, newest first.
    pub history: Vec<Deployment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOutcome {
    pub env: String,
    pub release: String,
    pub deployment: Deployment,
    pub verification: Verification,
}

/// What subscribers hear. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    ReleaseCreated {
        release: ReleaseView,
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
    /// The subscriber fell behind and missed `missed` events; refresh everything.
    Lagged {
        missed: u64,
    },
    /// One environment (`env: None`: every one, the line stopped) was frozen.
    Frozen {
        env: Option<String>,
        freeze: Freeze,
    },
    Unfrozen {
        env: Option<String>,
        actor: String,
    },
    /// Approvals or freeze windows of `env` changed; `what` says how.
    GovernanceChanged {
        env: String,
        actor: String,
        what: String,
    },
    /// A request was opened, approved, rejected, expired or carried out.
    RequestChanged(Box<ChangeRequest>),
}
