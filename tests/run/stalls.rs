//! Time limits, stalls and loops through the real binary and a real SQLite file: a run
//! deadline passing while no engine runs, a retry's backoff surviving kill -9, heartbeats,
//! loops and the run's no-progress window.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::control::{
    HOLD, MARK, SPAWN, code, deaf, executions, grandchild, held, history,
    killed_in_a_kill_grace_then_recovered, show, spawn, step, wait_for_file,
};
use super::orphans::wait_gone;
use super::scratch::{Scratch, states, wait_until};
use crate::finish;

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
    scratch.open_gate();
    // Still `running` in the store: `cairn show` says its deadline has passed, once it has.
    wait_until("`cairn show` to say the deadline passed", || {
        let shown = scratch.cairn(&["show", &run]);
        String::from_utf8_lossy(&shown.stdout)
            .contains("(passed: an engine taking the run over settles what came before it")
    });
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
fn a_run_whose_deadline_passes_before_its_first_turn_ends_timed_out_whatever_its_size() {
    // 1 ns: the deadline passes while the run is recorded, before it starts. 5,000 steps
    // take more than one batch to cancel.
    for n in [1, 5_000] {
        let scratch = Scratch::new();
        let steps: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("s{i}"), "executor": "noop"}))
            .collect();
        let workflow = scratch.write(
            "t.json",
            &json!({"name": "t", "limits": {"timeout": "1ns", "max_steps": n}, "steps": steps}),
        );
        let output = scratch.cairn(&["run", workflow.to_str().unwrap(), "--json"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(code(&output), Some(1), "{n} steps: {stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["state"], "failed", "{n} steps");
        assert_eq!(report["error_class"], "timeout", "{n} steps");
        let run = report["id"].as_str().unwrap();
        let shown = states(&show(&scratch, run));
        assert!(
            shown.values().all(|state| state == "cancelled"),
            "{n} steps"
        );
        let moves: Vec<(Value, Value)> = (history(&scratch, run).iter())
            .filter(|event| event["step"].is_null() && !event["from"].is_null())
            .map(|event| (event["from"].clone(), event["to"].clone()))
            .collect();
        assert_eq!(
            moves,
            [
                (json!("pending"), json!("running")),
                (json!("running"), json!("failed"))
            ],
            "{n} steps"
        );
    }
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
    // The text, read after: the same sign of life, or a later one the step gave meanwhile.
    let text = String::from_utf8(scratch.cairn(&["show", &run]).stdout).unwrap();
    let (_, shown_in_text) = text
        .split_once("last sign of life: ")
        .unwrap_or_else(|| panic!("no sign of life in {text}"));
    let shown_in_text = shown_in_text.get(..progress.len()).unwrap_or(shown_in_text);
    assert!(
        shown_in_text >= progress,
        "{shown_in_text} before {progress}: {text}"
    );
    scratch.open_gate();
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
fn a_step_failing_alike_before_it_starts_holds_the_run_at_its_loop() {
    for (on_stall, code, held) in [("pause", 3, "paused"), ("cancel", 1, "cancelled")] {
        let scratch = Scratch::new();
        // `x`'s `when` cannot be evaluated: each attempt fails `bad_params` before it starts.
        let x = json!({"id": "x", "executor": "noop", "when": "input.missing == 1", "on_stall": on_stall,
            "retry": {"max_attempts": 5, "initial_delay": "10ms", "retry_on": ["bad_params"]}});
        let workflow = scratch.write(
            "lu.json",
            &json!({"name": "lu", "steps": [
                x, step(&scratch, "after", MARK, json!({"needs": ["x"]}))
            ]}),
        );
        let run = scratch.run(&workflow, &[], code);
        let shown = show(&scratch, &run);
        assert_eq!(shown["state"], held, "{on_stall}");
        assert_eq!(
            shown["steps"][0]["attempt"], 3,
            "{on_stall}: no attempt after the loop"
        );
        assert!(executions(&scratch, "after").is_empty());
        assert_eq!(stall_kind(&scratch, &run, Value::Null, held), "loop");
        let halt = history(&scratch, &run)
            .into_iter()
            .find(|event| event["to"] == held && event["step"].is_null())
            .expect("the run's own move");
        assert_eq!(
            halt["detail"][held]["by"], "cairn",
            "{on_stall}: who halted it"
        );
    }
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

#[test]
fn a_silent_item_among_chatty_siblings_stalls_alone_and_ends_failed_with_its_stall() {
    let scratch = Scratch::new();
    // Item 2 is silent until stopped; items 0 and 1 talk every 0.1 s until it is gone (at
    // most 30 s: without a heartbeat of its own, their lines would keep it alive), then end.
    let script =
        "if [ \"$CAIRN_ITEM_INDEX\" = 2 ]; then echo $$ > \"$DIR/silent.pid\"; exec sleep 1000; fi
        i=0
        until [ -s \"$DIR/silent.pid\" ]; do echo waiting >&2; sleep 0.1; done
        while kill -0 \"$(cat \"$DIR/silent.pid\")\" 2>/dev/null && [ $i -lt 300 ]; do
            echo tick >&2; sleep 0.1; i=$((i + 1))
        done";
    let each = step(
        &scratch,
        "each",
        script,
        json!({"heartbeat": "1s", "on_stall": "fail", "for_each": "${{ [0, 1, 2] }}"}),
    );
    let workflow = scratch.write("i.json", &json!({"name": "i", "steps": [each]}));
    let run = scratch.run(&workflow, &[], 1);
    let show = show(&scratch, &run);
    let each = &show["steps"][0];
    assert_eq!(each["state"], "failed");
    let error = each["error"].as_str().unwrap();
    assert!(
        error.starts_with("stalled: 1 of 3 items failed (2): item 2: no sign of life for "),
        "{error}"
    );
    let items: Vec<(&str, &str)> = (each["items"].as_array().unwrap().iter())
        .map(|item| {
            let error = item["error"].as_str().unwrap_or_default();
            (item["state"].as_str().unwrap(), error)
        })
        .collect();
    assert_eq!(
        items[..2],
        [("succeeded", ""), ("succeeded", "")],
        "{items:?}"
    );
    assert_eq!(items[2].0, "failed", "{items:?}");
    assert!(
        items[2].1.starts_with("stalled: no sign of life for ")
            && items[2].1.ends_with("(heartbeat 1s)"),
        "{items:?}"
    );
    let failed = history(&scratch, &run)
        .into_iter()
        .find(|e| e["to"] == "failed" && e["step"] == "each")
        .unwrap();
    assert_eq!(failed["detail"]["stall"]["evidence"]["item"], 2);
}

/// Runs `workflow` until `committed` (an SQL count) finds the stall of its [`deaf`] step
/// committed, and kills the engine there, in the step's kill grace: the run's id.
fn killed_once_the_stall_is_committed(
    scratch: &Scratch,
    workflow: &Path,
    committed: &str,
) -> String {
    let mut child = scratch.spawn_logged(workflow);
    let count = || -> i64 {
        let db = rusqlite::Connection::open(scratch.db()).unwrap();
        db.query_row(committed, [], |row| row.get(0)).unwrap_or(0)
    };
    let shown = scratch.wait_for_show(&mut child, |_| count() > 0);
    child.kill().unwrap();
    child.wait().unwrap();
    shown["id"].as_str().unwrap().to_owned()
}

/// The one event of `step` of `run` that records a stall.
fn stall_event(scratch: &Scratch, run: &str, step: &str) -> Value {
    let events = history(scratch, run);
    let stalled: Vec<&Value> = (events.iter())
        .filter(|event| event["step"] == step && event["detail"].get("stall").is_some())
        .collect();
    let [stalled] = stalled[..] else {
        panic!("one event of {step} with its stall: {events:#?}")
    };
    stalled.clone()
}

#[test]
fn a_stalls_pause_pending_at_a_resume_pauses_the_run_and_the_next_resume_continues_it() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "np.json",
        &json!({"name": "np", "stall": {"no_progress": "1s", "on_stall": "pause"},
                "steps": [deaf(&scratch, "a", json!({}))]}),
    );
    let pending = "SELECT count(*) FROM commands WHERE kind = 'pause' AND handled_at IS NULL";
    let run = killed_once_the_stall_is_committed(&scratch, &workflow, pending);
    // cairn's own pause, not a person's: the resume carries it out as `recover` would.
    let resumed = scratch.cairn(&["resume", &run]);
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(code(&resumed), Some(3), "{said}");
    assert!(
        said.contains(&format!("run {run} paused by cairn: step a stalled")),
        "{said}"
    );
    let resume = format!("`{} resume {run}`", scratch.invocation());
    assert!(said.contains(&resume), "{said}");
    assert_eq!(executions(&scratch, "a").len(), 1, "a did not run again");
    assert_eq!(show(&scratch, &run)["state"], "paused");
    let stalled = stall_event(&scratch, &run, "a");
    assert_eq!(
        stalled["detail"]["stall"]["kind"], "no_progress",
        "{stalled}"
    );
    assert_eq!(stalled["detail"]["escalation"], "pause", "{stalled}");
    assert_eq!(stalled["detail"]["interrupted"], true, "{stalled}");
    // A person's "continue" now: the run goes on.
    scratch.open_gate();
    let continued = scratch.cairn(&["resume", &run]);
    assert_eq!(code(&continued), Some(0), "{continued:?}");
    assert_eq!(executions(&scratch, "a").len(), 2);
}

#[test]
fn a_stall_that_fails_its_step_survives_an_engine_killed_in_its_kill_grace() {
    let scratch = Scratch::new();
    let h = deaf(
        &scratch,
        "h",
        json!({"heartbeat": "1s", "on_stall": "fail"}),
    );
    let workflow = scratch.write(
        "hf.json",
        &json!({"name": "hf", "steps": [{"pipeline": [h, step(&scratch, "b", MARK, json!({}))]}]}),
    );
    let stalled = "SELECT count(*) FROM stalls";
    let run = killed_once_the_stall_is_committed(&scratch, &workflow, stalled);
    scratch.open_gate();
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(code(&resumed), Some(1), "{resumed:?}");
    assert_eq!(executions(&scratch, "h").len(), 1, "h never started again");
    assert!(executions(&scratch, "b").is_empty());
    let failed = show(&scratch, &run);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(states(&failed)["b"], "skipped", "{failed}");
    let event = stall_event(&scratch, &run, "h");
    assert_eq!(event["to"], "failed", "{event}");
    assert_eq!(event["detail"]["stall"]["kind"], "heartbeat", "{event}");
    assert_eq!(event["detail"]["escalation"], "fail", "{event}");
}
