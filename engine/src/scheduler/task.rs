//! One attempt in a task of its own: its executor's call, or a `for_each` step's items, each
//! started with a leave from the driver, watched on its own (its signs of life, its own
//! stop) and reported as it ends; panics and executors that do not stop when told to turned
//! into outcomes.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant as StdInstant};

use futures::{FutureExt, StreamExt};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ledger::{Actions, DeferredItems, JUDGING_SLICE, Prepared, Start};
use crate::error::panic_message;
use crate::executor::{Action, ErrorClass, ExecContext, ExecError, Executor, Outcome, Progress};
use crate::nesting;
use crate::plan::StepIndex;

mod window;

use window::buffer_unordered_within_budget;

/// How long an attempt may take to wind down once told to stop — its deadline passed, or it
/// was cancelled (a stall, a cancel, the run's deadline, the engine's shutdown) — before the
/// engine abandons it: its future is dropped, and it ends as that stop would have ended it.
/// Longer than a process step's default `kill_grace` (TERM, 5 s, KILL); as long as the
/// steps in flight get at `cairn run`'s first signal (docs/executors.md).
const STOP_GRACE: Duration = Duration::from_secs(30);

/// One finished attempt, as reported by its task.
#[derive(Debug)]
pub(super) struct Completion {
    pub(super) step: StepIndex,
    pub(super) outcome: Outcome,
    /// Whether the attempt's time limit cut off a `for_each` step's task, which ended on its
    /// own (every item it started reported) past it: the items not started then did not
    /// start for it, whatever else (a halt) also held them.
    pub(super) cut_off: bool,
}

/// One ended item of a `for_each` attempt, as reported by its task while the others run.
#[derive(Debug)]
pub(super) struct ItemEnd {
    pub(super) step: StepIndex,
    pub(super) index: usize,
    pub(super) outcome: Outcome,
}

/// How a `for_each` attempt and its driver speak of its items.
pub(super) struct ItemChannels {
    /// Where each item's end is reported.
    pub(super) ends: mpsc::UnboundedSender<Box<ItemEnd>>,
    /// The leave to start each item, given by the driver as earlier items end.
    pub(super) leaves: Arc<Semaphore>,
    /// Cancelled when the run is halted: no item starts any more.
    pub(super) halted: CancellationToken,
    /// Rings the driver to read the run's commands now.
    pub(super) read_commands: Arc<Notify>,
    /// Counts the driver's reads of the commands that left the run going: an item that
    /// comes [`UNCONFIRMED`] after the last one known starts only after the next
    /// ([`CommandReads::confirmed_if_due`]).
    pub(super) commands_read: watch::Receiver<u64>,
    /// The items running now, as the driver watches them.
    pub(super) running: Arc<RunningItems>,
    /// The run's deadline, if it has one: no item starts past it.
    pub(super) run_deadline: Option<Instant>,
}

/// The items of a `for_each` attempt that run now, as its driver watches them: each one's
/// signs of life, and how to stop it alone (a stalled item stops, its siblings go on); and
/// how many it started, until its driver closes it ([`RunningItems::close`]).
#[derive(Debug)]
pub(super) struct RunningItems {
    /// Rung at an item's first sign of life after each look.
    bell: Arc<Notify>,
    items: Mutex<Started>,
}

/// The items a `for_each` attempt started.
#[derive(Debug, Default)]
struct Started {
    /// Those running now.
    running: HashMap<usize, ItemWatch>,
    /// How many it started, in all.
    count: usize,
    /// Whether it may start no more (the run halted).
    closed: bool,
}

/// One running item, as its driver watches it.
#[derive(Debug)]
struct ItemWatch {
    /// The item's own cancellation (a child of its attempt's).
    cancel: CancellationToken,
    /// Cancelled when the item alone is told to stop: it is abandoned [`STOP_GRACE`] later.
    stopped: CancellationToken,
    progress: Progress,
    /// The progress count last looked at.
    seen: u64,
}

impl RunningItems {
    /// No item running yet; their signs of life ring `bell`.
    pub(super) fn new(bell: Arc<Notify>) -> Self {
        RunningItems {
            bell,
            items: Mutex::default(),
        }
    }

    fn items(&self) -> MutexGuard<'_, Started> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Item `index` starts in the attempt of `ctx`, unless the attempt was closed: the
    /// context it runs with (its own cancellation and progress), and what is cancelled when
    /// it alone is to stop.
    fn start(&self, index: usize, ctx: &ExecContext) -> Option<(ExecContext, CancellationToken)> {
        let mut items = self.items();
        if items.closed {
            return None;
        }
        let watch = ItemWatch {
            cancel: ctx.cancel.child_token(),
            stopped: CancellationToken::new(),
            progress: Progress::ringing(Arc::clone(&self.bell)),
            seen: 0,
        };
        let item_ctx = ExecContext {
            cancel: watch.cancel.clone(),
            progress: watch.progress.clone(),
            ..ctx.clone()
        };
        let stopped = watch.stopped.clone();
        items.running.insert(index, watch);
        items.count += 1;
        Some((item_ctx, stopped))
    }

    /// Item `index` ended.
    fn end(&self, index: usize) {
        self.items().running.remove(&index);
    }

    /// The run halted: the attempt starts no more items. How many it started (its first
    /// ones, in the order of its actions), none of them after this.
    pub(super) fn close(&self) -> usize {
        let mut items = self.items();
        items.closed = true;
        items.count
    }

    /// Tells item `index` to stop, if it runs: its executor is cancelled, and the item
    /// abandoned if it has not ended [`STOP_GRACE`] later.
    pub(super) fn stop(&self, index: usize) {
        if let Some(watch) = self.items().running.get(&index) {
            watch.cancel.cancel();
            watch.stopped.cancel();
        }
    }

    /// The running items that showed signs of life since the last look, each with when its
    /// last sign came.
    pub(super) fn heard(&self) -> Vec<(usize, Instant)> {
        let mut heard = Vec::new();
        for (&index, watch) in self.items().running.iter_mut() {
            let (count, last) = watch.progress.look();
            if count != watch.seen {
                watch.seen = count;
                heard.extend(last.map(|last| (index, last)));
            }
        }
        heard
    }
}

/// An item as the attempt reaches it: its action (or why it has none), rendered on the
/// runtime's thread, or the `at`th of the items to start, to render off that thread.
enum Next {
    Prepared(Prepared),
    OffThread(Arc<DeferredItems>, usize),
}

/// The actions of `items`, each rendered on the runtime's thread as it is reached, until one
/// takes a turn's slice ([`JUDGING_SLICE`]) to render: those after it render off that thread
/// ([`rendered_off_thread`]), which goes on meanwhile with the commands, the signals, the
/// deadline and the other steps (each may take 10 s: probe 83 F1, a cancel and a SIGTERM were
/// read items later, the engine's own reads of the store waiting behind the renders).
fn rendered_until_slow(items: &Arc<DeferredItems>) -> impl Iterator<Item = Next> + Send + '_ {
    let scope = items.item_scope();
    let mut slow = false;
    (0..items.len()).map(move |at| {
        if slow {
            return Next::OffThread(Arc::clone(items), at);
        }
        let began = StdInstant::now();
        let prepared = items.prepare(&scope, at);
        slow = began.elapsed() >= JUDGING_SLICE;
        Next::Prepared(prepared)
    })
}

/// The longest an item starts after the run's commands and signals were last known read —
/// the commit that recorded its attempt running, or a read an earlier item waited for
/// ([`CommandReads::confirmed_if_due`]) — without a read after it: a pause, a cancel or a signal that came
/// meanwhile may find it started, by no more than this. Counted in time, the items' renders,
/// spawns and waits alike: counting renders only, a window of 2,000 items rendered in
/// microseconds and spawned in a millisecond each started hundreds after a pause (probe 94
/// F1; 89 F1: 40 items of 50 ms held a pause 2 s; 90 F1: items of 60 ms started after it,
/// the bound then 100 ms). A read of the store is ≈ 0.1 ms, waited for once every 10 ms at
/// most.
const UNCONFIRMED: Duration = Duration::from_millis(10);

/// What an attempt's items need to wait for a read of the run's commands and signals,
/// shared by them ([`CommandReads::confirmed_if_due`]).
struct CommandReads {
    /// Rings the driver to read the run's commands now.
    ring: Arc<Notify>,
    /// Counts the driver's reads of the commands that left the run going.
    reads: watch::Receiver<u64>,
    /// When the commands and the signals were last known read: the commit that recorded the
    /// attempt running, or a read an item waited for.
    last: Mutex<StdInstant>,
    /// The attempt's cancellation, and the run's halt: no read is waited for past either.
    cancel: CancellationToken,
    halted: CancellationToken,
}

impl CommandReads {
    /// Waits, once [`UNCONFIRMED`] or more has passed since the commands were last known
    /// read, until the driver has read them once more, rung to, or the run halted or the
    /// attempt was cancelled: so that no item starts after a pause, a cancel or a signal
    /// that came as it or those before it rendered and started (probe 88 F1: the first
    /// window's items, recorded running with their step, started after them). A yield
    /// first lets the runtime poll its signals, which the driver reads before the commands;
    /// a halt read leaves the count as it is, and the next commit cancels `halted`.
    async fn confirmed_if_due(&self) {
        let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.elapsed() < UNCONFIRMED {
            return;
        }
        tokio::task::yield_now().await;
        let mut reads = self.reads.clone();
        reads.mark_unchanged();
        self.ring.notify_one();
        tokio::select! {
            _ = reads.changed() => {}
            () = either_cancelled(self.cancel.clone(), self.halted.clone()) => {}
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = StdInstant::now();
    }
}

/// The `at`th action of `items`, rendered on tokio's blocking pool.
async fn rendered_off_thread(items: Arc<DeferredItems>, at: usize) -> Prepared {
    let rendering = Arc::clone(&items);
    match tokio::task::spawn_blocking(move || rendering.prepare_alone(at)).await {
        Ok(prepared) => prepared,
        Err(error) => items.unprepared(at, format!("`with`: its rendering failed: {error}")),
    }
}

/// Runs one attempt (the items of a `for_each` step, each started with a leave from the
/// driver and reported as it ends, none started once the attempt is cancelled, the run
/// halted or the attempt's deadline passed), turning panics into outcomes and abandoning
/// an attempt still running [`STOP_GRACE`] after it was told to stop ([`abandoned`]).
pub(super) async fn run_attempt(
    start: Start,
    executor: Arc<dyn Executor>,
    ctx: ExecContext,
    items: ItemChannels,
) -> Completion {
    let ItemChannels {
        ends,
        leaves,
        halted,
        read_commands,
        commands_read,
        running,
        run_deadline,
    } = items;
    let began = StdInstant::now();
    let deadline = ctx.deadline;
    let Start {
        step,
        actions,
        for_each,
        item_limit,
        ..
    } = start;
    // The items rendered as they start, if the ledger left them to the task.
    let (rendered, deferred) = match actions {
        Actions::Rendered(actions) => (actions, None),
        Actions::Deferred(items) => (Vec::new(), Some(Arc::new(*items))),
    };
    let attempt = async {
        // Each action as the attempt reaches it: the ledger's, or an item's rendered then.
        let mut next: Box<dyn Iterator<Item = Next> + Send + '_> = match &deferred {
            None => Box::new(
                rendered
                    .into_iter()
                    .map(|action| Next::Prepared(Ok(action))),
            ),
            Some(items) => Box::new(rendered_until_slow(items)),
        };
        if !for_each {
            let Some(Next::Prepared(Ok(action))) = next.next() else {
                return Outcome::failure(ErrorClass::BadParams, "no action to run");
            };
            return guarded(Arc::clone(&executor), action, ctx.clone()).await;
        }
        let stopped = halted.clone();
        let command_reads = Arc::new(CommandReads {
            ring: read_commands,
            reads: commands_read,
            last: Mutex::new(StdInstant::now()),
            cancel: ctx.cancel.clone(),
            halted,
        });
        let items = futures::stream::iter(next)
            // Each item waits for its leave: the end of an earlier one, committed; one that
            // comes UNCONFIRMED or more after the commands were last read, for them to be
            // read. Not a leave's commit: it read the commands, not the signals, which wait
            // for the runtime to poll them (probe 95 F1: items whose `with` failed to render,
            // 7 ms each, kept a SIGTERM unread 200 ms).
            .then(|next| {
                let leaves = Arc::clone(&leaves);
                let command_reads = Arc::clone(&command_reads);
                async move {
                    let prepared = match next {
                        Next::Prepared(prepared) => prepared,
                        Next::OffThread(items, at) => rendered_off_thread(items, at).await,
                    };
                    if let Ok(leave) = leaves.acquire().await {
                        leave.forget();
                    }
                    command_reads.confirmed_if_due().await;
                    prepared
                }
            })
            // The attempt's deadline cuts it off even while an item renders off the thread
            // (probe 89 F2: a step of `timeout: 1s` ended with a render, 10 s later).
            .take_until(async {
                tokio::select! {
                    () = either_cancelled(ctx.cancel.clone(), stopped) => {}
                    () = super::sleep_until(deadline) => {}
                }
            })
            // Checked as each item is about to start: none starts past the attempt's deadline
            // (which cuts it off) nor past the run's (probe 83 F5: items whose `with` took
            // seconds to render went on starting after it, before the driver could stop them).
            .take_while(|_| {
                let now = Instant::now();
                let due = deadline.is_some_and(|deadline| now >= deadline);
                let run_over = run_deadline.is_some_and(|deadline| now >= deadline);
                std::future::ready(!due && !run_over)
            })
            // None starts once its driver closed the attempt (the run halted): the driver
            // knows which it started, the first ones.
            .scan((), |(), prepared| {
                let index = item_index(&prepared);
                let started = running.start(index, &ctx);
                std::future::ready(started.map(|(item_ctx, stopped)| (prepared, item_ctx, stopped)))
            })
            // Each item runs with its own cancellation and signs of life, and is abandoned
            // STOP_GRACE after it alone was told to stop (its stall); one whose `with` did
            // not render fails at once, on its own.
            .map(|(prepared, item_ctx, stopped)| {
                let index = item_index(&prepared);
                let (executor, running) = (Arc::clone(&executor), Arc::clone(&running));
                async move {
                    let outcome = match prepared {
                        Ok(action) => tokio::select! {
                            biased;
                            outcome = guarded(executor, action, item_ctx) => outcome,
                            outcome = abandoned(None, stopped) => outcome,
                        },
                        Err(unprepared) => unprepared.outcome(),
                    };
                    running.end(index);
                    (index, outcome)
                }
            });
        buffer_unordered_within_budget(items, item_limit)
            .for_each(|(index, outcome)| {
                // The driver outlives its tasks: a send fails only while it stops.
                let _ = ends.send(Box::new(ItemEnd {
                    step,
                    index,
                    outcome,
                }));
                std::future::ready(())
            })
            .await;
        // The step's result is its items' (the ledger has them, usage included).
        Outcome::success(serde_json::Value::Null)
    };
    let stop = ctx.cancel.clone();
    // Whether the attempt was cancelled (its run cancelled, or its stall) before its deadline,
    // told as it comes: the item stream sees either only when it is next polled.
    let cancelled_in_time = async {
        tokio::select! {
            biased;
            () = super::sleep_until(deadline) => false,
            () = ctx.cancel.cancelled() => true,
        }
    };
    let (mut attempt, mut abandon) = (
        std::pin::pin!(attempt),
        std::pin::pin!(abandoned(deadline, stop)),
    );
    let mut cancelled_in_time = std::pin::pin!(cancelled_in_time);
    let mut cancelled_first = None;
    let mut outcome = loop {
        tokio::select! {
            biased;
            outcome = &mut attempt => break outcome,
            outcome = &mut abandon => {
                ctx.cancel.cancel();
                break outcome;
            }
            first = &mut cancelled_in_time, if cancelled_first.is_none() => {
                cancelled_first = Some(first);
            }
        }
    };
    outcome.duration = began.elapsed();
    // (An overdue task did not report the items it started: it was not merely cut off.)
    // Items the deadline kept from starting did not time out, the attempt did: so did one a
    // pause or a signal kept from starting more before it (probe 101 F1: which of the two the
    // stream saw first decided, and a timed-out attempt ran again uncounted); not one whose
    // cancel came first, which is cancelled (103 F1: said timed out).
    let past_deadline = deadline.is_some_and(|deadline| Instant::now() >= deadline);
    let cut_off = past_deadline && cancelled_first != Some(true) && outcome.result.is_ok();
    Completion {
        step,
        outcome,
        cut_off,
    }
}

/// Resolves [`STOP_GRACE`] after the attempt was told to stop — `deadline` passed or `stop`
/// cancelled, whichever came first — with the outcome of an attempt abandoned then. A timed
/// out attempt fails `timeout`; a cancelled one `cancelled`, which the driver records as the
/// cancellation's own end (a stall's escalation, a cancelled step; an interrupted attempt
/// at a shutdown or the run's deadline, whose outcome it does not record).
async fn abandoned(deadline: Option<Instant>, stop: CancellationToken) -> Outcome {
    let timed_out = tokio::select! {
        () = super::sleep_until(deadline) => true,
        () = stop.cancelled() => false,
    };
    tokio::time::sleep(STOP_GRACE).await;
    let (class, when) = if timed_out {
        (ErrorClass::Timeout, "at its deadline")
    } else {
        (ErrorClass::Cancelled, "when cancelled")
    };
    let grace = STOP_GRACE.as_secs();
    let message = format!(
        "the executor did not stop {when}, nor in the {grace} s after: abandoned (a process step's kill_grace is cut at {grace} s)"
    );
    Outcome::failure(class, message)
}

/// One executor call, with a panic turned into a failed outcome, an output nested too deep
/// ([`nesting::MAX_DEPTH`]) into a `bad_output` failure, and the usage it reports made one that
/// budgets can count ([`Usage::counted`](crate::Usage::counted)).
async fn guarded(executor: Arc<dyn Executor>, action: Action, ctx: ExecContext) -> Outcome {
    let cancel = ctx.cancel.clone();
    let mut outcome = AssertUnwindSafe(executor.execute(&action, ctx))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = panic_message(&*panic);
            Outcome::failure(
                ErrorClass::Panicked,
                format!("the executor panicked: {message}"),
            )
        });
    // A class only the engine gives would say what did not happen (a denial no guard
    // made, an interruption the run would be resumed for), as would `cancelled` for an
    // attempt nothing cancelled (a program would read a cancel of the run: probe 44 F10): it
    // is the executor's bad output.
    if let Err(error) = &mut outcome.result {
        let class = error.class.as_str();
        let said = if error.class.is_the_engines() {
            Some("which only the engine gives")
        } else if error.class == ErrorClass::Cancelled && !cancel.is_cancelled() {
            Some("though nothing cancelled its attempt")
        } else {
            None
        };
        if let Some(said) = said {
            error.message = format!(
                "the executor failed with class `{class}`, {said}: {}",
                error.message
            );
            error.class = ErrorClass::BadOutput;
        }
    }
    if let Ok(output) = &outcome.result
        && let Err(too_deep) = nesting::check(output, 0)
    {
        let error = ExecError {
            class: ErrorClass::BadOutput,
            message: format!("the output is {too_deep}"),
        };
        if let Ok(refused) = std::mem::replace(&mut outcome.result, Err(error)) {
            nesting::dismantle(refused);
        }
    }
    outcome.usage = outcome.usage.counted();
    outcome
}

/// The index of the item an action (or its failure to render) is of.
fn item_index(prepared: &Prepared) -> usize {
    match prepared {
        Ok(action) => action.item_index.unwrap_or_default(),
        Err(unprepared) => unprepared.index,
    }
}

/// Resolves once `one` or `other` is cancelled.
async fn either_cancelled(one: CancellationToken, other: CancellationToken) {
    tokio::select! {
        () = one.cancelled() => {}
        () = other.cancelled() => {}
    }
}

#[cfg(test)]
mod tests;
