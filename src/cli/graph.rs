//! `cairn graph FILE [--format dot|mermaid|svg]`: draw a workflow's DAG; `cairn graph --run
//! RUN`: draw a run's DAG as it is now (with the steps its planners added), each step with
//! its state. With `--json`, the DAG as data: each step with its executor, what it needs
//! and (of a run) its state.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_engine::{Plan, StepState};
use serde::Serialize;

use super::engine::{closed_after, reader};
use super::error::{Error, SUCCESS};
use super::{json, svg, workflow};
use crate::Global;

/// Arguments of `cairn graph`: a workflow file or `--run`, one of them, both forms shown in
/// the usage.
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "cairn graph [OPTIONS] <FILE>\n       cairn graph [OPTIONS] --run <RUN>",
    group(clap::ArgGroup::new("drawn").required(true).args(["file", "run"]))
)]
pub(crate) struct Args {
    /// The workflow file (or `--run RUN`).
    file: Option<PathBuf>,
    /// A run (its id or a unique prefix of at least 4 characters), drawn from the database
    /// instead of a file.
    #[arg(long)]
    run: Option<String>,
    /// The drawing syntax (dot when not given; not with `--json`).
    #[arg(long, value_enum)]
    format: Option<Format>,
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

/// The most steps `--format svg` lays out: the layout's other passes (a walk of the DAG for
/// each edge) grow with the steps times the edges.
const SVG_MOST_STEPS: usize = 1000;

/// The most crossing checks ([`svg::crossing_checks`]) `--format svg` makes: a second or
/// less of layout in a release build for a sparse DAG, about three for a dense one.
/// Measured: a chain of 40 steps and a join needing them all, 0.3 million checks, 0.29 s; of
/// 80, 5 million, 4.6 s; of 120, 25 million, 31 s; 100 steps all needed by 100 others, 0.5
/// million, 0.98 s; 150 by 150, 1.7 million, 4.7 s; 998 parallel steps, 0.5 million, 0.24 s.
const SVG_MOST_CROSSING_CHECKS: u64 = 1_000_000;

/// What to use instead of `--format svg` for a DAG too big for it.
/// Mermaid's renderers stop at 500 edges by default (`maxEdges`), fewer than the DAGs the SVG
/// limits refuse: only Graphviz is named.
const SVG_INSTEAD: &str = "use `--format dot` and Graphviz (`| dot -Tsvg`)";

/// Prints the workflow's DAG, groups drawn as clusters (dot), subgraphs (Mermaid)
/// or boxes (SVG).
pub(crate) async fn run(args: &Args, global: &Global) -> Result<ExitCode, Error> {
    let (plan, states) = match &args.file {
        Some(file) => (workflow::load(file)?, Vec::new()),
        None => {
            // clap requires `--run` without FILE.
            let run = args.run.as_deref().unwrap_or_default();
            let engine = reader(global)
                .executors(workflow::executors())
                .open()
                .await?;
            closed_after(engine, async |engine| {
                let plan = engine.plan(run).await?;
                let mut states = vec![StepState::Pending; plan.steps().len()];
                for step in engine.steps_without_outputs(run).await? {
                    if let Some(index) = plan.index_of(&step.id) {
                        states[index] = step.state;
                    }
                }
                Ok::<_, Error>((plan, states))
            })
            .await?
        }
    };
    if global.json {
        if args.format.is_some() {
            return Err(Error::Usage(
                "`--json` prints the DAG as data: leave out `--format`".into(),
            ));
        }
        json::print(&mut std::io::stdout().lock(), &as_data(&plan, &states))?;
        return Ok(ExitCode::from(SUCCESS));
    }
    let drawing = match args.format.unwrap_or(Format::Dot) {
        Format::Dot => plan.to_dot_with_states(&states),
        Format::Mermaid => plan.to_mermaid_with_states(&states),
        Format::Svg if plan.steps().len() > SVG_MOST_STEPS => {
            return Err(Error::Usage(format!(
                "{} steps are too many to lay out as SVG here: `--format svg` draws at most \
                 {SVG_MOST_STEPS}; {SVG_INSTEAD}",
                plan.steps().len()
            )));
        }
        Format::Svg => match svg::crossing_checks(&plan) {
            checks if checks > SVG_MOST_CROSSING_CHECKS => {
                return Err(Error::Usage(format!(
                    "this DAG is too wide to lay out as SVG here: the layout's time grows with \
                     the cube of its rows' widths (a row holds its steps and a waypoint of \
                     each edge passing it), and this one would take {checks} crossing checks, \
                     more than {SVG_MOST_CROSSING_CHECKS}; {SVG_INSTEAD}"
                )));
            }
            _ => svg::svg(&plan, &states),
        },
    };
    std::io::stdout().lock().write_all(drawing.as_bytes())?;
    Ok(ExitCode::from(SUCCESS))
}

/// One step of the DAG as `--json` prints it.
#[derive(Serialize)]
struct Step<'a> {
    id: &'a str,
    executor: &'a str,
    /// The steps it waits for, in plan order (its own `needs`, and what its groups and
    /// planners add).
    needs: Vec<&'a str>,
    /// Its state, for a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<StepState>,
}

/// `{"steps": [...]}`, in plan order (a run's added steps after the file's).
#[derive(Serialize)]
struct Dag<'a> {
    steps: Vec<Step<'a>>,
}

fn as_data<'a>(plan: &'a Plan, states: &[StepState]) -> Dag<'a> {
    let id = |step: usize| &*plan.steps()[step].id;
    let steps = (0..plan.steps().len())
        .map(|step| {
            let mut needs: Vec<usize> = plan.dependencies(step).collect();
            needs.sort_unstable();
            Step {
                id: id(step),
                executor: plan.node(step).executor.as_deref().unwrap_or_default(),
                needs: needs.into_iter().map(id).collect(),
                state: states.get(step).copied(),
            }
        })
        .collect();
    Dag { steps }
}
