//! Values nested near the limit through the real binary: a step's output as deep as the
//! loader lets an input be is stored, read back after a kill -9 and the run resumed; a `with`
//! rendered deeper than the limit fails its step.

use std::process::Stdio;

use serde::Deserialize;
use serde_json::{Value, json};

use super::scratch::{Scratch, states, stderr_of, wait_until};

/// `levels` arrays, one inside the other, around `0`.
fn nested(levels: usize) -> Value {
    let mut value = json!(0);
    for _ in 0..levels {
        value = Value::Array(vec![value]);
    }
    value
}

/// The deepest input the loader takes: `{"x": …}` nesting 127 levels in all.
fn deepest_input(scratch: &Scratch) -> String {
    let path = scratch.dir.path().join("input.json");
    std::fs::write(&path, json!({"x": nested(126)}).to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// cairn's JSON, which nests past serde_json's default limit where it shows a deep output.
fn parse(stdout: &[u8]) -> Value {
    let mut deserializer = serde_json::Deserializer::from_slice(stdout);
    deserializer.disable_recursion_limit();
    Value::deserialize(&mut deserializer).unwrap()
}

/// `cairn show RUN --json`, which must succeed.
fn show(scratch: &Scratch, run: &str) -> Value {
    let output = scratch.cairn(&["show", run, "--json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cairn show: {stderr}");
    parse(&output.stdout)
}

#[test]
fn an_output_as_deep_as_the_deepest_input_is_read_back_after_a_kill_and_the_run_resumes() {
    let scratch = Scratch::new();
    let (held, gate) = (scratch.dir.path().join("held"), scratch.gate());
    let workflow = scratch.write(
        "deep.json",
        &json!({"name": "deep", "steps": [{"pipeline": [
            {"id": "a", "executor": "noop", "with": {"output": "${{ input }}"}},
            {"id": "wait", "executor": "process", "with": {
                "command": ["sh", "-c", "touch \"$HELD\"; while [ ! -e \"$GATE\" ]; do sleep 0.02; done; echo '\"open\"'"],
                "env": {"HELD": held.to_str().unwrap(), "GATE": gate.to_str().unwrap()},
                "kill_grace": "100ms"
            }},
            {"id": "c", "executor": "noop", "with": {"output": "${{ steps.a.output }}"}}
        ]}]}),
    );
    let input = deepest_input(&scratch);
    let mut run = scratch
        .command(&["run", workflow.to_str().unwrap(), "--input-file", &input])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The gate step has started: `a` and its output of 127 levels are committed.
    wait_until("the gate step to start", || {
        if let Some(status) = run.try_wait().unwrap() {
            panic!(
                "cairn ended ({status}) before the gate: {}",
                stderr_of(&mut run)
            );
        }
        held.exists()
    });
    let runs: Value = serde_json::from_slice(&scratch.cairn(&["runs", "--json"]).stdout).unwrap();
    let id = runs[0]["id"].as_str().unwrap().to_owned();
    let before = show(&scratch, &id);
    assert_eq!(states(&before)["a"], "succeeded");
    assert_eq!(before["steps"][0]["output"], json!({"x": nested(126)}));

    run.kill().unwrap();
    run.wait().unwrap();
    scratch.open_gate();
    let resumed = scratch.cairn(&["resume", &id]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "cairn resume: {stderr}");

    let after = show(&scratch, &id);
    assert_eq!(after["state"], "succeeded");
    assert_eq!(after["output"], json!({"c": {"x": nested(126)}}));
    let history = scratch.cairn(&["history", &id, "--json"]);
    assert!(history.status.success(), "{history:?}");
}

#[test]
fn a_with_rendered_deeper_than_128_levels_fails_its_step_as_bad_params() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "deeper.json",
        &json!({"name": "deeper", "steps": [
            // The `with` object, two lists and `input.x`'s 126 levels: 129.
            {"id": "a", "executor": "noop", "with": {"output": "${{ [[input.x]] }}"}}
        ]}),
    );
    let input = deepest_input(&scratch);
    let output = scratch.cairn(&[
        "run",
        workflow.to_str().unwrap(),
        "--input-file",
        &input,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = parse(&output.stdout);
    assert_eq!(report["error_class"], "bad_params");
    let shown = show(&scratch, report["id"].as_str().unwrap());
    let error = shown["steps"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("[[input.x]]") && error.contains("nested deeper than 128 levels"),
        "{error}"
    );
}
