//! Building actions for the executors' tests.

use cairn_engine::executor::Action;
use serde_json::Value;
use uuid::Uuid;

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
