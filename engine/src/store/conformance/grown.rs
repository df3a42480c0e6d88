//! What runs grow by while they run: planners' plans and `for_each` items.

use serde_json::json;

use super::{batch, started, step};
use crate::error::Error;
use crate::executor::Usage;
use crate::item::ItemRecord;
use crate::plan::{Addition, Spent, Supersession};
use crate::state::{Batch, StepState};
use crate::store::Store;

pub(super) async fn plans_commit_their_steps_with_the_planners_success(store: &impl Store) {
    let run = started(store, "me").await;
    let addition = |seq: u32, ids: &[&str], first: usize| Addition {
        run_id: run,
        seq,
        planner: "a".into(),
        steps: json!([{"id": "x", "executor": "noop"}]).to_string(),
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

/// A superseded plan leaves the run with its steps and their items, not their events; it
/// is kept with what they spent, and a new plan may use the same ids.
pub(super) async fn a_superseded_plan_takes_its_steps_out_of_the_run(store: &impl Store) {
    let run = started(store, "me").await;
    let addition = |seq: u32| Addition {
        run_id: run,
        seq,
        planner: "a".into(),
        steps: json!([{"id": "x", "executor": "noop"}]).to_string(),
        ids: vec!["a.x".into()],
        first: 2,
    };
    let mut planned = batch([
        step(run, "a", StepState::Ready, StepState::Running),
        step(run, "a", StepState::Running, StepState::Succeeded),
        step(run, "a.x", StepState::Pending, StepState::Ready),
        step(run, "a.x", StepState::Ready, StepState::Running),
    ]);
    planned.record_plan(addition(1));
    store.commit("me", planned).await.unwrap();
    let mut item = Batch::new();
    item.record_item(ItemRecord {
        run_id: run,
        step_id: "a.x".into(),
        index: 0,
        state: StepState::Succeeded,
        attempt: 1,
        output: Some(json!(0)),
        error: None,
    });
    store.commit("me", item).await.unwrap();
    let events = store.history(run).await.unwrap().len();
    let gone = Supersession {
        run_id: run,
        seq: 1,
        planner: "a".into(),
        steps: addition(1).steps,
        spent: Spent {
            attempts: 1,
            steps: 1,
            usage: Usage::default(),
        },
    };
    let mut superseding = batch([step(run, "a", StepState::Succeeded, StepState::Pending)]);
    superseding.record_supersession(gone.clone());
    assert!(
        matches!(
            store.commit("other", superseding.clone()).await,
            Err(Error::LeaseLost(_))
        ),
        "fenced like transitions"
    );
    assert_eq!(store.plans(run).await.unwrap(), [addition(1)]);
    store.commit("me", superseding).await.unwrap();
    assert!(store.plans(run).await.unwrap().is_empty());
    assert_eq!(store.superseded(run).await.unwrap(), [gone]);
    assert_eq!(store.step(run, "a.x").await.unwrap(), None);
    assert!(store.items(run, &["a.x"]).await.unwrap().is_empty());
    let ids: Vec<String> = (store.steps(run).await.unwrap().into_iter())
        .map(|step| step.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(
        store.history(run).await.unwrap().len(),
        events + 1,
        "the history keeps the superseded steps' events"
    );
    let mut again = batch([
        step(run, "a", StepState::Pending, StepState::Ready),
        step(run, "a", StepState::Ready, StepState::Running),
        step(run, "a", StepState::Running, StepState::Succeeded),
        step(run, "a.x", StepState::Pending, StepState::Ready),
    ]);
    again.record_plan(addition(2));
    store.commit("me", again).await.unwrap();
    assert_eq!(store.plans(run).await.unwrap(), [addition(2)]);
    assert_eq!(
        store.step(run, "a.x").await.unwrap().unwrap().state,
        StepState::Ready
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
        store.commit("me", items).await.unwrap().events.is_empty(),
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

pub(super) async fn items_are_counted_by_step_and_state(store: &impl Store) {
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    let item = |run_id, step_id: &str, index, state| ItemRecord {
        run_id,
        step_id: step_id.into(),
        index,
        state,
        attempt: 1,
        output: (state == StepState::Succeeded).then(|| json!({"big": "output"})),
        error: None,
    };
    let mut items = Batch::new();
    for (index, state) in [
        StepState::Succeeded,
        StepState::Failed,
        StepState::Succeeded,
        StepState::Running,
    ]
    .into_iter()
    .enumerate()
    {
        items.record_item(item(run, "a", index, state));
    }
    items.record_item(item(run, "b", 0, StepState::Pending));
    items.record_item(item(other, "a", 0, StepState::Failed));
    store.commit("me", items).await.unwrap();
    let counts = |step_ids: &'static [&'static str]| store.item_counts(run, step_ids);
    assert_eq!(
        counts(&["b", "a"]).await.unwrap(),
        [
            ("a".to_owned(), StepState::Failed, 1),
            ("a".to_owned(), StepState::Running, 1),
            ("a".to_owned(), StepState::Succeeded, 2),
            ("b".to_owned(), StepState::Pending, 1),
        ],
        "by step id, then state name; only the run's"
    );
    assert_eq!(
        counts(&["b"]).await.unwrap(),
        [("b".to_owned(), StepState::Pending, 1)],
        "only the steps asked for"
    );
    assert!(
        counts(&["c"]).await.unwrap().is_empty(),
        "a step without items"
    );
    assert!(counts(&[]).await.unwrap().is_empty());
}
