//! `cairn run`, `cairn resume`, `cairn recover`: drive runs to their end.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use cairn_engine::{Engine, Guard, RunFilter, RunHandle, RunReport, RunState};
use serde_json::Value;

use super::announce;
use super::engine::{EngineArgs, open, open_existing};
use super::error::{self, Before, Error, exit_code_of};
use super::invocation;
use super::json;
use super::printable::{self, Printable, say};
use super::progress;
use super::signals::OnSignal;
use super::workflow;
use crate::Global;

/// Arguments of `cairn run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The workflow file.
    file: PathBuf,
    /// The run input, as JSON (default `{}`).
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the run input as JSON.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// A policy file: every action of the run is judged by it (its snapshot is stored with
    /// the run and judges it on resume too). See `docs/guards.md`.
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Arguments of `cairn resume`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResumeArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// Wait for another engine's lease to end instead of refusing.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Arguments of `cairn recover`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoverArgs {
    #[command(flatten)]
    engine: EngineArgs,
}

/// Starts a run of a workflow file and drives it to its end.
pub(crate) async fn run(args: &RunArgs, global: &Global) -> Result<ExitCode, Error> {
    let plan = workflow::load(&args.file)?;
    let input = read_input(args)?;
    cairn_engine::check_input(&plan, &input)?;
    let guard: Option<Arc<dyn Guard>> = match &args.policy {
        Some(path) => Some(Arc::new(super::policy::guard(path)?)),
        None => None,
    };
    let engine = open(global, &args.engine, guard).await?;
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| (plan.steps().len(), 0));
    let on_signal = OnSignal::spawn(&engine);
    let handle = (engine.start(plan, input).await)
        .map_err(|error| error::stopped_before(Before::Starting, error))?;
    finish(&engine, handle, false, progress, global, on_signal).await
}

/// Resumes one unfinished run.
pub(crate) async fn resume(args: &ResumeArgs, global: &Global) -> Result<ExitCode, Error> {
    let engine = open_existing(global, &args.engine).await?;
    // Acting on a signal from before the takeover (see `OnSignal`), but not while `--wait`
    // waits for another engine's lease: a signal then ends the wait, and the process, at once.
    let early = (!args.wait).then(|| OnSignal::spawn(&engine));
    let resumed = if args.wait {
        engine.resume_waiting(&args.run).await
    } else {
        engine.resume(&args.run).await
    };
    if resumed.is_err() {
        // Nothing to drive: the store closes, its `-wal` and `-shm` gone (probe 104 F1).
        engine.store().close().await;
    }
    let handle = match resumed {
        Ok(handle) => handle,
        Err(cairn_engine::Error::Finished(report)) => {
            let hint = error::redrive_hint(&report, &global.db);
            say(format_args!(
                "run {} already {}; nothing to resume{hint}",
                report.id, report.state
            ));
            return error::outcome(exit_code_of(report.state), print_report(&report, global));
        }
        Err(error) => {
            let before = Before::TakingOver {
                run: args.run.clone(),
                command: "resume",
                cairn: invocation::cairn(&global.db),
            };
            return Err(error::stopped_before(before, error));
        }
    };
    let progress = if std::io::stderr().is_terminal() {
        let id = handle.id().to_string();
        let steps = engine.steps_without_outputs(&id).await?;
        Some((
            steps.len(),
            steps.iter().filter(|step| step.state.is_terminal()).count(),
        ))
    } else {
        None
    };
    let on_signal = early.unwrap_or_else(|| OnSignal::spawn(&engine));
    finish(&engine, handle, true, progress, global, on_signal).await
}

/// Resumes every unfinished run that no live engine drives; they run side by side. A run it
/// cannot take over is named with why, and left as it was; its error's exit code is
/// recover's (2 for a policy that cannot be restored), once the others have ended.
pub(crate) async fn recover(args: &RecoverArgs, global: &Global) -> Result<ExitCode, Error> {
    let engine = match open_existing(global, &args.engine).await {
        Err(Error::Engine(cairn_engine::Error::MissingDatabase(_))) => {
            say(format_args!(
                "no unfinished run to recover: {} holds none yet",
                cairn_engine::path_text(&global.db)
            ));
            // The runs recovered, none: `[]` as from a database that holds runs (probe 192
            // F1: nothing was printed).
            let printed = match global.json {
                true => json::print(&mut std::io::stdout().lock(), &[(); 0]).map_err(Error::from),
                false => Ok(()),
            };
            return error::outcome(ExitCode::SUCCESS, printed);
        }
        opened => opened?,
    };
    let (mut refused, mut handles, mut left) = (None, Vec::new(), false);
    let on_signal = OnSignal::spawn(&engine);
    for (run, taken) in engine.recover().await? {
        match taken {
            Ok(handle) => handles.push(handle),
            Err(error) => {
                let before = Before::TakingOver {
                    run: run.to_string(),
                    command: "resume",
                    cairn: invocation::cairn(&global.db),
                };
                let error = error::stopped_before(before, error);
                let code = error::report(&error, &global.db);
                if matches!(error, Error::StoppedBefore(_)) {
                    left = true;
                } else {
                    say(format_args!(
                        "run {run} is not recovered: it is left as it was"
                    ));
                    refused.get_or_insert(code);
                }
            }
        }
    }
    if handles.is_empty() && refused.is_none() && !left {
        say(nothing_to_recover(&engine, &global.db).await?);
    }
    // Every run taken over is driven from now on: each is named before any is waited for.
    for handle in &handles {
        say(format_args!("recovering run {}", handle.id()));
    }
    // Each run is waited for to its end, also when another one stopped (the first such
    // stop is the error).
    let (mut reports, mut first_stop) = (Vec::new(), None);
    for handle in handles {
        let run = handle.id();
        match ended_meanwhile(&engine, handle.wait().await).await {
            Ok(report) => reports.push(report),
            Err(error) => {
                first_stop.get_or_insert(stopped(run, error));
            }
        }
    }
    drop(on_signal);
    engine.store().close().await;
    (reports.iter()).for_each(|report| hint_next_step(report, &global.db));
    let printed = if global.json {
        json::print(&mut std::io::stdout().lock(), &reports).map_err(Error::from)
    } else {
        (reports.iter()).try_for_each(|report| print_report(report, global))
    };
    // A run that stopped on an error (its lease lost) is recover's error, once the runs
    // that ended are told (probe 50 F1: they went untold, those left unfinished too) — told
    // only, when one of them failed or was cancelled: that one's 1 comes before a stop's 3
    // (probe 58 F1: it exited 3 under `run … failed`).
    if let Some(error) = first_stop {
        let failed = (reports.iter())
            .any(|report| matches!(report.state, RunState::Failed | RunState::Cancelled));
        if !failed {
            return Err(error);
        }
        error::report(&error, &global.db);
    }
    // A run left before it was taken over stopped unfinished, as a run still `running` does.
    let left = left.then_some(RunState::Running);
    let states = reports.iter().map(|report| report.state).chain(left);
    let code = refused.unwrap_or_else(|| recovered_code(states));
    error::outcome(code, printed)
}

/// Why `cairn recover` found no run to take over: none is unfinished, or live engines drive
/// those that are; paused runs wait for a person (the commands named for the run's `db`).
async fn nothing_to_recover(engine: &Engine, db: &Path) -> Result<String, Error> {
    let cairn = invocation::cairn(db);
    let driven = engine.store().unfinished_runs().await?.len();
    let paused = RunFilter {
        states: vec![RunState::Paused],
        limit: None,
    };
    let paused = engine.runs(&paused).await?.len();
    let said = match driven {
        0 => "no unfinished run to recover".to_owned(),
        driven => format!(
            "no run to recover: the {driven} unfinished run(s) are driven by live engines (`{cairn} runs` lists them)"
        ),
    };
    Ok(match paused {
        0 => said,
        paused => format!(
            "{said}; {paused} paused run(s) wait for `{cairn} resume RUN`, never recovered (`{cairn} runs --state paused` lists them)"
        ),
    })
}

/// The exit code of a recovery that refused no run, by the states its runs ended in: 1 if
/// one failed or was cancelled, else 3 if one stopped unfinished, else 0.
fn recovered_code(states: impl Iterator<Item = RunState>) -> ExitCode {
    let worst = states.max_by_key(|state| match state {
        RunState::Succeeded => 0,
        RunState::Pending | RunState::Running | RunState::Paused => 1,
        RunState::Failed | RunState::Cancelled => 2,
    });
    worst.map_or(ExitCode::SUCCESS, exit_code_of)
}

/// Waits for the run (stopping cleanly on SIGINT/SIGTERM/SIGHUP, through `on_signal`),
/// prints how it ended. `progress` (steps in all, steps already ended) turns on the progress
/// display; a run `taken_over` (resumed, redriven) has its approval requests asked before
/// told first.
pub(crate) async fn finish(
    engine: &Engine,
    mut handle: RunHandle,
    taken_over: bool,
    progress: Option<(usize, usize)>,
    global: &Global,
    on_signal: OnSignal,
) -> Result<ExitCode, Error> {
    let handle_id = handle.id();
    say(format_args!("run {handle_id}"));
    let notices = tokio::spawn({
        let (events, engine, db) = (handle.events(), engine.clone(), global.db.clone());
        async move {
            let waiting = || announce::waiting(&engine, handle_id);
            let run = handle_id.to_string();
            let out = Printable::new(progress::stderr());
            announce::notices(events, waiting, taken_over, &run, &db, out).await;
        }
    });
    let display = progress.map(|(total, ended)| progress::spawn(handle.events(), total, ended));
    let report = ended_meanwhile(engine, handle.wait().await).await;
    drop(on_signal);
    // The run's driver is gone with its events' sender: the notices end with the last event.
    let _ = notices.await;
    if let Some(display) = display {
        display.abort();
        let _ = display.await;
    }
    // The run is over for this process, however it ended: leave no WAL for the next one to
    // read whole (nor, of a database file that moved, one at its path).
    engine.store().close().await;
    let report = report.map_err(|error| stopped(handle_id, error))?;
    hint_next_step(&report, &global.db);
    error::outcome(exit_code_of(report.state), print_report(&report, global))
}

/// How a run this engine drove ended, as `driven` says; or, when its lease was lost (this
/// engine did not renew it: stopped, frozen, or another process held the database) to a
/// process that then ended the run — a `cairn cancel`, an engine that took it over —, how it
/// ended there, said on stderr: the run is no longer resumable, and exits as it ended (probe
/// 16 of stop 56: a cancelled run's engine, continued, exited 3).
async fn ended_meanwhile(
    engine: &Engine,
    driven: Result<RunReport, cairn_engine::Error>,
) -> Result<RunReport, cairn_engine::Error> {
    let Err(cairn_engine::Error::LeaseLost(run)) = driven else {
        return driven;
    };
    match engine.store().find_run(&run.to_string()).await {
        Ok(record) if record.state.is_terminal() => {
            say(format_args!(
                "run {run}: this engine lost its lease, and another process ended the run meanwhile"
            ));
            Ok(RunReport::from(&record))
        }
        _ => driven,
    }
}

/// The error of driving `run`: a failed commit — the disk full or an I/O error, the
/// database damaged or read-only, another process holding it past the busy timeout — leaves
/// the run stopped and resumable from what is committed (the commits before it were made:
/// not refused input).
fn stopped(run: cairn_engine::Uuid, error: cairn_engine::Error) -> Error {
    match error {
        cairn_engine::Error::Database(_)
        | cairn_engine::Error::Locked(_)
        | cairn_engine::Error::DiskFull(_)
        | cairn_engine::Error::Replaced(_)
        | cairn_engine::Error::FileSizeLimit(_)
        | cairn_engine::Error::Io { .. }
        | cairn_engine::Error::Damaged(_)
        | cairn_engine::Error::ReadOnly(_)
        | cairn_engine::Error::Corrupt(_)
        | cairn_engine::Error::LeaseLost(_) => Error::Stopped { run, error },
        error => Error::Engine(error),
    }
}

/// Says on stderr what the user can do next about the run of `report` (in `db`), if anything
/// ([`error::next_step`]).
fn hint_next_step(report: &RunReport, db: &Path) {
    if let Some(next) = error::next_step(report, db) {
        say(next);
    }
}

/// Prints the run's end and its output, written as it is serialized (a run's output is its
/// sinks' outputs: it may be hundreds of megabytes).
fn print_report(report: &RunReport, global: &Global) -> Result<(), Error> {
    let mut stdout = printable::stdout(global.json);
    if global.json {
        json::print(&mut stdout, report)?;
    } else {
        writeln!(stdout, "run {} {}", report.id, report.state)?;
        if let Some(output) = &report.output {
            serde_json::to_writer_pretty(&mut stdout, output).map_err(std::io::Error::from)?;
            writeln!(stdout)?;
        }
        // A run stopped unfinished has no error of its own: what stopped it is said as such.
        let label = if report.state.is_terminal() {
            "error"
        } else {
            "stopped"
        };
        if let Some(error) = &report.error {
            let error = printable::indented(error, label.len() + 2);
            writeln!(stdout, "{label}: {error}")?;
        }
    }
    stdout.flush()?;
    Ok(())
}

fn read_input(args: &RunArgs) -> Result<Value, Error> {
    let (text, origin) = match (&args.input, &args.input_file) {
        (Some(text), _) => (text.clone(), "--input".to_owned()),
        (None, Some(path)) => (
            cairn_engine::read_document(path)?,
            cairn_engine::path_text(path),
        ),
        (None, None) => return Ok(Value::Object(Default::default())),
    };
    Ok(cairn_engine::load_json(&text, &origin)?)
}
