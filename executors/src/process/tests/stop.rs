//! An attempt cairn stops is stopped only if its program is still running when the signal
//! is sent: one that exited by itself first keeps its own end; one to be killed now is not
//! given its grace.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;

use cairn_engine::{ErrorClass, ExecContext, Executor, Outcome};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use serde_json::json;

use super::{block_until, cancelled_once_started, error, run_with, wait_until};
use crate::process::ProcessExecutor;
use crate::test_support::{action, within};

/// Polls `attempt` once, without giving the runtime a turn: the attempt runs up to its
/// first wait, and its executor's tasks and the reactor's events wait for the next await.
async fn poll_once(attempt: Pin<&mut impl Future<Output = Outcome>>) {
    let mut attempt = Some(attempt);
    let polled = std::future::poll_fn(|cx| {
        let attempt = attempt.take().expect("polled once");
        Poll::Ready(attempt.poll(cx).map(drop))
    })
    .await;
    assert!(
        polled.is_pending(),
        "the attempt ended before it was cancelled"
    );
}

/// Blocks until the program that wrote its pid to `pid_file` has exited, leaving it
/// unreaped (`WNOWAIT`): its parent, the attempt, has not seen its exit yet. Fails the test
/// after [`crate::test_support::HANG`].
fn wait_exited_unreaped(pid_file: &Path) {
    let mut written = None;
    block_until("the program to start", || {
        written = std::fs::read_to_string(pid_file).ok();
        written.is_some()
    });
    let pid = Pid::from_raw(written.unwrap_or_default().trim().parse().expect("a pid"));
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    block_until("the program to exit", || {
        !matches!(
            waitid(Id::Pid(pid), flags).expect("waitid"),
            WaitStatus::StillAlive
        )
    });
}

#[tokio::test]
async fn a_program_that_exited_before_the_cancel_keeps_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = r#"echo $$ > "$1.new" && mv "$1.new" "$1"; echo '"done"'"#;
    let action = action(
        "process",
        json!({"command": ["sh", "-c", script, "sh", &pid_file]}),
    );
    let ctx = ExecContext::new();
    let executor = ProcessExecutor::new();
    let attempt = executor.execute(&action, ctx.clone());
    tokio::pin!(attempt);
    poll_once(attempt.as_mut()).await;
    // The program has exited; the runtime has had no turn to tell the attempt so when the
    // cancel comes: both are there at its next poll, the exit first.
    wait_exited_unreaped(&pid_file);
    ctx.cancel.cancel();
    let outcome = within("the attempt", attempt).await;
    assert_eq!(
        outcome.result.expect("the program's own end"),
        json!("done")
    );
}

#[tokio::test]
async fn a_program_that_exits_0_on_sigterm_was_cancelled() {
    let script =
        r#"trap 'echo "\"stopped\""; exit 0' TERM; echo up > "$1"; while :; do sleep 1; done"#;
    let (_, outcome) = cancelled_once_started(script).await;
    assert_eq!(error(&outcome).0, ErrorClass::Cancelled);
}

/// A cancel's grace ends when the context's `kill_now` is cancelled during it: the SIGKILL
/// comes then, not when the grace is over (an engine that lost its run's lease meanwhile).
#[tokio::test]
async fn kill_now_during_a_cancels_grace_kills_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (started, termed) = (dir.path().join("started"), dir.path().join("termed"));
    let script = "trap 'touch \"$2\"' TERM; touch \"$1\"; while :; do sleep 0.02; done";
    let params = json!({"command": ["sh", "-c", script, "sh", &started, &termed],
        "kill_grace": "1h"});
    let ctx = ExecContext::new();
    let attempt = tokio::spawn({
        let ctx = ctx.clone();
        async move { run_with(&ProcessExecutor::new(), params, ctx).await }
    });
    wait_until("the script to trap SIGTERM", || started.exists()).await;
    ctx.cancel.cancel();
    wait_until("the script to get its SIGTERM", || termed.exists()).await;
    ctx.kill_now.cancel();
    // (A hang guard only: without `kill_now` the grace would last an hour.)
    let outcome = within("the attempt to end", attempt).await.unwrap();
    assert_eq!(error(&outcome).0, ErrorClass::Cancelled);
}
