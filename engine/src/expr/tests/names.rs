//! What the loader refuses of the names in an expression (variables, functions, types) and
//! of its value, and that what it accepts the run evaluates.

use serde_json::json;

use super::*;

#[test]
fn a_variable_not_defined_where_the_expression_is_is_refused_cached_or_not() {
    let refused = |expr: &str, known: &[&str]| check(expr, known).unwrap_err().reason;
    let cached = refused("inptu.x + items.size()", &VARIABLES);
    assert!(
        cached.starts_with("no variable `inptu`, `items` here"),
        "{cached}"
    );
    assert!(check("input.xs.exists(x, x == item)", &ITEM_VARIABLES).is_ok());
    // Past the room of the recently compiled ones, an expression is parsed alone: the same.
    for at in 0..CACHED_PROGRAMS {
        check(&format!("{at} + 0"), &VARIABLES).unwrap();
    }
    assert!(recent_programs().programs.len() >= CACHED_PROGRAMS);
    assert_eq!(refused("inptu.x + items.size()", &VARIABLES), cached);
    assert!(refused("index", &VARIABLES).ends_with("of a `for_each` step"));
}

#[test]
fn a_call_to_a_function_the_run_lacks_is_refused_and_every_other_call_kept() {
    let refused = |expr: &str| check(expr, &VARIABLES).unwrap_err().reason;
    assert_eq!(
        refused("nosuchfn(1)"),
        "no function `nosuchfn()` in cairn's CEL"
    );
    assert_eq!(
        refused("sise(input.name)"),
        "no function `sise()` in cairn's CEL; did you mean `size`?"
    );
    assert_eq!(
        refused("input.name.sise()"),
        "no method `.sise()` in cairn's CEL; did you mean `size`?"
    );
    // A misspelt macro is named, not the variable it would have bound.
    assert_eq!(
        refused("input.xs.exist(x, x > 1)"),
        "no method `.exist()` in cairn's CEL; did you mean `exists`?"
    );
    // The run's context has no timestamps (the `cel` crate's `chrono` feature is off).
    assert!(refused("timestamp('2020-01-01T00:00:00Z')").starts_with("no function `timestamp()`"));
    assert!(
        refused("size(input) + [1].map(x, nosuch(x))[0]").starts_with("no function `nosuch()`")
    );
    // Functions, methods, macros, optional values and operators the run evaluates.
    for expr in [
        "size(input.xs) + input.xs.size() + int('1') + int(uint(1)) + int(double(1))",
        "has(input.x) && input.xs.all(x, x > 0) && input.xs.exists(x, x > 0)",
        "input.xs.exists_one(x, x > 0) && input.xs.map(x, x * 2).filter(x, x > 2) == []",
        "'abc'.startsWith('a') && 'abc'.endsWith('c') && 'abc'.contains('b')",
        "'abc'.matches('^a') && matches('abc', 'b') && string(1) == '1' && bool('true')",
        "type(dyn(1)) == type(2) && bytes('a') == b'a' && !(1 in [2]) && -1 < 0",
        "{'a': 1}.?a.orValue(0) == 1 && [1][?0].hasValue()",
        "input.a ? steps.b.output['c'] : run.id",
    ] {
        assert_eq!(check(expr, &VARIABLES), Ok(()), "{expr}");
    }
}

/// Checks each expression where [`VARIABLES`] are read, and evaluates it in [`scope`] to
/// the value it is given with.
fn accepted_and_evaluated(cases: &[(&str, Value)]) {
    for (expr, value) in cases {
        assert_eq!(check(expr, &VARIABLES), Ok(()), "{expr}");
        assert_eq!(evaluate(expr, &scope()).as_ref(), Ok(value), "{expr}");
    }
}

#[test]
fn optional_values_are_checked_and_evaluated_as_the_run_reads_them() {
    accepted_and_evaluated(&[
        ("optional.of(1).hasValue()", json!(true)),
        ("optional.none().orValue(3)", json!(3)),
        ("optional.ofNonZeroValue(0).hasValue()", json!(false)),
        ("optional.ofNonZeroValue(2).value()", json!(2)),
        ("optional.of(1).or(optional.of(2)).value()", json!(1)),
        ("optional.of(input.n).optMap(x, x + 1).value()", json!(6)),
        ("optional.none().optMap(x, x + 1).hasValue()", json!(false)),
        (
            "optional.of(1).optFlatMap(x, optional.ofNonZeroValue(x - 1)).hasValue()",
            json!(false),
        ),
        (
            "input.?nope.optFlatMap(v, v.?deep).orValue('none')",
            json!("none"),
        ),
        ("{'a': 1}.?a.orValue(2) + [1, 2].map(x, x * 2)[1]", json!(5)),
        ("[?optional.none(), ?optional.of(1), 2]", json!([1, 2])),
        (
            "{?'a': optional.of(1), ?'b': optional.none()}",
            json!({"a": 1}),
        ),
    ]);
}

#[test]
fn type_names_are_checked_and_evaluated_as_the_run_reads_them() {
    accepted_and_evaluated(&[
        (
            "type(1) == int && type('a') == string && type(true) == bool",
            json!(true),
        ),
        (
            "type(1.0) == double && type(1u) == uint && type(b'') == bytes",
            json!(true),
        ),
        (
            "type([]) == list && type({}) == map && type(null) == null_type",
            json!(true),
        ),
        (
            "type(optional.none()) == optional_type && type(int) == type",
            json!(true),
        ),
        (
            "[type(input.n) == int, type(input.repo) == int]",
            json!([true, false]),
        ),
        ("[1, 'a', 2.0].filter(x, type(x) == string)", json!(["a"])),
        ("type(input.n)", json!("int")),
        // A macro's variable is a variable, whatever its name.
        ("[1].map(int, int + 1)", json!([2])),
    ]);
    // A guard's rule reads them so too.
    let rule = Condition::new("type(action.n) == int && optional.of(action).hasValue() && x");
    assert_eq!(rule.unknown_variables(&["action"]), ["x"]);
}

#[test]
fn a_type_or_function_the_run_lacks_is_refused_as_such() {
    let refused = |expr: &str| check(expr, &VARIABLES).unwrap_err().reason;
    for (expr, reason) in [
        (
            "type(input.n) == google.protobuf.Timestamp",
            "the type `google.protobuf.Timestamp` is not supported by cairn's CEL",
        ),
        (
            "google.protobuf.Duration",
            "the type `google.protobuf.Duration` is not supported by cairn's CEL",
        ),
        (
            "optional.off(1)",
            "no function `optional.off()` in cairn's CEL; did you mean `optional.of`?",
        ),
        (
            "optional.ofNonZero(1).hasValue()",
            "no function `optional.ofNonZero()` in cairn's CEL; did you mean `optional.ofNonZeroValue`?",
        ),
    ] {
        assert_eq!(refused(expr), reason, "{expr}");
    }
    // A namespace of functions is no value, nor is a type a value with fields.
    assert!(refused("optional").starts_with("no variable `optional` here"));
    assert!(refused("int.max").starts_with("no variable `int` here"));
}

#[test]
fn a_macro_variable_read_outside_its_macro_is_refused() {
    let refused = |expr: &str| check(expr, &VARIABLES).unwrap_err().reason;
    assert!(
        refused("input.xs.all(x, x > 0) && x > 1").starts_with("no variable `x` here"),
        "the run fails on `x` outside the macro"
    );
    assert!(
        refused("optional.of(1).optMap(v, v) == optional.of(v)").starts_with("no variable `v`")
    );
    assert!(evaluate("[1].all(x, x > 0) && x > 1", &scope()).is_err());
}

#[test]
fn an_optional_value_has_no_json_form_and_is_refused() {
    // Surely an optional, as written: refused when the file is loaded.
    for expr in [
        "optional.of(1)",
        "optional.none()",
        "input.?nope",
        "steps.plan.output.files[?0]",
        "[1, optional.ofNonZeroValue(0)]",
        "{'a': {'b': optional.of(1)}}",
        "input.n > 0 ? optional.of(1) : optional.none()",
        "{'a': 1}.?a.optMap(v, v)",
        "[input.?repo.optMap(r, r)]",
    ] {
        assert_eq!(
            check(expr, &VARIABLES).unwrap_err().reason,
            NO_JSON_FORM,
            "{expr}"
        );
    }
    // An optional the run makes: refused when the step runs, not taken as `null`.
    for expr in [
        "input.n > 0 ? optional.of(1) : input.n",
        "[optional.of(1)].map(o, o)",
        "[input.?repo].map(r, r)[0]",
    ] {
        assert_eq!(check(expr, &VARIABLES), Ok(()), "{expr}");
        let error = render(&json!(format!("${{{{ {expr} }}}}")), &scope()).unwrap_err();
        assert_eq!(error.reason, NO_JSON_FORM, "{expr}");
    }
    assert_eq!(
        condition("input.?repo.optMap(r, true)", &scope())
            .unwrap_err()
            .reason,
        NO_JSON_FORM
    );
    assert_eq!(
        NO_JSON_FORM,
        "its value is or holds an optional, which has no JSON form: take what it holds with \
         `.value()` or `.orValue(default)`"
    );
}

#[test]
fn a_written_pattern_that_does_not_compile_is_refused_and_one_that_does_is_kept() {
    // Probe 15 of stop 56: `matches('(')` loaded, and failed every evaluation.
    for expr in [
        "input.repo.matches('(')",
        "matches(input.repo, '\\\\w{1000}')",
    ] {
        let reason = check(expr, &VARIABLES).unwrap_err().reason;
        assert!(
            reason.starts_with("`matches` would fail at every call: its pattern"),
            "{expr}: {reason}"
        );
        let rule = Condition::new(expr.replace("input", "action"));
        assert!(
            rule.unknown_name()
                .is_some_and(|reason| reason.contains("not a regular expression")),
            "{expr}"
        );
    }
    accepted_and_evaluated(&[
        ("input.repo.matches('^cairn$')", json!(true)),
        ("input.repo.matches(input.repo)", json!(true)),
    ]);
}
