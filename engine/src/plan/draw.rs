//! Drawing a plan: Graphviz `dot` and Mermaid, groups as clusters/subgraphs.
//!
//! Steps are named `s<index>` in both syntaxes and labelled with their ids, so no id needs
//! quoting rules of its own.

use std::borrow::Cow;
use std::fmt::Write;

use super::Plan;
use crate::definition::Node;
use crate::state::StepState;

/// A drawing syntax.
trait Syntax {
    fn open_group(&mut self, out: &mut String, number: usize, label: &str, depth: usize);
    fn close_group(&mut self, out: &mut String, depth: usize);
    fn step(&mut self, out: &mut String, index: usize, label: &str, depth: usize);
}

/// The plan in Graphviz `dot` syntax, steps labelled with their `states` if given.
pub(super) fn dot(plan: &Plan, states: &[StepState]) -> String {
    let mut out = String::from("digraph workflow {\n");
    let _ = writeln!(
        out,
        "  label=\"{}\";\n  labelloc=t;",
        dot_escape(&drawn(&plan.workflow.name))
    );
    out.push_str("  rankdir=TB;\n  node [shape=box, style=rounded];\n");
    tree(plan, states, &mut Dot, &mut out);
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "  s{from} -> s{to};");
    }
    out.push_str("}\n");
    out
}

/// The plan as a Mermaid flowchart, steps labelled with their `states` if given.
pub(super) fn mermaid(plan: &Plan, states: &[StepState]) -> String {
    let mut out = String::new();
    // The front matter is YAML, whose double-quoted strings take JSON's escapes (`\u…`
    // for the delete and C1 controls too, which JSON leaves as they are).
    let mut title = String::new();
    for c in serde_json::to_string(&drawn(&plan.workflow.name))
        .unwrap_or_default()
        .chars()
    {
        match c {
            c if c.is_control() => {
                let _ = write!(title, "\\u{:04x}", u32::from(c));
            }
            c => title.push(c),
        }
    }
    let _ = writeln!(out, "---\ntitle: {title}\n---\nflowchart TB");
    tree(plan, states, &mut Mermaid, &mut out);
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "  s{from} --> s{to}");
    }
    out
}

/// Every edge (`from`, `to`), ordered by `to`, then `from`.
fn edges(plan: &Plan) -> impl Iterator<Item = (usize, usize)> + '_ {
    (0..plan.steps.len()).flat_map(move |to| plan.dependencies(to).map(move |from| (from, to)))
}

/// Writes the steps, nested in their groups.
fn tree(plan: &Plan, states: &[StepState], syntax: &mut impl Syntax, out: &mut String) {
    let mut walk = Walk {
        plan,
        states,
        next_step: 0,
        next_group: 0,
    };
    for node in &plan.workflow.steps {
        walk.node(node, syntax, out, 1);
    }
    // The nodes each plan added, in a group named for its planner.
    for plan_nodes in plan.added.chunk_by(|a, b| a.0 == b.0) {
        let number = walk.next_group;
        walk.next_group += 1;
        let label = format!("plan of {}", drawn(&plan.steps[plan_nodes[0].0].id));
        syntax.open_group(out, number, &label, 1);
        for (_, node) in plan_nodes {
            walk.node(node, syntax, out, 2);
        }
        syntax.close_group(out, 1);
    }
}

struct Walk<'a> {
    plan: &'a Plan,
    states: &'a [StepState],
    next_step: usize,
    next_group: usize,
}

impl Walk<'_> {
    fn node(&mut self, node: &Node, syntax: &mut impl Syntax, out: &mut String, depth: usize) {
        let Some((kind, members)) = node.group() else {
            let index = self.next_step;
            self.next_step += 1;
            let step = &self.plan.steps[index];
            let mut label = match &node.executor {
                Some(executor) => format!("{}\n{executor}", drawn(&step.id)),
                None => drawn(&step.id).into_owned(),
            };
            if let Some(state) = self.states.get(index) {
                label.push_str(&format!("\n[{state}]"));
            }
            syntax.step(out, index, &label, depth);
            return;
        };
        let number = self.next_group;
        self.next_group += 1;
        let label = match &node.id {
            Some(id) => format!("{} ({kind})", drawn(id)),
            None => kind.to_owned(),
        };
        syntax.open_group(out, number, &label, depth);
        for member in members {
            self.node(member, syntax, out, depth + 1);
        }
        syntax.close_group(out, depth);
    }
}

struct Dot;

impl Syntax for Dot {
    fn open_group(&mut self, out: &mut String, number: usize, label: &str, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = writeln!(
            out,
            "{indent}subgraph cluster_{number} {{\n{indent}  label=\"{}\";",
            dot_escape(label)
        );
    }

    fn close_group(&mut self, out: &mut String, depth: usize) {
        let _ = writeln!(out, "{}}}", "  ".repeat(depth));
    }

    fn step(&mut self, out: &mut String, index: usize, label: &str, depth: usize) {
        let _ = writeln!(
            out,
            "{}s{index} [label=\"{}\"];",
            "  ".repeat(depth),
            dot_escape(label)
        );
    }
}

struct Mermaid;

impl Syntax for Mermaid {
    fn open_group(&mut self, out: &mut String, number: usize, label: &str, depth: usize) {
        let _ = writeln!(
            out,
            "{}subgraph g{number} [\"{}\"]",
            "  ".repeat(depth),
            mermaid_escape(label)
        );
    }

    fn close_group(&mut self, out: &mut String, depth: usize) {
        let _ = writeln!(out, "{}end", "  ".repeat(depth));
    }

    fn step(&mut self, out: &mut String, index: usize, label: &str, depth: usize) {
        let _ = writeln!(
            out,
            "{}s{index}[\"{}\"]",
            "  ".repeat(depth),
            mermaid_escape(label)
        );
    }
}

/// The most characters of a name (a workflow's, an id) drawn: Graphviz refuses a quoted string
/// of more than 16,384 bytes, and a re-plan loop's ids grow a few characters a round.
const MOST_LABEL_CHARS: usize = 1_000;

/// A `name` (a workflow's, a step's or group's id) as drawn: its last [`MOST_LABEL_CHARS`]
/// characters after an ellipsis when it is longer (a re-plan loop's ids differ at their end).
fn drawn(name: &str) -> Cow<'_, str> {
    match name.char_indices().rev().nth(MOST_LABEL_CHARS - 1) {
        Some((at, _)) if at > 0 => Cow::Owned(format!("…{}", &name[at..])),
        _ => Cow::Borrowed(name),
    }
}

/// Escapes a `dot` string; newlines become line breaks, and the other control characters
/// (but tab), which a terminal obeys, are drawn as `\u{…}`.
fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {
                let _ = write!(out, "\\\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes a Mermaid label; newlines become line breaks.
fn mermaid_escape(text: &str) -> String {
    text.replace('"', "#quot;").replace('\n', "<br>")
}
