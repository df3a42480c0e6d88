//! A policy's own tests: example actions and the decision each must get.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_engine::{Action, Decision, Facts, SharedJson, Usage, Uuid, Verdict};

use crate::bounded;
use crate::policy::{Policy, PolicyTest, TestAction, TestRun};

/// A policy test that did not get its expected decision.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFailure {
    /// The test's JSON pointer in the policy file (`/tests/2`).
    pub pointer: String,
    /// The decision it expected.
    pub expected: Decision,
    /// The rule id it expected among the deciding rules.
    pub rule: Option<String>,
    /// The verdict it got.
    pub got: Verdict,
}

impl fmt::Display for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = (self.rule.as_ref()).map_or(String::new(), |rule| format!(" by `{rule}`"));
        // A deny because a rule ran past its time bound says nothing of the action: such a
        // test fails even when it expected a deny, and its runaway is named.
        let ran_out = match self
            .got
            .reasons
            .iter()
            .any(|reason| bounded::ran_out(reason))
        {
            true => {
                " by a rule or the command checker running out of time, which says nothing of the action: make it cheaper"
            }
            false => "",
        };
        write!(
            f,
            "expected {}{rule}, got {}{ran_out} ({})",
            self.expected,
            self.got.decision,
            self.got.explain()
        )
    }
}

impl Policy {
    /// Runs the policy's tests; the failures, in file order.
    pub fn run_tests(&self) -> Vec<TestFailure> {
        (self.tests.iter().enumerate())
            .filter_map(|(index, test)| {
                let got = self.judge_test(test);
                let rule_ok = (test.rule.as_ref()).is_none_or(|rule| got.rules.contains(rule));
                let ran_out = got.reasons.iter().any(|reason| bounded::ran_out(reason));
                (got.decision != test.expect || !rule_ok || ran_out).then(|| TestFailure {
                    pointer: format!("/tests/{index}"),
                    expected: test.expect,
                    rule: test.rule.clone(),
                    got,
                })
            })
            .collect()
    }

    fn judge_test(&self, test: &PolicyTest) -> Verdict {
        let run = test.run.clone().unwrap_or_default();
        // As if cairn ran in the first root, where `place_tests` placed the tests.
        let cwd = (self.cwd.as_ref()).and_then(|roots| roots.first());
        self.judge_example(&test.action, run, cwd.map(PathBuf::as_path))
    }

    /// The verdict on the example `action` of a run standing as `run`, judged as if cairn
    /// ran in `cwd`: what a test of the policy gets, and `cairn policy explain` prints.
    pub fn judge_example(
        &self,
        action: &TestAction,
        mut run: TestRun,
        cwd: Option<&Path>,
    ) -> Verdict {
        let input = Arc::new(SharedJson::new(std::mem::take(&mut run.input)));
        let id = Uuid::nil();
        let usage = usage_of(&run);
        let facts = Facts {
            item: action.item.as_ref(),
            id,
            workflow: &run.workflow,
            input: &input,
            attempts: run.attempts,
            steps: run.steps,
            started: action.attempt > 1,
            usage: &usage,
            reserved: &Usage::default(),
            elapsed: run.elapsed.map(|elapsed| elapsed.0).unwrap_or_default(),
            cwd,
        };
        let action = Action {
            run_id: id,
            step_id: action.step.clone(),
            item_index: action.index,
            attempt: action.attempt,
            executor: action.executor.clone(),
            params: action.params.clone(),
            idempotency_key: Action::idempotency_key_for(id, &action.step, action.index),
        };
        self.judge(&action, &facts)
    }
}

fn usage_of(run: &TestRun) -> Usage {
    Usage {
        input_tokens: run.tokens,
        output_tokens: 0,
        cost_usd: run.cost_usd,
    }
}
