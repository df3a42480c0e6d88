//! A pause or a cancel sent by an engine without the run's guard: taken for a run a live
//! engine drives (which carries it out under its own guard), refused for a run it would
//! have to take over; left to the next engine if the driver leaves before the write.

use crate::guard::{Facts, Guard, Verdict};
use crate::scheduler::JUDGING_SLICE;
use crate::store::Store;
use crate::store::held::Held;

use super::*;

/// Allows every action.
#[derive(Debug)]
struct Allows;

impl Guard for Allows {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        Verdict::allow()
    }
}

/// An engine over `store` whose `hangs` executor is `hangs`, with the guard [`Allows`] if
/// `guarded`.
async fn engine_on(store: Arc<dyn Store>, hangs: &Arc<Hangs>, guarded: bool) -> Engine {
    let builder =
        Engine::builder_with_store(store).executor("hangs", Arc::clone(hangs) as Arc<dyn Executor>);
    let builder = match guarded {
        true => builder.guard(Arc::new(Allows)),
        false => builder,
    };
    builder.open().await.unwrap()
}

/// A run of steps `a` (hangs) -> `b` started on `store` by an engine with a guard, once `a`
/// has started: its handle, and the engine that drives it.
async fn guarded_run(store: Arc<dyn Store>, hangs: &Arc<Hangs>) -> (Engine, RunHandle) {
    let engine = engine_on(store, hangs, true).await;
    let workflow = json!({"name": "w", "steps": [
        {"id": "a", "executor": "hangs"},
        {"id": "b", "executor": "hangs", "needs": ["a"]}
    ]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    hangs.started.notified().await;
    (engine, handle)
}

/// A run started with a guard on `store` whose engine stopped while its first step hung:
/// `running`, no engine drives it.
async fn undriven_guarded(store: Arc<dyn Store>, hangs: &Arc<Hangs>) -> Uuid {
    let (engine, handle) = guarded_run(store, hangs).await;
    engine.shutdown();
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Running, "left unfinished");
    report.id
}

fn cancel() -> Command {
    Command::Cancel(Request::new("ann", None))
}

#[tokio::test]
async fn an_engine_without_the_guard_cancels_a_guarded_run_another_engine_drives() {
    let store = Arc::new(MemoryStore::new());
    let hangs = Arc::new(Hangs::default());
    let (_driver, handle) = guarded_run(store.clone(), &hangs).await;
    let bare = engine_on(store.clone(), &hangs, false).await;
    let sent = bare.send(&handle.id().to_string(), cancel()).await;
    assert_eq!(sent.unwrap(), handle.id());
    // The engine that drives it carries it out under its own guard.
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Cancelled);
    assert!(store.pending_commands(report.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_engine_without_the_guard_cannot_pause_or_cancel_a_guarded_run_no_engine_drives() {
    let store = Arc::new(MemoryStore::new());
    let hangs = Arc::new(Hangs::default());
    let run = undriven_guarded(store.clone(), &hangs).await;
    let bare = engine_on(store.clone(), &hangs, false).await;
    for command in [cancel(), Command::Pause(Request::new("ann", None))] {
        match bare.send(&run.to_string(), command).await {
            Err(Error::Guard { error, .. }) => {
                assert!(
                    error.to_string().contains("this engine has none"),
                    "{error}"
                );
            }
            other => panic!("not refused: {other:?}"),
        }
    }
    assert!(
        store.pending_commands(run).await.unwrap().is_empty(),
        "nothing recorded"
    );
    let record = store.find_run(&run.to_string()).await.unwrap();
    assert_eq!((record.state, record.lease), (RunState::Running, None));
}

/// The driver leaves (gives its lease back) between the guard-less sender's read of the
/// run and its write: the cancel is recorded, and left pending, the sender's log says, its
/// lease untouched; the next engine to take the run over carries it out.
#[tokio::test]
async fn a_cancel_recorded_after_the_driver_left_waits_for_the_next_engine() {
    let store = Arc::new(Held::default());
    let hangs = Arc::new(Hangs::default());
    let run = undriven_guarded(store.clone(), &hangs).await;
    let driver = LeaseHolder {
        owner: "driver".into(),
        ..lease::this_process()
    };
    let ttl = Duration::from_secs(60);
    let taken = store.acquire_lease(run, &driver, ttl, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    store.leave_at_ruling("driver");
    let bare = engine_on(store.clone(), &hangs, false).await;
    let heard = Arc::new(Notify::new());
    let log = tracing::subscriber::set_default(Hears {
        what: "recorded, not carried out now",
        heard: Arc::clone(&heard),
    });
    assert_eq!(bare.send(&run.to_string(), cancel()).await.unwrap(), run);
    drop(log);
    let said = futures::poll!(std::pin::pin!(heard.notified()));
    assert!(
        said.is_ready(),
        "the sender's log says the cancel is left pending"
    );
    let record = store.find_run(&run.to_string()).await.unwrap();
    assert_eq!((record.state, record.lease), (RunState::Running, None));
    let pending = store.pending_commands(run).await.unwrap();
    assert!(matches!(
        pending[..],
        [PendingCommand {
            command: Command::Cancel(_),
            ..
        }]
    ));
    let guarded = engine_on(store.clone(), &hangs, true).await;
    let report = match guarded.resume(&run.to_string()).await {
        Ok(handle) => handle.wait().await.unwrap(),
        Err(Error::Finished(report)) => *report,
        Err(error) => panic!("not taken over: {error}"),
    };
    assert_eq!(report.state, RunState::Cancelled);
}

/// Allows every action, each judged in longer than a turn's time for judging
/// ([`JUDGING_SLICE`]); the second one also sends `second`.
#[derive(Debug)]
struct Slow {
    judged: Arc<AtomicU64>,
    second: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Guard for Slow {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        if self.judged.fetch_add(1, SeqCst) == 1
            && let Some(second) = self.second.lock().unwrap().take()
        {
            let _ = second.send(());
        }
        std::thread::sleep(JUDGING_SLICE);
        Verdict::allow()
    }
}

#[tokio::test]
async fn a_stop_asked_by_another_task_while_a_window_is_judged_is_taken_before_the_rest() {
    let (second, judging) = tokio::sync::oneshot::channel();
    let judged = Arc::new(AtomicU64::new(0));
    let guard = Slow {
        judged: Arc::clone(&judged),
        second: std::sync::Mutex::new(Some(second)),
    };
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("ok", Arc::new(FailsWhenAsked))
        .guard(Arc::new(guard))
        .open()
        .await
        .unwrap();
    // A task of the same (one-threaded) runtime, as a signal's handler is: it runs only when
    // the driver lets it, between two turns of judging.
    let stopper = engine.clone();
    tokio::spawn(async move {
        if judging.await.is_ok() {
            stopper.drain();
        }
    });
    let workflow = json!({"name": "w", "steps": [
        {"id": "a", "executor": "ok", "for_each": "${{ input.items }}"}
    ]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let items: Vec<u32> = (0..20).collect();
    let handle = engine.start(plan, json!({ "items": items })).await.unwrap();
    let report = handle.wait().await.unwrap();
    assert_eq!(
        report.state,
        RunState::Running,
        "stopped unfinished, resumable"
    );
    assert_eq!(
        judged.load(SeqCst),
        2,
        "judging stopped with the turn the stop came in"
    );
}

/// Judges `a` in `JUDGING_SLICE` three times over, `b` at once; starts `ok` once a second.
/// Records when it has judged `a`.
#[derive(Debug, Default)]
struct SlowOnA(std::sync::Mutex<Option<std::time::Instant>>);

impl Guard for SlowOnA {
    fn judge(&self, action: &Action, _facts: &Facts<'_>) -> Verdict {
        if action.step_id == "a" {
            std::thread::sleep(3 * JUDGING_SLICE);
            *self.0.lock().unwrap() = Some(std::time::Instant::now());
        }
        Verdict::allow()
    }

    fn rate_limits(&self) -> Vec<crate::guard::RateLimit> {
        let per = Duration::from_secs(1);
        vec![crate::guard::RateLimit {
            executor: "ok".into(),
            max: 1,
            per,
        }]
    }
}

/// Records when each step starts.
#[derive(Debug, Default)]
struct Clocked(std::sync::Mutex<Vec<(String, std::time::Instant)>>);

#[async_trait]
impl Executor for Clocked {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        let started = (action.step_id.clone(), std::time::Instant::now());
        self.0.lock().unwrap().push(started);
        Outcome::success(json!(null))
    }
}

/// A start is counted once judged: the next one under a rate limit comes a whole window
/// after it, not a window after the turn that judged it began. (Measured from the end of
/// the judging, not from the first attempt's start, which a busy machine may delay past
/// it: the bound then held by less than that delay.)
#[tokio::test]
async fn a_rate_limit_counts_a_start_once_it_is_judged() {
    let clocked = Arc::new(Clocked::default());
    let guard = Arc::new(SlowOnA::default());
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("ok", clocked.clone())
        .guard(guard.clone())
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "w", "steps": [{"parallel": [
        {"id": "a", "executor": "ok"}, {"id": "b", "executor": "ok"}
    ]}]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    assert_eq!(handle.wait().await.unwrap().state, RunState::Succeeded);
    let started = clocked.0.lock().unwrap().clone();
    let [(first, _), (second, b)] = started.as_slice() else {
        panic!("{started:?}");
    };
    assert_eq!((first.as_str(), second.as_str()), ("a", "b"));
    let judged = guard.0.lock().unwrap().expect("a was judged");
    // (The machine's slowness only widens the gap.)
    assert!(
        *b - judged >= Duration::from_secs(1),
        "{:?} apart",
        *b - judged
    );
}
