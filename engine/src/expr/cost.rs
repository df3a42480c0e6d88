//! Whether an expression's cost is surely at most linear in what it reads: a guard judges
//! such rules on the engine's thread, and bounds the others' time on a thread of their own.

use cel::common::ast::Expr;

use super::Expression;
use super::condition::{parts, unknown_variables};

/// Whether `expression` surely costs at most its size times the size of what it reads.
/// Without a macro's loop, every operator and function of cairn's CEL is linear in its
/// operands, but one: `matches` compiles its pattern at every call, and a pattern with a
/// bounded repetition of a Unicode class (`^[\w.-]{1,64}$`) takes milliseconds to compile
/// and a microsecond a byte to match (probe 15 of stop 56: 10 s over a 10 MB string, 20 s
/// for a loop over a thousand short ones), so no call to it is. A loop (`all`, `exists`,
/// `exists_one`, `map`, `filter`) is linear when its body reads nothing but its own
/// variables: it then visits each element of its range once, whatever the body does with
/// it (`commands.exists(c, c.exists(w, w == 'rm'))`). A body that reads anything else
/// (`w.exists(x, x in w2)`, `ws.exists(w, ws.filter(x, x == w).size() > 1)`) could take the
/// square of the data's size, or more. It recurses once per node.
pub(super) fn is_linear(expression: &Expression) -> bool {
    match &expression.expr {
        Expr::Call(call) if call.func_name == "matches" => false,
        Expr::Comprehension(loop_) => {
            let own = [Some(loop_.iter_var.as_str()), loop_.iter_var2.as_deref()];
            let own: Vec<&str> = (own.into_iter().flatten())
                .chain([loop_.accu_var.as_str()])
                .collect();
            let body = [&loop_.loop_cond, &loop_.loop_step, &loop_.result];
            is_linear(&loop_.iter_range)
                && is_linear(&loop_.accu_init)
                && (body.into_iter())
                    .all(|part| unknown_variables(part, &own).is_empty() && is_linear(part))
        }
        _ => parts(expression).into_iter().all(is_linear),
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
