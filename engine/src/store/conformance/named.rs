//! Some steps of a run read whole, outputs included: what `cairn show --json` prints a page
//! of steps from ([`Store::steps_named`]).

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::{batch, started, step};
use crate::executor::Usage;
use crate::expr::SharedJson;
use crate::state::{StepState, StepTransition, Transition};
use crate::store::Store;

/// The steps named read back as the run's steps do, each whole (state, attempt, error,
/// usage and output of one row), in plan order whatever the order they are named in; an id
/// of no step is left out, one named twice is read once, and another run's steps are not
/// read.
pub(super) async fn named_steps_read_back_whole_in_plan_order(store: &impl Store) {
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    let succeeded = Transition::Step(StepTransition {
        attempt: 1,
        output: Some(Arc::new(SharedJson::new(json!({"n": 42})))),
        usage: Some(Usage {
            input_tokens: 3,
            output_tokens: 4,
            cost_usd: 0.5,
        }),
        ..StepTransition::new(run, "a", StepState::Running, StepState::Succeeded)
    });
    let ready = step(run, "b", StepState::Pending, StepState::Ready);
    let failed = Transition::Step(StepTransition {
        attempt: 1,
        error: Some("boom".into()),
        ..StepTransition::new(run, "b", StepState::Running, StepState::Failed)
    });
    let moves = batch([
        step(run, "a", StepState::Ready, StepState::Running),
        succeeded,
        ready,
        step(run, "b", StepState::Ready, StepState::Running),
        failed,
    ]);
    store.commit("me", moves).await.unwrap();
    let steps = store.steps(run).await.unwrap();
    assert_eq!(steps[0].output, Some(json!({"n": 42})));
    assert_eq!(steps[1].error.as_deref(), Some("boom"));

    let named = store
        .steps_named(run, &["b", "nope", "a", "b"])
        .await
        .unwrap();
    assert_eq!(named, steps, "every step named, whole, in plan order, once");
    let one = store.steps_named(run, &["b"]).await.unwrap();
    assert_eq!(one, [steps[1].clone()], "only the step named");
    assert!(store.steps_named(run, &[]).await.unwrap().is_empty());
    let others = store.steps_named(other, &["a", "b"]).await.unwrap();
    assert_eq!(
        others,
        store.steps(other).await.unwrap(),
        "the other run's own"
    );
    let unknown = store.steps_named(Uuid::now_v7(), &["a"]).await.unwrap();
    assert!(unknown.is_empty(), "no run, no steps: {unknown:?}");
}
