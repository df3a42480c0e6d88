//! Commands and approvals: kept until handled, and a pause or cancel handled by the commit
//! that carries it out.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{TTL, batch, holder, run_change, started, step};
use crate::approval::{Approval, ApprovalDecision};
use crate::command::{Command, Request, Ruling};
use crate::guard::Verdict;
use crate::item::ItemRecord;
use crate::lease::LeaseAttempt;
use crate::state::{Batch, RunState, RunTransition, StepState, Transition};
use crate::store::Store;

pub(super) async fn commands_and_approvals_are_kept_until_handled(store: &impl Store) {
    let run = started(store, "me").await;
    started(store, "me").await; // A run without commands, never listed.
    assert!(store.runs_with_commands().await.unwrap().is_empty());
    let ruling = |step: &str| Ruling {
        step: step.into(),
        item: None,
        by: "ann".into(),
        reason: Some("fine".into()),
    };
    store
        .send_command(run, &Command::Approve(ruling("a")))
        .await
        .unwrap();
    store
        .send_command(run, &Command::Deny(ruling("b")))
        .await
        .unwrap();
    assert_eq!(store.runs_with_commands().await.unwrap(), [run]);
    let pending = store.pending_commands(run).await.unwrap();
    let commands: Vec<&Command> = pending.iter().map(|pending| &pending.command).collect();
    assert_eq!(
        commands,
        [&Command::Approve(ruling("a")), &Command::Deny(ruling("b"))]
    );

    let now = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    let mut approval = Approval {
        run_id: run,
        step_id: "a".into(),
        item: Some(3),
        action_hash: "h".into(),
        action: serde_json::json!({"executor": "process", "params": {"command": ["git", "push"], "env": {"GIT_DIR": "x"}}}),
        verdict: Verdict::approve("push", "pushing needs a person"),
        requested_at: now,
        expires_at: now + chrono::Duration::hours(1),
        decision: None,
    };
    let mut first = batch([step(
        run,
        "a",
        StepState::Ready,
        StepState::AwaitingApproval,
    )]);
    first.record_approval(approval.clone());
    first.mark_handled(run, pending[0].id);
    store.commit("me", first).await.unwrap();
    assert_eq!(store.approvals(run).await.unwrap(), [approval.clone()]);
    assert_eq!(store.waiting_approvals().await.unwrap(), [approval.clone()]);
    let left = store.pending_commands(run).await.unwrap();
    assert_eq!(left.len(), 1, "the handled command is gone");
    assert_eq!(left[0].command, Command::Deny(ruling("b")));
    assert_eq!(store.runs_with_commands().await.unwrap(), [run], "one left");
    let mut handled = Batch::new();
    handled.mark_handled(run, left[0].id);
    store.commit("me", handled).await.unwrap();
    assert!(
        store.runs_with_commands().await.unwrap().is_empty(),
        "every command handled"
    );

    approval.decision = Some(ApprovalDecision {
        approved: true,
        by: "ann".into(),
        reason: None,
        at: now,
    });
    let mut second = batch([step(
        run,
        "a",
        StepState::AwaitingApproval,
        StepState::Ready,
    )]);
    second.record_approval(approval.clone());
    store.commit("me", second).await.unwrap();
    assert_eq!(
        store.approvals(run).await.unwrap(),
        [approval.clone()],
        "decided in place"
    );
    assert!(store.waiting_approvals().await.unwrap().is_empty());

    let mut moot = Batch::new();
    moot.record_approval(Approval {
        item: Some(4),
        decision: None,
        ..approval
    });
    store.commit("me", moot).await.unwrap();
    assert_eq!(store.approvals(run).await.unwrap().len(), 2);
    assert!(
        store.waiting_approvals().await.unwrap().is_empty(),
        "an undecided request of a step that does not await approval waits for nothing"
    );
}

/// A run's waiting requests are read by run ([`Store::waiting_approvals_of`]): its own,
/// oldest first, none decided, none once the run has ended; the other runs' are not its.
pub(super) async fn a_runs_waiting_requests_are_read_by_run(store: &impl Store) {
    let run = started(store, "me").await;
    let other = started(store, "me").await;
    let at = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    let request = |run, item, minutes| {
        let asked = at + Duration::minutes(minutes);
        request_of_a(run, item, asked, at + Duration::hours(1))
    };
    let awaits = |run| step(run, "a", StepState::Ready, StepState::AwaitingApproval);
    let mut asked = batch([awaits(run), awaits(other)]);
    // Asked in the other order than their keys': read back in the order asked.
    let (late, early, theirs) = (
        request(run, Some(0), 1),
        request(run, Some(1), 0),
        request(other, None, 0),
    );
    for request in [&late, &early, &theirs] {
        asked.record_approval(request.clone());
    }
    store.commit("me", asked).await.unwrap();
    assert_eq!(
        store.waiting_approvals_of(run).await.unwrap(),
        [early.clone(), late.clone()]
    );
    assert_eq!(
        store.waiting_approvals_of(other).await.unwrap(),
        std::slice::from_ref(&theirs)
    );

    let mut decided = Batch::new();
    decided.record_approval(Approval {
        decision: Some(ApprovalDecision {
            approved: true,
            by: "ann".into(),
            reason: None,
            at,
        }),
        ..early
    });
    store.commit("me", decided).await.unwrap();
    assert_eq!(store.waiting_approvals_of(run).await.unwrap(), [late]);

    let ended = batch([run_change(run, RunState::Running, RunState::Cancelled)]);
    store.commit("me", ended).await.unwrap();
    assert!(
        store.waiting_approvals_of(run).await.unwrap().is_empty(),
        "an ended run's requests wait for nothing"
    );
    assert_eq!(
        store.waiting_approvals_of(other).await.unwrap(),
        std::slice::from_ref(&theirs)
    );
    assert_eq!(store.waiting_approvals().await.unwrap(), [theirs]);
}

/// A pause or a cancel stays pending until the commit that carries it out: an engine that
/// read it and died before leaves it for the next to apply (`Command::carried_out_by`).
pub(super) async fn a_pause_or_cancel_is_handled_by_the_runs_move_that_carries_it_out(
    store: &impl Store,
) {
    let request = || Request::new("ann", None);
    let ruling = Ruling {
        step: "a".into(),
        item: None,
        by: "ann".into(),
        reason: None,
    };
    let run = started(store, "me").await;
    for command in [
        Command::Pause(request()),
        Command::Cancel(request()),
        Command::Approve(ruling),
    ] {
        store.send_command(run, &command).await.unwrap();
    }
    let kinds = async || -> Vec<&'static str> {
        let pending = store.pending_commands(run).await.unwrap();
        pending
            .iter()
            .map(|pending| pending.command.kind())
            .collect()
    };
    let moving = batch([step(run, "a", StepState::Ready, StepState::Running)]);
    store.commit("me", moving).await.unwrap();
    assert_eq!(
        kinds().await,
        ["pause", "cancel", "approve"],
        "nothing carried out"
    );
    let pause = batch([run_change(run, RunState::Running, RunState::Paused)]);
    store.commit("me", pause).await.unwrap();
    assert_eq!(
        kinds().await,
        ["cancel", "approve"],
        "pausing carries out the pause"
    );
    let end = batch([
        run_change(run, RunState::Paused, RunState::Running),
        step(run, "a", StepState::Running, StepState::Succeeded),
        run_change(run, RunState::Running, RunState::Succeeded),
    ]);
    store.commit("me", end).await.unwrap();
    assert_eq!(
        kinds().await,
        ["approve"],
        "an ended run has nothing to cancel"
    );
    // A command the engine gives its run is recorded with its commit, pending like any.
    let run = started(store, "me").await;
    let mut stalled = Batch::new();
    stalled.send(run, Command::Cancel(request()));
    assert!(
        store.commit("other", stalled.clone()).await.is_err(),
        "fenced"
    );
    assert!(store.pending_commands(run).await.unwrap().is_empty());
    store.commit("me", stalled).await.unwrap();
    let pending = store.pending_commands(run).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].command, Command::Cancel(request()));
}

/// A commit that starts attempts (moves a step to `running`) or records a `for_each` item
/// (its end lets the attempt start the next item) reports a pause or a cancel of its run
/// recorded before it and not handled yet, as its own transaction sees the commands
/// ([`CommitReport::halt_asked`](crate::store::CommitReport::halt_asked)): its engine then
/// starts nothing. A commit that starts nothing, or a command handled (also by the commit
/// itself), or another run's, or an approval is no halt asked.
pub(super) async fn a_start_reports_a_pause_or_cancel_asked_before_it(store: &impl Store) {
    let request = || Request::new("ann", None);
    for halt in [Command::Pause(request()), Command::Cancel(request())] {
        let kind = halt.kind();
        let run = started(store, "me").await;
        let other = started(store, "me").await;
        let approval = Ruling {
            step: "a".into(),
            item: None,
            by: "ann".into(),
            reason: None,
        };
        store
            .send_command(run, &Command::Approve(approval))
            .await
            .unwrap();
        store.send_command(other, &halt).await.unwrap();
        let start_a = batch([step(run, "a", StepState::Ready, StepState::Running)]);
        let committed = store.commit("me", start_a).await.unwrap();
        assert!(
            !committed.halt_asked,
            "{kind}: an approval, or another run's {kind}, halts nothing"
        );
        assert_eq!(committed.events.len(), 1);
        store.send_command(run, &halt).await.unwrap();
        let no_start = batch([step(run, "b", StepState::Pending, StepState::Ready)]);
        let committed = store.commit("me", no_start).await.unwrap();
        assert!(!committed.halt_asked, "{kind}: a commit starting nothing");
        let start_b = batch([step(run, "b", StepState::Ready, StepState::Running)]);
        let committed = store.commit("me", start_b).await.unwrap();
        assert!(committed.halt_asked, "{kind} recorded before a start");
        assert_eq!(committed.events.len(), 1, "{kind}: committed all the same");
        // An item's end lets its attempt start the next item.
        let mut item_ended = Batch::new();
        item_ended.record_item(ItemRecord {
            run_id: run,
            step_id: "b".into(),
            index: 0,
            state: StepState::Succeeded,
            attempt: 1,
            output: Some(serde_json::json!(0)),
            error: None,
        });
        let committed = store.commit("me", item_ended).await.unwrap();
        assert!(committed.halt_asked, "{kind} recorded before an item's end");

        // Handled by the commit that starts: no halt asked any more.
        let pending = store.pending_commands(other).await.unwrap();
        assert_eq!(pending.len(), 1, "{kind}: one command pending");
        let mut handled = batch([step(other, "a", StepState::Ready, StepState::Running)]);
        handled.mark_handled(other, pending[0].id);
        let committed = store.commit("me", handled).await.unwrap();
        assert!(
            !committed.halt_asked,
            "{kind}: handled by the commit itself"
        );
        let later = batch([
            step(other, "a", StepState::Running, StepState::Succeeded),
            step(other, "b", StepState::Pending, StepState::Ready),
            step(other, "b", StepState::Ready, StepState::Running),
        ]);
        let committed = store.commit("me", later).await.unwrap();
        assert!(!committed.halt_asked, "{kind}: handled before");
    }
}

pub(super) async fn a_ruling_is_recorded_only_while_it_decides_something(store: &impl Store) {
    let run = started(store, "me").await;
    let ruling = |item: Option<usize>| Ruling {
        step: "a".into(),
        item,
        by: "ann".into(),
        reason: None,
    };
    let approve = |item| Command::Approve(ruling(item));
    // `a` does not await approval yet.
    assert!(!store.send_ruling(run, &approve(None)).await.unwrap());
    let asks = batch([step(
        run,
        "a",
        StepState::Ready,
        StepState::AwaitingApproval,
    )]);
    store.commit("me", asks).await.unwrap();
    assert!(store.send_ruling(run, &approve(Some(3))).await.unwrap());
    // The same item again: the first ruling decides it.
    assert!(!store.send_ruling(run, &approve(Some(3))).await.unwrap());
    assert!(store.send_ruling(run, &approve(Some(4))).await.unwrap());
    // A denial of the step is not covered by approvals of items; it covers any later one.
    assert!(
        store
            .send_ruling(run, &Command::Deny(ruling(None)))
            .await
            .unwrap()
    );
    assert!(!store.send_ruling(run, &approve(Some(5))).await.unwrap());
    assert!(!store.send_ruling(run, &approve(None)).await.unwrap());
    let halt = Command::Pause(Request::new("ann", None));
    assert!(store.send_ruling(run, &halt).await.unwrap());
    let pending = store.pending_commands(run).await.unwrap();
    let recorded: Vec<&Command> = pending.iter().map(|pending| &pending.command).collect();
    let deny = Command::Deny(ruling(None));
    assert_eq!(
        recorded,
        [&approve(Some(3)), &approve(Some(4)), &deny, &halt]
    );
}

/// A ruling is not recorded once something the engine applies before it decides its step
/// (`Store::send_ruling` judges it in the write; the checks before it read an earlier
/// instant, probe 183 F3): a request of the step that expired with no ruling sent before
/// its expiry covering it (its denial denies the step; one sent at the expiry comes after
/// it), the run's deadline, a pending cancel. A request ruled on in time expires for nothing.
pub(super) async fn a_ruling_is_not_recorded_once_an_expiry_decides_its_step(store: &impl Store) {
    let now = Utc::now();
    let request =
        |run, item, expires_at| request_of_a(run, item, now - Duration::hours(2), expires_at);
    let ruling = |item| Ruling {
        step: "a".into(),
        item,
        by: "ann".into(),
        reason: Some("late".into()),
    };
    let approve = |item| Command::Approve(ruling(Some(item)));
    let awaiting = async |requests: &[Option<usize>], run_move: Option<RunTransition>| {
        let run = started(store, "me").await;
        let mut asks = batch([step(
            run,
            "a",
            StepState::Ready,
            StepState::AwaitingApproval,
        )]);
        for &item in requests {
            asks.record_approval(request(run, item, now + Duration::hours(1)));
        }
        if let Some(run_move) = run_move {
            asks.push(Transition::Run(RunTransition {
                run_id: run,
                ..run_move
            }))
            .unwrap();
        }
        store.commit("me", asks).await.unwrap();
        run
    };

    let run = awaiting(&[Some(0), Some(1), Some(2)], None).await;
    assert!(store.send_ruling(run, &approve(0)).await.unwrap());
    let sent = store.pending_commands(run).await.unwrap()[0].created_at;
    let mut expires = Batch::new();
    let in_time = sent + Duration::milliseconds(1);
    expires.record_approval(request(run, Some(0), in_time));
    store.commit("me", expires).await.unwrap();
    while Utc::now() <= in_time {
        tokio::task::yield_now().await;
    }
    assert!(
        store.send_ruling(run, &approve(1)).await.unwrap(),
        "item 0's request expired after its approval was sent: it denies nothing"
    );
    // Expiring as its approval was sent, item 0's request comes first, and denies the step.
    let mut expired = Batch::new();
    expired.record_approval(request(run, Some(0), sent));
    store.commit("me", expired).await.unwrap();
    assert!(!store.send_ruling(run, &approve(2)).await.unwrap());
    assert!(
        !(store.send_ruling(run, &Command::Deny(ruling(None))))
            .await
            .unwrap(),
        "item 0's expiry denies the step first"
    );

    let past_deadline = RunTransition {
        deadline: Some(now - Duration::seconds(1)),
        ..RunTransition::new(Uuid::nil(), RunState::Running, RunState::Paused)
    };
    let run = awaiting(&[None], Some(past_deadline)).await;
    let whole = Command::Approve(ruling(None));
    assert!(
        !store.send_ruling(run, &whole).await.unwrap(),
        "past the deadline"
    );

    let run = awaiting(&[None], None).await;
    let cancel = Command::Cancel(Request::new("bob", None));
    assert!(store.send_ruling(run, &cancel).await.unwrap());
    assert!(
        !store.send_ruling(run, &whole).await.unwrap(),
        "behind a cancel"
    );
    let pending = store.pending_commands(run).await.unwrap();
    assert_eq!(pending.len(), 1, "the cancel alone");
}

/// A pause or a cancel sent to a run is recorded only while it can take effect, judged in
/// the write itself (`Store::send_ruling`): not for a run that ended, unless a live lease says
/// an engine redrives it; and a pause not for a paused run, nor behind a pending pause or
/// cancel (a cancel behind a pending pause is recorded: it wins). A refusal records nothing,
/// so no command is left pending for a run that will never carry it out.
pub(super) async fn a_pause_or_cancel_is_recorded_only_while_it_can_take_effect(
    store: &impl Store,
) {
    let request = |by: &str| Request::new(by, None);
    let pause = Command::Pause(request("ann"));
    let cancel = Command::Cancel(request("bob"));
    let kinds = async |run| -> Vec<&'static str> {
        let pending = store.pending_commands(run).await.unwrap();
        pending
            .iter()
            .map(|pending| pending.command.kind())
            .collect()
    };
    let run = started(store, "me").await;
    assert!(store.send_ruling(run, &pause).await.unwrap());
    assert!(
        !store.send_ruling(run, &pause).await.unwrap(),
        "a second pause while the first is pending"
    );
    assert!(
        store.send_ruling(run, &cancel).await.unwrap(),
        "a cancel behind a pending pause"
    );
    assert_eq!(kinds(run).await, ["pause", "cancel"]);

    let cancelling = started(store, "me").await;
    assert!(store.send_ruling(cancelling, &cancel).await.unwrap());
    assert!(
        !store.send_ruling(cancelling, &pause).await.unwrap(),
        "a pause behind a pending cancel"
    );
    assert_eq!(kinds(cancelling).await, ["cancel"]);

    let paused = started(store, "me").await;
    let pausing = batch([run_change(paused, RunState::Running, RunState::Paused)]);
    store.commit("me", pausing).await.unwrap();
    assert!(
        !store.send_ruling(paused, &pause).await.unwrap(),
        "a paused run"
    );
    assert!(
        store.send_ruling(paused, &cancel).await.unwrap(),
        "a cancel of a paused run"
    );
    assert_eq!(kinds(paused).await, ["cancel"]);

    let ended = started(store, "me").await;
    let cancelled = batch([
        step(ended, "a", StepState::Ready, StepState::Cancelled),
        run_change(ended, RunState::Running, RunState::Cancelled),
    ]);
    store.commit("me", cancelled).await.unwrap();
    for command in [&pause, &cancel] {
        let kind = command.kind();
        assert!(
            !store.send_ruling(ended, command).await.unwrap(),
            "a {kind} of an ended run"
        );
    }
    assert!(kinds(ended).await.is_empty(), "nothing recorded");
    // An engine that redrives the run holds its lease while it is still `cancelled`.
    let me = holder("me");
    let taken = store.acquire_lease(ended, &me, TTL, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    assert!(
        store.send_ruling(ended, &pause).await.unwrap(),
        "a pause of a run being redriven"
    );
    assert_eq!(kinds(ended).await, ["pause"]);
}

/// A request of step `a` of `run` (its `item`), asked at `asked`, expiring at `expires`.
fn request_of_a(
    run: Uuid,
    item: Option<usize>,
    asked: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Approval {
    Approval {
        run_id: run,
        step_id: "a".into(),
        item,
        action_hash: "h".into(),
        action: serde_json::Value::Null,
        verdict: Verdict::approve("push", "pushing needs a person"),
        requested_at: asked,
        expires_at: expires,
        decision: None,
    }
}
