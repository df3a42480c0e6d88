//! The `cairn` command line: parses arguments, calls the library, prints.
//!
//! Each command lives in its own module under `src/cli/`; `cli/error.rs` turns errors into
//! messages and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli {
    pub(crate) mod error;
    pub(crate) mod graph;
    pub(crate) mod schema;
    pub(crate) mod validate;
    pub(crate) mod workflow;
}

/// A durable workflow engine for chains of agents, scripts and services.
#[derive(Debug, Parser)]
#[command(name = "cairn", version)]
struct Cli {
    /// The SQLite database that holds runs.
    #[arg(long, global = true, env = "CAIRN_DB", default_value = "cairn.db")]
    db: PathBuf,
    /// Machine-readable output (JSON).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The options every command may read.
#[derive(Debug)]
struct Global {
    /// The SQLite database that holds runs.
    #[allow(dead_code, reason = "the run commands read it")]
    db: PathBuf,
    /// Machine-readable output.
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check workflow files and report every problem with its place.
    Validate(cli::validate::Args),
    /// Draw a workflow's DAG (Graphviz dot or Mermaid).
    Graph(cli::graph::Args),
    /// Print a JSON Schema for editors.
    Schema(cli::schema::Args),
}

fn main() -> ExitCode {
    let Cli { db, json, command } = Cli::parse();
    let global = Global { db, json };
    let result = match command {
        Command::Validate(args) => cli::validate::run(&args, &global),
        Command::Graph(args) => cli::graph::run(&args, &global),
        Command::Schema(args) => cli::schema::run(&args, &global),
    };
    result.unwrap_or_else(|error| cli::error::report(&error))
}
