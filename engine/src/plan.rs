//! The plan: a validated workflow compiled into one DAG of steps.
//!
//! Groups disappear in the plan: a `pipeline` becomes edges from each member's sinks to the
//! next member's sources, a `parallel` group's members share the group's predecessors, and
//! `needs: [X]` on a group X becomes edges from all of X's sinks. Only the loader builds
//! plans, so a [`Plan`] is always valid: every id is known and there is no cycle.
//!
//! The DAG is a petgraph [`StableDiGraph`] whose node `i` is step `i`: planner steps grow it
//! at run time ([`grow`]), and no index ever changes.

mod cycles;
mod draw;
mod grow;
mod ids;
mod links;
mod reads;
mod suggest;
mod supersede;

pub use grow::Addition;
pub use supersede::{Spent, Supersession};
pub(crate) use supersede::{spent, superseded};

use cycles::cycles;
use ids::StepIds;
use links::Links;
pub(crate) use reads::unordered_reads;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::stable_graph::StableDiGraph;
use smallvec::SmallVec;

use crate::definition::{Node, OnStall, Retry, Workflow};
use crate::expr::StepsRead;
use crate::problem::{Problem, escape};
use crate::state::StepState;

/// The index of a step in [`Plan::steps`]: leaves in file order, depth first.
pub type StepIndex = usize;

/// The DAG of a plan: node `i` is step `i`, an edge goes from a step to one that waits for it.
pub type Graph = StableDiGraph<(), (), u32>;

/// A workflow compiled into a DAG of steps.
#[derive(Debug, Clone)]
pub struct Plan {
    workflow: Workflow,
    /// The top-level nodes planners added, in the order they were added, each with its
    /// planner.
    added: Vec<(StepIndex, Node)>,
    steps: Vec<PlanStep>,
    /// Step ids to indices.
    index: StepIds,
    /// Sinks of named groups, so that a plan's `needs` may name them.
    groups: HashMap<String, Vec<StepIndex>>,
    /// The sinks of each plan a planner added, by planner: a step a later plan adds that
    /// needs the planner waits for them too ([`Plan::plan_ends`]), as the planner's
    /// dependents did when it planned.
    plan_sinks: HashMap<StepIndex, Vec<StepIndex>>,
    graph: Graph,
}

/// One step (leaf) of a plan, with the settings it inherits already applied.
#[derive(Debug, Clone)]
pub struct PlanStep {
    /// The step's id (shared with the new run's record of its steps).
    pub id: Arc<str>,
    /// Where the step's node is in the workflow: its index in `steps` (past their end: in
    /// the nodes planners added), then in each group's members (see [`Plan::node`]); up to
    /// four levels deep it is kept inline, without an allocation of its own.
    pub(crate) path: SmallVec<[u32; 4]>,
    /// The `path` index of the first top-level node of the document the step is in: 0 for
    /// the workflow's steps, else the first node its planner's plan added (see
    /// [`Plan::pointer`]).
    plan_root: u32,
    /// Time limit of one attempt: the step's, else `defaults.timeout`.
    pub timeout: Option<Duration>,
    /// Longest silence before the step counts as stalled: the step's, else `defaults.heartbeat`.
    pub heartbeat: Option<Duration>,
    /// What a stall or a loop of the step leads to: the step's, else `stall.on_stall`.
    pub on_stall: OnStall,
    /// How failed attempts are retried: the step's, else `defaults.retry` (none: one attempt).
    pub retry: Option<Box<Retry>>,
    /// Steps whose outputs the step's `with`, `when` and `for_each` read
    /// ([`Plan::referenced_steps`]): found when first asked for, so that a run's stored
    /// definition compiled again on resume scans only the steps that start.
    referenced: OnceLock<Box<[StepIndex]>>,
    /// `max_parallel` of each enclosing group that sets one, outermost first, each with the
    /// group's id (or its pointer when it has none).
    pub group_limits: Box<[(String, u32)]>,
}

impl Plan {
    /// The workflow the plan was compiled from.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// The node of `step`, as written in the workflow (or in the plan that added it, with its
    /// id and the `needs` naming its own plan's nodes prefixed: see [`Plan::namespace`]).
    pub fn node(&self, step: StepIndex) -> &Node {
        let path = &self.steps[step].path;
        let mut node = self.top_node(path[0]);
        for &position in &path[1..] {
            let (_, members) = node.group().expect("a path goes through groups");
            node = &members[position as usize];
        }
        node
    }

    /// The JSON pointer of `step` in its document (the workflow file, or the plan that
    /// added it), e.g. `/steps/1/parallel/0`: worked out when asked (for messages), not
    /// kept for every step.
    pub fn pointer(&self, step: StepIndex) -> String {
        let step = &self.steps[step];
        pointer_at(&step.path, step.plan_root, |top| self.top_node(top))
    }

    /// The top-level node at `path` index `top`: one of the workflow's steps, or past them
    /// one of the nodes planners added.
    fn top_node(&self, top: u32) -> &Node {
        let top = top as usize;
        match top.checked_sub(self.workflow.steps.len()) {
            None => &self.workflow.steps[top],
            Some(added) => &self.added[added].1,
        }
    }

    /// The steps whose outputs `step`'s `with`, `when` and `for_each` read, in index order.
    ///
    /// Found in the step's expressions the first time it is asked for, then
    /// kept: the loader asks for every step of a file (it checks that each one read comes
    /// before its reader), a resumed run only for the steps that start.
    pub fn referenced_steps(&self, step: StepIndex) -> &[StepIndex] {
        self.steps[step]
            .referenced
            .get_or_init(|| referenced(self.node(step), |id| self.resolve(step, id)))
    }

    /// All steps, in file order.
    pub fn steps(&self) -> &[PlanStep] {
        &self.steps
    }

    /// The index of the step `id` (groups have none).
    pub fn index_of(&self, id: &str) -> Option<StepIndex> {
        self.index.get(id, |step| &self.steps[step].id)
    }

    /// The planner whose plan added `step`, if a plan did.
    pub fn planner_of(&self, step: StepIndex) -> Option<StepIndex> {
        let root = self.steps[step].path[0] as usize;
        let added = root.checked_sub(self.workflow.steps.len())?;
        Some(self.added[added].0)
    }

    /// The prefix of the ids a plan of `planner` adds: `planner.`. Inside a plan, `needs` and
    /// `steps.ID` name the plan's own nodes without it.
    pub fn namespace(&self, planner: StepIndex) -> String {
        format!("{}.", self.steps[planner].id)
    }

    /// Whether `id` names a step or a group of the plan.
    pub(crate) fn has_id(&self, id: &str) -> bool {
        self.index_of(id).is_some() || self.groups.contains_key(id)
    }

    /// The step an expression of `reader` names `id`: inside a plan, a node of that plan
    /// (`id` without its prefix) comes first, then any step of the run.
    pub fn resolve(&self, reader: StepIndex, id: &str) -> Option<StepIndex> {
        let local = (self.planner_of(reader))
            .and_then(|planner| self.index_of(&format!("{}{id}", self.namespace(planner))));
        local.or_else(|| self.index_of(id))
    }

    /// How `reader`'s node names `step`: its id, without the prefix when both are in the
    /// same planner's plan.
    pub(crate) fn written(&self, reader: StepIndex, step: StepIndex) -> &str {
        let id = &self.steps[step].id;
        match self.planner_of(reader) {
            Some(planner) if self.planner_of(step) == Some(planner) => {
                id.strip_prefix(&self.namespace(planner)).unwrap_or(id)
            }
            _ => id,
        }
    }

    /// The steps that must end before `step` starts (its direct predecessors), in order.
    pub fn dependencies(&self, step: StepIndex) -> impl Iterator<Item = StepIndex> + '_ {
        let node = NodeIndex::new(step);
        (self.graph.neighbors_directed(node, Direction::Incoming)).map(|node| node.index())
    }

    /// The steps that wait for `step` (its direct successors), in order.
    pub fn dependents(&self, step: StepIndex) -> impl Iterator<Item = StepIndex> + '_ {
        let node = NodeIndex::new(step);
        (self.graph.neighbors_directed(node, Direction::Outgoing)).map(|node| node.index())
    }

    /// `from` and every step that waits for it, directly or not, in plan order.
    pub fn downstream(&self, from: StepIndex) -> Vec<StepIndex> {
        let mut reached = vec![false; self.steps.len()];
        let mut stack = vec![from];
        while let Some(step) = stack.pop() {
            if !std::mem::replace(&mut reached[step], true) {
                stack.extend(self.dependents(step));
            }
        }
        (0..reached.len()).filter(|&step| reached[step]).collect()
    }

    /// The DAG, read-only: node `i` is step `i`; steps planners add are added to it.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The steps nobody depends on: their outputs are the run's output.
    pub fn sinks(&self) -> Vec<StepIndex> {
        (0..self.steps.len())
            .filter(|&step| self.dependents(step).next().is_none())
            .collect()
    }

    /// The top-level nodes: the workflow's, then those planners added, in order.
    pub fn roots(&self) -> impl Iterator<Item = &Node> + '_ {
        (self.workflow.steps.iter()).chain(self.added.iter().map(|(_, node)| node))
    }

    /// The plan in Graphviz `dot` syntax, groups drawn as clusters.
    pub fn to_dot(&self) -> String {
        draw::dot(self, &[])
    }

    /// The plan as a Mermaid flowchart, groups drawn as subgraphs.
    pub fn to_mermaid(&self) -> String {
        draw::mermaid(self, &[])
    }

    /// The plan of a run in `dot`, each step labelled with its state (`states[step]`).
    pub fn to_dot_with_states(&self, states: &[StepState]) -> String {
        draw::dot(self, states)
    }

    /// The plan of a run as a Mermaid flowchart, each step labelled with its state.
    pub fn to_mermaid_with_states(&self, states: &[StepState]) -> String {
        draw::mermaid(self, states)
    }
}

/// Compiles a workflow into a plan: resolves `needs`, turns groups into edges and looks for
/// cycles. The problems are unknown `needs` and cycles; the loader checks everything else.
pub(crate) fn compile(mut workflow: Workflow) -> Result<Plan, Vec<Problem>> {
    // The plan keeps the workflow for the run's life: no room for steps never added.
    workflow.steps.shrink_to_fit();
    let leaves = leaves(&workflow.steps);
    let mut builder = Builder {
        index: StepIds::with_capacity(leaves),
        links: Links::new(leaves, 0),
        ..Builder::default()
    };
    builder.steps.reserve_exact(leaves);
    let mut pointer = String::from("/steps");
    let mut limits = Vec::new();
    builder.parallel(&workflow, &workflow.steps, &mut pointer, &mut limits);
    let pointer = |path: &[u32]| pointer_at(path, 0, |top| &workflow.steps[top as usize]);
    let mut problems = builder.resolve_needs(pointer);
    let Builder {
        steps,
        index,
        group_sinks,
        edges,
        ..
    } = builder;

    let mut graph = Graph::with_capacity(steps.len(), edges.len());
    for _ in &steps {
        graph.add_node(());
    }
    add_edges(&mut graph, edges);
    let at = |step: usize| pointer(&steps[step].path);
    let group = |from, to| cycles::group_needs(&workflow.steps, 0, &steps, from, to);
    problems.extend(cycles(&steps, &graph, at, group));

    if !problems.is_empty() {
        return Err(problems);
    }
    // Each step's `referenced_steps` are found when first asked for.
    Ok(Plan {
        workflow,
        added: Vec::new(),
        steps,
        index,
        groups: group_sinks,
        plan_sinks: HashMap::new(),
        graph,
    })
}

/// How many steps (leaves) `nodes` hold.
fn leaves(nodes: &[Node]) -> usize {
    (nodes.iter())
        .map(|node| node.group().map_or(1, |(_, members)| leaves(members)))
        .sum()
}

/// Adds `edges` (`from`, `to`) to `graph` once each, so that every step's dependencies and
/// dependents come out in index order (petgraph lists a node's edges newest first).
fn add_edges(graph: &mut Graph, mut edges: Vec<(StepIndex, StepIndex)>) {
    edges.sort_unstable_by_key(|&(from, to)| std::cmp::Reverse((to, from)));
    edges.dedup();
    for (from, to) in edges {
        graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
    }
}

/// The ids a step's `with`, `when` and `for_each` read, as indices (`find` resolves an id;
/// unknown ids are left out).
fn referenced(node: &Node, find: impl Fn(&str) -> Option<StepIndex>) -> Box<[StepIndex]> {
    #[cfg(test)]
    SCANS.set(SCANS.get() + 1);
    let mut found = SmallVec::<[StepIndex; 4]>::new();
    for_each_expression_text(node, |suffix, text| {
        for id in steps_read(suffix, text).ids {
            found.extend(find(&id));
        }
    });
    found.sort_unstable();
    found.dedup();
    found.as_slice().into()
}

#[cfg(test)]
thread_local! {
    /// How many nodes [`referenced`] scanned on this thread (for tests).
    pub(crate) static SCANS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The step ids one text of a node reads, the `suffix` [`for_each_expression_text`] gave
/// with it telling how to read it: `/when` is an expression, every other text a template.
pub(crate) fn steps_read<'t>(suffix: &str, text: &'t str) -> StepsRead<'t> {
    match suffix {
        "/when" => crate::expr::steps_read_by_expression(text),
        _ => crate::expr::steps_read_by_template(text),
    }
}

/// Calls `visit` with the pointer suffix (relative to the node) and text of the node's
/// `when`, `for_each` and every string in its `with` and its `fallbacks`.
pub(crate) fn for_each_expression_text(node: &Node, mut visit: impl FnMut(&str, &str)) {
    if let Some(when) = &node.when {
        visit("/when", when);
    }
    if let Some(for_each) = &node.for_each {
        visit("/for_each", for_each);
    }
    // One buffer for every pointer: this runs for each step of a workflow, more than once.
    let mut pointer = String::with_capacity(32);
    let overrides = std::iter::once(&node.with).chain(&node.fallbacks);
    for (index, with) in overrides.enumerate() {
        pointer.clear();
        match index {
            0 => pointer.push_str("/with"),
            _ => {
                let _ = write!(pointer, "/fallbacks/{}", index - 1);
            }
        }
        for (key, value) in with {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape(key));
            crate::expr::walk_strings(value, &mut pointer, &mut visit);
            pointer.truncate(len);
        }
    }
}

/// The steps at one end of a compiled node (a step is both ends of itself: kept inline).
type EndSteps = SmallVec<[StepIndex; 1]>;

/// The sources and sinks of a compiled node.
#[derive(Debug, Default)]
struct Ends {
    sources: EndSteps,
    sinks: EndSteps,
}

/// A node's `needs`, kept until every step has an index.
#[derive(Debug)]
struct Needs<'a> {
    /// The node's sources: the steps that wait.
    sources: EndSteps,
    /// The ids they wait for.
    ids: &'a [String],
    /// The node's path (see [`PlanStep::path`]), from which a message works out its pointer.
    path: SmallVec<[u32; 4]>,
}

/// State of one compilation.
#[derive(Debug, Default)]
struct Builder<'a> {
    /// The plan a planner's nodes are added to (none when compiling a workflow).
    outer: Option<&'a Plan>,
    /// The planner of those nodes, a step of `outer`.
    planner: Option<StepIndex>,
    /// The index of the first step compiled (the outer plan's step count).
    base: StepIndex,
    /// The path index of the first top-level node (see [`PlanStep::path`]).
    root: u32,
    steps: Vec<PlanStep>,
    /// Step ids to indices.
    index: StepIds,
    /// Sinks of named groups.
    group_sinks: HashMap<String, Vec<StepIndex>>,
    /// Every node's `needs`, resolved after the walk.
    needs: Vec<Needs<'a>>,
    edges: Vec<(StepIndex, StepIndex)>,
    /// How many more edges the graph may have.
    links: Links,
    /// The problem of the first links refused ([`Builder::link_all`]), if any.
    problems: Vec<Problem>,
    /// Of a planner's nodes: each need naming a step or group of `outer`, as written and
    /// with its pointer, by the outer step it makes a step of the plan wait for and that
    /// step, so that a cycle through it is named as written (probe 205 F1: a group's need
    /// was named by the group's last step, which the plan never named).
    written: HashMap<(StepIndex, StepIndex), (&'a str, String)>,
    /// The path of the node being compiled (see [`PlanStep::path`]).
    path: Vec<u32>,
}

impl<'a> Builder<'a> {
    /// The step of this compilation named `id`.
    fn index_of(&self, id: &str) -> Option<StepIndex> {
        (self.index).get(id, |step| &self.steps[step - self.base].id)
    }

    fn node(
        &mut self,
        workflow: &Workflow,
        node: &'a Node,
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let ends = match (&node.pipeline, &node.parallel) {
            (Some(members), _) | (None, Some(members)) => {
                let limit = node
                    .max_parallel
                    .map(|limit| (node.id.clone().unwrap_or_else(|| pointer.clone()), limit));
                let pushed = limit.is_some();
                limits.extend(limit);
                let len = pointer.len();
                let ends = if node.pipeline.is_some() {
                    pointer.push_str("/pipeline");
                    self.pipeline(workflow, members, pointer, limits)
                } else {
                    pointer.push_str("/parallel");
                    self.parallel(workflow, members, pointer, limits)
                };
                pointer.truncate(len);
                if pushed {
                    limits.pop();
                }
                if let Some(id) = &node.id {
                    self.group_sinks
                        .entry(id.clone())
                        .or_insert_with(|| ends.sinks.to_vec());
                }
                ends
            }
            (None, None) => {
                let step = self.base + self.steps.len();
                self.steps
                    .push(leaf(workflow, node, self.root, &self.path, limits));
                if let Some(id) = &node.id {
                    let (steps, base) = (&self.steps, self.base);
                    self.index.insert(id, step, |step| &steps[step - base].id);
                }
                Ends {
                    sources: smallvec::smallvec![step],
                    sinks: smallvec::smallvec![step],
                }
            }
        };
        if !node.needs.is_empty() {
            self.needs.push(Needs {
                sources: ends.sources.clone(),
                ids: &node.needs,
                path: SmallVec::from_slice(&self.path),
            });
        }
        ends
    }

    /// Compiles the member at `position` of the group at `pointer`.
    fn member(
        &mut self,
        workflow: &Workflow,
        position: usize,
        member: &'a Node,
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let len = pointer.len();
        let _ = write!(pointer, "/{position}");
        let root = if self.path.is_empty() { self.root } else { 0 };
        self.path.push(root + position as u32);
        let ends = self.node(workflow, member, pointer, limits);
        self.path.pop();
        pointer.truncate(len);
        ends
    }

    fn pipeline(
        &mut self,
        workflow: &Workflow,
        members: &'a [Node],
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let mut ends = Ends::default();
        for (position, member) in members.iter().enumerate() {
            let member = self.member(workflow, position, member, pointer, limits);
            if member.sources.is_empty() {
                continue;
            }
            let (ends_before, pointer) = (&ends.sinks, &*pointer);
            self.link_all(ends_before, &member.sources, || {
                let place = format!("{pointer}/{position}");
                let what = format!(
                    "each of this member's {} first steps waits for each of the {} last steps \
                     of the member before it",
                    member.sources.len(),
                    ends_before.len()
                );
                (place, what, "put one step between the two")
            });
            if ends.sources.is_empty() {
                ends.sources = member.sources;
            }
            ends.sinks = member.sinks;
        }
        ends
    }

    /// Compiles a parallel group: its sources are its members' that wait for no other member
    /// (through `needs`), its sinks its members' that no other member waits for: the group
    /// starts and ends where its members' work does, as an Airflow task group's roots and
    /// leaves (probe 75 F1: a step after a plan `[x, y needs x]` was judged by `x` too; probe
    /// 76 F6: `y` was judged by the group's predecessors too).
    fn parallel(
        &mut self,
        workflow: &Workflow,
        members: &'a [Node],
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let (first, needs) = (self.base + self.steps.len(), self.needs.len());
        let mut ends = Ends::default();
        for (position, member) in members.iter().enumerate() {
            let member = self.member(workflow, position, member, pointer, limits);
            ends.sources.extend(member.sources);
            ends.sinks.extend(member.sinks);
        }
        let [waiting, waited] = self.needs_from(first, needs);
        ends.sources.retain(|source| !waiting.contains(source));
        ends.sinks.retain(|sink| !waited.contains(sink));
        ends
    }

    /// Of the `needs` from the `needs`-th on, those that name a step numbered from `first`
    /// on (a group's, its sinks): the steps that wait, and the steps they wait for.
    fn needs_from(&self, first: StepIndex, needs: usize) -> [HashSet<StepIndex>; 2] {
        let [mut waiting, mut waited] = [HashSet::new(), HashSet::new()];
        for need in &self.needs[needs..] {
            let named = (need.ids.iter()).flat_map(|id| {
                let step = self.index_of(id);
                let group = self.group_sinks.get(id).filter(|_| step.is_none());
                step.into_iter().chain(group.into_iter().flatten().copied())
            });
            let inside: Vec<StepIndex> = named.filter(|&step| step >= first).collect();
            if !inside.is_empty() {
                waiting.extend(need.sources.iter().copied());
                waited.extend(inside);
            }
        }
        [waiting, waited]
    }

    /// Turns every `needs` into edges; unknown ids are problems, placed by `pointer` (the
    /// pointer of the node at a path).
    fn resolve_needs(&mut self, pointer: impl Fn(&[u32]) -> String) -> Vec<Problem> {
        let mut problems = Vec::new();
        for Needs { sources, ids, path } in std::mem::take(&mut self.needs) {
            for (position, need) in ids.iter().enumerate() {
                let outer = self.outer;
                let step = self
                    .index_of(need)
                    .or_else(|| outer.and_then(|plan| plan.index_of(need)));
                let group = (self.group_sinks.get(need))
                    .or_else(|| outer.and_then(|plan| plan.groups.get(need)));
                let sinks = match (&step, group) {
                    (Some(step), _) => std::slice::from_ref(step),
                    (None, Some(sinks)) => sinks.as_slice(),
                    (None, None) => {
                        let hint = self.suggest(need, &sources);
                        let message = format!(
                            "unknown step or group `{}`{hint}",
                            crate::expr::shortened(need)
                        );
                        let place = format!("{}/needs/{position}", pointer(&path));
                        problems.push(Problem::at(place, message));
                        continue;
                    }
                };
                // A step of the run that planned: its plan's last steps too.
                let waited: Vec<StepIndex> = (sinks.iter())
                    .flat_map(|&from| {
                        let ends = outer.map_or_else(Vec::new, |plan| plan.plan_ends(from));
                        std::iter::once(from).chain(ends)
                    })
                    .collect();
                // Needing a group that holds the planner, or a planner whose plan does, waits
                // for the planner's plan, which this node is in (probe 65 F1); needing the
                // planner itself is only coming after it, as every node of its plan does.
                if let (Some(plan), Some(planner)) = (outer, self.planner)
                    && step != Some(planner)
                    && waited.contains(&planner)
                {
                    let message = format!(
                        "cycle: `{need}` waits for the plan of `{}`, which this step is in",
                        plan.steps[planner].id
                    );
                    let place = format!("{}/needs/{position}", pointer(&path));
                    problems.push(Problem::at(place, message));
                    continue;
                }
                if outer.is_some() {
                    let place = format!("{}/needs/{position}", pointer(&path));
                    for &from in waited.iter().filter(|&&from| from < self.base) {
                        for &to in &sources {
                            (self.written.entry((from, to)))
                                .or_insert_with(|| (need.as_str(), place.clone()));
                        }
                    }
                }
                self.link_all(&waited, &sources, || {
                    let place = format!("{}/needs/{position}", pointer(&path));
                    let what = format!(
                        "each of this node's {} first steps waits for each of the {} last \
                         steps of `{need}`",
                        sources.len(),
                        waited.len()
                    );
                    (
                        place,
                        what,
                        "make one step need it, and this node need that step",
                    )
                });
            }
        }
        std::mem::take(&mut self.problems)
            .into_iter()
            .chain(problems)
            .collect()
    }

    /// Links each step of `from` to each of `to` (each of `to` waits for each of `from`),
    /// within the graph's budget ([`Links`]); past it, nothing is linked and, the first time,
    /// a problem says where (`said`: its pointer, what made so many links, and the fix).
    fn link_all(
        &mut self,
        from: &[StepIndex],
        to: &[StepIndex],
        said: impl FnOnce() -> (String, String, &'static str),
    ) {
        match self.links.take(from.len().saturating_mul(to.len())) {
            Ok(()) => {
                for &from in from {
                    self.edges.extend(to.iter().map(|&to| (from, to)));
                }
            }
            Err(None) => {}
            Err(Some(why)) => {
                let (place, what, fix) = said();
                let message = format!("{what}: {why}; {fix}");
                self.problems.push(Problem::at(place, message));
            }
        }
    }
}

fn leaf(
    workflow: &Workflow,
    node: &Node,
    plan_root: u32,
    path: &[u32],
    limits: &[(String, u32)],
) -> PlanStep {
    let defaults = &workflow.defaults;
    PlanStep {
        id: node.id.as_deref().unwrap_or_default().into(),
        path: SmallVec::from_slice(path),
        plan_root,
        timeout: node.timeout.or(defaults.timeout).map(|duration| duration.0),
        heartbeat: node
            .heartbeat
            .or(defaults.heartbeat)
            .map(|duration| duration.0),
        on_stall: (node.on_stall)
            .or(workflow.stall.as_ref().map(|stall| stall.on_stall))
            .unwrap_or_default(),
        retry: (node.retry.clone()).or_else(|| defaults.retry.clone().map(Box::new)),
        referenced: OnceLock::new(),
        group_limits: limits.into(),
    }
}

/// The JSON pointer of the node at `path` in a document whose first top-level node is at
/// `path` index `first` (`top` gives the top-level node at an index), e.g.
/// `/steps/1/parallel/0`.
fn pointer_at<'a>(path: &[u32], first: u32, top: impl Fn(u32) -> &'a Node) -> String {
    let mut pointer = format!("/steps/{}", path[0] - first);
    let mut node = top(path[0]);
    for &position in &path[1..] {
        let Some((kind, members)) = node.group() else {
            break; // A path goes through groups only.
        };
        let _ = write!(pointer, "/{kind}/{position}");
        node = &members[position as usize];
    }
    pointer
}

#[cfg(test)]
mod tests;
