//! A refused output is kept with its failed attempt, its end bounded; other failures keep
//! none.

use serde_json::{Value, json};

use super::super::tests::{at, new_run};
use super::super::{Input, Ledger};
use crate::executor::{ErrorClass, Outcome};
use crate::state::{StepState, Transition};

/// An agent's reply, as the `agent` executor gives it.
fn reply(text: &str) -> Value {
    json!({"text": text, "raw": {}, "warnings": []})
}

/// `ask` must answer `{"files": …}`; `plan` plans.
fn ledger() -> Ledger {
    let mut ledger = new_run(json!({"name": "r", "steps": [
        {"id": "ask", "executor": "noop",
         "output_schema": {"type": "object", "required": ["files"]}},
        {"id": "plan", "executor": "noop", "planner": true}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger
}

/// The detail and the error of `step`'s failure, once `outcome` ends its attempt.
fn failure(ledger: &mut Ledger, step: usize, outcome: Outcome) -> (Option<Value>, String) {
    ledger
        .apply(Input::Completed { step, outcome }, at(1))
        .unwrap();
    let batch = ledger.take_batch();
    let failed = (batch.transitions().iter())
        .find_map(|transition| match transition {
            Transition::Step(moved) if moved.to == StepState::Failed => Some(moved.clone()),
            _ => None,
        })
        .expect("the step failed");
    (failed.detail, failed.error.unwrap_or_default())
}

#[test]
fn a_reply_that_fails_output_schema_is_kept_with_the_attempt_and_quoted_in_the_error() {
    let said = "I looked around. {\"file\": [\"src/main.rs\"]} is what I found.";
    let mut ledger = ledger();
    let (detail, error) = failure(&mut ledger, 0, Outcome::success(reply(said)));
    assert_eq!(detail, Some(json!({ "reply": said })));
    assert!(
        error.ends_with(&format!("; text: {said:?}")),
        "the error quotes the start of what the agent said: {error}"
    );
    // JSON that breaks the schema: the reply as the agent said it, not the JSON read.
    let said = "Here:\n```json\n{\"dirs\": []}\n```";
    let mut ledger = self::ledger();
    let (detail, error) = failure(&mut ledger, 0, Outcome::success(reply(said)));
    assert_eq!(detail, Some(json!({ "reply": said })));
    assert!(
        error.contains("\"files\" is a required property"),
        "{error}"
    );
}

#[test]
fn a_reply_that_is_no_plan_is_kept_with_the_attempt_with_the_stderr_tail() {
    for said in [
        "Nothing to do, sorry.",
        "{\"steps\": [{\"id\": \"a\", \"executor\": \"nope\"}]}",
    ] {
        let mut ledger = ledger();
        let mut outcome = Outcome::success(reply(said));
        outcome.log_tail = Some("thinking\n".into());
        let (detail, error) = failure(&mut ledger, 1, outcome);
        let kept = json!({ "reply": said, "stderr_tail": "thinking\n" });
        assert_eq!(detail, Some(kept), "{error}");
        assert!(error.starts_with("invalid_plan: "), "{error}");
    }
    // A process's output that is no plan is kept as its JSON.
    let mut ledger = ledger();
    let (detail, _) = failure(&mut ledger, 1, Outcome::success(json!({"step": 1})));
    assert_eq!(detail, Some(json!({ "reply": "{\"step\":1}" })));
}

#[test]
fn a_long_reply_keeps_its_end_and_other_failures_keep_none() {
    let said = format!("{}{}", "é".repeat(40_000), "x".repeat(10));
    let mut ledger = ledger();
    let (detail, error) = failure(&mut ledger, 0, Outcome::success(reply(&said)));
    let kept = detail.unwrap()["reply"].as_str().unwrap().to_owned();
    assert!(
        kept.starts_with('…') && kept.ends_with("éxxxxxxxxxx"),
        "{kept:.40}"
    );
    assert!(kept.len() <= super::REPLY_TAIL + '…'.len_utf8());
    assert!(kept.len() > super::REPLY_TAIL - 2, "{}", kept.len());
    assert!(error.len() < 1000, "{} bytes: {error:.300}", error.len());
    let mut ledger = self::ledger();
    let outcome = Outcome::failure(ErrorClass::ExitCode, "`claude` exited with code 1");
    assert_eq!(failure(&mut ledger, 0, outcome).0, None);
}
