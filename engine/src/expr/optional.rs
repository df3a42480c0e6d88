//! Optional values (`optional.of(1)`, `{}.?a`) have no JSON form, and an expression's value
//! must have one: the run refuses an expression whose value holds an optional, rather than
//! take it as `null` as the `cel` crate would ([`super::json_form()`]), and the loader one
//! whose value surely is one.

use cel::common::ast::operators::{CONDITIONAL, INDEX, OPT_INDEX, OPT_SELECT};
use cel::common::ast::{EntryExpr, Expr, MapExpr};

use super::Expression;
use super::functions::qualified_name;

/// Why an expression whose value holds an optional is refused.
pub(super) const NO_JSON_FORM: &str = "its value is or holds an optional, which has no JSON \
    form: take what it holds with `.value()` or `.orValue(default)`";

/// The functions that make an optional.
const MAKERS: [&str; 3] = ["optional.of", "optional.none", "optional.ofNonZeroValue"];

/// Whether the value of `expression`, as written, is or holds an optional whatever it
/// reads: a call that makes one (`optional.of(x)`), an optional field or index (`x.?a`,
/// `x[?0]`), a field or index of one (`x.?a.b`, `x.?a[0]`, which select in what it holds),
/// `o.or(p)` of two, a choice (`c ? o : p`, as `o.optMap(v, …)` expands) between two, a
/// macro whose result is one (as a bound `optMap` target's expansion), or a list or map
/// literal with one as an element or value (not as an optional entry, `[?o]`, which holds
/// what `o` holds, if anything). What takes the value out (`.value()`, `.orValue(x)`,
/// `.hasValue()`) ends it.
pub(super) fn surely_optional(expression: &Expression) -> bool {
    match &expression.expr {
        Expr::Call(call) => match (call.func_name.as_str(), &call.target, &call.args[..]) {
            (OPT_SELECT | OPT_INDEX, None, _) => true,
            (INDEX, None, [operand, _]) => surely_optional(operand),
            (CONDITIONAL, None, [_, chosen, other]) => {
                surely_optional(chosen) && surely_optional(other)
            }
            ("or", Some(target), [other]) => surely_optional(target) && surely_optional(other),
            (_, Some(target), _) => qualified_name(&target.expr).is_some_and(|namespace| {
                MAKERS.contains(&format!("{namespace}.{}", call.func_name).as_str())
            }),
            _ => false,
        },
        Expr::Select(select) => !select.test && surely_optional(&select.operand),
        Expr::Comprehension(loop_) => surely_optional(&loop_.result),
        Expr::List(list) => (list.elements.iter().enumerate())
            .any(|(at, element)| !list.optional_indices.contains(&at) && surely_optional(element)),
        Expr::Map(MapExpr { entries }) => entries.iter().any(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => !entry.optional && surely_optional(&entry.value),
            EntryExpr::StructField(_) => false,
        }),
        _ => false,
    }
}
