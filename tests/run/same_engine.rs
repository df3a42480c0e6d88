//! One engine, called again for a run it drives, after it shut down, or with a run id it
//! knows: it starts nothing twice and creates no second run.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cairn::engine::store::{MemoryStore, Store};
use cairn::engine::{
    Action, Engine, Error, ErrorClass, ExecContext, Executor, Outcome, RunFilter, RunState,
};
use serde_json::json;
use tokio::sync::{Notify, watch};

/// Long enough for any healthy run on a loaded machine: a broken test fails, never hangs.
const DEADLINE: Duration = Duration::from_secs(60);

/// `future`, or a panic naming `what` once [`DEADLINE`] has passed.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after {DEADLINE:?}"))
}

/// Counts its executions per step, then waits for its gate to open and returns
/// `with.output` (or fails, when the attempt is cancelled first).
#[derive(Debug)]
struct Gated {
    executions: Mutex<BTreeMap<String, usize>>,
    /// Notified at every execution's start.
    started: Notify,
    gate: watch::Receiver<bool>,
}

impl Gated {
    /// The executor and the sender that opens its gate (by sending `true`).
    fn new() -> (Arc<Gated>, watch::Sender<bool>) {
        let (open, gate) = watch::channel(false);
        let gated = Gated {
            executions: Mutex::default(),
            started: Notify::new(),
            gate,
        };
        (Arc::new(gated), open)
    }

    fn executions(&self) -> BTreeMap<String, usize> {
        self.executions.lock().unwrap().clone()
    }
}

#[async_trait]
impl Executor for Gated {
    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        *(self.executions.lock().unwrap())
            .entry(action.step_id.clone())
            .or_default() += 1;
        self.started.notify_one();
        let mut gate = self.gate.clone();
        tokio::select! {
            _ = gate.wait_for(|open| *open) => {
                Outcome::success(action.params["output"].clone())
            }
            () = ctx.cancel.cancelled() => {
                Outcome::failure(ErrorClass::Cancelled, "cancelled at the gate")
            }
        }
    }
}

/// A pipeline of two gated steps; the second echoes the input.
const WORKFLOW: &str = r#"{"name": "gated", "steps": [{"pipeline": [
    {"id": "first", "executor": "gated", "with": {"output": 1}},
    {"id": "second", "executor": "gated", "with": {"output": "${{ input.n }}"}}
]}]}"#;

/// An engine over `store` whose only executor is `gated`.
async fn engine(store: &Arc<MemoryStore>, gated: &Arc<Gated>) -> Engine {
    let store: Arc<dyn Store> = store.clone();
    Engine::builder_with_store(store)
        .executor("gated", gated.clone())
        .open()
        .await
        .unwrap()
}

#[tokio::test]
async fn resume_and_recover_of_a_run_this_engine_drives_start_nothing() {
    let (gated, open) = Gated::new();
    let engine = engine(&Arc::new(MemoryStore::new()), &gated).await;
    let plan = engine.load_str(WORKFLOW, "gated.json").unwrap();
    let run = engine.start(plan, json!({"n": 2})).await.unwrap();
    within("the first step to start", gated.started.notified()).await;

    let resumed = engine.resume(&run.id().to_string()).await;
    assert!(
        matches!(resumed, Err(Error::AlreadyDriving(id)) if id == run.id()),
        "{resumed:?}"
    );
    let recovered = engine.recover().await.unwrap();
    assert!(recovered.is_empty(), "{recovered:?}");

    open.send(true).unwrap();
    let report = within("the run to end", run.wait()).await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(report.output, Some(json!({"second": 2})));
    let once = BTreeMap::from([("first".to_owned(), 1), ("second".to_owned(), 1)]);
    assert_eq!(gated.executions(), once);
    assert_eq!(engine.runs(&RunFilter::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_run_is_shown_with_its_outputs_or_without_them() {
    let (gated, open) = Gated::new();
    let engine = engine(&Arc::new(MemoryStore::new()), &gated).await;
    let plan = engine.load_str(WORKFLOW, "gated.json").unwrap();
    open.send(true).unwrap();
    let run = engine.start(plan, json!({"n": 2})).await.unwrap();
    let id = run.id().to_string();
    within("the run to end", run.wait()).await.unwrap();

    let whole = engine.view(&id).await.unwrap();
    let mut states = engine.view_without_outputs(&id).await.unwrap();
    assert!(whole.steps.iter().all(|step| step.output.is_some()));
    assert!(states.steps.iter().all(|step| step.output.is_none()));
    let steps = engine.steps_without_outputs(&id).await.unwrap();
    assert_eq!(
        steps, states.steps,
        "the same steps, without the run around them"
    );
    for (step, read) in states.steps.iter_mut().zip(&whole.steps) {
        step.output = read.output.clone();
    }
    assert_eq!(states, whole, "the same view but for the outputs");
    assert_eq!(
        whole.input,
        json!({"n": 2}),
        "a view carries the run's input"
    );
}

#[tokio::test]
async fn an_engine_shut_down_starts_no_run() {
    let (gated, _open) = Gated::new();
    let engine = engine(&Arc::new(MemoryStore::new()), &gated).await;
    let plan = engine.load_str(WORKFLOW, "gated.json").unwrap();
    engine.shutdown();
    let started = engine.start(plan, json!({"n": 1})).await;
    assert!(matches!(started, Err(Error::ShutDown)), "{started:?}");
    assert!(engine.runs(&RunFilter::default()).await.unwrap().is_empty());
    assert!(gated.executions().is_empty());
}

#[tokio::test]
async fn starting_an_id_again_resumes_or_reports_the_run_never_a_second_one() {
    let store = Arc::new(MemoryStore::new());
    let (gated, open) = Gated::new();
    let id = "0190a9d4-0000-7000-8000-000000000001".parse().unwrap();
    let input = json!({"n": 3});

    // An engine starts the run and stops (as if it crashed) while the first step runs.
    let first = engine(&store, &gated).await;
    let plan = first.load_str(WORKFLOW, "gated.json").unwrap();
    let run = first.start_with_id(id, plan, input.clone()).await.unwrap();
    within("the first step to start", gated.started.notified()).await;
    first.shutdown();
    let stopped = within("the first engine to stop", run.wait())
        .await
        .unwrap();
    assert_eq!(stopped.state, RunState::Running, "{stopped:?}");

    // The start retried by another engine resumes the run.
    open.send(true).unwrap();
    let second = engine(&store, &gated).await;
    let plan = || second.load_str(WORKFLOW, "gated.json").unwrap();
    let run = second
        .start_with_id(id, plan(), input.clone())
        .await
        .unwrap();
    let report = within("the resumed run to end", run.wait()).await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(report.output, Some(json!({"second": 3})));

    // Retried once more, it reports how the run ended.
    match second.start_with_id(id, plan(), input).await {
        Err(Error::Finished(finished)) => assert_eq!(*finished, report),
        other => panic!("expected Finished, got {other:?}"),
    }
    // With another input, the id is taken.
    let other = second.start_with_id(id, plan(), json!({"n": 4})).await;
    assert!(
        matches!(other, Err(Error::RunExists(taken)) if taken == id),
        "{other:?}"
    );
    let runs = second.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].id, id);
    assert_eq!(gated.executions()["second"], 1);
}
