//! A redrive from a step: kept from its first commit until the run's move with its last.

use super::{TTL, batch, holder, run_change, started, step};
use crate::lease::LeaseAttempt;
use crate::state::{RunState, StepState};
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
