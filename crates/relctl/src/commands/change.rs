//! `relctl deploy` and `relctl rollback`: show the plan, get consent for protected
//! environments, then change. When a person confirmed a plan, the change is sent with the
//! plan's "from" as `expect`, so what they confirmed is exactly what happens (or a Conflict).

use rel_domain::governance::MAX_PENDING_PER_ENV;
use rel_domain::{DeployOutcome, DeployPlan, DeployRequest, ErrorCode, RelError, RollbackRequest};
use rel_proto::{ClientError, Request, Response};

use crate::cli::{DeployArgs, RollbackArgs};
use crate::commands::exec::failed_summary;
use crate::confirm::{self, Consent};
use crate::error::Reported;
use crate::session::{Conn, Session, out, unexpected};
use crate::{json, reply, table, table_exec};

/// `--expect` differs from what is live. A tag that names no release at all is a typo, not a
/// concurrent change, so it gets NotFound (exit 4) rather than the Conflict (exit 3) that tells
/// a script to re-read and retry.
async fn expect_mismatch(
    conn: &Conn,
    env: &str,
    live: Option<&str>,
    expect: &str,
) -> anyhow::Error {
    let running = match live {
        Some(l) => format!("{env} is running {l}"),
        None => format!("{env} has no release deployed"),
    };
    let lookup = conn
        .call(Request::ReleaseShow {
            tag: expect.to_string(),
        })
        .await;
    if let Err(e) = &lookup
        && let Some(ClientError::Rpc(rel)) = e.downcast_ref::<ClientError>()
        && rel.code == ErrorCode::NotFound
    {
        return RelError::not_found(format!(
            "--expect {expect}: no such release ({running}); pass the tag that is live now \
             (relctl env show {env}) and try again (nothing changed)"
        ))
        .into();
    }
    RelError::conflict(format!(
        "{env} serves {}, not {expect} (--expect): someone changed it since you looked; \
         check with relctl env show {env} and try again (nothing changed)",
        live.unwrap_or("nothing")
    ))
    .into()
}

pub async fn deploy(s: &Session, args: DeployArgs) -> anyhow::Result<()> {
    let mut req = DeployRequest {
        tag: args.tag,
        env: args.env,
        expect: args.expect,
        force_reason: if args.force { args.reason } else { None },
    };
    let at = super::gov::time_arg(s, "--at", args.at.as_deref())?;
    let expires_at = super::gov::time_arg(s, "--expires-in", args.expires_in.as_deref())?;
    let conn = s.connect().await?;
    let plan = reply!(conn, Request::PlanDeploy(req.clone()), Response::DeployPlan(p) => p);
    if at.is_some() {
        // Scheduled: freezes, approvals, --expect and the policy are judged when it runs,
        // not now; a protected environment still needs consent now.
        if !s.json() {
            out(&table::deploy_plan(
                &plan,
                req.force_reason.is_some(),
                s.ctx,
            ))?;
        }
        if plan.protected {
            confirm::protected(&plan.env, args.yes, None).await?;
        }
        let submit = Request::SubmitDeploy {
            deploy: req,
            at,
            expires_at,
        };
        let r = reply!(conn, submit, Response::ChangeRequest(r) => r);
        return super::gov::show_request(s, &r);
    }
    if let Some(expect) = &req.expect
        && !plan
            .from
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case(expect))
    {
        return Err(expect_mismatch(&conn, &plan.env, plan.from.as_deref(), expect).await);
    }
    // Only an admin's --force overrides the policy: for anyone else the daemon refuses the
    // forced deploy itself, and the plan must not claim "overridden" first.
    let may_force = conn.client.welcome().caller.role == rel_domain::model::Role::Admin;
    if args.dry_run {
        return dry_run(s, &plan, req.force_reason.is_some(), may_force);
    }
    if req.force_reason.is_some() && !may_force && plan.verdict.is_err() {
        let outcome = reply!(conn, Request::Deploy(req), Response::Deployed(o) => o);
        return s.show(
            || table::deployed(&outcome, s.ctx),
            || json::outcome(&outcome),
        );
    }
    if !plan.already_live {
        let plan_text = table::deploy_plan(&plan, req.force_reason.is_some(), s.ctx);
        if !s.json() {
            out(&plan_text)?;
        }
        if let Err(denied) = &plan.verdict
            && req.force_reason.is_none()
        {
            return Err(denied.clone().into());
        }
        if plan.protected {
            let consent =
                confirm::protected(&plan.env, args.yes, s.json().then_some(plan_text)).await?;
            if consent == Consent::Typed && req.expect.is_none() {
                req.expect = plan.from.clone();
            }
        }
    }
    let send = if expires_at.is_some() {
        Request::SubmitDeploy {
            deploy: req,
            at: None,
            expires_at,
        }
    } else {
        Request::Deploy(req)
    };
    // An environment that needs approvals answers with the request it opened.
    let Some(outcome) = super::gov::submit(s, &conn, send).await? else {
        return Ok(());
    };
    if args.verify {
        return verify_after_deploy(s, &conn, &outcome, args.auto_rollback).await;
    }
    s.show(
        || table::deployed(&outcome, s.ctx),
        || json::outcome(&outcome),
    )
}

/// `deploy --dry-run`: the plan, and the exit code the deploy would get: 0 if it would go
/// live (or open a request for approvals, or is live already), else its refusal's (5 for a
/// freeze, a hold, the policy or a missing permission; 3 when the environment has as many
/// pending requests as it may). `--expect` was checked before. The plan's own verdict is the
/// unforced one; what `--force` and approvals change is decided here as the daemon does.
fn dry_run(
    s: &Session,
    plan: &DeployPlan,
    force_asked: bool,
    may_force: bool,
) -> anyhow::Result<()> {
    let refusal = would_refuse(plan, force_asked, may_force);
    let forced = force_asked && may_force;
    let verdict = match (&refusal, &plan.verdict) {
        (Some(_), _) => "refused",
        (None, _) if plan.already_live => "ok",
        (None, _) if plan.governance.approvals > 0 => "request",
        (None, Ok(())) => "ok",
        (None, Err(_)) => "overridden",
    };
    s.show(
        || {
            let mut text = table::deploy_plan(plan, forced, s.ctx);
            let what = match verdict {
                "refused" => "it would be refused (below)",
                "request" => "deploying would open a request for approvals",
                _ if plan.already_live => "it is live already",
                _ => "deploying would make it live",
            };
            text.push_str(&format!("dry run: nothing changed; {what}\n"));
            text
        },
        || json::deploy_plan(plan, verdict, refusal.as_ref()),
    )?;
    match refusal {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The refusal the deploy would get, or `None` if it would go through (live or a request).
fn would_refuse(plan: &DeployPlan, force_asked: bool, may_force: bool) -> Option<RelError> {
    if force_asked && !may_force {
        return Some(RelError::permission(format!(
            "permission denied: --force overrides the policy and needs the admin role; without --force: relctl deploy {} --env {}",
            plan.to, plan.env
        )));
    }
    let needs_approvals = plan.governance.approvals > 0 && !plan.already_live;
    if needs_approvals && plan.governance.pending_requests >= MAX_PENDING_PER_ENV {
        return Some(RelError::conflict(format!(
            "{} has {} pending requests, the limit ({MAX_PENDING_PER_ENV}); approve or reject some first (relctl requests --env {})",
            plan.env, plan.governance.pending_requests, plan.env
        )));
    }
    if needs_approvals
        && let Some(r) = plan
            .pending
            .iter()
            .find(|r| r.kind == rel_domain::governance::RequestKind::Approval)
    {
        return Some(rel_domain::governance::duplicate_request(r, &plan.env));
    }
    match &plan.verdict {
        Ok(()) => None,
        // A request's --force never carries it past a freeze; on an environment without
        // approvals an admin's direct --force overrides the freeze and the policy.
        Err(_) if force_asked && !(needs_approvals && plan.governance.frozen.is_some()) => None,
        Err(e) => Some(e.clone()),
    }
}

/// `deploy --verify [--auto-rollback]`: verify what was just made live (also when it was
/// live already), and on failure roll back with `expect` = that release, so a change someone
/// else made in the meantime is never clobbered. Exit 7 whenever verification failed.
/// The person already consented to changing this environment when they deployed, and
/// `--auto-rollback` is their consent to undo it, so the rollback does not ask again.
async fn verify_after_deploy(
    s: &Session,
    conn: &Conn,
    outcome: &DeployOutcome,
    auto_rollback: bool,
) -> anyhow::Result<()> {
    let d = &outcome.deployment;
    let (rel, env) = (d.release.as_str(), d.env.as_str());
    if !s.json() {
        out(&table::deployed(outcome, s.ctx))?;
    }
    let v = match conn
        .client
        .call(Request::Verify {
            env: env.to_string(),
        })
        .await
    {
        Ok(Response::Verified(v)) => v,
        Ok(other) => return Err(unexpected(&other)),
        Err(ClientError::Rpc(e)) => {
            return Err(RelError::new(
                e.code,
                format!(
                    "{rel} is live in {env}, but verification could not run: {}; nothing was \
                     rolled back. Run relctl verify --env {env} once that is fixed",
                    e.message
                ),
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if !s.json() {
        out(&table_exec::verified(&v, s.ctx))?;
    }
    let mut rolled_back = None;
    let mut rollback_error = None;
    if !v.verification.passed && auto_rollback {
        let req = RollbackRequest {
            env: env.to_string(),
            to: None,
            expect: Some(rel.to_string()),
            reason: Some(format!(
                "auto-rollback: verification of {rel} failed: {}",
                failed_summary(&v)
            )),
        };
        match conn.client.call(Request::Rollback(req)).await {
            Ok(Response::Deployed(o)) => {
                if !s.json() {
                    out(&table::deployed(&o, s.ctx))?;
                }
                rolled_back = Some(o);
            }
            Ok(other) => return Err(unexpected(&other)),
            Err(ClientError::Rpc(e)) => rollback_error = Some(e.message),
            Err(e) => rollback_error = Some(e.to_string()),
        }
    }
    if s.json() {
        let doc = json::DeployVerifiedJson {
            // The deployment as it is now, with the verification recorded on it.
            deployment: if v.deployment.id == d.id {
                json::deployment(&v.deployment, outcome.changed)
            } else {
                json::outcome(outcome)
            },
            verify: json::verified(&v),
            auto_rollback: rolled_back.as_ref().map(json::outcome),
            auto_rollback_error: rollback_error.clone(),
        };
        out(&format!("{}\n", json::pretty(&doc)))?;
    }
    if v.verification.passed {
        return Ok(());
    }
    let summary = failed_summary(&v);
    let message = match (&rolled_back, &rollback_error) {
        (Some(o), _) => format!(
            "verification of {rel} in {env} failed: {summary}; rolled {env} back to {} \
             (deployment #{}). {rel} is now held in {env}: redeploying it needs --force --reason",
            o.deployment.release, o.deployment.id
        ),
        (None, Some(err)) => format!(
            "verification of {rel} in {env} failed: {summary}, and the automatic rollback did \
             not happen: {err}. Check relctl env show {env} and roll back by hand if {rel} is \
             still live"
        ),
        (None, None) => format!(
            "verification of {rel} in {env} failed: {summary}; {rel} is still live in {env}. \
             Roll back with relctl rollback --env {env}, or fix the release and deploy it again"
        ),
    };
    Err(Reported::verification_failed(message).into())
}

pub async fn rollback(s: &Session, args: RollbackArgs) -> anyhow::Result<()> {
    let mut req = RollbackRequest {
        env: args.env,
        to: args.to,
        expect: args.expect,
        reason: args.reason,
    };
    let conn = s.connect().await?;
    // Both reads at once: the plan, and whether the environment is protected.
    let (plan, env) = tokio::join!(
        conn.call(Request::PlanRollback(req.clone())),
        conn.call(Request::EnvShow {
            name: req.env.clone()
        }),
    );
    let plan = match plan? {
        Response::RollbackPlan(p) => p,
        other => return Err(crate::session::unexpected(&other)),
    };
    let env = match env? {
        Response::Environment(v) => v,
        other => return Err(crate::session::unexpected(&other)),
    };
    if let Some(expect) = &req.expect
        && !plan.from.eq_ignore_ascii_case(expect)
    {
        return Err(expect_mismatch(&conn, &plan.env, Some(&plan.from), expect).await);
    }
    let plan_text = table::rollback_plan(&plan, args.dry_run, s.ctx);
    if args.dry_run {
        return s.show(|| plan_text.clone(), || json::rollback_plan(&plan));
    }
    // `--to` what is live already: nothing to show or confirm; the daemon answers "nothing
    // changed" (and says so in JSON as `changed: false`).
    let no_op = plan.popped.is_empty() && plan.from == plan.to;
    if !s.json() && !no_op {
        out(&plan_text)?;
    }
    if env.env.protected && !no_op {
        let consent =
            confirm::protected(&plan.env, args.yes, s.json().then_some(plan_text)).await?;
        if consent == Consent::Typed && req.expect.is_none() {
            req.expect = Some(plan.from.clone());
        }
    }
    let outcome = reply!(conn, Request::Rollback(req), Response::Deployed(o) => o);
    s.show(
        || table::deployed(&outcome, s.ctx),
        || json::outcome(&outcome),
    )
}
