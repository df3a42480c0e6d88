//! Loops of a `for_each` step: items succeeding between attempts are progress.

use serde_json::json;

use super::super::super::tests::{at, new_run};
use super::super::super::{Input, Ledger};
use crate::executor::{ErrorClass, Outcome};
use crate::state::StepState;

/// Runs a `for_each` step of 40 items (6 attempts, `on_stall: fail`) once per entry of
/// `failing`: at each attempt, the items below that many fail alike, the others succeed.
fn attempts(failing: &[usize]) -> Ledger {
    let list: Vec<usize> = (0..40).collect();
    let workflow = json!({"name": "e", "stall": {"on_stall": "fail"}, "steps": [
        {"id": "each", "executor": "noop", "for_each": format!("${{{{ {list:?} }}}}"),
         "retry": {"max_attempts": 6, "backoff": "fixed", "initial_delay": "1s"}}]});
    let mut ledger = new_run(workflow);
    for (n, &failing) in failing.iter().enumerate() {
        let now = at(10 * n as i64);
        let starts = ledger.turn(now).unwrap();
        assert_eq!(starts.len(), 1, "attempt {} starts", n + 1);
        for action in starts[0].actions.all() {
            let index = action.item_index.unwrap();
            let outcome = if index < failing {
                Outcome::failure(ErrorClass::ExitCode, "HTTP 429 rate limited")
            } else {
                Outcome::success(json!(index))
            };
            let item = Input::Item {
                step: 0,
                index,
                outcome,
            };
            ledger.apply(item, now).unwrap();
        }
        let ended = Input::Completed {
            step: 0,
            outcome: Outcome::success(json!(null)),
        };
        ledger.apply(ended, now).unwrap();
    }
    ledger
}

#[test]
fn a_for_each_step_whose_items_succeed_between_attempts_is_no_loop() {
    // Over 20 items failed each time: the errors list and quote as many, counts normalised.
    // The fourth attempt runs, and the last items succeed.
    let ledger = attempts(&[30, 25, 21, 0]);
    assert_eq!(ledger.slots[0].state, StepState::Succeeded);
    assert_eq!(ledger.slots[0].attempt, 4);
}

#[test]
fn a_for_each_step_whose_same_items_fail_alike_attempt_after_attempt_is_a_loop() {
    let ledger = attempts(&[30, 25, 21, 21, 21]);
    assert_eq!(ledger.slots[0].state, StepState::Failed);
    assert_eq!(
        ledger.slots[0].attempt, 5,
        "a loop before the sixth attempt"
    );
    let error = ledger.slots[0].error.clone().unwrap();
    assert!(error.contains("looping: 3 attempts in a row"), "{error}");
}
