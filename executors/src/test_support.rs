//! Building actions for the executors' tests, and a bound on how long they wait.

use std::time::Duration;

use cairn_engine::Action;
use serde_json::Value;
use uuid::Uuid;

/// How long a test waits for an attempt (or anything else) before failing: far longer
/// than any attempt in these tests takes, far shorter than the `sleep 1000`s and hour-long
/// sleeps a broken attempt would wait for. It never decides a result; it turns a hang
/// into a failure.
pub(crate) const HANG: Duration = Duration::from_secs(120);

/// Awaits `future`, failing the test with `what` if it has not ended within [`HANG`].
/// (Not for tests on paused time, where the bound would pass at once.)
pub(crate) async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(HANG, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {HANG:?}"))
}

/// An action of executor `executor` with `with` = `params`, attempt 1 of step `step`.
pub(crate) fn action(executor: &str, params: Value) -> Action {
    let run_id = Uuid::now_v7();
    Action {
        run_id,
        step_id: "step".to_owned(),
        item_index: None,
        attempt: 1,
        executor: executor.to_owned(),
        params,
        idempotency_key: Action::idempotency_key_for(run_id, "step", None),
    }
}
