//! The `noop` executor: returns its `with.output` at once.

use async_trait::async_trait;
use cairn_engine::{Action, ExecContext, Executor, Outcome};
use tokio::time::Instant;

use crate::params;

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

#[async_trait]
impl Executor for NoopExecutor {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        let started = Instant::now();
        let output = params::output(action);
        Outcome::success(output, started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use cairn_engine::{ExecContext, Executor};
    use serde_json::{Value, json};

    use super::NoopExecutor;
    use crate::params::test_support::action;

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
}
