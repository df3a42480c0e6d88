//! Triggers: what a step does once its needs have ended in each way.

use serde_json::json;

use super::super::tests::{at, done, failed, ids, moves, new_run, record, resume};
use crate::executor::ErrorClass;
use crate::state::StepState;

/// `when` false skips `maybe`; `rejoin` (none_failed), `plain` (default) and `cleanup`
/// (all_done) need it; `cleanup` also needs `broken`, which fails.
fn joins() -> serde_json::Value {
    json!({"name": "j", "steps": [
        {"id": "maybe", "executor": "noop", "when": "false"},
        {"id": "broken", "executor": "noop"},
        {"id": "rejoin", "executor": "noop", "needs": ["maybe"], "trigger": "none_failed"},
        {"id": "plain", "executor": "noop", "needs": ["maybe"]},
        {"id": "after", "executor": "noop", "needs": ["broken"], "trigger": "none_failed"},
        {"id": "cleanup", "executor": "noop", "needs": ["maybe", "broken"], "trigger": "all_done"}
    ]})
}

#[test]
fn a_skipped_need_skips_a_default_step_and_lets_none_failed_and_all_done_run() {
    let mut ledger = new_run(joins());
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(
        ids(&ledger, &starts),
        ["broken", "rejoin"],
        "maybe is skipped by its `when`, and rejoin runs"
    );
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"rejoin: pending -> ready".to_owned()),
        "{batch:?}"
    );
    assert!(
        batch.contains(&"plain: pending -> skipped".to_owned()),
        "{batch:?}"
    );
    let broken = ledger.plan.index_of("broken").unwrap();
    ledger
        .apply(failed(broken, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["cleanup"]);
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"after: pending -> skipped".to_owned()),
        "none_failed refuses a failed need: {batch:?}"
    );
}

#[test]
fn all_done_waits_for_every_need_to_end() {
    let mut ledger = new_run(json!({"name": "j", "steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop"},
        {"id": "c", "executor": "noop", "needs": ["a", "b"], "trigger": "all_done"}
    ]}));
    ledger.turn(at(0)).unwrap();
    let (a, b) = (
        ledger.plan.index_of("a").unwrap(),
        ledger.plan.index_of("b").unwrap(),
    );
    ledger
        .apply(failed(a, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty(), "b has not ended");
    ledger.apply(done(b, json!(1)), at(2)).unwrap();
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["c"]);
}

#[test]
fn a_takeover_settles_triggers_from_stored_states() {
    let records = vec![
        record("maybe", StepState::Skipped, None),
        record("broken", StepState::Failed, None),
        record("rejoin", StepState::Pending, None),
        record("plain", StepState::Pending, None),
        record("after", StepState::Pending, None),
        record("cleanup", StepState::Pending, None),
    ];
    let mut ledger = resume(uuid::Uuid::now_v7(), joins(), records);
    let mut settled = moves(&ledger.take_batch());
    settled.sort();
    assert_eq!(
        settled,
        [
            "after: pending -> skipped",
            "cleanup: pending -> ready",
            "plain: pending -> skipped",
            "rejoin: pending -> ready",
        ]
    );
}
