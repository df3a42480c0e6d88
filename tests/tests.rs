//! End-to-end tests: the real `cairn` binary on real files. One test binary, one module per
//! area.

mod cli {
    mod graph;
    mod schema;
    mod validate;
}

mod run {
    mod bad_input;
    mod durable;
    mod executors;
    mod orphans;
    mod same_engine;
    mod scratch;
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `cairn` command run from the repository root.
fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .current_dir(root())
        .env_remove("CAIRN_DB")
        .output()
        .expect("cairn runs")
}

/// The repository root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The workflow files under `examples/`, relative to the root.
fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .map(|entry| Path::new("examples").join(entry.expect("entry").file_name()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
