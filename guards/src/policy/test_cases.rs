//! A policy's `tests` as types, and what the schema cannot say of them: the rule a test
//! names is one a verdict can give.

use cairn_engine::{Decision, Duration, ID_PATTERN, Problem, whole};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{LARGEST_COUNT, Policy};

/// The ids of the findings the guard gives itself, which a verdict names beside the policy's
/// rules (`judge.rs`): a test may expect one (`"rule": "commands.deny"`).
const FINDING_IDS: [&str; 12] = [
    "commands",
    "commands.allow",
    "commands.approve",
    "commands.deny",
    "cwd",
    "env",
    "input",
    "budget.attempts",
    "budget.steps",
    "budget.cost_usd",
    "budget.tokens",
    "budget.wall_time",
];

/// An example action and the decision it must get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTest {
    /// The action.
    pub action: TestAction,
    /// How its run stands (default: a fresh run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<TestRun>,
    /// The decision it must get.
    pub expect: Decision,
    /// A rule id that must be among the deciding rules: one of the policy's rules, or a
    /// finding of the guard's own (`commands.deny`, `cwd`, `budget.steps`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// An action in a policy test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestAction {
    /// The executor's name.
    pub executor: String,
    /// The step's `with`, as rendered: an object.
    #[serde(default = "empty_object")]
    #[schemars(with = "Map<String, Value>")]
    pub params: Value,
    /// The step's id (default `test`).
    #[serde(default = "test_step")]
    #[schemars(regex(pattern = ID_PATTERN))]
    pub step: String,
    /// The attempt number, from 1 (default 1).
    #[serde(default = "first", deserialize_with = "whole::required")]
    #[schemars(range(min = 1, max = u32::MAX))]
    pub attempt: u32,
    /// The `for_each` item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// The `for_each` item's index.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    #[schemars(range(max = LARGEST_COUNT))]
    pub index: Option<usize>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn test_step() -> String {
    "test".to_owned()
}

fn first() -> u32 {
    1
}

/// How the run of a test action stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRun {
    /// The workflow's name.
    #[serde(default)]
    pub workflow: String,
    /// The run's input (default `{}`).
    #[serde(default = "empty_object")]
    pub input: Value,
    /// Attempts started so far.
    #[serde(default, deserialize_with = "whole::required")]
    #[schemars(range(max = LARGEST_COUNT))]
    pub attempts: u64,
    /// Steps started so far.
    #[serde(default, deserialize_with = "whole::required")]
    #[schemars(range(max = LARGEST_COUNT))]
    pub steps: u64,
    /// US dollars spent so far.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub cost_usd: f64,
    /// Tokens used so far.
    #[serde(default, deserialize_with = "whole::required")]
    #[schemars(range(max = LARGEST_COUNT))]
    pub tokens: u64,
    /// Time since the run was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<Duration>,
}

impl Default for TestRun {
    fn default() -> Self {
        TestRun {
            workflow: String::new(),
            input: empty_object(),
            attempts: 0,
            steps: 0,
            cost_usd: 0.0,
            tokens: 0,
            elapsed: None,
        }
    }
}

impl Policy {
    /// Each test's `rule` is one a verdict can name, a rule of the policy or a finding of
    /// the guard's own: a misspelt one (`no-prd`) would fail the test with a verdict that
    /// reads as the expected one.
    pub(super) fn check_tests(&self, problems: &mut Vec<Problem>) {
        let rules = self.rules.iter().map(|rule| rule.id.as_str());
        let known: Vec<&str> = rules.chain(FINDING_IDS).collect();
        for (index, test) in self.tests.iter().enumerate() {
            let Some(rule) = test.rule.as_deref().filter(|rule| !known.contains(rule)) else {
                continue;
            };
            let hint = match cairn_engine::closest(rule, known.iter().copied()) {
                Some(meant) => format!(": did you mean `{meant}`?"),
                None => format!(
                    ": name one of the policy's rules ({}) or of the guard's own findings ({})",
                    listed(self.rules.iter().map(|rule| rule.id.as_str())),
                    listed(FINDING_IDS)
                ),
            };
            let message = format!("no rule has the id `{rule}`{hint}");
            problems.push(Problem::at(format!("/tests/{index}/rule"), message));
        }
    }
}

/// `ids` as a list for a message: `` `a`, `b` ``, or `none`.
fn listed<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|id| format!("`{id}`")).collect();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}
