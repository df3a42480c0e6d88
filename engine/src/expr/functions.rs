//! The functions an expression calls: each must be one the run's CEL context has, or the
//! step would fail on it when it runs.

use std::fmt::Write as _;

use cel::ExecutionError;
use cel::common::ast::operators::{ALL, EXISTS, EXISTS_ONE, FILTER, HAS, MAP};
use cel::common::ast::{CallExpr, Expr, LiteralValue};

use super::condition::parts;
use super::{Expression, functions_context};

/// Names of CEL's standard functions, only to suggest one for a misspelt call: those the
/// run's context lacks (such as `timestamp`, without the `cel` crate's `chrono` feature) are
/// never suggested, and whether a call is refused is asked of the context itself.
const STANDARD: [&str; 32] = [
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "dyn",
    "type",
    "duration",
    "timestamp",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "optional.of",
    "optional.ofNonZeroValue",
    "optional.none",
    "hasValue",
    "value",
    "or",
    "orValue",
];

/// Why the run would fail on the first call in `expression` to a function its context does
/// not have (`nosuch(1)`, `x.nosuch()`), if one does. It recurses once per node.
pub(super) fn unknown_function(expression: &Expression) -> Option<String> {
    if let Expr::Call(call) = &expression.expr
        && is_named(&call.func_name)
        && !is_declared(call)
    {
        return Some(refusal(call));
    }
    parts(expression).into_iter().find_map(unknown_function)
}

/// Whether `name` is a function's name as written (`size`, `optional.of`), not an
/// operator's (`_+_`, `@in`), which the evaluator handles itself.
fn is_named(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// Whether the run's context has the function `call` calls: as the evaluator does, a call
/// on a qualified name (`optional.of(x)`) may call the function of that whole name, and
/// else calls a method on its target.
fn is_declared(call: &CallExpr) -> bool {
    match &call.target {
        None => has_function(&call.func_name, false),
        Some(target) => {
            qualified_name(&target.expr)
                .is_some_and(|name| has_function(&format!("{name}.{}", call.func_name), false))
                || has_function(&call.func_name, true)
        }
    }
}

/// Whether the run's context has the function `name`, called as a method when `method`.
///
/// The `cel` crate does not list a context's functions, so the context is asked by calling
/// `name` without arguments (on `null` for a method) where no variable is defined: only
/// a name it lacks fails as an undeclared reference. The standard functions it may run so
/// are pure.
fn has_function(name: &str, method: bool) -> bool {
    let target = method.then(|| {
        Box::new(Expression {
            id: 0,
            expr: Expr::Literal(LiteralValue::Null),
        })
    });
    let probe = Expression {
        id: 0,
        expr: Expr::Call(CallExpr {
            func_name: name.to_owned(),
            target,
            args: Vec::new(),
        }),
    };
    !matches!(
        cel::Value::resolve(&probe, &functions_context()),
        Err(ExecutionError::UndeclaredReference(_))
    )
}

/// The name `expr` spells, when it is a name or fields selected on one (`a.b.c`).
fn qualified_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => {
            Some(qualified_name(&select.operand.expr)? + "." + &select.field)
        }
        _ => None,
    }
}

/// Why `call`, to a function the context does not have, is refused: with the closest
/// function (or macro) it has, when one is close.
fn refusal(call: &CallExpr) -> String {
    let method = call.target.is_some();
    let (kind, name) = match method {
        true => ("method", format!(".{}()", call.func_name)),
        false => ("function", format!("{}()", call.func_name)),
    };
    let mut reason = format!("no {kind} `{name}` in cairn's CEL");
    let known = (STANDARD.into_iter())
        .filter(|candidate| has_function(candidate, method))
        .chain([HAS, ALL, EXISTS, EXISTS_ONE, MAP, FILTER]);
    if let Some(meant) = crate::problem::closest(&call.func_name, known) {
        let _ = write!(reason, "; did you mean `{meant}`?");
    }
    reason
}
