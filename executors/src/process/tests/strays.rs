//! A stopped attempt stops its processes that left its group, and not one that left its
//! session.

use std::time::Duration;

use cairn_engine::{ErrorClass, ExecContext, Executor};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::json;
use tokio::time::Instant;

use super::{assert_group_gone, error, read_fifo};
use crate::process::{ProcessExecutor, procfs};
use crate::test_support::{action, within};

/// How long a process SIGKILLed by the attempt may take to be gone; the attempt waits for
/// that itself, so this only bounds a failure.
const DEATH_WAIT: Duration = Duration::from_secs(10);

/// Kills, when the test ends however it ends, the groups led by the processes it names that
/// still carry the test's run id (so never a process that reused one's pid).
struct KillOnDrop {
    marker: Vec<u8>,
    pids: Vec<i32>,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.pids {
            let environ = procfs::environ(pid);
            if environ
                .split(|&byte| byte == 0)
                .any(|entry| entry == self.marker)
            {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// The stat of process `pid`, if it is alive (not gone, not a zombie).
fn alive(pid: i32) -> Option<procfs::Stat> {
    procfs::processes().find(|process| process.pid == pid && !process.ended())
}

/// Waits until `holds`, failing the test with `what` if it has not within `bound`.
async fn wait_for(what: &str, bound: Duration, holds: impl FnMut() -> bool) {
    let held = procfs::poll_until(Instant::now() + bound, holds).await;
    assert!(held, "{what} within {bound:?}");
}

#[tokio::test]
async fn a_stopped_attempt_kills_what_left_its_group_but_not_its_session() {
    // GNU `timeout` leads a group of its own (its `sleep` in it), bash's job control puts a
    // job in another, `setsid` leaves the session: the step is out of the first two by the
    // time it reports, and the test waits for `timeout` to be.
    let dir = tempfile::tempdir().unwrap();
    for fifo in ["job", "detached", "started"] {
        nix::unistd::mkfifo(&dir.path().join(fifo), nix::sys::stat::Mode::S_IRWXU).unwrap();
    }
    let script = r#"timeout 1000 sleep 1000 &
timed=$!
bash -c 'set -m; sleep 1000 & echo $! > "$0/job"; wait' "$1" &
setsid sh -c 'echo $$ > "$0/detached"; exec sleep 1000' "$1" &
read job < "$1/job"
read detached < "$1/detached"
echo "$$ $timed $job $detached" > "$1/started"
wait"#;
    let action = action(
        "process",
        json!({"command": ["sh", "-c", script, "sh", dir.path()], "kill_grace": "5s"}),
    );
    let mut left = KillOnDrop {
        marker: format!("CAIRN_RUN_ID={}", action.run_id).into_bytes(),
        pids: Vec::new(),
    };
    let ctx = ExecContext::new();
    let mut attempt = tokio::spawn({
        let ctx = ctx.clone();
        async move { ProcessExecutor::new().execute(&action, ctx).await }
    });
    let started = dir.path().join("started");
    let started = tokio::select! {
        started = read_fifo(&started) => started,
        outcome = &mut attempt => panic!("the step ended before it started: {outcome:?}"),
    };
    let numbers: Vec<i32> = (started.split_whitespace())
        .map(|n| n.parse().expect("a pid"))
        .collect();
    let [group, timed, job, detached] = numbers[..] else {
        panic!("the step reports four pids: {started:?}");
    };
    left.pids.extend([timed, job, detached]);
    wait_for("`timeout` leads a group of its own", DEATH_WAIT, || {
        alive(timed).is_some_and(|process| process.pgrp == timed)
    })
    .await;
    for pid in [timed, job] {
        let process = alive(pid).expect("the escapee runs");
        assert_ne!(process.pgrp, group, "{pid} left the step's group");
    }

    ctx.cancel.cancel();
    let outcome = within("the cancelled attempt", attempt).await.unwrap();
    assert_eq!(error(&outcome).0, ErrorClass::Cancelled);
    assert_group_gone(group);
    for (pid, what) in [(timed, "`timeout`"), (job, "the job of `set -m`")] {
        let what = format!("{what} ({pid}), out of the step's group, is killed with it");
        wait_for(&what, DEATH_WAIT, || alive(pid).is_none()).await;
    }
    assert_group_gone(timed);
    // `setsid` is the way to leave on purpose: it runs on (KillOnDrop ends it).
    assert!(
        alive(detached).is_some(),
        "the process that left the session ({detached}) runs on"
    );
}
