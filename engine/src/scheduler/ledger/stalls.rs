//! The ledger's stall watch: heartbeats of running attempts (of each running item of a
//! `for_each` attempt), the run's `no_progress`, loops, and the escalation (`on_stall`) of
//! each. Detection itself is pure ([`crate::stall`]); the shell reports progress and cancels
//! what is marked here.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Ledger;
use super::control::Halt;
use super::items::Items;
use crate::command::{Command, Request, StalledStep};
use crate::definition::{DEFAULT_LOOP_AFTER, OnStall};
use crate::error::Result;
use crate::executor::{ErrorClass, ExecError};
use crate::plan::StepIndex;
use crate::stall::{self, Kind, Stall};
use crate::state::StepState;

/// Why a loop whose `on_stall` is `retry` fails its step instead, in the step's event.
const LOOP_NOT_RETRIED: &str =
    "on_stall is retry, but retrying a loop repeats it: as fail (its fallbacks, else it fails)";

/// Why a stall whose `on_stall` is `retry` fails its step: no attempt is left to retry with.
const NO_RETRY_LEFT: &str = "on_stall is retry, but the step has no retry left (a fallback is \
                             tried once): as fail (its fallbacks, else it fails)";

impl Ledger {
    /// A running attempt of `step`, or its `item`, showed a sign of life at `at`: the step's
    /// (what `progress_at` records, any item's for a `for_each` step) and the item's.
    pub(super) fn progress(&mut self, step: StepIndex, item: Option<usize>, at: DateTime<Utc>) {
        if let Some(slot) = self.slots.get_mut(step)
            && slot.state == StepState::Running
        {
            slot.since = slot.since.max(Some(at));
            self.active_at = self.active_at.max(at);
            self.batch
                .record_progress(self.run_id, &self.plan.steps()[step].id, at);
            if let Some(index) = item {
                self.item_heard(step, index, at);
            }
        }
    }

    /// `stall.loop_after`.
    pub(super) fn loop_after(&self) -> u32 {
        (self.plan.workflow().stall.as_ref()).map_or(DEFAULT_LOOP_AFTER, |stall| stall.loop_after)
    }

    /// Counts an attempt of `step` that ended with `ending` (its error, or its stall); a loop
    /// once `stall.loop_after` in a row match with no item of a `for_each` step succeeding
    /// in between.
    pub(super) fn repeated(&mut self, step: StepIndex, ending: &str) -> Option<Stall> {
        let loop_after = self.loop_after();
        let slot = &mut self.slots[step];
        let done = slot.items.as_deref().map_or(0, Items::succeeded);
        (slot.repeats.get_or_insert_default()).record(ending, done, loop_after)
    }

    /// Marks the running attempts that have stalled by `now` (to be cancelled, then
    /// escalated once they have stopped).
    pub(super) fn watch(&mut self, now: DateTime<Utc>) {
        // Signs of life moved it at their own times (probe 208 F1: their records, read up to
        // a second late, counted as a move then, and `no_progress` came that much late).
        if self.running.is_empty() || self.batch.moves() {
            self.active_at = now;
        }
        for step in self.watched() {
            let Some(window) = self.plan.steps()[step].heartbeat else {
                continue;
            };
            if self.slots[step].items.is_some() {
                self.watch_items(step, window, now);
                continue;
            }
            let since = self.slots[step].since.unwrap_or(now);
            if let Some(stall) = stall::silence(Kind::Heartbeat, since, window, now)
                && self.before_its_stop(step, since + window)
            {
                self.mark_stalled(step, stall, self.plan.steps()[step].on_stall);
            }
        }
        let no_progress = (self.plan.workflow().stall.as_ref()).and_then(|stall| stall.no_progress);
        let Some(window) = no_progress else {
            return;
        };
        if let Some(stall) = stall::silence(Kind::NoProgress, self.active_at, window.0, now) {
            // Each attempt by its step's escalation; the run holds by the strongest (a
            // cancel over a pause, [`Ledger::halt`]).
            for step in self.watched() {
                self.mark_stalled(step, stall.clone(), self.plan.steps()[step].on_stall);
            }
            self.active_at = now;
        }
    }

    /// Marks the running items of `step`'s `for_each` attempt silent for `window` by `now`
    /// stalled: each is stopped alone, and ends with its stall; a `pause` or `cancel`
    /// escalation holds the run from then, as a step's stall does.
    fn watch_items(&mut self, step: StepIndex, window: std::time::Duration, now: DateTime<Utc>) {
        let stalled: Vec<(usize, Stall)> = (self.item_windows(step))
            .filter(|&(_, since)| self.before_its_stop(step, since + window))
            .filter_map(|(index, since)| {
                let mut stall = stall::silence(Kind::Heartbeat, since, window, now)?;
                stall.evidence["item"] = json!(index);
                Some((index, stall))
            })
            .collect();
        let on_stall = self.plan.steps()[step].on_stall;
        for (index, stall) in stalled {
            let (id, said) = (&self.plan.steps()[step].id, stall.error().message);
            tracing::warn!(run = %self.run_id, step = %id, index, "item {index} stalled: {said}");
            self.hold_the_run(step, &stall, on_stall);
            self.item_stalled(step, index, stall);
        }
    }

    /// When the next stall would be seen, if nothing moves before.
    pub(super) fn next_stall(&self) -> Option<DateTime<Utc>> {
        let heartbeats = self.unstalled().filter_map(|step| {
            let window = self.plan.steps()[step].heartbeat?;
            let due = match self.slots[step].items.is_some() {
                true => self.item_windows(step).map(|(_, since)| since).min()? + window,
                false => self.slots[step].since? + window,
            };
            self.before_its_stop(step, due).then_some(due)
        });
        let no_progress = (self.plan.workflow().stall.as_ref())
            .and_then(|stall| stall.no_progress)
            .filter(|_| self.unstalled().next().is_some())
            .map(|window| self.active_at + window.0);
        heartbeats.chain(no_progress).min()
    }

    /// Whether a silence of `step`'s running attempt that would be a stall `at` would come
    /// before the attempt was told to stop: the run is not being cancelled, and its time
    /// limit, if any, comes later. Told to stop, an attempt ends as that stop says, silent
    /// in its kill grace or not (probe 105 F1, F2: a stall then overrode a time-out, and a
    /// cancel).
    fn before_its_stop(&self, step: StepIndex, at: DateTime<Utc>) -> bool {
        !self.is_cancelling()
            && (self.attempt_deadlines.get(&step)).is_none_or(|&deadline| at < deadline)
    }

    /// The running attempts not stalled already. (Asked before every turn by
    /// [`Ledger::next_stall`]: it allocates nothing.)
    fn unstalled(&self) -> impl Iterator<Item = StepIndex> + '_ {
        (self.running.iter().copied()).filter(|&step| self.slots[step].stall.is_none())
    }

    /// [`Ledger::unstalled`], collected for a caller that marks them.
    fn watched(&self) -> Vec<StepIndex> {
        self.unstalled().collect()
    }

    /// Marks `step`'s running attempt stalled, to be cancelled and escalated by `on_stall`
    /// once it has stopped. The stall is durable from now on, with the step
    /// ([`Batch::record_stall`](crate::state::Batch::record_stall)), and a pause or a cancel
    /// also as the run's command ([`Ledger::hold_the_run`]), so that an engine taking the run
    /// over after a crash in the attempt's kill grace escalates it as this one would have
    /// ([`Ledger::stalled_attempt_cut_off`]): every step stalled, not only the one the
    /// command names (probe 204 F2: a `no_progress` stall of two steps, escalated by a
    /// cancel, kept only the first's after the takeover).
    fn mark_stalled(&mut self, step: StepIndex, stall: Stall, on_stall: OnStall) {
        let id = &self.plan.steps()[step].id;
        tracing::warn!(run = %self.run_id, step = %id, "stalled: {}", stall.error().message);
        if !self.cancels.contains(&step) {
            self.cancels.push(step);
        }
        let mut recorded = stall.detail();
        recorded["escalation"] = json!(on_stall);
        recorded["attempt"] = json!(self.slots[step].attempt);
        self.batch.record_stall(self.run_id, id, recorded);
        self.hold_the_run(step, &stall, on_stall);
        self.slots[step].stall = Some(Box::new((stall, on_stall)));
    }

    /// `step`'s stalled attempt ended with no outcome: the engine stopped in its kill grace,
    /// or died there and this engine takes the run over (`interrupted` says which, in the
    /// event). It is escalated as its end would have been, and counts as an attempt made.
    /// `false` if the attempt had not stalled.
    pub(super) fn stalled_attempt_cut_off(
        &mut self,
        step: StepIndex,
        interrupted: Value,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(stalled) = self.slots[step].stall.take() else {
            return Ok(false);
        };
        let log = Some(json!({ "interrupted": interrupted }));
        self.stalled_attempt_ended(step, *stalled, None, log, now)?;
        Ok(true)
    }

    /// Holds the run from `step`'s stall on when its escalation pauses or cancels the run, not
    /// from the end of the stalled attempt's kill grace: nothing new starts meanwhile, and a
    /// cancel stops the other attempts in flight too. The halt is recorded as the run's own
    /// command, so that an engine taking the run over after a crash in that grace carries it
    /// out too. The run's event says who halted it and why, as a person's pause or cancel
    /// does, beside the stall.
    fn hold_the_run(&mut self, step: StepIndex, stall: &Stall, on_stall: OnStall) {
        let id = &self.plan.steps()[step].id;
        let item =
            (stall.evidence.get("item")).map_or_else(String::new, |item| format!(" item {item}"));
        let mut request = Request::new(
            "cairn",
            Some(format!(
                "step {id}{item} stalled: {}",
                stall.error().message
            )),
        );
        let mut detail = stall.detail();
        let stalled = StalledStep {
            step: id.to_string(),
            stall: detail["stall"].clone(),
        };
        let (halt, command): (Halt, fn(Request) -> Command) = match on_stall {
            OnStall::Pause => {
                detail["paused"] = json!(request);
                (Halt::Pause(detail), Command::Pause)
            }
            OnStall::Cancel => {
                detail["cancelled"] = json!(request);
                (Halt::Cancel(detail), Command::Cancel)
            }
            OnStall::Retry | OnStall::Fail => return,
        };
        if self.halt(halt) {
            request.stall = Some(stalled);
            self.batch.send(self.run_id, command(request));
        }
    }

    /// The detail of the run's move (under `key`: `paused`, `cancelled`) for a pause or a
    /// cancel asked by `request`: who and why, with the stall when cairn asked it for one.
    /// That stall's step, found running at this takeover (the engine died in its attempt's
    /// kill grace), records it, and its `escalation`, with its interruption, as the
    /// attempt's end would have, and its error: a cancel's step ends `cancelled` with it (probe
    /// 47 F2: the run's cancel ended it with none), a pause's waits with it.
    pub(super) fn asked(
        &mut self,
        key: &str,
        escalation: OnStall,
        request: &Request,
    ) -> Result<Value> {
        let mut request = request.clone();
        let Some(stalled) = request.stall.take() else {
            return Ok(json!({ key: request }));
        };
        let interrupted = Some(json!({ "interrupted": true }));
        let mut ended = None;
        if let Some(step) = (self.batch.last_of_step(self.run_id, &stalled.step))
            .filter(|step| step.from == StepState::Running && step.detail == interrupted)
        {
            step.detail = Some(json!({
                "interrupted": true, "stall": stalled.stall, "escalation": escalation
            }));
            if let Some(stall) = Stall::recorded(&stalled.stall) {
                step.error = Some(stall.error().to_string());
                ended = self
                    .plan
                    .index_of(&stalled.step)
                    .map(|index| (index, stall));
            }
        }
        if let Some((step, stall)) = ended {
            // Its items the crash cut off end with it: the stalled one failed with its stall
            // (probe 49 F5: it was `cancelled`; 208 F2: a pause's was left pending), a
            // cancel's others as a run's cancel ends them (probe 48 F2: one stayed
            // `pending`), and its error names them as a live engine's does (probe 107 F1,
            // 208 F2: the stall's alone).
            self.stalled_item_cut_off(step, &stall);
            let items = match escalation {
                OnStall::Cancel => self.items_cancelled(step, super::CANCELLED),
                _ => self.items_failed(step).into_iter().collect(),
            };
            let error = match items.is_empty() {
                true => stall.error(),
                false => ExecError {
                    class: ErrorClass::Stalled,
                    message: items.join("; "),
                },
            };
            match escalation {
                OnStall::Cancel => {
                    let detail = json!({ "reason": super::CANCELLED });
                    self.end_step(step, StepState::Cancelled, &error, Some(detail))?;
                }
                _ => {
                    let error = error.to_string();
                    if let Some(moved) = self.batch.last_of_step(self.run_id, &stalled.step) {
                        moved.error = Some(error.clone());
                    }
                    self.slots[step].error = Some(error);
                }
            }
        }
        Ok(json!({ key: request, "stall": stalled.stall }))
    }

    /// The attempt of `step` that stalled (`stall`, escalated by `on_stall`) ended, with
    /// `error` when not the stall's own (a `for_each` attempt one of whose items stalled ends
    /// with its items' result): it counts towards a loop as other endings do, by its stall's
    /// kind and window; then the escalation.
    pub(super) fn stalled_attempt_ended(
        &mut self,
        step: StepIndex,
        (stall, on_stall): (Stall, OnStall),
        error: Option<ExecError>,
        log: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let looped = self.repeated(step, &stall.ending());
        if let Some(looped) = looped
            && on_stall == OnStall::Retry
            && self.has_retries_left(step)
        {
            let on_stall = self.plan.steps()[step].on_stall;
            return self.escalate(step, looped, on_stall, log, now);
        }
        self.escalate_with(step, stall, on_stall, error, log, now)
    }

    /// Carries out `on_stall` for the attempt of `step` that ended with `stall`; the event
    /// records the stall and its evidence. A loop (of a step's endings or of a planner's
    /// plans) is seen only now, as the attempt ends: a pause or a cancel holds the run from
    /// here, as a stall seen while the attempt ran holds it from then.
    pub(super) fn escalate(
        &mut self,
        step: StepIndex,
        stall: Stall,
        on_stall: OnStall,
        log: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.escalate_with(step, stall, on_stall, None, log, now)
    }

    /// [`Ledger::escalate`], the step ending with `error` when not the stall's own.
    fn escalate_with(
        &mut self,
        step: StepIndex,
        stall: Stall,
        on_stall: OnStall,
        error: Option<ExecError>,
        log: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut detail = stall.detail();
        if let (Some(Value::Object(log)), Some(fields)) = (log, detail.as_object_mut()) {
            fields.extend(log);
        }
        // Retrying a loop repeats it, which is what loop detection exists to stop: the step
        // fails instead (its fallbacks run), and its event says why.
        // With no retry left (or a fallback stalled, which is tried once), `retry` is `fail`,
        // and its event says so rather than a retry that does not come.
        let on_stall = match (stall.kind, on_stall) {
            (Kind::Loop, OnStall::Retry) => {
                detail["reason"] = json!(LOOP_NOT_RETRIED);
                OnStall::Fail
            }
            (_, OnStall::Retry) if !self.has_retries_left(step) => {
                detail["reason"] = json!(NO_RETRY_LEFT);
                OnStall::Fail
            }
            _ => on_stall,
        };
        detail["escalation"] = json!(on_stall);
        if stall.kind == Kind::Loop {
            self.hold_the_run(step, &stall, on_stall);
        }
        let error = error.unwrap_or_else(|| stall.error());
        match on_stall {
            OnStall::Retry => self.retry_later(step, &error, Some(detail), now),
            // The fallbacks, as after any other failure.
            OnStall::Fail => self.fall_back(step, &error, Some(detail)),
            OnStall::Pause => {
                self.slots[step].error = Some(error.to_string());
                self.set_step(step, StepState::Ready, Some(detail))?;
                self.ready.push_front(step); // The run is halted since the stall.
                Ok(())
            }
            OnStall::Cancel => self.end_step(step, StepState::Cancelled, &error, Some(detail)),
        }
    }
}

#[cfg(test)]
mod tests;
