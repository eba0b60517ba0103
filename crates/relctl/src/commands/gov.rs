//! Change governance (issue 11): `freeze --all`, `unfreeze --all`, `env freeze|unfreeze|set|
//! freeze-window`, `requests`, `approve`, `reject`.

use rel_domain::governance::parse_time;
use rel_domain::{EnvironmentView, Timestamp};
use rel_proto::{Request, Response};

use crate::cli::FreezeWindowCmd;
use crate::session::{Conn, Session};
use crate::{json, json_gov, reply, table, table_gov};

/// `--until` / `--at` / `--expires-in` text → an instant (durations count from now).
pub fn time_arg(s: &Session, field: &str, text: Option<&str>) -> anyhow::Result<Option<Timestamp>> {
    let now = s.ctx.now;
    let at = text.map(|t| parse_time(field, t, now)).transpose()?;
    // Refused here, before any plan is printed: the daemon would refuse it after.
    if let Some(at) = at {
        rel_domain::governance::check_future(field, at, now)?;
    }
    Ok(at)
}

fn frozen_report(list: &[EnvironmentView], s: &Session, verb: &str) -> String {
    let mut text = String::new();
    for v in list {
        match &v.governance.frozen {
            Some(f) => text.push_str(&format!(
                "{}: {}\n",
                v.env.name,
                table_gov::frozen_line(f, s.ctx)
            )),
            None => text.push_str(&format!("{}: {verb}\n", v.env.name)),
        }
    }
    text
}

pub async fn freeze(
    s: &Session,
    env: Option<String>,
    reason: String,
    until: Option<String>,
) -> anyhow::Result<()> {
    let until = time_arg(s, "--until", until.as_deref())?;
    let conn = s.connect().await?;
    let req = Request::Freeze { env, reason, until };
    let list = reply!(conn, req, Response::Environments(l) => l);
    s.show(
        || frozen_report(&list, s, "not frozen"),
        || json::environments(&list),
    )
}

pub async fn unfreeze(s: &Session, env: Option<String>) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let list = reply!(conn, Request::Unfreeze { env }, Response::Environments(l) => l);
    s.show(
        || frozen_report(&list, s, "unfrozen, deploys allowed"),
        || json::environments(&list),
    )
}

pub async fn set_approvals(s: &Session, env: String, approvals: u32) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let req = Request::EnvSetApprovals { env, approvals };
    let v = reply!(conn, req, Response::Environment(v) => v);
    s.show(|| table::environment(&v, s.ctx), || json::environment(&v))
}

pub async fn window(s: &Session, cmd: FreezeWindowCmd) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    // The window about to go, read first so the answer can say what was removed (the reply
    // is the environment as it is afterwards).
    let mut removing = None;
    if let FreezeWindowCmd::Remove { env, id } = &cmd
        && !s.json()
    {
        let before =
            reply!(conn, Request::EnvShow { name: env.clone() }, Response::Environment(v) => v);
        removing = before.governance.windows.into_iter().find(|w| w.id == *id);
    }
    let (env, req) = match cmd {
        FreezeWindowCmd::Add { env, spec, reason } => {
            (env.clone(), Request::FreezeWindowAdd { env, spec, reason })
        }
        FreezeWindowCmd::Remove { env, id } => {
            (env.clone(), Request::FreezeWindowRemove { env, id })
        }
        FreezeWindowCmd::List { env } => (env.clone(), Request::EnvShow { name: env }),
    };
    let v = reply!(conn, req, Response::Environment(v) => v);
    s.show(
        || match &removing {
            Some(w) => table_gov::window_removed(w, &v.governance, &env, s.ctx),
            None => table_gov::windows(&v.governance, &env, s.ctx),
        },
        || {
            v.governance
                .windows
                .iter()
                .map(json_gov::window)
                .collect::<Vec<_>>()
        },
    )
}

pub async fn requests(
    s: &Session,
    env: Option<String>,
    all: bool,
    limit: u64,
) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let fetch = async |before_id, limit: usize| {
        let req = Request::Requests {
            env: env.clone(),
            all,
            limit: limit as u64,
            before_id,
        };
        Ok(reply!(conn, req, Response::Requests(l) => l))
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (list, more) = crate::paging::collect_more(limit, fetch, |r| r.id).await?;
    s.show(
        || table_gov::requests(&list, s.ctx),
        || json_gov::requests(&list),
    )?;
    s.more_note(more, list.len(), true)
}

pub async fn approve(s: &Session, id: u64) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let (request, deployed) = reply!(conn, Request::Approve { id },
        Response::RequestDecided { request, deployed } => (request, deployed));
    s.show(
        || {
            let mut text = table_gov::request(&request, s.ctx);
            if let Some(d) = &deployed {
                text.push_str(&table::deployed(d, s.ctx));
            }
            text
        },
        || json_gov::ApprovedJson {
            request: json_gov::request(&request),
            deployment: deployed.as_ref().map(json::outcome),
        },
    )
}

pub async fn reject(s: &Session, id: u64, reason: String) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let r = reply!(conn, Request::Reject { id, reason }, Response::ChangeRequest(r) => r);
    s.show(
        || table_gov::request(&r, s.ctx),
        || json_gov::RequestAnswerJson {
            request: json_gov::request(&r),
        },
    )
}

/// A deploy that opened a request instead of going live.
pub fn show_request(s: &Session, r: &rel_domain::governance::ChangeRequest) -> anyhow::Result<()> {
    s.show(
        || table_gov::request(r, s.ctx),
        || json_gov::RequestAnswerJson {
            request: json_gov::request(r),
        },
    )
}

/// Send a deploy that may open a request; `Ok(None)` when it did (and was shown).
pub async fn submit(
    s: &Session,
    conn: &Conn,
    req: Request,
) -> anyhow::Result<Option<rel_domain::DeployOutcome>> {
    match conn.call(req).await? {
        Response::Deployed(o) => Ok(Some(o)),
        Response::ChangeRequest(r) => {
            show_request(s, &r)?;
            Ok(None)
        }
        other => Err(crate::session::unexpected(&other)),
    }
}
