//! The hint an unknown need is given: the id it most likely meant, among those a need may
//! name without a cycle.

use std::collections::HashSet;

use petgraph::graph::NodeIndex;
use petgraph::visit::{Dfs, Walker};

use super::{Builder, StepIndex};
use crate::problem::closest;

impl Builder<'_> {
    /// ` (did you mean `x`?)` for the id closest to `unknown`, if one is close: not one of
    /// the steps `needing` it (`needs: [""]` beside one step `a` suggested `a` itself).
    pub(super) fn suggest(&self, unknown: &str, needing: &[StepIndex]) -> String {
        let outer = self.outer.into_iter();
        let planned = self.outer.zip(self.planner);
        // The planner, by the id its own plan gave it (`q` of `p.q`).
        if let Some((plan, planner)) = planned {
            let id = &*plan.steps[planner].id;
            if (id.strip_suffix(unknown)).is_some_and(|parent| parent.ends_with('.')) {
                return format!(" (did you mean `{id}`?)");
            }
        }
        // Not a step or group that waits for the planner: needing it would be a cycle
        // (probe 205 F3: `j`, needing the planner, was offered for `q`).
        let waiting: HashSet<StepIndex> = planned.map_or_else(HashSet::new, |(plan, planner)| {
            let from = NodeIndex::new(planner);
            Dfs::new(&plan.graph, from)
                .iter(&plan.graph)
                .map(NodeIndex::index)
                .filter(|&step| step != planner)
                .collect()
        });
        let waits = |step: &StepIndex| waiting.contains(step) || Some(*step) == self.planner;
        // A plan's own steps as its needs name them: without the planner's prefix.
        let prefix = planned.map(|(plan, planner)| plan.namespace(planner));
        let steps = (self.index.steps())
            .filter(|step| !needing.contains(step))
            .map(|step| {
                let id = &*self.steps[step - self.base].id;
                (prefix.as_deref())
                    .and_then(|prefix| id.strip_prefix(prefix))
                    .unwrap_or(id)
            });
        let outer_steps = (outer.clone()).flat_map(|plan| {
            (plan.index.steps())
                .filter(|step| !waiting.contains(step))
                .map(|step| &*plan.steps[step].id)
        });
        let outer_groups = outer.flat_map(|plan| {
            (plan.groups.iter())
                .filter(|(_, sinks)| !sinks.iter().any(waits))
                .map(|(id, _)| id)
        });
        let groups = (self.group_sinks.keys())
            .chain(outer_groups)
            .map(String::as_str);
        match closest(unknown, steps.chain(outer_steps).chain(groups)) {
            Some(id) => format!(" (did you mean `{id}`?)"),
            None => String::new(),
        }
    }
}
