//! cairn-engine: workflow definitions, the DAG plan, the durable store and the scheduler.
//!
//! Executor (and later guard) *implementations* live in other crates (`cairn-executors`);
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
//! use cairn_engine::executor::{Action, ExecContext, Executor, Outcome};
//! use cairn_engine::{Engine, load, state::RunState};
//! use serde_json::json;
//!
//! /// Returns `with.output`.
//! #[derive(Debug)]
//! struct Echo;
//!
//! #[async_trait]
//! impl Executor for Echo {
//!     async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
//!         Outcome::success(action.params["output"].clone(), std::time::Duration::ZERO)
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::builder(dir.path().join("cairn.db")).executor("echo", Arc::new(Echo)).open().await?;
//! let workflow = r#"{"name": "greet", "steps": [{"pipeline": [
//!     {"id": "who", "executor": "echo", "with": {"output": "${{ input.name }}"}},
//!     {"id": "greet", "executor": "echo", "with": {"output": "hello, ${{ steps.who.output }}"}}
//! ]}]}"#;
//! let plan = load::load_str(workflow, "greet.json", engine.executors())?;
//! let mut run = engine.start(plan, json!({"name": "cairn"})).await?;
//! let mut events = run.events();
//! let report = run.wait().await?;
//! assert_eq!(report.state, RunState::Succeeded);
//! assert_eq!(report.output, Some(json!({"greet": "hello, cairn"})));
//! assert_eq!(events.recv().await?.to, "running"); // the run's own first transition
//! # Ok(()) }
//! ```

pub mod definition;
mod engine;
pub mod event;
pub mod executor;
pub mod expr;
pub mod lease;
pub mod load;
pub mod plan;
mod scheduler;
pub mod state;
pub mod store;

#[doc(inline)]
pub use engine::{
    DEFAULT_MAX_OUTPUT_BYTES, Engine, EngineBuilder, EngineError, RunHandle, RunReport, check_input,
};
#[doc(inline)]
pub use plan::Plan;
