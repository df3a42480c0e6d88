//! Durable runs through the real binary: kill -9 at several points, resume, and check that
//! no step reported succeeded ran again; leases; history; a 10,000-step run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::orphans::wait_gone;
use super::scratch::{Scratch, states};
use crate::{HANG, finish};

/// Where a step of the crash workflow stops until the test opens the gate (a file, `open`,
/// in the gate directory). A held step first leaves `<step>.held` there, so the test knows,
/// by an event rather than by timing, that it has got there.
#[derive(Clone, Copy, PartialEq)]
enum Hold {
    /// Runs straight through.
    No,
    /// Held before its work (its execution marker) starts.
    BeforeWork,
    /// Held after its execution marker, before its output.
    MidWork,
    /// The first two such steps to start run straight through; every later one is held
    /// after its marker (`mkdir` hands out the two passes atomically).
    AfterTwoPass,
}

/// Leaves its pid in a `.pid` file and then the step's `.held` file, and waits for the gate.
/// The polling is the step's own: the test waits for the `.held` file, and never for a
/// length of time. The step first reads its input to the end: the engine writes it only once
/// the step's process group is registered with its reaper, so a kill at the `.held` file
/// never outruns the registration.
pub(super) const HOLD: &str = "cat > /dev/null; echo $$ > \"$GATES/$CAIRN_STEP_ID.pid\"; \
    touch \"$GATES/$CAIRN_STEP_ID.held\"; \
    while [ ! -e \"$GATES/open\" ]; do sleep 0.02; done";
/// One line per execution in the step's marker file.
const MARK: &str = "echo run >> \"$MARKS/$CAIRN_STEP_ID\"";

/// A step that leaves a marker line per execution, stops where `hold` says, and outputs its
/// own id.
fn marking_step(id: &str, hold: Hold, scratch: &Scratch) -> Value {
    let output = "printf '{\"step\":\"%s\"}' \"$CAIRN_STEP_ID\"";
    let script = match hold {
        Hold::No => format!("{MARK}; {output}"),
        Hold::BeforeWork => format!("{HOLD}; {MARK}; {output}"),
        Hold::MidWork => format!("{MARK}; {HOLD}; {output}"),
        Hold::AfterTwoPass => format!(
            "{MARK}; mkdir \"$GATES/pass1\" 2>/dev/null || mkdir \"$GATES/pass2\" 2>/dev/null || {{ {HOLD}; }}; {output}"
        ),
    };
    json!({
        "id": id,
        "executor": "process",
        "with": {
            "command": ["sh", "-c", script],
            "env": {
                "MARKS": scratch.marks().to_str().unwrap(),
                "GATES": gates(scratch).to_str().unwrap()
            }
        }
    })
}

pub(super) fn gates(scratch: &Scratch) -> std::path::PathBuf {
    scratch.dir.path().join("gates")
}

/// The steps held at the gate so far.
pub(super) fn held(scratch: &Scratch) -> BTreeSet<String> {
    std::fs::read_dir(gates(scratch))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".held").map(str::to_owned)
        })
        .collect()
}

/// The usage of steps that report none.
fn no_usage() -> Value {
    json!({"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
}

const FAN: [&str; 6] = ["f0", "f1", "f2", "f3", "f4", "f5"];

/// Every step of the crash workflow, in order.
fn all_steps() -> Vec<&'static str> {
    let mut steps = vec!["a", "b"];
    steps.extend(FAN);
    steps.push("join");
    steps
}

/// a -> b -> (f0..f5 in parallel, 3 at a time) -> join, which echoes what it read of the fan
/// and of `a` (an output a resumed run must read back from the store, since no step between
/// reads it); `hold` says where each step stops until the gate opens.
fn crash_workflow(scratch: &Scratch, hold: impl Fn(&str) -> Hold) -> Value {
    let fan: Vec<Value> = FAN
        .iter()
        .map(|id| marking_step(id, hold(id), scratch))
        .collect();
    let gathered: serde_json::Map<String, Value> = (FAN.iter().chain(&["a"]))
        .map(|id| {
            (
                id.to_string(),
                json!(format!("${{{{ steps.{id}.output.step }}}}")),
            )
        })
        .collect();
    let mut join = marking_step("join", Hold::No, scratch);
    join["with"]["command"] = json!(["sh", "-c", format!("{MARK}; cat")]);
    join["with"]["input"] = Value::Object(gathered);
    json!({
        "name": "crashy",
        "limits": {"max_parallel": 3},
        "steps": [{"pipeline": [
            marking_step("a", hold("a"), scratch),
            marking_step("b", hold("b"), scratch),
            {"id": "fan", "parallel": fan},
            join
        ]}]
    })
}

fn with_state<'a>(states: &'a BTreeMap<String, String>, state: &str) -> BTreeSet<&'a str> {
    states
        .iter()
        .filter(|(_, s)| *s == state)
        .map(|(id, _)| id.as_str())
        .collect()
}

/// What a crash test saw: the run just before the kill, the execution markers then, and
/// the execution markers once the resumed run ended.
struct Crash {
    before: BTreeMap<String, String>,
    held: BTreeSet<String>,
    marks_before: BTreeMap<String, usize>,
    marks_after: BTreeMap<String, usize>,
}

/// Runs the crash workflow with its steps held where `hold` says; once exactly `held_count`
/// steps are held at the gate and `kill_point` holds of the step states, kills cairn with
/// SIGKILL. Both should describe a state the run stays in until the gate opens, so the kill
/// comes at the same point however slow the machine. Then opens the gate, resumes the run to
/// its end, and checks what holds of every crash: the run succeeded with the right output,
/// every step ran, and no step reported succeeded before the kill ran again.
fn kill_and_resume(
    hold: impl Fn(&str) -> Hold,
    held_count: usize,
    kill_point: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Crash {
    let scratch = Scratch::new();
    std::fs::create_dir(gates(&scratch)).unwrap();
    let workflow = scratch.write("crash.json", &crash_workflow(&scratch, hold));
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let before = scratch.wait_for_show(&mut child, |show| {
        held(&scratch).len() == held_count && kill_point(&states(show))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let held = held(&scratch);
    // The reaper takes the held steps down with the engine, a moment after it: the gate
    // opens only once they are gone, or they would go on beside the resumed run.
    for step in &held {
        let pid = std::fs::read_to_string(gates(&scratch).join(format!("{step}.pid"))).unwrap();
        wait_gone(pid.trim().parse().unwrap(), Duration::from_secs(60));
    }
    let marks_before = scratch.executions();
    let run_id = before["id"].as_str().unwrap().to_owned();
    let before = states(&before);
    // The held steps were running at the kill, and nothing else was.
    assert_eq!(
        with_state(&before, "running"),
        held.iter().map(String::as_str).collect(),
        "{before:?}"
    );

    std::fs::write(gates(&scratch).join("open"), "").unwrap();
    let resumed = scratch.cairn(&["resume", &run_id]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "resume: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );

    let after = scratch.json(&["show", &run_id, "--json"]);
    assert_eq!(after["state"], "succeeded", "{after:#}");
    let marks_after = scratch.executions();
    for step in with_state(&before, "succeeded") {
        assert_eq!(
            marks_after.get(step),
            Some(&1),
            "step {step} succeeded before the kill but ran again: {marks_after:?}"
        );
    }
    for step in all_steps() {
        assert!(
            marks_after.get(step).is_some_and(|&count| count >= 1),
            "{step} never ran: {marks_after:?}"
        );
    }
    let expected: serde_json::Map<String, Value> = (FAN.iter().chain(&["a"]))
        .map(|id| (id.to_string(), json!(id)))
        .collect();
    assert_eq!(after["output"], json!({ "join": expected }));
    Crash {
        before,
        held,
        marks_before,
        marks_after,
    }
}

/// Execution counts: `n` for each of `steps`, 1 for every other step of the crash workflow.
fn ran_once_but(steps: &[(&str, usize)]) -> BTreeMap<String, usize> {
    all_steps()
        .into_iter()
        .map(|id| {
            let count = steps
                .iter()
                .find(|(step, _)| *step == id)
                .map_or(1, |(_, n)| *n);
            (id.to_owned(), count)
        })
        .collect()
}

#[test]
fn killed_inside_a_step_resumes_without_rerunning_finished_steps() {
    // b is killed after its marker, before its output: a has succeeded, b has started.
    let crash = kill_and_resume(
        |id| if id == "b" { Hold::MidWork } else { Hold::No },
        1,
        |states| states["a"] == "succeeded",
    );
    assert_eq!(
        with_state(&crash.before, "succeeded"),
        BTreeSet::from(["a"])
    );
    assert_eq!(crash.held, BTreeSet::from(["b".to_owned()]));
    assert_eq!(
        crash.marks_before,
        BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)])
    );
    // b ran again (it never succeeded); a did not.
    assert_eq!(crash.marks_after, ran_once_but(&[("b", 2)]));
}

#[test]
fn killed_between_steps_resumes_without_rerunning_finished_steps() {
    // Right after a succeeded: b is held before its work starts.
    let crash = kill_and_resume(
        |id| {
            if id == "b" {
                Hold::BeforeWork
            } else {
                Hold::No
            }
        },
        1,
        |states| states["a"] == "succeeded",
    );
    assert_eq!(
        with_state(&crash.before, "succeeded"),
        BTreeSet::from(["a"])
    );
    assert_eq!(crash.held, BTreeSet::from(["b".to_owned()]));
    assert_eq!(crash.marks_before, BTreeMap::from([("a".to_owned(), 1)]));
    assert_eq!(crash.marks_after, ran_once_but(&[]));
}

#[test]
fn killed_during_a_fan_out_resumes_without_rerunning_finished_steps() {
    // The first two branches to start succeed; the next three take the three slots and are
    // held after their markers; the sixth waits for a slot.
    let crash = kill_and_resume(
        |id| {
            if FAN.contains(&id) {
                Hold::AfterTwoPass
            } else {
                Hold::No
            }
        },
        3,
        |states| FAN.iter().filter(|id| states[**id] == "succeeded").count() == 2,
    );
    let finished = with_state(&crash.before, "succeeded");
    let fan_finished: Vec<&str> = FAN
        .iter()
        .copied()
        .filter(|id| finished.contains(id))
        .collect();
    assert_eq!(fan_finished.len(), 2, "{:?}", crash.before);
    let waiting: Vec<&str> = FAN
        .iter()
        .copied()
        .filter(|id| !finished.contains(id) && !crash.held.contains(*id))
        .collect();
    assert_eq!(waiting.len(), 1, "{:?}", crash.before);
    // a, b, the two finished branches and the three held ones each ran once.
    assert_eq!(
        crash.marks_before.len(),
        2 + 2 + 3,
        "{:?}",
        crash.marks_before
    );
    assert!(
        crash.marks_before.values().all(|&count| count == 1),
        "{:?}",
        crash.marks_before
    );
    // The held branches ran again (they never succeeded); nothing else did.
    let again: Vec<(&str, usize)> = crash.held.iter().map(|id| (id.as_str(), 2)).collect();
    assert_eq!(crash.marks_after, ran_once_but(&again));
}

/// Starts `cairn run` on a one-step workflow whose step waits until `gate` exists (then
/// outputs `"open"`); returns the running cairn and the show output once the step runs.
fn start_gated(scratch: &Scratch, gate: &Path) -> (Child, Value) {
    start_gated_with(scratch, gate, &[])
}

/// [`start_gated`], with `global` options before `run`.
fn start_gated_with(scratch: &Scratch, gate: &Path, global: &[&str]) -> (Child, Value) {
    let workflow = scratch.write(
        "gated.json",
        &json!({
            "name": "gated",
            "steps": [{
                "id": "wait",
                "executor": "process",
                "with": {
                    "command": ["sh", "-c", "while [ ! -e \"$GATE\" ]; do sleep 0.02; done; echo '\"open\"'"],
                    "env": {"GATE": gate.to_str().unwrap()},
                    "kill_grace": "100ms"
                }
            }]
        }),
    );
    let args = [global, &["run", workflow.to_str().unwrap()]].concat();
    let mut run = scratch
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let show = scratch.wait_for_show(&mut run, |show| states(show)["wait"] == "running");
    (run, show)
}

#[test]
fn a_database_locked_while_a_run_is_driven_stops_it_resumable_with_exit_3() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (run, show) = start_gated_with(&scratch, &gate, &["--busy-timeout", "200ms"]);
    let run_id = show["id"].as_str().unwrap();
    // Another process holds the write lock past the busy timeout; the step then ends.
    let lock = rusqlite::Connection::open(scratch.db()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::fs::write(&gate, "").unwrap();
    let stopped = finish(run, "cairn run under another process's lock");
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("locked") && stderr.contains(&format!("`cairn resume {run_id}`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARN") && !stderr.contains('\x1b'),
        "log lines to a pipe carry no colour codes: {stderr:?}"
    );
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    let resumed = scratch.cairn(&["resume", run_id]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

#[test]
fn two_resumes_at_once_exactly_one_drives() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (mut first, show) = start_gated(&scratch, &gate);
    first.kill().unwrap();
    first.wait().unwrap();
    let run_id = show["id"].as_str().unwrap();

    let spawn_resume = || {
        scratch
            .command(&["resume", run_id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut resumes = [spawn_resume(), spawn_resume()];
    // The gate is shut, so the resume that drives the run cannot end: the first to end is
    // the one refused.
    let started = Instant::now();
    let loser = loop {
        if let Some(index) = resumes
            .iter_mut()
            .position(|child| child.try_wait().unwrap().is_some())
        {
            break index;
        }
        if started.elapsed() > HANG {
            for child in &mut resumes {
                let _ = child.kill();
            }
            panic!("neither resume ended within {HANG:?}: was neither refused?");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let [a, b] = resumes;
    let (loser, winner) = if loser == 0 { (a, b) } else { (b, a) };
    let loser = finish(loser, "the refused resume");
    let message = String::from_utf8_lossy(&loser.stderr);
    assert_eq!(loser.status.code(), Some(2), "{message}");
    assert!(
        message.contains("is being driven by pid") && message.contains("until"),
        "{message}"
    );

    std::fs::write(&gate, "").unwrap();
    let winner = finish(winner, "the resume driving the run");
    assert_eq!(
        winner.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&winner.stderr)
    );
    assert_eq!(
        scratch.json(&["show", run_id, "--json"])["state"],
        "succeeded"
    );
}

#[test]
fn history_lists_every_transition_in_order_and_show_matches_the_design() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "pair.json",
        &json!({
            "name": "pair",
            "steps": [
                {"id": "first", "executor": "noop", "with": {"output": {"n": "${{ input.n }}"}}},
                {"id": "second", "needs": ["first"], "executor": "noop", "with": {"output": "${{ steps.first.output.n + 1 }}"}}
            ]
        }),
    );
    let run_id = &scratch.run(&workflow, &["--input", r#"{"n": 41}"#], 0);

    let show = scratch.json(&["show", run_id, "--json"]);
    let keys: Vec<&str> = show
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "error", "id", "input", "output", "state", "steps", "usage", "workflow"
        ]
    );
    assert_eq!(show["workflow"], "pair");
    assert_eq!(show["input"], json!({"n": 41}));
    assert_eq!(show["output"], json!({"second": 42}));
    assert_eq!(
        show["steps"],
        json!([
            {"id": "first", "state": "succeeded", "attempt": 1, "output": {"n": 41}, "error": null, "usage": no_usage()},
            {"id": "second", "state": "succeeded", "attempt": 1, "output": 42, "error": null, "usage": no_usage()}
        ])
    );

    let history = scratch.json(&["history", run_id, "--json"]);
    let transitions: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            format!(
                "{} {}",
                event["step"].as_str().unwrap_or("run"),
                event["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        transitions,
        [
            "run pending",
            "run running",
            "first ready",
            "first running",
            "first succeeded",
            "second ready",
            "second running",
            "second succeeded",
            "run succeeded"
        ]
    );
    let seqs: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["at"].as_str().is_some_and(|at| at.contains('T')))
    );

    let text = scratch.cairn(&["history", run_id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.lines().count(), 9, "{text}");
}

#[test]
fn a_ten_thousand_step_workflow_runs_to_completion_with_a_complete_history() {
    let scratch = Scratch::new();
    // 100 chains of 100 noop steps, side by side; each step passes its index on.
    let chains: Vec<Value> = (0..100)
        .map(|chain| {
            let steps: Vec<Value> = (0..100)
                .map(|link| json!({"id": format!("s{chain}_{link}"), "executor": "noop", "with": {"output": link}}))
                .collect();
            json!({"id": format!("chain{chain}"), "pipeline": steps})
        })
        .collect();
    let workflow = scratch.write(
        "big.json",
        &json!({"name": "big", "limits": {"max_parallel": 16}, "steps": chains}),
    );
    let run_id = scratch.run(&workflow, &[], 0);

    let show = scratch.json(&["show", &run_id, "--json"]);
    let steps = show["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10_000);
    assert!(
        steps
            .iter()
            .all(|step| step["state"] == "succeeded" && step["attempt"] == 1)
    );
    assert_eq!(
        show["output"].as_object().unwrap().len(),
        100,
        "one output per chain's last step"
    );

    let history = scratch.json(&["history", &run_id, "--json"]);
    // created + running + (ready, running, succeeded) per step + succeeded, read in pages
    // of 10,000: each once, in order.
    let seqs: Vec<u64> = (history.as_array().unwrap().iter())
        .map(|event| event["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=3 + 3 * 10_000).collect::<Vec<u64>>());
}

#[test]
fn sigterm_stops_cleanly_and_the_run_resumes() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (run, show) = start_gated(&scratch, &gate);
    let run_id = show["id"].as_str().unwrap().to_owned();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = finish(run, "cairn run after SIGTERM");
    assert_eq!(
        stopped.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    // The run has no error: what stopped it is not called one.
    let said = String::from_utf8_lossy(&stopped.stdout);
    assert!(
        said.contains(&format!("run {run_id} running\nstopped: interrupted\n")),
        "{said}"
    );
    let history = scratch.json(&["history", &run_id, "--json"]);
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["step"].as_str(), last["to"].as_str()),
        (Some("wait"), Some("ready")),
        "{last}"
    );
    assert_eq!(last["detail"]["interrupted"], "engine stopped");

    std::fs::write(&gate, "").unwrap();
    let resumed = scratch.cairn(&["resume", &run_id, "--json"]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let show = scratch.json(&["show", &run_id, "--json"]);
    assert_eq!(show["steps"][0]["attempt"], 2);
    assert_eq!(show["output"], json!({"wait": "open"}));
}

#[test]
fn a_run_past_its_timeout_fails_and_cancels_what_has_not_ended() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "slow.json",
        &json!({
            "name": "slow",
            // Long enough for `quick` to end first even on a loaded machine; `slow` never
            // ends, so the timeout is what ends the run.
            "limits": {"timeout": "2s"},
            "steps": [
                {"id": "quick", "executor": "noop", "with": {"output": 1}},
                {"id": "slow", "needs": ["quick"], "executor": "sleep", "with": {"duration": "1h"}},
                {"id": "after", "needs": ["slow"], "executor": "noop"}
            ]
        }),
    );
    let run_id = scratch.run(&workflow, &[], 1);
    let show = scratch.json(&["show", &run_id, "--json"]);
    assert_eq!(show["state"], "failed");
    assert!(
        show["error"]
            .as_str()
            .unwrap()
            .contains("timed out (limits.timeout = 2s)"),
        "{show}"
    );
    let states = states(&show);
    assert_eq!(
        states.into_iter().collect::<Vec<_>>(),
        [
            ("after".into(), "cancelled".into()),
            ("quick".into(), "succeeded".into()),
            ("slow".into(), "cancelled".into())
        ]
    );
}

#[test]
fn recover_resumes_every_run_whose_engine_died() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    // The first step of each run leaves `held.<run id>` and waits for the gate.
    let workflow = scratch.write(
        "two.json",
        &json!({
            "name": "two",
            "steps": [
                {"id": "slow", "executor": "process", "with": {
                    "command": ["sh", "-c", "touch \"$DIR/held.$CAIRN_RUN_ID\"; while [ ! -e \"$DIR/gate\" ]; do sleep 0.02; done; echo '\"slept\"'"],
                    "env": {"DIR": scratch.dir.path().to_str().unwrap()}
                }},
                {"id": "after", "needs": ["slow"], "executor": "noop", "with": {"output": "${{ steps.slow.output }}"}}
            ]
        }),
    );
    let mut killed: Vec<String> = Vec::new();
    for _ in 0..2 {
        let mut run = scratch
            .command(&["run", workflow.to_str().unwrap()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let show = scratch.wait_for_show(&mut run, |show| {
            let id = show["id"].as_str().unwrap();
            !killed.iter().any(|killed| killed == id)
                && scratch.dir.path().join(format!("held.{id}")).exists()
        });
        assert_eq!(states(&show)["slow"], "running");
        run.kill().unwrap();
        run.wait().unwrap();
        killed.push(show["id"].as_str().unwrap().to_owned());
    }
    std::fs::write(&gate, "").unwrap();
    let recovered = scratch.cairn(&["recover", "--json"]);
    assert_eq!(
        recovered.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    let reports: Value = serde_json::from_slice(&recovered.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&recovered.stderr);
    assert_eq!(reports.as_array().unwrap().len(), 2, "{reports} {stderr}");
    for id in &killed {
        let show = scratch.json(&["show", id, "--json"]);
        assert_eq!(show["state"], "succeeded", "{show}");
        assert_eq!(show["output"], json!({"after": "slept"}));
    }
    let again = scratch.cairn(&["recover"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no unfinished run to recover"));
}

#[test]
fn recover_says_when_the_unfinished_runs_are_driven_by_a_live_engine() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (run, _) = start_gated(&scratch, &gate);
    let recovered = scratch.cairn(&["recover"]);
    let said = String::from_utf8_lossy(&recovered.stderr);
    assert_eq!(recovered.status.code(), Some(0), "{said}");
    assert!(
        said.contains("no run to recover: the 1 unfinished run(s) are driven by live engines"),
        "{said}"
    );
    std::fs::write(&gate, "").unwrap();
    assert_eq!(finish(run, "the driving cairn").status.code(), Some(0));
}

#[test]
fn a_retry_from_a_step_killed_between_two_batches_is_carried_on_by_the_next_retry() {
    // A redrive sends its steps back to pending 4,096 a commit. The database stalls the
    // second commit (a trigger that computes for an hour), so the test kills cairn exactly
    // between the two: the first is committed, the second never will be.
    let scratch = Scratch::new();
    let fail = scratch.dir.path().join("fail");
    std::fs::write(&fail, "").unwrap();
    let bad = format!("[ -e '{}' ] && exit 1; echo '{{}}'", fail.display());
    let mut steps = vec![
        json!({"id": "pre", "executor": "noop"}),
        json!({"id": "bad", "executor": "process", "needs": ["pre"],
            "with": {"command": ["sh", "-c", bad]}}),
    ];
    steps.extend(
        (0..4200).map(|i| json!({"id": format!("s{i}"), "executor": "noop", "needs": ["pre"]})),
    );
    let workflow = scratch.write(
        "wide.json",
        &json!({"name": "wide", "limits": {"max_steps": 5000, "max_parallel": 1000},
            "steps": steps}),
    );
    let run = scratch.run(&workflow, &[], 1);
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    let events: i64 = db
        .query_row(
            "SELECT max(seq) FROM events WHERE run_id = ?",
            [&run],
            |row| row.get(0),
        )
        .unwrap();
    db.execute_batch(&format!(
        "CREATE TRIGGER stall BEFORE INSERT ON events
         WHEN NEW.run_id = '{run}' AND NEW.seq > {}
         BEGIN SELECT count(*) FROM steps a, steps b, steps c; END",
        events + 4096
    ))
    .unwrap();
    let pending = || -> i64 {
        db.query_row(
            "SELECT count(*) FROM steps WHERE run_id = ? AND state = 'pending'",
            [&run],
            |row| row.get(0),
        )
        .unwrap()
    };
    let mut retry = scratch
        .command(&["retry", &run, "--from", "pre"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while pending() == 0 {
        assert!(retry.try_wait().unwrap().is_none(), "cairn retry ended");
        assert!(started.elapsed() < HANG, "the first batch never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    retry.kill().unwrap();
    retry.wait().unwrap();
    assert_eq!(pending(), 4096, "one batch committed");
    db.execute_batch("DROP TRIGGER stall").unwrap();

    std::fs::remove_file(&fail).unwrap();
    let output = scratch.cairn(&["retry", &run]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let attempts: Vec<(i64, i64)> = db
        .prepare("SELECT attempt, count(*) FROM steps WHERE run_id = ? GROUP BY attempt")
        .unwrap()
        .query_map([&run], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        attempts,
        [(2, 4202)],
        "every step downstream of pre ran again"
    );
    assert!(stderr.contains("carrying on a redrive"), "{stderr}");
}

#[test]
fn a_retry_from_a_planner_killed_after_the_supersession_runs_its_dependents_after_the_new_plan() {
    // The database stalls the commit after the supersession (the first that sends steps
    // back), so the test kills cairn with the planner pending and `report` still succeeded.
    let scratch = Scratch::new();
    let fail = scratch.dir.path().join("fail");
    std::fs::write(&fail, "").unwrap();
    let bad = format!("[ -e '{}' ] && exit 1; echo '{{}}'", fail.display());
    let plan = r#"printf '{"steps": [{"id": "x", "executor": "noop"}]}'"#;
    let workflow = scratch.write(
        "planned.json",
        &json!({"name": "planned", "steps": [
            {"id": "gen", "executor": "process", "planner": true,
                "with": {"command": ["sh", "-c", plan]}},
            {"id": "report", "executor": "noop", "needs": ["gen"]},
            {"id": "bad", "executor": "process", "needs": ["gen"],
                "with": {"command": ["sh", "-c", bad]}},
        ]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    db.execute_batch(&format!(
        "CREATE TRIGGER stall BEFORE INSERT ON events
         WHEN NEW.run_id = '{run}' AND NEW.detail = '{{\"reason\":\"the run was redriven from gen\"}}'
         BEGIN SELECT count(*) FROM events a, events b, events c, events d, events e,
             events f, events g, events h, events i, events j; END"
    ))
    .unwrap();
    let state = |step: &str| -> String {
        db.query_row(
            "SELECT state FROM steps WHERE run_id = ? AND step_id = ?",
            [&run, step],
            |row| row.get(0),
        )
        .unwrap()
    };
    let mut retry = scratch
        .command(&["retry", &run, "--from", "gen"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while state("gen") != "pending" {
        assert!(retry.try_wait().unwrap().is_none(), "cairn retry ended");
        assert!(started.elapsed() < HANG, "the supersession never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    retry.kill().unwrap();
    retry.wait().unwrap();
    assert_eq!(
        state("report"),
        "succeeded",
        "killed before report was sent back"
    );
    assert_eq!(state("gen"), "pending", "killed after the supersession");
    let run_state: String = db
        .query_row("SELECT state FROM runs WHERE id = ?", [&run], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(run_state, "failed");
    db.execute_batch("DROP TRIGGER stall").unwrap();

    std::fs::remove_file(&fail).unwrap();
    let output = scratch.cairn(&["retry", &run]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let last = |step: &str, to: &str| -> i64 {
        db.query_row(
            "SELECT max(seq) FROM events WHERE run_id = ? AND step_id = ? AND to_state = ?",
            [&run, step, to],
            |row| row.get(0),
        )
        .unwrap()
    };
    let attempt: i64 = db
        .query_row(
            "SELECT attempt FROM steps WHERE run_id = ? AND step_id = 'report'",
            [&run],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(attempt, 2, "report ran again");
    assert!(
        last("gen.x", "succeeded") < last("report", "running"),
        "report ran after the new plan"
    );
}
