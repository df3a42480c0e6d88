//! The plan: a validated workflow compiled into one DAG of steps.
//!
//! Groups disappear in the plan: a `pipeline` becomes edges from each member's sinks to the
//! next member's sources, a `parallel` group's members share the group's predecessors, and
//! `needs: [X]` on a group X becomes edges from all of X's sinks. Only the loader builds
//! plans, so a [`Plan`] is always valid: every id is known and there is no cycle.

mod draw;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::definition::{Node, Retry, Workflow};
use crate::problem::{Problem, closest, escape};

/// The index of a step in [`Plan::steps`]: leaves in file order, depth first.
pub type StepIndex = usize;

/// A workflow compiled into a DAG of steps.
#[derive(Debug, Clone)]
pub struct Plan {
    workflow: Workflow,
    steps: Vec<PlanStep>,
    index: HashMap<String, StepIndex>,
    dependencies: Vec<Vec<StepIndex>>,
    dependents: Vec<Vec<StepIndex>>,
}

/// One step (leaf) of a plan, with the settings it inherits already applied.
#[derive(Debug, Clone)]
pub struct PlanStep {
    /// The step's id.
    pub id: String,
    /// The JSON pointer of the step in the workflow file, e.g. `/steps/1/parallel/0`.
    pub pointer: String,
    /// Where the step's node is in the workflow: its index in `steps`, then in each group's
    /// members (see [`Plan::node`]).
    pub path: Box<[u32]>,
    /// Time limit of one attempt: the step's, else `defaults.timeout`.
    pub timeout: Option<Duration>,
    /// Longest silence before the step counts as stalled: the step's, else `defaults.heartbeat`.
    pub heartbeat: Option<Duration>,
    /// How failed attempts are retried: the step's, else `defaults.retry` (none: one attempt).
    pub retry: Option<Retry>,
    /// Steps whose outputs the step's `with`, `when` and `for_each` read.
    pub referenced_steps: Vec<StepIndex>,
    /// `max_parallel` of each enclosing group that sets one, outermost first, each with the
    /// group's id (or its pointer when it has none).
    pub group_limits: Vec<(String, u32)>,
}

impl Plan {
    /// The workflow the plan was compiled from.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// The node of `step`, as written in the workflow.
    pub fn node(&self, step: StepIndex) -> &Node {
        let path = &self.steps[step].path;
        let mut node = &self.workflow.steps[path[0] as usize];
        for &position in &path[1..] {
            let members = node
                .pipeline
                .as_ref()
                .or(node.parallel.as_ref())
                .expect("a path goes through groups");
            node = &members[position as usize];
        }
        node
    }

    /// All steps, in file order.
    pub fn steps(&self) -> &[PlanStep] {
        &self.steps
    }

    /// The index of the step `id` (groups have none).
    pub fn index_of(&self, id: &str) -> Option<StepIndex> {
        self.index.get(id).copied()
    }

    /// The steps that must succeed before `step` starts (its direct predecessors).
    pub fn dependencies(&self, step: StepIndex) -> &[StepIndex] {
        &self.dependencies[step]
    }

    /// The steps that wait for `step` (its direct successors).
    pub fn dependents(&self, step: StepIndex) -> &[StepIndex] {
        &self.dependents[step]
    }

    /// The steps nobody depends on: their outputs are the run's output.
    pub fn sinks(&self) -> Vec<StepIndex> {
        (0..self.steps.len())
            .filter(|&step| self.dependents[step].is_empty())
            .collect()
    }

    /// The plan in Graphviz `dot` syntax, groups drawn as clusters.
    pub fn to_dot(&self) -> String {
        draw::dot(self)
    }

    /// The plan as a Mermaid flowchart, groups drawn as subgraphs.
    pub fn to_mermaid(&self) -> String {
        draw::mermaid(self)
    }
}

/// Compiles a workflow into a plan: resolves `needs`, turns groups into edges and looks for
/// cycles. The problems are unknown `needs` and cycles; the loader checks everything else.
pub(crate) fn compile(workflow: Workflow) -> Result<Plan, Vec<Problem>> {
    let mut builder = Builder::default();
    let mut pointer = String::from("/steps");
    let mut limits = Vec::new();
    builder.parallel(&workflow, &workflow.steps, &mut pointer, &mut limits);
    let mut problems = builder.resolve_needs();

    let count = builder.steps.len();
    let mut dependencies = vec![Vec::new(); count];
    for &(from, to) in &builder.edges {
        dependencies[to].push(from);
    }
    let mut dependents = vec![Vec::new(); count];
    for (to, froms) in dependencies.iter_mut().enumerate() {
        froms.sort_unstable();
        froms.dedup();
        for &from in froms.iter() {
            dependents[from].push(to);
        }
    }
    problems.extend(cycles(&builder.steps, &dependencies));

    if !problems.is_empty() {
        return Err(problems);
    }
    let mut plan = Plan {
        workflow,
        steps: builder.steps,
        index: builder.index,
        dependencies,
        dependents,
    };
    for step in 0..plan.steps.len() {
        plan.steps[step].referenced_steps = referenced(plan.node(step), &plan.index);
    }
    Ok(plan)
}

/// The ids a step's `with`, `when` and `for_each` read, as indices (unknown ids left out).
fn referenced(node: &Node, index: &HashMap<String, StepIndex>) -> Vec<StepIndex> {
    let mut found = Vec::new();
    for_each_expression_text(node, |_, text| {
        for id in crate::expr::referenced_steps(text) {
            if let Some(&step) = index.get(id) {
                found.push(step);
            }
        }
    });
    found.sort_unstable();
    found.dedup();
    found
}

/// One problem per expression that reads a step which does not come before its own in the
/// DAG (through pipeline order, `needs` or a group's `needs`): that step may not have run
/// yet, and the expression would read `null`. The loader checks this for files; a run's
/// stored snapshot was checked when the run started.
pub(crate) fn unordered_reads(plan: &Plan) -> Vec<Problem> {
    // Reads of a step that is not a direct dependency: (read, reader). A step reading its
    // own output is the loader's problem already.
    let mut reads: Vec<(StepIndex, StepIndex)> = Vec::new();
    for (reader, step) in plan.steps.iter().enumerate() {
        for &read in &step.referenced_steps {
            if read != reader && plan.dependencies[reader].binary_search(&read).is_err() {
                reads.push((read, reader));
            }
        }
    }
    if reads.is_empty() {
        return Vec::new();
    }
    let mut reach = Reach::new(plan);
    let mut problems = Vec::new();
    reads.sort_unstable();
    for group in reads.chunk_by(|a, b| a.0 == b.0) {
        // One walk from the step read reaches every reader that comes after it.
        let read = group[0].0;
        let last = group.iter().map(|&(_, reader)| reach.position[reader]);
        reach.mark_descendants(read, last.max().unwrap_or_default());
        let unreached: Vec<StepIndex> = (group.iter())
            .map(|&(_, reader)| reader)
            .filter(|&reader| !reach.is_marked(reader))
            .collect();
        for reader in unreached {
            let (id, reader_id) = (&plan.steps[read].id, &plan.steps[reader].id);
            let message = if reach.precedes(reader, read) {
                format!(
                    "`steps.{id}`: `{id}` waits for `{reader_id}`, so `{reader_id}` cannot \
                     read its output"
                )
            } else {
                format!(
                    "`steps.{id}`: `{reader_id}` does not wait for `{id}`, which may not have \
                     run yet; add `needs: [\"{id}\"]` to `{reader_id}`, or put both in a pipeline"
                )
            };
            let pointer = &plan.steps[reader].pointer;
            for_each_expression_text(plan.node(reader), |suffix, text| {
                if crate::expr::referenced_steps(text).contains(&id.as_str()) {
                    problems.push(Problem::at(format!("{pointer}{suffix}"), message.clone()));
                }
            });
        }
    }
    problems
}

/// Which steps come after which in a plan: walks along dependents that stop at a
/// topological position, reusing one array of marks (a stamp per walk) so that many walks
/// stay cheap.
struct Reach<'a> {
    dependents: &'a [Vec<StepIndex>],
    /// Each step's place in a topological order: a step comes after another only if its
    /// position is greater.
    position: Vec<usize>,
    /// The stamp of the last walk that reached each step.
    marks: Vec<u32>,
    stamp: u32,
    stack: Vec<StepIndex>,
}

impl<'a> Reach<'a> {
    /// Orders the plan's steps topologically (Kahn's algorithm: a plan has no cycle).
    fn new(plan: &'a Plan) -> Self {
        let count = plan.steps.len();
        let mut waiting: Vec<usize> = plan.dependencies.iter().map(Vec::len).collect();
        let mut ready: Vec<StepIndex> = (0..count).filter(|&step| waiting[step] == 0).collect();
        let mut position = vec![0; count];
        let mut next = 0;
        while let Some(step) = ready.pop() {
            position[step] = next;
            next += 1;
            for &dependent in &plan.dependents[step] {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    ready.push(dependent);
                }
            }
        }
        Reach {
            dependents: &plan.dependents,
            position,
            marks: vec![0; count],
            stamp: 0,
            stack: Vec::new(),
        }
    }

    /// Marks every step that comes after `from` and whose position is at most `last`.
    fn mark_descendants(&mut self, from: StepIndex, last: usize) {
        self.stamp += 1;
        self.stack.push(from);
        while let Some(step) = self.stack.pop() {
            for &next in &self.dependents[step] {
                if self.position[next] <= last && self.marks[next] != self.stamp {
                    self.marks[next] = self.stamp;
                    self.stack.push(next);
                }
            }
        }
    }

    /// Whether the last walk reached `step`.
    fn is_marked(&self, step: StepIndex) -> bool {
        self.marks[step] == self.stamp
    }

    /// Whether `from` comes before `to`: a path of dependencies leads from one to the other.
    fn precedes(&mut self, from: StepIndex, to: StepIndex) -> bool {
        self.mark_descendants(from, self.position[to]);
        self.is_marked(to)
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
    let overrides = std::iter::once(("/with".to_owned(), &node.with)).chain(
        (node.fallbacks.iter().enumerate())
            .map(|(index, with)| (format!("/fallbacks/{index}"), with)),
    );
    for (mut pointer, with) in overrides {
        for (key, value) in with {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape(key));
            crate::expr::walk_strings(value, &mut pointer, &mut visit);
            pointer.truncate(len);
        }
    }
}

/// The sources and sinks of a compiled node.
#[derive(Debug, Default)]
struct Ends {
    sources: Vec<StepIndex>,
    sinks: Vec<StepIndex>,
}

/// State of one compilation.
#[derive(Debug, Default)]
struct Builder {
    steps: Vec<PlanStep>,
    /// Step ids to indices.
    index: HashMap<String, StepIndex>,
    /// Sinks of named groups.
    group_sinks: HashMap<String, Vec<StepIndex>>,
    /// Every node's `needs`, resolved after the walk: (sources, needs, pointer of `needs`).
    needs: Vec<(Vec<StepIndex>, Vec<String>, String)>,
    edges: Vec<(StepIndex, StepIndex)>,
    /// The path of the node being compiled (see [`PlanStep::path`]).
    path: Vec<u32>,
}

impl Builder {
    fn node(
        &mut self,
        workflow: &Workflow,
        node: &Node,
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
                        .or_insert_with(|| ends.sinks.clone());
                }
                ends
            }
            (None, None) => {
                let step = self.steps.len();
                self.steps
                    .push(leaf(workflow, node, pointer, &self.path, limits));
                if let Some(id) = &node.id {
                    self.index.entry(id.clone()).or_insert(step);
                }
                Ends {
                    sources: vec![step],
                    sinks: vec![step],
                }
            }
        };
        if !node.needs.is_empty() {
            self.needs.push((
                ends.sources.clone(),
                node.needs.clone(),
                format!("{pointer}/needs"),
            ));
        }
        ends
    }

    /// Compiles the member at `position` of the group at `pointer`.
    fn member(
        &mut self,
        workflow: &Workflow,
        position: usize,
        member: &Node,
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let len = pointer.len();
        let _ = write!(pointer, "/{position}");
        self.path.push(position as u32);
        let ends = self.node(workflow, member, pointer, limits);
        self.path.pop();
        pointer.truncate(len);
        ends
    }

    fn pipeline(
        &mut self,
        workflow: &Workflow,
        members: &[Node],
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let mut ends = Ends::default();
        for (position, member) in members.iter().enumerate() {
            let member = self.member(workflow, position, member, pointer, limits);
            if member.sources.is_empty() {
                continue;
            }
            for &from in &ends.sinks {
                self.edges
                    .extend(member.sources.iter().map(|&to| (from, to)));
            }
            if ends.sources.is_empty() {
                ends.sources = member.sources;
            }
            ends.sinks = member.sinks;
        }
        ends
    }

    fn parallel(
        &mut self,
        workflow: &Workflow,
        members: &[Node],
        pointer: &mut String,
        limits: &mut Vec<(String, u32)>,
    ) -> Ends {
        let mut ends = Ends::default();
        for (position, member) in members.iter().enumerate() {
            let member = self.member(workflow, position, member, pointer, limits);
            ends.sources.extend(member.sources);
            ends.sinks.extend(member.sinks);
        }
        ends
    }

    /// Turns every `needs` into edges; unknown ids are problems.
    fn resolve_needs(&mut self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (sources, needs, pointer) in std::mem::take(&mut self.needs) {
            for (position, need) in needs.iter().enumerate() {
                let sinks = match (self.index.get(need), self.group_sinks.get(need)) {
                    (Some(step), _) => std::slice::from_ref(step),
                    (None, Some(sinks)) => sinks.as_slice(),
                    (None, None) => {
                        let message =
                            format!("unknown step or group `{need}`{}", self.suggest(need));
                        problems.push(Problem::at(format!("{pointer}/{position}"), message));
                        continue;
                    }
                };
                for &from in sinks {
                    self.edges.extend(sources.iter().map(|&to| (from, to)));
                }
            }
        }
        problems
    }

    /// ` (did you mean `x`?)` for the id closest to `unknown`, if one is close.
    fn suggest(&self, unknown: &str) -> String {
        let ids = self.index.keys().chain(self.group_sinks.keys());
        match closest(unknown, ids.map(String::as_str)) {
            Some(id) => format!(" (did you mean `{id}`?)"),
            None => String::new(),
        }
    }
}

fn leaf(
    workflow: &Workflow,
    node: &Node,
    pointer: &str,
    path: &[u32],
    limits: &[(String, u32)],
) -> PlanStep {
    let defaults = &workflow.defaults;
    PlanStep {
        id: node.id.clone().unwrap_or_default(),
        pointer: pointer.to_owned(),
        path: path.into(),
        timeout: node.timeout.or(defaults.timeout).map(|duration| duration.0),
        heartbeat: node
            .heartbeat
            .or(defaults.heartbeat)
            .map(|duration| duration.0),
        retry: node.retry.clone().or_else(|| defaults.retry.clone()),
        referenced_steps: Vec::new(),
        group_limits: limits.to_vec(),
    }
}

/// One problem per cycle, naming it step by step (`a -> b -> c -> a`).
fn cycles(steps: &[PlanStep], dependencies: &[Vec<StepIndex>]) -> Vec<Problem> {
    let mut graph = DiGraph::<(), ()>::with_capacity(steps.len(), 0);
    for _ in steps {
        graph.add_node(());
    }
    for (to, froms) in dependencies.iter().enumerate() {
        for &from in froms {
            graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
        }
    }
    if toposort(&graph, None).is_ok() {
        return Vec::new();
    }
    // Tarjan's algorithm in petgraph recurses once per step on a path; Kosaraju's does not.
    let mut problems = Vec::new();
    for component in kosaraju_scc(&graph) {
        let first = component
            .iter()
            .map(|node| node.index())
            .min()
            .unwrap_or_default();
        let looped = component.len() > 1
            || graph.contains_edge(NodeIndex::new(first), NodeIndex::new(first));
        if !looped {
            continue;
        }
        let members: std::collections::HashSet<usize> =
            component.iter().map(|node| node.index()).collect();
        let path = shortest_cycle(&graph, first, &members);
        let names: Vec<&str> = path.iter().map(|&step| steps[step].id.as_str()).collect();
        let message = format!("cycle: {} -> {}", names.join(" -> "), steps[first].id);
        problems.push(Problem::at(steps[first].pointer.clone(), message));
    }
    problems
}

/// The shortest path from `start` back to itself inside one strongly connected component,
/// `start` first (breadth first over successors).
fn shortest_cycle(
    graph: &DiGraph<(), ()>,
    start: usize,
    members: &std::collections::HashSet<usize>,
) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        for next in graph.neighbors(NodeIndex::new(current)) {
            let next = next.index();
            if next == start {
                let mut path = vec![current];
                while let Some(&before) = parent.get(path.last().unwrap_or(&start)) {
                    path.push(before);
                }
                path.reverse();
                return path;
            }
            if members.contains(&next) && next != start && !parent.contains_key(&next) {
                parent.insert(next, current);
                queue.push_back(next);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use crate::executor::test_support::accepting_anything;
    use crate::load::load_str;

    fn plan(source: &str) -> super::Plan {
        load_str(source, "test.json", &accepting_anything(&["noop"]))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn deps(plan: &super::Plan, id: &str) -> Vec<String> {
        let step = plan.index_of(id).unwrap();
        plan.dependencies(step)
            .iter()
            .map(|&dep| plan.steps()[dep].id.clone())
            .collect()
    }

    #[test]
    fn pipelines_chain_and_parallel_members_share_predecessors() {
        let plan = plan(
            r#"{"name": "t", "steps": [{"pipeline": [
                {"id": "a", "executor": "noop"},
                {"parallel": [{"id": "b", "executor": "noop"},
                              {"pipeline": [{"id": "c", "executor": "noop"}, {"id": "d", "executor": "noop"}]}]},
                {"id": "e", "executor": "noop"}
            ]}]}"#,
        );
        assert_eq!(deps(&plan, "a"), Vec::<String>::new());
        assert_eq!(deps(&plan, "b"), ["a"]);
        assert_eq!(deps(&plan, "c"), ["a"]);
        assert_eq!(deps(&plan, "d"), ["c"]);
        assert_eq!(deps(&plan, "e"), ["b", "d"]);
        assert_eq!(plan.sinks(), [plan.index_of("e").unwrap()]);
        assert_eq!(
            plan.steps()[3].pointer,
            "/steps/0/pipeline/1/parallel/1/pipeline/1"
        );
    }

    #[test]
    fn needing_a_group_waits_for_its_sinks() {
        let plan = plan(
            r#"{"name": "t", "steps": [
                {"id": "g", "max_parallel": 2, "parallel": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]},
                {"id": "c", "needs": ["g", "a", "a"], "executor": "noop", "with": {"x": "${{ steps.b.output }}"}}
            ]}"#,
        );
        assert_eq!(deps(&plan, "c"), ["a", "b"]);
        assert_eq!(plan.dependents(plan.index_of("a").unwrap()), [2]);
        assert_eq!(plan.steps()[0].group_limits, [("g".to_owned(), 2)]);
        assert_eq!(plan.steps()[2].referenced_steps, [1]);
    }

    /// The problems of loading `source`, one line each.
    fn problems(source: &str) -> Vec<String> {
        match load_str(source, "w.json", &accepting_anything(&["noop"])) {
            Ok(_) => Vec::new(),
            Err(error) => error.to_string().lines().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn reading_a_step_that_runs_side_by_side_is_an_error() {
        let found = problems(
            r#"{"name": "t", "steps": [{"id": "a", "executor": "noop", "with": {"output": 1}},
                {"id": "b", "executor": "noop", "with": {"output": "${{ steps.a.output }}"}}]}"#,
        );
        assert_eq!(
            found,
            [
                "w.json:/steps/1/with/output: `steps.a`: `b` does not wait for `a`, which may \
                 not have run yet; add `needs: [\"a\"]` to `b`, or put both in a pipeline"
            ]
        );
        // The same reads through `when`, `for_each` and a fallback, inside a parallel group.
        let found = problems(
            r#"{"name": "t", "steps": [{"parallel": [{"id": "a", "executor": "noop"},
                {"id": "b", "executor": "noop", "when": "steps.a.output > 0",
                 "for_each": "${{ steps.a.output }}", "fallbacks": [{"x": "${{ steps.a.output }}"}]}]}]}"#,
        );
        let places: Vec<&str> = found
            .iter()
            .map(|line| line.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            places,
            [
                "w.json:/steps/0/parallel/1/fallbacks/0/x",
                "w.json:/steps/0/parallel/1/for_each",
                "w.json:/steps/0/parallel/1/when",
            ],
            "{found:#?}"
        );
    }

    #[test]
    fn reading_a_later_step_says_that_step_waits() {
        let found = problems(
            r#"{"name": "t", "steps": [{"pipeline": [
                {"id": "a", "executor": "noop", "with": {"x": "${{ steps.c.output }}"}},
                {"id": "b", "executor": "noop"}, {"id": "c", "executor": "noop"}]}]}"#,
        );
        assert_eq!(
            found,
            [
                "w.json:/steps/0/pipeline/0/with/x: `steps.c`: `c` waits for `a`, so `a` cannot \
                 read its output"
            ]
        );
    }

    #[test]
    fn any_predecessor_may_be_read() {
        // Pipeline order, transitively; `needs` on a step; `needs` on a group its members
        // inherit; a group's sinks before its dependents; a step needed further up the chain.
        plan(
            r#"{"name": "t", "steps": [
                {"pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"},
                              {"id": "c", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}]},
                {"id": "d", "needs": ["a"], "executor": "noop", "when": "steps.a.output == 1"},
                {"id": "g", "needs": ["d"], "parallel": [
                    {"id": "e", "executor": "noop", "for_each": "${{ steps.a.output }}"},
                    {"id": "f", "executor": "noop", "with": {"x": "${{ steps.d.output }}"}}]},
                {"id": "h", "needs": ["g"], "executor": "noop",
                 "with": {"x": "${{ steps.e.output + steps.f.output + steps.a.output }}"}}
            ]}"#,
        );
    }

    #[test]
    fn reads_wrong_for_another_reason_get_one_problem_and_a_snapshot_is_trusted() {
        // Reading its own output, or in an expression already wrong: the loader's problem.
        let found = problems(
            r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
                {"id": "b", "executor": "noop", "with": {"x": "${{ steps.b.output }}"},
                 "for_each": "${{ steps.a.output"}]}"#,
        );
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains("must be one"), "{found:#?}");
        assert!(
            found[1].ends_with("step `b` reads its own output"),
            "{found:#?}"
        );
        // `needs` set aside after a problem in them: the step does not wait, as a consequence.
        let found = problems(
            r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
                {"id": "g", "needs": ["a", 5], "pipeline": [
                    {"id": "b", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}]}]}"#,
        );
        assert_eq!(
            found,
            ["w.json:/steps/1/needs/1: expected string, found a number"]
        );
        // A run stored before the rule existed still resumes.
        let snapshot = r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}]}"#;
        let plan =
            crate::load::load_snapshot(snapshot, "run", &accepting_anything(&["noop"])).unwrap();
        assert_eq!(plan.steps()[1].referenced_steps, [0]);
    }

    #[test]
    fn dot_and_mermaid_draw_groups() {
        let plan = plan(
            r#"{"name": "say \"hi\"", "steps": [{"id": "a", "executor": "noop"},
                {"id": "g", "needs": ["a"], "parallel": [{"id": "b", "executor": "noop"}, {"id": "c", "executor": "noop"}]}]}"#,
        );
        let dot = plan.to_dot();
        assert!(dot.contains("subgraph cluster_0"), "{dot}");
        assert!(dot.contains("s0 -> s1"), "{dot}");
        assert!(dot.contains(r#"say \"hi\""#), "{dot}");
        let mermaid = plan.to_mermaid();
        assert!(mermaid.contains("\nflowchart TB\n"), "{mermaid}");
        assert!(mermaid.contains("subgraph g0"), "{mermaid}");
        assert!(mermaid.contains("s0 --> s2"), "{mermaid}");
    }
}
