//! The guard's part of starting an attempt: rate limits, the verdict on every action,
//! approvals (requested, decided, expired) and budgets' facts.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Ledger, add_usage};
use crate::approval::{self, Approval, ApprovalDecision, action_hash};
use crate::command::Ruling;
use crate::error::{Result, panic_message};
use crate::executor::{Action, ErrorClass, ExecError, Usage};
use crate::guard::{Decision, Facts, RateLimit, Verdict};
use crate::plan::StepIndex;
use crate::state::StepState;

/// How long an approval request waits when the guard names no timeout: 24 hours.
const DEFAULT_APPROVAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Why a step whose request an approval was given for asks again: the request bound
/// `with.cwd` as written (an older cairn's), not the directory the guard judged it runs in,
/// so the approval does not say which directory it was for.
const ASKED_AGAIN: &str = "asked again: the approval given bound `with.cwd` as written (an \
    older cairn's request), not the directory the guard judged, so it does not say which \
    directory it was for";

/// Why a step whose request was for the same action asks again: rules ask now that did not
/// when it was asked (`given`, the rules it was asked for; `now`, those that ask).
fn asked_again_for(given: &[String], now: &[String]) -> String {
    let quoted = |rules: &mut dyn Iterator<Item = &String>| {
        let quoted: Vec<String> = rules.map(|rule| format!("`{rule}`")).collect();
        match quoted.is_empty() {
            true => "the policy's default".to_owned(),
            false => quoted.join(", "),
        }
    };
    let new = quoted(&mut now.iter().filter(|rule| !given.contains(rule)));
    let given = quoted(&mut given.iter().filter(|rule| *rule != "approval"));
    format!("asked again: the approval given was for {given}, and {new} asks now too")
}

/// What the guard decided about the actions of one attempt.
#[derive(Debug)]
pub(super) enum Judgement {
    /// The attempt runs; the verdicts to record with its `running` transition.
    Run(Option<Value>),
    /// The step did not start: it was denied, or awaits approval (recorded already).
    Stopped,
    /// The step waits, `ready`, for an attempt in flight to end: what those hold of a budget
    /// leaves its (first) action too little ([`Verdict::held`]); the verdict's reasons.
    Held(String),
    /// The turn's time for judging ran out ([`Judge::slice`](super::Judge::slice)) with
    /// actions left to judge: the next turn goes on from where [`Judged`] says.
    Unfinished,
}

/// How far the judging of an attempt's actions got, across turns.
#[derive(Debug, Default)]
pub(super) struct Judged {
    /// The first action not judged yet.
    next: usize,
    /// The verdicts of the actions judged, in their order.
    verdicts: Vec<Verdict>,
    /// Whether one of them awaits a person's approval.
    waiting: bool,
    /// What those that run hold of a budget, by item, reserved once the attempt starts.
    reserving: Vec<(Option<usize>, Usage)>,
}

/// Attempt starts per executor within its rate limits' windows. An executor may have several
/// limits (10 a second and 100 a minute): every one of them holds.
#[derive(Debug, Default)]
pub(super) struct Rates {
    /// Per executor: its limits, and its starts within the longest of their windows, oldest
    /// first.
    executors: HashMap<String, (Vec<RateLimit>, VecDeque<DateTime<Utc>>)>,
}

impl Rates {
    /// The limits `limits`, with the starts already made (from the history, oldest first).
    pub(super) fn new(
        limits: Vec<RateLimit>,
        starts: impl Iterator<Item = (String, DateTime<Utc>)>,
    ) -> Rates {
        let mut executors: HashMap<String, (Vec<RateLimit>, VecDeque<DateTime<Utc>>)> =
            HashMap::new();
        for limit in limits {
            let (limits, _) = executors.entry(limit.executor.clone()).or_default();
            limits.push(limit);
        }
        for (executor, at) in starts {
            if let Some((_, window)) = executors.get_mut(&executor) {
                window.push_back(at);
            }
        }
        Rates { executors }
    }

    /// How many more attempts of `executor` may start now: the least room any of its limits
    /// leaves (`usize::MAX` without a limit).
    pub(super) fn room(&mut self, executor: &str, now: DateTime<Utc>) -> usize {
        let Some((limits, starts)) = self.window(executor, now) else {
            return usize::MAX;
        };
        (limits.iter())
            .map(|limit| (limit.max as usize).saturating_sub(within(limit, starts, now)))
            .min()
            .unwrap_or(usize::MAX)
    }

    /// Whether `executor` has a rate limit.
    pub(super) fn limits(&self, executor: &str) -> bool {
        self.executors.contains_key(executor)
    }

    /// `executor`'s limits, as a step that waits for them says
    /// (`rate_limits: process starts at most 1 per 1m`).
    pub(super) fn described(&self, executor: &str) -> String {
        let limits = self
            .executors
            .get(executor)
            .map_or(&[][..], |(limits, _)| limits);
        let each: Vec<String> = (limits.iter())
            .map(|limit| {
                format!(
                    "{} per {}",
                    limit.max,
                    humantime::format_duration(limit.per)
                )
            })
            .collect();
        format!(
            "rate_limits: {executor} starts at most {}",
            each.join(" and ")
        )
    }

    /// When `executor` may start again, if not now: once every full window has room.
    pub(super) fn held_until(
        &mut self,
        executor: &str,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let (limits, starts) = self.window(executor, now)?;
        (limits.iter())
            .filter_map(|limit| {
                let max = limit.max as usize;
                // The window has room once the start `max` from the newest has left it.
                (within(limit, starts, now) >= max).then(|| {
                    (starts
                        .len()
                        .checked_sub(max)
                        .and_then(|first| starts.get(first)))
                    .map_or(now, |&at| leaves(limit, at))
                })
            })
            .max()
    }

    /// `executor`'s limits and its starts within the longest of their windows ending at
    /// `now`, if it has a limit.
    fn window(
        &mut self,
        executor: &str,
        now: DateTime<Utc>,
    ) -> Option<(&[RateLimit], &VecDeque<DateTime<Utc>>)> {
        let (limits, starts) = self.executors.get_mut(executor)?;
        while starts
            .front()
            .is_some_and(|&at| limits.iter().all(|limit| leaves(limit, at) <= now))
        {
            starts.pop_front();
        }
        Some((limits, starts))
    }

    /// Counts `count` starts of `executor` at `now`.
    fn count(&mut self, executor: &str, now: DateTime<Utc>, count: usize) {
        if let Some((_, window)) = self.executors.get_mut(executor) {
            window.extend(std::iter::repeat_n(now, count));
        }
    }
}

/// How many of `starts` (oldest first) are still within `limit`'s window at `now`.
fn within(limit: &RateLimit, starts: &VecDeque<DateTime<Utc>>, now: DateTime<Utc>) -> usize {
    starts.len() - starts.partition_point(|&at| leaves(limit, at) <= now)
}

/// When a start at `at` leaves `limit`'s window.
fn leaves(limit: &RateLimit, at: DateTime<Utc>) -> DateTime<Utc> {
    let per = chrono::Duration::from_std(limit.per).unwrap_or(chrono::Duration::MAX);
    at.checked_add_signed(per)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Ledger {
    /// Judges the actions of an attempt of `step` (one per `for_each` item, whose values
    /// are `items`: the window of them that starts now, [`Ledger::items_window`]). Rewrites
    /// their parameters where the guard says so; on a deny or an approval request, records
    /// the step's transition and returns [`Judgement::Stopped`]. An action the guard holds
    /// until attempts in flight end ([`Verdict::held`]) ends the window before it: the
    /// actions after it are dropped, to be judged with a later window, and when it is the
    /// first, the step waits ([`Judgement::Held`]). What the actions that run hold of a
    /// budget is reserved for them until they end. Judging goes on from the first action
    /// `progress` has not judged, and stops, [`Judgement::Unfinished`], once it has taken the
    /// turn's time for judging with actions left.
    pub(super) fn judge(
        &mut self,
        step: StepIndex,
        actions: &mut Vec<Action>,
        items: Option<&[Value]>,
        progress: &mut Judged,
        now: DateTime<Utc>,
    ) -> Result<Judgement> {
        let executor = self.plan.node(step).executor.as_deref().unwrap_or_default();
        let Some(guard) = self.guard.clone() else {
            return Ok(Judgement::Run(None));
        };
        let (guard_hash, cwd) = (self.guard_hash.clone(), self.cwd.clone());
        let hash = |action: &Action| action_hash(action, guard_hash.as_deref(), cwd.as_deref());
        // What the actions judged so far hold, reserved once the attempt starts.
        let mut reserved = self.reservations.total().clone();
        for (_, holds) in &progress.reserving {
            reserved += holds;
        }
        // Each item is an attempt: those judged before it count, so that a budget holds
        // within one step's items as it does across steps.
        for index in progress.next..actions.len() {
            let action = &mut actions[index];
            let facts = Facts {
                item: (items.zip(action.item_index)).and_then(|(items, index)| items.get(index)),
                id: self.run_id,
                workflow: &self.plan.workflow().name,
                input: &self.input,
                attempts: self.tally.attempts + index as u64,
                steps: self.tally.steps,
                started: self.slots[step].attempt > 0,
                usage: &self.tally.usage,
                reserved: &reserved,
                elapsed: (now - self.created_at).to_std().unwrap_or_default(),
                cwd: cwd.as_deref(),
            };
            // A guard that panics denies: what it cannot judge does not run (and the run
            // goes on, its driver whole).
            let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                guard.judge(action, &facts)
            }));
            let mut verdict = judged.unwrap_or_else(|panic| {
                let message = panic_message(&*panic);
                Verdict::deny("guard", format!("the guard panicked: {message}"))
            });
            // Held while something is reserved, whose end may give it back; else (a guard
            // that holds with nothing reserved) nothing would, and it is the deny it reads as.
            if verdict.held && (self.reservations.any() || !progress.reserving.is_empty()) {
                if index == 0 {
                    return Ok(Judgement::Held(verdict.explain()));
                }
                actions.truncate(index);
                break;
            }
            let key = (step, action.item_index);
            match verdict.effective() {
                Decision::Deny => {
                    return self
                        .deny(step, action.item_index, &verdict)
                        .map(|()| Judgement::Stopped);
                }
                Decision::Approve => {
                    // Bound as it will run: in the directory the guard judged.
                    let judged = approval::bound(action, verdict.params.as_ref());
                    let bound = judged.as_ref().unwrap_or(action);
                    let is_for = |approval: &Approval, action: &Action| {
                        approval.is_for(action, guard_hash.as_deref(), cwd.as_deref())
                    };
                    // An approval covers the rules it was asked for: one that asks only now
                    // (a retry's, a budget's) is put to a person too.
                    let covers = |approval: &Approval| {
                        (verdict.rules.iter()).all(|rule| approval.verdict.rules.contains(rule))
                    };
                    match self.approvals.get(key) {
                        Some(approval) if is_for(approval, bound) && covers(approval) => {
                            match &approval.decision {
                                Some(decision) if decision.approved => {
                                    // Who approved, with why: each item's verdict in the
                                    // `running` event keeps its own ruling's.
                                    let by = format!("approved by {}", decision.by);
                                    let reason = match &decision.reason {
                                        Some(reason) => format!("{by}: {reason}"),
                                        None => by,
                                    };
                                    verdict = verdict.because("approval", reason);
                                }
                                Some(decision) => {
                                    let denied = Verdict::deny(
                                        "approval",
                                        format!("denied by {}", decision.by),
                                    );
                                    return self
                                        .deny(step, action.item_index, &denied)
                                        .map(|()| Judgement::Stopped);
                                }
                                None => progress.waiting = true,
                            }
                        }
                        stored => {
                            if let Some(stored) = stored.filter(|stored| is_for(stored, bound)) {
                                let reason = asked_again_for(&stored.verdict.rules, &verdict.rules);
                                verdict = verdict.because("approval", reason);
                            } else if judged.is_some()
                                && stored.is_some_and(|stored| is_for(stored, action))
                            {
                                verdict = verdict.because("approval", ASKED_AGAIN);
                            }
                            let timeout =
                                verdict.approval_timeout.unwrap_or(DEFAULT_APPROVAL_TIMEOUT);
                            let timeout = chrono::Duration::from_std(timeout)
                                .unwrap_or(chrono::Duration::MAX);
                            let approval = Approval {
                                run_id: self.run_id,
                                step_id: action.step_id.clone(),
                                item: action.item_index,
                                action_hash: hash(bound),
                                action: Approval::action_of(bound),
                                verdict: verdict.clone(),
                                requested_at: now,
                                expires_at: now
                                    .checked_add_signed(timeout)
                                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
                                decision: None,
                            };
                            self.batch.record_approval(approval.clone());
                            self.approvals.insert(key, approval);
                            progress.waiting = true;
                        }
                    }
                }
                Decision::Allow => {}
            }
            if let Some(params) = verdict.params.take() {
                action.params = params;
            }
            if let Some(holds) = verdict.reserves.take() {
                reserved += &holds;
                progress.reserving.push((action.item_index, holds));
            }
            progress.verdicts.push(verdict);
            if index + 1 < actions.len() && self.judging_ran_out() {
                progress.next = index + 1;
                return Ok(Judgement::Unfinished);
            }
        }
        if progress.waiting {
            let requests: Vec<Value> = (self.approvals.waiting(step))
                .map(|((_, item), approval)| json!({"item": item, "verdict": approval.verdict, "expires_at": approval.expires_at}))
                .collect();
            self.set_step(
                step,
                StepState::AwaitingApproval,
                Some(json!({ "approvals": requests })),
            )?;
            return Ok(Judgement::Stopped);
        }
        // Charged to the step's usage until it ends, committed with its `running`: an
        // engine that dies meanwhile leaves it counted (see `reserved`).
        for (item, holds) in std::mem::take(&mut progress.reserving) {
            add_usage(&mut self.slots[step].usage, &holds);
            self.reservations.reserve(step, item, holds);
        }
        self.rates.count(executor, self.moment(), actions.len());
        let detail = match (items, progress.verdicts.as_slice()) {
            (None, [verdict]) => json!({ "verdict": verdict }),
            _ => json!({ "verdicts": progress.verdicts }),
        };
        Ok(Judgement::Run(Some(detail)))
    }

    /// How many items of `step` (a `for_each` step) start now, as one window judged as it
    /// starts; the others wait for a later window, once these have ended
    /// ([`Ledger::wait_for_window`]). Under a rate limit, those its window has room for and
    /// the step runs side by side: each item counted starts at once, not when a slot of the
    /// step frees (counted before it starts, it would leave the window early). Under a guard
    /// that counts spending ([`Guard::counts_spending`]), those the step runs side by side:
    /// judged before it starts, an item would not see what the items before it spent, and a
    /// budget would not hold within one step's items as it does across steps. Otherwise
    /// every item starts with the step.
    ///
    /// [`Guard::counts_spending`]: crate::guard::Guard::counts_spending
    pub(super) fn items_window(&mut self, step: StepIndex, now: DateTime<Utc>) -> usize {
        let executor = self.plan.node(step).executor.as_deref().unwrap_or_default();
        let room = self.rates.room(executor, now);
        if room == usize::MAX && !self.counts_spending() {
            return usize::MAX;
        }
        room.min(self.item_limit(step))
    }

    /// Whether the run's guard counts spending; a guard that panics saying does (what it
    /// cannot tell, it is judged the stricter way).
    fn counts_spending(&self) -> bool {
        self.guard.as_ref().is_some_and(|guard| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guard.counts_spending()))
                .unwrap_or(true)
        })
    }

    /// Ends `step` denied (for one of its `item`s, if given) by `verdict`.
    fn deny(&mut self, step: StepIndex, item: Option<usize>, verdict: &Verdict) -> Result<()> {
        let what = item.map_or(String::new(), |item| format!("item {item}: "));
        let error = ExecError {
            class: ErrorClass::Denied,
            message: format!("{what}{}", verdict.explain()),
        };
        let detail = json!({ "verdict": verdict, "item": item });
        self.end_step(step, StepState::Denied, &error, Some(detail))?;
        self.ended(step)
    }

    /// A person's ruling on `step` (see [`Command`](crate::Command)): grants or denies its
    /// requests (one item's, or all that wait), and moves the step on once none waits.
    pub(super) fn rule(
        &mut self,
        ruling: &Ruling,
        approved: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(step) = self.plan.index_of(&ruling.step) else {
            tracing::warn!(step = %ruling.step, "a ruling on a step the run does not have");
            return Ok(());
        };
        if self.slots[step].state != StepState::AwaitingApproval {
            tracing::warn!(step = %ruling.step, "a ruling on a step that does not await approval");
            return Ok(());
        }
        // Read after a cancel (commands are applied in the order they were sent): the cancel
        // ends the step `cancelled` (probe 74 F1: denied, or an approval recorded granted).
        if self.is_cancelling() {
            tracing::warn!(step = %ruling.step, "a ruling sent after the run's cancel");
            return Ok(());
        }
        let decision = ApprovalDecision {
            approved,
            by: ruling.by.clone(),
            reason: ruling.reason.clone(),
            at: now,
        };
        self.decide(step, ruling.item, decision)
    }

    /// Denies the requests that have expired by `now`: an expired request is never granted.
    /// One whose step no longer waits (denied or ended otherwise) is let go: left watched,
    /// its expiry, past, would wake the run at once, again and again.
    pub(super) fn expire_approvals(&mut self, now: DateTime<Utc>) -> Result<()> {
        for (step, item) in self.approvals.expired(now) {
            if self.slots[step].state != StepState::AwaitingApproval {
                self.approvals.unwatch((step, item));
            } else {
                let decision = ApprovalDecision {
                    approved: false,
                    by: "cairn".into(),
                    reason: Some("the approval request expired (approval.timeout)".into()),
                    at: now,
                };
                self.decide(step, item, decision)?;
            }
        }
        Ok(())
    }

    fn decide(
        &mut self,
        step: StepIndex,
        item: Option<usize>,
        decision: ApprovalDecision,
    ) -> Result<()> {
        let decided = self.approvals.decide(step, item, &decision);
        if decided.is_empty() {
            // A ruling on an item the step does not wait on (asked by an earlier drive, or
            // never) decides nothing: it neither denies nor readies the step.
            let step = &self.plan.steps()[step].id;
            tracing::warn!(%step, ?item, "a ruling on a request the step does not wait on");
            return Ok(());
        }
        let items: Vec<Option<usize>> = decided.iter().map(|approval| approval.item).collect();
        for approval in decided {
            self.batch.record_approval(approval);
        }
        let who = json!({ "by": decision.by, "reason": decision.reason, "items": items });
        if !decision.approved {
            let verdict = Verdict::deny(
                "approval",
                format!(
                    "denied by {}{}",
                    decision.by,
                    decision
                        .reason
                        .as_ref()
                        .map_or(String::new(), |reason| format!(": {reason}"))
                ),
            );
            let item = items.first().copied().flatten();
            return self.deny(step, item, &verdict);
        }
        if !self.approvals.awaits(step) {
            self.set_step(step, StepState::Ready, Some(json!({ "approved": who })))?;
            self.ready.push_back(step);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
