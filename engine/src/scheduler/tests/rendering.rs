//! A `for_each` item's `with` is rendered as its task starts it, not with its step: past the
//! first window, an item that does not render fails only once an earlier item left it room.

use super::*;
use crate::store::held::Held;

#[tokio::test]
async fn an_item_past_the_first_window_is_rendered_only_as_it_starts() {
    let store = Arc::new(Held::default());
    let gated = Arc::new(Gated::default());
    let engine = Engine::builder_with_store(store.clone())
        .executor("gated", gated.clone())
        .executor("counts", Arc::new(Counts::default()))
        .open()
        .await
        .unwrap();
    // `each` starts in a commit of its own (a run's first goes with its creation).
    let workflow = json!({"name": "f", "steps": [
        {"id": "first", "executor": "counts"},
        {"id": "each", "executor": "gated", "needs": ["first"],
         "for_each": "${{ [{'name': 'a'}, {'nom': 'b'}] }}", "max_parallel": 1,
         "with": {"name": "${{ item.name }}"}}]});
    let plan = engine.load_str(&workflow.to_string(), "f.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    gated.started.notified().await;
    // Item 0 runs, recorded running with its step; item 1 waits for its leave, not
    // rendered yet.
    let commits = || store.items.lock().unwrap().clone();
    let started = commits();
    assert!(
        (started.iter().flatten()).any(|&item| item == (0, StepState::Running, 1)),
        "{started:?}"
    );
    assert!(
        !(started.iter().flatten()).any(|&(index, ..)| index == 1),
        "item 1's `with` was rendered with its step: {started:?}"
    );
    gated.go.notify_one();
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Failed, "{report:?}");
    assert_eq!(
        report.error.as_deref(),
        Some(
            "step each failed: bad_params: 1 of 2 items failed (1): item 1: `with`: \
             `item.name`: No such key: name"
        )
    );
    let ended = commits();
    let item_1: Vec<_> = (ended.iter().flatten())
        .filter(|item| item.0 == 1)
        .collect();
    assert_eq!(
        item_1,
        [&(1, StepState::Running, 1), &(1, StepState::Failed, 1)],
        "one run of item 1, started with item 0's end and failed on its own: {ended:?}"
    );
    assert_eq!(gated.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
