//! Approvals across a redrive (`cairn retry`): the redriven step's requests are its new
//! drive's only. What its last drive asked (an item past a shorter list) is neither listed
//! nor decidable, a resume after a crash waits for the new items only, and the new drive's
//! events do not repeat the last drive's error. A pending denial of one item is listed
//! beside that item only, and a second ruling on an item decided already names who decided.

use std::process::{Child, Stdio};

use serde_json::{Value, json};

use super::guard::{path, policy, step, workflow};
use super::scratch::Scratch;

/// A run whose `fe` (a `for_each` over the list `src` reads from the file `list`) awaits
/// approval of every item, its engine killed; returns the run's id. `list` holds `items`.
pub(super) fn awaiting_after_a_kill(scratch: &Scratch, items: Value) -> String {
    let list = scratch.write("list", &items);
    let policy = policy(
        scratch,
        json!({"rules": [{"id": "ask", "effect": "approve", "reason": "items need a person",
            "when": "action.step == 'fe'"}]}),
    );
    let mut fe = step("fe", "echo ran >> \"$MARKS/fe\"", scratch);
    fe["needs"] = json!(["src"]);
    fe["for_each"] = json!("${{ steps.src.output }}");
    let source = step("src", &format!("cat '{}'", path(&list)), scratch);
    let workflow = workflow(scratch, json!([source, fe]));
    let child = scratch
        .command(&["run", path(&workflow), "--policy", path(&policy), "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    killed_once_fe_awaits(scratch, child)
}

/// Waits until `fe` awaits approval, then kills the engine `child` (SIGKILL); the run's id.
fn killed_once_fe_awaits(scratch: &Scratch, mut child: Child) -> String {
    let show = scratch.wait_for_show(&mut child, |show| {
        show["steps"][1]["state"] == "awaiting_approval"
    });
    child.kill().unwrap();
    child.wait().unwrap();
    show["id"].as_str().unwrap().to_owned()
}

/// The items of the requests `cairn approvals --json` lists, with the ruling beside each.
fn listed(scratch: &Scratch) -> Vec<(Value, Value)> {
    let waiting = scratch.json(&["approvals", "--json"]);
    (waiting.as_array().unwrap().iter())
        .map(|request| (request["item"].clone(), request["ruling"].clone()))
        .collect()
}

/// Runs `cairn ARGS`, checks its exit code, and returns its stderr.
pub(super) fn exits(scratch: &Scratch, args: &[&str], code: i32) -> String {
    let output = scratch.cairn(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "cairn {args:?}: {stderr}");
    stderr
}

/// Denies item 3 of `fe` of `run` while no engine drives it, resumes it (it fails), then
/// redrives it from `src` over the list `[10, 11]` and kills the redriving engine once
/// `fe` awaits approval again.
fn denied_then_redriven_shorter(scratch: &Scratch, run: &str) {
    exits(
        scratch,
        &["deny", run, "fe", "--item", "3", "--reason", "no"],
        0,
    );
    exits(scratch, &["resume", run], 1);
    scratch.write("list", &json!([10, 11]));
    let retry = scratch
        .command(&["retry", run, "--from", "src"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    killed_once_fe_awaits(scratch, retry);
}

#[test]
fn a_pending_denial_of_one_item_is_listed_beside_that_item_only() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11, 12]));
    exits(
        &scratch,
        &[
            "deny", &run, "fe", "--item", "2", "--reason", "no", "--by", "bob",
        ],
        0,
    );
    let denied = json!({"approved": false, "by": "bob", "reason": "no"});
    assert_eq!(
        listed(&scratch),
        [
            (json!(0), Value::Null),
            (json!(1), Value::Null),
            (json!(2), denied)
        ]
    );
    let text = scratch.cairn(&["approvals"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.matches("denied by bob").count(), 1, "{text}");
    // It still decides the step: any other ruling on it is moot.
    let moot = exits(&scratch, &["approve", &run, "fe", "--item", "0"], 2);
    assert!(
        moot.contains("item 2 of step `fe` has a ruling already, by bob")
            && moot.contains("a denial of an item denies its step"),
        "{moot}"
    );
    // A second ruling on the same item names that item.
    let again = exits(
        &scratch,
        &["deny", &run, "fe", "--item", "2", "--reason", "x"],
        2,
    );
    assert!(
        again.contains("item 2 of step `fe` has a ruling already, by bob")
            && !again.contains("denies its step"),
        "{again}"
    );
}

#[test]
fn a_redriven_step_waits_on_its_new_drives_requests_only() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11, 12, 13]));
    denied_then_redriven_shorter(&scratch, &run);

    // Items 2 and 3 were the last drive's: neither listed nor decidable.
    let fresh = [(json!(0), Value::Null), (json!(1), Value::Null)];
    assert_eq!(listed(&scratch), fresh);
    let stale = ["deny", &run, "fe", "--item", "2", "--reason", "stale"];
    let refusal = exits(&scratch, &stale, 2);
    assert!(
        refusal.contains("item 2 of step `fe` does not await approval (items 0, 1 wait)"),
        "{refusal}"
    );
    assert_eq!(listed(&scratch), fresh, "the refusal recorded nothing");

    // The engine died while `fe` waited: approving the new items lets a resume run it.
    exits(&scratch, &["approve", &run, "fe", "--item", "0"], 0);
    exits(&scratch, &["approve", &run, "fe", "--item", "1"], 0);
    exits(&scratch, &["resume", &run], 0);
    assert_eq!(scratch.executions()["fe"], 2);
    assert!(listed(&scratch).is_empty());
}

#[test]
fn a_redriven_steps_events_do_not_repeat_its_last_drives_error() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11, 12, 13]));
    denied_then_redriven_shorter(&scratch, &run);
    exits(&scratch, &["approve", &run, "fe"], 0);
    exits(&scratch, &["resume", &run], 0);
    let history = scratch.json(&["history", &run, "--json"]);
    let events = history.as_array().unwrap();
    let sent_back = (events.iter())
        .rposition(|event| event["step"] == "fe" && event["to"] == "pending")
        .expect("the redrive sent fe back");
    let repeated: Vec<&Value> = (events[sent_back..].iter())
        .filter(|event| event["step"] == "fe" && !event["detail"]["error"].is_null())
        .collect();
    assert!(repeated.is_empty(), "{repeated:#?}");
    let denied = (events[..sent_back].iter())
        .any(|event| event["step"] == "fe" && event["detail"]["error"].is_string());
    assert!(denied, "the last drive's own events keep it: {history:#}");
}

#[test]
fn a_second_ruling_on_an_item_an_engine_decided_names_who_decided_it() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11]));
    exits(
        &scratch,
        &["approve", &run, "fe", "--item", "0", "--by", "ann"],
        0,
    );
    // A resume applies the ruling, then waits for item 1.
    let resume = (scratch.command(&["resume", &run]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    super::scratch::wait_until("item 0's ruling applied", || {
        listed(&scratch) == [(json!(1), Value::Null)]
    });
    let again = exits(&scratch, &["approve", &run, "fe", "--item", "0"], 2);
    assert!(
        again.contains(
            "item 0 of step `fe` does not await approval: it was approved by ann already \
             (item 1 waits)"
        ),
        "{again}"
    );
    exits(&scratch, &["approve", &run, "fe", "--item", "1"], 0);
    let resumed = crate::finish(resume, "cairn resume");
    assert_eq!(resumed.status.code(), Some(0));
    assert_eq!(scratch.executions()["fe"], 2);
}
