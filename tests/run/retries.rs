//! Attempts cut off before they ended — by a crash or a pause — run again without counting
//! against `retry.max_attempts`: a run so interrupted ends as it would have without it. An
//! attempt whose `with` does not render is counted, retried and falls back as an executor's
//! `bad_params` is.

use serde_json::{Value, json};

use super::control::wait_for_file;
use super::scratch::Scratch;
use crate::finish;

/// A step's script that counts its runs in `count` (in the scratch dir, `$DIR`): the first
/// leaves `held` and waits until it is killed, the second fails, the third outputs `"ok"`.
/// It first reads its input to the end: the engine writes it once the step's process group
/// is registered with its reaper, so a kill after `held` never outruns the registration.
const HELD_THEN_FAILS_THEN_OK: &str = "cat > /dev/null; cd \"$DIR\"; \
    n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; \
    if [ $n = 1 ]; then touch held; while :; do sleep 0.02; done; fi; \
    if [ $n = 2 ]; then exit 1; fi; echo '\"ok\"'";

/// A `process` step running `script` with `$DIR` the scratch dir, `max_attempts` 2.
fn retried(scratch: &Scratch, id: &str, script: &str) -> Value {
    json!({"id": id, "executor": "process",
        "with": {"command": ["sh", "-c", script], "env": {"DIR": scratch.dir.path()}},
        "retry": {"max_attempts": 2, "initial_delay": "10ms", "backoff": "fixed"}})
}

/// The `attempt` of `step` in the run's `cairn show --json`.
fn attempts(scratch: &Scratch, run: &str, step: &str) -> Value {
    let show = scratch.json(&["show", run, "--json"]);
    let steps = show["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["id"] == step).unwrap();
    step["attempt"].clone()
}

/// `cairn resume RUN` carries the run on to its success.
fn resumes_to_success(scratch: &Scratch, run: &str) {
    let resumed = scratch.cairn(&["resume", run]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_step_killed_mid_attempt_keeps_its_retries() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "flaky.json",
        &json!({"name": "flaky", "steps": [retried(&scratch, "flaky", HELD_THEN_FAILS_THEN_OK)]}),
    );
    let mut run = scratch.spawn_logged(&workflow);
    let id = wait_for_file(&scratch, &mut run, &scratch.dir.path().join("held"));
    run.kill().unwrap();
    finish(run, "the killed cairn");

    // Attempt 2 fails; attempt 1, cut off by the crash, did not count: attempt 3 runs.
    resumes_to_success(&scratch, &id);
    assert_eq!(attempts(&scratch, &id, "flaky"), 3);
}

#[test]
fn a_pause_of_a_for_each_step_keeps_its_retries() {
    // Each item fails its first run and succeeds after. Without a pause, attempt 1 fails
    // every item and attempt 2 succeeds them all. Item 1's first run holds until the run is
    // paused: items 2 and 3 never start in attempt 1, so they fail their first run in the
    // attempt after the resume, and only a retry left after it lets the run succeed.
    let scratch = Scratch::new();
    let item = "cat > /dev/null; cd \"$DIR\"; i=$CAIRN_ITEM_INDEX; \
        if [ -e ran-$i ]; then echo '\"ok\"'; exit 0; fi; touch ran-$i; \
        if [ $i = 1 ]; then touch held; while [ ! -e open ]; do sleep 0.02; done; fi; exit 1";
    let mut each = retried(&scratch, "each", item);
    each["for_each"] = json!("${{ [0, 1, 2, 3] }}");
    each["max_parallel"] = json!(1);
    let workflow = scratch.write("each.json", &json!({"name": "each", "steps": [each]}));
    let mut run = scratch.spawn_logged(&workflow);
    let dir = scratch.dir.path();
    let id = wait_for_file(&scratch, &mut run, &dir.join("held"));
    assert_eq!(scratch.cairn(&["pause", &id]).status.code(), Some(0));
    scratch.wait_logged(&mut run, "pause asked");
    scratch.open_gate();
    assert_eq!(finish(run, "the paused cairn").status.code(), Some(3));

    resumes_to_success(&scratch, &id);
    assert_eq!(attempts(&scratch, &id, "each"), 3);
    assert!(dir.join("ran-3").exists(), "item 3 ran");
}

#[test]
fn a_with_that_does_not_render_is_retried_as_bad_params_then_falls_back() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "render.json",
        &json!({"name": "render", "steps": [{"id": "a", "executor": "noop",
            "with": {"output": "${{ input.missing }}"},
            "retry": {"max_attempts": 3, "retry_on": ["bad_params"], "initial_delay": "10ms"},
            "fallbacks": [{"output": "fallback ok"}]}]}),
    );
    let id = scratch.run(&workflow, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(show["output"], json!({"a": "fallback ok"}));
    assert_eq!(attempts(&scratch, &id, "a"), 4);

    // Each attempt that did not render is counted and retried, then the fallback runs.
    let history = scratch.json(&["history", &id, "--json"]);
    let events = history.as_array().unwrap();
    let running: Vec<(Value, Value)> = (events.iter())
        .filter(|event| event["step"] == "a" && event["to"] == "running")
        .map(|event| {
            (
                event["attempt"].clone(),
                event["detail"]["fallback"].clone(),
            )
        })
        .collect();
    assert_eq!(
        running,
        [
            (json!(1), Value::Null),
            (json!(2), Value::Null),
            (json!(3), Value::Null),
            (json!(4), json!(1))
        ]
    );
    let failures: Vec<&str> = (events.iter())
        // A failed attempt waits to retry, or is ready at once for a fallback.
        .filter(|event| {
            event["from"] == "running"
                && ["retry_wait", "ready"].contains(&event["to"].as_str().unwrap())
        })
        .map(|event| event["detail"]["error"].as_str().unwrap())
        .collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(
        failures
            .iter()
            .all(|error| error.starts_with("bad_params: `with`")),
        "{failures:?}"
    );
}

#[test]
fn a_fallback_that_does_not_render_is_named_as_the_fallback() {
    let scratch = Scratch::new();
    // Fallback 1 overrides `command` only: `input` is still the step's own, which fails.
    // Fallback 2's own `input` fails; so does each item's `output` of `each`'s fallback.
    let workflow = scratch.write(
        "fallbacks.json",
        &json!({"name": "fallbacks", "steps": [
            {"id": "a", "executor": "process",
             "with": {"command": ["true"], "input": "${{ input.none }}"},
             "fallbacks": [{"command": ["false"]}, {"input": "${{ input.nope }}"}]},
            {"id": "each", "executor": "noop", "for_each": "${{ [1] }}", "needs": [],
             "with": {"output": "${{ item / 0 }}"},
             "fallbacks": [{"output": "n=${{ input.nope + item }}"}]}]}),
    );
    let id = scratch.run(&workflow, &[], 1);
    let history = scratch.json(&["history", &id, "--json"]);
    let errors = |step: &str| {
        let mut errors: Vec<&str> = (history.as_array().unwrap().iter())
            .filter(|event| event["step"] == step)
            .filter_map(|event| event["detail"]["error"].as_str())
            .collect();
        errors.dedup();
        errors
    };
    assert_eq!(
        errors("a"),
        [
            "bad_params: `with`: `input.none`: No such key: none",
            "bad_params: `fallbacks[1]`: `input.nope`: No such key: nope"
        ]
    );
    assert_eq!(
        errors("each"),
        [
            "bad_params: 1 of 1 items failed (0): item 0: `with`: `item / 0`: division by zero \
             of int 1",
            "bad_params: 1 of 1 items failed (0): item 0: `fallbacks[0]`: `input.nope + item`: \
             No such key: nope"
        ]
    );
}
