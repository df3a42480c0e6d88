//! The `sleep` executor: waits `with.duration`, then returns `with.output`.

use async_trait::async_trait;
use cairn_engine::Duration;
use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome, params_schema};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::sleep;

use crate::interrupt::Interrupt;

/// Waits `with.duration` (a humantime string such as `"200ms"`), then succeeds with
/// `with.output` (`null` when absent). For tests, examples and benchmarks.
///
/// A missing or malformed duration fails with [`ErrorClass::BadParams`]; cancellation fails
/// with [`ErrorClass::Cancelled`] and a deadline that passes first with [`ErrorClass::Timeout`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SleepExecutor;

impl SleepExecutor {
    /// The `sleep` executor.
    pub fn new() -> Self {
        SleepExecutor
    }
}

/// A `sleep` step's parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    /// How long to wait, such as `"200ms"`.
    duration: Duration,
    /// The step's output (`null` when absent).
    #[serde(default)]
    output: Value,
}

#[async_trait]
impl Executor for SleepExecutor {
    fn params_schema(&self) -> Option<schemars::Schema> {
        Some(params_schema::<SleepParams>())
    }

    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        let params = match action.params_as::<SleepParams>() {
            Ok(params) => params,
            Err(error) => {
                return Outcome::failure(ErrorClass::BadParams, error.to_string());
            }
        };
        tokio::select! {
            () = sleep(params.duration.0) => Outcome::success(params.output),
            why = Interrupt::wait(&ctx) => why.outcome("sleep"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cairn_engine::{ErrorClass, ExecContext, Executor};
    use serde_json::json;
    use tokio::time::Instant;

    use super::SleepExecutor;
    use crate::test_support::{action, within};

    fn class(outcome: &cairn_engine::Outcome) -> Option<ErrorClass> {
        outcome.result.as_ref().err().map(|error| error.class)
    }

    #[tokio::test]
    async fn sleeps_then_returns_its_output() {
        let action = action("sleep", json!({"duration": "10ms", "output": "done"}));
        let outcome = SleepExecutor.execute(&action, ExecContext::new()).await;
        assert_eq!(outcome.result, Ok(json!("done")));
    }

    #[tokio::test]
    async fn missing_or_bad_duration_is_bad_params() {
        for params in [
            json!({}),
            json!({"duration": "soon"}),
            json!({"duration": 5}),
            json!({"duration": "1s", "outptu": 1}),
        ] {
            let outcome = SleepExecutor
                .execute(&action("sleep", params.clone()), ExecContext::new())
                .await;
            assert_eq!(class(&outcome), Some(ErrorClass::BadParams), "{params}");
        }
    }

    #[tokio::test]
    async fn cancellation_stops_it() {
        let ctx = ExecContext::new();
        ctx.cancel.cancel();
        // Not cancelled, it would sleep an hour.
        let outcome = within(
            "the cancelled sleep",
            SleepExecutor.execute(&action("sleep", json!({"duration": "1h"})), ctx),
        )
        .await;
        assert_eq!(class(&outcome), Some(ErrorClass::Cancelled));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_times_it_out() {
        let ctx = ExecContext {
            deadline: Some(Instant::now() + Duration::from_secs(1)),
            ..ExecContext::new()
        };
        let outcome = SleepExecutor
            .execute(&action("sleep", json!({"duration": "1h"})), ctx)
            .await;
        assert_eq!(class(&outcome), Some(ErrorClass::Timeout));
    }
}
