//! Cycles in a plan's graph, named step by step.

use std::collections::HashMap;

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::NodeIndex;

use super::{Graph, PlanStep};
use crate::definition::Node;
use crate::problem::Problem;

/// One problem per cycle of `graph` (node `i` is `steps[i]`, at `pointer(i)`), naming it
/// step by step (`a -> b -> c -> a`), then the `needs` of groups it goes through:
/// `group(from, to)` says why step `to` waits for step `from` when a group's `needs` do.
pub(super) fn cycles(
    steps: &[PlanStep],
    graph: &Graph,
    pointer: impl Fn(usize) -> String,
    group: impl Fn(usize, usize) -> Option<String>,
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
        let mut message = format!("cycle: {} -> {}", names.join(" -> "), steps[first].id);
        let groups: Vec<String> = (path.iter().zip(path.iter().skip(1).chain([&first])))
            .filter_map(|(&from, &to)| group(from, to))
            .collect();
        if !groups.is_empty() {
            message.push_str(", through groups: ");
            message.push_str(&groups.join("; "));
        }
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

/// Why step `to` waits for `from` when that comes of a group's `needs` (`nodes` are the
/// workflow's steps, or a planner's plan's, the first at `root` of a step's path): `to`, or
/// a group holding it, needs `from` or a group holding it, and one of the two is a group.
/// `None` for a step's own `needs` of a step, and for pipeline order: the cycle's steps name
/// those already.
pub(super) fn group_needs(
    nodes: &[Node],
    root: u32,
    steps: &[PlanStep],
    from: usize,
    to: usize,
) -> Option<String> {
    let (from_id, to_id) = (&*steps[from].id, &*steps[to].id);
    let holding_from = ancestors(nodes, root, &steps[from].path);
    // The innermost node that needs what ends with `from` says it best (a group that only
    // holds `from` earlier in a pipeline is not why `to` waits for it).
    for needing in ancestors(nodes, root, &steps[to].path).iter().rev() {
        let Some(id) = needing.id.as_deref() else {
            continue;
        };
        let needed = (needing.needs.iter()).find(|need| {
            (holding_from.iter())
                .position(|node| node.id.as_ref() == Some(*need))
                .is_some_and(|at| ends_with(&holding_from[at..]))
        });
        let Some(needed) = needed else { continue };
        let who = match needing.group() {
            Some(_) => format!("group `{id}` (holding `{to_id}`)"),
            None => format!("`{id}`"),
        };
        return match (needing.group(), needed == from_id) {
            (None, true) => None,
            (_, true) => Some(format!("{who} needs `{from_id}`")),
            (_, false) => Some(format!(
                "{who} needs group `{needed}` (ending with `{from_id}`)"
            )),
        };
    }
    None
}

/// Whether the last of `chain` (each node a member of the one before) is one of the first's
/// ends, the steps a `needs` of the first waits for: every pipeline along it goes on with
/// its last member.
fn ends_with(chain: &[&Node]) -> bool {
    chain.windows(2).all(|pair| match pair[0].group() {
        Some(("pipeline", members)) => members
            .last()
            .is_some_and(|last| std::ptr::eq(last, pair[1])),
        _ => true,
    })
}

/// The nodes along `path` in `nodes` (the first of which is at `root`), outermost first:
/// the groups holding a step, then the step.
fn ancestors<'a>(nodes: &'a [Node], root: u32, path: &[u32]) -> Vec<&'a Node> {
    let mut found = Vec::with_capacity(path.len());
    let mut members = nodes;
    for (depth, &position) in path.iter().enumerate() {
        let position = match depth {
            0 => position.checked_sub(root),
            _ => Some(position),
        };
        let Some(node) = position.and_then(|position| members.get(position as usize)) else {
            break;
        };
        found.push(node);
        members = node.group().map_or(&[], |(_, members)| members);
    }
    found
}
