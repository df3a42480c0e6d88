//! `cairn runs`, `cairn show`, `cairn history`: read runs from the database, change nothing.

use std::io::Write;
use std::process::ExitCode;

use cairn_engine::executor::Usage;
use cairn_engine::store::{EventRecord, RunRecord, Store, StoreError, StoreOptions};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::error::Error;
use crate::Global;

/// Arguments of `cairn show` and `cairn history`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArg {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
}

/// Lists every run, newest first.
pub(crate) async fn runs(global: &Global) -> Result<ExitCode, Error> {
    let runs = match open(global).await {
        Ok(store) => store.runs().await?,
        Err(StoreError::Missing(_)) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let mut stdout = std::io::stdout().lock();
    if global.json {
        let runs: Vec<Value> = runs
            .iter()
            .map(|run| {
                json!({
                    "id": run.id, "workflow": run.workflow_name, "state": run.state,
                    "created_at": time(run.created_at), "updated_at": time(run.updated_at),
                })
            })
            .collect();
        writeln!(stdout, "{}", Value::Array(runs))?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        writeln!(stdout, "no runs in {}", global.db.display())?;
    }
    for run in &runs {
        writeln!(
            stdout,
            "{}  {:<10} {:<24} {}",
            run.id,
            run.state.as_str(),
            run.workflow_name,
            time(run.updated_at)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows a run: its state, input, output, error and every step.
pub(crate) async fn show(args: &RunArg, global: &Global) -> Result<ExitCode, Error> {
    let store = open(global).await?;
    let run = store.run(&args.run).await?;
    let steps = store.steps(run.id).await?;
    let mut total = Usage::default();
    for usage in steps.iter().filter_map(|step| step.usage.as_ref()) {
        total += usage;
    }
    let mut stdout = std::io::stdout().lock();
    if global.json {
        let steps: Vec<Value> = steps
            .iter()
            .map(|step| {
                json!({
                    "id": step.id, "state": step.state, "attempt": step.attempt, "output": step.output,
                    "error": step.error, "usage": step.usage.clone().unwrap_or_default(),
                })
            })
            .collect();
        let shown = json!({
            "id": run.id, "workflow": run.workflow_name, "state": run.state, "input": run.input,
            "output": run.output, "error": run.error, "usage": total, "steps": steps,
        });
        writeln!(stdout, "{shown}")?;
        return Ok(ExitCode::SUCCESS);
    }
    print_run(&mut stdout, &run)?;
    if total != Usage::default() {
        let Usage {
            input_tokens,
            output_tokens,
            cost_usd,
        } = total;
        writeln!(
            stdout,
            "usage     {input_tokens} tokens in, {output_tokens} out, ${cost_usd:.4}"
        )?;
    }
    let width = steps
        .iter()
        .map(|step| step.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(stdout, "\n{:<width$}  {:<17} attempt", "step", "state")?;
    for step in &steps {
        writeln!(
            stdout,
            "{:<width$}  {:<17} {}",
            step.id,
            step.state.as_str(),
            step.attempt
        )?;
        if let Some(error) = &step.error {
            writeln!(stdout, "{:<width$}  error: {error}", "")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists every transition of a run, in order, with its time.
pub(crate) async fn history(args: &RunArg, global: &Global) -> Result<ExitCode, Error> {
    let store = open(global).await?;
    let run = store.run(&args.run).await?;
    let events = store.history(run.id).await?;
    let mut stdout = std::io::stdout().lock();
    if global.json {
        let events: Vec<Value> = events.iter().map(event_json).collect();
        writeln!(stdout, "{}", Value::Array(events))?;
        return Ok(ExitCode::SUCCESS);
    }
    for event in &events {
        let subject = event
            .step_id
            .as_deref()
            .map_or("run".to_owned(), |step| format!("step {step}"));
        let from = event
            .from
            .as_deref()
            .map_or(String::new(), |from| format!("{from} -> "));
        let attempt = event
            .attempt
            .filter(|&attempt| attempt > 0)
            .map_or(String::new(), |a| format!(" (attempt {a})"));
        let detail = event
            .detail
            .as_ref()
            .map_or(String::new(), |detail| format!("  {detail}"));
        writeln!(
            stdout,
            "{:>5}  {}  {subject}: {from}{}{attempt}{detail}",
            event.seq,
            time(event.at),
            event.to
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn open(global: &Global) -> Result<Store, StoreError> {
    Store::open(&StoreOptions {
        create: false,
        busy_timeout: global.busy_timeout,
        ..StoreOptions::new(&global.db)
    })
    .await
}

fn print_run(out: &mut impl Write, run: &RunRecord) -> std::io::Result<()> {
    writeln!(out, "run       {}", run.id)?;
    writeln!(out, "workflow  {}", run.workflow_name)?;
    writeln!(out, "state     {}", run.state)?;
    writeln!(out, "created   {}", time(run.created_at))?;
    writeln!(out, "updated   {}", time(run.updated_at))?;
    writeln!(out, "input     {}", run.input)?;
    if let Some(output) = &run.output {
        writeln!(out, "output    {output}")?;
    }
    if let Some(error) = &run.error {
        writeln!(out, "error     {error}")?;
    }
    Ok(())
}

fn event_json(event: &EventRecord) -> Value {
    json!({
        "seq": event.seq, "at": time(event.at), "step": event.step_id, "from": event.from,
        "to": event.to, "attempt": event.attempt, "detail": event.detail,
    })
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
