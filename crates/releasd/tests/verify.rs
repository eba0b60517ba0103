//! `Verify`: the live release's checks run against its environment, each check's run is
//! logged, the outcome is recorded on the deployment, and the staging-first policy needs a
//! passing verification before a release with checks may go to production.

mod common;

use std::time::Duration;

use common::inproc::*;
use common::*;
use rel_domain::{ErrorCode, ExecStatus};
use rel_proto::{Client, Event, Request, Response, VerifyOutcome};

const PASS: &str = r#".reply | contains("ping")"#;
const FAIL: &str = r#".reply | contains("pong")"#;

async fn verify(c: &Client, env: &str) -> VerifyOutcome {
    match c
        .call(Request::Verify {
            env: env.to_string(),
        })
        .await
        .expect("verify")
    {
        Response::Verified(v) => v,
        other => panic!("verify answered {other:?}"),
    }
}

async fn env_view(c: &Client, env: &str) -> rel_domain::EnvironmentView {
    match c
        .call(Request::EnvShow {
            name: env.to_string(),
        })
        .await
        .expect("env show")
    {
        Response::Environment(v) => v,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_verification_is_recorded_and_unlocks_promotion() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    let watcher = d.client().await;
    let mut events = watcher.subscribe().await.expect("subscribe");
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;

    // Unverified: production refuses it, saying what to do.
    let e = rpc_err(c.call(deploy_req("v1", "production", false)).await);
    assert_eq!(e.code, ErrorCode::PolicyDenied, "{}", e.message);
    assert!(e.message.contains("verif"), "{}", e.message);

    let v = verify(&c, "staging").await;
    assert!(v.verification.passed);
    assert_eq!(v.env, "staging");
    assert_eq!(v.release, "v1");
    assert_eq!(v.verification.checks.len(), 1);
    let check = &v.verification.checks[0];
    assert_eq!(check.name, "chat replies");
    assert!(check.passed, "{}", check.message);
    // The check's run is in the logs under the id the result names.
    let id = check.execution_id.expect("the check's run is logged");
    let run = match c.call(Request::LogShow { id }).await.expect("show") {
        Response::Execution(x) => x,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (
            run.env.as_str(),
            run.endpoint.as_str(),
            run.release.as_str()
        ),
        ("staging", "chat", "v1")
    );
    assert_consistent(&run);

    // Recorded on the deployment that made v1 live.
    let view = env_view(&c, "staging").await;
    assert_eq!(view.deployment_id, Some(v.deployment.id));
    assert_eq!(view.verification.as_ref(), Some(&v.verification));
    assert_eq!(v.deployment.verification.as_ref(), Some(&v.verification));

    // Subscribers hear the check's execution, then the verification.
    let mut saw_exec = false;
    let verified = loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("an event")
            .expect("stream open");
        match ev {
            Event::ExecutionFinished { id: got, .. } if got == id => saw_exec = true,
            Event::VerificationFinished { .. } => break ev,
            _ => {}
        }
    };
    assert!(saw_exec, "no ExecutionFinished for the check's run");
    assert_eq!(
        verified,
        Event::VerificationFinished {
            env: "staging".into(),
            deployment_id: v.deployment.id,
            release: "v1".into(),
            passed: true,
        }
    );

    // Now the promotion goes through.
    match c
        .call(deploy_req("v1", "production", false))
        .await
        .expect("promote after verify")
    {
        Response::Deployed(o) => assert!(o.changed),
        other => panic!("{other:?}"),
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_fails_verification_and_keeps_production_closed() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    create_from(&c, "bad", marked_app("bad", FAIL, ""), Some("staging")).await;
    let v = verify(&c, "staging").await;
    assert!(!v.verification.passed);
    let check = &v.verification.checks[0];
    assert!(!check.passed);
    assert!(
        check.message.contains("contains(\"pong\")")
            && check.message.contains("[bad] You said: ping"),
        "the message shows the expectation and the output: {}",
        check.message
    );
    assert_eq!(
        env_view(&c, "staging").await.verification.map(|v| v.passed),
        Some(false)
    );
    let e = rpc_err(c.call(deploy_req("bad", "production", false)).await);
    assert_eq!(e.code, ErrorCode::PolicyDenied, "{}", e.message);

    // A check whose endpoint run fails fails too, naming the step.
    let broken = marked_app("worse", PASS, "").replace(
        "expr = '{reply: .steps.greet",
        "expr = '{reply: (.steps.greet | error(\"boom\"))",
    );
    create_from(&c, "worse", broken, None).await;
    c.call(deploy_req("worse", "staging", false))
        .await
        .expect("deploy");
    let v = verify(&c, "staging").await;
    assert!(!v.verification.passed);
    let m = &v.verification.checks[0].message;
    assert!(m.contains("shape") && m.contains("boom"), "{m}");
    let id = v.verification.checks[0].execution_id.expect("logged");
    match c.call(Request::LogShow { id }).await.expect("show") {
        Response::Execution(x) => assert_eq!(x.status, ExecStatus::Error),
        other => panic!("{other:?}"),
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_without_checks_verifies_trivially_and_needs_no_verification() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    let app = marked_app("v1", PASS, "");
    let no_checks = app[..app.find("[[checks]]").expect("checks section")].to_string();
    create_from(&c, "v1", no_checks, Some("staging")).await;
    // The policy asks for verification only where the app defines checks.
    c.call(deploy_req("v1", "production", false))
        .await
        .expect("no checks: promotion needs only staging");
    let v = verify(&c, "staging").await;
    assert!(v.verification.passed);
    assert!(v.verification.checks.is_empty());
    assert_eq!(
        env_view(&c, "staging")
            .await
            .verification
            .map(|v| (v.passed, v.checks.len())),
        Some((true, 0))
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_needs_something_live_and_a_known_environment() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    let e = rpc_err(
        c.call(Request::Verify {
            env: "staging".into(),
        })
        .await,
    );
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(
        e.message.contains("nothing is live in staging"),
        "{}",
        e.message
    );
    let e = rpc_err(c.call(Request::Verify { env: "qa".into() }).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(
        e.message.contains("known: staging, production"),
        "{}",
        e.message
    );
    d.stop().await;
}
