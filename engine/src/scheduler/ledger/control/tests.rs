//! Pause, cancel, the run's deadline at takeover, and redrives, with exact times.

use serde_json::{Value, json};

use super::super::tests::{
    at, batches_to_the_end, committed, done, failed, ids, longer_than_a_batch, moves, plan, record,
    records_after, run_moves, wider_than_a_batch,
};
use super::super::{BATCH_SLICE, Input, Judge, Ledger};
use super::Redrive;
use crate::command::{Command, PendingCommand, Request};
use crate::executor::ErrorClass;
use crate::state::{RunState, StepState};
use crate::store::StepRecord;

/// A ledger taking over `workflow` in `state` from `steps` at `now`.
pub(in super::super) fn take_over(
    workflow: &Value,
    state: RunState,
    steps: Vec<StepRecord>,
    now: i64,
    redrive: Option<Redrive>,
) -> Ledger {
    let plan = plan(workflow.clone());
    let steps = if steps.is_empty() {
        plan.steps()
            .iter()
            .map(|s| StepRecord::pending(&s.id))
            .collect()
    } else {
        steps
    };
    let run = committed(uuid::Uuid::nil(), plan, state, steps);
    Ledger::take_over(run, Judge::default(), 1 << 20, at(now), redrive).unwrap()
}

pub(in super::super) fn command(command: Command) -> Input {
    Input::Command(PendingCommand {
        id: 7,
        run_id: uuid::Uuid::nil(),
        command,
        created_at: at(0),
    })
}

/// The ids of the steps a turn at `second` starts.
pub(in super::super) fn started(ledger: &mut Ledger, second: i64) -> Vec<String> {
    let starts = ledger.turn(at(second)).unwrap();
    ids(ledger, &starts)
}

fn request() -> Request {
    Request::new("ann", None)
}

fn pipeline() -> Value {
    json!({"name": "p", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}, {"id": "c", "executor": "noop"}
    ]}]})
}

#[test]
fn a_run_past_its_deadline_at_takeover_ends_timed_out_and_starts_nothing() {
    let workflow = json!({"name": "t", "limits": {"timeout": "10s"}, "steps": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}
    ]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a", "b"]);
    let deadline = ledger.deadline();
    assert_eq!(deadline, Some(at(10)), "stored from the start");
    let records = records_after(&ledger);
    let mut later = take_over(&workflow, RunState::Running, records, 11, None);
    assert!(later.turn(at(11)).unwrap().is_empty());
    let batch = later.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> cancelled", "b: running -> cancelled"]
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
    assert_eq!(later.report().error_class, Some(ErrorClass::Timeout));
}

/// A time-out a crash cut off between its commits (probe 195 F1: more steps than a batch
/// takes) is carried on at the takeover: what needs a step it cancelled is cancelled too, not
/// skipped, and the run fails timed out, not cancelled — also when every step had ended and
/// only the run's own end was cut off.
#[test]
fn a_time_out_cut_off_between_its_commits_is_carried_on_at_the_takeover() {
    let workflow = json!({"name": "t", "limits": {"timeout": "10s"}, "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}
    ]}]});
    let timed_out = |id| StepRecord {
        error: Some(format!("cancelled: {}", super::super::TIMED_OUT)),
        ..record(id, StepState::Cancelled, None)
    };
    for (b, moved) in [(StepRecord::pending("b"), 1), (timed_out("b"), 0)] {
        let steps = vec![timed_out("a"), b];
        let mut later = take_over(&workflow, RunState::Running, steps, 11, None);
        assert!(later.turn(at(11)).unwrap().is_empty());
        let batch = later.take_batch();
        assert_eq!(moves(&batch), ["b: pending -> cancelled"][..moved]);
        assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
        assert_eq!(later.report().error_class, Some(ErrorClass::Timeout));
    }
    // A pause sent before the deadline waited for `a`, which the time-out cancelled: not
    // carried out at the takeover (probe 198 F2: the run moved to paused, then failed).
    let mut run = committed(
        uuid::Uuid::nil(),
        plan(workflow),
        RunState::Running,
        vec![timed_out("a"), StepRecord::pending("b")],
    );
    run.commands = vec![PendingCommand {
        id: 7,
        run_id: uuid::Uuid::nil(),
        command: Command::Pause(request()),
        created_at: at(5),
    }];
    let mut later = Ledger::take_over(run, Judge::default(), 1 << 20, at(11), None).unwrap();
    assert!(later.turn(at(11)).unwrap().is_empty());
    let batch = later.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
}

#[test]
fn a_new_run_past_its_deadline_before_its_first_turn_starts_then_ends_timed_out() {
    // Created at 0 with 10 s to run, taken over at 11: its deadline passed before it ran.
    let workflow = json!({"name": "t", "limits": {"timeout": "10s"}, "steps": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}
    ]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 11, None);
    assert!(ledger.is_over() && !ledger.has_work_left());
    let batch = ledger.take_batch();
    assert_eq!(
        run_moves(&batch),
        [
            (RunState::Pending, RunState::Running),
            (RunState::Running, RunState::Failed)
        ],
        "a run fails only once it runs"
    );
    assert_eq!(
        moves(&batch),
        ["a: pending -> cancelled", "b: pending -> cancelled"]
    );
    let report = ledger.report();
    assert_eq!(report.error_class, Some(ErrorClass::Timeout));
    assert_eq!(
        report.error.as_deref(),
        Some("the run timed out (limits.timeout = 10s)")
    );
    assert!(ledger.turn(at(11)).unwrap().is_empty());
    assert!(ledger.take_batch().is_empty(), "nothing is left to do");
}

#[test]
fn a_pause_lets_the_attempt_in_flight_finish_starts_nothing_and_resume_continues() {
    let mut ledger = take_over(&pipeline(), RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
        .apply(command(Command::Pause(request())), at(1))
        .unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert!(!ledger.is_paused(), "a is still running");
    ledger.apply(done(0, json!(1)), at(2)).unwrap();
    assert!(ledger.turn(at(2)).unwrap().is_empty(), "b does not start");
    assert!(ledger.is_paused());
    let batch = ledger.take_batch();
    assert!(
        batch.handled().is_empty(),
        "the store marks the pause with the run's move"
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    let mut resumed = take_over(
        &pipeline(),
        RunState::Paused,
        records_after(&ledger),
        9,
        None,
    );
    assert_eq!(started(&mut resumed, 9), ["b"]);
    let batch = resumed.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Paused, RunState::Running)]);
}

#[test]
fn a_halt_while_the_last_step_runs_lets_the_run_end_as_its_steps_say() {
    let one = json!({"name": "one", "steps": [{"id": "a", "executor": "noop"}]});
    for (halt, ends) in [
        (Input::Drain, (done(0, json!(1)), RunState::Succeeded)),
        (
            command(Command::Pause(request())),
            (done(0, json!(1)), RunState::Succeeded),
        ),
        (
            command(Command::Pause(request())),
            (failed(0, ErrorClass::ExitCode, "1"), RunState::Failed),
        ),
    ] {
        let mut ledger = take_over(&one, RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a"]);
        ledger.apply(halt, at(1)).unwrap();
        assert!(ledger.turn(at(1)).unwrap().is_empty());
        let (end, state) = ends;
        ledger.apply(end, at(2)).unwrap();
        ledger.turn(at(2)).unwrap();
        assert_eq!(ledger.report().state, state, "nothing is left to hold");
        assert!(!ledger.is_paused());
    }
}

#[test]
fn a_cancel_stops_the_attempts_in_flight_and_ends_every_other_step_and_the_run_cancelled() {
    let mut ledger = take_over(&pipeline(), RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
        .apply(command(Command::Cancel(request())), at(1))
        .unwrap();
    assert_eq!(ledger.take_cancels(), [0], "the shell cancels a");
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    ledger
        .apply(failed(0, ErrorClass::Cancelled, "cancelled"), at(2))
        .unwrap();
    ledger.turn(at(2)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        [
            "b: pending -> cancelled",
            "c: pending -> cancelled",
            "a: running -> cancelled"
        ]
    );
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
}

#[test]
fn a_paused_run_no_engine_drives_is_cancelled_at_once() {
    let mut ledger = take_over(&pipeline(), RunState::Paused, vec![], 0, None);
    ledger
        .apply(command(Command::Cancel(request())), at(1))
        .unwrap();
    ledger.settle_halt(at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(run_moves(&batch), [(RunState::Paused, RunState::Cancelled)]);
    assert!(ledger.is_over());
}

/// A cancel cut off by a crash after its first commit (probe 39 F4): taken over, its rest
/// ends cancelled, not skipped as the dependents of a step that ended cancelled.
#[test]
fn a_cancel_cut_off_is_carried_out_to_its_end_at_the_takeover() {
    let workflow = json!({"name": "c", "steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "needs": ["a"]},
        {"id": "c", "executor": "noop", "needs": ["b"]}
    ]});
    let cancelled = StepRecord {
        state: StepState::Cancelled,
        ..StepRecord::pending("a")
    };
    let steps = vec![
        cancelled,
        StepRecord::pending("b"),
        StepRecord::pending("c"),
    ];
    let mut ledger = take_over(&workflow, RunState::Running, steps, 0, None);
    ledger
        .apply(command(Command::Cancel(request())), at(1))
        .unwrap();
    ledger.turn(at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["b: pending -> cancelled", "c: pending -> cancelled"]
    );
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
}

/// A failed run of the pipeline: a succeeded, b failed, c skipped.
fn failed_pipeline() -> Vec<StepRecord> {
    let mut ledger = take_over(&pipeline(), RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger.apply(done(0, json!("a")), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    ledger
        .apply(failed(1, ErrorClass::ExitCode, "no"), at(2))
        .unwrap();
    ledger.turn(at(2)).unwrap();
    assert_eq!(ledger.report().state, RunState::Failed);
    records_after(&ledger)
}

#[test]
fn a_redrive_runs_again_what_failed_or_was_skipped_and_keeps_what_succeeded() {
    let mut ledger = take_over(
        &pipeline(),
        RunState::Failed,
        failed_pipeline(),
        5,
        Some(Redrive { from: None }),
    );
    assert_eq!(started(&mut ledger, 5), ["b"]);
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch)[..3],
        [
            "b: failed -> pending",
            "c: skipped -> pending",
            "b: pending -> ready"
        ]
    );
    assert_eq!(run_moves(&batch), [(RunState::Failed, RunState::Running)]);
    let crate::state::Transition::Step(reset) = &batch.transitions()[1] else {
        panic!("the steps move first")
    };
    assert_eq!(
        reset.detail,
        Some(json!({ "reason": "the run was redriven" }))
    );
    let crate::state::Transition::Run(run) = &batch.transitions()[2] else {
        panic!("then the run")
    };
    assert_eq!(
        run.detail.as_ref().unwrap()["redrive"]["steps"],
        json!(["b", "c"])
    );
    assert!(
        !moves(&batch).iter().any(|m| m.starts_with("a:")),
        "a is not run again"
    );
    assert_eq!(ledger.slots[1].attempt, 2, "attempts count across redrives");
}

#[test]
fn a_redrive_from_a_step_runs_it_and_everything_downstream_only() {
    let redrive = Some(Redrive {
        from: Some("a".into()),
    });
    let mut ledger = take_over(&pipeline(), RunState::Failed, failed_pipeline(), 5, redrive);
    assert_eq!(started(&mut ledger, 5), ["a"]);
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch)[..3],
        [
            "a: succeeded -> pending",
            "b: failed -> pending",
            "c: skipped -> pending"
        ]
    );
    let redrive = Some(Redrive {
        from: Some("c".into()),
    });
    let mut ledger = take_over(&pipeline(), RunState::Failed, failed_pipeline(), 5, redrive);
    assert!(
        ledger.turn(at(5)).unwrap().is_empty(),
        "c waits for b, which is not redriven"
    );
    assert_eq!(
        moves(&ledger.take_batch()),
        ["c: skipped -> pending", "c: pending -> skipped"]
    );
}

#[test]
fn a_cancel_of_more_steps_than_a_batch_takes_goes_on_batch_by_batch() {
    let workflow = wider_than_a_batch(json!({}));
    for settled in [false, true] {
        let mut ledger = take_over(&workflow, RunState::Paused, vec![], 0, None);
        let readied = batches_to_the_end(&mut ledger, true, at(0));
        assert_eq!(
            readied,
            [BATCH_SLICE, 100],
            "the roots made ready a batch at a time"
        );
        ledger
            .apply(command(Command::Cancel(request())), at(1))
            .unwrap();
        let batches = batches_to_the_end(&mut ledger, settled, at(1));
        assert_eq!(
            batches,
            [BATCH_SLICE, 101],
            "the steps, then the rest and the run"
        );
        assert_eq!(ledger.report().state, RunState::Cancelled);
    }
}

#[test]
fn a_redrive_of_more_steps_than_a_batch_takes_moves_the_run_with_its_last_batch() {
    let workflow = longer_than_a_batch(json!({"timeout": "1m"}));
    // The pipeline failed at its first step, which skipped every other one.
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    ledger
        .apply(failed(0, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    batches_to_the_end(&mut ledger, false, at(1));
    assert_eq!(ledger.report().state, RunState::Failed);
    let failed_run = records_after(&ledger);
    let redrive = || Some(Redrive { from: None });

    let mut ledger = take_over(
        &workflow,
        RunState::Failed,
        failed_run.clone(),
        5,
        redrive(),
    );
    let first = ledger.take_batch();
    assert_eq!(first.len(), BATCH_SLICE, "a batch of steps sent back");
    assert!(
        run_moves(&first).is_empty(),
        "the run stays failed meanwhile"
    );
    assert!(ledger.has_work_left() && !ledger.is_over());
    assert_eq!(
        ledger.deadline(),
        None,
        "the clock starts with the last batch"
    );
    let between = records_after(&ledger);

    let finish = |ledger: &mut Ledger| {
        assert_eq!(started(ledger, 6), ["s0"]);
        let last = ledger.take_batch();
        assert_eq!(run_moves(&last), [(RunState::Failed, RunState::Running)]);
        assert_eq!(
            last.len(),
            100 + 3,
            "the rest, the run, s0 ready and running"
        );
        assert!(!ledger.has_work_left());
        assert_eq!(ledger.deadline(), Some(at(66)));
        let pending = ledger.slots[1..].iter();
        assert!(
            pending
                .map(|slot| slot.state)
                .all(|s| s == StepState::Pending)
        );
    };
    finish(&mut ledger);
    // A crash between two batches: the run is still failed, and a retry sends back the rest.
    let mut retried = take_over(&workflow, RunState::Failed, between, 6, redrive());
    finish(&mut retried);
    // An engine stopping meanwhile commits the rest, starting nothing.
    let mut stopping = take_over(&workflow, RunState::Failed, failed_run, 5, redrive());
    stopping.take_batch();
    let rest = batches_to_the_end(&mut stopping, true, at(6));
    assert_eq!(rest, [100 + 2], "the rest, the run, s0 ready");
    assert_eq!(stopping.report().state, RunState::Running);
}

#[test]
fn a_command_sent_while_a_redrive_sends_its_steps_back_acts_once_the_run_moves() {
    let workflow = longer_than_a_batch(json!({}));
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    ledger.turn(at(0)).unwrap();
    let failure = failed(0, ErrorClass::ExitCode, "no");
    ledger.apply(failure, at(1)).unwrap();
    batches_to_the_end(&mut ledger, false, at(1));
    let failed_run = records_after(&ledger);
    let redriving = || {
        let redrive = Some(Redrive { from: None });
        let mut ledger = take_over(&workflow, RunState::Failed, failed_run.clone(), 5, redrive);
        assert_eq!(ledger.take_batch().len(), BATCH_SLICE, "the first batch");
        ledger
    };

    let mut cancelled = redriving();
    cancelled
        .apply(command(Command::Cancel(request())), at(6))
        .unwrap();
    let batches = batches_to_the_end(&mut cancelled, false, at(6));
    assert_eq!(cancelled.report().state, RunState::Cancelled);
    assert!(
        (cancelled.slots.iter()).all(|slot| slot.state == StepState::Cancelled),
        "every step sent back, then cancelled; none started"
    );
    // The last resets, the run running and its root ready; every step cancelled, the run too.
    assert_eq!(
        batches.iter().sum::<usize>(),
        100 + 2 + (BATCH_SLICE + 100) + 1
    );

    let mut paused = redriving();
    paused
        .apply(command(Command::Pause(request())), at(6))
        .unwrap();
    assert!(paused.turn(at(6)).unwrap().is_empty(), "nothing starts");
    assert_eq!(paused.report().state, RunState::Paused);
}

/// The detail of the last event of step `id` in `batch`.
fn step_detail(batch: &crate::state::Batch, id: &str) -> Option<Value> {
    (batch.transitions().iter().rev())
        .find_map(|transition| match transition {
            crate::state::Transition::Step(step) if step.step_id == id => Some(step.detail.clone()),
            _ => None,
        })
        .flatten()
}

/// A ledger of `pipeline()` that has committed `a` succeeded and `b` running (its attempt
/// not started yet), and been told of `halt` since.
fn b_committed_running_then(halt: Command) -> Ledger {
    let mut ledger = take_over(&pipeline(), RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a"]);
    ledger.apply(done(0, json!(1)), at(1)).unwrap();
    assert_eq!(started(&mut ledger, 1), ["b"]);
    ledger.take_batch();
    assert_eq!((ledger.tally.steps, ledger.tally.attempts), (2, 2));
    ledger.apply(command(halt), at(2)).unwrap();
    ledger
}

#[test]
fn an_attempt_not_started_under_a_pause_is_ready_again_uncounted_and_the_run_pauses() {
    let mut ledger = b_committed_running_then(Command::Pause(request()));
    ledger.apply(Input::NotStarted { step: 1 }, at(2)).unwrap();
    assert_eq!(
        (ledger.tally.steps, ledger.tally.attempts),
        (1, 1),
        "b's attempt did not start: it counts for no budget"
    );
    assert!(ledger.turn(at(2)).unwrap().is_empty(), "nothing starts");
    assert!(ledger.is_paused(), "nothing runs: the run pauses at once");
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["b: running -> ready"]);
    assert_eq!(
        step_detail(&batch, "b"),
        Some(json!({"not_started": "run paused"}))
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Paused)]);
    let records = records_after(&ledger);
    assert_eq!(
        (records[1].state, records[1].attempt),
        (StepState::Ready, 0)
    );
    let mut resumed = take_over(&pipeline(), RunState::Paused, records, 9, None);
    let starts = resumed.turn(at(9)).unwrap();
    assert_eq!(ids(&resumed, &starts), ["b"]);
    assert_eq!(
        starts[0].actions.all()[0].attempt,
        1,
        "b's first attempt, again"
    );
}

#[test]
fn an_attempt_not_started_under_a_cancel_is_cancelled_and_the_run_ends_cancelled() {
    let mut ledger = b_committed_running_then(Command::Cancel(request()));
    ledger.apply(Input::NotStarted { step: 1 }, at(2)).unwrap();
    assert!(ledger.turn(at(2)).unwrap().is_empty(), "nothing starts");
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["b: running -> cancelled", "c: pending -> cancelled"]
    );
    assert_eq!(
        step_detail(&batch, "b"),
        Some(json!({"not_started": "run cancelled"}))
    );
    assert_eq!(
        run_moves(&batch),
        [(RunState::Running, RunState::Cancelled)]
    );
    assert_eq!(ledger.report().state, RunState::Cancelled);
}

#[test]
fn a_for_each_attempt_not_started_takes_back_every_item() {
    let workflow = json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "for_each": "${{ [1, 2, 3] }}"}
    ]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["each"]);
    ledger.take_batch();
    ledger
        .apply(command(Command::Pause(request())), at(1))
        .unwrap();
    ledger.apply(Input::NotStarted { step: 0 }, at(1)).unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert!(ledger.is_paused());
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["each: running -> ready"]);
    let items: Vec<(usize, StepState, u32)> = (batch.items().iter())
        .map(|item| (item.index, item.state, item.attempt))
        .collect();
    assert_eq!(
        items,
        [
            (0, StepState::Pending, 0),
            (1, StepState::Pending, 0),
            (2, StepState::Pending, 0)
        ],
        "no item started"
    );
    assert_eq!((ledger.tally.steps, ledger.tally.attempts), (0, 0));
    ledger.halt = None; // As a resume finds it.
    let starts = ledger.turn(at(2)).unwrap();
    let attempts: Vec<(u32, Option<usize>)> = (starts[0].actions.all().into_iter())
        .map(|action| (action.attempt, action.item_index))
        .collect();
    assert_eq!(attempts, [(1, Some(0)), (1, Some(1)), (1, Some(2))]);
    assert_eq!(
        ledger.slots[0].attempt, 1,
        "the step's first attempt, again"
    );
}
