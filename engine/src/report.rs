//! The read model: what a run looks like to whoever asks, ready to serialize.
//!
//! The CLI prints these types (`--json` is their serde form) instead of building JSON by hand.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::event::millis;
use crate::executor::{ErrorClass, Usage};
use crate::item::ItemRecord;
use crate::state::{RunState, StepState};

/// How a run ended (or stopped).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The run.
    pub id: Uuid,
    /// Its state: terminal, or `running`/`paused` when it stopped unfinished.
    pub state: RunState,
    /// Its output, when it succeeded: the outputs of its sink steps by step id.
    pub output: Option<Value>,
    /// Why it failed or stopped.
    pub error: Option<String>,
    /// The class of `error`: the failed step's class, `timeout`, `cancelled`, `interrupted`.
    pub error_class: Option<ErrorClass>,
}

/// One line of a listing of runs (`cairn runs --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run.
    pub id: Uuid,
    /// Its workflow's name.
    pub workflow: String,
    /// Its state.
    pub state: RunState,
    /// When it was created.
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// Which runs a listing holds ([`Engine::runs`](crate::Engine::runs)): by default every one.
///
/// ```
/// use cairn_engine::{RunFilter, RunState};
///
/// // The ten newest runs that failed or were cancelled.
/// let filter = RunFilter {
///     states: vec![RunState::Failed, RunState::Cancelled],
///     limit: Some(10),
/// };
/// assert_ne!(filter, RunFilter::default());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only the runs in one of these states; every state when empty.
    pub states: Vec<RunState>,
    /// At most this many runs, the newest; all of them when `None`.
    pub limit: Option<usize>,
}

impl RunFilter {
    /// Whether `run` is one the filter's states let through (the limit aside).
    pub fn admits(&self, run: &RunSummary) -> bool {
        self.states.is_empty() || self.states.contains(&run.state)
    }
}

/// A run and its steps as they stand (`cairn show --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    /// The run.
    pub id: Uuid,
    /// Its workflow's name.
    pub workflow: String,
    /// Its state.
    pub state: RunState,
    /// Its input.
    pub input: Value,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The class of `error` (`timeout` for a run past its `limits.timeout`, whose error
    /// names no class), as `cairn --json run` gives it (probe 37 F4).
    pub error_class: Option<ErrorClass>,
    /// Usage summed over every step.
    pub usage: Usage,
    /// Every step, in plan order.
    pub steps: Vec<StepView>,
    /// When it was created.
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
    /// When it times out (`limits.timeout` from its start or its last redrive), if it does.
    #[serde(skip)]
    pub deadline: Option<DateTime<Utc>>,
    /// The directory it was started in, where its steps run ([`RunRecord::cwd`]); `None`
    /// for a run recorded before directories were stored.
    ///
    /// [`RunRecord::cwd`]: crate::store::RunRecord::cwd
    #[serde(skip)]
    pub cwd: Option<std::path::PathBuf>,
}

/// One step of a [`RunView`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    /// The step's id.
    pub id: String,
    /// Its state.
    pub state: StepState,
    /// Attempts started so far.
    pub attempt: u32,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// Its last error.
    pub error: Option<String>,
    /// The class of `error`, the word it begins with (`exit_code: ...`, as
    /// [`ExecError`](crate::ExecError) writes one): a program decides by it without reading
    /// the text (probe 44 F5). `null` when there is none, as the run's and as `error` are
    /// (probe 84 F4: left out, a reader of the key failed on every step that succeeded).
    pub error_class: Option<ErrorClass>,
    /// What the attempt that failed with `error` answered, when it was refused for it
    /// (`output_schema`, `invalid_plan`): the reply its event kept (its last 64 KiB). Left
    /// out of the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// While it is `ready`, held by the guard until an attempt in flight ends (what that one
    /// holds of a spending budget) or by its executor's rate limit, and an engine drives the
    /// run: why, as its last event recorded ([`Store::holds`](crate::store::Store::holds)).
    /// Left out of the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits: Option<String>,
    /// Usage summed over its attempts.
    pub usage: Usage,
    /// While it runs: its attempt's last sign of life (an output line, reported progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_at: Option<DateTime<Utc>>,
    /// While it waits to retry (`retry_wait`): when its next attempt is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<DateTime<Utc>>,
    /// A `for_each` step's items recorded so far, by index ([`StepView::with_items`]); none
    /// for other steps (left out of the JSON), or before one of its items started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemRecord>,
}

impl StepView {
    /// Puts into each of `steps` its items among `items` (of one run, ordered by step and
    /// index, as [`Store::items`](crate::store::Store::items) returns them).
    pub fn with_items(steps: &mut [StepView], items: Vec<ItemRecord>) {
        let mut by_step: HashMap<String, Vec<ItemRecord>> = HashMap::new();
        for item in items {
            by_step.entry(item.step_id.clone()).or_default().push(item);
        }
        for step in steps {
            if let Some(items) = by_step.remove(&step.id) {
                step.items = items;
            }
        }
    }
}
