//! Cycles in a plan's graph, named step by step.

use std::collections::HashMap;

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::NodeIndex;

use super::{Graph, PlanStep};
use crate::problem::Problem;

/// One problem per cycle of `graph` (node `i` is `steps[i]`, at `pointer(i)`), naming it
/// step by step (`a -> b -> c -> a`).
pub(super) fn cycles(
    steps: &[PlanStep],
    graph: &Graph,
    pointer: impl Fn(usize) -> String,
) -> Vec<Problem> {
    if toposort(graph, None).is_ok() {
        return Vec::new();
    }
    // Tarjan's algorithm in petgraph recurses once per step on a path; Kosaraju's does not.
    let mut problems = Vec::new();
    for component in kosaraju_scc(graph) {
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
        let path = shortest_cycle(graph, first, &members);
        let names: Vec<&str> = path.iter().map(|&step| &*steps[step].id).collect();
        let message = format!("cycle: {} -> {}", names.join(" -> "), steps[first].id);
        problems.push(Problem::at(pointer(first), message));
    }
    problems
}

/// The shortest path from `start` back to itself inside one strongly connected component,
/// `start` first (breadth first over successors).
fn shortest_cycle(
    graph: &Graph,
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
