//! Guard work the engine waits for only so long: the command checker's parse of a script
//! and a policy's CEL rules run on a thread of their own, whose results the judge waits for
//! until a deadline. What is not known by then is not judged, so it is denied (fail closed),
//! and the engine's thread goes on: it renews its leases and commits what it must.
//!
//! The threads are kept in [`Pool`]s and reused. A thread cannot be stopped from outside:
//! one past its deadline is left to run on until it ends or the process does. Such
//! runaways are counted process-wide ([`RUNAWAYS`]); while [`MAX_RUNAWAYS`] of them run, new
//! work is refused at once rather than started, so a workflow whose every action makes a
//! rule run away (a `for_each` of a thousand items) burns at most that many threads, and
//! keeps the engine waiting only for the first few.
//!
//! A panic of the work (a parser's bug, met on some input) is its result: the caller is told
//! it failed, with the panic's message and place, and nothing is printed. The first pool
//! thread puts a panic hook before the process's one that keeps its threads' panics off
//! stderr and hands every other thread's panic on.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SendError, Sender};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

/// How many threads of guard work may run past their deadline at once; while as many do,
/// new work is refused.
pub(crate) const MAX_RUNAWAYS: usize = 2;

/// The runaways of this process.
pub(crate) static RUNAWAYS: Runaways = Runaways::new(MAX_RUNAWAYS);

/// A count of threads that ran past their deadline and have not ended, and how many may.
#[derive(Debug)]
pub(crate) struct Runaways {
    running: AtomicUsize,
    max: usize,
}

impl Runaways {
    /// None running, at most `max`.
    pub(crate) const fn new(max: usize) -> Runaways {
        Runaways {
            running: AtomicUsize::new(0),
            max,
        }
    }

    /// Starts `work` on a thread of `pool`, its result to be waited for until `bound` from
    /// now; refused when as many runaways as allowed run, or no thread could be started.
    pub(crate) fn start<T: Send + 'static>(
        &'static self,
        pool: &'static Pool,
        bound: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Bounded<T>, Stopped> {
        let running = self.running.load(Ordering::Acquire);
        if running >= self.max {
            return Err(Stopped::Busy(running));
        }
        let (sender, results) = mpsc::channel();
        let state = Arc::new(AtomicU8::new(RUNNING));
        let ending = Ending {
            state: Arc::clone(&state),
            runaways: self,
        };
        pool.run(Box::new(move || {
            // Dropped as `work` ends or unwinds: a runaway is no longer counted.
            let _ending = ending;
            let result = catch_unwind(AssertUnwindSafe(work)).map_err(|_| {
                // Empty when a hook set since has taken the place of ours.
                let panic = LAST_PANIC.take();
                if panic.is_empty() {
                    "panicked".to_owned()
                } else {
                    panic
                }
            });
            let _ = sender.send(result);
        }))
        .map_err(|error| Stopped::NotStarted(error.to_string()))?;
        Ok(Bounded {
            results,
            state,
            runaways: self,
            bound,
            deadline: Instant::now() + bound,
        })
    }
}

/// Marks work ended when dropped (as it returns or unwinds), uncounting it if it was a
/// runaway.
struct Ending {
    state: Arc<AtomicU8>,
    runaways: &'static Runaways,
}

impl Drop for Ending {
    fn drop(&mut self) {
        if self.state.swap(ENDED, Ordering::AcqRel) == LEFT {
            self.runaways.running.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Work a [`Pool`]'s thread runs.
type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// Whether this thread is a [`Pool`]'s, whose panics the hook keeps in [`LAST_PANIC`].
    static POOLED: Cell<bool> = const { Cell::new(false) };
    /// The message and place of this thread's last panic, as the hook saw it.
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Puts, once, a panic hook before the process's: a pool thread's panic is kept in
/// [`LAST_PANIC`], any other thread's goes on to the hook that was there.
fn keep_pooled_panics() {
    static HOOKED: Once = Once::new();
    HOOKED.call_once(|| {
        let next = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic as the thread's locals are dropped is handed on.
            if POOLED.try_with(Cell::get).unwrap_or(false) {
                let _ = LAST_PANIC.try_with(|last| last.replace(panicked(info)));
            } else {
                next(info);
            }
        }));
    });
}

/// A panic's message and place: ``panicked: called `Option::unwrap()` on a `None` value at
/// brush-parser-0.4.0/src/tokenizer.rs:674:45`` (a crate's source without the registry's
/// directories).
fn panicked(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = (payload.downcast_ref::<&str>().copied())
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    match info.location() {
        Some(place) => {
            let file = place.file();
            let file = (file.split_once("/registry/src/"))
                .and_then(|(_, index)| index.split_once('/'))
                .map_or(file, |(_, source)| source);
            format!(
                "panicked: {message} at {file}:{}:{}",
                place.line(),
                place.column()
            )
        }
        None => format!("panicked: {message}"),
    }
}

/// Threads kept for one kind of guard work, with a name (which a panic's message shows) and a
/// stack size: starting a thread for each action cost more than the twenty CEL rules of the
/// bench's policy did (W1 ran at half its rate). A thread takes the next work once its own
/// has ended, in time or not; at most [`MAX_IDLE`] wait.
#[derive(Debug)]
pub(crate) struct Pool {
    name: &'static str,
    stack: usize,
    /// The idle threads, each by the sender of the work it waits for.
    idle: Mutex<Vec<Sender<Job>>>,
}

/// How many threads of one pool wait for work at most; one more ends once its work is done.
const MAX_IDLE: usize = 4;

impl Pool {
    /// A pool of threads named `name` with a stack of `stack` bytes, none started yet.
    pub(crate) const fn new(name: &'static str, stack: usize) -> Pool {
        Pool {
            name,
            stack,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `job` on an idle thread, or a new one.
    fn run(&'static self, job: Job) -> std::io::Result<()> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        // An idle thread waits for work: its sender is dropped only with it.
        let job = match idle {
            Some(thread) => match thread.send(job) {
                Ok(()) => return Ok(()),
                Err(SendError(job)) => job,
            },
            None => job,
        };
        let (thread, jobs) = mpsc::channel::<Job>();
        let takes_more = thread.clone();
        keep_pooled_panics();
        std::thread::Builder::new()
            .name(self.name.to_owned())
            .stack_size(self.stack)
            .spawn(move || {
                POOLED.set(true);
                for job in jobs.iter() {
                    job();
                    let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                    if idle.len() >= MAX_IDLE {
                        return;
                    }
                    idle.push(takes_more.clone());
                }
            })?;
        let _ = thread.send(job);
        Ok(())
    }
}

/// The work is running (its [`Bounded`] may still wait for it).
const RUNNING: u8 = 0;
/// The work ended.
const ENDED: u8 = 1;
/// The work ran past its deadline and was left to run, counted as a runaway.
const LEFT: u8 = 2;

/// Work started on a thread of its own by [`Runaways::start`]: its result, until its
/// deadline.
#[derive(Debug)]
pub(crate) struct Bounded<T> {
    /// The work's result, or its panic's message and place.
    results: Receiver<Result<T, String>>,
    state: Arc<AtomicU8>,
    runaways: &'static Runaways,
    bound: Duration,
    deadline: Instant,
}

impl<T> Bounded<T> {
    /// The work's result, or why there is none: the deadline passed first (the thread is
    /// then left to run, a runaway until it ends), or the work panicked.
    pub(crate) fn wait(self) -> Result<T, Stopped> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.results.recv_timeout(left) {
            Ok(result) => result.map_err(Stopped::Failed),
            Err(RecvTimeoutError::Disconnected) => Err(Stopped::Failed(
                "its thread ended without a result".to_owned(),
            )),
            Err(RecvTimeoutError::Timeout) => {
                self.leave();
                Err(Stopped::PastBound(self.bound))
            }
        }
    }

    /// Counts the thread as a runaway until it ends (once; not if it ended already).
    fn leave(&self) {
        let running = &self.runaways.running;
        // Counted first: the thread uncounts it only once it sees `LEFT`.
        running.fetch_add(1, Ordering::AcqRel);
        let was = (self.state).compare_exchange(RUNNING, LEFT, Ordering::AcqRel, Ordering::Acquire);
        if was.is_err() {
            running.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Why bounded work gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// It did not finish within this bound.
    PastBound(Duration),
    /// It ended without a result: why (it panicked: the panic's message and place).
    Failed(String),
    /// It was not started: this many runaways still run.
    Busy(usize),
    /// It was not started: no thread could be (why).
    NotStarted(String),
}

/// Whether `reason`, a verdict's, says guard work ran out of time or could not start for
/// the runaways ([`Stopped::PastBound`], [`Stopped::Busy`]): a deny that says nothing of the
/// action.
pub(crate) fn ran_out(reason: &str) -> bool {
    reason.contains(": it did not finish within") || reason.contains(": it did not start: ")
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::PastBound(bound) => write!(f, "it did not finish within {bound:?}"),
            Stopped::Failed(why) => write!(f, "it failed: {why}"),
            Stopped::Busy(running) => write!(
                f,
                "it did not start: the guard's work on {running} earlier actions ran past its \
                 bound and still runs"
            ),
            Stopped::NotStarted(error) => write!(f, "it could not start: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The threads of the tests' work.
    static TESTS: Pool = Pool::new("test", 64 << 10);

    /// Work that waits until its gate is closed, then gives 7.
    fn gated(runaways: &'static Runaways, bound: Duration) -> (Bounded<u32>, Sender<()>) {
        let (gate, closed) = mpsc::channel::<()>();
        let work = move || {
            let _ = closed.recv();
            7
        };
        (runaways.start(&TESTS, bound, work).unwrap(), gate)
    }

    fn running(runaways: &Runaways) -> usize {
        runaways.running.load(Ordering::Acquire)
    }

    #[test]
    fn the_result_comes_by_the_deadline_else_the_thread_is_a_runaway_until_it_ends() {
        static RUNAWAYS: Runaways = Runaways::new(1);
        let (work, gate) = gated(&RUNAWAYS, Duration::from_secs(3600));
        drop(gate);
        assert_eq!(work.wait(), Ok(7));
        let bound = Duration::from_millis(10);
        let (work, gate) = gated(&RUNAWAYS, bound);
        assert_eq!(work.wait(), Err(Stopped::PastBound(bound)));
        assert_eq!(running(&RUNAWAYS), 1);
        // As many runaways as allowed: nothing new starts.
        let refused = RUNAWAYS.start(&TESTS, bound, || ());
        assert_eq!(refused.err(), Some(Stopped::Busy(1)));
        // The runaway ends, and is no longer counted.
        drop(gate);
        while running(&RUNAWAYS) > 0 {
            std::thread::yield_now();
        }
        assert!(RUNAWAYS.start(&TESTS, bound, || ()).is_ok());
    }

    #[test]
    fn a_runaway_that_panics_is_no_longer_counted() {
        static RUNAWAYS: Runaways = Runaways::new(1);
        let (gate, closed) = mpsc::channel::<()>();
        let work = move || {
            let _ = closed.recv();
            panic!("a parser bug, met late");
        };
        let bound = Duration::from_millis(10);
        let work = RUNAWAYS.start(&TESTS, bound, work).unwrap();
        assert_eq!(work.wait(), Err(Stopped::PastBound(bound)));
        assert_eq!(running(&RUNAWAYS), 1);
        drop(gate);
        while running(&RUNAWAYS) > 0 {
            std::thread::yield_now();
        }
    }

    #[test]
    fn work_that_panics_in_time_failed_and_is_no_runaway() {
        static RUNAWAYS: Runaways = Runaways::new(1);
        let line = line!() + 1;
        let work = || -> u32 { panic!("a parser bug") };
        let work = RUNAWAYS.start(&TESTS, Duration::from_secs(3600), work);
        let Err(Stopped::Failed(why)) = work.unwrap().wait() else {
            panic!("the work's panic is no failure");
        };
        // The panic's message and place.
        assert_eq!(
            why,
            format!("panicked: a parser bug at guards/src/bounded.rs:{line}:32")
        );
        assert_eq!(running(&RUNAWAYS), 0);
        // The next work of the same thread has its own result.
        let work = RUNAWAYS.start(&TESTS, Duration::from_secs(3600), || 7);
        assert_eq!(work.unwrap().wait(), Ok(7));
    }

    #[test]
    fn work_that_ended_as_its_deadline_passed_is_no_runaway() {
        static RUNAWAYS: Runaways = Runaways::new(1);
        let (work, gate) = gated(&RUNAWAYS, Duration::from_secs(3600));
        drop(gate);
        while work.state.load(Ordering::Acquire) != ENDED {
            std::thread::yield_now();
        }
        work.leave();
        assert_eq!(running(&RUNAWAYS), 0);
    }
}
