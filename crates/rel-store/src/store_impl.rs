//! `Store` for `SledStore`: each mutating method is one `mutate` (transaction + flush); each
//! read holds the read gate so it sees whole transactions only.

use rel_domain::config::AppConfig;
use rel_domain::diff::{Diff, diff};
use rel_domain::model::*;
use rel_domain::policy::{self, Action};
use rel_domain::snapshot::{Digest, Snapshot};
use rel_domain::store::{ChangeSink, Dump, Store};
use rel_domain::{RelError, RelResult, Timestamp};

use crate::deploy::{self, RollbackPrep};
use crate::records::*;
use crate::trees::{Kv, T, Trees};
use crate::writer::Mode;
use crate::{SledStore, audit_log, dump, envs, events, exec, gov, read, releases, write};
use rel_domain::governance::{ChangeRequest, Decided, Submitted};

fn diff_digests(trees: &Trees, from: Option<&Digest>, to: &Digest) -> RelResult<Diff> {
    let to = read::snapshot(trees, to)?;
    let from = match from {
        Some(d) => read::snapshot(trees, d)?.config,
        None => AppConfig::default(),
    };
    Ok(diff(&from, &to.config))
}

/// The store's counters (`relctl status`): all in `meta`.
pub(crate) fn status_of(t: &Trees) -> RelResult<StoreStatus> {
    let draft_digest = match t.get(T::Meta, meta::DRAFT_DIGEST)? {
        Some(v) => Some(dec_plain("draft digest", &v)?),
        None => None,
    };
    Ok(StoreStatus {
        releases: read::meta_u64(t, meta::RELEASE_COUNT)?,
        environments: read::env_names(t)?.len() as u64,
        deployments: read::meta_u64(t, meta::LAST_DEPLOYMENT)?,
        audit_entries: read::audit_head(t)?.map(|h| h.0).unwrap_or(0),
        draft_digest,
    })
}

impl Store for SledStore {
    fn status(&self) -> RelResult<StoreStatus> {
        // sled: the writer publishes the counters after each batch that changed them, so
        // the poll scripts make never waits behind a batch being applied.
        if let crate::Backend::Sled { status, .. } = &self.backend
            && let Some(s) = status.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
        {
            return Ok(s.clone());
        }
        let g = self.reader();
        status_of(&g.trees())
    }

    fn draft(&self) -> RelResult<Option<Snapshot>> {
        let g = self.reader();
        let trees = g.trees();
        Ok(read::draft(&trees)?.map(Snapshot::of))
    }

    fn apply_draft(&self, config: AppConfig, caller: &Caller, now: Timestamp) -> RelResult<Digest> {
        config.validate()?;
        let json = config.to_canonical_json();
        let digest = Digest::of(json.as_bytes());
        let caller = caller.clone();
        self.mutate(move |tx| {
            policy::authorize(&caller, &Action::ApplyDraft)?;
            let same = match tx.get(T::Meta, meta::DRAFT_DIGEST)? {
                Some(v) => dec_plain::<Digest>("draft digest", &v)? == digest,
                None => false,
            };
            if same {
                return Ok(digest);
            }
            tx.put(T::Meta, meta::DRAFT, json.as_bytes())?;
            tx.put(T::Meta, meta::DRAFT_DIGEST, enc_plain(&digest)?)?;
            let detail = format!(
                "{digest}: {} tools, {} pipelines, {} endpoints, {} checks",
                config.tools.len(),
                config.pipelines.len(),
                config.endpoints.len(),
                config.checks.len()
            );
            write::audit(tx, now, &caller.actor.name, "draft.apply", &detail)?;
            events::append(
                tx,
                &Change::DraftApplied {
                    digest,
                    actor: caller.actor.name.clone(),
                },
            )?;
            Ok(digest)
        })
    }

    fn create_release(
        &self,
        req: &NewRelease,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<CreateOutcome> {
        let given = match &req.config {
            Some(text) => Some(Snapshot::of(text.parse()?)),
            None => None,
        };
        let (r, c) = (req.clone(), caller.clone());
        let (release, deployment) = self.mutate(move |tx| {
            let (release, dep) = releases::create_tx(tx, &r, given.as_ref(), &c, now)?;
            let live_in = dep.iter().map(|d| d.deployment.env.clone()).collect();
            events::append(
                tx,
                &Change::ReleaseCreated {
                    release: release.clone(),
                    live_in,
                    actor: c.actor.name.clone(),
                },
            )?;
            if let Some(d) = dep.as_ref().filter(|d| d.changed) {
                events::append(tx, &Change::Deployed(d.deployment.clone()))?;
            }
            Ok((release, dep))
        })?;
        let g = self.reader();
        let trees = g.trees();
        let order = releases::order_names(&trees)?;
        let same_content_as = releases::same_content(&trees, &release)?;
        let release = releases::view(&trees, release, &order)?;
        Ok(CreateOutcome {
            release,
            same_content_as,
            deployment,
        })
    }

    fn release(&self, tag: &str) -> RelResult<ReleaseView> {
        let g = self.reader();
        let trees = g.trees();
        let r = read::release_by_tag(&trees, tag)?;
        releases::view(&trees, r, &releases::order_names(&trees)?)
    }

    fn releases(&self, query: &ReleaseQuery) -> RelResult<Vec<ReleaseView>> {
        let g = self.reader();
        let trees = g.trees();
        releases::list(&trees, query)
    }

    fn snapshot(&self, digest: &Digest) -> RelResult<Snapshot> {
        let g = self.reader();
        let trees = g.trees();
        read::snapshot(&trees, digest)
    }

    fn release_history(&self, tag: &str, limit: usize) -> RelResult<Vec<Deployment>> {
        let g = self.reader();
        let trees = g.trees();
        let r = read::release_by_tag(&trees, tag)?;
        releases::release_history(&trees, r.seq, limit)
    }

    fn prune(
        &self,
        keep: usize,
        dry_run: bool,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<PruneReport> {
        self.prune_impl(keep, dry_run, caller, now)
    }

    fn environments(&self) -> RelResult<Vec<EnvironmentView>> {
        let g = self.reader();
        let trees = g.trees();
        releases::promotion_order(&trees)?
            .into_iter()
            .map(|r| envs::view(&trees, r))
            .collect()
    }

    fn environment(&self, name: &str) -> RelResult<EnvironmentView> {
        let g = self.reader();
        let trees = g.trees();
        envs::view(&trees, read::env_required(&trees, name)?)
    }

    fn create_environment(
        &self,
        env: &Environment,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView> {
        let (e, c) = (env.clone(), caller.clone());
        let rec = self.mutate(move |tx| {
            let rec = envs::create_tx(tx, &e, &c, now)?;
            events::append(
                tx,
                &Change::EnvironmentCreated {
                    name: rec.env.name.clone(),
                    actor: c.actor.name.clone(),
                },
            )?;
            Ok(rec)
        })?;
        let g = self.reader();
        let trees = g.trees();
        envs::view(&trees, rec)
    }

    fn history(
        &self,
        env: &str,
        limit: usize,
        before_id: Option<u64>,
    ) -> RelResult<Vec<Deployment>> {
        let g = self.reader();
        let trees = g.trees();
        read::env_required(&trees, env)?;
        envs::history(&trees, env, limit, before_id)
    }

    fn plan_deploy(&self, req: &DeployRequest, caller: &Caller) -> RelResult<DeployPlan> {
        let g = self.reader();
        let trees = g.trees();
        let t = &trees;
        let env = read::env_required(t, &req.env)?;
        let release = read::release_by_tag(t, &req.tag)?;
        let state = read::env_state(t, &env.env.name)?;
        let from = match state.live {
            Some(seq) => Some(read::release_required(t, seq)?),
            None => None,
        };
        let unforced = DeployRequest {
            force_reason: None,
            ..req.clone()
        };
        let now = crate::now();
        let verdict =
            deploy::prepare_deploy(t, &unforced, caller, now, deploy::Gate::Approved).map(|_| ());
        Ok(DeployPlan {
            env: env.env.name.clone(),
            from: from.as_ref().map(|r| r.tag.clone()),
            to: release.tag.clone(),
            diff: diff_digests(t, from.as_ref().map(|r| &r.digest), &release.digest)?,
            verdict,
            protected: env.env.protected,
            already_live: state.live == Some(release.seq),
            governance: Box::new(crate::gov::view(t, &env.env.name, now)?),
            pending: crate::gov::pending_for(t, &env.env.name, &release.tag)?,
        })
    }

    fn deploy(
        &self,
        req: &DeployRequest,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<DeployOutcome> {
        let (r, c) = (req.clone(), caller.clone());
        self.mutate(move |tx| {
            let out = deploy::deploy_tx(tx, &r, &c, now)?;
            if out.changed {
                events::append(tx, &Change::Deployed(out.deployment.clone()))?;
            }
            Ok(out)
        })
    }

    fn plan_rollback(&self, req: &RollbackRequest) -> RelResult<RollbackPlan> {
        let g = self.reader();
        let trees = g.trees();
        let t = &trees;
        match deploy::prepare_rollback(t, req)? {
            RollbackPrep::NoOp(dep) => Ok(RollbackPlan {
                env: dep.env.clone(),
                from: dep.release.clone(),
                to: dep.release,
                popped: Vec::new(),
                diff: Diff::default(),
            }),
            RollbackPrep::Move { env, mv, .. } => {
                let from = read::release_required(t, mv.from)?;
                let to = read::release_required(t, mv.to)?;
                let mut popped = Vec::new();
                for s in &mv.popped {
                    let tag = read::release_required(t, *s)?.tag;
                    if !popped.contains(&tag) {
                        popped.push(tag);
                    }
                }
                Ok(RollbackPlan {
                    env: env.env.name,
                    diff: diff_digests(t, Some(&from.digest), &to.digest)?,
                    from: from.tag,
                    to: to.tag,
                    popped,
                })
            }
        }
    }

    fn rollback(
        &self,
        req: &RollbackRequest,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<DeployOutcome> {
        let (r, c) = (req.clone(), caller.clone());
        self.mutate(move |tx| {
            let out = deploy::rollback_tx(tx, &r, &c, now)?;
            if out.changed {
                events::append(tx, &Change::RolledBack(out.deployment.clone()))?;
            }
            Ok(out)
        })
    }

    fn audit(&self, limit: usize, before_seq: Option<u64>) -> RelResult<Vec<AuditEntry>> {
        let g = self.reader();
        let trees = g.trees();
        audit_log::list(&trees, limit, before_seq)
    }

    fn verify_audit(&self) -> RelResult<AuditReport> {
        let g = self.reader();
        let trees = g.trees();
        audit_log::verify(&trees)
    }

    fn export(&self) -> RelResult<Dump> {
        let mut out = Vec::new();
        self.export_to(&mut out)?;
        String::from_utf8(out).map_err(|e| RelError::internal(format!("export: not UTF-8: {e}")))
    }

    fn export_to(&self, out: &mut dyn std::io::Write) -> RelResult<()> {
        let g = self.reader();
        let trees = g.trees();
        dump::export_to(&trees, self.execs.as_ref(), crate::now(), out)
    }

    fn import(&self, text: &str, caller: &Caller, now: Timestamp) -> RelResult<StoreStatus> {
        policy::authorize(caller, &Action::Import)?;
        let parsed = dump::parse(text)?;
        let caller = caller.clone();
        self.submit(Mode::Exclusive, move |tx| {
            // Run alone: the scan of what exists and the writes are one decision.
            let old = dump::existing_keys(&tx.committed())?;
            dump::import_tx(tx, &parsed, &old, &caller, now)?;
            events::append(
                tx,
                &Change::Imported {
                    actor: caller.actor.name.clone(),
                },
            )?;
            Ok(())
        })?;
        // sled got the imported logs with the rest; they replace the segment log's.
        if let Some(execs) = &self.execs {
            execs.clear()?;
            self.take_over_sled_executions()?;
        }
        self.status()
    }

    fn record_verification(
        &self,
        env: &str,
        deployment_id: u64,
        verification: &Verification,
        caller: &Caller,
    ) -> RelResult<Deployment> {
        let (e, v, c) = (env.to_string(), verification.clone(), caller.clone());
        self.mutate(move |tx| {
            let d = exec::record_verification_tx(tx, &e, deployment_id, &v, &c)?;
            events::append(
                tx,
                &Change::VerificationFinished {
                    env: e.clone(),
                    deployment_id,
                    release: d.release.clone(),
                    passed: v.passed,
                },
            )?;
            Ok(d)
        })
    }

    fn append_execution(&self, e: &Execution, retention: usize) -> RelResult<u64> {
        if let Some(execs) = &self.execs {
            return execs.append_wait(e, retention, true);
        }
        let e = e.clone();
        self.mutate(move |tx| events::append_execution(tx, &e, retention))
    }

    /// Append an execution log without waiting for a disk sync: answered once the log is
    /// written (it survives kill -9), synced within 50 ms (sled: `execlog::SYNC_EVERY`;
    /// etcd: `writer::LOGGED_SYNC_EVERY` does not apply, etcd commits are replicated).
    fn append_execution_logged(
        &self,
        e: &rel_domain::model::Execution,
        retention: usize,
    ) -> RelResult<u64> {
        if let Some(execs) = &self.execs {
            return execs.append_wait(e, retention, false);
        }
        let e = e.clone();
        self.submit(Mode::Logged, move |tx| {
            events::append_execution(tx, &e, retention)
        })
    }

    fn append_execution_nowait(
        &self,
        exec: Execution,
        retention: usize,
        done: rel_domain::store::ExecDone,
    ) -> Result<(), Box<(Execution, rel_domain::store::ExecDone)>> {
        match &self.execs {
            Some(execs) => {
                execs.append(exec, retention, done);
                Ok(())
            }
            None => Err(Box::new((exec, done))),
        }
    }

    fn executions(&self, query: &ExecQuery) -> RelResult<Vec<Execution>> {
        if let Some(execs) = &self.execs {
            return execs.list(query);
        }
        let g = self.reader();
        let trees = g.trees();
        exec::list(&trees, query)
    }

    fn execution(&self, id: u64) -> RelResult<Execution> {
        let found = match &self.execs {
            Some(execs) => execs.get(id)?,
            None => {
                let g = self.reader();
                let trees = g.trees();
                exec::execution(&trees, id)?
            }
        };
        found.ok_or_else(|| {
            RelError::not_found(format!(
                "no execution #{id} (it may have aged out of the log); relctl logs lists recent ones"
            ))
        })
    }

    fn create_token(
        &self,
        name: &str,
        secret_hash: &Digest,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<TokenInfo> {
        let (n, h, c) = (name.to_string(), *secret_hash, caller.clone());
        self.mutate(move |tx| exec::create_token_tx(tx, &n, &h, &c, now))
    }

    fn tokens(&self) -> RelResult<Vec<TokenInfo>> {
        let g = self.reader();
        let trees = g.trees();
        exec::tokens(&trees)
    }

    fn revoke_token(&self, name: &str, caller: &Caller, now: Timestamp) -> RelResult<()> {
        let (n, c) = (name.to_string(), caller.clone());
        self.mutate(move |tx| exec::revoke_token_tx(tx, &n, &c, now))
    }

    fn token_by_hash(&self, secret_hash: &Digest) -> RelResult<Option<TokenInfo>> {
        let g = self.reader();
        let trees = g.trees();
        exec::token_by_hash(&trees, secret_hash)
    }

    fn set_change_sink(&self, sink: ChangeSink) {
        *self.sink.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    fn changes_since(&self, after: u64, limit: usize) -> RelResult<Vec<ChangeEvent>> {
        let g = self.reader();
        let trees = g.trees();
        events::since(&trees, after, limit)
    }

    fn backend(&self) -> Option<rel_domain::store::BackendInfo> {
        match &self.backend {
            crate::Backend::Etcd(b) => Some(b.info()),
            crate::Backend::Sled { .. } => None,
        }
    }

    fn is_shared(&self) -> bool {
        matches!(self.backend, crate::Backend::Etcd(_))
    }

    fn degraded(&self) -> Option<String> {
        match &self.backend {
            crate::Backend::Sled { degraded, .. } => {
                degraded.lock().unwrap_or_else(|e| e.into_inner()).clone()
            }
            crate::Backend::Etcd(_) => None,
        }
    }

    fn last_change(&self) -> RelResult<u64> {
        let g = self.reader();
        let trees = g.trees();
        events::last(&trees)
    }

    fn freeze(
        &self,
        env: Option<&str>,
        reason: &str,
        until: Option<Timestamp>,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<Vec<EnvironmentView>> {
        let (e, r, c) = (env.map(str::to_string), reason.to_string(), caller.clone());
        let names = self.mutate(move |tx| gov::freeze_tx(tx, e.as_deref(), &r, until, &c, now))?;
        self.views(&names)
    }

    fn unfreeze(
        &self,
        env: Option<&str>,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<Vec<EnvironmentView>> {
        let (e, c) = (env.map(str::to_string), caller.clone());
        let names = self.mutate(move |tx| gov::unfreeze_tx(tx, e.as_deref(), &c, now))?;
        self.views(&names)
    }

    fn add_freeze_window(
        &self,
        env: &str,
        spec: &str,
        reason: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView> {
        let (e, s, r, c) = (
            env.to_string(),
            spec.to_string(),
            reason.to_string(),
            caller.clone(),
        );
        self.mutate(move |tx| gov::window_add_tx(tx, &e, &s, &r, &c, now))?;
        self.environment(env)
    }

    fn remove_freeze_window(
        &self,
        env: &str,
        id: u64,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView> {
        let (e, c) = (env.to_string(), caller.clone());
        self.mutate(move |tx| gov::window_remove_tx(tx, &e, id, &c, now))?;
        self.environment(env)
    }

    fn set_approvals(
        &self,
        env: &str,
        approvals: u32,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView> {
        let (e, c) = (env.to_string(), caller.clone());
        self.mutate(move |tx| gov::set_approvals_tx(tx, &e, approvals, &c, now))?;
        self.environment(env)
    }

    fn create_environment_governed(
        &self,
        env: &Environment,
        approvals: u32,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<EnvironmentView> {
        let (e, c) = (env.clone(), caller.clone());
        let rec = self.mutate(move |tx| {
            let rec = envs::create_tx(tx, &e, &c, now)?;
            events::append(
                tx,
                &Change::EnvironmentCreated {
                    name: rec.env.name.clone(),
                    actor: c.actor.name.clone(),
                },
            )?;
            if approvals > 0 {
                gov::set_approvals_tx(tx, &rec.env.name, approvals, &c, now)?;
            }
            Ok(rec)
        })?;
        self.environment(&rec.env.name)
    }

    fn submit_deploy(
        &self,
        req: &DeployRequest,
        at: Option<Timestamp>,
        expires_at: Option<Timestamp>,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<Submitted> {
        if at.is_none() {
            let g = self.reader();
            let trees = g.trees();
            let env = read::env_required(&trees, &req.env)?.env.name;
            if gov::gov(&trees, &env)?.approvals > 0 {
                gov::refuse_duplicate(&trees, &env, &req.tag)?;
            }
        }
        let (r, c) = (req.clone(), caller.clone());
        self.mutate(move |tx| gov::submit_tx(tx, &r, at, expires_at, &c, now))
    }

    fn requests(
        &self,
        env: Option<&str>,
        all: bool,
        limit: usize,
        before_id: Option<u64>,
    ) -> RelResult<Vec<ChangeRequest>> {
        let g = self.reader();
        let trees = g.trees();
        if let Some(e) = env {
            read::env_required(&trees, e)?;
        }
        gov::list(&trees, env, all, limit, before_id)
    }

    fn request(&self, id: u64) -> RelResult<ChangeRequest> {
        let g = self.reader();
        gov::request(&g.trees(), id)?.ok_or_else(|| {
            RelError::not_found(format!(
                "no request #{id}; relctl requests --all lists them"
            ))
        })
    }

    fn approve(
        &self,
        id: u64,
        caller: &Caller,
        requester: &Caller,
        now: Timestamp,
    ) -> RelResult<Decided> {
        let (c, r) = (caller.clone(), requester.clone());
        self.mutate(move |tx| gov::approve_tx(tx, id, &c, &r, now))
    }

    fn reject(
        &self,
        id: u64,
        reason: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> RelResult<ChangeRequest> {
        let (why, c) = (reason.to_string(), caller.clone());
        self.mutate(move |tx| gov::reject_tx(tx, id, &why, &c, now))
    }

    fn due_requests(&self, now: Timestamp) -> RelResult<Vec<ChangeRequest>> {
        let g = self.reader();
        gov::due(&g.trees(), now)
    }

    fn next_due(&self) -> RelResult<Option<Timestamp>> {
        let g = self.reader();
        let trees = g.trees();
        let request = gov::next_due(&trees)?;
        let (_, freeze) = gov::freeze_ends(&trees, crate::now())?;
        Ok(match (request, freeze) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    fn expire_freezes(&self, now: Timestamp) -> RelResult<Vec<String>> {
        let names = {
            let g = self.reader();
            gov::freeze_ends(&g.trees(), now)?.0
        };
        if names.is_empty() {
            return Ok(names);
        }
        self.mutate(move |tx| gov::expire_freezes_tx(tx, &names, now))
    }

    fn fire_request(
        &self,
        id: u64,
        requester: &Caller,
        now: Timestamp,
    ) -> RelResult<Option<Decided>> {
        let r = requester.clone();
        self.mutate(move |tx| gov::fire_tx(tx, id, &r, now))
    }
}

impl SledStore {
    fn views(&self, names: &[String]) -> RelResult<Vec<EnvironmentView>> {
        names.iter().map(|n| self.environment(n)).collect()
    }
}
