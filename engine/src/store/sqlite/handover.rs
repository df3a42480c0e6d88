//! Polling before sleeping, at the writer's two hand-overs.
//!
//! A commit crosses threads twice: the request goes to the writer thread, the answer comes
//! back to the task awaiting it. Waking a side that went to sleep costs more than a commit's
//! own work under `synchronous=NORMAL` (tens of microseconds each way on a VM), so in a busy
//! run each side first polls for a moment. It polls only while its recent waits were short:
//! a run waiting on its steps, one-off commands, or commits that wait for an `fsync` rarely
//! poll for nothing (docs/performance.md, "The hand-overs").

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a side polls before it sleeps.
const POLL: Duration = Duration::from_micros(100);

/// A side polls while its last wait was shorter than this (a wait that ended in sleep
/// includes the wake-up, so it is longer than the work it waited for).
const SHORT: Duration = Duration::from_micros(200);

/// The length of one side's last wait, shared by the tasks that wait on that side.
#[derive(Debug, Default)]
pub(super) struct Waits {
    /// In microseconds; 0 before the first wait, so that polling is tried.
    last: AtomicU64,
}

impl Waits {
    /// The start of a wait: calls `take` for up to [`POLL`] while the last wait was short,
    /// until it gives something (`None`: nothing yet). `None` when polling gave nothing: the
    /// caller then sleeps until it comes. Either way the caller ends with [`Waits::done`]: a
    /// task, which cannot sleep in a closure, waits this way ([`Waits::wait`] is a thread's).
    pub(super) fn poll<T>(&self, mut take: impl FnMut() -> Option<T>) -> Option<T> {
        let short = self.last.load(Ordering::Relaxed) < SHORT.as_micros() as u64;
        short
            .then(|| poll(&mut take, Instant::now() + POLL))
            .flatten()
    }

    /// A whole wait on a thread: [`Waits::poll`] with `take`, else `sleep` until it comes.
    pub(super) fn wait<T>(&self, take: impl FnMut() -> Option<T>, sleep: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let taken = self.poll(take).unwrap_or_else(sleep);
        self.done(started);
        taken
    }

    /// Records how long the wait begun at `started` took.
    pub(super) fn done(&self, started: Instant) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last.store(micros, Ordering::Relaxed);
    }
}

/// Calls `take` until it gives something or `until` has passed.
fn poll<T>(take: &mut impl FnMut() -> Option<T>, until: Instant) -> Option<T> {
    loop {
        if let Some(taken) = take() {
            return Some(taken);
        }
        if Instant::now() >= until {
            return None;
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_polls_only_while_its_last_wait_was_short() {
        let waits = Waits::default();
        let mut polls = 0;
        // Nothing comes while it polls: it sleeps, and the sleep was long.
        let slept = waits.wait(
            || {
                polls += 1;
                None
            },
            || {
                std::thread::sleep(SHORT * 2);
                "slept"
            },
        );
        assert_eq!(slept, "slept");
        assert!(polls > 0);
        // So the next wait goes straight to sleep.
        let mut polled = false;
        let next = waits.wait(
            || {
                polled = true;
                Some("polled")
            },
            || "slept",
        );
        assert_eq!(
            (next, polled),
            ("slept", false),
            "it polled after a long wait"
        );
        // That one was short: polling is back.
        assert_eq!(waits.wait(|| Some("polled"), || "slept"), "polled");
    }
}
