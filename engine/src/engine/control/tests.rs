//! Approvals, retries and redrives through the engine, on real stores: refusals leave the
//! store as it was; a redrive a crash cut short is carried on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::Notify;

use async_trait::async_trait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::command::{Command, PendingCommand, Request, Ruling};
use crate::event::EventKind;
use crate::executor::{Action, ErrorClass, ExecContext, Executor, Outcome};
use crate::lease::{self, LeaseAttempt, LeaseHolder};
use crate::state::{Batch, StepState};
use crate::store::MemoryStore;
use crate::{Engine, Error, RunHandle, RunState};

/// Fails a step whose `with` says `fail`; else succeeds.
#[derive(Debug)]
struct FailsWhenAsked;

#[async_trait]
impl Executor for FailsWhenAsked {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        if action.params["fail"] == json!(true) {
            Outcome::failure(ErrorClass::BadParams, "asked to")
        } else {
            Outcome::success(json!(null))
        }
    }
}

/// A failed run of steps `ids` (the first one fails), and the engine it ran on.
async fn failed_run(ids: &[String]) -> (Engine, String) {
    let steps: Vec<_> = (ids.iter().enumerate())
        .map(|(i, id)| json!({"id": id, "executor": "fails", "with": {"fail": i == 0}}))
        .collect();
    failed_with(steps).await
}

/// A failed run of `steps` (of the executor `fails`), and the engine it ran on.
async fn failed_with(steps: Vec<serde_json::Value>) -> (Engine, String) {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("fails", Arc::new(FailsWhenAsked))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "w", "steps": steps});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let report = engine.start(plan, json!({})).await.unwrap().wait().await;
    let report = report.unwrap();
    assert_eq!(report.state, RunState::Failed);
    (engine, report.id.to_string())
}

async fn refusal(ids: &[&str], from: &str) -> String {
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    let (engine, run) = failed_run(&ids).await;
    match engine.retry(&run, Some(from)).await {
        Err(Error::Refused { message, .. }) => message,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn an_ended_run_takes_a_command_only_while_an_engine_redrives_it() {
    let (engine, run) = failed_run(&["a".into(), "b".into()]).await;
    let run_id: Uuid = run.parse().unwrap();
    let cancel = || Command::Cancel(Request::new("me", None));
    let refused = engine.send(&run, cancel()).await;
    assert!(matches!(refused, Err(Error::Finished(_))), "{refused:?}");
    // Another engine of this host is sending the run's steps back a batch at a time: it
    // holds the lease, and the run stays failed until its last batch.
    let store = engine.store();
    let redriver = LeaseHolder {
        owner: "redriver".into(),
        ..lease::this_process()
    };
    let ttl = Duration::from_secs(60);
    let taken = store.acquire_lease(run_id, &redriver, ttl, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    assert_eq!(engine.send(&run, cancel()).await.unwrap(), run_id);
    // A resume is told whose lease it is, not the end the run had (probe 39 F7).
    let resumed = engine.resume(&run).await;
    assert!(
        matches!(&resumed, Err(Error::LeaseHeld { holder, .. }) if holder.owner == "redriver"),
        "{:?}",
        resumed.err()
    );
    let pending = store.pending_commands(run_id).await.unwrap();
    assert!(matches!(
        pending[..],
        [PendingCommand {
            command: Command::Cancel(_),
            ..
        }]
    ));
    // A redriver whose lease ran out, or whose process is gone, takes nothing.
    assert!(
        store
            .renew_lease(run_id, "redriver", Duration::ZERO)
            .await
            .unwrap()
    );
    let refused = engine.send(&run, cancel()).await;
    assert!(matches!(refused, Err(Error::Finished(_))), "{refused:?}");
    let gone = LeaseHolder {
        owner: "gone".into(),
        pid: u32::MAX,
        ..redriver
    };
    let taken = store.acquire_lease(run_id, &gone, ttl, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    let refused = engine.send(&run, cancel()).await;
    assert!(matches!(refused, Err(Error::Finished(_))), "{refused:?}");
    assert_eq!(store.pending_commands(run_id).await.unwrap().len(), 1);
}

/// Succeeds with the order it ran steps in (`{"n": ...}`), a plan of one step `x` when
/// its `with` says `plan`; fails a step whose `with` says `fail` while `broken`.
#[derive(Debug, Default)]
struct Ordered {
    broken: AtomicBool,
    ran: AtomicU64,
}

#[async_trait]
impl Executor for Ordered {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        if action.params["fail"] == json!(true) && self.broken.load(SeqCst) {
            return Outcome::failure(ErrorClass::BadParams, "broken");
        }
        let n = self.ran.fetch_add(1, SeqCst);
        match action.params["plan"] == json!(true) {
            true => Outcome::success(json!({"steps": [{"id": "x", "executor": "t"}]})),
            false => Outcome::success(json!({ "n": n })),
        }
    }
}

/// A run of `steps` on SQLite in `dir`, failed while `executor` was broken; `executor`
/// is fixed before it returns.
async fn failed_on_sqlite(
    dir: &Path,
    steps: Vec<serde_json::Value>,
    executor: &Arc<Ordered>,
) -> (Engine, Uuid) {
    executor.broken.store(true, SeqCst);
    let engine = Engine::builder(dir.join("cairn.db"))
        .executor("t", Arc::clone(executor) as Arc<dyn Executor>)
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "w", "limits": {"max_parallel": 1000}, "steps": steps});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let report = engine.start(plan, json!({})).await.unwrap().wait().await;
    let report = report.unwrap();
    assert_eq!(report.state, RunState::Failed);
    executor.broken.store(false, SeqCst);
    (engine, report.id)
}

/// Tells `started` when its attempt starts, then waits for the attempt to be cancelled.
#[derive(Debug, Default)]
struct Hangs {
    started: Notify,
}

#[async_trait]
impl Executor for Hangs {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        self.started.notify_one();
        ctx.cancel.cancelled().await;
        Outcome::failure(ErrorClass::Cancelled, "cancelled")
    }
}

/// Records a cancel of run `run` in the database in `dir` (with the pause's request) just
/// before the run's lease is next released, once a pause was sent: another process's
/// cancel that found the lease held, and left the cancel to its holder. Returns the
/// connection that made the trigger.
fn cancel_at_release(dir: &Path, run: Uuid) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("cairn.db")).unwrap();
    let trigger = format!(
        "CREATE TRIGGER cancel_meanwhile BEFORE UPDATE OF lease_owner ON runs
         WHEN NEW.id = '{run}' AND OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL
              AND NOT EXISTS (SELECT 1 FROM commands WHERE run_id = NEW.id AND kind = 'cancel')
         BEGIN
             INSERT INTO commands (run_id, kind, payload, created_at)
             SELECT run_id, 'cancel', json_set(payload, '$.kind', 'cancel'), created_at
             FROM commands WHERE run_id = NEW.id AND kind = 'pause';
         END"
    );
    conn.execute_batch(&trigger).unwrap();
    conn
}

/// The states run `run` moved to, in order.
async fn run_moves(engine: &Engine, run: Uuid) -> Vec<RunState> {
    let history = engine.store().history(run).await.unwrap();
    (history.iter())
        .filter_map(|event| match event.kind {
            EventKind::Run { to, .. } => Some(to),
            _ => None,
        })
        .collect()
}

/// An engine over the database in `dir` whose `hangs` executor is `hangs`.
async fn hanging_engine(dir: &Path, hangs: &Arc<Hangs>) -> Engine {
    Engine::builder(dir.join("cairn.db"))
        .executor("hangs", Arc::clone(hangs) as Arc<dyn Executor>)
        .open()
        .await
        .unwrap()
}

/// A run in the database in `dir` whose engine stopped while its step hung: a run no
/// engine drives.
async fn undriven(dir: &Path) -> Uuid {
    let hangs = Arc::new(Hangs::default());
    let engine = hanging_engine(dir, &hangs).await;
    let workflow = json!({"name": "w", "steps": [{"id": "a", "executor": "hangs"}]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    hangs.started.notified().await;
    engine.shutdown();
    let run = handle.wait().await.unwrap();
    assert_eq!(run.state, RunState::Running);
    run.id
}

#[tokio::test]
async fn a_cancel_sent_while_a_pause_holds_the_lease_of_an_undriven_run_is_applied_by_the_pause() {
    let dir = tempfile::tempdir().unwrap();
    let hangs = Arc::new(Hangs::default());
    let engine = || hanging_engine(dir.path(), &hangs);
    let run = undriven(dir.path()).await;
    // Another process's cancel, recorded once the pause below has carried itself out and
    // just before it gives the lease back: that process found the lease held, and left
    // the cancel to its holder.
    let _trigger = cancel_at_release(dir.path(), run);
    let pause = Command::Pause(Request::new("ann", None));
    let second = engine().await;
    second.send(&run.to_string(), pause).await.unwrap();
    let moves = run_moves(&second, run).await;
    assert_eq!(
        moves[moves.len() - 2..],
        [RunState::Paused, RunState::Cancelled]
    );
    let pending = second.store().pending_commands(run).await.unwrap();
    assert!(pending.is_empty(), "{pending:?}");
}

/// Tells `started` when its attempt starts, then succeeds once `open` is notified.
#[derive(Debug, Default)]
struct Gate {
    started: Notify,
    open: Notify,
}

#[async_trait]
impl Executor for Gate {
    async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
        self.started.notify_one();
        self.open.notified().await;
        Outcome::success(json!(null))
    }
}

/// An engine over the database in `dir` whose `gate` executor is `gate`, and the run it
/// started of a workflow of `steps`.
async fn start_gated(dir: &Path, gate: &Arc<Gate>, steps: Value) -> (Engine, RunHandle) {
    let engine = Engine::builder(dir.join("cairn.db"))
        .executor("gate", Arc::clone(gate) as Arc<dyn Executor>)
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "w", "steps": steps});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    (engine, handle)
}

#[tokio::test]
async fn a_cancel_sent_while_the_engine_that_paused_the_run_holds_its_lease_is_applied_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Gate::default());
    let steps = json!([
        {"id": "a", "executor": "gate"},
        {"id": "b", "executor": "gate", "needs": ["a"]}
    ]);
    let (engine, handle) = start_gated(dir.path(), &gate, steps).await;
    let run = handle.id();
    gate.started.notified().await;
    let _trigger = cancel_at_release(dir.path(), run);
    let pause = Command::Pause(Request::new("ann", None));
    engine.send(&run.to_string(), pause).await.unwrap();
    // a ends; the run pauses before b starts, and its driver gives the lease back.
    gate.open.notify_one();
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    let moves = run_moves(&engine, run).await;
    assert_eq!(
        moves[moves.len() - 2..],
        [RunState::Paused, RunState::Cancelled]
    );
    let pending = engine.store().pending_commands(run).await.unwrap();
    assert!(pending.is_empty(), "{pending:?}");
}

#[tokio::test]
async fn a_denial_without_a_reason_is_refused_and_a_retry_says_the_run_succeeded() {
    let (engine, run) = failed_run(&["a".into()]).await;
    for reason in [None, Some(String::new()), Some("   ".to_owned())] {
        let deny = Command::Deny(Ruling {
            step: "a".into(),
            item: None,
            by: "bob".into(),
            reason,
        });
        match engine.send(&run, deny).await {
            Err(Error::Refused { message, .. }) => {
                assert!(message.starts_with("a denial needs a reason"), "{message}");
            }
            other => panic!("not refused: {other:?}"),
        }
    }
    let workflow = json!({"name": "w", "steps": [{"id": "a", "executor": "fails"}]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let report = engine.start(plan, json!({})).await.unwrap().wait().await;
    let succeeded = report.unwrap().id.to_string();
    match engine.retry(&succeeded, None).await {
        Err(Error::Refused { message, .. }) => assert_eq!(
            message,
            "the run succeeded; only a failed or cancelled run can be retried"
        ),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_step_is_refused_with_the_closest_id_or_the_few_ids() {
    assert_eq!(
        refusal(&["build", "test", "deploy"], "tset").await,
        "no step `tset` (did you mean `test`?)"
    );
    assert_eq!(
        refusal(&["build", "test", "deploy"], "lint").await,
        "no step `lint` (the run's steps: build, test, deploy)"
    );
    let many: Vec<String> = (0..25).map(|i| format!("step{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        refusal(&many, "lint").await,
        "no step `lint` (none of the run's 25 steps is close)"
    );
}

#[tokio::test]
async fn a_group_named_where_a_step_is_asked_for_is_refused_with_its_steps() {
    let (engine, run) = failed_with(vec![json!({"id": "checks", "pipeline": [
        {"id": "lint", "executor": "fails", "with": {"fail": true}},
        {"id": "test", "executor": "fails"}
    ]})])
    .await;
    match engine.retry(&run, Some("checks")).await {
        Err(Error::Refused { message, .. }) => assert_eq!(
            message,
            "`checks` is a pipeline group, not a step: name one of its steps (lint, test)"
        ),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_pause_recorded_but_not_carried_out_stands_and_the_next_takeover_carries_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let hangs = Arc::new(Hangs::default());
    let engine = || hanging_engine(dir.path(), &hangs);
    let run = undriven(dir.path()).await;
    // The pause is recorded, then its commit fails (another process locked the database
    // meanwhile, as the store sees it).
    let conn = rusqlite::Connection::open(dir.path().join("cairn.db")).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER locked BEFORE UPDATE OF state ON runs
         WHEN NEW.id = '{run}' AND NEW.state = 'paused'
         BEGIN SELECT RAISE(ABORT, 'locked meanwhile'); END"
    ))
    .unwrap();
    let pause = Command::Pause(Request::new("ann", None));
    let second = engine().await;
    let sent = second.send(&run.to_string(), pause).await;
    assert_eq!(sent.unwrap(), run, "recorded: the command stands");
    let record = second.store().find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.state, RunState::Running, "not carried out");
    let pending = second.store().pending_commands(run).await.unwrap();
    assert!(matches!(
        pending[..],
        [PendingCommand {
            command: Command::Pause(_),
            ..
        }]
    ));
    // The next takeover carries it out.
    conn.execute_batch("DROP TRIGGER locked").unwrap();
    let third = engine().await;
    for (_, taken) in third.recover().await.unwrap() {
        assert_eq!(taken.unwrap().wait().await.unwrap().state, RunState::Paused);
    }
    let record = third.store().find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.state, RunState::Paused);
}

/// The engine's log as a test hears it, on the test's thread (a `#[tokio::test]` runs every
/// task there): rings `heard` when a line logged says `what`.
struct Hears {
    what: &'static str,
    heard: Arc<Notify>,
}

/// The message of one line logged.
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Hears {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = Message::default();
        event.record(&mut message);
        if message.0.contains(self.what) {
            self.heard.notify_one();
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A retry judges the run as it stood when its lease was taken (read in the same
/// transaction), not by reading its record again: here the record turns unreadable (a cap
/// out of range, written by a trigger) the moment the lease is taken. A second read failed
/// the retry and left the lease written.
#[tokio::test]
async fn a_retry_reads_the_runs_record_once_and_leaves_no_lease() {
    let dir = tempfile::tempdir().unwrap();
    let executor = Arc::new(Ordered::default());
    let steps = vec![json!({"id": "bad", "executor": "t", "with": {"fail": true}})];
    let (engine, run) = failed_on_sqlite(dir.path(), steps, &executor).await;
    let conn = rusqlite::Connection::open(dir.path().join("cairn.db")).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER unreadable AFTER UPDATE OF lease_owner ON runs
         WHEN NEW.id = '{run}' AND OLD.lease_owner IS NULL AND NEW.lease_owner IS NOT NULL
         BEGIN UPDATE runs SET max_output_bytes = -1 WHERE id = NEW.id; END"
    ))
    .unwrap();
    let retried = engine.retry(&run.to_string(), None).await;
    conn.execute_batch("DROP TRIGGER unreadable; UPDATE runs SET max_output_bytes = NULL")
        .unwrap();
    let report = retried.unwrap().wait().await.unwrap();
    assert_eq!(report.state, RunState::Succeeded);
    let record = engine.store().find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.lease, None);
}

/// An approval of a ready step of a paused run says the run is paused: the refusal said
/// the step waited for its turn, a rate limit or a budget (probe 33 F5).
#[tokio::test]
async fn a_ruling_on_a_ready_step_of_a_paused_run_says_the_run_is_paused() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Gate::default());
    let steps = json!([
        {"id": "a", "executor": "gate"},
        {"id": "b", "executor": "gate", "needs": ["a"]}
    ]);
    let (engine, handle) = start_gated(dir.path(), &gate, steps).await;
    let run = handle.id().to_string();
    gate.started.notified().await;
    engine
        .send(&run, Command::Pause(Request::new("ann", None)))
        .await
        .unwrap();
    gate.open.notify_one();
    assert_eq!(handle.wait().await.unwrap().state, RunState::Paused);
    let approve = Command::Approve(Ruling {
        step: "b".into(),
        item: None,
        by: "bob".into(),
        reason: None,
    });
    match engine.send(&run, approve).await {
        Err(Error::Refused { message, .. }) => assert_eq!(
            message,
            "step `b` does not await approval (it is ready, and the run is paused: it starts, \
             and is judged if the run has a guard, once the run is resumed)"
        ),
        other => panic!("not refused: {other:?}"),
    }
}

mod guards;
mod halts;
mod leases;
mod redrives;
