//! Heartbeats, no progress and loops, each escalation, with exact times.

use serde_json::{Value, json};

use super::super::Input;
use super::super::control::tests::{started, take_over};
use super::super::tests::{at, done, failed, moves, run_moves};
use crate::command::Command;
use crate::executor::{ErrorClass, Outcome};
use crate::state::{RunState, StepState, Transition};

/// `a` (heartbeat 10s, escalation `on_stall`, 3 attempts) then `b`.
fn silent(on_stall: &str) -> Value {
    json!({"name": "s", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop", "heartbeat": "10s", "on_stall": on_stall,
         "retry": {"max_attempts": 3, "initial_delay": "1s", "backoff": "fixed"}},
        {"id": "b", "executor": "noop"}
    ]}]})
}

/// Runs `a` of `workflow` silent until it stalls at 10s, and ends its cancelled attempt.
fn stall(workflow: &Value) -> super::super::Ledger {
    let mut ledger = take_over(workflow, RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
        .apply(
            Input::Progress {
                step: 0,
                item: None,
                at: at(4),
            },
            at(4),
        )
        .unwrap();
    ledger.turn(at(13)).unwrap();
    assert!(
        ledger.take_cancels().is_empty(),
        "progress at 4s moved the window"
    );
    assert_eq!(ledger.next_wake(), Some(at(14)));
    ledger.turn(at(14)).unwrap();
    assert_eq!(
        ledger.take_cancels(),
        [0],
        "silent since 4s: stalled at 14s"
    );
    ledger
        .apply(failed(0, ErrorClass::Cancelled, "cancelled"), at(15))
        .unwrap();
    ledger
}

/// The stall detail of the batch's first step transition.
fn stall_of(batch: &crate::state::Batch) -> Value {
    let Some(Transition::Step(step)) = batch.transitions().first() else {
        panic!("no step transition")
    };
    step.detail.as_ref().unwrap()["stall"].clone()
}

#[test]
fn a_silent_step_stalls_and_retry_makes_a_new_attempt() {
    let mut ledger = stall(&silent("retry"));
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["a: running -> retry_wait"]);
    assert_eq!(stall_of(&batch)["kind"], "heartbeat");
    assert_eq!(stall_of(&batch)["evidence"]["silent_for"], "10s");
    assert_eq!(started(&mut ledger, 16), ["a"]);
}

#[test]
fn a_silent_step_stalls_and_fail_fails_it() {
    let mut ledger = stall(&silent("fail"));
    ledger.turn(at(15)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> failed", "b: pending -> skipped"]
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Stalled));
}

#[test]
fn a_silent_step_stalls_and_pause_readies_it_and_pauses_the_run() {
    let mut ledger = stall(&silent("pause"));
    assert!(ledger.turn(at(15)).unwrap().is_empty());
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["a: running -> ready"]);
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    // Why the run waits is the step's error, in sight of `cairn show`.
    let Some(Transition::Step(ready)) = batch.transitions().first() else {
        panic!("no step transition")
    };
    let error = ready.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("stalled: "), "{error:?}");
}

#[test]
fn a_silent_step_stalls_and_cancel_cancels_the_run() {
    let mut ledger = stall(&silent("cancel"));
    ledger.turn(at(15)).unwrap();
    let batch = ledger.take_batch();
    // `b` is cancelled when the stall is seen, `a` when its cancelled attempt ends.
    assert_eq!(
        moves(&batch),
        ["b: pending -> cancelled", "a: running -> cancelled"]
    );
    let Some(Transition::Step(a)) = batch.transitions().get(1) else {
        panic!("no transition of a")
    };
    let detail = a.detail.as_ref().expect("a's end says why");
    assert_eq!(detail["stall"]["kind"], "heartbeat", "{detail}");
    // `cairn show` says why too: the stall's error, class `stalled`.
    let error = a.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("stalled: no sign of life"), "{error}");
    let b = &batch.transitions()[0];
    assert!(
        matches!(b, Transition::Step(b) if b.error.as_deref() == Some("cancelled: the run was cancelled")),
        "{b:?}"
    );
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
}

/// A run with `no_progress` 30s whose escalation is `pause`, running `a` (2 attempts, its
/// own escalation `on_stall`, if any), `b` (none: the run's) and `c` after them, for 30s
/// without a sign of life; the attempts of `a` and `b` end cancelled at 31s.
fn quiet(on_stall: Option<&str>) -> super::super::Ledger {
    let mut workflow = json!({"name": "n", "stall": {"no_progress": "30s", "on_stall": "pause"},
        "steps": [{"id": "a", "executor": "noop", "retry": {"max_attempts": 2}},
                  {"id": "b", "executor": "noop"},
                  {"id": "c", "executor": "noop", "needs": ["a", "b"], "trigger": "all_done"}]});
    if let Some(on_stall) = on_stall {
        workflow["steps"][0]["on_stall"] = json!(on_stall);
    }
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a", "b"]);
    ledger.take_batch();
    assert_eq!(ledger.next_wake(), Some(at(30)));
    ledger.turn(at(30)).unwrap();
    let mut cancels = ledger.take_cancels();
    cancels.sort_unstable();
    assert_eq!(cancels, [0, 1]);
    for step in [0, 1] {
        let cancelled = failed(step, ErrorClass::Cancelled, "cancelled");
        ledger.apply(cancelled, at(31)).unwrap();
    }
    ledger.turn(at(31)).unwrap();
    ledger
}

#[test]
fn a_run_with_no_progress_escalates_each_attempt_by_its_steps_on_stall_else_the_runs() {
    let mut ledger = quiet(None);
    let batch = ledger.take_batch();
    assert_eq!(stall_of(&batch)["kind"], "no_progress");
    assert_eq!(
        moves(&batch),
        ["a: running -> ready", "b: running -> ready"]
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);

    let mut ledger = quiet(Some("fail"));
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> failed", "b: running -> ready"],
        "a's own fail, b's the run's pause"
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);

    let mut ledger = quiet(Some("retry"));
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> retry_wait", "b: running -> ready"]
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
}

#[test]
fn a_cancel_wins_over_a_pause_when_the_run_stalls() {
    let mut ledger = quiet(Some("cancel"));
    let batch = ledger.take_batch();
    assert!(
        moves(&batch).contains(&"a: running -> cancelled".to_owned()),
        "{:?}",
        moves(&batch)
    );
    assert!(sent_by_cairn(&batch).contains(&"cancel"));
    assert_eq!(ledger.report().state, RunState::Cancelled);
}

/// `a` retried up to 5 times, failing with `errors` in turn; the last attempt's batch.
fn failing(errors: &[&str]) -> super::super::Ledger {
    let workflow = json!({"name": "l", "stall": {"on_stall": "fail"}, "steps": [
        {"id": "a", "executor": "noop",
         "retry": {"max_attempts": 5, "initial_delay": "1s", "backoff": "fixed"}}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    for (n, error) in errors.iter().enumerate() {
        let second = 10 * n as i64;
        assert_eq!(started(&mut ledger, second), ["a"], "attempt {}", n + 1);
        ledger
            .apply(failed(0, ErrorClass::ExitCode, error), at(second + 1))
            .unwrap();
    }
    ledger.turn(at(100)).unwrap();
    ledger
}

#[test]
fn the_same_error_three_times_is_a_loop_before_max_attempts() {
    let ledger = failing(&[
        "died: pid 11 at 10:00:01",
        "died: pid 12 at 10:00:02",
        "died: pid 13 at 10:00:03",
    ]);
    assert_eq!(ledger.report().state, RunState::Failed);
    assert_eq!(ledger.slots[0].attempt, 3);
    assert!(ledger.report().error.unwrap().contains("looping"));
}

#[test]
fn the_same_error_three_times_fails_the_step_though_its_on_stall_is_retry() {
    let workflow = json!({"name": "l", "stall": {"on_stall": "retry"}, "steps": [
        {"id": "a", "executor": "noop",
         "retry": {"max_attempts": 5, "initial_delay": "1s", "backoff": "fixed"}}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    for n in 0..3 {
        assert_eq!(started(&mut ledger, 10 * n), ["a"], "attempt {}", n + 1);
        let failure = failed(0, ErrorClass::ExitCode, "died: pid 11");
        ledger.apply(failure, at(10 * n + 1)).unwrap();
    }
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch).last().unwrap(), "a: running -> failed");
    let Some(Transition::Step(a)) = batch.transitions().last() else {
        panic!("no transition of a")
    };
    let detail = a.detail.clone().unwrap_or_default();
    assert_eq!(detail["stall"]["kind"], "loop", "{detail}");
    assert_eq!(detail["escalation"], "fail", "{detail}");
    assert!(
        detail["reason"].as_str().is_some(),
        "the event says why: {detail}"
    );
}

#[test]
fn different_errors_use_every_attempt() {
    let ledger = failing(&["one", "two", "one", "two", "one"]);
    assert_eq!(ledger.report().state, RunState::Failed);
    assert_eq!(ledger.slots[0].attempt, 5);
    assert_eq!(ledger.report().error_class, Some(ErrorClass::ExitCode));
}

#[test]
fn exits_with_different_codes_are_no_loop_though_their_counts_differ_only() {
    let ledger = failing(&[
        "`sh` exited with code 107; stderr:\n493 passed; 7 failed",
        "`sh` exited with code 103; stderr:\n497 passed; 3 failed",
        "`sh` exited with code 101; stderr:\n499 passed; 1 failed",
        "`sh` exited with code 101; stderr:\n499 passed; 1 failed",
    ]);
    assert_eq!(ledger.slots[0].state, StepState::Running);
    assert_eq!(
        ledger.slots[0].attempt, 5,
        "no loop: the fifth attempt runs"
    );
}

#[test]
fn stalls_alike_retried_are_a_loop_however_late_each_was_seen_and_the_loop_fails_the_step() {
    let workflow = json!({"name": "h", "steps": [
        {"id": "a", "executor": "noop", "heartbeat": "10s", "on_stall": "retry",
         "retry": {"max_attempts": 5, "initial_delay": "1s", "backoff": "fixed"}}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    let mut details = Vec::new();
    // The second stall is seen a millisecond late: silent for `10s 1ms`.
    let ends = ["retry_wait", "retry_wait", "failed"];
    for ((start, late), end) in [(0, 0), (20, 1), (40, 0)].into_iter().zip(ends) {
        assert_eq!(started(&mut ledger, start), ["a"]);
        ledger.take_batch();
        let seen = at(start + 10) + chrono::Duration::milliseconds(late);
        ledger.turn(seen).unwrap();
        assert_eq!(ledger.take_cancels(), [0]);
        let cancelled = failed(0, ErrorClass::Cancelled, "cancelled");
        ledger.apply(cancelled, at(start + 11)).unwrap();
        let batch = ledger.take_batch();
        assert_eq!(moves(&batch)[0], format!("a: running -> {end}"), "{start}");
        let Some(Transition::Step(step)) = batch.transitions().first() else {
            panic!("no step transition")
        };
        details.push(step.detail.clone().unwrap());
    }
    let kinds: Vec<&Value> = details
        .iter()
        .map(|detail| &detail["stall"]["kind"])
        .collect();
    assert_eq!(kinds, ["heartbeat", "heartbeat", "loop"]);
    assert_eq!(
        details[2]["stall"]["evidence"],
        json!({"repeats": 3, "error": "stalled: no sign of life (heartbeat #)",
               "last_error": "stalled: no sign of life (heartbeat 10s)"})
    );
    // Retrying a loop would repeat it: the step fails, attempts left or not, and says why.
    assert_eq!(details[2]["escalation"], "fail");
    let reason = details[2]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("retrying a loop repeats it"), "{reason}");
    assert_eq!(ledger.slots[0].state, StepState::Failed);
    assert_eq!(
        ledger.slots[0].attempt, 3,
        "two of its five attempts left unused"
    );
}

/// `a` (heartbeat 10s, escalation `on_stall`) beside a pipeline of `q` then `q2`.
fn beside_a_pipeline(on_stall: &str) -> Value {
    json!({"name": "s", "steps": [
        {"id": "a", "executor": "noop", "heartbeat": "10s", "on_stall": on_stall},
        {"pipeline": [{"id": "q", "executor": "noop"}, {"id": "q2", "executor": "noop"}]}
    ]})
}

#[test]
fn a_stall_that_pauses_or_cancels_the_run_holds_from_its_detection_not_from_the_attempts_end() {
    for on_stall in ["pause", "cancel"] {
        let workflow = beside_a_pipeline(on_stall);
        let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a", "q"]);
        ledger.turn(at(10)).unwrap();
        let sent: Vec<&str> = (ledger.batch.sent().iter())
            .map(|(_, command)| command.kind())
            .collect();
        assert_eq!(
            sent,
            [on_stall],
            "recorded for an engine taking the run over"
        );
        let mut cancels = ledger.take_cancels();
        cancels.sort_unstable();
        let expected: &[usize] = if on_stall == "cancel" { &[0, 1] } else { &[0] };
        assert_eq!(
            cancels, expected,
            "{on_stall}: what the stall stops at once"
        );
        // `q` ends while `a`'s attempt is still in its kill grace: `q2` must not start.
        ledger.apply(done(1, json!(1)), at(11)).unwrap();
        assert!(
            ledger.turn(at(11)).unwrap().is_empty(),
            "{on_stall}: nothing new starts after the stall"
        );
    }
}

/// `a` (failing the same way each attempt, up to 5) beside `s`, then `after` needing `a`;
/// the run's escalation is `on_stall`.
fn looping(on_stall: &str) -> Value {
    json!({"name": "l", "stall": {"on_stall": on_stall}, "steps": [
        {"id": "a", "executor": "noop",
         "retry": {"max_attempts": 5, "initial_delay": "1s", "backoff": "fixed"}},
        {"id": "s", "executor": "noop"},
        {"id": "after", "executor": "noop", "needs": ["a"]}]})
}

/// Runs [`looping`] until `a`'s third identical failure, a loop, at 5s, `s` still running;
/// the batch holds what that failure did.
fn loop_beside_a_sibling(on_stall: &str) -> super::super::Ledger {
    let mut ledger = take_over(&looping(on_stall), RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a", "s"]);
    for second in [1, 3, 5] {
        ledger.take_batch();
        ledger
            .apply(failed(0, ErrorClass::ExitCode, "boom"), at(second))
            .unwrap();
        if second < 5 {
            assert_eq!(started(&mut ledger, second + 1), ["a"], "after its delay");
        }
    }
    ledger
}

/// Who halted the run, and why, as the batch's run transition records it under `key`.
fn halted_by(batch: &crate::state::Batch, key: &str) -> Value {
    let run = batch
        .transitions()
        .iter()
        .find_map(|transition| match transition {
            Transition::Run(run) => run.detail.clone(),
            Transition::Step(_) => None,
        });
    run.expect("a run transition with a detail")[key].clone()
}

/// The kinds of the commands the engine itself (`by: cairn`) sent in `batch`.
fn sent_by_cairn(batch: &crate::state::Batch) -> Vec<&'static str> {
    (batch.sent().iter())
        .filter(|(_, command)| match command {
            Command::Pause(request) | Command::Cancel(request) => request.by == "cairn",
            _ => false,
        })
        .map(|(_, command)| command.kind())
        .collect()
}

#[test]
fn a_loops_evidence_quotes_the_stderr_once() {
    for (message, tail, evidence) in [
        (
            "`sh` exited with code 1; stderr:\nboom",
            "boom\n",
            "exit_code: `sh` exited with code 1; stderr: boom",
        ),
        (
            "timed out",
            "last words\n",
            "exit_code: timed out last words",
        ),
    ] {
        let mut ledger = take_over(&looping("pause"), RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a", "s"]);
        for second in [1, 3, 5] {
            ledger.take_batch();
            let mut outcome = Outcome::failure(ErrorClass::ExitCode, message);
            outcome.log_tail = Some(tail.to_string());
            let failure = Input::Completed { step: 0, outcome };
            ledger.apply(failure, at(second)).unwrap();
            if second < 5 {
                started(&mut ledger, second + 1);
            }
        }
        let batch = ledger.take_batch();
        assert_eq!(stall_of(&batch)["evidence"]["error"], evidence);
    }
}

#[test]
fn a_loop_that_pauses_readies_the_step_and_pauses_the_run_once_nothing_else_runs() {
    let mut ledger = loop_beside_a_sibling("pause");
    assert!(ledger.take_cancels().is_empty(), "s may finish");
    assert!(
        ledger.turn(at(5)).unwrap().is_empty(),
        "a does not run again"
    );
    assert!(!ledger.is_paused(), "s is still running");
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["a: running -> ready"]);
    assert_eq!(stall_of(&batch)["kind"], "loop");
    assert_eq!(sent_by_cairn(&batch), ["pause"], "in the loop's commit");
    ledger.apply(done(1, json!(1)), at(6)).unwrap();
    assert!(ledger.turn(at(6)).unwrap().is_empty());
    assert!(ledger.is_paused());
    let batch = ledger.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    let paused = halted_by(&batch, "paused");
    assert_eq!(paused["by"], "cairn");
    let reason = paused["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("step a stalled: looping: 3 attempts"),
        "{reason}"
    );
    assert_eq!(ledger.slots[0].attempt, 3);
}

#[test]
fn a_loop_that_cancels_cancels_the_run_and_its_attempts_in_flight() {
    let mut ledger = loop_beside_a_sibling("cancel");
    assert_eq!(ledger.take_cancels(), [1], "s is cancelled at once");
    assert!(ledger.turn(at(5)).unwrap().is_empty());
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> cancelled", "after: pending -> cancelled"]
    );
    assert_eq!(stall_of(&batch)["kind"], "loop");
    assert_eq!(sent_by_cairn(&batch), ["cancel"], "in the loop's commit");
    ledger
        .apply(failed(1, ErrorClass::Cancelled, "cancelled"), at(6))
        .unwrap();
    ledger.turn(at(6)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["s: running -> cancelled"]);
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
    let cancelled = halted_by(&batch, "cancelled");
    assert_eq!(cancelled["by"], "cairn");
    assert!(
        cancelled["reason"]
            .as_str()
            .unwrap()
            .starts_with("step a stalled")
    );
}

#[test]
fn a_planner_repeating_its_plan_with_pause_pauses_the_run_and_does_not_plan_again() {
    let workflow = json!({"name": "p", "stall": {"loop_after": 2}, "steps": [
        {"id": "gen", "executor": "noop", "planner": true}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["gen"]);
    // Each round's planner plans one more planner with the same plan.
    let again = json!({"steps": [{"id": "again", "executor": "noop", "planner": true}]});
    let mut planner = "gen".to_owned();
    for second in 1..=3 {
        let index = ledger.plan.index_of(&planner).unwrap();
        ledger.take_batch();
        ledger
            .apply(done(index, again.clone()), at(second))
            .unwrap();
        planner.push_str(".again");
        if second < 3 {
            assert_eq!(started(&mut ledger, second), [planner.clone()]);
        }
    }
    // loop_after is 2: the third emission is the second repeat, and adds nothing.
    assert!(
        ledger.turn(at(3)).unwrap().is_empty(),
        "no planner runs again"
    );
    assert!(ledger.is_paused());
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["gen.again.again: running -> ready"]);
    assert_eq!(stall_of(&batch)["kind"], "loop");
    assert_eq!(sent_by_cairn(&batch), ["pause"]);
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    assert!(ledger.turn(at(4)).unwrap().is_empty());
}

/// `a`, whose `when` cannot be evaluated, retried on `bad_params`, between `z0` and `z2`,
/// retried as often and as late; the run's escalation is `on_stall`. Runs it to the turn
/// at 2s, where `a` fails before it starts a third time, a loop, after `z0` was marked
/// running in the same turn and before `z2` was.
fn unpreparable_between_siblings(on_stall: &str) -> (super::super::Ledger, Vec<String>) {
    let retry = json!({"max_attempts": 5, "initial_delay": "1s", "backoff": "fixed",
                       "retry_on": ["bad_params", "exit_code"]});
    let workflow = json!({"name": "u", "stall": {"on_stall": on_stall}, "steps": [
        {"id": "z0", "executor": "noop", "retry": retry},
        {"id": "a", "executor": "noop", "when": "input.missing == 1", "retry": retry},
        {"id": "z2", "executor": "noop", "retry": retry}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    for (second, error) in [(0, "one"), (1, "two")] {
        assert_eq!(started(&mut ledger, second), ["z0", "z2"]);
        for step in [0, 2] {
            let failure = failed(step, ErrorClass::ExitCode, error);
            ledger.apply(failure, at(second)).unwrap();
        }
    }
    ledger.take_batch();
    let started = started(&mut ledger, 2);
    (ledger, started)
}

#[test]
fn a_loop_of_failures_before_the_start_that_pauses_holds_the_run_at_once() {
    let (mut ledger, started) = unpreparable_between_siblings("pause");
    assert!(
        started.is_empty(),
        "nothing starts after the loop: {started:?}"
    );
    assert_eq!(ledger.slots[1].attempt, 3, "a is not tried again");
    assert!(ledger.is_paused());
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        [
            "z0: retry_wait -> ready",
            "a: retry_wait -> ready",
            "z2: retry_wait -> ready",
            "z0: ready -> running",
            "a: ready -> running",
            "a: running -> ready",
            "z0: running -> ready"
        ]
    );
    assert_eq!(sent_by_cairn(&batch), ["pause"]);
    let reason = halted_by(&batch, "paused")["reason"].to_string();
    assert!(
        reason.contains("step a stalled: looping: 3 attempts"),
        "{reason}"
    );
}

#[test]
fn a_loop_of_failures_before_the_start_that_cancels_ends_the_run_at_once() {
    let (mut ledger, started) = unpreparable_between_siblings("cancel");
    assert!(
        started.is_empty(),
        "nothing starts after the loop: {started:?}"
    );
    assert_eq!(ledger.report().state, RunState::Cancelled);
    let batch = ledger.take_batch();
    let ends = moves(&batch);
    for step in ["a", "z0", "z2"] {
        assert!(
            ends.contains(&format!("{step}: ready -> cancelled"))
                || ends.contains(&format!("{step}: running -> cancelled")),
            "{ends:?}"
        );
    }
    let cancelled = halted_by(&batch, "cancelled");
    assert_eq!(cancelled["by"], "cairn");
    let reason = cancelled["reason"].to_string();
    assert!(
        reason.contains("step a stalled: looping: 3 attempts"),
        "{reason}"
    );
}

mod each;
mod fallbacks;
mod signs;
mod takeover;

/// An attempt told to stop — past its time limit, or its run cancelled — ends as that stop
/// says, silent in its kill grace or not: no heartbeat stall comes after it (probe 105 F1:
/// a time-out paused the run, the attempt ran again uncounted; F2: a cancelled step failed
/// `stalled`).
#[test]
fn no_stall_comes_after_a_time_limit_or_a_cancel() {
    let mut timed = silent("pause");
    timed["steps"][0]["pipeline"][0]["timeout"] = json!("5s");
    let mut ledger = take_over(&timed, RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    assert_eq!(
        ledger.next_wake(),
        None,
        "the heartbeat is due after the time limit"
    );
    ledger.turn(at(12)).unwrap();
    assert!(ledger.take_cancels().is_empty(), "no stall at 10s");
    ledger
        .apply(failed(0, ErrorClass::Timeout, "timed out"), at(13))
        .unwrap();
    assert_eq!(moves(&ledger.take_batch()), ["a: running -> retry_wait"]);

    let mut ledger = take_over(&silent("pause"), RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let cancel = Command::Cancel(crate::command::Request::new("ann", None));
    ledger
        .apply(super::super::control::tests::command(cancel), at(1))
        .unwrap();
    ledger.turn(at(12)).unwrap();
    ledger
        .apply(failed(0, ErrorClass::Cancelled, "cancelled"), at(13))
        .unwrap();
    let batch = ledger.take_batch();
    assert!(
        moves(&batch).contains(&"a: running -> cancelled".to_owned()),
        "{batch:?}"
    );
}
