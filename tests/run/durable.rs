//! Durable runs through the real binary: kill -9 at several points, resume, and check that
//! no step reported succeeded ran again; leases; history; a 10,000-step run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::scratch::{Scratch, states};

/// Every step leaves a marker line, takes a moment, and outputs its own id.
fn marking_step(id: &str, marks: &Path) -> Value {
    json!({
        "id": id,
        "executor": "process",
        "with": {
            "command": ["sh", "-c", "echo run >> \"$MARKS/$CAIRN_STEP_ID\"; sleep 0.2; printf '{\"step\":\"%s\"}' \"$CAIRN_STEP_ID\""],
            "env": {"MARKS": marks.to_str().unwrap()}
        }
    })
}

/// The usage of steps that report none.
fn no_usage() -> Value {
    json!({"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
}

const FAN: [&str; 6] = ["f0", "f1", "f2", "f3", "f4", "f5"];

/// a -> b -> (f0..f5 in parallel, 3 at a time) -> join, which echoes what it read of the fan.
fn crash_workflow(marks: &Path) -> Value {
    let fan: Vec<Value> = FAN.iter().map(|id| marking_step(id, marks)).collect();
    let gathered: serde_json::Map<String, Value> = FAN
        .iter()
        .map(|id| {
            (
                id.to_string(),
                json!(format!("${{{{ steps.{id}.output.step }}}}")),
            )
        })
        .collect();
    let mut join = marking_step("join", marks);
    join["with"]["command"] = json!(["sh", "-c", "echo run >> \"$MARKS/$CAIRN_STEP_ID\"; cat"]);
    join["with"]["input"] = Value::Object(gathered);
    json!({
        "name": "crashy",
        "limits": {"max_parallel": 3},
        "steps": [{"pipeline": [
            marking_step("a", marks),
            marking_step("b", marks),
            {"id": "fan", "parallel": fan},
            join
        ]}]
    })
}

fn succeeded(show: &Value) -> Vec<String> {
    states(show)
        .into_iter()
        .filter(|(_, state)| state == "succeeded")
        .map(|(id, _)| id)
        .collect()
}

/// Runs the crash workflow, kills cairn with SIGKILL once `kill_point` holds, resumes it to
/// the end, and checks that no step reported succeeded before the kill ran again.
fn kill_and_resume(kill_point: impl Fn(&BTreeMap<String, String>) -> bool) {
    let scratch = Scratch::new();
    let workflow = scratch.write("crash.json", &crash_workflow(&scratch.marks()));
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let before = scratch.wait_for_show(&mut child, |show| kill_point(&states(show)));
    child.kill().unwrap();
    child.wait().unwrap();
    let done_before_kill = succeeded(&before);
    let run_id = before["id"].as_str().unwrap().to_owned();

    let resumed = scratch.cairn(&["resume", &run_id]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "resume: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );

    let after = scratch.json(&["show", &run_id, "--json"]);
    assert_eq!(after["state"], "succeeded", "{after:#}");
    let executions = scratch.executions();
    for step in &done_before_kill {
        assert_eq!(
            executions.get(step),
            Some(&1),
            "step {step} succeeded before the kill but ran again: {executions:?}"
        );
    }
    for step in ["a", "b", "join"].iter().chain(FAN.iter()) {
        assert!(
            executions.get(*step).is_some_and(|&count| count >= 1),
            "{step} never ran: {executions:?}"
        );
    }
    let expected: serde_json::Map<String, Value> =
        FAN.iter().map(|id| (id.to_string(), json!(id))).collect();
    assert_eq!(after["output"], json!({ "join": expected }));
}

#[test]
fn killed_inside_a_step_resumes_without_rerunning_finished_steps() {
    kill_and_resume(|states| states["b"] == "running");
}

#[test]
fn killed_between_steps_resumes_without_rerunning_finished_steps() {
    kill_and_resume(|states| states["a"] == "succeeded");
}

#[test]
fn killed_during_a_fan_out_resumes_without_rerunning_finished_steps() {
    kill_and_resume(|states| {
        let done = FAN.iter().filter(|id| states[**id] == "succeeded").count();
        let running = FAN.iter().filter(|id| states[**id] == "running").count();
        done >= 2 && running >= 1
    });
}

/// Starts `cairn run` on a one-step workflow whose step waits until `gate` exists (then
/// outputs `"open"`); returns the running cairn and the show output once the step runs.
fn start_gated(scratch: &Scratch, gate: &Path) -> (Child, Value) {
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
    let mut run = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let show = scratch.wait_for_show(&mut run, |show| states(show)["wait"] == "running");
    (run, show)
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
    let loser = loop {
        if let Some(index) = resumes
            .iter_mut()
            .position(|child| child.try_wait().unwrap().is_some())
        {
            break index;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let [a, b] = resumes;
    let (loser, winner) = if loser == 0 { (a, b) } else { (b, a) };
    let loser = loser.wait_with_output().unwrap();
    let message = String::from_utf8_lossy(&loser.stderr);
    assert_eq!(loser.status.code(), Some(2), "{message}");
    assert!(
        message.contains("is being driven by pid") && message.contains("until"),
        "{message}"
    );

    std::fs::write(&gate, "").unwrap();
    let winner = winner.wait_with_output().unwrap();
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
    // created + running + (ready, running, succeeded) per step + succeeded
    assert_eq!(history.as_array().unwrap().len(), 3 + 3 * 10_000);
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
    let stopped = run.wait_with_output().unwrap();
    assert_eq!(
        stopped.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
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
            "limits": {"timeout": "300ms"},
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
            .contains("timed out (limits.timeout = 300ms)"),
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
    let workflow = scratch.write(
        "two.json",
        &json!({
            "name": "two",
            "steps": [
                {"id": "slow", "executor": "sleep", "with": {"duration": "300ms", "output": "slept"}},
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
            !killed.iter().any(|id| show["id"] == id.as_str()) && states(show)["slow"] == "running"
        });
        run.kill().unwrap();
        run.wait().unwrap();
        killed.push(show["id"].as_str().unwrap().to_owned());
    }
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
