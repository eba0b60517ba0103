//! `relctl env list | show | create | history`; the governance subcommands are in `gov.rs`.

use rel_domain::Environment;
use rel_proto::{Request, Response};

use crate::cli::EnvCmd;
use crate::session::{Session, out};
use crate::{json, reply, table};

pub async fn run(s: &Session, cmd: EnvCmd) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    match cmd {
        EnvCmd::List => {
            let list = reply!(conn, Request::EnvList, Response::Environments(l) => l);
            s.show(
                || table::environments(&list, s.ctx),
                || json::environments(&list),
            )
        }
        EnvCmd::Show { name } => {
            let v = reply!(conn, Request::EnvShow { name }, Response::Environment(v) => v);
            s.show(|| table::environment(&v, s.ctx), || json::environment(&v))
        }
        EnvCmd::Set { name, approvals } => {
            return super::gov::set_approvals(s, name, approvals).await;
        }
        EnvCmd::Freeze { env, reason, until } => {
            return super::gov::freeze(s, Some(env), reason, until).await;
        }
        EnvCmd::Unfreeze { env } => return super::gov::unfreeze(s, Some(env)).await,
        EnvCmd::FreezeWindow(cmd) => return super::gov::window(s, cmd).await,
        EnvCmd::Create {
            name,
            protected,
            requires,
            description,
            approvals,
        } => {
            // The daemon stamps the creation time; this one is only a placeholder.
            let env = Environment {
                name,
                description,
                protected,
                requires,
                created_at: s.ctx.now,
            };
            // With approvals: one transaction, so the environment never exists without them.
            let req = if approvals > 0 {
                Request::EnvCreateGoverned { env, approvals }
            } else {
                Request::EnvCreate(env)
            };
            let v = reply!(conn, req, Response::Environment(v) => v);
            s.show(
                || {
                    format!(
                        "created environment {}\n{}",
                        v.env.name,
                        table::environment(&v, s.ctx)
                    )
                },
                || json::environment(&v),
            )
        }
        EnvCmd::History { env, limit } => {
            let fetch = async |before_id, limit: usize| {
                let req = Request::EnvHistory {
                    env: env.clone(),
                    limit: limit as u64,
                    before_id,
                };
                Ok(reply!(conn, req, Response::History(l) => l))
            };
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let (list, more) = crate::paging::collect_more(limit, fetch, |d| d.id).await?;
            if list.is_empty() && !s.json() {
                return out(&format!(
                    "nothing was ever deployed to {env}: relctl deploy TAG --env {env}\n"
                ));
            }
            s.show(
                || table::history(&list, table::HistoryOf::Env, s.ctx),
                || json::history(&list),
            )?;
            s.more_note(more, list.len(), true)
        }
    }
}
