//! `cairn graph FILE [--format dot|mermaid|svg]`: draw a workflow's DAG.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::error::{Error, SUCCESS};
use super::{svg, workflow};
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
    /// A picture, laid out without Graphviz: `cairn graph FILE --format svg > graph.svg`.
    Svg,
}

/// Prints the workflow's DAG, groups drawn as clusters (dot), subgraphs (Mermaid)
/// or boxes (SVG).
pub(crate) fn run(args: &Args, _: &Global) -> Result<ExitCode, Error> {
    let plan = workflow::load(&args.file)?;
    let drawing = match args.format {
        Format::Dot => plan.to_dot(),
        Format::Mermaid => plan.to_mermaid(),
        Format::Svg => svg::svg(&plan),
    };
    std::io::stdout().lock().write_all(drawing.as_bytes())?;
    Ok(ExitCode::from(SUCCESS))
}
