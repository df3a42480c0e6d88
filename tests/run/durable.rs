//! Durable runs through the real binary: kill -9 at several points (inside a step, between
//! steps, in a fan-out, between a redrive's commits), resume, and check that no step reported
//! succeeded ran again.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use super::orphans::wait_gone;
use super::scratch::{Scratch, open_gate, states, wait_until};

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

    open_gate(&gates(&scratch).join("open"));
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
    wait_until("the first batch to come", || {
        assert!(retry.try_wait().unwrap().is_none(), "cairn retry ended");
        pending() != 0
    });
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
    wait_until("the supersession to come", || {
        assert!(retry.try_wait().unwrap().is_none(), "cairn retry ended");
        state("gen") == "pending"
    });
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
