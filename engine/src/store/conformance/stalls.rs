//! A running step's stall, recorded as it is seen ([`Batch::record_stall`]): read back while
//! the step runs ([`Store::stalls`]), the last one recorded of each step, written by the
//! lease's owner only.

use serde_json::json;

use super::{batch, started, step};
use crate::state::{Batch, StepState};
use crate::store::Store;

/// `stall` recorded of step `a` of `run` in a batch of its own.
fn recorded(run: uuid::Uuid, stall: &serde_json::Value) -> Batch {
    let mut batch = Batch::new();
    batch.record_stall(run, "a", stall.clone());
    batch
}

pub(super) async fn a_stall_is_read_back_while_its_step_runs(store: &impl Store) {
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    let running = batch([step(run, "a", StepState::Ready, StepState::Running)]);
    store.commit("me", running).await.unwrap();
    assert!(store.stalls(run).await.unwrap().is_empty());

    let first = json!({"stall": {"kind": "heartbeat"}, "escalation": "retry", "attempt": 1});
    store.commit("me", recorded(run, &first)).await.unwrap();
    let theirs = json!({"stall": {"kind": "heartbeat"}, "escalation": "fail", "attempt": 9});
    assert!(
        store.commit("them", recorded(run, &theirs)).await.is_err(),
        "only the lease's owner records a stall"
    );
    assert_eq!(store.stalls(run).await.unwrap(), [("a".to_owned(), first)]);
    assert!(store.stalls(other).await.unwrap().is_empty(), "a run's own");

    let second = json!({"stall": {"kind": "loop"}, "escalation": "fail", "attempt": 1});
    store.commit("me", recorded(run, &second)).await.unwrap();
    assert_eq!(
        store.stalls(run).await.unwrap(),
        [("a".to_owned(), second)],
        "the last one recorded"
    );

    let ended = batch([step(run, "a", StepState::Running, StepState::Failed)]);
    store.commit("me", ended).await.unwrap();
    assert!(
        store.stalls(run).await.unwrap().is_empty(),
        "a step that no longer runs has no stall to escalate"
    );
}
