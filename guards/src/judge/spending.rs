//! What an agent's action holds of the run's spending budgets (`cost_usd`, `tokens`) while it
//! runs, so that attempts side by side cannot spend past a budget together: each is judged
//! against what ended *and* what the attempts in flight hold ([`Facts::reserved`]).
//!
//! A Claude attempt holds its cap, `--max-budget-usd`: its own `max_budget_usd` lowered to
//! what is left. Nothing caps the other CLIs' spending, nor any CLI's tokens, so such an
//! attempt holds all that is left: it runs alone among the run's spending attempts. Codex
//! reports tokens and never a cost, so it holds none of a cost budget.

use cairn_engine::{Action, Facts, Usage, decimal_usd};
use serde_json::{Value, json};

use crate::policy::{Mode, Policy};

/// Within this of a dollar, a cap fits in what is left: a sum of caps carries binary
/// rounding noise (`0.1 + 0.2`), and caps are given to the ten-thousandth.
const ROUNDING_USD: f64 = 1e-9;

/// How an action runs under the policy's spending budgets.
#[derive(Debug)]
pub(super) enum Spending {
    /// No spending budget bears on it (not an agent's, `mode: audit`), or one is spent
    /// already: its own rule denies it, in its own words; or its parameters are not the
    /// executor's (a cap that is not a number), which the guard denies as written.
    AsWritten,
    /// It runs holding `reserves`; `capped` is the action with its limit lowered to what it
    /// holds (a Claude attempt under a `cost_usd` budget), which the guard judges.
    Holds {
        capped: Option<Action>,
        reserves: Usage,
    },
    /// What the attempts in flight hold leaves it too little: it waits for one to end. By
    /// rule (the budget) and reason.
    Held(Vec<(&'static str, String)>),
}

impl Policy {
    /// How `action` runs under the spending budgets, given how its run stands.
    pub(super) fn spending(&self, action: &Action, facts: &Facts<'_>) -> Spending {
        let budgets = &self.budgets;
        if action.executor != "agent"
            || self.mode != Mode::Enforce
            || (budgets.cost_usd.is_none() && budgets.tokens.is_none())
        {
            return Spending::AsWritten;
        }
        let Value::Object(params) = &action.params else {
            return Spending::AsWritten; // The executor refuses it; judged as it is.
        };
        // A cap that is not a number (`null` included: a template that rendered none) is
        // the executor's to refuse: judged as written (a cap lowered in its place would run
        // the attempt with all that is left, probes 27 F3 and 30 F5).
        if params
            .get("max_budget_usd")
            .is_some_and(|cap| !cap.is_number())
        {
            return Spending::AsWritten;
        }
        let cli = params.get("cli").and_then(Value::as_str);
        let tokens_used = facts
            .usage
            .input_tokens
            .saturating_add(facts.usage.output_tokens);
        let tokens_held =
            (facts.reserved.input_tokens).saturating_add(facts.reserved.output_tokens);
        let mut reserves = Usage::default();
        let mut capped = None;
        let mut short = Vec::new();
        if let Some(budget) = budgets.cost_usd
            && cli != Some("codex")
        {
            let left = budget - facts.usage.cost_usd;
            if left <= 0.0 {
                return Spending::AsWritten;
            }
            let given = params.get("max_budget_usd").and_then(Value::as_f64);
            let wanted = match given.filter(|_| cli == Some("claude")) {
                Some(given) => given.min(left),
                None => left,
            };
            let held = facts.reserved.cost_usd;
            if held > 0.0 && left - held + ROUNDING_USD < wanted {
                let cap = if cli == Some("claude") {
                    "its cap"
                } else {
                    "all that is left (nothing caps it)"
                };
                short.push((
                    "budget.cost_usd",
                    format!(
                        "waits for an attempt in flight to end: ${} of ${budget} is left, attempts \
                     in flight hold ${}, and it needs {cap}, ${}",
                        decimal_usd(left),
                        decimal_usd(held),
                        decimal_usd(wanted)
                    ),
                ));
            }
            reserves.cost_usd = wanted;
            if cli == Some("claude") {
                let mut params = params.clone();
                params.insert("max_budget_usd".to_owned(), json!(wanted));
                capped = Some(action.with_params(Value::Object(params)));
            }
        }
        if let Some(budget) = budgets.tokens {
            let left = budget.saturating_sub(tokens_used);
            if left == 0 {
                return Spending::AsWritten;
            }
            if tokens_held > 0 {
                short.push((
                    "budget.tokens",
                    format!(
                        "waits for an attempt in flight to end: they hold {tokens_held} of the \
                     {left} tokens left, and nothing caps an agent's tokens: it needs them all"
                    ),
                ));
            }
            reserves.output_tokens = left;
        }
        if short.is_empty() {
            Spending::Holds { capped, reserves }
        } else {
            Spending::Held(short)
        }
    }
}
