//! `cairn graph FILE [--format dot|mermaid]`: draw a workflow's DAG.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::error::{Error, SUCCESS};
use super::workflow;
use crate::Global;

/// Arguments of `cairn graph`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The workflow file.
    file: PathBuf,
    /// The drawing syntax.
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,
}

/// A drawing syntax.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Graphviz: `cairn graph FILE | dot -Tsvg > graph.svg`.
    Dot,
    /// Mermaid flowchart, for Markdown.
    Mermaid,
}

/// Prints the workflow's DAG, groups drawn as clusters (dot) or subgraphs (Mermaid).
pub(crate) fn run(args: &Args, _: &Global) -> Result<ExitCode, Error> {
    let plan = workflow::load(&args.file)?;
    let drawing = match args.format {
        Format::Dot => plan.to_dot(),
        Format::Mermaid => plan.to_mermaid(),
    };
    std::io::stdout().lock().write_all(drawing.as_bytes())?;
    Ok(ExitCode::from(SUCCESS))
}
