//! `cairn` with nowhere to write what it says (stderr a full disk, or a pipe whose reader is
//! gone): what it would have said is lost, what it does is not.

use std::fs::File;
use std::process::Stdio;

use serde_json::json;

use super::control::{
    HOLD, MARK, code, held, held_by_an_engine_that_died, show, step, wait_for_file,
};
use super::scratch::Scratch;
use crate::finish;

/// A stderr every write to fails (`ENOSPC`).
fn full() -> Stdio {
    Stdio::from(File::options().write(true).open("/dev/full").unwrap())
}

#[test]
fn a_run_that_cannot_write_its_stderr_runs_to_its_end_and_prints_its_output() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "one.json",
        &json!({"name": "one", "steps": [{"id": "a", "executor": "noop", "with": {"output": 7}}]}),
    );
    let run = scratch
        .command(&["run", workflow.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(full())
        .spawn()
        .unwrap();
    let output = finish(run, "cairn run with stderr full");
    assert_eq!(code(&output), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["state"], "succeeded");
    assert_eq!(report["output"], json!({"a": 7}));
}

#[test]
fn a_cancel_is_carried_out_by_an_engine_that_cannot_write_its_log() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "c.json",
        &json!({"name": "c", "steps": [{"pipeline": [
            step(&scratch, "a", &format!("{MARK}; {HOLD}"), json!({})),
            step(&scratch, "b", MARK, json!({}))
        ]}]}),
    );
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(full())
        .spawn()
        .unwrap();
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    // The driver logs that a cancel was asked as it reads it: that line is lost.
    let cancel = scratch.cairn(&["cancel", &run]);
    assert_eq!(code(&cancel), Some(0));
    let output = finish(child, "cairn run, cancelled");
    assert_eq!(code(&output), Some(1), "a cancelled run exits 1");
    let cancelled = show(&scratch, &run);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
}

#[test]
fn a_pause_is_carried_out_at_once_by_a_command_that_cannot_write_its_stderr() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    // No engine drives the run: the pause takes its lease and pauses it itself.
    let pause = scratch
        .command(&["pause", &run])
        .stdout(Stdio::piped())
        .stderr(full())
        .spawn()
        .unwrap();
    let output = finish(pause, "cairn pause with stderr full");
    assert_eq!(code(&output), Some(0));
    assert_eq!(show(&scratch, &run)["state"], "paused");
}
