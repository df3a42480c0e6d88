//! A `for_each` item whose leave was given, but whose task saw the run halt before it started
//! it: it goes back to `pending` at once, while its siblings run.

use super::*;
use crate::store::held::Held;

#[tokio::test]
async fn an_item_given_its_leave_that_a_pause_kept_from_starting_is_pending_while_its_siblings_run()
{
    let store = Arc::new(Held::default());
    // The commit of the first item's end, which records item 2 running, waits once made.
    store.hold_after(|batch| {
        (batch.items().iter()).any(|item| item.index == 2 && item.state == StepState::Running)
    });
    let (gated, engine, handle) = two_gated_items_running(store.clone(), 3).await;
    let calls = || gated.calls.load(std::sync::atomic::Ordering::SeqCst);
    gated.go.notify_one();
    store.waiting.notified().await;
    // That commit found no pause: item 2's leave is given once it goes. A pause sent
    // meanwhile rings the driver, which reads it before the task starts item 2; then the
    // other item ends.
    let run = handle.id().to_string();
    engine.send(&run, Command::Pause(request())).await.unwrap();
    store.go.notify_one();
    gated.go.notify_one();
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Paused, "{report:?}");
    assert_eq!(calls(), 2, "item 2 never started");
    let commits = store.items.lock().unwrap().clone();
    let commit_of = |index: usize, state: StepState| {
        (commits.iter())
            .position(|items| items.iter().any(|&(i, s, _)| i == index && s == state))
            .unwrap_or_else(|| panic!("no commit records item {index} {state:?}: {commits:?}"))
    };
    let pending = commit_of(2, StepState::Pending);
    assert!(
        commits[pending].contains(&(2, StepState::Pending, 0)),
        "{commits:?}"
    );
    let second_end = commit_of(0, StepState::Succeeded).max(commit_of(1, StepState::Succeeded));
    assert!(
        pending < second_end,
        "item 2 went back to pending only with its step's end: {commits:?}"
    );
}
