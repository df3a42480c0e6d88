//! Triggers through the real binary: a `when` that skips a branch, a `none_failed` join
//! after it, an `all_done` cleanup after a failure, a default step after a skipped need; and
//! `cairn show --json` of a run wider than a page of outputs; optional reads of a need; a
//! step after a skipped one waiting for what that one waited for.

use serde_json::json;

use super::control::history;
use super::scratch::{Scratch, open_gate, states};

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

#[test]
fn a_step_after_a_skipped_one_waits_for_the_steps_that_one_waited_for() {
    // `x` is skipped, so `m` is skipped at once while `slow` is held at a gate; `r`
    // (all_done) comes after `m`, so after `slow` too, and reads its output (probe p13 F1).
    let scratch = Scratch::new();
    let gate = scratch.marks().join("open");
    let hold = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo '{{\"v\": 1}}'",
        gate.display()
    );
    let workflow = scratch.write(
        "race.json",
        &json!({"name": "race", "steps": [{"pipeline": [
            {"parallel": [
                {"id": "slow", "executor": "process", "with": {"command": ["sh", "-c", hold]}},
                {"id": "x", "executor": "noop", "when": "false"}]},
            {"id": "m", "executor": "noop"},
            {"id": "r", "executor": "noop", "trigger": "all_done",
             "with": {"output": "${{ steps.slow.output }}"}}]}]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let show = scratch.wait_for_show(&mut child, |show| {
        let states = states(show);
        states["slow"] == "running" && states["m"] == "skipped"
    });
    open_gate(&gate);
    assert!(child.wait().unwrap().success());
    assert_eq!(states(&show)["r"], "pending", "{show}");
    let run = show["id"].as_str().unwrap();
    let show = scratch.json(&["show", run, "--json"]);
    let output = |id: &str| {
        let steps = show["steps"].as_array().unwrap();
        let step = steps.iter().find(|step| step["id"] == id).unwrap();
        step["output"].clone()
    };
    assert_eq!(output("slow"), json!({"v": 1}));
    assert_eq!(output("r"), json!({"v": 1}));
    let events = history(&scratch, run);
    let at = |id: &str, to: &str| {
        (events.iter())
            .position(|event| event["step"] == id && event["to"] == to)
            .unwrap_or_else(|| panic!("no {id} -> {to}: {events:#?}"))
    };
    assert!(at("slow", "succeeded") < at("r", "running"), "{events:#?}");
}
