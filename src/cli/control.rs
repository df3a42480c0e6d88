//! `cairn pause`, `cairn cancel`, `cairn retry`: steer a run from any process. A pause or a
//! cancel is recorded for the engine driving the run, which acts within a second; with none
//! driving it, it takes effect at once. A retry drives a failed or cancelled run again, here.

use std::process::ExitCode;

use cairn_engine::{Command, LeaseHolder, Request, RunState, Uuid};

use super::engine::{EngineArgs, open_existing};
use super::error::{self, Before, Error};
use super::invocation;
use super::printable::say;
use super::run::finish;
use super::signals::OnSignal;
use crate::Global;

/// Arguments of `cairn pause` and `cairn cancel`.
#[derive(Debug, clap::Args)]
pub(crate) struct SteerArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// Why (kept in the run's history).
    #[arg(long)]
    reason: Option<String>,
    /// Who asks (default: $USER, else the user cairn runs as).
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
    #[arg(long, value_name = "STEP", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    from: Option<String>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Pauses a run: nothing new starts, the attempts in flight finish.
pub(crate) async fn pause(args: &SteerArgs, global: &Global) -> Result<ExitCode, Error> {
    steer(Command::Pause(request(args)), args, global).await
}

/// Cancels a run: the attempts in flight are stopped, the run ends `cancelled`.
pub(crate) async fn cancel(args: &SteerArgs, global: &Global) -> Result<ExitCode, Error> {
    steer(Command::Cancel(request(args)), args, global).await
}

/// Sends a pause or a cancel, then says what became of the run: a run no engine drives
/// takes it at once (or ends otherwise, past its deadline), a driven one within a second.
async fn steer(command: Command, args: &SteerArgs, global: &Global) -> Result<ExitCode, Error> {
    let engine = open_existing(global, &EngineArgs::default()).await?;
    let pause = matches!(command, Command::Pause(_));
    // An engine that stopped renewing its lease but still runs: this command takes the run
    // over, and the steps that engine started may run on (probe 16 of stop 56).
    let stalled_driver = (engine.store().find_run(&args.run).await.ok())
        .and_then(|record| record.lease)
        .filter(|lease| lease.lapsed_while_its_holder_runs(chrono::Utc::now()));
    let sent = engine.send(&args.run, command).await;
    let mut now = None;
    if let Ok(run) = &sent
        && let Ok(record) = engine.store().find_run(&run.to_string()).await
    {
        // Judged gone, the engine that drove the run committed its last move before it
        // exited: one that carried the command out after the run was read is read again,
        // not told about as a run no engine drives (probe 186 F1: "not carried out yet" of
        // a run paused).
        let at = chrono::Utc::now();
        let (record, driven) = if record.is_driven(at) {
            (record, true)
        } else {
            let again = engine.store().find_run(&run.to_string()).await;
            let record = again.unwrap_or(record);
            let driven = record.is_driven(chrono::Utc::now());
            (record, driven)
        };
        // An ended run that took the command is being redriven: it acts once the run moves.
        let redriven = record.state.is_terminal() && record.lease.is_some();
        let state = if redriven {
            RunState::Running
        } else {
            record.state
        };
        // Only a pause can come after a cancel under way.
        let pending = if pause {
            engine.store().pending_commands(record.id).await.ok()
        } else {
            None
        };
        let cancelling =
            (pending.iter().flatten()).any(|pending| matches!(pending.command, Command::Cancel(_)));
        now = Some(After {
            state,
            cancelling,
            driven,
            deadline_passed: record.deadline.filter(|&deadline| deadline <= at),
        });
    }
    engine.store().close().await;
    let run = sent?;
    say(steered(run, pause, now, &invocation::cairn(&global.db)));
    if let Some(lease) = stalled_driver {
        let LeaseHolder { pid, host, .. } = lease.holder;
        say(format!(
            "note: the engine that drove it, pid {pid} on {host}, still runs but stopped \
             renewing its lease (stopped, or too busy): the steps it started may run on until \
             it goes on, when it stops them"
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// A run just after a pause or a cancel was sent to it.
struct After {
    /// Its state.
    state: RunState,
    /// Whether a cancel is under way.
    cancelling: bool,
    /// Whether a live engine drives it.
    driven: bool,
    /// Its deadline, if passed: the engine driving it fails it, whatever was asked.
    deadline_passed: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a pause (`pause`) or a cancel sent to `run` did, by the run just after, its commands
/// called as `cairn` says ([`invocation::cairn`]).
fn steered(run: Uuid, pause: bool, now: Option<After>, cairn: &str) -> String {
    let what = if pause { "pause" } else { "cancel" };
    match (pause, now) {
        (
            true,
            Some(After {
                state: RunState::Paused,
                ..
            }),
        ) => {
            format!("run {run} is paused; `{cairn} resume {run}` continues it")
        }
        (
            false,
            Some(After {
                state: RunState::Cancelled,
                ..
            }),
        ) => format!("run {run} is cancelled"),
        (
            true,
            Some(After {
                state: RunState::Cancelled,
                ..
            }),
        ) => {
            format!("run {run} is cancelled: a cancel sent meanwhile ended it")
        }
        (_, Some(After { state, .. })) if state.is_terminal() => {
            format!(
                "run {run} ended {state} before the {what} could take effect (see `{cairn} show {run}`)"
            )
        }
        // The engine driving it is stopping its steps past the deadline (probe 55 F1: told
        // "being cancelled", it failed).
        (
            _,
            Some(After {
                driven: true,
                deadline_passed: Some(deadline),
                ..
            }),
        ) => format!(
            "run {run} passed its deadline at {}: the engine driving it ends it failed (timed out) once its steps in flight stop, so the {what} cannot take effect (`{cairn} show {run}`)",
            deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        (
            true,
            Some(After {
                cancelling: true, ..
            }),
        ) => {
            format!("run {run} is being cancelled already: the pause changes nothing")
        }
        // Recorded, but carrying it out failed (the database locked meanwhile): it stands. A
        // person's pause is carried out by a recovery and overruled by a resume (probe 39 F3).
        (true, Some(After { driven: false, .. })) => format!(
            "the pause of run {run} is recorded, not carried out yet: no engine drives the run now; `{cairn} recover` carries it out, and `{cairn} resume {run}` overrules it (a person's \"continue\")"
        ),
        (false, Some(After { driven: false, .. })) => format!(
            "the cancel of run {run} is recorded, not carried out yet: no engine drives the run now, and the next to take it over (`{cairn} resume {run}`, `{cairn} recover`) carries it out"
        ),
        (true, _) => format!(
            "run {run} pauses within a second, once its steps in flight (if any) finish; `{cairn} resume {run}` continues it"
        ),
        // The engine reads the cancel within a second: a run whose last steps end before
        // then ends as they do (probe 46: told "being cancelled", it succeeded).
        (false, _) => format!(
            "run {run} is being cancelled: the engine driving it reads the cancel within a second and stops its steps in flight (if any) within their kill grace; a run whose last steps end first ends as they do (`{cairn} show {run}`)"
        ),
    }
}

/// Drives a failed or cancelled run again, to its end.
pub(crate) async fn retry(args: &RetryArgs, global: &Global) -> Result<ExitCode, Error> {
    let engine = open_existing(global, &args.engine).await?;
    let on_signal = OnSignal::spawn(&engine);
    let before = Before::TakingOver {
        run: args.run.clone(),
        command: "retry",
        cairn: invocation::cairn(&global.db),
    };
    let handle = match engine.retry(&args.run, args.from.as_deref()).await {
        Ok(handle) => handle,
        Err(error) => {
            // Nothing to drive: the store closes, its `-wal` and `-shm` gone (probe 104 F1).
            engine.store().close().await;
            return Err(error::stopped_before(before, error));
        }
    };
    finish(&engine, handle, true, None, global, on_signal).await
}

/// Records `command` for `run`, then closes the store (its WAL folded into the database,
/// not left for the next process to read): the run's id, and whether a live engine drives
/// the run (it acts on the command within a second; else the next `cairn resume` does).
pub(crate) async fn send_then_close(
    global: &Global,
    run: &str,
    command: Command,
) -> Result<(Uuid, bool), Error> {
    let engine = open_existing(global, &EngineArgs::default()).await?;
    let sent = engine.send(run, command).await;
    let mut driven = false;
    if let Ok(run) = &sent
        && let Ok(record) = engine.store().find_run(&run.to_string()).await
    {
        driven = record.is_driven(chrono::Utc::now());
    }
    engine.store().close().await;
    Ok((sent?, driven))
}

fn request(args: &SteerArgs) -> Request {
    Request::new(operator(args.by.clone()), args.reason.clone())
}

/// Who asks or decides: `--by`, else `$USER`, else the name of the process's user (cron,
/// systemd and containers set no `$USER`), else its uid (kept in the run's history).
pub(crate) fn operator(by: Option<String>) -> String {
    let user = || std::env::var("USER").ok().filter(|user| !user.is_empty());
    by.or_else(user).unwrap_or_else(|| {
        let uid = nix::unistd::getuid();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(user)) => user.name,
            _ => format!("uid {uid}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use cairn_engine::{RunState, Uuid};

    use super::{After, steered};

    #[test]
    fn a_pause_or_cancel_says_what_became_of_the_run() {
        let run = Uuid::nil();
        let after = |state, cancelling, driven| After {
            state,
            cancelling,
            driven,
            deadline_passed: None,
        };
        let said = |pause, state, cancelling| {
            steered(run, pause, Some(after(state, cancelling, true)), "cairn")
        };
        assert!(said(true, RunState::Paused, false).contains("is paused"));
        assert!(said(true, RunState::Running, false).contains("pauses within a second"));
        assert!(said(false, RunState::Cancelled, false).ends_with("is cancelled"));
        let cancelling = said(false, RunState::Running, true);
        assert!(cancelling.contains("is being cancelled:"), "{cancelling}");
        assert!(
            cancelling.contains("last steps end first ends as they do"),
            "{cancelling}"
        );
        assert!(
            said(true, RunState::Running, true).contains("the pause changes nothing"),
            "a pause of a run being cancelled"
        );
        assert!(said(true, RunState::Cancelled, false).contains("a cancel sent meanwhile"));
        // An undriven run past its deadline ends failed, whatever was asked.
        for pause in [true, false] {
            let said = said(pause, RunState::Failed, false);
            assert!(said.contains("ended failed before the"), "{said}");
        }
        // Recorded, not carried out (the database was locked meanwhile): no engine drives it.
        for (pause, what) in [(true, "pause"), (false, "cancel")] {
            let said = steered(
                run,
                pause,
                Some(after(RunState::Running, false, false)),
                "cairn",
            );
            assert!(
                said.starts_with(&format!(
                    "the {what} of run {run} is recorded, not carried out"
                )),
                "{said}"
            );
        }
        // Past its deadline, a driven run fails whatever was asked (probe 55 F1).
        for (pause, what) in [(true, "pause"), (false, "cancel")] {
            let deadline = chrono::DateTime::UNIX_EPOCH;
            let past = Some(After {
                deadline_passed: Some(deadline),
                ..after(RunState::Running, false, true)
            });
            let said = steered(run, pause, past, "cairn");
            assert!(
                said.contains("passed its deadline at 1970-01-01T00:00:00Z: the engine")
                    && said.contains(&format!("so the {what} cannot take effect")),
                "{said}"
            );
        }
    }
}
