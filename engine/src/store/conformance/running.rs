//! What a running step keeps beside its transitions: its last progress, until its next
//! attempt; a `for_each` step's usage, recorded as its items spend
//! ([`Batch::record_usage`]), read back without a transition and replaced by a later
//! transition's.

use super::{batch, started, step};
use crate::executor::Usage;
use crate::state::{Batch, StepState, Transition};
use crate::store::Store;

fn usd(cost_usd: f64) -> Usage {
    Usage {
        cost_usd,
        ..Usage::default()
    }
}

pub(super) async fn a_running_steps_usage_is_kept_and_a_later_transition_replaces_it(
    store: &impl Store,
) {
    let run = started(store, "me").await;
    let mut running = Batch::new();
    running
        .push(step(run, "a", StepState::Ready, StepState::Running))
        .unwrap();
    // An item spent in the same batch as the step started: written after its transition.
    running.record_usage(run, "a", usd(0.01));
    store.commit("me", running).await.unwrap();
    let usage = |store_steps: Vec<crate::store::StepRecord>| store_steps[0].usage.clone();
    assert_eq!(usage(store.steps(run).await.unwrap()), Some(usd(0.01)));
    let mut spent = Batch::new();
    spent.record_usage(run, "a", usd(0.02));
    assert!(
        store.commit("them", spent.clone()).await.is_err(),
        "only the lease's owner records it"
    );
    store.commit("me", spent).await.unwrap();
    assert_eq!(usage(store.steps(run).await.unwrap()), Some(usd(0.02)));
    // The step's end, after an item's spending in the same batch, carries newer usage.
    let mut ended = Batch::new();
    ended.record_usage(run, "a", usd(0.03));
    let Transition::Step(mut end) = step(run, "a", StepState::Running, StepState::Succeeded) else {
        unreachable!("a step's transition")
    };
    end.usage = Some(usd(0.04));
    ended.push(Transition::Step(end)).unwrap();
    assert!(ended.usage().is_empty(), "the transition replaces it");
    store.commit("me", ended).await.unwrap();
    assert_eq!(usage(store.steps(run).await.unwrap()), Some(usd(0.04)));
}

pub(super) async fn progress_is_kept_until_the_next_attempt(store: &impl Store) {
    let run = started(store, "me").await;
    store
        .commit(
            "me",
            batch([step(run, "a", StepState::Ready, StepState::Running)]),
        )
        .await
        .unwrap();
    let at = chrono::DateTime::from_timestamp_millis(1_800_000_000_123).unwrap();
    let mut progress = Batch::new();
    progress.record_progress(run, "a", at);
    store.commit("me", progress).await.unwrap();
    assert_eq!(store.steps(run).await.unwrap()[0].progress_at, Some(at));
    let again = batch([
        step(run, "a", StepState::Running, StepState::RetryWait),
        step(run, "a", StepState::RetryWait, StepState::Ready),
        step(run, "a", StepState::Ready, StepState::Running),
    ]);
    store.commit("me", again).await.unwrap();
    assert_eq!(
        store.steps(run).await.unwrap()[0].progress_at,
        None,
        "a new attempt"
    );
}
