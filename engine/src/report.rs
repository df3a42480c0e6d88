//! The read model: what a run looks like to whoever asks, ready to serialize.
//!
//! The CLI prints these types (`--json` is their serde form) instead of building JSON by hand.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::event::millis;
use crate::executor::{ErrorClass, Usage};
use crate::state::{RunState, StepState};
use crate::store::{RunRecord, StepRecord};

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

impl From<&RunRecord> for RunReport {
    fn from(record: &RunRecord) -> Self {
        RunReport {
            id: record.id,
            state: record.state,
            output: record.output.clone(),
            error: record.error.clone(),
            error_class: record.error_class,
        }
    }
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

impl From<&RunRecord> for RunSummary {
    fn from(record: &RunRecord) -> Self {
        RunSummary {
            id: record.id,
            workflow: record.workflow_name.clone(),
            state: record.state,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
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
    /// Usage summed over its attempts.
    pub usage: Usage,
}

impl RunView {
    /// The view of `run` with its `steps`.
    pub fn new(run: RunRecord, steps: Vec<StepRecord>) -> Self {
        let steps: Vec<StepView> = steps
            .into_iter()
            .map(|step| StepView {
                id: step.id,
                state: step.state,
                attempt: step.attempt,
                output: step.output,
                error: step.error,
                usage: step.usage.unwrap_or_default(),
            })
            .collect();
        let mut usage = Usage::default();
        for step in &steps {
            usage += &step.usage;
        }
        RunView {
            id: run.id,
            workflow: run.workflow_name,
            state: run.state,
            input: run.input,
            output: run.output,
            error: run.error,
            usage,
            steps,
            created_at: run.created_at,
            updated_at: run.updated_at,
        }
    }
}
