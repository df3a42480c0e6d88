//! Rate limits through the real binary: each `for_each` item is a start, and the items past
//! the window's room wait for it, the step ready.

use std::process::Stdio;

use serde_json::json;

use super::scratch::{Scratch, states};
use crate::finish;

#[test]
fn each_item_counts_against_the_window_and_the_items_past_its_room_wait() {
    let scratch = Scratch::new();
    let policy = scratch.write(
        "policy.json",
        &json!({"rate_limits": [{"executor": "process", "max": 2, "per": "1h"}]}),
    );
    let workflow = scratch.write(
        "items.json",
        &json!({"name": "rated", "steps": [{
            "id": "each", "executor": "process", "for_each": "${{ [0, 1, 2, 3, 4] }}",
            "with": {"command": ["sh", "-c", "echo run >> \"$MARKS/item$CAIRN_ITEM_INDEX\""],
                     "env": {"MARKS": scratch.marks()}}
        }]}),
    );
    let args = [
        "run",
        workflow.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];
    let mut child = (scratch.command(&args))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready again once it ran items: it waits for the window (an hour) with the rest, and
    // says so (probe 92 F4: a step so held showed as `ready` only, as a stuck one does).
    let show = scratch.wait_for_show(&mut child, |show| {
        states(show)["each"] == "ready"
            && !scratch.executions().is_empty()
            && show["steps"][0]["waits"].is_string()
    });
    let why = "rate_limits: process starts at most 2 per 1h";
    assert_eq!(show["steps"][0]["waits"], why, "{show}");
    let ran: Vec<String> = scratch.executions().into_keys().collect();
    assert_eq!(ran, ["item0", "item1"], "two starts in the window, no more");
    assert_eq!(show["steps"][0]["attempt"], 1, "the attempt goes on");
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(term.unwrap().success());
    let stopped = finish(child, "cairn run after SIGTERM");
    assert_eq!(stopped.status.code(), Some(3), "the run stopped unfinished");
    // Recorded, not said: a fan-out of thousands of steps would say it of each.
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(!said.contains("stays ready"), "{said}");
}

#[test]
fn a_step_budget_lets_the_later_windows_of_a_started_step_run() {
    // The step counted itself as a new step at its second window: "1 steps of 1" (probe 11
    // F6). A window of 2 a second: the five items take three windows.
    let scratch = Scratch::new();
    let policy = scratch.write(
        "policy.json",
        &json!({"budgets": {"steps": 1},
                "rate_limits": [{"executor": "noop", "max": 2, "per": "1s"}]}),
    );
    let workflow = scratch.write(
        "items.json",
        &json!({"name": "windows", "steps": [{
            "id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2, 3, 4] }}",
            "with": {"output": "${{ item }}"}
        }]}),
    );
    let run = scratch.run(&workflow, &["--policy", policy.to_str().unwrap()], 0);
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["output"], json!([0, 1, 2, 3, 4]), "{show}");
}
