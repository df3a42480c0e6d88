//! A policy rule that does not finish: the action is denied once the rules' bound passes, in
//! the rule's name, and the run goes on to its end rather than waiting for the rule.

use serde_json::json;

use super::guard::{path, policy, step, workflow};
use super::scratch::Scratch;

#[test]
fn a_rule_that_runs_away_denies_its_action_within_the_bound_and_the_run_ends() {
    let scratch = Scratch::new();
    // Cubic in the words of a command: over a thousand words, a billion comparisons, far
    // past the bound on any machine. Unbounded, the engine would wait for it (the test's
    // HANG would end it) and renew no lease meanwhile.
    let policy = policy(
        &scratch,
        json!({"rules": [{
            "id": "no-repeats",
            "effect": "deny",
            "reason": "a word repeated",
            "when": "action.commands.exists(c, c.exists(w, c.exists(v, \
                     c.filter(x, x == w && x == v).size() > 1)))"
        }]}),
    );
    let mut spread = step("spread", "echo ran >> \"$MARKS/spread\"", &scratch);
    let command = spread["with"]["command"].as_array_mut().unwrap();
    command.extend((0..1000).map(|word| json!(format!("w{word}"))));
    let workflow = workflow(&scratch, json!([spread]));
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    assert!(
        !scratch.marks().join("spread").exists(),
        "a denied step never runs"
    );
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied", "{show}");
    let history = scratch.json(&["history", &run, "--json"]);
    let denied = (history.as_array().unwrap().iter())
        .find(|event| event["to"] == "denied")
        .expect("the denial is on record");
    let verdict = &denied["detail"]["verdict"];
    assert_eq!(verdict["rules"], json!(["no-repeats"]), "{verdict}");
    let reason = verdict["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("rule errored: it did not finish within 2s on this action"),
        "{reason}"
    );
}
