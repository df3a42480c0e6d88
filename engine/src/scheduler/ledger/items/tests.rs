//! `for_each` items in the ledger: committed one by one, failing on their own, and run
//! again only when they have not succeeded.

use serde_json::{Value, json};

use super::super::control::tests::command;
use super::super::tests::{at, committed_after, ids, moves, new_run, run_moves};
use super::super::{Committed, Input, Judge, Ledger, Redrive, Start};
use crate::command::{Command, Request};
use crate::executor::{ErrorClass, Outcome};
use crate::item::ItemRecord;
use crate::state::{Batch, RunState, StepState, Transition};

fn item(index: usize, outcome: Outcome) -> Input {
    Input::Item {
        step: 0,
        index,
        outcome,
    }
}

fn ended() -> Input {
    Input::Completed {
        step: 0,
        outcome: Outcome::success(Value::Null),
    }
}

fn each(retry: u32) -> Value {
    json!({"name": "f", "steps": [{"pipeline": [
        {"id": "each", "executor": "noop", "for_each": "${{ [10, 20, 30, 40] }}",
         "retry": {"max_attempts": retry, "backoff": "fixed", "initial_delay": "1s"}},
        {"id": "after", "executor": "noop"}
    ]}]})
}

/// The output `batch` commits with the `for_each` step's success.
fn succeeded_with(batch: &Batch) -> Value {
    (batch.transitions().iter())
        .find_map(|transition| match transition {
            Transition::Step(step) if step.to == StepState::Succeeded => {
                step.output.as_ref().map(|output| output.to_json())
            }
            _ => None,
        })
        .expect("the step succeeded with an output")
}

/// The items a start runs, each with its attempt.
fn item_attempts(start: &Start) -> Vec<(Option<usize>, u32)> {
    (start.actions.all().into_iter())
        .map(|action| (action.item_index, action.attempt))
        .collect()
}

fn states(records: &[ItemRecord]) -> Vec<(usize, StepState, u32)> {
    (records.iter())
        .map(|record| (record.index, record.state, record.attempt))
        .collect()
}

#[test]
fn items_commit_as_they_end_and_the_output_keeps_item_order() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    for index in [2, 0, 3, 1] {
        ledger
            .apply(item(index, Outcome::success(json!(index))), at(1))
            .unwrap();
    }
    let items = ledger.take_batch();
    assert_eq!(items.items().len(), 4, "each item is recorded as it ends");
    assert!(items.transitions().is_empty());
    ledger.apply(ended(), at(2)).unwrap();
    assert_eq!(succeeded_with(&ledger.take_batch()), json!([0, 1, 2, 3]));
}

#[test]
fn a_step_whose_many_items_failed_lists_the_first_twenty() {
    let list = (0..30)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let workflow = json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "for_each": format!("${{{{ [{list}] }}}}")}]});
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    for index in 0..30 {
        let failure = Outcome::failure(ErrorClass::ExitCode, "exit 1");
        ledger.apply(item(index, failure), at(1)).unwrap();
    }
    ledger.apply(ended(), at(1)).unwrap();
    let error = ledger.slots[0].error.clone().unwrap();
    let listed = (0..20)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        error.starts_with(&format!(
            "exit_code: 30 of 30 items failed ({listed}, …): item 0:"
        )),
        "{error}"
    );
    assert!(error.ends_with("; 25 more"), "{error}");
}

#[test]
fn failed_items_fail_the_step_once_all_ended_and_a_retry_runs_only_them() {
    let mut ledger = new_run(each(2));
    ledger.turn(at(0)).unwrap();
    let bad = |message: &str| Outcome::failure(ErrorClass::ExitCode, message);
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    ledger.apply(item(1, bad("exit 1")), at(1)).unwrap();
    ledger
        .apply(item(2, Outcome::success(json!("c"))), at(1))
        .unwrap();
    ledger.apply(item(3, bad("exit 3")), at(1)).unwrap();
    ledger.apply(ended(), at(1)).unwrap();
    let error = ledger.slots[0].error.clone().unwrap();
    assert_eq!(
        error,
        "exit_code: 2 of 4 items failed (1, 3): item 1: exit 1; item 3: exit 3"
    );
    assert_eq!(ledger.slots[0].state, StepState::RetryWait);
    ledger.take_batch();
    let starts = ledger.turn(at(2)).unwrap();
    ledger.take_batch();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(3), 2)],
        "each item counts its own attempts"
    );
    ledger
        .apply(item(1, Outcome::success(json!("b"))), at(3))
        .unwrap();
    ledger.apply(item(3, bad("exit 3")), at(3)).unwrap();
    ledger.apply(ended(), at(3)).unwrap();
    assert_eq!(ledger.slots[0].state, StepState::Failed);
    let error = ledger.slots[0].error.clone().unwrap();
    assert_eq!(error, "exit_code: 1 of 4 items failed (3): item 3: exit 3");
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["each: running -> failed", "after: pending -> skipped"]
    );
    assert_eq!(
        states(batch.items()),
        [(1, StepState::Succeeded, 2), (3, StepState::Failed, 2)]
    );
    ledger.turn(at(3)).unwrap();
    assert_eq!(ledger.report().state, RunState::Failed);
}

#[test]
fn after_a_crash_only_the_items_not_succeeded_run_again() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    let started = ledger.take_batch();
    assert_eq!(
        states(started.items()),
        (0..4)
            .map(|index| (index, StepState::Running, 1))
            .collect::<Vec<_>>(),
        "each item's start is committed with the step's"
    );
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    ledger
        .apply(item(2, Outcome::success(json!("c"))), at(1))
        .unwrap();
    let items = [started.items(), ledger.take_batch().items()].concat();
    let run = Committed {
        items,
        ..committed_after(&ledger, RunState::Running)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    let starts = resumed.turn(at(2)).unwrap();
    assert_eq!(ids(&resumed, &starts), ["each"]);
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(3), 2)],
        "an item cut off by the crash runs as its next attempt (its start was committed)"
    );
    resumed
        .apply(item(1, Outcome::success(json!("b"))), at(3))
        .unwrap();
    resumed
        .apply(item(3, Outcome::success(json!("d"))), at(3))
        .unwrap();
    resumed.apply(ended(), at(3)).unwrap();
    assert_eq!(
        succeeded_with(&resumed.take_batch()),
        json!(["a", "b", "c", "d"])
    );
}

#[test]
fn an_item_past_the_first_window_is_recorded_running_with_the_end_that_gives_its_leave() {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "max_parallel": 2,
         "for_each": "${{ [10, 20, 30, 40] }}"}
    ]}));
    ledger.turn(at(0)).unwrap();
    let started = ledger.take_batch();
    assert_eq!(
        states(started.items()),
        [(0, StepState::Running, 1), (1, StepState::Running, 1)],
        "only the items that start at once are recorded running with the step"
    );
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    let first_end = ledger.take_batch();
    assert_eq!(
        states(first_end.items()),
        [(2, StepState::Running, 1), (0, StepState::Succeeded, 1)],
        "the commit of an item's end records the start of the item it lets run"
    );
    // The engine dies there: item 3 never started.
    let run = Committed {
        items: [started.items(), first_end.items()].concat(),
        ..committed_after(&ledger, RunState::Running)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    let starts = resumed.turn(at(2)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(2), 2), (Some(3), 1)],
        "items cut off run as their next attempt, the one that never started as its first"
    );
}

#[test]
fn an_item_that_ends_while_the_run_is_halted_records_no_start_for_the_next() {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "max_parallel": 2,
         "for_each": "${{ [10, 20, 30, 40] }}"}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    // The first signal: nothing new starts; the second stops the engine before the
    // attempt's end (the items in flight were cut off: the driver tells them interrupted).
    ledger.apply(Input::Drain, at(1)).unwrap();
    for index in [0, 1] {
        let stopped = Outcome::failure(ErrorClass::Interrupted, "stopped");
        ledger.apply(item(index, stopped), at(1)).unwrap();
    }
    ledger.apply(Input::Interrupted, at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        states(batch.items()),
        [
            (0, StepState::Pending, 1),
            (1, StepState::Pending, 1),
            (2, StepState::Pending, 0),
            (3, StepState::Pending, 0)
        ],
        "items 2 and 3 get no leave, so none is recorded running; 0 and 1 keep their attempt"
    );
    let detail = detail_of(&batch, StepState::Ready);
    assert_eq!(detail["interrupted"], "engine stopped");
    assert_eq!(
        detail["items_not_started"], 2,
        "as a first signal's stop counts them"
    );
}

/// A run whose `each` failed with items 1 and 3, taken over again with `redrive`.
fn redriven(from: Option<&str>) -> Ledger {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    let bad = Outcome::failure(ErrorClass::ExitCode, "no");
    for index in 0..4 {
        let outcome = if index % 2 == 1 {
            bad.clone()
        } else {
            Outcome::success(json!(index))
        };
        ledger.apply(item(index, outcome), at(1)).unwrap();
    }
    ledger.apply(ended(), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    assert_eq!(ledger.report().state, RunState::Failed);
    let items = ledger.take_batch().items().to_vec();
    let run = Committed {
        items,
        ..committed_after(&ledger, RunState::Failed)
    };
    let redrive = Redrive {
        from: from.map(str::to_owned),
    };
    Ledger::take_over(run, Judge::default(), 1 << 20, at(2), Some(redrive)).unwrap()
}

#[test]
fn a_redrive_runs_only_the_failed_items_and_one_from_the_step_runs_them_all() {
    let mut ledger = redriven(None);
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(3), 2)],
        "only the failed items, each as its next attempt"
    );

    let mut ledger = redriven(Some("each"));
    let reset = ledger.take_batch();
    let pending: Vec<(usize, StepState, u32)> = states(reset.items());
    assert_eq!(
        pending.len(),
        4,
        "every item that ran goes back to pending: {pending:?}"
    );
    assert!(
        pending
            .iter()
            .all(|(_, state, _)| *state == StepState::Pending)
    );
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(0), 2), (Some(1), 2), (Some(2), 2), (Some(3), 2)]
    );
}

/// A run of `each` whose item 0 succeeded before `halt`, after which its task ended on its
/// own (items 1 to 3 never started); with the batch of the item starts.
fn halted_after_item_0(halt: Input) -> (Ledger, Batch) {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    let started = ledger.take_batch();
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    ledger.apply(halt, at(1)).unwrap();
    ledger.apply(ended(), at(2)).unwrap();
    (ledger, started)
}

fn pause() -> Input {
    command(Command::Pause(Request {
        by: "ann".into(),
        reason: None,
        stall: None,
    }))
}

/// The detail of the transition of `batch` to `to`.
fn detail_of(batch: &Batch, to: StepState) -> Value {
    (batch.transitions().iter())
        .find_map(|transition| match transition {
            Transition::Step(step) if step.to == to => step.detail.clone(),
            _ => None,
        })
        .expect("a transition with a detail")
}

/// Items 1 to 3 back to pending, never having run, with item 0's success.
fn item_0_and_the_items_left_pending() -> Vec<(usize, StepState, u32)> {
    let pending = (1..4).map(|index| (index, StepState::Pending, 0));
    std::iter::once((0, StepState::Succeeded, 1))
        .chain(pending)
        .collect()
}

#[test]
fn an_attempt_its_time_limit_cut_off_during_a_halt_times_out_and_counts() {
    let mut workflow = each(1);
    workflow["steps"][0]["pipeline"][0]["max_parallel"] = json!(2);
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    // The first signal, then the step's time limit: items 0 and 1 time out, 2 and 3 never
    // start; the attempt ends by itself.
    ledger.apply(Input::Drain, at(1)).unwrap();
    for index in [0, 1] {
        let timed_out = Outcome::failure(ErrorClass::Timeout, "timed out");
        ledger.apply(item(index, timed_out), at(2)).unwrap();
    }
    ledger.apply(Input::TimeLimit { step: 0 }, at(2)).unwrap();
    let ended = Input::Completed {
        step: 0,
        outcome: Outcome::success(Value::Null),
    };
    ledger.apply(ended, at(2)).unwrap();
    let batch = ledger.take_batch();
    // Probe 101 F1: `running -> ready`, stopped short by the halt, to run again uncounted.
    assert_eq!(
        moves(&batch),
        ["each: running -> failed", "after: pending -> skipped"]
    );
    let error = ledger.slots[0].error.clone().unwrap_or_default();
    assert!(error.starts_with("timeout: "), "{error}");
}

#[test]
fn a_pause_starts_no_item_left_and_a_resume_runs_only_those_as_their_first_attempt() {
    let (mut ledger, started) = halted_after_item_0(pause());
    assert!(ledger.turn(at(2)).unwrap().is_empty());
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["each: running -> ready"],
        "neither failed nor retried"
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    let detail = detail_of(&batch, StepState::Ready);
    assert_eq!(detail["interrupted"], "run paused");
    assert_eq!(detail["items_not_started"], 3);
    assert_eq!(
        states(batch.items()),
        item_0_and_the_items_left_pending(),
        "the starts of the items that never ran are taken back"
    );
    let items = [started.items(), batch.items()].concat();
    let run = Committed {
        items,
        ..committed_after(&ledger, RunState::Paused)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(3), None).unwrap();
    let starts = resumed.turn(at(3)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 1), (Some(2), 1), (Some(3), 1)]
    );
    for (index, output) in [(1, "b"), (2, "c"), (3, "d")] {
        resumed
            .apply(item(index, Outcome::success(json!(output))), at(4))
            .unwrap();
    }
    resumed.apply(ended(), at(4)).unwrap();
    assert_eq!(
        succeeded_with(&resumed.take_batch()),
        json!(["a", "b", "c", "d"])
    );
}

#[test]
fn a_drain_leaves_the_step_ready_with_its_items_left_pending() {
    let (mut ledger, _) = halted_after_item_0(Input::Drain);
    ledger.apply(Input::Interrupted, at(2)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["each: running -> ready"]);
    assert_eq!(
        detail_of(&batch, StepState::Ready)["interrupted"],
        "engine stopped"
    );
    assert_eq!(states(batch.items()), item_0_and_the_items_left_pending());
    assert_eq!(ledger.report().state, RunState::Running, "resumable");
}

#[test]
fn a_cancel_takes_back_the_starts_of_the_items_it_kept_from_running() {
    let cancel = command(Command::Cancel(Request {
        by: "ann".into(),
        reason: None,
        stall: None,
    }));
    let (mut ledger, _) = halted_after_item_0(cancel);
    ledger.turn(at(2)).unwrap();
    let batch = ledger.take_batch();
    assert!(
        moves(&batch).contains(&"each: running -> cancelled".to_owned()),
        "{:?}",
        moves(&batch)
    );
    assert_eq!(states(batch.items()), item_0_and_the_items_left_pending());
    // Cancelled, and of that class (probe 88 F2: `interrupted`, as a pause's step is).
    let error = ledger.slots[0].error.as_deref().unwrap_or_default();
    assert_eq!(error, "cancelled: 3 items did not run");
}

#[test]
fn an_item_a_cancel_stopped_is_recorded_cancelled_and_a_failed_one_failed() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let stopped = Outcome::failure(ErrorClass::Cancelled, "cancelled");
    let failed = Outcome::failure(ErrorClass::ExitCode, "exit 1");
    ledger.apply(item(0, stopped), at(1)).unwrap();
    ledger.apply(item(1, failed), at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        states(batch.items()),
        [(0, StepState::Cancelled, 1), (1, StepState::Failed, 1)]
    );
}

#[test]
fn a_step_whose_items_a_cancel_stopped_says_they_were_cancelled_not_failed() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    for index in 0..4 {
        let stopped = Outcome::failure(ErrorClass::Cancelled, "cancelled");
        ledger.apply(item(index, stopped), at(1)).unwrap();
    }
    ledger.apply(ended(), at(1)).unwrap();
    let error = ledger.slots[0].error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("cancelled: 4 of 4 items were cancelled (0, 1, 2, 3)"),
        "{error}"
    );
}

#[test]
fn a_step_a_cancel_ended_with_items_in_flight_counts_those_that_did_not_run() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let cancel = command(Command::Cancel(Request {
        by: "ann".into(),
        reason: None,
        stall: None,
    }));
    ledger.apply(cancel, at(1)).unwrap();
    for index in 0..2 {
        let stopped = Outcome::failure(ErrorClass::Cancelled, "cancelled");
        ledger.apply(item(index, stopped), at(1)).unwrap();
    }
    ledger.apply(ended(), at(1)).unwrap();
    let error = ledger.slots[0].error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("cancelled: 2 of 4 items were cancelled (0, 1)"),
        "{error}"
    );
    assert!(error.ends_with("; 2 of 4 items did not run"), "{error}");
}

/// So does one the run's deadline ends with items in flight (probe 90 F3: "cancelled: the
/// run timed out", nothing of the items that never ran).
#[test]
fn a_step_the_runs_deadline_ended_with_items_in_flight_counts_those_that_did_not_run() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    for index in 0..2 {
        let stopped = Outcome::failure(ErrorClass::Cancelled, "the run timed out");
        ledger.apply(item(index, stopped), at(1)).unwrap();
    }
    ledger.apply(Input::TimedOut, at(1)).unwrap();
    let error = ledger.slots[0].error.as_deref().unwrap_or_default();
    assert_eq!(error, "cancelled: the run timed out; 2 items did not run");
    let batch = ledger.take_batch();
    let pending = (states(batch.items()).into_iter())
        .filter(|&(_, state, _)| state == StepState::Pending)
        .count();
    assert_eq!(pending, 2, "the two that never ran go back to pending");
}

#[test]
fn a_time_limit_times_the_attempt_out_and_the_items_it_kept_from_starting_keep_their_attempts() {
    let mut ledger = new_run(each(2));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    let timed_out = Outcome::failure(ErrorClass::Timeout, "`sh` timed out");
    ledger.apply(item(1, timed_out), at(1)).unwrap();
    ledger.apply(Input::TimeLimit { step: 0 }, at(1)).unwrap();
    ledger.apply(ended(), at(1)).unwrap();
    assert_eq!(
        ledger.slots[0].error.as_deref(),
        Some(
            "timeout: 1 of 4 items failed (1): item 1: `sh` timed out; \
             2 of 4 items did not start before the step's timeout"
        )
    );
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["each: running -> retry_wait"],
        "the attempt timed out: retried, not waiting for a window"
    );
    assert_eq!(
        states(batch.items()),
        [
            (0, StepState::Succeeded, 1),
            (1, StepState::Failed, 1),
            (2, StepState::Pending, 0),
            (3, StepState::Pending, 0)
        ],
        "the items not started neither timed out nor used an attempt"
    );
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(2), 1), (Some(3), 1)],
        "the retry runs them as their first attempt"
    );
}

#[test]
fn a_time_limit_between_items_times_the_attempt_out_with_none_failed() {
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    for index in [0, 1] {
        ledger
            .apply(item(index, Outcome::success(json!(index))), at(1))
            .unwrap();
    }
    ledger.apply(Input::TimeLimit { step: 0 }, at(1)).unwrap();
    ledger.apply(ended(), at(1)).unwrap();
    assert_eq!(ledger.slots[0].state, StepState::Failed);
    assert_eq!(
        ledger.slots[0].error.as_deref(),
        Some("timeout: 2 of 4 items did not start before the step's timeout")
    );
}

#[test]
fn an_item_whose_with_does_not_render_fails_on_its_own_and_the_others_run() {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop",
         "for_each": "${{ [{'name': 'a'}, {'nom': 'b'}, {'name': 'c'}] }}",
         "with": {"name": "${{ item.name }}"}}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["each: pending -> ready", "each: ready -> running"]
    );
    // Each item's `with` is rendered as its task starts it: every item starts.
    assert_eq!(
        states(batch.items()),
        [
            (0, StepState::Running, 1),
            (1, StepState::Running, 1),
            (2, StepState::Running, 1)
        ]
    );
    for prepared in starts[0].actions.prepared() {
        let (index, outcome) = match prepared {
            Ok(action) => (action.item_index.unwrap(), Outcome::success(json!("ran"))),
            Err(unprepared) => (unprepared.index, unprepared.outcome()),
        };
        ledger.apply(item(index, outcome), at(1)).unwrap();
    }
    let batch = ledger.take_batch();
    assert_eq!(
        states(batch.items()),
        [
            (0, StepState::Succeeded, 1),
            (1, StepState::Failed, 1),
            (2, StepState::Succeeded, 1)
        ]
    );
    assert_eq!(
        batch.items()[1].error.as_deref(),
        Some("bad_params: `with`: `item.name`: No such key: name")
    );
    ledger.apply(ended(), at(1)).unwrap();
    assert_eq!(ledger.slots[0].state, StepState::Failed);
    assert_eq!(
        ledger.slots[0].error.as_deref(),
        Some("bad_params: 1 of 3 items failed (1): item 1: `with`: `item.name`: No such key: name")
    );
}

mod ends;
mod leaves;
mod stalls;

#[test]
fn an_items_spending_is_committed_with_it_as_the_steps_usage_so_far() {
    // Probe 27 F2: without a spending budget, items' usage lived in memory until the step's
    // end, and a crash lost it while the items it paid for never ran again.
    let mut ledger = new_run(each(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let costing = |cost_usd: f64| {
        let mut outcome = Outcome::success(json!("ok"));
        outcome.usage.cost_usd = cost_usd;
        outcome
    };
    ledger.apply(item(0, costing(0.01)), at(1)).unwrap();
    ledger.apply(item(1, costing(0.02)), at(1)).unwrap();
    let spent: Vec<_> = (ledger.take_batch().usage().iter())
        .map(|(_, step, usage)| (step.clone(), usage.cost_usd))
        .collect();
    assert_eq!(spent.len(), 1, "the last of the batch: {spent:?}");
    assert_eq!(spent[0].0, "each");
    assert!((spent[0].1 - 0.03).abs() < 1e-9, "{spent:?}");
    // An item that spent nothing records nothing more.
    ledger.apply(item(2, costing(0.0)), at(2)).unwrap();
    assert!(ledger.take_batch().usage().is_empty());
}
