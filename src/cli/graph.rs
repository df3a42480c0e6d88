//! `cairn graph FILE [--format dot|mermaid|svg]`: draw a workflow's DAG; `cairn graph --run
//! RUN`: draw a run's DAG as it is now (with the steps its planners added), each step with
//! its state.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_engine::{Engine, StepState};

use super::error::{Error, SUCCESS};
use super::{svg, workflow};
use crate::Global;

/// Arguments of `cairn graph`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The workflow file.
    #[arg(required_unless_present = "run", conflicts_with = "run")]
    file: Option<PathBuf>,
    /// A run (its id or a unique prefix of at least 4 characters), drawn from the database.
    #[arg(long)]
    run: Option<String>,
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

/// The most steps `--format svg` lays out: `layout-rs` checks the whole graph for every edge
/// it adds, so its time grows with the cube of the steps.
const SVG_MOST_STEPS: usize = 1000;

/// Prints the workflow's DAG, groups drawn as clusters (dot), subgraphs (Mermaid)
/// or boxes (SVG).
pub(crate) async fn run(args: &Args, global: &Global) -> Result<ExitCode, Error> {
    let (plan, states) = match &args.file {
        Some(file) => (workflow::load(file)?, Vec::new()),
        None => {
            // clap requires `--run` without FILE.
            let run = args.run.as_deref().unwrap_or_default();
            let engine = Engine::builder(&global.db)
                .create_database(false)
                .busy_timeout(global.busy_timeout)
                .executors(workflow::executors())
                .open()
                .await?;
            let plan = engine.plan(run).await?;
            let mut states = vec![StepState::Pending; plan.steps().len()];
            for step in engine.steps_without_outputs(run).await? {
                if let Some(index) = plan.index_of(&step.id) {
                    states[index] = step.state;
                }
            }
            (plan, states)
        }
    };
    let drawing = match args.format {
        Format::Dot => plan.to_dot_with_states(&states),
        Format::Mermaid => plan.to_mermaid_with_states(&states),
        Format::Svg if plan.steps().len() > SVG_MOST_STEPS => {
            return Err(Error::Usage(format!(
                "{} steps are too many to lay out as SVG here: the layout's time grows with \
                 the cube of the steps (about 1 s for a 1,000-step pipeline, 75 s for 4,000), \
                 so `--format svg` draws at most {SVG_MOST_STEPS}; use `--format dot` and \
                 Graphviz (`| dot -Tsvg`), or `--format mermaid`",
                plan.steps().len()
            )));
        }
        Format::Svg => svg::svg(&plan, &states),
    };
    std::io::stdout().lock().write_all(drawing.as_bytes())?;
    Ok(ExitCode::from(SUCCESS))
}
