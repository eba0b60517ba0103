//! `-o json` shapes of change governance (issue 11): freezes, freeze windows and change
//! requests. Same rules as `json.rs`: fields may be added, never renamed or removed.

use rel_domain::governance::{ChangeRequest, Freeze, FreezeView, FreezeWindow, GovernanceView};
use serde::Serialize;

use crate::json::DeploymentJson;

/// `"frozen": {"by","reason","since","until"}` plus where it comes from (`scope`: `env`,
/// `all` for a stopped line, `window`).
#[derive(Debug, Serialize)]
pub struct FreezeJson {
    pub by: String,
    pub reason: String,
    pub since: String,
    pub until: Option<String>,
    pub scope: &'static str,
}

pub fn frozen(f: &FreezeView) -> FreezeJson {
    FreezeJson {
        by: f.by.clone(),
        reason: f.reason.clone(),
        since: f.since.rfc3339(),
        until: f.until.map(|t| t.rfc3339()),
        scope: f.scope.as_str(),
    }
}

pub fn freeze(f: &Freeze, scope: &'static str) -> FreezeJson {
    FreezeJson {
        by: f.by.clone(),
        reason: f.reason.clone(),
        since: f.since.rfc3339(),
        until: f.until.map(|t| t.rfc3339()),
        scope,
    }
}

#[derive(Debug, Serialize)]
pub struct WindowJson {
    pub id: u64,
    pub spec: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: String,
}

pub fn window(w: &FreezeWindow) -> WindowJson {
    WindowJson {
        id: w.id,
        spec: w.spec.clone(),
        reason: w.reason.clone(),
        added_by: w.added_by.clone(),
        added_at: w.added_at.rfc3339(),
    }
}

/// The governance fields an environment object gains.
pub struct EnvGovJson {
    pub frozen: Option<FreezeJson>,
    pub freeze_window: Option<WindowJson>,
    pub freeze_windows: Vec<WindowJson>,
    pub approvals: u32,
    pub pending_requests: u64,
}

pub fn env_gov(g: &GovernanceView) -> EnvGovJson {
    EnvGovJson {
        frozen: g.frozen.as_ref().map(frozen),
        freeze_window: g
            .frozen
            .as_ref()
            .and_then(|f| f.window.as_ref())
            .map(window),
        freeze_windows: g.windows.iter().map(window).collect(),
        approvals: g.approvals,
        pending_requests: g.pending_requests,
    }
}

#[derive(Debug, Serialize)]
pub struct ApprovalJson {
    pub by: String,
    pub at: String,
}

/// A change request: `{"id","env","release","expect","requested_by","status",...}`.
#[derive(Debug, Serialize)]
pub struct RequestJson {
    pub id: u64,
    pub env: String,
    pub release: String,
    pub expect: Option<String>,
    pub requested_by: String,
    /// `pending`, `deployed`, `rejected`, `expired`, `conflict`, `refused`.
    pub status: &'static str,
    /// `approval` or `scheduled`.
    pub kind: &'static str,
    pub requested_at: String,
    /// Scheduled: when it fires.
    pub at: Option<String>,
    /// Approval: when it expires unless approved.
    pub expires_at: Option<String>,
    pub approvals_needed: u32,
    pub approvals: Vec<ApprovalJson>,
    pub force_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// Why it ended (reject reason, expiry, conflict, refusal) or what it deployed.
    pub outcome: Option<String>,
    pub deployment_id: Option<u64>,
}

pub fn request(r: &ChangeRequest) -> RequestJson {
    RequestJson {
        id: r.id,
        env: r.env.clone(),
        release: r.release.clone(),
        expect: r.expect.clone(),
        requested_by: r.requested_by.clone(),
        status: r.status.as_str(),
        kind: r.kind.as_str(),
        requested_at: r.requested_at.rfc3339(),
        at: r.at.map(|t| t.rfc3339()),
        expires_at: r.expires_at.map(|t| t.rfc3339()),
        approvals_needed: r.approvals_needed,
        approvals: r
            .approvals
            .iter()
            .map(|a| ApprovalJson {
                by: a.by.clone(),
                at: a.at.rfc3339(),
            })
            .collect(),
        force_reason: r.force_reason.clone(),
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at.map(|t| t.rfc3339()),
        outcome: r.outcome.clone(),
        deployment_id: r.deployment_id,
    }
}

pub fn requests(list: &[ChangeRequest]) -> Vec<RequestJson> {
    list.iter().map(request).collect()
}

/// `deploy` on an environment that needs approvals, `deploy --at`, `reject`:
/// `{"request": {...}}`.
#[derive(Debug, Serialize)]
pub struct RequestAnswerJson {
    pub request: RequestJson,
}

/// `approve`: the request, and the deployment the last approval carried out (else null).
#[derive(Debug, Serialize)]
pub struct ApprovedJson {
    pub request: RequestJson,
    pub deployment: Option<DeploymentJson>,
}
