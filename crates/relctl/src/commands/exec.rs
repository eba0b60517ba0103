//! `relctl trigger | verify | logs`: run endpoints under what is live, check releases, read
//! the execution logs (§3.6).

use std::collections::BTreeSet;
use std::io::Write;

use rel_domain::{ErrorCode, ExecQuery, ExecStatus, Execution, RelError};
use rel_proto::{ClientError, Event, Request, Response, VerifyOutcome};

use crate::cli::{LogsArgs, TriggerArgs};
use crate::error::Reported;
use crate::session::{Conn, Session, read_input};
use crate::{json, reply, table_exec};

/// The run's input as compact JSON text, checked here so a typo is reported against the
/// flag that carried it (with serde's line and column) before anything is sent.
fn input(args: &TriggerArgs) -> anyhow::Result<String> {
    let (flag, text) = match (&args.data, &args.data_file) {
        (Some(data), _) => ("--data".to_string(), data.clone()),
        (None, Some(file)) => (format!("--data-file {}", file.display()), read_input(file)?),
        (None, None) => return Ok("{}".to_string()),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        RelError::invalid(format!(
            "{flag}: not valid JSON: {e}; pass a JSON value, e.g. --data '{{\"message\":\"hi\"}}' (nothing ran)"
        ))
    })?;
    Ok(value.to_string())
}

pub async fn trigger(s: &Session, args: TriggerArgs) -> anyhow::Result<()> {
    let input = input(&args)?;
    let conn = s.connect().await?;
    let e = reply!(conn, Request::Trigger {
        endpoint: args.endpoint,
        env: args.env,
        input,
    }, Response::Execution(e) => e);
    s.show(|| table_exec::execution(&e, s.ctx), || json::execution(&e))?;
    match e.status {
        ExecStatus::Ok => Ok(()),
        ExecStatus::Error => Err(Reported::run_failed(format!(
            "{} in {} ({}) failed: {}; logged as execution #{} (relctl logs --id {})",
            e.endpoint,
            e.env,
            e.release,
            e.error.as_deref().unwrap_or("no reason recorded"),
            e.id,
            e.id
        ))
        .into()),
    }
}

/// `1 of 2 checks failed (chat replies)`.
pub fn failed_summary(o: &VerifyOutcome) -> String {
    let checks = &o.verification.checks;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    format!(
        "{} of {} {} failed ({})",
        failed.len(),
        checks.len(),
        if checks.len() == 1 { "check" } else { "checks" },
        failed.join(", ")
    )
}

pub async fn verify(s: &Session, env: String) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let o = reply!(conn, Request::Verify { env }, Response::Verified(o) => o);
    s.show(|| table_exec::verified(&o, s.ctx), || json::verified(&o))?;
    if o.verification.passed {
        return Ok(());
    }
    Err(Reported::verification_failed(format!(
        "verification of {rel} in {env} failed: {summary}; recorded on deployment #{id}, so \
         {rel} cannot be promoted from {env}. Fix the release and deploy it, or roll back: \
         relctl rollback --env {env}",
        rel = o.release,
        env = o.env,
        summary = failed_summary(&o),
        id = o.deployment.id,
    ))
    .into())
}

pub async fn logs(s: &Session, args: LogsArgs) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    if let Some(id) = args.id {
        let e = reply!(conn, Request::LogShow { id }, Response::Execution(e) => e);
        return s.show(|| table_exec::execution(&e, s.ctx), || json::execution(&e));
    }
    if args.follow {
        return follow(s, &conn, &args).await;
    }
    let fetch = async |before_id, limit| {
        let query = ExecQuery {
            env: args.env.clone(),
            endpoint: args.endpoint.clone(),
            before_id,
            limit,
        };
        Ok(reply!(conn, Request::Logs(query), Response::Executions(l) => l))
    };
    let (list, more) = crate::paging::collect_more(args.limit, fetch, |e| e.id).await?;
    s.show(
        || table_exec::executions(&list, more, s.ctx),
        || json::executions(&list),
    )?;
    s.more_note(more, list.len(), false)
}

/// Write one line to stdout and flush it. `Ok(false)` when the reader went away
/// (`relctl logs --follow | head -1`): the follow is over, successfully.
fn emit(line: &str) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(line.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

fn follow_line(s: &Session, e: &Execution) -> String {
    if s.json() {
        let mut line = json::line(&json::execution(e));
        line.push('\n');
        line
    } else {
        table_exec::follow_line(e)
    }
}

/// Ids already printed, so catching up after a lag prints nothing twice. Bounded: the
/// oldest ids are forgotten, and the catch-up only looks at recent runs anyway.
const REMEMBERED: usize = 10_000;

async fn follow(s: &Session, conn: &Conn, args: &LogsArgs) -> anyhow::Result<()> {
    let mut events = conn.client.subscribe().await?;
    let wanted = |env: &str, endpoint: &str| {
        args.env.as_deref().is_none_or(|e| e == env)
            && args.endpoint.as_deref().is_none_or(|n| n == endpoint)
    };
    // After subscribing: checks --env exists (a typo would otherwise look like a quiet
    // system), and finds where "new" starts for catching up after a lag.
    let recent = |limit: usize| {
        Request::Logs(ExecQuery {
            env: args.env.clone(),
            endpoint: args.endpoint.clone(),
            before_id: None,
            limit,
        })
    };
    let newest = reply!(conn, recent(1), Response::Executions(l) => l);
    let baseline = newest.first().map_or(0, |e| e.id);
    let mut filters = Vec::new();
    if let Some(env) = &args.env {
        filters.push(format!("env {env}"));
    }
    if let Some(ep) = &args.endpoint {
        filters.push(format!("endpoint {ep}"));
    }
    let filters = if filters.is_empty() {
        String::new()
    } else {
        format!(" ({})", filters.join(", "))
    };
    // On stderr, so stdout stays pure JSON lines; scripts can wait for it as a ready signal.
    eprintln!(
        "following executions at {}{filters}: one {} per run as it finishes (Ctrl-C to stop)",
        s.socket.display(),
        if s.json() { "JSON object" } else { "line" }
    );
    if !s.json() && !emit(&table_exec::follow_header())? {
        return Ok(());
    }
    let mut printed: BTreeSet<u64> = BTreeSet::new();
    while let Some(event) = events.next().await {
        let mut batch = Vec::new();
        match event {
            Event::ExecutionFinished {
                id, env, endpoint, ..
            } if wanted(&env, &endpoint) => {
                match conn.client.call(Request::LogShow { id }).await {
                    Ok(Response::Execution(e)) => batch.push(e),
                    Ok(other) => return Err(crate::session::unexpected(&other)),
                    // Already trimmed by the retention bound: nothing left to print.
                    Err(ClientError::Rpc(e)) if e.code == ErrorCode::NotFound => {
                        eprintln!(
                            "note: execution #{id} finished but is no longer in the log (retention); skipped"
                        );
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Event::Lagged { missed } => {
                eprintln!(
                    "note: fell behind and missed {missed} events; catching up from the execution log"
                );
                let list = reply!(conn, recent(1000), Response::Executions(l) => l);
                batch.extend(
                    list.into_iter()
                        .rev()
                        .filter(|e| e.id > baseline && !printed.contains(&e.id)),
                );
            }
            _ => continue,
        }
        for e in batch {
            if !printed.insert(e.id) {
                continue;
            }
            if printed.len() > REMEMBERED {
                printed.pop_first();
            }
            if !emit(&follow_line(s, &e))? {
                return Ok(());
            }
        }
    }
    Err(RelError::unavailable(format!(
        "releasd at {} went away (the event stream ended); start it again with releasd and re-run relctl logs --follow",
        s.socket.display()
    ))
    .into())
}
