//! The wire format: every message variant round-trips, golden bytes pin the encoding of a
//! few messages, and hostile bytes decode to errors without large allocations.
//!
//! The sample builders are chains (`after(prev) -> next`) written as exhaustive matches: a new
//! variant does not compile until it has an arm here, and that arm is where its sample goes.

use rel_domain::config::{AppConfigText, ConfigFormat};
use rel_domain::diff::{Change, ChangeOp, Diff, FieldChange};
use rel_domain::governance::*;
use rel_domain::model::*;
use rel_domain::{Digest, ErrorCode, RelError, Timestamp};
use rel_proto::codec::{self, CodecError, MAX_FRAME_BYTES, read_frame};
use rel_proto::*;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn digest(b: u8) -> Digest {
    Digest([b; 32])
}

fn actor() -> Caller {
    Caller {
        actor: Actor {
            uid: 1000,
            name: "alice".into(),
        },
        role: Role::Admin,
    }
}

fn diff() -> Diff {
    Diff {
        changes: vec![
            Change {
                path: "pipelines.chat.stages[prepare].steps[greet]".into(),
                op: ChangeOp::Changed,
                fields: vec![FieldChange {
                    field: "template".into(),
                    before: Some("\"a\"".into()),
                    after: Some("\"b\"".into()),
                }],
            },
            Change {
                path: "tools.shout".into(),
                op: ChangeOp::Added,
                fields: vec![],
            },
            Change {
                path: "checks[chat replies]".into(),
                op: ChangeOp::Removed,
                fields: vec![],
            },
        ],
    }
}

fn release_view() -> ReleaseView {
    ReleaseView {
        release: Release {
            seq: 3,
            tag: "v1.0.0".into(),
            description: "first\nsecond line".into(),
            created_at: ts(1_700_000_000_000),
            created_by: "alice".into(),
            digest: digest(7),
        },
        state: ReleaseState::Deployed,
        live_in: vec!["staging".into()],
    }
}

fn verification() -> Verification {
    Verification {
        at: ts(1_700_000_100_000),
        by: "bob".into(),
        passed: false,
        checks: vec![CheckResult {
            name: "chat replies".into(),
            passed: false,
            message: "expected .reply to contain ping".into(),
            execution_id: Some(9),
        }],
    }
}

fn deployment() -> Deployment {
    Deployment {
        id: 42,
        env: "production".into(),
        release: "v1.1.0".into(),
        release_seq: 4,
        previous: Some("v1.0.0".into()),
        kind: DeploymentKind::Rollback,
        actor: "alice".into(),
        at: ts(1_700_000_200_000),
        reason: Some("hotfix".into()),
        forced: true,
        verification: Some(verification()),
    }
}

fn environment() -> Environment {
    Environment {
        name: "production".into(),
        description: "prod".into(),
        protected: true,
        requires: vec!["staging".into()],
        created_at: ts(1),
    }
}

fn env_view() -> EnvironmentView {
    EnvironmentView {
        env: environment(),
        live: Some("v1.1.0".into()),
        live_digest: Some(digest(1)),
        rollback_to: Some("v1.0.0".into()),
        since: Some(ts(2)),
        by: Some("alice".into()),
        deployment_id: Some(42),
        verification: Some(verification()),
        held: vec!["v0.9.0".into()],
        governance: Box::new(governance()),
    }
}

fn freeze() -> Freeze {
    Freeze {
        by: "alice".into(),
        reason: "incident 42".into(),
        since: ts(3),
        until: Some(ts(9)),
    }
}

fn window() -> FreezeWindow {
    FreezeWindow {
        id: 2,
        spec: "Fri 15:00 - Mon 09:00 Europe/Berlin".into(),
        reason: "weekend".into(),
        added_by: "alice".into(),
        added_at: ts(1),
    }
}

fn governance() -> GovernanceView {
    GovernanceView {
        approvals: 2,
        frozen: Some(FreezeView {
            by: "alice".into(),
            reason: "weekend".into(),
            since: ts(3),
            until: Some(ts(9)),
            scope: FreezeScope::Window,
            window: Some(window()),
        }),
        windows: vec![window()],
        pending_requests: 1,
    }
}

fn change_request() -> ChangeRequest {
    ChangeRequest {
        id: 5,
        kind: RequestKind::Approval,
        env: "production".into(),
        release: "v1.1.0".into(),
        expect: Some("v1.0.0".into()),
        requested_by: "bob".into(),
        requested_uid: 1001,
        requested_at: ts(4),
        status: RequestStatus::Deployed,
        at: Some(ts(8)),
        expires_at: Some(ts(10)),
        approvals_needed: 1,
        approvals: vec![Approval {
            by: "alice".into(),
            at: ts(5),
        }],
        force_reason: None,
        decided_by: Some("alice".into()),
        decided_at: Some(ts(5)),
        outcome: Some("deployment #7".into()),
        deployment_id: Some(7),
    }
}

fn store_status() -> StoreStatus {
    StoreStatus {
        releases: 1,
        environments: 2,
        deployments: 3,
        audit_entries: 4,
        draft_digest: Some(digest(2)),
    }
}

fn execution() -> Execution {
    Execution {
        id: 5,
        env: "staging".into(),
        endpoint: "chat".into(),
        release: "v1.0.0".into(),
        digest: digest(3),
        status: ExecStatus::Error,
        input: "{\"message\":\"hi\"}".into(),
        output: "null".into(),
        error: Some("step shape failed".into()),
        steps: vec![StepResult {
            name: "greet".into(),
            kind: "template".into(),
            status: ExecStatus::Ok,
            duration_ms: 1,
            error: None,
            output: "\"You said: hi\"".into(),
        }],
        started_at: ts(3),
        duration_ms: 12,
    }
}

fn rel_error() -> RelError {
    RelError::new(
        ErrorCode::Conflict,
        "production runs v1.1.0, not v1.0.0 (--expect); re-check and retry",
    )
}

fn deploy_request() -> DeployRequest {
    DeployRequest {
        tag: "v1.0.0".into(),
        env: "staging".into(),
        expect: None,
        force_reason: None,
    }
}

fn rollback_request() -> RollbackRequest {
    RollbackRequest {
        env: "production".into(),
        to: Some("v1.0.0".into()),
        expect: Some("v1.1.0".into()),
        reason: Some("broke chat".into()),
    }
}

fn app_text() -> AppConfigText {
    AppConfigText {
        format: ConfigFormat::Toml,
        text: "[endpoints.chat]\npipeline = \"chat\"\n".into(),
    }
}

/// The request sample that follows `prev` (`None`: the first), in declaration order.
fn request_after(prev: Option<&Request>) -> Option<Request> {
    let Some(prev) = prev else {
        return Some(Request::Ping);
    };
    Some(match prev {
        Request::Ping => Request::Status,
        Request::Status => Request::DraftShow,
        Request::DraftShow => Request::DraftApply(app_text()),
        Request::DraftApply(_) => Request::DraftDiff {
            tag: Some("v1.0.0".into()),
        },
        Request::DraftDiff { .. } => Request::Validate(AppConfigText {
            format: ConfigFormat::Json,
            text: "{\"tools\":{}}".into(),
        }),
        Request::Validate(_) => Request::ReleaseCreate(NewRelease {
            tag: "v1.0.0".into(),
            description: "notes".into(),
            config: Some(app_text()),
            deploy_to: Some("staging".into()),
        }),
        Request::ReleaseCreate(_) => Request::ReleaseList(ReleaseQuery {
            state: Some(ReleaseState::Superseded),
            filter: Some("fix".into()),
            before_seq: Some(10),
            limit: 50,
        }),
        Request::ReleaseList(_) => Request::ReleaseShow {
            tag: "v1.0.0".into(),
        },
        Request::ReleaseShow { .. } => Request::ReleasePrune {
            keep: 5,
            dry_run: true,
        },
        Request::ReleasePrune { .. } => Request::Diff {
            from: "v1.0.0".into(),
            to: "draft".into(),
        },
        Request::Diff { .. } => Request::PlanDeploy(deploy_request()),
        Request::PlanDeploy(_) => Request::Deploy(DeployRequest {
            tag: "v1.1.0".into(),
            env: "production".into(),
            expect: Some("v1.0.0".into()),
            force_reason: Some("customer outage".into()),
        }),
        Request::Deploy(_) => Request::PlanRollback(rollback_request()),
        Request::PlanRollback(_) => Request::Rollback(rollback_request()),
        Request::Rollback(_) => Request::EnvList,
        Request::EnvList => Request::EnvShow {
            name: "staging".into(),
        },
        Request::EnvShow { .. } => Request::EnvCreate(environment()),
        Request::EnvCreate(_) => Request::EnvHistory {
            env: "staging".into(),
            limit: 20,
            before_id: Some(99),
        },
        Request::EnvHistory { .. } => Request::Audit {
            limit: 10,
            before_seq: None,
        },
        Request::Audit { .. } => Request::AuditVerify,
        Request::AuditVerify => Request::Export,
        Request::Export => Request::Import {
            dump: "{\"format\":1}".into(),
        },
        Request::Import { .. } => Request::Subscribe,
        Request::Subscribe => Request::Trigger {
            endpoint: "chat".into(),
            env: "staging".into(),
            input: "{\"message\":\"ping\"}".into(),
        },
        Request::Trigger { .. } => Request::Verify {
            env: "staging".into(),
        },
        Request::Verify { .. } => Request::Logs(ExecQuery {
            env: Some("staging".into()),
            endpoint: None,
            before_id: Some(3),
            limit: 100,
        }),
        Request::Logs(_) => Request::LogShow { id: 7 },
        Request::LogShow { .. } => Request::TokenCreate { name: "ci".into() },
        Request::TokenCreate { .. } => Request::TokenList,
        Request::TokenList => Request::TokenRevoke { name: "ci".into() },
        Request::TokenRevoke { .. } => Request::DaemonStop,
        Request::DaemonStop => Request::SubscribeSince { after: Some(41) },
        Request::SubscribeSince { .. } => Request::ExportStream,
        Request::ExportStream => Request::ImportChunk {
            data: "{\"format\":".into(),
        },
        Request::ImportChunk { .. } => Request::ImportCommit,
        Request::ImportCommit => Request::Freeze {
            env: None,
            reason: "incident 42".into(),
            until: Some(ts(9)),
        },
        Request::Freeze { .. } => Request::Unfreeze {
            env: Some("production".into()),
        },
        Request::Unfreeze { .. } => Request::FreezeWindowAdd {
            env: "production".into(),
            spec: "Fri 15:00 - Mon 09:00 Europe/Berlin".into(),
            reason: "weekend".into(),
        },
        Request::FreezeWindowAdd { .. } => Request::FreezeWindowRemove {
            env: "production".into(),
            id: 2,
        },
        Request::FreezeWindowRemove { .. } => Request::EnvSetApprovals {
            env: "production".into(),
            approvals: 2,
        },
        Request::EnvSetApprovals { .. } => Request::EnvCreateGoverned {
            env: environment(),
            approvals: 1,
        },
        Request::EnvCreateGoverned { .. } => Request::SubmitDeploy {
            deploy: deploy_request(),
            at: Some(ts(8)),
            expires_at: None,
        },
        Request::SubmitDeploy { .. } => Request::Requests {
            env: Some("production".into()),
            all: true,
            limit: 20,
            before_id: Some(9),
        },
        Request::Requests { .. } => Request::Approve { id: 5 },
        Request::Approve { .. } => Request::Reject {
            id: 5,
            reason: "not today".into(),
        },
        Request::Reject { .. } => return None,
    })
}

fn response_after(prev: Option<&Response>) -> Option<Response> {
    let Some(prev) = prev else {
        return Some(Response::Pong);
    };
    Some(match prev {
        Response::Pong => Response::Status(DaemonStatus {
            daemon_version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
            pid: 4242,
            socket: "/run/user/1000/releasd/releasd.sock".into(),
            data_dir: "/home/alice/.local/share/releasd".into(),
            started_at: ts(5),
            http: Some("127.0.0.1:8080".into()),
            store: store_status(),
            caller: actor(),
            log: Some("/home/alice/.local/share/releasd/releasd.log".into()),
            backend: StoreBackend {
                kind: "etcd".into(),
                location: "etcd://10.0.0.1:2379,10.0.0.2:2379/rel".into(),
                endpoints: vec!["10.0.0.1:2379".into(), "10.0.0.2:2379".into()],
                answered_by: Some("etcd-a http://10.0.0.1:2379".into()),
                revision: Some(4711),
            },
            degraded: Some("applying a logged batch failed (No space left on device)".into()),
        }),
        Response::Status(_) => Response::Draft(Some(DraftView {
            digest: digest(4),
            config_json: "{}".into(),
        })),
        Response::Draft(_) => Response::DraftApplied {
            digest: digest(5),
            diff: diff(),
        },
        Response::DraftApplied { .. } => Response::Diff(DiffView {
            from: "v1.0.0".into(),
            to: "draft".into(),
            from_digest: Some(digest(6)),
            to_digest: None,
            diff: diff(),
        }),
        Response::Diff(_) => Response::Valid { digest: digest(8) },
        Response::Valid { .. } => Response::Created(CreateOutcome {
            release: release_view(),
            same_content_as: vec!["v0.9.0".into()],
            deployment: Some(DeployOutcome {
                deployment: deployment(),
                changed: true,
            }),
        }),
        Response::Created(_) => Response::Releases(vec![release_view(), release_view()]),
        Response::Releases(_) => Response::Release(ReleaseDetail {
            view: release_view(),
            config_json: "{\"checks\":[]}".into(),
            previous: Some("v0.9.0".into()),
            diff_from_previous: diff(),
            history: vec![deployment()],
        }),
        Response::Release(_) => Response::Pruned(PruneReport {
            removed: vec!["v0.1.0".into()],
            protected: vec!["v0.2.0".into()],
            dry_run: false,
        }),
        Response::Pruned(_) => Response::DeployPlan(DeployPlan {
            env: "production".into(),
            from: Some("v1.0.0".into()),
            to: "v1.1.0".into(),
            diff: diff(),
            verdict: Err(RelError::policy(
                "v1.1.0 has not been live in staging; deploy it there first",
            )),
            protected: true,
            already_live: false,
            governance: Box::new(governance()),
            pending: vec![change_request()],
        }),
        Response::DeployPlan(_) => Response::Deployed(DeployOutcome {
            deployment: deployment(),
            changed: false,
        }),
        Response::Deployed(_) => Response::RollbackPlan(RollbackPlan {
            env: "production".into(),
            from: "v1.1.0".into(),
            to: "v1.0.0".into(),
            popped: vec!["v1.1.0".into()],
            diff: diff(),
        }),
        Response::RollbackPlan(_) => Response::Environments(vec![env_view()]),
        Response::Environments(_) => Response::Environment(env_view()),
        Response::Environment(_) => Response::History(vec![deployment()]),
        Response::History(_) => Response::Audit(vec![AuditEntry {
            seq: 1,
            at: ts(6),
            actor: "alice".into(),
            action: "deploy".into(),
            detail: "v1.0.0 -> staging".into(),
            prev: digest(0),
            hash: digest(9),
        }]),
        Response::Audit(_) => Response::AuditReport(AuditReport {
            entries: 3,
            ok: false,
            first_bad: Some((2, "hash mismatch".into())),
        }),
        Response::AuditReport(_) => Response::Export { dump: "{}".into() },
        Response::Export { .. } => Response::Imported(store_status()),
        Response::Imported(_) => Response::Subscribed,
        Response::Subscribed => Response::Execution(execution()),
        Response::Execution(_) => Response::Executions(vec![execution()]),
        Response::Executions(_) => Response::Verified(VerifyOutcome {
            env: "staging".into(),
            release: "v1.0.0".into(),
            deployment: deployment(),
            verification: verification(),
        }),
        Response::Verified(_) => Response::TokenCreated {
            info: TokenInfo {
                name: "ci".into(),
                created_at: ts(7),
                created_by: "alice".into(),
            },
            secret: "rel_secret".into(),
        },
        Response::TokenCreated { .. } => Response::Tokens(vec![TokenInfo {
            name: "ci".into(),
            created_at: ts(7),
            created_by: "alice".into(),
        }]),
        Response::Tokens(_) => Response::Done,
        Response::Done => Response::ChangeRequest(Box::new(change_request())),
        Response::ChangeRequest(_) => Response::Requests(vec![change_request()]),
        Response::Requests(_) => Response::RequestDecided {
            request: Box::new(change_request()),
            deployed: Some(DeployOutcome {
                deployment: deployment(),
                changed: true,
            }),
        },
        Response::RequestDecided { .. } => return None,
    })
}

fn event_after(prev: Option<&Event>) -> Option<Event> {
    let Some(prev) = prev else {
        return Some(Event::ReleaseCreated {
            release: release_view(),
            actor: "alice".into(),
        });
    };
    Some(match prev {
        Event::ReleaseCreated { .. } => Event::Deployed(deployment()),
        Event::Deployed(_) => Event::RolledBack(deployment()),
        Event::RolledBack(_) => Event::VerificationFinished {
            env: "staging".into(),
            deployment_id: 4,
            release: "v1.0.0".into(),
            passed: true,
        },
        Event::VerificationFinished { .. } => Event::ExecutionFinished {
            id: 5,
            env: "staging".into(),
            endpoint: "chat".into(),
            release: "v1.0.0".into(),
            status: ExecStatus::Ok,
        },
        Event::ExecutionFinished { .. } => Event::DraftApplied {
            digest: digest(1),
            actor: "bob".into(),
        },
        Event::DraftApplied { .. } => Event::EnvironmentCreated {
            name: "qa".into(),
            actor: "alice".into(),
        },
        Event::EnvironmentCreated { .. } => Event::ReleasesPruned {
            removed: vec!["v0.1.0".into()],
            actor: "alice".into(),
        },
        Event::ReleasesPruned { .. } => Event::Imported {
            actor: "alice".into(),
        },
        Event::Imported { .. } => Event::Lagged { missed: 17 },
        Event::Lagged { .. } => Event::Frozen {
            env: Some("production".into()),
            freeze: freeze(),
        },
        Event::Frozen { .. } => Event::Unfrozen {
            env: None,
            actor: "alice".into(),
        },
        Event::Unfrozen { .. } => Event::GovernanceChanged {
            env: "production".into(),
            actor: "alice".into(),
            what: "approvals 0 -> 2".into(),
        },
        Event::GovernanceChanged { .. } => Event::RequestChanged(Box::new(change_request())),
        Event::RequestChanged(_) => return None,
    })
}

fn client_frame_after(prev: Option<&ClientFrame>) -> Option<ClientFrame> {
    let Some(prev) = prev else {
        return Some(ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            client: "relctl 0.1.0".into(),
        }));
    };
    match prev {
        ClientFrame::Hello(_) => Some(ClientFrame::Request {
            id: 1,
            request: Request::Status,
        }),
        ClientFrame::Request { .. } => None,
    }
}

fn server_frame_after(prev: Option<&ServerFrame>) -> Option<ServerFrame> {
    let welcome = || Welcome {
        protocol: PROTOCOL_VERSION,
        daemon_version: "0.1.0".into(),
        caller: actor(),
        pid: 4242,
    };
    let Some(prev) = prev else {
        return Some(ServerFrame::Welcome(Ok(welcome())));
    };
    Some(match prev {
        ServerFrame::Welcome(Ok(_)) => ServerFrame::Welcome(Err(RelError::permission(
            "user mallory may not use releasd; add them to [roles] in /etc/releasd.toml",
        ))),
        ServerFrame::Welcome(Err(_)) => ServerFrame::Response {
            id: 1,
            result: Ok(Response::Pong),
        },
        ServerFrame::Response { result: Ok(_), .. } => ServerFrame::Response {
            id: 2,
            result: Err(rel_error()),
        },
        ServerFrame::Response { result: Err(_), .. } => {
            ServerFrame::Event(Event::Lagged { missed: 1 })
        }
        ServerFrame::Event(_) => ServerFrame::SeqEvent {
            seq: 42,
            event: Event::Imported {
                actor: "alice".into(),
            },
        },
        ServerFrame::SeqEvent { .. } => return None,
    })
}

fn chain<T>(after: fn(Option<&T>) -> Option<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    while let Some(next) = after(out.last()) {
        out.push(next);
        assert!(out.len() < 1000, "sample chain does not end");
    }
    out
}

fn assert_roundtrips<T>(samples: &[T])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for s in samples {
        let bytes = encode(s).expect("encode");
        let back: T = decode(&bytes).unwrap_or_else(|e| panic!("decode {s:?}: {e}"));
        assert_eq!(&back, s);
    }
}

/// The chain must visit the variants in declaration order, each once (its bincode variant
/// index is the first byte), and there must be no variant after the last one sampled: so a
/// variant appended to the enum but left out of the chain fails here.
fn assert_covers_all_variants<T>(samples: &[T])
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for (i, s) in samples.iter().enumerate() {
        let bytes = encode(s).expect("encode");
        assert_eq!(
            usize::from(bytes[0]),
            i,
            "sample {i} is {s:?}: the chain is out of declaration order"
        );
    }
    let mut next = vec![u8::try_from(samples.len()).expect("fewer than 251 variants")];
    next.extend_from_slice(&[0u8; 64]);
    match decode::<T>(&next) {
        Err(CodecError::Decode(m)) if m.to_lowercase().contains("variant") => {}
        other => panic!(
            "variant index {} exists but has no sample in the chain (decoding it gave {other:?}); add it",
            samples.len()
        ),
    }
}

#[test]
fn every_request_roundtrips() {
    let samples = chain(request_after);
    assert_covers_all_variants(&samples);
    assert_roundtrips(&samples);
    // And inside a frame, with an id.
    let frames: Vec<ClientFrame> = samples
        .into_iter()
        .enumerate()
        .map(|(i, request)| ClientFrame::Request {
            id: i as u64,
            request,
        })
        .collect();
    assert_roundtrips(&frames);
}

#[test]
fn every_response_roundtrips() {
    let samples = chain(response_after);
    assert_covers_all_variants(&samples);
    assert_roundtrips(&samples);
    let frames: Vec<ServerFrame> = samples
        .into_iter()
        .enumerate()
        .map(|(i, r)| ServerFrame::Response {
            id: i as u64,
            result: Ok(r),
        })
        .collect();
    assert_roundtrips(&frames);
}

#[test]
fn every_event_roundtrips() {
    let samples = chain(event_after);
    assert_covers_all_variants(&samples);
    assert_roundtrips(&samples);
    let frames: Vec<ServerFrame> = samples.into_iter().map(ServerFrame::Event).collect();
    assert_roundtrips(&frames);
}

#[test]
fn every_frame_roundtrips() {
    let c = chain(client_frame_after);
    assert_covers_all_variants(&c);
    assert_roundtrips(&c);
    // ServerFrame samples Ok and Err of Welcome and Response: two per variant index there.
    let s = chain(server_frame_after);
    assert_eq!(s.len(), 6);
    assert_roundtrips(&s);
    let mut past_last = vec![4u8];
    past_last.extend_from_slice(&[0u8; 64]);
    assert!(
        matches!(decode::<ServerFrame>(&past_last), Err(CodecError::Decode(m)) if m.to_lowercase().contains("variant")),
        "ServerFrame has a 5th variant without a sample"
    );
}

#[test]
fn every_error_code_roundtrips() {
    let codes = [
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Invalid,
        ErrorCode::PolicyDenied,
        ErrorCode::PermissionDenied,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::DurabilityUnknown,
    ];
    let frames: Vec<ServerFrame> = codes
        .iter()
        .map(|c| ServerFrame::Response {
            id: 9,
            result: Err(RelError::new(*c, format!("{c} happened"))),
        })
        .collect();
    assert_roundtrips(&frames);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn golden<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    msg: T,
    want_hex: &str,
) {
    let got = hex(&encode(&msg).expect("encode"));
    assert_eq!(
        got, want_hex,
        "the wire encoding of {msg:?} changed: that breaks every deployed client"
    );
    let back: T = decode(&hex_bytes(want_hex)).expect("golden bytes decode");
    assert_eq!(back, msg);
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

// bincode 2 "standard": variant indexes and integers are varints (< 251 is one byte), strings
// are a varint length then UTF-8, Option is 00 / 01+value, Result is Ok=00 / Err=01.

#[test]
fn golden_hello() {
    // ClientFrame::Hello(0) { protocol: 1, client: "relctl 0.1.0" (12 bytes) }
    golden(
        ClientFrame::Hello(Hello {
            protocol: 1,
            client: "relctl 0.1.0".into(),
        }),
        "00010c72656c63746c20302e312e30",
    );
}

#[test]
fn golden_deploy_request() {
    // ClientFrame::Request(1) { id: 7, Request::Deploy(12) { tag "v1.0.0", env "staging",
    // expect Some("v0.9.0"), force_reason None } }
    golden(
        ClientFrame::Request {
            id: 7,
            request: Request::Deploy(DeployRequest {
                tag: "v1.0.0".into(),
                env: "staging".into(),
                expect: Some("v0.9.0".into()),
                force_reason: None,
            }),
        },
        "01070c0676312e302e300773746167696e67010676302e392e3000",
    );
}

#[test]
fn golden_deployed_response() {
    // ServerFrame::Response(01) { id: 07, Ok(00) Response::Deployed(0b)(DeployOutcome {
    //   Deployment { id 03, env 07"staging", release 06"v1.0.0", release_seq 01, previous
    //   None(00), kind Deploy(00), actor 05"alice", at 1_700_000_000_000 (i64 zigzag =
    //   3_400_000_000_000: fd + u64 LE), reason None(00), forced false(00), verification
    //   None(00) }, changed true(01) })) }
    golden(
        ServerFrame::Response {
            id: 7,
            result: Ok(Response::Deployed(DeployOutcome {
                deployment: Deployment {
                    id: 3,
                    env: "staging".into(),
                    release: "v1.0.0".into(),
                    release_seq: 1,
                    previous: None,
                    kind: DeploymentKind::Deploy,
                    actor: "alice".into(),
                    at: ts(1_700_000_000_000),
                    reason: None,
                    forced: false,
                    verification: None,
                },
                changed: true,
            })),
        },
        "0107000b030773746167696e670676312e302e3001000005616c696365fd00d0ca9f1703000000000001",
    );
}

#[test]
fn golden_error_response() {
    // ServerFrame::Response(1) { id: 8, Err(RelError { code: Conflict(1), message }) }
    golden(
        ServerFrame::Response {
            id: 8,
            result: Err(RelError::conflict("staging runs v2")),
        },
        "010801010f73746167696e672072756e73207632",
    );
}

#[test]
fn golden_event() {
    // ServerFrame::Event(2)(Event::EnvironmentCreated(6) { name "qa", actor "alice" })
    golden(
        ServerFrame::Event(Event::EnvironmentCreated {
            name: "qa".into(),
            actor: "alice".into(),
        }),
        "020602716105616c696365",
    );
}

#[test]
fn garbage_decodes_to_an_error() {
    for bytes in [
        &b""[..],
        &[0xff][..],
        &[0x7f, 0x00][..],
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0x01, 0x07, 0xfa][..],
    ] {
        assert!(decode::<ClientFrame>(bytes).is_err(), "{bytes:?} decoded");
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut bytes = encode(&ClientFrame::Request {
        id: 1,
        request: Request::Ping,
    })
    .expect("encode");
    bytes.push(0);
    let err = decode::<ClientFrame>(&bytes).expect_err("trailing byte accepted");
    assert!(err.to_string().contains("trailing"), "{err}");
}

#[test]
fn every_truncation_of_a_message_is_an_error() {
    let full = encode(
        &server_frame_after(Some(&server_frame_after(None).expect("first"))).expect("second"),
    )
    .expect("encode");
    let full_big = encode(&response_after(Some(&Response::Pong)).expect("status")).expect("encode");
    for bytes in [full, full_big] {
        for cut in 0..bytes.len() {
            assert!(
                decode::<ServerFrame>(&bytes[..cut]).is_err(),
                "a {cut}-byte prefix decoded"
            );
        }
    }
}

#[test]
fn a_tiny_frame_claiming_a_huge_string_fails_without_allocating() {
    // ClientFrame::Hello { protocol: 1, client: <length 2^40 = 1 TiB> } as a varint u64
    // (0xfd + 8 bytes LE), then nothing. Without the decode limit bincode would try to
    // reserve a terabyte and abort the process; with it, it is a plain error.
    let mut bytes = vec![0x00, 0x01, 0xfd];
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let err = decode::<ClientFrame>(&bytes).expect_err("decoded a 1 TiB string from 11 bytes");
    assert!(matches!(err, CodecError::Decode(_)), "{err}");
    // Same for a vector length (Releases(Vec<ReleaseView>) claiming 2^40 elements).
    let mut bytes = vec![0x01, 0x01, 0x00, 0x07, 0xfd];
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(decode::<ServerFrame>(&bytes).is_err());
}

#[test]
fn encode_refuses_a_message_over_the_limit() {
    let huge = Request::Import {
        dump: "x".repeat(MAX_FRAME_BYTES + 1),
    };
    let err = encode(&huge).expect_err("encoded more than the limit");
    assert!(
        matches!(err, CodecError::Encode(_) | CodecError::TooLarge(_)),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_length_prefix_is_refused_before_reading() {
    // 4 GiB - 1 announced, nothing follows: must fail on the prefix alone.
    let bytes: Vec<u8> = vec![0xff, 0xff, 0xff, 0xff];
    let mut r = &bytes[..];
    let err = read_frame::<_, ClientFrame>(&mut r)
        .await
        .expect_err("accepted a 4 GiB frame");
    assert!(
        matches!(err, CodecError::TooLarge(n) if n == u32::MAX as usize),
        "{err}"
    );
    // Just over the limit.
    let over = u32::try_from(MAX_FRAME_BYTES + 1)
        .expect("fits")
        .to_be_bytes();
    let mut r = &over[..];
    assert!(matches!(
        read_frame::<_, ClientFrame>(&mut r).await,
        Err(CodecError::TooLarge(_))
    ));
}

#[tokio::test]
async fn truncated_and_empty_streams() {
    // Clean EOF before a frame: Closed.
    let mut r: &[u8] = &[];
    assert!(matches!(
        read_frame::<_, ClientFrame>(&mut r).await,
        Err(CodecError::Closed)
    ));
    // A frame announcing 16 MiB that delivers 3 bytes: Truncated, with the numbers.
    let mut bytes = u32::try_from(MAX_FRAME_BYTES)
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    bytes.extend_from_slice(&[1, 2, 3]);
    let mut r = &bytes[..];
    match read_frame::<_, ClientFrame>(&mut r).await {
        Err(CodecError::Truncated { expected, got }) => {
            assert_eq!((expected, got), (MAX_FRAME_BYTES, 3))
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[tokio::test]
async fn frames_roundtrip_through_a_stream() {
    let samples = chain(request_after);
    let mut buf: Vec<u8> = Vec::new();
    for (i, request) in samples.iter().enumerate() {
        codec::write_frame(
            &mut buf,
            &ClientFrame::Request {
                id: i as u64,
                request: request.clone(),
            },
        )
        .await
        .expect("write");
    }
    let mut r = &buf[..];
    for (i, request) in samples.iter().enumerate() {
        let frame: ClientFrame = read_frame(&mut r).await.expect("read");
        assert_eq!(
            frame,
            ClientFrame::Request {
                id: i as u64,
                request: request.clone()
            }
        );
    }
    assert!(matches!(
        read_frame::<_, ClientFrame>(&mut r).await,
        Err(CodecError::Closed)
    ));
}

#[tokio::test]
async fn the_frame_reader_is_cancel_safe_and_never_allocates_by_the_claim() {
    use tokio::io::AsyncWriteExt;
    let (mut tx, rx) = tokio::io::duplex(64);
    let mut reader = codec::FrameReader::new(rx);
    let bytes = codec::frame(&ClientFrame::Request {
        id: 7,
        request: Request::Ping,
    })
    .expect("frame");
    // Half the frame, then a read that is cancelled (nothing more comes in time)...
    tx.write_all(&bytes[..3]).await.expect("write");
    let cancelled = tokio::time::timeout(
        std::time::Duration::from_millis(20),
        reader.next::<ClientFrame>(),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(reader.partial(), 3);
    // ...loses nothing: the rest completes the same frame.
    tx.write_all(&bytes[3..]).await.expect("write");
    let frame: ClientFrame = reader.next().await.expect("frame");
    assert_eq!(
        frame,
        ClientFrame::Request {
            id: 7,
            request: Request::Ping
        }
    );
    // A 16 MiB claim with 10 bytes behind it holds about what arrived, not the claim.
    let mut claim = u32::try_from(MAX_FRAME_BYTES)
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    claim.extend_from_slice(&[0u8; 10]);
    tx.write_all(&claim).await.expect("write");
    let pending = tokio::time::timeout(
        std::time::Duration::from_millis(20),
        reader.next::<ClientFrame>(),
    )
    .await;
    assert!(pending.is_err());
    assert!(reader.held() <= 256 * 1024, "{} bytes held", reader.held());
}

#[tokio::test]
async fn a_started_frame_must_finish_within_its_deadline() {
    use tokio::io::AsyncWriteExt;
    let (mut tx, rx) = tokio::io::duplex(64);
    let mut reader =
        codec::FrameReader::new(rx).with_frame_timeout(std::time::Duration::from_millis(100));
    tx.write_all(&[0, 0, 0, 9, 1]).await.expect("write");
    match reader.next::<ClientFrame>().await {
        Err(CodecError::FrameTimeout { expected, got, .. }) => {
            assert_eq!((expected, got), (13, 5))
        }
        other => panic!("expected FrameTimeout, got {other:?}"),
    }
}
