use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde_json::json;

use super::*;
use crate::executor::test_support::{Declared, accepting_anything};

/// Executors that accept any parameters, and `shell`, which declares its own.
static EXECUTORS: LazyLock<Executors> = LazyLock::new(|| {
    let mut executors = accepting_anything(&["noop", "sleep", "process", "agent", "function"]);
    let shell = Declared(Some(schemars::schema_for!(ShellParams)));
    executors.insert("shell".to_owned(), std::sync::Arc::new(shell));
    executors
});

/// The `with` of the test executor `shell`.
#[expect(dead_code, reason = "only its schema is used")]
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ShellParams {
    command: Vec<String>,
    cwd: Option<String>,
    kill_grace: Option<crate::definition::Duration>,
    env: Option<std::collections::BTreeMap<String, String>>,
}

fn problems(source: &str) -> Vec<String> {
    match load_str(source, "w.json", &EXECUTORS) {
        Ok(_) => Vec::new(),
        Err(error) => error.to_string().lines().map(str::to_owned).collect(),
    }
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

/// Why the plan `output` of planner `gen`, the one step of a workflow, is refused.
fn refused_plan(output: serde_json::Value) -> crate::load::LoadError {
    let mut plan = load_str(
        r#"{"name": "x", "steps": [{"id": "gen", "executor": "noop", "planner": true}]}"#,
        "w.json",
        &EXECUTORS,
    )
    .unwrap();
    load_plan(&output, &mut plan, 0, &EXECUTORS).unwrap_err()
}

#[test]
fn a_plan_of_empty_groups_only_is_refused_naming_each() {
    // It adds no step: the plan it was compiled into has none to take out again.
    for plan in [
        json!({"steps": [{"parallel": []}]}),
        json!({"steps": [{"pipeline": []}, {"id": "g", "parallel": [{"parallel": []}]}]}),
    ] {
        let error = refused_plan(plan.clone()).to_string();
        assert!(
            error.contains("a group needs at least one member"),
            "{plan}: {error}"
        );
    }
}

#[test]
fn every_example_loads_and_round_trips() {
    for path in examples() {
        let plan = load_file(&path, &EXECUTORS).unwrap_or_else(|error| panic!("{error}"));
        // The engine stores the workflow as JSON and loads it again on resume.
        let stored = serde_json::to_string(plan.workflow()).unwrap();
        let again =
            load_str(&stored, "stored", &EXECUTORS).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(again.workflow(), plan.workflow());
    }
}

/// A stored snapshot this version refuses (an older cairn took a longer duration) is named
/// by what is wrong with it, not as JSON that does not parse.
#[test]
fn a_snapshot_value_no_type_takes_is_no_json_error() {
    let stored = json!({"name": "w", "defaults": {"timeout": "200y"},
                        "steps": [{"id": "a", "executor": "noop"}]});
    let error = compile_snapshot(&stored.to_string(), "run r")
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad duration \"200y\""), "{error}");
    assert!(!error.contains("invalid JSON"), "{error}");
    let cut = compile_snapshot("{\"name\": ", "run r")
        .unwrap_err()
        .to_string();
    assert!(cut.contains("invalid JSON"), "{cut}");
}

#[test]
fn an_unknown_parameter_is_named_with_the_likely_key_in_a_nested_step() {
    let found = problems(
        r#"{"name": "p", "steps": [
            {"id": "a", "executor": "noop"},
            {"id": "g", "parallel": [{"pipeline": [
                {"id": "b", "executor": "shell", "with": {"command": ["true"], "cwdd": "/x"}}]}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/1/parallel/0/pipeline/0/with/cwdd: unknown key `cwdd` (did you mean `cwd`?)"
        ]
    );
}

#[test]
fn missing_parameters_and_wrong_literal_types_are_errors() {
    let found = problems(
        r#"{"name": "p", "steps": [
            {"id": "a", "executor": "shell"},
            {"id": "b", "executor": "shell", "with": {"command": "ls -l", "kill_grace": "soon",
                                                     "env": {"X": 1}, "zzz": 1}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/with: missing key `command`",
            "w.json:/steps/1/with/command: expected array, found a string",
            "w.json:/steps/1/with/env/X: expected string, found a number",
            r#"w.json:/steps/1/with/kill_grace: bad duration "soon": whole numbers each with a unit (write it like "90s", "5m" or "1h 30m")"#,
            "w.json:/steps/1/with/zzz: unknown key `zzz` (allowed here: command, cwd, env, kill_grace)",
        ]
    );
}

#[test]
fn template_values_are_left_to_the_run() {
    let found = problems(
        r#"{"name": "p", "steps": [
            {"id": "a", "executor": "shell", "with": {"command": "${{ input.argv }}",
                                                     "kill_grace": "${{ input.grace }}",
                                                     "cwd": 3}}]}"#,
    );
    assert_eq!(
        found,
        ["w.json:/steps/0/with/cwd: expected string, found a number"]
    );
}

#[test]
fn a_fallback_is_checked_merged_over_with() {
    let found = problems(
        r#"{"name": "p", "steps": [
            {"id": "a", "executor": "shell", "with": {"command": ["true"], "cwdd": "/x"},
             "fallbacks": [{"cwd": "/y"}, {"command": 1}, {"kill_graec": "1s"}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/fallbacks/1/command: expected array, found a number",
            "w.json:/steps/0/fallbacks/2/kill_graec: unknown key `kill_graec` (did you mean `kill_grace`?)",
            "w.json:/steps/0/with/cwdd: unknown key `cwdd` (did you mean `cwd`?)",
        ]
    );
}

#[test]
fn a_blank_name_is_refused_a_control_character_kept() {
    // Probe 67 F10: `cairn runs` showed nothing for it.
    let named =
        |name: &str| json!({"name": name, "steps": [{"id": "a", "executor": "noop"}]}).to_string();
    assert_eq!(
        problems(&named(" \t")),
        ["w.json:/name: a name only blank: name the workflow in words"]
    );
    assert!(problems(&named("a\u{1}b")).is_empty());
}

#[test]
fn a_cycle_is_named_step_by_step() {
    let found = problems(
        r#"{"name": "c", "steps": [
            {"id": "a", "needs": ["c"], "executor": "noop"},
            {"id": "b", "needs": ["a"], "executor": "noop"},
            {"id": "c", "needs": ["b"], "executor": "noop"}]}"#,
    );
    assert_eq!(found, ["w.json:/steps/0: cycle: a -> b -> c -> a"]);
}

#[test]
fn a_cycle_through_groups_and_a_self_loop() {
    let found = problems(
        r#"{"name": "c", "steps": [
            {"id": "g", "pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "needs": ["g"], "executor": "noop"}]},
            {"id": "s", "needs": ["s"], "executor": "noop"}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/pipeline/1: cycle: b -> b, through groups: `b` needs group `g` (ending with `b`)",
            "w.json:/steps/1: cycle: s -> s"
        ]
    );
}

#[test]
fn a_bad_escape_is_told_what_escapes_are() {
    // serde_json names a lone low surrogate a "leading" one, and a lone high one the end of
    // an escape (probe 35 F10): the message says what a pair is.
    for text in [
        r#"{"name": "a\ud800"}"#,
        r#"{"name": "a\udc00"}"#,
        r#"{"name": "\ud800\u0041"}"#,
    ] {
        let found = problems(text);
        assert!(
            found[0].contains("invalid JSON: a lone surrogate: "),
            "{found:?}"
        );
        assert!(!found[0].contains("leading"), "probe 48 F7: {found:?}");
    }
    let found = problems(r#"{"name": "a\q"}"#);
    assert!(
        found[0].ends_with("and `\\u` with four hex digits)"),
        "{found:?}"
    );
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let found = problems("{\"name\": \"x\",\n  \"steps\": [,]}");
    assert_eq!(found, ["w.json:2:13: invalid JSON: expected value"]);
    let error = load_str("{\n\"name\": 1,", "w.json", &EXECUTORS).unwrap_err();
    assert!(
        matches!(error.problems[0].place, Place::LineCol { line: 2, .. }),
        "{error:?}"
    );
}

#[test]
fn a_misspelt_key_names_its_pointer_and_the_likely_key() {
    let found = problems(
        r#"{"name": "n", "steps": [{"id": "a", "executor": "noop"},
            {"id": "b", "neds": ["a"], "executor": "noop", "retry": {"max_atempts": 2}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/1/neds: unknown key `neds` (did you mean `needs`?)",
            "w.json:/steps/1/retry/max_atempts: unknown key `max_atempts` (did you mean `max_attempts`?)",
        ]
    );
}

/// The steps of a group whose `pipeline` is misspelt go with it: a step naming one is no
/// news (probe 106 F2: "unknown step or group `b`", though `b` is in the file).
#[test]
fn the_members_of_a_group_lost_to_a_typo_are_no_unknown_steps() {
    let found = problems(
        r#"{"name": "n", "steps": [{"pipline": [{"id": "a", "executor": "noop"},
              {"parallel": [{"id": "b", "executor": "noop"}]}]},
            {"id": "c", "executor": "noop", "needs": ["a", "b"],
             "with": {"output": "${{ steps.b.output }}"}}]}"#,
    );
    assert_eq!(
        found,
        ["w.json:/steps/0/pipline: unknown key `pipline` (did you mean `pipeline`?)"]
    );
}

/// A `needs` naming no node does not hide what reads a step it does not wait for (probe 108
/// F1: told only once the need was fixed); in the node that gave it, such a read is no news
/// (the need may have meant that step).
#[test]
fn an_unknown_need_does_not_hide_a_read_of_a_step_not_waited_for() {
    let found = problems(
        r#"{"name": "n", "steps": [{"id": "b", "executor": "noop"},
            {"id": "g", "executor": "noop", "with": {"output": "${{ steps.b.output }}"}},
            {"id": "q", "executor": "noop", "needs": ["nowhere"],
             "with": {"output": "${{ steps.b.output }}"}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/1/with/output: `steps.b`: `g` does not wait for `b`, which may not have run yet; add `needs: [\"b\"]` to `g`, or put both in a pipeline",
            "w.json:/steps/2/needs/0: unknown step or group `nowhere`",
        ]
    );
}

/// Nor is such a read told of a step after one whose `needs` name no node or were set aside:
/// it may wait for the step it reads through it (probe 113 F2, F3: "`report` does not wait
/// for `build`" beside `test`'s `needs: ["biuld"]`).
#[test]
fn a_read_after_a_step_whose_needs_are_unknown_is_no_news() {
    for needs in [r#""needs": ["biuld"]"#, r#""neds": ["build"]"#] {
        let found = problems(&format!(
            r#"{{"name": "n", "steps": [{{"id": "build", "executor": "noop"}},
                {{"id": "test", "executor": "noop", {needs}}},
                {{"id": "report", "executor": "noop", "needs": ["test"],
                 "with": {{"output": "${{{{ steps.build.output }}}}"}}}}]}}"#
        ));
        assert_eq!(found.len(), 1, "{needs}: {found:?}");
        assert!(found[0].starts_with("w.json:/steps/1/ne"), "{found:?}");
    }
}

/// A node's id of another type than a string is told once, not also as an unknown step
/// where a need names it (probe 114 F4).
#[test]
fn an_id_refused_for_its_type_is_no_unknown_step() {
    let found = problems(
        r#"{"name": "n", "steps": [{"id": 5, "executor": "noop"},
            {"id": "b", "executor": "noop", "needs": ["5"]}]}"#,
    );
    assert_eq!(
        found,
        ["w.json:/steps/0/id: expected string, found a number"]
    );
}

/// A need of a node written before the node it names is known once every id is: beside an
/// unknown one elsewhere, the node that gave it still has its reads checked.
#[test]
fn a_need_of_a_later_node_is_no_unknown_need() {
    let found = problems(
        r#"{"name": "n", "steps": [{"id": "q", "executor": "noop", "needs": ["nowhere"]},
            {"id": "f", "executor": "noop", "needs": ["b"],
             "with": {"output": "${{ steps.c.output }}"}},
            {"id": "b", "executor": "noop"}, {"id": "c", "executor": "noop"}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/needs/0: unknown step or group `nowhere`",
            "w.json:/steps/1/with/output: `steps.c`: `f` does not wait for `c`, which may not have run yet; add `needs: [\"c\"]` to `f`, or put both in a pipeline",
        ]
    );
}

/// A misspelt `with` is told as such, not as the parameters it lacks (probe 106 F3:
/// `/steps/0/with: missing key `command``, a place the file does not have).
#[test]
fn a_misspelt_with_is_not_also_missing_its_parameters() {
    let found = problems(
        r#"{"name": "n", "steps": [{"id": "a", "executor": "process", "wiht": {"command": ["ls"]}}]}"#,
    );
    assert_eq!(
        found,
        ["w.json:/steps/0/wiht: unknown key `wiht` (did you mean `with`?)"]
    );
}

/// A required key misspelt is told once, as the unknown key that likely means it, not also
/// as missing (probe 105 F4); one missing with no such key beside it is told missing.
#[test]
fn a_misspelt_required_key_is_not_also_missing() {
    let found = problems(r#"{"name": "n", "STEPS": [{"id": "a", "executor": "noop"}]}"#);
    assert_eq!(
        found,
        ["w.json:/STEPS: unknown key `STEPS` (did you mean `steps`?)"]
    );
    let found = problems(
        r#"{"name": "n", "steps": [{"id": "a", "executor": "noop", "retry": {"tries": 2}},
            {"id": "b", "executor": "noop", "retry": {"MAX_ATTEMPTS": 2}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/retry: missing key `max_attempts`",
            "w.json:/steps/0/retry/tries: unknown key `tries` (allowed here: backoff, initial_delay, jitter, max_attempts, max_delay, retry_on)",
            "w.json:/steps/1/retry/MAX_ATTEMPTS: unknown key `MAX_ATTEMPTS` (did you mean `max_attempts`?)",
        ]
    );
}

#[test]
fn five_mistakes_are_five_problems() {
    let found = problems(
        r#"{"name": "five", "limits": {"max_parallel": 0}, "steps": [
            {"id": "a", "executor": "noop", "timeout": "soon"},
            {"id": "a", "executor": "noop", "needs": ["ghost"]},
            {"id": "c", "executor": "teleport"},
            {"id": "d", "executor": "noop", "when": "steps.a.output ==", "whne": "x"}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/limits/max_parallel: 0 is less than the minimum of 1",
            "w.json:/steps/0/timeout: bad duration \"soon\" (write it like \"90s\", \"5m\" or \"1h 30m\")",
            "w.json:/steps/1/id: duplicate id `a`: already used at /steps/0/id",
            "w.json:/steps/1/needs/0: unknown step or group `ghost`",
            "w.json:/steps/2/executor: unknown executor `teleport` (known: agent, function, noop, process, shell, sleep)",
            "w.json:/steps/3/when: `steps.a.output ==`: does not parse: column 18: Syntax error: mismatched input '<EOF>'",
            "w.json:/steps/3/whne: unknown key `whne` (did you mean `when`?)",
        ]
    );
}

#[test]
fn an_engine_without_executors_says_so_rather_than_listing_none() {
    let source = r#"{"name": "w", "steps": [{"id": "a", "executor": "noop"}]}"#;
    let error = load_str(source, "w.json", &Executors::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "w.json:/steps/0/executor: unknown executor `noop` (the engine has no executors: \
         register them with its builder)"
    );
}

#[test]
fn node_kinds_and_group_keys() {
    let found = problems(
        r#"{"name": "k", "steps": [
            {"id": "none"},
            {"id": "both", "executor": "noop", "parallel": [{"id": "x", "executor": "noop"}]},
            {"id": "g", "pipeline": [], "with": {"a": 1}, "timeout": "1s"},
            {"executor": "noop"},
            {"id": "alone", "executor": "noop", "max_parallel": 2}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0: a node needs `executor` (a step) or `pipeline` or `parallel` (a group)",
            "w.json:/steps/1: a node is one of a step (`executor`), a `pipeline` or a `parallel` group, not several: found `executor` and `parallel`",
            "w.json:/steps/2/pipeline: an empty pipeline: a group needs at least one member",
            "w.json:/steps/2/timeout: `timeout` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members",
            "w.json:/steps/2/with: `with` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members",
            "w.json:/steps/3: a step needs an `id`",
            "w.json:/steps/4/max_parallel: `max_parallel` on a step limits its `for_each` items, and this step has none (a group's `max_parallel` or `limits.max_parallel` limits steps)",
        ]
    );
}

/// One typo is one problem: what only follows from the key it lost (a group's members, a
/// step's `for_each`, a node's kind) is not reported too.
#[test]
fn a_key_lost_to_a_typo_or_no_kind_at_all_is_the_one_problem() {
    let found = problems(
        r#"{"name": "w", "steps": [
            {"id": "g", "max_parallel": 2, "praallel": [{"id": "a", "executor": "noop"}]},
            {"id": "f", "fro_each": "${{ [1, 2] }}", "max_parallel": 2, "executor": "noop",
             "with": {"output": "${{ item }}"}},
            {"id": "e", "exector": "noop"},
            {},
            {"max_parallel": 2},
            {"id": "x", "for_each": 5, "max_parallel": 2, "executor": "noop",
             "with": {"output": "${{ index }}"}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/praallel: unknown key `praallel` (did you mean `parallel`?)",
            "w.json:/steps/1/fro_each: unknown key `fro_each` (did you mean `for_each`?)",
            "w.json:/steps/2/exector: unknown key `exector` (did you mean `executor`?)",
            "w.json:/steps/3: a node needs `executor` (a step) or `pipeline` or `parallel` (a group)",
            "w.json:/steps/4: a node needs `executor` (a step) or `pipeline` or `parallel` (a group)",
            "w.json:/steps/5/for_each: expected string, found a number",
        ]
    );
}

/// Asserts that the problems `found` are as many as `starts`, each beginning with its own.
fn assert_starts(found: &[String], starts: &[&str]) {
    assert_eq!(found.len(), starts.len(), "{found:?}");
    for (problem, start) in found.iter().zip(starts) {
        assert!(problem.starts_with(start), "{start:?} in {found:?}");
    }
}

#[test]
fn a_schema_that_does_not_compile_is_refused_at_its_pointer() {
    let found = problems(
        r#"{"name": "x", "input": {"type": "objekt"}, "steps": [
            {"id": "a", "executor": "noop", "output_schema": {"type": 5}},
            {"id": "b", "executor": "noop", "output_schema": {"type": "integer", "minimum": 0}}
        ]}"#,
    );
    assert_starts(
        &found,
        &[
            "w.json:/input/type: not a valid JSON Schema: \"objekt\" is not a type",
            "w.json:/steps/0/output_schema/type: not a valid JSON Schema: 5 is not a type",
        ],
    );
}

#[test]
fn an_unknown_meta_schema_is_named_at_its_key_with_the_drafts_read() {
    // Probe 67 F7: the library's "must be registered in the registry", at the schema's root.
    let found = problems(
        r#"{"name": "x", "input": {"$schema": "http://example.com/meta"}, "steps": [
            {"id": "a", "executor": "noop",
             "output_schema": {"$schema": "http://json-schema.org/draft-07/schema#"}}
        ]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/input/$schema: unknown meta-schema \"http://example.com/meta\": cairn reads \
             JSON Schema drafts 4, 6, 7, 2019-09 and 2020-12 \
             (`https://json-schema.org/draft/2020-12/schema`); leave `$schema` out for 2020-12"
        ]
    );
}

#[test]
fn a_time_limit_of_zero_is_refused() {
    let found = problems(
        r#"{"name": "x", "limits": {"timeout": "0s"}, "defaults": {"heartbeat": "0ms"},
            "stall": {"no_progress": "0s"}, "steps": [
            {"id": "a", "executor": "noop", "timeout": "0m", "heartbeat": "1s"}
        ]}"#,
    );
    assert_starts(
        &found,
        &[
            "w.json:/defaults/heartbeat: ",
            "w.json:/limits/timeout: ",
            "w.json:/stall/no_progress: ",
            "w.json:/steps/0/timeout: ",
        ],
    );
}

#[test]
fn a_byte_order_mark_before_the_json_is_ignored() {
    let workflow = r#"{"name": "x", "steps": [{"id": "a", "executor": "noop"}]}"#;
    assert_eq!(
        problems(&format!("\u{feff}{workflow}")),
        Vec::<String>::new()
    );
    let policy = crate::load_document::<serde_json::Value>("\u{feff}{}", &json!({}), "p.json");
    assert_eq!(policy.unwrap(), json!({}));
}

#[test]
fn limits_and_shapes() {
    let found = problems(
        r#"{"name": "", "limits": {"max_steps": 1}, "steps": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/name: \"\" is shorter than 1 character",
            "w.json:/steps: 2 steps, more than limits.max_steps (1)"
        ]
    );
    assert_eq!(
        problems(r#"{"name": "x", "steps": []}"#),
        ["w.json:/steps: a workflow needs at least one step"]
    );
    assert_eq!(problems("[1]"), ["w.json: expected object, found an array"]);
    assert_eq!(
        problems(r#"{"name": "x", "steps": [7, {"id": "a", "executor": "noop", "needs": "b"}]}"#),
        [
            "w.json:/steps/0: expected object, found a number",
            "w.json:/steps/1/needs: expected array, found a string"
        ]
    );
}

#[test]
fn an_unreadable_file_is_one_problem() {
    let error = load_file(Path::new("/no/such/file.json"), &EXECUTORS).unwrap_err();
    assert_eq!(error.origin, "/no/such/file.json");
    assert_eq!(error.problems.len(), 1);
    assert_eq!(error.problems[0].place, Place::Pointer(String::new()));
}

#[test]
fn a_key_given_twice_is_refused_at_its_pointer() {
    let found = problems(
        "{\"name\": \"a\",\n \"steps\": [{\"id\": \"a\", \"executor\": \"noop\"}],\n \"name\": \"b\"}",
    );
    assert_eq!(
        found,
        [
            "w.json:/name: the object gives the key `name` twice (the second at line 3, column 2); keep one"
        ]
    );
    let deep = r#"{"name": "w", "steps": [{"id": "a", "executor": "noop"}, {"pipeline": [
        {"id": "b", "executor": "process",
         "with": {"env": {"A": "1"}, "command": ["touch", "x"], "command": ["echo"]}}]}]}"#;
    assert_eq!(
        problems(deep),
        [
            "w.json:/steps/1/pipeline/0/with/command: the object gives the key `command` twice (the second at line 3, column 65); keep one"
        ]
    );
    // Keys are compared as read, after their escapes; the pointer escapes `/` (`~1`). The
    // place of a key with escapes is where it ends.
    let escaped = r#"{"name": "w", "steps": [{"id": "a", "executor": "noop",
        "with": {"a/b": 1, "a\u002fb": 2}}]}"#;
    assert_eq!(
        problems(escaped),
        [
            "w.json:/steps/0/with/a~1b: the object gives the key `a/b` twice (the second at line 2, column 37); keep one"
        ]
    );
    // The same key in two objects is no duplicate.
    let apart = r#"{"name": "w", "steps": [{"id": "a", "executor": "noop", "with": {"x": {"x": 1}}},
        {"id": "b", "executor": "noop", "with": {"x": 2}}]}"#;
    assert_eq!(problems(apart), Vec::<String>::new());
}

#[test]
fn a_step_key_on_a_group_is_refused_whatever_its_value() {
    // Empty values read as no key at all, and `null` as a key left out: each is refused by
    // its presence, on a file read the fast way or not, and in a plan.
    let group = |key: &str, value: &str| {
        format!(
            r#"{{"name": "g", "steps": [{{"id": "g", "parallel": [{{"id": "a", "executor": "noop"}}], "{key}": {value}}}]}}"#
        )
    };
    for (key, value) in [
        ("with", "{}"),
        ("fallbacks", "[]"),
        ("planner", "false"),
        ("output_schema", "null"),
        ("output_schema", "{}"),
        ("when", "null"),
        ("retry", "7"),
        // Valid values too: a group's `retry` was read and ignored (probe 35 F1).
        ("with", r#"{"x": 1}"#),
        ("when", r#""${{ true }}""#),
        ("for_each", r#""${{ [1] }}""#),
        ("retry", r#"{"max_attempts": 3}"#),
        ("timeout", r#""5s""#),
        ("heartbeat", r#""5s""#),
        ("on_stall", r#""fail""#),
        ("output_schema", r#"{"type": "object"}"#),
        ("fallbacks", r#"[{"executor": "noop"}]"#),
        ("trigger", r#""all_done""#),
        ("planner", "true"),
    ] {
        assert_eq!(
            problems(&group(key, value)),
            [format!(
                "w.json:/steps/0/{key}: `{key}` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members"
            )],
            "{key}: {value}"
        );
    }
    let nested = r#"{"name": "g", "steps": [{"pipeline": [{"id": "a", "executor": "noop"},
        {"pipeline": [{"id": "b", "executor": "noop"}], "with": {}, "planner": false}]}]}"#;
    assert_eq!(
        problems(nested),
        [
            "w.json:/steps/0/pipeline/1/planner: `planner` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members",
            "w.json:/steps/0/pipeline/1/with: `with` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members",
        ]
    );
    let error = refused_plan(json!({"steps": [
        {"parallel": [{"id": "a", "executor": "noop"}], "fallbacks": []}
    ]}));
    assert_eq!(
        error.to_string(),
        "plan of gen:/steps/0/fallbacks: `fallbacks` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members"
    );
    // A step keeps its keys, empty or not.
    let step = r#"{"name": "s", "steps": [{"id": "a", "executor": "noop", "with": {}, "fallbacks": [], "planner": false}]}"#;
    assert_eq!(problems(step), Vec::<String>::new());
}

mod durations;
mod expressions;
mod properties;
mod stack;
mod values;

#[test]
fn an_id_breaking_its_pattern_is_named_in_the_loader_s_words_beside_other_problems() {
    // The schema's pattern of ids reads alike in a workflow and in a guard's policy.
    let found = problems(
        r#"{"name": "w", "limits": {"max_parallel": 0}, "steps": [{"id": "a b", "executor": "noop"}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/limits/max_parallel: 0 is less than the minimum of 1",
            "w.json:/steps/0/id: id `a b` may only contain A-Z a-z 0-9 _ . -",
        ]
    );
}

#[test]
fn a_refused_value_brings_no_problem_of_a_check_that_reads_it() {
    let found = problems(
        r#"{"name": "a", "limits": {"max_steps": 0}, "steps": [
            {"id": "x", "executor": "noop"}, {"id": "y", "executor": "noop"}]}"#,
    );
    assert_eq!(
        found,
        ["w.json:/limits/max_steps: 0 is less than the minimum of 1"]
    );
    let found = problems(
        r#"{"name": "a", "steps": [{"id": "x", "executor": "noop",
            "retry": {"max_attempts": 3, "max_delay": "200y", "initial_delay": "2m"}}]}"#,
    );
    let refused = "w.json:/steps/0/retry/max_delay: bad duration \"200y\": longer than 100 years (100y), the most cairn takes";
    assert_eq!(found, [refused]);
    let found = problems(
        r#"{"name": "a", "steps": [{"id": "x", "executor": "noop",
            "retry": {"max_attempts": 3, "max_delya": "5m", "initial_delay": "2m"}}]}"#,
    );
    assert_eq!(found.len(), 1, "only the typo: {found:?}");
    assert!(found[0].contains("/retry/max_delya"), "{found:?}");
}

#[test]
fn an_empty_id_is_said_to_be_empty() {
    let found = problems(r#"{"name": "w", "steps": [{"id": "", "executor": "noop"}]}"#);
    let empty = "w.json:/steps/0/id: an id may not be empty: name it with A-Z a-z 0-9 _ . -";
    assert_eq!(found, [empty]);
}

#[test]
fn a_plan_reports_every_problem_whatever_their_order_as_a_file_does() {
    let needs = json!({"id": "a", "executor": "noop", "needs": ["zz"]});
    let empty = json!({"parallel": []});
    for (plan, places) in [
        (
            json!({"steps": [needs, empty]}),
            ["/steps/0/needs/0", "/steps/1/parallel"],
        ),
        (
            json!({"steps": [empty, needs]}),
            ["/steps/0/parallel", "/steps/1/needs/0"],
        ),
    ] {
        let error = refused_plan(plan.clone());
        let found: Vec<String> = (error.problems.iter())
            .map(|problem| problem.place.to_string())
            .collect();
        assert_eq!(found, places, "{plan}");
    }
}

#[test]
fn a_typo_of_needs_is_one_problem_not_the_reads_that_follow_from_it() {
    let typo = r#"{"name": "t", "steps": [
        {"id": "a", "executor": "noop", "with": {"output": 1}},
        {"id": "b", "neds": ["a"], "executor": "noop", "with": {"output": "${{ steps.a.output }}"}}
    ]}"#;
    assert_eq!(
        problems(typo),
        ["w.json:/steps/1/neds: unknown key `neds` (did you mean `needs`?)"]
    );
    // Beside the key itself, the typo hides nothing: a read its `needs` do not cover is news.
    let both = r#"{"name": "t", "steps": [
        {"id": "a", "executor": "noop"}, {"id": "c", "executor": "noop"},
        {"id": "b", "needs": ["a"], "neds": ["a"], "executor": "noop",
         "with": {"output": "${{ steps.c.output }}"}}
    ]}"#;
    let found = problems(both);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[1].contains("`b` does not wait for `c`"), "{found:?}");
}

#[test]
fn a_typo_of_id_is_one_problem_not_the_steps_naming_the_id_it_gave() {
    let id = r#"{"name": "t", "steps": [
        {"id": "a", "executor": "noop", "with": {"output": 1}},
        {"di": "b", "needs": ["a"], "executor": "noop"},
        {"id": "c", "needs": ["b"], "executor": "noop", "with": {"output": "${{ steps.b.output }}"}}
    ]}"#;
    assert_eq!(
        problems(id),
        ["w.json:/steps/1/di: unknown key `di` (did you mean `id`?)"]
    );
    // A need or a read of another unknown id is news all the same.
    let other = id.replace(r#""needs": ["b"]"#, r#""needs": ["x"]"#);
    let found = problems(&other);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[1].contains("unknown step or group `x`"), "{found:?}");
}
