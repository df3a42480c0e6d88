//! The `noop` executor: returns its `with.output` at once.

use async_trait::async_trait;
use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome, params_schema};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Succeeds at once with `with.output` (already templated by the engine), `null` when absent.
/// For tests, examples and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopExecutor;

impl NoopExecutor {
    /// The `noop` executor.
    pub fn new() -> Self {
        NoopExecutor
    }
}

/// A `noop` step's parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoopParams {
    /// The step's output (`null` when absent).
    #[serde(default)]
    output: Value,
}

#[async_trait]
impl Executor for NoopExecutor {
    fn params_schema(&self) -> Option<schemars::Schema> {
        Some(params_schema::<NoopParams>())
    }

    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        match action.params_as::<NoopParams>() {
            Ok(params) => Outcome::success(params.output),
            Err(error) => Outcome::failure(ErrorClass::BadParams, error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_engine::{ErrorClass, ExecContext, Executor};
    use serde_json::{Value, json};

    use super::NoopExecutor;
    use crate::test_support::action;

    #[tokio::test]
    async fn returns_its_output() {
        let action = action("noop", json!({"output": {"a": [1, 2]}}));
        let outcome = NoopExecutor.execute(&action, ExecContext::new()).await;
        assert_eq!(outcome.result, Ok(json!({"a": [1, 2]})));
    }

    #[tokio::test]
    async fn returns_null_without_output() {
        let action = action("noop", json!({}));
        let outcome = NoopExecutor.execute(&action, ExecContext::new()).await;
        assert_eq!(outcome.result, Ok(Value::Null));
    }

    #[tokio::test]
    async fn an_unknown_parameter_is_bad_params() {
        let action = action("noop", json!({"outptu": 1}));
        let outcome = NoopExecutor.execute(&action, ExecContext::new()).await;
        let error = outcome.result.unwrap_err();
        assert_eq!(error.class, ErrorClass::BadParams);
        assert!(error.message.contains("unknown field `outptu`"), "{error}");
    }
}
