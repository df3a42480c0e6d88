//! `cairn pause`, `cairn cancel`, `cairn retry`: steer a run from any process. A pause or a
//! cancel is recorded for the engine driving the run, which acts within a second; with none
//! driving it, it takes effect at once. A retry drives a failed or cancelled run again, here.

use std::process::ExitCode;

use cairn_engine::{Command, Engine, Request, RunState, Uuid};

use super::error::Error;
use super::run::{EngineArgs, finish, open, restorer};
use super::workflow;
use crate::Global;

/// Arguments of `cairn pause` and `cairn cancel`.
#[derive(Debug, clap::Args)]
pub(crate) struct SteerArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// Why (kept in the run's history).
    #[arg(long)]
    reason: Option<String>,
    /// Who asks (default: $USER).
    #[arg(long)]
    by: Option<String>,
}

/// Arguments of `cairn retry`.
#[derive(Debug, clap::Args)]
pub(crate) struct RetryArgs {
    /// The failed or cancelled run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// Run this step and everything downstream of it again (default: what failed, was
    /// denied, cancelled or skipped).
    #[arg(long)]
    from: Option<String>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Pauses a run: nothing new starts, the attempts in flight finish.
pub(crate) async fn pause(args: &SteerArgs, global: &Global) -> Result<ExitCode, Error> {
    let command = Command::Pause(request(args));
    let engine = engine(global).await?;
    let sent = engine.send(&args.run, command).await;
    // A run no engine drives is paused at once; a driven one once its steps in flight end.
    let paused = match &sent {
        Ok(run) => (engine.store().find_run(&run.to_string()).await)
            .is_ok_and(|record| record.state == RunState::Paused),
        Err(_) => false,
    };
    engine.store().close().await;
    let run = sent?;
    if paused {
        eprintln!("run {run} is paused; `cairn resume {run}` continues it");
    } else {
        eprintln!(
            "run {run} pauses once its steps in flight finish; `cairn resume {run}` continues it"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancels a run: the attempts in flight are stopped, the run ends `cancelled`.
pub(crate) async fn cancel(args: &SteerArgs, global: &Global) -> Result<ExitCode, Error> {
    let command = Command::Cancel(request(args));
    let run = send_then_close(engine(global).await?, &args.run, command).await?;
    eprintln!("run {run} is cancelled (its steps in flight are stopped within their kill grace)");
    Ok(ExitCode::SUCCESS)
}

/// Drives a failed or cancelled run again, to its end.
pub(crate) async fn retry(args: &RetryArgs, global: &Global) -> Result<ExitCode, Error> {
    let engine = open(global, &args.engine, Some(restorer())).await?;
    let handle = engine.retry(&args.run, args.from.as_deref()).await?;
    finish(&engine, handle, None, global).await
}

/// Records `command` for `run` through `engine`, then closes the store (its WAL folded
/// into the database, not left for the next process to read): the run's id.
pub(crate) async fn send_then_close(
    engine: Engine,
    run: &str,
    command: Command,
) -> Result<Uuid, Error> {
    let sent = engine.send(run, command).await;
    engine.store().close().await;
    Ok(sent?)
}

/// An engine over an existing database that can take over a run no engine drives.
async fn engine(global: &Global) -> Result<Engine, Error> {
    Ok(Engine::builder(&global.db)
        .create_database(false)
        .executors(workflow::executors())
        .guard(restorer())
        .busy_timeout(global.busy_timeout)
        .open()
        .await?)
}

fn request(args: &SteerArgs) -> Request {
    Request {
        by: operator(args.by.clone()),
        reason: args.reason.clone(),
    }
}

/// Who asks or decides: `--by`, else `$USER`, else `unknown` (kept in the run's history).
pub(crate) fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}
