//! cairn-engine: workflow definitions, the DAG plan, the durable store and the scheduler.
//!
//! Executor (and later guard) *implementations* live in other crates; this crate defines
//! the traits and drives runs. A run is started from a [`Plan`] that the loader built:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cairn_engine::{Engine, load};
//!
//! let engine = Engine::builder("cairn.db").open().await?;
//! let plan = load::load_file("examples/hello.json".as_ref(), &engine.executor_names())?;
//! let mut run = engine.start(plan, serde_json::json!({})).await?;
//! println!("started {}", run.id());
//! let report = run.wait().await?;
//! println!("{}", report.state);
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
