//! A takeover judges the run as its lease found it: a pause or a cancel carried out by
//! another process between the takeover's read of the run and its lease is seen. A guard
//! whose rate limits panic refuses the run, nothing written.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::Notify;

use crate::command::{Command, Request};
use crate::executor::{Action, ErrorClass, ExecContext, Executor, Outcome};
use crate::guard::{Facts, Guard, GuardError, RateLimit, Verdict};
use crate::store::{MemoryStore, Store};
use crate::{Engine, Error, EventKind, RunFilter, RunState};

/// Allows every action. Restored (a takeover does it between its read of the run and its
/// lease), it first has its `sender` send `command` to the run, once: another process's
/// `cairn pause` or `cairn cancel` carried out in that window.
#[derive(Debug, Default)]
struct SendsAtRestore {
    sender: Mutex<Option<(Engine, String, Command)>>,
}

impl Guard for SendsAtRestore {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        Verdict::allow()
    }

    fn snapshot(&self) -> Option<String> {
        Some("sends at restore".into())
    }

    fn restore(&self, _snapshot: &str) -> Result<Arc<dyn Guard>, GuardError> {
        let sender = self.sender.lock().unwrap().take();
        if let Some((engine, run, command)) = sender {
            let handle = tokio::runtime::Handle::current();
            let sent = tokio::task::block_in_place(|| handle.block_on(engine.send(&run, command)));
            sent.unwrap();
        }
        Ok(Arc::new(SendsAtRestore::default()))
    }
}

/// Allows every action; panics when asked for its rate limits from the `from`-th time on.
#[derive(Debug)]
struct PanicsInRateLimits {
    asked: AtomicUsize,
    from: usize,
}

impl PanicsInRateLimits {
    fn from(from: usize) -> Arc<PanicsInRateLimits> {
        Arc::new(PanicsInRateLimits {
            asked: AtomicUsize::new(0),
            from,
        })
    }
}

impl Guard for PanicsInRateLimits {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        Verdict::allow()
    }

    fn rate_limits(&self) -> Vec<RateLimit> {
        if self.asked.fetch_add(1, SeqCst) + 1 >= self.from {
            panic!("limits out of reach");
        }
        Vec::new()
    }
}

/// Holds until `go`, then succeeds.
#[derive(Debug, Default)]
struct Gated {
    started: Notify,
    go: Notify,
}

#[async_trait]
impl Executor for Gated {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        self.started.notify_one();
        tokio::select! {
            () = self.go.notified() => Outcome::success(json!("a")),
            () = ctx.cancel.cancelled() => Outcome::failure(ErrorClass::Cancelled, "cancelled"),
        }
    }
}

/// Counts its calls, and succeeds.
#[derive(Debug, Default)]
struct Counts(AtomicUsize);

#[async_trait]
impl Executor for Counts {
    async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
        self.0.fetch_add(1, SeqCst);
        Outcome::success(json!("b"))
    }
}

/// A run `a` (gated) -> `b` (counted) on `store`, judged by `guard`, that stopped
/// unfinished after `a` (its engine drained): `running`, no engine drives it. Its id, and
/// `b`'s calls.
async fn stopped_after_a(store: &Arc<MemoryStore>, guard: Arc<dyn Guard>) -> (String, Arc<Counts>) {
    let (gated, counts) = (Arc::new(Gated::default()), Arc::new(Counts::default()));
    let engine = Engine::builder_with_store(store.clone())
        .executor("gated", gated.clone())
        .executor("counts", counts.clone())
        .guard(guard)
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "h", "steps": [{"pipeline": [
        {"id": "a", "executor": "gated"}, {"id": "b", "executor": "counts"}
    ]}]});
    let plan = engine.load_str(&workflow.to_string(), "h.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    gated.started.notified().await;
    engine.drain();
    gated.go.notify_one();
    let report = handle.wait().await.unwrap();
    assert_eq!(report.state, RunState::Running, "stopped unfinished");
    (report.id.to_string(), counts)
}

/// A run [`stopped_after_a`] judged by a [`SendsAtRestore`] that sends nothing.
async fn stopped(store: &Arc<MemoryStore>) -> (String, Arc<Counts>) {
    stopped_after_a(store, Arc::new(SendsAtRestore::default())).await
}

/// An engine on `store` whose guard, restored, has another engine send `command` to `run`.
async fn sending_at_restore(
    store: &Arc<MemoryStore>,
    counts: &Arc<Counts>,
    run: &str,
    command: Command,
) -> Engine {
    let engine = || {
        Engine::builder_with_store(store.clone())
            .executor("gated", Arc::new(Gated::default()))
            .executor("counts", counts.clone())
    };
    let sender = engine()
        .guard(Arc::new(SendsAtRestore::default()))
        .open()
        .await
        .unwrap();
    let guard = SendsAtRestore {
        sender: Mutex::new(Some((sender, run.to_owned(), command))),
    };
    engine().guard(Arc::new(guard)).open().await.unwrap()
}

fn request() -> Request {
    Request::new("ann", None)
}

/// The run's moves, in order.
async fn run_moves(engine: &Engine, run: &str) -> Vec<(RunState, RunState)> {
    (engine.history(run).await.unwrap().into_iter())
        .filter_map(|event| match event.kind {
            EventKind::Run { from, to } => Some((from, to)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_that_waited_leaves_a_pause_carried_out_between_its_read_and_its_lease() {
    let store = Arc::new(MemoryStore::new());
    let (run, counts) = stopped(&store).await;
    let engine = sending_at_restore(&store, &counts, &run, Command::Pause(request())).await;
    let refused = engine.resume_waiting(&run).await;
    assert!(
        matches!(refused, Err(Error::PausedSince { .. })),
        "{refused:?}"
    );
    assert_eq!(counts.0.load(SeqCst), 0, "b did not start");
    assert_eq!(engine.view(&run).await.unwrap().state, RunState::Paused);
    // The lease was given back: a resume asked after the pause continues the run.
    let report = engine.resume(&run).await.unwrap().wait().await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(counts.0.load(SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_unpauses_a_run_paused_between_its_read_and_its_lease() {
    let store = Arc::new(MemoryStore::new());
    let (run, counts) = stopped(&store).await;
    let engine = sending_at_restore(&store, &counts, &run, Command::Pause(request())).await;
    let report = engine.resume(&run).await.unwrap().wait().await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{report:?}");
    assert_eq!(counts.0.load(SeqCst), 1);
    let moves = run_moves(&engine, &run).await;
    assert_eq!(
        moves[moves.len() - 3..],
        [
            (RunState::Running, RunState::Paused),
            (RunState::Paused, RunState::Running),
            (RunState::Running, RunState::Succeeded)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_leaves_a_run_paused_or_cancelled_between_its_read_and_its_lease() {
    for command in [Command::Pause(request()), Command::Cancel(request())] {
        let store = Arc::new(MemoryStore::new());
        let (run, counts) = stopped(&store).await;
        let engine = sending_at_restore(&store, &counts, &run, command.clone()).await;
        let recovered = engine.recover().await.unwrap();
        assert!(recovered.is_empty(), "{command:?}: {recovered:?}");
        let state = engine.view(&run).await.unwrap().state;
        let expected = match command {
            Command::Pause(_) => RunState::Paused,
            _ => RunState::Cancelled,
        };
        assert_eq!(state, expected, "{command:?}");
        assert_eq!(counts.0.load(SeqCst), 0, "{command:?}: b did not start");
    }
}

/// The guard asked for its rate limits once at the engine's opening, then at a takeover.
#[tokio::test]
async fn a_guard_whose_rate_limits_panic_refuses_a_takeover_and_writes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let (run, counts) = stopped_after_a(&store, PanicsInRateLimits::from(usize::MAX)).await;
    let engine = Engine::builder_with_store(store.clone())
        .executor("gated", Arc::new(Gated::default()))
        .executor("counts", counts.clone())
        .guard(PanicsInRateLimits::from(2))
        .open()
        .await
        .unwrap();
    let before = engine.history(&run).await.unwrap();
    let refused = engine.resume(&run).await;
    let Err(Error::GuardPanicked { run: Some(id), .. }) = &refused else {
        panic!("{refused:?}");
    };
    assert_eq!(id.to_string(), run);
    assert_eq!(
        refused.unwrap_err().to_string(),
        format!("run {run}: the guard panicked in its rate_limits(): limits out of reach")
    );
    assert_eq!(
        engine.history(&run).await.unwrap(),
        before,
        "nothing written"
    );
    let recovered = engine.recover().await.unwrap();
    assert!(
        matches!(recovered[..], [(_, Err(Error::GuardPanicked { .. }))]),
        "{recovered:?}"
    );
    assert_eq!(
        engine.history(&run).await.unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(counts.0.load(SeqCst), 0, "b did not start");
    assert_eq!(engine.view(&run).await.unwrap().state, RunState::Running);
    let lease = store.find_run(&run).await.unwrap().lease;
    assert!(lease.is_none(), "the lease was given back: {lease:?}");
}

/// The guard asked once at the engine's opening, then by the new run's first turn.
#[tokio::test]
async fn a_guard_whose_rate_limits_panic_starts_no_run() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("counts", Arc::new(Counts::default()))
        .guard(PanicsInRateLimits::from(2))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "h", "steps": [{"id": "b", "executor": "counts"}]});
    let plan = engine.load_str(&workflow.to_string(), "h.json").unwrap();
    let refused = engine.start(plan, json!({})).await;
    assert!(
        matches!(refused, Err(Error::GuardPanicked { run: Some(_), .. })),
        "{refused:?}"
    );
    let runs = engine.runs(&RunFilter::default()).await.unwrap();
    assert!(runs.is_empty(), "{runs:?}");
}

/// Allows every action; panics when asked for a snapshot (`in_snapshot`), or to restore its
/// own (another's it restores as a [`SendsAtRestore`]).
#[derive(Debug)]
struct PanicsInSnapshots {
    in_snapshot: bool,
}

impl Guard for PanicsInSnapshots {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        Verdict::allow()
    }

    fn snapshot(&self) -> Option<String> {
        if self.in_snapshot {
            panic!("no snapshot today");
        }
        Some("a policy".into())
    }

    fn restore(&self, snapshot: &str) -> Result<Arc<dyn Guard>, GuardError> {
        if snapshot == "a policy" {
            panic!("cannot read it")
        }
        Ok(Arc::new(SendsAtRestore::default()))
    }
}

#[tokio::test]
async fn a_guard_that_panics_in_its_snapshot_starts_no_run() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("counts", Arc::new(Counts::default()))
        .guard(Arc::new(PanicsInSnapshots { in_snapshot: true }))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "h", "steps": [{"id": "b", "executor": "counts"}]});
    let plan = engine.load_str(&workflow.to_string(), "h.json").unwrap();
    let refused = engine.start(plan, json!({})).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .ends_with("the guard panicked in its snapshot(): no snapshot today"),
        "{refused}"
    );
    assert!(engine.runs(&RunFilter::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_guard_that_panics_restoring_a_runs_snapshot_refuses_that_run_alone() {
    let store = Arc::new(MemoryStore::new());
    let guard = Arc::new(PanicsInSnapshots { in_snapshot: false });
    let (first, _) = stopped_after_a(&store, guard.clone()).await;
    let (second, counts) = stopped(&store).await;
    let engine = Engine::builder_with_store(store.clone())
        .executor("gated", Arc::new(Gated::default()))
        .executor("counts", counts.clone())
        .guard(guard)
        .open()
        .await
        .unwrap();
    let refused = engine.resume(&first).await.map(|_| ()).unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("run {first}: the guard panicked in its restore(): cannot read it")
    );
    // The other run, whose snapshot restores, is recovered all the same.
    let recovered = engine.recover().await.unwrap();
    let results: Vec<(String, bool)> = (recovered.into_iter())
        .map(|(run, result)| (run.to_string(), result.is_ok()))
        .collect();
    assert!(results.contains(&(first, false)), "{results:?}");
    assert!(results.contains(&(second, true)), "{results:?}");
}

/// A program's own guard: allows every action, stores no snapshot; with `only_restores`,
/// the guard of an engine that only resumes runs (as `cairn_guards::Restorer`).
#[derive(Debug)]
struct OwnGuard {
    only_restores: bool,
}

impl Guard for OwnGuard {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        Verdict::allow()
    }

    fn only_restores(&self) -> bool {
        self.only_restores
    }
}

/// A run whose guard stored no snapshot is refused, untouched, by an engine whose guard only
/// restores (`cairn recover` ended it failed, every step denied: probe 44 F2), and is
/// resumed by one with that guard.
#[tokio::test]
async fn a_run_whose_guard_stored_nothing_is_refused_by_an_engine_that_only_restores() {
    let store = Arc::new(MemoryStore::new());
    let own = |only_restores| Arc::new(OwnGuard { only_restores });
    let (run, counts) = stopped_after_a(&store, own(false)).await;
    let engine_with = |guard: Arc<OwnGuard>| {
        Engine::builder_with_store(store.clone())
            .executor("gated", Arc::new(Gated::default()))
            .executor("counts", counts.clone())
            .guard(guard)
            .open()
    };
    let restoring = engine_with(own(true)).await.unwrap();
    let events = store.history(run.parse().unwrap()).await.unwrap().len();
    let refused = restoring.resume(&run).await.map(|_| ()).unwrap_err();
    assert!(matches!(refused, Error::Guard { .. }), "{refused:?}");
    assert!(
        refused
            .to_string()
            .contains("only a program with that guard can drive it"),
        "{refused}"
    );
    let recovered = restoring.recover().await.unwrap();
    assert!(
        recovered.iter().all(|(_, result)| result.is_err()),
        "{recovered:?}"
    );
    assert_eq!(
        store.history(run.parse().unwrap()).await.unwrap().len(),
        events
    );
    assert_eq!(counts.0.load(SeqCst), 0);

    let report = engine_with(own(false))
        .await
        .unwrap()
        .resume(&run)
        .await
        .unwrap();
    assert_eq!(report.wait().await.unwrap().state, RunState::Succeeded);
    assert_eq!(counts.0.load(SeqCst), 1);
}

/// A caller that stops waiting for a start or a resume (a timeout, a `select!`) after its
/// first poll: the run is recorded or taken over, and driven to its end all the same.
#[tokio::test]
async fn a_start_or_a_resume_dropped_after_its_first_poll_still_drives_its_run() {
    let store = Arc::new(MemoryStore::new());
    let (run, counts) = stopped(&store).await;
    let gated = Arc::new(Gated::default());
    let engine = Engine::builder_with_store(store.clone())
        .executor("gated", gated.clone())
        .executor("counts", counts.clone())
        .guard(Arc::new(SendsAtRestore::default()))
        .open()
        .await
        .unwrap();
    {
        let resumed = std::pin::pin!(engine.resume(&run));
        assert!(futures::poll!(resumed).is_pending());
    }
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "gated"}]});
    let plan = engine.load_str(&workflow.to_string(), "h.json").unwrap();
    {
        // (Over the in-memory store a start may end in its first poll, its handle dropped.)
        let started = std::pin::pin!(engine.start(plan, json!({})));
        let _ = futures::poll!(started);
    }
    // Both dropped: the resumed run's `b` runs, the new run's `a` starts.
    let hang = std::time::Duration::from_secs(60);
    let started = tokio::time::timeout(hang, gated.started.notified()).await;
    started.expect("the start was dropped half way");
    let counted = async {
        while counts.0.load(SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(hang, counted)
        .await
        .expect("the resume was dropped half way");
    gated.go.notify_one();
    let runs = engine.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
}
