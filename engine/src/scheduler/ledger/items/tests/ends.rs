//! How items end with their run (its deadline, or a cancel carried out at a takeover) and
//! those a crash cut off at a takeover: none is left `running`; and when a redrive gives
//! their step a list too short to hold them.

use serde_json::{Value, json};

use super::{each, item, item_attempts, pause, states};
use crate::command::{Command, Request};
use crate::executor::{ErrorClass, Outcome};
use crate::item::ItemRecord;
use crate::scheduler::ledger::control::tests::command;
use crate::scheduler::ledger::tests::{
    at, committed_after, done, failed, moves, new_run, run_moves,
};
use crate::scheduler::ledger::{Committed, Input, Judge, Ledger, Redrive};
use crate::state::{Batch, RunState, StepState, Transition};

/// `each` with a deadline of 10 s, item 0 succeeded at 1 s, items 1 to 3 started.
fn timed_each() -> (Ledger, Vec<ItemRecord>) {
    let mut workflow = each(1);
    workflow["limits"] = json!({"timeout": "10s"});
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    let started = ledger.take_batch();
    ledger
        .apply(item(0, Outcome::success(json!("a"))), at(1))
        .unwrap();
    let items = [started.items(), ledger.take_batch().items()].concat();
    (ledger, items)
}

#[test]
fn the_run_deadline_takes_back_the_items_it_kept_from_starting_as_a_cancel_does() {
    let (mut ledger, _) = timed_each();
    let stopped = Outcome::failure(ErrorClass::Cancelled, "cancelled");
    ledger.apply(item(1, stopped), at(10)).unwrap();
    ledger.apply(Input::TimedOut, at(10)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
    assert_eq!(
        states(batch.items()),
        [
            (1, StepState::Cancelled, 1),
            (2, StepState::Pending, 0),
            (3, StepState::Pending, 0)
        ],
        "no item of a run that ended is left running"
    );
}

#[test]
fn items_a_crash_cut_off_end_cancelled_when_a_takeover_times_the_run_out_or_cancels_it() {
    let committed = || {
        let (ledger, items) = timed_each();
        Committed {
            items,
            ..committed_after(&ledger, RunState::Running)
        }
    };
    let cut_off = |why: &str| -> Vec<ItemRecord> {
        (1..4)
            .map(|index| ItemRecord {
                run_id: uuid::Uuid::nil(),
                step_id: "each".into(),
                index,
                state: StepState::Cancelled,
                attempt: 1,
                output: None,
                error: Some(format!("cancelled: {why}")),
            })
            .collect()
    };
    let late = Ledger::take_over(committed(), Judge::default(), 1 << 20, at(11), None);
    let batch = late.unwrap().take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
    let run_id = |records: &[ItemRecord]| -> Vec<ItemRecord> {
        (records.iter())
            .map(|record| ItemRecord {
                run_id: uuid::Uuid::nil(),
                ..record.clone()
            })
            .collect()
    };
    assert_eq!(run_id(batch.items()), cut_off("the run timed out"));
    // They may have run: the step does not count them among those that did not (probe 92
    // F3: "3 items did not run").
    let cancelled =
        "cancelled: the run timed out; 3 items cut off as the engine stopped were cancelled";
    assert_eq!(error_of_each(&batch), cancelled);

    let batch = cancelled_at_a_takeover(committed());
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
    assert_eq!(
        stored(&run_id(batch.items())),
        cut_off("the run was cancelled")
    );
    let cancelled =
        "cancelled: the run was cancelled; 3 items cut off as the engine stopped were cancelled";
    assert_eq!(error_of_each(&batch), cancelled);
}

#[test]
fn a_cancel_at_a_takeover_counts_no_item_that_ran_among_those_that_did_not() {
    let (mut ledger, mut items) = timed_each();
    let failed = Outcome::failure(ErrorClass::ExitCode, "exit 1");
    ledger.apply(item(1, failed), at(1)).unwrap();
    items.extend_from_slice(ledger.take_batch().items());
    let run = Committed {
        items,
        ..committed_after(&ledger, RunState::Running)
    };
    // Item 1 failed before the crash, items 2 and 3 were cut off by it (probe 94 F2: "1
    // items did not run", item 1's failure counted as not run).
    let batch = cancelled_at_a_takeover(run);
    let cut_off =
        "cancelled: the run was cancelled; 2 items cut off as the engine stopped were cancelled";
    assert_eq!(error_of_each(&batch), cut_off);
}

#[test]
fn items_the_engines_stop_cut_off_end_cancelled_and_counted_when_a_takeover_cancels_the_run() {
    let (mut ledger, mut items) = timed_each();
    // The second signal: items 1 to 3 were stopped (the driver tells them interrupted).
    for index in 1..4 {
        let stopped = Outcome::failure(ErrorClass::Interrupted, "engine stopped");
        ledger.apply(item(index, stopped), at(2)).unwrap();
    }
    ledger.apply(Input::Interrupted, at(2)).unwrap();
    items.extend_from_slice(ledger.take_batch().items());
    let run = Committed {
        items,
        ..committed_after(&ledger, RunState::Running)
    };
    // Probe 98 F1: they stayed `pending` and the step's error did not count them.
    let batch = cancelled_at_a_takeover(run);
    let cancelled = batch
        .items()
        .iter()
        .filter(|item| item.state == StepState::Cancelled);
    assert_eq!(cancelled.count(), 3);
    let cut_off =
        "cancelled: the run was cancelled; 3 items cut off as the engine stopped were cancelled";
    assert_eq!(error_of_each(&batch), cut_off);
}

/// The batch of `run`, taken over at 2, cancelled then.
fn cancelled_at_a_takeover(run: Committed) -> Batch {
    let mut taken = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    let cancel = command(Command::Cancel(Request {
        by: "ann".into(),
        reason: None,
        stall: None,
    }));
    taken.apply(cancel, at(2)).unwrap();
    taken.settle_halt(at(2)).unwrap();
    taken.take_batch()
}

/// The error `batch` records of step `each`.
fn error_of_each(batch: &Batch) -> String {
    (batch.transitions().iter())
        .find_map(|transition| match transition {
            Transition::Step(step) if step.step_id == "each" => step.error.clone(),
            _ => None,
        })
        .unwrap()
}

#[test]
fn items_a_crash_cut_off_go_back_to_pending_at_the_takeover_their_attempt_kept() {
    let (ledger, items) = timed_each();
    let run = Committed {
        items: stored(&items),
        ..committed_after(&ledger, RunState::Running)
    };
    // Paused at once, as `cairn pause` of a run no engine drives is.
    let mut taken = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    taken.apply(pause(), at(2)).unwrap();
    taken.settle_halt(at(2)).unwrap();
    let batch = taken.take_batch();
    assert_eq!(moves(&batch), ["each: running -> ready"]);
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    let pending = |attempt| (1..4).map(move |index| (index, StepState::Pending, attempt));
    assert_eq!(
        states(&stored(batch.items())),
        pending(1).collect::<Vec<_>>(),
        "no item claims to run in a paused run"
    );

    let paused = Committed {
        items: stored(&[items, batch.items().to_vec()].concat()),
        ..committed_after(&taken, RunState::Paused)
    };
    let mut resumed = Ledger::take_over(paused, Judge::default(), 1 << 20, at(3), None).unwrap();
    let starts = resumed.turn(at(3)).unwrap();
    assert_eq!(
        item_attempts(&starts[0]),
        [(Some(1), 2), (Some(2), 2), (Some(3), 2)],
        "the attempt a crash cut off counts"
    );
}

/// `each` runs an item per element of `list`'s output; `then` fails.
fn listed() -> Value {
    json!({"name": "l", "steps": [{"pipeline": [
        {"id": "list", "executor": "noop"},
        {"id": "each", "executor": "noop", "for_each": "${{ steps.list.output }}"},
        {"id": "then", "executor": "noop"}
    ]}]})
}

/// Drives `ledger` from `list`'s start: `list` gives `list`, every item of `each` succeeds,
/// `then` fails; the items it committed, in order.
fn drive_listed(ledger: &mut Ledger, list: &[u32], second: i64) -> Vec<ItemRecord> {
    let mut items = ledger.take_batch().items().to_vec();
    ledger.turn(at(second)).unwrap();
    ledger.apply(done(0, json!(list)), at(second)).unwrap();
    ledger.turn(at(second)).unwrap();
    for index in 0..list.len() {
        let end = Input::Item {
            step: 1,
            index,
            outcome: Outcome::success(json!(index)),
        };
        ledger.apply(end, at(second)).unwrap();
    }
    ledger.apply(done(1, Value::Null), at(second)).unwrap();
    ledger.turn(at(second)).unwrap();
    ledger
        .apply(failed(2, ErrorClass::ExitCode, "no"), at(second))
        .unwrap();
    ledger.turn(at(second)).unwrap();
    assert_eq!(ledger.report().state, RunState::Failed);
    items.extend_from_slice(ledger.take_batch().items());
    items
}

/// `ledger`'s run, with the `items` committed so far, redriven from `list` at `second`.
fn redriven_from_list(ledger: &Ledger, items: &[ItemRecord], second: i64) -> Ledger {
    let run = Committed {
        items: stored(items),
        ..committed_after(ledger, RunState::Failed)
    };
    let redrive = Some(Redrive {
        from: Some("list".to_owned()),
    });
    Ledger::take_over(run, Judge::default(), 1 << 20, at(second), redrive).unwrap()
}

/// The last record of each item in `records`, in item order: what a store holds.
fn stored(records: &[ItemRecord]) -> Vec<ItemRecord> {
    let mut last = std::collections::BTreeMap::new();
    for record in records {
        last.insert(record.index, record.clone());
    }
    last.into_values().collect()
}

#[test]
fn a_list_shorter_after_a_redrive_skips_the_items_out_of_it_which_keep_their_attempts() {
    let mut ledger = new_run(listed());
    let mut items = drive_listed(&mut ledger, &[1, 2, 3, 4], 0);
    let mut shorter = redriven_from_list(&ledger, &items, 1);
    items.extend(drive_listed(&mut shorter, &[1, 2], 1));
    let succeeded = |index, attempt| (index, StepState::Succeeded, attempt);
    let skipped = |index| (index, StepState::Skipped, 1);
    assert_eq!(
        states(&stored(&items)),
        [succeeded(0, 2), succeeded(1, 2), skipped(2), skipped(3)],
        "only the new list's items are left in it"
    );
    let error = (items.iter())
        .find(|record| record.state == StepState::Skipped)
        .and_then(|record| record.error.clone());
    assert_eq!(error.as_deref(), Some("not in the list any more (2 items)"));

    // Redriven again: the items out of the list stay out, and one back in it runs on.
    let mut longer = redriven_from_list(&shorter, &items, 2);
    let reset = longer.take_batch();
    assert_eq!(
        states(reset.items()),
        [(0, StepState::Pending, 2), (1, StepState::Pending, 2)]
    );
    items.extend(drive_listed(&mut longer, &[1, 2, 3], 2));
    assert_eq!(
        states(&stored(&items)),
        [
            succeeded(0, 3),
            succeeded(1, 3),
            succeeded(2, 2),
            skipped(3)
        ]
    );
}
