//! A stalled or looping step's fallbacks: an escalation that fails the step tries them
//! first, each once.

use serde_json::{Value, json};

use super::super::super::control::tests::take_over;
use super::super::super::tests::{at, done, failed, moves};
use super::{silent, stall, stall_of};
use crate::executor::ErrorClass;
use crate::state::{RunState, StepState, Transition};

/// [`silent`] whose `a` has `max_attempts` and a fallback (`{"v": 1}`, its own `with` being
/// `{"v": 0}`).
fn silent_with_a_fallback(on_stall: &str, max_attempts: u32) -> Value {
    let mut workflow = silent(on_stall);
    let a = &mut workflow["steps"][0]["pipeline"][0];
    a["with"] = json!({"v": 0});
    a["retry"]["max_attempts"] = json!(max_attempts);
    a["fallbacks"] = json!([{"v": 1}]);
    workflow
}

/// The `with` of the attempts a turn at `second` starts, as `v`.
fn started_with(ledger: &mut super::super::super::Ledger, second: i64) -> Vec<Value> {
    let starts = ledger.turn(at(second)).unwrap();
    (starts.iter())
        .map(|start| start.actions.all()[0].params["v"].clone())
        .collect()
}

#[test]
fn a_stall_whose_escalation_fails_the_step_tries_its_fallback_first() {
    // `fail`, and `retry` with no attempt left: both end the step's own retries.
    for (on_stall, max_attempts) in [("fail", 3), ("retry", 1)] {
        let mut ledger = stall(&silent_with_a_fallback(on_stall, max_attempts));
        let batch = ledger.take_batch();
        assert_eq!(moves(&batch), ["a: running -> ready"], "{on_stall}");
        assert_eq!(stall_of(&batch)["kind"], "heartbeat");
        // `retry` with no retry left is `fail`, and the event says so (probe 30).
        let Some(Transition::Step(moved)) = batch.transitions().first() else {
            panic!("no step transition")
        };
        let detail = moved.detail.as_ref().unwrap();
        assert_eq!(detail["escalation"], "fail", "{on_stall}");
        let said = detail["reason"].as_str().unwrap_or_default();
        assert_eq!(
            said.contains("no retry left"),
            on_stall == "retry",
            "{detail}"
        );
        assert_eq!(started_with(&mut ledger, 15), [json!(1)], "{on_stall}");
        ledger.apply(done(0, json!("ok")), at(16)).unwrap();
        assert_eq!(ledger.slots[0].state, StepState::Succeeded, "{on_stall}");
    }
}

#[test]
fn a_loop_whose_escalation_fails_the_step_tries_its_fallbacks_each_once() {
    let workflow = json!({"name": "l", "stall": {"on_stall": "fail"}, "steps": [
        {"id": "a", "executor": "noop", "with": {"v": 0},
         "retry": {"max_attempts": 5, "initial_delay": "1s", "backoff": "fixed"},
         "fallbacks": [{"v": 1}, {"v": 2}]}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    let mut ran = Vec::new();
    for second in (0..).step_by(10).take(5) {
        let with = started_with(&mut ledger, second);
        if with.is_empty() {
            break;
        }
        ran.extend(with);
        ledger
            .apply(failed(0, ErrorClass::ExitCode, "boom"), at(second + 1))
            .unwrap();
    }
    ledger.turn(at(100)).unwrap();
    assert_eq!(
        ran,
        [json!(0), json!(0), json!(0), json!(1), json!(2)],
        "a loop at the third attempt, then each fallback once, none looping"
    );
    assert_eq!(ledger.report().state, RunState::Failed);
    assert_eq!(ledger.slots[0].attempt, 5);
}

#[test]
fn a_stalled_fallback_is_not_retried() {
    let mut ledger = take_over(
        &silent_with_a_fallback("retry", 3),
        RunState::Pending,
        vec![],
        0,
        None,
    );
    assert_eq!(started_with(&mut ledger, 0), [json!(0)]);
    let refused = failed(0, ErrorClass::BadParams, "refused");
    ledger.apply(refused, at(1)).unwrap();
    assert_eq!(started_with(&mut ledger, 1), [json!(1)], "not retryable");
    ledger.turn(at(11)).unwrap();
    assert_eq!(ledger.take_cancels(), [0], "the fallback stalls");
    ledger
        .apply(failed(0, ErrorClass::Cancelled, "cancelled"), at(12))
        .unwrap();
    ledger.turn(at(12)).unwrap();
    assert_eq!(
        ledger.report().state,
        RunState::Failed,
        "the fallback was tried once, attempts left or not"
    );
    assert_eq!(ledger.slots[0].attempt, 2);
}
