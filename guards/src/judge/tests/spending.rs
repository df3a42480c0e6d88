//! Spending budgets: what an agent's attempt holds of them while it runs, and when the
//! attempts in flight leave it too little.

use super::*;

fn under(policy: Value) -> Policy {
    Policy::from_str(&policy.to_string(), Path::new("."), "p.json").unwrap()
}

fn usd(cost_usd: f64) -> Usage {
    Usage {
        cost_usd,
        ..Usage::default()
    }
}

fn tokens(count: u64) -> Usage {
    Usage {
        input_tokens: count,
        ..Usage::default()
    }
}

/// The verdict on an agent's action with `params`, `spent` used and `held` in flight.
fn agent(policy: &Policy, params: Value, spent: Usage, held: Usage) -> Verdict {
    judged_in(policy, "agent", params, None, (&spent, &held))
}

fn claude(max_budget_usd: Option<f64>) -> Value {
    let mut params = json!({"cli": "claude", "prompt": "hi"});
    if let Some(max) = max_budget_usd {
        params["max_budget_usd"] = json!(max);
    }
    params
}

#[test]
fn a_claude_attempt_holds_its_cap_and_runs_beside_others_while_it_fits() {
    let policy = under(json!({"budgets": {"cost_usd": 1.0}}));
    // $0.2 spent, $0.4 held: $0.4 is free, and its own $0.3 fits.
    let verdict = agent(&policy, claude(Some(0.3)), usd(0.2), usd(0.4));
    assert_eq!(verdict.decision, Decision::Allow, "{verdict:?}");
    assert_eq!(verdict.reserves, Some(usd(0.3)));
    assert_eq!(verdict.params.unwrap()["max_budget_usd"], 0.3);
    // With nothing held, a cap bigger than what is left is lowered to it.
    let verdict = agent(&policy, claude(Some(5.0)), usd(0.2), Usage::default());
    assert_eq!(verdict.reserves, Some(usd(0.8)));
    assert_eq!(verdict.params.unwrap()["max_budget_usd"], 0.8);
    // Three caps of $0.1 fill $0.3 exactly, whatever the sum's rounding.
    let policy = under(json!({"budgets": {"cost_usd": 0.3}}));
    let verdict = agent(&policy, claude(Some(0.1)), Usage::default(), usd(0.1 + 0.1));
    assert_eq!(verdict.decision, Decision::Allow, "{verdict:?}");
}

#[test]
fn an_attempt_whose_cap_does_not_fit_in_what_is_held_waits() {
    let policy = under(json!({"budgets": {"cost_usd": 1.0}}));
    for (params, needs) in [
        (claude(Some(0.5)), "it needs its cap, $0.5"),
        // Without its own cap, a Claude attempt is given all that is left.
        (claude(None), "it needs its cap, $0.8"),
        (
            json!({"cli": "opencode", "prompt": "hi"}),
            "it needs all that is left (nothing caps it), $0.8",
        ),
    ] {
        let verdict = agent(&policy, params.clone(), usd(0.2), usd(0.4));
        assert!(verdict.held, "{params}: {verdict:?}");
        assert_eq!(verdict.decision, Decision::Deny);
        assert_eq!(verdict.rules, ["budget.cost_usd"]);
        let reason = &verdict.reasons[0];
        assert!(
            reason.starts_with("waits for an attempt in flight to end: $0.8 of $1 is left")
                && reason.contains("attempts in flight hold $0.4")
                && reason.ends_with(needs),
            "{reason}"
        );
        assert_eq!(verdict.reserves, None);
    }
}

#[test]
fn tokens_nothing_caps_so_an_agent_runs_alone_under_a_tokens_budget() {
    let policy = under(json!({"budgets": {"tokens": 1000}}));
    let codex = json!({"cli": "codex", "prompt": "hi"});
    let verdict = agent(&policy, codex.clone(), tokens(400), Usage::default());
    assert_eq!(verdict.decision, Decision::Allow, "{verdict:?}");
    let holds = verdict.reserves.unwrap();
    assert_eq!(
        holds.input_tokens + holds.output_tokens,
        600,
        "all that is left"
    );
    let verdict = agent(&policy, codex, tokens(400), tokens(600));
    assert!(verdict.held, "{verdict:?}");
    assert_eq!(verdict.rules, ["budget.tokens"]);
}

#[test]
fn what_holds_nothing_of_a_budget_is_not_held_by_it() {
    let policy = under(json!({"budgets": {"cost_usd": 1.0}}));
    // Codex reports tokens, never a cost.
    let codex = json!({"cli": "codex", "prompt": "hi"});
    let verdict = agent(&policy, codex, usd(0.2), usd(0.8));
    assert_eq!(verdict.decision, Decision::Allow, "{verdict:?}");
    assert_eq!(verdict.reserves, None);
    // A process spends nothing a budget counts.
    let ls = json!({"command": ["ls"]});
    let verdict = judged_in(&policy, "process", ls, None, (&usd(0.2), &usd(0.8)));
    assert_eq!(
        (verdict.decision, verdict.reserves),
        (Decision::Allow, None)
    );
    // Under `mode: audit` an agent runs as written, holding nothing.
    let audit = under(json!({"mode": "audit", "budgets": {"cost_usd": 1.0}}));
    let verdict = agent(&audit, claude(None), usd(0.2), usd(0.8));
    assert!(!verdict.held, "{verdict:?}");
    assert_eq!(verdict.reserves, None);
    assert_eq!(verdict.params, None);
}

#[test]
fn a_deny_is_not_held_and_a_spent_budget_denies_in_its_own_words() {
    let policy = under(json!({
        "budgets": {"cost_usd": 1.0},
        "rules": [{"id": "no-opencode", "effect": "deny", "reason": "not here",
                   "when": "action.params.cli == 'opencode'"}],
    }));
    let opencode = json!({"cli": "opencode", "prompt": "hi"});
    let verdict = agent(&policy, opencode, usd(0.2), usd(0.4));
    assert!(!verdict.held, "{verdict:?}");
    assert_eq!(verdict.rules, ["no-opencode"]);
    let verdict = agent(&policy, claude(None), usd(1.0), usd(0.4));
    assert!(!verdict.held, "{verdict:?}");
    assert_eq!(verdict.rules, ["budget.cost_usd"]);
    assert!(
        verdict.reasons[0].starts_with("the run's budget is spent: $1 of $1 "),
        "{verdict:?}"
    );
    // Said to the billionth, as costs are summed (probe 81 F1: "$0 of $0.0000000001").
    let tiny = under(json!({"budgets": {"cost_usd": 1e-10}}));
    let verdict = agent(&tiny, claude(None), usd(1e-9), usd(0.4));
    assert!(
        (verdict.reasons[0])
            .starts_with("the run's budget is spent: $0.000000001 of $0.0000000001"),
        "{verdict:?}"
    );
}

#[test]
fn a_cap_that_is_not_a_number_is_denied_as_written_not_replaced_by_all_that_is_left() {
    // Probe 27 F3: a templated cap rendered as "0.05" ran claude with `--max-budget-usd 1.0`.
    let policy = under(json!({"budgets": {"cost_usd": 1.0}}));
    for cap in [json!("0.05"), json!({"x": 1}), json!(null)] {
        let params = json!({"cli": "claude", "prompt": "hi", "max_budget_usd": cap});
        let verdict = agent(&policy, params, Usage::default(), Usage::default());
        assert_eq!(verdict.decision, Decision::Deny, "{cap}: {verdict:?}");
        assert!(
            verdict.params.is_none(),
            "{cap}: rewritten {:?}",
            verdict.params
        );
        assert!(
            verdict
                .reasons
                .iter()
                .any(|reason| reason.contains("max_budget_usd")),
            "{cap}: {verdict:?}"
        );
    }
    // Left out, it is given all that is left.
    let params = json!({"cli": "claude", "prompt": "hi"});
    let verdict = agent(&policy, params, Usage::default(), Usage::default());
    assert_eq!(verdict.params.unwrap()["max_budget_usd"], 1.0);
}

#[test]
fn a_budget_spent_by_a_cost_reported_as_infinite_says_so() {
    // Counted as the largest cost, it printed as `$inf` (probe 42 F9).
    let policy = under(json!({"budgets": {"cost_usd": 0.4}}));
    for spent in [f64::MAX, f64::INFINITY] {
        let verdict = agent(&policy, claude(None), usd(spent), Usage::default());
        assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
        let reason = &verdict.reasons[0];
        assert!(
            reason.contains("spent: a cost reported as infinite, or past any number, of $0.4"),
            "{reason}"
        );
    }
}
