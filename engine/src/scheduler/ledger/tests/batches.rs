//! Work wider or longer than one batch (a cascade of skips, a fan-out, a time-out): it goes
//! on turn by turn, and after a restart.

use super::super::control::tests::take_over;
use super::*;

#[test]
fn a_cascade_of_skips_past_a_batch_goes_on_turn_by_turn_and_after_a_restart() {
    let mut ledger = new_run(longer_than_a_batch(json!({})));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
        .apply(failed(0, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    let first = ledger.take_batch();
    assert_eq!(
        first.len(),
        BATCH_SLICE,
        "the failure and a slice of the skips"
    );
    assert!(!ledger.is_over());
    assert!(
        ledger.next_wake().is_some_and(|wake| wake <= at(1)),
        "turn again at once"
    );
    let between = committed_after(&ledger, RunState::Running);

    let finish = |ledger: &mut Ledger| {
        for _ in 0..4 {
            ledger.turn(at(2)).unwrap();
            assert!(ledger.take_batch().len() <= BATCH_SLICE);
            if ledger.is_over() {
                break;
            }
        }
        assert_eq!(ledger.report().state, RunState::Failed);
        let states: Vec<StepState> = ledger.slots.iter().map(|slot| slot.state).collect();
        assert_eq!(states[0], StepState::Failed);
        assert!(states[1..].iter().all(|&state| state == StepState::Skipped));
    };
    finish(&mut ledger);
    // A crash between two slices: the takeover skips what the committed skips left pending.
    let mut restarted = Ledger::take_over(between, Judge::default(), 1 << 20, at(2), None).unwrap();
    finish(&mut restarted);
}

/// A workflow of 100 more independent noop steps than a batch takes, one at a time, its
/// `limits` given the keys of `limits` too: what a cancel or a time-out ends in two batches.
pub(in crate::scheduler::ledger) fn wider_than_a_batch(mut limits: Value) -> Value {
    let n = BATCH_SLICE + 100;
    limits["max_steps"] = json!(n);
    limits["max_parallel"] = json!(1);
    let steps: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("s{i}"), "executor": "noop"}))
        .collect();
    json!({"name": "wide", "limits": limits, "steps": steps})
}

#[test]
fn a_fan_out_wider_than_a_batch_makes_its_branches_ready_turn_by_turn_and_after_a_restart() {
    let n = BATCH_SLICE + 100;
    let branches: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("b{i}"), "executor": "noop"}))
        .collect();
    let mut ledger = new_run(json!({"name": "fan",
        "limits": {"max_steps": n + 1, "max_parallel": 1},
        "steps": [{"id": "split", "executor": "noop"},
            {"id": "fan", "needs": ["split"], "parallel": branches}]}));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger.apply(done(0, json!(1)), at(1)).unwrap();
    let first = ledger.take_batch();
    assert_eq!(
        first.len(),
        BATCH_SLICE,
        "split's success and a slice of its branches"
    );
    assert!(ledger.has_work_left());
    let between = committed_after(&ledger, RunState::Running);

    let finish = |ledger: &mut Ledger| {
        let starts = ledger.turn(at(2)).unwrap();
        assert_eq!(ids(ledger, &starts), ["b0"]);
        assert!(ledger.take_batch().len() <= BATCH_SLICE);
        assert!(!ledger.has_work_left());
        let states = ledger.slots[1..].iter().map(|slot| slot.state);
        let ready = states.filter(|&state| state == StepState::Ready).count();
        assert_eq!(ready, n - 1, "every branch ready but the one running");
    };
    finish(&mut ledger);
    // A crash between two slices: the takeover makes ready the branches still pending.
    let mut restarted = Ledger::take_over(between, Judge::default(), 1 << 20, at(2), None).unwrap();
    finish(&mut restarted);
}

/// A pipeline of more steps than a batch takes, with `limits`.
pub(in crate::scheduler::ledger) fn longer_than_a_batch(mut limits: Value) -> Value {
    let n = BATCH_SLICE + 100;
    limits["max_steps"] = json!(n);
    let steps: Vec<Value> = (0..n)
        .map(|i| match i {
            0 => json!({"id": "s0", "executor": "noop"}),
            _ => {
                json!({"id": format!("s{i}"), "executor": "noop", "needs": [format!("s{}", i - 1)]})
            }
        })
        .collect();
    json!({"name": "long", "limits": limits, "steps": steps})
}

/// The sizes of the batches `ledger` takes until it has no work left, each made by a turn at
/// `now` (which starts nothing), or by `settle_halt` when `settled` (no engine drives it).
pub(in crate::scheduler::ledger) fn batches_to_the_end(
    ledger: &mut Ledger,
    settled: bool,
    now: DateTime<Utc>,
) -> Vec<usize> {
    let mut batches = Vec::new();
    loop {
        match settled {
            true => ledger.settle_halt(now).unwrap(),
            false => assert!(ledger.turn(now).unwrap().is_empty(), "nothing starts"),
        }
        batches.push(ledger.take_batch().len());
        if !ledger.has_work_left() || batches.len() == 4 {
            return batches;
        }
        assert!(!ledger.is_over(), "not while work is left");
    }
}

#[test]
fn a_time_out_of_more_steps_than_a_batch_takes_fails_the_run_with_its_last_batch() {
    let workflow = wider_than_a_batch(json!({"timeout": "1m"}));
    for settled in [false, true] {
        let mut ledger = new_run(workflow.clone());
        ledger.turn(at(0)).unwrap();
        ledger.take_batch();
        ledger.apply(Input::TimedOut, at(60)).unwrap();
        assert_eq!(ledger.take_batch().len(), BATCH_SLICE);
        assert!(!ledger.is_over(), "not before every step is cancelled");
        let rest = batches_to_the_end(&mut ledger, settled, at(61));
        assert_eq!(rest, [101], "the rest of the steps and the run");
        assert_eq!(ledger.report().state, RunState::Failed);
        assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
    }
}

#[test]
fn a_new_run_of_more_steps_than_a_batch_past_its_deadline_starts_then_times_out_batch_by_batch() {
    let workflow = wider_than_a_batch(json!({"timeout": "1m"}));
    for settled in [false, true] {
        // Created at 0, taken over at 61: its deadline passed before its first turn.
        let mut ledger = take_over(&workflow, RunState::Pending, vec![], 61, None);
        let first = ledger.take_batch();
        assert_eq!(first.len(), BATCH_SLICE);
        assert_eq!(run_moves(&first), [(RunState::Pending, RunState::Running)]);
        assert!(!ledger.is_over(), "not before every step is cancelled");
        let rest = batches_to_the_end(&mut ledger, settled, at(61));
        assert_eq!(rest, [102], "the rest of the steps and the run");
        assert_eq!(ledger.report().state, RunState::Failed);
        assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
    }
}

#[test]
fn a_run_left_pending_with_part_of_its_steps_timed_out_is_timed_out_to_its_end_at_takeover() {
    // What an engine that could not move a pending run to `failed` left: the first batch of
    // its time-out committed (a slice of its steps cancelled), the run still `pending`.
    let workflow = wider_than_a_batch(json!({"timeout": "1m"}));
    let mut records: Vec<StepRecord> = (plan(workflow.clone()).steps().iter())
        .map(|step| StepRecord::pending(&step.id))
        .collect();
    for record in &mut records[..BATCH_SLICE] {
        record.state = StepState::Cancelled;
    }
    let mut ledger = take_over(&workflow, RunState::Pending, records, 3600, None);
    let batch = ledger.take_batch();
    assert_eq!(
        batch.len(),
        102,
        "the run's start, the rest of the steps, its end"
    );
    assert_eq!(
        run_moves(&batch),
        [
            (RunState::Pending, RunState::Running),
            (RunState::Running, RunState::Failed)
        ]
    );
    assert!(ledger.is_over());
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
}
