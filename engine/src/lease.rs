//! Who this engine is, for run leases, and whether another holder is provably gone.
//!
//! A lease names its holder's host, pid and process start time. On the same host, a holder
//! whose process no longer exists (or whose pid now belongs to a younger process) is void at
//! once, so `cairn resume` right after a crash never waits out the expiry. A pid means
//! something only in its PID namespace: a holder in another one (a container sharing the
//! host's name and the database) names a host of its own ([`host_name`]), bound until its
//! lease expires.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Who drives a run: the lease fields of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// A unique id of the holding engine.
    pub owner: String,
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's process start time (clock ticks since boot), to tell a reused pid apart.
    pub pid_start: u64,
}

/// How the owner id of a lease taken only to carry out commands begins
/// ([`LeaseHolder::applying_commands`]).
const APPLYING_COMMANDS: &str = "commands:";

impl LeaseHolder {
    /// This holder as it takes a run's lease only to carry out commands sent to it (a pause
    /// or a cancel of a run no engine drives): its owner id begins with `commands:`. Such a
    /// holder drives nothing and gives the lease back within moments.
    pub(crate) fn applying_commands(&self) -> LeaseHolder {
        LeaseHolder {
            owner: format!("{APPLYING_COMMANDS}{}", self.owner),
            ..self.clone()
        }
    }

    /// Whether this holder took the lease only to carry out commands (a pause or a cancel of
    /// a run no engine drives; its owner id begins with `commands:`), not to drive the run.
    pub fn applies_commands(&self) -> bool {
        self.owner.starts_with(APPLYING_COMMANDS)
    }
}

/// A run's lease as its record tells it: who holds it, and until when unless renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder.
    pub holder: LeaseHolder,
    /// When the lease expires unless renewed.
    pub expires: DateTime<Utc>,
}

impl Lease {
    /// Whether the lease still binds at `now`: not expired, and its holder not known to be
    /// gone (a process of this host that has exited).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires > now && !is_void(&self.holder)
    }

    /// Whether the lease ran out by `now` while its holder, an engine of this host, still
    /// runs: stopped (SIGSTOP, a debugger) or too busy to renew it. The steps it started may
    /// run on until it goes on, when it finds its lease gone and stops them.
    pub fn lapsed_while_its_holder_runs(&self, now: DateTime<Utc>) -> bool {
        let holder = &self.holder;
        self.expires <= now
            && !holder.applies_commands()
            && holder.host == host_name()
            && process_start(holder.pid) == Some(holder.pid_start)
    }
}

/// The outcome of trying to take a run's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAttempt {
    /// The lease is ours.
    Acquired,
    /// Somebody else holds it: their lease.
    Held(Lease),
}

/// How long a lease lasts unless renewed; renewed every third of it.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(30);

/// The shortest lease an engine takes ([`EngineBuilder::lease_ttl`]): its renewal, every
/// third of it, must come before it ends even when a commit waits for the database.
///
/// [`EngineBuilder::lease_ttl`]: crate::EngineBuilder::lease_ttl
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);

/// The longest lease an engine takes ([`EngineBuilder::lease_ttl`]): a day, for which the runs
/// of an engine that died wait before another takes them over (a longer one overflowed the
/// dates it is added to: probe 87 F3, `Duration::MAX` panicked in `start`).
///
/// [`EngineBuilder::lease_ttl`]: crate::EngineBuilder::lease_ttl
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The lease holder that stands for this process (a fresh owner id per engine).
pub(crate) fn this_process() -> LeaseHolder {
    let pid = std::process::id();
    LeaseHolder {
        owner: Uuid::now_v7().to_string(),
        host: host_name(),
        pid,
        pid_start: process_start(pid).unwrap_or(0),
    }
}

/// Whether `holder` is this very process (another engine of it, or one whose runtime was
/// dropped while it drove runs: their leases hold until they expire).
pub(crate) fn is_this_process(holder: &LeaseHolder) -> bool {
    holder.pid == std::process::id() && holder.host == host_name()
}

/// Whether `holder` is known to be gone: it ran on this host and its process is not there,
/// or is a zombie (killed, not yet reaped by its parent: it will never renew its lease).
pub(crate) fn is_void(holder: &LeaseHolder) -> bool {
    holder.host == host_name() && process_start(holder.pid) != Some(holder.pid_start)
}

/// This process's host as a lease names it: the host name, and the PID namespace the pid is
/// one of when that is not the first one (whose pids a process of the host sees). Probe 16 of
/// stop 56 ran an engine under `unshare --pid` with the host's name: its pid 1 was no
/// process of the host's, so a `cairn resume` there judged the live holder gone, and a step
/// ran twice side by side.
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname");
    let name = name.as_deref().map_or("localhost", str::trim);
    let namespace = std::fs::read_link("/proc/self/ns/pid");
    qualified_host(name, namespace.ok().as_deref().and_then(Path::to_str))
}

/// The host `name`, qualified by the PID namespace `namespace` (`/proc/self/ns/pid`'s link,
/// `pid:[4026531836]`) unless it is the first one, `PROC_PID_INIT_INO` (a constant of the
/// kernel's: the host's own pids); a namespace that could not be read is named so.
fn qualified_host(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(INIT_PID_NAMESPACE) => name.to_owned(),
        Some(namespace) => format!("{name} ({namespace})"),
        None => format!("{name} (pid namespace unknown)"),
    }
}

/// The first PID namespace's link: the kernel's `PROC_PID_INIT_INO`, 0xEFFFFFFC.
const INIT_PID_NAMESPACE: &str = "pid:[4026531836]";

/// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat),
/// while it runs: none for a process that has exited, zombies included. With the pid, it
/// names a process on its host, however the pid is reused.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past its last ')'.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?; // Field 3: `Z` a zombie, `X` dead.
    if matches!(state, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_void() {
        let me = this_process();
        assert!(me.pid_start > 0);
        assert!(!is_void(&me));
    }

    #[test]
    fn a_holder_applying_commands_says_so_and_is_the_same_process() {
        let me = this_process();
        assert!(!me.applies_commands());
        let applying = me.applying_commands();
        assert!(applying.applies_commands());
        assert_ne!(applying.owner, me.owner);
        assert!(!is_void(&applying));
    }

    #[test]
    fn a_dead_or_reused_pid_is_void() {
        let me = this_process();
        assert!(is_void(&LeaseHolder {
            pid_start: me.pid_start + 1,
            ..me.clone()
        }));
        assert!(is_void(&LeaseHolder {
            pid: u32::MAX,
            ..me.clone()
        }));
        assert!(!is_void(&LeaseHolder {
            host: "elsewhere".into(),
            pid: u32::MAX,
            ..me
        }));
    }

    #[test]
    fn a_holder_in_another_pid_namespace_names_a_host_of_its_own() {
        assert_eq!(qualified_host("vm", Some("pid:[4026531836]")), "vm");
        let contained = qualified_host("vm", Some("pid:[4026532712]"));
        assert_eq!(contained, "vm (pid:[4026532712])", "not the host's pids");
        assert_eq!(qualified_host("vm", None), "vm (pid namespace unknown)");
    }

    /// A killed engine is a zombie until its parent reaps it: `cairn recover` run at once
    /// skipped its runs (632 of 2,000 in a test by hand) while its lease looked held.
    #[test]
    fn a_zombie_is_void() {
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let pid = child.id();
        let started = process_start(pid).expect("the child runs");
        let holder = LeaseHolder {
            pid,
            pid_start: started,
            ..this_process()
        };
        assert!(!is_void(&holder), "a live holder");
        child.kill().unwrap(); // Not reaped: a zombie once the signal lands.
        let stat = format!("/proc/{pid}/stat");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !std::fs::read_to_string(&stat).unwrap().contains(") Z ") {
            assert!(std::time::Instant::now() < deadline, "never a zombie");
            std::thread::yield_now();
        }
        assert!(is_void(&holder), "a zombie holds nothing");
        child.wait().unwrap();
        assert!(is_void(&holder), "nor does a reaped process");
    }
}
