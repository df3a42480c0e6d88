//! The strays of an attempt: its processes that left its process group (GNU `timeout` and a
//! shell's job control call `setpgid` themselves), found by the variables every process of
//! the attempt is started with, and stopped with it.
//!
//! Killing the attempt's group does not reach them, so without this a timed-out attempt's
//! work would go on beside the next attempt's until the engine exits (when the [reaper]
//! kills every group of its session that carries the engine's token). When cairn stops an
//! attempt, it looks in `/proc` for the processes of its own session that carry the
//! attempt's [`Identity`], outside the attempt's group and the engine's, and signals each
//! one's group if the group's leader is such a process too, else the process alone (a group
//! one of them joined is not theirs to end). A process that left the session (`setsid`)
//! is not looked for: that is how a step leaves cairn's care on purpose, here as for the
//! reaper. An attempt whose program exited by itself is not looked into (that would cost a
//! scan of `/proc` per attempt): what left its group then runs on, until the engine exits.
//!
//! [reaper]: super::reaper

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use cairn_engine::Action;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp, getsid};
use tokio::time::Instant;

use super::{procfs, reaper};

/// The variables that mark a process as started by one attempt of this engine: the
/// engine's token and the attempt's run, step, attempt number and item. The attempt's
/// program is started with them, and its children inherit them.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    vars: Vec<(&'static str, String)>,
}

impl Identity {
    /// The identity of the attempt `action` runs, in this engine.
    pub(super) fn of(action: &Action) -> Identity {
        let mut vars = vec![
            ("CAIRN_ENGINE", reaper::token().to_owned()),
            ("CAIRN_RUN_ID", action.run_id.to_string()),
            ("CAIRN_STEP_ID", action.step_id.clone()),
            ("CAIRN_ATTEMPT", action.attempt.to_string()),
        ];
        if let Some(index) = action.item_index {
            vars.push(("CAIRN_ITEM_INDEX", index.to_string()));
        }
        Identity { vars }
    }

    /// The variables, as (name, value), for the program's environment.
    pub(super) fn vars(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.vars
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }

    /// Whether `environ` (`NAME=value` entries, each ended by a NUL) holds every variable.
    fn marks(&self, environ: &[u8]) -> bool {
        (self.vars.iter())
            .all(|(name, value)| procfs::variable(environ, name) == Some(value.as_bytes()))
    }
}

/// The strays of one attempt, from its spawn to its end.
///
/// Dropped before the attempt has ended (the engine dropping an attempt it has given up
/// waiting for), it kills them, as the attempt's [`ProcessGroup`](super::group::ProcessGroup)
/// kills its group.
#[derive(Debug)]
pub(super) struct Strays {
    identity: Identity,
    /// The attempt's own group, which its `ProcessGroup` signals.
    group: i32,
    /// Until the attempt has stopped them or let them be: dropping them kills them.
    pending: bool,
}

/// What to signal: a group whose leader is a stray, or a stray alone.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// The group this process leads.
    Group(Pid),
    /// This process alone.
    Process(Pid),
}

impl Strays {
    /// The strays of the attempt with `identity` whose program leads group `group`.
    pub(super) fn new(identity: Identity, group: u32) -> Strays {
        Strays {
            identity,
            group: i32::try_from(group).expect("pids fit in i32"),
            pending: true,
        }
    }

    /// Sends SIGTERM to the strays, the start of a stop.
    pub(super) fn terminate(&self) {
        let targets = self.signal(Signal::SIGTERM);
        if targets > 0 {
            tracing::debug!(targets, "stopping processes that left their step's group");
        }
    }

    /// Sends SIGKILL to the strays, the end of a stop.
    pub(super) fn kill(&mut self) {
        self.pending = false;
        self.signal(Signal::SIGKILL);
    }

    /// The program exited by itself: what left its group is let be (no scan of `/proc`).
    pub(super) fn let_be(&mut self) {
        self.pending = false;
    }

    /// Waits until no stray is alive or `deadline` passes; returns whether none is.
    pub(super) async fn wait_gone(&self, deadline: Instant) -> bool {
        procfs::poll_until(deadline, || self.find().is_empty()).await
    }

    /// [`Strays::wait_gone`], killing those each look finds: one that left its group as the
    /// SIGKILL went out, missed by a look a few milliseconds old ([`marked`]), is killed at
    /// the next.
    pub(super) async fn killed_until_gone(&self, deadline: Instant) -> bool {
        procfs::poll_until(deadline, || self.signal(Signal::SIGKILL) == 0).await
    }

    /// Sends `signal` to each stray's group or to the stray; returns how many targets.
    fn signal(&self, signal: Signal) -> usize {
        send(&self.find(), signal)
    }

    /// The live processes of the engine's session outside the attempt's group and the
    /// engine's that carry the identity, as the groups they lead and the others alone.
    fn find(&self) -> Vec<Target> {
        let strays: Vec<procfs::Stat> = (marked().iter())
            .filter(|marked| {
                marked.process.pgrp != self.group && self.identity.marks(&marked.variables)
            })
            .map(|marked| marked.process)
            .collect();
        targets(&strays)
    }
}

/// What to signal to end `processes`: the groups they lead, and the others alone (a group
/// one of them joined is not theirs to end).
pub(super) fn targets(processes: &[procfs::Stat]) -> Vec<Target> {
    let leaders: HashSet<i32> = (processes.iter())
        .filter(|process| process.pid == process.pgrp)
        .map(|process| process.pid)
        .collect();
    let alone = (processes.iter())
        .filter(|process| !leaders.contains(&process.pgrp))
        .map(|process| Target::Process(Pid::from_raw(process.pid)));
    (leaders.iter())
        .map(|&leader| Target::Group(Pid::from_raw(leader)))
        .chain(alone)
        .collect()
}

/// Sends `signal` to each of `targets`; returns how many there are.
pub(super) fn send(targets: &[Target], signal: Signal) -> usize {
    for &target in targets {
        let sent = match target {
            Target::Group(pgid) => killpg(pgid, signal),
            Target::Process(pid) => kill(pid, signal),
        };
        match sent {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                tracing::warn!(?target, %signal, %error, "cannot signal a process of a step");
            }
        }
    }
    targets.len()
}

/// A live process of the engine's session outside the engine's group, with the `CAIRN_`
/// variables it was started with.
#[derive(Debug)]
struct Marked {
    process: procfs::Stat,
    /// Its environment's `CAIRN_` entries, each ended by a NUL.
    variables: Vec<u8>,
}

/// The processes that may be an attempt's strays, as a look at `/proc` a few milliseconds
/// old found them ([`procfs::recent`]): the attempts a stop ends together share one, where
/// each read the environment of every process of the session, the other attempts' strays
/// too, on the engine's thread (probe 94 F3; 95 F2: 400 items under GNU `timeout` at their
/// step's deadline, of which 280 ran to their own end past it).
fn marked() -> Arc<[Marked]> {
    static LAST: procfs::Recent<Marked> = Mutex::new(None);
    procfs::recent(&LAST, || {
        let session = match getsid(None) {
            Ok(session) => session.as_raw(),
            Err(error) => {
                tracing::warn!(%error, "cannot read the engine's session: the processes that left a step's group are not stopped");
                return Arc::new([]);
            }
        };
        let engine_group = getpgrp().as_raw();
        (procfs::processes())
            .filter(|process| {
                process.session == session && process.pgrp != engine_group && !process.ended()
            })
            .map(|process| Marked {
                process,
                variables: cairn_variables(&procfs::environ(process.pid)),
            })
            .collect()
    })
}

/// The `CAIRN_` entries of `environ` (`NAME=value` entries, each ended by a NUL), as it.
pub(super) fn cairn_variables(environ: &[u8]) -> Vec<u8> {
    let mut kept = Vec::new();
    for entry in environ.split(|&byte| byte == 0) {
        if entry.starts_with(b"CAIRN_") {
            kept.extend_from_slice(entry);
            kept.push(0);
        }
    }
    kept
}

impl Drop for Strays {
    fn drop(&mut self) {
        if self.pending {
            self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Identity;
    use crate::test_support::action;

    #[test]
    fn a_process_carries_the_identity_only_with_every_variable_equal() {
        let mut item = action("process", json!({}));
        item.item_index = Some(3);
        let identity = Identity::of(&item);
        let environ = |vars: &[(&str, &str)]| -> Vec<u8> {
            let mut bytes = b"PATH=/bin\0".to_vec();
            for (name, value) in vars {
                bytes.extend_from_slice(format!("{name}={value}\0").as_bytes());
            }
            bytes
        };
        let vars: Vec<(&str, &str)> = identity.vars().collect();
        assert!(identity.marks(&environ(&vars)));
        let mut other_item = vars.clone();
        other_item[4] = ("CAIRN_ITEM_INDEX", "30");
        assert!(!identity.marks(&environ(&other_item)));
        let mut other_attempt = vars.clone();
        other_attempt[3] = ("CAIRN_ATTEMPT", "2");
        assert!(!identity.marks(&environ(&other_attempt)));
        assert!(!identity.marks(&environ(&vars[..4])));
        assert!(!identity.marks(b""));
    }
}
