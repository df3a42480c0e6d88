//! The end of a run: timed out, interrupted, or finished with its output or its first
//! failure.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::attempt::too_large;
use super::control::Halt;
use super::{CANCELLED, Ledger, count_spent, reserved};
use crate::error::Result;
use crate::executor::{ErrorClass, Outcome, Usage};
use crate::expr::SharedJson;
use crate::measure::json_len;
use crate::plan::StepIndex;
use crate::state::{RunState, StepState};

impl Ledger {
    /// The run's `deadline` passed, the commands sent by then applied: a pause with nothing
    /// in flight takes effect (sent before what expires after it); the approval requests that
    /// expired by then are denied (probe 48 F3: an engine frozen past the deadline lost them);
    /// the walks from the steps ended so are taken; then a run all of whose steps ended ends
    /// as they did, unless a cancel came first, and any other times out.
    pub(super) fn reach_deadline(&mut self, deadline: DateTime<Utc>) -> Result<()> {
        // A time-out a crash cut off between its commits (probe 195 F1) is carried on, also
        // when it had cancelled every step: the run ends timed out, not as its steps did; a
        // pause that waited for the steps it cancelled is not carried out (probe 198 F2).
        let timing_out = (0..self.slots.len()).any(|step| self.timed_out(step));
        // Not while an attempt the crash cut off is still `running` (probe 49 F6).
        let in_flight = self
            .slots
            .iter()
            .any(|slot| slot.state == StepState::Running);
        if matches!(self.halt, Some(Halt::Pause(_))) && !in_flight && !timing_out {
            self.halted()?;
        }
        self.expire_approvals(deadline)?;
        self.go_on_cascading()?;
        if self.unfinished == 0
            && !self.is_cancelling()
            && !self.run_state.is_terminal()
            && !timing_out
        {
            return self.finish_run();
        }
        self.time_out()
    }

    /// Whether `step` was cancelled by the run's time-out (its error says so).
    pub(super) fn timed_out(&self, step: StepIndex) -> bool {
        let slot = &self.slots[step];
        slot.state == StepState::Cancelled
            && (slot.error.as_deref())
                .and_then(|error| error.strip_prefix("cancelled: "))
                .is_some_and(|reason| reason.starts_with(super::TIMED_OUT))
    }

    /// The run's deadline passed: what has not ended is cancelled, and the run fails. A batch
    /// at a time, as a cancel ([`Ledger::cancel_steps`]): the run fails with the last. A run
    /// still `pending` (its deadline passed before its first turn: a `limits.timeout`
    /// shorter than the time it took to record it) first moves to `running`, with the first
    /// batch: a run fails only from `running` or `paused`.
    pub(super) fn time_out(&mut self) -> Result<()> {
        if self.run_state == RunState::Pending {
            self.set_run(RunState::Running, None, None, None)?;
        }
        // A cancel read by the deadline ends the run as cancelled, which wins over failed
        // (probe 39 F6: a cancel sent within the second before the deadline was lost to it).
        let cancel = match &self.halt {
            Some(Halt::Cancel(why)) => Some(why.clone()),
            _ => None,
        };
        let reason = match cancel {
            Some(_) => CANCELLED,
            None => super::TIMED_OUT,
        };
        // The run ends: its count of unfinished steps is not kept up.
        let (_, done) = self.cancel_steps(reason, true)?;
        self.timing_out = !done;
        if self.timing_out {
            return Ok(());
        }
        if let Some(why) = cancel {
            let error = (ErrorClass::Cancelled, CANCELLED.to_owned());
            return self.set_run(RunState::Cancelled, None, Some(error), Some(why));
        }
        let limits = &self.plan.workflow().limits;
        let timeout = limits.timeout.map(|t| t.to_string()).unwrap_or_default();
        let message = format!("the run timed out (limits.timeout = {timeout})");
        let error = Some((ErrorClass::Timeout, message));
        self.set_run(RunState::Failed, None, error, None)
    }

    /// Whether `outcome`, of `step`'s attempt, come back as the engine stops, is recorded
    /// (before [`Input::Interrupted`](super::Input::Interrupted)) rather than the attempt
    /// interrupted: a success (its program exited by itself before the engine's SIGTERM;
    /// recorded interrupted, its work would be done again at the resume), or a time-out (the
    /// attempt was over before the engine stopped, in its kill grace: recorded interrupted, it
    /// would run again uncounted, with a new time limit), of a step other than a `for_each`
    /// (whose ended items are kept anyway); of a `for_each` step, an attempt whose time limit
    /// had passed when the engine stopped (`timed_out`; probe 99 F3: it ran again uncounted).
    pub(crate) fn keeps_at_interruption(
        &self,
        step: StepIndex,
        outcome: &Outcome,
        timed_out: bool,
    ) -> bool {
        if self.plan.node(step).for_each.is_some() {
            return timed_out;
        }
        match &outcome.result {
            Ok(_) => true,
            Err(error) => error.class == ErrorClass::Timeout,
        }
    }

    /// What `step`'s attempt, stopped with the run (the engine stops, or the run's deadline
    /// passed), reported spending before it ended (`outcome`, not recorded as the attempt's
    /// end): counted, at least what it held, as a cut-off attempt's spending is. Dropped, an
    /// interrupted agent's report left a run free to spend it again past its budget (probe
    /// 27 F1). A `for_each` attempt's spending is its items', kept as each ends.
    pub(crate) fn spent_as_stopped(&mut self, step: StepIndex, outcome: &Outcome) {
        if self.slots[step].state != StepState::Running
            || self.plan.node(step).for_each.is_some()
            || outcome.usage == Usage::default()
        {
            return;
        }
        let held = self.reservations.release_step(step);
        let spent = reserved::at_least(&outcome.usage, &held);
        count_spent(
            &mut self.slots[step].usage,
            &mut self.tally.usage,
            &held,
            &spent,
        );
    }

    /// The engine stops: running attempts are recorded as interrupted, to run again (and
    /// their items: [`Ledger::items_stopped`]); a stalled one, stopped in its kill grace,
    /// ends as its stall's escalation says. When no attempt was left to interrupt (those in
    /// flight ended as it stopped: by their stalls, or kept,
    /// [`Ledger::keeps_at_interruption`]), the run is settled as a turn would settle it,
    /// starting nothing: it ends if they were its last steps (or a stall's escalation
    /// cancelled it), as it would had they ended before the engine stopped.
    pub(super) fn interrupt(&mut self, now: DateTime<Utc>) -> Result<()> {
        let mut interrupted = false;
        for step in 0..self.slots.len() {
            if self.slots[step].state != StepState::Running {
                continue;
            }
            if self.stalled_attempt_cut_off(step, json!("engine stopped"), now)? {
                self.end_attempt(step);
            } else if self.item_stall_cut_off(step, now)? {
                continue;
            } else {
                let mut detail = json!({ "interrupted": "engine stopped" });
                if self.plan.node(step).for_each.is_some() {
                    detail["items_not_started"] = json!(self.items_stopped(step));
                }
                self.cut_off(step, detail)?;
                interrupted = true;
            }
        }
        self.outcome = (None, Some((ErrorClass::Interrupted, "interrupted".into())));
        if !interrupted {
            self.settle_halt(now)?;
            if self.unfinished == 0 && !self.run_state.is_terminal() {
                self.finish_run()?;
            }
        }
        Ok(())
    }

    /// Ends the run once no step is left to run: failed if a step failed or was denied,
    /// else cancelled if one was cancelled, else succeeded with its sinks' outputs — or
    /// failed `output_too_large` if those together are over the run's cap on a step's (one
    /// sink's output within it makes a run's output within it), as a
    /// Step Functions execution whose output passes its quota fails (probe 69 F7: 200 sinks
    /// of 1 MB made a run's output of 200 MB, stored again beside theirs).
    pub(super) fn finish_run(&mut self) -> Result<()> {
        let failed = (self.slots.iter())
            .any(|slot| matches!(slot.state, StepState::Failed | StepState::Denied));
        let cancelled = self.slots.iter().any(|s| s.state == StepState::Cancelled);
        let (to, output, error) = match (failed, cancelled) {
            (true, _) => (
                RunState::Failed,
                None,
                self.run_error(&[StepState::Failed, StepState::Denied]),
            ),
            // A step a cancel left so, outside a `retry --from`'s redrive (probe 75 F2).
            (false, true) => (
                RunState::Cancelled,
                None,
                self.run_error(&[StepState::Cancelled]),
            ),
            (false, false) => {
                let (output, bytes) = self.run_output();
                let cap = self.max_output_bytes;
                if bytes > cap {
                    let why = format!("the run's sinks' outputs together are {bytes} bytes");
                    let error = too_large(&why, cap, "a step's");
                    (RunState::Failed, None, Some((error.class, error.message)))
                } else {
                    (RunState::Succeeded, Some(output), None)
                }
            }
        };
        self.set_run(to, output, error, None)
    }

    /// The run's output: the outputs of the sink steps that succeeded, by step id, and their
    /// JSON bytes together. The run is over, so they are moved out of their slots, not
    /// copied (they may add up to hundreds of megabytes).
    fn run_output(&mut self) -> (Value, usize) {
        let (mut outputs, mut bytes) = (Map::new(), 0);
        for sink in self.plan.sinks() {
            let slot = &mut self.slots[sink];
            if slot.state != StepState::Succeeded {
                continue;
            }
            let output = (slot.output.take()).map_or(Value::Null, SharedJson::unshared);
            bytes += json_len(&output);
            outputs.insert(self.plan.steps()[sink].id.to_string(), output);
        }
        (Value::Object(outputs), bytes)
    }

    /// The error of the first step in one of the `ended` states, with its class.
    fn run_error(&self, ended: &[StepState]) -> Option<(ErrorClass, String)> {
        (self.slots.iter().zip(self.plan.steps()))
            .find(|(slot, _)| ended.contains(&slot.state))
            .map(|(slot, spec)| {
                let error = slot.error.as_deref().unwrap_or("no reason given");
                let class = ErrorClass::of_error(error).unwrap_or(ErrorClass::BadParams);
                // "step a denied: approval: …", not "denied: denied: approval: …".
                let said = (error.strip_prefix(slot.state.as_str()))
                    .and_then(|rest| rest.strip_prefix(": "))
                    .unwrap_or(error);
                (class, format!("step {} {}: {said}", spec.id, slot.state))
            })
    }
}
