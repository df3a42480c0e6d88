//! The signals a terminal, a shell or an operator sends cairn while it drives a run: Ctrl-Z
//! (SIGTSTP) suspends the steps with cairn, SIGHUP stops it as SIGTERM does, a signal ignored
//! when cairn started stays ignored, and a step that reads the terminal fails rather than
//! stops (docs/runs.md, "Stopping the engine"; docs/executors.md, `process`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};
use std::sync::mpsc;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use super::control::{
    HOLD, MARK, code, executions, held, held_then_b, history, show, spawn, step, wait_for_file,
};
use super::orphans::{state, state_and_parent, wait_gone};
use super::scratch::{Scratch, holds_within, open_gate, wait_until};
use crate::{HANG, finish};

/// Sends `signal` to process `pid`.
fn send(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(pid).unwrap());
    kill(pid, signal).unwrap();
}

/// Waits (within [`HANG`]) until process `pid` is in `wanted` state (`T`: stopped). A
/// process in `D` whose child is stopped counts as stopped: a shell that spawns with `vfork`
/// (dash does) waits uninterruptibly until its child execs, so a SIGSTOP of their group that
/// stops the child before its exec leaves the shell in `D` until both are continued.
fn wait_for_state(pid: u32, wanted: &str) {
    let pid = i32::try_from(pid).unwrap();
    let mut now = None;
    let reached = holds_within(HANG, || {
        now = state(pid);
        now.as_deref() == Some(wanted)
            || (wanted == "T" && now.as_deref() == Some("D") && has_a_stopped_child(pid))
    });
    assert!(
        reached,
        "process {pid} was still {now:?}, not {wanted}, {HANG:?} later"
    );
}

/// Whether a child of process `pid` is stopped.
fn has_a_stopped_child(pid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    (entries.flatten())
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .any(|process| {
            state_and_parent(process).is_some_and(|(state, parent)| state == "T" && parent == pid)
        })
}

/// The pid a step recorded in `<name>.pid` in the scratch dir.
fn recorded_pid(scratch: &Scratch, name: &str) -> u32 {
    let path = scratch.dir.path().join(format!("{name}.pid"));
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether the mask of `/proc/PID/status` line `SigIgn:` in `status` holds signal `signal`.
fn ignores(status: &str, signal: Signal) -> bool {
    let mask = (status.lines())
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .unwrap_or_else(|| panic!("no SigIgn line in {status:?}"));
    let mask = u64::from_str_radix(mask.trim(), 16).unwrap();
    mask & (1 << (signal as u32 - 1)) != 0
}

#[test]
fn a_step_inherits_the_terminals_stop_signals_ignored() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "mask.json",
        &json!({"name": "mask", "steps": [{"id": "mask", "executor": "process",
            "with": {"command": ["cat", "/proc/self/status"]}}]}),
    );
    let output = scratch.cairn(&["run", workflow.to_str().unwrap(), "--json"]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let status = report["output"]["mask"].as_str().unwrap();
    // A step reading the terminal (sudo asking for a password) then fails with EIO instead of
    // being stopped by SIGTTIN, its group a background one of cairn's session.
    assert!(ignores(status, Signal::SIGTTIN), "{status}");
    assert!(ignores(status, Signal::SIGTTOU), "{status}");
}

/// Reads `stderr` in a thread until a line holds `what`, then closes it (the terminal gone);
/// fails if cairn ends (EOF) or says nothing of it within [`HANG`].
fn read_until_then_close(stderr: ChildStderr, what: &'static str) {
    let (said, heard) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr).lines();
        let found = lines.any(|line| line.is_ok_and(|line| line.contains(what)));
        let _ = said.send(found);
        // `lines` (the pipe's read end) is dropped here: cairn's stderr is gone.
    });
    let found = heard.recv_timeout(HANG).unwrap_or(false);
    assert!(found, "cairn never said {what:?} on its stderr");
}

#[test]
fn sighup_stops_the_engine_as_sigterm_does_even_with_stderr_gone() {
    let scratch = Scratch::new();
    let workflow = held_then_b(&scratch, "");
    let mut child = spawn(&scratch, &workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    send(child.id(), Signal::SIGHUP);
    read_until_then_close(
        child.stderr.take().unwrap(),
        "stopping: starting nothing new",
    );
    // The second cancels the step in flight; what cairn says of it goes to a closed pipe.
    send(child.id(), Signal::SIGHUP);
    let output = finish(child, "cairn run after two SIGHUPs");
    assert_eq!(code(&output), Some(3), "stopped unfinished, resumable");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (report["state"].as_str(), report["error"].as_str()),
        (Some("running"), Some("interrupted")),
        "{report}"
    );
    let last = history(&scratch, &run).pop().unwrap();
    assert_eq!(last["detail"]["interrupted"], "engine stopped", "{last}");
    assert!(executions(&scratch, "b").is_empty(), "nothing new started");
}

/// A scan of the list at each of its steps: n² comparisons, which build nothing (an
/// expression that builds values, `size(input.xs + input.xs)`, fails within 128 MiB), over
/// [`input_of_a_scan`] (of 100,000 elements, until its evaluation's 10 s are spent).
const A_SCAN: &str = "input.xs.all(x, !(-1 in input.xs))";

/// A `matches` over `input.s` that thrashes every matcher, the one evaluation the clock does
/// not cut short within 10 s (docs/workflow-format.md): minutes over [`thrashed_text`].
const THRASHING: &str = "input.s.matches('[a-z]*a[a-z]{1000}c')";

/// 32 MB of random `a`s and `b`s (xorshift): every window of 1,000 is new to the matchers.
fn thrashed_text() -> String {
    let mut bits = 0x9E37_79B9_7F4A_7C15_u64;
    (0..32 << 20)
        .map(|_| {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            if bits & 1 == 0 { 'a' } else { 'b' }
        })
        .collect()
}

/// An input of `elements` that [`A_SCAN`] scans.
fn input_of_a_scan(elements: u32) -> Value {
    let xs: Vec<u32> = (0..elements).collect();
    json!({ "xs": xs })
}

/// `slow` steps, in parallel, each with `busy` as its condition.
fn slow_conditions(busy: &str, slow: usize) -> Vec<Value> {
    (0..slow)
        .map(|n| json!({"id": format!("slow{n}"), "executor": "noop", "when": busy}))
        .collect()
}

/// `cairn run` of a workflow whose `slow` steps, in parallel after a first one, hold
/// cairn's runtime while their expressions are evaluated over `input`, once it is evaluating
/// them (it has taken two seconds of CPU since the first ended: nothing else cairn does takes
/// that long); with the run's id.
fn busy_evaluating(scratch: &Scratch, slow: Vec<Value>, input: &Value) -> (Child, String) {
    busy_for(scratch, &after_a(scratch, slow, Vec::new()), input, 200)
}

/// A workflow whose `slow` steps run in parallel after a first one, `a` (held), and whose
/// `beside` steps run beside them.
fn after_a(scratch: &Scratch, slow: Vec<Value>, beside: Vec<Value>) -> Value {
    let a_then_slow =
        json!({"pipeline": [step(scratch, "a", HOLD, json!({})), {"parallel": slow}]});
    let steps: Vec<Value> = std::iter::once(a_then_slow).chain(beside).collect();
    json!({"name": "busy", "steps": steps})
}

/// [`busy_evaluating`] of `workflow` ([`after_a`]), once cairn has taken `ticks` of CPU
/// since `a` ended.
fn busy_for(scratch: &Scratch, workflow: &Value, input: &Value, ticks: u64) -> (Child, String) {
    let workflow = scratch.write("busy.json", workflow);
    let input = scratch.write("input.json", input);
    let (workflow, input) = (workflow.to_str().unwrap(), input.to_str().unwrap());
    let mut child = (scratch.command(&["run", workflow, "--input-file", input]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for_file(scratch, &mut child, &held(scratch, "a"));
    let before = cpu_ticks(child.id());
    scratch.open_gate();
    wait_until("cairn busy evaluating", || {
        cpu_ticks(child.id()) > before + ticks
    });
    (child, run)
}

/// Signals while an expression's evaluation holds cairn's runtime, which reads none: a
/// second ends cairn at once, exit 130, saying so, and so does a first left unread for the
/// stop's grace of 30 s (probe 69 F2: Ctrl-C, again, and SIGTERM did nothing for minutes).
/// The one evaluation the clock does not cut short within 10 s is a `matches` that thrashes
/// every matcher (docs/workflow-format.md): this one would take minutes over 32 MB.
#[test]
fn a_signal_cairn_is_too_busy_to_read_ends_it() {
    let scratch = Scratch::new();
    let (child, _) = busy_evaluating(
        &scratch,
        slow_conditions(A_SCAN, 1),
        &input_of_a_scan(100_000),
    );
    send(child.id(), Signal::SIGINT);
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, "cairn run after two signals it could not read");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(130), "{said}");
    assert!(said.contains("stopping at once"), "{said}");
    let scratch = Scratch::new();
    let (child, _) = busy_evaluating(
        &scratch,
        slow_conditions(THRASHING, 1),
        &json!({ "s": thrashed_text() }),
    );
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, "cairn run after a signal it could not read");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(130), "{said}");
}

/// A signal that comes while ready steps' conditions take their 10 s each is read between
/// two of them, not after all: the turn that evaluates them stops once its slice is spent,
/// and the next waits for the signal's task. cairn stops as a first signal says, exit 3,
/// the steps not evaluated left to a resume (before, four of them held it past the stop's
/// grace of 30 s, and it ended 130).
#[test]
fn a_signal_is_read_between_slow_conditions() {
    let scratch = Scratch::new();
    let (child, _) = busy_evaluating(
        &scratch,
        slow_conditions(A_SCAN, 4),
        &input_of_a_scan(100_000),
    );
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, "cairn run after a signal between slow conditions");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    assert!(said.contains("stopping: starting nothing new"), "{said}");
}

/// The step whose condition is being evaluated when a first signal comes does not start
/// either, though the turn that evaluated it commits it running: it is taken back, ready,
/// `not_started`, and the run left to a resume (probe 83 F2: it started after "stopping:
/// starting nothing new").
#[test]
fn a_step_prepared_as_the_signal_came_does_not_start() {
    let scratch = Scratch::new();
    // About 1 s of a debug build's CPU: a fifth of a second of it is spent when the signal
    // is sent, and it ends within an evaluation's 10 s of the clock even if cairn gets only
    // a tenth of a core (at 3 s of CPU, a busy machine made the clock cut it short).
    let workflow = after_a(&scratch, slow_conditions(A_SCAN, 1), Vec::new());
    let (child, run) = busy_for(&scratch, &workflow, &input_of_a_scan(7_000), 20);
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, "cairn run after a signal as a step was prepared");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    let history = history(&scratch, &run);
    let slow: Vec<&Value> = (history.iter())
        .filter(|event| event["step"] == "slow0")
        .collect();
    let last = slow.last().unwrap();
    assert_eq!(last["to"], "ready", "{slow:?}");
    assert_eq!(last["detail"]["not_started"], "engine stopped", "{slow:?}");
}

/// A `cairn cancel` sent while a step's `with` is being rendered, which then fails (its 10 s
/// spent), cancels the run: the turn that took that long leaves the run's end to the next,
/// once the commands sent meanwhile are read (probe 82 F1: the run ended `failed`).
#[test]
fn a_cancel_sent_while_a_with_fails_slowly_cancels_the_run() {
    let scratch = Scratch::new();
    let slow = json!({
        "id": "slow", "executor": "noop", "with": {"output": format!("${{{{ {A_SCAN} }}}}")}
    });
    // Half a second of CPU into the render, which fails after 10 s of the clock: a cancel
    // sent after 2 s of CPU came too late on a busy machine.
    let workflow = after_a(&scratch, vec![slow], Vec::new());
    let (child, run) = busy_for(&scratch, &workflow, &input_of_a_scan(100_000), 50);
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
    let output = finish(child, "cairn run cancelled while it rendered");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(1), "{said}");
    let shown = show(&scratch, &run);
    assert_eq!(shown["state"], "cancelled", "{}", shown["error"]);
}

/// So does one sent while a step beside it ends: the turn that took that long reads the
/// commands before the end is told (probe 85 F3: the run ended `failed` with that end, the
/// cancel marked handled in the same commit).
#[test]
fn a_cancel_sent_while_a_with_fails_slowly_beside_a_step_that_ends_cancels_the_run() {
    let scratch = Scratch::new();
    let slow = json!({
        "id": "slow", "executor": "noop", "with": {"output": format!("${{{{ {A_SCAN} }}}}")}
    });
    let beside = step(
        &scratch,
        "z",
        "while [ ! -e \"$DIR/z.go\" ]; do sleep 0.02; done",
        json!({}),
    );
    let workflow = after_a(&scratch, vec![slow], vec![beside]);
    let (child, run) = busy_for(&scratch, &workflow, &input_of_a_scan(100_000), 50);
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
    open_gate(&scratch.dir.path().join("z.go"));
    let output = finish(
        child,
        "cairn run cancelled while it rendered, a step ending beside",
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(1), "{said}");
    let shown = show(&scratch, &run);
    assert_eq!(shown["state"], "cancelled", "{}", shown["error"]);
}

/// An item whose `with` is being rendered as a pause comes does not start: one that took a
/// slice to render starts only once the commands sent meanwhile are read (probe 88 F1: the
/// first items, recorded running with their step, started after the pause, and ran).
#[test]
fn an_item_rendered_as_a_pause_came_does_not_start() {
    let scratch = Scratch::new();
    let extra = json!({"for_each": "${{ [1, 2, 3] }}", "max_parallel": 1});
    let mut items = step(&scratch, "items", MARK, extra);
    // About 3 s of a debug build's CPU a rendering, as in the signal's test above.
    items["with"]["env"]["X"] = json!(format!("${{{{ string({A_SCAN}) }}}}"));
    let workflow = after_a(&scratch, vec![items], Vec::new());
    let (child, run) = busy_for(&scratch, &workflow, &input_of_a_scan(12_000), 50);
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    let output = finish(child, "cairn run paused as an item rendered");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    assert_eq!(show(&scratch, &run)["state"], "paused");
    assert!(executions(&scratch, "items").is_empty(), "no item ran");
}

/// So does one that comes while quick items add up: those rendered on the engine's thread
/// give it back once they have taken a slice together (probe 89 F1: 40 items of 50 ms,
/// rendered as one, held a pause 2 s, and every item started).
#[test]
fn a_pause_is_read_between_quick_items_that_add_up() {
    let scratch = Scratch::new();
    // About 20 ms of a debug build's CPU an item (4 ms in a release build).
    let items = json!({
        "id": "items", "executor": "noop", "for_each": "${{ input.items }}", "max_parallel": 200,
        "with": {"output": format!("${{{{ {A_SCAN} }}}}")}
    });
    let mut input = input_of_a_scan(1_000);
    input["items"] = json!((0..200).collect::<Vec<u32>>());
    let workflow = after_a(&scratch, vec![items], Vec::new());
    let (child, run) = busy_for(&scratch, &workflow, &input, 20);
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    let output = finish(child, "cairn run paused as quick items rendered");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    let shown = show(&scratch, &run);
    assert_eq!(shown["state"], "paused");
    let step = &shown["steps"][1];
    let items = step["items"].as_array().unwrap();
    let ran = items.iter().filter(|item| item["state"] == "succeeded");
    assert!(ran.count() < 200, "every item ran: {}", step["state"]);
}

/// A `for_each` step whose items' `with` take longer to render than the run has starts none
/// past the run's deadline: the first renders on the engine's thread past it, and is not
/// started (probe 83 F5: items went on rendering and starting 14 s after a deadline of 4 s,
/// the driver unable to stop them); the run fails `timeout`.
#[test]
fn items_that_render_slowly_start_none_past_the_runs_deadline() {
    let scratch = Scratch::new();
    // About a second a rendering (0.3 s in a release build): a scan of 8,000 elements at
    // each of its steps, well past the run's 200 ms and well within an evaluation's 10 s.
    let slow = format!("${{{{ string({A_SCAN}) }}}}");
    let started = format!("touch \"{}/started.$0\"", scratch.dir.path().display());
    let workflow = scratch.write(
        "late.json",
        &json!({"name": "late", "limits": {"timeout": "200ms"}, "steps": [{
            "id": "items", "executor": "process", "for_each": "${{ [1, 2, 3] }}",
            "with": {"command": ["sh", "-c", started, "${{ string(item) }}"], "env": {"X": slow}}
        }]}),
    );
    let input = scratch.write("input.json", &input_of_a_scan(8_000));
    let (workflow, input) = (workflow.to_str().unwrap(), input.to_str().unwrap());
    let output = scratch.cairn(&["run", workflow, "--input-file", input, "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["error_class"], "timeout", "{report}");
    let items_started = std::fs::read_dir(scratch.dir.path()).unwrap().flatten();
    let items_started: Vec<_> = items_started
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("started."))
        .collect();
    assert!(items_started.is_empty(), "{items_started:?}");
}

/// A `for_each` step's own `timeout` cuts its attempt off while an item renders off the
/// engine's thread, and cairn, its run over, does not wait for that render (probe 89 F2: a
/// step of `timeout: 1s` ended with the render, 10 s later; F3: cairn exited only then).
#[test]
fn a_steps_timeout_cuts_off_an_item_rendering_off_the_thread() {
    let scratch = Scratch::new();
    // Item 0 takes a slice to render (0.7 s of a debug build's CPU, 0.16 s in a release
    // build), so item 1 renders off the thread: for minutes, its clock never read.
    let slow = format!("item == 1 ? {THRASHING} : input.ys.all(y, !(-1 in input.ys))");
    let workflow = scratch.write(
        "cut.json",
        &json!({"name": "cut", "steps": [{
            "id": "items", "executor": "noop", "for_each": "${{ [0, 1] }}", "max_parallel": 1,
            "timeout": "1s", "with": {"output": format!("${{{{ {slow} }}}}")}
        }]}),
    );
    let input = json!({"s": thrashed_text(), "ys": (0..6_000).collect::<Vec<u32>>()});
    let input = scratch.write("input.json", &input);
    let (workflow, input) = (workflow.to_str().unwrap(), input.to_str().unwrap());
    let output = scratch.cairn(&["run", workflow, "--input-file", input, "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["error_class"], "timeout", "{}", report["error"]);
}

/// So is one that comes while a `for_each` step's items, which nothing judges first, render
/// their `with` in 10 s each: the attempt gives the runtime back after each such item, and
/// starts none once cairn is stopping (before, its six items held it past the grace).
#[test]
fn a_signal_is_read_between_slow_items() {
    let scratch = Scratch::new();
    let items = json!({
        "id": "slow", "executor": "noop", "for_each": "${{ [1, 2, 3, 4, 5, 6] }}",
        "with": {"output": format!("${{{{ {A_SCAN} }}}}")}
    });
    let (child, _) = busy_evaluating(&scratch, vec![items], &input_of_a_scan(100_000));
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, "cairn run after a signal between slow items");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    assert!(said.contains("stopping: starting nothing new"), "{said}");
}

/// The CPU time process `pid` has taken in user mode, in clock ticks (a hundredth of a
/// second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name, which is in parentheses: utime is the 12th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    (after_name.split_whitespace().nth(11)).map_or(0, |ticks| ticks.parse().unwrap_or(0))
}

/// `cairn run FILE --json` started with SIGINT and SIGHUP ignored, as a shell without job
/// control starts `cairn run … &` (SIGINT) and `nohup` does (SIGHUP): `sh` ignores them, then
/// becomes cairn (`exec`), which keeps the dispositions.
fn spawn_ignoring_int_and_hup(scratch: &Scratch, workflow: &Path) -> Child {
    let cairn = scratch.command(&["run", workflow.to_str().unwrap(), "--json"]);
    let args: Vec<&std::ffi::OsStr> = cairn.get_args().collect();
    std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' INT HUP; exec \"$0\" \"$@\"")
        .arg(cairn.get_program())
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_signal_ignored_when_cairn_started_stays_ignored() {
    let scratch = Scratch::new();
    let workflow = held_then_b(&scratch, "");
    let mut child = spawn_ignoring_int_and_hup(&scratch, &workflow);
    wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    // The run is driven: the handlers cairn installs are in place.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    assert!(ignores(&status, Signal::SIGINT), "{status}");
    assert!(ignores(&status, Signal::SIGHUP), "{status}");
    // An ignored signal is discarded as it is sent: a Ctrl-C meant for the shell's foreground
    // work, a terminal closed under `nohup`.
    send(child.id(), Signal::SIGINT);
    send(child.id(), Signal::SIGHUP);
    scratch.open_gate();
    let output = finish(child, "cairn run started with SIGINT and SIGHUP ignored");
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        executions(&scratch, "b").len(),
        1,
        "the run went on to its end"
    );
}

#[test]
fn ctrl_z_stops_the_steps_with_cairn_and_continuing_cairn_continues_them() {
    let scratch = Scratch::new();
    let workflow = held_then_b(&scratch, "");
    let mut child = spawn(&scratch, &workflow);
    wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    let step = recorded_pid(&scratch, "a");
    send(child.id(), Signal::SIGTSTP);
    wait_for_state(child.id(), "T");
    // Its group is not cairn's: the terminal's Ctrl-Z does not reach it, cairn stops it.
    wait_for_state(step, "T");
    // Opened while the step is stopped: it sees it only once continued.
    scratch.open_gate();
    send(child.id(), Signal::SIGCONT);
    let output = finish(child, "cairn run continued after Ctrl-Z");
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(executions(&scratch, "b").len(), 1);
}

/// How many lines attempt `attempt` of `a` has written in its ticks file.
fn ticks(scratch: &Scratch, attempt: u32) -> usize {
    let path = scratch.dir.path().join(format!("a.{attempt}.ticks"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// Takes the lease's time to live (30 s): another engine takes the run over while cairn is
/// suspended.
#[test]
fn a_run_taken_over_while_cairn_was_suspended_never_continues_its_stopped_steps() {
    let scratch = Scratch::new();
    // `a` ticks until the gate opens, each attempt in a file of its own; it ignores
    // SIGTERM, so that an attempt wrongly continued ticks on until its kill grace ends.
    let a = "trap '' TERM; echo $$ > \"$DIR/a.$CAIRN_ATTEMPT.pid\"; \
        while [ ! -e \"$DIR/open\" ]; do echo >> \"$DIR/a.$CAIRN_ATTEMPT.ticks\"; sleep 0.02; done";
    let workflow = scratch.write(
        "ticks.json",
        &json!({"name": "ticks", "steps": [step(&scratch, "a", a, json!({}))]}),
    );
    let mut first = spawn(&scratch, &workflow);
    let first_pid = scratch.dir.path().join("a.1.pid");
    let run = wait_for_file(&scratch, &mut first, &first_pid);
    let step = recorded_pid(&scratch, "a.1");
    send(first.id(), Signal::SIGTSTP);
    wait_for_state(first.id(), "T");
    wait_for_state(step, "T");
    // The suspended engine's lease runs out; another engine takes the run over.
    let mut second = scratch
        .command(&["resume", &run, "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&scratch, &mut second, &scratch.dir.path().join("a.2.pid"));
    let stopped_at = ticks(&scratch, 1);
    send(first.id(), Signal::SIGCONT);
    let output = finish(first, "the suspended cairn, continued");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    // (Said by the suspension's end, or by the driver the heartbeat told first.)
    assert!(said.contains("lease"), "{said}");
    wait_gone(i32::try_from(step).unwrap(), HANG);
    assert_eq!(
        ticks(&scratch, 1),
        stopped_at,
        "the first attempt ran again beside the second"
    );
    scratch.open_gate();
    let output = finish(second, "cairn resume --wait");
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A Ctrl-Z'd cairn with nothing in flight (its step waits out a retry's backoff), whose run
/// another engine takes over meanwhile, says when continued that it lost the run, not that
/// `cairn resume` carries it on: that engine drives it (probe 50 F4). The lease is made to
/// run out by writing it, not by waiting 30 s.
#[test]
fn a_suspended_cairn_whose_waiting_run_was_taken_over_says_it_lost_it() {
    let scratch = Scratch::new();
    let mut a = step(&scratch, "a", "exit 1", json!({}));
    a["retry"] =
        json!({"max_attempts": 2, "backoff": "fixed", "initial_delay": "1h", "max_delay": "1h"});
    let workflow = scratch.write("w.json", &json!({"name": "w", "steps": [a]}));
    let mut first = spawn(&scratch, &workflow);
    let waiting =
        scratch.wait_for_show(&mut first, |show| show["steps"][0]["state"] == "retry_wait");
    let run = waiting["id"].as_str().unwrap().to_owned();
    send(first.id(), Signal::SIGTSTP);
    wait_for_state(first.id(), "T");
    let second = scratch.take_over_now(&run);
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    let held_by = "SELECT lease_pid FROM runs WHERE id = ?1";
    let by_second = || db.query_row(held_by, [&run], |row| row.get::<_, Option<u32>>(0));
    wait_until("the second engine to take the run over", || {
        by_second().unwrap() == Some(second.id())
    });
    send(first.id(), Signal::SIGCONT);
    let output = finish(first, "the suspended cairn, continued");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(&output), Some(3), "{said}");
    assert!(
        said.contains("lost its lease") && !said.contains("carries it on"),
        "{said}"
    );
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
    assert_eq!(code(&finish(second, "cairn resume --wait")), Some(1));
}
