//! The attempt task's own tests: items stopped alone, classes only the engine gives,
//! nesting, and the sibling steps committed while a wide window starts.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::broadcast;

use super::*;
use crate::store::MemoryStore;
use crate::{Engine, Event, RunReport, RunState};

/// Item 0 ignores its cancellation; item 1 reports a sign of life, then ends once its
/// `release` is notified.
#[derive(Debug, Default)]
struct Deaf {
    release: Notify,
}

#[async_trait]
impl Executor for Deaf {
    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        if action.item_index == Some(0) {
            return std::future::pending().await;
        }
        ctx.progress.report();
        self.release.notified().await;
        Outcome::success(json!("done"))
    }
}

fn item_action(index: usize) -> Action {
    Action {
        run_id: uuid::Uuid::nil(),
        step_id: "each".to_owned(),
        item_index: Some(index),
        attempt: 1,
        executor: "deaf".to_owned(),
        params: json!({}),
        idempotency_key: Action::idempotency_key_for(uuid::Uuid::nil(), "each", Some(index)),
    }
}

/// A `for_each` attempt of items 0 and 1 of `executor`, side by side.
fn two_items(executor: &str) -> Start {
    Start {
        step: 0,
        executor: executor.to_owned(),
        actions: Actions::Rendered(vec![item_action(0), item_action(1)]),
        for_each: true,
        item_limit: 2,
        timeout: None,
        max_output: crate::DEFAULT_MAX_OUTPUT_BYTES,
    }
}

/// The channels of an attempt of two items, both given their leave, whose ends go to `ends`.
fn channels(
    ends: mpsc::UnboundedSender<Box<ItemEnd>>,
    read_commands: Arc<Notify>,
    commands_read: watch::Receiver<u64>,
    running: Arc<RunningItems>,
) -> ItemChannels {
    ItemChannels {
        ends,
        leaves: Arc::new(Semaphore::new(2)),
        halted: CancellationToken::new(),
        read_commands,
        commands_read,
        running,
        run_deadline: None,
    }
}

#[tokio::test(start_paused = true)]
async fn an_item_stopped_alone_is_abandoned_after_the_stop_grace_and_its_sibling_goes_on() {
    let deaf = Arc::new(Deaf::default());
    let (ends, mut ended) = mpsc::unbounded_channel();
    let running = Arc::new(RunningItems::new(Arc::new(Notify::new())));
    let start = two_items("deaf");
    let commands_read = tokio::sync::watch::Sender::new(0).subscribe();
    let items = channels(
        ends,
        Arc::new(Notify::new()),
        commands_read,
        Arc::clone(&running),
    );
    let executor: Arc<dyn Executor> = deaf.clone();
    let ctx = ExecContext::new();
    let attempt = tokio::spawn(run_attempt(start, executor, ctx.clone(), items));
    tokio::task::yield_now().await;
    let heard = running.heard();
    assert_eq!(
        heard,
        [(1, Instant::now())],
        "each item's own signs of life, when they came"
    );
    assert!(running.heard().is_empty(), "seen once");
    running.stop(0);
    tokio::time::sleep(STOP_GRACE - Duration::from_millis(1)).await;
    assert!(ended.try_recv().is_err(), "the item has its grace to stop");
    tokio::time::sleep(Duration::from_millis(2)).await;
    let end = ended.recv().await.unwrap();
    assert_eq!(end.index, 0);
    let error = end.outcome.result.unwrap_err();
    assert_eq!(error.class, ErrorClass::Cancelled);
    assert_eq!(
        error.message,
        "the executor did not stop when cancelled, nor in the 30 s after: abandoned \
         (a process step's kill_grace is cut at 30 s)"
    );
    assert!(
        !ctx.cancel.is_cancelled(),
        "its attempt was not told to stop"
    );
    deaf.release.notify_one();
    let end = ended.recv().await.unwrap();
    assert_eq!((end.index, end.outcome.result), (1, Ok(json!("done"))));
    let completion = attempt.await.unwrap();
    assert!(completion.outcome.result.is_ok(), "every item was reported");
}

/// Item 0's start holds the runtime's thread 15 ms, as a slow spawn does, then never ends;
/// item 1 says it started.
#[derive(Debug, Default)]
struct SlowStart {
    second: Notify,
}

#[async_trait]
impl Executor for SlowStart {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        if action.item_index == Some(0) {
            std::thread::sleep(Duration::from_millis(15));
            return std::future::pending().await;
        }
        self.second.notify_one();
        std::future::pending().await
    }
}

#[tokio::test]
async fn an_item_that_comes_10_ms_after_the_commands_were_read_waits_for_a_read() {
    let slow = Arc::new(SlowStart::default());
    let (ends, _ended) = mpsc::unbounded_channel();
    let read_commands = Arc::new(Notify::new());
    let commands_read = tokio::sync::watch::Sender::new(0);
    let start = two_items("slow");
    let running = Arc::new(RunningItems::new(Arc::new(Notify::new())));
    let read = Arc::clone(&read_commands);
    let items = channels(ends, read, commands_read.subscribe(), running);
    let executor: Arc<dyn Executor> = slow.clone();
    let attempt = tokio::spawn(run_attempt(start, executor, ExecContext::new(), items));
    // Item 0's start took 15 ms since the attempt was committed: item 1, its leave given
    // with the attempt, rings for a read of the commands first (probe 94 F1: a window of
    // 2,000 items each spawned in 1 ms started hundreds after a pause).
    let rang = tokio::select! {
        () = read_commands.notified() => true,
        () = slow.second.notified() => false,
    };
    assert!(rang, "item 1 started without a read of the commands");
    commands_read.send_modify(|reads| *reads += 1);
    slow.second.notified().await;
    attempt.abort();
}

/// Fails with the class `with.class` names.
#[derive(Debug)]
struct FailsAs;

#[async_trait]
impl Executor for FailsAs {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        let class: ErrorClass = serde_json::from_value(action.params["class"].clone()).unwrap();
        Outcome::failure(class, "said so")
    }
}

#[tokio::test]
async fn a_class_only_the_engine_gives_is_an_executors_bad_output() {
    let action = |class: &str| Action {
        params: json!({ "class": class }),
        ..item_action(0)
    };
    for class in ["interrupted", "denied", "stalled", "invalid_plan"] {
        let outcome = guarded(Arc::new(FailsAs), action(class), ExecContext::new()).await;
        let error = outcome.result.unwrap_err();
        assert_eq!(error.class, ErrorClass::BadOutput, "{class}");
        assert_eq!(
            error.message,
            format!(
                "the executor failed with class `{class}`, which only the engine gives: said so"
            )
        );
    }
    let outcome = guarded(Arc::new(FailsAs), action("transient"), ExecContext::new()).await;
    assert_eq!(outcome.result.unwrap_err().class, ErrorClass::Transient);
    // `cancelled` is the executor's to give once its attempt was cancelled, not before.
    let outcome = guarded(Arc::new(FailsAs), action("cancelled"), ExecContext::new()).await;
    let error = outcome.result.unwrap_err();
    assert_eq!(error.class, ErrorClass::BadOutput);
    assert_eq!(
        error.message,
        "the executor failed with class `cancelled`, though nothing cancelled its attempt: \
         said so"
    );
    let cancelled = ExecContext::new();
    cancelled.cancel.cancel();
    let outcome = guarded(Arc::new(FailsAs), action("cancelled"), cancelled).await;
    assert_eq!(outcome.result.unwrap_err().class, ErrorClass::Cancelled);
}

/// Outputs `with.levels` arrays nested one in the other, built without recursion.
#[derive(Debug)]
struct Nests;

#[async_trait]
impl Executor for Nests {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        let mut output = json!(0);
        for _ in 0..action.params["levels"].as_u64().unwrap_or_default() {
            output = Value::Array(vec![output]);
        }
        Outcome::success(output)
    }
}

/// Runs one `nests` step of `levels` to its end.
async fn run_nesting(levels: usize) -> RunReport {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("nests", Arc::new(Nests))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "n", "steps": [
        {"id": "a", "executor": "nests", "with": {"levels": levels}}
    ]});
    let plan = engine.load_str(&workflow.to_string(), "n.json").unwrap();
    let run = engine.start(plan, json!({})).await.unwrap();
    run.wait().await.unwrap()
}

/// The items of a `for_each` window in the tests below.
const WINDOW: usize = 1_000;

/// Step `b` ends once the first item of step `each` started (and, given a socket, once it
/// read a byte written to it before the run: its end then comes through tokio's I/O
/// driver, as a process's exit does); the items count their starts, each noting whether
/// `b`'s success was committed by then (an event of the run read as it starts), and end
/// once the last one started.
#[derive(Debug, Default)]
struct CountedStarts {
    started: AtomicUsize,
    first_started: Notify,
    /// The socket `b` reads before it ends, if any.
    b_reads: Mutex<Option<std::os::unix::net::UnixStream>>,
    events: Mutex<Option<broadcast::Receiver<Event>>>,
    /// How many items had started when one saw `b`'s success committed.
    started_before_commit: OnceLock<usize>,
    all_started: CancellationToken,
}

impl CountedStarts {
    /// Whether the events read now include `b`'s success.
    fn b_succeeded(&self) -> bool {
        let mut events = self.events.lock().unwrap();
        let mut succeeded = false;
        while let Some(event) = events.as_mut().and_then(|events| events.try_recv().ok()) {
            succeeded |= event.step_id() == Some("b") && event.to() == "succeeded";
        }
        succeeded
    }
}

#[async_trait]
impl Executor for CountedStarts {
    async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
        if action.step_id == "b" {
            self.first_started.notified().await;
            let socket = self.b_reads.lock().unwrap().take();
            if let Some(socket) = socket {
                socket.set_nonblocking(true).unwrap();
                let mut socket = tokio::net::UnixStream::from_std(socket).unwrap();
                socket.read_u8().await.unwrap();
            }
            return Outcome::success(json!("b"));
        }
        let started = self.started.fetch_add(1, Ordering::Relaxed);
        if started == 0 {
            self.first_started.notify_one();
        }
        if self.b_succeeded() {
            let _ = self.started_before_commit.set(started);
        }
        if started + 1 == WINDOW {
            self.all_started.cancel();
        }
        self.all_started.cancelled().await;
        Outcome::success(json!(null))
    }
}

/// Runs `b` beside a window of [`WINDOW`] items counted by `counted`, on a runtime as
/// the CLI's (a single thread, the driver's turns taken between the polls of the
/// attempts' tasks): how many items had started when one saw `b`'s success committed.
async fn starts_before_b_committed(counted: Arc<CountedStarts>) -> Option<usize> {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("counted", counted.clone())
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "w", "steps": [
        {"id": "b", "executor": "counted"},
        {"id": "each", "executor": "counted", "for_each": "${{ input.items }}",
         "max_parallel": WINDOW}
    ]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let input = json!({"items": vec![0; WINDOW]});
    let mut run = engine.start(plan, input).await.unwrap();
    *counted.events.lock().unwrap() = Some(run.events());
    let report = run.wait().await.unwrap();
    assert_eq!(report.state, RunState::Succeeded, "{:?}", report.error);
    counted.started_before_commit.get().copied()
}

#[tokio::test]
async fn a_sibling_step_that_ended_is_committed_while_a_wide_window_starts() {
    let started = starts_before_b_committed(Arc::default()).await;
    assert!(
        started.is_some_and(|started| started < WINDOW),
        "b's success was committed only after all {WINDOW} items had started"
    );
}

#[tokio::test]
async fn a_sibling_step_ended_by_io_is_committed_while_a_wide_window_starts() {
    // b's end needs a look at the I/O driver, which a task always ready keeps away.
    let (mut written, read) = std::os::unix::net::UnixStream::pair().unwrap();
    std::io::Write::write_all(&mut written, b"x").unwrap();
    let counted = Arc::new(CountedStarts {
        b_reads: Mutex::new(Some(read)),
        ..CountedStarts::default()
    });
    let started = starts_before_b_committed(counted).await;
    assert!(
        started.is_some_and(|started| started < WINDOW),
        "b's success was committed only after all {WINDOW} items had started"
    );
}

#[tokio::test]
async fn an_output_nested_deeper_than_the_limit_fails_the_attempt_as_bad_output() {
    let taken = run_nesting(nesting::MAX_DEPTH).await;
    assert_eq!(taken.state, RunState::Succeeded, "{:?}", taken.error);
    for levels in [nesting::MAX_DEPTH + 1, 1_000_000] {
        let refused = run_nesting(levels).await;
        assert_eq!(refused.state, RunState::Failed);
        assert_eq!(refused.error_class, Some(ErrorClass::BadOutput));
        let error = refused.error.unwrap_or_default();
        assert!(
            error.contains("the output is nested deeper than 128 levels"),
            "{error}"
        );
    }
}
