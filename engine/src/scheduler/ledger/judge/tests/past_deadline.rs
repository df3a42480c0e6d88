//! A run whose deadline passed while no engine drove it: what was dated before the deadline
//! (a ruling, a cancel, an approval request's expiry) counts before the time-out (probe 47
//! F1: each was lost to it, and the ruling and the cancel were missing from the history).

use super::*;
use crate::command::Request;

/// A run of one step `a` that asks a person (whose request expires at second 60), under
/// `limits.timeout`, taken over at `second` with `commands` (`(sent at, command)`) pending.
fn taken_over_past(timeout: &str, second: i64, commands: Vec<(i64, Command)>) -> Ledger {
    let a = json!({"id": "a", "executor": "noop", "with": {"say": "approve"}});
    taken_over_with(vec![a], timeout, second, commands)
}

/// [`taken_over_past`] of a run of `steps`.
fn taken_over_with(
    steps: Vec<Value>,
    timeout: &str,
    second: i64,
    commands: Vec<(i64, Command)>,
) -> Ledger {
    let workflow = json!({"name": "g", "limits": {"timeout": timeout}, "steps": steps});
    let mut ledger = judged(workflow.clone());
    ledger.turn(at(0)).unwrap();
    let approvals = ledger.take_batch().approvals().to_vec();
    let commands = (commands.into_iter().enumerate())
        .map(|(id, (sent, command))| PendingCommand {
            id: id as i64 + 1,
            run_id: ledger.run_id,
            command,
            created_at: at(sent),
        })
        .collect();
    let run = Committed {
        approvals,
        commands,
        ..committed_after(&ledger, RunState::Running)
    };
    take_over_judged(
        run,
        judge_by(Fake::default(), "/checkout"),
        at(second),
        None,
    )
}

fn deny() -> Command {
    Command::Deny(ruling("a", None))
}

#[test]
fn a_denial_sent_before_the_deadline_ends_the_step_denied_not_timed_out() {
    let mut ledger = taken_over_past("50s", 100, vec![(10, deny())]);
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["a: awaiting_approval -> denied"]);
    assert_eq!(
        batch.handled(),
        [(ledger.run_id, 1)],
        "the ruling is recorded"
    );
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::Denied));
}

#[test]
fn a_denial_sent_after_the_deadline_comes_too_late() {
    let mut ledger = taken_over_past("50s", 100, vec![(55, deny())]);
    assert_eq!(
        moves(&ledger.take_batch()),
        ["a: awaiting_approval -> cancelled"]
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
}

#[test]
fn a_cancel_sent_before_the_deadline_ends_the_run_cancelled() {
    let cancel = Command::Cancel(Request::new("ann", Some("stop".into())));
    let ledger = taken_over_past("50s", 100, vec![(40, cancel)]);
    assert_eq!(ledger.report().state, RunState::Cancelled);
}

#[test]
fn a_request_that_expired_before_the_deadline_is_denied() {
    // The request expires at 60, the run at 120.
    let mut ledger = taken_over_past("2m", 200, Vec::new());
    assert_eq!(
        moves(&ledger.take_batch()),
        ["a: awaiting_approval -> denied"]
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Denied));
    // One that would have expired after the deadline is cut off by it.
    let mut ledger = taken_over_past("50s", 200, Vec::new());
    assert_eq!(
        moves(&ledger.take_batch()),
        ["a: awaiting_approval -> cancelled"]
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
}

#[test]
fn a_denial_before_the_deadline_skips_the_dependents_as_a_live_engine_does() {
    let steps = vec![
        json!({"id": "a", "executor": "noop", "with": {"say": "approve"}}),
        json!({"id": "b", "executor": "noop", "needs": ["a"]}),
    ];
    let mut ledger = taken_over_with(steps, "50s", 100, vec![(10, deny())]);
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: awaiting_approval -> denied", "b: pending -> skipped"]
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Denied));
}
