//! `cairn run` telling the person at the terminal which steps await their approval, and
//! the commands that decide; and who paused or cancelled the run, and why (a person's
//! command, or a stall's escalation).
//!
//! The requests come with the run's events; those asked before the listener started (a
//! resumed run's) and, when a burst bigger than the events' buffer made it fall behind and
//! lose some, those lost are read from the store's waiting requests. Each request is told
//! once.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use cairn_engine::{Approval, Command, Engine, Event, Uuid, Verdict};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::invocation;
use super::printable::one_line;

/// One approval request as an `awaiting_approval` event's detail lists it.
#[derive(Debug, Deserialize)]
struct Request {
    item: Option<usize>,
    verdict: Verdict,
    expires_at: DateTime<Utc>,
}

/// Tells `out` each approval request of `run` once, from `events` and from `waiting` (the
/// run's requests that wait, as the store has them: [`waiting`]) when the events fell
/// behind and, for a run `taken_over` (its requests may have been asked before this engine
/// drove it), at the start; and who paused or cancelled the run and why. The commands it
/// shows name `db` unless it is the default database.
pub(crate) async fn notices<W: Write, F: Future<Output = Vec<Approval>>>(
    mut events: broadcast::Receiver<Event>,
    waiting: impl Fn() -> F,
    taken_over: bool,
    run: &str,
    db: &Path,
    mut out: W,
) {
    let cairn = invocation::cairn(db);
    let mut told = Told::default();
    // An engine that took the run over (`cairn resume`, `retry`) finds requests asked before
    // it: told first, as those asked later are. A new run has none (nor is a read spent).
    if taken_over {
        told.tell_waiting(&mut out, run, &cairn, waiting().await);
    }
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(halt) = halted(&event) {
                    let _ = writeln!(out, "run {run} {halt}");
                }
                let (Some(step), "awaiting_approval") = (event.step_id(), event.to()) else {
                    continue;
                };
                let listed = (event.detail.as_ref()).and_then(|detail| detail.get("approvals"));
                let requests: Vec<Request> = listed
                    .and_then(|listed| Vec::deserialize(listed).ok())
                    .unwrap_or_default();
                told.tell(&mut out, run, &cairn, step, requests);
            }
            Err(RecvError::Lagged(_)) => told.tell_waiting(&mut out, run, &cairn, waiting().await),
            Err(RecvError::Closed) => break,
        }
    }
}

/// How many of one step's new requests are told in full, each with its commands; the rest
/// in one line (a `for_each` step may ask for thousands of items at once).
const TOLD_IN_FULL: usize = 3;

/// The requests told, by step, item and expiry (a request asked again expires later), the
/// expiry to the millisecond the store keeps of it: an event's has more.
#[derive(Default)]
struct Told(HashSet<(String, Option<usize>, i64)>);

impl Told {
    /// Tells `out` the `waiting` requests (of `run`, in the store's order) not told yet, step
    /// by step, cairn called as `cairn` says ([`invocation::cairn`]).
    fn tell_waiting(
        &mut self,
        out: &mut impl Write,
        run: &str,
        cairn: &str,
        waiting: Vec<Approval>,
    ) {
        let mut by_step: Vec<(String, Vec<Request>)> = Vec::new();
        for approval in waiting {
            let request = Request {
                item: approval.item,
                verdict: approval.verdict,
                expires_at: approval.expires_at,
            };
            match by_step.last_mut() {
                Some((step, requests)) if *step == approval.step_id => requests.push(request),
                _ => by_step.push((approval.step_id, vec![request])),
            }
        }
        for (step, requests) in by_step {
            self.tell(out, run, cairn, &step, requests);
        }
    }

    /// Tells `out` the `requests` of `step` (of `run`) not told yet: the first few in full,
    /// then how many more wait and the one command that approves them all, cairn called as
    /// `cairn` says.
    fn tell(
        &mut self,
        out: &mut impl Write,
        run: &str,
        cairn: &str,
        step: &str,
        requests: Vec<Request>,
    ) {
        let new: Vec<Request> = (requests.into_iter())
            .filter(|request| {
                let expires_at = request.expires_at.timestamp_millis();
                self.0.insert((step.to_owned(), request.item, expires_at))
            })
            .collect();
        for request in new.iter().take(TOLD_IN_FULL) {
            let item = (request.item).map_or(String::new(), |item| format!(" --item {item}"));
            // As `cairn approvals` says it: each rule and its reason, or the policy's default.
            let why = request.verdict.explain();
            let approve = decide(cairn, "approve", run, step, &item);
            let deny = decide(cairn, "deny", run, step, &format!("{item} --reason TEXT"));
            let _ = writeln!(
                out,
                "step {step}{item} awaits approval ({why}); see the whole action with `{cairn} approvals`, and decide with:\n  {approve}\n  {deny}"
            );
        }
        let more = new.len().saturating_sub(TOLD_IN_FULL);
        if more > 0 {
            let approve = decide(cairn, "approve", run, step, "");
            let _ = writeln!(
                out,
                "step {step}: {more} more items await approval (`{cairn} approvals` lists them); approve every waiting item of the step with:\n  {approve}"
            );
        }
    }
}

/// The command line `cairn approve` or `deny` (`verb`) of `step` of `run`, with `options`,
/// cairn called as `cairn` says ([`invocation::cairn`]): a step whose id starts with `-`
/// (`-x`, `--help`) comes last, after `--`, so that it is not read as an option.
fn decide(cairn: &str, verb: &str, run: &str, step: &str, options: &str) -> String {
    match step.starts_with('-') {
        true => format!("{cairn} {verb} {run}{options} -- {step}"),
        false => format!("{cairn} {verb} {run} {step}{options}"),
    }
}

/// The requests of `run` that wait for a person now, as `cairn approvals` lists them (its
/// step awaits approval, the request is undecided and not expired), but those a ruling
/// recorded and not applied yet decides already: the engine applies it, and `cairn approve`
/// would be refused. The rulings are read first: one applied between the two reads has
/// decided its request by the second. Only `run`'s requests are read, by run: a database
/// of many runs waiting is not read whole at every start and every lag.
pub(crate) async fn waiting(engine: &Engine, run: Uuid) -> Vec<Approval> {
    let store = engine.store();
    let rulings: Vec<Command> = match store.pending_commands(run).await {
        Ok(pending) => pending.into_iter().map(|pending| pending.command).collect(),
        Err(_) => return Vec::new(),
    };
    let now = Utc::now();
    let waiting = store.waiting_approvals_of(run).await.unwrap_or_default();
    (waiting.into_iter())
        .filter(|approval| approval.expires_at > now)
        .filter(|approval| {
            !(rulings.iter()).any(|ruling| ruling.covers(&approval.step_id, approval.item))
        })
        .collect()
}

/// "paused by WHO: WHY" for an event that pauses or cancels the run, from the request its
/// detail records (`{"paused": {"by", "reason"}}`, `{"cancelled": …}`).
fn halted(event: &Event) -> Option<String> {
    let state = event.to();
    if event.step_id().is_some() || !matches!(state, "paused" | "cancelled") {
        return None;
    }
    let detail = event.detail.as_ref()?;
    let request = detail.get(state)?;
    let by = request.get("by")?.as_str()?;
    // A loop paused the run: resumed as it is, the step loops again. The driver records the
    // stall beside the request; a request sent for a stall (one `cairn recover` carries out)
    // holds it.
    let looped = (detail.pointer("/stall/kind"))
        .or_else(|| request.pointer("/stall/stall/kind"))
        .and_then(|kind| kind.as_str());
    let advice = match (state, looped) {
        ("paused", Some("loop")) => {
            " (a resume runs the step again as it is, to loop again: change what it runs or \
             reads first, or cancel the run)"
        }
        _ => "",
    };
    // One line: a newline in the name or the reason would start a line that reads as
    // cairn's (probe 37 F2).
    let by = one_line(by);
    Some(
        match request.get("reason").and_then(|reason| reason.as_str()) {
            Some(reason) => format!("{state} by {by}: {}{advice}", one_line(reason)),
            None => format!("{state} by {by}{advice}"),
        },
    )
}

#[cfg(test)]
mod tests {
    use cairn_engine::{Approval, Decision, Event, EventKind, RunState, StepState, Uuid, Verdict};
    use chrono::{DateTime, Utc};
    use serde_json::json;
    use std::path::Path;
    use tokio::sync::broadcast;

    fn expiry(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(second, 0).unwrap()
    }

    fn awaiting(step: &str, second: i64) -> Event {
        let request = json!({"item": null, "verdict": Verdict::approve("ask", "a person decides"), "expires_at": expiry(second)});
        Event {
            run_id: Uuid::nil(),
            seq: 1,
            at: expiry(0),
            kind: EventKind::Step {
                step_id: step.into(),
                from: StepState::Ready,
                to: StepState::AwaitingApproval,
            },
            attempt: Some(1),
            detail: Some(json!({ "approvals": [request] })),
        }
    }

    fn waiting(step: &str, second: i64) -> Approval {
        Approval {
            run_id: Uuid::nil(),
            step_id: step.into(),
            item: None,
            action_hash: "h".into(),
            action: serde_json::Value::Null,
            verdict: Verdict::approve("ask", "a person decides"),
            requested_at: expiry(0),
            expires_at: expiry(second),
            decision: None,
        }
    }

    fn run_moved(to: RunState, detail: serde_json::Value) -> Event {
        Event {
            run_id: Uuid::nil(),
            seq: 1,
            at: expiry(0),
            kind: EventKind::Run {
                from: RunState::Running,
                to,
            },
            attempt: None,
            detail: Some(detail),
        }
    }

    #[tokio::test]
    async fn who_paused_or_cancelled_the_run_and_why_is_told() {
        let (sender, events) = broadcast::channel(8);
        // As the driver records a loop's pause: the stall beside the request.
        let paused = json!({"paused": {"by": "cairn", "reason": "step a stalled: looping"},
            "stall": {"kind": "loop", "evidence": {}}});
        sender.send(run_moved(RunState::Paused, paused)).unwrap();
        // As a request sent for the stall holds it.
        let sent = json!({"paused": {"by": "cairn", "reason": "step b stalled: looping",
            "stall": {"step": "b", "stall": {"kind": "loop", "evidence": {}}}}});
        sender.send(run_moved(RunState::Paused, sent)).unwrap();
        let cancelled = json!({"cancelled": {"by": "ann"}});
        sender
            .send(run_moved(RunState::Cancelled, cancelled))
            .unwrap();
        // A newline sent in a name or a reason starts no line of its own (probe 37 F2).
        let spoofing = json!({"cancelled": {"by": "ann\nrun r1", "reason": "x\nrun r1 ok"}});
        sender
            .send(run_moved(RunState::Cancelled, spoofing))
            .unwrap();
        sender
            .send(run_moved(RunState::Running, json!({"resumed": true})))
            .unwrap();
        drop(sender);
        let mut told = Vec::new();
        let store = || async { vec![] };
        super::notices(events, store, false, "r1", Path::new("cairn.db"), &mut told).await;
        assert_eq!(
            String::from_utf8(told).unwrap(),
            "run r1 paused by cairn: step a stalled: looping (a resume runs the step again as \
             it is, to loop again: change what it runs or reads first, or cancel the run)\n\
             run r1 paused by cairn: step b stalled: looping (a resume runs the step again as \
             it is, to loop again: change what it runs or reads first, or cancel the run)\n\
             run r1 cancelled by ann\n\
             run r1 cancelled by ann\\u{a}run r1: x\\u{a}run r1 ok\n"
        );
    }

    #[tokio::test]
    async fn requests_lost_in_a_burst_are_told_from_the_store_and_each_once() {
        let (sender, events) = broadcast::channel(2);
        for (step, second) in [("a", 10), ("b", 20), ("c", 30), ("d", 40)] {
            sender.send(awaiting(step, second)).unwrap();
        }
        drop(sender);
        let mut told = Vec::new();
        let store = || async { vec![waiting("a", 10), waiting("b", 20), waiting("c", 30)] };
        super::notices(events, store, false, "r1", Path::new("cairn.db"), &mut told).await;
        let told = String::from_utf8(told).unwrap();
        for step in ["a", "b", "c", "d"] {
            let line = format!("step {step} awaits approval (ask: a person decides)");
            assert_eq!(told.matches(&line).count(), 1, "{told}");
        }
        assert!(told.contains("cairn approve r1 c\n  cairn deny r1 c --reason TEXT"));
    }

    #[test]
    fn a_step_whose_id_starts_with_a_dash_comes_after_the_options() {
        let approve = super::decide("cairn", "approve", "r1", "--help", " --item 2");
        assert_eq!(approve, "cairn approve r1 --item 2 -- --help");
        let deny = super::decide("cairn --db x.db", "deny", "r1", "-x", " --reason TEXT");
        assert_eq!(deny, "cairn --db x.db deny r1 --reason TEXT -- -x");
        let plain = super::decide("cairn", "approve", "r1", "a-b", " --item 2");
        assert_eq!(plain, "cairn approve r1 a-b --item 2");
    }

    #[tokio::test]
    async fn the_requests_that_waited_before_the_engine_started_are_told_at_its_start() {
        // A resumed run: its requests were asked before, by another engine; no event comes.
        let (sender, events) = broadcast::channel(8);
        let mut told = Vec::new();
        let store = || async { vec![waiting("a", 10)] };
        let listening = super::notices(events, store, true, "r1", Path::new("cairn.db"), &mut told);
        drop(sender);
        listening.await;
        let told = String::from_utf8(told).unwrap();
        assert_eq!(
            told,
            "step a awaits approval (ask: a person decides); see the whole action with `cairn \
             approvals`, and decide with:\n  cairn approve r1 a\n  cairn deny r1 a --reason TEXT\n"
        );
    }

    #[tokio::test]
    async fn a_request_both_stored_and_in_an_event_is_told_once() {
        // The event's expiry has nanoseconds; the store keeps milliseconds.
        let (sender, events) = broadcast::channel(8);
        let mut event = awaiting("a", 10);
        let precise = DateTime::from_timestamp(10, 123_456_789).unwrap();
        event.detail.as_mut().unwrap()["approvals"][0]["expires_at"] = json!(precise);
        sender.send(event).unwrap();
        drop(sender);
        let mut stored = waiting("a", 10);
        stored.expires_at = DateTime::from_timestamp(10, 123_000_000).unwrap();
        let store = || async { vec![stored.clone()] };
        let mut told = Vec::new();
        super::notices(events, store, true, "r1", Path::new("cairn.db"), &mut told).await;
        let told = String::from_utf8(told).unwrap();
        assert_eq!(told.matches("awaits approval").count(), 1, "{told}");
    }

    #[tokio::test]
    async fn a_request_the_policys_default_asked_for_says_so() {
        let (sender, events) = broadcast::channel(8);
        let mut event = awaiting("a", 10);
        let by_default = Verdict::new(Decision::Approve);
        event.detail.as_mut().unwrap()["approvals"][0]["verdict"] = json!(by_default);
        sender.send(event).unwrap();
        drop(sender);
        let mut told = Vec::new();
        let store = || async { vec![] };
        super::notices(events, store, false, "r1", Path::new("cairn.db"), &mut told).await;
        let told = String::from_utf8(told).unwrap();
        assert!(
            told.starts_with("step a awaits approval (approve by the policy's default); "),
            "{told}"
        );
    }

    #[tokio::test]
    async fn the_requests_of_many_items_are_told_a_few_in_full_then_counted() {
        let (sender, events) = broadcast::channel(8);
        let mut event = awaiting("each", 10);
        let requests: Vec<serde_json::Value> = (0..10)
            .map(|item| json!({"item": item, "verdict": Verdict::approve("ask", "why"), "expires_at": expiry(10)}))
            .collect();
        event.detail = Some(json!({ "approvals": requests }));
        sender.send(event.clone()).unwrap();
        sender.send(event).unwrap();
        drop(sender);
        let mut told = Vec::new();
        let store = || async { vec![] };
        super::notices(events, store, false, "r1", Path::new("x.db"), &mut told).await;
        let told = String::from_utf8(told).unwrap();
        assert_eq!(
            told.matches("awaits approval (ask: why)").count(),
            3,
            "{told}"
        );
        assert!(
            told.contains("cairn --db x.db approve r1 each --item 2\n"),
            "{told}"
        );
        assert!(
            told.ends_with(
                "step each: 7 more items await approval (`cairn --db x.db approvals` lists \
                 them); approve every waiting item of the step with:\n  \
                 cairn --db x.db approve r1 each\n"
            ),
            "told once, the same requests listed again: {told}"
        );
    }
}
