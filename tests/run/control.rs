//! Time limits, stalls, loops and operator control through the real binary and a real
//! SQLite file: pause and resume from another process, cancel (running, paused, no engine),
//! retry and redrive, a run deadline passing while no engine runs, a retry's backoff
//! surviving kill -9, heartbeats, loops and the run's no-progress window.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::orphans::wait_gone;
use super::scratch::{Scratch, states};
use crate::{HANG, finish};

/// Leaves `<step>.held` in the scratch dir, then waits for the file `open` there.
const HOLD: &str =
    "touch \"$DIR/$CAIRN_STEP_ID.held\"; while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";
/// One line per execution (its time in nanoseconds) in the step's marker file.
const MARK: &str = "date +%s%N >> \"$MARKS/$CAIRN_STEP_ID\"";
/// Starts a grandchild that would sleep for long, records its pid, and waits for it, silent.
const SPAWN: &str = "sleep 1000 & echo $! > \"$DIR/$CAIRN_STEP_ID.pid\"; wait";

/// A process step running `script` (with `$DIR` and `$MARKS` set), and `extra` keys.
fn step(scratch: &Scratch, id: &str, script: &str, extra: Value) -> Value {
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
fn spawn(scratch: &Scratch, workflow: &Path) -> Child {
    scratch
        .command(&["run", workflow.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `path` exists (a step got somewhere); returns the run's id.
fn wait_for_file(scratch: &Scratch, child: &mut Child, path: &Path) -> String {
    let show = scratch.wait_for_show(child, |_| path.exists());
    show["id"].as_str().unwrap().to_owned()
}

fn held(scratch: &Scratch, step: &str) -> PathBuf {
    scratch.dir.path().join(format!("{step}.held"))
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

fn show(scratch: &Scratch, run: &str) -> Value {
    scratch.json(&["show", run, "--json"])
}

/// The pid a step's grandchild recorded.
fn grandchild(scratch: &Scratch, step: &str) -> i32 {
    let path = scratch.dir.path().join(format!("{step}.pid"));
    let text = std::fs::read_to_string(path).unwrap();
    text.trim().parse().unwrap()
}

/// The execution times of a step, in nanoseconds.
fn executions(scratch: &Scratch, step: &str) -> Vec<u128> {
    std::fs::read_to_string(scratch.marks().join(step))
        .unwrap_or_default()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect()
}

fn history(scratch: &Scratch, run: &str) -> Vec<Value> {
    scratch
        .json(&["history", run, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_pause_from_another_process_lets_the_step_finish_and_resume_completes_the_run() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "steps": [{"pipeline": [
            step(&scratch, "a", &format!("{MARK}; {HOLD}"), json!({})),
            step(&scratch, "b", MARK, json!({}))
        ]}]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    let pause = scratch.cairn(&["pause", &run]);
    assert_eq!(code(&pause), Some(0));
    let said = String::from_utf8_lossy(&pause.stderr);
    assert!(
        said.contains("pauses within a second, once its steps in flight (if any) finish"),
        "{said}"
    );
    scratch.wait_logged(&mut child, "pause asked");
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    let output = finish(child, "cairn run");
    assert_eq!(
        code(&output),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let paused = show(&scratch, &run);
    assert_eq!(paused["state"], "paused");
    assert_eq!(
        states(&paused)["a"],
        "succeeded",
        "the step in flight finished"
    );
    assert!(executions(&scratch, "b").is_empty(), "nothing new started");
    let output = scratch.cairn(&["resume", &run]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(executions(&scratch, "a").len(), 1);
    assert_eq!(executions(&scratch, "b").len(), 1);
}

#[test]
fn a_pause_of_a_run_no_engine_drives_says_it_is_paused_at_once() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "steps": [step(&scratch, "a", &format!("{MARK}; {HOLD}"), json!({}))]}),
    );
    let mut child = spawn(&scratch, &workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    child.kill().unwrap();
    child.wait().unwrap();
    let pause = scratch.cairn(&["pause", &run]);
    let said = String::from_utf8_lossy(&pause.stderr);
    assert_eq!(code(&pause), Some(0), "{said}");
    assert!(said.contains(&format!("run {run} is paused;")), "{said}");
    assert_eq!(show(&scratch, &run)["state"], "paused");
    // recover never continues it, and says what does.
    let recover = scratch.cairn(&["recover"]);
    let said = String::from_utf8_lossy(&recover.stderr);
    assert_eq!(code(&recover), Some(0), "{said}");
    assert!(
        said.contains("no unfinished run to recover; 1 paused run(s) wait for `cairn resume RUN`"),
        "{said}"
    );
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

/// a (held; with `trap`, deaf to SIGTERM) then b.
fn held_then_b(scratch: &Scratch, trap: &str) -> PathBuf {
    scratch.write(
        "h.json",
        &json!({"name": "h", "steps": [{"pipeline": [
            step(scratch, "a", &format!("{trap}{MARK}; {HOLD}"), json!({})),
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
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
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
        said.contains(&format!(
            "`cairn resume {run}` carries an unfinished run on"
        )),
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
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
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

/// A step that marks its start, ignores SIGTERM and holds until the gate opens, with a
/// kill grace long enough for the engine to die in.
fn deaf(scratch: &Scratch, id: &str, keys: Value) -> Value {
    let mut deaf = step(scratch, id, &format!("trap '' TERM; {MARK}; {HOLD}"), keys);
    deaf["with"]["kill_grace"] = json!("10m");
    deaf
}

/// Runs `workflow` until its step `cancelled` is cancelled, kills the engine there (in the
/// kill grace of a [`deaf`] step), opens the gate and lets `cairn recover` (exit 1) end the
/// run: the run as `show` gives it then.
fn killed_in_a_kill_grace_then_recovered(
    scratch: &Scratch,
    workflow: &Path,
    cancelled: &str,
) -> Value {
    let mut child = scratch.spawn_logged(workflow);
    let shown = scratch.wait_for_show(&mut child, |show| states(show)[cancelled] == "cancelled");
    let run = shown["id"].as_str().unwrap().to_owned();
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    let recovered = scratch.cairn(&["recover"]);
    assert_eq!(code(&recovered), Some(1), "{recovered:?}");
    show(scratch, &run)
}

#[test]
fn a_stalls_cancel_survives_an_engine_killed_in_the_stalled_steps_kill_grace() {
    let scratch = Scratch::new();
    // `h` is silent past its heartbeat and deaf to SIGTERM.
    let h = deaf(
        &scratch,
        "h",
        json!({"heartbeat": "1s", "on_stall": "cancel"}),
    );
    let workflow = scratch.write(
        "s.json",
        &json!({"name": "s", "steps": [{"pipeline": [h, step(&scratch, "b", MARK, json!({}))]}]}),
    );
    // The stall's commit cancels `b` and records the run's cancel with it.
    let cancelled = killed_in_a_kill_grace_then_recovered(&scratch, &workflow, "b");
    assert_eq!(executions(&scratch, "h").len(), 1, "h never started again");
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(states(&cancelled)["h"], "cancelled");
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
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
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
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "steps": [{"pipeline": [
            step(&scratch, "a", &format!("{MARK}; {HOLD}"), json!({})),
            step(&scratch, "b", MARK, json!({}))
        ]}]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    scratch.wait_logged(&mut child, "pause asked");
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    assert_eq!(code(&finish(child, "cairn run")), Some(3));
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
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
            "(`cairn retry {run}` runs its failed steps again)"
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

/// a -> b -> c, where c fails until the file `fixed` exists.
fn fragile(scratch: &Scratch) -> PathBuf {
    let fails = format!("{MARK}; [ -e \"$DIR/fixed\" ] || exit 1; echo '{{}}'");
    scratch.write(
        "f.json",
        &json!({"name": "f", "steps": [{"pipeline": [
            step(scratch, "a", &format!("{MARK}; echo '{{}}'"), json!({})),
            step(scratch, "b", &format!("{MARK}; echo '{{}}'"), json!({})),
            step(scratch, "c", &fails, json!({}))
        ]}]}),
    )
}

#[test]
fn retry_from_a_step_reruns_it_and_its_descendants_only() {
    let scratch = Scratch::new();
    let run = scratch.run(&fragile(&scratch), &[], 1);
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    let output = scratch.cairn(&["retry", &run, "--from", "b"]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs: Vec<usize> = ["a", "b", "c"]
        .map(|s| executions(&scratch, s).len())
        .to_vec();
    assert_eq!(runs, [1, 2, 2]);
}

#[test]
fn plain_retry_reruns_only_what_failed_or_was_skipped() {
    let scratch = Scratch::new();
    let run = scratch.run(&fragile(&scratch), &[], 1);
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    assert_eq!(code(&scratch.cairn(&["retry", &run])), Some(0));
    let runs: Vec<usize> = ["a", "b", "c"]
        .map(|s| executions(&scratch, s).len())
        .to_vec();
    assert_eq!(runs, [1, 1, 2]);
    assert_eq!(states(&show(&scratch, &run))["c"], "succeeded");
}

#[test]
fn a_retry_of_more_steps_than_a_batch_takes_runs_every_one_of_them_again() {
    // The ledger sends a redrive's steps back to pending 4,096 at a time, the run with the
    // last batch: the engine must drive it through every batch, not take it for ended.
    let scratch = Scratch::new();
    let fails = format!("{MARK}; [ -e \"$DIR/fixed\" ] || exit 1; echo '{{}}'");
    let branches: Vec<Value> = (0..4200)
        .map(|i| json!({"id": format!("b{i}"), "executor": "noop"}))
        .collect();
    let workflow = scratch.write(
        "wide.json",
        &json!({"name": "wide", "limits": {"max_steps": 5000, "max_parallel": 1000},
            "steps": [step(&scratch, "a", &fails, json!({})),
                {"id": "fan", "needs": ["a"], "parallel": branches}]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    let output = scratch.cairn(&["retry", &run]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(executions(&scratch, "a").len(), 2);
    let shown = show(&scratch, &run);
    assert_eq!(shown["state"], "succeeded");
    let states = states(&shown);
    assert_eq!(states.len(), 4201);
    assert!(states.values().all(|state| state == "succeeded"));
    let events = history(&scratch, &run);
    let redrive = (events.iter())
        .position(|event| event["from"] == "failed" && event["to"] == "running")
        .expect("the redrive is in the history");
    assert_eq!(
        events[redrive]["detail"]["redrive"]["steps"]
            .as_array()
            .map(Vec::len),
        Some(4201)
    );
    let sent_back = (events[..redrive].iter())
        .filter(|event| event["detail"]["reason"] == "the run was redriven");
    assert_eq!(sent_back.count(), 4201, "the run moves after its steps");
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
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
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

#[test]
fn a_run_deadline_passing_while_no_engine_runs_ends_it_timed_out_without_starting_anything() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "d.json",
        &json!({"name": "d", "limits": {"timeout": "2s"},
        "steps": [step(&scratch, "a", &format!("{MARK}; {HOLD}"), json!({}))]}),
    );
    let mut child = spawn(&scratch, &workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    child.kill().unwrap();
    child.wait().unwrap();
    let created = Instant::now();
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    std::thread::sleep(Duration::from_secs(3).saturating_sub(created.elapsed()));
    let output = scratch.cairn(&["resume", &run, "--json"]);
    assert_eq!(
        code(&output),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["error_class"], "timeout");
    assert_eq!(
        executions(&scratch, "a").len(),
        1,
        "the resume started nothing"
    );
    let starts = history(&scratch, &run)
        .iter()
        .filter(|e| e["to"] == "running" && e["step"] == "a")
        .count();
    assert_eq!(starts, 1, "no attempt was committed after the deadline");
}

#[test]
fn a_retry_waiting_its_backoff_survives_kill_9_and_runs_once_not_before_its_wake_up() {
    let scratch = Scratch::new();
    let script = format!("{MARK}; mkdir \"$DIR/failed-once\" 2>/dev/null && exit 1; echo '{{}}'");
    let retry = json!({"retry": {"max_attempts": 2, "backoff": "fixed", "initial_delay": "3s"}});
    let workflow = scratch.write(
        "r.json",
        &json!({"name": "r", "steps": [step(&scratch, "a", &script, retry)]}),
    );
    let mut child = spawn(&scratch, &workflow);
    let show = scratch.wait_for_show(&mut child, |show| states(show)["a"] == "retry_wait");
    child.kill().unwrap();
    child.wait().unwrap();
    let run = show["id"].as_str().unwrap();
    let output = scratch.cairn(&["resume", run]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let times = executions(&scratch, "a");
    assert_eq!(times.len(), 2, "the second attempt ran once");
    assert!(
        times[1] - times[0] >= 3_000_000_000,
        "not before its wake-up time: {times:?}"
    );
}

#[test]
fn a_silent_step_past_its_heartbeat_stalls_its_process_group_is_gone_and_it_fails() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "h.json",
        &json!({"name": "h", "steps": [
            step(&scratch, "a", SPAWN, json!({"heartbeat": "1s", "on_stall": "fail"}))
        ]}),
    );
    let output = scratch.cairn(&["run", workflow.to_str().unwrap(), "--json"]);
    assert_eq!(
        code(&output),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["error_class"], "stalled");
    wait_gone(grandchild(&scratch, "a"), Duration::from_secs(60));
    let run = report["id"].as_str().unwrap();
    let failed = history(&scratch, run)
        .into_iter()
        .find(|e| e["to"] == "failed" && e["step"] == "a")
        .unwrap();
    assert_eq!(failed["detail"]["stall"]["kind"], "heartbeat");
}

/// A step failing with an error that names `word` of each attempt, up to 5 attempts.
fn looping(scratch: &Scratch, words: &str) -> Value {
    let script = format!(
        "{MARK}; set -- {words}; shift $((CAIRN_ATTEMPT - 1)); echo \"failed: $1 (pid $$ at $(date +%s%N))\" >&2; exit 1"
    );
    let retry = json!({"retry": {"max_attempts": 5, "backoff": "fixed", "initial_delay": "10ms"}});
    let workflow = scratch.write(
        "l.json",
        &json!({"name": "l", "stall": {"on_stall": "fail"},
        "steps": [step(scratch, "a", &script, retry)]}),
    );
    let output = scratch.cairn(&["run", workflow.to_str().unwrap(), "--json"]);
    assert_eq!(
        code(&output),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_same_error_stops_as_a_loop_before_max_attempts_and_different_errors_use_every_attempt() {
    let same = Scratch::new();
    let report = looping(&same, "x x x x x");
    assert_eq!(
        executions(&same, "a").len(),
        3,
        "stall.loop_after defaults to 3"
    );
    assert!(
        report["error"].as_str().unwrap().contains("looping"),
        "{report}"
    );
    let different = Scratch::new();
    looping(&different, "alpha beta gamma delta epsilon");
    assert_eq!(executions(&different, "a").len(), 5);
}

#[test]
fn a_run_with_no_progress_pauses_and_a_later_cancel_leaves_no_process_behind() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "n.json",
        &json!({"name": "n",
        "stall": {"no_progress": "1s", "on_stall": "pause"},
        "steps": [step(&scratch, "a", SPAWN, json!({}))]}),
    );
    let output = scratch.cairn(&["run", workflow.to_str().unwrap(), "--json"]);
    assert_eq!(
        code(&output),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let told = String::from_utf8_lossy(&output.stderr);
    assert!(
        told.contains("paused by cairn: step a stalled: nothing moved in the run for"),
        "the person at the terminal is told why: {told}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = report["id"].as_str().unwrap();
    assert_eq!(report["state"], "paused");
    wait_gone(grandchild(&scratch, "a"), Duration::from_secs(60));
    assert_eq!(
        states(&show(&scratch, run))["a"],
        "ready",
        "the stalled step waits as ready"
    );
    assert_eq!(code(&scratch.cairn(&["cancel", run])), Some(0));
    assert_eq!(show(&scratch, run)["state"], "cancelled");
    let _ = HANG;
}

#[test]
fn a_running_steps_last_progress_is_kept_in_the_database() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "p.json",
        &json!({"name": "p", "steps": [
            step(&scratch, "a", &format!("echo working; {HOLD}"), json!({}))
        ]}),
    );
    let mut child = spawn(&scratch, &workflow);
    // Another process reads the clock from the database while the step is held.
    let shown = scratch.wait_for_show(&mut child, |show| {
        show["steps"][0]["progress_at"].is_string() && held(&scratch, "a").exists()
    });
    let run = shown["id"].as_str().unwrap().to_owned();
    let progress = shown["steps"][0]["progress_at"].as_str().unwrap();
    let started = &history(&scratch, &run)[0]["at"];
    assert!(progress >= started.as_str().unwrap(), "{shown}");
    let text = String::from_utf8(scratch.cairn(&["show", &run]).stdout).unwrap();
    assert!(
        text.contains(&format!("last sign of life: {progress}")),
        "{text}"
    );
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    assert_eq!(code(&finish(child, "cairn run")), Some(0));
    let done = show(&scratch, &run);
    assert!(
        done["steps"][0].get("progress_at").is_none(),
        "only while it runs"
    );
}

/// A step that marks each execution and fails the same way each time, retried up to 6
/// attempts, its loop's escalation `on_stall`.
fn failing_alike(scratch: &Scratch, on_stall: &str, before: &str) -> Value {
    let retry = json!({"retry": {"max_attempts": 6, "initial_delay": "10ms", "backoff": "fixed"},
        "on_stall": on_stall});
    step(
        scratch,
        "x",
        &format!("{before}{MARK}; echo boom >&2; exit 2"),
        retry,
    )
}

/// The kind of stall that the move `to` of `step` (null: of the run) gives as its reason,
/// from the history.
fn stall_kind(scratch: &Scratch, run: &str, step: Value, to: &str) -> Value {
    let event = history(scratch, run)
        .into_iter()
        .find(|event| event["to"] == to && event["step"] == step)
        .expect("the move is in the history");
    event["detail"]["stall"]["kind"].clone()
}

#[test]
fn a_step_failing_alike_pauses_the_run_at_its_loop_and_runs_no_more() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "lp.json",
        &json!({"name": "lp", "steps": [
            failing_alike(&scratch, "pause", ""),
            step(&scratch, "after", MARK, json!({"needs": ["x"]}))
        ]}),
    );
    let run = scratch.run(&workflow, &[], 3);
    let paused = show(&scratch, &run);
    assert_eq!(paused["state"], "paused");
    assert_eq!(
        states(&paused)["x"],
        "ready",
        "the looping step waits as ready"
    );
    assert_eq!(
        executions(&scratch, "x").len(),
        3,
        "stall.loop_after defaults to 3"
    );
    assert!(executions(&scratch, "after").is_empty());
    assert_eq!(stall_kind(&scratch, &run, Value::Null, "paused"), "loop");
}

#[test]
fn a_planner_emitting_its_plan_again_pauses_the_run_and_is_not_run_again() {
    let scratch = Scratch::new();
    // Each plan adds a planner that emits the same plan: one lineage, re-planning.
    let replan = format!("{MARK}; cat \"$DIR/plan.json\"");
    let again = step(&scratch, "again", &replan, json!({"planner": true}));
    scratch.write("plan.json", &json!({"steps": [again]}));
    let planner = step(&scratch, "p", &replan, json!({"planner": true}));
    let workflow = scratch.write("same.json", &json!({"name": "same", "steps": [planner]}));
    let run = scratch.run(&workflow, &[], 3);
    let paused = show(&scratch, &run);
    assert_eq!(paused["state"], "paused");
    let fourth = "p.again.again.again";
    assert_eq!(states(&paused)[fourth], "ready");
    assert_eq!(
        executions(&scratch, fourth).len(),
        1,
        "the fourth same plan is a loop; the planner is not run again"
    );
}

#[test]
fn a_loop_that_cancels_cancels_the_run_and_its_sibling_held_at_a_gate() {
    let scratch = Scratch::new();
    // `x` loops once `s` is held; the gate `s` waits at is never opened.
    let wait_for_s = "while [ ! -e \"$DIR/s.held\" ]; do sleep 0.02; done; ";
    let workflow = scratch.write(
        "lc.json",
        &json!({"name": "lc", "steps": [
            failing_alike(&scratch, "cancel", wait_for_s),
            {"pipeline": [
                step(&scratch, "s", &format!("{MARK}; {HOLD}; touch \"$DIR/s.done\""), json!({})),
                step(&scratch, "t", MARK, json!({}))
            ]}
        ]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    let cancelled = show(&scratch, &run);
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(states(&cancelled)["s"], "cancelled");
    assert_eq!(states(&cancelled)["t"], "cancelled");
    assert!(
        !scratch.dir.path().join("s.done").exists(),
        "s did not finish"
    );
    assert!(executions(&scratch, "t").is_empty(), "nothing new started");
    assert_eq!(executions(&scratch, "x").len(), 3);
    assert_eq!(stall_kind(&scratch, &run, json!("x"), "cancelled"), "loop");
}

#[test]
fn a_loops_cancel_survives_an_engine_killed_in_a_siblings_kill_grace() {
    let scratch = Scratch::new();
    // `s` is deaf to SIGTERM, and the engine dies in its kill grace.
    let s = deaf(&scratch, "s", json!({}));
    let wait_for_s = "while [ ! -e \"$DIR/s.held\" ]; do sleep 0.02; done; ";
    let workflow = scratch.write(
        "lk.json",
        &json!({"name": "lk", "steps": [
            failing_alike(&scratch, "cancel", wait_for_s),
            {"pipeline": [s, step(&scratch, "t", MARK, json!({}))]}
        ]}),
    );
    // The loop's commit cancels `x` and `t` and records the run's cancel with them.
    let cancelled = killed_in_a_kill_grace_then_recovered(&scratch, &workflow, "t");
    assert_eq!(executions(&scratch, "s").len(), 1, "s never started again");
    assert!(executions(&scratch, "t").is_empty());
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(states(&cancelled)["s"], "cancelled");
}
