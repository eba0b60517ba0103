//! The store's own record types. A value in a record tree is `version byte ++ bincode` of a
//! struct defined here, never of a domain or wire type: the domain may gain a field without
//! making stored records "corrupt". When a stored layout must change, add `…V2` next to `…V1`,
//! a new version byte, and decode both (old records stay readable, or a migration rewrites
//! them). Conversions to and from the domain types live next to each struct.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use rel_domain::snapshot::Manifest;
use rel_domain::{
    AuditEntry, Change, CheckResult, Deployment, DeploymentKind, Digest, Environment, ExecStatus,
    Execution, RelError, RelResult, StepResult, Timestamp, TokenInfo, Verification,
};

use rel_domain::rollback::Hold;

use crate::records::{EnvRecord, EnvState, ExecWindow, ManifestRecord, TagEntry, TokenRecord};
use crate::trees::T;

/// The record version this build writes.
pub const V1: u8 = 1;

/// A value kept in a record tree, with its stored form.
pub trait Record: Sized {
    type V1: Serialize + DeserializeOwned;
    fn to_v1(&self) -> Self::V1;
    fn from_v1(v: Self::V1) -> Self;
}

pub(crate) fn encode_v1<R: Record>(v: &R) -> RelResult<Vec<u8>> {
    let mut out = vec![V1];
    bincode::serde::encode_into_std_write(v.to_v1(), &mut out, bincode::config::standard())
        .map_err(|e| RelError::internal(format!("store: cannot encode a record: {e}")))?;
    Ok(out)
}

/// Decode a record; `what` names it in errors.
pub(crate) fn decode<R: Record>(what: &str, bytes: &[u8]) -> RelResult<R> {
    decode_with(bytes, || format!("the {what} record"))
}

/// Decode the record at `key` of tree `t`; errors name both.
pub(crate) fn decode_at<R: Record>(t: T, key: &[u8], bytes: &[u8]) -> RelResult<R> {
    decode_with(bytes, || {
        format!("the record at key {} of tree {}", show_key(key), t.name())
    })
}

fn decode_with<R: Record>(bytes: &[u8], what: impl Fn() -> String) -> RelResult<R> {
    match bytes.split_first() {
        Some((&V1, body)) => crate::records::dec_plain_named::<R::V1>(&what, body).map(R::from_v1),
        Some((v, _)) => Err(RelError::internal(format!(
            "store: {} has format version {v}, which this rel does not know (it writes {V1}); it was written by a newer rel: upgrade rel, or restore the data dir from a backup",
            what()
        ))),
        None => Err(RelError::internal(format!(
            "store: {} is empty; restore the data dir from a backup or an export",
            what()
        ))),
    }
}

/// A key as text when it is printable, else as hex.
pub fn show_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()) => format!("{s:?}"),
        _ => format!(
            "0x{}",
            key.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

/// Store-owned records that are already store types: stored as themselves.
macro_rules! as_itself {
    ($($t:ty),*) => {$(
        impl Record for $t {
            type V1 = $t;
            fn to_v1(&self) -> $t { self.clone() }
            fn from_v1(v: $t) -> $t { v }
        }
    )*};
}
as_itself!(TagEntry, EnvState, ExecWindow);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseV1 {
    pub seq: u64,
    pub tag: String,
    pub description: String,
    pub created_at: i64,
    pub created_by: String,
    pub digest: [u8; 32],
}

impl Record for rel_domain::Release {
    type V1 = ReleaseV1;
    fn to_v1(&self) -> ReleaseV1 {
        ReleaseV1 {
            seq: self.seq,
            tag: self.tag.clone(),
            description: self.description.clone(),
            created_at: self.created_at.0,
            created_by: self.created_by.clone(),
            digest: self.digest.0,
        }
    }
    fn from_v1(v: ReleaseV1) -> Self {
        rel_domain::Release {
            seq: v.seq,
            tag: v.tag,
            description: v.description,
            created_at: Timestamp(v.created_at),
            created_by: v.created_by,
            digest: Digest(v.digest),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvRecordV1 {
    pub name: String,
    pub description: String,
    pub protected: bool,
    pub requires: Vec<String>,
    pub created_at: i64,
    pub order: u64,
}

impl Record for EnvRecord {
    type V1 = EnvRecordV1;
    fn to_v1(&self) -> EnvRecordV1 {
        let e = &self.env;
        EnvRecordV1 {
            name: e.name.clone(),
            description: e.description.clone(),
            protected: e.protected,
            requires: e.requires.clone(),
            created_at: e.created_at.0,
            order: self.order,
        }
    }
    fn from_v1(v: EnvRecordV1) -> Self {
        EnvRecord {
            env: Environment {
                name: v.name,
                description: v.description,
                protected: v.protected,
                requires: v.requires,
                created_at: Timestamp(v.created_at),
            },
            order: v.order,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckV1 {
    pub name: String,
    pub passed: bool,
    pub message: String,
    pub execution_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationV1 {
    pub at: i64,
    pub by: String,
    pub passed: bool,
    pub checks: Vec<CheckV1>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentV1 {
    pub id: u64,
    pub env: String,
    pub release: String,
    pub release_seq: u64,
    pub previous: Option<String>,
    /// `false`: deploy, `true`: rollback.
    pub rollback: bool,
    pub actor: String,
    pub at: i64,
    pub reason: Option<String>,
    pub forced: bool,
    pub verification: Option<VerificationV1>,
}

impl Record for Deployment {
    type V1 = DeploymentV1;
    fn to_v1(&self) -> DeploymentV1 {
        DeploymentV1 {
            id: self.id,
            env: self.env.clone(),
            release: self.release.clone(),
            release_seq: self.release_seq,
            previous: self.previous.clone(),
            rollback: self.kind == DeploymentKind::Rollback,
            actor: self.actor.clone(),
            at: self.at.0,
            reason: self.reason.clone(),
            forced: self.forced,
            verification: self.verification.as_ref().map(|v| VerificationV1 {
                at: v.at.0,
                by: v.by.clone(),
                passed: v.passed,
                checks: v
                    .checks
                    .iter()
                    .map(|c| CheckV1 {
                        name: c.name.clone(),
                        passed: c.passed,
                        message: c.message.clone(),
                        execution_id: c.execution_id,
                    })
                    .collect(),
            }),
        }
    }
    fn from_v1(v: DeploymentV1) -> Self {
        Deployment {
            id: v.id,
            env: v.env,
            release: v.release,
            release_seq: v.release_seq,
            previous: v.previous,
            kind: if v.rollback {
                DeploymentKind::Rollback
            } else {
                DeploymentKind::Deploy
            },
            actor: v.actor,
            at: Timestamp(v.at),
            reason: v.reason,
            forced: v.forced,
            verification: v.verification.map(|v| Verification {
                at: Timestamp(v.at),
                by: v.by,
                passed: v.passed,
                checks: v
                    .checks
                    .into_iter()
                    .map(|c| CheckResult {
                        name: c.name,
                        passed: c.passed,
                        message: c.message,
                        execution_id: c.execution_id,
                    })
                    .collect(),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditV1 {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

impl Record for AuditEntry {
    type V1 = AuditV1;
    fn to_v1(&self) -> AuditV1 {
        AuditV1 {
            seq: self.seq,
            at: self.at.0,
            actor: self.actor.clone(),
            action: self.action.clone(),
            detail: self.detail.clone(),
            prev: self.prev.0,
            hash: self.hash.0,
        }
    }
    fn from_v1(v: AuditV1) -> Self {
        AuditEntry {
            seq: v.seq,
            at: Timestamp(v.at),
            actor: v.actor,
            action: v.action,
            detail: v.detail,
            prev: Digest(v.prev),
            hash: Digest(v.hash),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepV1 {
    pub name: String,
    pub kind: String,
    pub ok: bool,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionV1 {
    pub id: u64,
    pub env: String,
    pub endpoint: String,
    pub release: String,
    pub digest: [u8; 32],
    pub ok: bool,
    pub input: String,
    pub output: String,
    pub error: Option<String>,
    pub steps: Vec<StepV1>,
    pub started_at: i64,
    pub duration_ms: u64,
}

fn status(ok: bool) -> ExecStatus {
    if ok {
        ExecStatus::Ok
    } else {
        ExecStatus::Error
    }
}

impl Record for Execution {
    type V1 = ExecutionV1;
    fn to_v1(&self) -> ExecutionV1 {
        ExecutionV1 {
            id: self.id,
            env: self.env.clone(),
            endpoint: self.endpoint.clone(),
            release: self.release.clone(),
            digest: self.digest.0,
            ok: self.status == ExecStatus::Ok,
            input: self.input.clone(),
            output: self.output.clone(),
            error: self.error.clone(),
            steps: self
                .steps
                .iter()
                .map(|s| StepV1 {
                    name: s.name.clone(),
                    kind: s.kind.clone(),
                    ok: s.status == ExecStatus::Ok,
                    duration_ms: s.duration_ms,
                    error: s.error.clone(),
                    output: s.output.clone(),
                })
                .collect(),
            started_at: self.started_at.0,
            duration_ms: self.duration_ms,
        }
    }
    fn from_v1(v: ExecutionV1) -> Self {
        Execution {
            id: v.id,
            env: v.env,
            endpoint: v.endpoint,
            release: v.release,
            digest: Digest(v.digest),
            status: status(v.ok),
            input: v.input,
            output: v.output,
            error: v.error,
            steps: v
                .steps
                .into_iter()
                .map(|s| StepResult {
                    name: s.name,
                    kind: s.kind,
                    status: status(s.ok),
                    duration_ms: s.duration_ms,
                    error: s.error,
                    output: s.output,
                })
                .collect(),
            started_at: Timestamp(v.started_at),
            duration_ms: v.duration_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldV1 {
    pub by: String,
    pub at: i64,
    pub deployment_id: u64,
}

impl Record for Hold {
    type V1 = HoldV1;
    fn to_v1(&self) -> HoldV1 {
        HoldV1 {
            by: self.by.clone(),
            at: self.at.0,
            deployment_id: self.deployment_id,
        }
    }
    fn from_v1(v: HoldV1) -> Self {
        Hold {
            by: v.by,
            at: Timestamp(v.at),
            deployment_id: v.deployment_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenV1 {
    pub name: String,
    pub created_at: i64,
    pub created_by: String,
    pub hash: [u8; 32],
}

impl Record for TokenRecord {
    type V1 = TokenV1;
    fn to_v1(&self) -> TokenV1 {
        TokenV1 {
            name: self.info.name.clone(),
            created_at: self.info.created_at.0,
            created_by: self.info.created_by.clone(),
            hash: self.hash.0,
        }
    }
    fn from_v1(v: TokenV1) -> Self {
        TokenRecord {
            info: TokenInfo {
                name: v.name,
                created_at: Timestamp(v.created_at),
                created_by: v.created_by,
            },
            hash: Digest(v.hash),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestV1 {
    pub digest: [u8; 32],
    pub tools: BTreeMap<String, [u8; 32]>,
    pub pipelines: BTreeMap<String, [u8; 32]>,
    pub endpoints: BTreeMap<String, [u8; 32]>,
    pub checks: [u8; 32],
    pub refs: u64,
}

fn raw(m: &BTreeMap<String, Digest>) -> BTreeMap<String, [u8; 32]> {
    m.iter().map(|(k, d)| (k.clone(), d.0)).collect()
}

fn digests(m: BTreeMap<String, [u8; 32]>) -> BTreeMap<String, Digest> {
    m.into_iter().map(|(k, d)| (k, Digest(d))).collect()
}

impl Record for ManifestRecord {
    type V1 = ManifestV1;
    fn to_v1(&self) -> ManifestV1 {
        let m = &self.manifest;
        ManifestV1 {
            digest: m.digest.0,
            tools: raw(&m.tools),
            pipelines: raw(&m.pipelines),
            endpoints: raw(&m.endpoints),
            checks: m.checks.0,
            refs: self.refs,
        }
    }
    fn from_v1(v: ManifestV1) -> Self {
        ManifestRecord {
            manifest: Manifest {
                digest: Digest(v.digest),
                tools: digests(v.tools),
                pipelines: digests(v.pipelines),
                endpoints: digests(v.endpoints),
                checks: Digest(v.checks),
            },
            refs: v.refs,
        }
    }
}

/// A change event: the newest `events::KEEP` committed changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeV1 {
    ReleaseCreated {
        release: ReleaseV1,
        live_in: Vec<String>,
        actor: String,
    },
    Deployed(DeploymentV1),
    RolledBack(DeploymentV1),
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
        ok: bool,
    },
    DraftApplied {
        digest: [u8; 32],
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
    Frozen {
        env: Option<String>,
        freeze: crate::stored_gov::FreezeV1,
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
    RequestChanged(crate::stored_gov::RequestV1),
}

impl Record for Change {
    type V1 = ChangeV1;
    fn to_v1(&self) -> ChangeV1 {
        match self.clone() {
            Change::ReleaseCreated {
                release,
                live_in,
                actor,
            } => ChangeV1::ReleaseCreated {
                release: release.to_v1(),
                live_in,
                actor,
            },
            Change::Deployed(d) => ChangeV1::Deployed(d.to_v1()),
            Change::RolledBack(d) => ChangeV1::RolledBack(d.to_v1()),
            Change::VerificationFinished {
                env,
                deployment_id,
                release,
                passed,
            } => ChangeV1::VerificationFinished {
                env,
                deployment_id,
                release,
                passed,
            },
            Change::ExecutionFinished {
                id,
                env,
                endpoint,
                release,
                status,
            } => ChangeV1::ExecutionFinished {
                id,
                env,
                endpoint,
                release,
                ok: status == ExecStatus::Ok,
            },
            Change::DraftApplied { digest, actor } => ChangeV1::DraftApplied {
                digest: digest.0,
                actor,
            },
            Change::EnvironmentCreated { name, actor } => {
                ChangeV1::EnvironmentCreated { name, actor }
            }
            Change::ReleasesPruned { removed, actor } => {
                ChangeV1::ReleasesPruned { removed, actor }
            }
            Change::Imported { actor } => ChangeV1::Imported { actor },
            Change::Frozen { env, freeze } => ChangeV1::Frozen {
                env,
                freeze: crate::stored_gov::freeze_v1(&freeze),
            },
            Change::Unfrozen { env, actor } => ChangeV1::Unfrozen { env, actor },
            Change::GovernanceChanged { env, actor, what } => {
                ChangeV1::GovernanceChanged { env, actor, what }
            }
            Change::RequestChanged(r) => ChangeV1::RequestChanged(r.to_v1()),
        }
    }
    fn from_v1(v: ChangeV1) -> Self {
        match v {
            ChangeV1::ReleaseCreated {
                release,
                live_in,
                actor,
            } => Change::ReleaseCreated {
                release: rel_domain::Release::from_v1(release),
                live_in,
                actor,
            },
            ChangeV1::Deployed(d) => Change::Deployed(Deployment::from_v1(d)),
            ChangeV1::RolledBack(d) => Change::RolledBack(Deployment::from_v1(d)),
            ChangeV1::VerificationFinished {
                env,
                deployment_id,
                release,
                passed,
            } => Change::VerificationFinished {
                env,
                deployment_id,
                release,
                passed,
            },
            ChangeV1::ExecutionFinished {
                id,
                env,
                endpoint,
                release,
                ok,
            } => Change::ExecutionFinished {
                id,
                env,
                endpoint,
                release,
                status: status(ok),
            },
            ChangeV1::DraftApplied { digest, actor } => Change::DraftApplied {
                digest: Digest(digest),
                actor,
            },
            ChangeV1::EnvironmentCreated { name, actor } => {
                Change::EnvironmentCreated { name, actor }
            }
            ChangeV1::ReleasesPruned { removed, actor } => {
                Change::ReleasesPruned { removed, actor }
            }
            ChangeV1::Imported { actor } => Change::Imported { actor },
            ChangeV1::Frozen { env, freeze } => Change::Frozen {
                env,
                freeze: crate::stored_gov::freeze_from(freeze),
            },
            ChangeV1::Unfrozen { env, actor } => Change::Unfrozen { env, actor },
            ChangeV1::GovernanceChanged { env, actor, what } => {
                Change::GovernanceChanged { env, actor, what }
            }
            ChangeV1::RequestChanged(r) => {
                Change::RequestChanged(rel_domain::governance::ChangeRequest::from_v1(r))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rel_domain::Release;

    fn rt<R: Record + PartialEq + std::fmt::Debug>(v: R) {
        let bytes = encode_v1(&v).expect("encode");
        assert_eq!(bytes[0], V1, "the version byte comes first");
        let back: R = decode("test", &bytes).expect("decode");
        assert_eq!(back, v);
    }

    fn d(b: u8) -> Digest {
        Digest([b; 32])
    }

    #[test]
    fn every_record_type_round_trips() {
        rt(Release {
            seq: 7,
            tag: "v1.2".into(),
            description: "desc".into(),
            created_at: Timestamp(1_700_000_000_123),
            created_by: "ana".into(),
            digest: d(3),
        });
        rt(TagEntry::Live(3));
        rt(TagEntry::Pruned(4));
        let mut tools = BTreeMap::new();
        tools.insert("t".to_string(), d(9));
        rt(ManifestRecord {
            manifest: Manifest {
                digest: d(1),
                tools,
                pipelines: BTreeMap::new(),
                endpoints: [("e".to_string(), d(2))].into(),
                checks: d(4),
            },
            refs: 2,
        });
        rt(EnvRecord {
            env: Environment {
                name: "production".into(),
                description: "prod".into(),
                protected: true,
                requires: vec!["staging".into()],
                created_at: Timestamp(5),
            },
            order: 2,
        });
        rt(EnvState {
            live: Some(3),
            since: Some(Timestamp(9)),
            by: Some("bo".into()),
            height: 2,
            deployment_id: Some(11),
            history_len: 4,
        });
        rt(Hold {
            by: "bo".into(),
            at: Timestamp(8),
            deployment_id: 12,
        });
        let dep = |kind, verification| Deployment {
            id: 12,
            env: "staging".into(),
            release: "v2".into(),
            release_seq: 2,
            previous: Some("v1".into()),
            kind,
            actor: "ana".into(),
            at: Timestamp(10),
            reason: Some("why".into()),
            forced: true,
            verification,
        };
        rt(dep(DeploymentKind::Deploy, None));
        rt(dep(
            DeploymentKind::Rollback,
            Some(Verification {
                at: Timestamp(11),
                by: "ci".into(),
                passed: false,
                checks: vec![CheckResult {
                    name: "health".into(),
                    passed: false,
                    message: "503".into(),
                    execution_id: Some(4),
                }],
            }),
        ));
        rt(AuditEntry {
            seq: 3,
            at: Timestamp(1),
            actor: "ana".into(),
            action: "deploy".into(),
            detail: "v2 -> staging".into(),
            prev: d(5),
            hash: d(6),
        });
        for (status, step) in [
            (ExecStatus::Ok, ExecStatus::Error),
            (ExecStatus::Error, ExecStatus::Ok),
        ] {
            rt(Execution {
                id: 4,
                env: "staging".into(),
                endpoint: "price".into(),
                release: "v2".into(),
                digest: d(7),
                status,
                input: "{}".into(),
                output: "null".into(),
                error: Some("boom".into()),
                steps: vec![StepResult {
                    name: "s".into(),
                    kind: "http".into(),
                    status: step,
                    duration_ms: 3,
                    error: None,
                    output: "1".into(),
                }],
                started_at: Timestamp(2),
                duration_ms: 5,
            });
        }
        rt(ExecWindow { oldest: 2, next: 9 });
        rt(TokenRecord {
            info: TokenInfo {
                name: "ci".into(),
                created_at: Timestamp(3),
                created_by: "admin".into(),
            },
            hash: d(8),
        });
        rt(Change::Imported {
            actor: "ana".into(),
        });
    }

    #[test]
    fn an_unknown_record_version_is_a_clear_error_naming_tree_and_key() {
        let mut bytes = encode_v1(&TagEntry::Live(1)).expect("encode");
        bytes[0] = 9;
        let err = decode_at::<TagEntry>(T::Tags, b"v1.2", &bytes)
            .expect_err("version 9 is unknown")
            .to_string();
        assert!(err.contains("format version 9"), "{err}");
        assert!(err.contains("tree tags"), "{err}");
        assert!(err.contains("\"v1.2\""), "{err}");
        assert!(err.contains("upgrade rel"), "{err}");
        let err = decode_at::<Release>(T::Releases, &7u64.to_be_bytes(), &[])
            .expect_err("empty")
            .to_string();
        assert!(
            err.contains("0x0000000000000007") && err.contains("tree releases"),
            "{err}"
        );
        // A known version with a cut-off body is corrupt, not a panic.
        let full = encode_v1(&TagEntry::Live(1)).expect("encode");
        assert!(decode::<TagEntry>("tag", &full[..1]).is_err());
    }
}
