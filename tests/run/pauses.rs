//! A pause from another process: the step in flight finishes, nothing new starts, and a
//! person's `cairn resume` completes the run; what the engine says it does.

use std::process::{Child, Command, Stdio};

use serde_json::json;

use super::control::{HOLD, MARK, code, executions, held, history, show, step, wait_for_file};
use super::scratch::{Scratch, states, wait_until};
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

/// A pause that the engine driving the run carries out, exiting, while `cairn pause` judges
/// that engine's lease says the run is paused, not "recorded, not carried out yet: no engine
/// drives the run now" (probe 186 F1: the run was read before the engine paused it, and
/// judged after the engine exited). strace stops `cairn pause` at its third look at the
/// engine's `/proc` stat, the judgement after the run is read, until the engine has exited;
/// where strace is not installed, or may not trace, the test says so and checks nothing.
#[test]
fn a_pause_carried_out_while_its_sender_judges_the_lease_says_the_run_paused() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let scratch = Scratch::new();
    let (child, run) = a_held_then_b(&scratch);
    let trace = scratch.dir.path().join("strace.txt");
    let pause = scratch.command(&["pause", &run]);
    let stat = format!("/proc/{}/stat", child.id());
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-o"])
        .arg(&trace)
        .args(["-P", &stat, "-e", "trace=openat"])
        .args(["-e", "inject=openat:signal=SIGSTOP:when=3"])
        .arg(pause.get_program())
        .args(pause.get_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut traced = traced.spawn().expect("strace starts");
    let (mut stopped, mut untraced) = (String::new(), false);
    wait_until("`cairn pause` stopped at its look at the engine", || {
        let text = std::fs::read_to_string(&trace).unwrap_or_default();
        let line = text
            .lines()
            .find(|line| line.contains("stopped by SIGSTOP"));
        // With `-f`, each line begins with the pid of the process it is about.
        let pid = line.and_then(|line| line.split_whitespace().next());
        stopped = pid.unwrap_or_default().to_owned();
        // strace ended without stopping it: it may not trace here (ptrace not allowed).
        untraced = stopped.is_empty() && traced.try_wait().is_ok_and(|ended| ended.is_some());
        !stopped.is_empty() || untraced
    });
    if untraced {
        eprintln!("skipped: strace cannot trace here");
        scratch.open_gate();
        finish(child, "cairn run");
        return;
    }
    scratch.open_gate();
    assert_eq!(
        code(&finish(child, "cairn run")),
        Some(3),
        "the engine paused"
    );
    let resumed = Command::new("kill").args(["-CONT", &stopped]).status();
    assert!(
        resumed.is_ok_and(|status| status.success()),
        "`cairn pause` goes on"
    );
    let output = finish(traced, "cairn pause under strace");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains(&format!("run {run} is paused")), "{said}");
    assert_eq!(show(&scratch, &run)["state"], "paused");
}
