//! `relctl release create | list | show | prune` and `relctl diff`.

use rel_domain::{NewRelease, ReleaseQuery, ReleaseState};
use rel_proto::{Request, Response};

use super::app::{config_text, name_file};
use crate::cli::{CreateArgs, ReleaseCmd, StateArg};
use crate::confirm;
use crate::holds::Holds;
use crate::session::{Session, out};
use crate::{json, reply, table};

pub async fn run(s: &Session, cmd: ReleaseCmd) -> anyhow::Result<()> {
    match cmd {
        ReleaseCmd::Create(args) => create(s, args).await,
        ReleaseCmd::List { state, limit } => list(s, state, limit).await,
        ReleaseCmd::Show { tag } => {
            let conn = s.connect().await?;
            let (d, envs) = tokio::join!(
                conn.call(Request::ReleaseShow { tag }),
                conn.call(Request::EnvList)
            );
            let d = match d? {
                Response::Release(d) => d,
                other => return Err(crate::session::unexpected(&other)),
            };
            let holds = holds(envs?)?;
            s.show(
                || table::release_detail(&d, &holds, s.ctx),
                || json::release_detail(&d, &holds),
            )
        }
        ReleaseCmd::Prune { keep, dry_run } => {
            let conn = s.connect().await?;
            let r = reply!(conn, Request::ReleasePrune { keep, dry_run }, Response::Pruned(r) => r);
            s.show(|| table::pruned(&r), || json::pruned(&r))
        }
    }
}

pub async fn diff(s: &Session, from: String, to: String) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let view = reply!(conn, Request::Diff { from, to }, Response::Diff(v) => v);
    s.show(|| table::diff(&view, s.ctx), || json::diff(&view))
}

async fn create(s: &Session, args: CreateArgs) -> anyhow::Result<()> {
    let config = match &args.from {
        Some(path) => {
            let text = config_text(path)?;
            // Check here too so a bad file is named in the error; the daemon re-validates.
            text.parse().map_err(|e| name_file(path, e.into()))?;
            Some(text)
        }
        None => None,
    };
    let conn = s.connect().await?;
    if let Some(env) = &args.deploy {
        let view =
            reply!(conn, Request::EnvShow { name: env.clone() }, Response::Environment(v) => v);
        if view.env.protected {
            let plan = format!(
                "create release {} and deploy it to {env} (protected), replacing {}\n",
                args.tag,
                view.live.as_deref().unwrap_or("nothing")
            );
            if !s.json() {
                out(&plan)?;
            }
            confirm::protected(env, args.yes, s.json().then_some(plan)).await?;
        }
    }
    let req = NewRelease {
        tag: args.tag,
        description: args.description,
        config,
        deploy_to: args.deploy,
    };
    let created = reply!(conn, Request::ReleaseCreate(req), Response::Created(c) => c);
    s.show(
        || table::created(&created, s.ctx),
        || json::created(&created),
    )
}

async fn list(s: &Session, state: Option<StateArg>, limit: usize) -> anyhow::Result<()> {
    // Held is not a state of its own (a held release may be live elsewhere): list all and
    // keep the held ones.
    let held_only = state == Some(StateArg::Held);
    let state = state.and_then(|st| match st {
        StateArg::Ready => Some(ReleaseState::Ready),
        StateArg::Deployed => Some(ReleaseState::Deployed),
        StateArg::Superseded => Some(ReleaseState::Superseded),
        StateArg::Held => None,
    });
    let conn = s.connect().await?;
    let fetch = async |before_seq, limit| {
        let query = ReleaseQuery {
            state,
            filter: None,
            before_seq,
            limit,
        };
        Ok(reply!(conn, Request::ReleaseList(query), Response::Releases(l) => l))
    };
    let envs = conn.call(Request::EnvList).await;
    let holds = holds(envs?)?;
    let (list, more) = if held_only {
        let all = crate::paging::collect(usize::MAX, fetch, |r| r.release.seq).await?;
        let mut held: Vec<_> = all
            .into_iter()
            .filter(|r| !holds.held_in(&r.release.tag).is_empty())
            .collect();
        let more = limit > 0 && held.len() > limit;
        held.truncate(if limit == 0 { usize::MAX } else { limit });
        (held, more)
    } else {
        crate::paging::collect_more(limit, fetch, |r| r.release.seq).await?
    };
    if list.is_empty() && !s.json() {
        if held_only {
            return out("no held releases\n");
        }
        return out(&match state {
            Some(st) => format!("no {} releases\n", st.as_str()),
            None => "no releases yet: apply a config (relctl app apply app.toml), then relctl release create v1.0.0 -d \"first release\"\n".to_string(),
        });
    }
    s.show(
        || table::releases(&list, more, &holds, s.ctx),
        || json::releases(&list, &holds),
    )?;
    s.more_note(more, list.len(), false)
}

/// Where releases are held, from an `EnvList` answer.
fn holds(envs: Response) -> anyhow::Result<Holds> {
    match envs {
        Response::Environments(l) => Ok(Holds::from_envs(&l)),
        other => Err(crate::session::unexpected(&other)),
    }
}
