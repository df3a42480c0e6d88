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
    /// (see [`Approval::action_of`]), its `cwd` the directory the guard judged it runs
    /// in; `null` for a request stored before cairn kept it.
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

    /// Whether this request is for `action` (as its approval binds it: with the directory
    /// the guard judged, see `bound`), judged under the guard snapshot `guard_hash` by an
    /// engine in `cwd`: its hash is the action's ([`action_hash`]), or, for a request an
    /// older cairn stored before the hash bound the engine's directory, the action's as that
    /// cairn hashed it. Such a request was asked and decided for any directory, and is kept
    /// so where the guard judged no other directory than the one written: a decision given
    /// before an upgrade is not asked for again after it.
    pub fn is_for(&self, action: &Action, guard_hash: Option<&str>, cwd: Option<&Path>) -> bool {
        self.action_hash == action_hash(action, guard_hash, cwd)
            || self.action_hash == hash_of(action, guard_hash, None)
    }
}

/// `action` as its approval binds it, if not as written: with the directory the guard judged
/// it runs in — the `cwd` of `runs_with`, the parameters the guard's verdict has it run with
/// (canonical: a symlink resolved) — in place of its `with.cwd`. An approval given for
/// `root/link` while `link` led to `a` is then not spent in `b`, where it leads later. The
/// rest of `runs_with` is not bound: a policy lowers an agent's budget limit to what the
/// run has left, which changes while a request waits (the other steps spend), and only
/// ever lowers it. A step without `with.cwd` runs in the engine's directory, which the hash
/// binds already ([`action_hash`]'s `cwd`): it is not bound again, so that a request an
/// older cairn stored for it stays granted.
pub(crate) fn bound(action: &Action, runs_with: Option<&serde_json::Value>) -> Option<Action> {
    let judged = runs_with?.get("cwd")?;
    if action
        .params
        .get("cwd")
        .is_none_or(|written| written == judged)
    {
        return None;
    }
    let serde_json::Value::Object(mut params) = action.params.clone() else {
        return None;
    };
    params.insert("cwd".to_owned(), judged.clone());
    Some(action.with_params(serde_json::Value::Object(params)))
}

/// The hash an approval is bound to: the action's step, item, executor and rendered
/// parameters (the engine passes them as the approval binds them, `with.cwd` the directory
/// the guard judged), the hash of the guard's snapshot, and `cwd`, the directory of the
/// engine that asked (where a step without `with.cwd` runs: an approval given for one
/// checkout does not run the step in another). The attempt number is left out: a retry of
/// an approved action is the same action.
pub fn action_hash(action: &Action, guard_hash: Option<&str>, cwd: Option<&Path>) -> String {
    hash_of(action, guard_hash, Some(cwd))
}

/// [`action_hash`], or with `cwd` `None` the hash as cairn made it before it bound the
/// directory: the same fields without `cwd`.
fn hash_of(action: &Action, guard_hash: Option<&str>, cwd: Option<Option<&Path>>) -> String {
    #[derive(Serialize)]
    struct Bound<'a> {
        step: &'a str,
        item: Option<usize>,
        executor: &'a str,
        params: &'a serde_json::Value,
        guard: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cwd: Option<Option<&'a Path>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn action() -> Action {
        Action {
            run_id: Uuid::nil(),
            step_id: "b".into(),
            item_index: None,
            attempt: 1,
            executor: "noop".into(),
            params: serde_json::json!({"say": "hi"}),
            idempotency_key: "k".into(),
        }
    }

    fn request(action_hash: String) -> Approval {
        Approval {
            run_id: Uuid::nil(),
            step_id: "b".into(),
            item: None,
            action_hash,
            action: serde_json::Value::Null,
            verdict: Verdict::allow(),
            requested_at: DateTime::UNIX_EPOCH,
            expires_at: DateTime::UNIX_EPOCH,
            decision: None,
        }
    }

    fn sha256(text: &str) -> String {
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }

    #[test]
    fn a_request_stored_before_the_hash_bound_the_directory_is_for_its_action_anywhere() {
        let (action, here) = (action(), Some(Path::new("/checkout")));
        // The hashes as stored: by this cairn, and by one before it bound the directory.
        let now = r#"{"step":"b","item":null,"executor":"noop","params":{"say":"hi"},"guard":"g","cwd":"/checkout"}"#;
        let before =
            r#"{"step":"b","item":null,"executor":"noop","params":{"say":"hi"},"guard":"g"}"#;
        assert_eq!(action_hash(&action, Some("g"), here), sha256(now));
        assert!(request(sha256(now)).is_for(&action, Some("g"), here));
        assert!(request(sha256(before)).is_for(&action, Some("g"), here));
        assert!(request(sha256(before)).is_for(&action, Some("g"), Some(Path::new("/x"))));
        // This cairn's request binds its directory, and the old one binds the rest.
        assert!(!request(sha256(now)).is_for(&action, Some("g"), Some(Path::new("/x"))));
        assert!(!request(sha256(before)).is_for(&action, Some("other"), here));
    }
}
