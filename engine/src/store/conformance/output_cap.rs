//! The cap on one step's output a run is driven with: recorded at its creation, replaced
//! only by a commit that records another.

use uuid::Uuid;

use super::{TTL, batch, holder, run_change, started, step};
use crate::lease::LeaseAttempt;
use crate::state::{Batch, RunState, StepState};
use crate::store::Store;

/// A run's cap reads back as it was created with, through the commits that move it; a
/// commit recording another (fenced like any write, and one under the lease of a retry of
/// an ended run) replaces it for that run only.
pub(super) async fn a_runs_output_cap_is_kept_until_replaced(store: &impl Store) {
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    let cap = async |run: Uuid| {
        let record = store.find_run(&run.to_string()).await.unwrap();
        record.max_output_bytes
    };
    assert_eq!(cap(run).await, Some(4_000_000), "as created");
    let failed = batch([
        step(run, "a", StepState::Ready, StepState::Running),
        step(run, "a", StepState::Running, StepState::Failed),
        run_change(run, RunState::Running, RunState::Failed),
    ]);
    store.commit("me", failed).await.unwrap();
    assert_eq!(cap(run).await, Some(4_000_000), "kept by the run's moves");

    let mut raised = Batch::new();
    raised.record_max_output(run, 9_000_000);
    assert!(
        store.commit("me", raised.clone()).await.is_err(),
        "fenced: the run's end released its lease"
    );
    let me = holder("me");
    let taken = store.acquire_lease(run, &me, TTL, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    assert!(store.commit("intruder", raised.clone()).await.is_err());
    assert_eq!(cap(run).await, Some(4_000_000));
    store.commit("me", raised).await.unwrap();
    assert_eq!(cap(run).await, Some(9_000_000));
    assert_eq!(cap(other).await, Some(4_000_000), "its run's own");
    let again = batch([
        step(run, "a", StepState::Failed, StepState::Pending),
        run_change(run, RunState::Failed, RunState::Running),
    ]);
    store.commit("me", again).await.unwrap();
    assert_eq!(cap(run).await, Some(9_000_000), "kept from then on");
}
