//! relui at 100k releases (SPEC §7: first frame ≤ 100 ms, a keypress redraw ≤ 16 ms).
//!
//! The app state holds what relui holds in real life: the pages of the 100k-release list
//! fetched so far (one page at first), the environments, the status. Each iteration goes
//! through `App::update` and a full `Terminal::draw` on ratatui's TestBackend, i.e. all the
//! work of a frame except writing bytes to the tty.
//!
//! Run: `cargo bench -p relui --bench render`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use rel_domain::*;
use rel_proto::{DaemonStatus, Request, Response, Welcome};
use relui::{App, Command, Msg, Theme};

const TOTAL: u64 = 100_000;
const NOW: i64 = 1_764_000_000_000;

fn view(seq: u64) -> ReleaseView {
    let live_in: Vec<String> = match TOTAL - seq {
        1 => vec!["staging".into()],
        2 => vec!["production".into()],
        _ => vec![],
    };
    ReleaseView {
        release: Release {
            seq,
            tag: format!("v{}.{}.{}", seq / 10_000, (seq / 100) % 100, seq % 100),
            description: format!("Release {seq}: adjust the chat pipeline\nmore notes"),
            created_at: Timestamp(NOW - (TOTAL - seq) as i64 * 60_000),
            created_by: if seq.is_multiple_of(3) {
                "alice".into()
            } else {
                "bob".into()
            },
            digest: Digest::of(&seq.to_le_bytes()),
        },
        state: if live_in.is_empty() {
            ReleaseState::Superseded
        } else {
            ReleaseState::Deployed
        },
        live_in,
    }
}

fn env(name: &str, protected: bool, requires: &[&str], live: u64) -> EnvironmentView {
    EnvironmentView {
        env: Environment {
            name: name.into(),
            description: String::new(),
            protected,
            requires: requires.iter().map(|s| s.to_string()).collect(),
            created_at: Timestamp(0),
        },
        live: Some(view(live).release.tag),
        live_digest: None,
        rollback_to: Some(view(live - 1).release.tag),
        since: Some(Timestamp(NOW - 300_000)),
        by: Some("alice".into()),
        deployment_id: Some(1_000_000),
        verification: None,
        held: vec![],
        governance: Default::default(),
    }
}

/// The daemon's answer for the requests relui makes at start and while scrolling.
fn answer(req: &Request) -> Option<Response> {
    Some(match req {
        Request::Status => Response::Status(DaemonStatus {
            daemon_version: "0.1.0".into(),
            protocol: rel_proto::PROTOCOL_VERSION,
            pid: 1,
            socket: "/run/releasd.sock".into(),
            data_dir: "/var/lib/releasd".into(),
            started_at: Timestamp(NOW),
            http: None,
            log: None,
            backend: rel_proto::StoreBackend::sled("/tmp/releasd-data"),
            degraded: None,
            store: StoreStatus {
                releases: TOTAL,
                environments: 2,
                deployments: 1_000_000,
                audit_entries: 1_100_000,
                draft_digest: Some(Digest::of(b"draft")),
            },
            caller: welcome().caller,
        }),
        Request::EnvList => Response::Environments(vec![
            env("staging", false, &[], TOTAL - 1),
            env("production", true, &["staging"], TOTAL - 2),
        ]),
        Request::ReleaseList(q) => {
            let top = q.before_seq.map(|b| b - 1).unwrap_or(TOTAL);
            let n = (q.limit as u64).min(top);
            Response::Releases((0..n).map(|i| view(top - i)).collect())
        }
        Request::EnvHistory { .. } => Response::History(vec![]),
        _ => return None,
    })
}

fn welcome() -> Welcome {
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
        pid: 1,
    }
}

fn settle(app: &mut App, cmds: Vec<Command>) {
    let mut queue = cmds;
    while let Some(c) = queue.pop() {
        if let Command::Call { purpose, request } = c
            && let Some(resp) = answer(&request)
        {
            queue.extend(app.update(Msg::Rpc {
                purpose,
                result: Ok(resp),
            }));
        }
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// From nothing to the first frame with the first page of 100k releases on screen.
fn first_frame(w: u16, h: u16) -> Terminal<TestBackend> {
    let mut app = App::new(
        Theme::colored(),
        "/run/releasd.sock".into(),
        Rect::new(0, 0, w, h),
        Timestamp(NOW),
    );
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let cmds = app.update(Msg::Connected(welcome()));
    settle(&mut app, cmds);
    term.draw(|f| app.render(f)).expect("draw");
    term
}

fn benches(c: &mut Criterion) {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        c.bench_function(&format!("first_frame_100k_{w}x{h}"), |b| {
            b.iter(|| black_box(first_frame(w, h)))
        });

        // A keypress redraw with one page loaded: update + draw.
        let mut app = App::new(
            Theme::colored(),
            "/run/releasd.sock".into(),
            Rect::new(0, 0, w, h),
            Timestamp(NOW),
        );
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let cmds = app.update(Msg::Connected(welcome()));
        settle(&mut app, cmds);
        let mut down = true;
        c.bench_function(&format!("keypress_redraw_100k_{w}x{h}"), |b| {
            b.iter(|| {
                let k = if down { KeyCode::Down } else { KeyCode::Up };
                down = !down;
                let cmds = app.update(key(k));
                settle(&mut app, cmds);
                term.draw(|f| app.render(f)).expect("draw");
            })
        });

        // Paging down through the list: every keypress moves a page, pages are fetched
        // (answered in-process) as the selection nears the end of what is loaded.
        let mut app = App::new(
            Theme::colored(),
            "/run/releasd.sock".into(),
            Rect::new(0, 0, w, h),
            Timestamp(NOW),
        );
        let cmds = app.update(Msg::Connected(welcome()));
        settle(&mut app, cmds);
        c.bench_function(&format!("pgdn_redraw_100k_{w}x{h}"), |b| {
            b.iter(|| {
                if app.releases.selected + 1 >= TOTAL as usize {
                    let cmds = app.update(key(KeyCode::Home));
                    settle(&mut app, cmds);
                }
                let cmds = app.update(key(KeyCode::PageDown));
                settle(&mut app, cmds);
                term.draw(|f| app.render(f)).expect("draw");
            })
        });
    }
}

criterion_group! {
    name = render;
    config = Criterion::default().sample_size(50);
    targets = benches
}
criterion_main!(render);
