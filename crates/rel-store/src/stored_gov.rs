//! Stored forms of the governance records (issue 11): an environment's freeze, windows and
//! approvals (`gov` tree), and change requests (`requests` tree). Same rules as `stored.rs`:
//! version byte + bincode of the structs here, never of a domain type.

use serde::{Deserialize, Serialize};

use rel_domain::Timestamp;
use rel_domain::governance::{
    Approval, ChangeRequest, Freeze, FreezeWindow, RequestKind, RequestStatus,
};

use crate::stored::Record;

/// Governance of one environment (key: its name), or of every environment (key `*`: only
/// `freeze` is used, the stopped line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovRecord {
    pub approvals: u32,
    pub freeze: Option<Freeze>,
    pub windows: Vec<FreezeWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeV1 {
    pub by: String,
    pub reason: String,
    pub since: i64,
    pub until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowV1 {
    pub id: u64,
    pub spec: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovV1 {
    pub approvals: u32,
    pub freeze: Option<FreezeV1>,
    pub windows: Vec<WindowV1>,
}

pub fn freeze_v1(f: &Freeze) -> FreezeV1 {
    FreezeV1 {
        by: f.by.clone(),
        reason: f.reason.clone(),
        since: f.since.0,
        until: f.until.map(|t| t.0),
    }
}

pub fn freeze_from(v: FreezeV1) -> Freeze {
    Freeze {
        by: v.by,
        reason: v.reason,
        since: Timestamp(v.since),
        until: v.until.map(Timestamp),
    }
}

impl Record for GovRecord {
    type V1 = GovV1;
    fn to_v1(&self) -> GovV1 {
        GovV1 {
            approvals: self.approvals,
            freeze: self.freeze.as_ref().map(freeze_v1),
            windows: self
                .windows
                .iter()
                .map(|w| WindowV1 {
                    id: w.id,
                    spec: w.spec.clone(),
                    reason: w.reason.clone(),
                    added_by: w.added_by.clone(),
                    added_at: w.added_at.0,
                })
                .collect(),
        }
    }
    fn from_v1(v: GovV1) -> Self {
        GovRecord {
            approvals: v.approvals,
            freeze: v.freeze.map(freeze_from),
            windows: v
                .windows
                .into_iter()
                .map(|w| FreezeWindow {
                    id: w.id,
                    spec: w.spec,
                    reason: w.reason,
                    added_by: w.added_by,
                    added_at: Timestamp(w.added_at),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalV1 {
    pub by: String,
    pub at: i64,
}

/// A change request. `kind`: 0 approval, 1 scheduled. `status`: 0 pending, 1 deployed,
/// 2 rejected, 3 expired, 4 conflict, 5 refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestV1 {
    pub id: u64,
    pub kind: u8,
    pub env: String,
    pub release: String,
    pub expect: Option<String>,
    pub requested_by: String,
    pub requested_uid: u32,
    pub requested_at: i64,
    pub status: u8,
    pub at: Option<i64>,
    pub expires_at: Option<i64>,
    pub approvals_needed: u32,
    pub approvals: Vec<ApprovalV1>,
    pub force_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub outcome: Option<String>,
    pub deployment_id: Option<u64>,
}

const STATUSES: [RequestStatus; 6] = [
    RequestStatus::Pending,
    RequestStatus::Deployed,
    RequestStatus::Rejected,
    RequestStatus::Expired,
    RequestStatus::Conflict,
    RequestStatus::Refused,
];

impl Record for ChangeRequest {
    type V1 = RequestV1;
    fn to_v1(&self) -> RequestV1 {
        RequestV1 {
            id: self.id,
            kind: match self.kind {
                RequestKind::Approval => 0,
                RequestKind::Scheduled => 1,
            },
            env: self.env.clone(),
            release: self.release.clone(),
            expect: self.expect.clone(),
            requested_by: self.requested_by.clone(),
            requested_uid: self.requested_uid,
            requested_at: self.requested_at.0,
            status: STATUSES.iter().position(|s| *s == self.status).unwrap_or(0) as u8,
            at: self.at.map(|t| t.0),
            expires_at: self.expires_at.map(|t| t.0),
            approvals_needed: self.approvals_needed,
            approvals: self
                .approvals
                .iter()
                .map(|a| ApprovalV1 {
                    by: a.by.clone(),
                    at: a.at.0,
                })
                .collect(),
            force_reason: self.force_reason.clone(),
            decided_by: self.decided_by.clone(),
            decided_at: self.decided_at.map(|t| t.0),
            outcome: self.outcome.clone(),
            deployment_id: self.deployment_id,
        }
    }
    fn from_v1(v: RequestV1) -> Self {
        ChangeRequest {
            id: v.id,
            kind: if v.kind == 1 {
                RequestKind::Scheduled
            } else {
                RequestKind::Approval
            },
            env: v.env,
            release: v.release,
            expect: v.expect,
            requested_by: v.requested_by,
            requested_uid: v.requested_uid,
            requested_at: Timestamp(v.requested_at),
            // An unknown status (a newer rel) reads as refused: never carried out again.
            status: STATUSES
                .get(usize::from(v.status))
                .copied()
                .unwrap_or(RequestStatus::Refused),
            at: v.at.map(Timestamp),
            expires_at: v.expires_at.map(Timestamp),
            approvals_needed: v.approvals_needed,
            approvals: v
                .approvals
                .into_iter()
                .map(|a| Approval {
                    by: a.by,
                    at: Timestamp(a.at),
                })
                .collect(),
            force_reason: v.force_reason,
            decided_by: v.decided_by,
            decided_at: v.decided_at.map(Timestamp),
            outcome: v.outcome,
            deployment_id: v.deployment_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stored::{decode, encode_v1};

    #[test]
    fn governance_records_roundtrip() {
        let g = GovRecord {
            approvals: 2,
            freeze: Some(Freeze {
                by: "ana".into(),
                reason: "incident".into(),
                since: Timestamp(1),
                until: Some(Timestamp(2)),
            }),
            windows: vec![FreezeWindow {
                id: 3,
                spec: "22:00 - 06:00 UTC".into(),
                reason: "night".into(),
                added_by: "ana".into(),
                added_at: Timestamp(4),
            }],
        };
        let back: GovRecord = decode("gov", &encode_v1(&g).expect("enc")).expect("dec");
        assert_eq!(back, g);
        for status in STATUSES {
            let r = ChangeRequest {
                id: 9,
                kind: RequestKind::Scheduled,
                env: "production".into(),
                release: "v2".into(),
                expect: Some("v1".into()),
                requested_by: "bob".into(),
                requested_uid: 1001,
                requested_at: Timestamp(5),
                status,
                at: Some(Timestamp(6)),
                expires_at: None,
                approvals_needed: 1,
                approvals: vec![Approval {
                    by: "ana".into(),
                    at: Timestamp(7),
                }],
                force_reason: Some("hotfix".into()),
                decided_by: None,
                decided_at: None,
                outcome: None,
                deployment_id: None,
            };
            let back: ChangeRequest = decode("request", &encode_v1(&r).expect("enc")).expect("dec");
            assert_eq!(back, r);
        }
    }
}
