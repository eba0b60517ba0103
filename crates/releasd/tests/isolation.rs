//! Hostile pipelines against the real releasd binary (issue 7): a run that overflows its
//! stack or runs out of memory fails alone, a runaway run is stopped at its timeout by
//! killing its worker (a new one serves the next request), an expression nested deep enough
//! to crash the parser is refused at apply time with its path, a flood of runs gets 503 with
//! `Retry-After` while the control plane keeps answering, and SIGTERM is not held up by a
//! runaway run.

mod common;

use std::time::Duration;

use common::inproc::{create_from, deploy_req, rollback_req, toml};
use common::*;
use rel_domain::ErrorCode;
use rel_proto::{Request, Response};
use rel_testkit::TestDaemon;
use serde_json::{Value, json};

/// A real releasd (rel-testkit) with the HTTP ingress on a free port.
struct Daemon {
    inner: TestDaemon,
    http: String,
}

impl Daemon {
    fn start(extra: &[&str]) -> Daemon {
        let mut args = vec!["--http", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let inner = TestDaemon::try_start_with_args(None, &args)
            .unwrap_or_else(|e| panic!("releasd did not start: {e}"));
        let http = inner
            .ready_line()
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http="))
            .unwrap_or_else(|| panic!("no http= in {}", inner.ready_line()))
            .to_string();
        Daemon { inner, http }
    }

    fn alive(&mut self) -> bool {
        self.inner.is_running()
    }

    /// The daemon's worker processes (children running `releasd --worker`).
    fn workers(&self) -> Vec<u32> {
        let Some(me) = self.inner.pid() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let zombie = fields.first() == Some(&"Z");
            if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) && !zombie {
                out.push(pid);
            }
        }
        out.sort_unstable();
        out
    }
}

/// One pipeline and endpoint per `(name, expr, timeout_ms)`, each a single transform.
fn hostile_app(endpoints: &[(&str, &str, u64)]) -> String {
    let mut t = String::new();
    for (name, expr, timeout) in endpoints {
        t.push_str(&format!(
            "[pipelines.{name}]\n[[pipelines.{name}.stages]]\nname = \"s\"\n\
             [[pipelines.{name}.stages.steps]]\nname = \"{name}_step\"\nkind = \"transform\"\n\
             expr = '{expr}'\ntimeout_ms = {timeout}\n\
             [endpoints.{name}]\npipeline = \"{name}\"\n\n"
        ));
    }
    t
}

const OK: (&str, &str, u64) = ("ok", "{answer: (.input.n // 1) + 1}", 5000);

async fn setup(d: &Daemon, endpoints: &[(&str, &str, u64)]) -> (rel_proto::Client, String) {
    let c = connect(d.inner.socket()).await;
    create_from(&c, "v1", hostile_app(endpoints), Some("staging")).await;
    let secret = match c
        .call(Request::TokenCreate { name: "t".into() })
        .await
        .expect("token")
    {
        Response::TokenCreated { secret, .. } => secret,
        other => panic!("{other:?}"),
    };
    (c, secret)
}

async fn post(
    d: &Daemon,
    secret: &str,
    endpoint: &str,
    body: Value,
) -> (u16, Value, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("http://{}/v1/trigger/{endpoint}", d.http))
        .bearer_auth(secret)
        .header("X-Environment", "staging")
        .json(&body)
        .send()
        .await
        .expect("HTTP request");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let v: Value = r.json().await.expect("JSON body");
    (status, v, retry)
}

async fn status_ok(c: &rel_proto::Client) {
    let r = c.call(Request::Status).await.expect("status");
    assert!(matches!(r, Response::Status(_)), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_overflows_its_stack_fails_alone() {
    let mut d = Daemon::start(&["--workers", "2"]);
    let fact = "def fact: if . <= 1 then 1 else . * (. - 1 | fact) end; .input.n | fact";
    let (c, secret) = setup(
        &d,
        &[
            ("rec", "def f: 1 + f; f", 30_000),
            ("fact", fact, 30_000),
            OK,
        ],
    )
    .await;

    for (endpoint, body) in [("rec", json!({})), ("fact", json!({"n": 10_000_000}))] {
        let (status, v, _) = post(&d, &secret, endpoint, body).await;
        assert_eq!(status, 500, "{v}");
        assert_eq!(v["error"]["code"], "run_crashed", "{v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("pipeline run crashed: stack overflow")
                && msg.contains(&format!("{endpoint}_step")),
            "{msg}"
        );
        assert!(d.alive(), "the daemon died: {}", d.inner.stderr_log());
        // The log says the same.
        let id = v["execution"]["id"].as_u64().expect("execution id");
        match c.call(Request::LogShow { id }).await.expect("log show") {
            Response::Execution(e) => {
                assert!(
                    e.error.as_deref().unwrap_or("").contains("stack overflow"),
                    "{e:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        let (status, v, _) = post(&d, &secret, "ok", json!({"n": 41})).await;
        assert_eq!((status, &v["output"]["answer"]), (200, &json!(42)), "{v}");
    }
    status_ok(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_run_is_stopped_and_its_worker_replaced() {
    let mut d = Daemon::start(&["--workers", "1"]);
    let (c, secret) = setup(
        &d,
        &[
            ("spin", "last(range(1e12))", 300),
            ("loop", "def f: f; f", 300),
            ("grow", "[range(.input.n)] | length", 300),
            OK,
        ],
    )
    .await;
    // One worker: the first run starts it.
    let (status, _, _) = post(&d, &secret, "ok", json!({})).await;
    assert_eq!(status, 200);
    let mut before = d.workers();
    assert_eq!(before.len(), 1, "{before:?}");
    for (endpoint, body) in [
        ("spin", json!({})),
        ("loop", json!({})),
        ("grow", json!({"n": 1_000_000_000_000u64})),
    ] {
        let (status, v, _) = post(&d, &secret, endpoint, body).await;
        assert_eq!(status, 500, "{v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            (msg.contains("timed out after 300 ms") && msg.contains("the run was stopped"))
                || msg.contains("ran out of memory"),
            "{endpoint}: {msg}"
        );
        // The killed worker is gone; the next request is served by a new one.
        let (status, v, _) = post(&d, &secret, "ok", json!({"n": 1})).await;
        assert_eq!((status, &v["output"]["answer"]), (200, &json!(2)), "{v}");
        let after = d.workers();
        assert_eq!(after.len(), 1, "{after:?}");
        assert_ne!(after, before, "{endpoint}: the worker was not replaced");
        before = after;
    }
    assert!(d.alive());
    status_ok(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_runs_out_of_memory_fails_alone() {
    let mut d = Daemon::start(&["--workers", "1", "--worker-memory", "256"]);
    let (c, secret) = setup(&d, &[("grow", "[range(.input.n)] | length", 60_000), OK]).await;
    let (status, v, _) = post(&d, &secret, "grow", json!({"n": 1_000_000_000_000u64})).await;
    assert_eq!(status, 500, "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("ran out of memory (limit 256 MiB"), "{msg}");
    let (status, _, _) = post(&d, &secret, "ok", json!({})).await;
    assert_eq!(status, 200);
    assert!(d.alive());
    status_ok(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_expressions_nested_deep_enough_to_crash_the_parser() {
    let mut d = Daemon::start(&[]);
    let c = connect(d.inner.socket()).await;
    let parens = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
    let sum = vec!["1"; 2000].join(" + ");
    for (expr, what) in [
        (parens, "nesting deeper than 64 levels"),
        (sum, "operators in a row"),
    ] {
        let r = c
            .call(Request::DraftApply(toml(hostile_app(&[(
                "p", &expr, 1000,
            )]))))
            .await;
        let e = rpc_err(r);
        assert_eq!(e.code, ErrorCode::Invalid, "{e:?}");
        assert!(
            e.message.contains("pipelines.p.stages[0].steps[0].expr: ") && e.message.contains(what),
            "{}",
            e.message
        );
    }
    assert!(d.alive());
    status_ok(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_runaway_runs_gets_503_while_the_control_plane_answers() {
    let mut d = Daemon::start(&["--workers", "2", "--run-queue", "4"]);
    let app = hostile_app(&[("spin", "last(range(1e12))", 1500), OK]);
    let (c, secret) = setup(&d, &[("spin", "last(range(1e12))", 1500), OK]).await;
    create_from(
        &c,
        "v2",
        app.replace("(.input.n // 1) + 1", "(.input.n // 1) + 2"),
        None,
    )
    .await;
    let url = format!("http://{}/v1/trigger/spin", d.http);
    let client = reqwest::Client::new();
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let req = client
                .post(&url)
                .bearer_auth(&secret)
                .header("X-Environment", "staging")
                .body("{}")
                .send();
            tokio::spawn(async move {
                let r = req.await.expect("HTTP request");
                let retry = r.headers().get("retry-after").is_some();
                let status = r.status().as_u16();
                let v: Value = r.json().await.expect("JSON body");
                (status, retry, v)
            })
        })
        .collect();
    // While the flood is in flight: reads, deploys and rollbacks answer.
    for _ in 0..3 {
        status_ok(&c).await;
        let r = c
            .call(deploy_req("v2", "staging", true))
            .await
            .expect("deploy");
        assert!(matches!(r, Response::Deployed(_)), "{r:?}");
        c.call(rollback_req("staging")).await.expect("rollback");
        let r = c.call(Request::ReleaseShow { tag: "v1".into() }).await;
        assert!(r.is_ok(), "{r:?}");
    }
    let (mut busy, mut stopped) = (0, 0);
    for h in flood {
        let (status, retry, v) = h.await.expect("flood task");
        match status {
            503 => {
                assert_eq!(v["error"]["code"], "busy", "{v}");
                assert!(retry, "503 without Retry-After: {v}");
                busy += 1;
            }
            500 => stopped += 1,
            other => panic!("unexpected {other}: {v}"),
        }
    }
    // 2 running + 4 queued at most are admitted at a time; the rest are refused at once.
    assert!(busy >= 20, "busy {busy}, stopped {stopped}");
    assert!(stopped >= 2, "busy {busy}, stopped {stopped}");
    assert!(d.alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_not_held_up_by_a_runaway_run() {
    let mut d = Daemon::start(&["--workers", "1"]);
    let (_c, secret) = setup(&d, &[("spin", "last(range(1e12))", 600_000)]).await;
    let url = format!("http://{}/v1/trigger/spin", d.http);
    let pending = tokio::spawn(
        reqwest::Client::new()
            .post(url)
            .bearer_auth(&secret)
            .header("X-Environment", "staging")
            .body("{}")
            .send(),
    );
    // The run has started once its worker exists.
    assert!(rel_testkit::wait_until(Duration::from_secs(30), || !d
        .workers()
        .is_empty()));
    // Panics (with the daemon's log) if it does not exit within a minute.
    let status = d.inner.signal_and_wait(nix::sys::signal::Signal::SIGTERM);
    assert!(status.success(), "{status:?}");
    // The client got an answer saying the run was stopped.
    let r = pending.await.expect("task").expect("HTTP answer");
    let v: Value = r.json().await.expect("JSON");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("shutting down"), "{v}");
    assert!(!d.alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_output_is_answered_whole_and_stored_capped() {
    let d = Daemon::start(&["--workers", "1"]);
    let big = "[range(30000)] | map(tostring) | join(\",\")";
    let (c, secret) = setup(&d, &[("big", big, 5000)]).await;
    let (status, v, _) = post(&d, &secret, "big", json!({})).await;
    assert_eq!(status, 200, "{v}");
    let whole = v["output"].as_str().expect("string output");
    assert!(whole.len() > 100_000, "{}", whole.len());
    let id = v["id"].as_u64().expect("id");
    match c.call(Request::LogShow { id }).await.expect("log show") {
        Response::Execution(e) => {
            let stored: Value = serde_json::from_str(&e.output).expect("stored output is JSON");
            assert_eq!(stored["truncated"], true, "{stored}");
            assert_eq!(stored["bytes"], json!(whole.len() + 2), "{stored}");
            assert!(e.output.len() < 2 * 65536, "{}", e.output.len());
        }
        other => panic!("{other:?}"),
    }
}

/// The ingress hands the worker the body's JSON text unparsed (the pipe carries text, not a
/// value): a run that finished and one the supervisor stopped both log the input compact,
/// as before, and a body that is not JSON is still refused before any worker sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_travel_as_text_and_are_logged_compact_whether_the_run_finished_or_was_stopped() {
    let mut d = Daemon::start(&["--workers", "1"]);
    let (c, secret) = setup(&d, &[("spin", "last(range(1e12))", 300), OK]).await;
    let raw = |endpoint: &str, body: &'static str| {
        reqwest::Client::new()
            .post(format!("http://{}/v1/trigger/{endpoint}", d.http))
            .bearer_auth(&secret)
            .header("X-Environment", "staging")
            .body(body)
            .send()
    };
    let mut ids = Vec::new();
    for (endpoint, status) in [("ok", 200), ("spin", 500)] {
        let r = raw(endpoint, "  { \"n\" :  1 ,\n \"s\": \"\\u00e9\" }  ")
            .await
            .expect("HTTP request");
        assert_eq!(r.status().as_u16(), status, "{endpoint}");
        let v: Value = r.json().await.expect("JSON body");
        let exec = if status == 200 { &v } else { &v["execution"] };
        assert_eq!(exec["input"], json!({"n": 1, "s": "é"}), "{endpoint}: {v}");
        ids.push(exec["id"].as_u64().expect("logged id"));
    }
    assert_eq!(ids.len(), 2);
    for id in ids {
        match c.call(Request::LogShow { id }).await.expect("log show") {
            Response::Execution(e) => assert_eq!(e.input, r#"{"n":1,"s":"é"}"#, "#{id}"),
            other => panic!("{other:?}"),
        }
    }
    let r = raw("ok", "{\"n\": 1").await.expect("HTTP request");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("JSON body");
    assert_eq!(v["error"]["code"], "bad_json", "{v}");
    assert!(d.alive());
}
