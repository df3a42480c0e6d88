//! The workflow file format: the types a workflow JSON file deserializes into.
//!
//! These types are the single source of truth for the file format: the loader checks files
//! against the JSON Schema generated from them ([`schema`]) before it deserializes them, and
//! the committed one (`schemas/workflow.schema.json`) is that schema with what the loader
//! checks after it, where JSON Schema can say it ([`editor_schema`]). See
//! `docs/workflow-format.md`.

pub(crate) mod duration;
mod editor;
pub(crate) mod tidy;
pub mod whole;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use duration::{Duration, MAX_DURATION};
pub use editor::editor_schema;

use crate::executor::ErrorClass;
use crate::state::StepState;

/// The largest `limits.max_steps` a workflow may ask for.
pub(crate) const MAX_STEPS_CEILING: u64 = 10_000_000;
/// The largest `max_parallel` a workflow may ask for, of the run (`limits`) or of a node.
pub(crate) const MAX_PARALLEL_CEILING: u32 = 100_000;
/// `limits.max_steps` when a workflow says nothing.
pub(crate) const DEFAULT_MAX_STEPS: u64 = 100_000;
/// The largest `limits.max_plan_depth` a workflow may ask for.
pub(crate) const MAX_PLAN_DEPTH_CEILING: u32 = 100_000;
/// `limits.max_plan_depth` when a workflow says nothing: a re-plan loop runs a thousand rounds
/// at most, its ids (one `planner.` longer each round) a few kilobytes long.
pub(crate) const DEFAULT_MAX_PLAN_DEPTH: u32 = 1000;
/// `limits.max_parallel` when a workflow says nothing.
pub(crate) const DEFAULT_MAX_PARALLEL: u32 = 8;
/// The JSON Schema pattern of an environment variable's name in an executor's `with.env`:
/// not empty, and no `=` or NUL (the names a process cannot be given). An executor's
/// parameters schema names it in `propertyNames`, and the loader explains it.
pub const ENV_NAME_PATTERN: &str = "^[^=\\x00]+$";
/// The JSON Schema pattern of a string an executor gives a process, as an argument or a
/// variable's value: no NUL byte (the end of a C string: no process can be given one). An
/// executor's parameters schema names it, and the loader explains it.
pub const NUL_FREE_PATTERN: &str = "^[^\\x00]*$";
/// The key by which an executor's parameters schema says in its own words why a value is
/// refused: beside the keyword that refuses it (`{"minimum": 1, "cairnMessage": "..."}`),
/// the loader gives this message for the value instead of the schema library's.
pub const SCHEMA_MESSAGE_KEY: &str = "cairnMessage";

/// Whether `name` can be an environment variable's name: what [`ENV_NAME_PATTERN`] says,
/// for the executors that check a rendered `with.env` and the guard that judges it.
///
/// ```
/// assert!(cairn_engine::is_env_name("PATH"));
/// assert!(!cairn_engine::is_env_name("BASH_ENV=/tmp/evil") && !cairn_engine::is_env_name(""));
/// ```
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

/// The schema's pattern of ids: a step's or a group's, a guard's rules' and its tests' steps.
pub const ID_PATTERN: &str = r"^[A-Za-z0-9_.\-]+$";

/// Whether `id` has the form of a step's id ([`ID_PATTERN`]): not empty,
/// only ASCII letters, digits, `_`, `.` and `-`. A guard's rule ids have the same form.
///
/// ```
/// assert!(cairn_engine::is_id("build.test-2_a"));
/// assert!(!cairn_engine::is_id("") && !cairn_engine::is_id("a b") && !cairn_engine::is_id("café"));
/// ```
pub fn is_id(id: &str) -> bool {
    !id.is_empty() && (id.bytes()).all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// What is wrong with `id`, which [`is_id`] refuses, in the words of a file's problem; in
/// a planner's plan (`in_plan`), whose ids may not hold `.` either, without it.
pub(crate) fn id_problem(id: &str, in_plan: bool) -> String {
    let allowed = if in_plan {
        "A-Z a-z 0-9 _ -"
    } else {
        "A-Z a-z 0-9 _ . -"
    };
    match id {
        "" => format!("an id may not be empty: name it with {allowed}"),
        _ => format!("id `{id}` may only contain {allowed}"),
    }
}

/// A workflow definition: a named DAG of steps, with defaults and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cairn workflow")]
pub struct Workflow {
    /// The JSON Schema this file follows (for editors); ignored by cairn.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The workflow's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The workflow's version, free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What the workflow does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema the run input must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("type" = ["object", "boolean"]))]
    pub input: Option<Value>,
    /// Settings every step inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// Limits of one run.
    #[serde(default)]
    pub limits: Limits,
    /// When a run counts as stalled, and what to do then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<Stall>,
    /// The top-level nodes. They run side by side, each as soon as its `needs` have succeeded.
    #[schemars(length(min = 1))]
    pub steps: Vec<Node>,
}

impl Workflow {
    /// A workflow of `steps` with nothing else set: what a file with only `name` and `steps`
    /// says. Set the other fields directly, then load it with
    /// [`Engine::load`](crate::Engine::load).
    pub fn new(name: impl Into<String>, steps: Vec<Node>) -> Self {
        Workflow {
            schema: None,
            name: name.into(),
            version: None,
            description: None,
            input: None,
            defaults: Defaults::default(),
            limits: Limits::default(),
            stall: None,
            steps,
        }
    }
}

/// Settings every step inherits unless it sets its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Time limit of one attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// How failed attempts are retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Longest silence (no progress reported) before a running step counts as stalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Duration>,
}

/// Limits of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most steps running at once in the run.
    #[serde(default = "default_max_parallel", deserialize_with = "whole::required")]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_parallel: u32,
    /// Most steps a run may have, counting steps added at run time.
    #[serde(default = "default_max_steps", deserialize_with = "whole::required")]
    #[schemars(range(min = 1, max = 10_000_000))]
    pub max_steps: u64,
    /// Wall-time limit of the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Most plans nested one in another: a planner a plan added, whose plan adds a planner,
    /// and so on (a re-plan loop's rounds).
    #[serde(
        default = "default_max_plan_depth",
        deserialize_with = "whole::required",
        skip_serializing_if = "is_default_plan_depth"
    )]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_plan_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parallel: DEFAULT_MAX_PARALLEL,
            max_steps: DEFAULT_MAX_STEPS,
            timeout: None,
            max_plan_depth: DEFAULT_MAX_PLAN_DEPTH,
        }
    }
}

fn default_max_plan_depth() -> u32 {
    DEFAULT_MAX_PLAN_DEPTH
}

/// Whether `depth` is the default (left out of a workflow's text, which a run's snapshot
/// hashes: the same file hashes as it did before the key was known).
fn is_default_plan_depth(depth: &u32) -> bool {
    *depth == DEFAULT_MAX_PLAN_DEPTH
}

fn default_max_parallel() -> u32 {
    DEFAULT_MAX_PARALLEL
}

fn default_max_steps() -> u64 {
    DEFAULT_MAX_STEPS
}

/// How failed attempts of a step are retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (1 = no retry).
    #[serde(deserialize_with = "whole::required")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_attempts: u32,
    /// How the delay grows between attempts.
    #[serde(default)]
    pub backoff: Backoff,
    /// Delay before the second attempt (default: 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<Duration>,
    /// Upper bound of the delay (default: 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Duration>,
    /// Randomise each delay (between half and all of it) so retries do not move in lockstep.
    #[serde(default)]
    pub jitter: bool,
    /// The error classes that are retried, in place of the default (`exit_code`, `timeout`,
    /// `transient`, `invalid_plan`). Not `cancelled` or `denied`, never retried, nor
    /// `stalled` or `interrupted`, run again by other rules (`on_stall`, a resume).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_on: Vec<ErrorClass>,
}

impl Retry {
    /// Whether a failure of `class` is retried (attempts left aside).
    pub fn retries(&self, class: ErrorClass) -> bool {
        match class {
            _ if class.is_never_retried() => false,
            _ if self.retry_on.is_empty() => class.is_retryable(),
            _ => self.retry_on.contains(&class),
        }
    }
}

/// How the delay between attempts grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// The same delay every time.
    Fixed,
    /// The delay doubles after each attempt.
    #[default]
    Exponential,
}

/// When a run counts as stalled, and what to do then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    /// A run with an attempt running but no transition and no progress for this long is
    /// stalled (time no engine ran is not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_progress: Option<Duration>,
    /// This many consecutive attempts of a step ending with the same error (numbers, times
    /// and temporary paths aside) are a loop.
    #[serde(default = "default_loop_after", deserialize_with = "whole::required")]
    #[schemars(range(min = 2, max = 1000))]
    pub loop_after: u32,
    /// What happens on a stall or a loop, unless the step says otherwise.
    #[serde(default)]
    pub on_stall: OnStall,
}

impl Default for Stall {
    fn default() -> Self {
        Stall {
            no_progress: None,
            loop_after: DEFAULT_LOOP_AFTER,
            on_stall: OnStall::default(),
        }
    }
}

/// `stall.loop_after` when a workflow says nothing.
pub(crate) const DEFAULT_LOOP_AFTER: u32 = 3;

fn default_loop_after() -> u32 {
    DEFAULT_LOOP_AFTER
}

/// The escalation of a stall.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnStall {
    /// Retry the stalled step (a new attempt, counted against `retry.max_attempts`).
    Retry,
    /// Fail the stalled step.
    Fail,
    /// Put the stalled step back to ready and pause the run for a person to look at.
    #[default]
    Pause,
    /// Cancel the run.
    Cancel,
}

/// A node of the workflow: a step (has `executor`) or a group (`pipeline` or `parallel`).
///
/// One object shape serves all three kinds, so that editors complete every key and errors
/// point at the offending key; the loader checks that each node is exactly one kind and
/// carries only the keys of its kind (the schema refuses a step key on a group, whatever its
/// value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = step_keys_off_groups)]
pub struct Node {
    /// The node's id: `A-Z a-z 0-9 _ . -`, unique in the workflow. Required for steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ID_PATTERN))]
    pub id: Option<String>,
    /// Ids of steps or groups that must end before this node starts; by default each must
    /// have succeeded, a step's `trigger` may ask less.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// On a group, most of its steps running at once; on a `for_each` step, most of its items
    /// at once. Refused on any other step.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_parallel: Option<u32>,
    /// A group whose members run one after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<Vec<Node>>,
    /// A group whose members run side by side; it ends when all have ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Vec<Node>>,
    /// The executor that runs this step (`noop`, `sleep`, `process`, `agent`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// The executor's parameters; strings may contain `${{ expr }}` templates.
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub with: Params,
    /// A CEL condition; the step is skipped when it is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// A `${{ expr }}` giving a list: the step runs once per item (`item`, `index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// How failed attempts are retried (default: `defaults.retry`, else one attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Box<Retry>>,
    /// Time limit of one attempt (default: `defaults.timeout`, else none, except an `agent`
    /// step's: its executor's default, 30 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Longest silence before the running step counts as stalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Duration>,
    /// What happens when the step stalls or loops (default: `stall.on_stall`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_stall: Option<OnStall>,
    /// A JSON Schema the step's output must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("type" = ["object", "boolean"]))]
    pub output_schema: Option<Box<Value>>,
    /// Overrides of `with` (another model, another CLI), tried in order once the step's
    /// retries are exhausted; each is one more attempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Params>,
    /// When the step may run once its `needs` have ended (default: all succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// The step is a planner: its output `{"steps": [...]}` adds nodes to the run, to run
    /// after it and before its dependents.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub planner: bool,
}

/// Keys only a step (a leaf) may have, besides `executor`.
pub(crate) const STEP_KEYS: [&str; 11] = [
    "with",
    "when",
    "for_each",
    "retry",
    "timeout",
    "heartbeat",
    "on_stall",
    "output_schema",
    "fallbacks",
    "trigger",
    "planner",
];

/// Refuses [`STEP_KEYS`] on a group (a node with `pipeline` or `parallel` and no
/// `executor`) by their presence, whatever their values: the types cannot, as they read an
/// empty `with` or `planner: false` as no key at all.
fn step_keys_off_groups(schema: &mut schemars::Schema) {
    let refused: serde_json::Map<String, Value> = (STEP_KEYS.iter())
        .map(|key| ((*key).to_owned(), Value::Bool(false)))
        .collect();
    let group = json!({
        "anyOf": [{"required": ["pipeline"]}, {"required": ["parallel"]}],
        "not": {"required": ["executor"]},
    });
    schema.insert("if".into(), group);
    schema.insert("then".into(), json!({ "properties": refused }));
}

/// When a step may run once its `needs` have ended. A step whose trigger is not met is
/// skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Every need succeeded (a failed or skipped need skips the step).
    #[default]
    AllSucceeded,
    /// No need failed: each succeeded or was skipped (a skipped branch can rejoin).
    NoneFailed,
    /// Every need ended, in any way (cleanup).
    AllDone,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::AllSucceeded => "all_succeeded",
            Trigger::NoneFailed => "none_failed",
            Trigger::AllDone => "all_done",
        })
    }
}

impl Trigger {
    /// Whether a need that ended in `state` lets the step run.
    pub fn accepts(self, state: StepState) -> bool {
        match self {
            Trigger::AllSucceeded => state == StepState::Succeeded,
            Trigger::NoneFailed => matches!(state, StepState::Succeeded | StepState::Skipped),
            Trigger::AllDone => state.is_terminal(),
        }
    }

    /// How to get, in cairn, the trigger rule Airflow names `name`, when cairn does not name
    /// it so: a hint for a workflow that gives it (probe 178 F1: `one_failed`, a letter from
    /// `none_failed`, was offered that, its opposite).
    pub(crate) fn airflow_hint(name: &str) -> Option<&'static str> {
        Some(match name {
            "all_success" => "Airflow's `all_success` is `all_succeeded`",
            "none_failed_min_one_success" | "none_failed_or_skipped" => {
                "`none_failed` comes closest (it does not ask for a success)"
            }
            "always" => "`all_done` comes closest (it waits for every need to end)",
            "one_failed" | "all_failed" | "one_success" | "one_done" | "none_skipped"
            | "all_skipped" => {
                "no trigger looks at how some needs ended: `all_done` comes closest (the step \
                 runs once every need ended, however; a need that did not succeed reads `null`, \
                 as a step that printed nothing does)"
            }
            _ => return None,
        })
    }
}

/// What a [`Node`] is, seen through its keys.
#[derive(Debug, Clone, Copy)]
pub enum NodeKind<'a> {
    /// A step run by the named executor.
    Step(&'a str),
    /// Members run one after another.
    Pipeline(&'a [Node]),
    /// Members run side by side.
    Parallel(&'a [Node]),
}

impl Node {
    /// A step `id` run by `executor` with the parameters `with`, e.g.
    /// `Node::step("greet", "noop", [("output", json!("hello"))])`.
    pub fn step<K: Into<String>>(
        id: impl Into<String>,
        executor: impl Into<String>,
        with: impl IntoIterator<Item = (K, Value)>,
    ) -> Node {
        Node {
            id: Some(id.into()),
            executor: Some(executor.into()),
            with: with
                .into_iter()
                .map(|(key, value)| (key.into(), value))
                .collect(),
            ..Node::default()
        }
    }

    /// A group whose `members` run one after another.
    pub fn pipeline(members: Vec<Node>) -> Node {
        Node {
            pipeline: Some(members),
            ..Node::default()
        }
    }

    /// A group whose `members` run side by side.
    pub fn parallel(members: Vec<Node>) -> Node {
        Node {
            parallel: Some(members),
            ..Node::default()
        }
    }

    /// The node's members and their key (`pipeline` or `parallel`) when it is a group, the
    /// pipeline's when it has both (as the plan compiles it; the loader reports it).
    pub(crate) fn group(&self) -> Option<(&'static str, &[Node])> {
        match (&self.pipeline, &self.parallel) {
            (Some(members), _) => Some(("pipeline", members)),
            (None, Some(members)) => Some(("parallel", members)),
            (None, None) => None,
        }
    }

    /// `nodes` and every member of their groups (a node's `pipeline` and `parallel` both,
    /// as written), depth first.
    pub(crate) fn all(nodes: &[Node]) -> impl Iterator<Item = &Node> {
        let mut stack: Vec<&Node> = nodes.iter().rev().collect();
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            for members in [&node.parallel, &node.pipeline].into_iter().flatten() {
                stack.extend(members.iter().rev());
            }
            Some(node)
        })
    }

    /// The node's kind, or `None` when it is not exactly one of step, pipeline or parallel.
    pub fn kind(&self) -> Option<NodeKind<'_>> {
        match (&self.executor, &self.pipeline, &self.parallel) {
            (Some(executor), None, None) => Some(NodeKind::Step(executor)),
            (None, Some(members), None) => Some(NodeKind::Pipeline(members)),
            (None, None, Some(members)) => Some(NodeKind::Parallel(members)),
            _ => None,
        }
    }
}

/// The JSON Schema of workflow files the loader checks a file with first, generated from
/// [`Workflow`] (once): their structure. Editors get [`editor_schema`], which says more of
/// what the loader checks after it.
///
/// Optional keys are written by leaving them out: the schema does not offer `null` for them,
/// so that editors complete real values and a misplaced `null` is caught early.
pub fn schema() -> &'static Value {
    static SCHEMA: std::sync::LazyLock<Value> =
        std::sync::LazyLock::new(crate::load::document_schema::<Workflow>);
    &SCHEMA
}

/// A step's parameters (`with`, each of `fallbacks`): a map from names to JSON values, kept
/// as one vector sorted by name.
///
/// It reads, writes and describes itself exactly as a `BTreeMap<String, Value>` (the same
/// JSON, in the same order, and the same schema), in a fraction of the memory: a
/// `BTreeMap` allocates a node of eleven entries (about 640 bytes) for a single parameter,
/// once per step of a workflow that may have a million.
#[derive(Clone, Default, PartialEq)]
pub struct Params(Vec<(String, Value)>);

impl Params {
    /// Whether there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The parameters, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> + '_ {
        self.0.iter().map(|(key, value)| (key, value))
    }

    /// The value of parameter `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let at = self.find(key).ok()?;
        Some(&self.0[at].1)
    }

    /// Whether there is a parameter `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets parameter `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(name, _)| name.as_str().cmp(key))
    }

    /// Sorts by name; of parameters named twice, the last given is kept (as a map's
    /// `insert` keeps it).
    fn from_unsorted(mut entries: Vec<(String, Value)>) -> Params {
        // A stable sort keeps the order in which same names were given: keep the last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // `dedup_by` keeps the first of equal neighbours and drops the later: each later
        // value moves into the kept entry first.
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        entries.shrink_to_fit();
        Params(entries)
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(entries: I) -> Self {
        let entries = entries.into_iter().map(|(key, value)| (key.into(), value));
        Params::from_unsorted(entries.collect())
    }
}

impl<K: Into<String>> Extend<(K, Value)> for Params {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl From<BTreeMap<String, Value>> for Params {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Params(map.into_iter().collect())
    }
}

impl From<Params> for BTreeMap<String, Value> {
    fn from(params: Params) -> Self {
        params.0.into_iter().collect()
    }
}

impl IntoIterator for Params {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(key, value)| (key, value))
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Params;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Params, A::Error> {
                // Gathered inline first: most steps have a few parameters, and the vector
                // they are kept in is then allocated once, at its size.
                let mut entries = smallvec::SmallVec::<[(String, Value); 4]>::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Params::from_unsorted(entries.into_vec()))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl JsonSchema for Params {
    fn inline_schema() -> bool {
        <BTreeMap<String, Value>>::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <BTreeMap<String, Value>>::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        <BTreeMap<String, Value>>::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <BTreeMap<String, Value>>::json_schema(generator)
    }
}

#[cfg(test)]
mod params_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_read_write_and_describe_themselves_as_a_btreemap() {
        let text = r#"{"b": 1, "a": {"x": [1, "${{ input }}"]}, "c": null, "b": 2}"#;
        let params: Params = serde_json::from_str(text).unwrap();
        let map: BTreeMap<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&params).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(
            params.get("b"),
            Some(&json!(2)),
            "the last of a name twice is kept"
        );
        assert_eq!(BTreeMap::from(params.clone()), map);
        assert_eq!(Params::from(map.clone()), params);
        assert_eq!(format!("{params:?}"), format!("{map:?}"));
        let mut merged = params.clone();
        merged.extend([("a", json!(0)), ("d", json!(4))]);
        let keys: Vec<&String> = merged.iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        assert_eq!(merged.get("a"), Some(&json!(0)));
        assert!(merged.contains_key("d") && !merged.contains_key("e"));
        assert_eq!(
            schemars::schema_for!(Params),
            schemars::schema_for!(BTreeMap<String, Value>)
        );
    }
}
