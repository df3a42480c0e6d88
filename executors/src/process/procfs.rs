//! The host's processes as `/proc` shows them: state, group, session, the environment each
//! was started with; and polling it, since Linux offers no event for "a process group
//! became empty" to a process that is not the parent of its members.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep};

/// What `/proc/PID/stat` says of a process that the executor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    /// The process id.
    pub(super) pid: i32,
    /// Its state letter: `Z` for a zombie (ended; its parent has not reaped it yet).
    pub(super) state: char,
    /// Its process group.
    pub(super) pgrp: i32,
    /// Its session.
    pub(super) session: i32,
}

impl Stat {
    /// Whether it has ended: a zombie holds nothing but its pid until it is reaped (for an
    /// orphaned grandchild by init, which may take seconds, or never in a container whose
    /// first process does not reap).
    pub(super) fn ended(&self) -> bool {
        self.state == 'Z'
    }
}

/// Every process in `/proc`, with its stat; one that ends while being read is left out.
pub(super) fn processes() -> impl Iterator<Item = Stat> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(|entry| {
        let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        parse_stat(pid, &stat)
    })
}

/// Every process in `/proc` as a scan at most [`RECENT`] old found them: the attempts a
/// stop ends together (a window of hundreds of items at its deadline) share a scan, where
/// each made its own, on the engine's thread (probe 94 F3: 300 items were stopped one after
/// another, over a second, many after their own end).
pub(super) fn recent_processes() -> impl Iterator<Item = Stat> {
    static LAST: Recent<Stat> = Mutex::new(None);
    let scan = recent(&LAST, || processes().collect());
    (0..scan.len()).map(move |at| scan[at])
}

/// The last of a kind of scan of `/proc`, and when it was made.
pub(super) type Recent<T> = Mutex<Option<(std::time::Instant, Arc<[T]>)>>;

/// The scan `last` holds if it is less than [`RECENT`] old, else a new one, made by `scan`.
pub(super) fn recent<T>(last: &Recent<T>, scan: impl FnOnce() -> Arc<[T]>) -> Arc<[T]> {
    let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
    match &*last {
        Some((at, kept)) if at.elapsed() < RECENT => Arc::clone(kept),
        _ => {
            let made = scan();
            *last = Some((std::time::Instant::now(), Arc::clone(&made)));
            made
        }
    }
}

/// How long a scan of `/proc` serves ([`recent`]): a wait for a group to empty looks again
/// after 1 ms, then twice as long each time.
const RECENT: Duration = Duration::from_millis(5);

/// Parses `/proc/PID/stat`: "pid (comm) state ppid pgrp session ...", where comm may hold
/// spaces and parentheses.
fn parse_stat(pid: i32, stat: &str) -> Option<Stat> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some(Stat {
        pid,
        state,
        pgrp,
        session,
    })
}

/// The command line of process `pid`: its arguments, each ended by a NUL. Empty for a
/// zombie, for a process gone, and for one this user may not read.
pub(super) fn cmdline(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

/// The environment process `pid` was started with: `NAME=value` entries, each ended by a
/// NUL. Empty for a zombie, for a process gone, and for one this user may not read.
pub(super) fn environ(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()
}

/// The value of the variable `name` in `environ` (`NAME=value` entries, each ended by a
/// NUL), if it is set: its first entry, as `getenv` reads it.
pub(super) fn variable<'e>(environ: &'e [u8], name: &str) -> Option<&'e [u8]> {
    (environ.split(|&byte| byte == 0))
        .find_map(|entry| entry.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
}

/// Polls `done` until it holds or `deadline` passes, 1 ms apart at first, then up to 50 ms;
/// returns whether it held.
pub(super) async fn poll_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    let mut interval = Duration::from_millis(1);
    loop {
        if done() {
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

#[cfg(test)]
mod tests {
    use super::{Stat, parse_stat};

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let stat = "42 (a) b (c) S 1 40 39 0 -1 4194304";
        assert_eq!(
            parse_stat(42, stat),
            Some(Stat {
                pid: 42,
                state: 'S',
                pgrp: 40,
                session: 39
            })
        );
        assert_eq!(parse_stat(42, "42 (cut"), None);
    }
}
