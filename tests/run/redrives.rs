//! `cairn retry` through the real binary: what a plain retry and a retry `--from` a step
//! run again, and a redrive of more steps than a batch takes.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::control::{
    HOLD, MARK, code, executions, held, history, show, spawn, step, wait_for_file,
};
use super::scratch::{Scratch, states};
use crate::finish;

/// a -> b -> c, where c fails until the file `fixed` exists.
fn fragile(scratch: &Scratch) -> PathBuf {
    let fails = format!("{MARK}; [ -e \"$DIR/fixed\" ] || exit 1; echo '{{}}'");
    scratch.write(
        "f.json",
        &json!({"name": "f", "steps": [{"pipeline": [
            step(scratch, "a", &format!("{MARK}; echo '{{}}'"), json!({})),
            step(scratch, "b", &format!("{MARK}; echo '{{}}'"), json!({})),
            step(scratch, "c", &fails, json!({}))
        ]}]}),
    )
}

#[test]
fn retry_from_a_step_reruns_it_and_its_descendants_only() {
    let scratch = Scratch::new();
    let run = scratch.run(&fragile(&scratch), &[], 1);
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    let output = scratch.cairn(&["retry", &run, "--from", "b"]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs: Vec<usize> = ["a", "b", "c"]
        .map(|s| executions(&scratch, s).len())
        .to_vec();
    assert_eq!(runs, [1, 2, 2]);
}

/// A redrive `--from` a step that leaves one a cancel stopped as it was ends the run cancelled
/// again, and says which step (probe 75 F2: a bare `cancelled`, as if cancelled anew).
#[test]
fn a_retry_from_a_step_that_leaves_a_cancelled_one_names_it() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "c.json",
        &json!({"name": "c", "steps": [
            step(&scratch, "a", &format!("{MARK}; echo '{{}}'"), json!({})),
            step(&scratch, "s", &format!("{MARK}; {HOLD}"), json!({}))
        ]}),
    );
    let mut child = spawn(&scratch, &workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "s"));
    assert_eq!(code(&scratch.cairn(&["cancel", &run])), Some(0));
    assert_eq!(code(&finish(child, "cairn run")), Some(1));
    assert_eq!(
        code(&scratch.cairn(&["retry", &run, "--from", "a"])),
        Some(1)
    );
    let shown = show(&scratch, &run);
    assert_eq!(shown["state"], "cancelled");
    let error = shown["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("step s cancelled: "), "{shown}");
    let runs = ["a", "s"].map(|step| executions(&scratch, step).len());
    assert_eq!(runs, [2, 1]);
}

#[test]
fn plain_retry_reruns_only_what_failed_or_was_skipped() {
    let scratch = Scratch::new();
    let run = scratch.run(&fragile(&scratch), &[], 1);
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    assert_eq!(code(&scratch.cairn(&["retry", &run])), Some(0));
    let runs: Vec<usize> = ["a", "b", "c"]
        .map(|s| executions(&scratch, s).len())
        .to_vec();
    assert_eq!(runs, [1, 1, 2]);
    assert_eq!(states(&show(&scratch, &run))["c"], "succeeded");
}

#[test]
fn a_retry_of_more_steps_than_a_batch_takes_runs_every_one_of_them_again() {
    // The ledger sends a redrive's steps back to pending 4,096 at a time, the run with the
    // last batch: the engine must drive it through every batch, not take it for ended.
    let scratch = Scratch::new();
    let fails = format!("{MARK}; [ -e \"$DIR/fixed\" ] || exit 1; echo '{{}}'");
    let branches: Vec<Value> = (0..4200)
        .map(|i| json!({"id": format!("b{i}"), "executor": "noop"}))
        .collect();
    let workflow = scratch.write(
        "wide.json",
        &json!({"name": "wide", "limits": {"max_steps": 5000, "max_parallel": 1000},
            "steps": [step(&scratch, "a", &fails, json!({})),
                {"id": "fan", "needs": ["a"], "parallel": branches}]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    std::fs::write(scratch.dir.path().join("fixed"), "").unwrap();
    let output = scratch.cairn(&["retry", &run]);
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(executions(&scratch, "a").len(), 2);
    let shown = show(&scratch, &run);
    assert_eq!(shown["state"], "succeeded");
    let states = states(&shown);
    assert_eq!(states.len(), 4201);
    assert!(states.values().all(|state| state == "succeeded"));
    let events = history(&scratch, &run);
    let redrive = (events.iter())
        .position(|event| event["from"] == "failed" && event["to"] == "running")
        .expect("the redrive is in the history");
    assert_eq!(
        events[redrive]["detail"]["redrive"]["steps"]
            .as_array()
            .map(Vec::len),
        Some(4201)
    );
    let sent_back = (events[..redrive].iter())
        .filter(|event| event["detail"]["reason"] == "the run was redriven");
    assert_eq!(sent_back.count(), 4201, "the run moves after its steps");
    // Its text cuts the list, saying where it is whole (probe 80 F2: a line of 866 KB).
    let text = scratch.cairn(&["history", &run]);
    let text = String::from_utf8_lossy(&text.stdout);
    let line = (text.lines()).find(|line| line.contains("run: failed -> running"));
    let line = line.expect("the redrive is in the text");
    assert!(line.chars().count() < 1_500, "{line}");
    assert!(
        line.contains(&format!("history {run} --json` gives it whole")),
        "{line}"
    );
}
