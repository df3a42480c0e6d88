//! The paused runs a recovery ends: those whose deadline has passed, and no others.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{batch, started};
use crate::state::{RunState, RunTransition, Transition};
use crate::store::Store;

/// A run of `store`, paused with the deadline `deadline`.
async fn run_with_deadline(store: &impl Store, deadline: Option<DateTime<Utc>>) -> Uuid {
    let run = started(store, "me").await;
    let pause = RunTransition {
        deadline,
        ..RunTransition::new(run, RunState::Running, RunState::Paused)
    };
    store
        .commit("me", batch([Transition::Run(pause)]))
        .await
        .unwrap();
    run
}

pub(super) async fn only_paused_runs_past_their_deadline_are_listed_oldest_first(
    store: &impl Store,
) {
    let now = Utc::now();
    let older = run_with_deadline(store, Some(now - Duration::seconds(1))).await;
    let _not_yet = run_with_deadline(store, Some(now + Duration::hours(1))).await;
    let _without = run_with_deadline(store, None).await;
    let _running = started(store, "me").await;
    let at_now = run_with_deadline(store, Some(now)).await;
    let listed = store.paused_past_deadline(now).await.unwrap();
    assert_eq!(listed, [older, at_now]);
}
