//! A run's `limits.timeout` through the library, with steps that end as soon as they start
//! (`noop`, `function`): a deadline is seen before anything new starts, even when an
//! attempt's end is ready at the same moment; and through the binary, against a cancel.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn::engine::store::MemoryStore;
use cairn::engine::{Engine, ErrorClass, RunState, StepState};
use cairn::executors::{FunctionExecutor, builtin};
use serde_json::json;

use super::approvals_redriven::{awaiting_after_a_kill, exits};
use super::control::{held, spawn, step, wait_for_file};
use super::scratch::{Scratch, signal, wait_until};
use crate::finish;

/// How long the first step holds its thread: longer than the run's `limits.timeout`, so
/// that the deadline has passed when it ends, whatever the machine's speed.
const OVERRUN: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_deadline_passed_while_a_step_overran_it_starts_no_step_after_it() {
    let called = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::clone(&called);
    let functions = FunctionExecutor::new()
        .register("overrun", |_input, _action| async move {
            // Holds the thread, not only the task: the step's end is ready the moment the
            // engine looks again, and the deadline it passed with it.
            std::thread::sleep(OVERRUN);
            Ok(json!("late"))
        })
        .register("record", move |_input, action| {
            calls.lock().unwrap().push(action.step_id);
            async move { Ok(json!(1)) }
        });
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executors(builtin())
        .executor("function", Arc::new(functions))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "late", "limits": {"timeout": "100ms"}, "steps": [{"pipeline": [
        {"id": "overrun", "executor": "function", "with": {"function": "overrun"}},
        {"id": "noop", "executor": "noop"},
        {"id": "function", "executor": "function", "with": {"function": "record"}}
    ]}]});
    let plan = engine.load_str(&workflow.to_string(), "late.json").unwrap();
    let run = engine.start(plan, json!({})).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(60), run.wait())
        .await
        .expect("the run ends")
        .unwrap();
    assert_eq!(report.state, RunState::Failed, "{report:?}");
    assert_eq!(report.error_class, Some(ErrorClass::Timeout));
    let view = engine.view(&report.id.to_string()).await.unwrap();
    let after: Vec<(&str, StepState, u32)> = (view.steps[1..].iter())
        .map(|step| (step.id.as_str(), step.state, step.attempt))
        .collect();
    assert_eq!(
        after,
        [
            ("noop", StepState::Cancelled, 0),
            ("function", StepState::Cancelled, 0)
        ],
        "nothing started after the deadline"
    );
    assert!(called.lock().unwrap().is_empty());
}

/// A cancel sent before the run's deadline wins over it though the engine driving the run
/// reads it after (probe 39 F6: the run failed "timed out", the cancel lost); one sent after
/// the deadline does not, as when no engine drives the run (probe 42 F2). The engine is
/// stopped (SIGSTOP) from before the cancel until past the deadline; or killed then, and the
/// run resumed past it (probe 47 F1: the takeover timed the run out, the cancel lost and
/// missing from its history).
#[test]
fn a_cancel_sent_before_the_deadline_ends_the_run_cancelled_though_read_after_it() {
    let cases = [
        (true, false, "cancelled"),
        (false, false, "failed"),
        (true, true, "cancelled"),
    ];
    for (sent_before, dies, ended) in cases {
        let scratch = Scratch::new();
        let gate = held(&scratch, "wait");
        let script = format!("touch {gate:?}; sleep 600");
        let wait = step(&scratch, "wait", &script, json!({}));
        let limits = json!({"timeout": "4s"});
        let workflow = json!({"name": "late", "limits": limits, "steps": [wait]});
        let workflow = scratch.write("wf.json", &workflow);
        let mut child = spawn(&scratch, &workflow);
        let run = wait_for_file(&scratch, &mut child, &gate);
        signal(&child, "-STOP");
        let created = scratch.json(&["runs", "--json"])[0]["created_at"].clone();
        let created = chrono::DateTime::parse_from_rfc3339(created.as_str().unwrap()).unwrap();
        let deadline = created + chrono::Duration::seconds(4);
        let past_deadline = || wait_until("the deadline to pass", || chrono::Utc::now() > deadline);
        if !sent_before {
            past_deadline();
        }
        let cancel = scratch.cairn(&["cancel", &run, "--reason", "enough"]);
        past_deadline();
        assert_eq!(cancel.status.code(), Some(0), "{cancel:?}");
        let output = if dies {
            signal(&child, "-KILL");
            child.wait().unwrap();
            scratch.cairn(&["resume", &run])
        } else {
            signal(&child, "-CONT");
            finish(child, "cairn run")
        };
        let show = scratch.json(&["show", &run, "--json"]);
        assert_eq!(show["state"], ended, "{show} {output:?}");
        assert_eq!(show["steps"][0]["state"], "cancelled", "{show}");
        let history = scratch.cairn(&["history", &run]);
        let said = String::from_utf8_lossy(&history.stdout).contains("enough");
        assert_eq!(said, sent_before, "the cancel's reason in the history");
    }
}

/// Moves the expiry of item `?1`'s approval request to `?2` and every other request's to
/// `?3` (milliseconds since the epoch).
const EXPIRE_ITEM: &str = "UPDATE approvals SET expires_at = CASE item WHEN ?1 THEN ?2 ELSE ?3 END";

/// Moves the time every command was sent to `?1`: sent before an expiry moved after it.
const SENT_AT: &str = "UPDATE commands SET created_at = ?1";

/// Runs `sql` with `params` on the test's database while no engine drives its run: the
/// stored times moved instead of waited for.
fn stored(scratch: &Scratch, sql: &str, params: impl rusqlite::Params) {
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    db.execute(sql, params).unwrap();
}

/// A `for_each` step's item request that expired before the run's deadline denies the step
/// when an engine takes the run over, before the time-out: the listing says so of every
/// item, not that the run times out, and a ruling on the expired item names it (probe 179
/// F3). The stored times are moved into the past while no engine drives the run.
#[test]
fn an_item_request_expired_before_the_deadline_denies_its_step_as_listed() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11, 12]));
    let now = chrono::Utc::now().timestamp_millis();
    let deadline = now - 600_000;
    stored(&scratch, "UPDATE runs SET deadline_at = ?1", [deadline]);
    stored(
        &scratch,
        EXPIRE_ITEM,
        [0, deadline - 600_000, now + 1_800_000],
    );
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let lines: Vec<&str> = (listed.lines())
        .filter(|line| line.contains(" fe --item "))
        .collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines[0].contains("expired at") && lines[0].contains("denied when an engine"));
    for line in &lines[1..] {
        assert!(
            line.contains("its step is denied when an engine drives the run"),
            "{line}"
        );
    }
    assert!(!listed.contains("times out"), "{listed}");
    let refusal = exits(&scratch, &["approve", &run, "fe", "--item", "0"], 2);
    assert!(
        refusal.contains("request of item 0 of step `fe` expired"),
        "{refusal}"
    );
    assert_eq!(scratch.cairn(&["resume", &run]).status.code(), Some(1));
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["error_class"], "denied", "{show}");
}

/// With no deadline, a `for_each` item request that expired unruled denies its step too:
/// the other items are listed so, one approved in time included, and a ruling on another
/// item is refused (probe 181 F2, F3: listed as expiring later, and the ruling taken).
#[test]
fn an_expired_item_request_denies_its_step_as_listed_and_refuses_other_rulings() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11, 12]));
    exits(
        &scratch,
        &["approve", &run, "fe", "--item", "0", "--by", "ann"],
        0,
    );
    let now = chrono::Utc::now().timestamp_millis();
    stored(&scratch, EXPIRE_ITEM, [1, now - 1_000, now + 1_800_000]);
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let line = |item: &str| {
        (listed.lines())
            .find(|line| line.contains(&format!(" fe --item {item}:")))
            .unwrap_or_default()
            .to_owned()
    };
    for item in ["0", "2"] {
        let line = line(item);
        assert!(
            line.contains(
                "its step is denied when an engine drives the run: a request of it expired at"
            ),
            "{line}"
        );
        assert!(!line.contains("deadline"), "{line}");
    }
    assert!(
        line("1").contains("denied when an engine drives the run"),
        "{listed}"
    );
    let refusal = exits(&scratch, &["approve", &run, "fe", "--item", "2"], 2);
    assert!(
        refusal.contains("item 1 of step `fe` expired")
            && refusal.contains("a denied item denies its step"),
        "{refusal}"
    );
    assert_eq!(scratch.cairn(&["resume", &run]).status.code(), Some(1));
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["error_class"], "denied", "{show}");
}

/// An item approved before its request expired keeps its approval: a ruling on the whole
/// step is taken after that expiry, and the run succeeds (probe 183 F1: it was refused as
/// if the expiry had denied the step). The ruling's time is moved before the expiry.
#[test]
fn an_item_approved_in_time_leaves_a_ruling_on_its_step_possible_after_its_expiry() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11]));
    exits(
        &scratch,
        &["approve", &run, "fe", "--item", "0", "--by", "ann"],
        0,
    );
    let now = chrono::Utc::now().timestamp_millis();
    stored(&scratch, SENT_AT, [now - 2_000]);
    stored(&scratch, EXPIRE_ITEM, [0, now - 1_000, now + 1_800_000]);
    exits(&scratch, &["approve", &run, "fe", "--by", "bob"], 0);
    assert_eq!(scratch.cairn(&["resume", &run]).status.code(), Some(0));
}

/// A denial sent denies the step before a later expiry of another item: the listing does
/// not name the expiry (probe 183 F2); and a ruling sent at its request's expiry comes after
/// it, as the engine expires a request first (probe 183 F3: it counted as in time).
#[test]
fn a_pending_denial_and_a_ruling_sent_at_the_expiry_are_told_as_the_engine_acts() {
    let scratch = Scratch::new();
    let run = awaiting_after_a_kill(&scratch, json!([10, 11, 12]));
    exits(
        &scratch,
        &["deny", &run, "fe", "--item", "0", "--reason", "no"],
        0,
    );
    let now = chrono::Utc::now().timestamp_millis();
    stored(&scratch, SENT_AT, [now - 2_000]);
    stored(&scratch, EXPIRE_ITEM, [1, now - 1_000, now + 1_800_000]);
    let listed = scratch.cairn(&["approvals"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(!listed.contains("a request of it expired"), "{listed}");
    // The denial at item 0's expiry, to the millisecond: after it.
    let item_0 = "UPDATE approvals SET expires_at = ?1 WHERE item = 0";
    stored(&scratch, item_0, [now - 2_000]);
    let refusal = exits(&scratch, &["approve", &run, "fe", "--item", "2"], 2);
    assert!(refusal.contains("item 0 of step `fe` expired"), "{refusal}");
}
