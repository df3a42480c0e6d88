//! Values as the schema reads them: whole numbers written as floats, counts out of range,
//! `null` for an optional key, a value none of a key's names.

use super::*;

#[test]
fn a_whole_number_written_as_a_float_loads_as_the_schema_reads_it() {
    // JSON has one kind of number, and the schema's `integer` takes 2.0 for 2: so does the
    // loader, the fast way and the full way (`null` in `with` sends a file the full way).
    for output in ["1", "null"] {
        let source = format!(
            r#"{{"name": "f", "limits": {{"max_parallel": 2.0, "max_steps": 1e3}},
                "stall": {{"loop_after": 4.0}},
                "steps": [{{"id": "g", "max_parallel": 3.0, "parallel": [
                    {{"id": "a", "executor": "noop", "with": {{"output": {output}}},
                      "retry": {{"max_attempts": 5e0}}}}]}}]}}"#
        );
        let plan = load_str(&source, "f.json", &EXECUTORS).unwrap_or_else(|e| panic!("{e}"));
        let workflow = plan.workflow();
        assert_eq!(
            (workflow.limits.max_parallel, workflow.limits.max_steps),
            (2, 1000)
        );
        assert_eq!(
            workflow.stall.as_ref().map(|stall| stall.loop_after),
            Some(4)
        );
        let group = &workflow.steps[0];
        assert_eq!(group.max_parallel, Some(3));
        let members = group.parallel.as_deref().unwrap_or_default();
        assert_eq!(members[0].retry.as_ref().map(|r| r.max_attempts), Some(5));
    }
}

#[test]
fn a_count_out_of_its_range_is_refused_with_the_bound_not_wrapped() {
    let found = problems(
        r#"{"name": "r", "limits": {"max_parallel": 4294967296},
            "steps": [{"id": "g", "max_parallel": 4294967296, "parallel": [
                {"id": "a", "executor": "noop", "for_each": "${{ [1] }}", "max_parallel": 1e10,
                 "retry": {"max_attempts": 2.5}}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/limits/max_parallel: 4294967296 is greater than the maximum of 100000",
            "w.json:/steps/0/max_parallel: 4294967296 is greater than the maximum of 100000",
            "w.json:/steps/0/parallel/0/max_parallel: 10000000000.0 is greater than the maximum of 100000",
            "w.json:/steps/0/parallel/0/retry/max_attempts: expected integer, found 2.5",
        ]
    );
}

#[test]
fn null_for_an_optional_key_says_to_leave_the_key_out() {
    let found = problems(
        r#"{"name": "n", "version": null, "input": null, "defaults": {"timeout": null},
            "steps": [{"id": "a", "executor": "noop", "output_schema": null, "retry": null},
                      {"id": "b", "executor": "noop", "needs": [null], "output_schema": 5}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/defaults/timeout: expected string, found null: leave the key out to give none",
            "w.json:/input: expected boolean or object, found null: leave the key out to give none",
            "w.json:/steps/0/output_schema: expected boolean or object, found null: leave the key out to give none",
            "w.json:/steps/0/retry: expected object, found null: leave the key out to give none",
            "w.json:/steps/1/needs/0: expected string, found null",
            "w.json:/steps/1/output_schema: expected boolean or object, found a number",
            "w.json:/version: expected string, found null: leave the key out to give none",
        ]
    );
    // A required key has no such way out.
    assert_eq!(
        problems(r#"{"name": null, "steps": [{"id": "a", "executor": "noop"}]}"#),
        ["w.json:/name: expected string, found null"]
    );
}

#[test]
fn a_value_none_of_a_keys_names_says_how_to_give_none_or_which_it_is_likely_a_typo_of() {
    let found = problems(
        r#"{"name": "n", "steps": [
            {"id": "a", "executor": "noop", "trigger": null, "on_stall": "pauze"},
            {"id": "b", "executor": "noop", "needs": ["a"], "trigger": "all_succeded", "on_stall": null}]}"#,
    );
    let says = |place: &str, text: &str| {
        found.iter().any(|problem| {
            problem.starts_with(&format!("w.json:{place}: ")) && problem.ends_with(text)
        })
    };
    assert!(
        says("/steps/0/trigger", "leave the key out to give none"),
        "{found:?}"
    );
    assert!(
        says("/steps/0/on_stall", "(did you mean `pause`?)"),
        "{found:?}"
    );
    assert!(
        says("/steps/1/trigger", "(did you mean `all_succeeded`?)"),
        "{found:?}"
    );
    assert!(
        says("/steps/1/on_stall", "leave the key out to give none"),
        "{found:?}"
    );
}

#[test]
fn a_newline_in_a_value_a_problem_quotes_keeps_the_problem_on_one_line() {
    // An id, a need and a key quoted with their newlines started lines of their own, such
    // as a forged `other.json: ok` (probe 38 F1).
    let source = json!({"name": "w", "steps": [
        {"id": "a\nother.json: ok", "executor": "noop"},
        {"id": "b", "executor": "noop", "needs": ["c\nrun x succeeded"], "k\nx": 1}
    ]});
    let found = problems(&source.to_string());
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found.iter().all(|line| line.starts_with("w.json:/steps/")),
        "{found:?}"
    );
    assert!(found[0].contains(r"a\u{a}other.json: ok"), "{found:?}");
}
