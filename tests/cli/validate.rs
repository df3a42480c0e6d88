//! `cairn validate`.

use std::process::Command;

use crate::{cairn, examples, output_of, stdout};

#[test]
fn every_example_is_valid() {
    let files = examples();
    assert!(files.len() >= 3, "{files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(|file| file.to_str().unwrap()));
    let output = cairn(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    for file in &files {
        assert!(
            stdout(&output).contains(&format!("{}: ok\n", file.display())),
            "{}",
            stdout(&output)
        );
    }
}

#[test]
fn a_cycle_exits_2_and_names_the_cycle() {
    let output = cairn(&["validate", "tests/fixtures/invalid/cycle.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "tests/fixtures/invalid/cycle.json:/steps/0: cycle: a -> b -> c -> a\n"
    );
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let output = cairn(&["validate", "tests/fixtures/invalid/syntax.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "tests/fixtures/invalid/syntax.json:5:5: invalid JSON: expected `,` or `]`\n"
    );
}

#[test]
fn a_device_is_refused_not_read_for_ever() {
    let output = cairn(&["validate", "/dev/zero"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "/dev/zero: a device, not a file: pass a file (or a pipe)\n"
    );
}

#[test]
fn an_env_name_a_process_cannot_take_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "env", "steps": [
  {"id": "a", "executor": "process", "with": {"command": ["true"], "env": {"A=B": "x", "OK": "y"}}},
  {"id": "b", "executor": "agent", "with": {"cli": "claude", "prompt": "p", "env": {"": "x"}}}]}"#;
    assert_eq!(
        refused_workflow(&dir, workflow),
        "w.json:/steps/0/with/env: \"A=B\" is not a variable's name: it is empty or holds `=` or NUL\n\
         w.json:/steps/1/with/env: \"\" is not a variable's name: it is empty or holds `=` or NUL\n"
    );
}

#[test]
fn a_budget_claude_cannot_take_or_one_for_a_cli_without_a_budget_flag_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "budget", "steps": [
  {"id": "a", "executor": "agent", "with": {"cli": "claude", "prompt": "p", "max_budget_usd": 0}},
  {"id": "b", "executor": "agent", "with": {"cli": "codex", "prompt": "p", "max_budget_usd": 1}},
  {"id": "c", "executor": "agent", "with": {"cli": "claude", "prompt": "p", "max_budget_usd": 0.0001}}]}"#;
    assert_eq!(
        refused_workflow(&dir, workflow),
        "w.json:/steps/0/with/max_budget_usd: less than $0.0001, the least claude's `--max-budget-usd` is given (a budget is rounded down to 4 decimals): give `max_budget_usd` at least 0.0001, or leave it out\n\
         w.json:/steps/1/with/max_budget_usd: `codex` has no budget flag, so `max_budget_usd` would do nothing: leave it out (only claude takes a budget; a policy's `cost_usd` budget bounds any run)\n"
    );
}

#[test]
fn a_nul_byte_a_process_cannot_take_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "nul", "steps": [
  {"id": "a", "executor": "process", "with": {"command": ["echo", "a\u0000"], "env": {"X": "a\u0000b"}}},
  {"id": "b", "executor": "agent", "with": {"cli": "claude", "prompt": "p\u0000", "args": ["\u0000"]}},
  {"id": "c", "executor": "agent", "with": {"cli": "claude", "prompt": "${{ input.text }}\u0000"}},
  {"id": "d", "executor": "process", "with": {"command": ["true"], "cwd": "a\u0000"}},
  {"id": "e", "executor": "agent", "with": {"cli": "claude", "prompt": "p", "cwd": "\u0000"}},
  {"id": "f", "executor": "process", "with": {"command": ["true"], "cwd": ""}}]}"#;
    let holds = "holds a NUL byte, which no process can be given in an argument, a variable or its directory (a C string ends at one): remove it";
    // A template's value is the run's to check (`bad_params`, naming the parameter).
    assert_eq!(
        refused_workflow(&dir, workflow),
        format!(
            "w.json:/steps/0/with/command/1: {holds}\n\
             w.json:/steps/0/with/env/X: {holds}\n\
             w.json:/steps/1/with/args/0: {holds}\n\
             w.json:/steps/1/with/prompt: {holds}\n\
             w.json:/steps/3/with/cwd: {holds}\n\
             w.json:/steps/4/with/cwd: {holds}\n\
             w.json:/steps/5/with/cwd: \"\" is shorter than 1 character\n"
        )
    );
}

#[test]
fn a_key_given_twice_exits_2_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("twice.json");
    let workflow = r#"{"name": "twice", "steps": [
  {"id": "a", "executor": "process", "with": {"command": ["touch", "x"], "command": ["true"]}}]}"#;
    std::fs::write(&file, workflow).unwrap();
    let file = file.to_str().unwrap();
    let output = cairn(&["validate", file]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "{file}:/steps/0/with/command: the object gives the key `command` twice (the second at line 2, column 74); keep one\n"
        )
    );
}

#[test]
fn a_misspelt_key_is_named_with_its_pointer_and_the_fix() {
    let output = cairn(&["validate", "tests/fixtures/invalid/typo.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "tests/fixtures/invalid/typo.json:/steps/1/neds: unknown key `neds` (did you mean `needs`?)\n"
    );
}

#[test]
fn five_and_more_mistakes_are_all_reported() {
    let output = cairn(&["validate", "tests/fixtures/invalid/five.json"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    let expected = [
        "/steps/0/neds: unknown key `neds` (did you mean `needs`?)",
        "/steps/1/needs/0: unknown step or group `ghost`",
        "/steps/2/executor: unknown executor `proces` (did you mean `process`?)",
        "/steps/2/timeout: bad duration \"5 minutes please\"",
        "/steps/3/id: duplicate id `fetch`: already used at /steps/0/id",
        "/steps/3/when: `steps.fetch.output.ok &&`: does not parse",
    ];
    for line in expected {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert_eq!(text.lines().count(), expected.len(), "{text}");
}

#[test]
fn several_files_one_bad_exits_2_and_reports_each() {
    let output = cairn(&[
        "validate",
        "examples/hello.json",
        "tests/fixtures/invalid/cycle.json",
        "tests/fixtures/missing.json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(text.starts_with("examples/hello.json: ok\n"), "{text}");
    assert!(text.contains("cycle: a -> b -> c -> a"), "{text}");
    assert!(
        text.contains("tests/fixtures/missing.json: cannot read the file"),
        "{text}"
    );
    let dash = stdout(&cairn(&["validate", "-"]));
    assert!(
        dash.contains("(to read standard input, pass /dev/stdin)"),
        "{dash}"
    );
}

#[test]
fn json_output_lists_problems_with_places() {
    let output = cairn(&[
        "--json",
        "validate",
        "examples/hello.json",
        "tests/fixtures/invalid/syntax.json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reports[0]["ok"], true);
    assert_eq!(reports[1]["ok"], false);
    assert_eq!(
        reports[1]["problems"][0]["place"],
        serde_json::json!({"line": 5, "column": 5})
    );
    // Keys in the order the docs give (probe 28 F3: a problem was `{"message", "place"}`).
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(
            r#"{"file":"tests/fixtures/invalid/syntax.json","ok":false,"problems":[{"place":"#
        ),
        "{text}"
    );
}

#[test]
fn every_invalid_fixture_is_invalid() {
    let dir = crate::root().join("tests/fixtures/invalid");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let output = cairn(&["validate", path.to_str().unwrap()]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: {}",
            path.display(),
            stdout(&output)
        );
    }
}

#[test]
fn a_misspelt_process_parameter_is_named_with_the_fix() {
    let output = cairn(&["validate", "tests/fixtures/invalid/process-param-typo.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "tests/fixtures/invalid/process-param-typo.json:/steps/0/with/cwdd: unknown key `cwdd` (did you mean `cwd`?)\n"
    );
}

#[test]
fn a_misspelt_agent_parameter_in_a_group_is_named_with_the_fix() {
    let output = cairn(&["validate", "tests/fixtures/invalid/agent-param-typo.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "tests/fixtures/invalid/agent-param-typo.json:/steps/0/pipeline/0/with/modle: unknown key `modle` (did you mean `model`?)\n"
    );
}

#[test]
fn validate_and_run_accept_the_same_executors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cairn.db");
    let db = db.to_str().unwrap();
    let good = dir.path().join("good.json");
    let workflow = r#"{"name": "good", "steps": [
        {"id": "a", "executor": "process", "with": {"command": ["true"]}}]}"#;
    std::fs::write(&good, workflow).unwrap();
    let good = good.to_str().unwrap();
    let function = "tests/fixtures/invalid/function-step.json";
    for (file, code) in [(good, 0), (function, 2)] {
        let validated = cairn(&["validate", file]);
        let ran = cairn(&["--db", db, "run", file]);
        assert_eq!(
            validated.status.code(),
            Some(code),
            "{}",
            stdout(&validated)
        );
        assert_eq!(
            ran.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    let validated = stdout(&cairn(&["validate", function]));
    assert!(
        validated.contains(
            "/steps/0/executor: unknown executor `function` (known: agent, noop, process, sleep)"
        ),
        "{validated}"
    );
}

/// Writes `workflow` to a file in `dir` and has `cairn validate` check it: exit 2, and its
/// report on stdout.
fn refused_workflow(dir: &tempfile::TempDir, workflow: &str) -> String {
    let file = dir.path().join("w.json");
    std::fs::write(&file, workflow).unwrap();
    let output = cairn(&["validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    stdout(&output).replace(&format!("{}:", file.display()), "w.json:")
}

#[test]
fn a_duration_over_a_hundred_years_in_with_exits_2_and_names_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let sleep = r#"{"name": "x", "steps": [{"id": "a", "executor": "sleep", "with": {"duration": "200y"}}]}"#;
    assert_eq!(
        refused_workflow(&dir, sleep),
        "w.json:/steps/0/with/duration: bad duration \"200y\": longer than 100 years (100y), the most cairn takes\n"
    );
    let process = r#"{"name": "x", "steps": [{"id": "a", "executor": "process",
        "with": {"command": ["true"], "kill_grace": "200y"}}]}"#;
    assert_eq!(
        refused_workflow(&dir, process),
        "w.json:/steps/0/with/kill_grace: bad duration \"200y\": longer than 100 years (100y), the most cairn takes\n"
    );
}

#[test]
fn an_expression_naming_a_variable_it_cannot_read_exits_2_and_names_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let read = "(an expression here reads `input`, `steps`, `run`)";
    let when =
        r#"{"name": "x", "steps": [{"id": "a", "executor": "noop", "when": "foo.bar == 1"}]}"#;
    assert_eq!(
        refused_workflow(&dir, when),
        format!("w.json:/steps/0/when: `foo.bar == 1`: no variable `foo` here {read}\n")
    );
    let item = r#"{"name": "x", "steps": [{"id": "a", "executor": "noop", "with": {"output": "${{ item }}"}}]}"#;
    assert_eq!(
        refused_workflow(&dir, item),
        format!(
            "w.json:/steps/0/with/output: `item`: no variable `item` here {read}; `item` and `index` are read only in the `with` and `fallbacks` of a `for_each` step\n"
        )
    );
}

#[test]
fn only_reads_of_the_variable_steps_by_an_id_are_step_reads() {
    let dir = tempfile::tempdir().unwrap();
    // A computed key names no step: refused where it is, not a run that fails on it.
    let computed = r#"{"name": "x", "steps": [{"pipeline": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "with": {"output": "${{ steps[input.k].output }}"}}]}]}"#;
    let refused = refused_workflow(&dir, computed);
    assert!(
        refused.starts_with("w.json:/steps/0/pipeline/1/with/output: `steps[input.k].output`: reads `steps` without naming the step"),
        "{refused}"
    );
    // `steps` as a field of another value, or in a string, reads no step.
    let file = dir.path().join("fields.json");
    let fields = r#"{"name": "x", "steps": [
        {"id": "build", "executor": "noop"},
        {"id": "d", "executor": "noop", "when": "input.cfg.steps.build == true || 'steps.build' == ''"},
        {"id": "e", "executor": "noop", "for_each": "${{ [1] }}", "with": {"output": "${{ item.steps.build }}"}}]}"#;
    std::fs::write(&file, fields).unwrap();
    let output = cairn(&["validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn a_when_or_for_each_of_the_wrong_type_exits_2_and_names_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "x", "steps": [
        {"id": "a", "executor": "noop", "when": "1 + 1"},
        {"id": "b", "executor": "noop", "for_each": "${{ input.n > 2 }}"},
        {"id": "c", "executor": "noop", "when": "1/0 == 1"},
        {"id": "d", "executor": "noop", "with": {"output": "${{ 1 / 0 }}"}},
        {"id": "e", "executor": "noop", "with": {"output": "${{ input.?a.b }}"}}]}"#;
    assert_eq!(
        refused_workflow(&dir, workflow),
        "w.json:/steps/0/when: `1 + 1`: `when` must be true or false, and this one is the value of arithmetic whatever the run: compare it (`== …`, `> …`)\n\
         w.json:/steps/1/for_each: `input.n > 2`: `for_each` must give a list, and this one is a boolean whatever the run: give a list (`[…]`, `input.xs`, `xs.map(x, …)`)\n\
         w.json:/steps/2/when: it reads no variable, so every run would fail on it: `1/0 == 1`: division by zero of int 1\n\
         w.json:/steps/3/with/output: `1 / 0`: it reads no variable, so every run would fail on it: division by zero of int 1\n\
         w.json:/steps/4/with/output: `input.?a.b`: its value is or holds an optional, which has no JSON form: take what it holds with `.value()` or `.orValue(default)`\n"
    );
}

#[test]
fn a_file_not_utf8_exits_2_and_names_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.json");
    std::fs::write(
        &file,
        b"{\"name\": \"x\",\n \"steps\": [{\"id\": \"caf\xe9\"}]}",
    )
    .unwrap();
    let output = cairn(&["validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert_eq!(
        stdout(&output).replace(&format!("{}:", file.display()), "w.json:"),
        "w.json:2:23: not UTF-8: the byte at offset 36 (0xE9) starts an invalid UTF-8 sequence; save the file as UTF-8\n"
    );
}

#[test]
fn a_wrong_value_is_one_problem_at_its_place_not_its_follow_ons_too() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "x", "steps": [
  {"id": "a", "executor": "noop", "retry": {"max_attempts": 1.5}},
  {"id": "b", "executor": "noop", "retry": {"max_attempts": -1}},
  {"id": "c", "executor": 5}]}"#;
    assert_eq!(
        refused_workflow(&dir, workflow),
        "w.json:/steps/0/retry/max_attempts: expected integer, found 1.5\n\
         w.json:/steps/1/retry/max_attempts: -1 is less than the minimum of 1\n\
         w.json:/steps/2/executor: expected string, found a number\n"
    );
}

#[test]
fn a_cycle_through_groups_names_the_needs_of_the_groups() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "x", "steps": [
  {"id": "g1", "needs": ["g2"], "pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]},
  {"id": "g2", "needs": ["g1"], "parallel": [{"id": "c", "executor": "noop"}]}]}"#;
    assert_eq!(
        refused_workflow(&dir, workflow),
        "w.json:/steps/0/pipeline/0: cycle: a -> b -> c -> a, through groups: \
         group `g2` (holding `c`) needs group `g1` (ending with `b`); \
         group `g1` (holding `a`) needs group `g2` (ending with `c`)\n"
    );
    let inside = r#"{"name": "x", "steps": [
  {"id": "g", "needs": ["b"], "pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]}]}"#;
    assert_eq!(
        refused_workflow(&dir, inside),
        "w.json:/steps/0/pipeline/0: cycle: a -> b -> a, through groups: group `g` (holding `a`) needs `b`\n"
    );
}

#[test]
fn a_file_over_1_gib_is_refused_by_its_length_unread() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.json");
    let huge = std::fs::File::create(&file).unwrap();
    huge.set_len((1 << 30) + 1).unwrap();
    // Half a GiB of address space: cairn could not read the file if it tried.
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -v 524288 && exec \"$0\" validate \"$1\""])
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .arg(&file);
    let output = output_of(&mut command, "cairn validate huge.json");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(
        stdout(&output),
        format!(
            "{}: longer than 1 GiB, more than cairn reads\n",
            file.display()
        )
    );
}

#[test]
fn a_retry_on_class_never_retried_exits_2_and_names_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "x",
        "defaults": {"retry": {"max_attempts": 2, "retry_on": ["cancelled"]}},
        "steps": [{"id": "a", "executor": "noop",
                   "retry": {"max_attempts": 3, "retry_on": ["exit_code", "denied"]}},
                  {"id": "b", "executor": "noop", "heartbeat": "1s", "on_stall": "fail",
                   "retry": {"max_attempts": 3, "retry_on": ["stalled", "interrupted"]}}]}"#;
    let why = "(a cancel or a denial is a decision, not a failure another attempt may pass): take it out of `retry_on`";
    // A stall is retried by its escalation, an interruption always runs again: listed,
    // either was accepted and took no effect (probe 33 F2).
    assert_eq!(
        refused_workflow(&dir, workflow),
        format!(
            "w.json:/defaults/retry/retry_on/0: `cancelled` is never retried {why}\n\
             w.json:/steps/0/retry/retry_on/1: `denied` is never retried {why}\n\
             w.json:/steps/1/retry/retry_on/0: `stalled` is retried by a stall's escalation, not by `retry_on`: `on_stall: \"retry\"` retries a stalled attempt while attempts are left: take it out of `retry_on`\n\
             w.json:/steps/1/retry/retry_on/1: `interrupted` is no failure of a step: an attempt the engine's stop cut off runs again when the run is resumed, uncounted: take it out of `retry_on`\n"
        )
    );
    // An unknown class is told the ones it may be, those four left out (probe 35 F7).
    let unknown = r#"{"name": "x", "steps": [{"id": "a", "executor": "noop",
        "retry": {"max_attempts": 2, "retry_on": ["denied", "bogus"]}}]}"#;
    // ... beside the refused one before it: it was told only once `bogus` was fixed (probe
    // 43 f3).
    assert_eq!(
        refused_workflow(&dir, unknown),
        format!(
            "w.json:/steps/0/retry/retry_on/0: `denied` is never retried {why}\n\
             w.json:/steps/0/retry/retry_on/1: \"bogus\" is not one of \"bad_params\", \"spawn_failed\", \"exit_code\", \"timeout\", \"output_too_large\", \"bad_output\", \"panicked\", \"output_schema\", \"transient\", \"invalid_plan\"\n"
        )
    );
}

/// Airflow's trigger rules are told what cairn offers for them, not the spelling nearest
/// them (probe 178 F1: `one_failed` was offered `none_failed`, its opposite); a typo of
/// cairn's own is told the rule it misspells.
#[test]
fn a_trigger_rule_of_airflows_is_told_what_cairn_offers() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = r#"{"name": "x", "steps": [{"id": "build", "executor": "noop"},
        {"id": "alert", "needs": ["build"], "trigger": "one_failed", "executor": "noop"},
        {"id": "deploy", "needs": ["build"], "trigger": "all_success", "executor": "noop"},
        {"id": "report", "needs": ["build"], "trigger": "all_don", "executor": "noop"}]}"#;
    let one_of = r#"is not one of "all_succeeded", "none_failed", "all_done""#;
    assert_eq!(
        refused_workflow(&dir, workflow),
        format!(
            "w.json:/steps/1/trigger: \"one_failed\" {one_of} (no trigger looks at how some needs ended: `all_done` comes closest (the step runs once every need ended, however; a need that did not succeed reads `null`, as a step that printed nothing does))\n\
             w.json:/steps/2/trigger: \"all_success\" {one_of} (Airflow's `all_success` is `all_succeeded`)\n\
             w.json:/steps/3/trigger: \"all_don\" {one_of} (did you mean `all_done`?)\n"
        )
    );
}

#[test]
fn file_names_that_are_not_utf8_are_printed_with_their_bytes_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let (fe, ff) = (
        OsStr::from_bytes(b"a\xfe.json"),
        OsStr::from_bytes(b"a\xff.json"),
    );
    let ok = r#"{"name": "q", "steps": [{"id": "a", "executor": "noop"}]}"#;
    std::fs::write(dir.path().join(fe), ok).unwrap();
    std::fs::write(dir.path().join(ff), ok.replace("noop", "nope")).unwrap();
    let validate = |json: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command.current_dir(dir.path());
        if json {
            command.arg("--json");
        }
        command.arg("validate").args([fe, ff]);
        output_of(&mut command, "cairn validate a\\xfe.json a\\xff.json")
    };
    // Two names, two prints: not both `a�.json`.
    let output = validate(false);
    assert_eq!(output.status.code(), Some(2));
    let printed = stdout(&output);
    assert!(
        printed.starts_with("a\\xfe.json: ok\na\\xff.json:/steps/0/executor: "),
        "{printed}"
    );
    let output = validate(true);
    assert_eq!(output.status.code(), Some(2));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reports[0]["file"], "a\\xfe.json");
    assert_eq!(reports[1]["file"], "a\\xff.json");
}
