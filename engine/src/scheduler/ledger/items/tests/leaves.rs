//! Items recorded `running` that never start: their leave withheld by a halt seen before it
//! was given, or given but the halt seen by their task first. Each goes back to `pending`
//! at once, its run not counted, so that neither `cairn show` nor a crash counts it.

use serde_json::json;

use super::{item, item_attempts, pause, states};
use crate::executor::Outcome;
use crate::scheduler::ledger::tests::{at, committed_after, new_run};
use crate::scheduler::ledger::{Committed, Judge, Ledger};
use crate::state::{Batch, RunState, StepState};

/// A run of three items, two at a time, whose item 0 ended (its batch recording item 2's
/// start): the batches of the step's start and of that end.
fn item_2_given_a_leave_as_a_pause_waits() -> (Ledger, Batch, Batch) {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "max_parallel": 2, "for_each": "${{ [10, 20, 30] }}"}
    ]}));
    ledger.turn(at(0)).unwrap();
    let started = ledger.take_batch();
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    let first_end = ledger.take_batch();
    assert_eq!(
        states(first_end.items()),
        [(2, StepState::Running, 1), (0, StepState::Succeeded, 1)]
    );
    (ledger, started, first_end)
}

/// Item 2 went back to pending in `batches`' last (the first two: the step's start and
/// item 0's end) and only item 1 runs; then the engine dies: a takeover runs item 1 again
/// as its next attempt and item 2 as its first.
fn item_2_held_then_the_engine_dies(batches: [Batch; 3], ledger: &Ledger) {
    let [started, first_end, held] = batches;
    assert_eq!(
        states(held.items()),
        [(2, StepState::Pending, 0)],
        "item 2 never started: back to pending, its run not counted"
    );
    let windows: Vec<usize> = ledger.item_windows(0).map(|(index, _)| index).collect();
    assert_eq!(windows, [1], "only item 1 runs, and can stall");
    let run = Committed {
        items: [started.items(), first_end.items(), held.items()].concat(),
        ..committed_after(ledger, RunState::Running)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    let starts = resumed.turn(at(2)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(2), 1)],
        "item 1 cut off runs as its next attempt, item 2 as its first"
    );
}

#[test]
fn an_item_whose_leave_a_halt_withholds_goes_back_to_pending_and_counts_no_run() {
    let (mut ledger, started, first_end) = item_2_given_a_leave_as_a_pause_waits();
    // The commit of item 0's end found the pause asked: the engine reads it, gives no leave.
    ledger.apply(pause(), at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    let held = ledger.take_batch();
    item_2_held_then_the_engine_dies([started, first_end, held], &ledger);
}

#[test]
fn an_item_whose_leave_a_halt_read_before_its_commit_withholds_is_pending_in_that_commit() {
    let (mut ledger, _, _) = item_2_given_a_leave_as_a_pause_waits();
    ledger
        .apply(item(1, Outcome::success(json!("b"))), at(2))
        .unwrap();
    ledger.apply(pause(), at(2)).unwrap();
    assert_eq!(
        states(ledger.take_batch().items()),
        [(1, StepState::Succeeded, 1), (2, StepState::Pending, 0)],
        "no leave recorded: item 2 stays pending"
    );
}

#[test]
fn an_item_given_its_leave_whose_task_saw_a_halt_first_goes_back_to_pending() {
    let (mut ledger, started, first_end) = item_2_given_a_leave_as_a_pause_waits();
    // The commit of item 0's end found no pause: the shell gives item 2 its leave. A pause
    // is read before the task starts item 2, which sees the halt and never starts it.
    ledger.leaves_given();
    ledger.apply(pause(), at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert_eq!(
        states(ledger.take_batch().items()),
        [],
        "item 2's leave was given: it may have started"
    );
    // Told of the halt, the task says it started two items, 0 and 1, and will start no more.
    ledger.items_unstarted(0, 2);
    let held = ledger.take_batch();
    ledger.items_unstarted(0, 2);
    assert!(
        ledger.take_batch().items().is_empty(),
        "told again: nothing more"
    );
    item_2_held_then_the_engine_dies([started, first_end, held], &ledger);
}

#[test]
fn the_items_a_task_started_before_the_halt_stay_running() {
    let (mut ledger, _, _) = item_2_given_a_leave_as_a_pause_waits();
    ledger.leaves_given();
    ledger.apply(pause(), at(1)).unwrap();
    ledger.items_unstarted(0, 3);
    assert!(
        ledger.take_batch().items().is_empty(),
        "item 2 started before the halt: it runs"
    );
    let mut windows: Vec<usize> = ledger.item_windows(0).map(|(index, _)| index).collect();
    windows.sort_unstable();
    assert_eq!(windows, [1, 2]);
}
