//! A run whose deadline passed while no engine drove it: what was dated before the deadline
//! (a ruling, a cancel, an approval request's expiry) counts before the time-out (probe 47
//! F1: each was lost to it, and the ruling and the cancel were missing from the history);
//! and the expiries before a command, deadline or not, come before the command.

use super::super::super::tests::run_moves;
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
    // Turn by turn, each step started succeeding, until only the person is waited for.
    let mut approvals = Vec::new();
    loop {
        let starts = ledger.turn(at(0)).unwrap();
        approvals.extend(ledger.take_batch().approvals().iter().cloned());
        if starts.is_empty() {
            break;
        }
        for start in starts {
            ledger.apply(done(start.step, Value::Null), at(0)).unwrap();
        }
    }
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

/// Asserts that `ledger`'s run failed as its step `a` was denied, the steps `then` moving
/// after it.
fn denied(ledger: &mut Ledger, then: &[&str]) {
    let mut expected = vec!["a: awaiting_approval -> denied"];
    expected.extend(then);
    assert_eq!(moves(&ledger.take_batch()), expected);
    assert_eq!(ledger.report().state, RunState::Failed);
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Denied));
}

/// Asserts that `ledger`'s run timed out, its step `a` cancelled as it waited for a person.
fn timed_out(ledger: &mut Ledger) {
    let moved = moves(&ledger.take_batch());
    assert_eq!(moved, ["a: awaiting_approval -> cancelled"]);
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
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
    timed_out(&mut ledger);
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
    denied(&mut ledger, &[]);
    // One that would have expired after the deadline is cut off by it.
    let mut ledger = taken_over_past("50s", 200, Vec::new());
    timed_out(&mut ledger);
}

#[test]
fn a_denial_before_the_deadline_skips_the_dependents_as_a_live_engine_does() {
    let steps = vec![
        json!({"id": "a", "executor": "noop", "with": {"say": "approve"}}),
        json!({"id": "b", "executor": "noop", "needs": ["a"]}),
    ];
    let mut ledger = taken_over_with(steps, "50s", 100, vec![(10, deny())]);
    denied(&mut ledger, &["b: pending -> skipped"]);
}

#[test]
fn a_pause_sent_before_the_deadline_with_nothing_in_flight_pauses_the_run_first() {
    let pause = Command::Pause(Request::new("ann", None));
    let mut ledger = taken_over_past("50s", 100, vec![(10, pause)]);
    let moved = run_moves(&ledger.take_batch());
    // Probe 48 F4: the pause was missing from the history.
    assert_eq!(
        moved,
        [
            (RunState::Running, RunState::Paused),
            (RunState::Paused, RunState::Failed)
        ]
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
}

#[test]
fn a_cancel_sent_after_a_request_expired_and_ended_the_run_comes_after_its_end() {
    // The request expires at 60 and ends the run's only step; the cancel comes at 70.
    let cancel = Command::Cancel(Request::new("ann", None));
    let ledger = taken_over_past("2m", 200, vec![(70, cancel)]);
    let report = ledger.report();
    assert_eq!(
        report.state,
        RunState::Failed,
        "probe 48 F9: it ended cancelled"
    );
    assert_eq!(report.error_class, Some(ErrorClass::Denied));
}

#[test]
fn a_ruling_read_again_once_the_run_is_settled_takes_no_effect() {
    let mut ledger = taken_over_past("50s", 100, vec![(10, deny())]);
    ledger.take_batch();
    // The first turn reads the commands again (probe 48 F6: a warning of a ruling lost).
    ledger.apply(sent_at(10, 1, deny()), at(100)).unwrap();
    assert!(ledger.take_batch().is_empty());
}

#[test]
fn an_engine_frozen_past_the_deadline_settles_what_expired_before_it_first() {
    // The request expires at 60, the run at 120; the engine reads its deadline at 130.
    let workflow = json!({"name": "g", "limits": {"timeout": "2m"}, "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "approve"}},
        {"id": "b", "executor": "noop", "needs": ["a"]}
    ]});
    let mut ledger = judged(workflow);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger.apply(Input::TimedOut, at(130)).unwrap();
    // Probe 48 F3: both were cancelled, the run timed out.
    denied(&mut ledger, &["b: pending -> skipped"]);
}

#[test]
fn a_cancel_that_takes_an_undriven_run_over_settles_an_earlier_expiry_first() {
    // No deadline: `cairn cancel` at 70 takes the run over (`settle_halt`); the request
    // expired at 60 and ended the run's only step (probe 48 F9: the expiry was ignored).
    let (_, mut ledger) = asking_for_approval();
    ledger.take_batch();
    let cancel = Command::Cancel(Request::new("ann", None));
    ledger.apply(sent_at(70, 1, cancel), at(70)).unwrap();
    ledger.settle_halt(at(70)).unwrap();
    denied(&mut ledger, &[]);
}

#[test]
fn a_denial_before_the_deadline_of_a_step_with_needs_skips_its_dependents() {
    // Probe 49 F1: `a`'s need had not been walked from at the takeover, so its denial did
    // not walk on, and `c` timed out.
    let steps = vec![
        json!({"id": "x", "executor": "noop"}),
        json!({"id": "a", "executor": "noop", "with": {"say": "approve"}, "needs": ["x"]}),
        json!({"id": "c", "executor": "noop", "needs": ["a"]}),
    ];
    let mut ledger = taken_over_with(steps, "50s", 100, vec![(10, deny())]);
    denied(&mut ledger, &["c: pending -> skipped"]);
}

#[test]
fn a_pause_before_a_request_expires_holds_the_request_with_the_run() {
    // Probe 49 F4: read in the turn that came after the expiry, the pause was lost to it.
    let (_, mut ledger) = asking_for_approval();
    ledger.take_batch();
    let pause = Command::Pause(Request::new("ann", None));
    ledger.apply(sent_at(30, 1, pause), at(90)).unwrap();
    assert!(ledger.turn(at(90)).unwrap().is_empty());
    let batch = ledger.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    assert!(
        moves(&batch).is_empty(),
        "a still awaits a person: {batch:?}"
    );
}

#[test]
fn a_pause_before_the_deadline_with_an_attempt_cut_off_in_flight_does_not_pause() {
    // Probe 49 F6: the run was recorded paused while `w` was still running.
    let workflow = json!({"name": "g", "limits": {"timeout": "50s"}, "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "approve"}},
        {"id": "w", "executor": "noop"}
    ]});
    let mut ledger = judged(workflow);
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["w"]);
    let approvals = ledger.take_batch().approvals().to_vec();
    let pause = PendingCommand {
        id: 1,
        run_id: ledger.run_id,
        command: Command::Pause(Request::new("ann", None)),
        created_at: at(10),
    };
    let run = Committed {
        approvals,
        commands: vec![pause],
        ..committed_after(&ledger, RunState::Running)
    };
    let judge = judge_by(Fake::default(), "/checkout");
    let mut taken = take_over_judged(run, judge, at(100), None);
    let batch = taken.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
    assert!(
        moves(&batch).contains(&"w: running -> cancelled".to_owned()),
        "{batch:?}"
    );
}
