//! The executors the commands register, and loading workflow files against them: `validate`,
//! `graph` and `run` accept exactly the same files.

use std::path::Path;

use cairn_engine::executor::Executors;
use cairn_engine::load::{self, LoadError};
use cairn_engine::plan::Plan;

/// The executors the CLI registers: the built-in ones (`function` needs an embedding
/// program).
pub(crate) fn executors() -> Executors {
    cairn_executors::builtin()
}

/// Loads and compiles the workflow file at `path`, its steps checked against
/// [`executors`].
pub(crate) fn load(path: &Path) -> Result<Plan, LoadError> {
    load::load_file(path, &executors())
}
