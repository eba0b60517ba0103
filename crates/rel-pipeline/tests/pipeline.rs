//! Pure steps (template, transform, assert), run results, deadlines, checks and compile
//! errors.

mod common;

use std::time::Duration;

use common::{compile, config};
use rel_domain::config::EXAMPLE_APP_TOML;
use rel_domain::model::ExecStatus;
use rel_domain::{ErrorCode, Snapshot};
use rel_pipeline::{CompiledApp, FailureKind, check, eval_expect, run, run_checks, validate_app};
use serde_json::json;

#[tokio::test]
async fn spec_example_runs_end_to_end() {
    let app = compile(EXAMPLE_APP_TOML, "v1.0.0");
    let r = run(&app, "chat", json!({"message": "ping"}), "staging", None)
        .await
        .expect("endpoint exists");
    assert!(r.is_ok(), "{:?}", r.error);
    assert_eq!(r.output, json!({"reply": "You said: ping", "length": 4}));
    assert_eq!(r.steps.len(), 2);
    assert_eq!(r.steps[0].name, "greet");
    assert_eq!(r.steps[0].output, json!("You said: ping"));
    assert_eq!(r.steps[1].name, "shape");
    assert!(
        r.steps
            .iter()
            .all(|s| s.status == ExecStatus::Ok && s.error.is_none())
    );
    assert_eq!(
        (r.env.as_str(), r.endpoint.as_str(), r.release.as_str()),
        ("staging", "chat", "v1.0.0")
    );
    assert_eq!(r.digest, app.digest());

    let exec = r.into_execution(42);
    assert_eq!(exec.id, 42);
    assert_eq!(exec.status, ExecStatus::Ok);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&exec.output).expect("json"),
        json!({"reply": "You said: ping", "length": 4})
    );
    assert_eq!(exec.input, r#"{"message":"ping"}"#);
    assert_eq!(exec.steps[1].kind, "transform");
    assert_eq!(exec.steps[0].output, r#""You said: ping""#);
}

const CONTEXT_APP: &str = r#"
[[pipelines.p.stages]]
name = "one"
[[pipelines.p.stages.steps]]
name = "who"
kind = "template"
template = "{{ env }}/{{ release.tag }}/{{ release.digest }}/{{ input.n }}"
[[pipelines.p.stages]]
name = "two"
[[pipelines.p.stages.steps]]
name = "all"
kind = "transform"
expr = '{env, release, who: .steps.who, n: .input.n}'
[endpoints.e]
pipeline = "p"
"#;

#[tokio::test]
async fn steps_see_env_release_and_earlier_steps_across_stages() {
    let app = compile(CONTEXT_APP, "rel-7");
    let r = run(&app, "e", json!({"n": 3}), "production", None)
        .await
        .expect("runs");
    let digest = app.digest().short();
    assert_eq!(
        r.output,
        json!({
            "env": "production",
            "release": {"tag": "rel-7", "digest": digest},
            "who": format!("production/rel-7/{digest}/3"),
            "n": 3
        })
    );
}

const ASSERT_APP: &str = r#"
[[pipelines.p.stages]]
name = "s"
[[pipelines.p.stages.steps]]
name = "first"
kind = "transform"
expr = '.input.n * 10'
[[pipelines.p.stages.steps]]
name = "guard"
kind = "assert"
expr = '.steps.first < 50'
[[pipelines.p.stages.steps]]
name = "guard_msg"
kind = "assert"
expr = '.steps.first != 40'
message = "n must not be 4"
[[pipelines.p.stages.steps]]
name = "after"
kind = "transform"
expr = '"ran"'
[endpoints.e]
pipeline = "p"
"#;

#[tokio::test]
async fn assert_failure_names_the_step_and_stops_the_run() {
    let app = compile(ASSERT_APP, "v1");
    let ok = run(&app, "e", json!({"n": 1}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(ok.output, json!("ran"));
    // An assert passes the previous output through.
    assert_eq!(ok.steps[1].output, json!(10));

    let r = run(&app, "e", json!({"n": 7}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(r.status, ExecStatus::Error);
    assert_eq!(r.output, serde_json::Value::Null);
    let f = r.failure.as_ref().expect("failure");
    assert_eq!((f.step.as_str(), f.kind), ("guard", FailureKind::Step));
    let err = r.error.as_deref().expect("error");
    assert!(
        err.starts_with(r#"step "guard" (assert) failed: assertion failed: .steps.first < 50"#),
        "{err}"
    );
    // Later steps did not run.
    assert_eq!(
        r.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["first", "guard"]
    );
    assert_eq!(r.steps[1].status, ExecStatus::Error);

    let r = run(&app, "e", json!({"n": 4}), "staging", None)
        .await
        .expect("runs");
    assert_eq!(
        r.error.as_deref(),
        Some(r#"step "guard_msg" (assert) failed: n must not be 4"#)
    );
}

#[tokio::test]
async fn jq_runtime_errors_and_empty_results_fail_the_step() {
    let toml = r#"
[[pipelines.p.stages]]
name = "s"
[[pipelines.p.stages.steps]]
name = "bad"
kind = "transform"
expr = '.input.n | .field'
[endpoints.e]
pipeline = "p"
[[pipelines.q.stages]]
name = "s"
[[pipelines.q.stages.steps]]
name = "nothing"
kind = "transform"
expr = '.input[] | select(. > 100)'
[endpoints.f]
pipeline = "q"
"#;
    let app = compile(toml, "v1");
    let r = run(&app, "e", json!({"n": 3}), "staging", None)
        .await
        .expect("runs");
    let err = r.error.expect("fails");
    assert!(
        err.starts_with(r#"step "bad" (transform) failed: jq: cannot index"#),
        "{err}"
    );
    let r = run(&app, "f", json!([1, 2]), "staging", None)
        .await
        .expect("runs");
    let err = r.error.expect("fails");
    assert!(err.contains("produced no value"), "{err}");
}

#[tokio::test]
async fn unknown_endpoint_is_not_found_and_lists_known_ones() {
    let app = compile(EXAMPLE_APP_TOML, "v1");
    let e = run(&app, "chta", json!({}), "staging", None)
        .await
        .expect_err("unknown");
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(
        e.message.contains("\"chta\"") && e.message.contains("chat"),
        "{}",
        e.message
    );
    assert!(app.has_endpoint("chat") && !app.has_endpoint("chta"));
}

const SLOW_APP: &str = r#"
[tools.nap]
kind = "command"
argv = ["sleep", "5"]
timeout_ms = 10000
[[pipelines.p.stages]]
name = "s"
[[pipelines.p.stages.steps]]
name = "quick"
kind = "transform"
expr = '.input'
[[pipelines.p.stages.steps]]
name = "nap"
kind = "command"
tool = "nap"
[[pipelines.p.stages.steps]]
name = "never"
kind = "transform"
expr = '1'
[endpoints.e]
pipeline = "p"
deadline_ms = 300
[endpoints.open]
pipeline = "p"
"#;

#[tokio::test]
async fn run_deadline_exceeded_fails_the_running_step() {
    let app = compile(SLOW_APP, "v1");
    let r = run(&app, "e", json!(1), "staging", None)
        .await
        .expect("runs");
    assert!(r.deadline_exceeded(), "{r:?}");
    let f = r.failure.as_ref().expect("failure");
    assert_eq!(f.step, "nap");
    let err = r.error.as_deref().expect("error");
    assert!(
        err.contains("the run deadline of 300 ms (endpoints.e.deadline_ms) passed"),
        "{err}"
    );
    assert_eq!(r.steps.len(), 2, "the step after the deadline did not run");

    // A caller's deadline sooner than the endpoint's wins, and says so.
    let soon = tokio::time::Instant::now() + Duration::from_millis(200);
    let r = run(&app, "open", json!(1), "staging", Some(soon))
        .await
        .expect("runs");
    assert!(r.deadline_exceeded());
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("the caller's deadline passed")),
        "{:?}",
        r.error
    );

    // A deadline already past fails the first step without running it.
    let past = tokio::time::Instant::now();
    let r = run(&app, "open", json!(1), "staging", Some(past))
        .await
        .expect("runs");
    assert!(r.deadline_exceeded());
    assert_eq!(r.failure.expect("failure").step, "quick");
}

#[tokio::test]
async fn checks_pass_and_fail_with_reasons() {
    let app = compile(EXAMPLE_APP_TOML, "v1");
    let outcomes = run_checks(&app, "staging", None).await;
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].passed, "{}", outcomes[0].message);
    assert_eq!(outcomes[0].name, "chat replies");
    assert!(outcomes[0].run.is_ok());
    let cr = outcomes[0].to_check_result(Some(9));
    assert!(cr.passed && cr.execution_id == Some(9));

    // Direct evaluation, by index and by name.
    let good = json!({"reply": "You said: ping"});
    let bad = json!({"reply": "You said: pong"});
    assert_eq!(eval_expect(&app, 0, &good), Ok(true));
    assert_eq!(eval_expect(&app, "chat replies", &bad), Ok(false));
    assert!(check(&app, "chat replies", &good));
    assert!(!check(&app, 0, &bad));
    assert!(!check(&app, "nope", &good));
    assert!(
        eval_expect(&app, 0, &json!(3))
            .expect_err("jq error")
            .contains("jq:")
    );

    let failing = EXAMPLE_APP_TOML.replace(r#"contains("ping")"#, r#"contains("pong")"#)
        + r#"
[[checks]]
name = "broken endpoint"
endpoint = "strict"
input = { message = "x" }
expect = 'true'

[[pipelines.strict.stages]]
name = "s"
[[pipelines.strict.stages.steps]]
name = "no"
kind = "assert"
expr = 'false'
message = "always refuses"

[endpoints.strict]
pipeline = "strict"
"#;
    let app = compile(&failing, "v2");
    let outcomes = run_checks(&app, "staging", None).await;
    assert_eq!(outcomes.len(), 2);
    assert!(!outcomes[0].passed);
    assert!(
        outcomes[0]
            .message
            .contains(r#"expected .reply | contains("pong")"#),
        "{}",
        outcomes[0].message
    );
    assert!(
        outcomes[0].message.contains("You said: ping"),
        "{}",
        outcomes[0].message
    );
    assert!(!outcomes[1].passed);
    assert!(
        outcomes[1].message.contains("always refuses"),
        "{}",
        outcomes[1].message
    );
    assert_eq!(outcomes[1].run.status, ExecStatus::Error);
}

#[test]
fn compile_errors_carry_the_path() {
    let base = |steps: &str, extra: &str| {
        format!(
            "[tools.t]\nkind = \"command\"\nargv = [\"cat\"]\n[[pipelines.chat.stages]]\nname = \"s\"\n\
             [[pipelines.chat.stages.steps]]\nname = \"ok\"\nkind = \"transform\"\nexpr = '.input'\n{steps}\n\
             [endpoints.chat]\npipeline = \"chat\"\n{extra}"
        )
    };
    let cases = [
        (
            base(
                "[[pipelines.chat.stages.steps]]\nname = \"b\"\nkind = \"transform\"\nexpr = '{reply: .steps.greet'",
                "",
            ),
            "pipelines.chat.stages[0].steps[1].expr: jq: expected",
        ),
        (
            base(
                "[[pipelines.chat.stages.steps]]\nname = \"b\"\nkind = \"assert\"\nexpr = 'nosuch(1)'",
                "",
            ),
            "pipelines.chat.stages[0].steps[1].expr: jq: undefined filter nosuch/1",
        ),
        (
            base(
                "[[pipelines.chat.stages.steps]]\nname = \"b\"\nkind = \"template\"\ntemplate = 'Hi {{ input.name '",
                "",
            ),
            "pipelines.chat.stages[0].steps[1].template: template: syntax error",
        ),
        (
            // minijinja only looks filters up when rendering; this must fail at validate time.
            base(
                "[[pipelines.chat.stages.steps]]\nname = \"b\"\nkind = \"template\"\ntemplate = '{{ input.message | nofilter }}'",
                "",
            ),
            "pipelines.chat.stages[0].steps[1].template: unknown filter \"nofilter\"",
        ),
        (
            base(
                "[[pipelines.chat.stages.steps]]\nname = \"b\"\nkind = \"template\"\ntemplate = '{% if input is nosuchtest %}x{% endif %}'",
                "",
            ),
            "pipelines.chat.stages[0].steps[1].template: unknown test \"nosuchtest\"",
        ),
        (
            base(
                "[[pipelines.chat.stages.steps]]\nname = \"b\"\nkind = \"command\"\ntool = \"t\"\ninput = '.input |'",
                "",
            ),
            "pipelines.chat.stages[0].steps[1].input: jq:",
        ),
        (
            base(
                "",
                "[[checks]]\nname = \"c\"\nendpoint = \"chat\"\nexpect = '.reply | contains(\"ping\"'",
            ),
            "checks[0].expect: jq:",
        ),
        (
            base("", "").replace(
                "[tools.t]\nkind = \"command\"\nargv = [\"cat\"]",
                "[tools.t]\nkind = \"http\"\nurl = \"https://example.invalid/x\"",
            ),
            "tools.t.url:",
        ),
    ];
    for (toml, want) in cases {
        let cfg = config(&toml);
        let e = validate_app(&cfg).expect_err(&format!("must not compile: {want}"));
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(
            e.message.starts_with(want),
            "got {:?}, want prefix {want:?}",
            e.message
        );
        let e2 = CompiledApp::compile(&Snapshot::of(cfg), "v1").expect_err("must not compile");
        assert_eq!(e2.message, e.message);
    }
    assert!(validate_app(&config(EXAMPLE_APP_TOML)).is_ok());
}
