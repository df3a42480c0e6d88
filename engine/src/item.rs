//! `for_each` items as committed: each item of a step ends on its own, and is written on its
//! own row (the step's row holds the list of outputs once every item succeeded).

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::state::StepState;

/// One item of a `for_each` step, as committed when it ends: `succeeded` with its output,
/// `failed` with its error, or `pending` again (a redrive runs it once more).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRecord {
    /// The run (left out of the JSON, which lists an item inside its step's).
    #[serde(skip)]
    pub run_id: Uuid,
    /// The `for_each` step (left out of the JSON, as the run).
    #[serde(skip)]
    pub step_id: String,
    /// The item's index in the step's list.
    pub index: usize,
    /// `running` (started), `succeeded`, `failed`, `cancelled`, `pending` (again, or never
    /// started), or `skipped` (no longer in the step's list).
    pub state: StepState,
    /// How many times the item ran.
    pub attempt: u32,
    /// Its output, once it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Its last error, as `class: message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
