//! The ledger's decisions, with no store, no executors and no processes: a plan, inputs
//! and times in, transitions and attempts out.

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::error::Error;
use crate::store::StepRecord;

/// A fixed "now", so that times in assertions are exact.
pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

pub(super) fn plan(workflow: Value) -> Arc<Plan> {
    let text = workflow.to_string();
    let executors = crate::executor::test_support::accepting_anything(&["noop"]);
    Arc::new(crate::load::load_str(&text, "test.json", &executors).unwrap())
}

/// Run `run_id` of `plan`, in `state`, with its committed `steps` and nothing else: what a
/// takeover reads.
pub(super) fn committed(
    run_id: Uuid,
    plan: Arc<Plan>,
    state: RunState,
    steps: Vec<StepRecord>,
) -> Committed {
    Committed {
        run_id,
        plan,
        input: json!({}),
        state,
        created_at: at(0),
        deadline: None,
        steps,
        approvals: Vec::new(),
        rate_limits: Vec::new(),
        recent_starts: Vec::new(),
        plans: Vec::new(),
        superseded: Vec::new(),
        items: Vec::new(),
        stalls: Vec::new(),
        commands: Vec::new(),
        executors: crate::executor::test_support::accepting_anything(&["noop"]),
    }
}

/// A ledger taking over a new run of `workflow`, judged by `judge`.
pub(super) fn new_judged_run(workflow: Value, judge: Judge) -> Ledger {
    let plan = plan(workflow);
    let steps = plan
        .steps()
        .iter()
        .map(|step| StepRecord::pending(&step.id))
        .collect();
    let run = Committed {
        input: json!({"n": 2}),
        ..committed(Uuid::now_v7(), plan, RunState::Pending, steps)
    };
    take_over_judged(run, judge, at(0), None)
}

/// A ledger taking over `run` at `now`, judged by `judge` with the rate limits its guard
/// gives, asked as the engine asks them before a takeover.
pub(super) fn take_over_judged(
    mut run: Committed,
    judge: Judge,
    now: DateTime<Utc>,
    redrive: Option<crate::scheduler::Redrive>,
) -> Ledger {
    run.rate_limits = (judge.guard.as_ref()).map_or(Vec::new(), |guard| guard.rate_limits());
    Ledger::take_over(run, judge, 1 << 20, now, redrive).unwrap()
}

/// A ledger taking over a new run of `workflow`.
pub(super) fn new_run(workflow: Value) -> Ledger {
    new_judged_run(workflow, Judge::default())
}

/// A ledger taking over run `run_id` of `workflow`, running, from `steps` (a restart).
pub(super) fn resume(run_id: Uuid, workflow: Value, steps: Vec<StepRecord>) -> Ledger {
    let run = committed(run_id, plan(workflow), RunState::Running, steps);
    Ledger::take_over(run, Judge::default(), 1 << 20, at(0), None).unwrap()
}

/// The step transitions of a batch as `step: from -> to`.
pub(super) fn moves(batch: &Batch) -> Vec<String> {
    batch
        .transitions()
        .iter()
        .filter_map(|transition| match transition {
            Transition::Step(step) => {
                Some(format!("{}: {} -> {}", step.step_id, step.from, step.to))
            }
            Transition::Run(_) => None,
        })
        .collect()
}

pub(super) fn run_moves(batch: &Batch) -> Vec<(RunState, RunState)> {
    batch
        .transitions()
        .iter()
        .filter_map(|transition| match transition {
            Transition::Run(run) => Some((run.from, run.to)),
            Transition::Step(_) => None,
        })
        .collect()
}

pub(super) fn ids(ledger: &Ledger, starts: &[Start]) -> Vec<String> {
    starts
        .iter()
        .map(|start| ledger.plan.steps()[start.step].id.to_string())
        .collect()
}

pub(super) fn done(step: StepIndex, output: Value) -> Input {
    Input::Completed {
        step,
        outcome: Outcome::success(output),
    }
}

pub(super) fn failed(step: StepIndex, class: ErrorClass, message: &str) -> Input {
    Input::Completed {
        step,
        outcome: Outcome::failure(class, message),
    }
}

/// What a new ledger would read of `ledger`'s run after a restart, the run `state`.
pub(super) fn committed_after(ledger: &Ledger, state: RunState) -> Committed {
    committed(
        ledger.run_id,
        ledger.plan.clone(),
        state,
        records_after(ledger),
    )
}

/// The committed step records a new ledger would read after a restart.
pub(super) fn records_after(ledger: &Ledger) -> Vec<StepRecord> {
    (ledger.slots.iter().zip(ledger.plan.steps()))
        .map(|(slot, step)| StepRecord {
            id: step.id.to_string(),
            state: slot.state,
            attempt: slot.attempt,
            interrupted: slot.interrupted,
            fallback: slot.fallback,
            output: slot.output.as_ref().map(|output| output.to_json()),
            error: slot.error.clone(),
            wake_at: slot.wake_at,
            usage: None,
            progress_at: None,
        })
        .collect()
}

/// A record of `id` in `state` (attempt 1), with `output`.
pub(super) fn record(id: &str, state: StepState, output: Option<Value>) -> StepRecord {
    StepRecord {
        state,
        attempt: 1,
        output,
        error: (state == StepState::Failed).then(|| "exit_code: exit 1".to_owned()),
        ..StepRecord::pending(id)
    }
}

#[test]
fn a_pipeline_runs_in_order_and_the_run_succeeds_with_its_sinks_outputs() {
    let mut ledger = new_run(json!({"name": "p", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "with": {"x": "${{ steps.a.output + input.n }}"}}
    ]}]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["a"]);
    let first = ledger.take_batch();
    assert_eq!(run_moves(&first), [(RunState::Pending, RunState::Running)]);
    assert_eq!(
        moves(&first),
        ["a: pending -> ready", "a: ready -> running"]
    );

    let mut outcome = Outcome::success(json!(40));
    outcome.usage.input_tokens = 5;
    ledger
        .apply(Input::Completed { step: 0, outcome }, at(1))
        .unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    let second = ledger.take_batch();
    let steps: Vec<&StepTransition> = (second.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) => Some(step),
            Transition::Run(_) => None,
        })
        .collect();
    assert_eq!(
        (
            steps[0].to,
            steps[0].output.as_ref().map(|output| output.to_json())
        ),
        (StepState::Succeeded, Some(json!(40))),
        "the output commits with `succeeded`"
    );
    assert_eq!(
        steps[0].usage.as_ref().map(|usage| usage.input_tokens),
        Some(5)
    );
    assert!(
        steps[1..]
            .iter()
            .all(|step| step.output.is_none() && step.usage.is_none()),
        "b carries neither output nor usage yet"
    );
    assert_eq!(starts[0].actions.all()[0].params, json!({"x": 42}));
    assert_eq!(starts[0].actions.all()[0].attempt, 1);
    ledger.apply(done(1, json!("out")), at(2)).unwrap();
    assert!(ledger.turn(at(2)).unwrap().is_empty());
    assert!(ledger.is_over());
    let report = ledger.report();
    assert_eq!(report.state, RunState::Succeeded);
    assert_eq!(report.output, Some(json!({"b": "out"})));
}

#[test]
fn for_each_renders_one_action_per_item_in_item_order() {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "for_each": "${{ [3, 1, 2] }}",
         "with": {"value": "${{ item * 10 }}", "at": "${{ index }}"}}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    let actions = &starts[0].actions.all();
    let params: Vec<Value> = actions.iter().map(|action| action.params.clone()).collect();
    assert_eq!(
        params,
        [
            json!({"value": 30, "at": 0}),
            json!({"value": 10, "at": 1}),
            json!({"value": 20, "at": 2})
        ]
    );
    let keys: Vec<Option<usize>> = actions.iter().map(|action| action.item_index).collect();
    assert_eq!(keys, [Some(0), Some(1), Some(2)]);
    assert!(starts[0].for_each);
    assert!(actions[2].idempotency_key.ends_with("/each/2"));
}

#[test]
fn every_attempt_reads_the_run_id_and_the_workflow_name_as_run() {
    let mut ledger = new_run(json!({"name": "facts", "steps": [
        {"id": "a", "executor": "noop", "with": {"v": "${{ run.workflow }} ${{ run.id }}"}},
        {"id": "b", "executor": "noop", "needs": ["a"], "with": {"v": "${{ run.id }}"}}
    ]}));
    let run_id = ledger.run_id.to_string();
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(
        starts[0].actions.all()[0].params["v"],
        format!("facts {run_id}")
    );
    ledger.apply(done(0, json!(null)), at(1)).unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(starts[0].actions.all()[0].params["v"], run_id.as_str());
}

#[test]
fn a_false_when_skips_the_step_and_what_needs_it() {
    let mut ledger = new_run(json!({"name": "w", "steps": [{"pipeline": [
        {"id": "maybe", "executor": "noop", "when": "input.n > 5"},
        {"id": "after", "executor": "noop"}
    ]}]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert!(starts.is_empty());
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        [
            "maybe: pending -> ready",
            "maybe: ready -> skipped",
            "after: pending -> skipped"
        ]
    );
    assert_eq!(ledger.report().state, RunState::Succeeded);
    assert_eq!(ledger.report().output, Some(json!({})));
}

#[test]
fn an_executor_that_panicked_fails_the_step_and_is_not_retried() {
    let mut ledger = new_run(json!({"name": "p", "steps": [
        {"id": "a", "executor": "noop", "retry": {"max_attempts": 5}}
    ]}));
    ledger.turn(at(0)).unwrap();
    let panicked = failed(0, ErrorClass::Panicked, "the executor panicked: boom");
    ledger.apply(panicked, at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::Panicked));
    assert!(report.error.unwrap().contains("boom"));
}

#[test]
fn an_output_is_kept_in_memory_while_an_unfinished_step_may_read_it() {
    let mut ledger = new_run(json!({"name": "o", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}},
        {"id": "c", "executor": "noop"},
        {"id": "d", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}
    ]}]}));
    let kept = |ledger: &Ledger| -> Vec<bool> {
        (ledger.slots.iter())
            .map(|slot| slot.output.is_some())
            .collect()
    };
    for (step, output) in [(0, "a"), (1, "b"), (2, "c")] {
        ledger.turn(at(step as i64)).unwrap();
        ledger
            .apply(done(step, json!(output)), at(step as i64))
            .unwrap();
    }
    assert_eq!(
        kept(&ledger),
        [true, false, false, false],
        "d reads a; no one reads b or c"
    );
    let starts = ledger.turn(at(3)).unwrap();
    assert_eq!(starts[0].actions.all()[0].params, json!({"x": "a"}));
    ledger.apply(done(3, json!("d")), at(3)).unwrap();
    ledger.turn(at(3)).unwrap();
    assert_eq!(
        kept(&ledger),
        [false, false, false, false],
        "the sink's output moved into the run's"
    );
    assert_eq!(ledger.report().output, Some(json!({"d": "d"})));
    let batch = ledger.take_batch();
    let committed: Vec<Value> = (batch.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) => step.output.as_ref().map(|output| output.to_json()),
            Transition::Run(_) => None,
        })
        .collect();
    assert_eq!(committed, [json!("a"), json!("b"), json!("c"), json!("d")]);

    // A plan that can grow keeps every output: a plan it adds may read any step.
    let mut grows = new_run(json!({"name": "g", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"}, {"id": "p", "executor": "noop", "planner": true}
    ]}]}));
    grows.turn(at(0)).unwrap();
    grows.apply(done(0, json!("a")), at(0)).unwrap();
    assert_eq!(kept(&grows), [true, false]);
}

#[test]
fn the_deadline_cancels_what_has_not_ended_and_fails_the_run() {
    let mut ledger = new_run(json!({"name": "t", "limits": {"timeout": "1m"}, "steps": [
        {"pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]}
    ]}));
    assert_eq!(ledger.deadline(), Some(at(60)));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger.apply(Input::TimedOut, at(60)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> cancelled", "b: pending -> cancelled"]
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Timeout));
}

#[test]
fn a_step_the_deadline_cancels_as_it_waits_to_retry_keeps_its_last_attempt_s_error() {
    let mut ledger = new_run(json!({"name": "t", "limits": {"timeout": "1m"}, "steps": [
        {"id": "a", "executor": "noop", "retry": {"max_attempts": 3, "initial_delay": "30s"}},
        {"id": "b", "executor": "noop", "needs": ["a"]}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger
        .apply(failed(0, ErrorClass::ExitCode, "exit 1"), at(1))
        .unwrap();
    assert_eq!(ledger.slots[0].state, StepState::RetryWait);
    ledger.take_batch();
    ledger.apply(Input::TimedOut, at(60)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: retry_wait -> cancelled", "b: pending -> cancelled"]
    );
    let error = |step: &str| {
        let records = records_after(&ledger);
        let record = records
            .into_iter()
            .find(|record| record.id == step)
            .unwrap();
        record.error
    };
    let why = "cancelled: the run timed out while it waited to retry; its last attempt: exit_code: exit 1";
    assert_eq!(error("a").as_deref(), Some(why));
    // A step the deadline reached says so (probe 79 F3).
    assert_eq!(error("b").as_deref(), Some("cancelled: the run timed out"));
}

#[test]
fn an_illegal_transition_is_refused_and_changes_nothing() {
    let mut ledger = new_run(json!({"name": "x", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}
    ]}]}));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    // `b` is pending: an outcome for it would be `pending -> succeeded`.
    let error = ledger.apply(done(1, json!(1)), at(1)).unwrap_err();
    assert!(matches!(error, Error::Bug(_)), "{error:?}");
    assert!(ledger.take_batch().is_empty());
    assert_eq!(ledger.slots[1].state, StepState::Pending);
    // Straight at the table: `pending -> succeeded` is not in it.
    let error = ledger.set_step(1, StepState::Succeeded, None).unwrap_err();
    assert!(matches!(error, Error::IllegalTransition(_)), "{error:?}");
    assert_eq!(ledger.slots[1].state, StepState::Pending);
    assert!(ledger.take_batch().is_empty());
}

#[test]
fn a_template_error_fails_the_attempt_before_it_starts() {
    let mut ledger = new_run(json!({"name": "e", "steps": [
        {"id": "a", "executor": "noop", "with": {"x": "${{ input.missing.deeper }}"}}
    ]}));
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    let attempts: Vec<(StepState, u32)> = (ledger.take_batch().transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) => Some((step.to, step.attempt)),
            Transition::Run(_) => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (StepState::Ready, 0),
            (StepState::Running, 1),
            (StepState::Failed, 1)
        ],
        "the attempt that could not start is recorded as attempt 1"
    );
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::BadParams));
    assert!(report.error.unwrap().contains("`with`"));
}

#[test]
fn a_join_waits_for_every_step_it_needs() {
    let mut ledger = new_run(json!({"name": "j", "steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop"},
        {"id": "join", "executor": "noop", "needs": ["a", "b"]}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger.apply(done(0, json!(1)), at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty(), "b is still running");
    ledger.apply(done(1, json!(2)), at(2)).unwrap();
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["join"]);
}

#[test]
fn attempts_that_ended_as_the_engine_stopped_are_kept_and_end_the_run_when_they_were_its_last() {
    let workflow = json!({"name": "g", "steps": [{"parallel": [
        {"id": "a", "executor": "noop", "retry": {"max_attempts": 1}},
        {"id": "b", "executor": "noop"}
    ]}]});
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    // The engine stops: a's attempt timed out in its kill grace, b's program had exited.
    let timed_out = Outcome::failure(ErrorClass::Timeout, "timed out");
    assert!(
        ledger.keeps_at_interruption(0, &timed_out, false),
        "a time-out is over"
    );
    let cancelled = Outcome::failure(ErrorClass::Cancelled, "cancelled");
    assert!(
        !ledger.keeps_at_interruption(0, &cancelled, false),
        "a cancel is the stop's own"
    );
    let a = Input::Completed {
        step: 0,
        outcome: timed_out,
    };
    ledger.apply(a, at(1)).unwrap();
    ledger.apply(done(1, json!("b")), at(1)).unwrap();
    ledger.apply(Input::Interrupted, at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> failed", "b: running -> succeeded"]
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
}

mod batches;
mod output_checks;
mod parallel;
mod retries;
mod takeover;

pub(super) use batches::{batches_to_the_end, longer_than_a_batch, wider_than_a_batch};
