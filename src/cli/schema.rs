//! `cairn schema [workflow|policy]`: print a JSON Schema (a workflow file's by default).

use std::io::Write;
use std::process::ExitCode;

use super::error::{Error, SUCCESS};
use crate::Global;

/// Arguments of `cairn schema`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which schema (workflow files when left out).
    #[arg(value_enum, default_value = "workflow")]
    kind: Kind,
}

/// The schemas cairn publishes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// Workflow files (`schemas/workflow.schema.json`).
    Workflow,
    /// Policy files (`schemas/policy.schema.json`).
    Policy,
}

/// Prints the schema, pretty, as committed in `schemas/`.
pub(crate) fn run(args: &Args, _: &Global) -> Result<ExitCode, Error> {
    let schema = match args.kind {
        Kind::Workflow => cairn_engine::workflow_schema().clone(),
        Kind::Policy => cairn_guards::schema(),
    };
    let text = serde_json::to_string_pretty(&schema).map_err(std::io::Error::other)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::from(SUCCESS))
}
