//! The budgets of an evaluation: what each counts, where they fail it, and that they change
//! no value.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::super::{Scope, SharedJson, evaluate, render};
use super::*;

fn with_input(input: Value) -> Scope {
    Scope::new(
        Arc::new(SharedJson::new(input)),
        HashMap::new(),
        Arc::new(json!({})),
    )
}

/// `evaluate` with an hour to run in, so that only the budget a test means can fail it: a
/// million loop steps took 5 s of the 10 on a quiet machine, and past 10 under a loaded one.
fn unhurried(text: &str, scope: &Scope) -> Result<Value, super::super::ExprError> {
    let hour = Budgets(Left::fresh(Duration::from_secs(3600)));
    within(hour, || evaluate(text, scope)).0
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
    let spent = unhurried(&nested, &with_input(json!({}))).unwrap_err();
    assert!(
        spent
            .reason
            .contains("take more than 1000000 steps: not evaluated"),
        "{spent}"
    );
    let past = json!({"big": vec![0; MAX_LOOP_STEPS as usize + 1]});
    let error = unhurried(
        "[1].all(x, input.big.all(y, y == x))",
        &with_input(past.clone()),
    );
    assert!(error.unwrap_err().reason.contains("steps: not evaluated"));
    assert_eq!(
        unhurried("input.big.all(y, y == 0)", &with_input(past)).unwrap(),
        json!(true)
    );
    let small = with_input(json!({"a": [1, 2, 3], "b": [3, 2, 1]}));
    assert_eq!(
        evaluate("input.a.all(x, input.b.exists(y, y == x))", &small).unwrap(),
        json!(true)
    );
}

/// The message of an evaluation that built too much.
const BUILT_TOO_MUCH: &str = "bytes of values (each list or map written in it";

/// A string doubled at each of 28 one-element loops (probe 69 F1: 1 GB at load), a big
/// input copied into a list at each step of a loop judged linear (F3: 2.4 GB), and a
/// counted loop over such a copy (F4: its quadratic work before the step budget's
/// error) fail once they spent a budget: the loop over a copy, its steps'.
#[test]
fn values_built_past_the_budget_fail_the_evaluation() {
    let doubled = (0..28).rev().fold("size(a28)".to_owned(), |body, level| {
        format!("[a{level}+a{level}].map(a{}, {body})", level + 1)
    });
    let doubled = format!("['a'].map(a0, {doubled})");
    let xs = with_input(json!({"xs": vec![0; 8000]}));
    for expression in [
        &*doubled,
        "input.xs.map(x, input.xs).size()",
        "input.xs.all(x, size(input.xs + input.xs) > 0)",
        "input.xs.all(x, [input.xs][0].all(y, y == 0))",
        "input.xs.all(x, {'a': input.xs}.a.size() > 0)",
        // CEL makes `true` of an error `||` true: a budget spent fails it all the same.
        "input.xs.exists(x, size(input.xs + input.xs) == 0) || true",
    ] {
        let error = evaluate(expression, &xs).unwrap_err();
        let spent = if expression.contains("y == 0") {
            "take more than 1000000 steps"
        } else {
            BUILT_TOO_MUCH
        };
        assert!(error.reason.contains(spent), "{expression}: {error}");
    }
}

/// Building values in proportion to what is read stays within the budget: a list of a
/// hundred thousand made from the input, a megabyte of text joined to another, the
/// input copied into a list once.
#[test]
fn values_built_in_proportion_to_the_input_are_evaluated() {
    let big = "a".repeat(1 << 20);
    let scope = with_input(json!({"xs": vec![1; 100_000], "text": big}));
    let cases = [
        ("input.xs.map(x, x * 2).size()", json!(100_000)),
        ("input.xs.filter(x, x == 1).size()", json!(100_000)),
        ("size(input.text + input.text)", json!(2 << 20)),
        ("[input.xs, input.text][0].size()", json!(100_000)),
        ("input.xs.map(x, {'v': x}).size()", json!(100_000)),
        // A list of constants written in a loop is built at each step, and dropped.
        (
            "input.xs.filter(x, x in [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).size()",
            json!(0),
        ),
    ];
    for (expression, value) in cases {
        assert_eq!(evaluate(expression, &scope).unwrap(), value, "{expression}");
    }
}

#[test]
fn a_value_is_sized_by_its_parts_and_its_text() {
    let value = json!({"ab": ["xyz", 1, null]});
    let value = super::super::scope::to_val(&value);
    // The map, its key (+ 2), the list, "xyz" (+ 3), 1 and null.
    assert_eq!(size(value.as_ref(), u64::MAX), 6 * VALUE_BYTES + 5);
    assert_eq!(
        size(value.as_ref(), 50),
        u64::MAX,
        "a walk past the limit stops"
    );
}

/// A loop copies each element of its range into its variable: a loop over a list of one
/// big list, in another loop, copies it at each step of that one (probe 73 F2).
#[test]
fn the_elements_a_loop_copies_are_charged() {
    let scope = with_input(json!({"xs": vec![0; 1000], "big": [vec![0; 100_000]]}));
    let error = evaluate("input.xs.all(x, input.big.all(y, true))", &scope).unwrap_err();
    assert!(error.reason.contains(BUILT_TOO_MUCH), "{error}");
}

/// The expressions of one template share the budgets (probe 73 F1: a hundred, each
/// within them, took 837 MB), also those nested too deep for the caller's stack, which
/// run on a thread of their own.
#[test]
fn a_templates_expressions_share_the_budgets() {
    let scope = with_input(json!({"text": "a".repeat(20 << 20)}));
    let twice = "${{ (((((((input.text + input.text))))))) }}";
    let one = render(&json!({"a": twice}), &scope).unwrap();
    assert_eq!(one["a"].as_str().map(str::len), Some(40 << 20));
    let error = render(
        &json!({"a": twice, "b": twice, "c": twice, "d": twice}),
        &scope,
    );
    assert!(error.unwrap_err().reason.contains(BUILT_TOO_MUCH));
}

/// Work that builds nothing, a scan of the input at each step of a loop over it (minutes
/// for 100,000 elements) or comparisons of it one after another, fails once the
/// evaluation has lasted its time, in every kind of loop and whatever `||` makes of the
/// error.
#[test]
fn an_evaluation_past_its_time_fails() {
    let scope = with_input(json!({"xs": (0..100_000).collect::<Vec<u32>>()}));
    // No loop: comparisons of the whole list, one after another (probe 76 F2).
    let compared = vec!["input.xs == input.xs"; 100].join(" && ");
    for busy in [
        &*compared,
        "input.xs.all(x, !(-1 in input.xs))",
        "input.xs.filter(x, -1 in input.xs).size() == 0",
        "input.xs.map(x, -1 in input.xs).size() == 0",
        "input.xs.exists(x, -1 in input.xs) || true",
    ] {
        let brief = Budgets(Left::fresh(Duration::from_millis(100)));
        let (error, _) = within(brief, || evaluate(busy, &scope));
        let error = error.unwrap_err();
        assert!(
            error.reason.contains("lasts more than 10 s"),
            "{busy}: {error}"
        );
    }
}

/// A call that scans its operands looks at the clock before it, through its first
/// operand: after an error CEL goes on with `&&`'s other side, and a look after each call
/// let a spent evaluation make every comparison of a chain (probe 76 F2: 31 s).
#[test]
fn a_scanning_call_looks_at_the_clock_before_it() {
    for text in [
        "input.a == input.b",
        "input.s.contains('x')",
        "size(input.s)",
    ] {
        let parsed = super::super::parse(text).unwrap();
        let Expr::Call(call) = counted(&parsed).expr else {
            panic!("{text}: not a call");
        };
        let first = call.target.as_deref().or(call.args.first()).unwrap();
        let looked = matches!(&first.expr, Expr::Call(call) if call.func_name == SCANNED);
        assert!(looked, "{text}");
    }
}

/// The budgets' calls change no value: each expression evaluates as the guard evaluates
/// it, as parsed, to the same boolean or to an error both ways.
#[test]
fn the_budgets_calls_change_no_value() {
    use crate::{Condition, Variable, evaluate_conditions};
    let input = json!({"xs": [1, 2, 3], "s": "héllo wörld", "m": {"a": 1, "b": [2]},
                       "e": [], "n": null, "t": true, "f": 1.5});
    let scope = with_input(input.clone());
    let corpus = [
        "input.xs == [1, 2, 3]",
        "input.xs != input.e",
        "input.m == {'a': 1, 'b': [2]}",
        "2 in input.xs",
        "'a' in input.m",
        "!('z' in input.m)",
        "input.s.contains('wö')",
        "input.s.startsWith('hé') && input.s.endsWith('ld')",
        "size(input.s) == 11",
        "input.xs.size() < 4",
        "input.s < 'z'",
        "input.f >= 1.5",
        "input.f > 2",
        "input.xs.all(x, x > 0)",
        "input.xs.exists(x, x == 2)",
        "input.xs.exists_one(x, x > 2)",
        "input.xs.filter(x, x % 2 == 1) == [1, 3]",
        "input.xs.map(x, x * 2) == [2, 4, 6]",
        "input.xs.map(x, x > 1, x * 10) == [20, 30]",
        "input.e.all(x, false)",
        "input.xs.filter(x, x in [2, 3]).size() == 2",
        "input.s.matches('w.rld$')",
        "input.xs.all(x, input.xs.exists(y, y == x))",
        "[input.xs, input.e].all(l, size(l) < 4)",
        "input.m.all(k, k in ['a', 'b'])",
        "input.n == null",
        "input.t || 1 / 0 == 1",
        "input.xs[5] == 1",
        "input.xs.exists(x, x == 'a')",
        "input.m.b[0] == 2",
        "has(input.m.a) && !has(input.m.c)",
        "input.xs.map(x, [x]).all(l, size(l) == 1)",
        "dyn(input.f) == 1.5",
        "type(input.s) == string",
        "int('3') in input.xs",
        "input.s.matches('[') || true",
        "input.xs.filter(x, 1 / (x - 2) > 0).size() == 1",
        "optional.of(input.xs).hasValue()",
        "input.?nope.orValue(3) == 3",
    ];
    let mut evaluated = 0;
    for text in corpus {
        let budgeted = evaluate(text, &scope)
            .map_err(drop)
            .and_then(|value| match value {
                Value::Bool(value) => Ok(value),
                _ => Err(()),
            });
        let condition = Condition::new(text);
        let plain = evaluate_conditions(&[&condition], &[("input", Variable::Json(&input))]);
        let plain = plain.into_iter().next().unwrap().map_err(drop);
        assert_eq!(budgeted, plain, "{text}");
        evaluated += usize::from(plain == Ok(true));
    }
    // All hold but two false (`input.f > 2`, `x == 'a'`) and two that fail (an index
    // past the end, a division by zero).
    assert_eq!(evaluated, corpus.len() - 4);
}

/// A list's elements, and a map's values, are charged as each is read, before the whole is
/// built (probe 79 F6: `[input.m, …×100]` copied a big map a hundred times, 7.6 GB, before
/// its charge), and fail it past the budget.
#[test]
fn a_literals_parts_are_charged_before_it_is_built() {
    for text in ["[input.a, input.b]", "{'k': input.a}"] {
        let parsed = super::super::parse(text).unwrap();
        let parts = match counted(&parsed).expr {
            Expr::List(list) => list.elements,
            Expr::Map(map) => (map.entries.into_iter())
                .filter_map(|entry| match entry.expr {
                    EntryExpr::MapEntry(entry) => Some(entry.value),
                    EntryExpr::StructField(_) => None,
                })
                .collect(),
            other => panic!("{text}: {other:?}"),
        };
        let kept =
            |part: &IdedExpr| matches!(&part.expr, Expr::Call(call) if call.func_name == KEPT);
        assert!(!parts.is_empty() && parts.iter().all(kept), "{text}");
    }
    let scope = with_input(json!({"text": "a".repeat(20 << 20)}));
    let many = ["input.text"; 7].join(", ");
    let error = evaluate(&format!("size([{many}])"), &scope).unwrap_err();
    assert!(error.reason.contains(BUILT_TOO_MUCH), "{error}");
}

/// Evaluations sharing a deadline (a file's check) end by it: once one has spent the
/// time, the next fails at its first look at the clock; apart, each has its own.
#[test]
fn evaluations_sharing_a_deadline_end_by_it() {
    let scope = with_input(json!({"xs": (0..100_000).collect::<Vec<u32>>()}));
    let busy = "input.xs.all(x, !(-1 in input.xs))";
    let (spent, next) = sharing_a_deadline(Duration::from_millis(100), || {
        let spent = evaluate(busy, &scope).unwrap_err();
        (spent, evaluate("1 == 1", &scope))
    });
    assert!(
        spent.reason.contains("lasts past the 10 s they share"),
        "{spent}"
    );
    let next = next.unwrap_err();
    assert!(
        next.reason.contains("lasts past the 10 s they share"),
        "{next}"
    );
    assert_eq!(evaluate("1 == 1", &scope).unwrap(), json!(true));
}

/// `matches` compiles a pattern once per thread, and each new one costs the budget (probe
/// 73 F3: the CEL library compiled `'\w{200}'`, 42 ms, at each of a thousand calls).
#[test]
fn a_pattern_is_compiled_once_and_each_new_one_is_charged() {
    let xs = with_input(json!({"xs": vec!["a"; 1000]}));
    let same = evaluate(r"input.xs.all(x, !x.matches('\\w{200}'))", &xs);
    assert_eq!(same.unwrap(), json!(true));
    let patterns: Vec<String> = (1..200).map(|n| format!("a{{{n}}}")).collect();
    let new = evaluate(
        "input.ps.all(p, !'b'.matches(p))",
        &with_input(json!({"ps": patterns})),
    );
    assert!(new.unwrap_err().reason.contains(BUILT_TOO_MUCH));
    let invalid = evaluate("'b'.matches(input.p)", &with_input(json!({"p": "("})));
    assert!(
        invalid
            .unwrap_err()
            .reason
            .contains(r#"the pattern "(" is no regular expression"#)
    );
    assert_eq!(
        evaluate("matches('abc', 'b')", &with_input(json!({}))).unwrap(),
        json!(true)
    );
}
