//! A stopped attempt stops its processes that left its group, and not one that left its
//! session.

use cairn_engine::{ErrorClass, ExecContext, Executor};
use serde_json::json;

use super::{KillOnDrop, assert_group_gone, error, read_fifo, wait_until};
use crate::process::{ProcessExecutor, procfs};
use crate::test_support::{action, within};

/// The stat of process `pid`, if it is alive (not gone, not a zombie).
fn alive(pid: i32) -> Option<procfs::Stat> {
    procfs::processes().find(|process| process.pid == pid && !process.ended())
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
    // The run id the attempt gives its processes is the marker.
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
    wait_until("`timeout` to lead a group of its own", || {
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
        let what = format!("{what} ({pid}), out of the step's group, to be killed with it");
        wait_until(&what, || alive(pid).is_none()).await;
    }
    assert_group_gone(timed);
    // `setsid` is the way to leave on purpose: it runs on (KillOnDrop ends it).
    assert!(
        alive(detached).is_some(),
        "the process that left the session ({detached}) runs on"
    );
}

#[tokio::test]
async fn a_daemon_started_behind_a_foreground_setsid_outlives_the_step() {
    // `setsid` in the foreground leaves the group before it forks the daemon, so the step
    // exits only once the daemon is out of its group (`setsid CMD &` races the step's exit:
    // probe 55 F2). The daemon writes its pid into a plain file before `setsid` returns.
    let dir = tempfile::tempdir().unwrap();
    let script = r#"setsid sh -c 'sleep 1000 & echo $! > "$0/daemon"' "$1" </dev/null >/dev/null 2>&1
cat "$1/daemon""#;
    let action = action(
        "process",
        json!({"command": ["sh", "-c", script, "sh", dir.path()]}),
    );
    let mut left = KillOnDrop {
        marker: format!("CAIRN_RUN_ID={}", action.run_id).into_bytes(),
        pids: Vec::new(),
    };
    let outcome = ProcessExecutor::new()
        .execute(&action, ExecContext::new())
        .await;
    let daemon = outcome.result.expect("the step succeeds");
    let daemon = (daemon.as_i64()).expect("the daemon's pid") as i32;
    left.pids.push(daemon);
    assert!(
        alive(daemon).is_some(),
        "the daemon ({daemon}) runs on after its step's end"
    );
}
