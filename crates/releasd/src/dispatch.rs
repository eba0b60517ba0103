//! Requests → store calls → responses, plus the events a successful change announces.
//!
//! Store calls block (sled transactions and flushes), so each runs in `spawn_blocking`, off
//! the async executor. Config text is parsed here, at the boundary, so every client gets the
//! same path-precise `Invalid` errors. Endpoint, verification, log and token requests live in
//! [`crate::exec`].

use std::sync::Arc;

use rel_domain::config::{AppConfig, AppConfigText};
use rel_domain::diff::diff;
use rel_domain::governance::Submitted;
use rel_domain::{
    Caller, Deployment, RelError, RelResult, ReleaseQuery, Snapshot, Store, Timestamp,
};
use rel_proto::{DaemonStatus, DiffView, DraftView, Event, ReleaseDetail, Request, Response};

use crate::server::Shared;

/// Deployments of a release shown in `release show`.
const RELEASE_HISTORY_LIMIT: usize = 100;
/// Upper bound on one page of any list, whatever the client asks.
const MAX_PAGE: u64 = 10_000;
/// A page size of 0 means "the default".
const DEFAULT_PAGE: u64 = 50;
/// Longest release description: every list of releases carries it, so it must stay small
/// (long notes belong in a linked document).
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

fn page(limit: u64) -> usize {
    let l = if limit == 0 {
        DEFAULT_PAGE
    } else {
        limit.min(MAX_PAGE)
    };
    usize::try_from(l).unwrap_or(usize::MAX)
}

/// Handle one request for `caller` (already authenticated). Never panics on client input; a
/// panic inside the store is turned into an `Internal` error for this request only.
pub async fn handle(
    shared: &Arc<Shared>,
    caller: &Caller,
    request: Request,
) -> RelResult<Response> {
    crate::auth::authorize(caller, &request)?;
    // The liveness probe answers without a trip through the blocking pool.
    if matches!(request, Request::Ping) {
        return Ok(Response::Pong);
    }
    // Like SIGTERM: stop accepting, finish in-flight work (this answer included), flush,
    // remove the socket, exit 0.
    if matches!(request, Request::DaemonStop) {
        tracing::info!(actor = %caller.actor.name, "stop requested over the socket: shutting down gracefully");
        shared.stop.notify_one();
        return Ok(Response::Done);
    }
    if crate::exec::handles(&request) {
        return crate::exec::handle(shared, caller, request).await;
    }
    // Status is a handful of point reads from sled's cache (the read gate waits at most for
    // one transaction, never for a flush): a hop through the blocking pool would cost more
    // than the work, and `relctl status` is what scripts poll.
    if matches!(request, Request::Status) {
        let run = || store_request(shared.store.as_ref(), shared, caller, request).0;
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
            tracing::error!(request = "status", "request handler panicked");
            Err(RelError::internal(
                "releasd hit an internal error handling status. See the releasd log and report it",
            ))
        });
    }
    let what = request_name(&request);
    let governs = is_governance(&request);
    let shared2 = Arc::clone(shared);
    let caller2 = caller.clone();
    let joined = tokio::task::spawn_blocking(move || {
        store_request(shared2.store.as_ref(), &shared2, &caller2, request)
    })
    .await;
    let (result, events) = match joined {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(request = what, error = %e, "request handler panicked");
            return Err(RelError::internal(format!(
                "releasd hit an internal error handling {what}; nothing was acknowledged. See the releasd log and report it"
            )));
        }
    };
    match &result {
        Ok(_) if governs || !events.is_empty() => {
            tracing::info!(request = what, actor = %caller.actor.name, "done")
        }
        Ok(_) => tracing::debug!(request = what, actor = %caller.actor.name, "done"),
        Err(e) => {
            tracing::info!(request = what, actor = %caller.actor.name, code = %e.code, error = %e.message, "refused")
        }
    }
    // The events themselves are published by the store, in commit order, once durable
    // (events.rs); `events` only decides the log level above.
    result
}

pub fn request_name(r: &Request) -> &'static str {
    match r {
        Request::Ping => "ping",
        Request::Status => "status",
        Request::DraftShow => "draft.show",
        Request::DraftApply(_) => "draft.apply",
        Request::DraftDiff { .. } => "draft.diff",
        Request::Validate(_) => "validate",
        Request::ReleaseCreate(_) => "release.create",
        Request::ReleaseList(_) => "release.list",
        Request::ReleaseShow { .. } => "release.show",
        Request::ReleasePrune { .. } => "release.prune",
        Request::Diff { .. } => "diff",
        Request::PlanDeploy(_) => "deploy.plan",
        Request::Deploy(_) => "deploy",
        Request::PlanRollback(_) => "rollback.plan",
        Request::Rollback(_) => "rollback",
        Request::EnvList => "env.list",
        Request::EnvShow { .. } => "env.show",
        Request::EnvCreate(_) => "env.create",
        Request::EnvHistory { .. } => "env.history",
        Request::Audit { .. } => "audit",
        Request::AuditVerify => "audit.verify",
        Request::Export => "export",
        Request::Import { .. } => "import",
        Request::Subscribe => "subscribe",
        Request::SubscribeSince { .. } => "subscribe",
        Request::Trigger { .. } => "trigger",
        Request::Verify { .. } => "verify",
        Request::Logs(_) => "logs",
        Request::LogShow { .. } => "logs.show",
        Request::TokenCreate { .. } => "token.create",
        Request::TokenList => "token.list",
        Request::TokenRevoke { .. } => "token.revoke",
        Request::DaemonStop => "daemon.stop",
        Request::ExportStream => "export.stream",
        Request::ImportChunk { .. } => "import.chunk",
        Request::ImportCommit => "import.commit",
        Request::Freeze { env: None, .. } => "freeze.all",
        Request::Freeze { .. } => "env.freeze",
        Request::Unfreeze { env: None } => "unfreeze.all",
        Request::Unfreeze { .. } => "env.unfreeze",
        Request::FreezeWindowAdd { .. } => "env.freeze-window.add",
        Request::FreezeWindowRemove { .. } => "env.freeze-window.remove",
        Request::EnvSetApprovals { .. } => "env.set",
        Request::EnvCreateGoverned { .. } => "env.create",
        Request::SubmitDeploy { .. } => "deploy.submit",
        Request::Requests { .. } => "requests",
        Request::Approve { .. } => "approve",
        Request::Reject { .. } => "reject",
    }
}

type Outcome = (RelResult<Response>, Vec<Event>);

fn no_events(r: RelResult<Response>) -> Outcome {
    (r, Vec::new())
}

/// Where stderr (the log) goes when it is a regular file, as a detached daemon's
/// `releasd.log` is; `None` for a terminal or a pipe. Read once: it does not change.
fn log_file() -> Option<String> {
    static LOG: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let path = std::fs::read_link("/proc/self/fd/2").ok()?;
        std::fs::metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|_| path.display().to_string())
    })
    .clone()
}

/// The synchronous part: talk to the store. Runs on a blocking thread.
fn store_request(store: &dyn Store, shared: &Shared, caller: &Caller, request: Request) -> Outcome {
    let actor = caller.actor.name.clone();
    match request {
        Request::Ping => no_events(Ok(Response::Pong)),
        Request::Status => no_events(store.status().map(|s| {
            let info = &shared.info;
            Response::Status(DaemonStatus {
                daemon_version: env!("CARGO_PKG_VERSION").to_string(),
                protocol: rel_proto::PROTOCOL_VERSION,
                pid: info.pid,
                socket: info.socket.display().to_string(),
                data_dir: info.data_dir.display().to_string(),
                started_at: info.started_at,
                http: info.http.clone(),
                store: s,
                caller: caller.clone(),
                log: log_file(),
                backend: match store.backend() {
                    Some(b) => rel_proto::StoreBackend {
                        kind: b.kind,
                        location: b.location,
                        endpoints: b.endpoints,
                        answered_by: b.answered_by,
                        revision: b.revision,
                    },
                    None => rel_proto::StoreBackend::sled(&info.data_dir.display().to_string()),
                },
                degraded: store.degraded(),
            })
        })),
        Request::DraftShow => no_events(store.draft().map(|d| {
            Response::Draft(d.map(|s| DraftView {
                digest: s.digest,
                config_json: s.config.to_canonical_json(),
            }))
        })),
        Request::DraftApply(text) => {
            let applied = (|| {
                let config = text.parse()?;
                // An empty file (wrong path, truncated) must not silently wipe the draft.
                config.check_not_empty()?;
                // jq expressions and templates too, so a bad one is refused with its path now
                // rather than failing requests after a deploy.
                rel_pipeline::validate_app(&config)?;
                let old = store.draft()?.map(|s| s.config).unwrap_or_default();
                let d = diff(&old, &config);
                let digest = store.apply_draft(config, caller, now())?;
                Ok((digest, d))
            })();
            match applied {
                Ok((digest, d)) => (
                    Ok(Response::DraftApplied { digest, diff: d }),
                    vec![Event::DraftApplied { digest, actor }],
                ),
                Err(e) => (Err(e), vec![]),
            }
        }
        Request::DraftDiff { tag } => no_events(draft_diff(store, tag)),
        Request::Validate(text) => no_events(parse_and_validate(&text).map(|c| Response::Valid {
            digest: Snapshot::of(c).digest,
        })),
        Request::ReleaseCreate(new) => {
            if new.description.len() > MAX_DESCRIPTION_BYTES {
                return no_events(Err(RelError::invalid(format!(
                    "description: {} bytes is over the limit of {MAX_DESCRIPTION_BYTES} bytes (64 KiB); shorten it and link to longer notes",
                    new.description.len()
                ))));
            }
            // Parse at the boundary for the path-precise message; the store snapshots it.
            if let Some(Err(e)) = new.config.as_ref().map(parse_and_validate) {
                return (Err(e), vec![]);
            }
            match store.create_release(&new, caller, now()) {
                Ok(out) => {
                    if let Some(d) = &out.deployment {
                        publish(shared, &d.deployment);
                    }
                    let mut events = vec![Event::ReleaseCreated {
                        release: out.release.clone(),
                        actor,
                    }];
                    if let Some(d) = out.deployment.as_ref().filter(|d| d.changed) {
                        events.push(Event::Deployed(d.deployment.clone()));
                    }
                    (Ok(Response::Created(out)), events)
                }
                Err(e) => (Err(e), vec![]),
            }
        }
        Request::ReleaseList(q) => no_events(store.releases(&q).map(Response::Releases)),
        Request::ReleaseShow { tag } => no_events(release_detail(store, &tag)),
        Request::ReleasePrune { keep, dry_run } => {
            match store.prune(
                usize::try_from(keep).unwrap_or(usize::MAX),
                dry_run,
                caller,
                now(),
            ) {
                Ok(report) => {
                    let events = if !dry_run && !report.removed.is_empty() {
                        vec![Event::ReleasesPruned {
                            removed: report.removed.clone(),
                            actor,
                        }]
                    } else {
                        vec![]
                    };
                    (Ok(Response::Pruned(report)), events)
                }
                Err(e) => (Err(e), vec![]),
            }
        }
        Request::Diff { from, to } => no_events(diff_between(store, &from, &to)),
        Request::PlanDeploy(req) => {
            no_events(store.plan_deploy(&req, caller).map(Response::DeployPlan))
        }
        Request::Deploy(req) => submit(store, shared, caller, &req, None, None),
        Request::SubmitDeploy {
            deploy,
            at,
            expires_at,
        } => submit(store, shared, caller, &deploy, at, expires_at),
        Request::PlanRollback(req) => {
            no_events(store.plan_rollback(&req).map(Response::RollbackPlan))
        }
        Request::Rollback(req) => match store.rollback(&req, caller, now()) {
            Ok(out) => {
                publish(shared, &out.deployment);
                let events = if out.changed {
                    vec![Event::RolledBack(out.deployment.clone())]
                } else {
                    vec![]
                };
                (Ok(Response::Deployed(out)), events)
            }
            Err(e) => (Err(e), vec![]),
        },
        Request::EnvList => no_events(store.environments().map(Response::Environments)),
        Request::EnvShow { name } => no_events(store.environment(&name).map(Response::Environment)),
        Request::EnvCreate(env) => match store.create_environment(&env, caller, now()) {
            Ok(view) => {
                let ev = Event::EnvironmentCreated {
                    name: view.env.name.clone(),
                    actor,
                };
                (Ok(Response::Environment(view)), vec![ev])
            }
            Err(e) => (Err(e), vec![]),
        },
        Request::EnvHistory {
            env,
            limit,
            before_id,
        } => no_events(
            store
                .history(&env, page(limit), before_id)
                .map(Response::History),
        ),
        Request::Audit { limit, before_seq } => {
            no_events(store.audit(page(limit), before_seq).map(Response::Audit))
        }
        Request::AuditVerify => no_events(store.verify_audit().map(Response::AuditReport)),
        Request::Export => no_events(store.export().map(|dump| Response::Export { dump })),
        Request::Import { dump } => match store.import(&dump, caller, now()) {
            Ok(status) => {
                shared.live.reload_all(store);
                shared.tokens.clear();
                (
                    Ok(Response::Imported(status)),
                    vec![Event::Imported { actor }],
                )
            }
            Err(e) => (Err(e), vec![]),
        },
        Request::Freeze { env, reason, until } => no_events(
            store
                .freeze(env.as_deref(), &reason, until, caller, now())
                .map(Response::Environments),
        ),
        Request::Unfreeze { env } => no_events(
            store
                .unfreeze(env.as_deref(), caller, now())
                .map(Response::Environments),
        ),
        Request::FreezeWindowAdd { env, spec, reason } => no_events(
            store
                .add_freeze_window(&env, &spec, &reason, caller, now())
                .map(Response::Environment),
        ),
        Request::FreezeWindowRemove { env, id } => no_events(
            store
                .remove_freeze_window(&env, id, caller, now())
                .map(Response::Environment),
        ),
        Request::EnvSetApprovals { env, approvals } => no_events(
            store
                .set_approvals(&env, approvals, caller, now())
                .map(Response::Environment),
        ),
        Request::EnvCreateGoverned { env, approvals } => no_events(
            store
                .create_environment_governed(&env, approvals, caller, now())
                .map(Response::Environment),
        ),
        Request::Requests {
            env,
            all,
            limit,
            before_id,
        } => no_events(
            store
                .requests(env.as_deref(), all, page(limit), before_id)
                .map(Response::Requests),
        ),
        Request::Approve { id } => no_events(approve(store, shared, caller, id)),
        Request::Reject { id, reason } => no_events(
            store
                .reject(id, &reason, caller, now())
                .map(|r| Response::ChangeRequest(Box::new(r))),
        ),
        // Turned into a stream by the connection before it gets here.
        Request::Subscribe | Request::SubscribeSince { .. } => no_events(Ok(Response::Subscribed)),
        Request::Trigger { .. }
        | Request::Verify { .. }
        | Request::Logs(_)
        | Request::LogShow { .. }
        | Request::TokenCreate { .. }
        | Request::TokenList
        | Request::TokenRevoke { .. }
        | Request::DaemonStop
        | Request::ExportStream
        | Request::ImportChunk { .. }
        | Request::ImportCommit => {
            no_events(Err(RelError::internal("routed to the wrong handler")))
        }
    }
}

/// Requests that change governance state (logged at info level when they succeed).
fn is_governance(r: &Request) -> bool {
    matches!(
        r,
        Request::Freeze { .. }
            | Request::Unfreeze { .. }
            | Request::FreezeWindowAdd { .. }
            | Request::FreezeWindowRemove { .. }
            | Request::EnvSetApprovals { .. }
            | Request::EnvCreateGoverned { .. }
            | Request::SubmitDeploy { .. }
            | Request::Approve { .. }
            | Request::Reject { .. }
    )
}

/// A deploy that goes live at once, or opens a request (scheduled, or needing approvals).
fn submit(
    store: &dyn Store,
    shared: &Shared,
    caller: &Caller,
    req: &rel_domain::DeployRequest,
    at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
) -> Outcome {
    match store.submit_deploy(req, at, expires_at, caller, now()) {
        Ok(Submitted::Deployed(out)) => {
            publish(shared, &out.deployment);
            let events = if out.changed {
                vec![Event::Deployed(out.deployment.clone())]
            } else {
                vec![]
            };
            (Ok(Response::Deployed(out)), events)
        }
        Ok(Submitted::Requested(r)) => no_events(Ok(Response::ChangeRequest(Box::new(r)))),
        Err(e) => (Err(e), vec![]),
    }
}

/// Count an approval; the last one deploys as the requester (roles as they are now). A
/// refused deploy is committed on the request (conflict, refused) and answered as an error.
fn approve(store: &dyn Store, shared: &Shared, caller: &Caller, id: u64) -> RelResult<Response> {
    let requester = shared.auth.caller_for_uid(store.request(id)?.requested_uid);
    let (request, outcome) = store.approve(id, caller, &requester, now())?;
    match outcome {
        Some(Err(e)) => Err(e),
        Some(Ok(out)) => {
            publish(shared, &out.deployment);
            Ok(Response::RequestDecided {
                request: Box::new(request),
                deployed: Some(out),
            })
        }
        None => Ok(Response::RequestDecided {
            request: Box::new(request),
            deployed: None,
        }),
    }
}

/// Structure, references, and every jq expression and template compiled.
fn parse_and_validate(text: &AppConfigText) -> RelResult<AppConfig> {
    let config = text.parse()?;
    rel_pipeline::validate_app(&config)?;
    Ok(config)
}

/// Make what a deploy or rollback made live the environment's compiled app, before the
/// client hears "ok" (so a trigger right after runs it). Blocking: compiles.
pub(crate) fn publish(shared: &Shared, d: &Deployment) {
    shared
        .live
        .publish(shared.store.as_ref(), &d.env, &d.release, d.id);
}

fn snapshot_of_tag(store: &dyn Store, tag: &str) -> RelResult<(String, Snapshot)> {
    let view = store.release(tag)?;
    let snap = store.snapshot(&view.release.digest)?;
    Ok((view.release.tag, snap))
}

fn draft_or_explain(store: &dyn Store) -> RelResult<Snapshot> {
    store.draft()?.ok_or_else(|| {
        RelError::not_found(
            "there is no draft yet: write an app config (`relctl app example > app.toml` gives a working one) and run `relctl app apply app.toml`",
        )
    })
}

/// Resolve a diff side: a release tag, or the word `draft`.
fn side(store: &dyn Store, name: &str) -> RelResult<(String, Snapshot)> {
    if name.eq_ignore_ascii_case("draft") {
        Ok(("draft".to_string(), draft_or_explain(store)?))
    } else {
        snapshot_of_tag(store, name)
    }
}

fn diff_between(store: &dyn Store, from: &str, to: &str) -> RelResult<Response> {
    let (from_name, a) = side(store, from)?;
    let (to_name, b) = side(store, to)?;
    Ok(Response::Diff(DiffView {
        from: from_name,
        to: to_name,
        from_digest: Some(a.digest),
        to_digest: Some(b.digest),
        diff: diff(&a.config, &b.config),
    }))
}

/// Draft vs `tag` (default: the newest release; with no release at all, vs nothing).
fn draft_diff(store: &dyn Store, tag: Option<String>) -> RelResult<Response> {
    let draft = draft_or_explain(store)?;
    let base = match tag {
        Some(t) => Some(snapshot_of_tag(store, &t)?),
        None => match newest_release(store, None)? {
            Some(tag) => Some(snapshot_of_tag(store, &tag)?),
            None => None,
        },
    };
    let (from, from_digest, from_config) = match base {
        Some((tag, snap)) => (tag, Some(snap.digest), snap.config),
        None => ("(no release yet)".to_string(), None, AppConfig::default()),
    };
    Ok(Response::Diff(DiffView {
        from,
        to: "draft".to_string(),
        from_digest,
        to_digest: Some(draft.digest),
        diff: diff(&from_config, &draft.config),
    }))
}

/// The newest release, or the newest with `seq` below `before`.
fn newest_release(store: &dyn Store, before: Option<u64>) -> RelResult<Option<String>> {
    let q = ReleaseQuery {
        state: None,
        filter: None,
        before_seq: before,
        limit: 1,
    };
    Ok(store
        .releases(&q)?
        .into_iter()
        .next()
        .map(|v| v.release.tag))
}

fn release_detail(store: &dyn Store, tag: &str) -> RelResult<Response> {
    let view = store.release(tag)?;
    let snap = store.snapshot(&view.release.digest)?;
    let previous = newest_release(store, Some(view.release.seq))?;
    let diff_from_previous = match &previous {
        Some(p) => diff(&snapshot_of_tag(store, p)?.1.config, &snap.config),
        None => diff(&AppConfig::default(), &snap.config),
    };
    let history = store.release_history(&view.release.tag, RELEASE_HISTORY_LIMIT)?;
    Ok(Response::Release(ReleaseDetail {
        view,
        config_json: snap.config.to_canonical_json(),
        previous,
        diff_from_previous,
        history,
    }))
}
