//! A stall, recorded by the engine that takes the run over after a crash in the stalled
//! attempt's kill grace (or by the engine stopping in it) and escalated as its end would have
//! been; and a stall whose attempt the run's deadline ends.

use super::super::super::control::tests::command;
use super::super::super::tests::{committed_after, run_moves};
use super::super::super::{Committed, Judge, Ledger};
use super::*;
use crate::state::StepTransition;

/// The first transition of `batch`, `a`'s at a takeover after a crash in its stalled
/// attempt's kill grace (escalated by `on_stall`): it leaves `running` for `to`, recording
/// its interruption, the stall, its escalation and the stall's error.
fn taken_over_stall(batch: &crate::state::Batch, on_stall: &str, to: StepState) -> StepTransition {
    let Some(Transition::Step(a)) = batch.transitions().first() else {
        panic!("{on_stall}: no transition of a")
    };
    assert_eq!((a.from, a.to), (StepState::Running, to), "{on_stall}");
    let detail = a.detail.clone().unwrap_or_default();
    assert_eq!(detail["interrupted"], true, "{on_stall}: {detail}");
    assert_eq!(detail["stall"]["kind"], "heartbeat", "{on_stall}: {detail}");
    assert_eq!(detail["stall"]["evidence"]["window"], "10s", "{detail}");
    assert_eq!(detail["escalation"], on_stall, "{on_stall}: {detail}");
    let error = a.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("stalled: "), "{on_stall}: {error}");
    a.clone()
}

#[test]
fn a_stall_that_pauses_or_cancels_is_recorded_at_a_takeover_after_a_crash_in_its_kill_grace() {
    for (on_stall, key) in [("pause", "paused"), ("cancel", "cancelled")] {
        let mut ledger = take_over(&silent(on_stall), RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a"]);
        ledger.turn(at(10)).unwrap();
        let seen = ledger.take_batch();
        let [(_, sent)] = seen.sent() else {
            panic!("{on_stall}: one command sent")
        };
        // The engine dies in `a`'s kill grace; the next one finds `a` running and the command.
        let run: Committed = committed_after(&ledger, RunState::Running);
        let mut taken = Ledger::take_over(run, Judge::default(), 1 << 20, at(12), None).unwrap();
        taken.apply(command(sent.clone()), at(12)).unwrap();
        taken.turn(at(12)).unwrap();
        let batch = taken.take_batch();
        let detail = taken_over_stall(&batch, on_stall, StepState::Ready).detail;
        let detail = detail.unwrap_or_default();
        let run = (batch.transitions().iter())
            .find_map(|transition| match transition {
                Transition::Run(run) => run.detail.clone(),
                Transition::Step(_) => None,
            })
            .expect("the run's move says why");
        assert_eq!(run[key]["by"], "cairn", "{on_stall}: {run}");
        assert_eq!(run[key].get("stall"), None, "{on_stall}: {run}");
        assert_eq!(run["stall"], detail["stall"], "{on_stall}: {run}");
    }
}

/// Two attempts stalled at once (a `no_progress` stall stalls every running one), their
/// escalation a pause or a cancel: the takeover records each one's stall, not only the one
/// the run's command names (probe 204 F2: the other read as interrupted, then cancelled).
#[test]
fn every_attempt_a_pause_or_cancel_stalled_is_recorded_at_a_takeover() {
    for (on_stall, to) in [
        ("pause", StepState::Ready),
        ("cancel", StepState::Cancelled),
    ] {
        let workflow = json!({"name": "s",
        "stall": {"no_progress": "10s", "on_stall": on_stall},
        "steps": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop"}
        ]});
        let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a", "b"]);
        ledger.take_batch();
        ledger.turn(at(10)).unwrap();
        let seen = ledger.take_batch();
        let [(_, sent)] = seen.sent() else {
            panic!("{on_stall}: one command sent")
        };
        let mut taken = taken_over_at_12(&ledger, &seen);
        taken.apply(command(sent.clone()), at(12)).unwrap();
        taken.turn(at(12)).unwrap();
        let batch = taken.take_batch();
        for id in ["a", "b"] {
            let moved = (batch.transitions().iter())
                .find_map(|transition| match transition {
                    Transition::Step(step) if step.step_id == id => Some(step),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{on_stall}: {id} moved"));
            assert_eq!(moved.to, to, "{on_stall}: {id}");
            let detail = moved.detail.clone().unwrap_or_default();
            assert_eq!(
                detail["stall"]["kind"], "no_progress",
                "{on_stall}: {id}: {detail}"
            );
            assert_eq!(detail["escalation"], on_stall, "{on_stall}: {id}: {detail}");
            let error = moved.error.as_deref().unwrap_or_default();
            assert!(error.starts_with("stalled: "), "{on_stall}: {id}: {error}");
        }
    }
}

/// Past the run's deadline: the stall's pause or cancel, recorded as the run's command before
/// it, is recorded with the step's interruption as at any takeover (probe 48 F1: lost to the
/// time-out), and the cancel ends the run cancelled.
#[test]
fn a_stall_that_pauses_or_cancels_is_recorded_at_a_takeover_past_the_deadline() {
    for (on_stall, ended) in [("pause", RunState::Failed), ("cancel", RunState::Cancelled)] {
        let mut workflow = silent(on_stall);
        workflow["limits"] = json!({"timeout": "11s"});
        let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a"]);
        ledger.turn(at(10)).unwrap();
        let seen = ledger.take_batch();
        let [(_, sent)] = seen.sent() else {
            panic!("{on_stall}: one command sent")
        };
        let commands = vec![crate::command::PendingCommand {
            id: 1,
            run_id: ledger.run_id,
            command: sent.clone(),
            created_at: at(10),
        }];
        let run = Committed {
            commands,
            ..committed_after(&ledger, RunState::Running)
        };
        let mut taken = Ledger::take_over(run, Judge::default(), 1 << 20, at(12), None).unwrap();
        taken_over_stall(&taken.take_batch(), on_stall, StepState::Ready);
        assert_eq!(taken.report().state, ended, "{on_stall}");
    }
}

/// `a` of `workflow` (one like [`silent`]) stalled at 10s, seen and committed; the engine
/// dies in its kill grace, and another takes the run over at 12s from what was committed.
fn taken_over_in_the_kill_grace(workflow: &Value) -> (Ledger, crate::state::Batch) {
    let on_stall = &workflow["steps"][0]["pipeline"][0]["on_stall"];
    let mut ledger = take_over(workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a"]);
    ledger.take_batch();
    ledger.turn(at(10)).unwrap();
    assert_eq!(ledger.take_cancels(), [0], "{on_stall}: a stalled");
    let seen = ledger.take_batch();
    assert!(seen.sent().is_empty(), "{on_stall}: the run is not held");
    let mut taken = taken_over_at_12(&ledger, &seen);
    taken.turn(at(12)).unwrap();
    let batch = taken.take_batch();
    (taken, batch)
}

/// The ledger another engine builds at 12s from what `ledger` committed, the stalls of
/// `seen` (its last batch) among it: the engine died in the stalled attempts' kill grace.
fn taken_over_at_12(ledger: &Ledger, seen: &crate::state::Batch) -> Ledger {
    let stalls: Vec<(String, Value)> = (seen.stalls().iter())
        .map(|(_, step, stall)| (step.clone(), stall.clone()))
        .collect();
    let run = Committed {
        stalls,
        ..committed_after(ledger, RunState::Running)
    };
    Ledger::take_over(run, Judge::default(), 1 << 20, at(12), None).unwrap()
}

#[test]
fn a_stall_that_fails_or_retries_is_escalated_at_a_takeover_after_a_crash_in_its_kill_grace() {
    for (on_stall, to) in [("fail", StepState::Failed), ("retry", StepState::RetryWait)] {
        let (taken, batch) = taken_over_in_the_kill_grace(&silent(on_stall));
        let a = taken_over_stall(&batch, on_stall, to);
        // The attempt counts, as the live engine's end of it would have.
        assert_eq!((a.attempt, a.interrupted), (1, 0), "{on_stall}");
        assert!(
            taken.ready.is_empty(),
            "{on_stall}: a does not run again now"
        );
    }
    let (failed, batch) = taken_over_in_the_kill_grace(&silent("fail"));
    assert_eq!(moves(&batch)[1], "b: pending -> skipped");
    assert_eq!(failed.report().state, RunState::Failed);
}

/// Past the run's deadline too: the attempt ended with its engine, before the deadline (a
/// live engine would have timed the run out), so its stall is escalated before the time-out
/// (probe 47 F1: the takeover timed the run out, the stall's `fail` lost).
#[test]
fn a_stall_escalated_at_a_takeover_past_the_deadline_counts_before_the_time_out() {
    let mut workflow = silent("fail");
    workflow["limits"] = json!({"timeout": "11s"});
    let (failed, batch) = taken_over_in_the_kill_grace(&workflow);
    taken_over_stall(&batch, "fail", StepState::Failed);
    assert_eq!(moves(&batch)[1], "b: pending -> skipped");
    assert_eq!(failed.report().state, RunState::Failed);
    assert_eq!(failed.report().error_class, Some(ErrorClass::Stalled));
}

#[test]
fn a_stall_that_fails_or_retries_is_escalated_when_the_engine_stops_in_its_kill_grace() {
    for (on_stall, to) in [("fail", "failed"), ("retry", "retry_wait")] {
        let mut ledger = take_over(&silent(on_stall), RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a"]);
        ledger.turn(at(10)).unwrap();
        ledger.take_batch();
        ledger.apply(Input::Interrupted, at(11)).unwrap();
        let batch = ledger.take_batch();
        assert_eq!(
            moves(&batch)[0],
            format!("a: running -> {to}"),
            "{on_stall}"
        );
        let Some(Transition::Step(a)) = batch.transitions().first() else {
            panic!("{on_stall}: no transition of a")
        };
        let detail = a.detail.clone().unwrap_or_default();
        assert_eq!(detail["interrupted"], "engine stopped", "{detail}");
        assert_eq!(detail["stall"]["kind"], "heartbeat", "{detail}");
        assert_eq!(detail["escalation"], on_stall, "{detail}");
    }
}

#[test]
fn a_run_whose_last_attempt_a_stopping_engine_ends_by_its_stall_ends_as_its_escalation_says() {
    for (on_stall, ended) in [
        ("fail", Some(RunState::Failed)),
        ("cancel", Some(RunState::Cancelled)),
        ("retry", None),
    ] {
        let mut ledger = take_over(&silent(on_stall), RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a"]);
        ledger.turn(at(10)).unwrap();
        ledger.take_batch();
        // A first SIGTERM drains; the second stops the engine in the stall's kill grace.
        ledger.apply(Input::Drain, at(11)).unwrap();
        ledger.apply(Input::Interrupted, at(12)).unwrap();
        let moved = run_moves(&ledger.take_batch());
        let ended_as = ended
            .map(|to| vec![(RunState::Running, to)])
            .unwrap_or_default();
        assert_eq!(
            moved, ended_as,
            "{on_stall}: b is left to run only after a retry"
        );
        assert_eq!(ledger.is_over(), ended.is_some(), "{on_stall}");
    }
}

#[test]
fn a_stall_the_runs_deadline_ends_in_its_kill_grace_is_kept_in_the_steps_event() {
    let workflow = json!({"name": "d", "limits": {"timeout": "11s"},
        "steps": [{"id": "a", "executor": "noop", "heartbeat": "10s", "on_stall": "pause"}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a"]);
    ledger.turn(at(10)).unwrap();
    ledger.take_batch();
    ledger.apply(Input::TimedOut, at(11)).unwrap();
    let batch = ledger.take_batch();
    let Some(Transition::Step(a)) = batch.transitions().first() else {
        panic!("no transition of a")
    };
    assert_eq!(a.to, StepState::Cancelled);
    let detail = a.detail.clone().unwrap_or_default();
    assert_eq!(detail["reason"], "the run timed out", "{detail}");
    assert_eq!(detail["stall"]["kind"], "heartbeat", "{detail}");
    assert_eq!(detail["escalation"], "pause", "{detail}");
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
}

#[test]
fn a_stall_recorded_of_an_earlier_attempt_is_not_the_running_ones() {
    let mut ledger = take_over(&silent("retry"), RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a"]);
    ledger.take_batch();
    ledger.turn(at(10)).unwrap();
    let seen = ledger.take_batch();
    let stalls: Vec<(String, Value)> = (seen.stalls().iter())
        .map(|(_, step, stall)| (step.clone(), stall.clone()))
        .collect();
    assert_eq!(stalls[0].1["attempt"], 1, "{stalls:?}");
    // Attempt 1 was retried; attempt 2 runs when the engine dies, attempt 1's stall still in
    // its row (nothing clears it).
    let mut run = committed_after(&ledger, RunState::Running);
    run.steps[0].attempt = 2;
    let run = Committed { stalls, ..run };
    let mut taken = Ledger::take_over(run, Judge::default(), 1 << 20, at(30), None).unwrap();
    taken.turn(at(30)).unwrap();
    let batch = taken.take_batch();
    let Some(Transition::Step(a)) = batch.transitions().first() else {
        panic!("no transition of a")
    };
    assert_eq!((a.from, a.to), (StepState::Running, StepState::Ready));
    let detail = a.detail.clone().unwrap_or_default();
    assert_eq!(
        detail,
        json!({"interrupted": true}),
        "attempt 2 did not stall"
    );
}
