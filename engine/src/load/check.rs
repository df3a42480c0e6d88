//! The meaning of a workflow: node kinds, ids, executors, expressions, references, limits.
//! (Unknown `needs` and cycles are found when the plan is compiled; step keys on a group,
//! by the schema.)

use std::borrow::Cow;
use std::fmt::Write as _;

use hashbrown::{HashMap, HashSet};

use super::params::Schemas;
use super::{Problem, Report, closest, known_executors};
use crate::definition::{self, Duration, Node, Retry, Workflow, is_id};
use crate::executor::Executors;
use crate::expr;
use crate::plan::{Plan, StepIndex, for_each_expression_text, steps_read};
use crate::retry;

/// The run a planner's plan is checked for: its plan so far, and the planner.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outer<'a> {
    pub(super) plan: &'a Plan,
    pub(super) planner: StepIndex,
}

/// Checks what the schema cannot; problems go to `report`. For a plan (`outer`), ids are
/// checked with the planner's prefix against the run's, expressions may read the run's
/// steps, `max_steps` counts the run's steps too, and no step is fine. The expressions it
/// evaluates (those that read no variable) share one deadline.
pub(super) fn check(
    workflow: &Workflow,
    executors: &Executors,
    outer: Option<Outer<'_>>,
    report: &mut Report,
) {
    expr::sharing_one_deadline(|| check_each(workflow, executors, outer, report));
}

/// [`check`], its expressions' deadline set.
fn check_each(
    workflow: &Workflow,
    executors: &Executors,
    outer: Option<Outer<'_>>,
    report: &mut Report,
) {
    let mut checker = Checker {
        executors,
        schemas: Schemas::new(executors),
        report,
        outer,
        ids: HashMap::new(),
        references: Vec::new(),
        needs: Vec::new(),
        leaves: 0,
    };
    if workflow.steps.is_empty() && outer.is_none() {
        checker.problem("/steps", "a workflow needs at least one step");
    }
    // `cairn runs` and `run.workflow` show the name: one only blank shows nothing (probe 67
    // F10; control characters are shown escaped).
    if outer.is_none() && workflow.name.trim().is_empty() {
        checker.problem("/name", "a name only blank: name the workflow in words");
    }
    if let Some(retry) = &workflow.defaults.retry {
        checker.retry(retry, "/defaults/retry");
    }
    if let Some(schema) = &workflow.input {
        checker.schema(schema, "/input".into());
    }
    let defaults = &workflow.defaults;
    checker.time_limit(defaults.timeout, "/defaults/timeout".into());
    checker.time_limit(defaults.heartbeat, "/defaults/heartbeat".into());
    checker.time_limit(workflow.limits.timeout, "/limits/timeout".into());
    if let Some(stall) = &workflow.stall {
        checker.time_limit(stall.no_progress, "/stall/no_progress".into());
    }
    let mut pointer = String::from("/steps");
    checker.nodes(&workflow.steps, &mut pointer);
    if outer.is_none() {
        checker.reserved_ids(&workflow.steps);
    }
    checker.references();
    checker.unknown_needs();
    let leaves = checker.leaves;
    let message = match outer {
        // A refused limit (probe 100 F2: `max_steps: 0`) says nothing of the steps.
        None if checker.report.refused("/limits/max_steps") => None,
        None => {
            let max_steps = workflow.limits.max_steps;
            (leaves as u64 > max_steps)
                .then(|| format!("{leaves} steps, more than limits.max_steps ({max_steps})"))
        }
        Some(Outer { plan, .. }) => {
            let (max_steps, run) = (plan.workflow().limits.max_steps, plan.steps().len());
            ((leaves + run) as u64 > max_steps).then(|| {
                format!(
                    "{leaves} steps added to the run's {run}, more than limits.max_steps ({max_steps})"
                )
            })
        }
    };
    if let Some(message) = message {
        checker.problem("/steps", message);
    }
}

/// What a node id names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Named {
    Step,
    Group,
}

struct Checker<'a> {
    executors: &'a Executors,
    /// The executors' parameter schemas.
    schemas: Schemas<'a>,
    report: &'a mut Report,
    outer: Option<Outer<'a>>,
    /// Every id, with what it names and the pointer of its first use.
    ids: HashMap<&'a str, (Named, String)>,
    /// Step ids read by the expressions that parse, but not yet known as another step's
    /// when read: (pointer of the text, pointer of the reading step, ids read).
    references: Vec<(String, String, Vec<String>)>,
    /// The `needs` of the nodes that named an id not known when they were met, with the
    /// node's pointer, checked again once every id is known.
    needs: Vec<(String, &'a [String])>,
    leaves: usize,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.report.semantic(Problem::at(pointer, message));
    }

    fn nodes(&mut self, nodes: &'a [Node], pointer: &mut String) {
        let len = pointer.len();
        for (position, node) in nodes.iter().enumerate() {
            let _ = write!(pointer, "/{position}");
            self.node(node, pointer);
            pointer.truncate(len);
        }
    }

    fn node(&mut self, node: &'a Node, pointer: &mut String) {
        // A need of a node met before it is known already: only the others wait for the end
        // (a chain of 100,000 steps, each needing the one before, keeps none of its pointers).
        if node.needs.iter().any(|need| !self.knows(need)) {
            self.needs.push((pointer.clone(), &node.needs));
        }
        let kinds = [
            ("executor", node.executor.is_some()),
            ("pipeline", node.pipeline.is_some()),
            ("parallel", node.parallel.is_some()),
        ];
        let kinds = kinds
            .iter()
            .filter(|(_, present)| *present)
            .map(|(key, _)| key);
        let count = kinds.clone().count();
        // A kind the schema's check removed (its value, or its key misspelt) was given: its
        // problem is reported there.
        let kind_removed =
            (["executor", "pipeline", "parallel"].iter()).any(|key| self.lost(pointer, key));
        match count {
            0 if kind_removed => {}
            0 => self.problem(
                pointer.clone(),
                "a node needs `executor` (a step) or `pipeline` or `parallel` (a group)",
            ),
            1 => {}
            _ => {
                let found = kinds
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                let message = format!(
                    "a node is one of a step (`executor`), a `pipeline` or a `parallel` group, not several: found {found}"
                );
                self.problem(pointer.clone(), message);
            }
        }
        let named = if node.pipeline.is_some() || node.parallel.is_some() {
            Named::Group
        } else {
            Named::Step
        };
        if let Some(id) = &node.id {
            self.id(id, named, pointer);
        }
        match (&node.pipeline, &node.parallel) {
            (Some(members), _) | (None, Some(members)) => {
                let key = if node.pipeline.is_some() {
                    "pipeline"
                } else {
                    "parallel"
                };
                if members.is_empty() {
                    self.problem(
                        format!("{pointer}/{key}"),
                        format!("an empty {key}: a group needs at least one member"),
                    );
                }
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(key);
                self.nodes(members, pointer);
                pointer.truncate(len);
                if let Some(members) = node.parallel.as_ref().filter(|_| node.pipeline.is_some()) {
                    pointer.push_str("/parallel");
                    self.nodes(members, pointer);
                    pointer.truncate(len);
                }
            }
            (None, None) => self.step(node, pointer),
        }
    }

    fn id(&mut self, id: &'a str, named: Named, pointer: &str) {
        let here = [pointer, "/id"].concat();
        if !is_id(id) {
            self.problem(
                here.clone(),
                definition::id_problem(id, self.outer.is_some()),
            );
        }
        let outer = (self.outer).map(|outer| (outer, outer.plan.namespace(outer.planner) + id));
        if let Some((_, full)) = outer.as_ref().filter(|_| id.contains('.')) {
            // `gen` adding `a.b` and `gen.a` adding `b` would both name `gen.a.b`.
            let message = format!(
                "id `{id}` of a plan may not contain `.`: the run would name it `{full}`, as another planner's plan could; use `-` or `_`"
            );
            self.problem(here.clone(), message);
        }
        if let Some((_, first)) = self.ids.get(id) {
            let message = format!("duplicate id `{id}`: already used at {first}");
            self.problem(here, message);
        } else if let Some((outer, full)) = outer.filter(|(outer, full)| outer.plan.has_id(full)) {
            // No other planner, and no step of the file, can give an id in this
            // planner's namespace (see `reserved_ids`): its own earlier plan did, which a
            // redrive from the planner supersedes first, so only a plan still in force.
            let planner = &outer.plan.steps()[outer.planner].id;
            let message =
                format!("duplicate id `{full}`: an earlier plan of `{planner}` in force added it");
            self.problem(here, message);
        } else {
            self.ids.insert(id, (named, here));
        }
    }

    /// Refuses the ids that start with a planner's id and a dot: the steps of its plan
    /// are named so.
    fn reserved_ids(&mut self, nodes: &[Node]) {
        let found: HashSet<&str> = (Node::all(nodes).filter(|node| node.planner))
            .filter_map(|node| node.id.as_deref())
            .collect();
        if found.is_empty() {
            return;
        }
        let mut reserved = Vec::new();
        for (id, (_, pointer)) in &self.ids {
            let prefixes = id.match_indices('.').map(|(dot, _)| &id[..dot]);
            if let Some(planner) = prefixes.into_iter().find(|prefix| found.contains(*prefix)) {
                let message = format!(
                    "id `{id}` starts with `{planner}.`, which names the steps of the plan of planner `{planner}`; rename it"
                );
                reserved.push((pointer.clone(), message));
            }
        }
        for (pointer, message) in reserved {
            self.problem(pointer, message);
        }
    }

    /// Whether the node at `pointer` was given `key` but lost it to the schema's check: its
    /// value was refused, or a key refused as unknown is likely a typo of it. What follows
    /// from the key's absence is then no news.
    fn lost(&self, pointer: &str, key: &str) -> bool {
        self.report.lost(key).any(|node| node == pointer)
    }

    /// Checks a step, or a node of no kind, which gets only the checks of what it has: it
    /// may have been meant as a group (its problem is reported by [`Checker::node`]).
    fn step(&mut self, node: &'a Node, pointer: &str) {
        self.leaves += 1;
        let is_step = node.executor.is_some();
        if node.id.is_none() && is_step && !self.lost(pointer, "id") {
            self.problem(pointer, "a step needs an `id`");
        }
        if node.planner && node.for_each.is_some() {
            let message = "a planner step has no `for_each`: its output is one plan";
            self.problem(format!("{pointer}/for_each"), message);
        }
        // A `for_each` lost to a typo made the step one: what it reads is its items'.
        let for_each = node.for_each.is_some() || self.lost(pointer, "for_each");
        if node.max_parallel.is_some() && !for_each && is_step {
            let message = "`max_parallel` on a step limits its `for_each` items, and this step has none (a group's `max_parallel` or `limits.max_parallel` limits steps)";
            self.problem(format!("{pointer}/max_parallel"), message);
        }
        if let Some(executor) = &node.executor {
            if self.executors.contains_key(executor) {
                // A `with` lost to a typo (`wiht`) is told there, not as the keys it lacks.
                if !self.lost(pointer, "with") {
                    let problems =
                        (self.schemas).check(executor, &node.with, &node.fallbacks, pointer);
                    for problem in problems {
                        self.report.semantic(problem);
                    }
                }
            } else {
                let names = self.executors.keys().map(String::as_str);
                let hint = match closest(executor, names) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => known_executors(self.executors),
                };
                self.problem(
                    format!("{pointer}/executor"),
                    format!("unknown executor `{}` ({hint})", expr::shortened(executor)),
                );
            }
        }
        // Whether `when` and `for_each` parse (what an expression that does not reads is moot).
        let mut when_parses = true;
        if let Some(when) = &node.when {
            match expr::check_when(when) {
                Ok(()) => {}
                // (A `${{` in a string literal of an expression that parses is text, probe
                // 35 F8.)
                Err(_) if expr::find_open(when).is_some() => self.problem(
                    format!("{pointer}/when"),
                    "`when` is a bare CEL expression: write it without `${{ }}`",
                ),
                Err(problem) => {
                    self.problem(format!("{pointer}/when"), problem);
                    when_parses = false;
                }
            }
        }
        let mut for_each_parses = true;
        if let Some(for_each) = &node.for_each {
            // Only a lone template renders as a list: with text around it, even a space, it
            // renders as a string.
            match expr::lone_expression(for_each) {
                None => {
                    let message = match expr::lone_expression(for_each.trim()) {
                        Some(_) => {
                            "`for_each` must be one `${{ expr }}` giving a list, with nothing around it: remove the whitespace before or after it".to_owned()
                        }
                        // As in `with` (probe 35 F9).
                        None => {
                            let reason = expr::template_form_error(for_each).unwrap_or_else(|| {
                                match expr::find_open(for_each) {
                                    Some(_) => "with text around it or another `${{ }}`, it renders as a string".to_owned(),
                                    None => "a list is written as one: `${{ [1, 2] }}`".to_owned(),
                                }
                            });
                            format!("`for_each` must be one `${{{{ expr }}}}` giving a list: {reason}")
                        }
                    };
                    self.problem(format!("{pointer}/for_each"), message);
                }
                Some(expression) => {
                    if let Err(problem) = expr::check_for_each(expression) {
                        self.problem(format!("{pointer}/for_each"), problem);
                        for_each_parses = false;
                    }
                }
            }
        }
        if let Some(retry) = &node.retry {
            self.retry(retry, &format!("{pointer}/retry"));
        }
        if let Some(schema) = &node.output_schema {
            self.schema(schema, format!("{pointer}/output_schema"));
        }
        self.time_limit(node.timeout, format!("{pointer}/timeout"));
        self.time_limit(node.heartbeat, format!("{pointer}/heartbeat"));
        // The templates of `with` and `fallbacks` are checked, and the steps every
        // expression that parses reads noted, in one walk. Only these templates read the
        // item of a `for_each` step.
        let params_read: &[&str] = match for_each {
            true => &expr::ITEM_VARIABLES,
            false => &expr::VARIABLES,
        };
        let (report, references, ids) = (&mut *self.report, &mut self.references, &self.ids);
        for_each_expression_text(node, |suffix, text| {
            let parses = match suffix {
                "/when" => when_parses,
                "/for_each" => for_each_parses,
                _ => expr::check_template(text, params_read)
                    .map_err(|error| {
                        report
                            .semantic(Problem::at(format!("{pointer}{suffix}"), error.to_string()));
                    })
                    .is_ok(),
            };
            if !parses {
                return;
            }
            // A read of another step already seen is fine; the rest waits for every id.
            let seen = |id: &str| match ids.get(id) {
                Some((Named::Step, first)) => !is_at(first, pointer),
                _ => false,
            };
            let read = steps_read(suffix, text);
            if let Some(expr) = read.unnamed {
                let problem = expr::unnamed_step_read(expr).to_string();
                report.semantic(Problem::at(format!("{pointer}{suffix}"), problem));
            }
            let pending: Vec<String> = (read.ids.into_iter())
                .filter(|id| !seen(id))
                .map(Cow::into_owned)
                .collect();
            if !pending.is_empty() {
                references.push(([pointer, suffix].concat(), pointer.to_owned(), pending));
            }
        });
    }

    /// A JSON Schema the run will validate against (`input`, `output_schema`): it must
    /// compile now, not fail the run once a step has already run.
    fn schema(&mut self, schema: &serde_json::Value, pointer: String) {
        for problem in super::json_schemas::problems(schema, &pointer) {
            self.report.semantic(problem);
        }
    }

    /// A time limit (`timeout`, `heartbeat`, `no_progress`) of zero would end or stall every
    /// attempt as it starts: surely a mistake.
    fn time_limit(&mut self, limit: Option<Duration>, pointer: String) {
        if limit.is_some_and(|limit| limit.0.is_zero()) {
            self.problem(
                pointer,
                "a time limit of 0 would end (or stall) at once what it limits: leave the key out for none",
            );
        }
    }

    fn retry(&mut self, retry: &Retry, pointer: &str) {
        self.retry_delays(retry, pointer);
        // A class listed that `retry_on` does not retry would never take effect.
        for (position, class) in retry.retry_on.iter().enumerate() {
            if let Some(why) = class.not_for_retry_on() {
                let message = format!("`{}` {why}: take it out of `retry_on`", class.as_str());
                self.problem(format!("{pointer}/retry_on/{position}"), message);
            }
        }
    }

    /// A retry's delays: a `max_delay` of zero, or an `initial_delay` longer than the
    /// `max_delay`, either left to its default (the cap would cut the delay asked for, or
    /// every delay), is surely a mistake.
    fn retry_delays(&mut self, retry: &Retry, pointer: &str) {
        // One refused or misspelt is left to its default here: measured against it, the
        // other would be told to set it (probes 100 F2, 101 F4).
        let lost = |key| self.report.lost_key(pointer, key);
        if lost("max_delay") || lost("initial_delay") {
            return;
        }
        if retry.max_delay.is_some_and(|max| max.0.is_zero()) {
            self.problem(
                format!("{pointer}/max_delay"),
                "a max_delay of 0 would cut every delay to none: for retries at once, set initial_delay to \"0s\" and leave max_delay out",
            );
            return;
        }
        let initial = retry.initial_delay.unwrap_or(retry::DEFAULT_INITIAL_DELAY);
        let max = retry.max_delay.unwrap_or(retry::DEFAULT_MAX_DELAY);
        if initial <= max {
            return;
        }
        let (place, initial, max) = match (retry.initial_delay, retry.max_delay) {
            (Some(_), Some(_)) => ("initial_delay", initial.to_string(), max.to_string()),
            (Some(_), None) => (
                "initial_delay",
                initial.to_string(),
                format!("{max}, its default: set it too"),
            ),
            (None, _) => (
                "max_delay",
                format!("{initial}, its default: set it too"),
                max.to_string(),
            ),
        };
        self.problem(
            format!("{pointer}/{place}"),
            format!("initial_delay ({initial}) is longer than max_delay ({max})"),
        );
    }

    /// Notes in the report the `needs` that name no node of the workflow (nor of the run, for
    /// a plan): compiling tells them; the loader then compiles the workflow without them, to
    /// tell in the same check what reads a step it does not wait for.
    /// A plan's own node named with the planner's prefix (`gen.a` for `a`) is a problem:
    /// inside its plan a node is named as written, in `needs` as in expressions, which do
    /// not know the prefixed id (probe 182 F1: one worked, the other was refused).
    fn unknown_needs(&mut self) {
        let namespace = self.outer.map(|outer| outer.plan.namespace(outer.planner));
        for (pointer, needs) in std::mem::take(&mut self.needs) {
            for (position, need) in needs.iter().enumerate() {
                if self.knows(need) {
                    continue;
                }
                let own = (namespace.as_deref()).and_then(|namespace| need.strip_prefix(namespace));
                match own.filter(|own| self.ids.contains_key(own)) {
                    Some(own) => self.problem(
                        format!("{pointer}/needs/{position}"),
                        format!(
                            "`{need}` is this plan's own `{own}`: inside the plan, name it \
                             `{own}`, as the plan does"
                        ),
                    ),
                    None => (self.report.unknown_needs).push((pointer.clone(), need.clone())),
                }
            }
        }
    }

    /// Whether `id` names a node met so far (or a step of the run, for a plan).
    fn knows(&self, id: &str) -> bool {
        self.ids.contains_key(id) || self.outer.is_some_and(|outer| outer.plan.has_id(id))
    }

    /// Every `steps.ID` read must name another step.
    fn references(&mut self) {
        for (pointer, reader, read) in std::mem::take(&mut self.references) {
            for id in read {
                let message = match self.ids.get(id.as_str()) {
                    Some((Named::Step, first)) if is_at(first, &reader) => {
                        format!("step `{id}` reads its own output")
                    }
                    Some((Named::Step, _)) => continue,
                    None if (self.outer)
                        .is_some_and(|outer| outer.plan.index_of(&id).is_some()) =>
                    {
                        continue;
                    }
                    // Named by a typo of `id` (`"di": "b"`): that typo is the problem.
                    None if self.report.lost_ids.contains(&id) => continue,
                    Some((Named::Group, _)) => {
                        let read = expr::step_read(&id);
                        format!("`{read}`: `{id}` is a group, and only steps have outputs")
                    }
                    None => {
                        let hint = match closest(
                            &id,
                            self.ids
                                .iter()
                                .filter(|(_, (named, _))| *named == Named::Step)
                                .map(|(id, _)| *id),
                        ) {
                            Some(known) => format!(" (did you mean `{known}`?)"),
                            None => String::new(),
                        };
                        let read = expr::step_read(&id);
                        format!("`{read}`: no step has the id `{id}`{hint}")
                    }
                };
                self.problem(pointer.clone(), message);
            }
        }
    }
}

/// The key of a node that `given` is likely a typo of, if it is no key of a node.
pub(super) fn meant_node_key(given: &str) -> Option<&'static str> {
    match node_keys().any(|key| key == given) {
        true => None,
        false => closest(given, node_keys()),
    }
}

/// The keys a node may have, as the schema names them.
fn node_keys() -> impl Iterator<Item = &'static str> {
    let properties = definition::schema().pointer("/$defs/Node/properties");
    (properties
        .and_then(serde_json::Value::as_object)
        .into_iter())
    .flat_map(|properties| properties.keys().map(String::as_str))
}

/// Whether `id_pointer`, the pointer of a node's `id`, is that of the node at `node_pointer`.
fn is_at(id_pointer: &str, node_pointer: &str) -> bool {
    id_pointer.strip_suffix("/id") == Some(node_pointer)
}
