//! A policy's CEL rules on one action. A rule is linear in what it reads unless it nests
//! loops over the same data (`c.exists(w, c.filter(x, x == w).size() > 1)`) or matches a
//! regular expression (see [`Condition::is_linear`]): the rules up to the first that may not
//! be are judged on the caller's (the engine's) thread; that one and those after it on a
//! thread of their own that the judge waits for at most [`MAX_RULES_TIME`], since a runaway
//! rule must not hold the engine's thread. A rule with no result by then denies the action,
//! and the rules after it are not evaluated.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use cairn_engine::{
    Action, Condition, Decision, ExprError, Facts, SharedJson, Variable, evaluate_conditions_each,
};
use serde_json::{Map, Value, json};

use super::Votes;
use crate::bounded::{Bounded, Pool, RUNAWAYS, Runaways, Stopped};
use crate::command::{Findings, Word};
use crate::paths;
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
        // Nothing of the action is gathered for no rule.
        if self.rules.is_empty() {
            return;
        }
        self.rules_within(
            MAX_RULES_TIME,
            &RUNAWAYS,
            Seen::new(action, facts, checked, cwd),
            votes,
        );
    }

    /// Adds the votes of the rules on what they `seen`, waiting for those that may run away
    /// at most `bound`.
    fn rules_within(
        &self,
        bound: Duration,
        runaways: &'static Runaways,
        seen: Seen<'_>,
        votes: &mut Votes,
    ) {
        let linear = (self.rules.iter())
            .take_while(|rule| rule.when.is_linear())
            .count();
        let mut results = Vec::with_capacity(self.rules.len());
        let here: Vec<&Condition> = self.rules[..linear].iter().map(|rule| &rule.when).collect();
        evaluate_conditions_each(&here, &seen.variables(), |result| results.push(result));
        let stopped = (linear < self.rules.len())
            .then(|| self.bounded_rules(bound, runaways, seen.into_owned(), &mut results))
            .flatten();
        let evaluated = results.len();
        for (rule, result) in self.rules.iter().zip(results) {
            match result {
                // A reason is one line (probe 38 F2: a policy's newline started a line
                // of its own where the request is announced).
                Ok(true) => votes.add(rule.effect, &rule.id, cairn_engine::one_line(&rule.reason)),
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
                         for one, takes the square of its length; a regular expression can be \
                         slow to compile and to match)"
                    }
                    _ => "",
                };
                let reason = format!("rule errored: {stopped}{hint}");
                votes.add(Decision::Deny, &rule.id, reason);
            }
            _ => {}
        }
    }

    /// Evaluates the rules from the `results.len()`th on a pooled thread, adding their
    /// results to `results` as far as they are known within `bound`; why not all are, if not.
    fn bounded_rules(
        &self,
        bound: Duration,
        runaways: &'static Runaways,
        seen: Seen<'static>,
        results: &mut Vec<Result<bool, ExprError>>,
    ) -> Option<Stopped> {
        let conditions: Vec<Condition> = (self.rules[results.len()..].iter())
            .map(|rule| rule.when.clone())
            .collect();
        // Each result as it is known, without waking the judge: told once, when all are.
        let known = Arc::new(Mutex::new(Vec::with_capacity(conditions.len())));
        let sent = Arc::clone(&known);
        let work = move || {
            let conditions: Vec<&Condition> = conditions.iter().collect();
            evaluate_conditions_each(&conditions, &seen.variables(), |result| {
                sent.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(result);
            });
        };
        let stopped = runaways
            .start(&EVALUATORS, bound, work)
            .and_then(Bounded::wait)
            .err();
        results.append(&mut known.lock().unwrap_or_else(PoisonError::into_inner));
        stopped
    }
}

/// What the rules see of an action and its run. The small facts are JSON made for them; the
/// action's parameters and its item are borrowed, and copied ([`Seen::into_owned`]) only for
/// rules judged on a thread of their own, which may outlive the judge's wait; the run's
/// input (maybe big) is shared. Each is converted to CEL only as far as a rule reads it.
struct Seen<'a> {
    action: Value,
    item: Cow<'a, Value>,
    params: Cow<'a, Value>,
    run: Value,
    input: Arc<SharedJson>,
}

impl<'a> Seen<'a> {
    fn new(action: &'a Action, facts: &Facts<'a>, checked: &Findings, cwd: Option<&Path>) -> Self {
        // The commands holding a word known only at run time.
        let dynamic: Vec<&Vec<Word>> = (checked.commands.iter())
            .filter(|command| command.iter().any(|word| matches!(word, Word::Dynamic(_))))
            .collect();
        // Where its redirections write: made canonical from the step's directory when the
        // policy has roots (the guard knows that directory then), else as written.
        let writes: Vec<String> = (checked.writes.iter())
            .map(|target| match (target, cwd) {
                (Word::Literal(path), Some(dir)) => paths::resolved(path, dir)
                    .map_or_else(|| path.clone(), |path| cairn_engine::path_text(&path)),
                _ => target.text().to_owned(),
            })
            .collect();
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
                "dynamic": !dynamic.is_empty(),
                "dynamic_commands": dynamic,
                "cwd": cwd,
                "writes": writes,
            }),
            item: Cow::Borrowed(facts.item.unwrap_or(&Value::Null)),
            params: Cow::Borrowed(&action.params),
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

    /// The same, owning what it borrowed.
    fn into_owned(self) -> Seen<'static> {
        Seen {
            action: self.action,
            item: Cow::Owned(self.item.into_owned()),
            params: Cow::Owned(self.params.into_owned()),
            run: self.run,
            input: self.input,
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
            Seen::new(action, facts, &Findings::default(), None).into_owned()
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
                {"id": "linear", "effect": "deny", "reason": "many words",
                 "when": "action.params.words.size() > 1000"},
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
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0], ("linear".to_owned(), "many words".to_owned()));
        assert_eq!(found[1].0, "quadratic");
        assert!(
            (found[1].1).starts_with("rule errored: it did not finish within 1ms on this action"),
            "{found:?}"
        );
        // Its thread runs on, the most runaways allowed: the next action's rules that may run
        // away do not start, and the guard denies it; the linear rule before them is judged.
        let found = votes(&policy, &RUNAWAYS, json!({"words": words}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, "linear");
        assert_eq!(found[1].0, "guard");
        assert!(found[1].1.contains("it did not start"), "{found:?}");
        // A policy whose rules are all linear needs no thread: it is judged in full.
        let linear = Policy::from_str(
            r#"{"rules": [
                {"id": "rm", "effect": "deny", "reason": "no rm",
                 "when": "action.params.words.exists(w, w == 'rm')"},
                {"id": "many", "effect": "approve", "reason": "many words",
                 "when": "action.params.words.size() > 1"}
            ]}"#,
            Path::new("."),
            "p.json",
        )
        .unwrap();
        let found = votes(&linear, &RUNAWAYS, json!({"words": ["ls", "rm"]}));
        let rules: Vec<&str> = found.iter().map(|(rule, _)| rule.as_str()).collect();
        assert_eq!(rules, ["rm", "many"], "{found:?}");
    }
}
