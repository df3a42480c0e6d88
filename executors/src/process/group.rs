//! The process group of one attempt: created at spawn, signalled as a whole, waited out.

use std::io;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpid, getppid};
use tokio::process::Command;
use tokio::time::{Instant, sleep};

use super::reaper;

/// Makes `command` start a process group of its own and die (SIGKILL) with its parent.
///
/// The parent-death signal fires when the *thread* that spawned the child ends, so the
/// command must be spawned from a long-lived thread (a tokio worker, never a
/// `spawn_blocking` thread). It is not inherited by the child's own children: those are
/// reached through the process group, by the engine while it lives and by the
/// [reaper](super::reaper) once it has died.
pub(super) fn configure(command: &mut Command) {
    command.process_group(0);
    die_with_parent(command);
}

/// Sets `PR_SET_PDEATHSIG` = SIGKILL in the child between fork and exec.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = getpid();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // functions may be called. It makes two system calls (prctl, getppid) and builds an
    // io::Error from a raw errno, which does not allocate; it takes no lock and touches no
    // state shared with other threads.
    unsafe {
        command.pre_exec(move || {
            prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died before prctl took effect: then nobody would ever send
            // the signal, so refuse to run (the spawn fails).
            if getppid() != parent {
                return Err(io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// The process group of a spawned child, whose id is the child's pid.
///
/// It is registered with the [reaper](super::reaper) from creation to drop, so the group is
/// killed if the engine dies meanwhile. Dropping it sends SIGKILL to the whole group, so an
/// attempt whose future is dropped midway (the engine aborting a task) leaves nothing running
/// either, then unregisters it.
#[derive(Debug)]
pub(super) struct ProcessGroup {
    pgid: Pid,
    /// Seen empty: its id may be reused from now on, so it must not be signalled again.
    empty: bool,
}

impl ProcessGroup {
    /// The group led by the child with pid `pid` (just spawned), registered with the reaper.
    pub(super) fn new(pid: u32) -> Self {
        let pgid = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
        reaper::register(pgid);
        ProcessGroup { pgid, empty: false }
    }

    /// Sends `signal` to every process of the group; a group already gone is not an error.
    pub(super) fn signal(&self, signal: Signal) {
        if self.empty {
            return;
        }
        match killpg(self.pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                tracing::warn!(pgid = self.pgid.as_raw(), %signal, %error, "cannot signal process group")
            }
        }
    }

    /// Whether any process of the group still exists (zombies included: a process is gone
    /// once its parent has reaped it).
    pub(super) fn exists(&mut self) -> bool {
        if !self.empty && matches!(killpg(self.pgid, None), Err(Errno::ESRCH)) {
            self.empty = true;
        }
        !self.empty
    }

    /// Waits until the group is empty or `deadline` passes; returns whether it is empty.
    ///
    /// Polls, since Linux offers no event for "a process group became empty" to a process
    /// that is not the parent of its members (an orphaned grandchild is reaped by init).
    pub(super) async fn wait_empty(&mut self, deadline: Instant) -> bool {
        let mut interval = Duration::from_millis(1);
        loop {
            if !self.exists() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(Duration::from_millis(50));
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
        reaper::unregister(self.pgid);
    }
}
