//! Judging one action: its argv as its executor reads it, an agent under a cost budget.

use std::path::Path;

use cairn_engine::{Action, Decision, Facts, SharedJson, Usage, Uuid, Verdict};
use serde_json::{Value, json};

use crate::policy::Policy;

/// The verdict of `policy` on a `process` action with `params` in a fresh run.
fn judged(policy: &Policy, params: Value) -> Verdict {
    let action = Action {
        run_id: Uuid::nil(),
        step_id: "s".into(),
        item_index: None,
        attempt: 1,
        executor: "process".into(),
        params,
        idempotency_key: "s".into(),
    };
    let facts = Facts {
        item: None,
        id: Uuid::nil(),
        workflow: "w",
        input: &SharedJson::new(json!({})),
        attempts: 0,
        steps: 0,
        usage: &Usage::default(),
        elapsed: std::time::Duration::ZERO,
    };
    policy.judge(&action, &facts)
}

#[test]
fn a_command_the_process_executor_refuses_is_denied_in_its_words() {
    let policy = Policy::from_str("{}", Path::new("."), "p.json").unwrap();
    for (command, message) in [
        (json!(["", "x"]), "`with.command[0]` (the program) is empty"),
        (
            json!([]),
            "`with.command` is empty: it needs at least the program",
        ),
        (json!(["ls", 1]), "`with.command[1]`: invalid type"),
    ] {
        let verdict = judged(&policy, json!({"command": command}));
        assert_eq!(verdict.decision, Decision::Deny, "{command}: {verdict:?}");
        assert_eq!(verdict.rules, ["commands"], "{command}");
        assert!(verdict.reasons[0].starts_with(message), "{verdict:?}");
    }
}

#[test]
fn an_agent_under_a_cost_budget_is_judged_by_the_argv_it_runs_with_its_limit() {
    let limit = "action.commands.exists(c, c.exists(w, w == '--max-budget-usd') && c.exists(w, w == '0.5000')) && action.params.max_budget_usd == 0.5";
    let policy = json!({
        "budgets": {"cost_usd": 2.0},
        "rules": [{"id": "limit-seen", "effect": "approve", "reason": "x", "when": limit}],
        "tests": [
            {"action": {"executor": "agent", "params": {"cli": "claude", "prompt": "hi"}},
             "run": {"cost_usd": 1.5}, "expect": "approve", "rule": "limit-seen"},
            {"action": {"executor": "agent", "params": {"cli": "claude", "prompt": "hi", "max_budget_usd": 0.1}},
             "run": {"cost_usd": 1.5}, "expect": "allow"},
        ],
    });
    let policy = Policy::from_str(&policy.to_string(), Path::new("."), "p.json").unwrap();
    let failures: Vec<String> = policy.run_tests().iter().map(|f| f.to_string()).collect();
    assert!(failures.is_empty(), "{failures:?}");
}
