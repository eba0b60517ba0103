//! `relctl deploy` and `relctl rollback`: show the plan, get consent for protected
//! environments, then change. When a person confirmed a plan, the change is sent with the
//! plan's "from" as `expect`, so what they confirmed is exactly what happens (or a Conflict).

use rel_domain::{DeployRequest, RelError, RollbackRequest};
use rel_proto::{Request, Response};

use crate::cli::{DeployArgs, RollbackArgs};
use crate::confirm::{self, Consent};
use crate::session::{Session, out};
use crate::{json, reply, table};

fn expect_mismatch(env: &str, live: Option<&str>, expect: &str) -> anyhow::Error {
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
    let conn = s.connect().await?;
    let plan = reply!(conn, Request::PlanDeploy(req.clone()), Response::DeployPlan(p) => p);
    if let Some(expect) = &req.expect
        && !plan
            .from
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case(expect))
    {
        return Err(expect_mismatch(&plan.env, plan.from.as_deref(), expect));
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
    let outcome = reply!(conn, Request::Deploy(req), Response::Deployed(o) => o);
    s.show(
        || table::deployed(&outcome, s.ctx),
        || json::outcome(&outcome),
    )
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
        return Err(expect_mismatch(&plan.env, Some(&plan.from), expect));
    }
    let plan_text = table::rollback_plan(&plan, args.dry_run, s.ctx);
    if args.dry_run {
        return s.show(|| plan_text.clone(), || json::rollback_plan(&plan));
    }
    if !s.json() {
        out(&plan_text)?;
    }
    if env.env.protected {
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
