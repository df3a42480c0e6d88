//! What stops a run from starting new work — the engine draining, a pause, a cancel — and
//! what drives an ended run again (a redrive).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::complete::merged;
use super::{BATCH_SLICE, CANCELLED, Ledger, count_spent};
use crate::error::{Error, Result};
use crate::executor::{ErrorClass, ExecError, Usage};
use crate::plan::StepIndex;
use crate::state::{RunState, RunTransition, StepState, Transition};

/// Why a run starts nothing new, weakest first: a stronger halt replaces a weaker one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Halt {
    /// The engine stops: the attempts in flight may finish, the run stays as it is.
    Drain,
    /// The run pauses once its attempts in flight have finished; why, for its event.
    Pause(Value),
    /// The run's attempts are cancelled and it ends `cancelled`; why, for its event.
    Cancel(Value),
}

impl Halt {
    fn rank(&self) -> u8 {
        match self {
            Halt::Drain => 0,
            Halt::Pause(_) => 1,
            Halt::Cancel(_) => 2,
        }
    }
}

/// An ended run driven again (`cairn retry`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Redrive {
    /// Run this step and everything downstream of it again; `None`: every step that
    /// failed, was denied, cancelled or skipped.
    pub(crate) from: Option<String>,
}

impl Ledger {
    /// Stops new work for `halt` (unless a stronger halt holds already; then `false`); a
    /// cancel also asks the shell to cancel every running attempt.
    pub(super) fn halt(&mut self, halt: Halt) -> bool {
        if self.is_over() || (self.halt.as_ref()).is_some_and(|held| held.rank() >= halt.rank()) {
            return false;
        }
        if let Halt::Cancel(_) = halt {
            let cancels = &self.cancels;
            let running = self.running.iter().copied();
            let new: Vec<StepIndex> = running.filter(|step| !cancels.contains(step)).collect();
            self.cancels.extend(new);
        }
        self.halt = Some(halt);
        self.withhold_leaves();
        true
    }

    /// Says on stderr that the pause or cancel that set the halt now held was read, and what
    /// it does: with steps in flight, it waits for them or cancels them; with none (a run
    /// taken over, whose attempts were recorded interrupted, or waiting for a retry), it
    /// takes effect at once. Said once the commands sent are all read: a pause followed by a
    /// cancel is not said to pause the run (probe 47 F3).
    pub(crate) fn say_asked(&mut self) {
        let Some(request) = self.asked.take() else {
            return;
        };
        let in_flight = self.running.len();
        let said = match (&self.halt, in_flight) {
            (Some(Halt::Pause(_)), 0) => {
                "pause asked: nothing is in flight; the run pauses now".to_owned()
            }
            (Some(Halt::Pause(_)), _) => format!(
                "pause asked: nothing new starts; the run pauses once its {in_flight} step(s) in flight finish"
            ),
            (Some(Halt::Cancel(_)), 0) => {
                "cancel asked: nothing is in flight; the run is cancelled now".to_owned()
            }
            (Some(Halt::Cancel(_)), _) => {
                format!("cancel asked: the {in_flight} step(s) in flight are being cancelled")
            }
            (Some(Halt::Drain) | None, _) => return,
        };
        tracing::warn!(run = %self.run_id, by = %request.by, "{said}");
    }

    /// `step`'s attempt, committed as running, was not started: the run was halted before
    /// it could be (a pause or a cancel asked before its commit). It ends without an
    /// outcome, and does not count as an attempt made (nor do a `for_each` step's items,
    /// none of which started): under a cancel the step is cancelled, as any cancelled
    /// attempt's is; otherwise it is ready again, to start when the run goes on. Its event
    /// says why (`not_started`).
    pub(super) fn not_started(&mut self, step: StepIndex) -> Result<()> {
        let state = self.slots.get(step).map(|slot| slot.state);
        if state != Some(StepState::Running) {
            let state = state.map_or("missing", StepState::as_str);
            let message = format!("step #{step} not started, but it is {state}, not running");
            return Err(Error::Bug(message));
        }
        let why = match &self.halt {
            Some(Halt::Cancel(_)) => "run cancelled",
            Some(Halt::Pause(_)) => "run paused",
            Some(Halt::Drain) => "engine stopped",
            None => {
                let message = format!("step #{step} not started, but the run is not halted");
                return Err(Error::Bug(message));
            }
        };
        // Nothing ran, so nothing was spent of what it held.
        let held = self.end_attempt(step);
        let usage = &mut self.slots[step].usage;
        count_spent(usage, &mut self.tally.usage, &held, &Usage::default());
        let goes_on = self.items_not_started(step);
        let for_each = self.slots[step].items.is_some();
        let slot = &mut self.slots[step];
        slot.since = None;
        if !for_each {
            self.tally.attempts = self.tally.attempts.saturating_sub(1);
        }
        if !goes_on {
            slot.attempt = slot.attempt.saturating_sub(1);
            self.tally.steps -= u64::from(slot.attempt == 0);
        }
        let detail = Some(json!({ "not_started": why }));
        if self.is_cancelling() {
            let error = ExecError {
                class: ErrorClass::Cancelled,
                message: "the run was cancelled before the attempt started".to_owned(),
            };
            return self.end_step(step, StepState::Cancelled, &error, detail);
        }
        self.set_step(step, StepState::Ready, detail)?;
        self.ready.push_front(step);
        Ok(())
    }

    /// Whether the run is being cancelled.
    pub(crate) fn is_cancelling(&self) -> bool {
        matches!(self.halt, Some(Halt::Cancel(_)))
    }

    /// Whether the run is paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.run_state == RunState::Paused
    }

    /// Whether the engine stops driving the run once its attempts in flight have finished.
    pub(crate) fn is_draining(&self) -> bool {
        self.halt == Some(Halt::Drain)
    }

    /// The running attempts to cancel, asked for since the last call.
    pub(crate) fn take_cancels(&mut self) -> Vec<StepIndex> {
        std::mem::take(&mut self.cancels)
    }

    /// Carries out a halt; `true` if nothing may start. A paused run that is not
    /// asked to stay paused runs again (`cairn resume` is a person's "continue"). A pause or
    /// a stop leaves a run whose steps have all ended meanwhile to end as they say: there
    /// is nothing left to hold (a cancel still ends it cancelled, with its reason).
    pub(super) fn halted(&mut self) -> Result<bool> {
        let holding = matches!(self.halt, Some(Halt::Pause(_) | Halt::Drain));
        if holding && self.unfinished == 0 && self.run_state == RunState::Running {
            return Ok(false);
        }
        match self.halt.clone() {
            None => {
                if self.run_state == RunState::Paused {
                    self.set_run(
                        RunState::Running,
                        None,
                        None,
                        Some(json!({ "resumed": true })),
                    )?;
                }
                Ok(false)
            }
            Some(Halt::Drain) => Ok(true),
            Some(Halt::Pause(why)) => {
                if self.running.is_empty() && self.run_state == RunState::Running {
                    self.outcome = (None, None);
                    self.set_run(RunState::Paused, None, None, Some(why))?;
                }
                Ok(true)
            }
            Some(Halt::Cancel(why)) => {
                let (cancelled, done) = self.cancel_steps(CANCELLED, false)?;
                self.unfinished -= cancelled;
                self.cancel_left = !done;
                if self.running.is_empty() && !self.cancel_left {
                    let error = (ErrorClass::Cancelled, CANCELLED.to_owned());
                    self.set_run(RunState::Cancelled, None, Some(error), Some(why))?;
                }
                Ok(true)
            }
        }
    }

    /// Cancels the steps not ended, `reason` in their events (the running ones too when
    /// `running_too`: their attempts are over; a stalled one's event keeps its stall), a batch at a time ([`BATCH_SLICE`], as a
    /// cascade of skips): how many it cancelled, and whether none is left (`false` when the
    /// batch filled first).
    pub(super) fn cancel_steps(
        &mut self,
        reason: &str,
        running_too: bool,
    ) -> Result<(usize, bool)> {
        self.retrying.clear();
        let mut cancelled = 0;
        for step in 0..self.slots.len() {
            let state = self.slots[step].state;
            if state.is_terminal() || (state == StepState::Running && !running_too) {
                continue;
            }
            if self.batch.len() >= BATCH_SLICE {
                return Ok((cancelled, false));
            }
            let items = self.items_cancelled(step, reason);
            let mut detail = json!({ "reason": reason });
            // A stalled attempt ended by this (the run's deadline passed in its kill grace)
            // keeps its stall and escalation in its event.
            if let Some(stalled) = self.slots[step].stall.take() {
                let (stall, on_stall) = *stalled;
                detail = merged(Some(stall.detail()), detail);
                detail["escalation"] = json!(on_stall);
            }
            // Its error says why it ended (probe 79 F3: a redrive that left it so named no
            // reason), its class first (probe 85 F2: `show --json` found none in a step that
            // waited to retry); a step waiting to retry also keeps its last attempt's error,
            // what a person looking at it wants to know next.
            let slot = &mut self.slots[step];
            let last = (slot.error.take()).filter(|_| state == StepState::RetryWait);
            slot.error = Some(match last {
                Some(last) => format!(
                    "cancelled: {reason} while it waited to retry; its last attempt: {last}"
                ),
                None => std::iter::once(format!("cancelled: {reason}"))
                    .chain(items)
                    .collect::<Vec<_>>()
                    .join("; "),
            });
            self.set_step(step, StepState::Cancelled, Some(detail))?;
            cancelled += 1;
        }
        Ok((cancelled, true))
    }

    /// Ends the items of `step` left by a cancel (`reason`), and says what became of them,
    /// a part each (none for a step without items): a `for_each` step names the items that failed and those it
    /// did not run, between two windows (a rate limit's, a budget's: probe 89 F4) or with
    /// some in flight (90 F3), as one a cancel ends between two items does; at a takeover,
    /// not those a crash or the engine's stop cut off, which may have run (probe 92 F3, 98
    /// F1), but how many of them it cancelled.
    pub(super) fn items_cancelled(&mut self, step: StepIndex, reason: &str) -> Vec<String> {
        let held = self.items_not_run(step);
        let mut items: Vec<String> = self.items_failed(step).into_iter().collect();
        let (taken_back, cut_off) = self.cancel_items(step, reason);
        if held + taken_back > 0 {
            let not_run = crate::text::count(held + taken_back, "item");
            items.push(format!("{not_run} did not run"));
        }
        if cut_off > 0 {
            let were = if cut_off == 1 { "was" } else { "were" };
            let cut_off = crate::text::count(cut_off, "item");
            items.push(format!(
                "{cut_off} cut off as the engine stopped {were} cancelled"
            ));
        }
        items
    }

    /// Carries out a pause, a cancel or a time-out of a run no engine drives (or that the
    /// engine stops) at `now`, and whatever else a full batch left (a redrive, a cascade);
    /// starts nothing. A batch at a time: the caller commits and asks again while
    /// [`Ledger::has_work_left`].
    pub(crate) fn settle_halt(&mut self, now: DateTime<Utc>) -> Result<()> {
        if !self.carry_on(now)? {
            return Ok(());
        }
        if self.halt.is_some() {
            self.halted()?;
        } else if self.unfinished == 0 && self.run_state == RunState::Running {
            // Its last steps ended by the requests that expired before the command, which
            // then came after the run's end (probe 48 F9).
            self.finish_run()?;
        }
        Ok(())
    }

    /// Moves a new or redriven run to `running` at `now`, its deadline counted from then.
    pub(super) fn start_clock(&mut self, now: DateTime<Utc>, detail: Option<Value>) -> Result<()> {
        let timeout = self.plan.workflow().limits.timeout;
        self.deadline = timeout.map(|timeout| now + timeout.0);
        self.batch.push(Transition::Run(RunTransition {
            detail,
            deadline: self.deadline,
            ..RunTransition::new(self.run_id, self.run_state, RunState::Running)
        }))?;
        self.run_state = RunState::Running;
        self.outcome = (None, None);
        Ok(())
    }

    /// Starts `redrive`: the steps it names go back to pending as new attempts to come, a
    /// batch at a time ([`Ledger::go_on_redriving`]), and the run back to running with the
    /// last of them. Succeeded steps outside it keep their outputs.
    pub(super) fn redrive(&mut self, redrive: Redrive) -> Result<()> {
        let steps = match &redrive.from {
            Some(id) => {
                let from = (self.plan.index_of(id)).ok_or_else(|| {
                    Error::Bug(format!("redrive from {id}, not a step of the run"))
                })?;
                self.plan.downstream(from)
            }
            None => (self.slots.iter().enumerate())
                .filter(|(_, slot)| {
                    matches!(
                        slot.state,
                        StepState::Failed
                            | StepState::Denied
                            | StepState::Cancelled
                            | StepState::Skipped
                    )
                })
                .map(|(step, _)| step)
                .collect(),
        };
        self.redriving = Some(Redriving {
            from: redrive.from,
            steps,
            done: 0,
        });
        Ok(())
    }

    /// Sends the next steps of the redrive under way back to pending, until the batch is
    /// full; with the last, the run runs again (its deadline counted from `now`) and the
    /// ledger settles what the steps' states decide. `false` while steps are left.
    ///
    /// The run moves last: a crash between two batches leaves it failed (or cancelled) with
    /// some steps pending, which a `cairn retry` carries on, never a running run whose
    /// failed steps a takeover would skip past.
    pub(super) fn go_on_redriving(&mut self, now: DateTime<Utc>) -> Result<bool> {
        let Some(mut redriving) = self.redriving.take() else {
            return Ok(true);
        };
        // Each step's event says why in a sentence, as a skip or a cancellation does.
        let why = json!({ "reason": match &redriving.from {
            Some(from) => format!("the run was redriven from {from}"),
            None => "the run was redriven".to_owned(),
        } });
        while let Some(&step) = redriving.steps.get(redriving.done) {
            if self.batch.len() >= BATCH_SLICE {
                self.redriving = Some(redriving);
                return Ok(false);
            }
            if redriving.from.is_some() {
                self.reset_items(step);
            }
            // Decisions were for the step's last drive: its new drive asks again, and what
            // the last one asked neither waits nor is decided.
            if self.approvals.withdraw(step) {
                let id = &self.plan.steps()[step].id;
                self.batch.withdraw_approvals(self.run_id, id);
            }
            let slot = &mut self.slots[step];
            slot.output = None;
            slot.fallback = 0;
            slot.error = None; // Its new drive's events do not repeat the last one's error.
            slot.repeats = None; // A redrive starts afresh.
            if slot.state != StepState::Pending {
                self.set_step(step, StepState::Pending, Some(why.clone()))?;
            }
            redriving.done += 1;
        }
        // The run's event lists the steps (one small object a step).
        let Redriving { from, steps, .. } = redriving;
        let ids: Vec<&str> = (steps.iter())
            .map(|&step| &*self.plan.steps()[step].id)
            .collect();
        let detail = json!({ "redrive": { "from": from, "steps": ids } });
        self.start_clock(now, Some(detail))?;
        self.take_stock(now, Vec::new())?;
        Ok(true)
    }
}

/// A redrive under way: the steps it sends back to pending, in plan order, and how many of
/// them are back.
#[derive(Debug)]
pub(super) struct Redriving {
    from: Option<String>,
    steps: Vec<StepIndex>,
    done: usize,
}

#[cfg(test)]
pub(super) mod tests;
