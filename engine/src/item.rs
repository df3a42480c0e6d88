//! `for_each` items as committed: each item of a step ends on its own, and is written on its
//! own row (the step's row holds the list of outputs once every item succeeded).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::executor::ErrorClass;
use crate::state::StepState;

/// One item of a `for_each` step, as committed when it ends: `succeeded` with its output,
/// `failed` with its error, or `pending` again (a redrive runs it once more).
///
/// Its JSON (`cairn show --json`, inside its step's) leaves out the run and the step, and
/// an output or error it does not have; a failed item's error comes with its class,
/// `error_class`, as a step's does (probe 91 F2).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRecord {
    /// The run.
    pub run_id: Uuid,
    /// The `for_each` step.
    pub step_id: String,
    /// The item's index in the step's list.
    pub index: usize,
    /// `running` (started), `succeeded`, `failed`, `cancelled`, `pending` (again, or never
    /// started), or `skipped` (no longer in the step's list).
    pub state: StepState,
    /// How many times the item ran.
    pub attempt: u32,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// Its last error, as `class: message`.
    pub error: Option<String>,
}

impl Serialize for ItemRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("index", &self.index)?;
        map.serialize_entry("state", &self.state)?;
        map.serialize_entry("attempt", &self.attempt)?;
        if let Some(output) = &self.output {
            map.serialize_entry("output", output)?;
        }
        if let Some(error) = &self.error {
            map.serialize_entry("error", error)?;
            map.serialize_entry("error_class", &ErrorClass::of_error(error))?;
        }
        map.end()
    }
}
