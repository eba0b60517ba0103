//! Every screen and dialog rendered with ratatui's TestBackend at 80×24 and 120×40 and
//! compared with a reviewed snapshot; plus the styles where colour carries meaning.

mod common;

use common::*;
use crossterm::event::KeyCode;
use ratatui::style::Color;
use rel_domain::{ErrorCode, RelError};
use rel_proto::ClientError;
use relui::{Msg, Purpose, Theme};

/// 80×24 (the SSH default), 120×40, 60×20 (the smallest honest layout) and 30×10 (the
/// "terminal too small" screen).
const SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (60, 20), (30, 10)];

/// Snapshot `build()` at both sizes.
fn snap(name: &str, build: impl Fn(u16, u16) -> relui::App) {
    for (w, h) in SIZES {
        let mut app = build(w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&app, w, h));
        // The same in ASCII mode (a locale that is not UTF-8): nothing but ASCII on screen.
        if (w, h) != (120, 40) {
            app.theme = app.theme.in_ascii();
            let s = screen(&app, w, h);
            assert!(s.is_ascii(), "{name} {w}x{h} in ASCII mode:\n{s}");
            insta::assert_snapshot!(format!("{name}_{w}x{h}_ascii"), s);
        }
    }
}

#[test]
fn releases_empty_store() {
    snap("releases_empty", |w, h| connected(&World::empty(), w, h));
}

#[test]
fn releases_connecting() {
    snap("releases_connecting", |w, h| {
        new_app(Theme::colored(), w, h)
    });
}

#[test]
fn releases_populated() {
    snap("releases_populated", |w, h| {
        connected(&World::new(30), w, h)
    });
}

#[test]
fn releases_scrolled_to_the_middle() {
    snap("releases_scrolled", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(
            &mut app,
            &world,
            vec![key(KeyCode::PageDown), key(KeyCode::Down)],
        );
        app
    });
}

#[test]
fn releases_filtered() {
    snap("releases_filtered", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('/')];
        keys.extend(typed("v1.2"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn releases_filter_without_matches() {
    snap("releases_filter_nomatch", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('/')];
        keys.extend(typed("nope"));
        keys.push(key(KeyCode::Enter));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn release_detail() {
    snap("release_detail", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(
            &mut app,
            &world,
            vec![key(KeyCode::Down), key(KeyCode::Enter)],
        );
        app
    });
}

#[test]
fn environments_populated() {
    snap("environments", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('2')]);
        app
    });
}

#[test]
fn environments_fresh_store() {
    snap("environments_fresh", |w, h| {
        let world = World::empty();
        let mut app = connected(&world, w, h);
        let cmds = app.update(ch('2'));
        // History of an environment nothing was ever deployed to.
        for c in cmds {
            if let relui::Command::Call { purpose, .. } = c {
                app.update(Msg::Rpc {
                    purpose,
                    result: Ok(rel_proto::Response::History(vec![])),
                });
            }
        }
        app
    });
}

#[test]
fn create_dialog_initial() {
    snap("create_initial", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('n')]);
        app
    });
}

#[test]
fn create_dialog_invalid_tag() {
    snap("create_invalid_tag", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('n')];
        keys.extend(typed("-v1 beta"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn create_dialog_taken_tag() {
    snap("create_taken_tag", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('n')];
        keys.extend(typed("V1.29.0"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn create_dialog_create_release_button() {
    snap("create_button_create", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('n')];
        keys.extend(typed("v2.0.0"));
        keys.push(key(KeyCode::Tab));
        keys.extend(typed("New greeting"));
        keys.push(key(KeyCode::Enter));
        keys.extend(typed("and a search tool"));
        keys.push(key(KeyCode::Tab));
        keys.push(key(KeyCode::Tab));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn create_dialog_release_and_deploy_button() {
    snap("create_button_release_and_deploy", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('n')];
        keys.extend(typed("v2.0.0"));
        keys.push(key(KeyCode::Tab));
        keys.push(key(KeyCode::Tab));
        keys.push(ch(' '));
        keys.push(key(KeyCode::Tab));
        keys.push(ch(' '));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn actions_menu() {
    snap("actions_menu", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![key(KeyCode::Down), ch('a')]);
        app
    });
}

#[test]
fn deploy_confirmation_protected_typed_name() {
    snap("deploy_protected", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        // v1.29.0 is live in staging: the dialog offers production first.
        let mut keys = vec![key(KeyCode::Down), ch('d')];
        keys.extend(typed("product"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn deploy_confirmation_unprotected() {
    snap("deploy_staging", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('d')]);
        app
    });
}

#[test]
fn deploy_confirmation_policy_denied() {
    snap("deploy_denied", |w, h| {
        let mut world = World::new(30);
        world.verdict = Err(RelError::policy(
            "production requires staging: v1.30.0 has not been live in staging. Deploy it to staging and verify it first, or override with --force --reason",
        ));
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('d'), key(KeyCode::Right)];
        keys.extend(typed("production"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn rollback_confirmation() {
    snap("rollback", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('2'), key(KeyCode::Down), ch('r')]);
        app
    });
}

#[test]
fn diff_dialog() {
    snap("diff", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        // Actions on v1.30.0: Deploy, Diff previous, Diff vs production's live, vs staging's…
        press(
            &mut app,
            &world,
            vec![
                ch('a'),
                key(KeyCode::Down),
                key(KeyCode::Down),
                key(KeyCode::Enter),
            ],
        );
        app
    });
}

#[test]
fn help_overlay() {
    snap("help", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('?')]);
        app
    });
}

#[test]
fn error_modal_policy_denied() {
    snap("error_modal", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![key(KeyCode::Down), ch('d')];
        keys.extend(typed("production"));
        keys.push(key(KeyCode::Enter));
        let left = press(&mut app, &world, keys);
        let purpose = match &left[..] {
            [relui::Command::Call { purpose, .. }] => purpose.clone(),
            other => panic!("expected one deploy call, got {other:?}"),
        };
        let err = ClientError::Rpc(RelError::new(
            ErrorCode::PolicyDenied,
            "production requires staging: v1.29.0 has not passed verification in staging. Run `relctl verify --env staging`, or override with --force --reason",
        ));
        let cmds = app.update(Msg::Rpc {
            purpose,
            result: Err(err),
        });
        settle(&mut app, &world, cmds);
        app
    });
}

#[test]
fn disconnected() {
    snap("disconnected", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        app.update(Msg::Disconnected {
            reason: "lost the connection to releasd at /run/user/1000/releasd/releasd.sock; reconnecting".into(),
            retry_in_ms: 1600,
        });
        app
    });
}

/// The socket opened but the daemon's config has no role for this user: its hint, and no
/// word of a socket that may not be opened.
#[test]
fn denied_by_the_daemons_roles() {
    snap("denied_role", |w, h| {
        let mut app = new_app(Theme::colored(), w, h);
        app.update(Msg::Denied {
            reason: "user bob (uid 1001) may not use this releasd: it serves only its owner alice and the users listed in its roles. Ask alice to add `viewer = [\"bob\"]` (or deployer/admin) to the [roles] section of /etc/rel/releasd.toml and restart releasd".into(),
            by_daemon: true,
        });
        app
    });
}

/// `:deploy v1.30.0 prod`: one line with the close name, no dialog.
#[test]
fn palette_with_an_unknown_environment() {
    snap("palette_unknown_env", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch(':')];
        keys.extend(typed("deploy v1.30.0 prod"));
        keys.push(key(KeyCode::Enter));
        press(&mut app, &world, keys);
        app
    });
}

/// The daemon relui started went away: s starts it again, with the same arguments.
#[test]
fn disconnected_from_the_daemon_relui_started() {
    snap("disconnected_ours", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        app.update(Msg::DaemonStarted {
            pid: Some(4242),
            log: None,
        });
        app.update(Msg::Disconnected {
            reason: "lost the connection to releasd at /run/user/1000/releasd/releasd.sock; reconnecting".into(),
            retry_in_ms: 1600,
        });
        app
    });
}

#[test]
fn fresh_store_applies_the_example_draft() {
    snap("fresh_store", |w, h| {
        let mut world = World::empty();
        world.draft_empty = true;
        connected(&world, w, h)
    });
}

#[test]
fn status_bar_shows_last_event() {
    snap("last_event", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let d = deployment(
            13,
            "staging",
            "v1.30.0",
            Some("v1.29.0"),
            rel_domain::DeploymentKind::Deploy,
            0,
        );
        let cmds = app.update(Msg::Event {
            event: rel_proto::Event::Deployed(d),
            at: ts(2),
        });
        settle(&mut app, &world, cmds);
        app
    });
}

#[test]
fn logs_list() {
    snap("logs", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('3')]);
        app
    });
}

#[test]
fn logs_filtered_by_environment() {
    snap("logs_staging", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('3'), ch('f')]);
        app
    });
}

#[test]
fn environments_filtered_while_typing() {
    snap("environments_filter", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('2'), ch('/')];
        keys.extend(typed("prod"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn logs_errors_only_with_a_text_filter() {
    snap("logs_errors_filter", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('3'), ch('e'), ch('/')];
        keys.extend(typed("prod"));
        keys.push(key(KeyCode::Enter));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn status_bar_of_a_daemon_relui_started() {
    snap("status_started", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        app.update(Msg::DaemonStarted {
            pid: Some(4242),
            log: Some("/run/user/1000/releasd/releasd.log".into()),
        });
        app
    });
}

#[test]
fn logs_empty() {
    snap("logs_empty", |w, h| {
        let world = World::empty();
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('3')]);
        app
    });
}

#[test]
fn logs_run_detail_with_a_failed_step() {
    snap("logs_detail", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        // #6 ok, #5 ok, #4 ok, #3 failed.
        press(
            &mut app,
            &world,
            vec![
                ch('3'),
                key(KeyCode::Down),
                key(KeyCode::Down),
                key(KeyCode::Down),
                key(KeyCode::Enter),
            ],
        );
        app
    });
}

/// Environments screen, `v` pressed on staging, and (unless `None`) the daemon's answer.
fn verified(w: u16, h: u16, passed: Option<bool>) -> relui::App {
    let mut world = World::new(30);
    if let Some(passed) = passed {
        // What the daemon lists after recording it.
        for e in &mut world.envs {
            if e.env.name == "staging" {
                e.verification = Some(verify_outcome("staging", passed).verification);
            }
        }
    }
    let mut app = connected(&world, w, h);
    press(&mut app, &world, vec![ch('2')]);
    let cmds = app.update(ch('v'));
    if let (Some(passed), [relui::Command::Call { purpose, .. }]) = (passed, &cmds[..]) {
        let cmds = app.update(Msg::Rpc {
            purpose: purpose.clone(),
            result: Ok(rel_proto::Response::Verified(verify_outcome(
                "staging", passed,
            ))),
        });
        settle(&mut app, &world, cmds);
    }
    app
}

#[test]
fn verify_in_progress() {
    snap("verify_in_progress", |w, h| verified(w, h, None));
}

#[test]
fn verify_passed() {
    snap("verify_passed", |w, h| verified(w, h, Some(true)));
}

#[test]
fn verify_failed() {
    snap("verify_failed", |w, h| verified(w, h, Some(false)));
}

#[test]
fn releases_live_in_two_environments() {
    snap("releases_live_in_two", |w, h| {
        let mut world = World::new(30);
        world.releases[1].live_in = vec!["staging".into(), "production".into()];
        connected(&world, w, h)
    });
}

#[test]
fn verify_result_colours() {
    let app = verified(80, 24, Some(false));
    let buf = draw(&app, 80, 24);
    let (x, y) = find(&buf, "✗ FAILED").expect("verdict on screen");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(&buf, "✓ chat replies").expect("passed check on screen");
    assert_eq!(buf[(x, y)].fg, Color::Green);
    let app = verified(80, 24, Some(true));
    let buf = draw(&app, 80, 24);
    let (x, y) = find(&buf, "✓ PASSED").expect("verdict on screen");
    assert_eq!(buf[(x, y)].fg, Color::Green);
}

// ----- styles -----

#[test]
fn state_badges_are_coloured() {
    let world = World::new(30);
    let app = connected(&world, 80, 24);
    let buf = draw(&app, 80, 24);
    let cases = [
        ("DEPLOYED", Color::Green),
        ("SUPERSEDED", Color::DarkGray),
        ("READY", Color::Cyan),
    ];
    for (badge, colour) in cases {
        // Skip the selected first row (reversed): look at a row below it.
        let t = text(&buf);
        let (y, line) = t
            .lines()
            .enumerate()
            .skip(4)
            .find(|(_, l)| l.contains(&format!(" {badge} ")))
            .unwrap_or_else(|| panic!("no {badge} row on screen:\n{t}"));
        let x = line[..line.find(badge).expect("badge")].chars().count() as u16;
        let cell = &buf[(x, y as u16)];
        assert_eq!(cell.fg, colour, "{badge} badge colour");
    }
}

#[test]
fn no_color_uses_no_colours_but_keeps_the_badges() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    app.theme = Theme::plain();
    app.update(Msg::Disconnected {
        reason: "gone".into(),
        retry_in_ms: 200,
    });
    let buf = draw(&app, 80, 24);
    for y in 0..24 {
        for x in 0..80 {
            let c = &buf[(x, y)];
            assert_eq!(
                (c.fg, c.bg),
                (Color::Reset, Color::Reset),
                "colour at {x},{y}: {:?}",
                c.symbol()
            );
        }
    }
    let t = text(&buf);
    for badge in ["DEPLOYED", "SUPERSEDED", "READY", "DISCONNECTED"] {
        assert!(t.contains(badge), "{badge} missing without colour:\n{t}");
    }
    // The selection is still visible: a marker and reversed video.
    let (x, y) = find(&buf, "▶").expect("selection marker");
    assert!(
        buf[(x, y)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
}

#[test]
fn no_color_snapshot() {
    let world = World::new(30);
    let mut app = connected(&world, 80, 24);
    app.theme = Theme::plain();
    insta::assert_snapshot!("no_color_environments_80x24", {
        press(&mut app, &world, vec![ch('2')]);
        screen(&app, 80, 24)
    });
}

#[test]
fn policy_verdict_colour() {
    let mut world = World::new(30);
    world.verdict = Err(RelError::policy("denied because"));
    let mut app = connected(&world, 80, 24);
    press(&mut app, &world, vec![ch('d')]);
    let buf = draw(&app, 80, 24);
    let (x, y) = find(&buf, "✗ Policy denied").expect("verdict on screen");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let _ = Purpose::Status;
}

/// Release & Deploy to a protected environment: once the release exists, the normal deploy
/// confirmation opens, its name being typed there.
#[test]
fn create_dialog_release_and_deploy_to_a_protected_environment() {
    snap("release_and_deploy_confirmation", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('n')];
        keys.extend(typed("v2.0.0"));
        keys.extend([key(KeyCode::Tab), key(KeyCode::Tab), ch(' ')]);
        keys.extend([key(KeyCode::Tab), key(KeyCode::Down)]);
        press(&mut app, &world, keys);
        let purpose = match &app.update(ctrl('s'))[..] {
            [relui::Command::Call { purpose, .. }] => purpose.clone(),
            other => panic!("{other:?}"),
        };
        let mut view = release(31, rel_domain::ReleaseState::Ready, &[]);
        view.release.tag = "v2.0.0".into();
        let cmds = app.update(Msg::Rpc {
            purpose,
            result: Ok(rel_proto::Response::Created(rel_domain::CreateOutcome {
                release: view,
                same_content_as: vec![],
                deployment: None,
            })),
        });
        settle(&mut app, &world, cmds);
        press(&mut app, &world, typed("produ"));
        app
    });
}

#[test]
fn no_daemon_and_a_failed_start() {
    snap("start_failed", |w, h| {
        let mut app = new_app(Theme::colored(), w, h);
        app.update(Msg::StartFailed {
            reason: "releasd exited with exit status: 1: socket directory /run/user/1000/releasd is owned by uid 0, not you (see /home/alice/.local/share/rel/releasd.log)".into(),
            retry_in_ms: 1600,
        });
        app.update(Msg::Disconnected {
            reason: "no socket there".into(),
            retry_in_ms: 3200,
        });
        app
    });
}

#[test]
fn no_daemon_without_autostart() {
    snap("no_daemon", |w, h| {
        let mut app = new_app(Theme::colored(), w, h);
        app.update(Msg::Disconnected {
            reason: "cannot reach releasd at /run/user/1000/releasd/releasd.sock: no socket there. Start it with 'releasd'".into(),
            retry_in_ms: 5000,
        });
        app
    });
}

#[test]
fn diff_without_changes_says_so_once() {
    snap("diff_empty", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut d = relui::dialogs::DiffDialog::new("v1.30.0 against the draft".into());
        d.set("v1.30.0 → draft".into(), rel_domain::diff::Diff::default());
        app.dialog = Some(relui::dialogs::Dialog::Diff(d));
        let s = screen(&app, w, h);
        if w >= 60 {
            assert_eq!(s.matches("no changes").count(), 1, "{s}");
        }
        app
    });
}

#[test]
fn logs_run_detail_wraps_a_long_error_under_its_label() {
    snap("logs_detail_long_error", |w, h| {
        let mut world = World::new(30);
        for e in world.executions.iter_mut().filter(|e| e.id == 3) {
            e.error = Some("step shape: jq: .input.message is null, cannot take its length; the endpoint's input must carry a message field (see the chat pipeline's schema)".into());
        }
        let mut app = connected(&world, w, h);
        press(
            &mut app,
            &world,
            vec![
                ch('3'),
                key(KeyCode::Down),
                key(KeyCode::Down),
                key(KeyCode::Down),
                key(KeyCode::Enter),
            ],
        );
        app
    });
}

#[test]
fn rollback_refused_plan_offers_no_button() {
    snap("rollback_refused", |w, h| {
        let mut world = World::new(30);
        for e in &mut world.envs {
            e.rollback_to = None;
        }
        let mut app = connected(&world, w, h);
        // The world cannot plan a rollback with nothing below the top: answer as releasd does.
        let left = press(&mut app, &world, vec![ch('2'), key(KeyCode::Down), ch('r')]);
        for cmd in left {
            if let relui::Command::Call {
                purpose,
                request: rel_proto::Request::PlanRollback(_),
            } = cmd
            {
                app.update(Msg::Rpc {
                    purpose,
                    result: Err(ClientError::Rpc(RelError::new(
                        ErrorCode::Invalid,
                        "nothing to roll back to: production has only ever run v1.28.0",
                    ))),
                });
            }
        }
        app
    });
}

/// v1.27.0 was rolled back out of production: HELD there, not just SUPERSEDED (§3.2).
#[test]
fn releases_with_a_held_release() {
    snap("releases_held", |w, h| {
        let mut world = World::new(30);
        if let Some(p) = world.envs.iter_mut().find(|e| e.env.name == "production") {
            p.held = vec!["v1.27.0".into(), "v1.29.0".into()];
        }
        let app = connected(&world, w, h);
        let s = screen(&app, w, h);
        if w >= 80 {
            assert!(s.contains("HELD in production"), "{s}");
            // v1.29.0 is live in staging and held in production: both said (issue 10).
            assert!(s.contains("staging; HELD"), "{s}");
        }
        app
    });
}

/// The detail of a release held in production: the HELD line wraps instead of running
/// into the border.
#[test]
fn release_detail_of_a_held_release() {
    snap("release_detail_held", |w, h| {
        let mut world = World::new(30);
        if let Some(p) = world.envs.iter_mut().find(|e| e.env.name == "production") {
            p.held = vec!["v1.29.0".into()];
        }
        let mut app = connected(&world, w, h);
        press(
            &mut app,
            &world,
            vec![key(KeyCode::Down), key(KeyCode::Enter)],
        );
        let s = screen(&app, w, h);
        if w >= 60 {
            assert!(s.contains("override)"), "{s}");
        }
        app
    });
}

#[test]
fn environments_frozen() {
    snap("environments_frozen", |w, h| {
        let mut world = World::new(30);
        freeze_staging(&mut world);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('2')]);
        app
    });
}

/// Stop the line: the banner above every environment, FROZEN on each, and the mark in the
/// tab bar (seen from every screen).
#[test]
fn environments_line_stopped() {
    snap("environments_line_stopped", |w, h| {
        let mut world = World::new(30);
        stop_the_line(&mut world);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('2')]);
        app
    });
}

#[test]
fn releases_line_stopped() {
    snap("releases_line_stopped", |w, h| {
        let mut world = World::new(30);
        stop_the_line(&mut world);
        connected(&world, w, h)
    });
}

#[test]
fn freeze_all_dialog() {
    snap("freeze_all_dialog", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('2'), ch('F')];
        keys.extend(typed("incident 42"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn freeze_dialog() {
    snap("freeze_dialog", |w, h| {
        let world = World::new(30);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('2'), ch('f')];
        keys.extend(typed("release week"));
        keys.push(key(KeyCode::Tab));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn requests_screen() {
    snap("requests", |w, h| {
        let mut world = World::new(30);
        approvals_in_production(&mut world);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![ch('4')]);
        app
    });
}

#[test]
fn reject_dialog() {
    snap("reject_dialog", |w, h| {
        let mut world = World::new(30);
        approvals_in_production(&mut world);
        let mut app = connected(&world, w, h);
        let mut keys = vec![ch('4'), ch('x')];
        keys.extend(typed("not this week"));
        press(&mut app, &world, keys);
        app
    });
}

#[test]
fn deploy_to_an_environment_that_needs_approvals() {
    snap("deploy_approvals", |w, h| {
        let mut world = World::new(30);
        approvals_in_production(&mut world);
        let mut app = connected(&world, w, h);
        press(&mut app, &world, vec![key(KeyCode::Down), ch('d')]);
        app
    });
}
