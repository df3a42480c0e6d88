//! The process group of one attempt: created at spawn, signalled as a whole, waited out.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::time::{Instant, sleep};

use super::reaper;

/// Makes `command` start a process group of its own.
///
/// Nothing runs in the child between fork and exec: that lets the standard library start
/// the program with `posix_spawn`, without copying the engine's page tables (a `fork` from a
/// 40 MB engine took 2.6 ms here, `posix_spawn` 0.56 ms). So there is no parent-death signal
/// either; the [reaper] kills the whole group, grandchildren included, when
/// the engine dies.
pub(super) fn configure(command: &mut Command) {
    reaper::start();
    command.process_group(0);
}

/// The process group of a spawned child, whose id is the child's pid.
///
/// It is registered with the [reaper] from creation to drop, so the group is
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

    /// Whether any process of the group is still alive. Zombies are not: they have ended,
    /// and hold nothing but their pid until their parent reaps them — for an orphaned
    /// grandchild that is init, which may take seconds, or never in a container whose
    /// first process does not reap.
    pub(super) fn exists(&mut self) -> bool {
        if !self.empty
            && (matches!(killpg(self.pgid, None), Err(Errno::ESRCH))
                || members(self.pgid.as_raw())
                    .iter()
                    .all(|&(_, state)| state == 'Z'))
        {
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

/// The processes of group `pgid` in /proc, as (pid, state): `Z` for a zombie.
pub(super) fn members(pgid: i32) -> Vec<(i32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // A process may end between read_dir and here.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|pgrp| pgrp.parse::<i32>().ok()) == Some(pgid) {
            members.push((pid, fields[0].chars().next().unwrap_or('?')));
        }
    }
    members
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
        reaper::unregister(self.pgid);
    }
}
