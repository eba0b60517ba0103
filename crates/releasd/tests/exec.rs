//! Endpoints over the socket, in-process `serve` with a real SledStore: each environment
//! runs its own live release, logs record what ran, bad requests get clear errors, command
//! and http tools work through the daemon, and a run keeps its release across a deploy.

mod common;

use std::time::Duration;

use common::inproc::*;
use common::*;
use rel_domain::{ErrorCode, ExecQuery, ExecStatus, Execution};
use rel_proto::{Event, Request, Response};

fn query(env: Option<&str>, endpoint: Option<&str>) -> Request {
    Request::Logs(ExecQuery {
        env: env.map(str::to_string),
        endpoint: endpoint.map(str::to_string),
        before_id: None,
        limit: 0,
    })
}

async fn logs(c: &rel_proto::Client, env: Option<&str>, endpoint: Option<&str>) -> Vec<Execution> {
    match c.call(query(env, endpoint)).await.expect("logs") {
        Response::Executions(list) => list,
        other => panic!("logs answered {other:?}"),
    }
}

async fn verify(c: &rel_proto::Client, env: &str) -> rel_proto::VerifyOutcome {
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

const PASS: &str = r#".reply | contains("ping")"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_runs_its_own_release_and_logs_it() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    assert!(verify(&c, "staging").await.verification.passed);
    c.call(deploy_req("v1", "production", false))
        .await
        .expect("promote v1");
    create_from(&c, "v2", marked_app("v2", PASS, ""), Some("staging")).await;
    assert!(verify(&c, "staging").await.verification.passed);
    c.call(deploy_req("v2", "production", false))
        .await
        .expect("promote v2");
    // staging back to v1: now staging serves v1 and production v2.
    c.call(rollback_req("staging")).await.expect("rollback");

    let s = trigger(&c, "chat", "staging", r#"{"message": "hi"}"#).await;
    let p = trigger(&c, "chat", "production", r#"{"message": "hi"}"#).await;
    assert_eq!(output(&s)["reply"], "[v1] You said: hi");
    assert_eq!(output(&s)["env"], "staging");
    assert_eq!(output(&p)["reply"], "[v2] You said: hi");
    assert_eq!(output(&p)["env"], "production");
    assert_consistent(&s);
    assert_consistent(&p);

    // The log names the release and digest that ran, and each step.
    for (e, env) in [(&s, "staging"), (&p, "production")] {
        let view = d.store.environment(env).expect("env");
        assert_eq!(Some(&e.release), view.live.as_ref());
        assert_eq!(Some(e.digest), view.live_digest);
        let names: Vec<(&str, &str, ExecStatus)> = e
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.kind.as_str(), s.status))
            .collect();
        assert_eq!(
            names,
            vec![
                ("greet", "template", ExecStatus::Ok),
                ("shape", "transform", ExecStatus::Ok)
            ]
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&e.steps[0].output).expect("json"),
            serde_json::json!(format!("[{}] You said: hi", e.release))
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&e.input).expect("json"),
            serde_json::json!({"message": "hi"})
        );
        let shown = match c.call(Request::LogShow { id: e.id }).await.expect("show") {
            Response::Execution(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(&shown, e);
    }

    // Newest first, filtered by environment and endpoint; verify's check runs are logged too.
    let staging = logs(&c, Some("staging"), None).await;
    assert_eq!(staging.first(), Some(&s));
    assert!(staging.windows(2).all(|w| w[0].id > w[1].id));
    assert!(staging.iter().all(|e| e.env == "staging"));
    assert_eq!(
        staging.len(),
        3,
        "two verifications' check runs and one trigger"
    );
    let all = logs(&c, None, None).await;
    assert_eq!(all.first(), Some(&p));
    assert_eq!(all.len(), 4);
    assert!(logs(&c, None, Some("other")).await.is_empty());
    let e = rpc_err(c.call(query(Some("stagin"), None)).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("staging"), "{}", e.message);
    let e = rpc_err(c.call(Request::LogShow { id: 999_999 }).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_triggers_get_errors_that_say_what_to_do() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;

    let e = rpc_err(c.call(trigger_req("chat", "staging", "{}")).await);
    assert_eq!(e.code, ErrorCode::Conflict);
    assert!(
        e.message
            .contains("nothing is live in staging: deploy a release first"),
        "{}",
        e.message
    );

    let fails = r#"
[pipelines.guarded]
[[pipelines.guarded.stages]]
name = "s"
[[pipelines.guarded.stages.steps]]
name = "needs-name"
kind = "assert"
expr = '.input.name != null'
message = "input.name is required"
[[pipelines.guarded.stages.steps]]
name = "hello"
kind = "template"
template = "hello {{ input.name }}"
[endpoints.guarded]
pipeline = "guarded"
"#;
    create_from(&c, "v1", marked_app("v1", PASS, fails), Some("staging")).await;

    let e = rpc_err(c.call(trigger_req("chat", "staging", "{oops")).await);
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(
        e.message.starts_with("input: not valid JSON"),
        "{}",
        e.message
    );

    let e = rpc_err(c.call(trigger_req("chat", "stagign", "{}")).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(
        e.message.contains("stagign") && e.message.contains("known: staging, production"),
        "{}",
        e.message
    );

    let e = rpc_err(c.call(trigger_req("caht", "staging", "{}")).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(
        e.message.contains("\"caht\"") && e.message.contains("it has: chat, guarded"),
        "{}",
        e.message
    );

    // A failing run is an answer, not an RPC error: the execution says which step and why.
    let failed = trigger(&c, "guarded", "staging", "{}").await;
    assert_eq!(failed.status, ExecStatus::Error);
    let why = failed.error.clone().expect("error");
    assert!(
        why.contains("needs-name") && why.contains("input.name is required"),
        "{why}"
    );
    assert_eq!(failed.steps.len(), 1, "steps after the failure do not run");
    assert_eq!(failed.output, "null");
    // ... and it is logged like any other.
    assert_eq!(logs(&c, Some("staging"), None).await.first(), Some(&failed));

    // Empty input is `{}`.
    let ok = trigger(&c, "guarded", "staging", r#"{"name": "ops"}"#).await;
    assert_eq!(output(&ok), serde_json::json!("hello ops"));
    let empty = trigger(&c, "chat", "staging", "").await;
    assert_eq!(empty.input, "{}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_rejects_a_bad_jq_expression_or_template_with_its_path() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    let bad_jq = marked_app("v1", PASS, "").replace(
        "expr = '{reply: .steps.greet",
        "expr = '{reply: .steps.greet | nosuchfn(1)",
    );
    for req in [
        Request::DraftApply(toml(bad_jq.clone())),
        Request::Validate(toml(bad_jq.clone())),
    ] {
        let e = rpc_err(c.call(req).await);
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(
            e.message
                .starts_with("pipelines.chat.stages[0].steps[1].expr"),
            "{}",
            e.message
        );
    }
    let bad_template =
        marked_app("v1", PASS, "").replace("{{ input.message }}", "{{ input.message ");
    let e = rpc_err(c.call(Request::DraftApply(toml(bad_template))).await);
    assert!(
        e.message
            .starts_with("pipelines.chat.stages[0].steps[0].template"),
        "{}",
        e.message
    );
    // `release create --from FILE` checks the same.
    let e = rpc_err(
        c.call(Request::ReleaseCreate(rel_domain::NewRelease {
            tag: "v1".into(),
            description: String::new(),
            config: Some(toml(bad_jq)),
            deploy_to: Some("staging".into()),
        }))
        .await,
    );
    assert_eq!(e.code, ErrorCode::Invalid);
    assert_eq!(d.store.status().expect("status").releases, 0);
    assert_eq!(
        c.call(Request::DraftShow).await.expect("show"),
        Response::Draft(None)
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_and_http_tools_run_through_the_daemon_with_timeouts() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    let tools = start_tool_server().await;
    let extra = format!(
        r#"
[tools.echo]
kind = "http"
url = "http://{tools}/echo"
timeout_ms = 5000

[tools.hang]
kind = "http"
url = "http://{tools}/hang"
timeout_ms = 300

[tools.sleepy]
kind = "command"
argv = ["sleep", "30"]
timeout_ms = 300

[pipelines.loud]
[[pipelines.loud.stages]]
name = "s"
[[pipelines.loud.stages.steps]]
name = "up"
kind = "command"
tool = "shout"
input = '.input.message'
[[pipelines.loud.stages.steps]]
name = "ask"
kind = "http"
tool = "echo"
input = '{{said: .steps.up}}'

[pipelines.stuck-http]
[[pipelines.stuck-http.stages]]
name = "s"
[[pipelines.stuck-http.stages.steps]]
name = "wait"
kind = "http"
tool = "hang"

[pipelines.stuck-cmd]
[[pipelines.stuck-cmd.stages]]
name = "s"
[[pipelines.stuck-cmd.stages.steps]]
name = "nap"
kind = "command"
tool = "sleepy"

[endpoints.loud]
pipeline = "loud"
[endpoints.stuck-http]
pipeline = "stuck-http"
[endpoints.stuck-cmd]
pipeline = "stuck-cmd"
"#
    );
    create_from(&c, "v1", marked_app("v1", PASS, &extra), Some("staging")).await;

    let e = trigger(&c, "loud", "staging", r#"{"message": "hello"}"#).await;
    assert_eq!(e.status, ExecStatus::Ok, "{:?}", e.error);
    assert_eq!(
        output(&e),
        serde_json::json!({"echo": {"said": "HELLO"}, "method": "POST"})
    );
    assert_eq!(e.steps[0].kind, "command");
    assert_eq!(e.steps[1].kind, "http");

    for (endpoint, step) in [("stuck-http", "wait"), ("stuck-cmd", "nap")] {
        let e = trigger(&c, endpoint, "staging", "{}").await;
        assert_eq!(e.status, ExecStatus::Error);
        let why = e.error.clone().expect("error");
        assert!(
            why.contains(step) && why.contains("timed out after 300 ms"),
            "{endpoint}: {why}"
        );
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_keeps_its_release_when_a_deploy_lands_mid_run() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    let started = d.dir.path().join("started");
    let go = d.dir.path().join("go");
    // A command step that says it started, then waits for the test's go-ahead.
    let gate = |mark: &str| {
        format!(
            r#"
[tools.gate]
kind = "command"
argv = ["sh", "-c", "touch {started}; while [ ! -e {go} ]; do sleep 0.01; done; cat"]
timeout_ms = 60000

[pipelines.slow]
[[pipelines.slow.stages]]
name = "s"
[[pipelines.slow.stages.steps]]
name = "before"
kind = "template"
template = "[{mark}] before"
[[pipelines.slow.stages.steps]]
name = "wait"
kind = "command"
tool = "gate"
[[pipelines.slow.stages.steps]]
name = "after"
kind = "transform"
expr = '{{reply: .steps.before, mark: "{mark}", release: .release.tag}}'

[endpoints.slow]
pipeline = "slow"
"#,
            started = started.display(),
            go = go.display()
        )
    };
    create_from(
        &c,
        "v1",
        marked_app("v1", PASS, &gate("v1")),
        Some("staging"),
    )
    .await;
    create_from(&c, "v2", marked_app("v2", PASS, &gate("v2")), None).await;

    let c2 = d.client().await;
    let run = tokio::spawn(async move { trigger(&c2, "slow", "staging", "{}").await });
    assert!(
        rel_testkit::wait_until(Duration::from_secs(30), || started.exists()),
        "the run never reached its command step"
    );
    c.call(deploy_req("v2", "staging", false))
        .await
        .expect("deploy v2 mid-run");
    // A request after the deploy's "ok" runs the new release.
    let after = trigger(&c, "chat", "staging", r#"{"message": "x"}"#).await;
    assert_eq!(after.release, "v2");
    std::fs::write(&go, b"").expect("go");
    let mid = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("run finished")
        .expect("run task");
    assert_eq!(mid.release, "v1", "the run switched releases mid-way");
    assert_consistent(&mid);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_are_announced_to_subscribers() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    create_from(&c, "v1", marked_app("v1", PASS, ""), Some("staging")).await;
    let watcher = d.client().await;
    let mut events = watcher.subscribe().await.expect("subscribe");
    let e = trigger(&c, "chat", "staging", r#"{"message":"hi"}"#).await;
    let ev = tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("an event")
        .expect("stream open");
    assert_eq!(
        ev,
        Event::ExecutionFinished {
            id: e.id,
            env: "staging".into(),
            endpoint: "chat".into(),
            release: "v1".into(),
            status: ExecStatus::Ok,
        }
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_release_that_does_not_compile_is_served_as_an_error_not_a_crash() {
    let d = InProc::start(1000, false).await;
    let c = d.client().await;
    // Stored behind the daemon's back (as an older rel or an import could have), so the
    // apply-time check never saw it.
    let bad = marked_app("bad", PASS, "").replace(
        "expr = '{reply: .steps.greet",
        "expr = '{reply: .steps.greet | nosuchfn(1)",
    );
    d.store
        .create_release(
            &rel_domain::NewRelease {
                tag: "bad".into(),
                description: String::new(),
                config: Some(toml(bad)),
                deploy_to: None,
            },
            &c.welcome().caller,
            releasd::dispatch::now(),
        )
        .expect("store the release directly");
    c.call(deploy_req("bad", "staging", false))
        .await
        .expect("the deploy itself succeeds");
    let e = rpc_err(c.call(trigger_req("chat", "staging", "{}")).await);
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert!(
        e.message.contains("release bad cannot be compiled")
            && e.message.contains("pipelines.chat.stages[0].steps[1].expr")
            && e.message.contains("relctl rollback --env staging"),
        "{}",
        e.message
    );

    // The same after a restart: loading it at start-up does not take the daemon down.
    drop(c);
    let d = d.restart().await;
    let c = d.client().await;
    let e = rpc_err(c.call(trigger_req("chat", "staging", "{}")).await);
    assert!(
        e.message.contains("release bad cannot be compiled"),
        "{}",
        e.message
    );
    // A good release fixes it.
    create_from(&c, "good", marked_app("good", PASS, ""), Some("staging")).await;
    assert_eq!(trigger(&c, "chat", "staging", "{}").await.release, "good");
    d.stop().await;
}
