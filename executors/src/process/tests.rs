//! The process executor against real processes.

use std::path::Path;
use std::time::Duration;

use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ProcessExecutor;
use crate::test_support::{HANG, action, within};

mod spawn;
mod stop;
mod strays;

async fn run(params: Value) -> Outcome {
    run_with(&ProcessExecutor::new(), params, ExecContext::new()).await
}

/// Runs one attempt; fails the test if it has not ended within [`HANG`].
async fn run_with(executor: &ProcessExecutor, params: Value, ctx: ExecContext) -> Outcome {
    let what = format!("the attempt of {}", params["command"]);
    within(&what, executor.execute(&action("process", params), ctx)).await
}

fn error(outcome: &Outcome) -> (ErrorClass, &str) {
    let error = outcome.result.as_ref().expect_err("a failed outcome");
    (error.class, error.message.as_str())
}

/// The processes of group `pgid` in /proc, as (pid, state): `Z` for a zombie.
fn members(pgid: i32) -> Vec<(i32, char)> {
    super::procfs::processes()
        .filter(|process| process.pgrp == pgid)
        .map(|process| (process.pid, process.state))
        .collect()
}

/// Asserts that nothing of group `pgid` is left alive (a zombie has ended; init reaps it).
fn assert_group_gone(pgid: i32) {
    let members = members(pgid);
    assert!(
        members.iter().all(|&(_, state)| state == 'Z'),
        "processes of group {pgid} left behind (pid, state): {members:?}"
    );
}

/// Asserts that process `pid` is gone or a zombie (ended; init reaps it).
fn assert_dead(pid: i32) {
    let state = process_state(pid);
    assert!(
        matches!(state.as_deref(), None | Some("Z")),
        "{pid} is alive (state {state:?})"
    );
}

/// Reads the fifo at `path` to its end, within [`HANG`]. The read blocks until a writer
/// opens the fifo, so it runs on a thread of its own: left blocked in tokio's blocking pool
/// by a failing test, it would keep the runtime from shutting down, and the test from ending.
async fn read_fifo(path: &Path) -> String {
    let (sender, read) = tokio::sync::oneshot::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = sender.send(std::fs::read_to_string(path));
    });
    within("reading the fifo", read)
        .await
        .expect("the reading thread ended")
        .expect("the fifo is readable")
}

/// Polls `holds` (through [`super::procfs::poll_until`]) until it holds; fails the test,
/// naming `what` it waited for, if it has not within [`HANG`].
pub(super) async fn wait_until(what: &str, holds: impl FnMut() -> bool) {
    let held = super::procfs::poll_until(Instant::now() + HANG, holds).await;
    assert!(held, "waited {HANG:?} in vain for {what}");
}

/// [`wait_until`], blocking the thread: for a test that must give the runtime no turn while
/// it waits (an attempt's tasks and the reactor's events then wait for its next await).
fn block_until(what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + HANG;
    while !holds() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited {HANG:?} in vain for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills, when the test ends however it ends, the groups led by the processes it names that
/// still carry `marker` (a `NAME=value` entry) in their environment: never a process that
/// reused one's pid.
pub(super) struct KillOnDrop {
    /// The `NAME=value` entry the test's processes carry.
    pub(super) marker: Vec<u8>,
    /// The processes.
    pub(super) pids: Vec<i32>,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::Pid;
        for &pid in &self.pids {
            let environ = super::procfs::environ(pid);
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

/// Reads "pgid pid" as the test scripts print it.
fn pids(text: &str) -> (i32, i32) {
    let mut numbers = text
        .split_whitespace()
        .map(|n| n.parse::<i32>().expect("a pid"));
    (
        numbers.next().expect("the group's id"),
        numbers.next().expect("the grandchild's pid"),
    )
}

#[tokio::test]
async fn json_input_reaches_stdin_and_json_stdout_is_parsed() {
    let outcome =
        run(json!({"command": ["cat"], "input": {"files": ["a.rs", "b.rs"], "n": 2}})).await;
    assert_eq!(
        outcome.result,
        Ok(json!({"files": ["a.rs", "b.rs"], "n": 2}))
    );
}

#[tokio::test]
async fn stdin_reaches_eof_and_text_stdout_is_kept_as_a_string() {
    // `cat` only ends once stdin is closed; the input is `null` when absent.
    let outcome =
        run(json!({"command": ["sh", "-c", "input=$(cat); echo \"read $input to the end\""]}))
            .await;
    assert_eq!(outcome.result, Ok(json!("read null to the end")));
}

#[tokio::test]
async fn large_input_and_output_do_not_deadlock() {
    // 4 MiB through `cat`: far more than a pipe holds, so stdin must be written while stdout
    // is read.
    let big = "x".repeat(4 * 1024 * 1024);
    let outcome = run(json!({"command": ["cat"], "input": big})).await;
    assert_eq!(outcome.result, Ok(Value::String(big)));
}

#[tokio::test]
async fn empty_stdout_is_null_and_non_utf8_is_bad_output() {
    assert_eq!(
        run(json!({"command": ["true"]})).await.result,
        Ok(Value::Null)
    );
    let outcome = run(json!({"command": ["printf", "ok \\377"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadOutput);
    // The place (the program, the byte) and the fix.
    assert!(
        message.starts_with("`printf` wrote stdout that is not UTF-8: the byte at offset 3 (0xFF) starts an invalid UTF-8 sequence; make it print UTF-8 text or JSON"),
        "{message}"
    );
    assert!(message.contains("`base64`"), "{message}");
}

#[tokio::test]
async fn json_stdout_is_kept_to_128_levels_and_bad_output_deeper() {
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    let outcome = run(json!({"command": ["printf", "%s\\n", nested(128)]})).await;
    let deepest = (1..128).fold(json!([]), |inner, _| json!([inner]));
    assert_eq!(outcome.result, Ok(deepest));
    // Deeper, it is refused, not kept as a string that would pass the engine's bound.
    let outcome = run(json!({"command": ["printf", "%s", nested(129)]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadOutput);
    assert!(
        message.starts_with("`printf` wrote JSON to stdout nested deeper than 128 levels of arrays and objects, more than a run holds; make it print flatter JSON"),
        "{message}"
    );
    // Brackets that are not one JSON document stay text.
    let outcome = run(json!({"command": ["printf", "%s", "[".repeat(129)]})).await;
    assert_eq!(outcome.result, Ok(Value::String("[".repeat(129))));
}

#[tokio::test]
async fn non_zero_exit_is_retryable_and_carries_the_stderr_tail() {
    let outcome =
        run(json!({"command": ["sh", "-c", "echo starting; echo 'disk full' >&2; exit 3"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::ExitCode);
    assert!(class.is_retryable());
    assert!(
        message.contains("code 3") && message.contains("disk full"),
        "{message}"
    );
    assert_eq!(outcome.log_tail.as_deref(), Some("disk full\n"));
}

#[tokio::test]
async fn an_argument_too_long_for_the_system_is_bad_params_naming_it_not_a_missing_program() {
    // Probe 27 F4: a 140 KB prompt failed `spawn_failed` with "install it on the PATH".
    let long = "x".repeat(140 * 1024);
    let outcome = run(json!({"command": ["echo", "a", long]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams, "{message}");
    assert!(
        message.contains("argument 2 holds 143360 bytes, past the 128 KiB")
            && message.contains("pass its path instead"),
        "{message}"
    );
    // A variable as long is named as such (probe 30 F4), its size counting `NAME=`.
    let outcome = run(json!({"command": ["true"], "env": {"BIG": long}})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams, "{message}");
    assert!(
        message.contains("`with.env.BIG` holds 143364 bytes, past the 128 KiB"),
        "{message}"
    );
}

#[tokio::test]
async fn stderr_is_kept_bounded_to_its_tail() {
    let executor = ProcessExecutor::new().stderr_tail(10);
    let params = json!({"command": ["sh", "-c", "i=0; while [ $i -lt 1000 ]; do echo line $i >&2; i=$((i+1)); done; echo end >&2"]});
    let outcome = run_with(&executor, params, ExecContext::new()).await;
    assert_eq!(outcome.result, Ok(Value::Null));
    // The last 10 bytes, "e 999\nend\n", from the first line that begins in them.
    assert_eq!(outcome.log_tail.as_deref(), Some("end\n"));
}

#[tokio::test]
async fn a_stderr_byte_that_is_not_utf8_is_kept_as_its_escape() {
    let params = json!({"command": ["sh", "-c", "printf 'caf\\303\\251 \\377\\376 end' >&2"]});
    let outcome = run(params).await;
    assert_eq!(outcome.log_tail.as_deref(), Some("café \\xff\\xfe end"));
}

#[tokio::test]
async fn stdout_is_capped_at_the_runs_cap_when_that_is_bigger() {
    let executor = ProcessExecutor::new().max_output(1_000);
    let params = json!({"command": ["sh", "-c", "printf %3000s x"]});
    let with_cap = |max_output| ExecContext {
        max_output,
        ..ExecContext::new()
    };
    let outcome = run_with(&executor, params.clone(), with_cap(500)).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::OutputTooLarge);
    assert!(message.contains("more than 1000 bytes"), "{message}");
    // A run given a bigger cap (`cairn run --max-output`) keeps what it allows.
    let outcome = run_with(&executor, params, with_cap(5_000)).await;
    let output = outcome.result.expect("within the run's cap");
    assert_eq!(output.as_str().map(str::len), Some(3000));
}

#[tokio::test]
async fn exports_the_cairn_variables_and_with_env() {
    let mut action: Action = action(
        "process",
        json!({"command": ["sh", "-c", "echo \"$CAIRN_RUN_ID|$CAIRN_STEP_ID|$CAIRN_ATTEMPT|$CAIRN_IDEMPOTENCY_KEY|$CAIRN_ITEM_INDEX|$GREETING|$CAIRN_ENGINE\""],
               "env": {"GREETING": "hi"}}),
    );
    action.item_index = Some(2);
    action.attempt = 3;
    action.idempotency_key = Action::idempotency_key_for(action.run_id, "step", Some(2));
    let outcome = ProcessExecutor::new()
        .execute(&action, ExecContext::new())
        .await;
    let run_id = action.run_id;
    assert_eq!(
        outcome.result,
        Ok(json!(format!(
            "{run_id}|step|3|{run_id}/step/2|2|hi|{}",
            super::reaper::token()
        )))
    );
}

/// Runs the ignored test `name` alone in a copy of this test binary, with `var` set (the
/// test fails without it); asserts that it passed and said `said` on stderr.
fn alone(name: &str, var: (&str, &str), said: &str) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture"])
        .env(var.0, var.1)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
    assert!(stderr.contains(said), "{stdout}\n{stderr}");
}

/// The name of the secret-looking variable [`secret_in_the_engine_env_never_reaches_a_step`]
/// sets in the environment of a copy of this test binary.
const SECRET: &str = "CAIRN_TEST_AWS_SECRET_ACCESS_KEY";

#[test]
fn secret_in_the_engine_env_never_reaches_a_step() {
    // Setting a variable in this process would need `unsafe` (edition 2024) and race with
    // the other tests' threads, so run the check in a copy of this test binary started with
    // the secret in its environment.
    alone(
        "process::tests::env_allow_list_in_a_process_holding_a_secret",
        (SECRET, "hunter2"),
        "checked with the secret set",
    );
}

/// Run by [`secret_in_the_engine_env_never_reaches_a_step`] with [`SECRET`] set; ignored
/// otherwise, so that it is never counted as a pass without having checked anything.
#[tokio::test]
#[ignore = "run by secret_in_the_engine_env_never_reaches_a_step, which sets the secret"]
async fn env_allow_list_in_a_process_holding_a_secret() {
    assert!(
        std::env::var_os(SECRET).is_some(),
        "{SECRET} is not set: run secret_in_the_engine_env_never_reaches_a_step instead"
    );
    let env = json!({"command": ["env"]});
    let outcome = run(env.clone()).await;
    let seen = outcome.result.expect("env runs");
    let seen = seen.as_str().expect("env prints text");
    assert!(
        !seen.contains(SECRET) && !seen.contains("hunter2"),
        "the secret leaked:\n{seen}"
    );
    assert!(
        seen.contains("PATH="),
        "PATH is allow-listed by default:\n{seen}"
    );
    // Cargo sets CARGO_* for the test binary; none is allow-listed.
    assert!(
        !seen.contains("CARGO"),
        "the engine's environment leaked:\n{seen}"
    );

    // Allow-listed on purpose, it is passed through.
    let executor = ProcessExecutor::new().env_allow([SECRET]);
    let outcome = run_with(&executor, env, ExecContext::new()).await;
    let seen = outcome.result.expect("env runs");
    assert!(
        seen.as_str()
            .unwrap()
            .contains(&format!("{SECRET}=hunter2")),
        "{seen}"
    );
    eprintln!("checked with the secret set");
}

#[tokio::test]
async fn every_line_reports_progress() {
    let ctx = ExecContext::new();
    let outcome = run_with(
        &ProcessExecutor::new(),
        json!({"command": ["sh", "-c", "echo a; echo b >&2; echo c; printf d"]}),
        ctx.clone(),
    )
    .await;
    assert_eq!(outcome.result, Ok(json!("a\nc\nd")));
    assert_eq!(ctx.progress.count(), 4);
}

#[tokio::test]
async fn timeout_kills_the_whole_group_even_what_ignores_sigterm() {
    // Acceptance 1: a background grandchild, then a hang past the timeout; everything ignores
    // SIGTERM, so only the SIGKILL after the grace ends it.
    let dir = tempfile::tempdir().unwrap();
    let pids_file = dir.path().join("pids");
    let script = "trap '' TERM; sleep 1000 & echo \"$$ $!\" > \"$1\"; sleep 1000";
    // The script must write its pids before the deadline: 3 s leaves a loaded machine
    // plenty of time to start a shell.
    let ctx = ExecContext {
        deadline: Some(Instant::now() + Duration::from_secs(3)),
        ..ExecContext::new()
    };
    let params = json!({"command": ["sh", "-c", script, "sh", &pids_file], "kill_grace": "100ms"});
    let outcome = run_with(&ProcessExecutor::new(), params, ctx).await;
    let (class, _) = error(&outcome);
    assert_eq!(class, ErrorClass::Timeout);
    assert!(class.is_retryable());
    let written =
        std::fs::read_to_string(&pids_file).expect("the script started before the timeout");
    let (pgid, grandchild) = pids(&written);
    assert_group_gone(pgid);
    assert_dead(grandchild);
}

#[tokio::test]
async fn normal_exit_leaving_a_background_grandchild_neither_hangs_nor_leaks() {
    // The grandchild holds stdout open: waiting for EOF alone would hang for 1000 s.
    let outcome = run(json!({"command": ["sh", "-c", "sleep 1000 & echo \"$$ $!\""]})).await;
    let output = outcome.result.expect("the step succeeds");
    let (pgid, grandchild) = pids(output.as_str().expect("text output"));
    assert_group_gone(pgid);
    assert_dead(grandchild);
}

/// Runs `script` (`sh -c`, the path of a fifo as `$1`) until it has written to the fifo,
/// then cancels it: what it wrote, and the attempt's outcome.
async fn cancelled_once_started(script: &str) -> (String, Outcome) {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("started");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let params = json!({"command": ["sh", "-c", script, "sh", &fifo]});
    let ctx = ExecContext::new();
    let mut attempt = tokio::spawn({
        let ctx = ctx.clone();
        async move { run_with(&ProcessExecutor::new(), params, ctx).await }
    });
    // Opening the fifo waits for the script to open it: the group is running.
    let written = tokio::select! {
        written = read_fifo(&fifo) => written,
        outcome = &mut attempt => panic!("the step ended before it started: {outcome:?}"),
    };
    ctx.cancel.cancel();
    (written, attempt.await.unwrap())
}

#[tokio::test]
async fn cancellation_terminates_the_group() {
    let script = "sleep 1000 & echo \"$$ $!\" > \"$1\"; sleep 1000";
    let (written, outcome) = cancelled_once_started(script).await;
    let (class, _) = error(&outcome);
    assert_eq!(class, ErrorClass::Cancelled);
    assert!(!class.is_retryable());
    let (pgid, _) = pids(&written);
    assert_group_gone(pgid);
}

/// Set in the copy of this test binary that measures its own peak memory.
const ALONE: &str = "CAIRN_TEST_MEASURE_MEMORY";

#[test]
fn output_past_the_cap_fails_with_bounded_memory() {
    // Acceptance 2: 100 MiB on stdout against the default 16 MiB cap. Peak memory is a
    // property of the whole process, so measure it in a copy of this binary running only
    // this case (the other tests' buffers would count too).
    alone(
        "process::tests::output_past_the_cap_in_a_process_of_its_own",
        (ALONE, "1"),
        "peak RSS",
    );
}

/// Run by [`output_past_the_cap_fails_with_bounded_memory`] alone in a process of its own;
/// ignored otherwise, so that it is never counted as a pass without having checked anything.
#[tokio::test]
#[ignore = "run by output_past_the_cap_fails_with_bounded_memory, alone in its own process"]
async fn output_past_the_cap_in_a_process_of_its_own() {
    // Among other tests in one process, the peak would be theirs as much as its own.
    assert!(
        std::env::var_os(ALONE).is_some(),
        "{ALONE} is not set: run output_past_the_cap_fails_with_bounded_memory instead"
    );
    let outcome = run(json!({"command": ["head", "-c", "104857600", "/dev/zero"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::OutputTooLarge, "{message}");
    assert!(!class.is_retryable());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    eprintln!(
        "peak RSS of the test process (VmHWM): {} KiB = {:.1} MiB",
        peak_kib,
        peak_kib as f64 / 1024.0
    );
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
}

#[tokio::test]
async fn a_process_that_left_the_group_holding_stdout_does_not_hang_the_attempt() {
    // `setsid` takes the grandchild out of the group, out of reach of killpg; its open
    // stdout must not keep the attempt waiting for EOF.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("escaped");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // The step prints the escapee's pid once it is out of the group, then exits.
    let script =
        "setsid sh -c 'echo $$ > \"$1\"; exec sleep 1000' sh \"$1\" & read pid < \"$1\"; echo $pid";
    let outcome = run(json!({"command": ["sh", "-c", script, "sh", &fifo]})).await;
    let escaped = outcome.result.expect("the step succeeds");
    let escaped = escaped.as_i64().expect("the escaped pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(escaped),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// Where [`a_step_dies_with_a_killed_engine`] asks its helper to write the step's pid.
const KILLED_ENGINE_FIFO: &str = "CAIRN_TEST_KILLED_ENGINE_FIFO";

#[tokio::test]
async fn a_step_dies_with_a_killed_engine() {
    killed_engine_kills_its_step("process::tests::engine_running_a_long_step").await;
}

#[tokio::test]
async fn a_step_dies_with_a_killed_engine_whose_reaper_a_step_had_killed() {
    killed_engine_kills_its_step("process::tests::engine_running_a_long_step_without_its_reaper")
        .await;
}

/// Runs `helper` (an ignored test of this binary that runs a long step) in a copy of this
/// test binary, SIGKILLs it once the step has started, and checks the step dies too.
async fn killed_engine_kills_its_step(helper: &str) {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("step-pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // The "engine": a copy of this test binary running a step, SIGKILLed mid-step.
    let mut engine = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([helper, "--exact", "--ignored"])
        .env(KILLED_ENGINE_FIFO, &fifo)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let written = tokio::select! {
        written = read_fifo(&fifo) => written,
        status = engine.wait() => panic!("the engine ended before its step started: {status:?}"),
    };
    let step: i32 = written.trim().parse().expect("the step's pid");
    engine.start_kill().unwrap();
    engine.wait().await.unwrap();
    // SIGKILL is delivered asynchronously: wait (bounded) for the step to be dead — a zombie
    // awaiting init, or gone.
    let what = format!("step {step} to die with its killed engine");
    wait_until(&what, || {
        matches!(process_state(step).as_deref(), None | Some("Z" | "X"))
    })
    .await;
}

/// The engine of [`a_step_dies_with_a_killed_engine`], which runs it in a copy of this test
/// binary; ignored otherwise, so that it is never counted as a pass.
#[tokio::test]
#[ignore = "run by a_step_dies_with_a_killed_engine, which kills it mid-step"]
async fn engine_running_a_long_step() {
    run_long_step().await;
}

/// The engine of [`a_step_dies_with_a_killed_engine_whose_reaper_a_step_had_killed`]: a
/// first step starts the reaper, which is then killed (as a step could), before the long step.
#[tokio::test]
#[ignore = "run by a_step_dies_with_a_killed_engine_whose_reaper_a_step_had_killed"]
async fn engine_running_a_long_step_without_its_reaper() {
    assert!(run(json!({"command": ["true"]})).await.result.is_ok());
    let reaper = child_running("cairn-reaper").expect("the reaper is running");
    nix::sys::signal::kill(reaper, nix::sys::signal::Signal::SIGKILL).unwrap();
    // Dead once a zombie: its end of the pipe is closed then.
    wait_until("the reaper to die of SIGKILL", || {
        process_state(reaper.as_raw()).is_none_or(|state| state == "Z")
    })
    .await;
    run_long_step().await;
}

/// Runs a step that tells its pid through [`KILLED_ENGINE_FIFO`] and then sleeps; panics
/// should it ever end.
async fn run_long_step() {
    let fifo = std::env::var_os(KILLED_ENGINE_FIFO).unwrap_or_else(|| {
        panic!("{KILLED_ENGINE_FIFO} is not set: run a_step_dies_with_a_killed_engine instead")
    });
    // The step reads its input to the end first: the engine writes it only once the step's
    // group is registered with the reaper, so the test's kill cannot outrun the registration.
    let params = json!({"command": ["sh", "-c", "cat > /dev/null; echo $$ > \"$1\"; exec sleep 1000", "sh", fifo.to_str().unwrap()]});
    let outcome = run(params).await;
    panic!("the step should have been killed with its engine, yet ended: {outcome:?}");
}

/// The child of this process whose command line holds `word`.
fn child_running(word: &str) -> Option<nix::unistd::Pid> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            (parent == me && String::from_utf8_lossy(&cmdline).contains(word))
                .then(|| nix::unistd::Pid::from_raw(pid))
        })
}

/// The state letter of process `pid` (`R`, `S`, `Z`…), `None` once it is gone.
pub(super) fn process_state(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned))
}

#[test]
fn the_reaper_kills_the_groups_still_registered_at_eof() {
    use std::io::Write;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    let group = || {
        Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let (mut kept, mut killed, mut reused) = (group(), group(), group());
    let mut reaper = Command::new("/bin/sh")
        .args(["-c", super::reaper::SCRIPT])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // `reused` is registered twice (its id reused before the first `-` came), unregistered
    // once: it stays registered. `kept` is unregistered; a `-` for an unknown id is ignored.
    let lines = format!(
        "+{k}\n+{r}\n+{x}\n+{r}\n-{k}\n-{r}\n-1\n",
        k = kept.id(),
        x = killed.id(),
        r = reused.id()
    );
    let mut stdin = reaper.stdin.take().unwrap();
    stdin.write_all(lines.as_bytes()).unwrap();
    drop(stdin);
    assert!(reaper.wait().unwrap().success());
    assert_eq!(killed.wait().unwrap().signal(), Some(9));
    assert_eq!(reused.wait().unwrap().signal(), Some(9));
    assert_eq!(
        kept.try_wait().unwrap(),
        None,
        "an unregistered group was killed"
    );
    kept.kill().unwrap();
    kept.wait().unwrap();
}

/// A step the engine spawned and died before registering (the spawn itself is that gap):
/// the reaper finds it by the engine's token, but no other engine's step, nor a process that
/// left the session, nor one whose token only starts like this engine's.
#[tokio::test]
async fn the_reaper_kills_the_unregistered_steps_of_its_engine_at_eof() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    // Each step carries the test's marker, for KillOnDrop.
    let marker = ("CAIRN_TEST", uuid::Uuid::now_v7().to_string());
    let step = |token: &str, program: &[&str]| {
        let mut command = Command::new(program[0]);
        command.args(&program[1..]).env_clear();
        command
            .env("CAIRN_ENGINE", token)
            .env(marker.0, &marker.1)
            .env("PATH", "/usr/bin:/bin");
        command
    };
    let sleep = ["sleep", "1000"];
    let mut unregistered = step("4-2", &sleep).process_group(0).spawn().unwrap();
    let mut others = step("5-2", &sleep).process_group(0).spawn().unwrap();
    let mut longer = step("4-23", &sleep).process_group(0).spawn().unwrap();
    // A session (and group) of its own: `setsid` execs `sleep` in the same process.
    let mut away = step("4-2", &["setsid", "sleep", "1000"]).spawn().unwrap();
    let _ends = KillOnDrop {
        marker: format!("{}={}", marker.0, marker.1).into_bytes(),
        pids: ([&unregistered, &others, &longer, &away])
            .map(|child| i32::try_from(child.id()).expect("a pid"))
            .into(),
    };
    // The reaper finds a program by its environment once it runs: wait until `sleep` does.
    for child in [&unregistered, &others, &longer, &away] {
        let comm = format!("/proc/{}/comm", child.id());
        wait_until("the program to run", || {
            std::fs::read_to_string(&comm).unwrap() == "sleep\n"
        })
        .await;
    }
    let mut reaper = Command::new("/bin/sh")
        .args(["-c", super::reaper::SCRIPT, "cairn-reaper", "4-2"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    drop(reaper.stdin.take());
    assert!(reaper.wait().unwrap().success());
    let mut killed = None;
    wait_until("the unregistered step to be killed", || {
        killed = unregistered.try_wait().unwrap();
        killed.is_some()
    })
    .await;
    assert_eq!(killed.and_then(|status| status.signal()), Some(9));
    for (child, what) in [
        (&mut others, "another engine's step"),
        (&mut longer, "a step of a longer token"),
        (&mut away, "a process of another session"),
    ] {
        assert_eq!(child.try_wait().unwrap(), None, "{what} was killed");
    }
}

#[tokio::test]
async fn a_group_left_with_zombies_only_is_empty() {
    use std::os::unix::process::CommandExt;
    // A child of this test, leading a group of its own, not reaped yet: a zombie once it
    // exits, as an orphaned grandchild is until init reaps it.
    let mut child = std::process::Command::new("true")
        .process_group(0)
        .spawn()
        .expect("true starts");
    let pid = i32::try_from(child.id()).expect("a pid");
    wait_until("the child to end", || members(pid) == [(pid, 'Z')]).await;
    let mut group = super::group::ProcessGroup::new(child.id());
    // Its look at `/proc` may be one another test made before the child ended (5 ms old at
    // most): looked at again until a look sees the zombie, which must read as nothing alive.
    wait_until("nothing of the group to be alive", || !group.exists()).await;
    child.wait().expect("reaped");
}
