//! The cap on one step's output is stored with its run: a run killed and resumed is capped
//! as it was started, and a retry given a bigger cap keeps it past a crash too.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use super::durable::{HOLD, gates, held};
use super::orphans::wait_gone;
use super::scratch::{Scratch, states};

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
    std::fs::write(gates(scratch).join("open"), "").unwrap();
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
    std::fs::write(&open, "").unwrap();
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
