//! What each environment serves right now, compiled and ready to run (§3.6 atomic switch).
//!
//! The request hot path is [`Live::resolve`]: a lock-free load from a
//! [`rel_pipeline::LiveTable`], no store read. Every change of what an environment serves
//! (deploy, rollback, create-with-deploy, import, daemon start) goes through
//! [`Live::publish`], which compiles the release *before* the client hears "ok" and
//! publishes it only if it comes from a newer deployment than what is published already, so
//! two deploys racing to publish can never leave the older one live.
//!
//! A stored release that does not compile (written before its expressions were checked, or
//! imported) does not crash the daemon: the environment is served with an error naming the
//! release and the cause until something else is deployed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rel_domain::{ErrorCode, RelError, RelResult, Store};
use rel_pipeline::{CompiledApp, LiveTable};

#[derive(Default)]
pub struct Live {
    table: LiveTable,
    writer: Mutex<Writer>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("table", &self.table).finish()
    }
}

/// Bookkeeping for publishers only; the hot path never touches it.
#[derive(Default)]
struct Writer {
    /// The deployment each environment's published state came from.
    published: HashMap<String, u64>,
    /// Environments whose live release cannot be compiled, with the message to answer.
    broken: HashMap<String, String>,
    /// Recently compiled releases by tag (tags are immutable and never reused), with when
    /// each was last used: environments serving the same release share one app, and
    /// flipping between recent releases (deploy, rollback, deploy again) compiles nothing.
    cache: HashMap<String, (Arc<CompiledApp>, u64)>,
    tick: u64,
}

/// Compiled releases kept for reuse beyond what is live.
const CACHE_RELEASES: usize = 32;

impl Writer {
    fn cached(&mut self, tag: &str) -> Option<Arc<CompiledApp>> {
        self.tick += 1;
        let tick = self.tick;
        self.cache.get_mut(tag).map(|(app, used)| {
            *used = tick;
            Arc::clone(app)
        })
    }

    fn remember(&mut self, app: &Arc<CompiledApp>) {
        self.tick += 1;
        self.cache
            .insert(app.tag().to_string(), (Arc::clone(app), self.tick));
        while self.cache.len() > CACHE_RELEASES {
            let oldest = self
                .cache
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(tag, _)| tag.clone());
            match oldest {
                Some(tag) => self.cache.remove(&tag),
                None => break,
            };
        }
    }
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }

    /// The app live in `env`. Lock-free; `None` when nothing is published for it (unknown
    /// environment, nothing live, a release that does not compile, or a publish that has not
    /// landed yet): callers then ask [`Live::explain_miss`].
    pub fn resolve(&self, env: &str) -> Option<Arc<CompiledApp>> {
        self.table.resolve(env)
    }

    /// `(env, tag)` of everything published, sorted by environment.
    pub fn published(&self) -> Vec<(String, String)> {
        self.table.live()
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The compiled app of release `tag`: from the cache, or compiled from its stored
    /// snapshot (verified against its digest by the store). Blocking on a miss: store reads
    /// and a compile (milliseconds).
    pub fn compile(&self, store: &dyn Store, tag: &str) -> RelResult<Arc<CompiledApp>> {
        if let Some(app) = self.writer().cached(tag) {
            return Ok(app);
        }
        let view = store.release(tag)?;
        let snapshot = store.snapshot(&view.release.digest)?;
        let app = Arc::new(CompiledApp::compile(&snapshot, &view.release.tag)?);
        self.writer().remember(&app);
        Ok(app)
    }

    /// Make release `tag` what `env` serves, as of deployment `deployment_id`. Compiles
    /// first (blocking: store reads, CPU), then publishes unless a newer deployment of `env`
    /// was published meanwhile. Call it after the change is durable and before answering.
    pub fn publish(&self, store: &dyn Store, env: &str, tag: &str, deployment_id: u64) {
        let compiled = self.compile(store, tag);
        let mut w = self.writer();
        if w.published.get(env).is_some_and(|&p| p >= deployment_id) {
            return;
        }
        w.published.insert(env.to_string(), deployment_id);
        match compiled {
            Ok(app) => {
                w.broken.remove(env);
                self.table.publish(env, app);
                tracing::debug!(env, release = tag, deployment_id, "published");
            }
            Err(e) => {
                let what = if e.code == ErrorCode::Invalid {
                    "cannot be compiled"
                } else {
                    "cannot be loaded"
                };
                let message = format!("release {tag} {what}: {}", e.message);
                tracing::error!(
                    env,
                    release = tag,
                    deployment_id,
                    "{message}; {env} answers every request with this error until another release is deployed there"
                );
                w.broken.insert(env.to_string(), message);
                // Serving the previous release would contradict what the store says is live.
                self.table.unpublish(env);
            }
        }
    }

    /// Publish what every environment serves according to the store (daemon start-up, and
    /// after an import replaced the store's contents). Failures are logged, never fatal.
    pub fn load_all(&self, store: &dyn Store) {
        let envs = match store.environments() {
            Ok(envs) => envs,
            Err(e) => {
                tracing::error!(error = %e.message, "cannot list environments to load what is live; requests will load it on demand");
                return;
            }
        };
        for view in envs {
            if let (Some(tag), Some(id)) = (&view.live, view.deployment_id) {
                self.publish(store, &view.env.name, tag, id);
            }
        }
        let live = self.published();
        tracing::info!(?live, "live releases compiled and published");
    }

    /// Forget everything published (an import replaced the store's contents), then load.
    pub fn reload_all(&self, store: &dyn Store) {
        {
            let mut w = self.writer();
            w.published.clear();
            w.broken.clear();
            w.cache.clear();
            self.table.publish_all(Vec::new());
        }
        self.load_all(store);
    }

    /// Why [`Live::resolve`] found nothing for `env`, or the app after all when the table
    /// lags the store (a deploy committed but not yet published): then it is published here
    /// (the deployment-id guard keeps a newer publish from being undone). Blocking.
    pub fn explain_miss(&self, store: &dyn Store, env: &str) -> RelResult<Arc<CompiledApp>> {
        if let Some(message) = self.writer().broken.get(env).cloned() {
            return Err(RelError::unavailable(format!(
                "{env} cannot serve requests: {message}. Deploy a release that compiles, or roll back (relctl rollback --env {env})"
            )));
        }
        let view = store.environment(env)?;
        let (Some(tag), Some(id)) = (view.live, view.deployment_id) else {
            return Err(RelError::conflict(format!(
                "nothing is live in {env}: deploy a release first (relctl deploy TAG --env {env})"
            )));
        };
        self.publish(store, env, &tag, id);
        match self.resolve(env) {
            Some(app) => Ok(app),
            None => Err(self
                .writer()
                .broken
                .get(env)
                .map(|m| RelError::unavailable(format!("{env} cannot serve requests: {m}")))
                .unwrap_or_else(|| {
                    RelError::unavailable(format!(
                        "what is live in {env} changed while loading it; retry the request"
                    ))
                })),
        }
    }
}
