//! Errors of the commands, and the one place that prints them and picks the exit code.

use std::path::Path;
use std::process::ExitCode;

use cairn_engine::{Error as EngineError, ErrorClass, LoadError, RunReport, RunState};

use super::printable::say;

/// Exit code: the command did what was asked.
pub(crate) const SUCCESS: u8 = 0;
/// Exit code: the run failed or was cancelled.
pub(crate) const RUN_FAILED: u8 = 1;
/// Exit code: bad input (usage, invalid workflow, unknown run).
pub(crate) const BAD_INPUT: u8 = 2;
/// Exit code: the run stopped unfinished (paused, awaiting approval, interrupted).
pub(crate) const UNFINISHED: u8 = 3;

/// The exit code that reports a run in `state`.
pub(crate) fn exit_code_of(state: RunState) -> ExitCode {
    ExitCode::from(match state {
        RunState::Succeeded => SUCCESS,
        RunState::Failed | RunState::Cancelled => RUN_FAILED,
        RunState::Pending | RunState::Running | RunState::Paused => UNFINISHED,
    })
}

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// A workflow file that does not load.
    Load(LoadError),
    /// Output could not be written (a closed pipe, a full disk).
    Output(std::io::Error),
    /// The engine refused or failed.
    Engine(EngineError),
    /// A bad argument the parser could not catch (unreadable or malformed input JSON).
    Usage(String),
    /// The engine failed while driving a run (storage, lease); the run is left resumable.
    Stopped {
        /// The run.
        run: cairn_engine::Uuid,
        /// What failed.
        error: EngineError,
    },
}

impl From<EngineError> for Error {
    fn from(error: EngineError) -> Self {
        Error::Engine(error)
    }
}

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Self {
        Error::Load(error)
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Output(error)
    }
}

/// Prints `error` (of a command on the database `db`) on stderr and returns the exit code
/// it calls for.
pub(crate) fn report(error: &Error, db: &Path) -> ExitCode {
    let (message, code) = match error {
        Error::Load(error) | Error::Engine(EngineError::Load(error)) => {
            (error.to_string(), ExitCode::from(BAD_INPUT))
        }
        // The output is all such a command does: its reader gone (`| head`) is no failure.
        Error::Output(error) => match unwritten(error) {
            None => return ExitCode::from(SUCCESS),
            Some(message) => (message, ExitCode::FAILURE),
        },
        Error::Usage(message) => (format!("cairn: {message}"), ExitCode::from(BAD_INPUT)),
        Error::Stopped {
            run,
            error: error @ EngineError::LeaseLost(_),
        } => (
            format!(
                "cairn: {error}\n`cairn show {run}` says how it stands now (that engine may have ended it)"
            ),
            ExitCode::from(UNFINISHED),
        ),
        Error::Stopped {
            run,
            error: error @ EngineError::Replaced(path),
        } => (
            format!(
                "cairn: {error}\nrun {run} stopped unfinished; with the file back at {}, `cairn resume {run}` carries it on from what it holds",
                cairn_engine::path_text(path)
            ),
            ExitCode::from(UNFINISHED),
        ),
        Error::Stopped { run, error } => (
            format!(
                "cairn: {}\n{}",
                described(error, db),
                stopped_unfinished(*run)
            ),
            ExitCode::from(UNFINISHED),
        ),
        Error::Engine(error @ EngineError::PausedSince { run, .. }) => (
            format!("cairn: {error}; `cairn resume {run}` continues it"),
            ExitCode::from(UNFINISHED),
        ),
        Error::Engine(
            error @ (EngineError::Bug(_)
            | EngineError::LeaseLost(_)
            | EngineError::Database(_)
            | EngineError::DiskFull(_)
            | EngineError::Replaced(_)
            | EngineError::FileSizeLimit(_)
            | EngineError::Io { .. }
            | EngineError::IllegalTransition(_)),
        ) => (format!("cairn: {error}"), ExitCode::FAILURE),
        Error::Engine(error) => (
            format!("cairn: {}{}", described(error, db), hint(error)),
            ExitCode::from(BAD_INPUT),
        ),
    };
    // A run's text (a name, a step's stderr) may be in the message: made printable.
    say(message);
    code
}

/// The exit code of a command whose work is done — a run driven, files checked, a policy's
/// tests run — and calls for `code`, once it has `printed` what it found: `code`, whatever
/// became of the output. A script reads the outcome from the code: a run that succeeded is
/// not redriven, nor a failure taken for a success, because stdout's reader was gone or
/// its disk full. A failure to write is said on stderr, but for a reader gone, which asked
/// for no more. Any other error is the command's.
pub(crate) fn outcome(code: ExitCode, printed: Result<(), Error>) -> Result<ExitCode, Error> {
    match printed {
        Ok(()) => Ok(code),
        Err(Error::Output(error)) => {
            if let Some(message) = unwritten(&error) {
                say(message);
            }
            Ok(code)
        }
        Err(error) => Err(error),
    }
}

/// What cairn says when its output could not be written (`error`): nothing when stdout's
/// reader is gone (a closed pipe), which asked for no more of it.
fn unwritten(error: &std::io::Error) -> Option<String> {
    (error.kind() != std::io::ErrorKind::BrokenPipe)
        .then(|| format!("cairn: cannot write the output: {error}"))
}

/// What cairn says of `run` when it stopped unfinished: the command that carries it on.
pub(crate) fn stopped_unfinished(run: cairn_engine::Uuid) -> String {
    format!("run {run} stopped unfinished; `cairn resume {run}` carries it on")
}

/// What the user can do from the command line about the run of `report`, if anything: carry
/// on a run that stopped unfinished, or retry with a bigger cap one that failed because a
/// step's output was over its cap (the engine's message names the cap, not the flag).
pub(crate) fn next_step(report: &RunReport) -> Option<String> {
    if !report.state.is_terminal() {
        return Some(stopped_unfinished(report.id));
    }
    bigger_cap(report.id, report.state, report.error_class)
}

/// The command that retries `run` with a bigger cap on a step's output, when the run ended
/// `state` because a step's output was over its cap (`class`).
pub(crate) fn bigger_cap(
    run: cairn_engine::Uuid,
    state: RunState,
    class: Option<ErrorClass>,
) -> Option<String> {
    (state == RunState::Failed && class == Some(ErrorClass::OutputTooLarge)).then(|| {
        format!(
            "`cairn retry {run} --max-output BYTES` retries the run with a bigger cap on a step's output"
        )
    })
}

/// `error` as printed: a corrupt database's with its file (`db`), which the engine's message
/// leaves out; a user with several databases could not tell which one.
fn described(error: &EngineError, db: &Path) -> String {
    match error {
        EngineError::Corrupt(_) => format!("{}: {error}", cairn_engine::path_text(db)),
        _ => error.to_string(),
    }
}

/// What the user can do about `error` from the command line, if there is a flag for it.
fn hint(error: &EngineError) -> String {
    let hint = match error {
        EngineError::MissingDatabase(_) => " (run a workflow first, or pass --db PATH)",
        EngineError::IsADirectory(_)
        | EngineError::NotAFileName(_)
        | EngineError::DanglingLink(_)
        | EngineError::MissingDirectory(_)
        | EngineError::NotADatabase(_)
        | EngineError::ForeignDatabase { .. } => "; pass --db PATH to use another file",
        EngineError::UnknownRun(_) | EngineError::AmbiguousRun { .. } => " (see `cairn runs`)",
        EngineError::Corrupt(_) => {
            "; if it was changed outside cairn, restore the file from a backup or put the named value back with `sqlite3` (a run an older cairn stored in a form this one refuses can only stay as it is)"
        }
        EngineError::LeaseHeld { run, .. } => {
            return format!(
                "; wait for it to end (`cairn resume --wait {run}` waits, then carries the run on)"
            );
        }
        _ => "",
    };
    hint.to_owned()
}

#[cfg(test)]
mod tests {
    use cairn_engine::{Error as EngineError, LeaseHolder, Uuid};
    use chrono::Utc;

    use super::hint;

    #[test]
    fn a_corrupt_database_is_answered_with_what_restores_it() {
        let said = hint(&EngineError::Corrupt("column input: not JSON".into()));
        assert!(said.contains("restore the file from a backup"), "{said}");
    }

    #[test]
    fn a_live_lease_is_answered_with_the_wait_command_for_its_run() {
        let run = Uuid::now_v7();
        let holder = LeaseHolder {
            owner: "other".into(),
            host: "here".into(),
            pid: 1,
            pid_start: 0,
        };
        let expires = Utc::now();
        let said = hint(&EngineError::LeaseHeld {
            run,
            holder,
            expires,
        });
        assert!(
            said.contains(&format!("`cairn resume --wait {run}`")),
            "{said}"
        );
    }
}
