//! What other processes ask of a run: rows in the store that the engine driving the run
//! reads between turns (within a second), and that an engine taking a run over applies
//! before it dispatches anything.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::RunState;

/// A request to the engine driving a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Let a step (or one item of it) that awaits approval run.
    Approve(Ruling),
    /// Deny a step (or one item of it) that awaits approval: the step ends `denied`.
    Deny(Ruling),
    /// Start nothing new, let the attempts in flight finish, then pause the run.
    Pause(Request),
    /// Cancel the attempts in flight and end the run `cancelled`.
    Cancel(Request),
}

/// Who asks to pause or cancel a run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Who asked.
    pub by: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The stall that made cairn ask it itself (a step's `on_stall`), if one did: only
    /// cairn sets it, so a request built with [`Request::new`] has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stall: Option<StalledStep>,
}

impl Request {
    /// A request by `by` (who asks), for `reason` if given.
    ///
    /// ```
    /// use cairn_engine::{Command, Request};
    ///
    /// let pause = Command::Pause(Request::new("ann", Some("deploy window closed".into())));
    /// assert_eq!(pause.kind(), "pause");
    /// ```
    pub fn new(by: impl Into<String>, reason: Option<String>) -> Self {
        Self {
            by: by.into(),
            reason,
            stall: None,
        }
    }

    /// Whether cairn asked it itself for a step's stall (its `on_stall`), not a person.
    pub(crate) fn is_for_a_stall(&self) -> bool {
        self.stall.is_some()
    }
}

/// A step's stall that cairn pauses or cancels the run for, recorded with that command as
/// it is seen: an engine that takes the run over after a crash in the stalled attempt's
/// kill grace records it as the live engine would have (with the step's interruption and
/// the run's pause or cancel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StalledStep {
    /// The step.
    pub(crate) step: String,
    /// What its event records: `{"kind", "evidence"}`.
    pub(crate) stall: serde_json::Value,
}

/// A person's decision on a step that awaits approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ruling {
    /// The step.
    pub step: String,
    /// The `for_each` item (`None`: the step, or every item of it that waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// Who decided.
    pub by: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Command {
    /// The command's kind as stored: `approve`, `deny`, `pause`, `cancel`.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Approve(_) => "approve",
            Command::Deny(_) => "deny",
            Command::Pause(_) => "pause",
            Command::Cancel(_) => "cancel",
        }
    }

    /// Whether this ruling decides `step` (its `item`, if given; `None`: the step as a
    /// whole): a denial ends the whole step, an approval of the step grants every item, an
    /// approval of one item only that item. The first ruling recorded decides, so a later
    /// ruling one recorded before it covers is moot.
    pub fn covers(&self, step: &str, item: Option<usize>) -> bool {
        match self {
            Command::Deny(ruling) => ruling.step == step,
            Command::Approve(ruling) => {
                ruling.step == step && (ruling.item.is_none() || ruling.item == item)
            }
            Command::Pause(_) | Command::Cancel(_) => false,
        }
    }

    /// The step whose stall made cairn send this pause or cancel itself, if one did.
    pub(crate) fn stalled_step(&self) -> Option<&str> {
        match self {
            Command::Pause(request) | Command::Cancel(request) => {
                (request.stall.as_ref()).map(|stalled| stalled.step.as_str())
            }
            Command::Approve(_) | Command::Deny(_) => None,
        }
    }

    /// Whether a run's move to `state` carries this command out, so that the store marks it
    /// handled in the same commit: a pause by the run pausing or ending, a cancel by the run
    /// ending. Until then a pause or a cancel stays pending, and an engine that takes the
    /// run over after a crash applies it again. A ruling is handled when the engine applies
    /// it.
    pub fn carried_out_by(&self, state: RunState) -> bool {
        match self {
            Command::Pause(_) => state == RunState::Paused || state.is_terminal(),
            Command::Cancel(_) => state.is_terminal(),
            Command::Approve(_) | Command::Deny(_) => false,
        }
    }

    /// Who sent the command.
    pub fn by(&self) -> &str {
        match self {
            Command::Approve(ruling) | Command::Deny(ruling) => &ruling.by,
            Command::Pause(request) | Command::Cancel(request) => &request.by,
        }
    }

    /// The step the command is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Command::Approve(ruling) | Command::Deny(ruling) => Some(&ruling.step),
            Command::Pause(_) | Command::Cancel(_) => None,
        }
    }
}

/// A command recorded in the store and not handled yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCommand {
    /// Its number in the store (handled commands are marked by it).
    pub id: i64,
    /// The run it is for.
    pub run_id: Uuid,
    /// What it asks.
    pub command: Command,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::{Command, Request, Ruling, StalledStep};

    fn ruling(step: &str, item: Option<usize>) -> Ruling {
        Ruling {
            step: step.into(),
            item,
            by: "ann".into(),
            reason: None,
        }
    }

    #[test]
    fn a_ruling_covers_its_step_or_its_item() {
        let deny = |item| Command::Deny(ruling("deploy", item));
        let approve = |item| Command::Approve(ruling("deploy", item));
        // A denial of any item ends the whole step.
        assert!(deny(Some(0)).covers("deploy", Some(1)));
        assert!(deny(None).covers("deploy", None));
        assert!(approve(None).covers("deploy", Some(2)));
        assert!(approve(Some(2)).covers("deploy", Some(2)));
        // An approval of one item leaves the others, and the step as a whole, to decide.
        assert!(!approve(Some(2)).covers("deploy", Some(3)));
        assert!(!approve(Some(2)).covers("deploy", None));
        assert!(!deny(None).covers("build", None));
        let pause = Command::Pause(Request::new("ann", None));
        assert!(!pause.covers("deploy", None));
    }

    #[test]
    fn a_request_reads_without_a_stall_and_keeps_the_one_cairn_set() {
        let old: Command = serde_json::from_str(r#"{"kind":"pause","by":"ann"}"#).unwrap();
        assert_eq!(old, Command::Pause(Request::new("ann", None)));
        let mut request = Request::new("cairn", Some("stalled".into()));
        request.stall = Some(StalledStep {
            step: "a".into(),
            stall: serde_json::json!({ "kind": "no_progress" }),
        });
        let cancel = Command::Cancel(request);
        let stored = serde_json::to_string(&cancel).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&stored).unwrap(), cancel);
    }
}
