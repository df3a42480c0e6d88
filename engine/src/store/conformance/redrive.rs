//! A redrive from a step: kept from its first commit until the run's move with its last; the
//! approval requests of the steps it sends back withdrawn.

use super::{TTL, batch, holder, run_change, started, step};
use crate::approval::Approval;
use crate::guard::Verdict;
use crate::lease::LeaseAttempt;
use crate::state::{Batch, RunState, StepState};
use crate::store::Store;

/// The step a redrive runs again from is recorded with its first commit (fenced like any
/// write), outlasts the commits that only move steps, and is forgotten by the commit that
/// moves the run out of `failed`: a retry after a crash between them finds it.
pub(super) async fn a_redrive_is_kept_until_the_run_moves(store: &impl Store) {
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    let failed = batch([
        step(run, "a", StepState::Ready, StepState::Running),
        step(run, "a", StepState::Running, StepState::Failed),
        run_change(run, RunState::Running, RunState::Failed),
    ]);
    store.commit("me", failed).await.unwrap();
    let me = holder("me");
    let taken = store.acquire_lease(run, &me, TTL, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    assert_eq!(store.redrive_from(run).await.unwrap(), None);

    let mut first = batch([step(run, "a", StepState::Failed, StepState::Pending)]);
    first.record_redrive(run, "a");
    assert!(
        store.commit("intruder", first.clone()).await.is_err(),
        "fenced"
    );
    assert_eq!(store.redrive_from(run).await.unwrap(), None);
    store.commit("me", first).await.unwrap();
    assert_eq!(store.redrive_from(run).await.unwrap().as_deref(), Some("a"));
    assert_eq!(
        store.redrive_from(other).await.unwrap(),
        None,
        "its run's own"
    );

    let steps_only = batch([step(run, "b", StepState::Pending, StepState::Skipped)]);
    store.commit("me", steps_only).await.unwrap();
    assert_eq!(
        store.redrive_from(run).await.unwrap().as_deref(),
        Some("a"),
        "the run has not moved"
    );
    let last = batch([
        step(run, "b", StepState::Skipped, StepState::Pending),
        run_change(run, RunState::Failed, RunState::Running),
    ]);
    store.commit("me", last).await.unwrap();
    assert_eq!(store.redrive_from(run).await.unwrap(), None, "carried out");
}

/// A redrive withdraws the approval requests of the steps it sends back
/// ([`Batch::withdraw_approvals`]): deleted in its commit (fenced like any write), before the
/// commit's own requests, so that what the step's last drive asked neither waits nor is
/// decided; another step's requests stay.
pub(super) async fn a_redrive_withdraws_the_approval_requests_of_the_steps_it_sends_back(
    store: &impl Store,
) {
    let run = started(store, "me").await;
    let at = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    let request = |step: &str, item| Approval {
        run_id: run,
        step_id: step.into(),
        item,
        action_hash: "h".into(),
        action: serde_json::Value::Null,
        verdict: Verdict::approve("ask", "a person decides"),
        requested_at: at,
        expires_at: at + chrono::Duration::hours(1),
        decision: None,
    };
    let mut asked = batch([
        step(run, "a", StepState::Ready, StepState::AwaitingApproval),
        step(run, "b", StepState::Pending, StepState::Ready),
        step(run, "b", StepState::Ready, StepState::AwaitingApproval),
    ]);
    for item in 0..3 {
        asked.record_approval(request("a", Some(item)));
    }
    asked.record_approval(request("b", None));
    store.commit("me", asked).await.unwrap();
    assert_eq!(store.approvals(run).await.unwrap().len(), 4);

    let mut withdrawn = Batch::new();
    withdrawn.withdraw_approvals(run, "a");
    assert!(
        store.commit("intruder", withdrawn.clone()).await.is_err(),
        "fenced"
    );
    // Asked again in the same commit: the new request stays, the old ones go.
    let again = Approval {
        requested_at: at + chrono::Duration::minutes(1),
        ..request("a", Some(0))
    };
    withdrawn.record_approval(again.clone());
    store.commit("me", withdrawn).await.unwrap();
    let mut kept = store.approvals(run).await.unwrap();
    kept.sort_by(|one, other| one.step_id.cmp(&other.step_id));
    assert_eq!(kept, [again.clone(), request("b", None)]);
    assert_eq!(
        store.waiting_approvals_of(run).await.unwrap(),
        [request("b", None), again]
    );
}
