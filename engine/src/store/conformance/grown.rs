//! What runs grow by while they run: planners' plans and `for_each` items.

use serde_json::json;

use super::{batch, started, step};
use crate::error::Error;
use crate::item::ItemRecord;
use crate::plan::Addition;
use crate::state::{Batch, StepState};
use crate::store::Store;

pub(super) async fn plans_commit_their_steps_with_the_planners_success(store: &impl Store) {
    let run = started(store, "me").await;
    let addition = |seq: u32, ids: &[&str], first: usize| Addition {
        run_id: run,
        seq,
        planner: "a".into(),
        steps: json!([{"id": "x", "executor": "noop"}]),
        ids: ids.iter().map(|id| id.to_string()).collect(),
        first,
    };
    let mut planned = batch([
        step(run, "a", StepState::Ready, StepState::Running),
        step(run, "a", StepState::Running, StepState::Succeeded),
        step(run, "a.x", StepState::Pending, StepState::Ready),
    ]);
    planned.record_plan(addition(1, &["a.x", "a.y"], 2));
    // Refused as a whole (another owner): neither the plan nor its steps are kept.
    assert!(store.commit("other", planned.clone()).await.is_err());
    assert!(store.plans(run).await.unwrap().is_empty());
    assert_eq!(store.steps(run).await.unwrap().len(), 2);
    assert_eq!(store.step(run, "a.x").await.unwrap(), None);
    store.commit("me", planned).await.unwrap();
    let added = store
        .step(run, "a.x")
        .await
        .unwrap()
        .expect("an added step");
    assert_eq!(added.state, StepState::Ready);
    assert_eq!(
        store.plans(run).await.unwrap(),
        [addition(1, &["a.x", "a.y"], 2)]
    );
    let steps = store.steps(run).await.unwrap();
    let ids: Vec<(&str, StepState)> = (steps.iter()).map(|s| (s.id.as_str(), s.state)).collect();
    assert_eq!(
        ids,
        [
            ("a", StepState::Succeeded),
            ("b", StepState::Pending),
            ("a.x", StepState::Ready),
            ("a.y", StepState::Pending),
        ],
        "added steps follow the run's, in plan order"
    );
}

pub(super) async fn items_commit_on_their_own_and_only_for_the_lease_owner(store: &impl Store) {
    let run = started(store, "me").await;
    let item = |index: usize, state: StepState, output: Option<serde_json::Value>| ItemRecord {
        run_id: run,
        step_id: "a".into(),
        index,
        state,
        attempt: 1,
        output,
        error: (state == StepState::Failed).then(|| "exit_code: no".to_owned()),
    };
    let mut items = Batch::new();
    items.record_item(item(1, StepState::Succeeded, Some(json!("one"))));
    items.record_item(item(0, StepState::Failed, None));
    assert!(
        matches!(
            store.commit("other", items.clone()).await,
            Err(Error::LeaseLost(_))
        ),
        "items are fenced like transitions"
    );
    assert!(store.items(run, &["a"]).await.unwrap().is_empty());
    assert!(
        store.commit("me", items).await.unwrap().is_empty(),
        "items are no events"
    );
    let mut again = Batch::new();
    again.record_item(item(0, StepState::Succeeded, Some(json!({"zero": 0}))));
    store.commit("me", again).await.unwrap();
    assert_eq!(
        store.items(run, &["a"]).await.unwrap(),
        [
            item(0, StepState::Succeeded, Some(json!({"zero": 0}))),
            item(1, StepState::Succeeded, Some(json!("one"))),
        ]
    );
    assert!(
        store.items(run, &["b"]).await.unwrap().is_empty(),
        "only the items of the steps asked for"
    );
}
