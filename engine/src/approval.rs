//! Approvals: a step whose action a guard held for a person waits `awaiting_approval`; the
//! request, bound to the hash of the exact action, is a row in the store until decided or
//! expired.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::executor::Action;
use crate::guard::Verdict;

/// One approval request: a step's (or one `for_each` item's) action, and its decision once
/// made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// The run.
    pub run_id: Uuid,
    /// The step.
    pub step_id: String,
    /// The `for_each` item, if the action is one.
    pub item: Option<usize>,
    /// The hash of the exact action (see [`action_hash`]).
    pub action_hash: String,
    /// The action as its hash binds it, for the person deciding: `{"executor", "params"}`
    /// (see [`Approval::action_of`]); `null` for a request stored before cairn kept it.
    pub action: serde_json::Value,
    /// The verdict that asked for it.
    pub verdict: Verdict,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// When it expires: an expired request is denied, never granted.
    pub expires_at: DateTime<Utc>,
    /// The decision, once made.
    pub decision: Option<ApprovalDecision>,
}

/// How an approval request was decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalDecision {
    /// Whether the action may run.
    pub approved: bool,
    /// Who decided (`cairn` for an expiry).
    pub by: String,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl Approval {
    /// What [`Approval::action`] holds of `action`: its executor and parameters.
    pub fn action_of(action: &Action) -> serde_json::Value {
        serde_json::json!({"executor": action.executor, "params": action.params})
    }
}

/// The hash an approval is bound to: the action's step, item, executor and rendered
/// parameters, the hash of the guard's snapshot, and `cwd`, the directory of the engine that
/// asked (where a step without `with.cwd` runs: an approval given for one checkout does not
/// run the step in another). The attempt number is left out: a retry of an approved action
/// is the same action.
pub fn action_hash(action: &Action, guard_hash: Option<&str>, cwd: Option<&Path>) -> String {
    #[derive(Serialize)]
    struct Bound<'a> {
        step: &'a str,
        item: Option<usize>,
        executor: &'a str,
        params: &'a serde_json::Value,
        guard: Option<&'a str>,
        cwd: Option<&'a Path>,
    }
    let bound = Bound {
        step: &action.step_id,
        item: action.item_index,
        executor: &action.executor,
        params: &action.params,
        guard: guard_hash,
        cwd,
    };
    let text = serde_json::to_string(&bound).unwrap_or_default();
    format!("{:x}", Sha256::digest(text.as_bytes()))
}
