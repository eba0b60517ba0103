//! Snapshots of the table and JSON output of `trigger`, `logs`, `verify`, `deploy --verify`
//! and `token`, rendered from fixed data. Review changes with `cargo insta review`.

use insta::assert_snapshot;
use rel_domain::{
    CheckResult, DeployOutcome, Deployment, DeploymentKind, Digest, ExecStatus, Execution,
    StepResult, Timestamp, TokenInfo, Verification,
};
use rel_proto::VerifyOutcome;

use crate::json::{self, pretty};
use crate::table::Ctx;
use crate::table_exec;

/// 2026-03-14T09:00:00Z.
const BASE: i64 = 1_773_478_800_000;

fn ts(minutes: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minutes * 60_000)
}

fn ctx() -> Ctx {
    Ctx {
        now: ts(60),
        width: 80,
    }
}

fn step(name: &str, kind: &str, ms: u64, output: &str) -> StepResult {
    StepResult {
        name: name.into(),
        kind: kind.into(),
        status: ExecStatus::Ok,
        duration_ms: ms,
        error: None,
        output: output.into(),
    }
}

fn ok_run() -> Execution {
    Execution {
        id: 12,
        env: "staging".into(),
        endpoint: "chat".into(),
        release: "v1.1.0".into(),
        digest: Digest::of(b"v1.1.0"),
        status: ExecStatus::Ok,
        input: r#"{"message":"hi"}"#.into(),
        output: r#"{"reply":"You said: hi","length":2}"#.into(),
        error: None,
        steps: vec![
            step("greet", "template", 1, r#""You said: hi""#),
            step(
                "shape",
                "transform",
                2,
                r#"{"reply":"You said: hi","length":2}"#,
            ),
        ],
        started_at: ts(50),
        duration_ms: 4,
    }
}

fn failed_run() -> Execution {
    let why = r#"step "search" (http) failed: tool search: POST http://127.0.0.1:9000/search timed out after 2000 ms"#;
    let mut search = step("search", "http", 2003, "null");
    search.status = ExecStatus::Error;
    search.error =
        Some("tool search: POST http://127.0.0.1:9000/search timed out after 2000 ms".into());
    Execution {
        id: 13,
        env: "production".into(),
        endpoint: "ask".into(),
        release: "v1.0.0".into(),
        digest: Digest::of(b"v1.0.0"),
        status: ExecStatus::Error,
        input: r#"{"q":"weather"}"#.into(),
        output: "null".into(),
        error: Some(why.into()),
        steps: vec![step("prepare", "template", 0, r#""weather""#), search],
        started_at: ts(55),
        duration_ms: 12_345,
    }
}

fn runs() -> Vec<Execution> {
    vec![failed_run(), ok_run()]
}

#[test]
fn trigger_and_log_show() {
    let e = ok_run();
    assert_snapshot!("trigger_ok_table", table_exec::execution(&e, ctx()));
    assert_snapshot!("trigger_ok_json", pretty(&json::execution(&e)));
    let e = failed_run();
    assert_snapshot!("trigger_failed_table", table_exec::execution(&e, ctx()));
    assert_snapshot!("trigger_failed_json", pretty(&json::execution(&e)));
}

#[test]
fn logs_list_and_follow() {
    let list = runs();
    assert_snapshot!("logs_table", table_exec::executions(&list, false, ctx()));
    assert_snapshot!(
        "logs_limited_table",
        table_exec::executions(&list, true, ctx())
    );
    assert_snapshot!(
        "logs_empty_table",
        table_exec::executions(&[], false, ctx())
    );
    assert_snapshot!("logs_json", pretty(&json::executions(&list)));
    let mut follow = table_exec::follow_header();
    for e in list.iter().rev() {
        follow.push_str(&table_exec::follow_line(e));
    }
    assert_snapshot!("logs_follow_table", follow);
    let lines: Vec<String> = list
        .iter()
        .rev()
        .map(|e| json::line(&json::execution(e)))
        .collect();
    assert_snapshot!("logs_follow_json", lines.join("\n"));
}

fn deployment(id: u64, release: &str, previous: Option<&str>, kind: DeploymentKind) -> Deployment {
    Deployment {
        id,
        env: "staging".into(),
        release: release.into(),
        release_seq: 3,
        previous: previous.map(Into::into),
        kind,
        actor: "alice".into(),
        at: ts(40),
        reason: None,
        forced: false,
        verification: None,
    }
}

fn verify_outcome(passed: bool) -> VerifyOutcome {
    let mut checks = vec![CheckResult {
        name: "chat replies".into(),
        passed: true,
        message: r#".reply | contains("ping") held"#.into(),
        execution_id: Some(14),
    }];
    if !passed {
        checks.push(CheckResult {
            name: "chat is short".into(),
            passed: false,
            message: r#"expected .length < 5, but the output was {"length":14,"reply":"You said: ping pong"}"#.into(),
            execution_id: Some(15),
        });
    }
    let verification = Verification {
        at: ts(45),
        by: "alice".into(),
        passed,
        checks,
    };
    let mut d = deployment(7, "v1.1.0", Some("v1.0.0"), DeploymentKind::Deploy);
    d.verification = Some(verification.clone());
    VerifyOutcome {
        env: "staging".into(),
        release: "v1.1.0".into(),
        deployment: d,
        verification,
    }
}

#[test]
fn verify_pass_fail_and_no_checks() {
    let o = verify_outcome(true);
    assert_snapshot!("verify_passed_table", table_exec::verified(&o, ctx()));
    assert_snapshot!("verify_passed_json", pretty(&json::verified(&o)));
    let o = verify_outcome(false);
    assert_snapshot!("verify_failed_table", table_exec::verified(&o, ctx()));
    assert_snapshot!("verify_failed_json", pretty(&json::verified(&o)));
    assert_eq!(
        crate::commands::exec::failed_summary(&o),
        "1 of 2 checks failed (chat is short)"
    );
    let mut none = verify_outcome(true);
    none.verification.checks.clear();
    assert_snapshot!("verify_no_checks_table", table_exec::verified(&none, ctx()));
}

#[test]
fn deploy_verify_auto_rollback_json() {
    let v = verify_outcome(false);
    let deployed = DeployOutcome {
        deployment: deployment(7, "v1.1.0", Some("v1.0.0"), DeploymentKind::Deploy),
        changed: true,
    };
    let mut rb = deployment(8, "v1.0.0", Some("v1.1.0"), DeploymentKind::Rollback);
    rb.reason = Some(format!(
        "auto-rollback: verification of v1.1.0 failed: {}",
        crate::commands::exec::failed_summary(&v)
    ));
    let rolled = DeployOutcome {
        deployment: rb,
        changed: true,
    };
    let doc = json::DeployVerifiedJson {
        deployment: json::deployment(&v.deployment, deployed.changed),
        verify: json::verified(&v),
        auto_rollback: Some(json::outcome(&rolled)),
        auto_rollback_error: None,
    };
    assert_snapshot!("deploy_verify_rolled_back_json", pretty(&doc));
}

#[test]
fn tokens() {
    let list = vec![
        TokenInfo {
            name: "ci-smoke-tests".into(),
            created_at: ts(10),
            created_by: "alice".into(),
        },
        TokenInfo {
            name: "grafana".into(),
            created_at: ts(20),
            created_by: "bob".into(),
        },
    ];
    assert_snapshot!("token_list_table", table_exec::tokens(&list, ctx()));
    assert_snapshot!("token_list_empty_table", table_exec::tokens(&[], ctx()));
    assert_snapshot!("token_list_json", pretty(&json::tokens(&list)));
    let secret = "rel_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_snapshot!(
        "token_create_table",
        table_exec::token_created(&list[0], secret)
    );
    assert_snapshot!(
        "token_create_json",
        pretty(&json::token_created(&list[0], secret))
    );
}

#[test]
fn exec_tables_fit_80_columns() {
    let mut all = String::new();
    all.push_str(&table_exec::execution(&ok_run(), ctx()));
    all.push_str(&table_exec::execution(&failed_run(), ctx()));
    all.push_str(&table_exec::executions(&runs(), false, ctx()));
    all.push_str(&table_exec::verified(&verify_outcome(false), ctx()));
    for line in all.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
}
