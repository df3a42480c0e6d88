//! A run's approval requests, by step and item, with the undecided ones also kept by when
//! they expire: a turn finds the expired requests and the next expiry, and a step the
//! requests it waits for, without walking every request of the run (a fan-out of thousands
//! of steps that each wait for a person made every turn and every decision scan them all).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::approval::{Approval, ApprovalDecision};
use crate::plan::StepIndex;

/// A request's key: its step, and its `for_each` item (`None` for the step's own).
pub(super) type Key = (StepIndex, Option<usize>);

/// The approval requests of one run.
#[derive(Debug, Default)]
pub(super) struct Approvals {
    requests: BTreeMap<Key, Approval>,
    /// The undecided requests a step waits for, by expiry.
    undecided: BTreeSet<(DateTime<Utc>, Key)>,
}

impl Approvals {
    /// The requests `approvals`, each under its key.
    pub(super) fn new(approvals: impl IntoIterator<Item = (Key, Approval)>) -> Approvals {
        let mut all = Approvals::default();
        for (key, approval) in approvals {
            all.insert(key, approval);
        }
        all
    }

    /// The request of `key`, decided or not.
    pub(super) fn get(&self, key: Key) -> Option<&Approval> {
        self.requests.get(&key)
    }

    /// Records `approval` under `key`, in place of the request it had.
    pub(super) fn insert(&mut self, key: Key, approval: Approval) {
        if let Some(old) = self.requests.get(&key) {
            self.undecided.remove(&(old.expires_at, key));
        }
        if approval.decision.is_none() {
            self.undecided.insert((approval.expires_at, key));
        }
        self.requests.insert(key, approval);
    }

    /// The requests of `step` that wait for a decision, by item.
    pub(super) fn waiting(&self, step: StepIndex) -> impl Iterator<Item = (Key, &Approval)> {
        (self.requests.range((step, None)..=(step, Some(usize::MAX))))
            .filter(|(_, approval)| approval.decision.is_none())
            .map(|(&key, approval)| (key, approval))
    }

    /// Whether `step` has a request that waits for a decision.
    pub(super) fn awaits(&self, step: StepIndex) -> bool {
        self.waiting(step).next().is_some()
    }

    /// The undecided requests that expired by `now`.
    pub(super) fn expired(&self, now: DateTime<Utc>) -> Vec<Key> {
        (self.undecided.iter())
            .take_while(|(expires_at, _)| *expires_at <= now)
            .map(|&(_, key)| key)
            .collect()
    }

    /// Stops watching the expiry of the undecided request of `key`: its step no longer
    /// waits for it (it ended otherwise), so its expiry decides nothing.
    pub(super) fn unwatch(&mut self, key: Key) {
        if let Some(approval) = self.requests.get(&key) {
            self.undecided.remove(&(approval.expires_at, key));
        }
    }

    /// When the earliest undecided request expires.
    pub(super) fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.undecided.first().map(|&(expires_at, _)| expires_at)
    }

    /// Decides the waiting requests of `step` (only `item`'s, if given) and returns them
    /// decided.
    pub(super) fn decide(
        &mut self,
        step: StepIndex,
        item: Option<usize>,
        decision: &ApprovalDecision,
    ) -> Vec<Approval> {
        let keys: Vec<Key> = (self.waiting(step))
            .map(|(key, _)| key)
            .filter(|&(_, of_item)| item.is_none() || of_item == item)
            .collect();
        let mut decided = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(approval) = self.requests.get_mut(&key) {
                self.undecided.remove(&(approval.expires_at, key));
                approval.decision = Some(decision.clone());
                decided.push(approval.clone());
            }
        }
        decided
    }

    /// Forgets every request of `step`, decided or not (a redrive sent it back: they were
    /// for its last drive); whether it had any.
    pub(super) fn withdraw(&mut self, step: StepIndex) -> bool {
        let keys: Vec<Key> = (self.requests.range((step, None)..=(step, Some(usize::MAX))))
            .map(|(&key, _)| key)
            .collect();
        for key in &keys {
            if let Some(approval) = self.requests.remove(key) {
                self.undecided.remove(&(approval.expires_at, *key));
            }
        }
        !keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::Verdict;
    use uuid::Uuid;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(second, 0).unwrap()
    }

    fn request(step: &str, item: Option<usize>, expires: i64) -> Approval {
        Approval {
            run_id: Uuid::nil(),
            step_id: step.into(),
            item,
            action_hash: "h".into(),
            action: serde_json::Value::Null,
            verdict: Verdict::approve("ask", "a person decides"),
            requested_at: at(0),
            expires_at: at(expires),
            decision: None,
        }
    }

    fn decision(approved: bool) -> ApprovalDecision {
        ApprovalDecision {
            approved,
            by: "ann".into(),
            reason: None,
            at: at(1),
        }
    }

    #[test]
    fn expiries_come_in_order_and_leave_with_their_decision() {
        let mut approvals = Approvals::new([
            ((2, None), request("c", None, 30)),
            ((0, Some(1)), request("a", Some(1), 10)),
            ((0, Some(0)), request("a", Some(0), 20)),
            ((1, None), request("b", None, 10)),
        ]);
        assert_eq!(approvals.next_expiry(), Some(at(10)));
        assert_eq!(approvals.expired(at(9)), []);
        assert_eq!(
            approvals.expired(at(20)),
            [(0, Some(1)), (1, None), (0, Some(0))]
        );

        let decided = approvals.decide(0, Some(1), &decision(true));
        assert_eq!(decided.len(), 1);
        assert_eq!(decided[0].item, Some(1));
        assert!(approvals.get((0, Some(1))).unwrap().decision.is_some());
        assert_eq!(approvals.expired(at(20)), [(1, None), (0, Some(0))]);
        assert!(approvals.awaits(0), "item 0 still waits");

        let decided = approvals.decide(0, None, &decision(false));
        assert_eq!(decided.len(), 1, "only what waits is decided");
        assert!(!approvals.awaits(0));
        assert_eq!(approvals.next_expiry(), Some(at(10)));
    }

    #[test]
    fn a_request_asked_again_replaces_the_old_one_and_its_expiry() {
        let mut approvals = Approvals::new([((0, None), request("a", None, 10))]);
        approvals.decide(0, None, &decision(false));
        assert_eq!(approvals.next_expiry(), None);
        approvals.insert((0, None), request("a", None, 40));
        assert_eq!(approvals.next_expiry(), Some(at(40)));
        approvals.insert((0, None), request("a", None, 50));
        assert_eq!(approvals.expired(at(45)), []);
        assert_eq!(approvals.waiting(0).count(), 1);
        // Asked again with the same expiry, it is still watched.
        approvals.insert((0, None), request("a", None, 50));
        assert_eq!(approvals.expired(at(50)), [(0, None)]);
    }

    #[test]
    fn a_request_unwatched_expires_no_more() {
        let mut approvals = Approvals::new([
            ((0, Some(0)), request("a", Some(0), 10)),
            ((0, Some(1)), request("a", Some(1), 20)),
        ]);
        approvals.unwatch((0, Some(0)));
        assert_eq!(approvals.expired(at(30)), [(0, Some(1))]);
        assert_eq!(approvals.next_expiry(), Some(at(20)));
    }

    #[test]
    fn withdrawing_a_step_forgets_its_requests_and_their_expiries() {
        let mut approvals = Approvals::new([
            ((0, None), request("a", None, 10)),
            ((1, Some(0)), request("b", Some(0), 20)),
            ((1, Some(1)), request("b", Some(1), 30)),
            ((2, None), request("c", None, 40)),
        ]);
        approvals.decide(1, Some(0), &decision(true));
        assert!(approvals.withdraw(1));
        assert!(approvals.get((1, Some(0))).is_none(), "decided ones too");
        assert!(!approvals.awaits(1));
        assert_eq!(approvals.expired(at(100)), [(0, None), (2, None)]);
        assert!(!approvals.withdraw(1), "nothing left to withdraw");
    }
}
