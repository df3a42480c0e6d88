//! A refused reply, kept in the detail of the event that ended its attempt, read back by
//! step ([`Store::replies`]): what `cairn show` prints beside the step's error.

use serde_json::{Value, json};

use super::{batch, started, step};
use crate::state::{StepState, StepTransition, Transition};
use crate::store::Store;

/// Step `a` of `run` moving `from` `to` at attempt `attempt`, with `error` and `detail`.
fn ended(
    run: uuid::Uuid,
    (from, to): (StepState, StepState),
    attempt: u32,
    error: &str,
    detail: Value,
) -> Transition {
    Transition::Step(StepTransition {
        attempt,
        error: Some(error.into()),
        detail: Some(detail),
        ..StepTransition::new(run, "a", from, to)
    })
}

pub(super) async fn the_last_reply_kept_of_each_step_is_read_back(store: &impl Store) {
    use StepState::{Failed, Ready, RetryWait, Running};
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    assert!(store.replies(run, &["a"]).await.unwrap().is_empty());

    let refused = "output_schema: no JSON";
    let first = ended(
        run,
        (Running, RetryWait),
        1,
        refused,
        json!({"reply": "one"}),
    );
    let again = ended(run, (RetryWait, Ready), 1, refused, json!({}));
    let start = |attempt| {
        Transition::Step(StepTransition {
            attempt,
            ..StepTransition::new(run, "a", Ready, Running)
        })
    };
    let tail = json!({"reply": "two", "stderr_tail": "thinking\n"});
    let last = ended(run, (Running, Failed), 2, refused, tail.clone());
    let theirs = ended(
        other,
        (Running, Failed),
        1,
        refused,
        json!({"reply": "theirs"}),
    );
    let moves = batch([
        step(run, "a", Ready, Running),
        first,
        again,
        start(2),
        last,
        step(other, "a", Ready, Running),
        theirs,
    ]);
    store.commit("me", moves).await.unwrap();

    let mut detail = tail;
    detail["error"] = json!(refused);
    assert_eq!(
        store.replies(run, &["a", "b"]).await.unwrap(),
        [("a".to_owned(), detail)],
        "the last one kept, with its error; a step without one left out"
    );
    assert!(store.replies(run, &["b"]).await.unwrap().is_empty());
    assert!(store.replies(run, &[]).await.unwrap().is_empty());
}
