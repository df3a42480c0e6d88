//! A step's output reads back exactly as the run held it, however it was held: as a value
//! or as its JSON text (a planner's plan, [`SharedJson::compact`]).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{batch, started, step};
use crate::expr::SharedJson;
use crate::state::{StepState, StepTransition, Transition};
use crate::store::Store;

/// How a run holds an output.
type Held = fn(Value) -> SharedJson;

/// Each kind of JSON value, committed with its step's success as a value, as its text, and
/// as its text read once, reads back equal through the step's record and
/// [`Store::outputs`] (what `cairn show` and a resume read).
pub(super) async fn a_step_output_reads_back_as_it_was_held(store: &impl Store) {
    let values = [
        json!("a \"quoted\" line\nwith ünïcode and \u{1F600}"),
        json!(-42),
        json!(18_446_744_073_709_551_615_u64),
        json!(2.5),
        json!(null),
        json!(true),
        json!([]),
        json!({"steps": [{"id": "x", "needs": ["y"], "with": {"n": {"deep": [1, {"k": null}]}}}]}),
    ];
    let read_once = |value: Value| {
        let shared = SharedJson::compact(value);
        shared.json();
        shared
    };
    let forms: [(&str, Held); 3] = [
        ("a value", SharedJson::new),
        ("its text", SharedJson::compact),
        ("its text, read once", read_once),
    ];
    for value in values {
        for (form, held) in forms {
            let run = started(store, "me").await;
            let succeeded = Transition::Step(StepTransition {
                attempt: 1,
                output: Some(Arc::new(held(value.clone()))),
                ..StepTransition::new(run, "a", StepState::Running, StepState::Succeeded)
            });
            let end = batch([
                step(run, "a", StepState::Ready, StepState::Running),
                succeeded,
            ]);
            store.commit("me", end).await.unwrap();
            // A record may read a `null` output as none (SQLite's does): the same to a run.
            let record = store.steps(run).await.unwrap().swap_remove(0);
            let output = record.output.unwrap_or_default();
            assert_eq!(output, value, "{form}: the record");
            let outputs = store.outputs(run, &["a"]).await.unwrap();
            assert_eq!(
                outputs,
                [("a".to_owned(), value.clone())],
                "{form}: outputs"
            );
        }
    }
}
