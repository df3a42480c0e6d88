//! A policy's CEL rules on one action, evaluated on a thread of their own that the judge
//! waits for at most [`MAX_RULES_TIME`]: a rule is linear in what it reads unless it nests
//! comprehensions over one list (`c.exists(w, c.filter(x, x == w).size() > 1)`), and a
//! runaway one must not hold the engine's thread, which renews its leases. A rule with no
//! result by then denies the action, and the rules after it are not evaluated.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use cairn_engine::{
    Action, Condition, Decision, Facts, SharedJson, Variable, evaluate_conditions_each,
};
use serde_json::{Map, Value, json};

use super::Votes;
use crate::bounded::{Bounded, Pool, RUNAWAYS, Runaways, Stopped};
use crate::command::{Findings, Word};
use crate::policy::{Policy, RULE_VARIABLES};

/// How long the judge waits for the rules of one action: over ten thousand times what
/// twenty rules take, and well within a run's lease.
pub(crate) const MAX_RULES_TIME: Duration = Duration::from_secs(2);

/// The threads the rules run on (`cairn-rules`), on a stack of 8 MiB: a condition too big
/// for it runs on a big stack of its own ([`evaluate_conditions_each`]).
static EVALUATORS: Pool = Pool::new("cairn-rules", 8 << 20);

impl Policy {
    /// Adds the votes of the rules on `action`, which runs the commands `checked` found, in
    /// the directory `cwd` (canonical, when the policy has roots).
    pub(super) fn rules(
        &self,
        action: &Action,
        facts: &Facts<'_>,
        checked: &Findings,
        cwd: Option<&Path>,
        votes: &mut Votes,
    ) {
        self.rules_within(
            MAX_RULES_TIME,
            &RUNAWAYS,
            Seen::new(action, facts, checked, cwd),
            votes,
        );
    }

    /// Adds the votes of the rules on what they `seen`, waiting for them at most `bound`.
    fn rules_within(
        &self,
        bound: Duration,
        runaways: &'static Runaways,
        seen: Seen,
        votes: &mut Votes,
    ) {
        if self.rules.is_empty() {
            return;
        }
        let conditions: Vec<Condition> = self.rules.iter().map(|rule| rule.when.clone()).collect();
        // Each result as it is known, without waking the judge: told once, when all are.
        let results = Arc::new(Mutex::new(Vec::with_capacity(conditions.len())));
        let known = Arc::clone(&results);
        let work = move || {
            let conditions: Vec<&Condition> = conditions.iter().collect();
            evaluate_conditions_each(&conditions, &seen.variables(), |result| {
                known
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(result);
            });
        };
        let stopped = runaways
            .start(&EVALUATORS, bound, work)
            .and_then(Bounded::wait)
            .err();
        let results = std::mem::take(&mut *results.lock().unwrap_or_else(PoisonError::into_inner));
        let evaluated = results.len();
        for (rule, result) in self.rules.iter().zip(results) {
            match result {
                Ok(true) => votes.add(rule.effect, &rule.id, &rule.reason),
                Ok(false) => {}
                Err(error) => {
                    votes.add(Decision::Deny, &rule.id, format!("rule errored: {error}"));
                }
            }
        }
        // The first rule without a result denies; those after it are not evaluated. Rules
        // that could not start deny as the guard (no rule is to blame).
        match (stopped, self.rules.get(evaluated)) {
            (Some(stopped @ (Stopped::Busy(_) | Stopped::NotStarted(_))), _) => {
                let reason = format!("the policy's rules were not evaluated: {stopped}");
                votes.add(Decision::Deny, "guard", reason);
            }
            (Some(stopped), Some(rule)) => {
                let hint = match stopped {
                    Stopped::PastBound(_) => {
                        " on this action (a comprehension inside another over one long list, \
                         for one, takes the square of its length)"
                    }
                    _ => "",
                };
                let reason = format!("rule errored: {stopped}{hint}");
                votes.add(Decision::Deny, &rule.id, reason);
            }
            _ => {}
        }
    }
}

/// What the rules see of an action and its run, owned: the rules' thread may outlive the
/// judge's wait. The small facts are JSON made for them; the action's parameters and its
/// item are copied, the run's input (maybe big) shared, and each is converted to CEL only
/// as far as a rule reads it.
struct Seen {
    action: Value,
    item: Value,
    params: Value,
    run: Value,
    input: Arc<SharedJson>,
}

impl Seen {
    fn new(action: &Action, facts: &Facts<'_>, checked: &Findings, cwd: Option<&Path>) -> Seen {
        let dynamic =
            (checked.commands.iter().flatten()).any(|word| matches!(word, Word::Dynamic(_)));
        let cwd = cwd
            .map(Path::to_path_buf)
            .or_else(|| (action.params.get("cwd").and_then(Value::as_str)).map(PathBuf::from));
        Seen {
            action: json!({
                "executor": action.executor,
                "step": action.step_id,
                "attempt": action.attempt,
                "index": action.item_index,
                "commands": checked.commands,
                "dynamic": dynamic,
                "cwd": cwd,
            }),
            item: facts.item.cloned().unwrap_or(Value::Null),
            params: action.params.clone(),
            run: json!({
                "id": facts.id.to_string(),
                "workflow": facts.workflow,
                "attempts": facts.attempts,
                "steps": facts.steps,
                "usage": facts.usage,
                "elapsed": facts.elapsed.as_secs_f64(),
            }),
            input: Arc::clone(facts.input),
        }
    }

    /// `action` and `run`, the names the policy's load lets rules read, in this order.
    fn variables(&self) -> [(&'static str, Variable<'_>); 2] {
        let [action, run] = RULE_VARIABLES;
        let env = self.params.get("env").unwrap_or(&NO_ENV);
        let action_parts = [
            ("item", Variable::Json(&self.item)),
            ("params", Variable::Json(&self.params)),
            ("env", Variable::Json(env)),
        ];
        [
            (action, object_with(&self.action, action_parts)),
            (
                run,
                object_with(&self.run, [("input", Variable::Shared(&self.input))]),
            ),
        ]
    }
}

/// `action.env` of an action without `with.env`: no variables.
static NO_ENV: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));

/// A variable holding the members of the JSON object `object`, and `more`.
fn object_with<'a, const N: usize>(
    object: &'a Value,
    more: [(&'a str, Variable<'a>); N],
) -> Variable<'a> {
    let members = (object.as_object().into_iter().flatten())
        .map(|(name, value)| (name.as_str(), Variable::Json(value)));
    Variable::Object(members.chain(more).collect())
}

#[cfg(test)]
mod tests {
    use cairn_engine::Usage;

    use super::super::tests::in_a_fresh_run;
    use super::*;

    /// The rules' votes on a `process` action with `params`, waited for at most 1 ms.
    fn votes(policy: &Policy, runaways: &'static Runaways, params: Value) -> Vec<(String, String)> {
        let nothing = (&Usage::default(), &Usage::default());
        let seen = in_a_fresh_run("process", params, None, nothing, |action, facts| {
            Seen::new(action, facts, &Findings::default(), None)
        });
        let mut votes = Votes::default();
        policy.rules_within(Duration::from_millis(1), runaways, seen, &mut votes);
        (votes.all.into_iter())
            .map(|vote| (vote.rule, vote.reason))
            .collect()
    }

    #[test]
    fn a_rule_past_the_bound_denies_and_the_rules_after_it_are_not_evaluated() {
        static RUNAWAYS: Runaways = Runaways::new(1);
        let policy = Policy::from_str(
            r#"{"rules": [
                {"id": "quadratic", "effect": "deny", "reason": "a word twice",
                 "when": "action.params.words.exists(w, action.params.words.filter(x, x == w).size() > 1)"},
                {"id": "after", "effect": "deny", "reason": "never evaluated", "when": "true"}
            ]}"#,
            Path::new("."),
            "p.json",
        )
        .unwrap();
        // Four million comparisons: far more than a millisecond on any machine.
        let words: Vec<String> = (0..2000).map(|word| word.to_string()).collect();
        let found = votes(&policy, &RUNAWAYS, json!({"words": words}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "quadratic");
        assert!(
            (found[0].1).starts_with("rule errored: it did not finish within 1ms on this action"),
            "{found:?}"
        );
        // Its thread runs on, the most runaways allowed: the next action's rules do not start,
        // and the first rule denies it.
        let found = votes(&policy, &RUNAWAYS, json!({"words": []}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "guard");
        assert!(found[0].1.contains("it did not start"), "{found:?}");
    }
}
