//! The policy guard through the real binary: what it denies never spawns, every attempt is
//! judged, budgets hold, approvals survive a crash and reach a live engine, audit mode runs
//! everything, and a bad policy writes nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::{Value, json};

use super::scratch::{Scratch, signal, wait_until};
use crate::finish;

/// A process step running `script` under `sh -c`, with the marker directory as `$MARKS`.
pub(super) fn step(id: &str, script: &str, scratch: &Scratch) -> Value {
    json!({
        "id": id,
        "executor": "process",
        "with": {
            "command": ["sh", "-c", script],
            "env": {"MARKS": scratch.marks().to_str().unwrap()}
        }
    })
}

pub(super) fn policy(scratch: &Scratch, policy: Value) -> PathBuf {
    scratch.write("policy.json", &policy)
}

pub(super) fn workflow(scratch: &Scratch, steps: Value) -> PathBuf {
    scratch.write("wf.json", &json!({"name": "guarded", "steps": steps}))
}

/// A file in the marker directory that a denied command would delete.
fn keep(scratch: &Scratch) -> PathBuf {
    let keep = scratch.marks().join("keep");
    std::fs::write(&keep, "precious").unwrap();
    keep
}

/// The history's events of `step` entering `to`.
fn entering(history: &Value, step: &str, to: &str) -> Vec<Value> {
    (history.as_array().unwrap().iter())
        .filter(|event| event["step"] == step && event["to"] == to)
        .cloned()
        .collect()
}

pub(super) fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_denied_command_never_spawns_and_the_denial_is_on_record() {
    let scratch = Scratch::new();
    let keep = keep(&scratch);
    let policy = policy(&scratch, json!({"commands": {"deny": [["rm"], ["curl"]]}}));
    let script = format!("echo hi && /bin/rm {}", keep.display());
    let workflow = workflow(
        &scratch,
        json!([{"pipeline": [
            step("clean", &script, &scratch),
            step("after", "echo ran >> \"$MARKS/after\"", &scratch)
        ]}]),
    );
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    assert!(keep.exists(), "the denied command never ran");
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied");
    assert_eq!(show["steps"][1]["state"], "skipped");
    assert!(show["error"].as_str().unwrap().contains("denied"), "{show}");
    let history = scratch.json(&["history", &run, "--json"]);
    let denied = entering(&history, "clean", "denied");
    let verdict = &denied[0]["detail"]["verdict"];
    assert_eq!(verdict["decision"], "deny", "{verdict}");
    assert!(
        verdict["rules"].to_string().contains("commands"),
        "{verdict}"
    );
    let text = scratch.cairn(&["history", &run]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("deny"));
}

#[test]
fn each_for_each_item_and_each_retried_attempt_is_judged() {
    let scratch = Scratch::new();
    let keep = keep(&scratch);
    let policy = policy(&scratch, json!({"commands": {"deny": [["rm"]]}}));
    let items = json!([["echo", "a"], ["rm", path(&keep)], ["echo", "c"]]);
    let workflow = workflow(
        &scratch,
        json!([
            {"id": "items", "executor": "process", "for_each": format!("${{{{ {items} }}}}"),
             "with": {"command": "${{ item }}"}},
            {"id": "flaky", "executor": "process",
             "retry": {"max_attempts": 2, "backoff": "fixed", "initial_delay": "0s"},
             "with": {"command": ["sh", "-c", "echo ran >> \"$MARKS/flaky\"; exit 1"],
                      "env": {"MARKS": path(&scratch.marks())}}}
        ]),
    );
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    assert!(keep.exists(), "the denied item never ran");
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied");
    assert!(
        show["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("item 1")
    );
    assert_eq!(scratch.executions()["flaky"], 2);
    let history = scratch.json(&["history", &run, "--json"]);
    let attempts = entering(&history, "flaky", "running");
    assert_eq!(attempts.len(), 2);
    for attempt in attempts {
        assert_eq!(
            attempt["detail"]["verdict"]["decision"], "allow",
            "{attempt}"
        );
    }
}

/// Leaves a marker line, then fails with an error that differs by attempt (a letter).
const FAILS_DIFFERENTLY: &str = "echo ran >> \"$MARKS/flaky\"; \
    n=$(wc -l < \"$MARKS/flaky\"); echo \"failed: $(echo abcdefghij | cut -c$n)\" >&2; exit 1";

#[test]
fn a_budget_of_n_attempts_runs_exactly_n_and_denies_the_next() {
    let scratch = Scratch::new();
    let policy = policy(&scratch, json!({"budgets": {"attempts": 3}}));
    let workflow = workflow(
        &scratch,
        json!([{"id": "flaky", "executor": "process",
                "retry": {"max_attempts": 10, "backoff": "fixed", "initial_delay": "0s"},
                // A different error each time: not a loop (the loop detector would stop it).
                "with": {"command": ["sh", "-c", FAILS_DIFFERENTLY],
                         "env": {"MARKS": path(&scratch.marks())}}}]),
    );
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    assert_eq!(scratch.executions()["flaky"], 3);
    let history = scratch.json(&["history", &run, "--json"]);
    let denied = entering(&history, "flaky", "denied");
    assert_eq!(denied.len(), 1);
    assert!(
        denied[0]["detail"]["verdict"]["rules"]
            .to_string()
            .contains("budget.attempts")
    );
    // A redrive does not refill a budget, and the denial says what does go on.
    let retried = scratch.cairn(&["retry", &run]);
    assert_eq!(retried.status.code(), Some(1));
    assert_eq!(scratch.executions()["flaky"], 3);
    let said = String::from_utf8_lossy(&retried.stdout);
    assert!(
        said.contains("its redrives included: a new run starts afresh"),
        "{said}"
    );
}

/// A policy that holds step `deploy` for approval (with `extra` keys), and a workflow whose
/// `deploy` leaves a marker and whose `build` runs freely.
pub(super) fn approval_setup(scratch: &Scratch, extra: Value) -> (PathBuf, PathBuf) {
    let mut policy = json!({"rules": [{"id": "deploys", "effect": "approve",
        "reason": "deploys need a person", "when": "action.step == 'deploy'"}]});
    policy
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let policy = self::policy(scratch, policy);
    let workflow = workflow(
        scratch,
        json!([
            step("deploy", "echo ran >> \"$MARKS/deploy\"", scratch),
            step("build", "echo ran >> \"$MARKS/build\"", scratch)
        ]),
    );
    (policy, workflow)
}

/// Starts `cairn run` in the background and waits until `deploy` awaits approval.
pub(super) fn start_awaiting(scratch: &Scratch, policy: &Path, workflow: &Path) -> (Child, String) {
    let mut child = scratch
        .command(&["run", path(workflow), "--policy", path(policy), "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let show = scratch.wait_for_show(&mut child, |show| {
        show["steps"][0]["state"] == "awaiting_approval"
    });
    (child, show["id"].as_str().unwrap().to_owned())
}

#[test]
fn an_approval_given_while_no_engine_runs_is_acted_on_by_resume() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({}));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!scratch.executions().contains_key("deploy"));

    let waiting = scratch.json(&["approvals", "--json"]);
    assert_eq!(waiting[0]["step_id"], "deploy", "{waiting}");
    // The person deciding sees the whole action, its environment included.
    let action = &waiting[0]["action"];
    assert_eq!(action["executor"], "process", "{waiting}");
    assert!(action["params"]["env"]["MARKS"].is_string(), "{waiting}");
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(r#"  action: {"executor":"process","params":{"#),
        "{listed}"
    );
    assert!(
        listed.contains("  an approval lets this action run, and its retries too"),
        "{listed}"
    );
    // `deploy` has no `for_each`: an item of it is no request of its own.
    let itemised = scratch.cairn(&["approve", &run, "deploy", "--item", "0"]);
    let refusal = String::from_utf8_lossy(&itemised.stderr);
    assert_eq!(itemised.status.code(), Some(2), "{refusal}");
    assert!(
        refusal.contains(
            "step `deploy` has no items (it has no for_each): approve or deny it without `--item`"
        ),
        "{refusal}"
    );
    let approve = scratch.cairn(&[
        "approve", &run, "deploy", "--reason", "ship it", "--by", "ann",
    ]);
    let told = String::from_utf8_lossy(&approve.stderr);
    assert!(approve.status.success(), "{told}");
    assert!(
        told.contains(&format!(
            "no engine drives the run now: `{} resume",
            scratch.invocation()
        )),
        "the engine that drove the run was killed: {told}"
    );
    // The first ruling recorded decides: a second one is refused, not silently dropped.
    let deny = scratch.cairn(&["deny", &run, "deploy", "--reason", "no", "--by", "bob"]);
    let refusal = String::from_utf8_lossy(&deny.stderr);
    assert_eq!(deny.status.code(), Some(2), "{refusal}");
    assert!(
        refusal.contains("has a ruling already, by ann") && refusal.contains("first ruling"),
        "{refusal}"
    );
    // Recorded, not applied: the request still waits, with the ruling beside it.
    let waiting = scratch.json(&["approvals", "--json"]);
    assert_eq!(
        waiting[0]["ruling"],
        json!({"approved": true, "by": "ann", "reason": "ship it"}),
        "{waiting}"
    );
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(&format!(
            "approved by ann, applied when an engine drives the run (`{} resume {run}`)",
            scratch.invocation()
        )),
        "{listed}"
    );
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(scratch.executions()["deploy"], 1);
    let history = scratch.json(&["history", &run, "--json"]);
    let approved = entering(&history, "deploy", "ready");
    let by = &approved.last().unwrap()["detail"]["approved"];
    assert_eq!(
        (&by["by"], &by["reason"]),
        (&json!("ann"), &json!("ship it"))
    );
    assert_eq!(scratch.json(&["approvals", "--json"]), json!([]));
}

/// A ruling recorded while an engine drives the run is that engine's to apply: `cairn
/// approvals` says so, with no `cairn resume` to run. The engine is stopped (SIGSTOP), its
/// lease live, so that the ruling waits until it is listed.
#[test]
fn an_approval_recorded_while_an_engine_drives_the_run_is_listed_as_that_engines_to_apply() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({}));
    let (child, run) = start_awaiting(&scratch, &policy, &workflow);
    signal(&child, "-STOP");
    let approve = scratch.cairn(&["approve", &run, "deploy", "--by", "ann"]);
    let listed = scratch.cairn(&["approvals"]);
    signal(&child, "-CONT");
    let told = String::from_utf8_lossy(&approve.stderr);
    assert!(
        told.contains("the engine driving the run acts on it within a second"),
        "{told}"
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed
            .contains("; approved by ann, applied within a second by the engine driving the run\n"),
        "{listed}"
    );
    assert!(!listed.contains("cairn resume"), "{listed}");
    let output = finish(child, "cairn run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(scratch.executions()["deploy"], 1);
}

/// An approval sent before the request expires counts though the engine driving the run
/// reads it after (probe 39 F5: it denied the step at the expiry). The engine is stopped
/// (SIGSTOP) from before the ruling until past the expiry.
#[test]
fn an_approval_sent_in_time_counts_though_the_engine_driving_the_run_reads_it_late() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({"approval": {"timeout": "5s"}}));
    let (child, run) = start_awaiting(&scratch, &policy, &workflow);
    signal(&child, "-STOP");
    let approve = scratch.cairn(&["approve", &run, "deploy", "--by", "ann"]);
    let listed = listed_past_expiry(&scratch);
    signal(&child, "-CONT");
    assert_eq!(approve.status.code(), Some(0), "{approve:?}");
    assert!(listed.contains("approved by ann"), "{listed}");
    let output = finish(child, "cairn run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(scratch.executions()["deploy"], 1);
}

/// A ruling sent after a cancel the engine has not read yet (it is stopped, SIGSTOP) is
/// refused: the cancel ends the step `cancelled` (probe 74 F1: told it would be acted on,
/// then the step ended `denied`).
#[test]
fn a_ruling_sent_after_a_pending_cancel_is_refused() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({}));
    let (child, run) = start_awaiting(&scratch, &policy, &workflow);
    signal(&child, "-STOP");
    let cancel = scratch.cairn(&["cancel", &run]);
    let deny = scratch.cairn(&["deny", &run, "deploy", "--reason", "no"]);
    signal(&child, "-CONT");
    assert_eq!(cancel.status.code(), Some(0), "{cancel:?}");
    let said = String::from_utf8_lossy(&deny.stderr);
    assert_eq!(deny.status.code(), Some(2), "{said}");
    assert!(said.contains("a cancel of the run, by "), "{said}");
    assert!(said.contains("is pending"), "{said}");
    let output = finish(child, "cairn run");
    assert_eq!(output.status.code(), Some(1));
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["state"], "cancelled");
    assert_eq!(show["steps"][0]["state"], "cancelled");
}

#[test]
fn a_ruling_on_one_item_says_which_item_it_was() {
    let scratch = Scratch::new();
    let (policy, _) = approval_setup(&scratch, json!({}));
    let mut deploy = step("deploy", "echo ran >> \"$MARKS/deploy\"", &scratch);
    deploy["for_each"] = json!("${{ [1, 2] }}");
    let workflow = workflow(&scratch, json!([deploy]));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    let approve = scratch.cairn(&["approve", &run, "deploy", "--item", "1"]);
    let told = String::from_utf8_lossy(&approve.stderr);
    assert!(approve.status.success(), "{told}");
    assert!(
        told.starts_with(&format!("item 1 of step deploy of run {run} approved; ")),
        "{told}"
    );
    // A denial of an item denies the whole step, and says which item it came from.
    let deny = scratch.cairn(&["deny", &run, "deploy", "--item", "0", "--reason", "no"]);
    let told = String::from_utf8_lossy(&deny.stderr);
    assert!(deny.status.success(), "{told}");
    assert!(
        told.starts_with(&format!(
            "step deploy (by its item 0) of run {run} denied; "
        )),
        "{told}"
    );
}

#[test]
fn a_denial_from_another_process_ends_a_live_runs_step() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({}));
    let (child, run) = start_awaiting(&scratch, &policy, &workflow);
    let unexplained = scratch.cairn(&["deny", &run, "deploy", "--reason", ""]);
    assert_eq!(unexplained.status.code(), Some(2), "a denial says why");
    let said = String::from_utf8_lossy(&unexplained.stderr);
    assert!(said.contains("a denial needs a reason"), "{said}");
    let deny = scratch.cairn(&["deny", &run, "deploy", "--reason", "not today"]);
    assert!(
        deny.status.success(),
        "{}",
        String::from_utf8_lossy(&deny.stderr)
    );
    let output = finish(child, "cairn run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("approve {run} deploy")),
        "{stderr}"
    );
    assert!(!scratch.executions().contains_key("deploy"));
    assert_eq!(
        scratch.executions()["build"],
        1,
        "the rest of the run went on"
    );
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied");
    assert!(
        show["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not today")
    );
}

#[test]
fn an_approval_nobody_gives_expires_denied_and_the_command_never_runs() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({"approval": {"timeout": "2s"}}));
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    assert!(!scratch.executions().contains_key("deploy"));
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied");
    assert!(
        show["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let history = scratch.json(&["history", &run, "--json"]);
    let asked = &entering(&history, "deploy", "awaiting_approval")[0];
    let denied = &entering(&history, "deploy", "denied")[0];
    let expires = asked["detail"]["approvals"][0]["expires_at"]
        .as_str()
        .unwrap();
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap();
    // Event times are kept to the millisecond.
    let denied_at = time(denied["at"].as_str().unwrap()) + chrono::Duration::milliseconds(1);
    assert!(
        denied_at >= time(expires),
        "not before its expiry: {denied} {expires}"
    );
}

/// What `cairn approvals` lists once the (one) waiting request has expired.
fn listed_past_expiry(scratch: &Scratch) -> String {
    let waiting = scratch.json(&["approvals", "--json"]);
    let expires = waiting[0]["expires_at"].as_str().unwrap().to_owned();
    let expires = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
    wait_until("the request to expire", || chrono::Utc::now() > expires);
    let listed = scratch.cairn(&["approvals"]);
    String::from_utf8_lossy(&listed.stdout).into_owned()
}

#[test]
fn an_approval_sent_in_time_still_counts_once_the_request_expired() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({"approval": {"timeout": "1s"}}));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    let approve = scratch.cairn(&["approve", &run, "deploy", "--by", "ann"]);
    assert_eq!(approve.status.code(), Some(0));
    let listed = listed_past_expiry(&scratch);
    assert!(
        listed.contains("after it was ruled on") && listed.contains("approved by ann"),
        "{listed}"
    );
    assert!(!listed.contains("denied when"), "{listed}");
    assert_eq!(scratch.cairn(&["resume", &run]).status.code(), Some(0));
    assert!(scratch.executions().contains_key("deploy"));
}

#[test]
fn an_approval_sent_after_the_request_expired_is_refused_and_resume_denies_the_step() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({"approval": {"timeout": "1s"}}));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = listed_past_expiry(&scratch);
    assert!(
        listed.contains("expired at") && listed.contains("denied when an engine drives the run"),
        "{listed}"
    );
    let approve = scratch.cairn(&["approve", &run, "deploy", "--by", "ann"]);
    let refusal = String::from_utf8_lossy(&approve.stderr);
    assert_eq!(approve.status.code(), Some(2), "{refusal}");
    assert!(refusal.contains("expired at"), "{refusal}");
    // A denial too: the expiry came first and decides (probe 49 F3: it was acknowledged, and
    // listed as a ruling the expiry came after).
    let deny = scratch.cairn(&["deny", &run, "deploy", "--by", "ann", "--reason", "late"]);
    let refusal = String::from_utf8_lossy(&deny.stderr);
    assert_eq!(deny.status.code(), Some(2), "{refusal}");
    assert!(refusal.contains("expired at"), "{refusal}");
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(resumed.status.code(), Some(1));
    assert!(!scratch.executions().contains_key("deploy"));
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied");
}

/// A run whose one step, `deploy`, awaits approval under a policy with `extra`, its engine
/// killed, left until its deadline (3 s) has passed; the run's id.
fn awaiting_past_the_deadline(scratch: &Scratch, extra: Value) -> String {
    let (policy, _) = approval_setup(scratch, extra);
    let deploy = step("deploy", "echo ran >> \"$MARKS/deploy\"", scratch);
    let workflow = json!({"name": "late", "limits": {"timeout": "3s"}, "steps": [deploy]});
    let workflow = scratch.write("late.json", &workflow);
    let (mut child, run) = start_awaiting(scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the run's deadline to pass", || {
        let shown = scratch.cairn(&["show", &run]);
        String::from_utf8_lossy(&shown.stdout).contains("(passed: ")
    });
    run
}

/// A ruling after the run's deadline comes too late: refused, not acknowledged and then
/// dropped by the takeover that times the run out (probe 48 F5).
#[test]
fn an_approval_sent_after_the_runs_deadline_is_refused() {
    let scratch = Scratch::new();
    let run = awaiting_past_the_deadline(&scratch, json!({}));
    // Listed as past it, not as a request to decide (probe 49 F2).
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("the run's deadline passed at"), "{listed}");
    assert!(!listed.contains("expires in"), "{listed}");
    let approve = scratch.cairn(&["approve", &run, "deploy", "--by", "ann"]);
    let refusal = String::from_utf8_lossy(&approve.stderr);
    assert_eq!(approve.status.code(), Some(2), "{refusal}");
    assert!(refusal.contains("deadline passed at"), "{refusal}");
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(resumed.status.code(), Some(1));
    assert!(!scratch.executions().contains_key("deploy"));
}

/// A request that expired before the run's deadline is listed, and a ruling on it refused, as
/// expired, not as one the run's time-out ends: the engine that takes the run over denies it
/// first (probe 174 F1).
#[test]
fn a_request_that_expired_before_the_runs_deadline_is_listed_as_denied() {
    let scratch = Scratch::new();
    let run = awaiting_past_the_deadline(&scratch, json!({"approval": {"timeout": "1s"}}));
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("expired at") && listed.contains("denied when an engine drives the run"),
        "{listed}"
    );
    assert!(!listed.contains("deadline passed"), "{listed}");
    // A ruling is refused as too late for the request, not for the run.
    let approve = scratch.cairn(&["approve", &run, "deploy", "--by", "ann"]);
    let refusal = String::from_utf8_lossy(&approve.stderr);
    assert_eq!(approve.status.code(), Some(2), "{refusal}");
    assert!(refusal.contains("expired at"), "{refusal}");
    assert_eq!(scratch.cairn(&["resume", &run]).status.code(), Some(1));
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied", "{show}");
    assert_eq!(show["error_class"], "denied", "{show}");
}

#[test]
fn audit_mode_runs_everything_and_records_what_enforce_would_deny() {
    let scratch = Scratch::new();
    let keep = keep(&scratch);
    let policy = policy(
        &scratch,
        json!({"mode": "audit", "commands": {"deny": [["rm"]]}}),
    );
    let workflow = workflow(
        &scratch,
        json!([{"id": "clean", "executor": "process", "with": {"command": ["rm", path(&keep)]}}]),
    );
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 0);
    assert!(!keep.exists(), "audit mode ran it");
    let history = scratch.json(&["history", &run, "--json"]);
    let verdict = &entering(&history, "clean", "running")[0]["detail"]["verdict"];
    assert_eq!(
        (&verdict["decision"], &verdict["audit"]),
        (&json!("deny"), &json!(true))
    );
}

#[test]
fn a_bad_policy_is_refused_with_its_pointer_and_writes_no_run() {
    let scratch = Scratch::new();
    let workflow = workflow(&scratch, json!([step("a", "true", &scratch)]));
    let cases = [
        ("{\"commands\": ", "policy.json:1:"),
        ("{\"comands\": {}}", "did you mean `commands`"),
        (
            r#"{"rules": [{"id": "r", "effect": "deny", "reason": "x", "when": "action.("}]}"#,
            "/rules/0/when",
        ),
        (r#"{"approval": {"timeout": "soon"}}"#, "/approval/timeout"),
        (
            r#"{"commands": {"deny": [["rm"]]}, "tests": [{"action": {"executor": "process", "params": {"command": ["rm", "x"]}}, "expect": "allow"}]}"#,
            "/tests/0",
        ),
    ];
    for (text, expected) in cases {
        let policy = scratch.dir.path().join("policy.json");
        std::fs::write(&policy, text).unwrap();
        let output = scratch.cairn(&["run", path(&workflow), "--policy", path(&policy)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(!scratch.db().exists(), "{text}: no database written");
    }
}

#[test]
fn ld_preload_in_env_is_denied_under_an_env_allow_list() {
    let scratch = Scratch::new();
    let policy = policy(&scratch, json!({"env": ["MARKS", "LANG"]}));
    let mut preload = step("preload", "echo ran >> \"$MARKS/preload\"", &scratch);
    preload["with"]["env"]["LD_PRELOAD"] = json!("/tmp/evil.so");
    let workflow = workflow(&scratch, json!([preload]));
    scratch.run(&workflow, &["--policy", path(&policy)], 1);
    assert!(!scratch.executions().contains_key("preload"));
}

#[test]
fn a_negative_cost_an_agent_reports_does_not_lower_the_runs_spending() {
    let scratch = Scratch::new();
    let policy = policy(&scratch, json!({"budgets": {"cost_usd": 1.0}}));
    // An agent whose answer is its prompt: the first says it cost -$100, the second $50.
    let agent = |id: &str, answer: Value| {
        json!({"id": id, "executor": "agent", "with": {
            "cli": "custom", "prompt": answer.to_string(),
            "command": ["sh", "-c", "printf '%s' \"$1\"", "_", "{prompt}"]}})
    };
    let mut spends = agent("spends", json!({"result": "ok", "total_cost_usd": 50}));
    spends["needs"] = json!(["lies"]);
    let mut after = step("after", "echo ran >> \"$MARKS/after\"", &scratch);
    after["needs"] = json!(["spends"]);
    let lies = agent("lies", json!({"result": "ok", "total_cost_usd": -100}));
    let workflow = workflow(&scratch, json!([lies, spends, after]));
    let run = scratch.run(&workflow, &["--policy", path(&policy)], 1);
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["usage"]["cost_usd"], 50.0, "{show}");
    assert!(!scratch.executions().contains_key("after"));
    let after = &show["steps"][2];
    assert_eq!(after["state"], "denied", "{show}");
    assert!(after["error"].as_str().unwrap().contains("budget.cost_usd"));
}
