//! A `for_each` attempt's window of items, run side by side in the attempt's task, and
//! tokio's co-operative budget.
//!
//! A tokio future that finds its task's budget spent (`tokio::select!`, a semaphore's
//! acquire, timers, I/O) returns `Pending` and defers its wake until the task's poll ends.
//! `FuturesUnordered`, which `buffer_unordered` runs the items in, gives the task back only
//! when the futures it polls wake themselves during their poll, or once it has polled every
//! one: so, the budget spent, it polled each item woken before — all of a window starting
//! together — once in vain, on every poll of the task. Filling a window of `n` items, whose
//! leaves spend one unit each (128 a poll), cost O(n² / 128) polls: 100,000 `noop` items
//! in a window of 100,000 took 22 s of CPU (debug), 7.8 s in a window of 1,000.
//!
//! An item's poll that does work spends no budget of its own either: a process item's start
//! (its spawn) is synchronous, its wait for the child spends nothing while pending, so a
//! window of `n` items all started in one poll of the task, and the driver, on the same
//! thread in the CLI, committed nothing — not the items ended, not a sibling step ended —
//! until the whole window had started (400 process items: ≈ 0.5 s). Each poll of an item now
//! spends a unit: at most 128 items start (or are polled) before the driver's next turn.
//!
//! Those items, woken at once, kept the window's task always ready: `FuturesUnordered` gave
//! the task back by waking it at once too, and a current-thread runtime (the CLI's) looks at
//! its I/O driver, which brings a process's exit and its pipes, only every 61 task polls or
//! when no task is ready. So the ends of process steps and items came late while a wide
//! window started (400 process items: ≈ 0.5 s before anything was committed). The window
//! now gives its task back as `tokio::task::yield_now` does, woken after the runtime's next
//! look at its I/O driver; its items' wakes at once stay inside it ([`YieldsDeferred`]).
//!
//! `buffer_unordered` asks for items until its window is full, and polls them only then: an
//! item given its leave started (its process spawned) only once the items after it were
//! asked for, their `with` rendered, up to a slice of rendering later, so that a pause
//! committed meanwhile did not keep it from starting (probe 90 F1). Each item is now polled
//! once as it comes, before the next is asked for ([`Window`]).

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use futures::stream::{Fuse, FuturesUnordered};
use futures::task::{ArcWake, AtomicWaker, waker_ref};
use futures::{Stream, StreamExt};
use pin_project_lite::pin_project;

/// The outputs of the futures `items` yields, run at most `limit` at once, in the order
/// they end (as `buffer_unordered`'s), each polled once as it comes ([`Window`]): after
/// that an item is polled only while its task has budget left, and without it wakes itself
/// at once, which `FuturesUnordered` takes for a yield (it gives the task back after two)
/// rather than for the wait of a deferred wake; each poll of an item spends a unit of the
/// budget; the task given back is woken deferred.
pub(super) fn buffer_unordered_within_budget<S>(
    items: S,
    limit: usize,
) -> impl Stream<Item = <S::Item as Future>::Output>
where
    S: Stream,
    S::Item: Future,
{
    YieldsDeferred {
        window: Window {
            items: items.fuse(),
            running: FuturesUnordered::new(),
            limit,
        },
        wakes: Arc::default(),
    }
}

pin_project! {
    /// `buffer_unordered` of `items`, `limit` at once, each item polled once as it comes,
    /// before the next is asked for, whatever budget its task has left: its start follows
    /// its leave at once. (`FuturesUnordered` polls it again as it is pushed, with a waker of
    /// its own.)
    struct Window<S, F> {
        #[pin]
        items: Fuse<S>,
        running: FuturesUnordered<WithinBudget<Pin<Box<F>>>>,
        limit: usize,
    }
}

impl<S: Stream<Item = F>, F: Future> Stream for Window<S, F> {
    type Item = F::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let mut this = self.project();
        while this.running.len() < *this.limit {
            let Poll::Ready(Some(item)) = this.items.as_mut().poll_next(cx) else {
                break;
            };
            let mut item = Box::pin(item);
            let polled = item.as_mut().poll(cx);
            if let Poll::Ready(output) = spending(polled, cx) {
                return Poll::Ready(Some(output));
            }
            this.running.push(polled_within_budget(item));
        }
        match this.running.poll_next_unpin(cx) {
            Poll::Ready(None) if !this.items.is_done() => Poll::Pending,
            polled => polled,
        }
    }
}

pin_project! {
    /// `window`, its task given back as `tokio::task::yield_now` does: a wake during its poll
    /// (an item's, or `FuturesUnordered` giving the task back) is the window's own, and
    /// wakes the task deferred, after the runtime's next look at its I/O driver; any other
    /// wake (an item's end come) wakes it at once.
    struct YieldsDeferred<S> {
        #[pin]
        window: S,
        wakes: Arc<OwnWakes>,
    }
}

/// [`OwnWakes::polling`]: the window is not being polled.
const IDLE: u8 = 0;
/// [`OwnWakes::polling`]: the window is being polled, and was not woken during the poll.
const POLLING: u8 = 1;
/// [`OwnWakes::polling`]: the window is being polled, and was woken during the poll.
const WOKEN: u8 = 2;

/// The waker a [`YieldsDeferred`] window is polled with.
#[derive(Debug, Default)]
struct OwnWakes {
    /// [`IDLE`], [`POLLING`] or [`WOKEN`].
    polling: AtomicU8,
    /// The task's waker, as of the window's last poll.
    task: AtomicWaker,
}

impl ArcWake for OwnWakes {
    fn wake_by_ref(wakes: &Arc<Self>) {
        let during_poll =
            wakes
                .polling
                .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire);
        if during_poll == Err(IDLE) {
            wakes.task.wake();
        }
    }
}

impl<S: Stream> Stream for YieldsDeferred<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        this.wakes.task.register(cx.waker());
        this.wakes.polling.store(POLLING, Ordering::Release);
        let waker = waker_ref(this.wakes);
        let polled = this.window.poll_next(&mut Context::from_waker(&waker));
        if this.wakes.polling.swap(IDLE, Ordering::AcqRel) == WOKEN {
            // Its first poll defers the wake and is pending.
            let _ = pin!(tokio::task::yield_now()).poll(cx);
        }
        polled
    }
}

pin_project! {
    /// `item`, polled only while its task has budget left, each poll spending a unit; woken
    /// at once without it. A struct, not an `async fn`: one keeps its argument and the
    /// pinned copy of it both in its state, so every item of a window took twice its size
    /// (100,000 `noop` items in a window of 100,000: 195 MB of items at the peak, debug,
    /// instead of 100).
    struct WithinBudget<F> {
        #[pin]
        item: F,
    }
}

impl<F: Future> Future for WithinBudget<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !tokio::task::coop::has_budget_remaining() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = self.project().item.poll(cx);
        spending(polled, cx)
    }
}

/// `polled`, an item's poll, having spent a unit of its task's budget, if any is left.
/// Spent after the poll, not before: the item's own tokio futures would find the last unit
/// gone and defer their wake. (The item may have spent the last itself.)
fn spending<T>(polled: Poll<T>, cx: &mut Context<'_>) -> Poll<T> {
    if tokio::task::coop::has_budget_remaining()
        && let Poll::Ready(spent) = tokio::task::coop::poll_proceed(cx)
    {
        spent.made_progress();
    }
    polled
}

/// `item`, polled only while its task has budget left, each poll spending a unit
/// ([`WithinBudget`]).
fn polled_within_budget<F: Future>(item: F) -> WithinBudget<F> {
    WithinBudget { item }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// As many items as a poll of a task has budget for, 32 times over.
    const ITEMS: usize = 32 * 128;

    /// `ITEMS` items in one window, each start spending a unit of budget (as an item's leave
    /// does) and each item a `tokio::select!` (as `run_attempt`'s are): how many times
    /// the items were polled.
    async fn polls_of_a_full_window() -> usize {
        let polls = Arc::new(AtomicUsize::new(0));
        let items = futures::stream::iter(0..ITEMS)
            .then(|index| async move {
                tokio::task::consume_budget().await;
                index
            })
            .map(|index| {
                let polls = Arc::clone(&polls);
                let mut item = Box::pin(async move {
                    tokio::select! {
                        biased;
                        index = std::future::ready(index) => index,
                    }
                });
                std::future::poll_fn(move |cx| {
                    polls.fetch_add(1, Ordering::Relaxed);
                    item.as_mut().poll(cx)
                })
            });
        let mut ended: Vec<usize> = buffer_unordered_within_budget(items, ITEMS).collect().await;
        ended.sort_unstable();
        assert_eq!(
            ended,
            (0..ITEMS).collect::<Vec<_>>(),
            "every item ended once"
        );
        polls.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn each_item_is_polled_before_the_next_is_asked_for() {
        // As `run_attempt`'s items: asking for one renders its `with`, its first poll
        // starts it (probe 90 F1: started once the items after it had rendered).
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let logged = |entry: String| log.lock().unwrap().push(entry);
        let items = futures::stream::iter(0..3).map(|index| {
            logged(format!("asked {index}"));
            async move {
                logged(format!("started {index}"));
                std::future::pending::<()>().await;
            }
        });
        let mut window = std::pin::pin!(buffer_unordered_within_budget(items, 3));
        let polled = futures::poll!(window.next());
        assert!(polled.is_pending());
        let order = [
            "asked 0",
            "started 0",
            "asked 1",
            "started 1",
            "asked 2",
            "started 2",
        ];
        assert_eq!(*log.lock().unwrap(), order);
    }

    #[test]
    fn an_item_polled_within_budget_takes_no_more_room_than_the_item() {
        // A kilobyte held across an await, as an item holds its action and context.
        let item = async {
            let held = [0_u8; 1024];
            tokio::task::yield_now().await;
            held.len()
        };
        let size = std::mem::size_of_val(&item);
        assert_eq!(std::mem::size_of_val(&polled_within_budget(item)), size);
    }

    #[tokio::test]
    async fn items_whose_task_spent_its_budget_are_not_polled_in_vain() {
        let polls = polls_of_a_full_window().await;
        // Once each, and two more for each poll of the task (128 leaves a poll).
        assert!(
            polls <= ITEMS + 2 * ITEMS.div_ceil(128) + 2,
            "{polls} polls"
        );
    }
}
