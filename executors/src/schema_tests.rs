//! The workflow schema editors read against the loader with the built-in executors: what
//! the loader accepts, the schema accepts; what it refuses on the file alone (node shapes,
//! parameters), the schema refuses too.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{builtin, workflow_schema};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The schema's verdict on `workflow`: its errors, `instance path: message`.
fn schema_errors(workflow: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&workflow_schema()).unwrap();
    (validator.iter_errors(workflow))
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// The loader's verdict on `workflow`, with the executors `cairn` registers.
fn loader_errors(workflow: &Value) -> Vec<String> {
    match cairn_engine::load_str(&workflow.to_string(), "w.json", &builtin()) {
        Ok(_) => Vec::new(),
        Err(error) => error.to_string().lines().map(str::to_owned).collect(),
    }
}

/// A workflow of the one step `step`.
fn one_step(step: Value) -> Value {
    json!({"name": "w", "input": {}, "steps": [step]})
}

/// (The binary's tests see that `schemas/workflow.schema.json` is this schema.)
#[test]
fn the_schema_accepts_every_example() {
    let mut examples = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let example: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let errors = schema_errors(&example);
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            examples += 1;
        }
    }
    assert!(examples >= 3, "{examples} examples");
}

/// Asserts that the loader and the schema both refuse `workflow`.
fn both_refuse(workflow: &Value) {
    assert!(
        !loader_errors(workflow).is_empty(),
        "the loader takes {workflow}"
    );
    assert!(
        !schema_errors(workflow).is_empty(),
        "the schema takes {workflow}"
    );
}

#[test]
fn a_builtin_executors_parameters_are_checked_as_the_loader_checks_them() {
    for step in [
        json!({"id": "a", "executor": "process", "with": {"cmomand": ["echo"], "cwdd": "x"}}),
        json!({"id": "a", "executor": "process", "with": {"command": ["echo"], "cwdd": "x"}}),
        json!({"id": "a", "executor": "process", "with": {"command": "echo"}}),
        json!({"id": "a", "executor": "process", "with": {"command": []}}),
        json!({"id": "a", "executor": "process"}),
        json!({"id": "a", "executor": "process", "with": {"command": ["echo"], "env": {"A": 1}}}),
        json!({"id": "a", "executor": "process", "with": {"command": ["echo"], "kill_grace": "5"}}),
        json!({"id": "a", "executor": "sleep", "with": {"duration": 5}}),
        json!({"id": "a", "executor": "noop", "with": {"outptu": 1}}),
        json!({"id": "a", "executor": "agent", "with": {"cli": "claud", "prompt": "p"}}),
        json!({"id": "a", "executor": "agent", "with": {"cli": "claude", "prompt": "p",
                                                        "max_budget_usd": -1}}),
        json!({"id": "a", "executor": "process", "with": {"command": ["a"]},
               "fallbacks": [{"cwdd": "x"}]}),
        json!({"id": "a", "executor": "agent", "with": {"cli": "claude", "prompt": "p"},
               "fallbacks": [{"model": 5}]}),
    ] {
        both_refuse(&one_step(step));
    }
}

/// A template may stand for any value, as the loader leaves it to the run; a fallback may
/// leave the required keys to `with`.
#[test]
fn the_schema_takes_what_the_loader_takes() {
    for step in [
        json!({"id": "a", "executor": "process", "with": {"command": "${{ input.argv }}"}}),
        json!({"id": "a", "executor": "process", "with": {"command": ["x", "${{ input.a }}"],
               "env": {"A": "${{ input.a }}"}}}),
        json!({"id": "a", "executor": "process", "with": {"command": ["x"],
               "env": "${{ input.env }}", "kill_grace": "${{ input.grace }}", "input": [1]}}),
        json!({"id": "a", "executor": "sleep", "with": {"duration": "wait ${{ input.wait }}"}}),
        json!({"id": "a", "executor": "agent", "with": {"cli": "${{ input.cli }}",
               "prompt": "p", "max_budget_usd": "${{ input.budget }}"},
               "fallbacks": [{"cli": "codex", "model": "${{ input.model }}"}]}),
        json!({"id": "a", "executor": "agent", "with": {"cli": "claude", "prompt": "p",
               "max_budget_usd": 2.5, "args": ["--x"], "kill_grace": "10s"}}),
        json!({"id": "a", "executor": "noop", "with": {"output": {"any": [null]}}}),
        json!({"id": "a", "for_each": "${{ [1] }}", "max_parallel": 2, "executor": "noop",
               "with": {"output": "${{ item }}"}}),
    ] {
        let workflow = one_step(step);
        assert_eq!(loader_errors(&workflow), Vec::<String>::new(), "{workflow}");
        assert_eq!(schema_errors(&workflow), Vec::<String>::new(), "{workflow}");
    }
}

/// The schema cannot know which executors a program registers: a `with` of an executor it
/// does not know stays open, and `function` names any function.
#[test]
fn an_executor_the_schema_does_not_know_keeps_with_open() {
    for step in [
        json!({"id": "a", "executor": "mine", "with": {"anything": 5}}),
        json!({"id": "a", "executor": "function", "with": {"function": "f", "input": 1}}),
    ] {
        let workflow = one_step(step);
        assert_eq!(schema_errors(&workflow), Vec::<String>::new(), "{workflow}");
    }
    let workflow = one_step(json!({"id": "a", "executor": "function", "with": {"fn": "f"}}));
    assert!(!schema_errors(&workflow).is_empty());
}

/// The shapes of nodes the loader refuses on the file alone.
#[test]
fn node_shapes_the_loader_refuses_the_schema_refuses() {
    let noop = json!({"id": "s", "executor": "noop"});
    for node in [
        json!({"executor": "noop"}),
        json!({"id": "b", "executor": "noop", "pipeline": [noop]}),
        json!({"id": "d"}),
        json!({}),
        json!({"id": "e", "parallel": []}),
        json!({"id": "e", "pipeline": []}),
        json!({"id": "f", "executor": "noop", "max_parallel": 2}),
        json!({"id": "g", "executor": "noop", "needs": [""]}),
    ] {
        both_refuse(&json!({"name": "w", "steps": [noop, node]}));
    }
    let group = json!({"id": "g", "max_parallel": 2, "needs": ["s"], "parallel": [
        {"id": "t", "executor": "noop"}]});
    let workflow = json!({"name": "w", "steps": [noop, group]});
    assert_eq!(loader_errors(&workflow), Vec::<String>::new());
    assert_eq!(schema_errors(&workflow), Vec::<String>::new());
}

#[test]
fn retry_on_offers_only_the_classes_a_retry_may_list() {
    for (class, taken) in [("exit_code", true), ("cancelled", false), ("denied", false)] {
        let workflow = one_step(json!({"id": "a", "executor": "noop",
                                       "retry": {"max_attempts": 2, "retry_on": [class]}}));
        assert_eq!(loader_errors(&workflow).is_empty(), taken, "{class}");
        assert_eq!(schema_errors(&workflow).is_empty(), taken, "{class}");
    }
}

#[test]
fn a_nodes_descriptions_say_what_cairn_does() {
    let schema = workflow_schema();
    let node = &schema["$defs"]["Node"]["properties"];
    let said = |key: &str| {
        node[key]["description"]
            .as_str()
            .unwrap()
            .replace('\n', " ")
    };
    let minutes = crate::DEFAULT_AGENT_TIMEOUT.as_secs() / 60;
    assert!(
        said("timeout").contains(&format!(
            "`agent` step's: its executor's default, {minutes} minutes"
        )),
        "{}",
        said("timeout")
    );
    assert!(said("needs").contains("`trigger`"), "{}", said("needs"));
    assert!(
        said("max_parallel").contains("`for_each` step"),
        "{}",
        said("max_parallel")
    );
}
