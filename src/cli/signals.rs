//! What cairn does with the signals a terminal, a shell or an operator sends it while it
//! drives runs: SIGINT, SIGTERM and SIGHUP stop the engine cleanly ([`shutdown_on_signal`]),
//! SIGTSTP (Ctrl-Z) suspends the steps with cairn ([`suspend_on_signal`]), SIGTTIN and
//! SIGTTOU are ignored so that a step reading the terminal fails instead of stopping
//! ([`ignore_terminal_stops`]), and a signal that was ignored when cairn started stays
//! ignored ([`ignored_at_start`]). SIGQUIT keeps its default: it ends cairn at once, with a
//! core dump where they are enabled, as `kill -9` would (docs/runs.md, "Stopping the engine").

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use cairn_engine::Engine;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;

use super::printable::say;

/// The signals ignored when cairn started, as the bits of `/proc/self/status`'s `SigIgn`
/// (bit `n - 1` for signal `n`); none if it cannot be read. Read at the first look, by the
/// first [`listen`], before cairn installs a handler of its own: the signals it asks about
/// (INT, TERM, HUP, TSTP) keep their dispositions from the start until then (SIGTTIN and
/// SIGTTOU, which `main` sets to ignored, are never asked about). Commands that listen for
/// none do not read it.
static IGNORED_AT_START: LazyLock<u64> = LazyLock::new(|| {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    (status.lines())
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0)
});

/// Whether `signal` was ignored when cairn started. A shell without job control starts
/// `cairn run … &` with SIGINT and SIGQUIT ignored, so that a Ctrl-C meant for its
/// foreground work does not stop its background run; `nohup` ignores SIGHUP. cairn then
/// installs no handler for it: the signal stays ignored, as the one who started it asked.
fn ignored_at_start(signal: libc::c_int) -> bool {
    (1..=64).contains(&signal) && *IGNORED_AT_START & (1u64 << (signal - 1)) != 0
}

/// Sets SIGTTIN and SIGTTOU to ignored, for cairn and, since an ignored disposition is kept
/// across `exec` (the standard library's spawn resets SIGPIPE alone), for every step.
///
/// A step runs in a background process group of cairn's session: one that reads the
/// terminal (`read x < /dev/tty`; sudo, ssh or git asking for a password) would be stopped
/// by SIGTTIN, and the run would hang with no word. Ignored, the read fails at once (EIO) and
/// the program says why ("sudo: a terminal is required"). The terminal is not a step's.
#[allow(unsafe_code)]
pub(crate) fn ignore_terminal_stops() {
    for stop in [libc::SIGTTIN, libc::SIGTTOU] {
        // SAFETY: `signal` with `SIG_IGN` installs no code of ours; it only sets a
        // disposition, before the engine starts any thread that could be stopped by it.
        unsafe { libc::signal(stop, libc::SIG_IGN) };
    }
}

/// The signal `kind` (`number`, as [`ignored_at_start`] reads it), listened for unless it
/// was ignored at start; none either way if the handler cannot be installed (the signal then
/// acts as by default).
fn listen(number: libc::c_int) -> Option<Signal> {
    if ignored_at_start(number) {
        return None;
    }
    signal(SignalKind::from_raw(number)).ok()
}

/// The next `signal`, or never if it is not listened for.
async fn next(signal: &mut Option<Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// How long the first SIGINT/SIGTERM/SIGHUP waits for the steps in flight before cancelling
/// them.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// The tasks that stop the engine on SIGINT/SIGTERM/SIGHUP ([`shutdown_on_signal`]) and
/// suspend it on SIGTSTP ([`suspend_on_signal`]), made just before a run is taken over and
/// acting from then: a signal while a takeover waits for a lease (one held to carry out a
/// pause or a cancel) ends the wait, the run left as it was; a signal while the first turn
/// commits stops the run as any other. Ended when dropped.
pub(crate) struct OnSignal([JoinHandle<()>; 2]);

impl OnSignal {
    /// Listens for the signals (installed before this returns), acting on them from now on.
    pub(crate) fn spawn(engine: &Engine) -> OnSignal {
        let stops = Stops::listen();
        let suspend = listen(libc::SIGTSTP);
        OnSignal([
            tokio::spawn(shutdown_on_signal(engine.clone(), stops)),
            tokio::spawn(suspend_on_signal(engine.clone(), suspend)),
        ])
    }
}

impl Drop for OnSignal {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// SIGINT, SIGTERM and SIGHUP (the terminal closed), each unless ignored at start. A second
/// one before cairn's runtime has read the first ends cairn at once ([`exit_when_unread`]).
struct Stops {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    hangup: Option<Signal>,
}

impl Stops {
    /// Starts listening.
    fn listen() -> Stops {
        // Each listened for also ends cairn when its runtime cannot read it.
        let stop = |number| {
            let signal = listen(number);
            if signal.is_some() {
                exit_when_unread(number);
            }
            signal
        };
        Stops {
            interrupt: stop(libc::SIGINT),
            terminate: stop(libc::SIGTERM),
            hangup: stop(libc::SIGHUP),
        }
    }

    /// The next SIGINT, SIGTERM or SIGHUP.
    async fn next(&mut self) {
        tokio::select! {
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
            () = next(&mut self.hangup) => {}
        }
        READ.store(RECEIVED.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// The SIGINTs, SIGTERMs and SIGHUPs received, counted as they come.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// [`RECEIVED`] as it was when cairn's runtime last read one of them.
static READ: AtomicUsize = AtomicUsize::new(0);

/// What cairn says as a signal its runtime did not read ends it.
const UNREAD: &[u8] = b"cairn: stopping at once: a signal came that cairn had not read (it was \
busy, with an expression's evaluation say, or two signals came together); the runs stay \
resumable (cairn resume RUN, cairn recover)\n";

/// Makes a second `signal` (SIGINT, SIGTERM or SIGHUP) that comes while one is still unread
/// by cairn's runtime end cairn at once, exit 130, as `kill -9` would: the runtime's thread
/// may be held by an expression's evaluation (probe 69 F2: Ctrl-C, again, and SIGTERM did
/// nothing for minutes), and every transition is committed before anything depends on it,
/// so the runs resume; the reaper stops the steps' process groups. Two different signals
/// that come together, before the runtime reads the first, end cairn so too (two of the
/// same are one: the kernel keeps one pending), and so does a first one left unread for
/// [`STOP_GRACE`] ([`watch_unread`]). Registered once for each signal:
/// [`Stops`] are made for each run taken over.
#[allow(unsafe_code)]
fn exit_when_unread(signal: libc::c_int) {
    static REGISTERED: AtomicU64 = AtomicU64::new(0);
    let bit = 1u64 << (signal - 1);
    let before = REGISTERED.fetch_or(bit, Ordering::SeqCst);
    if before & bit != 0 {
        return;
    }
    if before == 0 {
        watch_unread();
    }
    let action = || {
        let received = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
        if received - READ.load(Ordering::SeqCst) >= 2 {
            stop_at_once();
        }
    };
    // SAFETY: the action only touches atomics and calls async-signal-safe functions; the
    // signal is one cairn already handles (never SIGKILL, SIGSTOP nor a fault's).
    let _ = unsafe { signal_hook_registry::register(signal, action) };
}

/// Writes [`UNREAD`] and ends cairn, exit 130. Async-signal-safe.
#[allow(unsafe_code)]
fn stop_at_once() {
    // SAFETY: `write` and `_exit` are async-signal-safe; the buffer is static.
    unsafe {
        libc::write(2, UNREAD.as_ptr().cast(), UNREAD.len());
        libc::_exit(130);
    }
}

/// Starts a thread that ends cairn as [`exit_when_unread`] does when a signal has stayed
/// unread for [`STOP_GRACE`]: a first signal stops cairn within it even while its runtime's
/// thread is held, as a responsive runtime cancels the steps in flight when it ends.
fn watch_unread() {
    let watch = || {
        let mut unread_since = None;
        loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            let unread = RECEIVED.load(Ordering::SeqCst) > READ.load(Ordering::SeqCst);
            match (unread, unread_since) {
                (false, _) => unread_since = None,
                (true, None) => unread_since = Some(std::time::Instant::now()),
                (true, Some(since)) if since.elapsed() >= STOP_GRACE => stop_at_once(),
                (true, Some(_)) => {}
            }
        }
    };
    let _ = std::thread::Builder::new()
        .name("cairn-signals".into())
        .spawn(watch);
}

/// On a first SIGINT, SIGTERM or SIGHUP, starts nothing new and lets the steps in flight
/// finish (up to [`STOP_GRACE`]); on a second, or after the grace, cancels them. Runs stay
/// resumable. What it says may go nowhere (a closed terminal): the stop does not depend on it.
async fn shutdown_on_signal(engine: Engine, mut stops: Stops) {
    stops.next().await;
    say("stopping: starting nothing new, waiting for the steps in flight (again to cancel them)");
    engine.drain();
    tokio::select! {
        () = stops.next() => {}
        () = tokio::time::sleep(STOP_GRACE) => {}
    }
    say("stopping: cancelling the steps in flight (the run stays resumable)");
    engine.shutdown();
}

/// On each SIGTSTP (a terminal's Ctrl-Z), suspends the steps with cairn, as a shell user
/// expects of a job: the steps run in process groups of their own, which the terminal's
/// signal does not reach, so cairn stops them (SIGSTOP), then itself. When continued
/// (`fg`, `bg`, SIGCONT), it first renews its leases: if it still holds every one, it
/// continues the steps; if one was lost (another engine took the run over meanwhile), the
/// steps are left stopped, never to run beside the other engine's, and the engine stops
/// (the lost run's driver kills its attempts; SIGKILL reaches a stopped process).
async fn suspend_on_signal(engine: Engine, mut suspend: Option<Signal>) {
    loop {
        next(&mut suspend).await;
        // Every loss found from here counts, the lease keeper's too: its thread, woken by
        // the same continuation, may find one before this task renews.
        let before = engine.lease_losses();
        cairn_executors::stop_steps();
        // Returns once cairn is continued: the signal stops the whole process at once.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
        if engine.renew_leases(before).await {
            cairn_executors::continue_steps();
        } else {
            say(
                "stopping: a run's lease was lost while cairn was suspended (another engine took the run over, or a `cairn pause` or `cancel` carried itself out); its steps stay stopped and are killed",
            );
            engine.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ignored_at_start;

    #[test]
    fn a_signal_number_out_of_the_mask_is_never_ignored() {
        assert!(!ignored_at_start(0));
        assert!(!ignored_at_start(65));
        assert!(!ignored_at_start(-1));
    }
}
