//! Approvals: a step whose action a guard held for a person waits `awaiting_approval`; the
//! request, bound to the hash of the exact action, is a row in the store until decided or
//! expired.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::command::PendingCommand;
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

    /// Whether a ruling among `pending`, its run's unapplied commands, decides this request
    /// ([`Command::covers`](crate::Command::covers)) and was sent before it expired: its
    /// expiry then denies nothing. One sent at the expiry or after it comes after it, as an
    /// engine expires a request first.
    pub fn ruled_in_time(&self, pending: &[PendingCommand]) -> bool {
        (pending.iter()).any(|sent| {
            sent.command.covers(&self.step_id, self.item) && sent.created_at < self.expires_at
        })
    }

    /// The first of `requests` (one run's) of step `step` that expired by `by`, undecided and
    /// not [ruled on in time](Approval::ruled_in_time): its expiry denies the step, every item
    /// of it, whatever a ruling on another item says.
    pub fn first_expired<'a>(
        requests: impl IntoIterator<Item = &'a Approval>,
        pending: &[PendingCommand],
        step: &str,
        by: DateTime<Utc>,
    ) -> Option<&'a Approval> {
        (requests.into_iter())
            .filter(|request| request.step_id == step && request.decision.is_none())
            .filter(|request| request.expires_at <= by && !request.ruled_in_time(pending))
            .min_by_key(|request| request.expires_at)
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

    /// Which request's expiry denies a step.
    mod expiry {
        use chrono::{DateTime, Duration, Utc};
        use uuid::Uuid;

        use crate::approval::{Approval, ApprovalDecision};
        use crate::command::{Command, PendingCommand, Ruling};
        use crate::guard::Verdict;

        fn at(seconds: i64) -> DateTime<Utc> {
            DateTime::UNIX_EPOCH + Duration::seconds(seconds)
        }

        /// Step `s`'s request of `item`, expiring at `expires`.
        fn request(item: Option<usize>, expires: i64) -> Approval {
            Approval {
                run_id: Uuid::nil(),
                step_id: "s".into(),
                item,
                action_hash: "h".into(),
                action: serde_json::Value::Null,
                verdict: Verdict::allow(),
                requested_at: at(0),
                expires_at: at(expires),
                decision: None,
            }
        }

        /// An approval (or a denial) of step `s`'s `item`, sent at `sent`.
        fn sent(approve: bool, item: Option<usize>, sent: i64) -> PendingCommand {
            let ruling = Ruling {
                step: "s".into(),
                item,
                by: "ann".into(),
                reason: Some("why".into()),
            };
            PendingCommand {
                id: sent,
                run_id: Uuid::nil(),
                command: if approve {
                    Command::Approve(ruling)
                } else {
                    Command::Deny(ruling)
                },
                created_at: at(sent),
            }
        }

        #[test]
        fn the_first_request_expired_unruled_by_then_denies_the_step() {
            let requests = [
                request(Some(0), 20),
                request(Some(1), 10),
                request(Some(2), 30),
            ];
            let first = |pending: &[PendingCommand], by| {
                Approval::first_expired(&requests, pending, "s", at(by)).map(|first| first.item)
            };
            assert_eq!(first(&[], 9), None, "none expired by then");
            assert_eq!(first(&[], 25), Some(Some(1)), "the earliest of two");
            // Item 1 approved before its expiry: item 0's expiry comes next.
            assert_eq!(first(&[sent(true, Some(1), 9)], 25), Some(Some(0)));
            // Sent at the expiry, an approval comes after it.
            assert_eq!(first(&[sent(true, Some(1), 10)], 25), Some(Some(1)));
            // A denial of any item, or an approval of the step, sent in time covers them all.
            assert_eq!(first(&[sent(false, Some(2), 5)], 40), None);
            assert_eq!(first(&[sent(true, None, 5)], 40), None);
            // One sent in time covers only the requests expiring after it.
            assert_eq!(first(&[sent(true, None, 15)], 40), Some(Some(1)));
            let decided = ApprovalDecision {
                approved: true,
                by: "bob".into(),
                reason: None,
                at: at(1),
            };
            let mut requests = requests;
            requests[1].decision = Some(decided);
            let first = Approval::first_expired(&requests, &[], "s", at(25));
            assert_eq!(
                first.map(|first| first.item),
                Some(Some(0)),
                "decided: not expired"
            );
            assert_eq!(Approval::first_expired(&requests, &[], "t", at(99)), None);
        }
    }
}
