//! Daemon events and RPC answers: what the daemon says changes the state.

use rel_domain::config::{AppConfig, AppConfigText, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::{Deployment, Timestamp};
use rel_proto::{ClientError, Event, Request, Response, VerifyOutcome};

use super::App;
use crate::dialogs::deploy::verify_hint;
use crate::dialogs::{Dialog, ErrorModal, VerifyDialog};
use crate::msg::{Command, Purpose};
use crate::order::{next_env, promotion_order};
use crate::screens::Screen;
use crate::text::{checks_count, error_message, error_title, event_summary};

impl App {
    // ----- daemon events -----

    pub(super) fn on_event(&mut self, event: Event, at: Timestamp) -> Vec<Command> {
        self.last_event = Some((event_summary(&event), at));
        let mut cmds = vec![];
        match event {
            Event::ReleaseCreated { release, .. } => {
                let page = self.page();
                if !self.releases.insert_created(release, page) {
                    let g = self.next_gen();
                    cmds.push(self.releases.reload(g));
                }
                cmds.push(Command::call(Purpose::Status, Request::Status));
                if let Some(Dialog::Create(d)) = &mut self.dialog {
                    d.validate(&self.releases.rows);
                }
            }
            Event::Deployed(d) | Event::RolledBack(d) => cmds.extend(self.on_deployment(&d)),
            Event::VerificationFinished { env, release, .. } => {
                // EnvList refreshes the VERIFIED column (and, on its answer, the history);
                // an open deploy confirmation may have a different verdict now.
                cmds.push(Command::call(Purpose::Environments, Request::EnvList));
                cmds.extend(self.reload_detail_if(&[release.as_str()]));
                if self.envs.history_env.as_deref() == Some(env.as_str()) {
                    cmds.extend(self.history_cmd());
                }
                cmds.extend(self.replan(None));
            }
            Event::DraftApplied { digest, .. } => self.data.draft_digest = Some(digest),
            // Governance changes show on the Environments screen (frozen, approvals).
            Event::EnvironmentCreated { .. }
            | Event::Frozen { .. }
            | Event::Unfrozen { .. }
            | Event::GovernanceChanged { .. } => {
                cmds.push(Command::call(Purpose::Environments, Request::EnvList));
                cmds.extend(self.replan(None));
            }
            // The environments' open-request counts, the Requests screen and an open deploy
            // confirmation (its pending requests) all show requests.
            Event::RequestChanged(_) => {
                cmds.push(Command::call(Purpose::Environments, Request::EnvList));
                if self.requests.loaded {
                    let g = self.next_gen();
                    cmds.push(self.requests.reload(g));
                }
                cmds.extend(self.replan(None));
            }
            Event::ReleasesPruned { .. } | Event::Imported { .. } | Event::Lagged { .. } => {
                cmds.extend(self.refresh_all())
            }
            Event::ExecutionFinished { id, env, .. } => {
                if self.logs.wants(&env) {
                    cmds.push(Command::call(
                        Purpose::LogShow { id },
                        Request::LogShow { id },
                    ));
                }
            }
        }
        cmds
    }

    /// Someone (maybe us) changed what an environment serves: patch the list in place and
    /// reload the small things that show it.
    pub(super) fn on_deployment(&mut self, d: &Deployment) -> Vec<Command> {
        let order = self.env_names();
        self.releases.apply_deployment(d, &order);
        let mut cmds = vec![Command::call(Purpose::Environments, Request::EnvList)];
        let mut tags = vec![d.release.as_str()];
        if let Some(p) = &d.previous {
            tags.push(p);
        }
        cmds.extend(self.reload_detail_if(&tags));
        if self.envs.history_env.as_deref() == Some(d.env.as_str()) {
            cmds.extend(self.history_cmd());
        }
        cmds.extend(self.replan(Some(&d.env)));
        cmds
    }

    pub(super) fn reload_detail_if(&self, tags: &[&str]) -> Vec<Command> {
        match &self.detail {
            Some(det) if tags.contains(&det.tag.as_str()) => {
                vec![Command::call(
                    Purpose::ReleaseDetail {
                        tag: det.tag.clone(),
                    },
                    Request::ReleaseShow {
                        tag: det.tag.clone(),
                    },
                )]
            }
            _ => vec![],
        }
    }

    // ----- RPC answers -----

    pub(super) fn on_rpc(
        &mut self,
        purpose: Purpose,
        result: Result<Response, ClientError>,
    ) -> Vec<Command> {
        let response = match result {
            Ok(r) => r,
            Err(e) => return self.on_rpc_error(purpose, e),
        };
        match (purpose, response) {
            (Purpose::Status, Response::Status(s)) => {
                self.last_status = Some((s.pid, Some(s.data_dir.clone())));
                self.data.release_total = Some(s.store.releases);
                self.data.draft_digest = s.store.draft_digest;
                if !self.example_checked {
                    self.example_checked = true;
                    if s.store.releases == 0 {
                        return vec![Command::call(Purpose::Draft, Request::DraftShow)];
                    }
                }
            }
            (Purpose::Draft, Response::Draft(draft)) => {
                let empty = match draft {
                    None => true,
                    Some(v) => AppConfig::from_json(&v.config_json).is_ok_and(|c| c.is_empty()),
                };
                if empty && self.data.release_total == Some(0) {
                    return vec![Command::call(
                        Purpose::ApplyExample,
                        Request::DraftApply(AppConfigText {
                            format: ConfigFormat::Toml,
                            text: EXAMPLE_APP_TOML.to_string(),
                        }),
                    )];
                }
            }
            (Purpose::ApplyExample, Response::DraftApplied { digest, .. }) => {
                self.data.draft_digest = Some(digest);
                // Keep the note about the daemon relui started: this message replaces it.
                let started = self
                    .started_note()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default();
                self.info(format!("{started}Fresh store: rel's example app config is now the draft. Press n to release it."));
            }
            (Purpose::Releases { generation, append }, Response::Releases(rows)) => {
                let page = self.page();
                if self.releases.on_page(generation, append, rows, page) {
                    let g = self.next_gen();
                    if let Some(c) = self.releases.maybe_prefetch(g) {
                        return vec![c];
                    }
                }
            }
            (Purpose::Environments, Response::Environments(envs)) => {
                let keep = self
                    .envs
                    .selected(&self.data.envs)
                    .map(|e| e.env.name.clone());
                self.data.envs = promotion_order(envs);
                self.data.envs_loaded = true;
                self.envs.reselect(&self.data.envs, keep.as_deref());
                // An environment created while the create dialog is open shows up in it.
                if let Some(Dialog::Create(d)) = &mut self.dialog {
                    d.refresh_envs(&self.data.envs);
                }
                if self.screen == Screen::Environments || self.envs.history_env.is_some() {
                    return self.history_cmd();
                }
            }
            (Purpose::ReleaseDetail { tag }, Response::Release(detail)) => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.tag == tag) {
                    d.set(detail);
                }
            }
            (Purpose::EnvHistory { env }, Response::History(rows)) => {
                self.envs.on_history(&env, rows)
            }
            (Purpose::PlanDeploy { generation }, Response::DeployPlan(plan)) => {
                if let Some(Dialog::Deploy(d)) = &mut self.dialog {
                    d.on_plan(generation, Ok(plan));
                    d.verify_hint = d.plan.as_ref().and_then(|p| match &p.verdict {
                        Err(e) => verify_hint(&p.to, &p.env, e, &self.data.envs),
                        Ok(()) => None,
                    });
                }
            }
            (Purpose::PlanRollback { generation }, Response::RollbackPlan(plan)) => {
                if let Some(Dialog::Rollback(d)) = &mut self.dialog {
                    d.on_plan(generation, Ok(plan));
                }
            }
            (Purpose::Deploy { tag, env }, Response::Deployed(outcome)) => {
                if matches!(self.dialog, Some(Dialog::Deploy(_))) {
                    self.dialog = None;
                }
                if outcome.changed {
                    self.info(format!(
                        "Deployed {tag} to {env} (deployment #{}).",
                        outcome.deployment.id
                    ));
                    return self.on_deployment(&outcome.deployment);
                }
                self.info(format!("{tag} was already live in {env}: nothing changed."));
            }
            (Purpose::Deploy { tag, env }, Response::ChangeRequest(r)) => {
                if matches!(self.dialog, Some(Dialog::Deploy(_))) {
                    self.dialog = None;
                }
                let text = match r.kind {
                    rel_domain::governance::RequestKind::Approval => format!(
                        "{env} needs {}: request #{} to deploy {tag} is open; nothing is live yet. Another user approves it on the Requests screen (4).",
                        crate::text::count(u64::from(r.approvals_needed), "approval", "approvals"),
                        r.id
                    ),
                    rel_domain::governance::RequestKind::Scheduled => {
                        format!("Deploy of {tag} to {env} scheduled as request #{}.", r.id)
                    }
                };
                return self.on_gov_done(text);
            }
            (Purpose::Requests { generation, append }, Response::Requests(rows)) => {
                let page = self.page();
                if self.requests.on_page(generation, append, rows, page) {
                    let g = self.next_gen();
                    if let Some(c) = self.requests.maybe_prefetch(g) {
                        return vec![c];
                    }
                }
            }
            (Purpose::Freeze { env }, Response::Environments(list)) => {
                let until = list
                    .iter()
                    .find(|v| v.env.name == env)
                    .and_then(|v| v.governance.frozen.as_ref())
                    .and_then(|f| f.until);
                let end = match until {
                    Some(u) => format!("until {u} ({})", crate::gov::until_text(u, self.now)),
                    None => "until it is unfrozen".to_string(),
                };
                return self.on_gov_done(format!(
                    "Froze {env}: deploys there are refused {end}; rollbacks still work."
                ));
            }
            (Purpose::FreezeAll, Response::Environments(list)) => {
                let until = crate::gov::line_stop(&list).and_then(|f| f.until);
                let end = match until {
                    Some(u) => format!("until {u} ({})", crate::gov::until_text(u, self.now)),
                    None => "until an admin ends it (U on Environments)".to_string(),
                };
                return self.on_gov_done(format!(
                    "Stopped the line: deploys to every environment are refused {end}; rollbacks still work."
                ));
            }
            (Purpose::UnfreezeAll, Response::Environments(_)) => {
                return self.on_gov_done(
                    "Ended the stopped line: deploys go through again (an environment frozen on its own stays frozen)."
                        .to_string(),
                );
            }
            (Purpose::Unfreeze { env }, Response::Environments(_)) => {
                return self.on_gov_done(format!("Unfroze {env}: deploys go through again."));
            }
            (Purpose::Approve { id }, Response::RequestDecided { request, deployed }) => {
                let text = match &deployed {
                    Some(out) => format!(
                        "Approved request #{id}, the last approval needed: deployed {} to {} (deployment #{}).",
                        request.release, request.env, out.deployment.id
                    ),
                    None => format!(
                        "Approved request #{id} ({} approvals); it waits for more.",
                        crate::gov::approvals_text(&request)
                    ),
                };
                let mut cmds = self.on_gov_done(text);
                if let Some(out) = deployed {
                    cmds.extend(self.on_deployment(&out.deployment));
                }
                return cmds;
            }
            (Purpose::Reject { id }, Response::ChangeRequest(r)) => {
                return self.on_gov_done(format!(
                    "Rejected request #{id} ({} to {}): nothing was deployed.",
                    r.release, r.env
                ));
            }
            (Purpose::Rollback { env }, Response::Deployed(outcome)) => {
                if matches!(self.dialog, Some(Dialog::Rollback(_))) {
                    self.dialog = None;
                }
                let d = &outcome.deployment;
                self.info(format!(
                    "Rolled back {env} to {} (deployment #{}); {} is now held there.",
                    d.release,
                    d.id,
                    d.previous.as_deref().unwrap_or("the previous release")
                ));
                let d = d.clone();
                return self.on_deployment(&d);
            }
            (Purpose::Create { tag, deploy_to }, Response::Created(outcome)) => {
                if matches!(self.dialog, Some(Dialog::Create(_))) {
                    self.dialog = None;
                }
                let mut text = format!(
                    "Created release {tag} ({}).",
                    outcome.release.release.digest
                );
                if let Some(first) = outcome.same_content_as.first() {
                    text.push_str(&format!(" Same content as {first}."));
                }
                if let (Some(env), Some(dep)) = (&deploy_to, &outcome.deployment) {
                    text.push_str(&format!(
                        " Deployed to {env} (deployment #{}).",
                        dep.deployment.id
                    ));
                } else if let Some(env) = &deploy_to {
                    text.push_str(&format!(" Confirm its deploy to {env}."));
                }
                self.info(text);
                self.screen = Screen::Releases;
                self.detail = None;
                let page = self.page();
                let mut cmds = vec![Command::call(Purpose::Status, Request::Status)];
                if !self.releases.insert_created(outcome.release.clone(), page) {
                    let g = self.next_gen();
                    cmds.push(self.releases.reload(g));
                }
                self.releases.select_tag(&tag, page);
                if let Some(dep) = &outcome.deployment {
                    cmds.extend(self.on_deployment(&dep.deployment));
                } else if let Some(env) = deploy_to {
                    // Release & Deploy: every deploy goes through the confirmation (from →
                    // to, diff, policy, a protected environment's name), this one too.
                    cmds.extend(self.open_deploy(tag, Some(outcome.release.clone()), Some(env)));
                }
                return cmds;
            }
            (Purpose::Diff { .. }, Response::Diff(view)) => {
                if let Some(Dialog::Diff(d)) = &mut self.dialog {
                    let digests = match (view.from_digest, view.to_digest) {
                        (Some(a), Some(b)) => format!(" ({a} → {b})"),
                        _ => String::new(),
                    };
                    d.set(format!("{} → {}{digests}", view.from, view.to), view.diff);
                }
            }
            (Purpose::Logs { generation, append }, Response::Executions(rows)) => {
                let page = self.page();
                if self.logs.on_page(generation, append, rows, page) {
                    let g = self.next_gen();
                    if let Some(c) = self.logs.maybe_prefetch(g, true) {
                        return vec![c];
                    }
                }
            }
            (Purpose::Verify { env }, Response::Verified(outcome)) => {
                self.verifying.retain(|e| *e != env);
                return self.on_verified(outcome);
            }
            (Purpose::LogShow { .. }, Response::Execution(exec)) => {
                let page = self.page();
                self.logs.insert(exec, page);
            }
            (Purpose::PaletteDeploy { tag, env }, Response::Release(detail)) => {
                // Only if nothing else was opened meanwhile.
                if self.dialog.is_none() {
                    return self.open_deploy(tag, Some(detail.view), env);
                }
            }
            (Purpose::Diff { .. }, Response::Release(detail)) => {
                if let Some(Dialog::Diff(d)) = &mut self.dialog {
                    let header = match &detail.previous {
                        Some(p) => format!("{p} → {}", detail.view.release.tag),
                        None => format!(
                            "{} is the first release: nothing to compare with",
                            detail.view.release.tag
                        ),
                    };
                    d.set(header, detail.diff_from_previous);
                }
            }
            (purpose, other) => {
                self.warn(format!(
                    "releasd answered {purpose:?} with an unexpected {}",
                    response_name(&other)
                ));
            }
        }
        vec![]
    }

    pub(super) fn on_rpc_error(&mut self, purpose: Purpose, e: ClientError) -> Vec<Command> {
        let title = error_title(&e).to_string();
        let message = match &e {
            ClientError::Disconnected(why) if why == crate::text::NOT_CONNECTED => {
                self.not_connected_text()
            }
            _ => error_message(&e),
        };
        let connection = matches!(
            e,
            ClientError::Disconnected(_) | ClientError::Unreachable { .. }
        );
        let modal = |context: String| ErrorModal {
            title: title.clone(),
            message: message.clone(),
            context,
            hint: None,
        };
        match purpose {
            Purpose::Deploy { tag, env } => {
                if let Some(Dialog::Deploy(d)) = &mut self.dialog {
                    d.on_failed();
                }
                let mut m = modal(format!("Deploy {tag} to {env}"));
                if let ClientError::Rpc(r) = &e {
                    m.hint = verify_hint(&tag, &env, r, &self.data.envs);
                }
                self.error = Some(m);
                // What the confirmation showed may be stale now (Conflict): show the truth.
                return self.replan(Some(&env));
            }
            Purpose::Rollback { env } => {
                if let Some(Dialog::Rollback(d)) = &mut self.dialog {
                    d.on_failed();
                }
                self.error = Some(modal(format!("Roll back {env}")));
                return self.replan(Some(&env));
            }
            Purpose::Create { tag, .. } => {
                if let Some(Dialog::Create(d)) = &mut self.dialog {
                    d.submitting = false;
                }
                self.error = Some(modal(format!("Create release {tag}")));
            }
            Purpose::Verify { env } => {
                self.verifying.retain(|e| *e != env);
                self.error = Some(modal(format!("Verify {env}")));
            }
            Purpose::Diff { title: what } => {
                if matches!(self.dialog, Some(Dialog::Diff(_))) {
                    self.dialog = None;
                }
                self.error = Some(modal(format!("Diff {what}")));
            }
            Purpose::PlanDeploy { generation } => {
                if let Some(Dialog::Deploy(d)) = &mut self.dialog {
                    d.on_plan(generation, Err(format!("{title}: {message}")));
                }
            }
            Purpose::PlanRollback { generation } => {
                if let Some(Dialog::Rollback(d)) = &mut self.dialog {
                    d.on_plan(generation, Err(format!("{title}: {message}")));
                }
            }
            Purpose::ReleaseDetail { tag } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.tag == tag) {
                    d.error = Some(message);
                }
            }
            Purpose::EnvHistory { env } => self.envs.on_history_error(&env, message),
            Purpose::Releases { generation, .. } => {
                self.releases.on_error(generation);
                if !connection {
                    self.warn(format!("Cannot load releases: {message}"));
                }
            }
            Purpose::Status | Purpose::Environments | Purpose::Draft => {
                if !connection {
                    self.warn(format!("{title}: {message}"));
                }
            }
            Purpose::Logs { generation, .. } => self.logs.on_error(generation, message),
            Purpose::Requests { generation, .. } => self.requests.on_error(generation, message),
            Purpose::Freeze { env } => self.on_gov_failed(format!("Freeze {env}"), &e),
            Purpose::Unfreeze { env } => self.on_gov_failed(format!("Unfreeze {env}"), &e),
            Purpose::FreezeAll => self.on_gov_failed("Stop the line".into(), &e),
            Purpose::UnfreezeAll => self.on_gov_failed("End the stopped line".into(), &e),
            Purpose::Approve { id } => {
                self.on_gov_failed(format!("Approve request #{id}"), &e);
                // A refused last approval is recorded on the request: show it.
                return self.on_gov_reload();
            }
            Purpose::Reject { id } => self.on_gov_failed(format!("Reject request #{id}"), &e),
            Purpose::PaletteDeploy { tag, .. } => {
                if matches!(&e, ClientError::Rpc(r) if r.code == rel_domain::ErrorCode::NotFound) {
                    let text = self.no_release_text(&tag);
                    self.palette_warn(text);
                } else if !connection {
                    self.palette_warn(format!("Cannot look up release {tag}: {message}"));
                }
            }
            // The run may have been trimmed by retention already; the list stays as it is.
            Purpose::LogShow { .. } => {}
            Purpose::ApplyExample => {
                if !connection {
                    self.warn(format!(
                        "Could not apply the example app config as the draft: {message}"
                    ));
                }
            }
        }
        vec![]
    }
}

impl App {
    /// Our verification finished: show every check in a dialog (unless the user opened
    /// another one meanwhile: then the message line says it), and the VERIFIED column now.
    fn on_verified(&mut self, outcome: VerifyOutcome) -> Vec<Command> {
        let v = &outcome.verification;
        let text = format!(
            "Verification of {} in {} {}: {}.",
            outcome.release,
            outcome.env,
            if v.passed { "PASSED" } else { "FAILED" },
            checks_count(v)
        );
        if v.passed {
            self.info(text);
        } else {
            self.warn(text);
        }
        if let Some(e) =
            self.data.envs.iter_mut().find(|e| {
                e.env.name == outcome.env && e.deployment_id == Some(outcome.deployment.id)
            })
        {
            e.verification = Some(outcome.verification.clone());
        }
        let mut cmds = vec![Command::call(Purpose::Environments, Request::EnvList)];
        if self.envs.history_env.as_deref() == Some(outcome.env.as_str()) {
            cmds.extend(self.history_cmd());
        }
        cmds.extend(self.replan(None));
        if self.dialog.is_none() {
            let next = next_env(&self.data.envs, &outcome.env).map(|e| e.env.name.clone());
            self.dialog = Some(Dialog::Verify(VerifyDialog::new(outcome, next)));
        }
        cmds
    }
}

fn response_name(r: &Response) -> &'static str {
    match r {
        Response::Pong => "Pong",
        Response::Status(_) => "Status",
        Response::Draft(_) => "Draft",
        Response::DraftApplied { .. } => "DraftApplied",
        Response::Diff(_) => "Diff",
        Response::Valid { .. } => "Valid",
        Response::Created(_) => "Created",
        Response::Releases(_) => "Releases",
        Response::Release(_) => "Release",
        Response::Pruned(_) => "Pruned",
        Response::DeployPlan(_) => "DeployPlan",
        Response::Deployed(_) => "Deployed",
        Response::RollbackPlan(_) => "RollbackPlan",
        Response::Environments(_) => "Environments",
        Response::Environment(_) => "Environment",
        Response::History(_) => "History",
        Response::Audit(_) => "Audit",
        Response::AuditReport(_) => "AuditReport",
        Response::Export { .. } => "Export",
        Response::Imported(_) => "Imported",
        Response::Subscribed => "Subscribed",
        Response::Execution(_) => "Execution",
        Response::Executions(_) => "Executions",
        Response::Verified(_) => "Verified",
        Response::TokenCreated { .. } => "TokenCreated",
        Response::Tokens(_) => "Tokens",
        Response::Done => "Done",
        Response::ChangeRequest(_) => "ChangeRequest",
        Response::Requests(_) => "Requests",
        Response::RequestDecided { .. } => "RequestDecided",
    }
}
