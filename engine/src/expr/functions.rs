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

/// Why the run would fail on the first call in `expression` to `matches` with a pattern
/// written in it that is no regular expression the evaluator compiles (`x.matches('(')`,
/// or one past the `regex` crate's size limit, `'\\w{1000}'`), if one does: every
/// evaluation that reaches it would fail. It recurses once per node.
pub(super) fn invalid_pattern(expression: &Expression) -> Option<String> {
    if let Expr::Call(call) = &expression.expr
        && call.func_name == "matches"
        && let Some(Expr::Literal(LiteralValue::String(pattern))) =
            call.args.last().map(|pattern| &pattern.expr)
        && let Err(error) = regex::Regex::new(pattern.inner())
    {
        let error = error.to_string();
        return Some(format!(
            "`matches` would fail at every call: its pattern `{}` is not a regular expression it can compile ({})",
            pattern.inner(),
            super::failure::regex_problem(&error)
        ));
    }
    parts(expression).into_iter().find_map(invalid_pattern)
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
        Some(_) => calls_qualified(call) || has_function(&call.func_name, true),
    }
}

/// Whether `call` calls a function by its qualified name (`optional.of(x)`, the function
/// `optional.of`): the evaluator then reads no value of its target, `optional` is no
/// variable.
pub(super) fn calls_qualified(call: &CallExpr) -> bool {
    (call.target.as_deref())
        .and_then(|target| qualified_name(&target.expr))
        .is_some_and(|name| has_function(&format!("{name}.{}", call.func_name), false))
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
pub(super) fn qualified_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => {
            Some(qualified_name(&select.operand.expr)? + "." + &select.field)
        }
        _ => None,
    }
}

/// Why `call`, to a function the context does not have, is refused: with the closest
/// function (or macro) it has, when one is close. A call on a namespace of CEL's functions
/// (`optional.off(1)`) names the function of the whole name, as the evaluator would have
/// called it.
fn refusal(call: &CallExpr) -> String {
    if let Some(namespace) = (call.target.as_deref())
        .and_then(|target| qualified_name(&target.expr))
        .filter(|name| STANDARD.iter().any(|standard| in_namespace(standard, name)))
    {
        let name = format!("{namespace}.{}", call.func_name);
        let known = (STANDARD.into_iter())
            .filter(|candidate| in_namespace(candidate, &namespace))
            .filter(|candidate| has_function(candidate, false));
        return suggest(
            format!("no function `{name}()` in cairn's CEL"),
            &name,
            known,
        );
    }
    // A macro's name with arguments of no form of it: not expanded (probe 76 F5: "no method
    // `.all()`; did you mean `all`?").
    let form = match call.func_name.as_str() {
        ALL | EXISTS | EXISTS_ONE | FILTER => Some("a variable and a condition: `xs.{}(x, x > 0)`"),
        MAP => Some("a variable and a value, a condition between them or not: `xs.map(x, x * 2)`"),
        HAS => Some("a field selected on a value: `has(input.name)`"),
        _ => None,
    };
    if let Some(form) = form {
        return format!(
            "`{}` is not called so in cairn's CEL (no two-variable form, `xs.all(i, x, …)`): \
             it takes {}",
            call.func_name,
            form.replace("{}", &call.func_name)
        );
    }
    let method = call.target.is_some();
    let (kind, name) = match method {
        true => ("method", format!(".{}()", call.func_name)),
        false => ("function", format!("{}()", call.func_name)),
    };
    let known = (STANDARD.into_iter())
        .filter(|candidate| has_function(candidate, method))
        .chain([HAS, ALL, EXISTS, EXISTS_ONE, MAP, FILTER]);
    suggest(
        format!("no {kind} `{name}` in cairn's CEL"),
        &call.func_name,
        known,
    )
}

/// Whether the function `name` is in `namespace` (`optional.of` in `optional`).
fn in_namespace(name: &str, namespace: &str) -> bool {
    (name.strip_prefix(namespace)).is_some_and(|rest| rest.starts_with('.'))
}

/// `reason`, with the name among `known` closest to `unknown` suggested, when one is close.
fn suggest<'a>(mut reason: String, unknown: &str, known: impl Iterator<Item = &'a str>) -> String {
    if let Some(meant) = crate::problem::closest(unknown, known) {
        let _ = write!(reason, "; did you mean `{meant}`?");
    }
    reason
}
