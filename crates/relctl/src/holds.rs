//! Where each release is held (rolled back out of, §3.4), from the environment list: shown as
//! HELD in tables and as `held_in` in JSON (§3.2).

use std::collections::HashMap;

use rel_domain::EnvironmentView;

#[derive(Debug, Default)]
pub struct Holds(HashMap<String, Vec<String>>);

impl Holds {
    /// `envs` in promotion order; so is each release's list.
    pub fn from_envs(envs: &[EnvironmentView]) -> Holds {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for e in envs {
            for tag in &e.held {
                map.entry(tag.clone()).or_default().push(e.env.name.clone());
            }
        }
        Holds(map)
    }

    pub fn held_in(&self, tag: &str) -> &[String] {
        self.0.get(tag).map(Vec::as_slice).unwrap_or(&[])
    }
}
