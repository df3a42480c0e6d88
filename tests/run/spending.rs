//! Spending budgets through the binary: agent attempts side by side hold what they may spend,
//! and an attempt lost with its engine counts what it held.

use std::process::Stdio;

use serde_json::{Value, json};

use super::control::wait_for_file;
use super::guard::{path, policy};
use super::scratch::Scratch;

/// What one answer of the fake claude costs, whatever its cap (a real one stops at it).
const COST: f64 = 0.01358415;

/// A claude step `id` that runs `program` (the fake claude, or a script in front of it),
/// each call of the fake appending `call <--max-budget-usd>` to `calls`.
fn claude_step(id: &str, program: &str, calls: &std::path::Path) -> Value {
    json!({"id": id, "executor": "agent", "with": {
        "cli": "claude", "program": program, "prompt": "What is 6 x 7?",
        "env": {"FAKE_AGENT_CALLS": calls}}})
}

/// How the guard says why a step waits while attempts in flight hold the cost budget.
const WAITS: &str = "budget.cost_usd: waits for an attempt in flight to end";

fn fake_claude() -> String {
    format!("{}/examples/agents/claude", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn claude_attempts_side_by_side_are_never_given_more_of_a_cost_budget_than_is_free() {
    let scratch = Scratch::new();
    let budget = 0.03;
    let policy = policy(&scratch, json!({"budgets": {"cost_usd": budget}}));
    let calls = scratch.dir.path().join("calls");
    let steps: Vec<Value> = (0..6)
        .map(|n| claude_step(&format!("ask{n}"), &fake_claude(), &calls))
        .collect();
    let workflow = scratch.write(
        "wf.json",
        &json!({"name": "agents", "limits": {"max_parallel": 6}, "steps": [{"parallel": steps}]}),
    );
    let args = ["run", path(&workflow), "--json", "--policy", path(&policy)];
    let output = scratch.cairn(&args);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    let run = serde_json::from_slice::<Value>(&output.stdout).unwrap()["id"].to_string();
    let run = run.trim_matches('"');
    // Without a cap of its own, an attempt is given all that is left, so it holds all of it:
    // the others wait for it to end, and each is told what the ones before it left (all six
    // were told $0.03 at once, and spent $0.08, before attempts held what they were given).
    // Each waiting step says so once, though it waits again after each end (probe 84 F5: a
    // step held so looked stuck, nothing said).
    let waits = format!(" stays ready: {WAITS}");
    assert_eq!(said.matches(&waits).count(), 5, "{said}");
    // And recorded once, for `cairn show` and `history`.
    let history = scratch.json(&["history", run, "--json"]);
    let holds = (history.as_array().unwrap().iter())
        .filter(|event| event["from"] == "ready" && event["to"] == "ready")
        .filter(|event| {
            (event["detail"]["waits"].as_str()).is_some_and(|why| why.starts_with(WAITS))
        });
    assert_eq!(holds.count(), 5, "{history}");
    let calls_text = std::fs::read_to_string(&calls).unwrap();
    let told: Vec<&str> = (calls_text.lines())
        .map(|line| line.strip_prefix("call ").unwrap())
        .collect();
    assert_eq!(told, ["0.0300", "0.0164", "0.0028"], "{calls_text}");
    let show = scratch.json(&["show", run, "--json"]);
    let spent = show["usage"]["cost_usd"].as_f64().unwrap();
    assert!((spent - 3.0 * COST).abs() < 1e-9, "{show}");
    let denied: Vec<&Value> = (show["steps"].as_array().unwrap().iter())
        .filter(|step| step["state"] == "denied")
        .collect();
    assert_eq!(denied.len(), 3, "{show}");
    let error = denied[0]["error"].as_str().unwrap();
    assert!(
        error.contains("budget.cost_usd: the run's budget is spent"),
        "{error}"
    );
}

/// A claude program at `dir` that touches `dir/held` and waits for `dir/open` on its first
/// call, then fails (`fails`) or answers as the fake does, as it does on every later call.
fn claude_at_a_gate(dir: &std::path::Path, fails: bool) -> std::path::PathBuf {
    let (gate, held) = (dir.join("open"), dir.join("held"));
    let program = dir.join("claude-at-a-gate");
    let then = if fails { "exit 1" } else { "true" };
    let script = format!(
        "#!/bin/sh\nif [ ! -e {held:?} ]; then touch {held:?}; \
         while [ ! -e {gate:?} ]; do sleep 0.02; done; {then}; fi\nexec {:?} \"$@\"\n",
        fake_claude()
    );
    std::fs::write(&program, script).unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&program, executable).unwrap();
    program
}

/// Runs `first`, uncapped, which holds all of a $0.05 budget while its program waits at a
/// gate, beside `second`, which waits for it: the engine, once `first` is at its gate, and
/// the run's id.
fn second_held_by_first(scratch: &Scratch) -> (std::process::Child, String) {
    let policy = policy(scratch, json!({"budgets": {"cost_usd": 0.05}}));
    let calls = scratch.dir.path().join("calls");
    let program = claude_at_a_gate(scratch.dir.path(), false);
    let first = claude_step("first", program.to_str().unwrap(), &calls);
    let second = claude_step("second", &fake_claude(), &calls);
    let workflow = json!({"name": "agents", "steps": [{"parallel": [first, second]}]});
    run_to_the_gate(scratch, &workflow, &policy)
}

/// Runs `workflow` under `policy` until a program of [`claude_at_a_gate`] is at its gate:
/// the engine, and the run's id.
fn run_to_the_gate(
    scratch: &Scratch,
    workflow: &Value,
    policy: &std::path::Path,
) -> (std::process::Child, String) {
    let workflow = scratch.write("wf.json", workflow);
    let (workflow, policy) = (workflow.to_str().unwrap(), policy.to_str().unwrap());
    let mut child = (scratch.command(&["run", workflow, "--policy", policy]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for_file(scratch, &mut child, &scratch.dir.path().join("held"));
    (child, run)
}

#[test]
fn a_step_the_guard_holds_shows_why_it_waits_until_it_starts() {
    let scratch = Scratch::new();
    let (mut child, run) = second_held_by_first(&scratch);
    // Recorded with `first`'s start, which its program waits behind (probe 84 F5: a step
    // held so showed only as `ready`, as a stuck one does).
    let shown = scratch.cairn(&["show", &run]);
    let text = String::from_utf8_lossy(&shown.stdout);
    let line = text
        .lines()
        .skip_while(|line| !line.starts_with("second"))
        .nth(1);
    let line = line.unwrap_or_default().trim_start();
    assert!(line.starts_with(&format!("waits: {WAITS}")), "{text}");
    let show = scratch.json(&["show", &run, "--json"]);
    let waits = |show: &Value| show["steps"][1]["waits"].as_str().map(str::to_owned);
    assert!(
        waits(&show).is_some_and(|why| why.starts_with(WAITS)),
        "{show}"
    );
    assert_eq!(show["steps"][0]["waits"], Value::Null, "{show}");
    // Once `first` ends, `second` is judged again: a pause asked meanwhile keeps it from
    // starting, and it waits for `cairn resume`, no longer for what was held.
    let paused = scratch.cairn(&["pause", &run]);
    assert_eq!(paused.status.code(), Some(0), "{paused:?}");
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    assert_eq!(
        child.wait().unwrap().code(),
        Some(3),
        "paused once first ended"
    );
    let show = scratch.json(&["show", &run, "--json"]);
    let states = (show["state"].as_str(), show["steps"][1]["state"].as_str());
    assert_eq!(states, (Some("paused"), Some("ready")), "{show}");
    assert_eq!(waits(&show), None, "{show}");
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][1]["state"], "succeeded", "{show}");
    assert_eq!(waits(&show), None, "{show}");
}

#[test]
fn a_step_held_by_an_engine_that_died_shows_no_hold() {
    let scratch = Scratch::new();
    let (mut child, run) = second_held_by_first(&scratch);
    let show = scratch.json(&["show", &run, "--json"]);
    assert!(show["steps"][1]["waits"].is_string(), "{show}");
    child.kill().unwrap();
    child.wait().unwrap();
    // The hold lived in that engine: nothing is in flight now, and the step waits for
    // `cairn resume` (probe 92 F2: it still said "waits for an attempt in flight").
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["state"], "running", "{show}");
    assert_eq!(show["steps"][1]["state"], "ready", "{show}");
    assert_eq!(show["steps"][1]["waits"], Value::Null, "{show}");
    let text = scratch.cairn(&["show", &run]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(!text.contains("waits:"), "{text}");
    // Lets a program the engine's reaper missed go.
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
}

#[test]
fn an_attempt_lost_with_its_engine_counts_what_it_held() {
    let scratch = Scratch::new();
    let policy = policy(&scratch, json!({"budgets": {"cost_usd": 0.05}}));
    let calls = scratch.dir.path().join("calls");
    // The first attempt waits at a gate and never calls claude; the next one does.
    let program = claude_at_a_gate(scratch.dir.path(), true);
    let mut ask = claude_step("ask", program.to_str().unwrap(), &calls);
    ask["with"]["max_budget_usd"] = json!(0.03);
    let workflow = json!({"name": "agents", "steps": [ask]});
    let (mut child, run) = run_to_the_gate(&scratch, &workflow, &policy);
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(scratch.dir.path().join("open"), "").unwrap();
    // Its $0.03 may have been spent: the attempt after it is given the $0.02 left.
    let resumed = crate::output_of(&mut scratch.command(&["resume", &run]), "cairn resume");
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(calls, "call 0.0200\n");
    let show = scratch.json(&["show", &run, "--json"]);
    let spent = show["usage"]["cost_usd"].as_f64().unwrap();
    assert!((spent - (0.03 + COST)).abs() < 1e-9, "{show}");
}

#[test]
fn an_attempt_timed_out_before_it_reports_counts_its_cap_and_its_retries_are_denied() {
    let scratch = Scratch::new();
    let policy = policy(&scratch, json!({"budgets": {"cost_usd": 0.05}}));
    // An agent that never answers: each attempt runs until its timeout.
    let mut ask = json!({"id": "ask", "executor": "agent", "timeout": "1s", "with": {
        "cli": "custom", "prompt": "hi", "command": ["sh", "-c", "sleep 600", "_", "{prompt}"]}});
    ask["retry"] = json!({"max_attempts": 3, "initial_delay": "10ms"});
    let workflow = scratch.write("wf.json", &json!({"name": "agents", "steps": [ask]}));
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    let show = scratch.json(&["show", &run, "--json"]);
    // It held all that was left (nothing caps a custom CLI), and may have spent it.
    assert_eq!(show["usage"]["cost_usd"], 0.05, "{show}");
    let step = &show["steps"][0];
    assert_eq!(step["state"], "denied", "{show}");
    assert_eq!(
        step["attempt"], 1,
        "no retry was given the budget again: {show}"
    );
    let error = step["error"].as_str().unwrap();
    assert!(
        error.contains("budget.cost_usd: the run's budget is spent: $0.05 of $0.05"),
        "{error}"
    );
}

#[test]
fn an_agent_killed_by_a_signal_or_stopped_for_its_output_counts_what_it_held() {
    // Neither reports what it spent (probe 41 F1, F2): counting $0 would give a retry, or the
    // next step, the whole budget again.
    for (script, ended) in [
        ("kill -9 $$", "denied"),
        ("head -c 17000000 /dev/zero", "failed"),
    ] {
        let scratch = Scratch::new();
        let policy = policy(&scratch, json!({"budgets": {"cost_usd": 0.05}}));
        let agent = |id: &str, script: &str| {
            json!({"id": id, "executor": "agent", "with": {
                "cli": "custom", "prompt": "hi", "command": ["sh", "-c", script, "_", "{prompt}"]}})
        };
        let mut ask = agent("ask", script);
        ask["retry"] = json!({"max_attempts": 3, "initial_delay": "10ms"});
        let mut next = agent("next", "echo '{\"result\": \"ok\"}'");
        next["trigger"] = json!("all_done");
        let steps = json!([{"pipeline": [ask, next]}]);
        let workflow = scratch.write("wf.json", &json!({"name": "agents", "steps": steps}));
        let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
        let show = scratch.json(&["show", &run, "--json"]);
        assert_eq!(show["usage"]["cost_usd"], 0.05, "{script}: {show}");
        let (ask, next) = (&show["steps"][0], &show["steps"][1]);
        assert_eq!(ask["state"], ended, "{script}: {show}");
        assert_eq!(ask["attempt"], 1, "{script}: no retry: {show}");
        assert_eq!(next["state"], "denied", "{script}: {show}");
    }
}
