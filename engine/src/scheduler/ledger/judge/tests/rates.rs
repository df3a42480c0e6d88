//! Rate limits: steps and items held back, unevaluated, until their executor's window has
//! room.

use super::*;
use crate::state::Transition;

#[test]
fn a_rate_limit_holds_steps_ready_and_unevaluated_until_its_window_has_room() {
    let rate = RateLimit {
        executor: "noop".into(),
        max: 1,
        per: Duration::from_secs(10),
    };
    // `b` is skipped once its `when` is evaluated: were it evaluated while held, at once.
    let mut ledger = judged_by(
        json!({"name": "g", "steps": [{"parallel": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "when": "1 > 2"},
            {"id": "c", "executor": "noop"}
        ]}]}),
        Fake { rates: vec![rate] },
    );
    assert_eq!(started(&mut ledger, 0), ["a"]);
    assert!(
        ledger.ready.is_empty(),
        "the held steps are not walked each turn"
    );
    assert_eq!(ledger.held["noop"], [1, 2]);
    // Each says why it waits, once (probe 92 F4: a step so held looked stuck).
    let batch = ledger.take_batch();
    let waits: Vec<(&str, &Value)> = (batch.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) if step.from == step.to => Some(step),
            _ => None,
        })
        .map(|step| (step.step_id.as_str(), step.detail.as_ref().unwrap()))
        .collect();
    let why = json!({"held_for": "rate_limit",
        "waits": "rate_limits: noop starts at most 1 per 10s"});
    assert_eq!(waits, [("b", &why), ("c", &why)]);
    ledger.apply(done(0, json!(1)), at(1)).unwrap();
    assert!(started(&mut ledger, 1).is_empty(), "the window is full");
    assert!(
        !moves(&ledger.take_batch())
            .iter()
            .any(|m| m.starts_with("b:")),
        "said once"
    );
    assert_eq!(ledger.next_wake(), Some(at(10)));
    // One place frees at 10: `b`, let out first, is skipped and leaves it to `c`.
    assert_eq!(started(&mut ledger, 10), ["c"]);
    assert!(moves(&ledger.take_batch()).contains(&"b: ready -> skipped".to_owned()));
    assert!(ledger.held.is_empty());
}

/// A limit of `max` starts of `noop` per `seconds`.
fn noop_limit(max: u32, seconds: u64) -> RateLimit {
    RateLimit {
        executor: "noop".into(),
        max,
        per: Duration::from_secs(seconds),
    }
}

#[test]
fn every_rate_limit_of_an_executor_holds_not_only_its_last() {
    let mut ledger = judged_by(
        json!({"name": "g", "steps": [{"parallel": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop"},
            {"id": "c", "executor": "noop"}
        ]}]}),
        Fake {
            rates: vec![noop_limit(1, 10), noop_limit(2, 100)],
        },
    );
    assert_eq!(started(&mut ledger, 0), ["a"], "one a 10 s window");
    assert_eq!(ledger.next_wake(), Some(at(10)));
    assert_eq!(started(&mut ledger, 10), ["b"]);
    assert_eq!(
        ledger.next_wake(),
        Some(at(100)),
        "both windows are full: the later one to free decides"
    );
    assert!(started(&mut ledger, 20).is_empty(), "two a 100 s window");
    assert_eq!(started(&mut ledger, 100), ["c"]);
}

#[test]
fn items_past_the_windows_room_wait_for_it_and_go_on_as_the_same_attempt() {
    let mut ledger = judged_by(
        json!({"name": "g", "steps": [
            {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2] }}"}
        ]}),
        Fake {
            rates: vec![noop_limit(2, 10)],
        },
    );
    assert_eq!(
        items_started(&mut ledger, 0),
        [(Some(0), 1), (Some(1), 1)],
        "each item is a start: two fit the window"
    );
    ledger.take_batch();
    let failed = Outcome::failure(ErrorClass::ExitCode, "exit 1");
    end_items(
        &mut ledger,
        vec![(0, Outcome::success(json!(0))), (1, failed)],
        1,
    );
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["each: running -> ready"], "not failed yet");
    assert!(
        items_started(&mut ledger, 1).is_empty(),
        "the window is full"
    );
    assert_eq!(ledger.next_wake(), Some(at(10)));
    assert_eq!(
        items_started(&mut ledger, 10),
        [(Some(2), 1)],
        "only the item left, in the same attempt"
    );
    end_items(&mut ledger, vec![(2, Outcome::success(json!(2)))], 11);
    assert_eq!(ledger.slots[0].state, StepState::Failed);
    let error = ledger.slots[0].error.clone().unwrap();
    assert_eq!(error, "exit_code: 1 of 3 items failed (1): item 1: exit 1");
    assert_eq!(ledger.slots[0].attempt, 1, "one attempt over both windows");
    assert_eq!((ledger.tally.steps, ledger.tally.attempts), (1, 3));
}

/// A run of one `for_each` step of `items` items under a rate limit of two starts in 10 s,
/// its first window (items 0 and 1) started at 0.
fn first_window_of(items: usize) -> Ledger {
    let list = format!("${{{{ {:?} }}}}", Vec::from_iter(0..items));
    let mut ledger = judged_by(
        json!({"name": "g", "steps": [{"id": "each", "executor": "noop", "for_each": list}]}),
        Fake {
            rates: vec![noop_limit(2, 10)],
        },
    );
    assert_eq!(items_started(&mut ledger, 0).len(), 2);
    ledger
}

/// The engine stops while a window's items run: those a later window was to run did not
/// start, and the step's event counts them, as an attempt that ends by itself counts them
/// (probe 99 F1: `"items_not_started": 0`).
#[test]
fn a_stop_counts_the_items_held_for_a_later_window_among_those_not_started() {
    let mut ledger = first_window_of(3);
    ledger.take_batch();
    for index in [0, 1] {
        let stopped = Outcome::failure(ErrorClass::Interrupted, "engine stopped");
        let ended = Input::Item {
            step: 0,
            index,
            outcome: stopped,
        };
        ledger.apply(ended, at(1)).unwrap();
    }
    ledger.apply(Input::Interrupted, at(1)).unwrap();
    let batch = ledger.take_batch();
    let detail = (batch.transitions().iter()).find_map(|transition| match transition {
        Transition::Step(step) if step.to == StepState::Ready => step.detail.clone(),
        _ => None,
    });
    let detail = detail.expect("the step's interruption");
    assert_eq!(detail["interrupted"], "engine stopped");
    assert_eq!(
        detail["items_not_started"], 1,
        "item 2, held for the next window"
    );
}

/// A cancel between two windows names the items the step did not run, as one between two
/// items does (probe 89 F4: "cancelled: the run was cancelled", nothing of its items).
#[test]
fn a_step_cancelled_between_two_windows_names_the_items_it_did_not_run() {
    let mut ledger = first_window_of(4);
    let ended = vec![
        (0, Outcome::success(json!(0))),
        (1, Outcome::success(json!(1))),
    ];
    end_items(&mut ledger, ended, 1);
    assert_eq!(
        ledger.slots[0].state,
        StepState::Ready,
        "between two windows"
    );
    let cancel = command(
        1,
        Command::Cancel(crate::command::Request::new("ann", None)),
    );
    ledger.apply(cancel, at(2)).unwrap();
    ledger.turn(at(2)).unwrap();
    assert_eq!(ledger.slots[0].state, StepState::Cancelled);
    let error = ledger.slots[0].error.clone().unwrap();
    assert_eq!(
        error,
        "cancelled: the run was cancelled; 2 items did not run"
    );
}

/// And the items that failed in its earlier windows (probe 103 F2: not named).
#[test]
fn a_step_cancelled_between_two_windows_names_the_items_that_failed_before() {
    let mut ledger = first_window_of(4);
    let failed = Outcome::failure(ErrorClass::ExitCode, "exit 1");
    end_items(
        &mut ledger,
        vec![(0, Outcome::success(json!(0))), (1, failed)],
        1,
    );
    let cancel = Command::Cancel(crate::command::Request::new("ann", None));
    ledger.apply(command(1, cancel), at(2)).unwrap();
    ledger.turn(at(2)).unwrap();
    let error = ledger.slots[0].error.clone().unwrap();
    assert_eq!(
        error,
        "cancelled: the run was cancelled; 1 of 4 items failed (1): item 1: exit 1; 2 items did not run"
    );
}

#[test]
fn a_rate_limited_step_counts_only_the_items_it_runs_at_once() {
    // Four starts fit the window, but the step runs two items at a time: the other two,
    // counted now, would start only as those end, and leave the window early.
    let mut ledger = judged_by(
        json!({"name": "g", "steps": [
            {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2, 3, 4] }}", "max_parallel": 2}
        ]}),
        Fake {
            rates: vec![noop_limit(4, 10)],
        },
    );
    assert_eq!(items_started(&mut ledger, 0), [(Some(0), 1), (Some(1), 1)]);
    assert_eq!(ledger.tally.attempts, 2, "two starts counted, not four");
}
