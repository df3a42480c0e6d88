//! Errors of the commands, and the one place that prints them and picks the exit code.

use std::path::Path;
use std::process::ExitCode;

use cairn_engine::{Error as EngineError, ErrorClass, LoadError, RunReport, RunState};

use super::invocation;
use super::printable::say;

/// Exit code: the command did what was asked.
pub(crate) const SUCCESS: u8 = 0;
/// Exit code: the run failed or was cancelled, or the store (or cairn: a bug) failed under
/// the command.
pub(crate) const RUN_FAILED: u8 = 1;
/// Exit code: bad input (usage, invalid workflow, unknown run).
pub(crate) const BAD_INPUT: u8 = 2;
/// Exit code: the run stopped unfinished (paused, awaiting approval, interrupted), or a
/// signal stopped the command before it started its run or took one over.
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
    /// A signal stopped the command before it started its run or took one over (the
    /// engine's [`EngineError::ShutDown`] then): nothing was recorded, nothing started.
    StoppedBefore(Before),
}

/// What a command was about to do when a signal stopped it ([`Error::StoppedBefore`]).
#[derive(Debug)]
pub(crate) enum Before {
    /// Record and drive a new run (`cairn run`).
    Starting,
    /// Take a run over to drive it.
    TakingOver {
        /// The run, as the user named it (an id or a prefix of one).
        run: String,
        /// The command that carries the run on: `resume`, or `retry` for a retry.
        command: &'static str,
        /// How to call cairn on the run's database ([`invocation::cairn`]).
        cairn: String,
    },
}

impl std::fmt::Display for Before {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Before::Starting => write!(f, "stopped before the run started: nothing was recorded"),
            Before::TakingOver {
                run,
                command,
                cairn,
            } => write!(
                f,
                "stopped before taking run {run} over: nothing was started; `{cairn} {command} {run}` carries it on"
            ),
        }
    }
}

/// The command's error for the engine's `error`, met `before` starting a run or taking one
/// over: the engine's stop ([`EngineError::ShutDown`], a signal came) is
/// [`Error::StoppedBefore`] that, any other error the engine's own.
pub(crate) fn stopped_before(before: Before, error: EngineError) -> Error {
    match error {
        EngineError::ShutDown => Error::StoppedBefore(before),
        error => Error::Engine(error),
    }
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
                "cairn: {error}\n`{} show {run}` says how it stands now (that engine may have ended it)",
                invocation::cairn(db)
            ),
            ExitCode::from(UNFINISHED),
        ),
        Error::Stopped {
            run,
            error: error @ EngineError::Replaced(path),
        } => (
            format!(
                "cairn: {error}\nrun {run} stopped unfinished; `{} resume {run}` carries it on from what the database at {} holds (put its file back there first if it was moved)",
                invocation::cairn(db),
                cairn_engine::path_text(path)
            ),
            ExitCode::from(UNFINISHED),
        ),
        Error::Stopped { run, error } => (
            format!(
                "cairn: {}\n{}",
                described(error, db),
                stopped_unfinished(*run, db)
            ),
            ExitCode::from(UNFINISHED),
        ),
        Error::StoppedBefore(before) => (before.to_string(), ExitCode::from(UNFINISHED)),
        Error::Engine(error) => (
            format!("cairn: {}{}", described(error, db), hint(error, db)),
            ExitCode::from(engine_code(error)),
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
pub(crate) fn unwritten(error: &std::io::Error) -> Option<String> {
    (error.kind() != std::io::ErrorKind::BrokenPipe)
        .then(|| format!("cairn: cannot write the output: {error}"))
}

/// What cairn says of `run` (in `db`) when it stopped unfinished: the command that carries
/// it on.
pub(crate) fn stopped_unfinished(run: cairn_engine::Uuid, db: &Path) -> String {
    let cairn = invocation::cairn(db);
    format!("run {run} stopped unfinished; `{cairn} resume {run}` carries it on")
}

/// What the user can do from the command line about the run of `report`, if anything: carry
/// on a run that stopped unfinished, or retry with a bigger cap one that failed because a
/// step's output was over its cap (the engine's message names the cap, not the flag).
pub(crate) fn next_step(report: &RunReport, db: &Path) -> Option<String> {
    if !report.state.is_terminal() {
        return Some(stopped_unfinished(report.id, db));
    }
    bigger_cap(report.id, report.state, report.error_class, db)
}

/// The command that retries `run` (in `db`) with a bigger cap on a step's output, when the
/// run ended `state` because a step's output was over its cap (`class`).
pub(crate) fn bigger_cap(
    run: cairn_engine::Uuid,
    state: RunState,
    class: Option<ErrorClass>,
    db: &Path,
) -> Option<String> {
    (state == RunState::Failed && class == Some(ErrorClass::OutputTooLarge)).then(|| {
        let cairn = invocation::cairn(db);
        format!(
            "`{cairn} retry {run} --max-output BYTES` retries the run with a bigger cap on a step's output"
        )
    })
}

/// The exit code of the engine's `error` (docs/runs.md, "Exit codes"). Every variant is
/// named, no wildcard: a variant added to the engine does not compile until its code is
/// decided here (the engine's `Error` is not `#[non_exhaustive]` for this).
fn engine_code(error: &EngineError) -> u8 {
    use EngineError as E;
    match error {
        // Bad input, the database left as it was: the workflow, the run's input, the
        // database named (its name, its file, its folder, whose it is, its state), the run
        // named (unknown, ambiguous, driven by a live engine or this one, ended, moved by
        // another engine), the policy (not restored, a misspelt executor, a panic in it
        // before anything ran), a command the run cannot take, a setting (`--max-output 0`
        // is refused before the engine opens).
        E::Load(_)
        | E::Input(_)
        | E::NotAFileName(_)
        | E::NotUtf8Name(_)
        | E::MissingDatabase(_)
        | E::DanglingLink(_)
        | E::NameTooLong(_)
        | E::MissingDirectory(_)
        | E::IsADirectory(_)
        | E::NotADatabase(_)
        | E::ForeignDatabase { .. }
        | E::NewerSchema { .. }
        | E::OlderSchema { .. }
        | E::Damaged(_)
        | E::ReadOnly(_)
        | E::OthersFile { .. }
        | E::CannotCreate { .. }
        | E::HardLinked { .. }
        | E::Unopenable(_)
        | E::Locked(_)
        | E::Corrupt(_)
        | E::UnknownRun(_)
        | E::AmbiguousRun { .. }
        | E::LeaseHeld { .. }
        | E::AlreadyDriving(_)
        | E::Finished(_)
        | E::Conflict { .. }
        | E::RunExists(_)
        | E::UnknownExecutor(_)
        | E::UnknownRateLimit { .. }
        | E::GuardPanicked { .. }
        | E::Guard { .. }
        | E::Refused { .. }
        | E::Setting { .. } => BAD_INPUT,
        // The store failed under the command (the disk full, a file-size limit, an I/O
        // error, the file replaced, the lease lost), or cairn did (a bug).
        E::Database(_)
        | E::DiskFull(_)
        | E::FileSizeLimit(_)
        | E::Io { .. }
        | E::Replaced(_)
        | E::LeaseLost(_)
        | E::IllegalTransition(_)
        | E::Bug(_) => RUN_FAILED,
        // The run stopped unfinished: paused since the resume was asked, or the engine
        // stopping (a signal) before it started anything.
        E::PausedSince { .. } | E::ShutDown => UNFINISHED,
    }
}

/// `error` as printed: a corrupt database's with its file (`db`), which the engine's message
/// leaves out; a user with several databases could not tell which one.
fn described(error: &EngineError, db: &Path) -> String {
    match error {
        EngineError::Corrupt(_) => format!("{}: {error}", cairn_engine::path_text(db)),
        _ => error.to_string(),
    }
}

/// How a run that ended as `report` says is driven again, if it can be: a failed or a
/// cancelled one by `cairn retry` (`db` the `--db` given).
pub(crate) fn redrive_hint(report: &RunReport, db: &Path) -> String {
    match report.state {
        RunState::Failed | RunState::Cancelled => {
            // A cancelled run has no failed step, maybe: what it has not finished
            // (probe 34 F3).
            let cairn = invocation::cairn(db);
            format!(
                " (`{cairn} retry {}` runs what did not succeed again)",
                report.id
            )
        }
        _ => String::new(),
    }
}

/// What the user can do about `error` from the command line (`db` the `--db` given), if
/// there is a flag for it.
fn hint(error: &EngineError, db: &Path) -> String {
    let hint = match error {
        // `approve`, `pause`, `cancel` of an ended run (probe 47 F5).
        EngineError::Finished(report) => return redrive_hint(report, db),
        EngineError::MissingDatabase(_) => " (run a workflow first, or pass --db PATH)",
        // A directory where SQLite puts the database's `-wal` or `-shm` file: in the way.
        EngineError::IsADirectory(path) if path != db => {
            "; SQLite keeps a file of the database at that name: move the directory away, or \
             pass --db PATH to use another file"
        }
        EngineError::IsADirectory(_)
        | EngineError::NotAFileName(_)
        | EngineError::DanglingLink(_)
        | EngineError::MissingDirectory(_)
        | EngineError::NotADatabase(_)
        | EngineError::ForeignDatabase { .. } => "; pass --db PATH to use another file",
        EngineError::UnknownRun(_) | EngineError::AmbiguousRun { .. } => {
            return format!(" (see `{} runs`)", invocation::cairn(db));
        }
        EngineError::Corrupt(_) => {
            "; if it was changed outside cairn, restore the file from a backup or put the named value back with `sqlite3` (a run an older cairn stored in a form this one refuses can only stay as it is)"
        }
        EngineError::LeaseHeld { run, .. } => {
            let cairn = invocation::cairn(db);
            return format!(
                "; wait for it to end (`{cairn} resume --wait {run}` waits, then carries the run on)"
            );
        }
        EngineError::PausedSince { run, .. } => {
            let cairn = invocation::cairn(db);
            return format!("; `{cairn} resume {run}` continues it");
        }
        _ => "",
    };
    hint.to_owned()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::ExitCode;

    use cairn_engine::{Error as EngineError, LeaseHolder, Uuid};
    use chrono::Utc;

    use super::{
        BAD_INPUT, Before, Error, RUN_FAILED, UNFINISHED, engine_code, hint, report, stopped_before,
    };

    /// The engine stopping (a signal) left the run unfinished, or started nothing: exit 3,
    /// as docs/runs.md says, not bad input.
    #[test]
    fn an_engine_stopping_is_exit_3_the_run_unfinished() {
        let code = report(&Error::Engine(EngineError::ShutDown), Path::new("cairn.db"));
        assert_eq!(code, ExitCode::from(UNFINISHED));
    }

    /// A signal before `cairn run` recorded its run, or before `resume`/`retry` took one
    /// over, is said in one place, naming the command that carries the run on.
    #[test]
    fn a_stop_before_a_start_or_a_takeover_names_what_carries_the_run_on() {
        let db = Path::new("cairn.db");
        let starting = stopped_before(Before::Starting, EngineError::ShutDown);
        assert!(matches!(starting, Error::StoppedBefore(Before::Starting)));
        assert_eq!(report(&starting, db), ExitCode::from(UNFINISHED));
        assert_eq!(
            Before::Starting.to_string(),
            "stopped before the run started: nothing was recorded"
        );
        let retrying = Before::TakingOver {
            run: "0190abcd".into(),
            command: "retry",
            cairn: super::invocation::cairn(Path::new("runs.db")),
        };
        assert_eq!(
            retrying.to_string(),
            "stopped before taking run 0190abcd over: nothing was started; `cairn --db runs.db retry 0190abcd` carries it on"
        );
        // Any other error is the engine's own, with its own code.
        let refused = stopped_before(retrying, EngineError::UnknownRun("0190abcd".into()));
        assert!(matches!(refused, Error::Engine(EngineError::UnknownRun(_))));
        assert_eq!(report(&refused, db), ExitCode::from(BAD_INPUT));
    }

    /// A sample of the exit-code table of docs/runs.md: the store failing under a command is
    /// 1, a database this user cannot use as it stands 2, a run paused since 3.
    #[test]
    fn engine_errors_have_the_codes_the_docs_give() {
        let db = Path::new("cairn.db");
        assert_eq!(engine_code(&EngineError::DiskFull(db.into())), RUN_FAILED);
        assert_eq!(engine_code(&EngineError::Bug("x".into())), RUN_FAILED);
        for error in [
            EngineError::Damaged(db.into()),
            EngineError::ReadOnly(db.into()),
            EngineError::Locked(db.into()),
            EngineError::Corrupt("column input: not JSON".into()),
        ] {
            assert_eq!(engine_code(&error), BAD_INPUT, "{error}");
        }
        let paused = EngineError::PausedSince {
            run: Uuid::nil(),
            at: Utc::now(),
        };
        assert_eq!(engine_code(&paused), UNFINISHED);
    }

    #[test]
    fn a_corrupt_database_is_answered_with_what_restores_it() {
        let said = hint(
            &EngineError::Corrupt("column input: not JSON".into()),
            Path::new("x.db"),
        );
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
        let lease = EngineError::LeaseHeld {
            run,
            holder,
            expires,
        };
        let said = hint(&lease, Path::new("x.db"));
        assert!(
            said.contains(&format!("`cairn --db x.db resume --wait {run}`")),
            "{said}"
        );
    }
}
