//! cairn: a durable workflow engine for chains of agents, scripts and services.
//!
//! This crate re-exports [`engine`] (definitions, plans, the store, the scheduler),
//! [`executors`] (the built-in executors) and [`guards`] (the policy guard), and holds the `cairn` command line. An embedding
//! program registers the built-in executors and its own functions, then starts runs:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use cairn::engine::Engine;
//! use cairn::executors::{FunctionExecutor, builtin};
//! use serde_json::{Value, json};
//!
//! let functions = FunctionExecutor::new()
//!     .register("double", |input: Value, _action| async move { Ok(json!(input.as_i64().unwrap_or(0) * 2)) });
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::builder(dir.path().join("cairn.db"))
//!     .executors(builtin())
//!     .executor("function", Arc::new(functions))
//!     .open()
//!     .await?;
//! let workflow = r#"{"name": "double", "steps": [
//!     {"id": "twice", "executor": "function", "with": {"function": "double", "input": "${{ input.n }}"}}
//! ]}"#;
//! let plan = engine.load_str(workflow, "double.json")?;
//! let report = engine.start(plan, json!({"n": 21})).await?.wait().await?;
//! assert_eq!(report.output, Some(json!({"twice": 42})));
//! # Ok(()) }
//! ```
//!
//! See `examples/embed.rs` for a complete program, and the README for the command line.

#![forbid(unsafe_code)]

pub use cairn_engine as engine;
pub use cairn_executors as executors;
pub use cairn_guards as guards;
