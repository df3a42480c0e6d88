//! Events: committed transitions, as broadcast to whoever watches a run and read back as its
//! history. One type for both.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::state::{RunState, StepState, Transition};

/// One committed transition of a run or of one of its steps.
///
/// The store numbers and times events as it commits them; they are broadcast only after
/// that. A slow observer may miss some (the stream is bounded); the run's history in the
/// store is always complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The run.
    #[serde(skip)]
    pub run_id: Uuid,
    /// Position in the run's history, from 1.
    pub seq: i64,
    /// When it was committed (millisecond precision).
    #[serde(serialize_with = "millis")]
    pub at: DateTime<Utc>,
    /// What moved, from where to where.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The step's attempt number (step transitions only).
    pub attempt: Option<u32>,
    /// What else was recorded: an error, an interruption, a reason, a stderr tail.
    pub detail: Option<Value>,
}

/// What an [`Event`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The run was created (`pending`).
    Created,
    /// The run moved.
    Run {
        /// The state left.
        from: RunState,
        /// The state entered.
        to: RunState,
    },
    /// A step moved.
    Step {
        /// The step's id.
        step_id: String,
        /// The state left.
        from: StepState,
        /// The state entered.
        to: StepState,
    },
}

impl Event {
    /// The step, or `None` for a transition of the run itself.
    pub fn step_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Step { step_id, .. } => Some(step_id),
            _ => None,
        }
    }

    /// Why its step waits `ready`, when it records that (`ready -> ready`, `{"held_for":
    /// "guard" or "rate_limit", "waits": …}`): the guard holds it until an attempt in flight
    /// ends, or its executor's rate limit until its window has room.
    pub(crate) fn waits(&self) -> Option<&str> {
        let EventKind::Step {
            from: StepState::Ready,
            to: StepState::Ready,
            ..
        } = self.kind
        else {
            return None;
        };
        self.detail.as_ref()?.get("waits")?.as_str()
    }

    /// The name of the state left (`None` when the run was created).
    pub fn from(&self) -> Option<&'static str> {
        match &self.kind {
            EventKind::Created => None,
            EventKind::Run { from, .. } => Some(from.as_str()),
            EventKind::Step { from, .. } => Some(from.as_str()),
        }
    }

    /// The name of the state entered.
    pub fn to(&self) -> &'static str {
        match &self.kind {
            EventKind::Created => RunState::Pending.as_str(),
            EventKind::Run { to, .. } => to.as_str(),
            EventKind::Step { to, .. } => to.as_str(),
        }
    }

    /// Whether this event ends its run or its step.
    pub fn is_end(&self) -> bool {
        match &self.kind {
            EventKind::Created => false,
            EventKind::Run { to, .. } => to.is_terminal(),
            EventKind::Step { to, .. } => to.is_terminal(),
        }
    }
}

/// What the event of `transition` records: its kind, the attempt (of a step), and its
/// detail — the transition's own, with its error under `error`. Takes the transition, so a
/// big batch's details (a redrive's, a cascade of skips) are moved into its events, not copied.
pub(crate) fn recorded(
    transition: Transition,
) -> (EventKind, Option<u32>, Option<Map<String, Value>>) {
    match transition {
        Transition::Step(change) => {
            let kind = EventKind::Step {
                step_id: change.step_id,
                from: change.from,
                to: change.to,
            };
            (
                kind,
                Some(change.attempt),
                with_error(change.detail, change.error),
            )
        }
        Transition::Run(change) => {
            let kind = EventKind::Run {
                from: change.from,
                to: change.to,
            };
            (kind, None, with_error(change.detail, change.error))
        }
    }
}

/// A transition's detail as an object, with its error under `error`; `None` when empty.
fn with_error(detail: Option<Value>, error: Option<String>) -> Option<Map<String, Value>> {
    let mut detail = match detail {
        Some(Value::Object(detail)) => detail,
        Some(other) => Map::from_iter([("detail".to_owned(), other)]),
        None => Map::new(),
    };
    if let Some(error) = error {
        detail.insert("error".into(), Value::String(error));
    }
    (!detail.is_empty()).then_some(detail)
}

/// Serialized as `{"step", "from", "to"}` with state names, as `cairn history --json` prints.
impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            step: Option<&'a str>,
            from: Option<&'static str>,
            to: &'static str,
        }
        let (step, from, to) = match self {
            EventKind::Created => (None, None, RunState::Pending.as_str()),
            EventKind::Run { from, to } => (None, Some(from.as_str()), to.as_str()),
            EventKind::Step { step_id, from, to } => {
                (Some(step_id.as_str()), Some(from.as_str()), to.as_str())
            }
        };
        Flat { step, from, to }.serialize(serializer)
    }
}

/// A time as RFC 3339 with milliseconds, as every command prints times.
pub(crate) fn millis<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}
