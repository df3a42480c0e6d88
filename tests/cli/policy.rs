//! `cairn policy test`, `cairn policy explain` and `cairn schema policy`.

use crate::{cairn, root, stdout};

const EXAMPLE: &str = "examples/policies/coding-agent.json";

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_example_policy_passes_its_tests() {
    let output = cairn(&["policy", "test", EXAMPLE]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(stdout(&output), format!("{EXAMPLE}: 9 tests pass\n"));
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
fn the_committed_policy_schema_is_current() {
    let output = cairn(&["schema", "policy"]);
    assert_eq!(output.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join("schemas/policy.schema.json")).unwrap();
    assert!(
        stdout(&output) == committed,
        "schemas/policy.schema.json is stale: run `cargo run -- schema policy > schemas/policy.schema.json`"
    );
}
