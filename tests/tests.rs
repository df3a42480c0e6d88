//! End-to-end tests: the real `cairn` binary on real files. One test binary, one module per
//! area.

mod cli {
    mod graph;
    mod output;
    mod policy;
    mod schema;
    mod validate;
}

mod run {
    mod agents;
    mod approvals_redriven;
    mod approvals_resumed;
    mod bad_input;
    mod bounded_errors;
    mod control;
    mod corrupt;
    mod db_names;
    mod deadlines;
    mod deep;
    mod directories;
    mod durable;
    mod engines;
    mod executors;
    mod for_each;
    mod guard;
    mod joins;
    mod leases;
    mod listing;
    mod moved;
    mod orphans;
    mod output_cap;
    mod pauses;
    mod planner;
    mod rates;
    mod redrives;
    mod retries;
    mod runaway_rules;
    mod same_engine;
    mod scratch;
    mod signals;
    mod spending;
    mod stalls;
    mod storage;
    mod store;
    mod terminal;
    mod unheard;
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `cairn` command run from the repository root, to its end (within [`HANG`]).
fn cairn(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("CAIRN_DB");
    output_of(&mut command, &format!("cairn {args:?}"))
}

/// How long the tests wait for any one thing — a cairn command to end, a kill point to come —
/// before failing: far more than any of them needs even on a loaded machine, so it never
/// decides a result; it only turns a hang into a failure.
pub(crate) const HANG: Duration = Duration::from_secs(300);

/// Runs `command` to its end (within [`HANG`]), its stdin empty, and returns what it
/// printed.
pub(crate) fn output_of(command: &mut Command, what: &str) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    finish(child, what)
}

/// Waits for `child` to end and returns its output; fails the test, killing `child`, if it
/// has not ended within [`HANG`]. Its stdout and stderr are read while it runs, so a chatty
/// child cannot block on a full pipe.
pub(crate) fn finish(child: Child, what: &str) -> Output {
    let pid = child.id();
    let (sender, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match ended.recv_timeout(HANG) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{what} did not end within {HANG:?}");
        }
    }
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
