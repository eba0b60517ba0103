//! Peer credentials decide who a connection is: other users are refused unless the config
//! gives them a role, and a role limits what they may do. Connecting as another user needs
//! root (to drop to `nobody`); elsewhere these tests say so and pass vacuously.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;
use nix::unistd::{Group, Uid, User};
use rel_domain::DeployRequest;
use rel_proto::{Client, ClientError, Request};
use rel_testkit::TestDaemon;

/// Run [`as_other_user_helper`] (this same test binary) as `nobody` against `socket`, doing
/// `action`; returns its `HELPER` lines.
fn as_nobody(socket: &std::path::Path, action: &str) -> Vec<String> {
    let nobody = User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "as_other_user_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("REL_HELPER_SOCKET", socket)
        .env("REL_HELPER_ACTION", action)
        .uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .output()
        .expect("run the helper as nobody");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // libtest prints `test as_other_user_helper ... ` before the first line.
    let lines: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.find("HELPER ").map(|i| l[i..].to_string()))
        .collect();
    assert!(
        !lines.is_empty(),
        "helper printed nothing:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// Not a test on its own: the body run as another user by [`as_nobody`].
#[test]
#[ignore = "helper, run by the roles tests as another user"]
fn as_other_user_helper() {
    let (Some(socket), Some(action)) = (
        std::env::var_os("REL_HELPER_SOCKET"),
        std::env::var("REL_HELPER_ACTION").ok(),
    ) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let c = match Client::connect(std::path::Path::new(&socket), "roles-helper").await {
            Ok(c) => c,
            Err(ClientError::Rpc(e)) => {
                return println!("HELPER refused code={} msg={}", e.code, e.message);
            }
            Err(ClientError::Unreachable { reason, .. }) => {
                return println!("HELPER unreachable {reason}");
            }
            Err(e @ ClientError::Denied { .. }) => return println!("HELPER denied {e}"),
            Err(e) => return println!("HELPER error {e}"),
        };
        println!(
            "HELPER welcome user={} role={}",
            c.welcome().caller.actor.name,
            c.welcome().caller.role.as_str()
        );
        let request = match action.as_str() {
            "read" => Request::EnvList,
            "deploy" => Request::Deploy(DeployRequest {
                tag: "v1".into(),
                env: "staging".into(),
                expect: None,
                force_reason: None,
            }),
            "stop" => Request::DaemonStop,
            other => panic!("unknown action {other}"),
        };
        match c.call(request).await {
            Ok(_) => println!("HELPER {action} ok"),
            Err(ClientError::Rpc(e)) => {
                println!("HELPER {action} code={} msg={}", e.code, e.message)
            }
            Err(e) => println!("HELPER {action} error {e}"),
        }
    });
}

fn root_or_skip() -> bool {
    if Uid::effective().is_root() {
        true
    } else {
        eprintln!("skipped: connecting as another user needs root");
        false
    }
}

fn nobody_group() -> String {
    let nobody = User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    Group::from_gid(nobody.gid)
        .ok()
        .flatten()
        .expect("nobody's group")
        .name
}

/// A daemon whose socket `nobody` can reach (group access), with `roles` added.
fn daemon_for_nobody(roles: &str) -> TestDaemon {
    let d = TestDaemon::start_with_config(&format!(
        "{roles}\n[socket]\ngroup = \"{}\"\n",
        nobody_group()
    ));
    // The temp dir itself is 0700; let others traverse it to the (group-guarded) socket dir.
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    d
}

#[test]
fn a_user_without_a_role_is_refused_with_a_message_naming_them_and_the_config() {
    if !root_or_skip() {
        return;
    }
    let d = daemon_for_nobody("");
    let lines = as_nobody(d.socket(), "read");
    let line = &lines[0];
    assert!(
        line.starts_with("HELPER refused code=permission_denied"),
        "{lines:?}"
    );
    assert!(
        line.contains("nobody") && line.contains("releasd.toml"),
        "{line}"
    );
}

#[test]
fn without_a_socket_group_other_users_cannot_even_reach_the_socket() {
    if !root_or_skip() {
        return;
    }
    let d = TestDaemon::start_with_config("[roles]\nviewer = [\"nobody\"]\n");
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    let lines = as_nobody(d.socket(), "read");
    assert!(
        lines[0].starts_with("HELPER denied") && lines[0].contains("permission denied"),
        "{lines:?}"
    );
    // The socket directory is what keeps them out, and the message says so with its mode.
    let dir = d.socket().parent().expect("socket dir");
    assert!(
        lines[0].contains(&format!("its directory {} (mode 700", dir.display()))
            && lines[0].contains("[socket]"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_viewer_reads_but_may_not_deploy() {
    if !root_or_skip() {
        return;
    }
    let d = daemon_for_nobody("[roles]\nviewer = [\"nobody\"]");
    let owner = connect(d.socket()).await;
    apply_example(&owner).await;
    create(&owner, "v1", None).await.expect("create");
    let socket = d.socket().to_path_buf();
    let read = tokio::task::spawn_blocking({
        let s = socket.clone();
        move || as_nobody(&s, "read")
    })
    .await
    .expect("join");
    assert_eq!(
        read,
        vec![
            "HELPER welcome user=nobody role=viewer".to_string(),
            "HELPER read ok".to_string()
        ]
    );
    let stop = tokio::task::spawn_blocking({
        let s = socket.clone();
        move || as_nobody(&s, "stop")
    })
    .await
    .expect("join");
    assert!(
        stop[1].starts_with("HELPER stop code=permission_denied") && stop[1].contains("admin"),
        "a viewer may not stop the daemon: {stop:?}"
    );
    let dep = tokio::task::spawn_blocking(move || as_nobody(&socket, "deploy"))
        .await
        .expect("join");
    assert!(
        dep[1].starts_with("HELPER deploy code=permission_denied"),
        "{dep:?}"
    );
    assert!(
        dep[1].contains("viewer") && dep[1].contains("deployer"),
        "{dep:?}"
    );
    assert_eq!(
        live(&owner, "staging").await,
        None,
        "the refused deploy changed nothing"
    );
}

#[tokio::test]
async fn a_group_grants_its_members_a_role_and_the_actor_is_recorded() {
    if !root_or_skip() {
        return;
    }
    let d = daemon_for_nobody(&format!("[roles]\ndeployer = [\"@{}\"]", nobody_group()));
    let owner = connect(d.socket()).await;
    apply_example(&owner).await;
    create(&owner, "v1", None).await.expect("create");
    let socket = d.socket().to_path_buf();
    let lines = tokio::task::spawn_blocking(move || as_nobody(&socket, "deploy"))
        .await
        .expect("join");
    assert_eq!(
        lines,
        vec![
            "HELPER welcome user=nobody role=deployer".to_string(),
            "HELPER deploy ok".to_string()
        ]
    );
    match owner
        .call(Request::EnvHistory {
            env: "staging".into(),
            limit: 1,
            before_id: None,
        })
        .await
        .expect("history")
    {
        rel_proto::Response::History(h) => {
            assert_eq!(h[0].actor, "nobody", "the peer's user is the actor")
        }
        other => panic!("{other:?}"),
    }
}

/// A deployer's `--force` is not an override: relctl does not print "overridden with
/// --force" before the daemon's refusal, and the refusal says the admin role is needed.
#[test]
fn a_deployers_force_is_refused_without_claiming_an_override() {
    if !root_or_skip() {
        return;
    }
    let d = daemon_for_nobody("[roles]\ndeployer = [\"nobody\"]");
    let nobody = User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    let app = d.dir().join("app.toml");
    std::fs::write(&app, rel_domain::config::EXAMPLE_APP_TOML).expect("app");
    for args in [
        vec!["app", "apply", app.to_str().expect("utf-8")],
        vec!["release", "create", "v1"],
    ] {
        let out = d.relctl().args(&args).output().expect("relctl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = d
        .relctl()
        .args([
            "deploy",
            "v1",
            "--env",
            "production",
            "--yes",
            "--force",
            "--reason",
            "hotfix",
        ])
        .uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .output()
        .expect("relctl as nobody");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(
        !stdout.contains("overridden"),
        "claimed an override: {stdout}"
    );
    assert!(stderr.contains("admin"), "{stderr}");
}
