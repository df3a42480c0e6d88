//! The guard's part of the ledger: verdicts, approvals, budgets' facts and rate limits, with
//! fake guards and exact times.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::super::tests::{
    at, committed, committed_after, done, failed, ids, moves, new_judged_run, plan, records_after,
    take_over_judged,
};
use super::super::{Committed, Input, JUDGING_SLICE, Judge, Ledger};
use crate::approval::Approval;
use crate::command::{Command, PendingCommand, Request, Ruling};
use crate::executor::{Action, ErrorClass, Outcome};
use crate::guard::{Facts, Guard, RateLimit, Verdict};
use crate::state::{RunState, StepState};

/// Judges by `with.say` (`deny`, `panic`, `approve`, `approve-retries`: a retry by one more
/// rule, `audit-deny`, `rewrite`, `where`: run with the directory it was given as
/// `with.judged_in`), by `for_each` item (`"ask"` needs approval), and denies the fourth
/// attempt of the run (a budget of 3).
#[derive(Debug, Default)]
struct Fake {
    rates: Vec<RateLimit>,
}

impl Guard for Fake {
    fn judge(&self, action: &Action, facts: &Facts<'_>) -> Verdict {
        if facts.attempts >= 3 {
            return Verdict::deny("budget.attempts", "3 attempts used");
        }
        if facts.item == Some(&json!("ask")) {
            return Verdict::approve("items", "this item needs a person");
        }
        match action.params["say"].as_str() {
            Some("deny") => Verdict::deny("no", "never"),
            Some("panic") => panic!("a bug of the guard's"),
            Some("approve") => Verdict {
                approval_timeout: Some(Duration::from_secs(60)),
                ..Verdict::approve("ask", "a person decides")
            },
            // A retry needs a person of its own (a rule over `action.attempt`).
            Some("approve-retries") if action.attempt > 1 => {
                Verdict::approve("ask", "a person decides").because("retry", "again?")
            }
            Some("approve-retries") => Verdict::approve("ask", "a person decides"),
            Some("audit-deny") => Verdict {
                audit: true,
                ..Verdict::deny("no", "would be denied")
            },
            Some("rewrite") => Verdict {
                params: Some(json!({"say": "rewritten"})),
                ..Verdict::allow()
            },
            Some("where") => Verdict {
                params: Some(json!({"judged_in": facts.cwd})),
                ..Verdict::allow()
            },
            _ => Verdict::allow(),
        }
    }

    fn rate_limits(&self) -> Vec<RateLimit> {
        self.rates.clone()
    }
}

fn judged(workflow: Value) -> Ledger {
    judged_by(workflow, Fake::default())
}

/// The judge of a run by `guard` (its policy's hash `policy`), from `cwd`.
pub(super) fn judge_by(guard: impl Guard + 'static, cwd: &str) -> Judge {
    Judge {
        guard: Some(Arc::new(guard)),
        hash: Some("policy".into()),
        cwd: Some(cwd.into()),
        slice: JUDGING_SLICE,
    }
}

/// A new run of `workflow` judged by `guard`, from `/checkout`.
pub(super) fn judged_by(workflow: Value, guard: impl Guard + 'static) -> Ledger {
    let judge = judge_by(guard, "/checkout");
    new_judged_run(workflow, judge)
}

/// The ledger of the next engine that takes `ledger`'s run over at `second`, judged by a
/// fresh [`Fake`]: the run's state, step records and approvals as `stored`.
fn taken_over(
    ledger: &Ledger,
    workflow: &Value,
    stored: (RunState, Vec<crate::store::StepRecord>, Vec<Approval>),
    redrive: Option<crate::scheduler::Redrive>,
    second: i64,
) -> Ledger {
    let (state, records, approvals) = stored;
    let run = Committed {
        approvals,
        ..committed(ledger.run_id, plan(workflow.clone()), state, records)
    };
    let judge = judge_by(Fake::default(), "/checkout");
    take_over_judged(run, judge, at(second), redrive)
}

/// Ann's approval at `second`.
fn approved_at(second: i64) -> crate::approval::ApprovalDecision {
    crate::approval::ApprovalDecision {
        approved: true,
        by: "ann".into(),
        reason: None,
        at: at(second),
    }
}

/// A run of one step, `a`, that asks for approval, after its first turn (at second 0):
/// its workflow, and its ledger with `a` awaiting a person.
fn asking_for_approval() -> (Value, Ledger) {
    let workflow = json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "approve"}}
    ]});
    let mut ledger = judged(workflow.clone());
    ledger.turn(at(0)).unwrap();
    (workflow, ledger)
}

/// The ids of the steps a turn at `second` starts.
fn started(ledger: &mut Ledger, second: i64) -> Vec<String> {
    let starts = ledger.turn(at(second)).unwrap();
    ids(ledger, &starts)
}

/// Each item of step 0 in `ends` ends, then the attempt's task, at `second`.
pub(super) fn end_items(ledger: &mut Ledger, ends: Vec<(usize, Outcome)>, second: i64) {
    for (index, outcome) in ends {
        let item = Input::Item {
            step: 0,
            index,
            outcome,
        };
        ledger.apply(item, at(second)).unwrap();
    }
    let ended = Input::Completed {
        step: 0,
        outcome: Outcome::success(Value::Null),
    };
    ledger.apply(ended, at(second)).unwrap();
}

/// The items a turn at `second` starts, each with its attempt.
pub(super) fn items_started(ledger: &mut Ledger, second: i64) -> Vec<(Option<usize>, u32)> {
    let starts = ledger.turn(at(second)).unwrap();
    (starts.iter().flat_map(|start| start.actions.all()))
        .map(|action| (action.item_index, action.attempt))
        .collect()
}

fn ruling(step: &str, item: Option<usize>) -> Ruling {
    Ruling {
        step: step.into(),
        item,
        by: "ann".into(),
        reason: Some("looks right".into()),
    }
}

fn command(id: i64, command: Command) -> Input {
    sent_at(0, id, command)
}

/// `command`, as sent at `second`.
fn sent_at(second: i64, id: i64, command: Command) -> Input {
    Input::Command(PendingCommand {
        id,
        run_id: uuid::Uuid::nil(),
        command,
        created_at: at(second),
    })
}

#[test]
fn a_denied_step_never_starts_its_dependents_are_skipped_and_the_run_fails_denied() {
    let mut ledger = judged(json!({"name": "g", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop", "with": {"say": "deny"}},
        {"id": "b", "executor": "noop"}
    ]}]}));
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        [
            "a: pending -> ready",
            "a: ready -> denied",
            "b: pending -> skipped"
        ]
    );
    let denied = &batch.transitions()[2];
    let crate::state::Transition::Step(denied) = denied else {
        panic!()
    };
    assert_eq!(
        denied.detail.as_ref().unwrap()["verdict"]["rules"],
        json!(["no"])
    );
    assert_eq!(denied.error.as_deref(), Some("denied: no: never"));
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::Denied));
    assert_eq!(report.error.as_deref(), Some("step a denied: no: never"));
}

#[test]
fn a_guard_that_panics_denies_and_the_run_goes_on() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "panic"}},
        {"id": "b", "executor": "noop"}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    let started = ids(&ledger, &starts);
    assert_eq!(
        started,
        ["b"],
        "the step the guard could not judge does not run"
    );
    let batch = ledger.take_batch();
    let denied = (batch.transitions().iter())
        .find_map(|transition| match transition {
            crate::state::Transition::Step(step) if step.to == StepState::Denied => Some(step),
            _ => None,
        })
        .expect("a is denied");
    assert_eq!(denied.step_id, "a");
    assert_eq!(
        denied.error.as_deref(),
        Some("denied: guard: the guard panicked: a bug of the guard's")
    );
}

#[test]
fn an_allowed_attempt_records_its_verdict_and_runs_with_the_params_the_guard_gave() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "rewrite"}}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(
        starts[0].actions.all()[0].params,
        json!({"say": "rewritten"})
    );
    let batch = ledger.take_batch();
    let crate::state::Transition::Step(running) = &batch.transitions()[2] else {
        panic!()
    };
    assert_eq!(
        running.detail,
        Some(json!({"verdict": {"decision": "allow"}}))
    );
}

#[test]
fn audit_mode_runs_what_enforce_would_deny_and_records_that_it_would() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "audit-deny"}}
    ]}));
    assert_eq!(started(&mut ledger, 0), ["a"]);
    let batch = ledger.take_batch();
    let crate::state::Transition::Step(running) = &batch.transitions()[2] else {
        panic!()
    };
    let verdict = &running.detail.as_ref().unwrap()["verdict"];
    assert_eq!(
        (&verdict["decision"], &verdict["audit"]),
        (&json!("deny"), &json!(true))
    );
}

#[test]
fn an_approval_holds_the_step_while_the_rest_goes_on_and_a_ruling_releases_it() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "approve"}},
        {"id": "b", "executor": "noop"}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["b"], "b goes on while a waits");
    let batch = ledger.take_batch();
    assert!(moves(&batch).contains(&"a: ready -> awaiting_approval".to_owned()));
    let [request] = batch.approvals() else {
        panic!("one request")
    };
    assert_eq!((request.requested_at, request.expires_at), (at(0), at(60)));
    assert_eq!(ledger.next_wake(), Some(at(60)), "the expiry is a clock");

    ledger
        .apply(command(7, Command::Approve(ruling("a", None))), at(5))
        .unwrap();
    let starts = ledger.turn(at(5)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["a"]);
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: awaiting_approval -> ready", "a: ready -> running"]
    );
    assert_eq!(batch.handled(), [(ledger.run_id, 7)]);
    assert!(batch.approvals()[0].decision.as_ref().unwrap().approved);
}

#[test]
fn an_approval_covers_the_rules_it_was_asked_for_and_a_rule_asking_only_later_asks_again() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "approve-retries"},
         "retry": {"max_attempts": 2, "initial_delay": "1s", "backoff": "fixed"}}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger
        .apply(command(1, Command::Approve(ruling("a", None))), at(1))
        .unwrap();
    assert_eq!(started(&mut ledger, 1), ["a"]);
    ledger.take_batch();
    (ledger.apply(failed(0, ErrorClass::ExitCode, "exit 1"), at(2))).unwrap();
    // The retry: the same action, but rule `retry` asks now, which the approval was not for.
    assert!(
        started(&mut ledger, 3).is_empty(),
        "the retry waits for a person"
    );
    let batch = ledger.take_batch();
    assert!(moves(&batch).contains(&"a: ready -> awaiting_approval".to_owned()));
    let [request] = batch.approvals() else {
        panic!("one new request")
    };
    assert_eq!(request.decision, None);
    let reasons = &request.verdict.reasons;
    assert!(
        reasons.iter().any(|reason| reason
            == "asked again: the approval given was for `ask`, and `retry` asks now too"),
        "{reasons:?}"
    );
    ledger
        .apply(command(2, Command::Approve(ruling("a", None))), at(4))
        .unwrap();
    assert_eq!(started(&mut ledger, 4), ["a"], "approved for both");
}

#[test]
fn a_denial_by_a_person_ends_the_step_denied() {
    let (_, mut ledger) = asking_for_approval();
    ledger.take_batch();
    ledger
        .apply(command(1, Command::Deny(ruling("a", None))), at(5))
        .unwrap();
    ledger.turn(at(5)).unwrap();
    let batch = ledger.take_batch();
    assert!(moves(&batch).contains(&"a: awaiting_approval -> denied".to_owned()));
    let report = ledger.report();
    assert_eq!(report.error_class, Some(ErrorClass::Denied));
    assert!(report.error.unwrap().contains("denied by ann: looks right"));
}

#[test]
fn an_expired_request_is_denied_never_granted() {
    let (_, mut ledger) = asking_for_approval();
    ledger.take_batch();
    ledger.turn(at(59)).unwrap();
    assert!(ledger.take_batch().is_empty(), "not before its expiry");
    ledger.turn(at(60)).unwrap();
    let batch = ledger.take_batch();
    assert!(moves(&batch).contains(&"a: awaiting_approval -> denied".to_owned()));
    let decision = batch.approvals()[0].decision.clone().unwrap();
    assert_eq!((decision.approved, decision.by.as_str()), (false, "cairn"));
    // A ruling that comes too late changes nothing.
    ledger
        .apply(command(2, Command::Approve(ruling("a", None))), at(61))
        .unwrap();
    assert_eq!(moves(&ledger.take_batch()), Vec::<String>::new());
}

#[test]
fn an_approval_sent_after_the_expiry_is_not_granted_however_late_it_is_read() {
    // The request expires at 60; the engine reads each approval at 62, before any turn
    // (an engine that takes the run over applies the commands sent meanwhile first).
    let (_, mut late) = asking_for_approval();
    late.take_batch();
    late.apply(sent_at(61, 1, Command::Approve(ruling("a", None))), at(62))
        .unwrap();
    assert_eq!(
        moves(&late.take_batch()),
        ["a: awaiting_approval -> denied"]
    );
    // One sent in time is granted.
    let (_, mut in_time) = asking_for_approval();
    in_time.take_batch();
    (in_time.apply(sent_at(59, 1, Command::Approve(ruling("a", None))), at(62))).unwrap();
    assert_eq!(
        moves(&in_time.take_batch()),
        ["a: awaiting_approval -> ready"]
    );
}

/// A person's ruling sent after a cancel, read with it, decides nothing: the cancel ends the
/// step `cancelled` (probe 74 F1: denied, or an approval recorded granted).
#[test]
fn a_ruling_sent_after_a_cancel_decides_nothing() {
    for later in [
        Command::Approve(ruling("a", None)),
        Command::Deny(ruling("a", None)),
    ] {
        let (_, mut ledger) = asking_for_approval();
        ledger.take_batch();
        let cancel = Command::Cancel(Request::new("bob", None));
        ledger.apply(command(1, cancel), at(5)).unwrap();
        ledger.apply(command(2, later), at(5)).unwrap();
        ledger.turn(at(5)).unwrap();
        let moves = moves(&ledger.take_batch());
        assert_eq!(moves[0], "a: awaiting_approval -> cancelled", "{moves:?}");
        assert_eq!(ledger.report().state, RunState::Cancelled);
    }
}

/// A paused run whose last step's request expired before a cancel was sent ends as that step
/// did, the cancel after its end (probe 74 F2: left paused, every step ended).
#[test]
fn a_cancel_after_a_paused_runs_last_request_expired_comes_after_its_end() {
    let (_, mut ledger) = asking_for_approval();
    let pause = Command::Pause(Request::new("bob", None));
    ledger.apply(command(1, pause), at(5)).unwrap();
    ledger.turn(at(5)).unwrap();
    assert_eq!(ledger.report().state, RunState::Paused);
    let cancel = Command::Cancel(Request::new("bob", None));
    ledger.apply(sent_at(61, 2, cancel), at(62)).unwrap();
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::Denied));
}

#[test]
fn an_approval_survives_a_restart_and_binds_to_the_exact_action() {
    let (workflow, mut ledger) = asking_for_approval();
    let mut request: Approval = ledger.take_batch().approvals()[0].clone();
    let restart = |approvals: Vec<Approval>, records| {
        let stored = (RunState::Running, records, approvals);
        taken_over(&ledger, &workflow, stored, None, 0)
    };
    // Approved while no engine ran: the next engine runs the step without asking again.
    request.decision = Some(approved_at(3));
    let mut records = records_after(&ledger);
    records[0].state = crate::state::StepState::Ready;
    let mut next = restart(vec![request.clone()], records.clone());
    assert_eq!(started(&mut next, 4), ["a"]);
    // An approval of another action (another policy, other params) does not count.
    request.action_hash = "another".into();
    let mut other = restart(vec![request], records);
    assert!(other.turn(at(4)).unwrap().is_empty());
    assert!(moves(&other.take_batch()).contains(&"a: ready -> awaiting_approval".to_owned()));
}

#[test]
fn one_for_each_item_can_wait_for_approval_and_be_approved_alone() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ ['x', 'ask', 'y'] }}"}
    ]}));
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    let batch = ledger.take_batch();
    let items: Vec<Option<usize>> = batch.approvals().iter().map(|a| a.item).collect();
    assert_eq!(items, [Some(1)]);
    ledger
        .apply(command(1, Command::Approve(ruling("a", Some(1)))), at(1))
        .unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(starts[0].actions.all().len(), 3, "every item runs");
    // The item's verdict says who approved it, and why: only the last ruling readies the step.
    let batch = ledger.take_batch();
    let running = (batch.transitions().iter())
        .find_map(|transition| match transition {
            crate::state::Transition::Step(step) if step.to == StepState::Running => Some(step),
            _ => None,
        })
        .unwrap();
    let verdicts = &running.detail.as_ref().unwrap()["verdicts"];
    assert_eq!(
        verdicts[1]["reasons"],
        json!(["this item needs a person", "approved by ann: looks right"])
    );
}

#[test]
fn the_requests_left_of_a_step_that_stopped_waiting_wake_nothing() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ ['ask', 'ask'] }}"},
        {"id": "b", "executor": "noop"}
    ]}));
    assert_eq!(started(&mut ledger, 0), ["b"]);
    ledger
        .apply(command(1, Command::Deny(ruling("a", Some(0)))), at(1))
        .unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert!(moves(&ledger.take_batch()).contains(&"a: awaiting_approval -> denied".to_owned()));
    // Item 1's request, never decided, expires a day later while `b` still runs.
    let day = 24 * 3600;
    assert_eq!(ledger.next_wake(), Some(at(day)));
    assert!(ledger.turn(at(day + 1)).unwrap().is_empty());
    assert!(ledger.take_batch().is_empty(), "nothing moves");
    assert_eq!(
        ledger.next_wake(),
        None,
        "no wake-up in the past: the driver would spin"
    );
}

#[test]
fn the_guard_sees_the_attempts_started_so_far_so_a_budget_holds() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "retry": {"max_attempts": 5, "backoff": "fixed", "initial_delay": "0s"}}
    ]}));
    // Three errors unlike each other, so that no loop is seen.
    for (second, error) in (0..).zip(["flaky", "down", "broken"]) {
        assert_eq!(started(&mut ledger, second), ["a"]);
        let failure = crate::executor::Outcome::failure(ErrorClass::Transient, error);
        ledger
            .apply(
                Input::Completed {
                    step: 0,
                    outcome: failure,
                },
                at(second),
            )
            .unwrap();
    }
    assert!(
        ledger.turn(at(3)).unwrap().is_empty(),
        "the fourth attempt is denied"
    );
    let batch = ledger.take_batch();
    assert!(moves(&batch).contains(&"a: ready -> denied".to_owned()));
    assert!(ledger.report().error.unwrap().contains("budget.attempts"));
}

#[test]
fn each_for_each_item_is_an_attempt_so_a_budget_holds_within_a_step() {
    let workflow = json!({"name": "g", "steps": [
        {"id": "two", "executor": "noop", "for_each": "${{ [1, 2] }}"},
        {"id": "one", "executor": "noop", "needs": ["two"]},
        {"id": "last", "executor": "noop", "needs": ["one"]}
    ]});
    let mut ledger = judged(workflow.clone());
    assert_eq!(started(&mut ledger, 0), ["two"]);
    for index in 0..2 {
        let outcome = Outcome::success(json!(index));
        let item = Input::Item {
            step: 0,
            index,
            outcome,
        };
        ledger.apply(item, at(0)).unwrap();
    }
    let ended = Outcome::success(Value::Null);
    (ledger.apply(
        Input::Completed {
            step: 0,
            outcome: ended,
        },
        at(1),
    ))
    .unwrap();
    assert_eq!(started(&mut ledger, 1), ["one"], "the third attempt runs");
    let stored = Committed {
        items: ledger.take_batch().items().to_vec(),
        ..committed_after(&ledger, RunState::Running)
    };
    ledger.apply(done(1, Value::Null), at(2)).unwrap();
    assert!(
        ledger.turn(at(2)).unwrap().is_empty(),
        "the fourth is denied"
    );
    assert!(moves(&ledger.take_batch()).contains(&"last: ready -> denied".to_owned()));

    // Had the run been taken over while `one` ran, the next engine counts the items too.
    let judge = judge_by(Fake::default(), "/checkout");
    let mut next = take_over_judged(stored, judge, at(2), None);
    assert!(
        next.turn(at(2)).unwrap().is_empty(),
        "cut off, `one` reruns as the fourth"
    );
    assert!(moves(&next.take_batch()).contains(&"one: ready -> denied".to_owned()));

    // Four items in one attempt: the fourth is judged with the three before it counted.
    let mut four = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "for_each": "${{ [1, 2, 3, 4] }}"}
    ]}));
    assert!(four.turn(at(0)).unwrap().is_empty(), "no item runs");
    let error = four.report().error.unwrap();
    assert!(error.contains("item 3: budget.attempts"), "{error}");
}

#[test]
fn the_steps_a_plan_added_are_judged_like_any_step() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "gen", "executor": "noop", "planner": true},
        {"id": "after", "executor": "noop", "needs": ["gen"]}
    ]}));
    assert_eq!(started(&mut ledger, 0), ["gen"]);
    let plan = json!({"steps": [{"id": "risky", "executor": "noop", "with": {"say": "deny"}}]});
    ledger.apply(done(0, plan), at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"gen.risky: ready -> denied".to_owned()),
        "{batch:?}"
    );
    assert!(
        batch.contains(&"after: pending -> skipped".to_owned()),
        "{batch:?}"
    );
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Denied));
}

#[test]
fn a_redriven_step_asks_again_instead_of_reusing_its_denial() {
    let (workflow, mut ledger) = asking_for_approval();
    ledger.take_batch();
    ledger
        .apply(command(1, Command::Deny(ruling("a", None))), at(5))
        .unwrap();
    ledger.turn(at(5)).unwrap();
    let denial = ledger.take_batch().approvals()[0].clone();
    assert!(denial.decision.as_ref().is_some_and(|d| !d.approved));
    assert_eq!(ledger.report().state, RunState::Failed);
    // `cairn retry`: the next engine takes the run over with the stored denial.
    let stored = (RunState::Failed, records_after(&ledger), vec![denial]);
    let redrive = Some(crate::scheduler::Redrive { from: None });
    let mut next = taken_over(&ledger, &workflow, stored, redrive, 10);
    assert!(
        next.turn(at(10)).unwrap().is_empty(),
        "it waits for a person"
    );
    let batch = next.take_batch();
    assert!(moves(&batch).contains(&"a: ready -> awaiting_approval".to_owned()));
    assert_eq!(
        batch.approvals().len(),
        1,
        "a new request, in the redrive's commit"
    );
    assert_eq!(batch.approvals()[0].decision, None);
    assert_eq!(batch.approvals()[0].requested_at, at(10));
}

mod directories;
mod past_deadline;
mod rates;
mod redriven;
mod reserved;
mod sliced;
mod spending;
