//! What becomes of an expression's value as JSON: the values JSON cannot hold are refused,
//! not taken as something else.

use serde_json::json;

use super::*;
use crate::expr::json_form::{INFINITE, NOT_A_NUMBER};
use crate::expr::optional::NO_JSON_FORM;

/// The reason `template` fails to render in `scope`.
fn refusal(template: &str, scope: &Scope) -> String {
    render(&json!(template), scope).unwrap_err().reason
}

#[test]
fn nan_and_infinite_doubles_are_refused_not_taken_as_null() {
    let scope = Scope {
        input: Arc::new(SharedJson::new(json!({"sum": 1.5, "n": 0.0, "zero": 0.0}))),
        ..scope()
    };
    for (template, reason) in [
        ("${{ input.sum / input.n }}", INFINITE),
        ("ratio=${{ input.sum / input.n }}", INFINITE),
        ("${{ -input.sum / input.n }}", INFINITE),
        ("${{ 1e308 * 10.0 }}", INFINITE),
        ("${{ [1.0 / 0.0] }}", INFINITE),
        ("${{ input.zero / input.n }}", NOT_A_NUMBER),
        ("mean ${{ 0.0 / 0.0 }}", NOT_A_NUMBER),
        ("${{ {'a': {'b': [1.0, 0.0 / 0.0]}} }}", NOT_A_NUMBER),
    ] {
        assert_eq!(refusal(template, &scope), reason, "{template}");
    }
    let error = render(&json!({"ratio": "${{ input.sum / input.n }}"}), &scope).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`input.sum / input.n`: its value is or holds an infinite double, which JSON cannot \
         hold (a division by `0.0`, or a result past ±1.8e308, gives it)"
    );
    assert!(evaluate("[0.0 / 0.0]", &scope).is_err());
    // A finite double, however large or small, is kept; a comparison of NaN is a boolean.
    assert_eq!(
        render(&json!("${{ [1e308, -0.0, input.sum / 2.0] }}"), &scope).unwrap(),
        json!([1e308, -0.0, 0.75])
    );
    assert_eq!(condition("0.0 / 0.0 == 0.0 / 0.0", &scope), Ok(false));
}

#[test]
fn a_map_with_two_keys_of_one_json_text_is_refused_not_cut_to_either() {
    let scope = scope();
    for (template, keys, text) in [
        (
            "${{ {1: 'int key', '1': 'string key'} }}",
            "\"1\" and 1",
            "1",
        ),
        ("keys ${{ {1: 'a', '1': 'b'} }}", "\"1\" and 1", "1"),
        ("${{ [{'true': 1, true: 2}] }}", "\"true\" and true", "true"),
        ("${{ {'m': {1u: 'a', '1': 'b'}} }}", "\"1\" and 1u", "1"),
        ("${{ {input.n: 'n', '5': 'text'} }}", "\"5\" and 5", "5"),
    ] {
        assert_eq!(
            refusal(template, &scope),
            format!(
                "its value is or holds a map whose keys {keys} become the same JSON key \
                 `{text}`: give it keys of one type"
            ),
            "{template}"
        );
    }
    // Keys of different texts, of whatever types, are all kept.
    assert_eq!(
        render(
            &json!("${{ {1: 'a', '2': 'b', true: 'c', 3u: 'd'} }}"),
            &scope
        )
        .unwrap(),
        json!({"1": "a", "2": "b", "true": "c", "3": "d"})
    );
}

#[test]
fn a_step_id_with_a_dash_written_after_a_dot_is_refused_with_the_way_to_write_it() {
    let refused = |expr: &str| check(expr, &VARIABLES).unwrap_err().reason;
    assert_eq!(
        refused("steps.a-b.output"),
        "no variable `b` here (an expression here reads `input`, `steps`, `run`); write \
         `steps['a-b']` for a step id with `-`"
    );
    assert!(
        refused("size(steps.fix-all-tests.output.files) > 0")
            .ends_with("write `steps['fix-all-tests']` for a step id with `-`")
    );
    assert!(
        refused("input.n + steps.my-step.output")
            .ends_with("`steps['my-step']` for a step id with `-`")
    );
    // A subtraction written apart, or of another variable, is not taken for an id.
    for expr in ["steps.a.output - b", "mysteps.a-b", "steps.a-input.n - b"] {
        assert!(!refused(expr).contains("for a step id"), "{expr}");
    }
    assert!(check("steps.a-input.n", &VARIABLES).is_ok());
}

#[test]
fn a_field_run_does_not_have_is_refused_and_its_fields_are_read() {
    let refused = |expr: &str| check(expr, &VARIABLES).unwrap_err().reason;
    assert_eq!(
        refused("run.name"),
        "`run` has no field `name` (its fields: id, workflow)"
    );
    assert_eq!(
        refused("'run ' + run['workflw']"),
        "`run` has no field `workflw`: did you mean `run.workflow`?"
    );
    assert!(refused("has(run.usage)").starts_with("`run` has no field `usage`"));
    // Its fields, `run` whole, and a macro's own `run` are read.
    for expr in [
        "run.id + run.workflow",
        "run",
        "[{'x': 1}].all(run, run.x > 0)",
    ] {
        assert_eq!(check(expr, &ITEM_VARIABLES), Ok(()), "{expr}");
    }
}

#[test]
fn a_template_that_reads_no_variable_is_refused_at_load_when_every_run_fails_on_it() {
    let refused = |text: &str| {
        check_template(text, &ITEM_VARIABLES)
            .unwrap_err()
            .to_string()
    };
    let every_run = |expr: &str, reason: &str| {
        format!("`{expr}`: it reads no variable, so every run would fail on it: {reason}")
    };
    assert!(refused("${{ 1 / 0 }}").starts_with(&every_run("1 / 0", "")));
    assert_eq!(
        refused("n=${{ 0.0 / 0.0 }}"),
        every_run("0.0 / 0.0", NOT_A_NUMBER)
    );
    assert_eq!(
        refused("${{ [1.0 / 0.0] }}"),
        every_run("[1.0 / 0.0]", INFINITE)
    );
    assert!(
        refused("${{ 'ok' }} and ${{ {1: 'a', '1': 'b'} }}").starts_with(&every_run(
            "{1: 'a', '1': 'b'}",
            "its value is or holds a map whose keys"
        ))
    );
    // One that reads a variable is not evaluated; one that reads none and renders passes.
    for text in [
        "${{ input.n / 0 }}",
        "${{ item / 0 }}",
        "${{ 1 + 1 }}",
        "x ${{ [1.0, 2.5].map(x, x * 2.0) }}",
        "${{ {1: 'a', '2': 'b'} }}",
    ] {
        assert_eq!(check_template(text, &ITEM_VARIABLES), Ok(()), "{text}");
    }
}

#[test]
fn a_value_surely_optional_behind_a_chain_or_a_method_is_refused_at_load() {
    let scope = scope();
    // Surely still an optional: refused at load, and every run fails on it the same way.
    for expr in [
        "input.?a.b",
        "{'a': {'b': 1}}.?a.b",
        "{'a': [1]}.?a[0]",
        "steps[?'plan'].output.files",
        "input.?a.b.c[0]",
        "optional.of(1).or(optional.none())",
        "input.?a.or(input.?n)",
        "input.?a.optMap(v, v)",
        "input.?repo.optFlatMap(r, optional.of(r))",
        "{'k': input.?repo.optMap(r, r + '!')}",
        "input.n > 0 ? input.?a : optional.none()",
    ] {
        let refused = check(expr, &VARIABLES).unwrap_err().reason;
        assert_eq!(refused, NO_JSON_FORM, "{expr}");
        assert_eq!(
            refusal(&format!("${{{{ {expr} }}}}"), &scope),
            NO_JSON_FORM,
            "{expr}"
        );
    }
    // What takes the value out ends it; a value that may be something else is not refused.
    for (expr, value) in [
        ("input.?a.b.orValue(0)", json!(0)),
        (
            "input.?repo.optMap(r, r + '!').orValue('')",
            json!("cairn!"),
        ),
        ("optional.of(1).or(optional.none()).value()", json!(1)),
        ("input.?a.b.hasValue()", json!(false)),
        ("input.?a.or(input.?n).value() + 1", json!(6)),
        ("input.n > 0 ? input.n : optional.none()", json!(5)),
        ("optional.none().or(input.?n).orValue(0)", json!(5)),
        ("[?input.?a.b, 1]", json!([1])),
        ("{?'k': input.?repo}", json!({"k": "cairn"})),
        ("has(input.repo) ? 1 : 2", json!(1)),
    ] {
        assert_eq!(check(expr, &VARIABLES), Ok(()), "{expr}");
        assert_eq!(evaluate(expr, &scope), Ok(value), "{expr}");
    }
}
