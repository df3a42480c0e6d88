//! Loading workflow files for the commands.

use std::path::Path;

use cairn_engine::{LoadError, Plan};

/// The built-in executors' names: the executors a workflow file may use.
pub(crate) const EXECUTORS: &[&str] = &["noop", "sleep", "process", "agent", "function"];

/// Loads and compiles the workflow file at `path`.
pub(crate) fn load(path: &Path) -> Result<Plan, LoadError> {
    cairn_engine::load_file(path, EXECUTORS)
}
