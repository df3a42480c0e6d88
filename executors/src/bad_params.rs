//! [`BadParams`]: why an executor refuses an action's parameters.

/// Why an action's parameters are not ones its executor runs: what a failed attempt says
/// (class `bad_params`), and what a guard reading the action's command line
/// ([`ProcessExecutor::argv`](crate::ProcessExecutor::argv),
/// [`AgentExecutor::argv`](crate::AgentExecutor::argv)) is told, in the same words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadParams {
    /// `with` does not have the executor's shape: a missing or unknown key, a value of the
    /// wrong type (the parameter named, `with.command[1]`).
    #[error(transparent)]
    Shape(#[from] cairn_engine::ParamsError),
    /// `with` has the shape, but a value the executor refuses: an empty program, a NUL
    /// byte in an argument, an invalid variable name (the message names the parameter).
    #[error("{0}")]
    Value(String),
}
