//! cairn: a durable workflow engine. This crate re-exports the engine and the executors.

pub use cairn_engine as engine;
pub use cairn_executors as executors;
