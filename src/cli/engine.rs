//! Opening the engine for the commands that drive or steer runs (the flags of how it
//! commits, and the guard each run is judged by) and for those that only read them.

use std::sync::Arc;

use cairn_engine::{Durability, Engine, EngineBuilder, Guard};
use cairn_guards::Restorer;

use super::error::Error;
use super::workflow;
use crate::Global;

/// How the engine commits (shared by the commands that drive runs). The default is the
/// flags' defaults: `normal` durability, each run's own cap.
#[derive(Debug, Default, PartialEq, clap::Args)]
pub(crate) struct EngineArgs {
    /// `normal` survives a crash of cairn; `full` also survives power loss, at a cost per commit.
    #[arg(long, default_value = "normal", value_parser = parse_durability)]
    durability: Durability,
    /// The cap on one step's output, in bytes of JSON; a bigger output fails the step
    /// (default 1 MiB). Stored with the run: resume, retry and recover keep a run's own cap
    /// unless given this flag, which replaces it from then on. At least 1, at most 2^63 − 1.
    #[arg(long, value_parser = parse_max_output)]
    max_output: Option<usize>,
}

/// An engine over the existing database, for reading: a missing one is not created.
pub(crate) async fn open_to_read(global: &Global) -> Result<Engine, cairn_engine::Error> {
    reader(global).open().await
}

/// The builder of an engine over the existing database, for reading ([`open_to_read`]).
pub(crate) fn reader(global: &Global) -> EngineBuilder {
    Engine::builder(&global.db)
        .create_database(false)
        .for_reading()
        .busy_timeout(global.busy_timeout)
}

/// What `read` makes of `engine`, whose store is closed after it, however it ended: the last
/// connection to the database checkpoints its WAL and removes the `-wal` and `-shm` files,
/// which a command that only read left behind (probe 91 F3), as one that writes does not.
pub(crate) async fn closed_after<T>(engine: Engine, read: impl AsyncFnOnce(&Engine) -> T) -> T {
    let read = read(&engine).await;
    engine.store().close().await;
    read
}

/// An engine over the database (created if missing) that starts runs `guard` judges.
pub(crate) async fn open(
    global: &Global,
    args: &EngineArgs,
    guard: Option<Arc<dyn Guard>>,
) -> Result<Engine, Error> {
    let builder = builder(global, args);
    let builder = match guard {
        Some(guard) => builder.guard(guard),
        None => builder,
    };
    Ok(builder.open().await?)
}

/// An engine over an existing database that takes runs over, each judged by the policy it
/// started with: a mistyped `--db` is named, not created.
pub(crate) async fn open_existing(global: &Global, args: &EngineArgs) -> Result<Engine, Error> {
    let builder = builder(global, args).create_database(false);
    Ok(builder.guard(restorer()).open().await?)
}

/// The guard of an engine that resumes runs: it restores the policy each run started with
/// from the run's stored snapshot.
fn restorer() -> Arc<dyn Guard> {
    Arc::new(Restorer)
}

/// The engine's builder over the database `--db` names, with cairn's executors and the
/// flags of `args`.
fn builder(global: &Global, args: &EngineArgs) -> EngineBuilder {
    let builder = Engine::builder(&global.db)
        .executors(workflow::executors())
        .durability(args.durability)
        .busy_timeout(global.busy_timeout);
    match args.max_output {
        Some(bytes) => builder
            .max_output_bytes(bytes)
            .override_max_output_bytes(bytes),
        None => builder,
    }
}

/// A cap on one step's output: a whole number of bytes, not zero (a zero cap would fail
/// every step, as a zero limit in a workflow would stop every run: both are refused), nor
/// more than the database stores (a signed 64-bit number: probe 67 F9, it was cut to fit).
fn parse_max_output(text: &str) -> Result<usize, String> {
    const LARGEST: usize = i64::MAX as usize;
    match text.parse::<usize>() {
        Ok(0) => Err("a cap of 0 bytes would fail every step: give at least 1".into()),
        Ok(bytes) if bytes > LARGEST => {
            Err(format!("{bytes} is more than the largest cap, {LARGEST}"))
        }
        Ok(bytes) => Ok(bytes),
        Err(error) => Err(error.to_string()),
    }
}

/// `--durability`: `normal` or `full`.
fn parse_durability(text: &str) -> Result<Durability, String> {
    match text {
        "normal" => Ok(Durability::Normal),
        "full" => Ok(Durability::Full),
        other => Err(format!("unknown durability {other:?}: use normal or full")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{EngineArgs, parse_max_output};

    #[test]
    fn the_default_engine_args_are_the_flags_defaults() {
        /// A command line of the flags alone.
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            engine: EngineArgs,
        }
        let parsed = Flags::try_parse_from(["cairn"]).unwrap();
        assert_eq!(parsed.engine, EngineArgs::default());
    }

    #[test]
    fn a_cap_of_zero_bytes_is_refused() {
        assert!(parse_max_output("0").unwrap_err().contains("at least 1"));
        assert_eq!(parse_max_output("1"), Ok(1));
        assert!(parse_max_output("-1").is_err());
        assert_eq!(
            parse_max_output("9223372036854775807"),
            Ok(9223372036854775807)
        );
        assert!(
            parse_max_output("18446744073709551615")
                .unwrap_err()
                .contains("more than the largest cap, 9223372036854775807")
        );
    }
}
