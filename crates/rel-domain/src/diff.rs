//! Structural diff of two app configs (§3.7): tools, pipelines, stages, steps, endpoints and
//! checks added, removed or changed, with the changed fields.

use serde::{Deserialize, Serialize};

use crate::config::AppConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOp {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    /// Compact JSON of the old value; `None` when the field was absent.
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Where, e.g. `pipelines.chat.stages[prepare].steps[greet]`, `tools.shout`, `checks[chat replies]`.
    pub path: String,
    pub op: ChangeOp,
    /// For `Changed`: which fields, with before and after.
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Diff {
    pub changes: Vec<Change>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The changes that turn `from` into `to`, in a stable order.
pub fn diff(from: &AppConfig, to: &AppConfig) -> Diff {
    todo!("core helper: implement structural diff {from:?} {to:?}")
}
