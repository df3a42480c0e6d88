//! The reaper: one helper process per engine that kills the steps' process groups when the
//! engine dies, however it dies (SIGKILL included).
//!
//! A parent-death signal (`PR_SET_PDEATHSIG`) would reach only a step's direct child, not its
//! own children (`sleep 1000 &`, an agent CLI's subprocesses), and setting it needs code
//! between fork and exec, which makes every spawn a full `fork`. So the first time a step is
//! spawned, the engine starts `/bin/sh` running [`SCRIPT`] in a process group of its own (a
//! terminal's Ctrl-C does not reach it), with its stdin a pipe whose write end only the
//! engine holds (it is close-on-exec, so no step inherits it). The engine writes `+PGID` when
//! a step's group is created and `-PGID` once it has been killed at the end of the attempt.
//! When the engine exits, for any reason, the kernel closes the write end; the reaper reads
//! EOF, sends SIGKILL to every group still registered, then to every process of a step the
//! engine had spawned and not registered yet, or that left its step's group (found by the
//! engine's [`token`] in its environment), and exits. Until EOF it runs only shell builtins, so it has no children of its own to reap,
//! and nothing of the engine waits for it.
//!
//! The engine keeps the groups it has registered. If the reaper has gone (a step killed it:
//! it runs as the same user, and `kill -9 -1` or a `pkill sh` reaches it), the next write to it
//! fails; the engine then starts another and registers with it every group still running,
//! so a step that kills the reaper does not leave the engine's other steps unprotected
//! (only between the reaper's death and the next step's start or end is nobody watching).
//!
//! Registration is best effort: if the reaper cannot be started or stops reading (the write
//! end is non-blocking: a full pipe drops the message rather than stall the engine), a
//! warning is logged: the steps of that engine are then not killed if it dies. A group is
//! registered as soon as `spawn` returns, that is once the program has been exec'd; one the
//! engine died before registering is found by its token, if its leader still runs: a
//! program that forked and exited in the microseconds between the two could still leave
//! that grandchild behind.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{LazyLock, Mutex, PoisonError};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The reaper's shell script, given the engine's [`token`] as `$1`. `$groups` holds the
/// registered group ids as a multiset (" 12 34 "); a `-PGID` removes one occurrence, so a
/// group id reused before the previous group's `-` arrived stays registered.
///
/// At EOF it kills the registered groups, then every process of its session (the engine's:
/// a step that left it with `setsid` is out of reach, as at an attempt's end) that carries
/// `CAIRN_ENGINE=$1` in its environment — a step spawned but not registered yet when the
/// engine died, a job a step's shell put in a group of its own —: its group when it leads
/// it, else the process alone, as [`super::strays`] does (probe 180 F1: a job-control
/// pipeline's group, its leader `true` gone, ran on). One `grep` reads the environments
/// (those this user may read).
pub(super) const SCRIPT: &str = r#"trap '' HUP INT QUIT PIPE
token=$1
groups=' '
while IFS= read -r line; do
  g=${line#?}
  case $line in
    +*) groups="$groups$g " ;;
    -*) case $groups in *" $g "*) groups="${groups%%" $g "*} ${groups#*" $g "}" ;; esac ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
[ -n "$token" ] || exit 0
read -r stat < /proc/$$/stat
set -- ${stat##*) }
session=$4
for environ in $(grep -lzx "CAIRN_ENGINE=$token" /proc/[0-9]*/environ 2>/dev/null); do
  p=${environ#/proc/}
  p=${p%/environ}
  # The whole file: a process's name may hold a newline (probe 181 F1).
  stat=
  { while IFS= read -r line; do stat="$stat$line "; done; } < "/proc/$p/stat" 2>/dev/null || continue
  set -- ${stat##*) }
  [ "$4" = "$session" ] || continue
  if [ "$3" = "$p" ]; then kill -9 "-$p"; else kill -9 "$p"; fi 2>/dev/null
done
exit 0
"#;

/// What the engine's steps carry in `CAIRN_ENGINE`: this process's id, its start time and
/// its session (`PID-START-SESSION`, [`EngineToken`]), unique on the host. The reaper finds
/// by it the steps the engine spawned and had not registered yet when it died: the spawn
/// itself (from `fork` to `exec`, the engine waiting) is a gap no registration after it can
/// close, and a kill while a wide `for_each` window starts its items nearly always lands in
/// one. An engine that takes a run over finds by it the attempts a dead engine left
/// ([`super::orphans`]).
pub(crate) fn token() -> &'static str {
    static TOKEN: LazyLock<String> = LazyLock::new(|| {
        let pid = std::process::id();
        let start = cairn_engine::process_start(pid).unwrap_or(0);
        let session = nix::unistd::getsid(None).map_or(0, |session| session.as_raw());
        EngineToken {
            pid,
            start,
            session,
        }
        .to_string()
    });
    &TOKEN
}

/// An engine as its steps' `CAIRN_ENGINE` names it ([`token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EngineToken {
    /// The engine's process id.
    pub(super) pid: u32,
    /// Its start time, in clock ticks since boot ([`cairn_engine::process_start`]).
    pub(super) start: u64,
    /// Its session: a step that left it (`setsid`) has left cairn's care.
    pub(super) session: i32,
}

impl EngineToken {
    /// The token `text` writes, if it is one.
    pub(super) fn parse(text: &str) -> Option<EngineToken> {
        let mut parts = text.split('-');
        let token = EngineToken {
            pid: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
            session: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(token)
    }

    /// Whether the engine it names has exited (a zombie too): its pid runs no process, or
    /// one started at another time.
    pub(super) fn is_gone(&self) -> bool {
        cairn_engine::process_start(self.pid) != Some(self.start)
    }
}

/// The engine whose reaper has the command line `cmdline` (its arguments, each ended by a
/// NUL), if it is a reaper's: `/bin/sh -c SCRIPT cairn-reaper TOKEN`.
pub(super) fn reaping_for(cmdline: &[u8]) -> Option<EngineToken> {
    let mut arguments = cmdline.split(|&byte| byte == 0).skip(3);
    if arguments.next()? != REAPER_NAME.as_bytes() {
        return None;
    }
    EngineToken::parse(std::str::from_utf8(arguments.next()?).ok()?)
}

impl std::fmt::Display for EngineToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.pid, self.start, self.session)
    }
}

/// The reaper's name, its `$0`, which tells it from other processes.
const REAPER_NAME: &str = "cairn-reaper";

/// The engine's reaper, started on first use, and the groups registered with it.
static REAPER: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        reaper: Reaper::start(&HashMap::new()),
        groups: HashMap::new(),
        stopped: false,
    })
});

/// The reaper (`None` if it could not be started) and the groups the engine has registered
/// and not yet unregistered, each with how many times (an id can be reused before its `-`).
#[derive(Debug)]
struct Registry {
    reaper: Option<Reaper>,
    groups: HashMap<i32, usize>,
    /// Whether the steps are stopped ([`crate::stop_steps`]) until continued: a group
    /// registered meanwhile — spawned as the Ctrl-Z came, registered after the others were
    /// stopped — is stopped as it is registered, under the same lock, so none runs on.
    stopped: bool,
}

impl Registry {
    /// Records group `pgid`, stopping it at once while the steps are stopped.
    fn add(&mut self, pgid: i32) {
        *self.groups.entry(pgid).or_default() += 1;
        if self.stopped {
            signal_group(pgid, Signal::SIGSTOP);
        }
    }

    /// Forgets one registration of group `pgid`.
    fn remove(&mut self, pgid: i32) {
        if let Some(times) = self.groups.get_mut(&pgid) {
            *times -= 1;
            if *times == 0 {
                self.groups.remove(&pgid);
            }
        }
    }

    /// Stops (`stopped`) or continues every group registered, and those registered until
    /// the next call.
    fn stop(&mut self, stopped: bool) {
        self.stopped = stopped;
        let signal = if stopped {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        for &pgid in self.groups.keys() {
            signal_group(pgid, signal);
        }
    }
}

/// Sends `signal` to process group `pgid`; a group already gone is not an error.
pub(super) fn signal_group(pgid: i32, signal: Signal) {
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => tracing::warn!(pgid, %signal, %error, "cannot signal process group"),
    }
}

/// The running reaper: the write end of its stdin, and the process (to reap it should it die
/// before the engine).
#[derive(Debug)]
struct Reaper {
    child: Child,
    stdin: ChildStdin,
}

impl Reaper {
    /// Starts a reaper that watches `groups`; logs and returns `None` on failure.
    fn start(groups: &HashMap<i32, usize>) -> Option<Reaper> {
        let started = Command::new("/bin/sh")
            .args(["-c", SCRIPT, REAPER_NAME, token()])
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .and_then(|mut child| {
                let mut stdin = child.stdin.take().expect("stdin is piped");
                // The groups a reaper that has gone watched, while the pipe still blocks: a
                // new reaper reads them all.
                let mut lines = String::new();
                for (pgid, times) in groups {
                    for _ in 0..*times {
                        lines.push_str(&format!("+{pgid}\n"));
                    }
                }
                stdin.write_all(lines.as_bytes())?;
                // Never block the engine on a stuck reaper: a full pipe drops a message.
                let flags = fcntl(stdin.as_fd(), FcntlArg::F_GETFL)?;
                fcntl(
                    stdin.as_fd(),
                    FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
                )?;
                Ok(Reaper { child, stdin })
            });
        match started {
            Ok(reaper) => Some(reaper),
            Err(error) => {
                tracing::warn!(%error, "cannot start the reaper: a killed engine may leave step grandchildren running");
                None
            }
        }
    }
}

/// Starts the reaper if it is not running yet. Called before a step is spawned, so that
/// registering the step's group right after the spawn is one write, not a process start.
pub(super) fn start() {
    LazyLock::force(&REAPER);
}

/// Asks the reaper to kill group `pgid` if the engine dies.
pub(super) fn register(pgid: Pid) {
    send(b'+', pgid);
}

/// Tells the reaper group `pgid` is taken care of (killed at the end of its attempt).
pub(super) fn unregister(pgid: Pid) {
    send(b'-', pgid);
}

/// Stops (`stopped`: SIGSTOP) or continues (SIGCONT) every process group registered, the
/// steps' programs in flight, and while stopped each group registered from then on (what
/// [`crate::stop_steps`] and [`crate::continue_steps`] do).
pub(super) fn stop_groups(stopped: bool) {
    (REAPER.lock().unwrap_or_else(PoisonError::into_inner)).stop(stopped);
}

/// Records the change and writes `{sign}{pgid}\n` (one `write` well under `PIPE_BUF`, so
/// all or nothing); starts another reaper if this one has gone.
fn send(sign: u8, pgid: Pid) {
    let mut registry = REAPER.lock().unwrap_or_else(PoisonError::into_inner);
    let id = pgid.as_raw();
    if sign == b'+' {
        registry.add(id);
    } else {
        registry.remove(id);
    }
    let Registry { reaper, groups, .. } = &mut *registry;
    let Some(running) = reaper.as_mut() else {
        return;
    };
    let mut line = Vec::with_capacity(16);
    line.push(sign);
    line.extend_from_slice(id.to_string().as_bytes());
    line.push(b'\n');
    match running.stdin.write_all(&line) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
            tracing::warn!(
                pgid = id,
                "the reaper is not reading; a group was not (un)registered"
            );
        }
        Err(error) => {
            tracing::warn!(%error, "the reaper has gone; starting another");
            // Reap it (it is our child), then hand its groups to a new one.
            let _ = running.child.try_wait();
            *reaper = Reaper::start(groups);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::process::procfs::poll_until;
    use crate::process::tests::process_state;
    use crate::test_support::HANG;

    /// A step's group registered while the steps are stopped (spawned as the Ctrl-Z came,
    /// registered after the others were stopped) is stopped as it is registered, and
    /// continued with the others: none runs on while cairn is suspended.
    #[tokio::test]
    async fn a_group_registered_while_the_steps_are_stopped_is_stopped_at_once() {
        let mut child = Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let in_state = |state: &'static str| move || process_state(pid).as_deref() == Some(state);
        let mut registry = Registry {
            reaper: None,
            groups: HashMap::new(),
            stopped: false,
        };
        registry.stop(true);
        registry.add(pid);
        let stopped = poll_until(Instant::now() + HANG, in_state("T")).await;
        registry.stop(false);
        let continued = poll_until(Instant::now() + HANG, in_state("S")).await;
        registry.remove(pid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(stopped, "registered while stopped, it ran on");
        assert!(continued, "continued with the others, it stayed stopped");
        assert!(registry.groups.is_empty());
    }
}
