//! What each environment serves right now, for the request hot path.
//!
//! The table is an immutable map behind an [`ArcSwap`]: `resolve` is a lock-free load and
//! an `Arc` clone, `publish` builds a new map and swaps it in. A run holds the
//! `Arc<CompiledApp>` it resolved, so a publish that lands mid-run never changes it.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::compile::CompiledApp;

type Table = HashMap<String, Arc<CompiledApp>>;

#[derive(Default)]
pub struct LiveTable {
    map: ArcSwap<Table>,
}

impl std::fmt::Debug for LiveTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let map = self.map.load();
        let mut live: Vec<(&str, &str)> = map.iter().map(|(e, a)| (e.as_str(), a.tag())).collect();
        live.sort_unstable();
        f.debug_struct("LiveTable").field("live", &live).finish()
    }
}

impl LiveTable {
    pub fn new() -> LiveTable {
        LiveTable::default()
    }

    /// The app live in `env`, if any. Lock-free; never blocks on a concurrent publish.
    pub fn resolve(&self, env: &str) -> Option<Arc<CompiledApp>> {
        self.map.load().get(env).cloned()
    }

    /// Make `app` what `env` serves. Runs already going keep the app they resolved.
    /// Publish only after the deploy is durable, so a request never runs a release the
    /// store could still lose.
    pub fn publish(&self, env: &str, app: Arc<CompiledApp>) {
        self.map.rcu(|old| {
            let mut next = Table::clone(old);
            next.insert(env.to_string(), app.clone());
            next
        });
    }

    /// `env` serves nothing (e.g. the environment was deleted). Returns what it served.
    pub fn unpublish(&self, env: &str) -> Option<Arc<CompiledApp>> {
        let old = self.map.rcu(|old| {
            let mut next = Table::clone(old);
            next.remove(env);
            next
        });
        old.get(env).cloned()
    }

    /// Replace the whole table at once (daemon start-up).
    pub fn publish_all(&self, apps: impl IntoIterator<Item = (String, Arc<CompiledApp>)>) {
        self.map.store(Arc::new(apps.into_iter().collect()));
    }

    /// `(env, tag)` of everything live, sorted by environment.
    pub fn live(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .map
            .load()
            .iter()
            .map(|(e, a)| (e.clone(), a.tag().to_string()))
            .collect();
        out.sort_unstable();
        out
    }
}
