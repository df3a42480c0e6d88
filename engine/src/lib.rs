//! cairn-engine: workflow definitions, the DAG plan, the durable store and the scheduler.
//!
//! Executor and guard *implementations* live in other crates (`cairn-executors`,
//! `cairn-guards`);
//! this crate defines the traits and drives runs. A run starts from a [`Plan`] the loader
//! built, every transition is committed to SQLite before anything depends on it, and
//! [`Engine::resume`] carries on a run whose engine died:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use cairn_engine::{Action, Engine, ExecContext, Executor, Outcome, RunState};
//! use serde_json::json;
//!
//! /// Returns `with.output`.
//! #[derive(Debug)]
//! struct Echo;
//!
//! #[async_trait]
//! impl Executor for Echo {
//!     async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
//!         Outcome::success(action.params["output"].clone())
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::builder(dir.path().join("cairn.db")).executor("echo", Arc::new(Echo)).open().await?;
//! let workflow = r#"{"name": "greet", "steps": [{"pipeline": [
//!     {"id": "who", "executor": "echo", "with": {"output": "${{ input.name }}"}},
//!     {"id": "greet", "executor": "echo", "with": {"output": "hello, ${{ steps.who.output }}"}}
//! ]}]}"#;
//! let plan = engine.load_str(workflow, "greet.json")?;
//! let mut run = engine.start(plan, json!({"name": "cairn"})).await?;
//! let mut events = run.events();
//! let report = run.wait().await?;
//! assert_eq!(report.state, RunState::Succeeded);
//! assert_eq!(report.output, Some(json!({"greet": "hello, cairn"})));
//! assert_eq!(events.recv().await?.to(), "pending"); // the run's creation comes first
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod approval;
mod command;
mod definition;
mod engine;
mod error;
mod event;
mod executor;
mod expr;
mod guard;
mod ignorable;
mod item;
mod lease;
mod load;
mod measure;
mod nesting;
mod plan;
mod problem;
mod report;
mod retry;
mod scheduler;
mod stall;
mod state;
pub mod store;
mod text;

pub use approval::{Approval, ApprovalDecision};
/// What an [`Executor`] (or a [`Store`](store::Store)) is implemented with; re-exported, as are
/// [`Schema`], [`CancellationToken`] and [`Uuid`], so that an embedder names them without
/// crates and versions of its own.
pub use async_trait::async_trait;
pub use command::{Command, Request, Ruling};
pub use definition::{
    Backoff, Defaults, Duration, ENV_NAME_PATTERN, ID_PATTERN, Limits, MAX_DURATION,
    NUL_FREE_PATTERN, Node, NodeKind, OnStall, Params, Retry, Stall, Trigger, Workflow,
    editor_schema as workflow_editor_schema, is_env_name, is_id, schema as workflow_schema,
};
pub use engine::{
    DEFAULT_MAX_OUTPUT_BYTES, Engine, EngineBuilder, LeaseLosses, RunHandle, check_input,
};
pub use error::{Error, Result};
pub use event::{Event, EventKind};
pub use executor::{
    Action, ErrorClass, ExecContext, ExecError, Executor, Executors, Outcome, ParamsError,
    Progress, Usage, decimal_usd, params_schema,
};
pub use expr::{Condition, ExprError, SharedJson, Variable, evaluate_conditions};
pub use guard::{Decision, Facts, Guard, GuardError, RateLimit, Verdict};
pub use lease::{LeaseHolder, process_start};
pub use load::{
    LoadError, Place, Problem, check_params, document_schema, load_document, load_file, load_json,
    load_snapshot, load_str, read_document,
};
pub use nesting::TooDeep;
pub use plan::{Graph, Plan, PlanStep, Spent, StepIndex};
pub use report::{RunFilter, RunReport, RunSummary, RunView, StepView};
/// The JSON Schema an executor declares for its parameters ([`Executor::params_schema`]).
pub use schemars::Schema;
pub use state::{IllegalTransition, RunState, StepState, UnknownState};
pub use store::Durability;
/// How an attempt is told to stop ([`ExecContext::cancel`]).
pub use tokio_util::sync::CancellationToken;
/// Run ids are UUIDs (v7: time-ordered); re-exported so an embedder needs no `uuid` of its own.
pub use uuid::Uuid;
/// Helpers cairn's own crates (the guards, the executors, the CLI) share: not part of the
/// embedding API, so hidden from its documentation (probe 23 F8).
#[doc(hidden)]
pub use {
    approval::action_hash,
    definition::{SCHEMA_MESSAGE_KEY, whole},
    expr::evaluate_conditions_each,
    ignorable::{is_default_ignorable, is_variation_selector},
    nesting::read_output,
    problem::{closest, escape, unescape},
    text::{cut, lossless_text, one_line, path_text},
};
