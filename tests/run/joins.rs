//! Triggers through the real binary: a `when` that skips a branch, a `none_failed` join
//! after it, an `all_done` cleanup after a failure, a default step after a skipped need.

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
