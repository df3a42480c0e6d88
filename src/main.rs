//! The `cairn` command line: parses arguments, calls the library, prints.
//!
//! Each command lives in its own module under `src/cli/`; `cli/error.rs` turns errors into
//! messages and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

mod cli {
    pub(crate) mod announce;
    pub(crate) mod approve;
    pub(crate) mod control;
    pub(crate) mod engine;
    pub(crate) mod error;
    pub(crate) mod graph;
    pub(crate) mod inspect;
    pub(crate) mod invocation;
    pub(crate) mod json;
    pub(crate) mod not_utf8;
    pub(crate) mod policy;
    pub(crate) mod printable;
    pub(crate) mod progress;
    pub(crate) mod run;
    pub(crate) mod schema;
    pub(crate) mod signals;
    pub(crate) mod svg;
    pub(crate) mod validate;
    pub(crate) mod workflow;
}

/// A durable workflow engine for chains of agents, scripts and services.
#[derive(Debug, Parser)]
#[command(name = "cairn", version)]
struct Cli {
    /// The SQLite database that holds runs [default: $CAIRN_DB if set, else cairn.db]
    #[arg(
        long,
        global = true,
        default_value = cli::invocation::DEFAULT_DB,
        hide_default_value = true
    )]
    db: PathBuf,
    /// Machine-readable output (JSON).
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for another process's database lock (e.g. "5s").
    #[arg(long, global = true, default_value = "5s", value_parser = busy_timeout)]
    busy_timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

/// A `--busy-timeout`: a duration as a workflow file writes one, at most 100 years, with
/// the loader's words for one that is not (probe 36 F7).
fn busy_timeout(text: &str) -> Result<Duration, String> {
    text.parse::<cairn_engine::Duration>()
        .map(|duration| duration.0)
}

/// The options every command may read.
#[derive(Debug)]
struct Global {
    /// The SQLite database that holds runs.
    db: PathBuf,
    /// Machine-readable output.
    json: bool,
    /// How long to wait for another process's database lock.
    busy_timeout: Duration,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check workflow files and report every problem with its place.
    Validate(cli::validate::Args),
    /// Draw a workflow's DAG, or a run's as it is now (Graphviz dot, Mermaid or SVG).
    Graph(cli::graph::Args),
    /// Print a JSON Schema for editors.
    Schema(cli::schema::Args),
    /// Start a run of a workflow file and drive it to its end.
    Run(cli::run::RunArgs),
    /// Carry on an unfinished run from where it stopped.
    Resume(cli::run::ResumeArgs),
    /// Resume every unfinished run that no live engine drives.
    Recover(cli::run::RecoverArgs),
    /// List runs, newest first.
    Runs(cli::inspect::RunsArgs),
    /// Show a run and its steps.
    Show(cli::inspect::RunArg),
    /// List every transition of a run, in order.
    History(cli::inspect::RunArg),
    /// Let a step that awaits approval run.
    Approve(cli::approve::ApproveArgs),
    /// Deny a step that awaits approval: it ends `denied`.
    Deny(cli::approve::DenyArgs),
    /// List the steps that await approval, in every run.
    Approvals,
    /// Test a policy file, or explain its verdict on an action.
    Policy(cli::policy::Args),
    /// Pause a run: nothing new starts, steps in flight finish (`cairn resume` continues).
    Pause(cli::control::SteerArgs),
    /// Cancel a run: steps in flight are stopped, the run ends `cancelled`.
    Cancel(cli::control::SteerArgs),
    /// Drive a failed or cancelled run again (what failed, or `--from` a step on).
    Retry(cli::control::RetryArgs),
}

/// Makes `malloc` serve every block of 1 MiB or more with its own mapping, returned to the
/// kernel when freed — always, not only until the first such block is freed.
///
/// glibc raises its mmap threshold (and with it the heap's trim threshold) to the size of
/// every mapped block freed, so after a run's definition (10 MB for 100,000 steps) is freed
/// the step records and buffers that follow grow the heap, which keeps what they free. A
/// fixed threshold keeps big blocks out of the heap: `cairn resume` of a 100,000-step run
/// peaks at 121 MiB instead of 138, `cairn run` of it at 157 instead of 169
/// (docs/performance.md, "A fixed mmap threshold"). Only the binary sets it: a program
/// embedding the library keeps its own allocator's settings.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn fix_mmap_threshold() {
    const ONE_MIB: libc::c_int = 1 << 20;
    // SAFETY: `mallopt` only sets an allocator parameter, and runs before any other thread.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, ONE_MIB) };
}

/// Other allocators keep their defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_mmap_threshold() {}

/// Parses the command line. `--db` not given is `$CAIRN_DB`, read here rather than by clap,
/// whose usage lines then named `--db <DB>` as given (probe 192 F2); an empty `CAIRN_DB`
/// counts as unset, as a shell's `CAIRN_DB=` means.
fn parse() -> Cli {
    let matches = (Cli::command().try_get_matches()).unwrap_or_else(|error| exit_printable(error));
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| exit_printable(error));
    if matches.value_source("db") != Some(ValueSource::CommandLine)
        && let Some(db) = std::env::var_os("CAIRN_DB").filter(|db| !db.is_empty())
    {
        cli.db = PathBuf::from(db);
    }
    cli
}

/// Exits as clap would for `error`, its message made printable: it quotes the value given,
/// whose escape sequences reached the terminal (probe 38 F3). Help and the version are
/// clap's to print; one that cannot be written is said, and exits 1, as any output does
/// (clap's own exit ignores the failure: probe 192 F3).
fn exit_printable(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let printed = (error.print()).and_then(|()| std::io::Write::flush(&mut std::io::stdout()));
        if let Some(message) = printed.err().as_ref().and_then(cli::error::unwritten) {
            cli::printable::say(&message);
            std::process::exit(1)
        }
        std::process::exit(error.exit_code())
    }
    // Or an error of clap's about a value it shows as `�`: a subcommand, a choice, an
    // argument not expected (probes 197 F3, 198 F5); another error is told as it is, though
    // a path not UTF-8 (which cairn takes) is in the line (probe 198 F3).
    let about_it = error.kind() == ErrorKind::InvalidUtf8
        || error
            .render()
            .to_string()
            .contains(char::REPLACEMENT_CHARACTER);
    if about_it
        && let Some(message) =
            cli::not_utf8::message(&Cli::command(), std::env::args_os().collect())
    {
        cli::printable::say(message);
        std::process::exit(error.exit_code())
    }
    cli::printable::say(error.render().to_string().trim_end());
    std::process::exit(error.exit_code())
}

fn main() -> ExitCode {
    cli::signals::ignore_terminal_stops();
    fix_mmap_threshold();
    let Cli {
        db,
        json,
        busy_timeout,
        command,
    } = parse();
    let global = Global {
        db,
        json,
        busy_timeout,
    };
    // Warnings, except sqlx's "slow statement": reading a big run (or every run of a big
    // database) is one statement that takes seconds by nature. `RUST_LOG` overrides it.
    let default_filter = || EnvFilter::new("warn,sqlx::query=error");
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter()))
        // Above the progress bar, if one is drawn; made printable, a line a log line (a
        // value logged, an operator's name, cannot move the terminal's cursor nor start a
        // line that reads as cairn's), so without colours.
        .with_writer(|| cli::printable::log_line(cli::progress::stderr()))
        .with_ansi(false)
        // A log line that cannot be written (stderr a closed pipe, a full disk) is dropped:
        // reporting that failure on stderr again panicked, in whatever task logged, a run's
        // driver carrying out a pause included.
        .log_internal_errors(false)
        .init();
    let result = match command {
        Command::Validate(args) => cli::validate::run(&args, &global),
        Command::Graph(args) => block_on(cli::graph::run(&args, &global)),
        Command::Schema(args) => cli::schema::run(&args, &global),
        Command::Run(args) => block_on(cli::run::run(&args, &global)),
        Command::Resume(args) => block_on(cli::run::resume(&args, &global)),
        Command::Recover(args) => block_on(cli::run::recover(&args, &global)),
        Command::Runs(args) => block_on(cli::inspect::runs(&args, &global)),
        Command::Show(args) => block_on(cli::inspect::show(&args, &global)),
        Command::History(args) => block_on(cli::inspect::history(&args, &global)),
        Command::Approve(args) => block_on(cli::approve::approve(&args, &global)),
        Command::Deny(args) => block_on(cli::approve::deny(&args, &global)),
        Command::Approvals => block_on(cli::approve::approvals(&global)),
        Command::Policy(args) => cli::policy::run(&args, &global),
        Command::Pause(args) => block_on(cli::control::pause(&args, &global)),
        Command::Cancel(args) => block_on(cli::control::cancel(&args, &global)),
        Command::Retry(args) => block_on(cli::control::retry(&args, &global)),
    };
    result.unwrap_or_else(|error| cli::error::report(&error, &global.db))
}

/// Runs a command's future on a runtime of the main thread alone. The store commits on a
/// thread of its own and steps' programs run in processes of their own, so the engine's
/// turns and its attempts' I/O fill no second core; worker threads only cost a one-step
/// `cairn run` ≈ 1.5 ms of its 8 (docs/performance.md, "`cairn run` start-up").
fn block_on<F: Future<Output = Result<ExitCode, cli::error::Error>>>(
    future: F,
) -> Result<ExitCode, cli::error::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(cli::error::Error::Output)?;
    {
        // A write past the file-size limit (`ulimit -f`) then fails (EFBIG) and is reported
        // as the store's failure (a driven run stops resumable), instead of SIGXFSZ killing
        // cairn mid-commit without a word. A handler, unlike an ignored signal, is not
        // inherited by the programs that steps run. (Not in an `async` block around
        // `future`: moving the command's future into another cost a one-step run 45 page
        // faults and ≈ 1 ms.)
        let _runtime = runtime.enter();
        let _ = signal(SignalKind::from_raw(libc::SIGXFSZ));
    }
    let done = runtime.block_on(future);
    // Not waited for: an item's `with` still rendering on the blocking pool (up to its 10 s)
    // for a run that ended or stopped, whose result nobody reads (probe 89 F3: cairn exited
    // that long after a cancelled run's end, and after a second SIGTERM).
    runtime.shutdown_background();
    done
}
