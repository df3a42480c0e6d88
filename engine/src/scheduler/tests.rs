//! The shell with real executors: panics and unregistered executors.

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::executor::{Action, ErrorClass, Executor, Outcome};
use crate::store::MemoryStore;
use crate::{Engine, EventKind, Plan, RunFilter, RunHandle, RunState, StepState};

/// Panics on every call.
#[derive(Debug)]
struct Panics;

#[async_trait]
impl Executor for Panics {
    async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
        panic!("boom")
    }
}

#[tokio::test]
async fn an_executor_that_panics_fails_its_step_and_the_engine_goes_on() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("panics", Arc::new(Panics))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "p", "steps": [
        {"id": "a", "executor": "panics", "retry": {"max_attempts": 3}}
    ]});
    let report = run_to_end(&engine, &workflow).await;
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::Panicked));
    assert!(report.error.unwrap().contains("boom"));
    let run = engine.view(&report.id.to_string()).await.unwrap();
    assert_eq!(run.steps[0].attempt, 1, "a panic is not retried");
}

/// Answers the run's cap on an output, as its context carries it.
#[derive(Debug)]
struct ReportsCap;

#[async_trait]
impl Executor for ReportsCap {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        Outcome::success(json!(ctx.max_output))
    }
}

#[tokio::test]
async fn each_item_is_given_the_runs_cap_on_an_output_as_a_step_is() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("cap", Arc::new(ReportsCap))
        .max_output_bytes(4_000)
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "c", "steps": [
        {"id": "step", "executor": "cap"},
        {"id": "items", "executor": "cap", "for_each": "${{ [0, 1] }}"}
    ]});
    let report = run_to_end(&engine, &workflow).await;
    let output = json!({"step": 4_000, "items": [4_000, 4_000]});
    assert_eq!(report.output, Some(output), "{report:?}");
}

/// An engine with the `panics` executor over `store`, and its plan of one `panics` step.
/// Starts `workflow` on `engine` and waits for the run's end.
async fn run_to_end(engine: &Engine, workflow: &serde_json::Value) -> RunReport {
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    engine
        .start(plan, json!({}))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
}

async fn with_panics(store: &Arc<MemoryStore>) -> (Engine, Plan) {
    let engine = Engine::builder_with_store(store.clone())
        .executor("panics", Arc::new(Panics))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "p", "steps": [{"id": "a", "executor": "panics"}]});
    let plan = engine.load_str(&workflow.to_string(), "p.json").unwrap();
    (engine, plan)
}

#[tokio::test]
async fn a_plan_naming_an_executor_the_engine_lacks_does_not_start() {
    let store = Arc::new(MemoryStore::new());
    let (_, plan) = with_panics(&store).await;
    let engine = Engine::builder_with_store(store).open().await.unwrap();
    let error = engine.start(plan, json!({})).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("/steps/0/executor: executor `panics` is not registered"),
        "{error}"
    );
    assert!(
        engine.runs(&RunFilter::default()).await.unwrap().is_empty(),
        "no run was recorded"
    );
}

#[tokio::test]
async fn a_stored_run_naming_an_executor_the_engine_lacks_is_not_compiled() {
    let store = Arc::new(MemoryStore::new());
    let (first, plan) = with_panics(&store).await;
    let run = first.start(plan, json!({})).await.unwrap().id();
    let second = Engine::builder_with_store(store).open().await.unwrap();
    let error = second.plan(&run.to_string()).await.unwrap_err();
    assert!(
        error.to_string().contains(&format!(
            "run {run} (its stored workflow):/steps/0/executor: executor `panics` is not registered"
        )),
        "{error}"
    );
}

/// Reports a sign of life every 100 ms for its `with.for_ms`, then keeps quiet for its
/// `with.quiet_ms`, then succeeds; silent throughout if `with.silent`.
#[derive(Debug)]
struct Chatty;

#[async_trait]
impl Executor for Chatty {
    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        let with = |key: &str| action.params.get(key).cloned().unwrap_or_default();
        let until = Instant::now() + Duration::from_millis(with("for_ms").as_u64().unwrap_or(0));
        while Instant::now() < until {
            if with("silent") != json!(true) {
                ctx.progress.report();
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = ctx.cancel.cancelled() => return Outcome::failure(ErrorClass::Cancelled, "cancelled"),
            }
        }
        let quiet = Duration::from_millis(with("quiet_ms").as_u64().unwrap_or(0));
        tokio::select! {
            () = tokio::time::sleep(quiet) => {}
            () = ctx.cancel.cancelled() => return Outcome::failure(ErrorClass::Cancelled, "cancelled"),
        }
        Outcome::success(json!("done"))
    }
}

#[tokio::test(start_paused = true)]
async fn signs_of_life_keep_a_step_from_stalling_and_silence_does_not() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("chatty", Arc::new(Chatty))
        .open()
        .await
        .unwrap();
    // Each step lasts longer than its heartbeat: only the signs of life, seen by the
    // driver, keep the chatty ones going — also under a window shorter than the driver's
    // poll of the signs (`PROGRESS_POLL`). On the paused clock the windows are exact: a
    // sign every 100 ms, a window of 700 ms, however slow the machine.
    let engine = &engine;
    let run = |heartbeat: &str, silent: bool| {
        let workflow = json!({"name": "c", "steps": [{
            "id": "a", "executor": "chatty", "heartbeat": heartbeat, "on_stall": "fail",
            "with": {"for_ms": 3500, "silent": silent}
        }]});
        async move { run_to_end(engine, &workflow).await }
    };
    let (chatty, quick, silent) =
        tokio::join!(run("2s", false), run("700ms", false), run("2s", true));
    assert_eq!(chatty.state, RunState::Succeeded, "{chatty:?}");
    assert_eq!(quick.state, RunState::Succeeded, "{quick:?}");
    assert_eq!(silent.state, RunState::Failed);
    assert_eq!(silent.error_class, Some(ErrorClass::Stalled), "{silent:?}");
}

#[tokio::test]
async fn a_driver_whose_lease_was_taken_stops_its_attempts_and_leaves_the_run_to_the_taker() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::builder_with_store(store.clone())
        .executor("chatty", Arc::new(Chatty))
        .lease_ttl(crate::store::MIN_LEASE_TTL)
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "l", "steps": [{
        "id": "a", "executor": "chatty", "with": {"for_ms": 3_600_000, "silent": true}
    }]});
    let plan = engine.load_str(&workflow.to_string(), "l.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    let run = handle.id();
    // Another engine takes the lease over (as if this one's had run out).
    let taker = LeaseHolder {
        owner: "taker".into(),
        ..crate::lease::this_process()
    };
    let ttl = Duration::from_secs(3600);
    let taken = store
        .acquire_lease(run, &taker, ttl, &|_| true)
        .await
        .unwrap();
    assert_eq!(taken, crate::lease::LeaseAttempt::Acquired);
    // The driver's next renewal finds out; its hour-long attempt is stopped (a guard
    // against a hang: the renewal comes every third of a second).
    let stopped = tokio::time::timeout(Duration::from_secs(60), handle.wait()).await;
    let error = stopped
        .expect("the driver went on without its lease")
        .unwrap_err();
    assert!(
        matches!(error, Error::LeaseLost(r) if r == run),
        "{error:?}"
    );
    let view = engine.view(&run.to_string()).await.unwrap();
    assert_eq!(view.state, RunState::Running, "the taker's to go on with");
    assert_eq!(view.steps[0].state.to_string(), "running");
}

/// Counts its calls, then holds each until its deadline and times out (or is cancelled).
#[derive(Debug, Default)]
struct Overstays(std::sync::atomic::AtomicUsize);

#[async_trait]
impl Executor for Overstays {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::select! {
            () = sleep_until(ctx.deadline) => Outcome::failure(ErrorClass::Timeout, "timed out"),
            () = ctx.cancel.cancelled() => Outcome::failure(ErrorClass::Cancelled, "cancelled"),
        }
    }
}

#[tokio::test]
async fn no_item_of_a_for_each_attempt_starts_past_the_attempts_deadline() {
    let overstays = Arc::new(Overstays::default());
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("overstays", overstays.clone())
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "t", "steps": [{
        "id": "each", "executor": "overstays", "for_each": "${{ [0, 1, 2] }}",
        "max_parallel": 1, "timeout": "200ms"
    }]});
    let report = run_to_end(&engine, &workflow).await;
    assert_eq!(report.error_class, Some(ErrorClass::Timeout), "{report:?}");
    assert_eq!(
        report.error.as_deref(),
        Some(
            "step each failed: timeout: 1 of 3 items failed (0): item 0: timed out; \
             2 of 3 items did not start before the step's timeout"
        )
    );
    let calls = overstays.0.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, 1, "only item 0 started, before the deadline");
    let run = engine.view(&report.id.to_string()).await.unwrap();
    let items: Vec<(usize, StepState)> = (run.steps[0].items.iter())
        .map(|item| (item.index, item.state))
        .collect();
    assert_eq!(
        items,
        [
            (0, StepState::Failed),
            (1, StepState::Pending),
            (2, StepState::Pending)
        ],
        "the run's view holds the step's recorded items"
    );
}

/// Tells the test it started (and counts its calls), then succeeds once the test lets it go
/// (or fails if cancelled).
#[derive(Debug, Default)]
struct Gated {
    started: Notify,
    go: Notify,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Executor for Gated {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.started.notify_one();
        tokio::select! {
            () = self.go.notified() => Outcome::success(json!("a")),
            () = ctx.cancel.cancelled() => Outcome::failure(ErrorClass::Cancelled, "cancelled"),
        }
    }
}

/// Starts on `store` a run of one `gated` `for_each` step `each` of `items` items, two at
/// a time, and waits until the first two run.
async fn two_gated_items_running<S: crate::store::Store + 'static>(
    store: Arc<S>,
    items: usize,
) -> (Arc<Gated>, Engine, RunHandle) {
    let gated = Arc::new(Gated::default());
    let engine = Engine::builder_with_store(store)
        .executor("gated", gated.clone())
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "f", "steps": [{"id": "each", "executor": "gated",
        "for_each": format!("${{{{ {:?} }}}}", Vec::from_iter(0..items)), "max_parallel": 2}]});
    let plan = engine.load_str(&workflow.to_string(), "f.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    while gated.calls.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        gated.started.notified().await;
    }
    (gated, engine, handle)
}

/// Counts its calls, and succeeds.
#[derive(Debug, Default)]
struct Counts(std::sync::atomic::AtomicUsize);

#[async_trait]
impl Executor for Counts {
    async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Outcome::success(json!("b"))
    }
}

/// Runs `a` (gated) -> `b` (counted) on `store`, records `halt` in the store while `a`
/// runs — as another process would: no bell rings, the driver does not read it — then
/// lets `a` end at once. The report, the step `b`'s calls, and the detail of `b`'s last
/// event, if `a` succeeded (if the engine's look at the commands came first, `a` was
/// cancelled or finished in a paused run: the commit did not have to tell).
async fn halt_asked_as_a_ends(
    store: &Arc<MemoryStore>,
    halt: Command,
) -> (Engine, RunReport, Arc<Counts>, Option<serde_json::Value>) {
    let (gated, counts) = (Arc::new(Gated::default()), Arc::new(Counts::default()));
    let engine = Engine::builder_with_store(store.clone())
        .executor("gated", gated.clone())
        .executor("counts", counts.clone())
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "h", "steps": [{"pipeline": [
        {"id": "a", "executor": "gated"}, {"id": "b", "executor": "counts"}
    ]}]});
    let plan = engine.load_str(&workflow.to_string(), "h.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    let run = handle.id();
    gated.started.notified().await;
    store.send_command(run, &halt).await.unwrap();
    gated.go.notify_one();
    let report = handle.wait().await.unwrap();
    let history = store.history(run).await.unwrap();
    let last_of = |id: &str| {
        (history.iter()).rev().find_map(|event| match &event.kind {
            EventKind::Step { step_id, to, .. } if step_id == id => Some((*to, event)),
            _ => None,
        })
    };
    let a_succeeded = last_of("a").is_some_and(|(to, _)| to == StepState::Succeeded);
    let detail = (last_of("b"))
        .filter(|_| a_succeeded)
        .and_then(|(_, event)| event.detail.clone());
    (engine, report, counts, detail)
}

fn request() -> crate::Request {
    crate::Request::new("ann", None)
}

#[tokio::test]
async fn a_cancel_recorded_while_a_step_runs_keeps_the_next_from_starting() {
    let store = Arc::new(MemoryStore::new());
    let (_engine, report, counts, detail) =
        halt_asked_as_a_ends(&store, Command::Cancel(request())).await;
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    let calls = counts.0.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, 0, "b never started");
    if let Some(detail) = detail {
        let why = "cancelled: the run was cancelled before the attempt started";
        assert_eq!(
            detail,
            json!({"not_started": "run cancelled", "error": why})
        );
    }
}

#[tokio::test]
async fn a_pause_recorded_while_a_step_runs_keeps_the_next_from_starting_until_resumed() {
    let store = Arc::new(MemoryStore::new());
    let (engine, report, counts, detail) =
        halt_asked_as_a_ends(&store, Command::Pause(request())).await;
    assert_eq!(report.state, RunState::Paused, "{report:?}");
    let calls = || counts.0.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls(), 0, "b did not start");
    if let Some(detail) = detail {
        assert_eq!(detail, json!({"not_started": "run paused"}));
    }
    let resumed = engine.resume(&report.id.to_string()).await.unwrap();
    let report = resumed.wait().await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(calls(), 1, "b ran once resumed");
    let run = engine.view(&report.id.to_string()).await.unwrap();
    assert_eq!(run.steps[1].attempt, 1, "b's one attempt, counted once");
}

#[tokio::test]
async fn a_resume_waiting_for_the_lease_leaves_a_pause_carried_out_after_it_was_asked() {
    let store = Arc::new(MemoryStore::new());
    let (gated, counts) = (Arc::new(Gated::default()), Arc::new(Counts::default()));
    let engine = || {
        Engine::builder_with_store(store.clone())
            .executor("gated", gated.clone())
            .executor("counts", counts.clone())
            .open()
    };
    let (first, second) = (engine().await.unwrap(), engine().await.unwrap());
    let workflow = json!({"name": "h", "steps": [{"pipeline": [
        {"id": "a", "executor": "gated"}, {"id": "b", "executor": "counts"}
    ]}]});
    let plan = first.load_str(&workflow.to_string(), "h.json").unwrap();
    let handle = first.start(plan, json!({})).await.unwrap();
    let run = handle.id().to_string();
    gated.started.notified().await;
    let mut waiting = Box::pin(second.resume_waiting(&run));
    assert!(
        futures::poll!(&mut waiting).is_pending(),
        "asked, and waiting for the first engine's lease"
    );
    store
        .send_command(handle.id(), &Command::Pause(request()))
        .await
        .unwrap();
    gated.go.notify_one();
    assert_eq!(handle.wait().await.unwrap().state, RunState::Paused);
    let refused = waiting.await;
    assert!(
        matches!(refused, Err(crate::Error::PausedSince { .. })),
        "{refused:?}"
    );
    let calls = || counts.0.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls(), 0, "b did not start");
    // A person's resume asked after the pause continues the run.
    let report = second.resume(&run).await.unwrap().wait().await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(calls(), 1);
}

#[tokio::test]
async fn a_cancel_recorded_while_items_run_keeps_the_next_item_from_starting() {
    let store = Arc::new(MemoryStore::new());
    let (gated, _engine, handle) = two_gated_items_running(store.clone(), 5).await;
    let run = handle.id();
    let calls = || gated.calls.load(std::sync::atomic::Ordering::SeqCst);
    // Recorded by another process while items 0 and 1 run: the driver is not told.
    store
        .send_command(run, &Command::Cancel(request()))
        .await
        .unwrap();
    gated.go.notify_one();
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    assert_eq!(calls(), 2, "no item started after the cancel was recorded");
}

#[tokio::test]
async fn items_a_shutdown_cancels_go_back_to_pending_to_run_at_the_resume() {
    let store = Arc::new(MemoryStore::new());
    let (_gated, engine, handle) = two_gated_items_running(store.clone(), 2).await;
    engine.shutdown();
    let report = handle.wait().await.unwrap();
    assert_eq!(
        report.error_class,
        Some(ErrorClass::Interrupted),
        "{report:?}"
    );
    let items = store.items(report.id, &["each"]).await.unwrap();
    let states: Vec<_> = items
        .iter()
        .map(|item| (item.state, item.attempt))
        .collect();
    assert_eq!(states, [(StepState::Pending, 1), (StepState::Pending, 1)]);
}

/// Starts on `store` a run of one `for_each` step `each` of `items` items, one at a time,
/// under a `timeout` of 1 s, each run by `executor`.
async fn timed_items(
    store: &Arc<MemoryStore>,
    executor: Arc<dyn Executor>,
    items: usize,
) -> (Engine, RunHandle) {
    let engine = Engine::builder_with_store(store.clone())
        .executor("timed", executor)
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "f", "steps": [{"id": "each", "executor": "timed",
        "for_each": format!("${{{{ {:?} }}}}", Vec::from_iter(0..items)),
        "max_parallel": 1, "timeout": "1s"}]});
    let plan = engine.load_str(&workflow.to_string(), "f.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    (engine, handle)
}

/// Runs until its deadline, tells the test it is in its kill grace, and fails `timeout` once
/// cancelled: a program that traps the SIGTERM of its time limit.
#[derive(Debug, Default)]
struct Overdue {
    in_grace: Notify,
}

#[async_trait]
impl Executor for Overdue {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        if let Some(deadline) = ctx.deadline {
            tokio::time::sleep_until(deadline).await;
        }
        self.in_grace.notify_one();
        ctx.cancel.cancelled().await;
        Outcome::failure(ErrorClass::Timeout, "timed out")
    }
}

#[tokio::test(start_paused = true)]
async fn a_for_each_attempt_past_its_timeout_as_the_engine_stops_is_timed_out_not_interrupted() {
    let store = Arc::new(MemoryStore::new());
    let overdue = Arc::new(Overdue::default());
    let (engine, handle) = timed_items(&store, overdue.clone(), 1).await;
    overdue.in_grace.notified().await;
    engine.shutdown();
    let report = ended(handle).await;
    // Probe 99 F3: recorded interrupted, it ran again at the resume, uncounted.
    assert_eq!(report.state, RunState::Failed, "{report:?}");
    assert_eq!(report.error_class, Some(ErrorClass::Timeout));
}

/// Tells the test it started, then fails `timeout` at its deadline.
#[derive(Debug, Default)]
struct TimesOut {
    started: Notify,
}

#[async_trait]
impl Executor for TimesOut {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        self.started.notify_one();
        if let Some(deadline) = ctx.deadline {
            tokio::time::sleep_until(deadline).await;
        }
        Outcome::failure(ErrorClass::Timeout, "timed out")
    }
}

#[tokio::test(start_paused = true)]
async fn a_for_each_attempt_its_deadline_cuts_off_after_a_drain_times_out_and_counts() {
    let store = Arc::new(MemoryStore::new());
    let times_out = Arc::new(TimesOut::default());
    let (engine, handle) = timed_items(&store, times_out.clone(), 2).await;
    times_out.started.notified().await;
    // Nothing new starts; item 0 times out, item 1 never starts.
    engine.drain();
    let report = ended(handle).await;
    // Probe 101 F1: stopped short by the drain, it would run again uncounted.
    assert_eq!(report.state, RunState::Failed, "{report:?}");
    assert_eq!(report.error_class, Some(ErrorClass::Timeout));
}

/// Tells the test it started; once cancelled, ends so two seconds later.
#[derive(Debug, Default)]
struct SlowToStop {
    started: Notify,
}

#[async_trait]
impl Executor for SlowToStop {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        self.started.notify_one();
        ctx.cancel.cancelled().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        Outcome::failure(ErrorClass::Cancelled, "cancelled")
    }
}

#[tokio::test(start_paused = true)]
async fn a_for_each_attempt_cancelled_before_its_deadline_is_cancelled_though_it_ends_after() {
    let store = Arc::new(MemoryStore::new());
    let slow = Arc::new(SlowToStop::default());
    let (engine, handle) = timed_items(&store, slow.clone(), 2).await;
    slow.started.notified().await;
    let run = handle.id().to_string();
    engine.send(&run, Command::Cancel(request())).await.unwrap();
    let report = ended(handle).await;
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    let step = store.step(report.id, "each").await.unwrap().unwrap();
    // Probe 103 F1: "…; 1 of 2 items did not start before the step's timeout".
    let error = step.error.unwrap_or_default();
    assert!(
        error.starts_with("cancelled: ") && !error.contains("timeout"),
        "{error}"
    );
}

/// Ignores its cancellation, as an executor wrapping an uncancellable call does: tells the
/// test it started, then never ends — or, with `with.late_ms`, succeeds that long after it
/// was cancelled.
#[derive(Debug, Default)]
struct Deaf {
    started: Notify,
}

#[async_trait]
impl Executor for Deaf {
    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        self.started.notify_one();
        let Some(late) = action.params["late_ms"].as_u64() else {
            return std::future::pending().await;
        };
        ctx.cancel.cancelled().await;
        tokio::time::sleep(Duration::from_millis(late)).await;
        Outcome::success(json!("late"))
    }
}

/// Starts a run of `workflow`, whose one step `a` is `deaf`, on `store`, and waits until
/// the step runs.
async fn deaf_run(store: &Arc<MemoryStore>, workflow: serde_json::Value) -> (Engine, RunHandle) {
    let deaf = Arc::new(Deaf::default());
    let engine = Engine::builder_with_store(store.clone())
        .executor("deaf", deaf.clone())
        .open()
        .await
        .unwrap();
    let plan = engine.load_str(&workflow.to_string(), "d.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    deaf.started.notified().await;
    (engine, handle)
}

/// A workflow of the one `deaf` step `a`, whose other keys are `step`'s.
fn deaf_step(step: serde_json::Value) -> serde_json::Value {
    let mut step = step;
    step["id"] = json!("a");
    step["executor"] = json!("deaf");
    json!({"name": "d", "steps": [step]})
}

/// The end of `handle`'s run: the paused clock runs on through the engine's grace, so a
/// driver that never ends shows as a failure here, not as a hung test.
async fn ended(handle: RunHandle) -> RunReport {
    let waited = tokio::time::timeout(Duration::from_secs(24 * 3600), handle.wait()).await;
    waited.expect("the run never ended").unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_stalled_attempt_that_ignores_its_cancellation_ends_stalled_after_the_grace() {
    let store = Arc::new(MemoryStore::new());
    // Never ends; then succeeds after its cancellation, within the grace.
    for with in [json!({}), json!({"late_ms": 4000})] {
        let step = json!({"heartbeat": "1ms", "on_stall": "fail", "with": with});
        let (_engine, handle) = deaf_run(&store, deaf_step(step)).await;
        let report = ended(handle).await;
        assert_eq!(report.state, RunState::Failed, "{with}: {report:?}");
        assert_eq!(report.error_class, Some(ErrorClass::Stalled), "{with}");
        let history = store.history(report.id).await.unwrap();
        let stalled = history.iter().any(|event| {
            matches!(
                &event.kind,
                EventKind::Step {
                    to: StepState::Failed,
                    ..
                }
            ) && event
                .detail
                .as_ref()
                .is_some_and(|detail| detail["stall"].is_object())
        });
        assert!(stalled, "{with}: the step's failure carries its stall");
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancel_abandons_an_attempt_that_ignores_it_after_the_grace() {
    let store = Arc::new(MemoryStore::new());
    let (_engine, handle) = deaf_run(&store, deaf_step(json!({}))).await;
    store
        .send_command(handle.id(), &Command::Cancel(request()))
        .await
        .unwrap();
    let report = ended(handle).await;
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    let step = store.step(report.id, "a").await.unwrap().unwrap();
    assert_eq!(step.state, StepState::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn the_runs_deadline_abandons_an_attempt_that_ignores_it_after_the_grace() {
    let store = Arc::new(MemoryStore::new());
    let mut workflow = deaf_step(json!({}));
    workflow["limits"] = json!({"timeout": "100ms"});
    let (_engine, handle) = deaf_run(&store, workflow).await;
    let report = ended(handle).await;
    assert_eq!(report.state, RunState::Failed, "{report:?}");
    assert_eq!(report.error_class, Some(ErrorClass::Timeout));
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_abandons_an_attempt_that_ignores_it_and_releases_the_lease() {
    let store = Arc::new(MemoryStore::new());
    let (engine, handle) = deaf_run(&store, deaf_step(json!({}))).await;
    let run = handle.id();
    engine.shutdown();
    let report = ended(handle).await;
    assert_eq!(report.state, RunState::Running, "resumable: {report:?}");
    assert_eq!(report.error_class, Some(ErrorClass::Interrupted));
    let other = LeaseHolder {
        owner: "other".into(),
        ..crate::lease::this_process()
    };
    let ttl = Duration::from_secs(3600);
    let taken = store.acquire_lease(run, &other, ttl, &|_| false).await;
    assert_eq!(taken.unwrap(), crate::lease::LeaseAttempt::Acquired);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_succeeds_as_the_engine_stops_keeps_its_output_and_ends_the_run() {
    let store = Arc::new(MemoryStore::new());
    // Succeeds as soon as it is cancelled: a program that exited by itself as the stop came.
    let step = deaf_step(json!({"with": {"late_ms": 0}}));
    let (engine, handle) = deaf_run(&store, step).await;
    engine.shutdown();
    let report = ended(handle).await;
    // It was the run's last step: the run ends as it did, nothing left to resume.
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(report.output, Some(json!({"a": "late"})));
    let step = store.step(report.id, "a").await.unwrap().unwrap();
    assert_eq!(
        step.state,
        StepState::Succeeded,
        "not to run again at the resume"
    );
}

mod leaves;
mod rendering;
mod signs;

/// Ends (a success) a second after it starts, whatever it is told.
#[derive(Debug)]
struct EndsAfterASecond;

#[async_trait]
impl Executor for EndsAfterASecond {
    async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Outcome::success(json!("done"))
    }
}

/// An attempt whose end is read as the run's deadline passes is not kept: its step is
/// cancelled with the run's time-out. Kept, it ended `succeeded` in a run that failed as
/// timed out, output `null` (probe 33 F1). On tokio's paused clock, the attempt's end and
/// the deadline come at the same instant.
#[tokio::test(start_paused = true)]
async fn an_end_read_as_the_runs_deadline_passes_is_not_kept() {
    let run = timed_out_at_a_second(json!([{"id": "a", "executor": "second"}])).await;
    assert_eq!(run.steps[0].state, StepState::Cancelled, "{run:?}");
    assert_eq!(run.steps[0].output, None);
}

/// The run of `steps` (of the executor `second`, [`EndsAfterASecond`]) under a
/// `limits.timeout` of a second, which times it out.
async fn timed_out_at_a_second(steps: serde_json::Value) -> crate::RunView {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("second", Arc::new(EndsAfterASecond))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "t", "limits": {"timeout": "1s"}, "steps": steps});
    let report = run_to_end(&engine, &workflow).await;
    assert_eq!(report.error_class, Some(ErrorClass::Timeout), "{report:?}");
    engine.view(&report.id.to_string()).await.unwrap()
}

/// So are the ends of `for_each` items read as the deadline passes: cancelled with their
/// step, not kept `succeeded` for a redrive to skip (probe 36 F1).
#[tokio::test(start_paused = true)]
async fn an_items_end_read_as_the_runs_deadline_passes_is_not_kept() {
    let steps = json!([{"id": "each", "executor": "second", "for_each": "${{ [0, 1] }}"}]);
    let run = timed_out_at_a_second(steps).await;
    let items: Vec<(usize, StepState)> = (run.steps[0].items.iter())
        .map(|item| (item.index, item.state))
        .collect();
    assert_eq!(
        items,
        [(0, StepState::Cancelled), (1, StepState::Cancelled)]
    );
}
