//! The store through the public API, as an embedder sees it: no path commits a transition
//! that is not in the table, and a stale one commits nothing.

use cairn::engine::store::{
    Batch, NewRun, RunTransition, SqliteStore, StepTransition, Store, StoreOptions, Transition,
};
use cairn::engine::{Error, LeaseHolder, RunState, StepState, Uuid};

fn step(run: Uuid, id: &str, from: StepState, to: StepState) -> Transition {
    Transition::Step(StepTransition::new(run, id, from, to))
}

#[tokio::test]
async fn an_illegal_transition_cannot_be_committed_through_the_public_api() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&StoreOptions::new(dir.path().join("cairn.db")))
        .await
        .unwrap();
    let holder = LeaseHolder {
        owner: "embedder".into(),
        host: "here".into(),
        pid: 1,
        pid_start: 1,
    };
    let run = Uuid::now_v7();
    let new_run = NewRun {
        id: run,
        workflow_name: "w".into(),
        definition: "{}".into(),
        input: "{}".to_owned().into(),
        guard: None,
        steps: vec!["a".into()].into(),
        max_output_bytes: cairn_engine::DEFAULT_MAX_OUTPUT_BYTES,
        cwd: None,
    };
    let mut first = Batch::new();
    first
        .push(Transition::Run(RunTransition::new(
            run,
            RunState::Pending,
            RunState::Running,
        )))
        .unwrap();
    let ttl = std::time::Duration::from_secs(60);
    store
        .create_run(&new_run, &holder, ttl, first)
        .await
        .unwrap();

    // What the old `Store::apply` let through: `pending -> succeeded`, then
    // `succeeded -> running`. Neither enters a batch.
    let mut batch = Batch::new();
    let error = batch
        .push(step(run, "a", StepState::Pending, StepState::Succeeded))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "illegal step transition pending -> succeeded"
    );
    assert!(
        batch
            .push(step(run, "a", StepState::Succeeded, StepState::Running))
            .is_err()
    );
    assert!(batch.is_empty());
    store.commit("embedder", batch).await.unwrap();

    // A legal transition from a state the step is not in commits nothing.
    let mut stale = Batch::new();
    stale
        .push(step(run, "a", StepState::Ready, StepState::Running))
        .unwrap();
    let refused = store.commit("embedder", stale).await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");

    let steps = store.steps(run).await.unwrap();
    assert_eq!(steps[0].state, StepState::Pending);
    let history = store.history(run).await.unwrap();
    assert_eq!(history.len(), 2, "the creation and the run's start only");
}
