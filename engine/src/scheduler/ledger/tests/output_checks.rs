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

/// A run of two sinks under a cap of 8 bytes, ended with `a` and `b` as their outputs.
fn two_sinks_ended(a: &str, b: &str) -> Ledger {
    let mut ledger = new_run(json!({"name": "c", "steps": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]}));
    ledger.max_output_bytes = 8;
    ledger.turn(at(0)).unwrap();
    ledger.apply(done(0, json!(a)), at(1)).unwrap();
    ledger.apply(done(1, json!(b)), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    ledger
}

#[test]
fn a_run_whose_sinks_outputs_together_pass_the_cap_fails_with_them_succeeded() {
    let ledger = two_sinks_ended("123", "12");
    let report = ledger.report();
    assert_eq!(
        (report.state, report.error_class, report.output),
        (RunState::Failed, Some(ErrorClass::OutputTooLarge), None),
        "5 + 4 bytes"
    );
    assert!((ledger.slots.iter()).all(|slot| slot.state == StepState::Succeeded));
    let within = two_sinks_ended("1", "12").report();
    assert_eq!(within.state, RunState::Succeeded, "3 + 4 bytes");
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

/// A `for_each` step of three `noop` items under a cap of 9 bytes, its attempt started.
fn capped_items() -> Ledger {
    let mut ledger = new_run(json!({"name": "c", "steps": [
        {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2] }}"}]}));
    ledger.max_output_bytes = 9;
    ledger.turn(at(0)).unwrap();
    ledger
}

/// Item `index` of step 0 ended with `output`.
fn item_made(index: usize, output: &str) -> Input {
    Input::Item {
        step: 0,
        index,
        outcome: Outcome::success(json!(output)),
    }
}

#[test]
fn an_item_over_the_cap_fails_on_its_own_unkept_and_a_bigger_cap_reruns_it_alone() {
    let mut ledger = capped_items();
    let mut committed = ledger.take_batch().items().to_vec();
    for (index, output) in ["a", "more than eight bytes", "c"].into_iter().enumerate() {
        ledger.apply(item_made(index, output), at(1)).unwrap();
    }
    let ends = ledger.take_batch().items().to_vec();
    let seen: Vec<_> = (ends.iter())
        .map(|item| {
            (
                item.index,
                item.state,
                item.output.clone(),
                item.error.as_deref(),
            )
        })
        .collect();
    let too_large = "output is 23 bytes, over the run's cap of 9 bytes on an item's output \
                     (a retry of the run with a bigger cap keeps it)";
    assert_eq!(
        seen,
        [
            (0, StepState::Succeeded, Some(json!("a")), None),
            (
                1,
                StepState::Failed,
                None,
                Some(&*format!("output_too_large: {too_large}"))
            ),
            (2, StepState::Succeeded, Some(json!("c")), None),
        ],
        "the item over the cap fails as it ends, its output not committed; the others go on"
    );
    committed.extend(ends);
    ledger.apply(done(0, Value::Null), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::OutputTooLarge));
    assert_eq!(
        ledger.slots[0].error.as_deref(),
        Some(&*format!(
            "output_too_large: 1 of 3 items failed (1): item 1: {too_large}"
        ))
    );
    // `cairn retry --max-output` with a bigger cap: only the failed item runs again.
    committed.extend(ledger.take_batch().items().iter().cloned());
    let run = Committed {
        items: committed,
        ..committed_after(&ledger, RunState::Failed)
    };
    let redrive = Some(Redrive { from: None });
    let mut ledger = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), redrive).unwrap();
    let starts = ledger.turn(at(2)).unwrap();
    let indices: Vec<_> = (starts[0].actions.all().into_iter())
        .map(|action| action.item_index)
        .collect();
    assert_eq!(indices, [Some(1)]);
    ledger
        .apply(item_made(1, "more than eight bytes"), at(3))
        .unwrap();
    ledger.apply(done(0, Value::Null), at(3)).unwrap();
    ledger.turn(at(3)).unwrap();
    let report = ledger.report();
    assert_eq!(report.state, RunState::Succeeded);
    assert_eq!(
        report.output,
        Some(json!({"each": ["a", "more than eight bytes", "c"]})),
        "the items that succeeded kept their outputs"
    );
}

#[test]
fn an_item_within_the_cap_that_would_bring_the_list_over_it_fails_as_it_ends() {
    let mut ledger = capped_items();
    ledger.take_batch();
    for index in 0..3 {
        ledger.apply(item_made(index, "ab"), at(1)).unwrap();
    }
    let ends: Vec<_> = (ledger.take_batch().items().iter())
        .map(|item| {
            (
                item.index,
                item.state,
                item.error.clone().unwrap_or_default(),
            )
        })
        .collect();
    let too_large = |held| {
        format!(
            "output_too_large: output is 4 bytes; with it the step's list of outputs would be \
             11 bytes (1 succeeded before it: {held} bytes), over the run's cap of 9 bytes on a \
             step's output (a retry of the run with a bigger cap keeps it)"
        )
    };
    assert_eq!(
        ends,
        [
            (0, StepState::Succeeded, String::new()),
            (1, StepState::Failed, too_large(4)),
            (2, StepState::Failed, too_large(4)),
        ],
        "each `\"ab\"` is 4 bytes, `[\"ab\",\"ab\"]` 11"
    );
    ledger.apply(done(0, Value::Null), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    assert_eq!(
        ledger.report().error_class,
        Some(ErrorClass::OutputTooLarge)
    );
}
