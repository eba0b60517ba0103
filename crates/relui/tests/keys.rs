//! Keys in, requests out: every test feeds key events into the app state and asserts the
//! RPCs it asks for and what it shows.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rel_domain::config::{ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::{
    DeployRequest, DeploymentKind, ErrorCode, NewRelease, RelError, ReleaseQuery, ReleaseState,
    RollbackRequest,
};
use rel_proto::{ClientError, Event, Request};
use relui::app::Conn;
use relui::dialogs::Dialog;
use relui::screens::Screen;
use relui::screens::releases::PAGE;
use relui::{Command, Msg, Purpose};

fn requests(cmds: &[Command]) -> Vec<Request> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Call { request, .. } => Some(request.clone()),
            Command::Quit | Command::StartDaemon | Command::Copy(_) => None,
        })
        .collect()
}

fn selected_tag(app: &relui::App) -> String {
    app.releases.selected_tag().expect("a selected release")
}

#[test]
fn connecting_loads_status_environments_and_the_first_page() {
    let mut app = new_app(relui::Theme::colored(), 80, 24);
    let reqs = requests(&app.update(Msg::Connected(welcome())));
    assert!(reqs.contains(&Request::Status));
    assert!(reqs.contains(&Request::EnvList));
    assert!(reqs.contains(&Request::ReleaseList(ReleaseQuery {
        state: None,
        filter: None,
        before_seq: None,
        limit: PAGE,
    })));
    assert!(matches!(app.conn, Conn::Connected(_)));
}

#[test]
fn a_fresh_store_gets_the_example_draft_once() {
    let mut world = World::empty();
    world.draft_empty = true;
    let mut app = new_app(relui::Theme::colored(), 80, 24);
    let mut seen = vec![];
    let mut queue = app.update(Msg::Connected(welcome()));
    while let Some(c) = queue.pop() {
        if let Command::Call { purpose, request } = &c {
            seen.push(request.clone());
            let resp = world.answer(request).expect("answerable");
            queue.extend(app.update(Msg::Rpc {
                purpose: purpose.clone(),
                result: Ok(resp),
            }));
        }
    }
    let applied: Vec<_> = seen
        .iter()
        .filter(|r| matches!(r, Request::DraftApply(_)))
        .collect();
    assert_eq!(applied.len(), 1, "{seen:?}");
    match applied[0] {
        Request::DraftApply(t) => {
            assert_eq!(t.format, ConfigFormat::Toml);
            assert_eq!(t.text, EXAMPLE_APP_TOML);
        }
        _ => unreachable!(),
    }
    let msg = app.message.as_ref().expect("a message about it");
    assert!(msg.text.contains("example app config"), "{}", msg.text);
    // A reconnect does not apply it again.
    let again = requests(&settle_all(&mut app, &world, Msg::Connected(welcome())));
    assert!(
        !again
            .iter()
            .any(|r| matches!(r, Request::DraftShow | Request::DraftApply(_)))
    );
}

/// Like `settle`, but returns every request made (answered or not).
fn settle_all(app: &mut relui::App, world: &World, msg: Msg) -> Vec<Command> {
    let mut all = vec![];
    let mut queue = app.update(msg);
    while !queue.is_empty() {
        let c = queue.remove(0);
        all.push(c.clone());
        if let Command::Call { purpose, request } = &c
            && let Some(resp) = world.answer(request)
        {
            queue.extend(app.update(Msg::Rpc {
                purpose: purpose.clone(),
                result: Ok(resp),
            }));
        }
    }
    all
}

#[test]
fn a_store_with_releases_keeps_its_draft() {
    let world = World::new(30);
    let mut app = new_app(relui::Theme::colored(), 80, 24);
    let all = requests(&settle_all(&mut app, &world, Msg::Connected(welcome())));
    assert!(
        !all.iter()
            .any(|r| matches!(r, Request::DraftShow | Request::DraftApply(_))),
        "{all:?}"
    );
}

#[test]
fn moving_and_opening_the_detail() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    assert_eq!(selected_tag(&app), "v1.30.0");
    press(&mut app, &world, vec![ch('j'), key(KeyCode::Down)]);
    assert_eq!(selected_tag(&app), "v1.28.0");
    press(&mut app, &world, vec![ch('k')]);
    assert_eq!(selected_tag(&app), "v1.29.0");
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::ReleaseShow {
            tag: "v1.29.0".into()
        }]
    );
    settle(&mut app, &world, cmds);
    let s = screen(&app, 80, 24);
    assert!(s.contains("Release v1.29.0"), "{s}");
    assert!(s.contains("Snapshot"), "{s}");
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.detail.is_none());
    assert!(screen(&app, 80, 24).contains("TAG"));
    press(&mut app, &world, vec![key(KeyCode::End)]);
    assert_eq!(selected_tag(&app), "v1.1.0");
    press(&mut app, &world, vec![key(KeyCode::Home)]);
    assert_eq!(selected_tag(&app), "v1.30.0");
}

#[test]
fn the_list_is_paged_near_the_end_and_never_loaded_whole() {
    let world = World::new(1000);
    let mut app = connected(&world, 80, 24);
    assert_eq!(app.releases.rows.len(), PAGE);
    // Page down until the prefetch margin is reached: the next page is asked for.
    let mut asked = vec![];
    for _ in 0..20 {
        let cmds = app.update(key(KeyCode::PageDown));
        asked.extend(requests(&cmds));
        settle(&mut app, &world, cmds);
    }
    let pages: Vec<_> = asked
        .iter()
        .filter_map(|r| match r {
            Request::ReleaseList(q) => Some(q.clone()),
            _ => None,
        })
        .collect();
    assert!(!pages.is_empty(), "no page was requested");
    assert_eq!(pages[0].before_seq, Some(1000 - PAGE as u64 + 1));
    assert_eq!(pages[0].limit, PAGE);
    // Loaded only what scrolling reached, not the thousand.
    assert!(
        app.releases.rows.len() < 1000,
        "{}",
        app.releases.rows.len()
    );
    assert!(app.releases.rows.len() > app.releases.selected);
    // Rows stay in order without duplicates.
    let seqs: Vec<u64> = app.releases.rows.iter().map(|r| r.release.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] == w[1] + 1),
        "gap or duplicate in {seqs:?}"
    );
}

#[test]
fn filtering_asks_the_daemon_and_esc_clears() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let cmds = app.update(ch('/'));
    assert!(cmds.is_empty());
    let mut filters = vec![];
    for c in "v1.2".chars() {
        let cmds = app.update(ch(c));
        for r in requests(&cmds) {
            if let Request::ReleaseList(q) = r {
                filters.push(q.filter.clone());
            }
        }
        settle(&mut app, &world, cmds);
    }
    assert_eq!(filters.last(), Some(&Some("v1.2".to_string())));
    assert_eq!(app.releases.rows.len(), 11);
    // `q` while typing a filter is text, not quit.
    let cmds = app.update(ch('q'));
    assert!(!cmds.contains(&Command::Quit));
    settle(&mut app, &world, cmds);
    let cmds = app.update(key(KeyCode::Esc));
    match &requests(&cmds)[..] {
        [Request::ReleaseList(q)] => assert_eq!(q.filter, None),
        _ => panic!("no deploy dialog"),
    }
    settle(&mut app, &world, cmds);
    assert_eq!(app.releases.rows.len(), 30);
}

#[test]
fn create_release_from_the_dialog() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('n')]);
    assert!(matches!(app.dialog, Some(Dialog::Create(_))));
    // `q` is text in a dialog.
    let mut keys = typed("v2.0.q");
    keys.push(key(KeyCode::Backspace));
    keys.push(ch('0'));
    keys.push(key(KeyCode::Tab));
    keys.extend(typed("Line one"));
    // Enter in the multi-line description is a newline, not a submit.
    keys.push(key(KeyCode::Enter));
    keys.extend(typed("line two"));
    let left = press(&mut app, &world, keys);
    assert!(left.is_empty(), "{left:?}");
    let cmds = app.update(ctrl('s'));
    assert_eq!(
        requests(&cmds),
        [Request::ReleaseCreate(NewRelease {
            tag: "v2.0.0".into(),
            description: "Line one\nline two".into(),
            config: None,
            deploy_to: None,
        })]
    );
}

/// The create request of a Release & Deploy: the release alone, with the environment kept
/// for the deploy confirmation that follows.
fn create_then_deploy_to(cmds: &[Command]) -> (Purpose, String) {
    match cmds {
        [
            Command::Call {
                purpose:
                    purpose @ Purpose::Create {
                        deploy_to: Some(env),
                        ..
                    },
                request: Request::ReleaseCreate(n),
            },
        ] => {
            assert_eq!(n.deploy_to, None, "the deploy is not part of the create");
            (purpose.clone(), env.clone())
        }
        other => panic!("not a Release & Deploy: {other:?}"),
    }
}

/// The daemon's answer to creating v2.0.0.
fn created_v2(app: &mut relui::App, world: &World, purpose: Purpose) {
    let mut view = release(31, ReleaseState::Ready, &[]);
    view.release.tag = "v2.0.0".into();
    let outcome = rel_domain::CreateOutcome {
        release: view,
        same_content_as: vec![],
        deployment: None,
    };
    let cmds = app.update(Msg::Rpc {
        purpose,
        result: Ok(rel_proto::Response::Created(outcome)),
    });
    settle(app, world, cmds);
}

/// Release & Deploy creates the release, then opens the normal deploy confirmation (from →
/// to, diff, policy; a protected environment's name) instead of deploying straight away.
#[test]
fn release_and_deploy_opens_the_deploy_confirmation() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let mut keys = vec![ch('n')];
    keys.extend(typed("v2.0.0"));
    keys.extend([key(KeyCode::Tab), key(KeyCode::Tab), ch(' ')]);
    // Environment dropdown: one down → production.
    keys.extend([key(KeyCode::Tab), key(KeyCode::Down)]);
    press(&mut app, &world, keys);
    let label = match &app.dialog {
        Some(Dialog::Create(d)) => d.button_label(),
        _ => panic!("dialog closed"),
    };
    assert_eq!(label, "Release & Deploy");
    assert!(screen(&app, 80, 24).contains("then the deploy confirmation"));
    let (purpose, env) = create_then_deploy_to(&app.update(ctrl('s')));
    assert_eq!(env, "production");
    created_v2(&mut app, &world, purpose);
    match &app.dialog {
        Some(Dialog::Deploy(d)) => assert_eq!(d.env(), "production"),
        _ => panic!("no deploy confirmation after the create"),
    }
    let s = screen(&app, 80, 24);
    assert!(s.contains("v1.28.0 → v2.0.0"), "{s}");
    // production is protected: nothing is deployed until its name is typed there.
    assert!(requests(&app.update(ctrl('s'))).is_empty());
    assert!(screen(&app, 80, 24).contains("production is protected: type its name"));
    press(&mut app, &world, typed("production"));
    match &requests(&app.update(ctrl('s')))[..] {
        [Request::Deploy(r)] => {
            assert_eq!((r.tag.as_str(), r.env.as_str()), ("v2.0.0", "production"))
        }
        other => panic!("no deploy: {other:?}"),
    }
}

#[test]
fn release_and_deploy_to_an_unprotected_environment_confirms_too() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let mut keys = vec![ch('n')];
    keys.extend(typed("v2.0.0"));
    keys.extend([key(KeyCode::Tab), key(KeyCode::Tab), ch(' ')]);
    press(&mut app, &world, keys);
    let (purpose, env) = create_then_deploy_to(&app.update(ctrl('s')));
    assert_eq!(env, "staging");
    created_v2(&mut app, &world, purpose);
    let s = screen(&app, 80, 24);
    assert!(
        matches!(app.dialog, Some(Dialog::Deploy(_))) && s.contains("→ v2.0.0"),
        "{s}"
    );
    assert!(!s.contains("type staging"), "{s}");
}

#[test]
fn an_environment_created_meanwhile_shows_up_in_the_open_create_dialog() {
    let mut world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let mut keys = vec![ch('n')];
    keys.extend(typed("v2.0.0"));
    keys.extend([
        key(KeyCode::Tab),
        key(KeyCode::Tab),
        ch(' '),
        key(KeyCode::Tab),
    ]);
    press(&mut app, &world, keys);
    world.envs.push(env("prod2", true, &[], None, None));
    let cmds = app.update(Msg::Event {
        event: Event::EnvironmentCreated {
            name: "prod2".into(),
            actor: "bob".into(),
        },
        at: ts(0),
    });
    settle(&mut app, &world, cmds);
    // Up from staging wraps to the last one: the new, protected prod2.
    press(&mut app, &world, vec![key(KeyCode::Up)]);
    match &app.dialog {
        Some(Dialog::Create(d)) => assert_eq!(d.env(), Some("prod2")),
        _ => panic!("dialog closed"),
    }
    let (_, env) = create_then_deploy_to(&app.update(ctrl('s')));
    assert_eq!(env, "prod2");
}

#[test]
fn an_invalid_or_taken_tag_is_not_sent() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('n')]);
    assert!(
        requests(&app.update(key(KeyCode::Enter))).is_empty(),
        "empty tag submitted"
    );
    press(&mut app, &world, typed("V1.30.0"));
    assert!(
        requests(&app.update(ctrl('s'))).is_empty(),
        "taken tag submitted"
    );
    let s = screen(&app, 80, 24);
    assert!(s.contains("is taken"), "{s}");
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.dialog.is_none());
}

#[test]
fn created_release_is_selected_and_the_dialog_closes() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(
        &mut app,
        &world,
        vec![key(KeyCode::Down), key(KeyCode::Down)],
    );
    let mut keys = vec![ch('n')];
    keys.extend(typed("v2.0.0"));
    let cmds = {
        press(&mut app, &world, keys);
        app.update(ctrl('s'))
    };
    let purpose = match &cmds[..] {
        [Command::Call { purpose, .. }] => purpose.clone(),
        _ => panic!("no deploy dialog"),
    };
    let view = {
        let mut r = release(31, ReleaseState::Ready, &[]);
        r.release.tag = "v2.0.0".into();
        r
    };
    let outcome = rel_domain::CreateOutcome {
        release: view,
        same_content_as: vec!["v1.30.0".into()],
        deployment: None,
    };
    let cmds = app.update(Msg::Rpc {
        purpose,
        result: Ok(rel_proto::Response::Created(outcome)),
    });
    settle(&mut app, &world, cmds);
    assert!(app.dialog.is_none());
    assert_eq!(selected_tag(&app), "v2.0.0");
    let m = &app.message.as_ref().expect("message").text;
    assert!(
        m.contains("Created release v2.0.0") && m.contains("Same content as v1.30.0"),
        "{m}"
    );
}

#[test]
fn deploy_offers_the_first_environment_not_serving_the_release() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    // v1.30.0 is live nowhere: staging first.
    let cmds = app.update(ch('d'));
    match &requests(&cmds)[..] {
        [Request::PlanDeploy(r)] => {
            assert_eq!((r.tag.as_str(), r.env.as_str()), ("v1.30.0", "staging"))
        }
        _ => panic!("no deploy dialog"),
    }
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    // v1.29.0 is live in staging: production is offered.
    press(&mut app, &world, vec![key(KeyCode::Down)]);
    let cmds = app.update(ch('d'));
    match &requests(&cmds)[..] {
        [Request::PlanDeploy(r)] => {
            assert_eq!((r.tag.as_str(), r.env.as_str()), ("v1.29.0", "production"))
        }
        _ => panic!("no deploy dialog"),
    }
}

#[test]
fn a_protected_environment_needs_its_name_typed() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![key(KeyCode::Down), ch('d')]);
    // Enter without the name: nothing is sent, the dialog says why.
    assert!(requests(&app.update(key(KeyCode::Enter))).is_empty());
    assert!(screen(&app, 80, 24).contains("is protected: type its name"));
    press(&mut app, &world, typed("prod"));
    assert!(requests(&app.update(key(KeyCode::Enter))).is_empty());
    press(&mut app, &world, typed("uction"));
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Deploy(DeployRequest {
            tag: "v1.29.0".into(),
            env: "production".into(),
            expect: Some("v1.28.0".into()),
            force_reason: None,
        })]
    );
    // A second Enter while it is in flight sends nothing more.
    assert!(requests(&app.update(key(KeyCode::Enter))).is_empty());
}

#[test]
fn changing_the_target_environment_asks_for_a_new_plan() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('d'), key(KeyCode::BackTab)]);
    let cmds = app.update(key(KeyCode::Right));
    match &requests(&cmds)[..] {
        [Request::PlanDeploy(r)] => assert_eq!(r.env, "production"),
        _ => panic!("no deploy dialog"),
    }
    // A stale plan (for staging) arriving late is ignored.
    settle(&mut app, &world, cmds);
    match &app.dialog {
        Some(Dialog::Deploy(d)) => {
            assert_eq!(d.plan.as_ref().map(|p| p.env.as_str()), Some("production"))
        }
        _ => panic!("deploy dialog closed"),
    }
}

#[test]
fn a_daemon_error_is_shown_as_said_and_the_dialog_stays() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('d')]);
    let cmds = app.update(key(KeyCode::Enter));
    let purpose = match &cmds[..] {
        [Command::Call { purpose, .. }] => purpose.clone(),
        _ => panic!("no deploy dialog"),
    };
    let said = "staging: expected v1.29.0 to be live but v1.31.0 is (deployed by bob 3s ago); review and retry";
    let cmds = app.update(Msg::Rpc {
        purpose,
        result: Err(ClientError::Rpc(RelError::new(ErrorCode::Conflict, said))),
    });
    // The plan is refreshed so the dialog shows the truth.
    assert!(
        requests(&cmds)
            .iter()
            .any(|r| matches!(r, Request::PlanDeploy(_)))
    );
    settle(&mut app, &world, cmds);
    let s = screen(&app, 80, 24);
    assert!(s.contains("Conflict"), "{s}");
    assert!(
        s.contains("expected v1.29.0 to be live but v1.31.0 is"),
        "{s}"
    );
    // Other keys do not leak through the modal.
    assert!(app.update(ch('q')).is_empty());
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.error.is_none());
    assert!(matches!(app.dialog, Some(Dialog::Deploy(_))));
}

#[test]
fn promote_deploys_what_is_live_to_the_next_environment() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let cmds = app.update(ch('2'));
    assert!(requests(&cmds).contains(&Request::EnvHistory {
        env: "staging".into(),
        limit: 50,
        before_id: None
    }));
    settle(&mut app, &world, cmds);
    assert_eq!(app.screen, Screen::Environments);
    let cmds = app.update(ch('p'));
    match &requests(&cmds)[..] {
        [Request::PlanDeploy(r)] => {
            assert_eq!((r.tag.as_str(), r.env.as_str()), ("v1.29.0", "production"))
        }
        _ => panic!("no deploy dialog"),
    }
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    // From production there is nowhere further to go: a message, no request.
    press(&mut app, &world, vec![key(KeyCode::Down)]);
    assert!(requests(&app.update(ch('p'))).is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("last environment"))
    );
}

#[test]
fn rollback_of_the_selected_environment() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2'), key(KeyCode::Down)]);
    let cmds = app.update(ch('r'));
    assert_eq!(
        requests(&cmds),
        [Request::PlanRollback(RollbackRequest {
            env: "production".into(),
            to: None,
            expect: None,
            reason: None
        })]
    );
    settle(&mut app, &world, cmds);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("v1.28.0 → v1.27.0") && s.contains("will be held in production"),
        "{s}"
    );
    // production is protected: Enter (or Ctrl-S) without its name sends nothing.
    assert!(requests(&app.update(key(KeyCode::Enter))).is_empty());
    assert!(requests(&app.update(ctrl('s'))).is_empty());
    assert!(screen(&app, 80, 24).contains("production is protected: type its name"));
    press(&mut app, &world, typed("productio"));
    assert!(requests(&app.update(key(KeyCode::Enter))).is_empty());
    press(&mut app, &world, typed("n"));
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Rollback(RollbackRequest {
            env: "production".into(),
            to: None,
            expect: Some("v1.28.0".into()),
            reason: None,
        })]
    );
}

#[test]
fn actions_menu_runs_a_diff() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![key(KeyCode::Down), ch('a')]);
    let labels: Vec<String> = match &app.dialog {
        Some(Dialog::Actions(m)) => m.items.iter().map(|(l, _)| l.clone()).collect(),
        _ => panic!("no actions menu"),
    };
    assert_eq!(labels[0], "Deploy to Environment…");
    assert!(
        labels
            .iter()
            .any(|l| l.starts_with("Rollback to Previous in staging")),
        "{labels:?}"
    );
    // Deploy, Rollback in staging, Verify in staging, Diff previous, Diff vs production.
    press(
        &mut app,
        &world,
        vec![
            key(KeyCode::Down),
            key(KeyCode::Down),
            key(KeyCode::Down),
            key(KeyCode::Down),
        ],
    );
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Diff {
            from: "v1.28.0".into(),
            to: "v1.29.0".into()
        }]
    );
    settle(&mut app, &world, cmds);
    assert!(screen(&app, 80, 24).contains("tools.search"));
}

#[test]
fn live_events_update_the_list_without_a_key() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(
        &mut app,
        &world,
        vec![key(KeyCode::Down), key(KeyCode::Down)],
    );
    assert_eq!(selected_tag(&app), "v1.28.0");
    // Someone creates a release: it appears on top, the selection stays on v1.28.0.
    let mut created = release(31, ReleaseState::Ready, &[]);
    created.release.tag = "v9.0.0".into();
    let cmds = app.update(Msg::Event {
        event: Event::ReleaseCreated {
            release: created,
            actor: "bob".into(),
        },
        at: ts(0),
    });
    settle(&mut app, &world, cmds);
    assert_eq!(app.releases.rows[0].release.tag, "v9.0.0");
    assert_eq!(selected_tag(&app), "v1.28.0");
    // …and it is on screen, not scrolled away above the top.
    assert!(screen(&app, 80, 24).contains("v9.0.0"));
    // Someone deploys it to staging: states change in place, environments reload.
    let d = deployment(
        20,
        "staging",
        "v9.0.0",
        Some("v1.29.0"),
        DeploymentKind::Deploy,
        0,
    );
    let cmds = app.update(Msg::Event {
        event: Event::Deployed(d),
        at: ts(0),
    });
    assert!(requests(&cmds).contains(&Request::EnvList));
    let row = |tag: &str| {
        app.releases
            .rows
            .iter()
            .find(|r| r.release.tag == tag)
            .cloned()
            .expect("row")
    };
    assert_eq!(row("v9.0.0").state, ReleaseState::Deployed);
    assert_eq!(row("v9.0.0").live_in, ["staging"]);
    assert_eq!(row("v1.29.0").state, ReleaseState::Superseded);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("bob created release v9.0.0") || s.contains("deployed v9.0.0 to staging"),
        "{s}"
    );
}

#[test]
fn reconnecting_keeps_the_selection() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(
        &mut app,
        &world,
        (0..5).map(|_| key(KeyCode::Down)).collect(),
    );
    press(&mut app, &world, vec![ch('2'), key(KeyCode::Down), ch('1')]);
    let before = selected_tag(&app);
    app.update(Msg::Disconnected {
        reason: "releasd went away".into(),
        retry_in_ms: 400,
    });
    let s = screen(&app, 80, 24);
    assert!(s.contains("DISCONNECTED") && s.contains("stopped"), "{s}");
    // While disconnected the data stays on screen.
    assert!(s.contains(&before));
    settle_all(&mut app, &world, Msg::Connected(welcome()));
    assert_eq!(selected_tag(&app), before);
    assert_eq!(
        app.envs
            .selected(&app.data.envs)
            .map(|e| e.env.name.clone()),
        Some("production".to_string())
    );
    assert!(!screen(&app, 80, 24).contains("DISCONNECTED"));
}

#[test]
fn quit_help_and_screens() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('?')]);
    assert!(app.help);
    assert!(screen(&app, 80, 24).contains("Help — relui keys"));
    // Any key closes help (and does nothing else).
    assert!(app.update(ch('q')).is_empty());
    assert!(!app.help);
    press(&mut app, &world, vec![key(KeyCode::Tab)]);
    assert_eq!(app.screen, Screen::Environments);
    press(&mut app, &world, vec![key(KeyCode::Tab)]);
    assert_eq!(app.screen, Screen::Logs);
    press(&mut app, &world, vec![key(KeyCode::Tab)]);
    assert_eq!(app.screen, Screen::Requests);
    press(&mut app, &world, vec![key(KeyCode::Tab)]);
    assert_eq!(app.screen, Screen::Releases);
    assert_eq!(app.update(ch('q')), [Command::Quit]);
    // Ctrl-C in a dialog cancels the dialog (as Esc); from the main screen it quits.
    let ctrl_c = || Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    press(&mut app, &world, vec![ch('n')]);
    assert!(app.dialog.is_some());
    assert!(app.update(ctrl_c()).is_empty());
    assert!(app.dialog.is_none(), "Ctrl-C left the dialog open");
    press(&mut app, &world, vec![ch('?')]);
    assert!(app.update(ctrl_c()).is_empty());
    assert!(!app.help);
    // A release's detail view is closed like a dialog: back to the list, no quit.
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert!(app.detail.is_some());
    assert!(app.update(ctrl_c()).is_empty());
    assert!(app.detail.is_none(), "Ctrl-C left the detail view open");
    assert_eq!(app.update(ctrl_c()), [Command::Quit]);
}

#[test]
fn s_starts_releasd_again_only_when_it_is_gone() {
    let world = World::new(3);
    let mut app = connected(&world, 80, 24);
    // relui started this one (the world's daemon has pid 4242).
    app.update(Msg::DaemonStarted {
        pid: Some(4242),
        log: None,
    });
    press(&mut app, &world, vec![]);
    // Connected: s does nothing of the sort.
    assert!(!app.update(ch('s')).contains(&Command::StartDaemon));
    app.update(Msg::Disconnected {
        reason: "releasd went away (socket /tmp/x.sock); reconnecting…".into(),
        retry_in_ms: 400,
    });
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("releasd it started by itself; s does it now"),
        "{s}"
    );
    assert_eq!(app.update(ch('s')), [Command::StartDaemon]);
    // Another user's socket: never.
    app.update(Msg::Denied {
        reason: "only the daemon's owner may open it".into(),
        by_daemon: false,
    });
    assert!(app.update(ch('s')).is_empty());
    assert_eq!(app.exit_code(), 5);
}

/// relui's own daemon died and relui started it again: the message says it went away without
/// a stop and was started again (a plain "started" would hide the crash).
#[test]
fn a_restart_after_a_crash_says_the_daemon_died() {
    let world = World::new(3);
    let mut app = connected(&world, 120, 40);
    app.update(Msg::DaemonStarted {
        pid: Some(4242),
        log: None,
    });
    let first = app.message.as_ref().expect("a note").text.clone();
    assert!(
        first.starts_with("relui started releasd (pid 4242)"),
        "{first}"
    );
    app.update(Msg::Disconnected {
        reason: "releasd went away (socket /tmp/x.sock); reconnecting…".into(),
        retry_in_ms: 400,
    });
    app.update(Msg::DaemonStarted {
        pid: Some(4343),
        log: Some("/tmp/releasd.log".into()),
    });
    let again = app.message.as_ref().expect("a note").text.clone();
    assert!(
        again.contains("the releasd relui started (pid 4242) went away without a stop")
            && again.contains("relui started it again (pid 4343), log /tmp/releasd.log"),
        "{again}"
    );
    assert!(again.contains("its log may say why"), "{again}");
    // After a stop on purpose, s starting it is no crash.
    app.update(Msg::OursStopped { retry_in_ms: 400 });
    app.update(Msg::DaemonStarted {
        pid: Some(4444),
        log: None,
    });
    let deliberate = app.message.as_ref().expect("a note").text.clone();
    assert!(
        deliberate.starts_with("relui started releasd (pid 4444)"),
        "{deliberate}"
    );
}

/// The daemon relui started went away while a form was being filled in: Ctrl-S sends
/// nothing, the popup says what happens next (relui starts it again itself) and that the
/// input is kept; closing the popup leaves the form as it was.
#[test]
fn a_submit_while_relui_restarts_its_daemon_keeps_the_form_and_says_so() {
    let world = World::new(3);
    let mut app = connected(&world, 80, 24);
    app.update(Msg::DaemonStarted {
        pid: Some(4242),
        log: None,
    });
    let mut keys = vec![ch('n')];
    keys.extend(typed("v9.0.0"));
    keys.push(key(KeyCode::Tab));
    keys.extend(typed("notes"));
    press(&mut app, &world, keys);
    app.update(Msg::Disconnected {
        reason: "releasd went away (socket /tmp/x.sock); reconnecting…".into(),
        retry_in_ms: 400,
    });
    let purpose = match &app.update(ctrl('s'))[..] {
        [Command::Call { purpose, .. }] => purpose.clone(),
        other => panic!("{other:?}"),
    };
    app.update(Msg::Rpc {
        purpose,
        result: Err(ClientError::Disconnected("not connected".into())),
    });
    let m = &app.error.as_ref().expect("a popup").message;
    assert!(
        m.contains("nothing was sent; what you typed is kept")
            && m.contains("starting the releasd it started again by itself"),
        "{m}"
    );
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.error.is_none());
    match &app.dialog {
        Some(Dialog::Create(d)) => {
            assert_eq!(d.tag.text(), "v9.0.0");
            assert_eq!(d.description.text(), "notes");
            assert!(!d.submitting);
        }
        _ => panic!("the form was lost"),
    }
}

/// A daemon relui did not start (systemd's, another shell's) goes away: relui does not
/// offer to start one, s starts nothing, and the message says where its data was.
#[test]
fn s_never_starts_a_daemon_relui_did_not_start() {
    let world = World::new(3);
    let mut app = connected(&world, 120, 40);
    app.update(Msg::Disconnected {
        reason: "releasd went away (socket /tmp/x.sock); reconnecting…".into(),
        retry_in_ms: 400,
    });
    let s = screen(&app, 120, 40);
    assert!(!s.contains("Press s"), "{s}");
    assert!(s.contains("it was not started by relui"), "{s}");
    assert!(s.contains("data dir /var/lib/releasd"), "{s}");
    assert!(s.contains("systemctl restart releasd"), "{s}");
    assert!(app.update(ch('s')).is_empty());
    // relui started a daemon once, but the one that went away is another (another pid).
    let mut app = connected(&world, 80, 24);
    app.update(Msg::DaemonStarted {
        pid: Some(999),
        log: None,
    });
    app.update(Msg::Connected(welcome()));
    press(&mut app, &world, vec![]);
    app.update(Msg::Disconnected {
        reason: "gone".into(),
        retry_in_ms: 400,
    });
    assert!(app.update(ch('s')).is_empty());
}

/// The socket opened but the daemon refused the user's role: relui says that (and the
/// daemon's hint), not that the socket may not be opened.
#[test]
fn a_refused_role_is_not_a_refused_socket() {
    let mut app = new_app(relui::Theme::colored(), 80, 24);
    app.update(Msg::Denied {
        reason: "user bob (uid 1001) may not use this releasd: it serves only its owner alice and the users listed in its roles. Ask alice to add `viewer = [\"bob\"]`".into(),
        by_daemon: true,
    });
    let s = screen(&app, 80, 24);
    assert!(s.contains("refused you"), "{s}");
    assert!(s.contains("no role"), "{s}");
    assert!(s.contains("viewer = [\"bob\"]"), "{s}");
    assert!(!s.contains("may not open"), "{s}");
    assert_eq!(app.exit_code(), 5);
}

#[test]
fn every_key_is_in_the_help() {
    let world = World::new(30);
    let mut app = connected(&world, 120, 40);
    press(&mut app, &world, vec![ch('?')]);
    let s = screen(&app, 120, 40);
    for k in [
        "1 ",
        "2 ",
        "Tab",
        "j/k",
        "Home/End",
        "PgUp/PgDn",
        "Enter",
        "Esc",
        " n ",
        " a ",
        " d ",
        " r ",
        " p ",
        " v ",
        " / ",
        " ? ",
        " q ",
        "Ctrl-S",
        "Space",
        "S-Tab",
    ] {
        assert!(s.contains(k), "help lacks {k:?}:\n{s}");
    }
}

#[test]
fn requests_while_disconnected_answer_with_the_connection_error() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('d')]);
    let purpose = match &app.update(key(KeyCode::Enter))[..] {
        [Command::Call { purpose, .. }] => purpose.clone(),
        _ => panic!("no deploy dialog"),
    };
    assert!(matches!(purpose, Purpose::Deploy { .. }));
    app.update(Msg::Rpc {
        purpose,
        result: Err(ClientError::Disconnected("connection reset".into())),
    });
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("Not connected to releasd") && s.contains("connection reset"),
        "{s}"
    );
}

#[test]
fn logs_screen_loads_filters_and_follows_runs() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let cmds = app.update(ch('3'));
    assert_eq!(
        requests(&cmds),
        [Request::Logs(rel_domain::ExecQuery {
            env: None,
            endpoint: None,
            before_id: None,
            limit: relui::screens::logs::PAGE
        })]
    );
    settle(&mut app, &world, cmds);
    assert_eq!(app.screen, Screen::Logs);
    assert_eq!(app.logs.rows.len(), 6);
    // `f` cycles the environment filter in promotion order and asks again.
    let cmds = app.update(ch('f'));
    match &requests(&cmds)[..] {
        [Request::Logs(q)] => assert_eq!(q.env.as_deref(), Some("staging")),
        _ => panic!("no deploy dialog"),
    }
    settle(&mut app, &world, cmds);
    assert!(app.logs.rows.iter().all(|e| e.env == "staging"));
    // A run finishing in staging is fetched and shown on top without a key.
    let cmds = app.update(Msg::Event {
        event: Event::ExecutionFinished {
            id: 8,
            env: "staging".into(),
            endpoint: "chat".into(),
            release: "v1.29.0".into(),
            status: rel_domain::ExecStatus::Ok,
        },
        at: ts(0),
    });
    assert_eq!(requests(&cmds), [Request::LogShow { id: 8 }]);
    settle(&mut app, &world, cmds);
    assert_eq!(app.logs.rows[0].id, 8);
    // One in production is not for this filter: not even fetched.
    let cmds = app.update(Msg::Event {
        event: Event::ExecutionFinished {
            id: 9,
            env: "production".into(),
            endpoint: "chat".into(),
            release: "v1.28.0".into(),
            status: rel_domain::ExecStatus::Ok,
        },
        at: ts(0),
    });
    assert!(requests(&cmds).is_empty());
    // Enter shows the run with its steps; Esc goes back.
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("Run #8") && s.contains("greet") && s.contains("shape"),
        "{s}"
    );
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.logs.detail.is_none());
    // Tab cycles through all the screens.
    press(&mut app, &world, vec![key(KeyCode::Tab)]);
    assert_eq!(app.screen, Screen::Requests);
    press(&mut app, &world, vec![key(KeyCode::Tab)]);
    assert_eq!(app.screen, Screen::Releases);
}

// ----- verify -----

/// Answer one command with `result`, settling whatever that causes from `world`.
fn answer(
    app: &mut relui::App,
    world: &World,
    cmd: &Command,
    result: Result<rel_proto::Response, ClientError>,
) -> Vec<Command> {
    let Command::Call { purpose, .. } = cmd else {
        panic!("not a call: {cmd:?}")
    };
    let cmds = app.update(Msg::Rpc {
        purpose: purpose.clone(),
        result,
    });
    settle(app, world, cmds)
}

#[test]
fn v_verifies_the_selected_environment_and_shows_every_check() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2')]);
    let cmds = app.update(ch('v'));
    assert_eq!(
        requests(&cmds),
        [Request::Verify {
            env: "staging".into()
        }]
    );
    // In progress: the status bar and the VERIFIED column say so.
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("⠋ verifying staging: running the checks, 0 s"),
        "{s}"
    );
    assert!(s.contains("verifying…"), "{s}");
    // The clock moves the spinner and the elapsed time.
    app.update(Msg::Tick(rel_domain::Timestamp(NOW + 3_000)));
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("⠸ verifying staging: running the checks, 3 s"),
        "{s}"
    );
    // A second v while it runs sends nothing more.
    assert!(app.update(ch('v')).is_empty());
    assert!(
        screen(&app, 80, 24).contains("Already verifying staging"),
        "{}",
        screen(&app, 80, 24)
    );
    // The answer opens the result dialog and updates the column at once.
    let left = answer(
        &mut app,
        &world,
        &cmds[0],
        Ok(rel_proto::Response::Verified(verify_outcome(
            "staging", false,
        ))),
    );
    assert!(left.is_empty(), "{left:?}");
    assert!(app.verifying.is_empty());
    assert!(matches!(app.dialog, Some(Dialog::Verify(_))));
    let s = screen(&app, 120, 40);
    for needle in [
        "Verify staging: FAILED",
        "✗ FAILED  1/2 checks passed",
        "✓ chat replies",
        "✗ length is counted",
        "expected .length == 4, but the output was",
        "(run #42)",
    ] {
        assert!(s.contains(needle), "{needle:?} missing:\n{s}");
    }
    assert!(!s.contains("verifying staging…"), "{s}");
    // Esc closes it; the message line keeps the verdict.
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.dialog.is_none());
    let msg = app.message.clone().expect("a message");
    assert!(msg.error, "a failed verification is bad news");
    assert!(
        msg.text
            .contains("v1.29.0 in staging FAILED: 1/2 checks passed"),
        "{}",
        msg.text
    );
}

#[test]
fn a_passed_verification_says_what_comes_next() {
    let mut world = World::new(30);
    // Nothing recorded yet: the column says so until the answer arrives.
    world.envs.iter_mut().for_each(|e| e.verification = None);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2')]);
    assert!(screen(&app, 80, 24).contains("not verified"));
    let cmds = app.update(ch('v'));
    let Command::Call { purpose, .. } = &cmds[0] else {
        panic!("{cmds:?}")
    };
    // Not settled yet: what shows comes from the answer itself, not a reload.
    let reload = app.update(Msg::Rpc {
        purpose: purpose.clone(),
        result: Ok(rel_proto::Response::Verified(verify_outcome(
            "staging", true,
        ))),
    });
    assert!(requests(&reload).contains(&Request::EnvList), "{reload:?}");
    let s = screen(&app, 80, 24);
    assert!(s.contains("Verify staging: PASSED"), "{s}");
    assert!(s.contains("✓ PASSED  2/2 checks passed"), "{s}");
    assert!(s.contains("promote"), "{s}");
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    let s = screen(&app, 80, 24);
    assert!(s.contains("passed 2/2"), "the VERIFIED column:\n{s}");
}

#[test]
fn a_verify_error_is_shown_as_the_daemon_said_it() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2')]);
    let cmds = app.update(ch('v'));
    let said = "nothing is live in staging, so there is nothing to verify: deploy a release first (relctl deploy TAG --env staging)";
    answer(
        &mut app,
        &world,
        &cmds[0],
        Err(ClientError::Rpc(RelError::conflict(said))),
    );
    assert!(app.verifying.is_empty());
    let modal = app.error.clone().expect("an error modal");
    // The daemon's words, without the relctl command (relui has its own keys for that).
    assert_eq!(
        modal.message,
        "nothing is live in staging, so there is nothing to verify: deploy a release first."
    );
    assert_eq!(modal.context, "Verify staging");
    let s = screen(&app, 120, 40);
    assert!(s.contains("Verify staging failed:"), "{s}");
    assert!(s.contains("nothing is live in staging"), "{s}");
    // Permission denied, likewise.
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    let cmds = app.update(ch('v'));
    let said = "bob is a viewer: verifying staging needs the deployer role. Ask an admin to map you to deployer in the releasd config";
    answer(
        &mut app,
        &world,
        &cmds[0],
        Err(ClientError::Rpc(RelError::new(
            ErrorCode::PermissionDenied,
            said,
        ))),
    );
    let modal = app.error.clone().expect("an error modal");
    assert_eq!(modal.title, "Permission denied");
    assert_eq!(modal.message, said);
}

#[test]
fn someone_elses_verification_updates_the_column() {
    let mut world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2')]);
    assert!(screen(&app, 80, 24).contains("passed 1/1"));
    // relctl verify elsewhere: now staging's checks fail.
    for e in &mut world.envs {
        if e.env.name == "staging" {
            e.verification = Some(verification(false));
        }
    }
    let cmds = app.update(Msg::Event {
        event: Event::VerificationFinished {
            env: "staging".into(),
            deployment_id: 12,
            release: "v1.29.0".into(),
            passed: false,
        },
        at: ts(0),
    });
    let reqs = requests(&cmds);
    assert!(reqs.contains(&Request::EnvList), "{reqs:?}");
    assert!(
        reqs.iter()
            .any(|r| matches!(r, Request::EnvHistory { env, .. } if env == "staging")),
        "{reqs:?}"
    );
    settle(&mut app, &world, cmds);
    let s = screen(&app, 80, 24);
    assert!(s.contains("FAILED 0/1"), "{s}");
    assert!(
        s.contains("verification of v1.29.0 in staging FAILED"),
        "{s}"
    );
    // Nobody asked us: no dialog pops up.
    assert!(app.dialog.is_none());
}

#[test]
fn verify_from_the_actions_menu() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    // v1.29.0 is live in staging.
    press(&mut app, &world, vec![key(KeyCode::Down), ch('a')]);
    let labels: Vec<String> = match &app.dialog {
        Some(Dialog::Actions(m)) => m.items.iter().map(|(l, _)| l.clone()).collect(),
        _ => panic!("no actions menu"),
    };
    let i = labels
        .iter()
        .position(|l| l == "Verify in staging (run the checks)")
        .unwrap_or_else(|| panic!("no verify entry: {labels:?}"));
    press(
        &mut app,
        &world,
        (0..i).map(|_| key(KeyCode::Down)).collect(),
    );
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Verify {
            env: "staging".into()
        }]
    );
    assert!(app.dialog.is_none(), "the menu closes");
    assert_eq!(app.verifying, ["staging"]);
    // A release live nowhere has no verify entry.
    press(&mut app, &world, vec![key(KeyCode::Home), ch('a')]);
    match &app.dialog {
        Some(Dialog::Actions(m)) => assert!(
            !m.items.iter().any(|(l, _)| l.starts_with("Verify")),
            "{:?}",
            m.items
        ),
        _ => panic!("no actions menu"),
    }
}

#[test]
fn v_on_releases_points_to_the_environments_screen() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    assert!(app.update(ch('v')).is_empty());
    let msg = app.message.clone().expect("a hint");
    assert!(msg.text.contains("Environments screen (2)"), "{}", msg.text);
}

#[test]
fn an_unverified_promotion_hints_at_v() {
    let mut world = World::new(30);
    world.verdict = Err(RelError::policy(
        "policy: v1.29.0 has not passed verification in staging, which production requires because the app defines checks. Run the checks there (relctl verify --env staging), or override as an admin with --force --reason TEXT",
    ));
    let mut app = connected(&world, 120, 40);
    // v1.29.0 is live in staging: d offers production.
    press(&mut app, &world, vec![key(KeyCode::Down), ch('d')]);
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("✗ Policy denied: v1.29.0 has not passed verification in staging"),
        "the daemon's words, without a second \"policy:\":\n{s}"
    );
    assert!(s.contains("Run the checks there."), "{s}");
    assert!(
        !s.contains("relctl") && !s.contains("--force"),
        "relctl talk in a relui dialog:\n{s}"
    );
    assert!(
        s.contains("Press v on the Environments screen (2) to verify staging"),
        "{s}"
    );
    // v1.30.0 is live nowhere: verifying staging cannot help yet, so the hint says to
    // deploy it there first.
    press(
        &mut app,
        &world,
        vec![
            key(KeyCode::Esc),
            key(KeyCode::Home),
            ch('d'),
            key(KeyCode::Tab),
            key(KeyCode::Right),
        ],
    );
    let hint = match &app.dialog {
        Some(Dialog::Deploy(d)) => {
            assert_eq!((d.tag.as_str(), d.env()), ("v1.30.0", "production"));
            d.verify_hint.clone()
        }
        _ => panic!("no deploy dialog"),
    };
    assert_eq!(
        hint.as_deref(),
        Some(
            "Deploy v1.30.0 to staging first, then press v on the Environments screen (2) to verify staging."
        )
    );
    // Other denials get no verify hint.
    world.verdict = Err(RelError::policy(
        "policy: v1.30.0 has not been live in staging, which production requires",
    ));
    press(
        &mut app,
        &world,
        vec![
            key(KeyCode::Esc),
            ch('d'),
            key(KeyCode::Tab),
            key(KeyCode::Right),
        ],
    );
    match &app.dialog {
        Some(Dialog::Deploy(d)) => assert_eq!(d.verify_hint, None),
        _ => panic!("no deploy dialog"),
    }
}

#[test]
fn live_in_is_readable_at_80_columns() {
    let mut world = World::new(30);
    world.releases[1].live_in = vec!["staging".into(), "production".into(), "prod-eu".into()];
    let app = connected(&world, 80, 24);
    let s = screen(&app, 80, 24);
    assert!(s.contains("staging +2"), "{s}");
    assert!(!s.contains("prod-e "), "a cut name:\n{s}");
    let app = connected(&world, 120, 40);
    assert!(screen(&app, 120, 40).contains("staging,production,prod-eu"));
}

#[test]
fn arrows_change_the_deploy_target_from_the_button_and_an_empty_name_field() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    // v1.30.0 is live nowhere: staging is offered, focus on the button.
    press(&mut app, &world, vec![ch('d')]);
    let env = |app: &relui::App| match &app.dialog {
        Some(Dialog::Deploy(d)) => d.env().to_string(),
        _ => panic!("dialog closed"),
    };
    assert_eq!(env(&app), "staging");
    press(&mut app, &world, vec![key(KeyCode::Right)]);
    assert_eq!(env(&app), "production");
    // Now in the (empty) name field: ← still switches back.
    press(&mut app, &world, vec![key(KeyCode::Left)]);
    assert_eq!(env(&app), "staging");
    press(&mut app, &world, vec![key(KeyCode::Right)]);
    // With text typed, ←/→ move the cursor instead.
    press(&mut app, &world, typed("prod"));
    press(&mut app, &world, vec![key(KeyCode::Left)]);
    assert_eq!(env(&app), "production");
}

#[test]
fn rolling_back_an_unprotected_environment_needs_only_enter() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let cmds = press(&mut app, &world, vec![ch('2'), ch('r')]);
    settle(&mut app, &world, cmds);
    assert!(!screen(&app, 80, 24).contains("type staging"));
    match &requests(&app.update(key(KeyCode::Enter)))[..] {
        [Request::Rollback(r)] => assert_eq!(r.env, "staging"),
        _ => panic!("no deploy dialog"),
    }
}

#[test]
fn a_failed_daemon_start_stays_on_screen_until_connected() {
    let mut app = new_app(relui::Theme::colored(), 80, 24);
    app.update(Msg::StartingDaemon {
        program: "releasd".into(),
    });
    app.update(Msg::StartFailed {
        reason: "socket directory /run/x is owned by uid 0 (see /data/releasd.log)".into(),
        retry_in_ms: 200,
    });
    // The retries report the bare connection error: the start failure stays.
    app.update(Msg::Disconnected {
        reason: "no socket there. Start it with 'releasd'".into(),
        retry_in_ms: 400,
    });
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("could not start releasd: socket directory"),
        "{s}"
    );
    assert!(s.contains("Not connected to releasd at"), "{s}");
    assert!(!s.contains("Loading releases"), "{s}");
    app.update(ch('2'));
    let s = screen(&app, 80, 24);
    assert!(s.contains("Not connected to releasd at"), "{s}");
    assert!(!s.contains("Loading environments"), "{s}");
    app.update(Msg::Connected(welcome()));
    assert!(app.start_error.is_none());
    assert!(!screen(&app, 80, 24).contains("could not start"));
}

#[test]
fn info_messages_expire_and_errors_stay() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    app.update(Msg::Tick(ts(0)));
    // An info message: v on Releases is a warning, so use a no-op verify-in-progress info.
    press(&mut app, &world, vec![ch('2'), ch('v')]);
    press(&mut app, &world, vec![ch('v')]);
    assert!(screen(&app, 80, 24).contains("Already verifying staging"));
    app.update(Msg::Tick(relui_ts(NOW + 11_000)));
    assert!(!screen(&app, 80, 24).contains("Already verifying staging"));
    // A warning stays.
    press(&mut app, &world, vec![ch('1'), ch('v')]);
    app.update(Msg::Tick(relui_ts(NOW + 600_000)));
    assert!(screen(&app, 80, 24).contains("v verifies an environment"));
}

fn relui_ts(ms: i64) -> rel_domain::Timestamp {
    rel_domain::Timestamp(ms)
}

/// A deploy the policy refused is not sent again until something changes (here: an admin's
/// override reason); a space typed on the environment selector does not switch the target.
#[test]
fn a_refused_deploy_is_not_resubmitted_and_space_does_not_switch_the_target() {
    let mut world = World::new(30);
    world.verdict = Err(RelError::policy(
        "policy: v1.29.0 has not passed verification in staging, which production requires because the app defines checks. Run the checks there (relctl verify --env staging), or override as an admin with --force --reason TEXT",
    ));
    let mut app = connected(&world, 120, 40);
    press(&mut app, &world, vec![key(KeyCode::Down), ch('d')]);
    let env = |app: &relui::App| match &app.dialog {
        Some(Dialog::Deploy(d)) => d.env().to_string(),
        _ => panic!("no deploy dialog"),
    };
    assert_eq!(env(&app), "production");
    // Protected: type the name, then submit. Refused by the plan: nothing is sent.
    for c in "production".chars() {
        app.update(ch(c));
    }
    let cmds = app.update(key(KeyCode::Enter));
    assert!(
        requests(&cmds)
            .iter()
            .all(|r| !matches!(r, Request::Deploy(_))),
        "a refused deploy was sent: {cmds:?}"
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("The policy refuses this deploy"), "{s}");
    // The refusal put the focus on the override field; Shift-Tab back to the environment
    // selector and type a space: still production.
    for _ in 0..2 {
        app.update(key(KeyCode::BackTab));
    }
    match &app.dialog {
        Some(Dialog::Deploy(d)) => assert_eq!(d.focus, relui::dialogs::deploy::Focus::Env),
        _ => panic!("no deploy dialog"),
    }
    app.update(ch(' '));
    assert_eq!(env(&app), "production");
    // An override reason changes things: now it is sent, with the reason.
    app.update(key(KeyCode::Tab)); // → Confirm
    app.update(key(KeyCode::Tab)); // → Override reason
    for c in "hotfix".chars() {
        app.update(ch(c));
    }
    let cmds = app.update(key(KeyCode::Enter));
    assert!(
        requests(&cmds).iter().any(
            |r| matches!(r, Request::Deploy(d) if d.force_reason.as_deref() == Some("hotfix"))
        ),
        "{cmds:?}"
    );
}

/// `:` palette: commands open the same confirmations as their keys; unknown ones say so.
#[test]
fn the_command_palette() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch(':')]);
    assert!(app.palette.is_some());
    for c in "dep".chars() {
        app.update(ch(c));
    }
    assert!(
        app.palette_hint().contains("deploy TAG [ENV]"),
        "{}",
        app.palette_hint()
    );
    // Tab completes the command; the hint then offers tags.
    app.update(key(KeyCode::Tab));
    for c in "v1.30.0 production".chars() {
        app.update(ch(c));
    }
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert!(app.palette.is_none());
    match &app.dialog {
        Some(Dialog::Deploy(d)) => {
            assert_eq!((d.tag.as_str(), d.env()), ("v1.30.0", "production"))
        }
        _ => panic!("no deploy dialog"),
    }
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    // :rollback staging opens the rollback confirmation for staging.
    press(&mut app, &world, vec![ch(':')]);
    for c in "rollback staging".chars() {
        app.update(ch(c));
    }
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    match &app.dialog {
        Some(Dialog::Rollback(d)) => assert_eq!(d.env(), "staging"),
        _ => panic!("no rollback dialog"),
    }
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    // Unknown command and unknown environment: a clear message, nothing opens.
    press(&mut app, &world, vec![ch(':')]);
    for c in "frobnicate".chars() {
        app.update(ch(c));
    }
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert!(app.dialog.is_none());
    let m = app.message.clone().expect("message");
    assert!(
        m.error && m.text.contains("Unknown command :frobnicate"),
        "{m:?}"
    );
    press(&mut app, &world, vec![ch(':')]);
    for c in "rollback prod".chars() {
        app.update(ch(c));
    }
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    let m = app.message.clone().expect("message");
    assert!(m.text.contains("No environment named prod"), "{m:?}");
    // :q quits.
    press(&mut app, &world, vec![ch(':'), ch('q')]);
    assert_eq!(app.update(key(KeyCode::Enter)), [Command::Quit]);
}

fn palette(app: &mut relui::App, world: &World, line: &str) -> Vec<Command> {
    press(app, world, vec![ch(':')]);
    for c in line.chars() {
        app.update(ch(c));
    }
    press(app, world, vec![key(KeyCode::Enter)])
}

/// `:deploy` checks the tag and the environment before any dialog opens, and says either
/// mistake the same way (one line, with the close name); the line goes at the next key.
#[test]
fn the_palette_checks_tag_and_env_first_and_forgets_its_mistakes() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    // Every release is loaded: an unknown tag is known to be unknown.
    palette(&mut app, &world, "deploy v9 production");
    assert!(app.dialog.is_none(), "a dialog opened for an unknown tag");
    let m = app.message.clone().expect("message");
    assert!(m.error && m.text.contains("No release tagged v9"), "{m:?}");
    // An unknown environment suggests the close one: a prefix, or a near spelling.
    palette(&mut app, &world, "deploy v1.30.0 prod");
    assert!(app.dialog.is_none());
    let m = app.message.clone().expect("message");
    assert!(m.text.contains("did you mean production?"), "{m:?}");
    palette(&mut app, &world, "rollback stagin");
    let m = app.message.clone().expect("message");
    assert!(m.text.contains("did you mean staging?"), "{m:?}");
    // A stale mistake goes with the next key (here a screen switch).
    palette(&mut app, &world, "foo");
    assert!(screen(&app, 80, 24).contains("Unknown command :foo"));
    press(&mut app, &world, vec![ch('2')]);
    assert!(!screen(&app, 80, 24).contains("Unknown command"));
    assert!(app.message.is_none(), "{:?}", app.message);
    // A tag beyond the loaded pages: the daemon is asked, and its not-found is the same line.
    // 300 releases: the first page (200) is loaded, the oldest are not.
    let world = World::new(300);
    let mut app = connected(&world, 80, 24);
    assert!(app.releases.rows.len() < 300);
    let left = palette(&mut app, &world, "deploy v9 production");
    let [Command::Call { purpose, request }] = &left[..] else {
        panic!("the daemon was not asked: {left:?}");
    };
    assert_eq!(request, &Request::ReleaseShow { tag: "v9".into() });
    app.update(Msg::Rpc {
        purpose: purpose.clone(),
        result: Err(rel_proto::ClientError::Rpc(rel_domain::RelError::new(
            rel_domain::ErrorCode::NotFound,
            "no release v9",
        ))),
    });
    assert!(app.dialog.is_none());
    let m = app.message.clone().expect("message");
    assert!(m.text.contains("No release tagged v9"), "{m:?}");
    // A loaded-later tag the daemon knows opens the confirmation.
    palette(&mut app, &world, "deploy v1.2.0 production");
    match &app.dialog {
        Some(Dialog::Deploy(d)) => assert_eq!((d.tag.as_str(), d.env()), ("v1.2.0", "production")),
        _ => panic!("no deploy dialog for a tag the daemon knows"),
    }
}

/// Stop the line from the Environments screen (F) and from the palette (`:freeze --all
/// REASON`): the daemon gets one freeze for every environment; U and `:unfreeze --all` end
/// it, and only when it is stopped.
#[test]
fn stop_the_line_and_end_it() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2'), ch('F')]);
    assert!(
        matches!(&app.dialog, Some(Dialog::Gov(_))),
        "F opened nothing"
    );
    // A reason is required.
    let left = press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert!(requests(&left).is_empty(), "{left:?}");
    assert!(screen(&app, 80, 24).contains("Reason: required"));
    let left = press(&mut app, &world, typed("incident 42"));
    assert!(left.is_empty());
    let left = press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert_eq!(
        requests(&left),
        [Request::Freeze {
            env: None,
            reason: "incident 42".into(),
            until: None
        }]
    );
    // The palette: the reason given, Enter confirms.
    let mut app = connected(&world, 80, 24);
    palette(&mut app, &world, "freeze --all payments down");
    let s = screen(&app, 80, 24);
    assert!(s.contains("Stop the line"), "{s}");
    let left = press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert_eq!(
        requests(&left),
        [Request::Freeze {
            env: None,
            reason: "payments down".into(),
            until: None
        }]
    );
    // Not stopped: U says so and sends nothing.
    let mut app = connected(&world, 80, 24);
    let left = press(&mut app, &world, vec![ch('2'), ch('U')]);
    assert!(left.is_empty() && app.dialog.is_none());
    assert!(
        app.message
            .clone()
            .expect("message")
            .text
            .contains("not stopped")
    );
    // Stopped: U and :unfreeze --all end it.
    let mut stopped = World::new(30);
    stop_the_line(&mut stopped);
    let mut app = connected(&stopped, 80, 24);
    assert!(screen(&app, 80, 24).contains("LINE STOPPED"));
    press(&mut app, &stopped, vec![ch('2'), ch('U')]);
    let left = press(&mut app, &stopped, vec![key(KeyCode::Enter)]);
    assert_eq!(requests(&left), [Request::Unfreeze { env: None }]);
    let mut app = connected(&stopped, 80, 24);
    palette(&mut app, &stopped, "unfreeze --all");
    let left = press(&mut app, &stopped, vec![key(KeyCode::Enter)]);
    assert_eq!(requests(&left), [Request::Unfreeze { env: None }]);
    // F on a stopped line says so.
    let mut app = connected(&stopped, 80, 24);
    press(&mut app, &stopped, vec![ch('2'), ch('F')]);
    assert!(app.dialog.is_none());
}

/// `y` copies the selected tag (OSC 52 bytes checked in relui::clipboard), g/G jump, and an
/// unknown key says how to get help.
#[test]
fn copy_jumps_and_unknown_keys() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    assert_eq!(app.update(ch('y')), [Command::Copy("v1.30.0".into())]);
    assert_eq!(
        relui::clipboard::osc52("v1.30.0", false),
        "\x1b]52;c;djEuMzAuMA==\x07"
    );
    press(&mut app, &world, vec![key(KeyCode::Char('G'))]);
    assert_eq!(selected_tag(&app), "v1.1.0");
    press(&mut app, &world, vec![ch('g')]);
    assert_eq!(selected_tag(&app), "v1.30.0");
    app.update(ch('z'));
    let m = app.message.clone().expect("message");
    assert!(m.text.contains("Unknown key z — press ? for help"), "{m:?}");
    // Logs: y copies the run id.
    press(&mut app, &world, vec![ch('3')]);
    if let Some(run) = app.logs.rows.first().map(|e| e.id) {
        assert_eq!(app.update(ch('y')), [Command::Copy(run.to_string())]);
    }
}

/// Every Actions menu item has a letter; pressing it chooses the item.
#[test]
fn the_actions_menu_has_letter_shortcuts() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    // v1.29.0 is live in staging: deploy, rollback, verify and diffs.
    press(&mut app, &world, vec![key(KeyCode::Down), ch('a')]);
    let s = screen(&app, 80, 24);
    for item in [
        "[d] Deploy",
        "[r] Rollback",
        "[v] Verify",
        "[b] Diff against the previous release",
        "[c] Diff against v1.28.0",
        "[w] Diff against the draft",
    ] {
        assert!(s.contains(item), "{item} missing:\n{s}");
    }
    // No letter that means something else on the screens (p promote, l open, f freeze).
    for other in ["[p]", "[l]", "[f]"] {
        assert!(!s.contains(other), "{other} in the menu:\n{s}");
    }
    press(&mut app, &world, vec![ch('r')]);
    match &app.dialog {
        Some(Dialog::Rollback(d)) => assert_eq!(d.env(), "staging"),
        _ => panic!("r did not open the rollback confirmation"),
    }
}

// ----- filters and paging -----

#[test]
fn slash_filters_environments_with_a_count_and_esc_clears() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2'), ch('/')]);
    // Typed text is the filter, not keys: `p` would promote, `q` quit.
    let mut left = vec![];
    for m in typed("prod") {
        let cmds = app.update(m);
        assert!(!cmds.contains(&Command::Quit));
        left.extend(settle(&mut app, &world, cmds));
    }
    assert!(left.is_empty(), "{left:?}");
    let shown: Vec<&str> = app
        .envs
        .shown(&app.data.envs)
        .iter()
        .map(|e| e.env.name.as_str())
        .collect();
    assert_eq!(shown, ["production"]);
    assert_eq!(
        app.envs
            .selected(&app.data.envs)
            .map(|e| e.env.name.as_str()),
        Some("production")
    );
    // Its history is the one shown below.
    assert_eq!(app.envs.history_env.as_deref(), Some("production"));
    let s = screen(&app, 80, 24);
    assert!(s.contains("filter: prod") && s.contains("1 match "), "{s}");
    // Enter keeps the filter; keys act again (r opens the rollback of production).
    press(&mut app, &world, vec![key(KeyCode::Enter), ch('r')]);
    assert!(matches!(&app.dialog, Some(Dialog::Rollback(d)) if d.env() == "production"));
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(app.dialog.is_none());
    assert!(screen(&app, 80, 24).contains("1 match "));
    // Esc on the list clears it: every environment again, the selection kept.
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert_eq!(app.envs.shown(&app.data.envs).len(), app.data.envs.len());
    assert_eq!(
        app.envs
            .selected(&app.data.envs)
            .map(|e| e.env.name.as_str()),
        Some("production")
    );
    assert!(!screen(&app, 80, 24).contains("filter:"));
}

#[test]
fn a_filter_without_matches_says_so() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let mut keys = vec![ch('2'), ch('/')];
    keys.extend(typed("zzz"));
    press(&mut app, &world, keys);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("0 matches") && s.contains("No environment matches \"zzz\""),
        "{s}"
    );
    // Nothing selected: acting keys do nothing rather than act on a hidden environment.
    press(&mut app, &world, vec![key(KeyCode::Enter), ch('r')]);
    assert!(app.dialog.is_none());
}

/// A reconnect reloads the newest page; a run selected deeper than that page is fetched
/// again and stays selected (it used to land at the end of the first page).
#[test]
fn logs_keep_their_selection_across_a_reconnect() {
    let mut world = World::new(3);
    world.executions = (1..=350).rev().map(execution).collect();
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('3')]);
    // End twice: past the first page (runs 350 to 251).
    press(&mut app, &world, vec![key(KeyCode::End), key(KeyCode::End)]);
    let deep = app.logs.selected_run().expect("a run").id;
    assert!(deep < 251, "the selection is past the first page: {deep}");
    app.update(Msg::Disconnected {
        reason: "releasd went away (socket /tmp/x.sock); reconnecting…".into(),
        retry_in_ms: 400,
    });
    let cmds = app.update(Msg::Connected(welcome()));
    settle(&mut app, &world, cmds);
    assert_eq!(app.logs.selected_run().map(|r| r.id), Some(deep));
    // A new environment filter starts at the top, not at the old run.
    press(&mut app, &world, vec![ch('f')]);
    assert_eq!(app.logs.selected, 0);
}

#[test]
fn logs_filter_by_text_and_errors_only() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('3')]);
    assert_eq!(app.logs.shown_len(), 6);
    // `e`: only failed runs (#6 and #3), shown in the title with the count.
    let cmds = app.update(ch('e'));
    assert!(requests(&cmds).is_empty(), "filtering needs no request");
    assert!(app.logs.errors_only);
    let ids: Vec<u64> = app.logs.shown().map(|e| e.id).collect();
    assert_eq!(ids, [6, 3]);
    let s = screen(&app, 80, 24);
    assert!(s.contains("errors only") && s.contains("2 matches"), "{s}");
    // `/` and text narrow it further (the input, the env, the error text all count).
    let mut keys = vec![ch('/')];
    keys.extend(typed("ping 3"));
    keys.push(key(KeyCode::Enter));
    press(&mut app, &world, keys);
    let ids: Vec<u64> = app.logs.shown().map(|e| e.id).collect();
    assert_eq!(ids, [3]);
    assert!(screen(&app, 80, 24).contains("1 match "));
    // y copies the shown run, not the row at the same index of the unfiltered list.
    let cmds = app.update(ch('y'));
    assert!(cmds.contains(&Command::Copy("3".into())), "{cmds:?}");
    // Enter opens that run.
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert_eq!(app.logs.detail, Some(3));
    // Ctrl-C on a run goes back to the list (as Esc), it does not quit.
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.update(ctrl_c).is_empty());
    assert_eq!(app.logs.detail, None);
    press(&mut app, &world, vec![key(KeyCode::Enter)]);
    assert_eq!(app.logs.detail, Some(3));
    // Esc: back from the run, then the text goes, then errors only.
    press(&mut app, &world, vec![key(KeyCode::Esc), key(KeyCode::Esc)]);
    assert_eq!(app.logs.shown_len(), 2);
    press(&mut app, &world, vec![key(KeyCode::Esc)]);
    assert!(!app.logs.errors_only);
    assert_eq!(app.logs.shown_len(), 6);
    // `/` no longer cycles the environment: it types a filter.
    assert!(app.logs.env.is_none());
    // Text that matches nothing, errors only off: the hint names only the keys that apply.
    let mut keys = vec![ch('/')];
    keys.extend(typed("zzz"));
    keys.push(key(KeyCode::Enter));
    press(&mut app, &world, keys);
    let s = screen(&app, 80, 24);
    assert!(s.contains("No run matches \"zzz\""), "{s}");
    assert!(
        !s.contains("e to show every status"),
        "errors only is off: {s}"
    );
}

#[test]
fn releases_filter_counts_matches() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    let mut keys = vec![ch('/')];
    keys.extend(typed("v1.30"));
    press(&mut app, &world, keys);
    let s = screen(&app, 80, 24);
    assert!(s.contains("1 match "), "{s}");
    press(&mut app, &world, vec![key(KeyCode::Backspace)]);
    let s = screen(&app, 80, 24);
    assert!(s.contains("filter: v1.3") && s.contains("2 matches"), "{s}");
}

/// releasd cuts list answers at its byte budget: a short page is not the end of the list.
#[test]
fn short_pages_are_followed_to_the_end() {
    let mut world = World::new(30);
    world.page_cut = Some(7);
    let mut app = connected(&world, 80, 24);
    // End, repeatedly: each time the next page is fetched, until the oldest release.
    for _ in 0..10 {
        press(&mut app, &world, vec![key(KeyCode::End)]);
    }
    assert_eq!(app.releases.rows.len(), 30);
    assert_eq!(selected_tag(&app), "v1.1.0");
    assert!(app.releases.exhausted);
    // The same in the logs.
    world.executions = (1..=40).rev().map(execution).collect();
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('3')]);
    for _ in 0..10 {
        press(&mut app, &world, vec![key(KeyCode::End)]);
    }
    assert_eq!(app.logs.rows.len(), 40);
    assert_eq!(app.logs.selected_run().map(|e| e.id), Some(1));
    // With a filter on, pages keep coming until the end (the count is then exact).
    let mut app = connected(&world, 80, 24);
    let mut keys = vec![ch('3'), ch('e')];
    keys.extend([ch('/')]);
    keys.extend(typed("production"));
    press(&mut app, &world, keys);
    assert!(app.logs.exhausted);
    // Odd multiples of 3 up to 40: 3, 9, 15, 21, 27, 33, 39.
    assert_eq!(app.logs.shown_len(), 7);
    let s = screen(&app, 80, 24);
    assert!(s.contains("7 matches"), "{s}");
}

// ----- governance (issue 11) -----

#[test]
fn f_freezes_an_environment_with_a_reason_and_an_end() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2'), ch('f')]);
    assert!(matches!(&app.dialog, Some(Dialog::Gov(_))));
    // No reason: nothing is sent, the dialog says why.
    let cmds = app.update(key(KeyCode::Enter));
    assert!(requests(&cmds).is_empty());
    assert!(screen(&app, 80, 24).contains("Reason: required"));
    let mut keys = typed("release week");
    keys.push(key(KeyCode::Tab));
    keys.extend(typed("2h"));
    for k in keys {
        app.update(k);
    }
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Freeze {
            env: Some("staging".into()),
            reason: "release week".into(),
            until: Some(rel_domain::Timestamp(NOW + 120 * MIN)),
        }]
    );
    // A bad end is refused with the field named, before anything is sent.
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2'), ch('f')]);
    let mut keys = typed("x");
    keys.push(key(KeyCode::Tab));
    keys.extend(typed("soon"));
    for k in keys {
        app.update(k);
    }
    let cmds = app.update(key(KeyCode::Enter));
    assert!(requests(&cmds).is_empty());
    assert!(screen(&app, 80, 24).contains("Until:"));
}

#[test]
fn a_frozen_environment_shows_who_why_until_and_u_unfreezes() {
    let mut world = World::new(30);
    freeze_staging(&mut world);
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('2')]);
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("FROZEN by alice 5m ago") && s.contains("release week"),
        "{s}"
    );
    // f on a frozen environment says so instead of freezing it twice.
    press(&mut app, &world, vec![ch('f')]);
    assert!(app.dialog.is_none());
    let cmds = app.update(ch('u'));
    assert!(requests(&cmds).is_empty(), "u asks first");
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Unfreeze {
            env: Some("staging".into())
        }]
    );
}

#[test]
fn requests_screen_approves_others_and_rejects_with_a_reason() {
    let mut world = World::new(30);
    approvals_in_production(&mut world);
    let mut app = connected(&world, 80, 24);
    let cmds = app.update(ch('4'));
    assert!(matches!(
        &requests(&cmds)[..],
        [Request::Requests { all: false, .. }]
    ));
    settle(&mut app, &world, cmds);
    assert_eq!(app.screen, Screen::Requests);
    assert_eq!(app.requests.shown_len(), 2);
    // #2 by bob, approved by carol: alice's is the last approval needed.
    press(&mut app, &world, vec![ch('a')]);
    let s = screen(&app, 80, 24);
    assert!(s.contains("Yours is the last approval needed (2/2)"), "{s}");
    // What the environment runs now, before it changes.
    assert!(s.contains("production runs v1.28.0 now."), "{s}");
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(requests(&cmds), [Request::Approve { id: 2 }]);
    // Her own request (#1): approving is refused here already, rejecting (withdrawing) asks
    // for a reason.
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('4'), key(KeyCode::Down), ch('a')]);
    assert!(app.dialog.is_none());
    assert!(screen(&app, 80, 24).contains("is yours"));
    press(&mut app, &world, vec![ch('x')]);
    assert!(requests(&app.update(key(KeyCode::Enter))).is_empty());
    for k in typed("wrong release") {
        app.update(k);
    }
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        requests(&cmds),
        [Request::Reject {
            id: 1,
            reason: "wrong release".into()
        }]
    );
}

#[test]
fn a_deploy_to_an_approvals_environment_says_it_opens_a_request() {
    let mut world = World::new(30);
    approvals_in_production(&mut world);
    let mut app = connected(&world, 80, 24);
    // v1.29.0 (staging) → production: needs 2 approvals; #2 is already open for it.
    press(&mut app, &world, vec![key(KeyCode::Down), ch('d')]);
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("production needs 2 approvals: this creates a request")
            && s.contains("request #2 by bob: 1/2 approvals, expires in 23h")
            && s.contains("[ Request deploy of v1.29.0 to production ]"),
        "{s}"
    );
}

/// At 60×20 the help does not fit: it stacks in one column, says it scrolls, j scrolls it
/// to the end, and any other key still closes it.
#[test]
fn help_scrolls_where_it_does_not_fit() {
    let world = World::new(30);
    let mut app = connected(&world, 60, 20);
    press(&mut app, &world, vec![ch('?')]);
    let s = screen(&app, 60, 20);
    assert!(s.contains("(j/k scroll)") && s.contains("more (j)"), "{s}");
    assert!(!s.contains("start releasd (when gone)"), "{s}");
    press(&mut app, &world, vec![key(KeyCode::End)]);
    assert!(app.help);
    let s = screen(&app, 60, 20);
    assert!(
        s.contains("start releasd (when gone)")
            && s.contains("Status bar:")
            && !s.contains("more (j)"),
        "{s}"
    );
    assert!(app.update(ch('q')).is_empty());
    assert!(!app.help);
    // At 80×24 everything fits: nothing to scroll, so a moving key closes it like any key.
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('?')]);
    assert!(!screen(&app, 80, 24).contains("j/k scroll"));
    press(&mut app, &world, vec![key(KeyCode::PageDown)]);
    assert!(!app.help, "PgDn closes a help that fits");
}
