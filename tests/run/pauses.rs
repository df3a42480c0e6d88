//! A pause from another process: the step in flight finishes, nothing new starts, and a
//! person's `cairn resume` completes the run; what the engine says it does.

use std::process::Child;

use serde_json::json;

use super::control::{HOLD, MARK, code, executions, held, history, show, step, wait_for_file};
use super::scratch::{Scratch, states};
use crate::finish;

/// `cairn run` (its stderr in `run.log`) of `a` (held) then `b`, once `a` is held; with the
/// run's id.
fn a_held_then_b(scratch: &Scratch) -> (Child, String) {
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "steps": [{"pipeline": [
            step(scratch, "a", &format!("{MARK}; {HOLD}"), json!({})),
            step(scratch, "b", MARK, json!({}))
        ]}]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(scratch, &mut child, &held(scratch, "a"));
    (child, run)
}

#[test]
fn a_pause_from_another_process_lets_the_step_finish_and_resume_completes_the_run() {
    let scratch = Scratch::new();
    let (mut child, run) = a_held_then_b(&scratch);
    let pause = scratch.cairn(&["pause", &run]);
    assert_eq!(code(&pause), Some(0));
    let said = String::from_utf8_lossy(&pause.stderr);
    assert!(
        said.contains("pauses within a second, once its steps in flight (if any) finish"),
        "{said}"
    );
    scratch.wait_logged(&mut child, "pause asked");
    scratch.open_gate();
    let output = finish(child, "cairn run");
    assert_eq!(
        code(&output),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let paused = show(&scratch, &run);
    assert_eq!(paused["state"], "paused");
    assert_eq!(
        states(&paused)["a"],
        "succeeded",
        "the step in flight finished"
    );
    assert!(executions(&scratch, "b").is_empty(), "nothing new started");
    let output = scratch.cairn(&["resume", &run]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(executions(&scratch, "a").len(), 1);
    assert_eq!(executions(&scratch, "b").len(), 1);
}

/// A pause sent as `a` ends is found, most times, by the commit that marks `b` running: `b`
/// never starts, and cairn says nothing is in flight (probe 80 F1: it counted `b`, "once its
/// 1 step(s) in flight finish"). When the engine's once-a-second look reads it first, `a`
/// is in flight, and said to be.
#[test]
fn a_pause_the_next_steps_commit_finds_says_nothing_is_in_flight() {
    let scratch = Scratch::new();
    let (child, run) = a_held_then_b(&scratch);
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    scratch.open_gate();
    assert_eq!(code(&finish(child, "cairn run")), Some(3));
    let said = std::fs::read_to_string(scratch.dir.path().join("run.log")).unwrap();
    let found_by_the_commit = (history(&scratch, &run).iter())
        .any(|event| event["step"] == "b" && event["detail"]["not_started"] == "run paused");
    let expected = match found_by_the_commit {
        true => "pause asked: nothing is in flight; the run pauses now",
        false => "the run pauses once its 1 step(s) in flight finish",
    };
    assert!(said.contains(expected), "{said}");
    assert!(executions(&scratch, "b").is_empty(), "b never started");
}
