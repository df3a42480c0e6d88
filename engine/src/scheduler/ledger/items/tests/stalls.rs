//! Each running item's heartbeat, with exact times: an item silent past its step's
//! `heartbeat` stalls alone (its siblings' signs of life are not its own), is stopped, and
//! ends failed with its stall; the step's `on_stall` then decides, as for a step's stall.

use serde_json::{Value, json};

use super::{item, item_attempts, states};
use crate::command::Command;
use crate::executor::{ErrorClass, Outcome};
use crate::scheduler::ledger::tests::{at, moves, new_run, run_moves};
use crate::scheduler::ledger::{Input, Ledger};
use crate::state::{Batch, RunState, StepState, Transition};

/// `each` (3 items, heartbeat 10s, escalation `on_stall`, 2 attempts) then `after`.
fn watched(on_stall: &str) -> Value {
    json!({"name": "f", "steps": [{"pipeline": [
        {"id": "each", "executor": "noop", "for_each": "${{ [10, 20, 30] }}",
         "heartbeat": "10s", "on_stall": on_stall,
         "retry": {"max_attempts": 2, "backoff": "fixed", "initial_delay": "1s"}},
        {"id": "after", "executor": "noop"}
    ]}]})
}

fn heard(index: usize, second: i64) -> Input {
    Input::Progress {
        step: 0,
        item: Some(index),
        at: at(second),
    }
}

/// Items 0 and 1 of `watched(on_stall)` talk every 4 s, item 2 is silent: it alone stalls
/// at 10 s. Returns the ledger and the batch of that turn.
fn item_2_stalls(on_stall: &str) -> (Ledger, Batch) {
    let mut ledger = new_run(watched(on_stall));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    for second in [4, 8] {
        for index in [0, 1] {
            ledger.apply(heard(index, second), at(second)).unwrap();
        }
    }
    ledger.turn(at(9)).unwrap();
    assert!(
        ledger.take_item_stops().is_empty(),
        "nothing silent for 10s"
    );
    assert_eq!(
        ledger.next_wake(),
        Some(at(10)),
        "item 2's window, from its start"
    );
    ledger.turn(at(10)).unwrap();
    assert_eq!(
        ledger.take_item_stops(),
        [(0, 2)],
        "item 2 alone is stopped"
    );
    // A cancel stops the others too: they are watched no more (probe 105 F2).
    let others = (on_stall != "cancel").then(|| at(18));
    assert_eq!(ledger.next_wake(), others, "the others' windows go on");
    let batch = ledger.take_batch();
    (ledger, batch)
}

/// Ends the attempt of `item_2_stalls`: item 2 stopped (cancelled) at 11 s, items 0 and 1
/// succeeded at 12 s, the attempt's task at 12 s; then a turn.
fn the_attempt_ends(ledger: &mut Ledger) -> Batch {
    let stopped = Outcome::failure(ErrorClass::Cancelled, "cancelled");
    ledger.apply(item(2, stopped), at(11)).unwrap();
    for index in [0, 1] {
        let done = Outcome::success(json!(index));
        ledger.apply(item(index, done), at(12)).unwrap();
    }
    let ended = Input::Completed {
        step: 0,
        outcome: Outcome::success(Value::Null),
    };
    ledger.apply(ended, at(12)).unwrap();
    ledger.turn(at(12)).unwrap();
    ledger.take_batch()
}

/// The step's transition in `batch`.
fn each_moved(batch: &Batch) -> crate::state::StepTransition {
    (batch.transitions().iter())
        .find_map(|transition| match transition {
            Transition::Step(step) if step.step_id == "each" => Some(step.clone()),
            _ => None,
        })
        .expect("a transition of each")
}

const STALLED_ITEMS: &str =
    "stalled: 1 of 3 items failed (2): item 2: no sign of life for 10s (heartbeat 10s)";

#[test]
fn a_silent_item_stalls_alone_ends_failed_with_its_stall_and_fail_fails_the_step() {
    let (mut ledger, stalled) = item_2_stalls("fail");
    assert!(
        ledger.take_cancels().is_empty(),
        "the step's attempt goes on"
    );
    assert!(stalled.sent().is_empty(), "`fail` does not hold the run");
    let batch = the_attempt_ends(&mut ledger);
    let ended: Vec<_> = (batch.items().iter())
        .map(|item| (item.index, item.state, item.error.clone()))
        .collect();
    assert_eq!(
        ended,
        [
            (
                2,
                StepState::Failed,
                Some("stalled: no sign of life for 10s (heartbeat 10s)".to_owned())
            ),
            (0, StepState::Succeeded, None),
            (1, StepState::Succeeded, None),
        ],
        "the stalled item ends with its stall, whatever it returned once stopped"
    );
    assert_eq!(
        moves(&batch),
        ["each: running -> failed", "after: pending -> skipped"]
    );
    let each = each_moved(&batch);
    assert_eq!(each.error.as_deref(), Some(STALLED_ITEMS));
    let detail = each.detail.expect("the step's end says why");
    assert_eq!(detail["stall"]["kind"], "heartbeat");
    assert_eq!(detail["stall"]["evidence"]["item"], 2);
    assert_eq!(detail["escalation"], "fail");
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Stalled));
}

#[test]
fn an_item_stall_retried_runs_again_only_that_item_with_a_window_of_its_own() {
    let (mut ledger, _) = item_2_stalls("retry");
    let batch = the_attempt_ends(&mut ledger);
    assert_eq!(moves(&batch), ["each: running -> retry_wait"]);
    assert_eq!(each_moved(&batch).error.as_deref(), Some(STALLED_ITEMS));
    let starts = ledger.turn(at(13)).unwrap();
    assert_eq!(item_attempts(&starts[0]), [(Some(2), 2)]);
    ledger.take_batch();
    assert_eq!(
        ledger.next_wake(),
        Some(at(23)),
        "from the new attempt's start"
    );
}

#[test]
fn an_item_stall_that_pauses_holds_the_run_at_once_and_readies_the_step_at_its_end() {
    let (mut ledger, stalled) = item_2_stalls("pause");
    assert!(
        ledger.starts_no_items(),
        "no item left starts from the stall on"
    );
    let reasons: Vec<_> = (stalled.sent().iter())
        .map(|(_, command)| match command {
            Command::Pause(request) => request.reason.clone().unwrap_or_default(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        ["step each item 2 stalled: no sign of life for 10s (heartbeat 10s)"]
    );
    let batch = the_attempt_ends(&mut ledger);
    assert_eq!(moves(&batch), ["each: running -> ready"]);
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
}

#[test]
fn an_item_stall_that_cancels_stops_its_siblings_and_cancels_the_run() {
    let (mut ledger, stalled) = item_2_stalls("cancel");
    assert_eq!(ledger.take_cancels(), [0], "the whole attempt is cancelled");
    assert_eq!(stalled.sent().len(), 1);
    assert_eq!(moves(&stalled), ["after: pending -> cancelled"]);
    let batch = the_attempt_ends(&mut ledger);
    assert_eq!(moves(&batch), ["each: running -> cancelled"]);
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
}

#[test]
fn an_items_window_opens_at_its_own_start_and_a_siblings_end_is_no_sign_of_its_life() {
    let mut workflow = watched("fail");
    workflow["steps"][0]["pipeline"][0]["max_parallel"] = json!(1);
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
        .apply(item(0, Outcome::success(json!(0))), at(8))
        .unwrap();
    assert_eq!(
        states(ledger.take_batch().items()),
        [(1, StepState::Running, 1), (0, StepState::Succeeded, 1)]
    );
    ledger.turn(at(10)).unwrap();
    assert!(ledger.take_item_stops().is_empty(), "item 1 started at 8s");
    assert_eq!(ledger.next_wake(), Some(at(18)));
    ledger.apply(heard(1, 12), at(12)).unwrap();
    ledger.turn(at(18)).unwrap();
    assert!(ledger.take_item_stops().is_empty(), "its own line at 12s");
    ledger.turn(at(22)).unwrap();
    assert_eq!(ledger.take_item_stops(), [(0, 1)]);
}

#[test]
fn an_item_stall_that_cancels_the_run_ends_it_though_the_engine_stops_in_the_grace() {
    let (mut ledger, _) = item_2_stalls("cancel");
    // The second signal, while item 2 is in its kill grace: its siblings were cancelled by
    // the stall, item 2 comes back as the stop left it.
    for index in [0, 1] {
        let cancelled = Outcome::failure(ErrorClass::Cancelled, "cancelled");
        ledger.apply(item(index, cancelled), at(11)).unwrap();
    }
    let stopped = Outcome::failure(ErrorClass::Interrupted, "engine stopped");
    ledger.apply(item(2, stopped), at(11)).unwrap();
    ledger.apply(Input::Interrupted, at(11)).unwrap();
    let batch = ledger.take_batch();
    // Probe 99 F4: the step went back to ready, interrupted, and the run stayed running.
    assert_eq!(moves(&batch), ["each: running -> cancelled"]);
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
    let each = each_moved(&batch);
    let detail = each.detail.expect("the step's end says why");
    assert_eq!(detail["stall"]["evidence"]["item"], 2, "{detail}");
    // Probe 101 F3: "3 of 3 items failed (0, 1, 2)", two of them cancelled by the stall.
    let error = "stalled: 1 of 3 items failed (2): item 2: no sign of life for 10s (heartbeat \
                 10s); 2 of 3 items were cancelled (0, 1): item 0: cancelled; item 1: cancelled";
    assert_eq!(each.error.as_deref(), Some(error));
}

#[test]
fn a_cancel_after_an_item_stall_paused_the_run_counts_no_item_that_ran_as_not_run() {
    let (mut ledger, _) = item_2_stalls("pause");
    the_attempt_ends(&mut ledger);
    let cancel = Command::Cancel(crate::command::Request::new("ann", None));
    let cancel = crate::scheduler::ledger::control::tests::command(cancel);
    ledger.apply(cancel, at(13)).unwrap();
    ledger.turn(at(13)).unwrap();
    // Probe 105 F3: "1 item did not run" of item 2, which ran and stalled.
    let error = each_moved(&ledger.take_batch()).error;
    assert_eq!(error.as_deref(), Some("cancelled: the run was cancelled"));
}

/// The engine dies in the kill grace of item 2, whose stall paused the run; the next one
/// finds the step and its items running, and the run's pause: item 2 fails with its stall
/// and the step's error names it, as a live engine records them (probe 208 F2: item 2 was
/// left pending, the error the stall's alone).
#[test]
fn an_item_stall_that_pauses_is_recorded_at_a_takeover_after_a_crash_in_its_grace() {
    let (ledger, stalled) = item_2_stalls("pause");
    let [(_, sent)] = stalled.sent() else {
        panic!("one command sent")
    };
    let items = (0..3)
        .map(|index| crate::item::ItemRecord {
            run_id: ledger.run_id,
            step_id: "each".to_owned(),
            index,
            state: StepState::Running,
            attempt: 1,
            output: None,
            error: None,
        })
        .collect();
    let run = crate::scheduler::ledger::Committed {
        items,
        ..crate::scheduler::ledger::tests::committed_after(&ledger, RunState::Running)
    };
    let judge = crate::scheduler::ledger::Judge::default();
    let mut taken = Ledger::take_over(run, judge, 1 << 20, at(12), None).unwrap();
    let pause = crate::scheduler::ledger::control::tests::command(sent.clone());
    taken.apply(pause, at(12)).unwrap();
    taken.turn(at(12)).unwrap();
    let batch = taken.take_batch();
    assert_eq!(each_moved(&batch).error.as_deref(), Some(STALLED_ITEMS));
    let item_2 = (batch.items().iter()).rfind(|item| item.index == 2);
    let item_2 = item_2.map(|item| (item.state, item.error.as_deref()));
    let error = "stalled: no sign of life for 10s (heartbeat 10s)";
    assert_eq!(item_2, Some((StepState::Failed, Some(error))));
}
