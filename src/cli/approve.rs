//! `cairn approve`, `cairn deny`, `cairn approvals`: decide on the steps a guard held for a
//! person, from any process. A live engine sees the decision within a second; with none
//! running, it waits in the database and `cairn resume` acts on it.

use std::io::Write;
use std::process::ExitCode;

use cairn_engine::{Command, Ruling};
use chrono::{SecondsFormat, Utc};

use super::control::{operator, send_then_close};
use super::error::Error;
use super::inspect::open;
use crate::Global;

/// Arguments of `cairn approve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApproveArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// The step that awaits approval.
    step: String,
    /// Only this `for_each` item (default: every item of the step that waits).
    #[arg(long)]
    item: Option<usize>,
    /// Why (kept in the run's history).
    #[arg(long)]
    reason: Option<String>,
    /// Who decides (default: $USER).
    #[arg(long)]
    by: Option<String>,
}

/// Arguments of `cairn deny`.
#[derive(Debug, clap::Args)]
pub(crate) struct DenyArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// The step that awaits approval.
    step: String,
    /// Only this `for_each` item (the step is denied as a whole all the same).
    #[arg(long)]
    item: Option<usize>,
    /// Why (kept in the run's history and the step's error).
    #[arg(long)]
    reason: String,
    /// Who decides (default: $USER).
    #[arg(long)]
    by: Option<String>,
}

/// Approves a step that awaits approval.
pub(crate) async fn approve(args: &ApproveArgs, global: &Global) -> Result<ExitCode, Error> {
    let ruling = ruling(&args.step, args.item, args.reason.clone(), args.by.clone());
    send(global, &args.run, Command::Approve(ruling), "approved").await
}

/// Denies a step that awaits approval.
pub(crate) async fn deny(args: &DenyArgs, global: &Global) -> Result<ExitCode, Error> {
    let ruling = ruling(
        &args.step,
        args.item,
        Some(args.reason.clone()),
        args.by.clone(),
    );
    send(global, &args.run, Command::Deny(ruling), "denied").await
}

/// Lists the approval requests that wait, in every run.
pub(crate) async fn approvals(global: &Global) -> Result<ExitCode, Error> {
    let waiting = open(global).await?.approvals().await?;
    let mut stdout = std::io::stdout().lock();
    if global.json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_value(&waiting).unwrap_or_default()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if waiting.is_empty() {
        writeln!(stdout, "no step awaits approval")?;
    }
    for approval in &waiting {
        let item = approval
            .item
            .map_or(String::new(), |item| format!(" --item {item}"));
        let left = (approval.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default();
        let left = humantime::format_duration(std::time::Duration::from_secs(left.as_secs()));
        writeln!(
            stdout,
            "{} {}{item}: {} (asked {}, expires in {left})",
            approval.run_id,
            approval.step_id,
            approval.verdict.explain(),
            approval
                .requested_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ruling(step: &str, item: Option<usize>, reason: Option<String>, by: Option<String>) -> Ruling {
    Ruling {
        step: step.to_owned(),
        item,
        by: operator(by),
        reason,
    }
}

async fn send(global: &Global, run: &str, command: Command, done: &str) -> Result<ExitCode, Error> {
    let step = command.step().unwrap_or_default().to_owned();
    let run = send_then_close(open(global).await?, run, command).await?;
    eprintln!(
        "step {step} of run {run} {done}; the engine driving the run acts on it within a second (or `cairn resume {run}` does)"
    );
    Ok(ExitCode::SUCCESS)
}
