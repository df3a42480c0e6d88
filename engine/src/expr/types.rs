//! The type names an expression reads (`int` in `type(x) == int`): values the run's
//! context has, not variables, and each must be one it has, or the step would fail on it
//! when it runs.

use cel::common::ast::Expr;

use super::condition::parts;
use super::functions::qualified_name;
use super::{Expression, functions_context};

/// CEL's standard type names, only to tell a type the run's context lacks (a timestamp's,
/// without the `cel` crate's `chrono` feature) from a misspelt variable: whether a name is a
/// type is asked of the context itself.
const STANDARD: [&str; 13] = [
    "bool",
    "bytes",
    "double",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "type",
    "uint",
    "optional_type",
    "google.protobuf.Duration",
    "google.protobuf.Timestamp",
];

/// Whether `expression`, a name or fields selected on one, names a type the run's context
/// has (`int`, `optional_type`). The context is asked by reading the name where no variable
/// is defined: only a type's name reads as a value there.
pub(super) fn names_type(expression: &Expression) -> bool {
    qualified_name(&expression.expr).is_some()
        && cel::Value::resolve(expression, &functions_context()).is_ok()
}

/// Why the run would fail on the first of CEL's standard type names in `expression` that
/// its context lacks (`google.protobuf.Timestamp`), if one is there. It recurses once per
/// node.
pub(super) fn unsupported_type(expression: &Expression) -> Option<String> {
    if let Some(name) = STANDARD
        .into_iter()
        .find(|name| spells(&expression.expr, name))
        && !names_type(expression)
    {
        return Some(format!("the type `{name}` is not supported by cairn's CEL"));
    }
    parts(expression).into_iter().find_map(unsupported_type)
}

/// Whether `expr` is the name `name`, or fields selected on a name, as `name` is dotted
/// (`google.protobuf.Timestamp`).
fn spells(expr: &Expr, name: &str) -> bool {
    match expr {
        Expr::Ident(ident) => ident == name,
        Expr::Select(select) if !select.test => {
            name.rsplit_once('.').is_some_and(|(head, field)| {
                field == select.field && spells(&select.operand.expr, head)
            })
        }
        _ => false,
    }
}
