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
    assert!(ids(&listed(&["--limit", "0"])).is_empty());

    let output = scratch.cairn(&["runs", "--state", "paused"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("no matching runs in "), "{text}");
    let output = scratch.cairn(&["runs", "--state", "failed"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with(&format!("{failed}  failed ")), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}
