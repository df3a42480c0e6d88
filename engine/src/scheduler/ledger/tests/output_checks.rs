//! The checks a step's output passes to be kept: its `output_schema` and the size cap.

use super::*;

#[test]
fn an_output_that_breaks_output_schema_fails_the_step_without_retry() {
    let mut ledger = new_run(json!({"name": "s", "steps": [
        {"id": "a", "executor": "noop", "retry": {"max_attempts": 3},
         "output_schema": {"type": "object", "required": ["files"]}}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger.apply(done(0, json!({"other": 1})), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::OutputSchema));
    assert!(
        report.error.unwrap().contains("files"),
        "names the missing key"
    );
}

#[test]
fn an_output_of_exactly_the_cap_is_kept() {
    let mut ledger = new_run(json!({"name": "c", "steps": [{"id": "a", "executor": "noop"}]}));
    ledger.max_output_bytes = 8;
    ledger.turn(at(0)).unwrap();
    // `"123456"` is 8 bytes of JSON.
    ledger.apply(done(0, json!("123456")), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    assert_eq!(ledger.report().state, RunState::Succeeded);
}

#[test]
fn an_output_over_the_cap_fails_the_step() {
    let mut ledger = new_run(json!({"name": "c", "steps": [{"id": "a", "executor": "noop"}]}));
    ledger.max_output_bytes = 8;
    ledger.turn(at(0)).unwrap();
    ledger
        .apply(done(0, json!("more than eight bytes")), at(1))
        .unwrap();
    ledger.turn(at(1)).unwrap();
    assert_eq!(
        ledger.report().error_class,
        Some(ErrorClass::OutputTooLarge)
    );
}
