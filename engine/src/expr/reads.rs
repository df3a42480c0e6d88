//! What a condition surely gets wrong whatever its variables hold, beyond the names it
//! reads: a field that an object of fixed fields (a guard's `action`) does not have, and a
//! value that is surely not a boolean.

use cel::common::ast::operators::{
    ADD, CONDITIONAL, DIVIDE, INDEX, MODULO, MULTIPLY, NEGATE, OPT_INDEX, OPT_SELECT, SUBSTRACT,
};
use cel::common::ast::{Expr, LiteralValue};

use super::Expression;
use super::condition::parts;

/// The fields `expression` reads of `object` (a variable, or fields selected on one:
/// `run.usage`) that are not among `fields`, each once, in the order written: as
/// `object.name`, `has(object.name)` or `object['name']`, or optionally (`object.?name`,
/// `object[?'name']`: a misspelt one is always absent, its `orValue` always taken). Inside a macro that binds the
/// object's first name to a value of its own (`[1].all(action, action > 0)`), it is not
/// the object. It recurses once per node.
pub(super) fn unknown_fields(
    expression: &Expression,
    object: &str,
    fields: &[&str],
) -> Vec<String> {
    let mut unknown = Vec::new();
    let root = object.split('.').next().unwrap_or(object);
    unknown_in(expression, object, root, fields, &mut unknown);
    unknown
}

fn unknown_in(
    expression: &Expression,
    object: &str,
    root: &str,
    fields: &[&str],
    unknown: &mut Vec<String>,
) {
    if let Some(field) = field_of(&expression.expr, object)
        && !fields.contains(&field)
        && !unknown.iter().any(|known| known == field)
    {
        unknown.push(field.to_owned());
    }
    if let Expr::Comprehension(loop_) = &expression.expr {
        let binds = [
            Some(&loop_.iter_var),
            loop_.iter_var2.as_ref(),
            Some(&loop_.accu_var),
        ];
        if binds.into_iter().flatten().any(|name| name == root) {
            // Only the range and the first value read the outer name.
            for part in [&loop_.iter_range, &loop_.accu_init] {
                unknown_in(part, object, root, fields, unknown);
            }
            return;
        }
    }
    for part in parts(expression) {
        unknown_in(part, object, root, fields, unknown);
    }
}

/// The field `expr` reads of `object`, if it reads one by a name written out.
fn field_of<'e>(expr: &'e Expr, object: &str) -> Option<&'e str> {
    let (operand, field) = selection(expr)?;
    (read_path(operand)?.as_str() == object).then_some(field)
}

/// The operand and the field `expr` selects by a name written out: `x.f` (also in `has()`),
/// `x.?f`, `x['f']`, `x[?'f']`.
fn selection(expr: &Expr) -> Option<(&Expr, &str)> {
    match expr {
        Expr::Select(select) => Some((&select.operand.expr, select.field.as_str())),
        Expr::Call(call)
            if [INDEX, OPT_INDEX, OPT_SELECT].contains(&call.func_name.as_str())
                && call.target.is_none() =>
        {
            match &call.args[..] {
                [operand, key] => match &key.expr {
                    Expr::Literal(LiteralValue::String(key)) => Some((&operand.expr, key.inner())),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The object `expr` reads, its fields written out, as a dotted name: `run.usage` for
/// `run.usage`, `run.?usage` or `run['usage']`, so that the fields read of it are checked
/// however it was reached. It recurses once per field.
fn read_path(expr: &Expr) -> Option<String> {
    if let Expr::Ident(name) = expr {
        return Some(name.clone());
    }
    let (operand, field) = selection(expr)?;
    Some(read_path(operand)? + "." + field)
}

/// What `expression`'s value surely is when that is not a boolean, whatever it reads: a
/// literal of another type, a list or map, arithmetic (`1 + 1`; `+` joins strings and
/// lists too), a call of a function whose value is never one (`size`, `string`, …), a
/// `map` or `filter` macro (a list), or a `?:` both of whose branches are such. It recurses
/// only through `?:`.
pub(super) fn surely_not_boolean(expression: &Expression) -> Option<&'static str> {
    match &expression.expr {
        Expr::Literal(LiteralValue::Boolean(_)) => None,
        Expr::Literal(LiteralValue::Null) => Some("null"),
        Expr::Literal(LiteralValue::String(_)) => Some("a string"),
        Expr::Literal(LiteralValue::Bytes(_)) => Some("bytes"),
        Expr::Literal(_) => Some("a number"),
        Expr::List(_) => Some("a list"),
        Expr::Map(_) => Some("a map"),
        Expr::Call(call) => match call.func_name.as_str() {
            ADD | SUBSTRACT | MULTIPLY | DIVIDE | MODULO | NEGATE => {
                Some("the value of arithmetic")
            }
            CONDITIONAL => match &call.args[..] {
                [_, then, otherwise] => surely_not_boolean(then).and(surely_not_boolean(otherwise)),
                _ => None,
            },
            "size" | "int" | "uint" | "double" | "string" | "bytes" | "type" | "duration"
            | "timestamp" => Some("the value of a function that gives no boolean"),
            _ => None,
        },
        Expr::Comprehension(loop_) if matches!(loop_.accu_init.expr, Expr::List(_)) => {
            Some("a list (`map` and `filter` make one)")
        }
        _ => None,
    }
}
