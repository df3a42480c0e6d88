//! A window's rendering and judging sliced across turns: each action rendered, then judged,
//! once, the attempt started once all are, and a halt between two turns taken before the
//! rest is judged.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::command::Request;

/// Allows every action, counting them.
#[derive(Debug, Default)]
struct Counting(Arc<AtomicUsize>);

impl Guard for Counting {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        self.0.fetch_add(1, Ordering::SeqCst);
        Verdict::allow()
    }
}

/// A new run of `workflow` judged by a [`Counting`] guard that has no time for more than
/// one action a turn; and the guard's count.
fn sliced_run(workflow: Value) -> (Ledger, Arc<AtomicUsize>) {
    let judged = Arc::new(AtomicUsize::new(0));
    let judge = Judge {
        slice: Duration::ZERO,
        ..judge_by(Counting(Arc::clone(&judged)), "/checkout")
    };
    let ledger = super::super::super::tests::new_judged_run(workflow, judge);
    (ledger, judged)
}

/// A run of one `for_each` step of three items, [`sliced_run`], turned until its window is
/// rendered ([`rendered`]).
fn sliced() -> (Ledger, Arc<AtomicUsize>) {
    let (mut ledger, judged) = sliced_run(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ ['x', 'y', 'z'] }}"}
    ]}));
    rendered(&mut ledger, &judged);
    (ledger, judged)
}

/// Turns `ledger`, whose first ready step's window is three items, until they are rendered,
/// one a turn (its slice is none), at seconds -3 to -1: nothing judged yet, nothing started
/// (probe 88 F3: a window of 36 items whose `with` took 1 s each held the engine 36 s).
fn rendered(ledger: &mut Ledger, judged: &AtomicUsize) {
    for second in -3..0 {
        assert!(ledger.turn(at(second)).unwrap().is_empty());
        assert_eq!(judged.load(Ordering::SeqCst), 0, "rendered, not judged yet");
        let at_once = Some(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        assert_eq!(
            ledger.next_wake(),
            at_once,
            "the next turn goes on rendering"
        );
    }
}

#[test]
fn a_window_judged_over_several_turns_starts_once_with_every_item_each_judged_once() {
    let (mut ledger, judged) = sliced();
    for (second, count) in [(0, 1), (1, 2)] {
        assert!(ledger.turn(at(second)).unwrap().is_empty());
        assert_eq!(judged.load(Ordering::SeqCst), count);
        let at_once = Some(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        assert_eq!(ledger.next_wake(), at_once, "the next turn goes on judging");
        let moved = moves(&ledger.take_batch());
        assert!(
            !moved.iter().any(|moved| moved.contains("running")),
            "{moved:?}"
        );
    }
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(judged.load(Ordering::SeqCst), 3, "each action judged once");
    assert_eq!(starts[0].actions.all().len(), 3, "every item runs");
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["a: ready -> running"]);
    let crate::state::Transition::Step(running) = &batch.transitions()[0] else {
        panic!("{batch:?}")
    };
    let verdicts = &running.detail.as_ref().unwrap()["verdicts"];
    assert_eq!(verdicts.as_array().map(Vec::len), Some(3), "{verdicts}");
}

#[test]
fn a_cancel_between_two_turns_of_judging_is_taken_before_the_rest_is_judged() {
    let (mut ledger, judged) = sliced();
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    ledger.take_batch();
    ledger
        .apply(
            command(1, Command::Cancel(Request::new("ann", None))),
            at(1),
        )
        .unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert_eq!(judged.load(Ordering::SeqCst), 1, "judging did not go on");
    assert_eq!(moves(&ledger.take_batch()), ["a: ready -> cancelled"]);
    assert!(ledger.is_over());
}

#[test]
fn a_pause_or_a_drain_between_two_turns_of_judging_stops_it_without_turning_again_at_once() {
    for halt in [
        Input::Drain,
        command(1, Command::Pause(Request::new("ann", None))),
    ] {
        let (mut ledger, judged) = sliced();
        assert!(ledger.turn(at(0)).unwrap().is_empty());
        ledger.apply(halt, at(1)).unwrap();
        assert!(ledger.turn(at(1)).unwrap().is_empty());
        assert_eq!(judged.load(Ordering::SeqCst), 1, "judging did not go on");
        assert_eq!(ledger.next_wake(), None, "nothing to turn for");
    }
}

#[test]
fn a_window_half_judged_goes_on_before_a_step_let_out_ahead_of_it() {
    let (mut ledger, judged) = sliced_run(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ ['x', 'y', 'z'] }}"},
        {"id": "b", "executor": "noop"}
    ]}));
    rendered(&mut ledger, &judged);
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    // `b` let out ahead of `a` (as a group's or a rate limit's room puts a step back).
    ledger.ready.retain(|&step| step != 1);
    ledger.ready.push_front(1);
    assert!(
        ledger.turn(at(1)).unwrap().is_empty(),
        "`a` is judged on first"
    );
    assert_eq!(judged.load(Ordering::SeqCst), 2);
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["a"]);
    let starts = ledger.turn(at(3)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["b"]);
}

#[test]
fn the_steps_a_fan_out_makes_ready_are_judged_a_slice_at_a_time() {
    let (mut ledger, judged) = sliced_run(json!({"name": "g", "steps": [{"parallel": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop"},
        {"id": "c", "executor": "noop"}
    ]}]}));
    let at_once = Some(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    for (second, step) in [(0, "a"), (1, "b")] {
        let starts = ledger.turn(at(second)).unwrap();
        assert_eq!(ids(&ledger, &starts), [step], "one step judged a turn");
        assert_eq!(ledger.next_wake(), at_once, "the next turn judges on");
    }
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["c"]);
    assert_eq!(judged.load(Ordering::SeqCst), 3, "each judged once");
}
