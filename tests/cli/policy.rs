//! `cairn policy test`, `cairn policy explain` and `cairn schema policy`.

use serde_json::json;

use crate::{cairn, root, stdout};

const EXAMPLE: &str = "examples/policies/coding-agent.json";

/// `cairn policy explain` of `action` under the worked example.
fn explained(action: &serde_json::Value) -> std::process::Output {
    cairn(&[
        "policy",
        "explain",
        EXAMPLE,
        "--action",
        &action.to_string(),
    ])
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_example_policy_passes_its_tests() {
    let output = cairn(&["policy", "test", EXAMPLE]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(stdout(&output), format!("{EXAMPLE}: 101 tests pass\n"));
}

/// Probe 40 F1-F3, F6, F10, F11: what got past the example, each denied by the rule its
/// own tests name (one command each, as the probe ran it).
#[test]
fn the_example_policy_denies_the_probe_40_bypasses() {
    let upload = "--upload-pack=rm -f victim; git-upload-pack";
    for (command, rule) in [
        (
            json!([
                "git",
                "ls-remote",
                "--upl=rm -f victim; git-upload-pack",
                "."
            ]),
            "git-runs-no-commands",
        ),
        (
            json!(["git", "init", "--templ=tpl", "r"]),
            "git-runs-no-commands",
        ),
        (
            json!(["git", "clone", "--conf", "core.x=1", ".", "r"]),
            "git-runs-no-commands",
        ),
        (
            json!([
                "bash",
                "-c",
                "echo connect git-upload-pack | git remote-ext x \"rm -f victim\""
            ]),
            "git-runs-no-commands",
        ),
        (
            json!(["git", "http-push", "https://example.com/r.git"]),
            "commands.deny",
        ),
        (
            json!(["bash", "-c", "git ls-remote \"$1\" .", "_", upload]),
            "git-words-known",
        ),
        (
            json!([
                "bash",
                "-c",
                format!("LANG='{upload}'; git ls-remote \"$LANG\" .")
            ]),
            "git-words-known",
        ),
        (
            json!([
                "bash",
                "-c",
                "git init -q --bare b && echo '[alias] st = !rm -f ../victim' >> b/config"
            ]),
            "no-config-writes",
        ),
        (
            json!(["git", "push", "--mirror", "origin"]),
            "no-force-push",
        ),
        (
            json!([
                "sh",
                "-c",
                "cairn approve \"$CAIRN_RUN_ID\" gated --by boss"
            ]),
            "commands.deny",
        ),
        (
            json!(["bash", "-c", "cat /dev/null > cairn.db"]),
            "no-cairn-state-writes",
        ),
    ] {
        let action = json!({"executor": "process", "params": {"command": command}});
        let output = explained(&action);
        let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(verdict["decision"], "deny", "{command}: {verdict}");
        assert!(
            verdict["rules"].as_array().unwrap().contains(&json!(rule)),
            "{command}: {verdict}"
        );
    }
}

#[test]
fn the_example_policy_passes_its_tests_from_any_directory() {
    // Its tests' actions run in its folder, not cairn's: from elsewhere, outside its `cwd`
    // root, they judge alike (a bare file name too).
    let elsewhere = tempfile::tempdir().unwrap();
    let example = crate::root().join(EXAMPLE);
    let folder = example.parent().unwrap();
    for (dir, file) in [
        (elsewhere.path(), example.to_str().unwrap()),
        (folder, "coding-agent.json"),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
        command.args(["policy", "test", file]).current_dir(dir);
        let output = crate::output_of(&mut command, "cairn policy test");
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    }
}

#[test]
fn a_failing_test_exits_1_and_is_named() {
    let file = "tests/fixtures/policies/failing.json";
    let output = cairn(&["policy", "test", file]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with(&format!(
            "{file}:/tests/1: expected allow, got deny (commands.deny: `rm -rf x` matches"
        )),
        "{}",
        stdout(&output)
    );
    // A guard is refused with the same place.
    let explain = cairn(&[
        "policy",
        "explain",
        file,
        "--action",
        r#"{"executor": "noop"}"#,
    ]);
    assert_eq!(explain.status.code(), Some(2));
    assert!(stderr(&explain).starts_with(&format!("{file}:/tests/1: test fails: ")));
}

#[test]
fn a_test_denied_only_because_a_rule_ran_out_of_time_fails() {
    // It passed, expecting deny, and its runaway left the process one fewer (probe 11 F1).
    let file = "tests/fixtures/policies/runaway-test.json";
    let output = cairn(&["policy", "test", file]);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!(
        "{file}:/tests/0: expected deny, got deny by a rule or the command checker running out \
         of time, which says nothing of the action: make it cheaper (no-repeats: rule errored: \
         it did not finish within 2s"
    );
    assert!(
        stdout(&output).starts_with(&expected),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_action_its_executor_refuses_is_refused_as_a_test_and_to_explain() {
    // A test expecting deny passed on `["", "rm"]`, denied by the executor's refusal, not by
    // `commands.deny`: it tested nothing (probe 11 F7).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    let policy = r#"{"commands": {"deny": [["rm"]]}, "tests": [
        {"action": {"executor": "process", "params": {"command": ["", "rm"]}}, "expect": "deny"}]}"#;
    std::fs::write(&file, policy).unwrap();
    let output = cairn(&["policy", "test", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let said = stderr(&output);
    let refused = "/tests/0/action/params: the `process` executor refuses this action \
                   (`with.command[0]` (the program) is empty): no run could have it";
    assert!(said.contains(refused), "{said}");
    let blank = r#"{"executor": "agent", "params": {"cli": "claude", "prompt": "  "}}"#;
    let explain = cairn(&[
        "policy",
        "explain",
        "examples/policies/coding-agent.json",
        "--action",
        blank,
    ]);
    assert_eq!(explain.status.code(), Some(2));
    assert!(stderr(&explain).contains("the `agent` executor refuses this action"));
}

#[test]
fn bad_policies_exit_2_with_the_place() {
    for (file, expected) in [
        (
            "syntax.json",
            "syntax.json:3:1: invalid JSON: trailing comma\n",
        ),
        (
            "typo.json",
            "typo.json:/rulez: unknown key `rulez` (did you mean `rules`?)\n",
        ),
    ] {
        let path = format!("tests/fixtures/policies/{file}");
        let output = cairn(&["policy", "test", &path]);
        assert_eq!(output.status.code(), Some(2), "{file}");
        assert_eq!(
            stderr(&output),
            format!("tests/fixtures/policies/{expected}")
        );
    }
}

#[test]
fn explain_prints_the_decision_and_its_rules() {
    let action =
        r#"{"executor": "process", "params": {"command": ["bash", "-c", "ls && rm -rf x"]}}"#;
    let output = cairn(&["policy", "explain", EXAMPLE, "--action", action]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(verdict["decision"], "deny");
    assert_eq!(
        verdict["rules"],
        serde_json::json!(["commands.deny", "commands.allow"])
    );
    assert!(verdict["reasons"][0].as_str().unwrap().contains("rm -rf x"));
    let bad = cairn(&["policy", "explain", EXAMPLE, "--action", "{nope"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn explain_judges_an_item_and_a_run_as_a_policy_test_does() {
    // Probe 11 F9: a rule over `run.input` or `action.item` could not be explained.
    let (_dir, file) = policy_file(&serde_json::json!({"rules": [
        {"id": "prod", "effect": "deny", "reason": "no prod", "when": "run.input.target == 'prod'"},
        {"id": "late", "effect": "approve", "reason": "a late item", "when": "action.index > 2 && action.item == 7"}
    ]}));
    let action = r#"{"executor": "noop", "item": 7, "index": 3}"#;
    for (run, decision, rule) in [
        (r#"{"input": {"target": "prod"}}"#, "deny", "prod"),
        (
            r#"{"input": {"target": "dev"}, "attempts": 4}"#,
            "approve",
            "late",
        ),
    ] {
        let output = cairn(&["policy", "explain", &file, "--action", action, "--run", run]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(verdict["decision"], decision, "{run}: {verdict}");
        assert_eq!(
            verdict["rules"],
            serde_json::json!([rule]),
            "{run}: {verdict}"
        );
    }
    let bad = cairn(&[
        "policy",
        "explain",
        &file,
        "--action",
        action,
        "--run",
        r#"{"inptu": {}}"#,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        stderr(&bad),
        "cairn: --run:/inptu: unknown key `inptu` (did you mean `input`?)\n"
    );
    // Probe 67 F6: a spending below zero passed a budget it had not.
    let negative = ["policy", "explain", &file, "--action", action, "--run"];
    let negative = cairn(&[&negative[..], &[r#"{"cost_usd": -5}"#]].concat());
    assert_eq!(negative.status.code(), Some(2));
    assert_eq!(
        stderr(&negative),
        "cairn: --run:/cost_usd: -5 is less than the minimum of 0\n"
    );
}

/// Writes `policy` to a policy file in a new scratch directory.
fn policy_file(policy: &serde_json::Value) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, policy.to_string()).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn policy_test_prints_one_json_object_under_json() {
    let output = cairn(&["--json", "policy", "test", EXAMPLE]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"file": EXAMPLE, "tests": 101, "passed": 101, "failures": []})
    );

    let file = "tests/fixtures/policies/failing.json";
    let output = cairn(&["--json", "policy", "test", file]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (report["tests"].clone(), report["passed"].clone()),
        (2.into(), 1.into())
    );
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!(failures[0]["pointer"], "/tests/1");
    assert_eq!(failures[0]["expected"], "allow");
    assert_eq!(failures[0]["got"], "deny");
    let message = failures[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("expected allow, got deny (commands.deny: "),
        "{message}"
    );

    let output = cairn(&[
        "--json",
        "policy",
        "test",
        "tests/fixtures/policies/typo.json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(printed["problems"][0]["place"], "/rulez");
}

#[test]
fn a_rule_reading_an_unknown_variable_exits_2_with_its_place() {
    let (_dir, file) = policy_file(&serde_json::json!({"rules": [
        {"id": "u", "effect": "deny", "reason": "x", "when": "foo.bar == 1"}
    ]}));
    let output = cairn(&["policy", "test", &file]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "{file}:/rules/0/when: `foo` is not a variable a rule can read (it reads only `action` and `run`)\n"
        )
    );
}

#[test]
fn explain_refuses_an_action_no_run_could_have() {
    for (action, expected) in [
        (
            r#"{"executor": "procss", "params": {"command": ["rm", "x"]}}"#,
            "cairn: --action: executor `procss` is not one of cairn's executors (agent, noop, process, sleep)\n",
        ),
        (
            r#"{"executor": "process", "params": {"command": ["rm", "x"]}, "bogus": 1}"#,
            "cairn: --action:/bogus: unknown key `bogus`",
        ),
        (
            r#"{"params": {"command": ["rm", "x"]}}"#,
            "cairn: --action: missing key `executor`",
        ),
        (
            r#"{"exector": "process", "attempt": 0}"#,
            "cairn: --action:/attempt: 0 is less than the minimum of 1\n--action:/exector: unknown key `exector` (did you mean `executor`?)",
        ),
        // serde_json keeps the last of a key given twice: this would explain `ls` and allow.
        (
            r#"{"executor": "process", "params": {"command": ["rm", "-rf", "x"], "command": ["ls"]}}"#,
            "cairn: --action:/params/command: the object gives the key `command` twice",
        ),
        (
            "[]",
            r#"cairn: --action: expected a JSON object such as {"executor": "process", "params": {"command": ["ls"]}}, not []"#,
        ),
        (
            r#"{"executor": "process", "params": {"comand": ["rm", "x"]}}"#,
            "cairn: --action:/params/comand: unknown key `comand` (did you mean `command`?)",
        ),
    ] {
        let output = cairn(&["policy", "explain", EXAMPLE, "--action", action]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{action}: {}",
            stdout(&output)
        );
        assert_eq!(stdout(&output), "", "{action}");
        assert!(stderr(&output).starts_with(expected), "{}", stderr(&output));
    }
}

#[test]
fn explain_names_each_rule_once_and_shows_audit_mode() {
    let action = r#"{"executor": "process", "params": {"command": ["bash", "-c", "ls && ls -l"]}}"#;
    let output = cairn(&["policy", "explain", EXAMPLE, "--action", action]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(verdict["decision"], "allow");
    assert_eq!(verdict["rules"], serde_json::json!(["commands.allow"]));
    assert_eq!(verdict["reasons"].as_array().unwrap().len(), 3, "{verdict}");
    assert_eq!(verdict.get("audit"), None, "{verdict}");

    let (_dir, file) = policy_file(&serde_json::json!({
        "mode": "audit", "commands": {"deny": [["rm"]]}
    }));
    let action = r#"{"executor": "process", "params": {"command": ["rm", "x"]}}"#;
    let output = cairn(&["policy", "explain", &file, "--action", action]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(verdict["decision"], "deny");
    assert_eq!(verdict["rules"], serde_json::json!(["commands.deny"]));
    assert_eq!(verdict["audit"], true, "{verdict}");
}

#[test]
fn explain_says_when_the_policys_default_decided() {
    let (_dir, file) = policy_file(&serde_json::json!({"default": "approve"}));
    let output = cairn(&[
        "policy",
        "explain",
        &file,
        "--action",
        r#"{"executor": "noop"}"#,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        verdict,
        serde_json::json!({"decision": "approve", "rules": [],
            "reasons": ["approve by the policy's default"]})
    );
}

#[test]
fn a_rate_limit_of_an_executor_cairn_does_not_have_refuses_the_run_before_the_database() {
    let limit = serde_json::json!({"executor": "procss", "max": 1, "per": "1s"});
    let (dir, policy) = policy_file(&serde_json::json!({ "rate_limits": [limit] }));
    run_refused_before_the_database(
        dir.path(),
        &policy,
        &format!(
            "{policy}:/rate_limits/0/executor: unknown executor `procss` (known: agent, noop, process, sleep)"
        ),
    );
}

/// `cairn run examples/hello.json --policy POLICY` on a database in `dir`: refused (exit 2)
/// saying `expected`, before any database is made.
fn run_refused_before_the_database(dir: &std::path::Path, policy: &str, expected: &str) {
    let db = dir.join("runs.db");
    let db = db.to_str().unwrap();
    let run = cairn(&["--db", db, "run", "examples/hello.json", "--policy", policy]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains(expected), "{}", stderr(&run));
    assert!(!std::path::Path::new(db).exists(), "no database was made");
}

#[test]
fn a_rule_that_would_deny_every_action_reaching_it_refuses_the_run_before_the_database() {
    for (when, reason) in [
        (
            "action.executor.frobnicate()",
            "no method `.frobnicate()` in cairn's CEL",
        ),
        (
            "action.exectuor == 'process'",
            "`action` has no field `exectuor`: did you mean `action.executor`?",
        ),
        ("1 + 1", "a rule's condition must be true or false"),
    ] {
        let rule = serde_json::json!({"id": "r", "effect": "deny", "reason": "x", "when": when});
        let (dir, policy) = policy_file(&serde_json::json!({ "rules": [rule] }));
        let expected = format!("{policy}:/rules/0/when: {reason}");
        let test = cairn(&["policy", "test", &policy]);
        assert_eq!(test.status.code(), Some(2), "{when}: {}", stdout(&test));
        assert!(stderr(&test).starts_with(&expected), "{}", stderr(&test));
        run_refused_before_the_database(dir.path(), &policy, &expected);
    }
}

#[test]
fn policy_test_and_explain_refuse_an_executor_cairn_does_not_have_with_its_place() {
    let (_dir, file) = policy_file(&serde_json::json!({
        "rate_limits": [{"executor": "agnet", "max": 1, "per": "1m"}],
        "tests": [{"action": {"executor": "nope"}, "expect": "allow"}]
    }));
    let known = "(known: agent, noop, process, sleep)";
    let expected = format!(
        "{file}:/rate_limits/0/executor: unknown executor `agnet` {known}\n\
         {file}:/tests/0/action/executor: unknown executor `nope` {known}\n"
    );
    let action = r#"{"executor": "agent"}"#;
    for args in [
        &["policy", "test", &file][..],
        &["policy", "explain", &file, "--action", action],
    ] {
        let output = cairn(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stderr(&output), expected, "{args:?}");
    }
}

/// `cairn policy test` of a file holding `policy`, which must refuse it (exit 2): the
/// file's path and what cairn said on stderr.
fn refused_by_policy_test(policy: &serde_json::Value) -> (String, String) {
    let (_dir, file) = policy_file(policy);
    let output = cairn(&["policy", "test", &file]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    (file, stderr(&output))
}

#[test]
fn a_test_whose_action_has_parameters_its_executor_refuses_exits_2_with_its_place() {
    // A misspelt key would leave the command out, and the test pass testing nothing.
    let (file, said) = refused_by_policy_test(&serde_json::json!({
        "commands": {"deny": [["curl"]]},
        "tests": [{"action": {"executor": "process", "params": {"comand": ["rm", "x"]}},
                   "expect": "deny"}]
    }));
    assert_eq!(
        said,
        format!(
            "{file}:/tests/0/action/params/comand: unknown key `comand` (did you mean `command`?)\n"
        )
    );
}

/// A test's `params` misspelt is told as such, not also as the parameters it lacks (probe
/// 106 F3: `/tests/0/action/params: missing key `command``, a key the file does not have).
#[test]
fn a_test_whose_params_key_is_misspelt_is_told_so_once() {
    let (file, said) = refused_by_policy_test(&serde_json::json!({
        "tests": [{"action": {"executor": "process", "parms": {"command": ["rm", "x"]}},
                   "expect": "deny"}]
    }));
    assert_eq!(
        said,
        format!("{file}:/tests/0/action/parms: unknown key `parms` (did you mean `params`?)\n")
    );
    // Given beside `params`, it hides none of theirs (probe 110 F3).
    let (file, said) = refused_by_policy_test(&serde_json::json!({
        "tests": [{"action": {"executor": "process", "params": {"comand": ["rm", "x"]},
                              "parms": {}},
                   "expect": "deny"}]
    }));
    assert_eq!(
        said,
        format!(
            "{file}:/tests/0/action/params/comand: unknown key `comand` (did you mean `command`?)\n\
             {file}:/tests/0/action/parms: unknown key `parms` (did you mean `params`?)\n"
        )
    );
}

#[test]
fn the_committed_policy_schema_is_current() {
    let output = cairn(&["schema", "policy"]);
    assert_eq!(output.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join("schemas/policy.schema.json")).unwrap();
    assert!(
        stdout(&output) == committed,
        "schemas/policy.schema.json is stale: run `cargo run -- schema policy > schemas/policy.schema.json`"
    );
}

#[test]
fn an_invalid_policy_with_json_prints_its_problems_as_validate_does() {
    // Before, `--json policy test` and `--json policy explain` printed nothing on stdout.
    let rule = serde_json::json!({"id": "a", "effect": "deny", "reason": "r", "when": "true"});
    let (_dir, file) = policy_file(&serde_json::json!({
        "budgets": {"attempts": 0},
        "rules": [rule, rule],
    }));
    let expected = serde_json::json!({"file": file, "problems": [
        {"place": "/budgets/attempts", "message": "0 is less than the minimum of 1"},
        {"place": "/rules/1/id", "message": "rule id `a` is used twice"},
    ]});
    let action = r#"{"executor": "noop"}"#;
    for args in [
        vec!["--json", "policy", "test", &file],
        vec!["--json", "policy", "explain", &file, "--action", action],
    ] {
        let output = cairn(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let printed: serde_json::Value = serde_json::from_str(&stdout(&output))
            .unwrap_or_else(|error| panic!("{args:?}: {error}: {}", stdout(&output)));
        assert_eq!(printed, expected, "{args:?}");
    }
    // Without --json, the problems are the error, on stderr.
    let output = cairn(&["policy", "test", &file]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains(&format!("{file}:/rules/1/id: rule id `a` is used twice")));
}

#[test]
fn one_passing_test_is_counted_in_the_singular() {
    let (_dir, file) = policy_file(&serde_json::json!({
        "tests": [{"action": {"executor": "noop"}, "expect": "allow"}],
    }));
    let output = cairn(&["policy", "test", &file]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), format!("{file}: 1 test passes\n"));
}

#[test]
fn explain_refuses_numbers_the_parser_panics_on_by_name_and_quietly() {
    // brush-parser `unwrap`s these numbers: it panicked, printing its message on stderr, and
    // the step was denied for "the command checker failed on this command".
    for (script, word) in [
        ("echo ~99999999999999999999", "`~99999999999999999999`"),
        ("echo ~-99999999999999999999", "`~-99999999999999999999`"),
        ("x=~99999999999999999999", "`~99999999999999999999`"),
        (
            "echo hi 99999999999999999999>/dev/null",
            "`99999999999999999999>`",
        ),
    ] {
        let action = serde_json::json!({
            "executor": "process",
            "params": {"command": ["sh", "-c", script]},
        });
        let output = explained(&action);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(stderr(&output), "", "{script}");
        let verdict: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(verdict["decision"], "deny", "{script}");
        let reasons = verdict["reasons"].to_string();
        assert!(
            reasons.contains(word) && reasons.contains("too big for the shell"),
            "{script}: {reasons}"
        );
    }
}
