//! The end of an attempt: success, a retry, a fallback or failure, and what it releases or
//! skips downstream.

use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::accept::Accepted;
use super::{BATCH_SLICE, CANCELLED, Ledger, count_spent, reserved};
use crate::definition::Trigger;
use crate::error::{Error, Result};
use crate::executor::{ExecError, Outcome};
use crate::plan::StepIndex;
use crate::retry;
use crate::state::StepState;

impl Ledger {
    /// Records the end of an attempt: success, a retry, a fallback, or failure (or, for a
    /// `for_each` attempt a halt stopped short, ready again).
    pub(super) fn complete(
        &mut self,
        step: StepIndex,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let state = self.slots.get(step).map(|slot| slot.state);
        if state != Some(StepState::Running) {
            let state = state.map_or("missing", StepState::as_str);
            let message = format!("an outcome for step #{step}, which is {state}, not running");
            return Err(Error::Bug(message));
        }
        let held = self.end_attempt(step);
        let spent = reserved::counted(&outcome, &held);
        let usage = &mut self.slots[step].usage;
        count_spent(usage, &mut self.tally.usage, &held, &spent);
        let stall = self.slots[step].stall.take().map(|stall| *stall);
        // A `for_each` attempt one of whose items stalled ends as a stall too, with its
        // items' result: the step's `on_stall` decides.
        let on_stall = self.plan.steps()[step].on_stall;
        let item_stall = self.item_stall(step).map(|stall| (stall, on_stall));
        let tail = outcome.log_tail.unwrap_or_default();
        let log = (!tail.is_empty()).then(|| json!({ "stderr_tail": tail }));
        let planner = self.plan.node(step).planner;
        // A task that ended on its own reported every item it started; a rate limit or the
        // guard held the items it was not given, for a later window.
        let unstarted = match &outcome.result {
            Ok(_) => self.take_back_unstarted(step) + self.items_held(step),
            Err(_) => 0,
        };
        // The attempt's time limit cut it off: it timed out, not waiting for a window.
        let cut_off = self.is_cut_off(step);
        if unstarted > 0
            && self.halt.is_none()
            && stall.is_none()
            && item_stall.is_none()
            && !cut_off
        {
            return self.wait_for_window(step, unstarted, log);
        }
        // A `for_each` attempt's result is its items'.
        let items = self.items_result(step);
        let result = (outcome.result)
            .and_then(|output| items.unwrap_or(Ok(output)))
            // A stalled attempt ends stalled, even with an output it made once cancelled.
            .and_then(|output| match &stall {
                Some((stall, _)) => Err(stall.error()),
                None => Ok(output),
            });
        // The steps a planner's plan added (none for any other step).
        let (result, log, added) = match result {
            Ok(output) => match self.accept(step, output)? {
                Accepted::Yes(output, detail, added) => (Ok(output), joined(log, detail), added),
                Accepted::No(error, kept) => (Err(error), joined(log, kept), 0..0),
                Accepted::Looped(stall) => {
                    let on_stall = self.plan.steps()[step].on_stall;
                    return self.escalate(step, stall, on_stall, log, now);
                }
            },
            result => (result, log, 0..0),
        };
        match result {
            Ok(output) => {
                self.slots[step].output = Some(super::outputs::held(output, planner));
                self.slots[step].error = None;
                self.slots[step].items = None;
                self.set_step(step, StepState::Succeeded, log)?;
                self.unfinished -= 1;
                self.skip_refused(added)?;
                self.ended(step)
            }
            Err(error) => {
                // A stalled attempt's end carries its stall, also when the stall is what
                // cancels the run.
                if let Some(stall) = stall {
                    return self.stalled_attempt_ended(step, stall, None, log, now);
                }
                if let Some(stall) = item_stall {
                    return self.stalled_attempt_ended(step, stall, Some(error), log, now);
                }
                if self.is_cancelling() {
                    return self.end_step(step, StepState::Cancelled, &error, log);
                }
                // Items its time limit kept from starting: it timed out, and counts (probe 101
                // F1: taken for a halt's, it ran again uncounted at the resume).
                if unstarted > 0 && self.halt.is_some() && !cut_off {
                    return self.stop_short(step, unstarted, log);
                }
                let looped = self.repeated(step, &ending(&error, &tail));
                let retries = (self.plan.steps()[step].retry.as_ref())
                    .is_some_and(|retry| retry.retries(error.class))
                    && self.has_retries_left(step);
                if let (true, Some(stall)) = (retries, looped) {
                    let on_stall = self.plan.steps()[step].on_stall;
                    return self.escalate(step, stall, on_stall, log, now);
                }
                if retries {
                    self.retry_later(step, &error, log, now)
                } else {
                    self.fall_back(step, &error, log)
                }
            }
        }
    }

    /// `step`'s `for_each` attempt stopped short at a drain or a pause, `unstarted` of its
    /// items kept from starting: the step is ready again, to run its items left when the run
    /// goes on, neither failed nor retried.
    fn stop_short(&mut self, step: StepIndex, unstarted: usize, log: Option<Value>) -> Result<()> {
        let why = if self.is_draining() {
            "engine stopped"
        } else {
            "run paused"
        };
        let detail = json!({ "interrupted": why, "items_not_started": unstarted });
        self.cut_off(step, merged(log, detail))?;
        self.ready.push_front(step);
        Ok(())
    }

    /// Whether `step` may be retried: it runs its own `with`, not a fallback (each is tried
    /// once), and has attempts left (those cut off before they ended do not count).
    pub(super) fn has_retries_left(&self, step: StepIndex) -> bool {
        let max_attempts = (self.plan.steps()[step].retry.as_ref()).map_or(1, |r| r.max_attempts);
        let slot = &self.slots[step];
        slot.fallback == 0 && slot.counted_attempts() < max_attempts
    }

    /// `step` failed with `error` and will not be retried (its retries are spent, or cannot
    /// help, or its stall's escalation is `fail`): its next fallback is ready at once (the
    /// step goes `running → ready`, never through `retry_wait`: nothing waits), else it
    /// fails. A fallback is another action: its endings are counted afresh for loops.
    pub(super) fn fall_back(
        &mut self,
        step: StepIndex,
        error: &ExecError,
        detail: Option<Value>,
    ) -> Result<()> {
        let fallbacks = self.plan.node(step).fallbacks.len() as u32;
        let slot = &mut self.slots[step];
        if slot.fallback < fallbacks {
            slot.fallback += 1;
            slot.error = Some(error.to_string());
            slot.repeats = None;
            self.set_step(step, StepState::Ready, detail)?;
            self.ready.push_back(step);
            Ok(())
        } else {
            self.fail(step, error, detail)
        }
    }

    /// Puts `step` in `retry_wait` after `error`, to wake up after its retry delay.
    pub(super) fn retry_later(
        &mut self,
        step: StepIndex,
        error: &ExecError,
        detail: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let seed = self.seed(step);
        let slot = &mut self.slots[step];
        // Counted as `max_attempts` counts them: an attempt a crash or a stop cut off doubles
        // no backoff (probe 84 F2: each kill doubled the next wait).
        let delay = (self.plan.steps()[step].retry.as_ref()).map_or(Default::default(), |retry| {
            retry::delay(retry, slot.counted_attempts(), seed)
        });
        slot.error = Some(error.to_string());
        self.wait_to_retry(step, now + delay, detail)
    }

    /// The jitter seed of a step: the same for a step of a run across restarts.
    fn seed(&self, step: StepIndex) -> u64 {
        // `DefaultHasher::new()` has fixed keys: the same inputs hash the same in every process.
        let mut hasher = DefaultHasher::new();
        hasher.write_u128(self.run_id.as_u128());
        hasher.write(self.plan.steps()[step].id.as_bytes());
        hasher.finish()
    }

    /// Ends `step` failed with `error` (and `detail`, for its event).
    pub(super) fn fail(
        &mut self,
        step: StepIndex,
        error: &ExecError,
        detail: Option<Value>,
    ) -> Result<()> {
        self.end_step(step, StepState::Failed, error, detail)?;
        self.ended(step)
    }

    /// Ends `step` in the terminal state `to` with `error` (its dependents are told by
    /// [`ended`](Self::ended)).
    pub(super) fn end_step(
        &mut self,
        step: StepIndex,
        to: StepState,
        error: &ExecError,
        detail: Option<Value>,
    ) -> Result<()> {
        self.slots[step].error = Some(error.to_string());
        self.set_step(step, to, detail)?;
        self.unfinished -= 1;
        Ok(())
    }

    /// `step` ended: each pending dependent counts it as met and becomes ready once all its
    /// needs have ended, or is skipped when its trigger refuses how `step` ended (and so on
    /// downstream).
    ///
    /// A step that ended while some of its own needs have not (one skipped at once by a
    /// need its trigger refuses, or one a redrive left succeeded while it sent a need of it
    /// back to pending) is walked from only once they have, when the walk from the last of
    /// them reaches it: no step starts while a step before it still runs, so what it reads
    /// of them is their final output.
    ///
    /// The walk stops once the batch holds [`BATCH_SLICE`] transitions, and goes on at the
    /// next turn (the steps left wait in the ledger): a long cascade of skips, or a fan-out
    /// of more branches than a batch takes, commits in slices.
    pub(super) fn ended(&mut self, step: StepIndex) -> Result<()> {
        if self.unmet[step] == 0 {
            self.cascade.push(step);
        }
        self.go_on_cascading()
    }

    /// Walks on from the ended steps not yet walked from, while the batch has room.
    pub(super) fn go_on_cascading(&mut self) -> Result<()> {
        let plan = Arc::clone(&self.plan);
        loop {
            if self.walk.left.is_empty() {
                let Some(from) = self.cascade.pop() else {
                    return Ok(());
                };
                self.walk.from = from;
                self.walk.left.extend(plan.dependents(from));
                self.walk.left.reverse(); // Visited last first, in the plan's order.
            }
            let current = self.walk.from;
            let state = self.slots[current].state;
            while let Some(&dependent) = self.walk.left.last() {
                if self.batch.len() >= BATCH_SLICE {
                    return Ok(());
                }
                self.walk.left.pop();
                let was_unmet = self.unmet[dependent];
                self.unmet[dependent] = was_unmet.saturating_sub(1);
                let mut skipped = false;
                if self.slots[dependent].state == StepState::Pending {
                    let trigger = plan.node(dependent).trigger.unwrap_or_default();
                    if self.is_cancelling() {
                        // A run being cancelled starts nothing more: what its walk reaches is
                        // cancelled, as the cancel ends every other step (probe 39 F4: the
                        // rest of a cancel cut off by a crash ended skipped).
                        let detail = Some(json!({ "reason": CANCELLED }));
                        self.set_step(dependent, StepState::Cancelled, detail)?;
                        self.unfinished -= 1;
                        skipped = true;
                    } else if !trigger.accepts(state) {
                        let reason = refused_by(&plan.steps()[current].id, state, trigger);
                        let detail = Some(json!({ "reason": reason }));
                        self.set_step(dependent, StepState::Skipped, detail)?;
                        self.unfinished -= 1;
                        skipped = true;
                    } else if self.unmet[dependent] == 0 {
                        self.set_step(dependent, StepState::Ready, None)?;
                        self.ready.push_back(dependent);
                    }
                }
                // An ended dependent is walked from once, when it has ended and so have
                // all its needs: just now, whichever came last (see [`Ledger::ended`]).
                if self.unmet[dependent] == 0
                    && self.slots[dependent].state.is_terminal()
                    && (was_unmet == 1 || skipped)
                {
                    self.cascade.push(dependent);
                }
            }
        }
    }
}

/// The walk from one ended step to its dependents: the step, and the dependents still to
/// visit, last first (empty between walks).
#[derive(Debug, Default)]
pub(super) struct Walk {
    from: StepIndex,
    left: Vec<StepIndex>,
}

impl Walk {
    /// Whether a walk stopped at a full batch.
    pub(super) fn is_under_way(&self) -> bool {
        !self.left.is_empty()
    }
}

/// `detail` with the fields of `log` (the attempt's stderr tail), if any.
pub(super) fn merged(log: Option<Value>, mut detail: Value) -> Value {
    if let (Some(Value::Object(log)), Some(fields)) = (log, detail.as_object_mut()) {
        fields.extend(log);
    }
    detail
}

/// `detail`, if any, with the fields of `log` (see [`merged`]); else `log`.
fn joined(log: Option<Value>, detail: Option<Value>) -> Option<Value> {
    match detail {
        Some(detail) => Some(merged(log, detail)),
        None => log,
    }
}

/// How many of the last lines of an attempt's diagnostic output its ending compares, at
/// most: those that end within its last [`ENDING_BYTES`].
const ENDING_LINES: usize = 100;

/// How much of the end of an attempt's diagnostic output its ending compares, at most, in
/// whole lines: well within the 64 KiB a process keeps of its stderr, so that where that
/// cut fell does not count.
const ENDING_BYTES: usize = 16 * 1024;

/// How an attempt that failed with `error` ended, to compare with its step's other endings:
/// the error, then the last lines of its diagnostic output's `tail` (at most
/// [`ENDING_LINES`], within its last [`ENDING_BYTES`]; the last line alone if it is longer)
/// in place of what the error quotes of the tail's end. A process's exit message quotes
/// the last 4 KiB of stderr, and the tail is its last 64 KiB, each cut wherever that falls:
/// a number one digit longer moved the cut, and the text began with another piece of a
/// word, or another line, which no normalising makes alike (probes 189 F1, 193 F2, 198 F1,
/// 200 F1). Whole lines counted from the end, well before the cut, are the same lines
/// wherever the cut fell.
fn ending(error: &ExecError, tail: &str) -> String {
    let error = error.to_string();
    let tail = tail.trim_end();
    let common = (error.bytes().rev())
        .zip(tail.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mut quote = error.len() - common;
    while !error.is_char_boundary(quote) {
        quote += 1;
    }
    // The start of each line from the last one back, the first line's (0) last.
    let starts = (tail.rmatch_indices('\n').map(|(at, _)| at + 1)).chain([0]);
    let mut compared = starts.clone().next().unwrap_or(0);
    for start in starts.take(ENDING_LINES) {
        if tail.len() - start > ENDING_BYTES {
            break;
        }
        compared = start;
    }
    format!("{}\n{}", &error[..quote], &tail[compared..])
}

/// Why a step whose `trigger` refuses how its need `need` ended, in `state`, is skipped:
/// "needs build which ended failed", with the trigger when it is not the default.
pub(super) fn refused_by(need: &str, state: StepState, trigger: Trigger) -> String {
    match trigger {
        Trigger::AllSucceeded => format!("needs {need} which ended {state}"),
        _ => format!("needs {need} which ended {state} (trigger {trigger})"),
    }
}

#[cfg(test)]
mod tests;
