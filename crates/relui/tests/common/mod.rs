//! Test fixtures for driving `App` without a terminal: a fixed world of releases and
//! environments, a way to answer the app's requests from it, and rendering to text.
//!
//! These are unit tests of the pure UI state machine (keys and answers in, commands and
//! pixels out). The real daemon is exercised by `tests/e2e.rs`.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use rel_domain::config::{AppConfig, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::diff::{Change, ChangeOp, Diff, FieldChange};
use rel_domain::*;
use rel_proto::{DaemonStatus, ReleaseDetail, Request, Response, Welcome};
use relui::{App, Command, Msg, Theme};

/// 2025-11-24T16:00:00Z: every age in the snapshots is relative to this.
pub const NOW: i64 = 1_764_000_000_000;
pub const MIN: i64 = 60_000;

pub fn ts(minutes_ago: i64) -> Timestamp {
    Timestamp(NOW - minutes_ago * MIN)
}

pub fn digest(n: u64) -> Digest {
    Digest::of(&n.to_le_bytes())
}

pub fn release(seq: u64, state: ReleaseState, live_in: &[&str]) -> ReleaseView {
    ReleaseView {
        release: Release {
            seq,
            tag: format!("v1.{seq}.0"),
            description: format!("Release {seq}: tune the chat pipeline\nsecond line of notes"),
            created_at: ts(i64::try_from(31 - seq.min(30)).unwrap_or(0) * 90),
            created_by: if seq.is_multiple_of(2) {
                "alice".into()
            } else {
                "bob".into()
            },
            digest: digest(seq),
        },
        state,
        live_in: live_in.iter().map(|s| s.to_string()).collect(),
    }
}

/// 30 releases, newest first: v1.30.0 ready, v1.29.0 in staging, v1.28.0 in production,
/// v1.20–27 superseded, older ones ready.
pub fn releases(n: u64) -> Vec<ReleaseView> {
    (1..=n)
        .rev()
        .map(|seq| match seq {
            s if s == n => release(s, ReleaseState::Ready, &[]),
            s if s + 1 == n => release(s, ReleaseState::Deployed, &["staging"]),
            s if s + 2 == n => release(s, ReleaseState::Deployed, &["production"]),
            s if s + 10 >= n => release(s, ReleaseState::Superseded, &[]),
            s => release(s, ReleaseState::Ready, &[]),
        })
        .collect()
}

pub fn verification(passed: bool) -> Verification {
    Verification {
        at: ts(4),
        by: "alice".into(),
        passed,
        checks: vec![CheckResult {
            name: "chat replies".into(),
            passed,
            message: if passed {
                "ok".into()
            } else {
                "reply lacks \"ping\"".into()
            },
            execution_id: Some(7),
        }],
    }
}

/// The answer to `Request::Verify { env }` for v1.29.0 live in staging: two checks, the
/// second failing unless `passed`.
pub fn verify_outcome(env: &str, passed: bool) -> rel_proto::VerifyOutcome {
    let checks = vec![
        CheckResult {
            name: "chat replies".into(),
            passed: true,
            message: r#".reply | contains("ping") held"#.into(),
            execution_id: Some(41),
        },
        CheckResult {
            name: "length is counted".into(),
            passed,
            message: if passed {
                ".length == 4 held".into()
            } else {
                r#"expected .length == 4, but the output was {"length":5,"reply":"You said: pingo"}"#
                    .into()
            },
            execution_id: Some(42),
        },
    ];
    let verification = Verification {
        at: ts(0),
        by: "alice".into(),
        passed,
        checks,
    };
    let mut deployment = deployment(
        12,
        env,
        "v1.29.0",
        Some("v1.28.0"),
        DeploymentKind::Deploy,
        5,
    );
    deployment.verification = Some(verification.clone());
    rel_proto::VerifyOutcome {
        env: env.into(),
        release: "v1.29.0".into(),
        deployment,
        verification,
    }
}

pub fn env(
    name: &str,
    protected: bool,
    requires: &[&str],
    live: Option<&str>,
    rollback_to: Option<&str>,
) -> EnvironmentView {
    EnvironmentView {
        env: Environment {
            name: name.into(),
            description: String::new(),
            protected,
            requires: requires.iter().map(|s| s.to_string()).collect(),
            created_at: Timestamp(0),
        },
        live: live.map(str::to_string),
        live_digest: live.map(|_| digest(99)),
        rollback_to: rollback_to.map(str::to_string),
        since: live.map(|_| ts(if protected { 120 } else { 5 })),
        by: live.map(|_| {
            if protected {
                "bob".into()
            } else {
                "alice".into()
            }
        }),
        deployment_id: live.map(|_| if protected { 11 } else { 12 }),
        verification: if protected {
            None
        } else {
            live.map(|_| verification(true))
        },
        held: vec![],
        governance: Default::default(),
    }
}

pub fn envs(n: u64) -> Vec<EnvironmentView> {
    // Deliberately not in promotion order: the app sorts.
    vec![
        env(
            "production",
            true,
            &["staging"],
            Some(&format!("v1.{}.0", n - 2)),
            Some(&format!("v1.{}.0", n - 3)),
        ),
        env(
            "staging",
            false,
            &[],
            Some(&format!("v1.{}.0", n - 1)),
            Some(&format!("v1.{}.0", n - 2)),
        ),
    ]
}

pub fn deployment(
    id: u64,
    env: &str,
    release: &str,
    previous: Option<&str>,
    kind: DeploymentKind,
    minutes_ago: i64,
) -> Deployment {
    Deployment {
        id,
        env: env.into(),
        release: release.into(),
        release_seq: 0,
        previous: previous.map(str::to_string),
        kind,
        actor: "alice".into(),
        at: ts(minutes_ago),
        reason: None,
        forced: false,
        verification: None,
    }
}

pub fn sample_diff() -> Diff {
    Diff {
        changes: vec![
            Change {
                path: "pipelines.chat.stages[prepare].steps[greet]".into(),
                op: ChangeOp::Changed,
                fields: vec![FieldChange {
                    field: "template".into(),
                    before: Some("\"You said: {{ input.message }}\"".into()),
                    after: Some("\"You wrote: {{ input.message }}\"".into()),
                }],
            },
            Change {
                path: "tools.search".into(),
                op: ChangeOp::Added,
                fields: vec![],
            },
            Change {
                path: "checks[old smoke]".into(),
                op: ChangeOp::Removed,
                fields: vec![],
            },
        ],
    }
}

pub fn example_json() -> String {
    AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml)
        .expect("example parses")
        .to_canonical_json()
}

pub fn welcome() -> Welcome {
    Welcome {
        protocol: rel_proto::PROTOCOL_VERSION,
        daemon_version: "0.1.0".into(),
        caller: Caller {
            actor: Actor {
                uid: 1000,
                name: "alice".into(),
            },
            role: Role::Admin,
        },
        pid: 4242,
    }
}

/// A fixed world the app's requests are answered from.
pub struct World {
    pub releases: Vec<ReleaseView>,
    pub envs: Vec<EnvironmentView>,
    pub draft_empty: bool,
    /// What `PlanDeploy` answers with as its verdict.
    pub verdict: Result<(), RelError>,
    /// Execution logs, newest first.
    pub executions: Vec<Execution>,
    /// At most this many items per list answer, as releasd's byte budget (`--page-bytes`)
    /// cuts a page short of the count asked for.
    pub page_cut: Option<usize>,
    /// Change requests, newest first (issue 11).
    pub requests: Vec<rel_domain::governance::ChangeRequest>,
}

impl World {
    pub fn new(n: u64) -> World {
        World {
            releases: releases(n),
            envs: if n >= 3 { envs(n) } else { default_envs() },
            draft_empty: false,
            verdict: Ok(()),
            executions: (1..=6).rev().map(execution).collect(),
            page_cut: None,
            requests: vec![],
        }
    }

    pub fn empty() -> World {
        World {
            releases: vec![],
            envs: default_envs(),
            draft_empty: false,
            verdict: Ok(()),
            executions: vec![],
            page_cut: None,
            requests: vec![],
        }
    }

    fn find(&self, tag: &str) -> Option<&ReleaseView> {
        self.releases.iter().find(|r| r.release.tag == tag)
    }

    /// The daemon's answer to `request`, or `None` to leave it unanswered.
    pub fn answer(&self, request: &Request) -> Option<Response> {
        Some(match request {
            Request::Status => Response::Status(DaemonStatus {
                daemon_version: "0.1.0".into(),
                protocol: rel_proto::PROTOCOL_VERSION,
                pid: 4242,
                socket: "/run/releasd.sock".into(),
                data_dir: "/var/lib/releasd".into(),
                started_at: ts(600),
                http: None,
                log: None,
                backend: rel_proto::StoreBackend::sled("/tmp/releasd-data"),
                degraded: None,
                store: StoreStatus {
                    releases: self.releases.len() as u64,
                    environments: self.envs.len() as u64,
                    deployments: 12,
                    audit_entries: 40,
                    draft_digest: if self.draft_empty {
                        None
                    } else {
                        Some(digest(1000))
                    },
                },
                caller: welcome().caller,
            }),
            Request::DraftShow => Response::Draft(None),
            Request::DraftApply(_) => Response::DraftApplied {
                digest: digest(1000),
                diff: Diff::default(),
            },
            Request::EnvList => Response::Environments(self.envs.clone()),
            Request::ReleaseList(q) => {
                let rows = self
                    .releases
                    .iter()
                    .filter(|r| q.before_seq.is_none_or(|b| r.release.seq < b))
                    .filter(|r| {
                        q.filter.as_ref().is_none_or(|f| {
                            let f = f.to_lowercase();
                            r.release.tag.to_lowercase().contains(&f)
                                || r.release.created_by.to_lowercase().contains(&f)
                                || r.release.description.to_lowercase().contains(&f)
                        })
                    })
                    .take(q.limit.min(self.page_cut.unwrap_or(usize::MAX)))
                    .cloned()
                    .collect();
                Response::Releases(rows)
            }
            Request::ReleaseShow { tag } => {
                let view = self.find(tag)?.clone();
                let prev = self
                    .releases
                    .iter()
                    .find(|r| r.release.seq + 1 == view.release.seq)
                    .map(|r| r.release.tag.clone());
                Response::Release(ReleaseDetail {
                    history: if view.live_in.is_empty() {
                        vec![]
                    } else {
                        vec![
                            deployment(
                                12,
                                &view.live_in[0],
                                tag,
                                prev.as_deref(),
                                DeploymentKind::Deploy,
                                5,
                            ),
                            deployment(9, "staging", tag, None, DeploymentKind::Deploy, 300),
                        ]
                    },
                    view,
                    config_json: example_json(),
                    diff_from_previous: if prev.is_some() {
                        sample_diff()
                    } else {
                        Diff::default()
                    },
                    previous: prev,
                })
            }
            Request::EnvHistory { env, .. } => Response::History(vec![
                deployment(
                    12,
                    env,
                    "v1.29.0",
                    Some("v1.28.0"),
                    DeploymentKind::Deploy,
                    5,
                ),
                deployment(
                    10,
                    env,
                    "v1.28.0",
                    Some("v1.29.0"),
                    DeploymentKind::Rollback,
                    60,
                ),
                deployment(
                    8,
                    env,
                    "v1.29.0",
                    Some("v1.28.0"),
                    DeploymentKind::Deploy,
                    90,
                ),
            ]),
            Request::PlanDeploy(r) => {
                let env = self.envs.iter().find(|e| e.env.name == r.env)?;
                Response::DeployPlan(DeployPlan {
                    env: r.env.clone(),
                    from: env.live.clone(),
                    to: r.tag.clone(),
                    diff: sample_diff(),
                    verdict: self.verdict.clone(),
                    protected: env.env.protected,
                    already_live: env.live.as_deref() == Some(r.tag.as_str()),
                    governance: env.governance.clone(),
                    pending: self
                        .requests
                        .iter()
                        .filter(|q| {
                            q.env == r.env
                                && q.release == r.tag
                                && q.status == rel_domain::governance::RequestStatus::Pending
                        })
                        .cloned()
                        .collect(),
                })
            }
            Request::PlanRollback(r) => {
                let env = self.envs.iter().find(|e| e.env.name == r.env)?;
                Response::RollbackPlan(RollbackPlan {
                    env: r.env.clone(),
                    from: env.live.clone()?,
                    to: env.rollback_to.clone()?,
                    popped: vec![env.live.clone()?],
                    diff: sample_diff(),
                })
            }
            Request::Diff { from, to } => Response::Diff(rel_proto::DiffView {
                from: from.clone(),
                to: to.clone(),
                from_digest: Some(digest(1)),
                to_digest: Some(digest(2)),
                diff: sample_diff(),
            }),
            Request::Logs(q) => Response::Executions(
                self.executions
                    .iter()
                    .filter(|e| q.env.as_ref().is_none_or(|env| &e.env == env))
                    .filter(|e| q.before_id.is_none_or(|b| e.id < b))
                    .take(q.limit.min(self.page_cut.unwrap_or(usize::MAX)))
                    .cloned()
                    .collect(),
            ),
            Request::Requests { all, before_id, .. } => Response::Requests(
                self.requests
                    .iter()
                    .filter(|r| *all || r.status == rel_domain::governance::RequestStatus::Pending)
                    .filter(|r| before_id.is_none_or(|b| r.id < b))
                    .cloned()
                    .collect(),
            ),
            Request::LogShow { id } => Response::Execution(
                self.executions
                    .iter()
                    .find(|e| e.id == *id)
                    .cloned()
                    .unwrap_or_else(|| execution(*id)),
            ),
            _ => return None,
        })
    }
}

/// Run `id`: even ids in staging, odd in production; every third fails its second step.
pub fn execution(id: u64) -> Execution {
    let fails = id.is_multiple_of(3);
    let status = if fails {
        ExecStatus::Error
    } else {
        ExecStatus::Ok
    };
    Execution {
        id,
        env: if id.is_multiple_of(2) {
            "staging".into()
        } else {
            "production".into()
        },
        endpoint: "chat".into(),
        release: "v1.29.0".into(),
        digest: digest(29),
        status,
        input: format!("{{\"message\":\"ping {id}\"}}"),
        output: if fails {
            "null".into()
        } else {
            format!("{{\"length\":6,\"reply\":\"You said: ping {id}\"}}")
        },
        error: fails
            .then(|| "step shape: jq: .input.message is null, cannot take its length".to_string()),
        steps: vec![
            StepResult {
                name: "greet".into(),
                kind: "template".into(),
                status: ExecStatus::Ok,
                duration_ms: 1,
                error: None,
                output: format!("\"You said: ping {id}\""),
            },
            StepResult {
                name: "shape".into(),
                kind: "transform".into(),
                status,
                duration_ms: 3,
                error: fails
                    .then(|| "jq: .input.message is null, cannot take its length".to_string()),
                output: if fails {
                    "null".into()
                } else {
                    format!("{{\"length\":6,\"reply\":\"You said: ping {id}\"}}")
                },
            },
        ],
        started_at: ts(i64::try_from(id).unwrap_or(0)),
        duration_ms: 4 + id,
    }
}

pub fn default_envs() -> Vec<EnvironmentView> {
    vec![
        env("staging", false, &[], None, None),
        env("production", true, &["staging"], None, None),
    ]
}

/// Feed the answers to `cmds` (and to the commands those answers cause) back into the app.
/// Returns the commands that were not answered by the world (e.g. Deploy).
pub fn settle(app: &mut App, world: &World, cmds: Vec<Command>) -> Vec<Command> {
    let mut queue = cmds;
    let mut unanswered = vec![];
    let mut rounds = 0;
    while let Some(cmd) = (!queue.is_empty()).then(|| queue.remove(0)) {
        rounds += 1;
        assert!(rounds < 1000, "the app keeps asking: {cmd:?}");
        match &cmd {
            Command::Call { purpose, request } => match world.answer(request) {
                Some(resp) => queue.extend(app.update(Msg::Rpc {
                    purpose: purpose.clone(),
                    result: Ok(resp),
                })),
                None => unanswered.push(cmd),
            },
            Command::Quit | Command::StartDaemon | Command::Copy(_) => unanswered.push(cmd),
        }
    }
    unanswered
}

pub fn new_app(theme: Theme, w: u16, h: u16) -> App {
    App::new(
        theme,
        "/run/user/1000/releasd/releasd.sock".into(),
        Rect::new(0, 0, w, h),
        Timestamp(NOW),
    )
}

/// An app connected to `world` with everything loaded.
pub fn connected(world: &World, w: u16, h: u16) -> App {
    let mut app = new_app(Theme::colored(), w, h);
    let cmds = app.update(Msg::Connected(welcome()));
    let left = settle(&mut app, world, cmds);
    assert!(left.is_empty(), "unanswered at connect: {left:?}");
    app
}

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Press keys, answering whatever they ask from `world`; returns the unanswered commands.
pub fn press(app: &mut App, world: &World, msgs: Vec<Msg>) -> Vec<Command> {
    let mut left = vec![];
    for m in msgs {
        let cmds = app.update(m);
        left.extend(settle(app, world, cmds));
    }
    left
}

pub fn typed(s: &str) -> Vec<Msg> {
    s.chars().map(ch).collect()
}

pub fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| app.render(f)).expect("draw");
    t.backend().buffer().clone()
}

/// The buffer as text, one line per row, trailing spaces trimmed.
pub fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn screen(app: &App, w: u16, h: u16) -> String {
    text(&draw(app, w, h))
}

/// Position of the first occurrence of `needle` on screen.
pub fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let t = text(buf);
    for (y, line) in t.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            return Some((u16::try_from(x).ok()?, u16::try_from(y).ok()?));
        }
    }
    None
}

/// Staging frozen by alice 5 minutes ago for 2 hours.
pub fn freeze_staging(world: &mut World) {
    for e in world.envs.iter_mut().filter(|e| e.env.name == "staging") {
        e.governance.frozen = Some(rel_domain::governance::FreezeView {
            by: "alice".into(),
            reason: "release week".into(),
            since: ts(5),
            until: Some(ts(-120)),
            scope: rel_domain::governance::FreezeScope::Env,
            window: None,
        });
    }
}

/// The line stopped by bob 10 minutes ago until unfrozen: every environment reports it.
pub fn stop_the_line(world: &mut World) {
    for e in world.envs.iter_mut() {
        e.governance.frozen = Some(rel_domain::governance::FreezeView {
            by: "bob".into(),
            reason: "incident 42: payments down".into(),
            since: ts(10),
            until: None,
            scope: rel_domain::governance::FreezeScope::All,
            window: None,
        });
    }
}

/// Production needs 2 approvals; two open requests: #2 by bob (one approval, by carol), #1
/// by alice (none).
pub fn approvals_in_production(world: &mut World) {
    use rel_domain::governance::*;
    let request = |id: u64, by: &str, release: &str, approvals: Vec<Approval>| ChangeRequest {
        id,
        kind: RequestKind::Approval,
        env: "production".into(),
        release: release.into(),
        expect: Some("v1.28.0".into()),
        requested_by: by.into(),
        requested_uid: 1000 + id as u32,
        requested_at: ts(30 * id as i64),
        status: RequestStatus::Pending,
        at: None,
        expires_at: Some(ts(-23 * 60)),
        approvals_needed: 2,
        approvals,
        force_reason: None,
        decided_by: None,
        decided_at: None,
        outcome: None,
        deployment_id: None,
    };
    world.requests = vec![
        request(
            2,
            "bob",
            "v1.29.0",
            vec![Approval {
                by: "carol".into(),
                at: ts(10),
            }],
        ),
        request(1, "alice", "v1.30.0", vec![]),
    ];
    for e in world.envs.iter_mut().filter(|e| e.env.name == "production") {
        e.governance.approvals = 2;
        e.governance.pending_requests = 2;
    }
}
