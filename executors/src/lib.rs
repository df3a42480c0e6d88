//! cairn-executors: the built-in implementations of the engine's
//! [`Executor`](cairn_engine::Executor) trait.
//!
//! - [`ProcessExecutor`] (`process`): runs a program, JSON in on stdin, JSON (or text) out on
//!   stdout, with a capped output, an environment allow-list, timeouts that reach the whole
//!   process group, and no orphans or zombies left behind.
//! - [`AgentExecutor`] (`agent`): runs a coding-agent CLI (Claude Code, Codex, opencode or a
//!   command of your own) with a prompt, through the process executor, and reads its answer,
//!   token usage and cost.
//! - [`FunctionExecutor`] (`function`): async Rust closures registered by the embedding
//!   program.
//! - [`NoopExecutor`] (`noop`) and [`SleepExecutor`] (`sleep`): for tests, examples and
//!   benchmarks.
//!
//! [`builtin`] gives `noop`, `sleep`, `process` and `agent` under those names; an embedding program
//! adds its functions:
//!
//! ```
//! use std::sync::Arc;
//!
//! use cairn_engine::{Action, ExecContext};
//! use cairn_executors::FunctionExecutor;
//! use serde_json::{Value, json};
//!
//! # #[tokio::main]
//! # async fn main() {
//! let mut executors = cairn_executors::builtin();
//! let functions = FunctionExecutor::new().register("add", |input: Value, _action| async move {
//!     let sum = input["a"].as_i64().unwrap_or(0) + input["b"].as_i64().unwrap_or(0);
//!     Ok(json!(sum))
//! });
//! executors.insert("function".to_owned(), Arc::new(functions));
//!
//! // The engine builds actions and contexts; here is one by hand.
//! let run_id = uuid::Uuid::now_v7();
//! let action = Action {
//!     run_id,
//!     step_id: "hello".to_owned(),
//!     item_index: None,
//!     attempt: 1,
//!     executor: "process".to_owned(),
//!     params: json!({"command": ["sh", "-c", "cat; echo '{\"ok\": true}' >&2"], "input": {"n": 1}}),
//!     idempotency_key: Action::idempotency_key_for(run_id, "hello", None),
//! };
//! let outcome = executors["process"].execute(&action, ExecContext::new()).await;
//! assert_eq!(outcome.result, Ok(json!({"n": 1})));
//! assert_eq!(outcome.log_tail.as_deref(), Some("{\"ok\": true}\n"));
//! # }
//! ```

#![forbid(unsafe_code)]

mod agent;
mod bad_params;
mod function;
mod interrupt;
mod noop;
mod process;
mod sleep;
#[cfg(test)]
mod test_support;

use std::sync::Arc;

use cairn_engine::{Action, Executors};

#[doc(inline)]
pub use crate::agent::{AGENT_TIMEOUT_ENV, AgentExecutor, DEFAULT_AGENT_TIMEOUT};
#[doc(inline)]
pub use crate::bad_params::BadParams;
#[doc(inline)]
pub use crate::function::FunctionExecutor;
#[doc(inline)]
pub use crate::noop::NoopExecutor;
#[doc(inline)]
pub use crate::process::{
    DEFAULT_ENV_ALLOW, DEFAULT_KILL_GRACE, DEFAULT_MAX_OUTPUT, DEFAULT_STDERR_TAIL,
    ProcessExecutor, continue_steps, stop_steps,
};
#[doc(inline)]
pub use crate::sleep::SleepExecutor;

/// The built-in executors under their names: `noop`, `sleep`, `process` and `agent` (with
/// their defaults). The `function` executor is the embedding program's to add.
pub fn builtin() -> Executors {
    let mut executors = Executors::new();
    executors.insert("noop".to_owned(), Arc::new(NoopExecutor::new()));
    executors.insert("sleep".to_owned(), Arc::new(SleepExecutor::new()));
    executors.insert("process".to_owned(), Arc::new(ProcessExecutor::new()));
    executors.insert("agent".to_owned(), Arc::new(AgentExecutor::new()));
    executors
}

/// The argv an action of an executor that runs a program (`process`, `agent`) runs, read
/// as that executor reads it, or why the executor refuses the action; `None` for an action
/// of another executor. What a guard judges, and what a policy's test may be.
pub fn program_argv(action: &Action) -> Option<Result<Vec<String>, BadParams>> {
    match action.executor.as_str() {
        "process" => Some(ProcessExecutor::argv(action)),
        "agent" => Some(AgentExecutor::argv(action)),
        _ => None,
    }
}

/// The workflow schema editors read, as `cairn schema workflow` prints it: the engine's
/// [`workflow_editor_schema`](cairn_engine::workflow_editor_schema) with the parameters of
/// the built-in executors, `function`'s naming any function (the embedding program's).
pub fn workflow_schema() -> serde_json::Value {
    let builtin = builtin();
    let described = (builtin.iter())
        .filter_map(|(name, executor)| Some((name.as_str(), executor.params_schema()?)));
    let function = ("function", function::any_function_params());
    cairn_engine::workflow_editor_schema(described.chain([function]))
}

#[cfg(test)]
mod schema_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_names_its_executors() {
        let names: Vec<String> = super::builtin().into_keys().collect();
        assert_eq!(names, ["agent", "noop", "process", "sleep"]);
    }

    /// The executors that run programs are the ones a guard reads programs of, by the names
    /// they are registered under ([`super::program_argv`]).
    #[test]
    fn the_program_runners_are_guarded_as_their_names() {
        let guarded: Vec<(String, Option<&str>)> = (super::builtin().into_iter())
            .map(|(name, executor)| (name, executor.guarded_as()))
            .collect();
        let program_runners: Vec<&str> = (guarded.iter())
            .filter_map(|(name, guarded_as)| {
                assert!(guarded_as.is_none_or(|own| own == name), "{name}");
                guarded_as.map(|_| name.as_str())
            })
            .collect();
        assert_eq!(program_runners, ["agent", "process"]);
    }
}
