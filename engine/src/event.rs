//! Events: committed transitions, as streamed to whoever watches a run.

use serde::Serialize;
use uuid::Uuid;

use crate::store::Change;

/// One committed transition of a run or of one of its steps.
///
/// Events are sent only after their transition is committed. A slow observer may miss some
/// (the stream is bounded); the run's history in the store is always complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The run.
    pub run_id: Uuid,
    /// The step, or `None` for a transition of the run itself.
    pub step_id: Option<String>,
    /// The state left.
    pub from: &'static str,
    /// The state entered.
    pub to: &'static str,
    /// The step's attempt number.
    pub attempt: Option<u32>,
}

impl From<&Change> for Event {
    fn from(change: &Change) -> Self {
        match change {
            Change::Run(change) => Event {
                run_id: change.run_id,
                step_id: None,
                from: change.from.as_str(),
                to: change.to.as_str(),
                attempt: None,
            },
            Change::Step(change) => Event {
                run_id: change.run_id,
                step_id: Some(change.step_id.clone()),
                from: change.from.as_str(),
                to: change.to.as_str(),
                attempt: Some(change.attempt),
            },
        }
    }
}
