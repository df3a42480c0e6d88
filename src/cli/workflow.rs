//! The executors the commands register, and loading workflow files against them: `validate`,
//! `graph` and `run` accept exactly the same files.

use std::path::Path;

use cairn_engine::{Executors, LoadError, Plan};

/// The executors the CLI registers: the built-in ones (`function` needs an embedding
/// program).
pub(crate) fn executors() -> Executors {
    cairn_executors::builtin()
}

/// Loads and compiles the workflow file at `path`, its steps checked against
/// [`executors`].
pub(crate) fn load(path: &Path) -> Result<Plan, LoadError> {
    cairn_engine::load_file(path, &executors())
}
