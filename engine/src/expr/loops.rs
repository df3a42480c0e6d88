//! A budget of loop steps for a workflow's expressions. A macro's loop (`all`, `exists`,
//! `exists_one`, `map`, `filter`) nested in another multiplies its work: ten-element lists
//! nested twelve deep are 10¹² steps in an expression of 448 bytes, which the operator and
//! length bounds let through (probe 67 F1, F2: `cairn validate` ran for days, and a run
//! deaf to Ctrl-C). In an expression whose cost is not surely linear
//! ([`is_linear`](super::cost::is_linear)), each loop's range is handed to `@loop` first,
//! which counts its elements against the budget of the evaluation running on this thread:
//! entered once for each step of the loops around it, it counts every step a loop takes.
//! Past [`MAX_LOOP_STEPS`] the evaluation fails, as Kubernetes' CEL fails past its cost
//! limit. It counts steps, not the work in them: a value bound by a one-element loop and used
//! twice doubles at each level (probe 69; workflow-format.md lists what it does not bound).
//! A guard's conditions run without a budget: their time is bounded otherwise
//! (`cairn-guards`' bounded threads).

use std::cell::Cell;

use cel::common::ast::{CallExpr, Expr, IdedExpr};
use cel::common::types::DYN_TYPE;
use cel::common::value::CowVal;
use cel::{Env, ExecutionError};

use super::Expression;
use super::condition::parts_mut;

/// The most loop steps one evaluation of a workflow's expression may take.
const MAX_LOOP_STEPS: u64 = 1_000_000;

/// The function a loop's range is handed to (a name no expression can write).
const LOOP: &str = "@loop";

thread_local! {
    /// The steps the evaluation running on this thread may still take; none outside one.
    static REMAINING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Declares `@loop` in `env`.
pub(super) fn declare(env: &mut Env) {
    env.add_overload(LOOP, "@loop(dyn)", vec![DYN_TYPE], charge)
        .expect("`@loop` is declared once, in a new environment");
}

/// Hands the range of every loop in `expression` to `@loop`.
pub(super) fn count(expression: &mut Expression) {
    if let Expr::Comprehension(loop_) = &mut expression.expr {
        let range = std::mem::take(&mut loop_.iter_range);
        loop_.iter_range = IdedExpr {
            id: range.id,
            expr: Expr::Call(CallExpr {
                func_name: LOOP.to_owned(),
                target: None,
                args: vec![range],
            }),
        };
    }
    parts_mut(expression).into_iter().for_each(count);
}

/// Runs `evaluation` with a budget of [`MAX_LOOP_STEPS`] for its loops; the budget before it
/// is back after it, even if it unwinds (the CEL library's panics are caught above).
pub(super) fn within_budget<T>(evaluation: impl FnOnce() -> T) -> T {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.set(self.0);
        }
    }
    let _outer = Restore(REMAINING.replace(Some(MAX_LOOP_STEPS)));
    evaluation()
}

/// Whether `error` is the one a spent budget fails an evaluation with, and its message.
pub(super) fn spent(error: &ExecutionError) -> Option<&str> {
    match error {
        ExecutionError::FunctionError { function, message } if function == LOOP => Some(message),
        _ => None,
    }
}

/// `@loop(range)`: `range`, its elements taken from the budget.
fn charge<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [range]: [CowVal; 1] = args
        .try_into()
        .map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(1, args.len()))?;
    let Some(remaining) = REMAINING.get() else {
        return Ok(range);
    };
    let size = (range.as_ref().as_sizer()).map_or(0, |sizer| *sizer.size().inner());
    match remaining.checked_sub(u64::try_from(size).unwrap_or(0)) {
        Some(left) => {
            REMAINING.set(Some(left));
            Ok(range)
        }
        None => Err(ExecutionError::function_error(
            LOOP,
            format!(
                "its loops (`all`, `exists`, `exists_one`, `map`, `filter`, one in another) \
                 take more than {MAX_LOOP_STEPS} steps: not evaluated (loop over less, or \
                 nest fewer loops)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::super::{Scope, SharedJson, evaluate};
    use super::*;

    fn with_input(input: Value) -> Scope {
        Scope::new(
            Arc::new(SharedJson::new(input)),
            HashMap::new(),
            Arc::new(json!({})),
        )
    }

    /// Twelve loops nested over a list of ten (10¹² steps, probe 67 F1) fail once the budget
    /// is spent, and so does a loop in a loop whose range alone is past it, before a step of
    /// it; loops in loops within the budget, and a linear loop over more than the budget (it
    /// is not counted), are evaluated.
    #[test]
    fn loops_in_loops_fail_past_the_budget() {
        let nested = (0..12).fold("true".to_owned(), |body, depth| {
            format!("[0,1,2,3,4,5,6,7,8,9].all(x{depth}, {body})")
        });
        let spent = evaluate(&nested, &with_input(json!({}))).unwrap_err();
        assert!(
            spent
                .reason
                .contains("take more than 1000000 steps: not evaluated"),
            "{spent}"
        );
        let past = json!({"big": vec![0; MAX_LOOP_STEPS as usize + 1]});
        let error = evaluate(
            "[1].all(x, input.big.all(y, y == x))",
            &with_input(past.clone()),
        );
        assert!(error.unwrap_err().reason.contains("steps: not evaluated"));
        assert_eq!(
            evaluate("input.big.all(y, y == 0)", &with_input(past)).unwrap(),
            json!(true)
        );
        let small = with_input(json!({"a": [1, 2, 3], "b": [3, 2, 1]}));
        assert_eq!(
            evaluate("input.a.all(x, input.b.exists(y, y == x))", &small).unwrap(),
            json!(true)
        );
    }
}
