//! Whether an expression's cost is surely at most linear in what it reads: a guard judges
//! such rules on the engine's thread, and bounds the others' time on a thread of their own.

use cel::common::ast::Expr;
use cel::common::ast::operators::INDEX;

use super::Expression;
use super::condition::{parts, unknown_variables};

/// Whether `expression` surely costs at most its size times the size of what it reads.
/// Without a macro's loop, every operator and function of cairn's CEL is linear in its
/// operands, but one: `matches` compiles its pattern at every call, and a pattern with a
/// bounded repetition of a Unicode class (`^[\w.-]{1,64}$`) takes milliseconds to compile
/// and a microsecond a byte to match (probe 15 of stop 56: 10 s over a 10 MB string, 20 s
/// for a loop over a thousand short ones), so no call to it is. A loop (`all`, `exists`,
/// `exists_one`, `map`, `filter`) is linear when its body reads nothing but its own
/// variables, and a loop in its body goes over a part of its element only
/// (`commands.exists(c, c.exists(w, w == 'rm'))`, `items.all(i, i.tags.size() < 5)`): each
/// element of the data is then visited once at each level. A body that reads anything else
/// (`w.exists(x, x in w2)`, `ws.exists(w, ws.filter(x, x == w).size() > 1)`) could take the
/// square of the data's size, and a loop in a body over anything but the element
/// multiplies the outer loop's work: `r.all(a, r.all(b, …))` over a literal list of ten,
/// eight deep, took 22 s (probe 18 of stop 56). It recurses once per node.
pub(super) fn is_linear(expression: &Expression) -> bool {
    linear_in(expression, &[])
}

/// [`is_linear`] of `expression`, which is in the body of a loop whose element `element`
/// names (none outside every loop).
fn linear_in(expression: &Expression, element: &[&str]) -> bool {
    match &expression.expr {
        Expr::Call(call) if call.func_name == "matches" => false,
        Expr::Comprehension(loop_) => {
            if !element.is_empty() && !part_of(&loop_.iter_range.expr, element) {
                return false;
            }
            let own_element: Vec<&str> =
                [Some(loop_.iter_var.as_str()), loop_.iter_var2.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
            let own: Vec<&str> = (own_element.iter().copied())
                .chain([loop_.accu_var.as_str()])
                .collect();
            let body = [&loop_.loop_cond, &loop_.loop_step, &loop_.result];
            linear_in(&loop_.iter_range, element)
                && linear_in(&loop_.accu_init, element)
                && (body.into_iter()).all(|part| {
                    unknown_variables(part, &own).is_empty() && linear_in(part, &own_element)
                })
        }
        _ => (parts(expression).into_iter()).all(|part| linear_in(part, element)),
    }
}

/// Whether `expr` is a part of a loop's element, which `element` names: the element itself,
/// or a field or an index of a part of it (`c`, `i.tags`, `c[1]`).
fn part_of(expr: &Expr, element: &[&str]) -> bool {
    match expr {
        Expr::Ident(name) => element.contains(&name.as_str()),
        Expr::Select(select) if !select.test => part_of(&select.operand.expr, element),
        Expr::Call(call) if call.func_name == INDEX && call.target.is_none() => {
            matches!(&call.args[..], [operand, _] if part_of(&operand.expr, element))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::Condition;

    #[test]
    fn loops_over_their_own_elements_are_linear_and_loops_reading_more_are_not() {
        let linear = [
            "action.step.startsWith('deploy') && run.attempts > 3",
            "action.commands.exists(c, c.size() > 1 && c[0] == 'git' && c[1] == 'push')",
            "action.commands.all(c, c.exists(w, w.startsWith('-')))",
            "action.params.args.map(a, a + '!').filter(a, a.size() > 2).size() > 0",
            "action.commands.exists_one(c, c[0] == 'rm')",
            "has(action.params.cwd) && action.params.cwd.startsWith('/tmp/')",
            "type(action.item) == int && int(action.item) in [1, 2, 3]",
            "action.params.items.all(i, i.tags.exists(t, t.size() > 1) && i['n'].all(n, n > 0))",
            "action.commands.exists(c, c[c.size() - 1].exists(w, w == 'x'))",
        ];
        for text in linear {
            assert!(Condition::new(text).is_linear(), "{text}");
        }
        let not_linear = [
            // A loop inside another over the same list: the square of its length.
            "action.params.words.exists(w, action.params.words.filter(x, x == w).size() > 1)",
            // A body reading another list: its length times the range's.
            "action.params.words.exists(w, w in action.params.stop)",
            "action.commands.exists(c, c.exists(w, c.exists(x, x == w)))",
            "action.commands.exists(c, run.input.names.exists(n, n == c[0]))",
            // A loop in a loop over anything but the element: the product of the two.
            "[1, 2, 3].all(a, [1, 2, 3].all(b, [1, 2, 3].all(c, true)))",
            "action.commands.exists(c, (c + c).exists(w, w == 'x'))",
            // A regular expression: compiled at every call, some slow to match.
            "action.step.matches(run.input.pattern)",
            "matches(action.step, '^[\\\\w.-]{1,64}$')",
            "run.input.tags.all(t, t.matches('^[a-z]+$'))",
        ];
        for text in not_linear {
            assert!(!Condition::new(text).is_linear(), "{text}");
        }
        assert!(!Condition::new("action.step ==").is_linear());
    }
}
