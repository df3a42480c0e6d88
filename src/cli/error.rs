//! Errors of the commands, and the one place that prints them and picks the exit code.

use std::process::ExitCode;

use cairn_engine::load::LoadError;

/// Exit code: the command did what was asked.
pub(crate) const SUCCESS: u8 = 0;
/// Exit code: bad input (usage, invalid workflow, unknown run).
pub(crate) const BAD_INPUT: u8 = 2;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// A workflow file that does not load.
    Load(LoadError),
    /// Output could not be written (a closed pipe, a full disk).
    Output(std::io::Error),
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

/// Prints `error` on stderr and returns the exit code it calls for.
pub(crate) fn report(error: &Error) -> ExitCode {
    match error {
        Error::Load(error) => {
            eprintln!("{error}");
            ExitCode::from(BAD_INPUT)
        }
        Error::Output(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(SUCCESS)
        }
        Error::Output(error) => {
            eprintln!("cairn: cannot write the output: {error}");
            ExitCode::FAILURE
        }
    }
}
