//! Executors through the real binary: coding-agent presets against the fake CLIs in
//! examples/agents/, usage and cost in `cairn show --json`, and fallbacks.

use serde_json::{Value, json};

use super::agents::fake;
use super::scratch::Scratch;

#[test]
fn agent_presets_run_and_their_usage_lands_in_show() {
    let scratch = Scratch::new();
    let step = |cli: &str| json!({"id": cli, "executor": "agent", "with": {"cli": cli, "program": fake(cli), "prompt": "What is 6 x 7?"}});
    let workflow = scratch.write(
        "agents.json",
        &json!({"name": "agents", "steps": [step("claude"), step("codex"), step("opencode")]}),
    );
    let id = scratch.run(&workflow, &[], 0);

    let show = scratch.json(&["show", &id, "--json"]);
    let mut total = (0, 0, 0.0);
    for step in show["steps"].as_array().unwrap() {
        assert_eq!(step["state"], "succeeded", "{step}");
        assert!(
            step["output"]["text"]
                .as_str()
                .is_some_and(|text| text.contains("42")),
            "{step}"
        );
        let usage = &step["usage"];
        assert!(usage["input_tokens"].as_u64().unwrap() > 0, "{step}");
        assert!(usage["output_tokens"].as_u64().unwrap() > 0, "{step}");
        total.0 += usage["input_tokens"].as_u64().unwrap();
        total.1 += usage["output_tokens"].as_u64().unwrap();
        total.2 += usage["cost_usd"].as_f64().unwrap();
    }
    let claude = &show["steps"][0]["usage"];
    assert_eq!(
        claude,
        &json!({"input_tokens": 4 + 2131 + 14253, "output_tokens": 87, "cost_usd": 0.01358415})
    );
    assert_eq!(show["usage"]["input_tokens"], total.0);
    assert_eq!(show["usage"]["output_tokens"], total.1);
    assert!((show["usage"]["cost_usd"].as_f64().unwrap() - total.2).abs() < 1e-9);
}

#[test]
fn a_fallback_runs_after_retries_are_exhausted_and_is_in_the_history() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "fallback.json",
        &json!({
            "name": "fallback",
            "steps": [{
                "id": "flaky",
                "executor": "process",
                "retry": {"max_attempts": 2, "initial_delay": "10ms", "backoff": "fixed"},
                "with": {"command": ["sh", "-c", "echo plan a failed >&2; exit 3"]},
                "fallbacks": [
                    {"command": ["sh", "-c", "exit 4"]},
                    {"command": ["sh", "-c", "echo '\"plan c\"'"]}
                ]
            }]
        }),
    );
    let id = scratch.run(&workflow, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(show["steps"][0]["attempt"], 4);
    assert_eq!(show["output"], json!({"flaky": "plan c"}));

    let history = scratch.json(&["history", &id, "--json"]);
    let attempts: Vec<(u64, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["step"] == "flaky" && event["to"] == "running")
        .map(|event| {
            (
                event["attempt"].as_u64().unwrap(),
                event["detail"]["fallback"].clone(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Value::Null),
            (2, Value::Null),
            (3, json!(1)),
            (4, json!(2))
        ]
    );
    let failures: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        // A failed attempt waits to retry, or is ready at once for a fallback.
        .filter(|event| {
            event["from"] == "running"
                && ["retry_wait", "ready"].contains(&event["to"].as_str().unwrap())
        })
        .map(|event| event["detail"]["error"].as_str().unwrap())
        .collect();
    assert_eq!(failures.len(), 3);
    assert!(failures[0].contains("plan a failed"), "{failures:?}");
}

#[test]
fn an_output_past_the_cap_fails_the_step_with_a_clear_error() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "big.json",
        &json!({
            "name": "big",
            "steps": [{"id": "flood", "executor": "process",
                       "with": {"command": ["sh", "-c", "head -c 3000 /dev/zero | tr '\\0' a"]}}]
        }),
    );
    let workflow_path = workflow.to_str().unwrap();
    let output = scratch.cairn(&["run", workflow_path, "--json", "--max-output", "1000"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let run_id = report["id"].as_str().unwrap();
    // The engine's error names the cap; the command line's flag is the CLI's hint.
    let show = scratch.json(&["show", run_id, "--json"]);
    let error = show["steps"][0]["error"].as_str().unwrap();
    assert_eq!(
        error,
        "output_too_large: output is 3002 bytes, over the run's cap of 1000 bytes on a \
         step's output (a retry of the run with a bigger cap keeps it)"
    );
    let cairn = scratch.invocation();
    let hint =
        format!("`{cairn} retry {run_id} --max-output BYTES` retries the run with a bigger cap");
    assert!(stderr.contains(&hint), "{stderr}");
    // `cairn show` gives the same hint later, and its JSON the run's error class.
    let shown = scratch.cairn(&["show", run_id]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(&hint), "{shown}");
    assert_eq!(show["error_class"], "output_too_large", "{show}");
    // ... and each step's, read from its error (probe 44 F5).
    assert_eq!(
        show["steps"][0]["error_class"], "output_too_large",
        "{show}"
    );
    assert_eq!(
        scratch.run(&workflow, &[], 0).len(),
        36,
        "the default 1 MiB cap lets it through"
    );
}
