//! The stable `-o json` shapes (§4.3), built as pure functions over the domain and protocol
//! types so they can be snapshot-tested with fixed data. Fields may be added, never renamed
//! or removed. Structs (not `serde_json::Value` maps) keep the documented field order.
//! Timestamps are RFC 3339 UTC; digests are `b3:` + 12 hex, except the audit chain's hashes
//! which are full 64-hex BLAKE3 so the chain can be checked by other tools.

use rel_domain::diff::{ChangeOp, Diff};
use rel_domain::{
    AuditEntry, AuditReport, CreateOutcome, DeployOutcome, DeployPlan, Deployment, EnvironmentView,
    PruneReport, ReleaseView, RollbackPlan, StoreStatus, Verification,
};
use rel_proto::{DaemonStatus, DiffView, Event, ReleaseDetail};

use crate::holds::Holds;
use serde::Serialize;
use serde_json::Value;

/// Pretty JSON for a command's whole answer.
pub fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode JSON: {e}\"}}"))
}

/// One line of JSON (for `watch` and errors).
pub fn line<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode JSON: {e}\"}}"))
}

#[derive(Debug, Serialize)]
pub struct ReleaseJson {
    pub seq: u64,
    pub tag: String,
    pub description: String,
    pub state: &'static str,
    /// Environments it was rolled back out of (§3.2): redeploying there needs --force.
    pub held_in: Vec<String>,
    pub live_in: Vec<String>,
    pub digest: String,
    pub created_at: String,
    pub created_by: String,
}

pub fn release(v: &ReleaseView) -> ReleaseJson {
    let r = &v.release;
    ReleaseJson {
        seq: r.seq,
        tag: r.tag.clone(),
        description: r.description.clone(),
        state: v.state.as_str(),
        held_in: Vec::new(),
        live_in: v.live_in.clone(),
        digest: r.digest.short(),
        created_at: r.created_at.rfc3339(),
        created_by: r.created_by.clone(),
    }
}

/// A release with where it is held filled in.
pub fn release_held(v: &ReleaseView, holds: &Holds) -> ReleaseJson {
    ReleaseJson {
        held_in: holds.held_in(&v.release.tag).to_vec(),
        ..release(v)
    }
}

pub fn releases(list: &[ReleaseView], holds: &Holds) -> Vec<ReleaseJson> {
    list.iter().map(|v| release_held(v, holds)).collect()
}

#[derive(Debug, Serialize)]
pub struct VerificationJson {
    pub passed: bool,
    pub at: String,
    pub by: String,
    pub checks: Vec<CheckJson>,
}

#[derive(Debug, Serialize)]
pub struct CheckJson {
    pub name: String,
    pub passed: bool,
    pub message: String,
}

fn verification(v: &Verification) -> VerificationJson {
    VerificationJson {
        passed: v.passed,
        at: v.at.rfc3339(),
        by: v.by.clone(),
        checks: v
            .checks
            .iter()
            .map(|c| CheckJson {
                name: c.name.clone(),
                passed: c.passed,
                message: c.message.clone(),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
pub struct EnvironmentJson {
    pub name: String,
    pub description: String,
    pub protected: bool,
    pub requires: Vec<String>,
    pub live: Option<String>,
    pub rollback_to: Option<String>,
    pub since: Option<String>,
    pub by: Option<String>,
    // Additions beyond §4.3's minimum.
    pub live_digest: Option<String>,
    pub deployment_id: Option<u64>,
    pub held: Vec<String>,
    pub verification: Option<VerificationJson>,
    // Change governance (issue 11): the freeze in force (null if none), the window it comes
    // from (if it is one), every window, approvals per deploy, open requests.
    pub frozen: Option<crate::json_gov::FreezeJson>,
    pub freeze_window: Option<crate::json_gov::WindowJson>,
    pub freeze_windows: Vec<crate::json_gov::WindowJson>,
    pub approvals: u32,
    pub pending_requests: u64,
}

pub fn environment(v: &EnvironmentView) -> EnvironmentJson {
    let g = crate::json_gov::env_gov(&v.governance);
    EnvironmentJson {
        frozen: g.frozen,
        freeze_window: g.freeze_window,
        freeze_windows: g.freeze_windows,
        approvals: g.approvals,
        pending_requests: g.pending_requests,
        name: v.env.name.clone(),
        description: v.env.description.clone(),
        protected: v.env.protected,
        requires: v.env.requires.clone(),
        live: v.live.clone(),
        rollback_to: v.rollback_to.clone(),
        since: v.since.map(|t| t.rfc3339()),
        by: v.by.clone(),
        live_digest: v.live_digest.map(|d| d.short()),
        deployment_id: v.deployment_id,
        held: v.held.clone(),
        verification: v.verification.as_ref().map(verification),
    }
}

pub fn environments(list: &[EnvironmentView]) -> Vec<EnvironmentJson> {
    list.iter().map(environment).collect()
}

#[derive(Debug, Serialize)]
pub struct DeploymentJson {
    pub id: u64,
    pub env: String,
    pub release: String,
    pub previous: Option<String>,
    pub kind: &'static str,
    pub actor: String,
    pub at: String,
    pub reason: Option<String>,
    pub changed: bool,
    // Additions beyond §4.3's minimum.
    pub forced: bool,
    pub verification: Option<VerificationJson>,
}

/// A deployment record; `changed` is false only for an idempotent redeploy's answer.
pub fn deployment(d: &Deployment, changed: bool) -> DeploymentJson {
    DeploymentJson {
        id: d.id,
        env: d.env.clone(),
        release: d.release.clone(),
        previous: d.previous.clone(),
        kind: d.kind.as_str(),
        actor: d.actor.clone(),
        at: d.at.rfc3339(),
        reason: d.reason.clone(),
        changed,
        forced: d.forced,
        verification: d.verification.as_ref().map(verification),
    }
}

pub fn outcome(o: &DeployOutcome) -> DeploymentJson {
    deployment(&o.deployment, o.changed)
}

/// History rows: every recorded deployment changed what its environment served.
pub fn history(list: &[Deployment]) -> Vec<DeploymentJson> {
    list.iter().map(|d| deployment(d, true)).collect()
}

#[derive(Debug, Serialize)]
pub struct ChangeJson {
    pub path: String,
    pub op: &'static str,
    pub fields: Vec<FieldJson>,
}

#[derive(Debug, Serialize)]
pub struct FieldJson {
    pub field: String,
    /// The old value as JSON (`null` when absent).
    pub before: Value,
    pub after: Value,
}

pub fn op_str(op: ChangeOp) -> &'static str {
    match op {
        ChangeOp::Added => "added",
        ChangeOp::Removed => "removed",
        ChangeOp::Changed => "changed",
    }
}

/// The diff carries values as compact JSON text; re-embed them as JSON values.
fn embed(text: &Option<String>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    }
}

pub fn changes(diff: &Diff) -> Vec<ChangeJson> {
    diff.changes
        .iter()
        .map(|c| ChangeJson {
            path: c.path.clone(),
            op: op_str(c.op),
            fields: c
                .fields
                .iter()
                .map(|f| FieldJson {
                    field: f.field.clone(),
                    before: embed(&f.before),
                    after: embed(&f.after),
                })
                .collect(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct DiffJson {
    pub from: String,
    pub to: String,
    pub from_digest: Option<String>,
    pub to_digest: Option<String>,
    pub identical: bool,
    pub changes: Vec<ChangeJson>,
}

pub fn diff(v: &DiffView) -> DiffJson {
    DiffJson {
        from: v.from.clone(),
        to: v.to.clone(),
        from_digest: v.from_digest.map(|d| d.short()),
        to_digest: v.to_digest.map(|d| d.short()),
        identical: v.diff.is_empty(),
        changes: changes(&v.diff),
    }
}

#[derive(Debug, Serialize)]
pub struct ReleaseDetailJson {
    #[serde(flatten)]
    pub release: ReleaseJson,
    pub previous: Option<String>,
    pub diff_from_previous: Vec<ChangeJson>,
    /// Deployments of this release, newest first.
    pub history: Vec<DeploymentJson>,
    /// The snapshot itself.
    pub config: Value,
}

pub fn release_detail(d: &ReleaseDetail, holds: &Holds) -> ReleaseDetailJson {
    ReleaseDetailJson {
        release: release_held(&d.view, holds),
        previous: d.previous.clone(),
        diff_from_previous: changes(&d.diff_from_previous),
        history: history(&d.history),
        config: serde_json::from_str(&d.config_json).unwrap_or(Value::Null),
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedJson {
    #[serde(flatten)]
    pub release: ReleaseJson,
    /// Earlier releases with identical content, newest first.
    pub same_content_as: Vec<String>,
    /// The deployment made in the same transaction (`--deploy ENV`).
    pub deployment: Option<DeploymentJson>,
}

pub fn created(o: &CreateOutcome) -> CreatedJson {
    CreatedJson {
        release: release(&o.release),
        same_content_as: o.same_content_as.clone(),
        deployment: o.deployment.as_ref().map(outcome),
    }
}

#[derive(Debug, Serialize)]
pub struct RollbackPlanJson {
    pub env: String,
    pub from: String,
    pub to: String,
    /// Releases that leave the stack (and are held afterwards), newest first.
    pub popped: Vec<String>,
    pub changes: Vec<ChangeJson>,
    pub dry_run: bool,
}

pub fn rollback_plan(p: &RollbackPlan) -> RollbackPlanJson {
    RollbackPlanJson {
        env: p.env.clone(),
        from: p.from.clone(),
        to: p.to.clone(),
        popped: p.popped.clone(),
        changes: changes(&p.diff),
        dry_run: true,
    }
}

/// `deploy --dry-run`: what the deploy would do and whether it would go through.
#[derive(Debug, Serialize)]
pub struct DeployPlanJson {
    pub env: String,
    pub from: Option<String>,
    pub to: String,
    pub changes: Vec<ChangeJson>,
    pub protected: bool,
    pub already_live: bool,
    /// `ok`, `request` (it would open a request for approvals), `overridden` (an admin's
    /// --force) or `refused`.
    pub verdict: &'static str,
    /// Why it would be refused (without --force): the error code and message it would get.
    pub refusal: Option<RefusalJson>,
    pub frozen: Option<crate::json_gov::FreezeJson>,
    pub approvals: u32,
    pub pending_requests: Vec<crate::json_gov::RequestJson>,
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct RefusalJson {
    pub code: &'static str,
    pub message: String,
}

/// `refusal`: what would refuse the deploy; without one, the policy's refusal that `--force`
/// overrides (verdict `overridden`), if any.
pub fn deploy_plan(
    p: &DeployPlan,
    verdict: &'static str,
    refusal: Option<&rel_domain::RelError>,
) -> DeployPlanJson {
    DeployPlanJson {
        env: p.env.clone(),
        from: p.from.clone(),
        to: p.to.clone(),
        changes: changes(&p.diff),
        protected: p.protected,
        already_live: p.already_live,
        verdict,
        refusal: refusal.or(p.verdict.as_ref().err()).map(|e| RefusalJson {
            code: e.code.as_str(),
            message: e.message.clone(),
        }),
        frozen: p.governance.frozen.as_ref().map(crate::json_gov::frozen),
        approvals: p.governance.approvals,
        pending_requests: crate::json_gov::requests(&p.pending),
        dry_run: true,
    }
}

#[derive(Debug, Serialize)]
pub struct AuditJson {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

pub fn audit(list: &[AuditEntry]) -> Vec<AuditJson> {
    list.iter()
        .map(|e| AuditJson {
            seq: e.seq,
            at: e.at.rfc3339(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            detail: e.detail.clone(),
            prev: e.prev.hex(),
            hash: e.hash.hex(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct AuditReportJson {
    pub ok: bool,
    pub entries: u64,
    pub first_bad: Option<BadEntryJson>,
}

#[derive(Debug, Serialize)]
pub struct BadEntryJson {
    pub seq: u64,
    pub reason: String,
}

pub fn audit_report(r: &AuditReport) -> AuditReportJson {
    AuditReportJson {
        ok: r.ok,
        entries: r.entries,
        first_bad: r.first_bad.as_ref().map(|(seq, reason)| BadEntryJson {
            seq: *seq,
            reason: reason.clone(),
        }),
    }
}

#[derive(Debug, Serialize)]
pub struct PruneJson {
    pub removed: Vec<String>,
    pub protected: Vec<String>,
    pub dry_run: bool,
}

pub fn pruned(r: &PruneReport) -> PruneJson {
    PruneJson {
        removed: r.removed.clone(),
        protected: r.protected.clone(),
        dry_run: r.dry_run,
    }
}

#[derive(Debug, Serialize)]
pub struct StoreJson {
    pub releases: u64,
    pub environments: u64,
    pub deployments: u64,
    pub audit_entries: u64,
    pub draft_digest: Option<String>,
}

pub fn store(s: &StoreStatus) -> StoreJson {
    StoreJson {
        releases: s.releases,
        environments: s.environments,
        deployments: s.deployments,
        audit_entries: s.audit_entries,
        draft_digest: s.draft_digest.map(|d| d.short()),
    }
}

#[derive(Debug, Serialize)]
pub struct CallerJson {
    pub user: String,
    pub uid: u32,
    pub role: &'static str,
}

#[derive(Debug, Serialize)]
pub struct StatusJson {
    pub client_version: &'static str,
    pub daemon_version: String,
    pub protocol: u32,
    pub pid: u32,
    pub socket: String,
    pub data_dir: String,
    pub started_at: String,
    pub http: Option<String>,
    pub caller: CallerJson,
    pub store: StoreJson,
    pub environments: Vec<EnvironmentJson>,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    /// The daemon's log file; null when it logs to a terminal or a pipe.
    pub log: Option<String>,
    /// Where the store lives: `{"kind":"sled"|"etcd","location","endpoints","answered_by","revision"}`.
    pub backend: BackendJson,
    /// Why the store refuses writes since a disk failure; null when healthy.
    pub degraded: Option<String>,
    /// Deploy requests waiting for approvals or their time; null when they could not be read.
    pub open_requests: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct BackendJson {
    pub kind: String,
    pub location: String,
    pub endpoints: Vec<String>,
    pub answered_by: Option<String>,
    pub revision: Option<i64>,
}

pub fn status(
    s: &DaemonStatus,
    envs: &[EnvironmentView],
    open_requests: Option<usize>,
    now: rel_domain::Timestamp,
) -> StatusJson {
    StatusJson {
        client_version: env!("CARGO_PKG_VERSION"),
        daemon_version: s.daemon_version.clone(),
        protocol: s.protocol,
        pid: s.pid,
        socket: s.socket.clone(),
        data_dir: s.data_dir.clone(),
        started_at: s.started_at.rfc3339(),
        http: s.http.clone(),
        caller: CallerJson {
            user: s.caller.actor.name.clone(),
            uid: s.caller.actor.uid,
            role: s.caller.role.as_str(),
        },
        store: store(&s.store),
        environments: environments(envs),
        uptime_s: u64::try_from(now.0.saturating_sub(s.started_at.0) / 1000).unwrap_or(0),
        log: s.log.clone(),
        backend: BackendJson {
            kind: s.backend.kind.clone(),
            location: s.backend.location.clone(),
            endpoints: s.backend.endpoints.clone(),
            answered_by: s.backend.answered_by.clone(),
            revision: s.backend.revision,
        },
        degraded: s.degraded.clone(),
        open_requests,
    }
}

#[derive(Debug, Serialize)]
pub struct DraftAppliedJson {
    pub file: String,
    pub digest: String,
    pub changes: Vec<ChangeJson>,
}

pub fn draft_applied(file: &str, digest: &rel_domain::Digest, diff: &Diff) -> DraftAppliedJson {
    DraftAppliedJson {
        file: file.to_string(),
        digest: digest.short(),
        changes: changes(diff),
    }
}

#[derive(Debug, Serialize)]
pub struct ValidJson {
    pub valid: bool,
    pub file: String,
    pub digest: String,
    pub tools: usize,
    pub pipelines: usize,
    pub endpoints: usize,
    pub checks: usize,
}

pub fn valid(file: &str, snap: &rel_domain::Snapshot) -> ValidJson {
    let c = &snap.config;
    ValidJson {
        valid: true,
        file: file.to_string(),
        digest: snap.digest.short(),
        tools: c.tools.len(),
        pipelines: c.pipelines.len(),
        endpoints: c.endpoints.len(),
        checks: c.checks.len(),
    }
}

#[derive(Debug, Serialize)]
pub struct ExportJson {
    pub file: String,
    pub bytes: usize,
}

/// `{"error":{"code":...,"message":...}}`, printed on stderr.
#[derive(Debug, Serialize)]
pub struct ErrorJson<'a> {
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

pub fn error<'a>(code: &'a str, message: &'a str) -> ErrorJson<'a> {
    ErrorJson {
        error: ErrorBody { code, message },
    }
}

/// One `watch` line with its store-wide seq: `{"seq":12,"event":"deployed", ...}` (`seq` is
/// what `relctl watch --since` takes; absent only on a `lagged` line relctl itself reports).
#[derive(Debug, Serialize)]
pub struct SeqEventJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(flatten)]
    pub event: EventJson,
}

/// One `watch` line: `{"event":"deployed", ...}`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventJson {
    ReleaseCreated {
        release: ReleaseJson,
        actor: String,
    },
    Deployed {
        deployment: DeploymentJson,
    },
    RolledBack {
        deployment: DeploymentJson,
    },
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
        status: &'static str,
    },
    DraftApplied {
        digest: String,
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
    /// This watcher fell behind and missed events; re-read whatever it tracks.
    Lagged {
        missed: u64,
    },
    /// `env`: null when the line was stopped for every environment.
    Frozen {
        env: Option<String>,
        freeze: crate::json_gov::FreezeJson,
    },
    Unfrozen {
        env: Option<String>,
        actor: String,
    },
    GovernanceChanged {
        env: String,
        actor: String,
        what: String,
    },
    RequestChanged {
        request: crate::json_gov::RequestJson,
    },
}

pub fn event(e: &Event) -> EventJson {
    match e {
        Event::ReleaseCreated { release: r, actor } => EventJson::ReleaseCreated {
            release: release(r),
            actor: actor.clone(),
        },
        Event::Deployed(d) => EventJson::Deployed {
            deployment: deployment(d, true),
        },
        Event::RolledBack(d) => EventJson::RolledBack {
            deployment: deployment(d, true),
        },
        Event::VerificationFinished {
            env,
            deployment_id,
            release,
            passed,
        } => EventJson::VerificationFinished {
            env: env.clone(),
            deployment_id: *deployment_id,
            release: release.clone(),
            passed: *passed,
        },
        Event::ExecutionFinished {
            id,
            env,
            endpoint,
            release,
            status,
        } => EventJson::ExecutionFinished {
            id: *id,
            env: env.clone(),
            endpoint: endpoint.clone(),
            release: release.clone(),
            status: match status {
                rel_domain::ExecStatus::Ok => "ok",
                rel_domain::ExecStatus::Error => "error",
            },
        },
        Event::DraftApplied { digest, actor } => EventJson::DraftApplied {
            digest: digest.short(),
            actor: actor.clone(),
        },
        Event::EnvironmentCreated { name, actor } => EventJson::EnvironmentCreated {
            name: name.clone(),
            actor: actor.clone(),
        },
        Event::ReleasesPruned { removed, actor } => EventJson::ReleasesPruned {
            removed: removed.clone(),
            actor: actor.clone(),
        },
        Event::Imported { actor } => EventJson::Imported {
            actor: actor.clone(),
        },
        Event::Lagged { missed } => EventJson::Lagged { missed: *missed },
        Event::Frozen { env, freeze } => EventJson::Frozen {
            env: env.clone(),
            freeze: crate::json_gov::freeze(freeze, if env.is_some() { "env" } else { "all" }),
        },
        Event::Unfrozen { env, actor } => EventJson::Unfrozen {
            env: env.clone(),
            actor: actor.clone(),
        },
        Event::GovernanceChanged { env, actor, what } => EventJson::GovernanceChanged {
            env: env.clone(),
            actor: actor.clone(),
            what: what.clone(),
        },
        Event::RequestChanged(r) => EventJson::RequestChanged {
            request: crate::json_gov::request(r),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Executions, verification and tokens (issue 4). The execution shape itself lives in
// `rel_proto::json`, so `relctl trigger`/`logs` and the HTTP ingress print the same object.

pub use rel_proto::json::{execution, executions};

#[derive(Debug, Serialize)]
pub struct VerifyCheckJson {
    pub name: String,
    pub passed: bool,
    pub message: String,
    /// The logged run of this check (`relctl logs --id N`), if it ran.
    pub execution_id: Option<u64>,
}

/// `relctl verify`: `{"env","release","deployment","passed","checks"}`, then `at` and `by`.
/// `deployment` is the id of the deployment the result is recorded on.
#[derive(Debug, Serialize)]
pub struct VerifyJson {
    pub env: String,
    pub release: String,
    pub deployment: u64,
    pub passed: bool,
    pub checks: Vec<VerifyCheckJson>,
    pub at: String,
    pub by: String,
}

pub fn verified(o: &rel_proto::VerifyOutcome) -> VerifyJson {
    let v = &o.verification;
    VerifyJson {
        env: o.env.clone(),
        release: o.release.clone(),
        deployment: o.deployment.id,
        passed: v.passed,
        checks: v
            .checks
            .iter()
            .map(|c| VerifyCheckJson {
                name: c.name.clone(),
                passed: c.passed,
                message: c.message.clone(),
                execution_id: c.execution_id,
            })
            .collect(),
        at: v.at.rfc3339(),
        by: v.by.clone(),
    }
}

/// `relctl deploy --verify`: the deployment object plus the verification and, with
/// `--auto-rollback` after a failure, the rollback (or why it could not happen).
#[derive(Debug, Serialize)]
pub struct DeployVerifiedJson {
    #[serde(flatten)]
    pub deployment: DeploymentJson,
    pub verify: VerifyJson,
    pub auto_rollback: Option<DeploymentJson>,
    pub auto_rollback_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenJson {
    pub name: String,
    pub created_at: String,
    pub created_by: String,
}

pub fn tokens(list: &[rel_domain::TokenInfo]) -> Vec<TokenJson> {
    list.iter()
        .map(|t| TokenJson {
            name: t.name.clone(),
            created_at: t.created_at.rfc3339(),
            created_by: t.created_by.clone(),
        })
        .collect()
}

/// `relctl token create`: the only time the secret is ever shown.
#[derive(Debug, Serialize)]
pub struct TokenCreatedJson {
    pub name: String,
    pub secret: String,
    pub created_at: String,
    pub created_by: String,
}

pub fn token_created(info: &rel_domain::TokenInfo, secret: &str) -> TokenCreatedJson {
    TokenCreatedJson {
        name: info.name.clone(),
        secret: secret.to_string(),
        created_at: info.created_at.rfc3339(),
        created_by: info.created_by.clone(),
    }
}

#[derive(Debug, Serialize)]
pub struct TokenRevokedJson {
    pub name: String,
    pub revoked: bool,
}
