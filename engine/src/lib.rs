//! cairn-engine: workflow definitions, the DAG plan, the durable store and the scheduler.
//!
//! Executor and guard *implementations* live in other crates; this crate defines the traits.

pub mod definition;
pub mod executor;
pub mod expr;
pub mod load;
pub mod plan;
pub mod state;
pub mod store;
pub mod lease;
