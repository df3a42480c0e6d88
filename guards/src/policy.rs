//! The policy file as types (serde + schemars), and loading it: the JSON, its schema, then
//! what the schema cannot say (CEL that parses, reads only `action` and `run` and only the
//! fields they have, calls only functions cairn's CEL has and may be a boolean, `cwd`
//! roots that exist, command prefixes that can match a command, durations that are not zero,
//! rule ids that the guard's own findings do not use, each once, tests expecting a rule a
//! verdict can name), every problem with its JSON pointer. The schema says all that serde
//! would refuse (types, bounds, forms), so a file's problems are named in one go.

use std::path::{Path, PathBuf};

use cairn_engine::{
    Condition, Decision, Duration, ENV_NAME_PATTERN, ID_PATTERN, Problem, evaluate_conditions,
    whole,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{judge, paths};

mod loading;
mod prefixes;
mod test_cases;

pub(crate) use prefixes::escaped_in_messages;
pub use test_cases::{PolicyTest, TestAction, TestRun};

/// The largest count a policy gives (a budget, a test run's), 2^53 - 1: the largest integer
/// every JSON reader holds exactly (an editor's reads numbers as doubles), and more than any
/// run can reach.
const LARGEST_COUNT: u64 = (1 << 53) - 1;

/// The ids of the findings the guard and the engine make themselves (`commands.deny`,
/// `budget.steps`, `guard`, …): a rule may not take one, nor an id under one (`cwd.x`),
/// or its verdicts would pass for theirs.
const BUILT_IN_IDS: [&str; 7] = [
    "commands", "cwd", "env", "input", "budget", "guard", "approval",
];

/// The variables a rule's `when` reads: the action and its run.
pub(crate) const RULE_VARIABLES: [&str; 2] = ["action", "run"];

/// The objects of fixed fields a rule reads, and their fields, as the judge gives them
/// (`Policy::rules` in judge.rs): a rule reading another field of one (`action.exectuor`)
/// would deny every action that reaches it, so it is refused at load. `action.params`,
/// `action.item`, `action.env` and `run.input` are the step's and the run's own JSON: any
/// field may be there.
const FIXED_FIELDS: [(&str, &[&str]); 3] = [
    (
        "action",
        &[
            "executor",
            "step",
            "attempt",
            "item",
            "index",
            "params",
            "commands",
            "dynamic",
            "dynamic_commands",
            "cwd",
            "env",
            "writes",
        ],
    ),
    (
        "run",
        &[
            "id", "workflow", "input", "attempts", "steps", "usage", "elapsed",
        ],
    ),
    ("run.usage", &["input_tokens", "output_tokens", "cost_usd"]),
];

/// The fields of `action` and `run` whose kind of value is always the same, with the kinds,
/// the kinds of the items of its lists (`action.commands[]`, an argument list, and
/// `action.commands[][]`, a word) and of the keys of its maps (`action.params{}`): a rule
/// comparing one with a literal of another kind never decides (probe 51 F2;
/// `action.commands == 'rm'` and `'rm' in action.commands` denied nothing).
const TYPED_FIELDS: [(&str, &[&str]); 26] = [
    ("action.executor", &["a string"]),
    ("action.step", &["a string"]),
    ("action.attempt", &["a number"]),
    ("action.index", &["a number", "null"]),
    ("action.dynamic", &["a boolean"]),
    ("action.cwd", &["a string", "null"]),
    ("action.params", &["a map"]),
    ("action.params{}", &["a string"]),
    ("action.commands", &["a list"]),
    ("action.commands[]", &["a list"]),
    ("action.commands[][]", &["a string"]),
    ("action.dynamic_commands", &["a list"]),
    ("action.dynamic_commands[]", &["a list"]),
    ("action.dynamic_commands[][]", &["a string"]),
    ("action.writes", &["a list"]),
    ("action.writes[]", &["a string"]),
    ("run.id", &["a string"]),
    ("run.workflow", &["a string"]),
    ("run.attempts", &["a number"]),
    ("run.steps", &["a number"]),
    ("run.elapsed", &["a number"]),
    ("run.usage", &["a map"]),
    ("run.usage{}", &["a string"]),
    ("run.usage.input_tokens", &["a number"]),
    ("run.usage.output_tokens", &["a number"]),
    ("run.usage.cost_usd", &["a number"]),
];

/// A policy file: the rules every action of a run is judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The JSON Schema of the file, for editors (`schemas/policy.schema.json`).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `enforce` (default), or `audit`: every action runs and the verdict is only recorded.
    #[serde(default)]
    pub mode: Mode,
    /// The decision when no rule decides (default `allow`).
    #[serde(default = "allow")]
    pub default: Decision,
    /// Token prefixes of the commands that `process` and `agent` actions run.
    #[serde(default)]
    pub commands: Commands,
    /// The directories steps may run in (and redirect to), relative to the policy file's
    /// folder; absent, any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<Vec<PathBuf>>,
    /// The only variable names a step may set (`with.env`, `NAME=value` in scripts);
    /// absent, any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = ENV_NAME_PATTERN)))]
    pub env: Option<Vec<String>>,
    /// Limits per run.
    #[serde(default)]
    pub budgets: Budgets,
    /// At most `max` attempts of `executor` start in any window of `per`.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitRule>,
    /// How approvals wait.
    #[serde(default)]
    pub approval: Approval,
    /// Rules with a CEL condition over `action` and `run`.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Example actions and the decision each must get; run when the policy loads.
    #[serde(default)]
    pub tests: Vec<PolicyTest>,
}

fn allow() -> Decision {
    Decision::Allow
}

/// The empty policy, as a file `{}`: every action is allowed.
impl Default for Policy {
    fn default() -> Self {
        Policy {
            schema: None,
            mode: Mode::default(),
            default: allow(),
            commands: Commands::default(),
            cwd: None,
            env: None,
            budgets: Budgets::default(),
            rate_limits: Vec::new(),
            approval: Approval::default(),
            rules: Vec::new(),
            tests: Vec::new(),
        }
    }
}

/// Whether verdicts are enforced or only recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Denials and approvals take effect.
    #[default]
    Enforce,
    /// Every action runs; what enforce would have decided is recorded.
    Audit,
}

/// Command prefixes: `["git", "push"]` matches `git push --force`, and a program matches by
/// its basename too (`/bin/rm` is `rm`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    /// When present, a command that matches none of these is denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Prefix>")]
    pub allow: Option<Vec<Vec<String>>>,
    /// Commands that need a person's approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<Prefix>")]
    pub approve: Vec<Vec<String>>,
    /// Commands that are denied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<Prefix>")]
    pub deny: Vec<Vec<String>>,
}

/// A command prefix: one token or more, none empty (`[]` or `[""]` would match no command,
/// so a deny written so would deny nothing).
#[derive(JsonSchema)]
#[schemars(transparent)]
#[expect(
    dead_code,
    reason = "only its schema is used: the prefixes are read as `Vec<String>`"
)]
struct Prefix(#[schemars(length(min = 1), inner(length(min = 1)))] Vec<String>);

/// Limits per run; going past one is a deny.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// Attempts started in the run.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    #[schemars(range(min = 1, max = LARGEST_COUNT))]
    pub attempts: Option<u64>,
    /// Steps started in the run.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    #[schemars(range(min = 1, max = LARGEST_COUNT))]
    pub steps: Option<u64>,
    /// US dollars spent by the attempts that ended: more than 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub cost_usd: Option<f64>,
    /// Tokens (input and output) used by the attempts that ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    #[schemars(range(min = 1, max = LARGEST_COUNT))]
    pub tokens: Option<u64>,
    /// Time since the run was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time: Option<Duration>,
}

/// A rate limit of one executor: at most `max` of its attempts start in any window of `per`,
/// counted per run (each run its own starts); under `mode: audit` it holds nothing back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// The executor's name.
    pub executor: String,
    /// Attempts per window.
    #[serde(deserialize_with = "whole::required")]
    #[schemars(range(min = 1, max = u32::MAX))]
    pub max: u32,
    /// The window.
    pub per: Duration,
}

/// How approvals wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// How long a step waits for a person (default 24h).
    #[serde(default = "day")]
    pub timeout: Duration,
    /// What an approval that timed out becomes: `deny`.
    #[serde(default)]
    pub on_timeout: OnTimeout,
}

impl Default for Approval {
    fn default() -> Self {
        Approval {
            timeout: day(),
            on_timeout: OnTimeout::Deny,
        }
    }
}

fn day() -> Duration {
    Duration(std::time::Duration::from_secs(24 * 60 * 60))
}

/// What an approval that timed out becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// The step is denied.
    #[default]
    Deny,
}

/// A rule: when its CEL condition holds, it decides `effect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Its id, shown in verdicts: `A-Z a-z 0-9 _ . -`, as a step's.
    #[schemars(regex(pattern = ID_PATTERN))]
    pub id: String,
    /// What it decides.
    pub effect: Decision,
    /// Why, shown in verdicts.
    #[schemars(length(min = 1))]
    pub reason: String,
    /// A CEL condition over `action` and `run`.
    #[schemars(with = "String")]
    pub when: Condition,
}

/// The JSON Schema of policy files (`schemas/policy.schema.json`).
pub fn schema() -> Value {
    cairn_engine::document_schema::<Policy>()
}

impl Policy {
    /// The executors the policy names that are not among `known`, the executors of the
    /// program that runs it: a rate limit's (`/rate_limits/0/executor`), which would limit
    /// nothing, and a test action's (`/tests/0/action/executor`), which no run could take.
    pub fn unknown_executors(&self, known: &[&str]) -> Vec<Problem> {
        let limits = (self.rate_limits.iter().enumerate())
            .map(|(index, limit)| (format!("/rate_limits/{index}/executor"), &limit.executor));
        let tests = (self.tests.iter().enumerate()).map(|(index, test)| {
            (
                format!("/tests/{index}/action/executor"),
                &test.action.executor,
            )
        });
        (limits.chain(tests))
            .filter(|(_, executor)| !known.contains(&executor.as_str()))
            .map(|(pointer, executor)| {
                let message = format!(
                    "unknown executor `{executor}` (known: {})",
                    known.join(", ")
                );
                Problem::at(pointer, message)
            })
            .collect()
    }

    /// Checks what the schema cannot, and makes the `cwd` roots canonical; `rules_read`
    /// says whether the file's `rules` were read (or set aside for a problem of theirs).
    fn resolve(&mut self, base_dir: &Path, rules_read: bool) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.check_commands(&mut problems);
        self.check_env(&mut problems);
        let before = problems.len();
        for (index, root) in self.cwd.iter_mut().flatten().enumerate() {
            match paths::canonical_dir(&base_dir.join(&*root)) {
                Ok(canonical) => *root = canonical,
                Err(message) => problems.push(Problem::at(format!("/cwd/{index}"), message)),
            }
        }
        if problems.len() == before {
            self.place_tests(&mut problems);
        }
        self.check_limits(&mut problems);
        self.check_rules(&mut problems);
        if rules_read {
            self.check_tests(&mut problems);
        }
        problems
    }

    /// Gives each test action that runs programs the directory it runs in, as if cairn ran in
    /// the first `cwd` root (canonical): that root, or the action's own `with.cwd` taken from
    /// there. Its tests then judge alike wherever cairn runs (cairn's own directory, where a
    /// step without `with.cwd` runs, is not theirs), and again from the snapshot a run stores,
    /// which keeps the root and needs neither the policy file nor its folder.
    fn place_tests(&mut self, problems: &mut Vec<Problem>) {
        let Some(root) = (self.cwd.as_ref()).and_then(|roots| roots.first()) else {
            return; // No roots: directories are not judged; `[]`: every one is outside.
        };
        let placed = (self.tests.iter_mut().enumerate())
            .filter(|(_, test)| judge::runs_programs_by(&test.action.executor))
            .filter_map(|(index, test)| Some((index, test.action.params.as_object_mut()?)));
        for (index, params) in placed {
            let dir = match params.get("cwd") {
                None => root.clone(),
                Some(Value::String(dir)) => root.join(dir),
                Some(_) => continue, // Denied as it is: not a path.
            };
            match dir.to_str() {
                Some(dir) => {
                    params.insert("cwd".to_owned(), Value::String(dir.to_owned()));
                }
                None => {
                    let message = "the directory this test's action runs in has a path that is not UTF-8, which a policy cannot name";
                    problems.push(Problem::at(
                        format!("/tests/{index}/action/params/cwd"),
                        message,
                    ));
                }
            }
        }
    }

    /// No wall time and no approval's timeout is zero, which would deny at once (the schema
    /// keeps the other budgets above zero), and a rate limit's window is not zero, which
    /// would limit nothing.
    fn check_limits(&self, problems: &mut Vec<Problem>) {
        if self.budgets.wall_time.is_some_and(|max| max.0.is_zero()) {
            let message = "a wall time of 0s would deny every action of every run: give a positive duration, or leave the key out for no limit";
            problems.push(Problem::at("/budgets/wall_time", message));
        }
        if self.approval.timeout.0.is_zero() {
            let message =
                "a timeout of 0s would deny every request as it is made: give a positive duration";
            problems.push(Problem::at("/approval/timeout", message));
        }
        for (index, limit) in self.rate_limits.iter().enumerate() {
            if limit.per.0.is_zero() {
                let message = "a window of 0s limits nothing: give a positive duration";
                problems.push(Problem::at(format!("/rate_limits/{index}/per"), message));
            }
        }
    }

    /// Each rule's condition parses and reads only [`RULE_VARIABLES`], and its id is its own.
    fn check_rules(&self, problems: &mut Vec<Problem>) {
        for (index, rule) in self.rules.iter().enumerate() {
            // Verdicts, `cairn history` and `cairn approvals` show it, as they show a
            // denial's, which `cairn deny` refuses blank (probe 67 F5).
            if rule.reason.trim().is_empty() {
                let message = "an empty or blank reason: say why the rule decides as it does";
                problems.push(Problem::at(format!("/rules/{index}/reason"), message));
            }
            let pointer = format!("/rules/{index}/when");
            if let Some(error) = rule.when.error() {
                problems.push(Problem::at(pointer.clone(), error.to_string()));
            }
            let mut reasons = Vec::new();
            reasons.extend(rule.when.unknown_name());
            for (object, fields) in FIXED_FIELDS {
                reasons.extend(rule.when.unknown_fields(object, fields));
            }
            reasons.extend(rule.when.decided_comparisons(&TYPED_FIELDS));
            if let Some(value) = rule.when.surely_not_boolean() {
                reasons.push(format!(
                    "a rule's condition must be true or false, and this one is {value} whatever the action: compare it (`== …`, `> …`)"
                ));
            } else if rule.when.error().is_none()
                && reasons.is_empty()
                && rule.when.is_linear()
                && rule.when.unknown_variables(&[]).is_empty()
                && let [Err(error)] = &evaluate_conditions(&[&rule.when], &[])[..]
            {
                // One that reads no variable is the same for every action: evaluated now (if
                // surely cheap: the load has no time bound), one that fails would deny every
                // action it reaches (`int(1e30) > 0`).
                reasons.push(format!(
                    "it reads no variable, so every action would fail on it: {}",
                    error.reason
                ));
            }
            for reason in reasons {
                problems.push(Problem::at(pointer.clone(), reason));
            }
            for name in rule.when.unknown_variables(&RULE_VARIABLES) {
                let known = RULE_VARIABLES
                    .map(|known| format!("`{known}`"))
                    .join(" and ");
                let message =
                    format!("`{name}` is not a variable a rule can read (it reads only {known})");
                problems.push(Problem::at(pointer.clone(), message));
            }
            if let Some(message) = refused_id(&rule.id) {
                problems.push(Problem::at(format!("/rules/{index}/id"), message));
            } else if self.rules[..index].iter().any(|other| other.id == rule.id) {
                let message = format!("rule id `{}` is used twice", rule.id);
                problems.push(Problem::at(format!("/rules/{index}/id"), message));
            }
        }
    }
}

/// Why a rule may not have the id `id`, if it may not: it is one of [`BUILT_IN_IDS`] or
/// under one (the schema sees to its form, a step id's).
fn refused_id(id: &str) -> Option<String> {
    let built_in = BUILT_IN_IDS.into_iter().find(|built_in| {
        (id.strip_prefix(built_in)).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })?;
    Some(format!(
        "rule id `{id}` is taken by the guard's own findings (`{built_in}` and `{built_in}.…`): a verdict of this rule would pass for theirs; give it an id of its own, such as `my-{id}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems of the policy `text`, one line each (`p.json:/rules/0/id: …`).
    fn refused(text: &str) -> Vec<String> {
        let error = Policy::from_str(text, Path::new("."), "p.json").unwrap_err();
        error.to_string().lines().map(str::to_owned).collect()
    }

    fn with_rule_id(id: &str) -> String {
        let rule = serde_json::json!({"id": id, "effect": "deny", "reason": "x", "when": "true"});
        serde_json::json!({ "rules": [rule] }).to_string()
    }

    #[test]
    fn a_stored_policy_s_tests_need_only_its_first_root_not_its_folder() {
        // The policy lives two folders below its root, as pp/a/b/pol.json with `../..`.
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a/b");
        std::fs::create_dir_all(&folder).unwrap();
        let process = |params: Value| serde_json::json!({"executor": "process", "params": params});
        let text = serde_json::json!({
            "cwd": ["../.."],
            "tests": [
                {"action": process(serde_json::json!({"command": ["ls"]})), "expect": "allow"},
                {"action": process(serde_json::json!({"command": ["ls"], "cwd": "a"})), "expect": "allow"},
            ],
        })
        .to_string();
        let policy = Policy::from_str(&text, &folder, "p.json").unwrap();
        assert!(policy.run_tests().is_empty());
        let snapshot = serde_json::to_string(&policy).unwrap();
        // The policy's folder renamed, its root still there: the snapshot restores and its
        // tests pass, as the root they run in is the same.
        std::fs::rename(&folder, dir.path().join("a/b2")).unwrap();
        let restored = Policy::from_str(&snapshot, Path::new("/"), "snapshot").unwrap();
        let failures: Vec<String> = restored.run_tests().iter().map(|f| f.to_string()).collect();
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn a_policy_kept_outside_its_root_passes_its_allow_tests() {
        // A central policy (its folder outside the root it allows): its tests run in the root.
        let root = tempfile::tempdir().unwrap();
        let central = tempfile::tempdir().unwrap();
        let text = serde_json::json!({
            "cwd": [root.path()],
            "tests": [{"action": {"executor": "process", "params": {"command": ["ls"]}}, "expect": "allow"}],
        })
        .to_string();
        let policy = Policy::from_str(&text, central.path(), "p.json").unwrap();
        let failures: Vec<String> = policy.run_tests().iter().map(|f| f.to_string()).collect();
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn a_test_action_runs_in_the_first_root_wherever_cairn_runs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let process = |params: Value| serde_json::json!({"executor": "process", "params": params});
        let text = serde_json::json!({
            "cwd": ["."],
            "tests": [
                {"action": process(serde_json::json!({"command": ["ls"]})), "expect": "allow"},
                {"action": process(serde_json::json!({"command": ["ls"], "cwd": "sub"})), "expect": "allow"},
                {"action": process(serde_json::json!({"command": ["ls"], "cwd": ".."})), "expect": "deny", "rule": "cwd"},
            ],
        })
        .to_string();
        // The tests run in this crate's folder, outside the policy's root.
        let policy = Policy::from_str(&text, dir.path(), "p.json").unwrap();
        let failures: Vec<String> = policy.run_tests().iter().map(|f| f.to_string()).collect();
        assert!(failures.is_empty(), "{failures:?}");
        // The snapshot a run stores holds the folder: restored anywhere, it judges alike.
        let snapshot = serde_json::to_string(&policy).unwrap();
        let restored = Policy::from_str(&snapshot, Path::new("/"), "snapshot").unwrap();
        assert!(restored.run_tests().is_empty());
    }

    #[test]
    fn a_blank_reason_is_refused_at_load() {
        // Probe 67 F5: verdicts carried a blank reason. An empty one is refused by the
        // schema, which an editor checks too (probe 185 F2).
        for (reason, problem) in [
            (
                " ",
                "an empty or blank reason: say why the rule decides as it does",
            ),
            ("", "\"\" is shorter than 1 character"),
        ] {
            let rule =
                serde_json::json!({"id": "r", "effect": "deny", "reason": reason, "when": "true"});
            let text = serde_json::json!({ "rules": [rule] }).to_string();
            let error = Policy::from_str(&text, Path::new("."), "p.json").unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("p.json:/rules/0/reason: {problem}")
            );
        }
        let reason = &schema()["$defs"]["Rule"]["properties"]["reason"];
        assert_eq!(reason["minLength"], 1);
    }

    fn with_rule_when(when: &str) -> String {
        let rule = serde_json::json!({"id": "r", "effect": "deny", "reason": "x", "when": when});
        serde_json::json!({ "rules": [rule] }).to_string()
    }

    #[test]
    fn a_condition_that_would_fail_every_action_reaching_it_is_refused_at_load() {
        for (when, reason) in [
            (
                "action.executor.frobnicate()",
                "no method `.frobnicate()` in cairn's CEL",
            ),
            (
                "action.step.startWith('deploy')",
                "no method `.startWith()` in cairn's CEL; did you mean `startsWith`?",
            ),
            (
                "action.exectuor == 'process'",
                "`action` has no field `exectuor`: did you mean `action.executor`?",
            ),
            (
                "action['exectuor'] == 'x'",
                "`action` has no field `exectuor`: did you mean `action.executor`?",
            ),
            (
                "action.?exectuor.orValue('') == 'process'",
                "`action` has no field `exectuor`: did you mean `action.executor`?",
            ),
            (
                "action[?'exectuor'].orValue('') == 'process'",
                "`action` has no field `exectuor`: did you mean `action.executor`?",
            ),
            (
                "run.usage.cost_usdd > 1.0",
                "`run.usage` has no field `cost_usdd`: did you mean `run.usage.cost_usd`?",
            ),
            (
                "run.?usage.?cost_usdd.orValue(0.0) > 1.0",
                "`run.usage` has no field `cost_usdd`: did you mean `run.usage.cost_usd`?",
            ),
            (
                "1 + 1",
                "a rule's condition must be true or false, and this one is the value of arithmetic whatever the action: compare it (`== …`, `> …`)",
            ),
            (
                "int(1e30) > 0",
                "it reads no variable, so every action would fail on it: Error executing function 'int': integer overflow",
            ),
            (
                "action.step.matches('(')",
                "`matches` would fail at every call: its pattern `(` is not a regular expression it can compile (unclosed group)",
            ),
            (
                "action.commands.map(c, c[0])",
                "a rule's condition must be true or false, and this one is a list (`map` and `filter` make one) whatever the action: compare it (`== …`, `> …`)",
            ),
        ] {
            assert_eq!(
                refused(&with_rule_when(when)),
                [format!("p.json:/rules/0/when: {reason}")],
                "{when}"
            );
        }
    }

    #[test]
    fn a_condition_reading_the_step_s_and_the_run_s_own_json_loads() {
        for when in [
            "action.params.anything == 1 && has(run.input.target) && action.env.X == ''",
            "action.item.name == 'a' || [1].all(action, action.x > 0)",
            "run.usage.cost_usd > 1.0 && run.elapsed > 60.0 && action.dynamic",
            "action.?executor.orValue('') == 'agent' || run.input[?'target'].hasValue()",
            "run.?usage.?cost_usd.orValue(0.0) > 1.0 && run['usage'].input_tokens > 1",
            "action.executor == 'agent' ? action.attempt > 1 : size(action.commands) > 0",
        ] {
            Policy::from_str(&with_rule_when(when), Path::new("."), "p.json")
                .unwrap_or_else(|error| panic!("{when}: {error}"));
        }
    }

    #[test]
    fn a_rule_id_is_not_empty_and_has_a_step_id_s_form() {
        for id in ["no prod", "a/b", "caf\u{e9}"] {
            assert_eq!(
                refused(&with_rule_id(id)),
                [format!(
                    "p.json:/rules/0/id: id `{id}` may only contain A-Z a-z 0-9 _ . -"
                )]
            );
        }
        assert_eq!(
            refused(&with_rule_id("")),
            ["p.json:/rules/0/id: an id may not be empty: name it with A-Z a-z 0-9 _ . -"]
        );
    }

    #[test]
    fn a_rule_id_may_not_pass_for_the_guard_s_own() {
        for (id, built_in) in [
            ("commands.deny", "commands"),
            ("commands", "commands"),
            ("budget.cost_usd", "budget"),
            ("cwd", "cwd"),
            ("env.x", "env"),
            ("guard", "guard"),
            ("approval", "approval"),
            ("input", "input"),
        ] {
            let problems = refused(&with_rule_id(id));
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with(&format!(
                    "p.json:/rules/0/id: rule id `{id}` is taken by the guard's own findings (`{built_in}` and `{built_in}.…`)"
                )),
                "{problems:?}"
            );
        }
        for id in [
            "no-prod",
            "commands-extra",
            "my-commands.deny",
            "cwd_2",
            "R.1",
        ] {
            Policy::from_str(&with_rule_id(id), Path::new("."), "p.json")
                .unwrap_or_else(|error| panic!("{id}: {error}"));
        }
    }
}
