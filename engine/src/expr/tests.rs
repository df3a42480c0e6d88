//! CEL expressions and templates: parsing, evaluation, limits.

use cel::common::value::Val;
use serde_json::json;

use super::*;

/// Checks the expression `expr` as a template's is checked, without evaluating it.
fn check(expr: &str, known: &[&str]) -> Result<(), ExprError> {
    checked(expr, known, Expected::Anything).map(drop)
}

#[test]
fn a_recently_compiled_expression_is_not_parsed_again() {
    let first = compile("1 + 41 == 42").unwrap();
    assert!(Arc::ptr_eq(&first, &compile("1 + 41 == 42").unwrap()));
    for n in 0..CACHED_PROGRAMS {
        compile(&format!("{n} + 0")).unwrap();
    }
    assert!(
        !Arc::ptr_eq(&first, &compile("1 + 41 == 42").unwrap()),
        "the oldest was evicted"
    );
    assert!(PROGRAMS.lock().unwrap().programs.len() <= CACHED_PROGRAMS);
}

fn scope() -> Scope {
    let output = |json| Arc::new(SharedJson::new(json));
    let steps = HashMap::from([
        (
            "plan".into(),
            output(json!({"files": ["a.rs", "b.rs"], "count": 2})),
        ),
        ("my-step".into(), output(json!("hi"))),
    ]);
    Scope {
        item: Some(json!("x.rs")),
        index: Some(1),
        ..Scope::new(
            output(json!({"repo": "cairn", "n": 5})),
            steps,
            Arc::new(json!({"id": "r1"})),
        )
    }
}

#[test]
fn json_values_keep_their_cel_types() {
    let scope = Scope {
        input: Arc::new(SharedJson::new(
            json!({"int": -3, "big": 18446744073709551615u64, "float": 1.5,
            "none": null, "list": [1, "a"], "yes": true, "map": {"k": {"deep": "v"}}}),
        )),
        ..scope()
    };
    let value = evaluate(
        "[input.int < 0, input.big > 1u, input.float * 2.0, input.none == null, input.list[1],
          size(input.list), input.yes, 'k' in input.map, input.map.k.deep, has(input.map.x)]",
        &scope,
    );
    assert_eq!(
        value.unwrap(),
        json!([true, true, 3.0, true, "a", 2, true, true, "v", false])
    );
}

#[test]
fn a_lone_template_keeps_its_type() {
    let value = render(&json!("${{ steps.plan.output.files }}"), &scope()).unwrap();
    assert_eq!(value, json!(["a.rs", "b.rs"]));
    assert_eq!(
        render(&json!("${{input.n + 1}}"), &scope()).unwrap(),
        json!(6)
    );
}

#[test]
fn templates_inside_text_are_spliced() {
    let template = json!({"cmd": ["fix", "${{ item }}", "#${{ index }} of ${{ steps.plan.output.files }}"], "k": 3});
    let value = render(&template, &scope()).unwrap();
    assert_eq!(
        value,
        json!({"cmd": ["fix", "x.rs", "#1 of [\"a.rs\",\"b.rs\"]"], "k": 3})
    );
}

#[test]
fn map_literals_and_strings_with_braces_stay_inside_the_template() {
    let value = render(&json!("${{ {'a': {'b': '}}'}} }}"), &scope()).unwrap();
    assert_eq!(value, json!({"a": {"b": "}}"}}));
}

#[test]
fn triple_quoted_and_raw_strings_stay_inside_the_template() {
    // Probe 20 of stop 56: each was cut at a quote or a backslash inside the literal.
    for (template, value) in [
        (r"${{ '''it's''' }}", json!("it's")),
        (r"${{ '''it's}}''' }}", json!("it's}}")),
        (r#"${{ """say "hi" }}""" }}"#, json!("say \"hi\" }}")),
        (r"${{ r'C:\' }}", json!("C:\\")),
        (r"a ${{ R'\' + 'x' }} b", json!("a \\x b")),
        (r"${{ 'a\'}}' }}", json!("a'}}")),
    ] {
        assert_eq!(
            render(&json!(template), &scope()).unwrap(),
            value,
            "{template}"
        );
    }
}

#[test]
fn conditions_must_be_booleans() {
    assert!(condition("size(steps.plan.output.files) > 1", &scope()).unwrap());
    assert!(
        condition(
            "steps.plan.output.count == 2 && input.repo == 'cairn'",
            &scope()
        )
        .unwrap()
    );
    let error = condition("input.n", &scope()).unwrap_err();
    assert!(error.reason.contains("true or false"), "{error}");
}

#[test]
fn errors_name_the_expression() {
    let error = evaluate("nope.x", &scope()).unwrap_err();
    assert_eq!(error.expression, "nope.x");
    let error = check("1 +", &VARIABLES).unwrap_err();
    assert!(
        error.to_string().starts_with("`1 +`: does not parse"),
        "{error}"
    );
}

#[test]
fn a_refusal_names_the_nesting_once_and_quotes_a_long_expression_cut() {
    let deep = format!("{}{} == []", "[".repeat(100), "]".repeat(100));
    let error = check(&deep, &VARIABLES).unwrap_err().to_string();
    assert!(
        error.ends_with(
            "… (206 characters)`: does not parse: nested too deep (CEL's parser takes 96 levels)"
        ),
        "{error}"
    );
    assert!(
        error.starts_with(&format!("`{}", "[".repeat(100))),
        "{error}"
    );
}

#[test]
fn deep_expressions_are_errors_not_crashes() {
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(check(&deep, &VARIABLES).is_err());
    let nested = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    assert!(check(&nested, &VARIABLES).is_ok());
    let long = format!("1{}", " + 1".repeat(900));
    assert_eq!(evaluate(&long, &scope()).unwrap(), json!(901));
    assert!(
        check(&"1+".repeat(1200), &VARIABLES)
            .unwrap_err()
            .reason
            .contains("operators")
    );
}

#[test]
fn conditions_share_their_variables_and_fail_one_by_one() {
    let action = json!({"executor": "process", "step": "deploy-web"});
    let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
    let long = "a".repeat(super::stack::MAX_LEN + 1);
    let conditions = [
        "action.executor == 'process'",
        "action.step.startsWith('build')",
        "action.step",
        "action.nope.deeper",
        &deep,
        &long,
    ]
    .map(Condition::new);
    let results = evaluate_conditions(
        &conditions.each_ref(),
        &[("action", Variable::Json(&action))],
    );
    assert_eq!(results[0], Ok(true));
    assert_eq!(results[1], Ok(false));
    assert!(
        results[2]
            .as_ref()
            .unwrap_err()
            .reason
            .contains("true or false")
    );
    assert!(results[3].is_err(), "an unknown key is an error, not false");
    assert_eq!(results[4], Ok(true), "a deep condition runs on a big stack");
    assert!(
        results[5]
            .as_ref()
            .unwrap_err()
            .reason
            .contains("longer than")
    );
}

#[test]
fn conditions_read_objects_of_parts_as_the_same_json_whole() {
    let input = json!({"target": "prod", "files": ["a", "b"], "deep": {"x": 1}});
    let params = json!({"command": ["ls"], "env": {"A": "1"}});
    let small = json!({"executor": "process"});
    let whole = json!({
        "action": {"executor": "process", "params": params},
        "run": {"input": input, "attempts": 3},
    });
    let shared = SharedJson::new(input.clone());
    let attempts = json!(3);
    let parts = [
        (
            "action",
            Variable::Object(vec![
                ("executor", Variable::Json(&small["executor"])),
                ("params", Variable::Json(&params)),
            ]),
        ),
        (
            "run",
            Variable::Object(vec![
                ("input", Variable::Shared(&shared)),
                ("attempts", Variable::Json(&attempts)),
            ]),
        ),
    ];
    let texts = [
        "run.input.target == 'prod'",
        "has(run.input.target) && !has(run.input.nope)",
        "run.input.deep.x == 1 && run.input.files.size() == 2",
        "run.input.nope == 1",
        "run.input.files.x == 1",
        "run == {'input': run.input, 'attempts': 3}",
        "'A' in action.params.env && action.params.command[0] == 'ls'",
        "action.executor == 'process' && run.attempts > 2",
        "size(action) == 2 && run.input == {'target': 'prod', 'files': ['a', 'b'], 'deep': {'x': 1}}",
    ];
    let conditions = texts.map(Condition::new);
    let conditions = conditions.each_ref();
    let by_parts = evaluate_conditions(&conditions, &parts);
    let as_whole = evaluate_conditions(
        &conditions,
        &[
            ("action", Variable::Json(&whole["action"])),
            ("run", Variable::Json(&whole["run"])),
        ],
    );
    assert_eq!(by_parts, as_whole);
    assert_eq!(by_parts[..3], [Ok(true), Ok(true), Ok(true)]);
    assert!(by_parts[3].is_err() && by_parts[4].is_err(), "{by_parts:?}");
    assert_eq!(by_parts[5..], [Ok(true), Ok(true), Ok(true), Ok(true)]);
    // Several conditions read the shared input whole (`has`, `==`): kept once read twice.
    assert!(shared.kept().is_some());
}

#[test]
fn a_dotted_read_of_a_shared_value_converts_only_what_it_reads() {
    let shared = SharedJson::new(json!({"target": "prod", "big": ["x"]}));
    let run = [(
        "run",
        Variable::Object(vec![("input", Variable::Shared(&shared))]),
    )];
    let condition = Condition::new("run.input.target == 'prod'");
    for _ in 0..3 {
        assert_eq!(evaluate_conditions(&[&condition], &run), [Ok(true)]);
    }
    assert!(
        shared.kept().is_none(),
        "the input was never converted whole"
    );
}

#[test]
fn an_index_into_a_shared_value_reads_it_whole_and_keeps_it() {
    // docs/guards.md's advice for a big part of the input that rules read on every action.
    let shared = SharedJson::new(json!({"target": "prod", "big": ["x"]}));
    let run = [(
        "run",
        Variable::Object(vec![("input", Variable::Shared(&shared))]),
    )];
    let condition = Condition::new("run.input['big'].size() == 1");
    for _ in 0..3 {
        assert_eq!(evaluate_conditions(&[&condition], &run), [Ok(true)]);
    }
    assert!(shared.kept().is_some(), "read whole, then kept");
}

#[test]
fn the_fast_parser_leaves_what_it_reads_differently_to_the_reference_one() {
    for fits in [
        "steps.s1.output + 1",
        "a != -1",
        "!a && b - 1 > 0",
        "'!-' + x",
    ] {
        assert!(fast_parser_fits(fits), "{fits}");
    }
    for left in [
        "!-x",
        "- !x",
        "!!--2",
        "x.optMap(v, v + 1)",
        "optFlatMap",
        "'-",
    ] {
        assert!(!fast_parser_fits(left), "{left}");
    }
    assert!(
        parse("!-x").is_err(),
        "CEL's grammar refuses a mixed unary chain"
    );
    assert!(
        parse("2uin [2u]").is_ok(),
        "what only the reference parser reads is read"
    );
}

/// `expression`'s tree with the numbers of its nodes left out: the two parsers number
/// them in different orders.
fn tree(expression: &Expression) -> String {
    let debug = format!("{expression:?}");
    let mut tree = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("id: ") {
        tree.push_str(&rest[..at]);
        let after = rest[at + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
        rest = after.strip_prefix(", ").unwrap_or(after);
    }
    tree.push_str(rest);
    tree
}

/// Tokens, glued at random: mostly nonsense, with every unary and literal form.
fn token_soup() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    const TOKENS: &[&str] = &[
        "a",
        "steps",
        ".",
        "output",
        "s1",
        "1",
        "2u",
        "1.5",
        "-",
        "+",
        "*",
        "/",
        "%",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "?",
        "!",
        "==",
        "!=",
        "<",
        ">=",
        "&&",
        "||",
        "in",
        "'x'",
        "\"y\"",
        "b'z'",
        "r'\\'",
        "'''t'''",
        "true",
        "null",
        "has",
        "exists",
        "map",
        "size",
        ".?",
        "[?",
        "optMap",
        " ",
        "`q`",
        "0x1F",
        "1e3",
        "\\",
        "as",
        "1.",
        ".5",
        "x.y(z)",
        "m{ a: 1 }",
        "// c\n",
    ];
    prop::collection::vec(prop::sample::select(TOKENS), 1..10).prop_map(|t| t.concat())
}

/// Well-formed expressions built from every construct: operators, macros, optionals.
fn grammar() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let leaf = prop::sample::select(
        &[
            "a",
            "steps.s1.output",
            "1",
            "-2",
            "3u",
            "1.5",
            "'s'",
            "\"t\"",
            "b'x'",
            "true",
            "null",
            "[]",
            "{}",
            "steps['a-b'].output",
            "0x10",
            "2.0e-3",
            "'''m'''",
            "r'\\d'",
        ][..],
    )
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |inner| {
        (inner.clone(), inner.clone(), inner, 0..20u8).prop_map(|(a, b, c, form)| match form {
            0 => format!("{a} + {b}"),
            1 => format!("{a} * {b} - {c}"),
            2 => format!("({a}) / {b} % {c}"),
            3 => format!("{a} ? {b} : {c}"),
            4 => format!("{a} && {b} || {c}"),
            5 => format!("!{a}"),
            6 => format!("-{a}"),
            7 => format!("{a}.f"),
            8 => format!("{a}[{b}]"),
            9 => format!("[{a}, {b}]"),
            10 => format!("{{{a}: {b}}}"),
            11 => format!("{a}.exists(v, v == {b})"),
            12 => format!("{a}.map(v, v + {b})"),
            13 => format!("has({a}.f)"),
            14 => format!("size({a}) >= {b}"),
            15 => format!("{a}.?f"),
            16 => format!("{a}[?{b}]"),
            17 => format!("{a}.optMap(v, v + {b})"),
            18 => format!("{a} in {b}"),
            _ => format!("{a}.filter(v, v != {b}).all(w, w < {c})"),
        })
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 3000, failure_persistence: None, ..proptest::test_runner::Config::default()
    })]

    /// Whatever the fast parser reads, the reference parser reads to the same tree.
    #[test]
    fn the_fast_parser_reads_what_the_reference_parser_reads(
        expr in proptest::prop_oneof![token_soup(), grammar()]
    ) {
        if let Some(fast) = parse_fast(&expr) {
            let reference = ENV.parser().parse(&expr);
            proptest::prop_assert!(reference.is_ok(), "only the fast parser reads {expr:?}");
            proptest::prop_assert_eq!(tree(&fast), tree(&reference.unwrap()), "{}", expr);
        }
    }
}

#[test]
fn a_context_holds_only_the_variables_its_templates_name() {
    let steps_only = Named::in_template(&json!({"a": "${{ steps.plan.output }}", "b": [1, "run"]}));
    let steps_only = steps_only.unwrap();
    assert_eq!(
        (steps_only.input, steps_only.steps, steps_only.run),
        (false, true, false)
    );
    let named = Named::in_template(&json!(["${{ input.repo }}", {"c": "${{ run.id }}"}]));
    let named = named.unwrap();
    assert_eq!((named.input, named.steps, named.run), (true, false, true));
    let run_scope = scope();
    let context = context(&run_scope, steps_only).unwrap();
    assert!(evaluate_in("run", &context).is_err(), "run was left out");
    assert_eq!(
        evaluate_in("steps.plan.output.count", &context).unwrap(),
        json!(2)
    );
    let all = render(
        &json!("${{ [input.repo, steps['my-step'].output, run.id] }}"),
        &scope(),
    );
    assert_eq!(all.unwrap(), json!(["cairn", "hi", "r1"]));
}

#[test]
fn a_template_without_expressions_is_its_own_rendering() {
    let template = json!({"a": "steps and run", "b": [1, {"c": null}], "d": "$ {{ x }}"});
    assert!(Named::in_template(&template).is_none());
    assert_eq!(render(&template, &scope()).unwrap(), template);
}

#[test]
fn find_open_finds_the_first_opening_of_an_expression() {
    assert_eq!(find_open("${{ x }}"), Some(0));
    assert_eq!(find_open("a $ { ${ {{ $${{ y }}"), Some(13));
    assert_eq!(find_open("ends with ${{"), Some(10));
    assert_eq!(find_open("ends with ${"), None);
    assert_eq!(find_open(""), None);
}

#[test]
fn a_value_read_twice_is_converted_once_for_all_and_lent() {
    let scope = scope();
    assert_eq!(evaluate("1 + 1", &scope).unwrap(), json!(2));
    assert_eq!(evaluate("input.n", &scope).unwrap(), json!(5));
    assert!(
        scope.input.kept().is_none(),
        "read once: converted for it alone"
    );
    let again = render(&json!("${{ input.repo }} has ${{ input.n }}"), &scope).unwrap();
    assert_eq!(again, json!("cairn has 5"));
    let converted: *const dyn Val = scope.input.kept().expect("read again: kept");
    assert_eq!(
        evaluate("input", &scope).unwrap(),
        json!({"repo": "cairn", "n": 5})
    );
    assert!(
        std::ptr::addr_eq(converted, scope.input.kept().unwrap()),
        "the same CEL value is lent"
    );
    assert!(condition("has(input.repo) && !has(input.nope)", &scope).unwrap());
    let plan = &scope.steps["plan"];
    for _ in 0..3 {
        let files = evaluate("steps.plan.output.files[1]", &scope).unwrap();
        assert_eq!(files, json!("b.rs"));
    }
    assert!(plan.kept().is_some(), "an output is kept the same way");
    let dashed = &scope.steps["my-step"];
    for _ in 0..2 {
        let read = evaluate("steps['my-step'].output + '!'", &scope).unwrap();
        assert_eq!(read, json!("hi!"));
    }
    assert!(
        dashed.kept().is_some(),
        "`steps['my-step']` is read by name too"
    );
    let mut dotted = self::scope();
    (dotted.steps).insert("gen.risky".into(), Arc::new(SharedJson::new(json!(7))));
    assert_eq!(
        evaluate("steps['gen.risky'].output + 1", &dotted).unwrap(),
        json!(8),
        "an id with a dot (a planner's step) is looked up whole"
    );
    assert!(evaluate("has(steps['my-step'].output)", &scope).unwrap() == json!(true));
    assert!(
        evaluate("steps.nope.output", &scope).is_err(),
        "a step the scope lacks"
    );
}

mod names;
mod values;
