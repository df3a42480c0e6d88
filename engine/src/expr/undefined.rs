//! Why an expression that names a variable its place does not define is refused, and what
//! it may read instead.

use std::fmt::Write as _;

use super::pieces::is_ident_byte;

/// Why the expression `expr` that names the variables `unknown`, where only `known` are
/// defined, is refused: what it may read instead.
pub(super) fn undefined(expr: &str, unknown: &[String], known: &[&str]) -> String {
    let quoted = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
        names.join(", ")
    };
    let unknown: Vec<&str> = unknown.iter().map(String::as_str).collect();
    let (read, defined) = (quoted(&unknown), quoted(known));
    let mut reason = format!("no variable {read} here (an expression here reads {defined})");
    if !known.contains(&"item") && unknown.iter().any(|name| ["item", "index"].contains(name)) {
        reason.push_str(
            "; `item` and `index` are read only in the `with` and `fallbacks` of a `for_each` step",
        );
    } else if let Some(id) = dashed_step_id(expr, &unknown) {
        let _ = write!(reason, "; write `steps['{id}']` for a step id with `-`");
    } else if let [one] = unknown[..]
        && let Some(meant) = crate::problem::closest(one, known.iter().copied())
    {
        let _ = write!(reason, "; did you mean `{meant}`?");
    }
    reason
}

/// The step id with a `-` that `expr` writes after `steps.` (`steps.a-b.output`), which CEL
/// reads as a subtraction (`steps.a - b.output`) of a variable among `unknown`, if any.
fn dashed_step_id<'e>(expr: &'e str, unknown: &[&str]) -> Option<&'e str> {
    let starts = expr.match_indices("steps.").map(|(at, _)| at);
    starts
        .filter(|&at| at == 0 || !is_ident_byte(expr.as_bytes()[at - 1]))
        .find_map(|at| {
            let rest = &expr[at + "steps.".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            let id = rest[..end].trim_end_matches('-');
            let mut after_dash = id.split('-').skip(1);
            after_dash.any(|part| unknown.contains(&part)).then_some(id)
        })
}
