//! `command` and `http` steps against real processes and a real local HTTP server.

mod common;

use common::{closed_port, compile, process_gone, read_pid, start_tool_server, wait_for};
use rel_domain::model::ExecStatus;
use rel_pipeline::{FailureKind, run};
use serde_json::json;
use std::time::Duration;

/// One endpoint `e` running a single step of `kind` on tool `t` (defined by `tool_toml`).
fn one_tool_app(tool_toml: &str, kind: &str, step_extra: &str) -> String {
    format!(
        "[tools.t]\n{tool_toml}\n\
         [[pipelines.p.stages]]\nname = \"s\"\n\
         [[pipelines.p.stages.steps]]\nname = \"call\"\nkind = \"{kind}\"\ntool = \"t\"\n{step_extra}\n\
         [endpoints.e]\npipeline = \"p\"\n"
    )
}

fn sh(script: &str) -> String {
    format!("kind = \"command\"\nargv = [\"sh\", \"-c\", {script:?}]")
}

#[tokio::test]
async fn command_tr_json_in_text_or_json_out() {
    let app = compile(
        &one_tool_app(
            "kind = \"command\"\nargv = [\"tr\", \"a-z\", \"A-Z\"]",
            "command",
            "",
        ),
        "v1",
    );
    // `{"extra":null,...}` upper-cased is not JSON any more (NULL): the output is the text.
    let r = run(
        &app,
        "e",
        json!({"message": "ping", "extra": null}),
        "staging",
        None,
    )
    .await
    .expect("runs");
    assert!(r.is_ok(), "{:?}", r.error);
    assert_eq!(r.output, json!(r#"{"EXTRA":NULL,"MESSAGE":"PING"}"#));

    // With a step input expression, the tool gets just that value; `"PING"` is JSON again.
    let app = compile(
        &one_tool_app(
            "kind = \"command\"\nargv = [\"tr\", \"a-z\", \"A-Z\"]",
            "command",
            "input = '.input.message'",
        ),
        "v1",
    );
    let r = run(&app, "e", json!({"message": "ping"}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(r.output, json!("PING"));
}

#[tokio::test]
async fn command_emitting_json_is_parsed() {
    let tool = sh(r#"printf '{"got": '; cat; printf ', "n": 3}\n'"#);
    let app = compile(
        &one_tool_app(&tool, "command", "input = '{m: .input.message, env}'"),
        "v1",
    );
    let r = run(&app, "e", json!({"message": "hi"}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(
        r.output,
        json!({"got": {"m": "hi", "env": "staging"}, "n": 3})
    );
}

#[tokio::test]
async fn command_non_zero_exit_reports_the_last_stderr_line() {
    let tool = sh("echo 'starting' >&2; echo 'disk full' >&2; exit 3");
    let app = compile(&one_tool_app(&tool, "command", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(r.status, ExecStatus::Error);
    let err = r.error.expect("error");
    assert_eq!(
        err,
        r#"step "call" (command) failed: "sh" exited with status 3: disk full"#
    );

    let app = compile(&one_tool_app(&sh("exit 1"), "command", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    assert!(
        r.error
            .expect("error")
            .contains("exited with status 1 and wrote nothing to stderr")
    );

    let missing = "kind = \"command\"\nargv = [\"/nonexistent/rel-tool\"]";
    let app = compile(&one_tool_app(missing, "command", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    let err = r.error.expect("error");
    assert!(
        err.contains("cannot start \"/nonexistent/rel-tool\" (tools.t.argv[0])"),
        "{err}"
    );
}

#[tokio::test]
async fn command_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    // `exec` makes the pid we record the pid of `sleep 5` itself.
    let tool = format!(
        "{}\ntimeout_ms = 200",
        sh(&format!("echo $$ > {}; exec sleep 5", pidfile.display()))
    );
    let app = compile(&one_tool_app(&tool, "command", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    let f = r.failure.as_ref().expect("failure");
    assert_eq!(f.kind, FailureKind::StepTimeout);
    let err = r.error.as_deref().expect("error");
    assert!(
        err.contains("timed out after 200 ms (tools.t.timeout_ms)"),
        "{err}"
    );
    let pid = read_pid(&pidfile);
    // Reaped before the run returned: not even a zombie is left.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "sleep (pid {pid}) is still there"
    );
}

#[tokio::test]
async fn timeout_kills_what_the_tool_started_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    // A wrapper script whose child would outlive a kill of the script alone.
    let tool = format!(
        "{}\ntimeout_ms = 200",
        sh(&format!("sleep 5 & echo $! > {}; wait", pidfile.display()))
    );
    let app = compile(&one_tool_app(&tool, "command", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("timed out")),
        "{:?}",
        r.error
    );
    let pid = read_pid(&pidfile);
    assert!(
        wait_for(Duration::from_secs(10), || process_gone(pid)),
        "grandchild {pid} survived"
    );
}

#[tokio::test]
async fn abandoning_a_run_kills_its_tool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let tool = format!(
        "{}\ntimeout_ms = 60000",
        sh(&format!("echo $$ > {}; exec sleep 30", pidfile.display()))
    );
    let app = std::sync::Arc::new(compile(&one_tool_app(&tool, "command", ""), "v1"));
    let task = {
        let app = app.clone();
        tokio::spawn(async move { run(&app, "e", json!({}), "staging", None).await })
    };
    let pid = tokio::task::spawn_blocking(move || read_pid(&pidfile))
        .await
        .expect("pid");
    assert!(!process_gone(pid));
    task.abort();
    let _ = task.await;
    assert!(
        tokio::task::spawn_blocking(move || wait_for(Duration::from_secs(10), || process_gone(
            pid
        )))
        .await
        .expect("join"),
        "tool {pid} outlived its abandoned run"
    );
}

#[tokio::test]
async fn http_tool_posts_json_and_parses_the_answer() {
    let addr = start_tool_server().await;
    let tool =
        format!("kind = \"http\"\nurl = \"http://{addr}/echo\"\nheaders = {{ x-test = \"yes\" }}");
    let app = compile(
        &one_tool_app(&tool, "http", "input = '{q: .input.message}'"),
        "v1",
    );
    let r = run(&app, "e", json!({"message": "ping"}), "staging", None)
        .await
        .expect("runs");
    assert!(r.is_ok(), "{:?}", r.error);
    assert_eq!(
        r.output,
        json!({"method": "POST", "body": {"q": "ping"}, "x_test": "yes"})
    );

    // Without an input expression the body is the run's input; GET sends no body.
    let tool = format!("kind = \"http\"\nurl = \"http://{addr}/echo\"\nmethod = \"put\"");
    let app = compile(&one_tool_app(&tool, "http", ""), "v1");
    let r = run(&app, "e", json!({"a": 1}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(
        r.output,
        json!({"method": "PUT", "body": {"a": 1}, "x_test": null})
    );
    let tool = format!("kind = \"http\"\nurl = \"http://{addr}/echo\"\nmethod = \"GET\"");
    let app = compile(&one_tool_app(&tool, "http", ""), "v1");
    let r = run(&app, "e", json!({"a": 1}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(
        r.output,
        json!({"method": "GET", "body": null, "x_test": null})
    );

    // A text answer is taken as (trimmed) text.
    let tool = format!("kind = \"http\"\nurl = \"http://{addr}/text\"");
    let app = compile(&one_tool_app(&tool, "http", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(r.output, json!("plain words"));
}

#[tokio::test]
async fn http_non_2xx_unreachable_and_timeout_are_errors() {
    let addr = start_tool_server().await;
    let tool = format!("kind = \"http\"\nurl = \"http://{addr}/fail\"");
    let app = compile(&one_tool_app(&tool, "http", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    let err = r.error.expect("error");
    assert_eq!(
        err,
        format!(
            r#"step "call" (http) failed: POST http://{addr}/fail answered HTTP 503 Service Unavailable: overloaded, try later"#
        )
    );

    let port = closed_port().await;
    let tool = format!("kind = \"http\"\nurl = \"http://127.0.0.1:{port}/x\"");
    let app = compile(&one_tool_app(&tool, "http", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    let err = r.error.expect("error");
    assert!(
        err.contains(&format!(
            "cannot reach POST http://127.0.0.1:{port}/x (tools.t.url)"
        )),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");

    let tool = format!("kind = \"http\"\nurl = \"http://{addr}/slow\"\ntimeout_ms = 200");
    let app = compile(&one_tool_app(&tool, "http", ""), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(
        r.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::StepTimeout)
    );
    let err = r.error.expect("error");
    assert!(
        err.contains("timed out after 200 ms (tools.t.timeout_ms)"),
        "{err}"
    );

    // The step's own timeout_ms overrides the tool's.
    let app = compile(&one_tool_app(&tool, "http", "timeout_ms = 150"), "v1");
    let r = run(&app, "e", json!({}), "staging", None)
        .await
        .expect("runs");
    let err = r.error.expect("error");
    assert!(
        err.contains("timed out after 150 ms (pipelines.p.stages[0].steps[0].timeout_ms)"),
        "{err}"
    );
}
