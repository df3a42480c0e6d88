//! The cap on one step's output is stored with its run: a run killed and resumed is capped
//! as it was started, and a retry given a bigger cap keeps it past a crash too. A `for_each`
//! item is held to it on its own, as it ends.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use super::durable::{HOLD, gates, held};
use super::orphans::wait_gone;
use super::scratch::{Scratch, open_gate, states};

/// Bytes of the big step's output: over the default cap of 1 MiB, under the one given.
const BIG: usize = 1_500_000;
/// The cap given with `--max-output`.
const CAP: &str = "4000000";

/// A one-step workflow: the step waits at the gate, then prints a JSON string of
/// [`BIG`] bytes.
fn big_output(scratch: &Scratch) -> std::path::PathBuf {
    let script = format!("{HOLD}; printf '\"'; head -c {BIG} /dev/zero | tr '\\0' a; printf '\"'");
    let workflow = json!({
        "name": "big",
        "steps": [{
            "id": "big",
            "executor": "process",
            "with": {
                "command": ["sh", "-c", script],
                "env": {"GATES": gates(scratch).to_str().unwrap()}
            }
        }]
    });
    std::fs::create_dir(gates(scratch)).unwrap();
    scratch.write("big.json", &workflow)
}

/// Runs `cairn ARGS` until the big step waits at the gate, kills it with SIGKILL, waits for
/// the step to be gone with it, and opens the gate.
fn kill_at_the_gate(scratch: &Scratch, args: &[&str]) {
    let mut child = (scratch.command(args))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    scratch.wait_for_show(&mut child, |show| {
        held(scratch).contains("big") && states(show)["big"] == "running"
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let pid = std::fs::read_to_string(gates(scratch).join("big.pid")).unwrap();
    wait_gone(pid.trim().parse().unwrap(), Duration::from_secs(60));
    open_gate(&gates(scratch).join("open"));
}

/// `cairn resume RUN` (no `--max-output`) ends the run succeeded with the big output.
fn resumed_to_success(scratch: &Scratch, run: &str) {
    let resumed = scratch.cairn(&["resume", run]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "resume: {stderr}");
    let show = scratch.json(&["show", run, "--json"]);
    assert_eq!(show["state"], "succeeded", "{}", show["error"]);
    let output = show["steps"][0]["output"].as_str().map(str::len);
    assert_eq!(output, Some(BIG));
}

/// The id of the scratch database's only run.
fn only_run(scratch: &Scratch) -> String {
    let runs = scratch.json(&["runs", "--json"]);
    let [run] = runs.as_array().unwrap().as_slice() else {
        panic!("one run: {runs}");
    };
    run["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_run_killed_and_resumed_keeps_the_output_cap_it_started_with() {
    let scratch = Scratch::new();
    let workflow = big_output(&scratch);
    kill_at_the_gate(
        &scratch,
        &["run", workflow.to_str().unwrap(), "--max-output", CAP],
    );
    resumed_to_success(&scratch, &only_run(&scratch));
}

#[test]
fn a_cap_a_retry_was_given_outlasts_a_crash() {
    let scratch = Scratch::new();
    let workflow = big_output(&scratch);
    let open = gates(&scratch).join("open");
    open_gate(&open);
    let run = scratch.run(&workflow, &[], 1);
    let show: Value = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "failed", "{show:#}");
    assert!(
        (show["steps"][0]["error"].as_str()).is_some_and(|error| error.contains("1048576")),
        "over the default cap: {show:#}"
    );
    std::fs::remove_file(&open).unwrap();
    std::fs::remove_file(gates(&scratch).join("big.held")).unwrap();
    kill_at_the_gate(&scratch, &["retry", &run, "--max-output", CAP]);
    resumed_to_success(&scratch, &run);
}

/// `show --json`'s items of the run's first step: (index, state, attempt, output, error).
fn items_of(scratch: &Scratch, run: &str) -> Vec<(u64, String, u64, Value, String)> {
    let show = scratch.json(&["show", run, "--json"]);
    let items = show["steps"][0]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (items.iter())
        .map(|item| {
            (
                item["index"].as_u64().unwrap(),
                item["state"].as_str().unwrap().to_owned(),
                item["attempt"].as_u64().unwrap(),
                item.get("output").cloned().unwrap_or(Value::Null),
                item["error"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_item_over_the_cap_fails_on_its_own_and_a_retry_with_a_bigger_one_runs_it_alone() {
    let scratch = Scratch::new();
    // Item 1 prints a JSON string of 3,002 bytes; the others a 3-byte one.
    let script = "if [ \"$CAIRN_ITEM_INDEX\" = 1 ]; then head -c 3000 /dev/zero | tr '\\0' a; \
                  else echo \"$CAIRN_ITEM_INDEX\"; fi";
    let workflow = scratch.write(
        "items.json",
        &json!({
            "name": "items",
            "steps": [{"id": "each", "executor": "process", "for_each": "${{ [0, 1, 2] }}",
                       "with": {"command": ["sh", "-c", script]}}]
        }),
    );
    let run = scratch.run(&workflow, &["--max-output", "1000"], 1);
    let too_large = "output_too_large: output is 3002 bytes, over the run's cap of 1000 bytes \
                     on an item's output (a retry of the run with a bigger cap keeps it)";
    assert_eq!(
        items_of(&scratch, &run),
        [
            (0, "succeeded".into(), 1, json!(0), String::new()),
            (1, "failed".into(), 1, Value::Null, too_large.to_owned()),
            (2, "succeeded".into(), 1, json!(2), String::new()),
        ],
        "the item over the cap failed as it ended, its output not stored; the others ran"
    );
    let show = scratch.cairn(&["show", &run]);
    let shown = String::from_utf8_lossy(&show.stdout);
    let hint = format!("`{} retry {run} --max-output BYTES`", scratch.invocation());
    assert!(shown.contains(&hint), "{shown}");
    // A bigger cap: the failed item runs again, as its next attempt; the others kept theirs.
    let retried = scratch.cairn(&["retry", &run, "--max-output", "4000"]);
    let stderr = String::from_utf8_lossy(&retried.stderr);
    assert_eq!(retried.status.code(), Some(0), "retry: {stderr}");
    let items = items_of(&scratch, &run);
    let attempts: Vec<_> = (items.iter())
        .map(|(index, state, attempt, _, _)| (*index, state.as_str(), *attempt))
        .collect();
    assert_eq!(
        attempts,
        [
            (0, "succeeded", 1),
            (1, "succeeded", 2),
            (2, "succeeded", 1)
        ]
    );
    assert_eq!(items[1].3.as_str().map(str::len), Some(3000));
}

#[test]
fn items_each_within_the_cap_fail_once_the_steps_list_would_pass_it() {
    let scratch = Scratch::new();
    // Each item prints a JSON string of 402 bytes, one after the other: the list of two is
    // 807 bytes, of three 1,210.
    let script = "head -c 400 /dev/zero | tr '\\0' a";
    let workflow = scratch.write(
        "items.json",
        &json!({
            "name": "items",
            "steps": [{"id": "each", "executor": "process", "for_each": "${{ [0, 1, 2] }}",
                       "max_parallel": 1, "with": {"command": ["sh", "-c", script]}}]
        }),
    );
    let run = scratch.run(&workflow, &["--max-output", "1000"], 1);
    let too_large = "output_too_large: output is 402 bytes; with it the step's list of \
                     outputs would be 1210 bytes (2 succeeded before it: 804 bytes), over the \
                     run's cap of 1000 bytes on a step's output (a retry of the run with a \
                     bigger cap keeps it)";
    let items = items_of(&scratch, &run);
    let ended: Vec<_> = (items.iter())
        .map(|(index, state, _, output, error)| {
            let output = output.as_str().map_or(0, str::len);
            (*index, state.as_str(), output, error.as_str())
        })
        .collect();
    assert_eq!(
        ended,
        [
            (0, "succeeded", 400, ""),
            (1, "succeeded", 400, ""),
            (2, "failed", 0, too_large),
        ],
        "the item that would bring the list over the cap failed, its output not stored"
    );
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(
        show["steps"][0]["error_class"], "output_too_large",
        "{show:#}"
    );
    let retried = scratch.cairn(&["retry", &run, "--max-output", "4000"]);
    let stderr = String::from_utf8_lossy(&retried.stderr);
    assert_eq!(retried.status.code(), Some(0), "retry: {stderr}");
    let attempts: Vec<_> = (items_of(&scratch, &run).into_iter())
        .map(|(index, state, attempt, _, _)| (index, state, attempt))
        .collect();
    assert_eq!(
        attempts,
        [
            (0, "succeeded".into(), 1),
            (1, "succeeded".into(), 1),
            (2, "succeeded".into(), 2)
        ]
    );
}

#[test]
fn a_runs_output_over_the_cap_fails_the_run_and_a_retry_with_a_bigger_one_ends_it() {
    let scratch = Scratch::new();
    // Three sinks, each a JSON string of 402 bytes: 1,206 bytes together.
    let step = |id: &str| {
        json!({"id": id, "executor": "process",
               "with": {"command": ["sh", "-c", "head -c 400 /dev/zero | tr '\\0' a"]}})
    };
    let workflow = scratch.write(
        "sinks.json",
        &json!({"name": "sinks", "steps": [step("a"), step("b"), step("c")]}),
    );
    let run = scratch.run(&workflow, &["--max-output", "1000"], 1);
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(
        (&show["state"], &show["error_class"], &show["output"]),
        (&json!("failed"), &json!("output_too_large"), &Value::Null),
        "{show:#}"
    );
    assert_eq!(
        show["error"],
        "the run's sinks' outputs together are 1206 bytes, over the run's cap of 1000 bytes on \
         a step's output (a retry of the run with a bigger cap keeps it)"
    );
    let states: Vec<_> = (show["steps"].as_array().unwrap().iter())
        .map(|step| step["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded"; 3], "each sink kept its output");
    let shown = String::from_utf8_lossy(&scratch.cairn(&["show", &run]).stdout).into_owned();
    let hint = format!("`{} retry {run} --max-output BYTES`", scratch.invocation());
    assert!(shown.contains(&hint), "{shown}");
    let retried = scratch.cairn(&["retry", &run, "--max-output", "4000"]);
    let stderr = String::from_utf8_lossy(&retried.stderr);
    assert_eq!(retried.status.code(), Some(0), "retry: {stderr}");
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["state"], "succeeded", "{show:#}");
    assert_eq!(show["output"]["c"].as_str().map(str::len), Some(400));
    let attempts: Vec<_> = (show["steps"].as_array().unwrap().iter())
        .map(|step| step["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1; 3], "no sink ran again");
}
