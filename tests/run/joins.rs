//! Triggers through the real binary: a `when` that skips a branch, a `none_failed` join
//! after it, an `all_done` cleanup after a failure, a default step after a skipped need; and
//! `cairn show --json` of a run wider than a page of outputs; optional reads of a need.

use serde_json::json;

use super::scratch::{Scratch, states};

#[test]
fn triggers_decide_what_runs_after_skipped_and_failed_needs() {
    let scratch = Scratch::new();
    let workflow = json!({"name": "joins", "steps": [
        {"id": "check", "executor": "noop", "with": {"output": false}},
        {"id": "branch", "executor": "noop", "needs": ["check"], "when": "steps.check.output"},
        {"id": "join", "executor": "noop", "needs": ["check", "branch"], "trigger": "none_failed"},
        {"id": "after_branch", "executor": "noop", "needs": ["branch"]},
        {"id": "broken", "executor": "process", "with": {"command": ["false"]}},
        {"id": "cleanup", "executor": "noop", "needs": ["broken"], "trigger": "all_done"}
    ]});
    let file = scratch.write("joins.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let show = scratch.json(&["show", &id, "--json"]);
    let states = states(&show);
    let expected = [
        ("after_branch", "skipped"),
        ("branch", "skipped"),
        ("broken", "failed"),
        ("check", "succeeded"),
        ("cleanup", "succeeded"),
        ("join", "succeeded"),
    ];
    let expected = expected.map(|(id, state)| (id.to_owned(), state.to_owned()));
    assert_eq!(states, expected.into_iter().collect());
}

#[test]
fn show_prints_every_step_with_its_output_across_pages_of_outputs() {
    let scratch = Scratch::new();
    // More steps than `cairn show --json` reads outputs of at a time (1,000), one of them
    // never run: its output is `null` in the middle of a page.
    let mut steps: Vec<_> = (0..2_100)
        .map(|i| json!({"id": format!("s{i}"), "executor": "noop", "with": {"output": i}}))
        .collect();
    steps[1_500] = json!({"id": "s1500", "executor": "noop", "when": "false"});
    let file = scratch.write("wide.json", &json!({"name": "wide", "steps": steps}));
    let id = scratch.run(&file, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    let steps = show["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2_100);
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["id"], format!("s{i}"), "in plan order");
        let output = if i == 1_500 { json!(null) } else { json!(i) };
        assert_eq!(step["output"], output, "{step}");
    }
    assert_eq!(show["state"], "succeeded");
    assert_eq!(show["output"]["s2099"], 2_099);
}

#[test]
fn a_need_read_optionally_is_in_the_readers_scope() {
    let scratch = Scratch::new();
    let workflow = json!({"name": "optional", "steps": [
        {"id": "a", "executor": "noop", "with": {"output": {"v": 7}}},
        {"id": "b", "executor": "noop", "needs": ["a"],
         "with": {"output": "${{ steps.?a.output.orValue('missing') }}"}},
        {"id": "c", "executor": "noop", "needs": ["a"],
         "with": {"output": "${{ steps[?'a'].output.orValue('missing') }}"}},
        {"id": "d", "executor": "noop", "needs": ["a"], "when": "steps.?a.output.hasValue()"}
    ]});
    let file = scratch.write("optional.json", &workflow);
    let id = scratch.run(&file, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(show["output"]["b"], json!({"v": 7}), "{show}");
    assert_eq!(show["output"]["c"], json!({"v": 7}), "{show}");
    assert_eq!(states(&show)["d"], "succeeded", "{show}");
}
