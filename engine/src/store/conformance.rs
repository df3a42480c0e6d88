//! The conformance suite every [`Store`] passes: call [`check`] from a test of a store.
//!
//! Built with the crate's tests and with the `conformance` feature, so that a store in
//! another crate (PostgreSQL, later) is held to exactly the same semantics.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::{NewRun, Standing, StepRecord, Store};
use crate::command::{Command, Ruling};
use crate::error::Error;
use crate::event::EventKind;
use crate::expr::SharedJson;
use crate::lease::{LeaseAttempt, LeaseHolder};
use crate::report::{RunFilter, RunSummary};
use crate::state::{Batch, RunState, RunTransition, StepState, StepTransition, Transition};

mod commands;
mod given_back;
mod grown;
mod holds;
mod named;
mod output_cap;
mod paused;
mod redrive;
mod replies;
mod running;
mod stalls;
mod step_output;

const TTL: Duration = Duration::from_secs(60);

/// Runs every check, each on a fresh store from `make`. Panics on the first violation.
pub async fn check<S: Store, F: Future<Output = S>>(mut make: impl FnMut() -> F) {
    transitions_commit_with_their_events_in_order(&make().await).await;
    a_stale_transition_commits_nothing(&make().await).await;
    an_illegal_transition_cannot_be_committed(&make().await).await;
    only_the_lease_owner_commits(&make().await).await;
    leases_are_exclusive_until_void_or_released(&make().await).await;
    a_lease_tells_how_the_run_stood_when_taken(&make().await).await;
    ending_a_run_releases_its_lease(&make().await).await;
    given_back::a_lease_is_given_back_as_found_until_its_owner_commits(&make().await).await;
    a_run_output_reads_back_whatever_its_size(&make().await).await;
    step_output::a_step_output_reads_back_as_it_was_held(&make().await).await;
    named::named_steps_read_back_whole_in_plan_order(&make().await).await;
    a_run_id_is_created_once(&make().await).await;
    runs_are_found_by_id_or_unique_prefix(&make().await).await;
    listings_are_ordered(&make().await).await;
    paused::only_paused_runs_past_their_deadline_are_listed_oldest_first(&make().await).await;
    commands::commands_and_approvals_are_kept_until_handled(&make().await).await;
    commands::a_runs_waiting_requests_are_read_by_run(&make().await).await;
    commands::a_pause_or_cancel_is_handled_by_the_runs_move_that_carries_it_out(&make().await)
        .await;
    commands::a_start_reports_a_pause_or_cancel_asked_before_it(&make().await).await;
    commands::a_ruling_is_recorded_only_while_it_decides_something(&make().await).await;
    commands::a_ruling_is_not_recorded_once_an_expiry_decides_its_step(&make().await).await;
    commands::a_pause_or_cancel_is_recorded_only_while_it_can_take_effect(&make().await).await;
    running::progress_is_kept_until_the_next_attempt(&make().await).await;
    the_attempts_cut_off_are_kept_with_the_step(&make().await).await;
    a_start_of_items_counts_each_item(&make().await).await;
    a_batch_without_transitions_is_fenced_too(&make().await).await;
    grown::plans_commit_their_steps_with_the_planners_success(&make().await).await;
    grown::a_superseded_plan_takes_its_steps_out_of_the_run(&make().await).await;
    grown::items_commit_on_their_own_and_only_for_the_lease_owner(&make().await).await;
    grown::items_are_counted_by_step_and_state(&make().await).await;
    redrive::a_redrive_is_kept_until_the_run_moves(&make().await).await;
    redrive::a_redrive_withdraws_the_approval_requests_of_the_steps_it_sends_back(&make().await)
        .await;
    output_cap::a_runs_output_cap_is_kept_until_replaced(&make().await).await;
    stalls::a_stall_is_read_back_while_its_step_runs(&make().await).await;
    replies::the_last_reply_kept_of_each_step_is_read_back(&make().await).await;
    holds::a_hold_is_read_back_while_it_is_its_steps_last_event(&make().await).await;
    running::a_running_steps_usage_is_kept_and_a_later_transition_replaces_it(&make().await).await;
}

/// A `running` event is a start per verdict it records (one per `for_each` item it started):
/// what rate limits count after a restart.
async fn a_start_of_items_counts_each_item(store: &impl Store) {
    let run = started(store, "me").await;
    let items = Transition::Step(StepTransition {
        attempt: 1,
        detail: Some(json!({"verdicts": [{}, {}, {}]})),
        ..StepTransition::new(run, "a", StepState::Ready, StepState::Running)
    });
    store.commit("me", batch([items])).await.unwrap();
    let starts = store
        .starts_since(run, chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    let steps: Vec<&str> = starts.iter().map(|(step, _)| step.as_str()).collect();
    assert_eq!(steps, ["a", "a", "a"], "three items started");
}

/// Progress, approvals and handled commands are writes to a run like its transitions: a
/// committer that does not hold the run's lease writes none of them.
async fn a_batch_without_transitions_is_fenced_too(store: &impl Store) {
    let run = started(store, "me").await;
    let at = chrono::DateTime::from_timestamp_millis(1_800_000_000_123).unwrap();
    let mut progress = Batch::new();
    progress.record_progress(run, "a", at);
    let refused = store.commit("intruder", progress).await.unwrap_err();
    assert!(
        matches!(refused, Error::LeaseLost(r) if r == run),
        "{refused:?}"
    );
    assert_eq!(store.steps(run).await.unwrap()[0].progress_at, None);
    let ruling = Ruling {
        step: "a".into(),
        item: None,
        by: "ann".into(),
        reason: None,
    };
    store
        .send_command(run, &Command::Approve(ruling))
        .await
        .unwrap();
    let pending = store.pending_commands(run).await.unwrap();
    let mut handled = Batch::new();
    handled.mark_handled(run, pending[0].id);
    let refused = store.commit("intruder", handled).await.unwrap_err();
    assert!(
        matches!(refused, Error::LeaseLost(r) if r == run),
        "{refused:?}"
    );
    assert_eq!(
        store.pending_commands(run).await.unwrap().len(),
        1,
        "still pending"
    );
}

/// How many of a step's attempts were cut off is stored with each transition, as its
/// attempt number is: what `retry.max_attempts` counts after a restart.
async fn the_attempts_cut_off_are_kept_with_the_step(store: &impl Store) {
    let run = started(store, "me").await;
    let moved = |from, to, attempt, interrupted| {
        Transition::Step(StepTransition {
            attempt,
            interrupted,
            ..StepTransition::new(run, "a", from, to)
        })
    };
    let (ready, running) = (StepState::Ready, StepState::Running);
    let steps = [
        moved(ready, running, 1, 0),
        moved(running, ready, 1, 1),
        moved(ready, running, 2, 1),
    ];
    for transition in steps {
        store.commit("me", batch([transition])).await.unwrap();
    }
    let stored = &store.steps(run).await.unwrap()[0];
    assert_eq!((stored.attempt, stored.interrupted), (2, 1));
}

fn holder(name: &str) -> LeaseHolder {
    LeaseHolder {
        owner: name.to_owned(),
        host: "conformance".into(),
        pid: 1,
        pid_start: 1,
    }
}

fn new_run(id: Uuid) -> NewRun {
    NewRun {
        id,
        workflow_name: "demo".into(),
        definition: "{}".into(),
        input: r#"{"n": 1}"#.to_owned().into(),
        guard: Some(r#"{"default": "deny"}"#.into()),
        steps: vec!["a".into(), "b".into()].into(),
        max_output_bytes: 4_000_000,
        cwd: Some(PathBuf::from("/work/the run's")),
    }
}

/// A step's transition of `run`, its first attempt.
pub(crate) fn step(run: Uuid, id: &str, from: StepState, to: StepState) -> Transition {
    Transition::Step(StepTransition {
        attempt: 1,
        ..StepTransition::new(run, id, from, to)
    })
}

/// A run's transition.
pub(crate) fn run_change(run: Uuid, from: RunState, to: RunState) -> Transition {
    Transition::Run(RunTransition::new(run, from, to))
}

/// A batch of legal transitions.
pub(crate) fn batch(transitions: impl IntoIterator<Item = Transition>) -> Batch {
    let mut batch = Batch::new();
    for transition in transitions {
        batch.push(transition).expect("a legal transition");
    }
    batch
}

/// Creates a running run leased to `owner`, with step `a` ready.
pub(crate) async fn started(store: &impl Store, owner: &str) -> Uuid {
    let run = Uuid::now_v7();
    let first = batch([
        run_change(run, RunState::Pending, RunState::Running),
        step(run, "a", StepState::Pending, StepState::Ready),
    ]);
    store
        .create_run(&new_run(run), &holder(owner), TTL, first)
        .await
        .expect("create a run");
    run
}

async fn transitions_commit_with_their_events_in_order(store: &impl Store) {
    let run = Uuid::now_v7();
    let first = batch([
        run_change(run, RunState::Pending, RunState::Running),
        step(run, "a", StepState::Pending, StepState::Ready),
        step(run, "a", StepState::Ready, StepState::Running),
    ]);
    let created = store
        .create_run(&new_run(run), &holder("me"), TTL, first)
        .await
        .unwrap();
    assert_eq!(created.len(), 4, "the creation and three transitions");
    assert_eq!(created[0].kind, EventKind::Created);
    let succeeded = Transition::Step(StepTransition {
        output: Some(Arc::new(SharedJson::new(json!(42)))),
        detail: Some(json!({"note": "kept"})),
        ..StepTransition::new(run, "a", StepState::Running, StepState::Succeeded)
    });
    let done = store.commit("me", batch([succeeded])).await.unwrap().events;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].seq, 5);
    assert_eq!(done[0].detail, Some(json!({"note": "kept"})));

    let steps = store.steps(run).await.unwrap();
    let ids: Vec<&str> = steps.iter().map(|step| step.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "steps in plan order");
    assert_eq!(steps[0].state, StepState::Succeeded);
    assert_eq!(steps[0].output, Some(json!(42)));
    assert_eq!(steps[1].state, StepState::Pending);
    assert_eq!(
        store.step(run, "a").await.unwrap().as_ref(),
        Some(&steps[0])
    );
    assert_eq!(
        store.step(run, "b").await.unwrap().as_ref(),
        Some(&steps[1])
    );
    assert_eq!(store.step(run, "c").await.unwrap(), None, "no such step");
    let without: Vec<StepRecord> = (steps.iter().cloned())
        .map(|step| StepRecord {
            output: None,
            ..step
        })
        .collect();
    assert_eq!(store.steps_without_outputs(run).await.unwrap(), without);
    assert_eq!(
        store.outputs(run, &["a", "b", "c"]).await.unwrap(),
        [("a".to_owned(), json!(42))],
        "only the steps named that have an output"
    );
    assert!(store.outputs(run, &[]).await.unwrap().is_empty());

    let history = store.history(run).await.unwrap();
    let mut expected = created;
    expected.extend(done);
    assert_eq!(history, expected, "history is exactly the committed events");
    let seqs: Vec<i64> = history.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let mut pages = Vec::new();
    for after in [0, 2, 4, 5] {
        pages.push(store.history_page(run, after, 2).await.unwrap());
    }
    assert_eq!(pages.concat(), history, "pages of two make up the history");
    assert_eq!(
        pages.last(),
        Some(&Vec::new()),
        "nothing after the last event"
    );
    let record = store.find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.state, RunState::Running);
    assert_eq!(store.input(run).await.unwrap(), json!({"n": 1}));
    assert_eq!(store.definition(run).await.unwrap(), "{}");
    let unknown = store.input(Uuid::now_v7()).await.unwrap_err();
    assert!(matches!(unknown, Error::UnknownRun(_)), "{unknown}");
    assert_eq!(record.guard.as_deref(), Some(r#"{"default": "deny"}"#));
    let started_in = Some(PathBuf::from("/work/the run's"));
    assert_eq!(
        record.cwd, started_in,
        "the directory the run was started in"
    );
    assert_eq!(record.updated_at, history[4].at);
    let since = store.starts_since(run, history[0].at).await.unwrap();
    assert_eq!(
        since,
        [("a".to_owned(), history[3].at)],
        "one start, of `a`"
    );
}

async fn a_stale_transition_commits_nothing(store: &impl Store) {
    let run = started(store, "me").await;
    let before = store.history(run).await.unwrap();
    // `b` is legal by the table but not from its stored state (pending).
    let stale = batch([
        step(run, "a", StepState::Ready, StepState::Running),
        step(run, "b", StepState::Ready, StepState::Running),
    ]);
    let error = store.commit("me", stale).await.unwrap_err();
    assert!(
        matches!(&error, Error::Conflict { what, .. } if what.contains('b')),
        "{error:?}"
    );
    assert_eq!(store.history(run).await.unwrap(), before);
    assert_eq!(store.steps(run).await.unwrap()[0].state, StepState::Ready);
    let stale_run = batch([run_change(run, RunState::Paused, RunState::Running)]);
    let error = store.commit("me", stale_run).await.unwrap_err();
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    // A later good batch still commits, numbered right after the last committed event.
    let good = batch([step(run, "a", StepState::Ready, StepState::Running)]);
    let events = store.commit("me", good).await.unwrap().events;
    assert_eq!(events[0].seq, before.len() as i64 + 1);
}

async fn an_illegal_transition_cannot_be_committed(store: &impl Store) {
    let run = started(store, "me").await;
    let mut illegal = Batch::new();
    assert!(
        illegal
            .push(step(run, "b", StepState::Pending, StepState::Succeeded))
            .is_err()
    );
    illegal
        .push(step(run, "a", StepState::Ready, StepState::Running))
        .unwrap();
    assert!(
        illegal
            .push(step(run, "a", StepState::Succeeded, StepState::Running))
            .is_err()
    );
    assert!(
        illegal
            .push(step(run, "a", StepState::Ready, StepState::Running))
            .is_err(),
        "a transition must leave the state the batch left"
    );
    store.commit("me", illegal).await.unwrap();
    let states: Vec<StepState> = store
        .steps(run)
        .await
        .unwrap()
        .iter()
        .map(|step| step.state)
        .collect();
    assert_eq!(states, [StepState::Running, StepState::Pending]);
}

async fn only_the_lease_owner_commits(store: &impl Store) {
    let run = started(store, "me").await;
    let before = store.history(run).await.unwrap();
    let next = batch([step(run, "a", StepState::Ready, StepState::Running)]);
    let error = store
        .commit("someone else", next.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::LeaseLost(id) if id == run),
        "{error:?}"
    );
    assert_eq!(store.history(run).await.unwrap(), before);
    store.release_lease(run, "me").await.unwrap();
    let error = store.commit("me", next).await.unwrap_err();
    assert!(matches!(error, Error::LeaseLost(_)), "{error:?}");
    assert_eq!(store.history(run).await.unwrap(), before);
}

async fn leases_are_exclusive_until_void_or_released(store: &impl Store) {
    let run = started(store, "first").await;
    let never_void = |_: &LeaseHolder| false;
    match store
        .acquire_lease(run, &holder("second"), TTL, &never_void)
        .await
        .unwrap()
    {
        LeaseAttempt::Held(held) => assert_eq!(held.holder, holder("first")),
        other => panic!("expected Held, got {other:?}"),
    }
    assert!(store.renew_lease(run, "first", TTL).await.unwrap());
    assert!(!store.renew_lease(run, "second", TTL).await.unwrap());
    // A holder known to be gone loses the lease at once.
    let void = |gone: &LeaseHolder| gone.owner == "first";
    assert_eq!(
        store
            .acquire_lease(run, &holder("second"), TTL, &void)
            .await
            .unwrap(),
        LeaseAttempt::Acquired
    );
    assert!(!store.renew_lease(run, "first", TTL).await.unwrap());
    // The former holder's release does not touch the new holder's lease.
    store.release_lease(run, "first").await.unwrap();
    assert!(store.renew_lease(run, "second", TTL).await.unwrap());
    store.release_lease(run, "second").await.unwrap();
    assert_eq!(
        store
            .acquire_lease(run, &holder("second"), TTL, &never_void)
            .await
            .unwrap(),
        LeaseAttempt::Acquired
    );
    // A holder that took a run over numbers its events after the run's last one.
    let before = store.history(run).await.unwrap().len() as i64;
    let next = batch([step(run, "a", StepState::Ready, StepState::Running)]);
    let events = store.commit("second", next).await.unwrap().events;
    assert_eq!(events[0].seq, before + 1);
    assert_eq!(store.history(run).await.unwrap().len() as i64, before + 1);
    store.release_lease(run, "second").await.unwrap();
    assert_eq!(
        store
            .acquire_lease(run, &holder("third"), TTL, &never_void)
            .await
            .unwrap(),
        LeaseAttempt::Acquired
    );
    // An expired lease is free too.
    assert!(
        store
            .renew_lease(run, "third", Duration::ZERO)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .acquire_lease(run, &holder("fourth"), TTL, &never_void)
            .await
            .unwrap(),
        LeaseAttempt::Acquired
    );
    let unknown = store
        .acquire_lease(Uuid::now_v7(), &holder("x"), TTL, &never_void)
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::UnknownRun(_)), "{unknown:?}");
}

/// A run's output is its sinks' outputs: from `null` to hundreds of megabytes (the SQLite
/// store writes a big one in place).
/// Taking a lease tells the run's state and last change as its record does then: what a
/// takeover that read the record before the lease checks it against (another process may
/// have paused the run in between).
async fn a_lease_tells_how_the_run_stood_when_taken(store: &impl Store) {
    let run = started(store, "first").await;
    let (second, never_void) = (holder("second"), |_: &LeaseHolder| false);
    let held = store
        .lease_run(run, &second, TTL, &never_void)
        .await
        .unwrap();
    assert!(
        matches!(&held, Err(lease) if lease.holder == holder("first")),
        "{held:?}"
    );
    let paused = batch([run_change(run, RunState::Running, RunState::Paused)]);
    store.commit("first", paused).await.unwrap();
    store.release_lease(run, "first").await.unwrap();
    let record = store.find_run(&run.to_string()).await.unwrap();
    let taken = store.lease_run(run, &second, TTL, &never_void).await;
    let standing = Standing {
        state: RunState::Paused,
        updated_at: record.updated_at,
    };
    assert_eq!(taken.unwrap(), Ok(standing));
}

async fn a_run_output_reads_back_whatever_its_size(store: &impl Store) {
    for output in [
        json!({"a": 1}),
        json!({"a": "x".repeat(200_000), "b": [1, 2]}),
    ] {
        let run = started(store, "me").await;
        let end = batch([
            step(run, "a", StepState::Ready, StepState::Skipped),
            step(run, "b", StepState::Pending, StepState::Skipped),
            Transition::Run(RunTransition {
                output: Some(output.clone()),
                ..RunTransition::new(run, RunState::Running, RunState::Succeeded)
            }),
        ]);
        store.commit("me", end).await.unwrap();
        let record = store.find_run(&run.to_string()).await.unwrap();
        assert_eq!(record.output, Some(output));
    }
}

async fn ending_a_run_releases_its_lease(store: &impl Store) {
    let run = started(store, "me").await;
    let lease = async || store.find_run(&run.to_string()).await.unwrap().lease;
    let held = lease().await.expect("the creator holds the lease");
    assert_eq!(held.holder, holder("me"));
    assert!(store.renew_lease(run, "me", 2 * TTL).await.unwrap());
    let renewed = lease().await.expect("still held");
    assert!(renewed.expires > held.expires, "{renewed:?} after {held:?}");
    let end = batch([
        step(run, "a", StepState::Ready, StepState::Cancelled),
        step(run, "b", StepState::Pending, StepState::Cancelled),
        run_change(run, RunState::Running, RunState::Cancelled),
    ]);
    store.commit("me", end).await.unwrap();
    assert!(!store.renew_lease(run, "me", TTL).await.unwrap());
    assert_eq!(lease().await, None, "an ended run's lease is released");
    assert_eq!(
        store.find_run(&run.to_string()).await.unwrap().state,
        RunState::Cancelled
    );
    assert!(!store.unfinished_runs().await.unwrap().contains(&run));
}

async fn a_run_id_is_created_once(store: &impl Store) {
    let run = started(store, "me").await;
    let before = store.history(run).await.unwrap();
    let again = store
        .create_run(&new_run(run), &holder("other"), TTL, Batch::new())
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::RunExists(id) if id == run),
        "{again:?}"
    );
    assert_eq!(store.history(run).await.unwrap(), before);
    assert!(store.renew_lease(run, "me", TTL).await.unwrap());
}

async fn runs_are_found_by_id_or_unique_prefix(store: &impl Store) {
    let ids = [
        Uuid::from_u128(0x1234_5678_0000_7000_8000_0000_0000_0001),
        Uuid::from_u128(0x1234_5678_0000_7000_8000_0000_0000_0002),
        Uuid::from_u128(0xabcd_0000_0000_7000_8000_0000_0000_0001),
    ];
    for id in ids {
        store
            .create_run(&new_run(id), &holder("me"), TTL, Batch::new())
            .await
            .unwrap();
    }
    assert_eq!(store.find_run("abcd").await.unwrap().id, ids[2]);
    // As a user may type or paste them: in upper case, a whole id without its dashes.
    assert_eq!(store.find_run("ABCD").await.unwrap().id, ids[2]);
    let bare = ids[1].simple().to_string().to_uppercase();
    assert_eq!(store.find_run(&bare).await.unwrap().id, ids[1]);
    assert_eq!(
        store.find_run(&ids[1].to_string()).await.unwrap().id,
        ids[1]
    );
    let ambiguous = store.find_run("12345678").await.unwrap_err();
    assert!(
        matches!(&ambiguous, Error::AmbiguousRun { matches, more: false, .. } if matches.len() == 2),
        "{ambiguous:?}"
    );
    assert!(!ambiguous.to_string().contains("and more"), "{ambiguous}");
    // Past three matches, the error names three and says there are more.
    for last in [3, 4] {
        let id = Uuid::from_u128(0x1234_5678_0000_7000_8000_0000_0000_0000 + last);
        (store.create_run(&new_run(id), &holder("me"), TTL, Batch::new()))
            .await
            .unwrap();
    }
    let ambiguous = store.find_run("12345678").await.unwrap_err();
    assert!(
        matches!(&ambiguous, Error::AmbiguousRun { matches, more: true, .. } if matches.len() == 3),
        "{ambiguous:?}"
    );
    assert!(ambiguous.to_string().ends_with(" and more"), "{ambiguous}");
    let unknown = store.find_run("ffff").await.unwrap_err();
    assert!(matches!(unknown, Error::UnknownRun(_)), "{unknown:?}");
    assert_eq!(unknown.to_string(), "no run with id ffff");
    // As given, not as looked up (lowercased): probe 37 F7.
    let upper = store.find_run("FFFF").await.unwrap_err();
    assert_eq!(upper.to_string(), "no run with id FFFF");
    let short = store.find_run("abc").await.unwrap_err();
    assert!(matches!(short, Error::UnknownRun(_)), "{short:?}");
    let hint = "no run with id abc (a prefix of a run id needs at least 4 characters)";
    assert_eq!(short.to_string(), hint);
    let blank = store.find_run(" ffff").await.unwrap_err();
    let hint = "no run with id  ffff (it has blanks around it: give the id alone)";
    assert_eq!(blank.to_string(), hint);
    let empty = store.find_run("").await.unwrap_err();
    let hint = "no run with id (the id is empty: give a run's id, or 4 or more of its first \
                characters)";
    assert_eq!(empty.to_string(), hint);
}

async fn listings_are_ordered(store: &impl Store) {
    let older = started(store, "me").await;
    let newer = started(store, "me").await;
    let finished = started(store, "me").await;
    store
        .commit(
            "me",
            batch([
                step(finished, "a", StepState::Ready, StepState::Skipped),
                step(finished, "b", StepState::Pending, StepState::Skipped),
                run_change(finished, RunState::Running, RunState::Succeeded),
            ]),
        )
        .await
        .unwrap();
    let listed = store.runs(&RunFilter::default()).await.unwrap();
    let ids: Vec<Uuid> = listed.iter().map(|r| r.id).collect();
    assert_eq!(ids, [finished, newer, older], "newest first");
    let ids = async |states: &[RunState], limit| {
        let filter = RunFilter {
            states: states.to_vec(),
            limit,
        };
        let listed = store.runs(&filter).await.unwrap();
        listed.iter().map(|r| r.id).collect::<Vec<Uuid>>()
    };
    assert_eq!(ids(&[], Some(2)).await, [finished, newer], "the newest two");
    assert_eq!(ids(&[RunState::Running], None).await, [newer, older]);
    assert_eq!(ids(&[RunState::Running], Some(1)).await, [newer]);
    let ended = [RunState::Succeeded, RunState::Failed];
    assert_eq!(ids(&ended, Some(5)).await, [finished]);
    assert!(ids(&[RunState::Paused], None).await.is_empty());
    assert!(ids(&[], Some(0)).await.is_empty());
    let record = store.find_run(&finished.to_string()).await.unwrap();
    assert_eq!(listed[0], RunSummary::from(&record), "as its record stands");
    assert_eq!(listed[0].state, RunState::Succeeded);
    let unknown = Uuid::now_v7();
    assert!(matches!(
        store.definition(unknown).await,
        Err(Error::UnknownRun(id)) if id == unknown.to_string()
    ));
    assert_eq!(store.unfinished_runs().await.unwrap(), [older, newer]);
}
