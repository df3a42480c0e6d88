//! The budgets of one evaluation of a workflow's expression: its loops' steps and the values
//! it builds. Kubernetes bounds its CEL with a cost limit per expression; so does cairn.
//!
//! **Loop steps.** A macro's loop (`all`, `exists`, `exists_one`, `map`, `filter`) nested
//! in another multiplies its work: ten-element lists nested twelve deep are 10¹² steps in an
//! expression of 448 bytes (probe 67 F1, F2: `cairn validate` ran for days). In an
//! expression whose cost is not surely linear ([`is_linear`]), each
//! loop's range is handed to `@loop` first, which counts its elements against the budget:
//! entered once for each step of the loops around it, it counts every step a loop takes.
//! Past [`MAX_LOOP_STEPS`] the evaluation fails.
//!
//! **Values built.** The `cel` crate copies a value whole wherever a new one holds it: a list
//! or map written in the expression (`[input.xs]`), `+` of strings, bytes or lists, a
//! function's value (`optional.of(x)`). A value bound by a one-element loop and used twice
//! doubles at each level (`['a'].map(a0, [a0+a0].map(a1, …))`: 28 levels, 645 bytes, 1 GB
//! at load: probe 69 F1), and a loop's body may copy a big input at each step
//! (`input.xs.map(x, input.xs)`: 2.4 GB from 16 KB, F3; a counted loop over `[input.xs][0]`
//! failed only after its quadratic work, F4), which the steps do not show. So every call's
//! value (but a loop's own accumulation, and the operators whose value is a bool) is handed
//! to `@built`, which charges the size of a value it was given owned — built or copied by
//! it, not borrowed from the input or an output — against the budget, and the range of every
//! loop, each element a `map` or `filter` appends, and each element of a list (each value of
//! a map) written in the expression but of constants only, as it is read, before the whole
//! is built (probe 79 F6), to `@kept`, which charges it whole: the library copies it (probe
//! 73 F2). Past [`MAX_BUILT_BYTES`] the evaluation fails. What the
//! evaluation holds was charged as it was built, so its memory stays within about the
//! budget, and its time within the copies the budget allows. The expressions of one
//! template share the budgets ([`within_budget`]), and `matches` compiles each pattern once
//! per thread, each new one charged ([`PATTERN_BYTES`]).
//!
//! **Time.** Work that builds nothing is in neither count: `x in input.xs` in a loop over
//! `input.xs` scans the list at each step (100,000 elements: minutes), a loop's steps are as
//! dear as its body is long, and a chain of `==` of big maps is dear with no loop (probe 76
//! F2). So an evaluation may last [`MAX_EVALUATION_TIME`] at most, as Temporal fails a
//! workflow task past its 10 s: every loop asks `@going` before each step, every
//! [`CHARGES_A_READING`]th charge reads the clock, and so does every call that scans its
//! operands ([`SCANS`]), before it (`@scanned`), and `matches`, before its match (one that
//! thrashes every matcher is not cut short: [`patterns`]). Past it the evaluation fails; the
//! engine, whose thread it holds, reads commands and signals again.
//!
//! An evaluation that spends a budget fails, whatever CEL makes of the error: `all`,
//! `exists` and `exists_one` go on past an error in one step (`[false, err].all(…)` is
//! `false`), but `@going` stops them once a budget is spent, and the evaluation's value is
//! the budget's error even where `||` or `&&` absorbed it.
//!
//! A guard's conditions run without these budgets: their time is bounded otherwise
//! (`cairn-guards`' bounded threads).

use std::cell::Cell;
use std::time::{Duration, Instant};

use cel::common::ast::operators::CONDITIONAL;
use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr};
use cel::common::types::{
    CelBool, CelBytes, CelList, CelMap, CelMapKey, CelOptional, CelString, DYN_TYPE,
};
use cel::common::value::{CowVal, FromVal, Val};
use cel::{Env, ExecutionError};

use super::Expression;
use super::condition::{parts, parts_mut};
use super::cost::is_linear;

/// The most loop steps one evaluation of a workflow's expression may take.
const MAX_LOOP_STEPS: u64 = 1_000_000;

/// The most bytes of values one evaluation may build (see [`size`]).
const MAX_BUILT_BYTES: u64 = 128 << 20;

/// The longest one evaluation may last (a template's expressions together).
const MAX_EVALUATION_TIME: Duration = Duration::from_secs(10);

/// How many charges go between two readings of the clock (a reading costs about as much as a
/// charge).
const CHARGES_A_READING: u32 = 64;

/// What a value takes in memory besides its text: its box in a list or map (16 bytes) and its
/// own allocation (at least 32 with the allocator's header): `input.xs.map(x, input.xs)`
/// over 8,000 zeros peaked at 409 MB when each counted 16.
const VALUE_BYTES: u64 = 48;

/// The function a loop's range is handed to (a name no expression can write).
const LOOP: &str = "@loop";

/// The function a value built is handed to.
const BUILT: &str = "@built";

/// The function an element a loop appends to its list is handed to.
const KEPT: &str = "@kept";

/// The function a loop's condition is handed to.
const GOING: &str = "@going";

/// The function the first operand of a call of [`SCANS`] is handed to.
const SCANNED: &str = "@scanned";

/// The calls whose time is their operands' size, and whose value is a bool or a number: the
/// clock is read before each.
#[rustfmt::skip]
const SCANS: &[&str] = &[
    "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in", "contains", "startsWith", "endsWith",
    "size",
];

/// The function `matches` is renamed to, which keeps the patterns it compiles.
const MATCHES: &str = "@matches";

/// What compiling a pattern costs the budget of bytes: the CEL library compiles `matches`'s
/// pattern at every call, and one of a bounded repetition of a Unicode class (`'\w{200}'`)
/// takes 42 ms (probe 73 F3: a thousand calls in nested loops, 45 s). With a pattern
/// compiled once per thread and each new one charged a MiB, an evaluation compiles 128 at
/// most.
const PATTERN_BYTES: u64 = 1 << 20;

/// The calls whose value is never built whole: a bool, or one of their operands.
#[rustfmt::skip]
const NOT_BUILT: &[&str] = &[
    "_&&_", "_||_", "!_", "_?_:_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in",
    "@not_strictly_false", "_[_]", LOOP, BUILT, KEPT, GOING, SCANNED, MATCHES,
];

/// A budget of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    Steps,
    Bytes,
    Time,
    /// The time shared by the expressions of a file or plan being checked.
    SharedTime,
}

impl Budget {
    /// Why an evaluation that spent this budget fails.
    fn error(self) -> String {
        match self {
            Budget::Steps => format!(
                "its loops (`all`, `exists`, `exists_one`, `map`, `filter`, one in another) \
                 take more than {MAX_LOOP_STEPS} steps: not evaluated (loop over less, or \
                 nest fewer loops)"
            ),
            Budget::Bytes => format!(
                "it builds more than {MAX_BUILT_BYTES} bytes of values (each list or map \
                 written in it, `+` and function's value counted whole, as the CEL library \
                 copies them): not evaluated (build smaller values, or do the heavy work in \
                 a step)"
            ),
            Budget::Time => format!(
                "its evaluation lasts more than {} s (work that builds nothing counts here: \
                 `x in list` or `==` of big values, or a long body, at each step of a loop): \
                 not evaluated (loop over less, or do the heavy work in a step)",
                MAX_EVALUATION_TIME.as_secs()
            ),
            // Not the expression's alone (probe 79 F2: four of 3 s, each fine alone).
            Budget::SharedTime => format!(
                "with the others of this file or plan that read no variable (each evaluated \
                 as it is checked), it lasts past the {} s they share: not evaluated \
                 (evaluate less in them, or do the heavy work in a step)",
                MAX_EVALUATION_TIME.as_secs()
            ),
        }
    }

    /// The error a charge past this budget fails its call with.
    fn failure(self) -> ExecutionError {
        ExecutionError::function_error(BUILT, self.error())
    }
}

/// What the evaluation running on this thread may still spend, or the budget it spent; none
/// outside one.
#[derive(Debug, Clone, Copy)]
struct Left {
    steps: u64,
    bytes: u64,
    deadline: Instant,
    /// The budget the deadline is: the evaluation's own, or one it shares.
    time: Budget,
    /// The charges until the clock is read next.
    until_reading: u32,
    spent: Option<Budget>,
}

impl Left {
    /// The budgets of an evaluation that starts now and may last `limit`, or until the
    /// deadline shared on this thread, if sooner.
    fn fresh(limit: Duration) -> Left {
        let own = Instant::now() + limit;
        let (deadline, time) = match SHARED_DEADLINE.get() {
            Some(shared) if shared < own => (shared, Budget::SharedTime),
            _ => (own, Budget::Time),
        };
        Left {
            steps: MAX_LOOP_STEPS,
            bytes: MAX_BUILT_BYTES,
            deadline,
            time,
            until_reading: CHARGES_A_READING,
            spent: None,
        }
    }

    /// Whether the evaluation is past its deadline, the clock read now when `now`, else at
    /// every [`CHARGES_A_READING`]th call.
    fn out_of_time(&mut self, now: bool) -> bool {
        self.until_reading -= 1;
        if self.until_reading > 0 && !now {
            return false;
        }
        self.until_reading = CHARGES_A_READING;
        Instant::now() >= self.deadline
    }
}

thread_local! {
    static LEFT: Cell<Option<Left>> = const { Cell::new(None) };
    /// The deadline every evaluation on this thread ends by, if one is shared
    /// ([`sharing_one_deadline`]).
    static SHARED_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// A budget's function: its argument, once charged.
type Charging = for<'b, 'v> fn(Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError>;

/// Declares `@loop`, `@built`, `@kept`, `@going`, `@scanned` and `@matches` in `env`.
pub(super) fn declare(env: &mut Env) {
    let functions: [(&str, Charging); 5] = [
        (LOOP, charge_steps),
        (BUILT, charge_built),
        (KEPT, charge_kept),
        (GOING, going),
        (SCANNED, scanned),
    ];
    for (name, function) in functions {
        env.add_overload(name, &format!("{name}(dyn)"), vec![DYN_TYPE], function)
            .expect("each is declared once, in a new environment");
    }
    env.add_overload(
        MATCHES,
        "@matches(dyn,dyn)",
        vec![DYN_TYPE, DYN_TYPE],
        matches,
    )
    .expect("`@matches` is declared once, in a new environment");
}

/// `expression` with the calls of its budgets: [`count_steps`] when its cost is not surely
/// linear, and [`count_built`].
pub(super) fn counted(expression: &Expression) -> Expression {
    let mut counted = expression.clone();
    if !is_linear(expression) {
        count_steps(&mut counted);
    }
    count_built(&mut counted);
    counted
}

/// Hands the range of every loop in `expression` to `@loop`.
fn count_steps(expression: &mut Expression) {
    if let Expr::Comprehension(loop_) = &mut expression.expr {
        wrap(&mut loop_.iter_range, LOOP);
    }
    parts_mut(expression).into_iter().for_each(count_steps);
}

/// Hands every call's value but those of [`NOT_BUILT`] to `@built`; each element of a list
/// and value of a map written in `expression` (but those of constants), the range of every
/// loop, and each element a `map` or `filter` appends to its list, to `@kept` (the `cel`
/// crate appends it in place, a copy if it is borrowed, but only while the step is written
/// `@result + [x]`); the first operand of every call of [`SCANS`] to `@scanned`; the
/// condition of every loop but a `map`'s or a `filter`'s to `@going`, and their guard (the
/// `filter`'s predicate): the `cel` crate appends in place only while their condition is a
/// literal, and they stop at their first error; and calls `@matches` for `matches`.
fn count_built(expression: &mut Expression) {
    match &mut expression.expr {
        Expr::Call(call) if call.func_name == "matches" => {
            call.func_name = MATCHES.to_owned();
            if let Some(target) = call.target.take() {
                call.args.insert(0, *target);
            }
        }
        Expr::Call(call) if accumulates(call) => {
            if let Some(Expr::List(appended)) = call.args.get_mut(1).map(|arg| &mut arg.expr) {
                for element in &mut appended.elements {
                    count_built(element);
                    wrap(element, KEPT);
                }
                return;
            }
        }
        Expr::Comprehension(loop_) => {
            // The library copies each element of the range into the loop's variable.
            wrap(&mut loop_.iter_range, KEPT);
            if !matches!(&loop_.accu_init.expr, Expr::List(list) if list.elements.is_empty()) {
                wrap(&mut loop_.loop_cond, GOING);
            } else if let Expr::Call(step) = &mut loop_.loop_step.expr
                && step.func_name == CONDITIONAL
                && let Some(guard) = step.args.first_mut()
            {
                wrap(guard, GOING);
            }
        }
        _ => {}
    }
    parts_mut(expression).into_iter().for_each(count_built);
    // One written of constants only is built again at each step of a loop, and dropped: its
    // cost is bounded by the expression's size and the loop's steps.
    let constant = constant(expression);
    let built = match &mut expression.expr {
        // Each element (each entry's value) charged as it is read, before the whole is
        // built: `[input.m, …×100]` copied a big map a hundred times, 7.6 GB, before its
        // charge (probe 79 F6).
        Expr::List(list) if !constant => {
            list.elements
                .iter_mut()
                .for_each(|element| wrap(element, KEPT));
            false
        }
        Expr::Map(map) if !constant => {
            for entry in &mut map.entries {
                if let EntryExpr::MapEntry(entry) = &mut entry.expr {
                    wrap(&mut entry.value, KEPT);
                }
            }
            false
        }
        // Its first operand, looked at before the call: after an error, CEL goes on with
        // `&&`'s other side, and a spent evaluation would make every call of a chain.
        Expr::Call(call) if SCANS.contains(&&*call.func_name) => {
            let first = (call.target.as_deref_mut()).or(call.args.first_mut());
            first.into_iter().for_each(|operand| wrap(operand, SCANNED));
            false
        }
        Expr::Call(call) => !NOT_BUILT.contains(&&*call.func_name),
        _ => false,
    };
    if built {
        wrap(expression, BUILT);
    }
}

/// Whether `expression` is a literal, or a list or map of literals.
fn constant(expression: &Expression) -> bool {
    match &expression.expr {
        Expr::Literal(_) => true,
        Expr::List(_) | Expr::Map(_) => parts(expression).into_iter().all(constant),
        _ => false,
    }
}

/// Whether `call` adds to a loop's accumulator (its variable's name starts with `@`, which
/// no expression can write).
fn accumulates(call: &CallExpr) -> bool {
    call.func_name == "_+_"
        && matches!(call.args.first().map(|arg| &arg.expr), Some(Expr::Ident(name)) if name.starts_with('@'))
}

/// Replaces `expression` with a call of `function` on it.
fn wrap(expression: &mut IdedExpr, function: &str) {
    let inner = std::mem::take(expression);
    *expression = IdedExpr {
        id: inner.id,
        expr: Expr::Call(CallExpr {
            func_name: function.to_owned(),
            target: None,
            args: vec![inner],
        }),
    };
}

/// The budgets an evaluation runs within, carried to the thread it runs on (an expression
/// too deep for any stack runs on a thread of its own).
#[derive(Debug, Clone, Copy)]
pub(super) struct Budgets(Left);

/// The budgets of the rendering running on this thread, or fresh ones outside one.
pub(super) fn current() -> Budgets {
    Budgets(
        LEFT.get()
            .unwrap_or_else(|| Left::fresh(MAX_EVALUATION_TIME)),
    )
}

/// Runs `evaluation` within `budgets` on this thread, and gives the budgets it left; the
/// thread's own are back after it, even if it unwinds (the CEL library's panics are caught
/// above).
pub(super) fn within<T>(budgets: Budgets, evaluation: impl FnOnce() -> T) -> (T, Budgets) {
    struct Restore(Option<Left>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEFT.set(self.0);
        }
    }
    let _outer = Restore(LEFT.replace(Some(budgets.0)));
    let value = evaluation();
    (value, current())
}

/// The budgets an evaluation left, back on the thread of the rendering it is part of.
pub(super) fn carry_on(budgets: Budgets) {
    if LEFT.get().is_some() {
        LEFT.set(Some(budgets.0));
    }
}

/// Runs `check`, in which the evaluations on this thread (and those it hands to a thread of
/// their own) end by one deadline, [`MAX_EVALUATION_TIME`] from now: checking a file or a
/// plan evaluates each `when` and `for_each` that reads no variable, and a plan of three dear
/// ones held the engine for their sum, 28 s (probe 76 F4).
pub(crate) fn sharing_one_deadline<T>(check: impl FnOnce() -> T) -> T {
    sharing_a_deadline(MAX_EVALUATION_TIME, check)
}

/// [`sharing_one_deadline`], the deadline `limit` from now.
fn sharing_a_deadline<T>(limit: Duration, check: impl FnOnce() -> T) -> T {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SHARED_DEADLINE.set(self.0);
        }
    }
    let deadline = (SHARED_DEADLINE.get()).unwrap_or_else(|| Instant::now() + limit);
    let _outer = Restore(SHARED_DEADLINE.replace(Some(deadline)));
    check()
}

/// Runs `evaluation`, a rendering's, with the budgets of one evaluation that its expressions
/// share (probe 73 F1: a `with` of a hundred expressions, each within them, took 837 MB),
/// or within those of the rendering it is part of.
pub(super) fn within_budget<T>(evaluation: impl FnOnce() -> T) -> T {
    let (value, left) = within(current(), evaluation);
    carry_on(left);
    value
}

/// Why the evaluation running on this thread fails, if it spent a budget: whatever value CEL
/// gave it (an error in a loop's step, or beside `||`, may come to nothing).
pub(super) fn overspent() -> Option<String> {
    LEFT.get()?.spent.map(Budget::error)
}

/// The one argument of a budget's function.
fn only<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [value]: [CowVal; 1] = args
        .try_into()
        .map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(1, args.len()))?;
    Ok(value)
}

/// Takes `cost` from the `budget` of the evaluation running on this thread (none outside
/// one): past it, once a budget is spent, or past its time, the failure of the call charging
/// it.
fn charge(budget: Budget, cost: impl FnOnce(u64) -> u64) -> Result<(), ExecutionError> {
    charge_reading(budget, cost, false)
}

/// [`charge`], the clock read now when `now` (else at every [`CHARGES_A_READING`]th charge).
fn charge_reading(
    budget: Budget,
    cost: impl FnOnce(u64) -> u64,
    now: bool,
) -> Result<(), ExecutionError> {
    let Some(mut left) = LEFT.get() else {
        return Ok(());
    };
    if let Some(spent) = left.spent {
        return Err(spent.failure());
    }
    if left.out_of_time(now) {
        left.spent = Some(left.time);
        LEFT.set(Some(left));
        return Err(left.time.failure());
    }
    let remaining = match budget {
        Budget::Steps => &mut left.steps,
        Budget::Bytes => &mut left.bytes,
        Budget::Time | Budget::SharedTime => return Ok(()),
    };
    let result = match remaining.checked_sub(cost(*remaining)) {
        Some(rest) => {
            *remaining = rest;
            Ok(())
        }
        None => {
            left.spent = Some(budget);
            Err(budget.failure())
        }
    };
    LEFT.set(Some(left));
    result
}

/// `@loop(range)`: `range`, its elements taken from the budget of steps.
fn charge_steps<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let range = only(args)?;
    let elements = (range.as_ref().as_sizer()).map_or(0, |sizer| *sizer.size().inner());
    charge(Budget::Steps, |_| {
        u64::try_from(elements).unwrap_or(u64::MAX)
    })?;
    Ok(range)
}

/// `@built(value)`: `value`, its [`size`] taken from the budget of bytes when it was given
/// owned (built or copied; one borrowed from the input or an output was not).
fn charge_built<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = only(args)?;
    if let CowVal::Owned(owned) = &value {
        charge(Budget::Bytes, |limit| size(owned.as_ref(), limit))?;
    }
    Ok(value)
}

/// `@kept(value)`: `value`, its [`size`] taken from the budget of bytes, borrowed or not: a
/// loop's list holds it owned, and a loop copies each element of its range.
fn charge_kept<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = only(args)?;
    charge(Budget::Bytes, |limit| size(value.as_ref(), limit))?;
    Ok(value)
}

/// `@going(condition)`: a loop's `condition`, unless a budget is spent.
fn going<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    charge(Budget::Steps, |_| 0)?;
    only(args)
}

/// `@scanned(operand)`: the first `operand` of a call of [`SCANS`], unless the evaluation is
/// past its time.
fn scanned<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    look_at_the_clock()?;
    only(args)
}

/// Fails the evaluation running on this thread (none outside one) if it is past its time, or
/// spent a budget, the clock read now.
fn look_at_the_clock() -> Result<(), ExecutionError> {
    charge_reading(Budget::Steps, |_| 0, true)
}

/// `@matches(text, pattern)`: whether `pattern` matches in `text`, as the CEL library's
/// `matches` says, the pattern compiled once per thread and each new one charged
/// [`PATTERN_BYTES`], made by the fastest matcher that can ([`patterns`]), the clock read
/// first.
fn matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text, pattern]: [CowVal; 2] = args
        .try_into()
        .map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(2, args.len()))?;
    let (Some(text), Some(pattern)) = (
        CelString::from_val(text.as_ref()),
        CelString::from_val(pattern.as_ref()),
    ) else {
        return Err(ExecutionError::function_error(
            "matches",
            "a text and a pattern, both strings",
        ));
    };
    look_at_the_clock()?;
    let on_new = || charge(Budget::Bytes, |_| PATTERN_BYTES);
    let matched = patterns::is_match(text.inner(), pattern.inner(), on_new)?;
    Ok(CowVal::Owned(Box::new(CelBool::from(matched))))
}

/// About how many bytes `value` takes in memory: [`VALUE_BYTES`] for each value and map key,
/// and the bytes of its text. It stops once past `limit` (and says more than it), so a value
/// far past the budget is not walked whole.
fn size(value: &dyn Val, limit: u64) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        total += VALUE_BYTES;
        if let Some(text) = CelString::from_val(value) {
            total += text.inner().len() as u64;
        } else if let Some(bytes) = CelBytes::from_val(value) {
            total += bytes.inner().len() as u64;
        } else if let Some(list) = CelList::from_val(value) {
            pending.extend(list.inner().iter().map(|item| &**item));
        } else if let Some(map) = CelMap::from_val(value) {
            for (key, item) in map.inner() {
                total += VALUE_BYTES + key_text(key);
                pending.push(&**item);
            }
        } else if let Some(inner) = CelOptional::from_val(value).and_then(CelOptional::inner) {
            pending.push(inner);
        }
        if total > limit {
            return u64::MAX;
        }
    }
    total
}

/// The bytes of a map key's text (none for a number or a bool).
fn key_text(key: &CelMapKey) -> u64 {
    match key {
        CelMapKey::String(text) => text.inner().len() as u64,
        _ => 0,
    }
}

mod patterns;

#[cfg(test)]
mod tests;
