//! A step's error stays readable whatever it quotes: a huge value is named by its start or
//! its size, and the error is kept to 32,768 characters.

use serde_json::json;

use super::scratch::Scratch;

/// A rendered value a parameter or plan check refuses is quoted by its start, not whole, and
/// a step's error is kept to 32,768 characters whatever quotes it (probe 83 F3, F4: a string
/// of 200 KB in `with.duration`, a plan's `executor` or `needs`, or as a `when`'s value made
/// errors of 200-400 KB, stored and printed whole).
#[test]
fn a_huge_rendered_value_makes_no_huge_error() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "huge.json",
        &json!({"name": "huge", "steps": [
            {"id": "when", "executor": "noop", "when": "input.s"},
            {"id": "duration", "executor": "sleep", "with": {"duration": "${{ input.s }}"}},
            {"id": "command", "executor": "process", "with": {"command": "${{ input.s }}"}},
            {"id": "plan", "executor": "noop", "planner": true, "with": {"output":
                "${{ {'steps': [{'id': 'a', 'executor': input.s, 'needs': [input.s]}]} }}"}}
        ]}),
    );
    let input = scratch.write("input.json", &json!({ "s": "B".repeat(200_000) }));
    let id = scratch.run(&workflow, &["--input-file", input.to_str().unwrap()], 1);
    let shown = scratch.json(&["show", &id, "--json"]);
    let errors: Vec<(String, usize)> = (shown["steps"].as_array().unwrap().iter())
        .map(|step| {
            let error = step["error"].as_str().unwrap_or_default();
            (
                step["id"].as_str().unwrap().to_owned(),
                error.chars().count(),
            )
        })
        .collect();
    for (step, chars) in &errors {
        let most = if step == "command" { 32_800 } else { 1_000 };
        assert!(*chars > 0 && *chars < most, "{errors:?}");
    }
}
