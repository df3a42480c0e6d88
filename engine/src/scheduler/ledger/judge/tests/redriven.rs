//! Approvals across a redrive: a redriven step asks again, what its last drive asked is
//! withdrawn with it, and a ruling on a request the step does not wait on decides nothing.

use super::*;
use crate::scheduler::Redrive;

/// Every request of `batches`, the last version of each (by step and item).
fn stored(batches: &[crate::state::Batch]) -> Vec<Approval> {
    let mut stored: Vec<Approval> = Vec::new();
    for approval in batches.iter().flat_map(|batch| batch.approvals()) {
        stored.retain(|kept| (&kept.step_id, kept.item) != (&approval.step_id, approval.item));
        stored.push(approval.clone());
    }
    stored
}

#[test]
fn a_ruling_on_an_item_the_step_does_not_wait_on_decides_nothing() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ ['ask', 'ask'] }}"}
    ]}));
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    ledger.take_batch();
    // Item 5 was never asked (an earlier drive's, past a shorter list): no denial of `a`.
    let stale = Command::Deny(ruling("a", Some(5)));
    ledger.apply(command(1, stale), at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert_eq!(moves(&ledger.take_batch()), Vec::<String>::new());
    for (id, item) in [(2, 0), (3, 1)] {
        let approve = Command::Approve(ruling("a", Some(item)));
        ledger.apply(command(id, approve), at(2)).unwrap();
    }
    assert_eq!(started(&mut ledger, 2), ["a"]);
}

#[test]
fn a_redrive_withdraws_the_last_drives_requests_and_error_and_asks_again() {
    let workflow = json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ ['ask', 'ask', 'ask'] }}"}
    ]});
    let mut ledger = judged(workflow.clone());
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    let mut batches = vec![ledger.take_batch()];
    let approve = Command::Approve(ruling("a", Some(0)));
    ledger.apply(command(1, approve), at(1)).unwrap();
    ledger
        .apply(command(2, Command::Deny(ruling("a", Some(2)))), at(1))
        .unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    batches.push(ledger.take_batch());
    assert!(moves(&batches[1]).contains(&"a: awaiting_approval -> denied".to_owned()));
    let records = records_after(&ledger);
    assert!(records[0].error.is_some(), "denied, with why");

    let stored = (RunState::Failed, records, stored(&batches));
    let redrive = Redrive { from: None };
    let mut redriven = taken_over(&ledger, &workflow, stored, Some(redrive), 10);
    let batch = redriven.take_batch();
    assert_eq!(
        batch.withdrawn_approvals(),
        [(ledger.run_id, "a".to_owned())],
        "withdrawn in the commit that sends `a` back"
    );
    let errors: Vec<_> = (batch.transitions().iter())
        .filter_map(|transition| match transition {
            crate::state::Transition::Step(step) => Some(step),
            crate::state::Transition::Run(_) => None,
        })
        .map(|step| (format!("{} -> {}", step.from, step.to), step.error.clone()))
        .collect();
    assert_eq!(
        errors,
        [
            ("denied -> pending".to_owned(), None),
            ("pending -> ready".to_owned(), None)
        ]
    );
    // Asked again, item 0 too: its approval was for the last drive.
    assert!(redriven.turn(at(10)).unwrap().is_empty());
    let asked = redriven.take_batch();
    let items: Vec<_> = (asked.approvals().iter())
        .map(|approval| (approval.item, approval.decision.is_none()))
        .collect();
    assert_eq!(items, [(Some(0), true), (Some(1), true), (Some(2), true)]);
    assert!(moves(&asked).contains(&"a: ready -> awaiting_approval".to_owned()));
}
