//! Expressions in a workflow or a plan: what they may read and call, checked at their place.

use super::*;

#[test]
fn expressions_and_references() {
    let found = problems(
        r#"{"name": "e", "steps": [
            {"id": "g", "parallel": [{"id": "a", "executor": "noop"}]},
            {"id": "b", "executor": "noop", "needs": ["g"],
             "for_each": "steps.a.output", "when": "${{ true }}",
             "with": {"x": ["${{ steps.g.output }}", "${{ steps.b.output }}", "${{ steps.aa.output }}", "${{ 1 + }}", "${{ steps['g.z'].output }}"], "c/d": "${{ steps.aa"}},
            {"id": "c", "executor": "noop", "for_each": "${{ steps.a.output", "retry": {"max_attempts": 2, "initial_delay": "1m", "max_delay": "1s"}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/1/for_each: `for_each` must be one `${{ expr }}` giving a list: a list is written as one: `${{ [1, 2] }}`",
            "w.json:/steps/1/when: `when` is a bare CEL expression: write it without `${{ }}`",
            "w.json:/steps/1/with/c~1d: `${{ steps.aa`: `${{` is never closed by `}}`",
            "w.json:/steps/1/with/x/0: `steps.g`: `g` is a group, and only steps have outputs",
            "w.json:/steps/1/with/x/1: step `b` reads its own output",
            "w.json:/steps/1/with/x/2: `steps.aa`: no step has the id `aa` (did you mean `a`?)",
            "w.json:/steps/1/with/x/3: `1 +`: does not parse: column 4: Syntax error: mismatched input '<EOF>'",
            "w.json:/steps/1/with/x/4: `steps['g.z']`: no step has the id `g.z`",
            "w.json:/steps/2/for_each: `for_each` must be one `${{ expr }}` giving a list: `${{` is never closed by `}}`",
            "w.json:/steps/2/retry/initial_delay: initial_delay (1m) is longer than max_delay (1s)",
        ]
    );
}

#[test]
fn an_expression_naming_a_variable_it_cannot_read_there_is_refused_at_its_place() {
    let found = problems(
        r#"{"name": "x", "steps": [
            {"id": "a", "executor": "noop", "when": "foo.bar == 1"},
            {"id": "b", "executor": "noop", "with": {"output": "${{ item }}", "n": ["x ${{ inptu.n }}"]}},
            {"id": "c", "executor": "noop", "needs": ["a"], "for_each": "${{ [index] }}", "when": "item > 1",
             "with": {"output": "${{ item + index }}",
                      "ok": "${{ input.xs.exists(x, x == item) && run.id != '' && steps.a.output }}"},
             "fallbacks": [{"output": "${{ [item, index] }}"}]}
        ]}"#,
    );
    let read = "(an expression here reads `input`, `steps`, `run`)";
    let item =
        "`item` and `index` are read only in the `with` and `fallbacks` of a `for_each` step";
    assert_eq!(
        found,
        [
            format!("w.json:/steps/0/when: `foo.bar == 1`: no variable `foo` here {read}"),
            format!(
                "w.json:/steps/1/with/n/0: `inptu.n`: no variable `inptu` here {read}; did you mean `input`?"
            ),
            format!("w.json:/steps/1/with/output: `item`: no variable `item` here {read}; {item}"),
            format!("w.json:/steps/2/for_each: `[index]`: no variable `index` here {read}; {item}"),
            format!("w.json:/steps/2/when: `item > 1`: no variable `item` here {read}; {item}"),
        ]
    );
}

#[test]
fn a_plan_is_held_to_the_same_variables_as_a_file() {
    let error = refused_plan(json!({"steps": [
        {"id": "a", "executor": "noop", "with": {"output": "${{ item }}"}},
        {"id": "b", "executor": "noop", "for_each": "${{ steps.gen.output.steps }}",
         "with": {"output": "${{ [item, index, input, run] }}"}}
    ]}));
    let lines: Vec<String> = error.to_string().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("plan of gen:/steps/0/with/output: `item`: no variable `item` here"),
        "{lines:?}"
    );
}

#[test]
fn a_call_to_a_function_the_run_lacks_is_refused_at_its_place() {
    let found = problems(
        r#"{"name": "uf", "steps": [
            {"id": "a", "executor": "noop", "with": {"output": "${{ nosuchfn(1) }}"}},
            {"id": "b", "executor": "noop", "when": "nosuch2()", "with": {"output": 1}},
            {"id": "c", "executor": "noop", "for_each": "${{ input.xs.filtre(x, x > 1) }}",
             "with": {"output": "${{ size(item) }}"},
             "fallbacks": [{"output": "at ${{ timestamp('2020-01-01T00:00:00Z') }}"}]},
            {"id": "d", "executor": "noop", "when": "input.xs.all(i, x, x > 0)"}
        ]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/with/output: `nosuchfn(1)`: no function `nosuchfn()` in cairn's CEL",
            "w.json:/steps/1/when: `nosuch2()`: no function `nosuch2()` in cairn's CEL",
            "w.json:/steps/2/fallbacks/0/output: `timestamp('2020-01-01T00:00:00Z')`: no function `timestamp()` in cairn's CEL",
            "w.json:/steps/2/for_each: `input.xs.filtre(x, x > 1)`: no method `.filtre()` in cairn's CEL; did you mean `filter`?",
            // Probe 76 F5: a macro's two-variable form.
            "w.json:/steps/3/when: `input.xs.all(i, x, x > 0)`: `all` is not called so in cairn's CEL (no two-variable form, `xs.all(i, x, …)`): it takes a variable and a condition: `xs.all(x, x > 0)`",
        ]
    );
}

#[test]
fn a_plan_calling_a_function_the_run_lacks_is_refused() {
    let error = refused_plan(json!({"steps": [
        {"id": "a", "executor": "noop", "with": {"output": "${{ lenght(steps.gen.output.steps) }}"}}
    ]}));
    assert_eq!(
        error.to_string(),
        "plan of gen:/steps/0/with/output: `lenght(steps.gen.output.steps)`: no function `lenght()` in cairn's CEL"
    );
}

#[test]
fn a_for_each_loads_only_when_its_run_gives_a_list() {
    let load = |for_each: &str| {
        let step = json!({"id": "d", "for_each": for_each, "executor": "noop"});
        problems(&json!({"name": "fw", "steps": [step]}).to_string())
    };
    let around = "w.json:/steps/0/for_each: `for_each` must be one `${{ expr }}` giving a list, with nothing around it: remove the whitespace before or after it";
    let not_one = "w.json:/steps/0/for_each: `for_each` must be one `${{ expr }}` giving a list";
    let text =
        format!("{not_one}: with text around it or another `${{{{ }}}}`, it renders as a string");
    for (for_each, refusal) in [
        ("${{ [1] }}", None),
        ("${{ [1] }} ", Some(around)),
        ("\n ${{ [1] }}", Some(around)),
        ("${{ [1] }}x}}", Some(text.as_str())),
        ("${{ [1] }}${{ [2] }}", Some(text.as_str())),
    ] {
        let found = load(for_each);
        assert_eq!(
            found,
            refusal.map(str::to_owned).into_iter().collect::<Vec<_>>(),
            "{for_each:?}"
        );
        // What loads is what the run renders as a list.
        let rendered = crate::expr::render(&json!(for_each), &crate::expr::Scope::default());
        assert_eq!(
            rendered.unwrap().is_array(),
            found.is_empty(),
            "{for_each:?}"
        );
    }
    // A template that is not one is told why, as in `with` (probe 35 F9).
    for (for_each, why) in [
        ("${{ [1, 2]", "`${{` is never closed by `}}`"),
        ("${{ }}", "empty `${{ }}`"),
    ] {
        assert_eq!(
            load(for_each),
            [format!("{not_one}: {why}")],
            "{for_each:?}"
        );
    }
}

/// The problem of a workflow whose one step has `key` set to `value`.
fn step_problems(key: &str, value: &str) -> Vec<String> {
    let workflow = json!({"name": "t", "steps": [{"id": "a", "executor": "noop", key: value}]});
    problems(&workflow.to_string())
}

#[test]
fn a_when_holding_a_template_opening_in_a_string_literal_loads() {
    // A bare expression that parses: its `${{` is text (probe 35 F8).
    assert!(step_problems("when", "'${{ x }}'.startsWith('${{')").is_empty());
    assert_eq!(
        step_problems("when", "${{ true }} && true"),
        ["w.json:/steps/0/when: `when` is a bare CEL expression: write it without `${{ }}`"]
    );
}

#[test]
fn a_when_surely_not_a_boolean_is_refused_at_its_place() {
    let fix = "compare it (`== …`, `> …`)";
    for (when, what) in [
        ("1 + 1", "the value of arithmetic"),
        ("'yes'", "a string"),
        ("size(input.xs)", "a number"),
        (
            "input.xs.map(x, x * 2)",
            "a list (`map` and `filter` make one)",
        ),
        ("input.ok ? 'a' : [1]", "a list"),
    ] {
        assert_eq!(
            step_problems("when", when),
            [format!(
                "w.json:/steps/0/when: `{when}`: `when` must be true or false, and this one is {what} whatever the run: {fix}"
            )],
            "{when}"
        );
    }
}

#[test]
fn a_for_each_surely_not_a_list_is_refused_at_its_place() {
    let fix = "give a list (`[…]`, `input.xs`, `xs.map(x, …)`)";
    for (expression, what) in [
        ("'abc'", "a string"),
        ("{'a': 1}", "a map"),
        ("size(input.xs)", "a number"),
        ("input.n > 2", "a boolean"),
        ("input.a && input.b", "a boolean"),
        ("!input.a", "a boolean"),
        ("1 in input.xs", "a boolean"),
        ("input.xs.exists(x, x > 1)", "a boolean"),
        ("input.n - 1", "the value of arithmetic"),
        ("input.ok ? 1 : 'a'", "a string"),
    ] {
        assert_eq!(
            step_problems("for_each", &format!("${{{{ {expression} }}}}")),
            [format!(
                "w.json:/steps/0/for_each: `{expression}`: `for_each` must give a list, and this one is {what} whatever the run: {fix}"
            )],
            "{expression}"
        );
    }
}

#[test]
fn a_when_or_for_each_reading_no_variable_is_evaluated_at_load() {
    let every_run = "it reads no variable, so every run would fail on it";
    for (key, value, problem) in [
        (
            "when",
            "1/0 == 1",
            "`1/0 == 1`: division by zero of int 1".to_owned(),
        ),
        (
            "when",
            "[1, 2][0]",
            "`[1, 2][0]`: a condition must be true or false, not 1".to_owned(),
        ),
        (
            "for_each",
            "${{ [1, 2][0] }}",
            "`for_each` must give a list, got 1".to_owned(),
        ),
        (
            "for_each",
            "${{ {'a': 1}['b'] }}",
            "`{'a': 1}['b']`: No such key: b".to_owned(),
        ),
    ] {
        assert_eq!(
            step_problems(key, value),
            [format!("w.json:/steps/0/{key}: {every_run}: {problem}")],
            "{value}"
        );
    }
}

#[test]
fn a_when_or_for_each_that_may_have_the_right_type_loads() {
    for (key, value) in [
        ("when", "input.ok"),
        ("when", "true"),
        ("when", "false"),
        ("when", "size(input.xs) > 0 && input.xs.all(x, x > 1)"),
        ("when", "input.ok ? input.a : 1"),
        ("for_each", "${{ input.xs }}"),
        ("for_each", "${{ [1, 2] }}"),
        ("for_each", "${{ [] }}"),
        ("for_each", "${{ input.xs.map(x, x * 2) }}"),
        ("for_each", "${{ input.xs.filter(x, x > 2) }}"),
        ("for_each", "${{ input.a + input.b }}"),
        ("for_each", "${{ [1] + [2] }}"),
        ("for_each", "${{ input.ok ? input.xs : 1 }}"),
        ("for_each", "${{ steps.a.output }}"),
    ] {
        let found = step_problems(key, value);
        // Only `steps.a` reads its own step: no other problem.
        assert!(
            found
                .iter()
                .all(|problem| problem.ends_with("reads its own output")),
            "{value}: {found:?}"
        );
    }
}

#[test]
fn a_plan_with_a_when_or_for_each_of_the_wrong_type_is_refused() {
    let error = refused_plan(json!({"steps": [
        {"id": "a", "executor": "noop", "when": "'yes'"},
        {"id": "b", "executor": "noop", "for_each": "${{ 1/0 }}"}
    ]}));
    let lines: Vec<String> = error.to_string().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("plan of gen:/steps/0/when: `'yes'`: `when` must be true or false"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("plan of gen:/steps/1/for_each: `1/0`: `for_each` must give a list, and this one is the value of arithmetic"),
        "{lines:?}"
    );
}

#[test]
fn a_step_read_has_one_field_and_a_dotted_id_is_read_by_its_key() {
    let found = problems(
        r#"{"name": "f", "steps": [
            {"id": "a", "executor": "noop"},
            {"id": "x.y", "executor": "noop"},
            {"id": "in", "executor": "noop"},
            {"id": "b", "executor": "noop", "needs": ["a", "x.y", "in"],
             "when": "steps.a.b.output == 1",
             "with": {"output": "${{ steps.a.outptu }}", "reserved": "${{ steps['in'].outptu }}",
                      "ok": "${{ [steps['x.y'].output, steps.a.output, has(steps.a), steps.?a.hasValue()] }}",
                      "dotted": "${{ steps.x.y.output }}"}}
        ]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/3/when: `steps.a.b.output == 1`: `steps.a` has no field `b`: a step's only field is `output` (a step whose id is `a.b` is read as `steps['a.b'].output`; a step of the file cannot read the steps a plan adds)",
            "w.json:/steps/3/with/dotted: `steps.x.y.output`: `steps.x` has no field `y`: a step's only field is `output` (a step whose id is `x.y` is read as `steps['x.y'].output`; a step of the file cannot read the steps a plan adds)",
            "w.json:/steps/3/with/output: `steps.a.outptu`: `steps.a` has no field `outptu`: did you mean `steps.a.output`?",
            "w.json:/steps/3/with/reserved: `steps['in'].outptu`: `steps['in']` has no field `outptu`: did you mean `steps['in'].output`?",
        ]
    );
}
