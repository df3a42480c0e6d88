//! Operator control through the real binary and a real SQLite file: pause and resume from
//! another process, cancel (running, paused, no engine), recover (what a retry runs again:
//! [`super::redrives`]). The helpers here serve the time limits', stalls' and redrives'
//! tests too ([`super::stalls`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::orphans::wait_gone;
use super::scratch::{Scratch, states, wait_until};
use crate::finish;

/// Leaves `<step>.held` in the scratch dir, then waits for the file `open` there.
pub(super) const HOLD: &str =
    "touch \"$DIR/$CAIRN_STEP_ID.held\"; while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";
/// One line per execution (its time in nanoseconds) in the step's marker file.
pub(super) const MARK: &str = "date +%s%N >> \"$MARKS/$CAIRN_STEP_ID\"";
/// Starts a grandchild that would sleep for long, records its pid, and waits for it, silent.
pub(super) const SPAWN: &str = "sleep 1000 & echo $! > \"$DIR/$CAIRN_STEP_ID.pid\"; wait";

/// A process step running `script` (with `$DIR` and `$MARKS` set), and `extra` keys.
pub(super) fn step(scratch: &Scratch, id: &str, script: &str, extra: Value) -> Value {
    let mut step = json!({"id": id, "executor": "process", "with": {
        "command": ["sh", "-c", script],
        "env": {"DIR": dir(scratch), "MARKS": scratch.marks().to_str().unwrap()}
    }});
    if let (Some(step), Value::Object(extra)) = (step.as_object_mut(), extra) {
        step.extend(extra);
    }
    step
}

fn dir(scratch: &Scratch) -> &str {
    scratch.dir.path().to_str().unwrap()
}

/// `cairn run FILE --json` in the background.
pub(super) fn spawn(scratch: &Scratch, workflow: &Path) -> Child {
    scratch
        .command(&["run", workflow.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `path` exists (a step got somewhere); returns the run's id.
pub(super) fn wait_for_file(scratch: &Scratch, child: &mut Child, path: &Path) -> String {
    let show = scratch.wait_for_show(child, |_| path.exists());
    show["id"].as_str().unwrap().to_owned()
}

pub(super) fn held(scratch: &Scratch, step: &str) -> PathBuf {
    scratch.dir.path().join(format!("{step}.held"))
}

pub(super) fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

pub(super) fn show(scratch: &Scratch, run: &str) -> Value {
    scratch.json(&["show", run, "--json"])
}

/// The pid a step's grandchild recorded.
pub(super) fn grandchild(scratch: &Scratch, step: &str) -> i32 {
    let path = scratch.dir.path().join(format!("{step}.pid"));
    let text = std::fs::read_to_string(path).unwrap();
    text.trim().parse().unwrap()
}

/// The execution times of a step, in nanoseconds.
pub(super) fn executions(scratch: &Scratch, step: &str) -> Vec<u128> {
    std::fs::read_to_string(scratch.marks().join(step))
        .unwrap_or_default()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect()
}

pub(super) fn history(scratch: &Scratch, run: &str) -> Vec<Value> {
    scratch
        .json(&["history", run, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// A run of one step `a`, held, whose engine was killed (SIGKILL) while `a` ran: no engine
/// drives it. Its id.
pub(super) fn held_by_an_engine_that_died(scratch: &Scratch) -> String {
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "steps": [step(scratch, "a", &format!("{MARK}; {HOLD}"), json!({}))]}),
    );
    let mut child = spawn(scratch, &workflow);
    let run = wait_for_file(scratch, &mut child, &held(scratch, "a"));
    child.kill().unwrap();
    child.wait().unwrap();
    run
}

#[test]
fn a_pause_of_a_run_no_engine_drives_says_it_is_paused_at_once() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    let pause = scratch.cairn(&["pause", &run]);
    let said = String::from_utf8_lossy(&pause.stderr);
    assert_eq!(code(&pause), Some(0), "{said}");
    assert!(said.contains(&format!("run {run} is paused;")), "{said}");
    // `a` was recorded interrupted: nothing is left in flight to wait for.
    assert!(
        said.contains("pause asked: nothing is in flight; the run pauses now"),
        "{said}"
    );
    assert_eq!(show(&scratch, &run)["state"], "paused");
    // recover never continues it, and says what does.
    let recover = scratch.cairn(&["recover"]);
    let said = String::from_utf8_lossy(&recover.stderr);
    assert_eq!(code(&recover), Some(0), "{said}");
    let cairn = scratch.invocation();
    assert!(
        said.contains(&format!(
            "no unfinished run to recover; 1 paused run(s) wait for `{cairn} resume RUN`"
        )),
        "{said}"
    );
}

/// A run of `a` then `b` (with `limits`), paused by `cairn pause` while `a` ran, which then
/// finished: `b` never started, and its `cairn run` exited 3. Its id.
fn paused_after_a(scratch: &Scratch, limits: Value) -> String {
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "limits": limits, "steps": [{"pipeline": [
            step(scratch, "a", &format!("{MARK}; {HOLD}"), json!({})),
            step(scratch, "b", MARK, json!({}))
        ]}]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(scratch, &mut child, &held(scratch, "a"));
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    scratch.wait_logged(&mut child, "pause asked");
    scratch.open_gate();
    assert_eq!(code(&finish(child, "cairn run")), Some(3), "paused");
    run
}

/// A paused run whose `limits.timeout` passed can only end: `cairn recover`, which never
/// continues a paused run, ends it failed with class `timeout` rather than leave it paused
/// for a person's `resume` to end (probe 14 of stop 56).
#[test]
fn recover_ends_a_paused_run_whose_deadline_passed() {
    let scratch = Scratch::new();
    let run = paused_after_a(&scratch, json!({"timeout": "2s"}));
    wait_until("the paused run's deadline to pass", || {
        let shown = scratch.cairn(&["show", &run]);
        String::from_utf8_lossy(&shown.stdout).contains("(passed: ")
    });
    let recover = scratch.cairn(&["recover", "--json"]);
    let said = String::from_utf8_lossy(&recover.stderr);
    assert_eq!(code(&recover), Some(1), "{said}");
    let ended = show(&scratch, &run);
    assert_eq!(ended["state"], "failed", "{ended}");
    assert!(
        ended["error"]
            .as_str()
            .unwrap()
            .contains("the run timed out"),
        "{ended}"
    );
    assert!(executions(&scratch, "b").is_empty(), "nothing new started");
}

#[test]
fn a_pause_after_a_denial_while_no_engine_drives_the_run_ends_it_failed_with_the_denial() {
    let scratch = Scratch::new();
    let policy = scratch.write(
        "policy.json",
        &json!({"commands": {"approve": [["echo", "approve-me"]]}}),
    );
    let workflow = scratch.write(
        "d.json",
        &json!({"name": "d", "steps": [
            {"id": "x", "executor": "process", "with": {"command": ["echo", "approve-me"]}},
            {"id": "z", "executor": "noop", "needs": ["x"]}
        ]}),
    );
    let policy = policy.to_str().unwrap();
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap(), "--policy", policy])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waiting = scratch.wait_for_show(&mut child, |show| {
        show["steps"][0]["state"] == "awaiting_approval"
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let run = waiting["id"].as_str().unwrap();
    let deny = scratch.cairn(&["deny", run, "x", "--reason", "no", "--by", "bob"]);
    assert_eq!(code(&deny), Some(0), "{deny:?}");
    // The pause applies the denial: x denied, z skipped, nothing left to pause.
    let pause = scratch.cairn(&["pause", run]);
    let said = String::from_utf8_lossy(&pause.stderr);
    assert_eq!(code(&pause), Some(0), "{said}");
    assert!(
        said.contains(&format!("run {run} ended failed before the pause")),
        "{said}"
    );
    let shown = show(&scratch, run);
    assert_eq!(shown["state"], "failed", "{shown}");
    let error = shown["error"].as_str().unwrap();
    assert!(error.contains("denied by bob: no"), "{shown}");
    let steps = states(&shown);
    assert_eq!((&*steps["x"], &*steps["z"]), ("denied", "skipped"));
    let again = scratch.cairn(&["pause", run]);
    assert_eq!(code(&again), Some(2), "an ended run refuses a pause");
}

#[test]
fn a_cancel_stops_a_running_step_and_its_grandchildren_within_the_kill_grace() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "c.json",
        &json!({"name": "c", "steps": [
            step(&scratch, "a", &format!("touch \"$DIR/a.held\"; {SPAWN}"), json!({}))
        ]}),
    );
    let mut child = spawn(&scratch, &workflow);
    let pid = scratch.dir.path().join("a.pid");
    let run = wait_for_file(&scratch, &mut child, &pid);
    let grandchild = grandchild(&scratch, "a");
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
    let output = finish(child, "cairn run");
    assert_eq!(
        code(&output),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The kill grace is 5 s; the bound is generous.
    wait_gone(grandchild, Duration::from_secs(60));
    let cancelled = show(&scratch, &run);
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(states(&cancelled)["a"], "cancelled");
}

/// `a` (records its shell's pid in `a.pid`, leaves its marker and holds until the gate
/// opens; with `trap` first, deaf to SIGTERM), then `b`.
pub(super) fn held_then_b(scratch: &Scratch, trap: &str) -> PathBuf {
    let a = format!("{trap}echo $$ > \"$DIR/a.pid\"; {MARK}; {HOLD}");
    scratch.write(
        "h.json",
        &json!({"name": "h", "steps": [{"pipeline": [
            step(scratch, "a", &a, json!({})),
            step(scratch, "b", MARK, json!({}))
        ]}]}),
    )
}

/// Runs [`held_then_b`] and pauses it while `a` is held, then kills the engine before the
/// pause takes effect and lets `a` end: the run's id.
fn paused_by_an_engine_that_died(scratch: &Scratch) -> String {
    let workflow = held_then_b(scratch, "");
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(scratch, &mut child, &held(scratch, "a"));
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    scratch.wait_logged(&mut child, "pause asked");
    child.kill().unwrap(); // SIGKILL, with `a` in flight: the pause has not taken effect.
    child.wait().unwrap();
    scratch.open_gate();
    run
}

#[test]
fn a_persons_resume_overrules_a_pause_its_engine_died_before_carrying_out() {
    let scratch = Scratch::new();
    let run = paused_by_an_engine_that_died(&scratch);
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(code(&resumed), Some(0), "{resumed:?}");
    assert_eq!(show(&scratch, &run)["state"], "succeeded");
    assert_eq!(
        executions(&scratch, "b").len(),
        1,
        "b ran once the run went on"
    );
}

/// A cancel behind the pending pause wins, and is the one said: the pause was said to pause
/// the run now, which never paused (probe 47 F3).
#[test]
fn a_cancel_behind_a_pause_its_engine_died_before_carrying_out_is_the_one_said() {
    let scratch = Scratch::new();
    let run = paused_by_an_engine_that_died(&scratch);
    let cancel = scratch.cairn(&["cancel", &run]);
    let said = String::from_utf8_lossy(&cancel.stderr);
    assert_eq!(code(&cancel), Some(0), "{said}");
    assert!(
        said.contains("cancel asked: nothing is in flight"),
        "{said}"
    );
    assert!(!said.contains("pause asked"), "{said}");
    assert_eq!(show(&scratch, &run)["state"], "cancelled");
}

#[test]
fn a_pause_read_by_an_engine_that_dies_before_it_takes_effect_still_pauses_the_run() {
    let scratch = Scratch::new();
    let run = paused_by_an_engine_that_died(&scratch);
    let recovered = scratch.cairn(&["recover"]);
    assert_eq!(code(&recovered), Some(3), "{recovered:?}");
    let paused = show(&scratch, &run);
    assert_eq!(
        paused["state"], "paused",
        "recover never continues a paused run"
    );
    assert!(executions(&scratch, "b").is_empty(), "nothing new started");
    let retried = scratch.cairn(&["retry", &run]);
    assert_eq!(
        code(&retried),
        Some(2),
        "a paused run is resumed, not retried"
    );
    let said = String::from_utf8_lossy(&retried.stderr);
    assert!(
        said.contains("(a resume carries an unfinished run on)"),
        "{said}"
    );
    assert_eq!(code(&scratch.cairn(&["resume", &run])), Some(0));
    assert_eq!(executions(&scratch, "b").len(), 1);
}

#[test]
fn a_cancel_read_by_an_engine_that_dies_in_the_kill_grace_never_starts_the_step_again() {
    let scratch = Scratch::new();
    let workflow = held_then_b(&scratch, "trap '' TERM; ");
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    let cancel = scratch.cairn(&["cancel", &run, "--by", "ann", "--reason", "wrong branch"]);
    assert_eq!(code(&cancel), Some(0));
    // Read: `b` is cancelled at once, `a` waits out its kill grace (it ignores SIGTERM).
    scratch.wait_for_show(&mut child, |show| states(show)["b"] == "cancelled");
    child.kill().unwrap();
    child.wait().unwrap();
    scratch.open_gate();
    let recovered = scratch.cairn(&["recover"]);
    assert_eq!(code(&recovered), Some(1), "{recovered:?}");
    assert_eq!(executions(&scratch, "a").len(), 1, "a never started again");
    let cancelled = show(&scratch, &run);
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(states(&cancelled)["a"], "cancelled");
    let end = history(&scratch, &run)
        .into_iter()
        .find(|event| event["to"] == "cancelled" && event["step"].is_null())
        .expect("the run's end is in the history");
    assert_eq!(end["detail"]["cancelled"]["by"], "ann", "{end}");
    assert_eq!(end["detail"]["cancelled"]["reason"], "wrong branch");
}

#[test]
fn a_ruling_on_a_step_its_stopped_engine_left_running_says_so() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    let output = scratch.cairn(&["approve", &run, "a"]);
    assert_eq!(code(&output), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    let why = "step `a` does not await approval (it was running when the engine driving the \
               run stopped; a resume of the run starts it again)";
    assert!(said.contains(why), "{said}");
}

#[test]
fn a_command_sent_without_user_set_is_by_the_user_cairn_runs_as() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    // As under cron, systemd or a container: no `$USER` (a run no engine drives is
    // cancelled at once).
    let mut cancel = scratch.command(&["cancel", &run]);
    cancel.env_remove("USER");
    assert_eq!(
        code(&crate::output_of(&mut cancel, "cairn cancel")),
        Some(0)
    );
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .unwrap()
        .map_or(format!("uid {uid}"), |user| user.name);
    let end = history(&scratch, &run)
        .into_iter()
        .find(|event| event["to"] == "cancelled" && event["step"].is_null())
        .expect("the run's end is in the history");
    assert_eq!(end["detail"]["cancelled"]["by"], user.as_str(), "{end}");
}

#[test]
fn a_command_by_nobody_is_refused_and_records_nothing() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    for by in ["", "  "] {
        let cancel = scratch.cairn(&["cancel", &run, "--by", by]);
        assert_eq!(code(&cancel), Some(2), "{cancel:?}");
        let said = String::from_utf8_lossy(&cancel.stderr);
        assert!(
            said.contains("who sends the cancel is empty or blank"),
            "{said}"
        );
    }
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["state"], "running", "{show}");
}

/// A step that marks its start, ignores SIGTERM and holds until the gate opens, with a
/// kill grace long enough for the engine to die in.
pub(super) fn deaf(scratch: &Scratch, id: &str, keys: Value) -> Value {
    let mut deaf = step(scratch, id, &format!("trap '' TERM; {MARK}; {HOLD}"), keys);
    deaf["with"]["kill_grace"] = json!("10m");
    deaf
}

/// Runs `workflow` until its step `cancelled` is cancelled, kills the engine there (in the
/// kill grace of a [`deaf`] step), opens the gate and lets `cairn recover` (exit 1) end the
/// run: the run as `show` gives it then.
pub(super) fn killed_in_a_kill_grace_then_recovered(
    scratch: &Scratch,
    workflow: &Path,
    cancelled: &str,
) -> Value {
    let mut child = scratch.spawn_logged(workflow);
    let shown = scratch.wait_for_show(&mut child, |show| states(show)[cancelled] == "cancelled");
    let run = shown["id"].as_str().unwrap().to_owned();
    child.kill().unwrap();
    child.wait().unwrap();
    scratch.open_gate();
    let recovered = scratch.cairn(&["recover"]);
    assert_eq!(code(&recovered), Some(1), "{recovered:?}");
    show(scratch, &run)
}

/// Of a plain step, and of a `for_each` step's item (probe 48 F2: the item stayed `pending`
/// in the cancelled step).
#[test]
fn a_stalls_cancel_survives_an_engine_killed_in_the_stalled_steps_kill_grace() {
    let keys = json!({"heartbeat": "1s", "on_stall": "cancel"});
    let mut of_an_item = keys.clone();
    of_an_item["for_each"] = json!("${{ [1] }}");
    for keys in [keys, of_an_item] {
        stalls_cancel_survives_a_kill_in_the_kill_grace(keys);
    }
}

/// A stall of a step with `keys` survives a kill in its kill grace.
fn stalls_cancel_survives_a_kill_in_the_kill_grace(keys: Value) {
    let scratch = Scratch::new();
    let of_an_item = keys.get("for_each").is_some();
    // `h` is silent past its heartbeat and deaf to SIGTERM.
    let h = deaf(&scratch, "h", keys);
    let workflow = scratch.write(
        "s.json",
        &json!({"name": "s", "steps": [{"pipeline": [h, step(&scratch, "b", MARK, json!({}))]}]}),
    );
    // The stall's commit cancels `b` and records the run's cancel with it.
    let cancelled = killed_in_a_kill_grace_then_recovered(&scratch, &workflow, "b");
    assert_eq!(executions(&scratch, "h").len(), 1, "h never started again");
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(states(&cancelled)["h"], "cancelled");
    // The step keeps the stall's error, as a live engine leaves it (probe 47 F2).
    let h = &cancelled["steps"][0];
    let stalled = |error: &str| error.starts_with("stalled: no sign of life");
    if of_an_item {
        // Failed by its stall, as a live engine ends it (probe 49 F5: it was `cancelled`).
        let item = (&h["items"][0]["state"], h["items"][0]["error"].as_str());
        assert!(item.0 == "failed" && item.1.is_some_and(stalled), "{h}");
    }
    assert_eq!(h["error_class"], "stalled", "{h}");
    // A `for_each` step's error names its items, as a live engine's does (probe 107 F1: it
    // gave the stall's alone).
    let said = match of_an_item {
        true => "stalled: 1 of 1 items failed (0): item 0: no sign of life",
        false => "stalled: no sign of life",
    };
    assert!(
        h["error"].as_str().is_some_and(|e| e.starts_with(said)),
        "{h}"
    );
    // The history says why, as a run not killed records it: the stall, with the step's
    // interruption, and the run's cancel.
    let events = history(&scratch, cancelled["id"].as_str().unwrap());
    let stalled: Vec<&Value> = (events.iter())
        .filter(|event| event["step"] == "h" && event["detail"].get("stall").is_some())
        .collect();
    let [stalled] = stalled[..] else {
        panic!("one event of h with its stall: {events:#?}")
    };
    assert_eq!(stalled["detail"]["stall"]["kind"], "heartbeat", "{stalled}");
    assert_eq!(stalled["detail"]["escalation"], "cancel", "{stalled}");
    assert_eq!(stalled["detail"]["interrupted"], true, "{stalled}");
    let run = (events.iter())
        .find(|event| event["step"].is_null() && event["to"] == "cancelled")
        .expect("the run's cancel");
    assert_eq!(run["detail"]["cancelled"]["by"], "cairn", "{run}");
    assert_eq!(run["detail"]["stall"], stalled["detail"]["stall"], "{run}");
}

#[test]
fn a_cancel_the_run_ends_before_does_not_cancel_the_next_retry() {
    let scratch = Scratch::new();
    let fails = format!("{MARK}; {HOLD}; [ -e \"$DIR/fixed\" ] || exit 1");
    let workflow = scratch.write(
        "f.json",
        &json!({"name": "f", "steps": [step(&scratch, "a", &fails, json!({}))]}),
    );
    let mut child = spawn(&scratch, &workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
    // `a` fails at once, likely before the engine reads the cancel: the run ends either way.
    scratch.open_gate();
    assert_eq!(code(&finish(child, "cairn run")), Some(1));
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    let retried = scratch.cairn(&["retry", &run]);
    assert_eq!(code(&retried), Some(0), "{retried:?}");
    assert_eq!(show(&scratch, &run)["state"], "succeeded");
    assert_eq!(executions(&scratch, "a").len(), 2);
}

#[test]
fn a_paused_run_with_no_engine_is_cancelled_at_once_then_resume_refuses_and_retry_redrives() {
    let scratch = Scratch::new();
    let run = paused_after_a(&scratch, json!({}));
    // A pause of it is refused with what continues it (probe 47 F5).
    let pause = scratch.cairn(&["pause", &run]);
    let said = String::from_utf8_lossy(&pause.stderr);
    assert_eq!(code(&pause), Some(2), "{said}");
    assert!(
        said.contains("paused already; a resume continues it"),
        "{said}"
    );
    let cancel = scratch.cairn(&["cancel", &run]);
    let said = String::from_utf8_lossy(&cancel.stderr);
    assert_eq!(code(&cancel), Some(0), "{said}");
    assert!(
        said.contains("cancel asked: nothing is in flight; the run is cancelled now"),
        "{said}"
    );
    let mut wal = scratch.db().into_os_string();
    wal.push("-wal");
    assert!(
        !std::path::Path::new(&wal).exists(),
        "the cancel's process, the last on the database, closed the store: no WAL left"
    );
    let cancelled = show(&scratch, &run);
    assert_eq!(
        cancelled["state"], "cancelled",
        "no engine ran: cancelled at once"
    );
    assert_eq!(states(&cancelled)["b"], "cancelled");
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(code(&resumed), Some(1), "a cancelled run starts nothing");
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        said.contains(&format!(
            "(`{} retry {run}` runs what did not succeed again)",
            scratch.invocation()
        )),
        "{said}"
    );
    assert!(executions(&scratch, "b").is_empty());
    assert_eq!(code(&scratch.cairn(&["retry", &run])), Some(0));
    assert_eq!(
        executions(&scratch, "a").len(),
        1,
        "a succeeded: not run again"
    );
    assert_eq!(executions(&scratch, "b").len(), 1);
    let output = scratch.cairn(&["retry", &run]);
    assert_eq!(code(&output), Some(2), "a succeeded run is not retried");
    let redrive = history(&scratch, &run)
        .into_iter()
        .find(|event| event["from"] == "cancelled" && event["to"] == "running")
        .expect("the redrive is in the history");
    assert_eq!(redrive["detail"]["redrive"]["steps"], json!(["b"]));
}

#[test]
fn recover_refuses_a_run_whose_policy_cannot_be_restored_untouched_and_recovers_the_others() {
    let scratch = Scratch::new();
    let healthy = scratch.write(
        "h.json",
        &json!({"name": "h", "steps": [step(&scratch, "a", &format!("{MARK}; {HOLD}"), json!({}))]}),
    );
    let mut child = spawn(&scratch, &healthy);
    let healthy = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    child.kill().unwrap();
    child.wait().unwrap();
    // A run whose policy has a `cwd` root, removed once its engine is gone.
    let root = scratch.dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let root = root.to_str().unwrap();
    let policy = scratch.write("policy.json", &json!({"cwd": [root]}));
    let guarded = scratch.write(
        "g.json",
        &json!({"name": "g", "steps": [{"id": "g", "executor": "process", "with": {
            "command": ["sh", "-c", HOLD], "cwd": root, "env": {"DIR": dir(&scratch)}
        }}]}),
    );
    let mut child = scratch
        .command(&["run", guarded.to_str().unwrap(), "--policy"])
        .arg(&policy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&scratch, &mut child, &held(&scratch, "g"));
    child.kill().unwrap();
    child.wait().unwrap();
    let runs = scratch.json(&["runs", "--json"]);
    let guarded = (runs.as_array().unwrap().iter()).find(|run| run["workflow"] == "g");
    let guarded = guarded.unwrap()["id"].as_str().unwrap().to_owned();
    std::fs::remove_dir(root).unwrap();
    scratch.open_gate();
    let before = history(&scratch, &guarded);

    let recover = scratch.cairn(&["recover"]);
    let said = String::from_utf8_lossy(&recover.stderr);
    assert_eq!(code(&recover), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "run {guarded} is not recovered: it is left as it was"
        )),
        "{said}"
    );
    assert_eq!(show(&scratch, &healthy)["state"], "succeeded", "{said}");
    assert_eq!(executions(&scratch, "a").len(), 2, "attempt 2 ran");
    // Nothing was written to the refused run: its lease neither.
    assert_eq!(history(&scratch, &guarded), before);
    assert_eq!(show(&scratch, &guarded)["state"], "running");
    let resume = scratch.cairn(&["resume", &guarded]);
    assert_eq!(code(&resume), Some(2), "refused again, not held by a lease");
    assert!(String::from_utf8_lossy(&resume.stderr).contains("cannot restore the guard"));
}
