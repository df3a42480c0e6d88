//! Why a step waits `ready`, held by the guard, read back from its last event
//! ([`Store::holds`]): what `cairn show` prints beside a held step.

use serde_json::json;

use super::{batch, started, step};
use crate::state::{StepState, StepTransition, Transition};
use crate::store::Store;

/// Step `a` of `run` held by the guard: `ready -> ready`, why in its detail.
fn held(run: uuid::Uuid, why: &str) -> Transition {
    Transition::Step(StepTransition {
        detail: Some(json!({"held_for": "guard", "waits": why})),
        ..StepTransition::new(run, "a", StepState::Ready, StepState::Ready)
    })
}

pub(super) async fn a_hold_is_read_back_while_it_is_its_steps_last_event(store: &impl Store) {
    use StepState::{Ready, Running};
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    assert!(store.holds(run).await.unwrap().is_empty());

    let holds = batch([held(run, "budget: first"), held(run, "budget: again")]);
    store.commit("me", holds).await.unwrap();
    store
        .commit("me", batch([held(other, "theirs")]))
        .await
        .unwrap();
    assert_eq!(
        store.holds(run).await.unwrap(),
        [("a".to_owned(), "budget: again".to_owned())],
        "the last one, of this run"
    );

    // Once the step moves on, what it waited for is over: a window's items held by the
    // guard (`running -> ready`) are no hold of the step.
    let window = Transition::Step(StepTransition {
        detail: Some(json!({"held_for": "guard", "items_not_started": 2})),
        ..StepTransition::new(run, "a", Running, Ready)
    });
    store
        .commit("me", batch([step(run, "a", Ready, Running), window]))
        .await
        .unwrap();
    assert!(store.holds(run).await.unwrap().is_empty());
    assert_eq!(store.holds(other).await.unwrap().len(), 1);
}
