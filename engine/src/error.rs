//! The engine's one error type.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::guard::{Guard, GuardError, RateLimit};
use crate::lease::LeaseHolder;
use crate::load::LoadError;
use crate::report::RunReport;
use crate::state::IllegalTransition;

/// How many of the ids an ambiguous run id prefix matches its error names.
pub(crate) const AMBIGUOUS_SHOWN: usize = 3;

/// The fewest characters a run id prefix has: a shorter one names no run.
pub(crate) const SHORTEST_PREFIX: usize = 4;

/// What can go wrong loading a workflow, opening a store, or starting, resuming and
/// driving a run.
///
/// Not `#[non_exhaustive]`, on purpose: the command line (`src/cli/error.rs`) decides an exit
/// code for every variant by name, so a variant added here does not compile until its code
/// is decided there. The crates are one workspace, versioned together: a program that
/// embeds the engine and matches every variant meets a new one as the CLI does.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The workflow (a file, or a run's stored snapshot) is invalid.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The run input does not satisfy the workflow's input schema.
    #[error("the input does not match the workflow's `input` schema:\n{0}")]
    Input(String),
    /// The database path is a name SQLite does not read as a file: empty, `:memory:` (a
    /// database in memory, gone with the process) or a `file:` URI.
    #[error("{}", not_a_file_name(.0))]
    NotAFileName(PathBuf),
    /// The database path is not UTF-8, which SQLite (through sqlx) takes no other name as.
    #[error(
        "{}: the database's name is not UTF-8, which SQLite does not take; use a UTF-8 name",
        crate::path_text(.0)
    )]
    NotUtf8Name(PathBuf),
    /// The database file does not exist, or is empty (`touch` made it): there is no database
    /// yet, and the caller did not ask to create one.
    #[error("{}: no such database", crate::path_text(.0))]
    MissingDatabase(PathBuf),
    /// The database path is a symbolic link that leads to no file: its target does not exist
    /// (SQLite would not create it), or the links loop.
    #[error(
        "{}: a symbolic link that leads to no file (its target does not exist, or the links \
         loop)",
        crate::path_text(.0)
    )]
    DanglingLink(PathBuf),
    /// The database file's name is longer than its file system takes.
    #[error(
        "{}: the file name is too long for its file system (most allow 255 bytes); use a \
         shorter one",
        crate::path_text(.0)
    )]
    NameTooLong(PathBuf),
    /// The database's folder does not exist.
    #[error("{}: no such directory to hold the database", crate::path_text(.0))]
    MissingDirectory(PathBuf),
    /// The path given as the database, or where SQLite puts its WAL beside it, is a directory.
    #[error("{}: is a directory, not a database file", crate::path_text(.0))]
    IsADirectory(PathBuf),
    /// The file exists but is not an SQLite database.
    #[error("{}: not a cairn database (the file is not SQLite)", crate::path_text(.0))]
    NotADatabase(PathBuf),
    /// The file is an SQLite database of another application.
    #[error(
        "{}: not a cairn database (it holds other tables: {tables}); left unchanged",
        crate::path_text(path)
    )]
    ForeignDatabase {
        /// The database file.
        path: PathBuf,
        /// Some of the tables it holds.
        tables: String,
    },
    /// The database was written by a newer cairn.
    #[error("{path}: written by a newer cairn (schema version {version}); upgrade cairn to use it")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The newest schema version found in it.
        version: i64,
    },
    /// The database was written by an older cairn, and this process may not write it to
    /// bring its schema up to date (probe 115 F1: told only as read-only).
    #[error(
        "{}: written by an older cairn (schema version {version}, this cairn's is {latest}), \
         and read-only to this process: a user who may write it must upgrade it first, which \
         any cairn command that user runs on it does (`runs`, say)",
        crate::path_text(path)
    )]
    OlderSchema {
        /// The database file.
        path: PathBuf,
        /// The newest schema version found in it.
        version: i64,
        /// This cairn's schema version.
        latest: i64,
    },
    /// SQLite found the database's pages malformed: the file was damaged.
    #[error(
        "{}: the database is damaged (SQLite finds its pages malformed); restore it from a \
         backup (`sqlite3 FILE .recover` saves the rows it can read)",
        crate::path_text(.0)
    )]
    Damaged(PathBuf),
    /// This process may not write the database (its file, the folder its WAL goes in, or
    /// the disk) and had to: to commit, or to read a WAL database whose index is missing.
    #[error(
        "{}: the database is read-only to this process (the file, its folder or the disk); \
         run cairn as a user who may write it",
        crate::path_text(.0)
    )]
    ReadOnly(PathBuf),
    /// The database does not exist and cannot be made where it is named (probe 44 F9).
    #[error(
        "{}: cannot create the database: {why}; name one in a folder this user may write",
        crate::path_text(path)
    )]
    CannotCreate {
        /// The database file.
        path: PathBuf,
        /// Why: the folder's permissions, or a read-only file system.
        why: &'static str,
    },
    /// A file SQLite keeps beside the database (its `-wal` or `-shm`) is another user's and
    /// this process may not write it, so may not write the database: most often left by a
    /// reader's look (SQLite makes them to read), or the owner's while the owner's engine
    /// runs (probes 31 F1, 44 F1).
    #[error(
        "{}: a file SQLite keeps beside the database belongs to another user (uid {owner}) \
         and this user may not write it, so may not write the database; if no cairn of that \
         user has the database open (a reader's command leaves these files: SQLite makes \
         them to read), remove its `-wal` and `-shm` as that user or as root, and share the \
         folder as docs/runs.md (\"Durability\") says",
        crate::path_text(path)
    )]
    OthersFile {
        /// The file, beside the database.
        path: PathBuf,
        /// Its owner's user id.
        owner: u32,
    },
    /// The database file has other names (hard links): SQLite keeps its write-ahead log
    /// beside the name it was opened by, so each name would have a log of its own, and the
    /// commits made through one would be lost to the other (probe 39 F2).
    #[error(
        "{}: the database file has {links} names (hard links), and SQLite keeps its \
         write-ahead log beside the name it is opened by: each name would have its own, and \
         what is committed through one would be lost through another; keep one name (`rm` \
         the others) and make the others symbolic links to it (`ln -s`)",
        crate::path_text(.path)
    )]
    HardLinked {
        /// The name the database was opened by.
        path: PathBuf,
        /// How many names the file has.
        links: u64,
    },
    /// SQLite cannot open a database file that exists: this user may not read it, or its
    /// WAL files (`-wal`, `-shm`), left by another user's process, are not readable by this
    /// one, or they are missing and its folder may not be written.
    #[error(
        "{}: SQLite cannot open the database, though the file exists: this user may not read \
         it, or the `-wal` and `-shm` files beside it belong to another user (or are missing, \
         and its folder may not be written); run cairn as the user who writes the database, \
         or let this user read the file and those beside it",
        crate::path_text(.0)
    )]
    Unopenable(PathBuf),
    /// The disk that holds the database has no room for a commit; nothing of it was kept.
    #[error("{}: the disk holding the database is full; free space and try again", crate::path_text(.0))]
    DiskFull(PathBuf),
    /// The database file, or its `-wal` or `-shm`, was deleted, moved or replaced while this
    /// process drove runs in it: nothing more is committed (SQLite would write on to the
    /// files it has open, which no other process finds at the path).
    #[error(
        "{} or its `-wal` or `-shm` was deleted, moved or replaced while this process drove \
         runs in it: nothing more is committed; what was committed is in the files this \
         process had open (lost if one was deleted)",
        crate::path_text(.0)
    )]
    Replaced(PathBuf),
    /// A write would have grown a file of the database past this process's file-size limit
    /// (`ulimit -f`, with `SIGXFSZ` ignored); nothing of it was kept.
    #[error(
        "{}: a file of the database (it, its `-wal` or its `-shm`) reached this process's \
         file-size limit; raise it (`ulimit -f unlimited`) and try again",
        crate::path_text(.0)
    )]
    FileSizeLimit(PathBuf),
    /// SQLite met an I/O error on a file of the database, of a cause it does not tell.
    #[error(
        "{path}: I/O error {doing}; check the disk that holds it (free space, a failing \
         disk) and the file-size limit (`ulimit -f`), then try again"
    )]
    Io {
        /// The file: the database, or its `-shm` file.
        path: PathBuf,
        /// What SQLite was doing with it.
        doing: String,
    },
    /// Another process held the database locked past the busy timeout.
    #[error("{}: database is locked by another process; retry when it is done", crate::path_text(.0))]
    Locked(PathBuf),
    /// No run has this id (or unique id prefix).
    #[error("no run with id {}{hint}", crate::text::one_line(.0), hint = unknown_run_hint(.0))]
    UnknownRun(String),
    /// More than one run's id starts with this prefix.
    #[error(
        "run id prefix {prefix} is ambiguous: it matches {}{}",
        .matches.join(", "),
        if *.more { " and more" } else { "" }
    )]
    AmbiguousRun {
        /// The prefix given.
        prefix: String,
        /// The ids it matches, three at most.
        matches: Vec<String>,
        /// Whether it matches more ids than those.
        more: bool,
    },
    /// A recorded state was not the one the change expected: someone else moved the run.
    #[error(
        "run {run}: {what} is not in the state this engine last saw; another engine may be driving it"
    )]
    Conflict {
        /// The run.
        run: Uuid,
        /// `the run`, or the step and its state.
        what: String,
    },
    /// A transition that is not in the state machine's table.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A stored value could not be read back.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Another live engine drives the run, or another process still holds its lease to
    /// carry out a pause or a cancel ([`LeaseHolder::applies_commands`]) after it was waited
    /// for up to the lease's expiry.
    #[error("{}", lease_held(*.run, .holder, .expires))]
    LeaseHeld {
        /// The run.
        run: Uuid,
        /// Who holds it.
        holder: LeaseHolder,
        /// Until when, unless renewed.
        expires: DateTime<Utc>,
    },
    /// The run has already ended; nothing to resume.
    #[error("run {} already {}", .0.id, .0.state)]
    Finished(Box<RunReport>),
    /// The run was paused after a person asked to continue it (a resume that waited for
    /// the lease): the later pause holds. ([`Engine::recover`](crate::Engine::recover),
    /// which never continues a paused run, skips a run paused after it listed the runs.)
    #[error("run {run} was paused at {at}, after this resume was asked; the pause holds")]
    PausedSince {
        /// The run.
        run: Uuid,
        /// When the run last changed, paused.
        at: DateTime<Utc>,
    },
    /// Another process took the run's lease while this engine drove it: an engine that took
    /// the run over, or a pause or cancel carried out while this one did not renew it.
    #[error(
        "run {0}: lost its lease to another process (an engine that took the run over, or a pause or cancel carried out while this one did not renew its lease); it stopped driving the run"
    )]
    LeaseLost(Uuid),
    /// A run with this id exists already, with another workflow or input.
    #[error("run {0} exists already with another workflow or input")]
    RunExists(Uuid),
    /// This engine drives the run already; it never drives a run twice.
    #[error("run {0} is already driven by this engine")]
    AlreadyDriving(Uuid),
    /// The engine drains or was shut down ([`Engine::drain`], [`Engine::shutdown`]): it
    /// starts nothing more, and takes no run over (a run it would have is left as it was).
    ///
    /// [`Engine::drain`]: crate::Engine::drain
    /// [`Engine::shutdown`]: crate::Engine::shutdown
    #[error("the engine is stopping (drained or shut down): it starts nothing more")]
    ShutDown,
    /// An attempt's executor is not registered with the engine driving it. A workflow is
    /// checked against the engine's executors when it loads and when a run starts: one it
    /// lacks is refused then, as an [`Error::Load`].
    #[error("no executor named {0:?} is registered with this engine")]
    UnknownExecutor(String),
    /// The engine's guard limits the rate of an executor the engine does not have: a limit
    /// that would limit nothing, most likely a misspelt name.
    #[error(
        "the guard limits the rate of {executor:?}, which is not an executor of this engine (it has {known})"
    )]
    UnknownRateLimit {
        /// The executor the limit names.
        executor: String,
        /// The engine's executors, comma-separated.
        known: String,
    },
    /// The guard panicked in [`Guard::rate_limits`], [`Guard::snapshot`] or
    /// [`Guard::restore`]: what it cannot tell is not guessed, so nothing is driven by it.
    /// The engine is not opened; a run is not started, or not taken over (resumed,
    /// recovered, retried), nothing written to it and its lease given back. (A panic in
    /// [`Guard::judge`] denies the action instead: the run goes on.)
    #[error("{}the guard panicked in its {method}(): {message}", of_run(*.run))]
    GuardPanicked {
        /// The run the guard was asked about, if any.
        run: Option<Uuid>,
        /// The method that panicked: `rate_limits`, `snapshot` or `restore`.
        method: &'static str,
        /// What the panic said.
        message: String,
    },
    /// A setting of the [`EngineBuilder`](crate::EngineBuilder) that would break what the
    /// engine promises; the engine is not opened.
    #[error("{setting}: {message}")]
    Setting {
        /// The builder's method that set it.
        setting: &'static str,
        /// What is wrong, and what the least setting is.
        message: String,
    },
    /// The guard a run started with cannot judge it again (its snapshot cannot be restored).
    #[error("run {run}: cannot restore the guard it started with: {error}")]
    Guard {
        /// The run.
        run: Uuid,
        /// Why.
        error: GuardError,
    },

    /// A command names a step the run does not have, or one not in a state to take it.
    #[error("run {run}: {message}")]
    Refused {
        /// The run.
        run: Uuid,
        /// What is wrong.
        message: String,
    },

    /// An internal invariant broke (a bug in cairn).
    #[error("internal error (a bug in cairn, please report it): {0}")]
    Bug(String),
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why no run has the id `id`, when the id says: it is empty or has blanks around it (which
/// a message does not show), or is too short a prefix.
fn unknown_run_hint(id: &str) -> &'static str {
    if id.is_empty() {
        "(the id is empty: give a run's id, or 4 or more of its first characters)"
    } else if id.trim() != id {
        " (it has blanks around it: give the id alone)"
    } else if id.chars().count() < SHORTEST_PREFIX {
        " (a prefix of a run id needs at least 4 characters)"
    } else {
        ""
    }
}

/// Why [`Error::NotAFileName`]'s `path` names no file.
fn not_a_file_name(path: &std::path::Path) -> String {
    let name = crate::path_text(path);
    let what = if path.as_os_str().is_empty() {
        return "an empty path names no database file".into();
    } else if path.as_os_str() == ":memory:" {
        "SQLite's name for a database in memory, gone with the process"
    } else {
        "an SQLite URI, which cairn does not take"
    };
    format!(
        "`{name}` is {what}: cairn keeps runs in a file, to resume them (./{name} for a file of that name)"
    )
}

/// What [`Error::LeaseHeld`] says: who holds the lease of `run`, doing what, until when.
fn lease_held(run: Uuid, holder: &LeaseHolder, expires: &DateTime<Utc>) -> String {
    let LeaseHolder {
        owner, host, pid, ..
    } = holder;
    if holder.applies_commands() {
        format!(
            "run {run}: pid {pid} on {host} holds its lease (lease {owner}) until {expires} to \
             carry out a pause or a cancel sent to it, not to drive it"
        )
    } else if crate::lease::is_this_process(holder) {
        format!(
            "run {run} is being driven by another engine of this process (lease {owner}) until \
             {expires}: an engine whose runtime was dropped holds its runs' leases until they \
             expire"
        )
    } else {
        format!("run {run} is being driven by pid {pid} on {host} (lease {owner}) until {expires}")
    }
}

/// `run: ` for an error about `run`, else nothing.
fn of_run(run: Option<Uuid>) -> String {
    run.map(|run| format!("run {run}: ")).unwrap_or_default()
}

/// `guard`'s rate limits (none without a guard), asked for `run` if for one; its panic
/// caught, as [`Error::GuardPanicked`]. Every caller asks through this: a guard's panic
/// never unwinds through a takeover or a driver (a lease held, a step left `running`).
pub(crate) fn rate_limits(guard: Option<&dyn Guard>, run: Option<Uuid>) -> Result<Vec<RateLimit>> {
    let Some(guard) = guard else {
        return Ok(Vec::new());
    };
    caught(run, "rate_limits", || guard.rate_limits())
}

/// `guard`'s snapshot for the new run `run`; its panic caught, as [`Error::GuardPanicked`].
pub(crate) fn snapshot(guard: &dyn Guard, run: Uuid) -> Result<String> {
    caught(Some(run), "snapshot", || {
        guard.snapshot().unwrap_or_default()
    })
}

/// `guard` restored from the run `run`'s `snapshot`: a refusal is an [`Error::Guard`] of the
/// run, a panic caught as [`Error::GuardPanicked`]; either way that run alone is not driven.
pub(crate) fn restored(
    guard: &dyn Guard,
    run: Uuid,
    snapshot: &str,
) -> Result<std::sync::Arc<dyn Guard>> {
    caught(Some(run), "restore", || guard.restore(snapshot))?
        .map_err(|error| Error::Guard { run, error })
}

/// What `ask` answers of the guard's `method`; its panic caught, as [`Error::GuardPanicked`].
fn caught<T>(run: Option<Uuid>, method: &'static str, ask: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(ask)).map_err(|panic| {
        Error::GuardPanicked {
            run,
            method,
            message: panic_message(&*panic),
        }
    })
}

/// What a caught panic said (its `&str` or `String` payload), for the error that replaces it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    (payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::this_process;

    #[test]
    fn a_lease_held_says_who_holds_it_and_whether_to_drive_the_run_or_carry_out_a_command() {
        let (run, expires) = (Uuid::nil(), Utc::now());
        let said = |holder: LeaseHolder| {
            Error::LeaseHeld {
                run,
                holder,
                expires,
            }
            .to_string()
        };
        let another = LeaseHolder {
            pid: std::process::id() + 1,
            ..this_process()
        };
        let pid = another.pid;
        let driver = said(another.clone());
        assert!(
            driver.contains(&format!("is being driven by pid {pid} on")),
            "{driver}"
        );
        let applying = said(another.applying_commands());
        assert!(
            applying.ends_with("to carry out a pause or a cancel sent to it, not to drive it"),
            "{applying}"
        );
        let here = said(this_process());
        assert!(
            here.contains("is being driven by another engine of this process"),
            "{here}"
        );
    }
}
