//! The `function` executor: async Rust closures registered by name by the embedding program.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome, params_schema};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::interrupt::Interrupt;

/// The future a registered function returns, boxed.
type BoxedCall = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;

/// A registered function, type-erased.
type Function = Arc<dyn Fn(Value, Action) -> BoxedCall + Send + Sync>;

/// Runs async Rust closures registered by name.
///
/// A step names the function in `with.function` and passes it `with.input` (`null` when
/// absent). The closure gets that input and the [`Action`] (owned, so the future may keep
/// it), and returns `Ok(output)` or `Err(message)`:
///
/// - `Ok(output)` → the step succeeds with `output`;
/// - `Err(message)` → a [`ErrorClass::Transient`] (retryable) failure;
/// - a panic, in the closure or in its future → an [`ErrorClass::Panicked`] failure; the
///   engine carries on;
/// - an unknown or missing `with.function` → [`ErrorClass::BadParams`] (and a load error
///   when it is written literally in the workflow file).
///
/// Cancellation and the deadline drop the future ([`ErrorClass::Cancelled`],
/// [`ErrorClass::Timeout`]). A function gives no sign of life while it works: under a
/// `heartbeat` shorter than its work, its step stalls (implement
/// [`Executor`] to report progress through its `ExecContext`).
///
/// ```
/// use cairn_executors::FunctionExecutor;
/// use serde_json::{Value, json};
///
/// let functions = FunctionExecutor::new()
///     .register("greet", |input: Value, _action| async move {
///         let name = input["name"].as_str().ok_or("`name` is required")?.to_owned();
///         Ok(json!({"greeting": format!("hello, {name}")}))
///     })
///     .register("attempt", |_input, action| async move { Ok(json!(action.attempt)) });
/// assert_eq!(functions.names().collect::<Vec<_>>(), ["attempt", "greet"]);
/// ```
#[derive(Clone, Default)]
pub struct FunctionExecutor {
    functions: BTreeMap<String, Function>,
}

impl FunctionExecutor {
    /// An executor with no functions yet.
    pub fn new() -> Self {
        FunctionExecutor::default()
    }

    /// Registers `function` under `name`, replacing any function of that name.
    pub fn register<F, Fut>(mut self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(Value, Action) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let function: Function = Arc::new(move |input, action| Box::pin(function(input, action)));
        self.functions.insert(name.into(), function);
        self
    }

    /// The names of the registered functions, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// The function `name`, or why there is none.
    fn function(&self, name: &str) -> Result<Function, String> {
        self.functions.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            format!(
                "no function named `{name}` is registered (registered: {})",
                known.join(", ")
            )
        })
    }
}

impl fmt::Debug for FunctionExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionExecutor")
            .field("functions", &self.functions.keys())
            .finish()
    }
}

/// A `function` step's parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FunctionParams {
    /// The name of a registered function.
    function: String,
    /// What the function is given (`null` when absent).
    #[serde(default)]
    input: Value,
}

/// The parameters of a `function` step, whatever functions are registered (the name is
/// any string): for the editor's schema, which cannot know the embedding program's.
pub(crate) fn any_function_params() -> schemars::Schema {
    params_schema::<FunctionParams>()
}

#[async_trait]
impl Executor for FunctionExecutor {
    /// `function` (one of the registered names) and `input`.
    fn params_schema(&self) -> Option<schemars::Schema> {
        let mut schema = any_function_params();
        if let Some(Value::Object(function)) = schema.pointer_mut("/properties/function") {
            function.insert("enum".to_owned(), json!(self.names().collect::<Vec<_>>()));
        }
        Some(schema)
    }

    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        let called = action
            .params_as::<FunctionParams>()
            .map_err(|error| error.to_string())
            .and_then(|params| Ok((self.function(&params.function)?, params.input)));
        let (function, input) = match called {
            Ok(called) => called,
            Err(message) => {
                return Outcome::failure(ErrorClass::BadParams, message);
            }
        };
        let owned = action.clone();
        // A task of its own, so that a panic (in the closure's body or in its future) ends the
        // task and comes back as a JoinError instead of unwinding into the engine.
        let mut task = tokio::spawn(async move { function(input, owned).await });
        let joined = tokio::select! {
            joined = &mut task => joined,
            why = Interrupt::wait(&ctx) => {
                task.abort();
                return why.outcome("function");
            }
        };
        match joined {
            Ok(Ok(output)) => Outcome::success(output),
            Ok(Err(message)) => Outcome::failure(ErrorClass::Transient, message),
            Err(error) if error.is_panic() => {
                let message = panic_message(error.into_panic());
                Outcome::failure(
                    ErrorClass::Panicked,
                    format!("function panicked: {message}"),
                )
            }
            Err(error) => Outcome::failure(
                ErrorClass::Cancelled,
                format!("function task ended: {error}"),
            ),
        }
    }
}

/// The text of a panic's payload, when it has one.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "(no message)".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cairn_engine::{ErrorClass, ExecContext, Executor, Outcome};
    use serde_json::{Value, json};
    use tokio::time::Instant;

    use super::FunctionExecutor;
    use crate::test_support::{action, within};

    fn functions() -> FunctionExecutor {
        FunctionExecutor::new()
            .register("double", |input: Value, _action| async move {
                let n = input.as_i64().ok_or("input must be a number")?;
                Ok(json!(n * 2))
            })
            .register(
                "step",
                |_input, action| async move { Ok(json!(action.step_id)) },
            )
            .register("panics", |_input, _action| async move { panic!("boom") })
            .register(
                "panics_before_future",
                |_input, _action| -> std::future::Ready<Result<Value, String>> {
                    panic!("early boom")
                },
            )
            .register("hangs", |_input, _action| std::future::pending())
    }

    /// Runs one call; fails the test if it does not end (the `hangs` function never does
    /// unless cancelled or timed out).
    async fn run(params: Value, ctx: ExecContext) -> Outcome {
        let what = format!("the call of {params}");
        within(&what, functions().execute(&action("function", params), ctx)).await
    }

    fn error(outcome: &Outcome) -> (ErrorClass, &str) {
        let error = outcome.result.as_ref().expect_err("a failure");
        (error.class, error.message.as_str())
    }

    #[tokio::test]
    async fn calls_the_named_function_with_the_input_and_action() {
        let outcome = run(
            json!({"function": "double", "input": 21}),
            ExecContext::new(),
        )
        .await;
        assert_eq!(outcome.result, Ok(json!(42)));
        let outcome = run(json!({"function": "step"}), ExecContext::new()).await;
        assert_eq!(outcome.result, Ok(json!("step")));
    }

    #[tokio::test]
    async fn an_error_is_a_transient_failure() {
        let outcome = run(
            json!({"function": "double", "input": "x"}),
            ExecContext::new(),
        )
        .await;
        assert_eq!(
            error(&outcome),
            (ErrorClass::Transient, "input must be a number")
        );
        assert!(ErrorClass::Transient.is_retryable());
    }

    #[tokio::test]
    async fn a_panic_is_a_panicked_failure() {
        let outcome = run(json!({"function": "panics"}), ExecContext::new()).await;
        assert_eq!(
            error(&outcome),
            (ErrorClass::Panicked, "function panicked: boom")
        );
        let outcome = run(
            json!({"function": "panics_before_future"}),
            ExecContext::new(),
        )
        .await;
        assert_eq!(
            error(&outcome),
            (ErrorClass::Panicked, "function panicked: early boom")
        );
    }

    #[tokio::test]
    async fn unknown_or_missing_function_is_bad_params() {
        let outcome = run(json!({"function": "nope"}), ExecContext::new()).await;
        let (class, message) = error(&outcome);
        assert_eq!(class, ErrorClass::BadParams);
        assert!(
            message.contains("`nope`") && message.contains("double"),
            "{message}"
        );
        let outcome = run(json!({}), ExecContext::new()).await;
        assert_eq!(error(&outcome).0, ErrorClass::BadParams);
    }

    #[test]
    fn the_schema_names_the_registered_functions() {
        let schema = functions().params_schema().unwrap();
        assert_eq!(
            schema.pointer("/properties/function/enum"),
            Some(&json!([
                "double",
                "hangs",
                "panics",
                "panics_before_future",
                "step"
            ]))
        );
    }

    #[tokio::test]
    async fn cancellation_and_deadline_stop_it() {
        let ctx = ExecContext::new();
        ctx.cancel.cancel();
        let outcome = run(json!({"function": "hangs"}), ctx).await;
        assert_eq!(error(&outcome).0, ErrorClass::Cancelled);
        let ctx = ExecContext {
            deadline: Some(Instant::now() + Duration::from_millis(1)),
            ..ExecContext::new()
        };
        let outcome = run(json!({"function": "hangs"}), ctx).await;
        assert_eq!(error(&outcome).0, ErrorClass::Timeout);
    }
}
