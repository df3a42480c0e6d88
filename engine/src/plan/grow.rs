//! Growing a plan at run time: the nodes a planner step's plan adds.
//!
//! A plan's nodes are compiled like a workflow's top-level `steps` (a parallel group) into
//! new steps of the same graph, numbered after the run's: the planner comes before the
//! plan's sources, and every step that waited for the planner waits for the plan's sinks
//! too. Their ids are prefixed with the planner's id and a dot (`gen` adds `gen.fix`), so
//! plans of different planners never collide; inside the plan, `needs` and `steps.ID` name
//! the plan's own nodes without the prefix, and any earlier step of the run by its id.
//!
//! Only what a plan adds is checked for cycles: the run's graph had none, so a cycle goes
//! through a new step, either among the new steps or through an earlier step a new one
//! needs that itself waits for the planner's dependents.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use petgraph::graph::NodeIndex;
use petgraph::visit::{Dfs, Walker};
use uuid::Uuid;

use super::{Builder, Graph, Links, Plan, StepIndex, add_edges, cycles, leaves};
use crate::definition::Node;
use crate::problem::Problem;

/// Nodes a planner step added to a run, committed with the planner's success.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Addition {
    /// The run.
    pub run_id: Uuid,
    /// 1 for the run's first plan, then 2, ...
    pub seq: u32,
    /// The planner step's id.
    pub planner: String,
    /// The plan's `steps` exactly as the planner emitted them, as the JSON text serde_json
    /// writes of them: the run's plan holds them compiled, and this text is what the store
    /// keeps and a resume compiles again (as a `Value` it cost ≈ 750 bytes a step).
    pub steps: String,
    /// The ids of the steps added, in plan order.
    pub ids: Vec<String>,
    /// The plan position of the first step added (the others follow it).
    pub first: StepIndex,
}

impl Plan {
    /// Adds the nodes of a plan `planner` emitted (already checked by the loader, see
    /// [`load_plan`](crate::load::load_plan)) after the planner and before its dependents.
    /// Returns the steps added, or the problems that keep them out — unknown `needs`,
    /// cycles — leaving the plan as it was. As for a compiled workflow, the expressions of
    /// the steps added are checked apart ([`unordered_reads`](super::unordered_reads)),
    /// which finds the steps they read as the plan stands; a plan refused for them is taken
    /// out again with [`Plan::shrink`].
    pub(crate) fn grow(
        &mut self,
        planner: StepIndex,
        mut nodes: Vec<Node>,
    ) -> Result<Range<StepIndex>, Vec<Problem>> {
        namespaced(&mut nodes, &self.namespace(planner));
        let base = self.steps.len();
        let root = (self.workflow.steps.len() + self.added.len()) as u32;
        let mut builder = Builder {
            outer: Some(self),
            planner: Some(planner),
            base,
            root,
            links: Links::new(base + leaves(&nodes), self.graph.edge_count()),
            ..Builder::default()
        };
        let mut pointer = String::from("/steps");
        let ends = builder.parallel(&self.workflow, &nodes, &mut pointer, &mut Vec::new());
        let pointer =
            |path: &[u32]| super::pointer_at(path, root, |top| &nodes[(top - root) as usize]);
        let dependents: Vec<StepIndex> = self.dependents(planner).collect();
        let planner_id = &self.steps[planner].id;
        builder.link_all(&[planner], &ends.sources, || {
            let what = format!(
                "the plan's {} first steps wait for `{planner_id}`",
                ends.sources.len()
            );
            ("/steps".to_owned(), what, "link fewer steps in the plan")
        });
        builder.link_all(&ends.sinks, &dependents, || {
            let what = format!(
                "each of the {} steps that wait for `{}` waits for each of the plan's \
                 {} last steps",
                dependents.len(),
                planner_id,
                ends.sinks.len()
            );
            ("/steps".to_owned(), what, "end the plan with one step")
        });
        let mut problems = builder.resolve_needs(pointer);
        let Builder {
            steps,
            group_sinks,
            edges,
            written,
            ..
        } = builder;
        let step_pointer = |step: StepIndex| pointer(&steps[step].path);
        let group = |from, to| super::cycles::group_needs(&nodes, root, &steps, from, to);
        let outer = Outer {
            planner,
            dependents: &dependents,
            written: &written,
        };
        problems.extend(self.cycles(outer, &steps, &edges, step_pointer, group));
        if !problems.is_empty() {
            return Err(problems);
        }

        let added = base..base + steps.len();
        for _ in added.clone() {
            self.graph.add_node(());
        }
        add_edges(&mut self.graph, edges);
        self.steps.extend(steps);
        let steps = &self.steps;
        for step in added.clone() {
            self.index
                .insert(&steps[step].id, step, |step| &steps[step].id);
        }
        self.groups.extend(group_sinks);
        self.plan_sinks.insert(planner, ends.sinks.to_vec());
        self.added
            .extend(nodes.into_iter().map(|node| (planner, node)));
        Ok(added)
    }

    /// The cycles a plan would close: among its new `steps` (numbered from the plan's step
    /// count; `pointer` gives where the `k`-th is in the plan, `group` the `needs` of the plan's
    /// groups that make the `k`-th wait for the `j`-th), and through an earlier step a new one
    /// needs that waits for the planner's dependents (named by the need as written).
    fn cycles(
        &self,
        Outer {
            planner,
            dependents,
            written,
        }: Outer,
        steps: &[super::PlanStep],
        edges: &[(StepIndex, StepIndex)],
        pointer: impl Fn(usize) -> String,
        group: impl Fn(usize, usize) -> Option<String>,
    ) -> Vec<Problem> {
        let base = self.steps.len();
        let mut local = Graph::with_capacity(steps.len(), edges.len());
        for _ in steps {
            local.add_node(());
        }
        let inner = (edges.iter()).filter(|&&(from, to)| from >= base && to >= base);
        add_edges(
            &mut local,
            inner.map(|&(from, to)| (from - base, to - base)).collect(),
        );
        let mut problems = cycles(steps, &local, &pointer, group);
        let needed: HashSet<StepIndex> = (edges.iter())
            .filter(|&&(from, to)| from < base && to >= base && from != planner)
            .map(|&(from, _)| from)
            .collect();
        if needed.is_empty() {
            return problems;
        }
        let mut dfs = Dfs::empty(&self.graph);
        for &dependent in dependents {
            dfs.move_to(NodeIndex::new(dependent));
            for reached in (&mut dfs).iter(&self.graph) {
                if !needed.contains(&reached.index()) {
                    continue;
                }
                let id = &self.steps[reached.index()].id;
                let (planner_id, dependent_id) =
                    (&self.steps[planner].id, &self.steps[dependent].id);
                for &(_, to) in edges
                    .iter()
                    .filter(|&&(from, to)| from == reached.index() && to >= base)
                {
                    let step = &steps[to - base];
                    let (need, place) = match written.get(&(reached.index(), to)) {
                        Some((need, place)) => (*need, place.clone()),
                        None => (&**id, format!("{}/needs", pointer(to - base))),
                    };
                    // A need that is the planner's dependent itself waits for its plan.
                    let through = match id == dependent_id {
                        true => String::new(),
                        false => format!(", which waits for `{dependent_id}`"),
                    };
                    let message = format!(
                        "cycle: `{}` needs `{need}`{through}, which waits for the plan of `{planner_id}`",
                        step.id
                    );
                    problems.push(Problem::at(place, message));
                }
            }
        }
        problems
    }

    /// The steps a step that a later plan adds waits for when it needs `step`, besides
    /// `step`: the sinks of the plan `step` added, if it is a planner that planned, and those
    /// of the plans their planners added in turn (probe 52 F1: such a step started while the
    /// plan of a planner it needed still ran).
    pub(super) fn plan_ends(&self, step: StepIndex) -> Vec<StepIndex> {
        let mut ends = Vec::new();
        let mut planners = vec![step];
        while let Some(planner) = planners.pop() {
            if let Some(sinks) = self.plan_sinks.get(&planner) {
                ends.extend_from_slice(sinks);
                planners.extend_from_slice(sinks);
            }
        }
        ends
    }

    /// Takes the steps `added`, the last [`grow`](Self::grow) added, out again (at least
    /// one: the nodes that added them are found from the first). Their ids must have been
    /// new to the plan: the index forgets each, whichever step it named.
    pub(crate) fn shrink(&mut self, added: Range<StepIndex>) {
        if let Some(planner) = self.planner_of(added.start) {
            self.plan_sinks.remove(&planner);
        }
        for step in added.clone().rev() {
            self.graph.remove_node(NodeIndex::new(step));
            let steps = &self.steps;
            self.index.remove(&steps[step].id, |step| &steps[step].id);
        }
        let roots = self.workflow.steps.len();
        let first_root = self.steps[added.start].path[0] as usize - roots;
        self.added.truncate(first_root);
        self.groups
            .retain(|_, sinks| sinks.iter().all(|&sink| sink < added.start));
        self.steps.truncate(added.start);
    }
}

/// The planner a plan is added for, as [`Plan::cycles`] looks for cycles through it.
struct Outer<'a> {
    planner: StepIndex,
    /// The steps that wait for the planner.
    dependents: &'a [StepIndex],
    /// The plan's needs of earlier steps, as written ([`Builder::written`]).
    written: &'a HashMap<(StepIndex, StepIndex), (&'a str, String)>,
}

/// Prefixes the ids of `nodes` (and their members) with `namespace`, and the `needs` that
/// name them.
fn namespaced(nodes: &mut [Node], namespace: &str) {
    fn rename(nodes: &mut [Node], own: &HashSet<String>, namespace: &str) {
        for node in nodes {
            if let Some(id) = &mut node.id {
                id.insert_str(0, namespace);
            }
            for need in &mut node.needs {
                if own.contains(need.as_str()) {
                    need.insert_str(0, namespace);
                }
            }
            for members in [&mut node.pipeline, &mut node.parallel]
                .into_iter()
                .flatten()
            {
                rename(members, own, namespace);
            }
        }
    }
    let own: HashSet<String> = Node::all(nodes)
        .filter_map(|node| node.id.clone())
        .collect();
    rename(nodes, &own, namespace);
}

#[cfg(test)]
mod tests;
