//! `cairn runs`: every run, or those in some states, newest first, up to a limit.

use std::path::Path;

use serde_json::{Value, json};

use super::scratch::Scratch;

fn ids(listed: &Value) -> Vec<&str> {
    let runs = listed.as_array().expect("a JSON array");
    runs.iter().map(|run| run["id"].as_str().unwrap()).collect()
}

#[test]
fn runs_are_listed_newest_first_by_state_and_up_to_a_limit() {
    let scratch = Scratch::new();
    let hello = Path::new("examples/hello.json");
    let failing = scratch.write(
        "failing.json",
        &json!({"name": "failing", "steps": [{"id": "no", "executor": "process", "with": {"command": ["false"]}}]}),
    );
    let first = scratch.run(hello, &[], 0);
    let failed = scratch.run(&failing, &[], 1);
    let last = scratch.run(hello, &[], 0);
    let listed = |args: &[&str]| scratch.json(&[&["runs", "--json"], args].concat());

    assert_eq!(ids(&listed(&[])), [&last, &failed, &first]);
    assert_eq!(ids(&listed(&["--limit", "2"])), [&last, &failed]);
    assert_eq!(ids(&listed(&["--state", "succeeded"])), [&last, &first]);
    assert_eq!(ids(&listed(&["--state", "failed"])), [&failed]);
    let either = ["--state", "failed", "--state", "succeeded", "--limit", "2"];
    assert_eq!(ids(&listed(&either)), [&last, &failed]);
    // As `gh run list --limit 0`: refused, not an empty list that reads as no runs.
    let zero = scratch.cairn(&["runs", "--limit", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    let said = String::from_utf8_lossy(&zero.stderr);
    assert!(said.contains("a limit of 0 would list no run"), "{said}");

    let output = scratch.cairn(&["runs", "--state", "paused"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("no matching runs in "), "{text}");
    let output = scratch.cairn(&["runs", "--state", "failed"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with(&format!("{failed}  failed ")), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// Runs a workflow named `name` whose one step runs `script` and fails: `cairn run`'s
/// output and the run's id.
fn failed_run(scratch: &Scratch, name: &str, script: &str) -> (std::process::Output, String) {
    let workflow = scratch.write(
        "failing.json",
        &json!({"name": name, "steps": [{"id": "loud", "executor": "process",
            "with": {"command": ["sh", "-c", script]}}]}),
    );
    let run = scratch.cairn(&["run", workflow.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    let id = scratch.json(&["runs", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (run, id)
}

#[test]
fn a_runs_control_characters_are_printed_escaped_for_a_person_and_kept_in_json() {
    let scratch = Scratch::new();
    let (run, id) = failed_run(
        &scratch,
        "esc\u{1b}]52;c;cHduZWQ=\u{7}",
        "printf 'bad\\033[2J\\r\\302\\233\\n' >&2; exit 3",
    );
    let (name, error) = (
        "esc\\u{1b}]52;c;cHduZWQ=\\u{7}",
        "bad\\u{1b}[2J\\u{d}\\u{9b}",
    );
    for (args, output, escaped) in [
        (vec!["run"], run, error),
        (vec!["runs"], scratch.cairn(&["runs"]), name),
        (vec!["show"], scratch.cairn(&["show", &id]), name),
        (vec!["show"], scratch.cairn(&["show", &id]), error),
        // The history's details are JSON, escaped as JSON.
        (
            vec!["history"],
            scratch.cairn(&["history", &id]),
            "bad\\u001b[2J\\r\\u{9b}",
        ),
    ] {
        let printed = String::from_utf8(output.stdout).unwrap();
        assert!(
            !printed.contains(['\u{1b}', '\u{7}', '\r', '\u{9b}']),
            "cairn {args:?} printed a control character: {printed:?}"
        );
        assert!(printed.contains(escaped), "cairn {args:?}: {printed}");
    }
    let shown = scratch.json(&["show", &id, "--json"]);
    assert_eq!(shown["workflow"], "esc\u{1b}]52;c;cHduZWQ=\u{7}");
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .contains("bad\u{1b}[2J\r\u{9b}")
    );
}

#[test]
fn a_newline_in_a_name_or_a_stderr_tail_cannot_forge_a_line_of_cairns_own() {
    let scratch = Scratch::new();
    let forged_run = "00000000-0000-0000-0000-000000000000  succeeded  deploy";
    let (run, id) = failed_run(
        &scratch,
        &format!("deploy\nstate     succeeded\n{forged_run}"),
        "printf 'oops\\nrun 1 succeeded\\n' >&2; exit 3",
    );
    let runs = String::from_utf8(scratch.cairn(&["runs"]).stdout).unwrap();
    assert_eq!(runs.lines().count(), 1, "{runs}");
    let show = String::from_utf8(scratch.cairn(&["show", &id]).stdout).unwrap();
    let states: Vec<&str> = show.lines().filter(|l| l.starts_with("state")).collect();
    assert_eq!(states, ["state     failed"], "{show}");
    for printed in [show, String::from_utf8(run.stdout).unwrap()] {
        assert!(
            printed.lines().all(|line| !line.starts_with("run 1 ")),
            "a stderr line starts a line of its own: {printed}"
        );
        assert!(printed.contains("run 1 succeeded"), "{printed}");
    }
}

#[test]
fn a_step_waiting_to_retry_shows_when_its_next_attempt_is_due() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "later.json",
        &json!({"name": "later", "steps": [{"id": "a", "executor": "process",
            "with": {"command": ["false"]},
            "retry": {"max_attempts": 2, "backoff": "fixed", "initial_delay": "1h", "max_delay": "2h"}}]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let show = scratch.wait_for_show(&mut child, |show| show["steps"][0]["state"] == "retry_wait");
    child.kill().unwrap();
    child.wait().unwrap();
    let wake_at = show["steps"][0]["wake_at"]
        .as_str()
        .expect("a wake-up time");
    let due = chrono::DateTime::parse_from_rfc3339(wake_at).unwrap();
    assert!(
        due > chrono::Utc::now() + chrono::Duration::minutes(50),
        "{due}"
    );
    let id = show["id"].as_str().unwrap();
    let text = String::from_utf8_lossy(&scratch.cairn(&["show", id]).stdout).into_owned();
    assert!(text.contains("next attempt at: "), "{text}");
}
