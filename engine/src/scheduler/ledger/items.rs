//! `for_each` items: each item ends on its own and is committed as it ends (in the next batch, with
//! whatever else ended meanwhile); the step's attempt ends once every item it ran has, with the
//! items' outputs in item order, or the list of the items that failed. An item whose output is over
//! the run's cap, on its own or with the outputs of the items that succeeded before it, fails on
//! its own as it ends, its output not kept ([`Outputs`]). A halt (the engine draining, a pause, a
//! cancel) keeps the items left from starting while those in flight finish, and so does the
//! attempt's time limit (the attempt times out, the items it did not start do not). An item whose
//! `with` does not render fails on its own (rendered as its task starts it when no guard judges it
//! first: `actions.rs`). A retry, a resume or a redrive runs only the items that have not
//! succeeded. A rate limit of the step's executor holds the items its window has no room for, and a
//! guard those past the step's first `max_parallel` (each window is judged as it starts): the
//! attempt ends those it started, then waits `ready` for the next window and goes on with the items
//! left, as the same attempt. Each running item has its own heartbeat window
//! ([`Ledger::item_windows`]): an item silent past its step's `heartbeat` is stopped alone and ends
//! failed with its stall.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::complete::merged;
use super::{Ledger, count_spent, reserved};
use crate::error::Result;
use crate::executor::{ErrorClass, ExecError, Outcome, Usage};
use crate::item::ItemRecord;
use crate::plan::StepIndex;
use crate::stall::Stall;
use crate::state::{Batch, StepState};

mod outputs;
mod summary;

use outputs::Outputs;

/// The items of a `for_each` step, as the ledger mirrors them.
#[derive(Debug, Clone, Default)]
pub(super) struct Items {
    /// Each item's output, once it succeeded.
    outputs: Outputs,
    /// How many times each item ran.
    attempts: Vec<u32>,
    /// The items that failed in the step's running attempt.
    failed: BTreeMap<usize, ExecError>,
    /// The items the step's running attempt started, in every window of a rate limit.
    started: BTreeSet<usize>,
    /// The running attempt's list of items, evaluated at its first window and kept for the
    /// windows after it, which a guard or a rate limit holds (the list is the same at each
    /// of them: [`Ledger::kept_list`]).
    list: Option<Arc<Vec<Value>>>,
    /// The items the running attempt's task runs, in the order it starts them (each leave
    /// starts the next): the first window takes the leaves it starts with, each later item
    /// the leave of an earlier item's end, and is recorded `running` in the commit of that
    /// end, so that one still waiting for its leave does not count a run after a crash
    /// (one recorded whose start the crash came before does: it may have run).
    order: Vec<usize>,
    /// How many items of `order` are recorded running.
    recorded: usize,
    /// How many items of `order` the shell gave a leave ([`Ledger::leaves_given`]): those
    /// recorded after them wait for theirs, and a halt seen before then (read after the
    /// commit recording them, which found it asked) takes them back, never started
    /// ([`Ledger::withhold_leaves`]); a halt seen after then takes back those the task did
    /// not start all the same ([`Ledger::items_unstarted`]).
    given: usize,
    /// Whether the running attempt's time limit kept items from starting.
    cut_off: bool,
    /// The items cut off as they ran, which may have run: found `running` when the run was
    /// taken over (a crash cut them off; the takeover records them pending), or stopped
    /// with the engine (recorded so), until they start again or end with their step.
    interrupted: BTreeSet<usize>,
    /// Restored from the records of a run taken over, no attempt started since: which items
    /// ran in the attempt a crash cut off is not known (one failed before it, or never
    /// recorded), until the next attempt's list.
    restored: bool,
    /// The running attempt's items recorded running, not ended nor stalled, with their last
    /// sign of life (their start until one came): each one's heartbeat window.
    windows: BTreeMap<usize, DateTime<Utc>>,
    /// Items recorded running with the step's start: their windows open as the attempt is
    /// marked running ([`Ledger::items_began`]).
    opening: Vec<usize>,
    /// The running attempt's items seen stalled, with their stall: each ends with it.
    stalled: BTreeMap<usize, Stall>,
    /// Stalled items to stop, until the shell takes them ([`Ledger::take_item_stops`]).
    stops: Vec<usize>,
}

impl Items {
    /// The attempt's task ended: no item runs any more, so none has a heartbeat window or
    /// is to be stopped.
    fn none_running(&mut self) {
        self.order.clear();
        (self.recorded, self.given) = (0, 0);
        self.windows.clear();
        self.opening.clear();
        self.stops.clear();
    }

    /// The items of `order` recorded running from the `from`th on did not start: they go
    /// back to pending in `batch` with the attempts they had (their runs are counted until
    /// their attempt ends: [`Ledger::take_back_unstarted`]), their windows closed, and wait
    /// for a leave again.
    fn unrecord(&mut self, from: usize, run_id: Uuid, step_id: &str, batch: &mut Batch) {
        let from = from.min(self.recorded);
        for &index in &self.order[from..self.recorded] {
            self.windows.remove(&index);
            let attempt = self.attempts[index].saturating_sub(1);
            batch.record_item(without_outcome(
                run_id,
                step_id,
                index,
                StepState::Pending,
                attempt,
            ));
        }
        self.recorded = from;
        self.given = self.given.min(from);
    }

    /// The items of a step from their committed records.
    pub(super) fn restore<'a>(records: impl Iterator<Item = &'a ItemRecord>) -> Items {
        let mut items = Items {
            restored: true,
            ..Items::default()
        };
        for record in records {
            let (index, len) = (record.index, record.index + 1);
            if items.attempts.len() < len {
                items.attempts.resize(len, 0);
            }
            items.attempts[index] = record.attempt;
            items.interrupted.remove(&index);
            match record.state {
                // An item out of the step's list keeps counting its attempts, out of it.
                StepState::Skipped => continue,
                StepState::Running => {
                    items.interrupted.insert(index);
                }
                StepState::Pending if record.error.as_deref() == Some(CUT_OFF) => {
                    items.interrupted.insert(index);
                }
                _ => {}
            }
            if items.outputs.len() < len {
                items.outputs.resize(len);
            }
            if let (StepState::Succeeded, Some(output)) = (record.state, &record.output) {
                items.outputs.restore(index, output.clone());
            }
        }
        items
    }

    /// How many times the items ran, all together.
    pub(super) fn runs(&self) -> u64 {
        self.attempts
            .iter()
            .map(|&attempts| u64::from(attempts))
            .sum()
    }

    /// How many items have succeeded.
    pub(super) fn succeeded(&self) -> usize {
        self.outputs.len() - self.outputs.missing()
    }

    /// Whether item `index` ended in the running attempt: succeeded, or failed.
    fn has_ended(&self, index: usize) -> bool {
        self.outputs.has(index) || self.failed.contains_key(&index)
    }

    /// The items left to run: not succeeded, nor started in the attempt that goes on.
    fn left(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.outputs.len())
            .filter(|&index| !self.outputs.has(index) && !self.started.contains(&index))
    }
}

impl Ledger {
    /// The items of `step`'s list of `count` that have not succeeded, nor started in the
    /// attempt that goes on. (The list is the same at every attempt and after a restart: it
    /// is computed from committed outputs.) The items of a longer list it had before (a
    /// redrive from a step upstream) are recorded `skipped`, out of the list; they keep their
    /// attempts, and run on from them should the list grow back.
    pub(super) fn items_to_run(&mut self, step: StepIndex, count: usize) -> Vec<usize> {
        let items = self.slots[step].items.get_or_insert_with(Box::default);
        let step_id = &self.plan.steps()[step].id;
        for index in count..items.outputs.len() {
            items.interrupted.remove(&index);
            if items.attempts[index] > 0 {
                self.batch.record_item(ItemRecord {
                    error: Some(format!(
                        "not in the list any more ({})",
                        crate::text::count(count, "item")
                    )),
                    ..without_outcome(
                        self.run_id,
                        step_id,
                        index,
                        StepState::Skipped,
                        items.attempts[index],
                    )
                });
            }
        }
        items.outputs.resize(count);
        if items.attempts.len() < count {
            items.attempts.resize(count, 0);
        }
        items.restored = false;
        items.left().collect()
    }

    /// The list of items of `step`'s attempt that goes on with the items a window held, as
    /// its first window evaluated it ([`Ledger::keep_list`]): not evaluated again (its CEL
    /// conversions) at each window.
    pub(super) fn kept_list(&self, step: StepIndex) -> Option<Arc<Vec<Value>>> {
        let items = self.slots[step].items.as_deref()?;
        (items.list.clone()).filter(|_| !items.started.is_empty())
    }

    /// Keeps `list`, the items of `step`'s attempt that started a window, for its windows
    /// after this one; dropped as the attempt ends.
    pub(super) fn keep_list(&mut self, step: StepIndex, list: Arc<Vec<Value>>) {
        if let Some(items) = self.slots[step].items.as_deref_mut() {
            items.list = Some(list);
        }
    }

    /// The number of `step`'s next attempt: the same again when its attempt goes on with the
    /// items a rate limit held, the next otherwise.
    pub(super) fn next_attempt(&self, step: StepIndex) -> u32 {
        let slot = &self.slots[step];
        let goes_on = (slot.items.as_deref()).is_some_and(|items| !items.started.is_empty());
        slot.attempt + u32::from(!goes_on)
    }

    /// The attempt number the next run of item `index` of `step` has.
    pub(super) fn item_attempt(&self, step: StepIndex, index: usize) -> u32 {
        let items = self.slots[step].items.as_deref();
        items
            .and_then(|items| items.attempts.get(index))
            .copied()
            .unwrap_or(0)
            + 1
    }

    /// Counts a run of each item in `indices` of `step`, in the order they start, and records
    /// the first window of them (as many as run side by side) `running` with the step's: an
    /// item cut off by a crash then reruns as its next attempt, as a step does. The others
    /// are recorded as their leaves come ([`Ledger::item_ended`]).
    pub(super) fn items_started(&mut self, step: StepIndex, indices: impl Iterator<Item = usize>) {
        let window = self.item_limit(step);
        let Some(items) = self.slots[step].items.as_deref_mut() else {
            return;
        };
        let step_id = &self.plan.steps()[step].id;
        items.order.clear();
        for (order, index) in indices.enumerate() {
            items.started.insert(index);
            items.interrupted.remove(&index);
            items.attempts[index] += 1;
            items.order.push(index);
            if order >= window {
                continue;
            }
            let attempt = items.attempts[index];
            let item = without_outcome(self.run_id, step_id, index, StepState::Running, attempt);
            self.batch.record_item(item);
            items.opening.push(index);
        }
        // The first window's leaves come with the task.
        items.recorded = items.order.len().min(window);
        items.given = items.recorded;
    }

    /// `step`'s attempt is marked running at `now`: the windows of the items recorded
    /// running with it open.
    pub(super) fn items_began(&mut self, step: StepIndex, now: DateTime<Utc>) {
        if let Some(items) = self.slots[step].items.as_deref_mut() {
            for index in std::mem::take(&mut items.opening) {
                items.windows.insert(index, now);
            }
        }
    }

    /// `step`'s running attempt reached its time limit before it started every item: the
    /// attempt times out (once it ends), the items it did not start are taken back.
    pub(super) fn items_cut_off(&mut self, step: StepIndex) {
        if let Some(items) = self.slots[step].items.as_deref_mut() {
            items.cut_off = true;
        }
    }

    /// Whether `step`'s running attempt reached its time limit before it started every item.
    pub(super) fn is_cut_off(&self, step: StepIndex) -> bool {
        (self.slots[step].items.as_deref()).is_some_and(|items| items.cut_off)
    }

    /// Item `index` of `step`'s attempt about to start cannot run: its `with` does not
    /// render (`error`). It counts a run, failed on its own, as when its executor refuses
    /// its parameters; the other items run.
    pub(super) fn item_not_prepared(&mut self, step: StepIndex, index: usize, error: ExecError) {
        let Some(items) = self.slots[step].items.as_deref_mut() else {
            return;
        };
        items.started.insert(index);
        items.attempts[index] += 1;
        self.batch.record_item(ItemRecord {
            run_id: self.run_id,
            step_id: self.plan.steps()[step].id.to_string(),
            index,
            state: StepState::Failed,
            attempt: items.attempts[index],
            output: None,
            error: Some(error.to_string()),
        });
        items.failed.insert(index, error);
    }

    /// Whether running `for_each` attempts start no new item: the run is halted (the engine
    /// drains, or the run pauses or is cancelled). The items in flight finish.
    pub(crate) fn starts_no_items(&self) -> bool {
        self.halt.is_some()
    }

    /// Takes back the starts of the items of `step`'s ended attempt that did not end: its
    /// task ended on its own, having reported every item it started, so a halt or a cancel
    /// kept them from starting. They go back to pending with the attempts they had; how many.
    pub(super) fn take_back_unstarted(&mut self, step: StepIndex) -> usize {
        let Some(items) = self.slots[step].items.as_deref_mut() else {
            return 0;
        };
        let step_id = &self.plan.steps()[step].id;
        // Its task ended: none of its items runs any more.
        items.none_running();
        let mut unstarted = 0;
        for &index in &items.started {
            if items.has_ended(index) || items.interrupted.contains(&index) {
                continue;
            }
            items.attempts[index] = items.attempts[index].saturating_sub(1);
            unstarted += 1;
            let attempt = items.attempts[index];
            let item = without_outcome(self.run_id, step_id, index, StepState::Pending, attempt);
            self.batch.record_item(item);
        }
        self.tally.attempts = self.tally.attempts.saturating_sub(unstarted as u64);
        unstarted
    }

    /// `step` is cancelled with its run, for `why` (a cancel, or the run's deadline), not by
    /// its attempt's end: the items its attempt did not start go back to pending, as at a
    /// live cancel ([`Ledger::take_back_unstarted`]), and those a crash cut off end
    /// `cancelled` (they may have run, so their attempts count). How many it took back, and
    /// how many of those a crash cut off.
    pub(super) fn cancel_items(&mut self, step: StepIndex, why: &str) -> (usize, usize) {
        let taken_back = self.take_back_unstarted(step);
        let Some(items) = self.slots[step].items.as_deref_mut() else {
            return (taken_back, 0);
        };
        let cut_off = items.interrupted.len();
        let error = ExecError {
            class: ErrorClass::Cancelled,
            message: why.to_owned(),
        };
        let step_id = &self.plan.steps()[step].id;
        for index in std::mem::take(&mut items.interrupted) {
            self.batch.record_item(ItemRecord {
                error: Some(error.to_string()),
                ..without_outcome(
                    self.run_id,
                    step_id,
                    index,
                    StepState::Cancelled,
                    items.attempts[index],
                )
            });
        }
        (taken_back, cut_off)
    }

    /// The item of `step` that `stall` names (its evidence's `item`), when a crash cut it off
    /// in its kill grace, ends failed with the stall's error, as a live engine ends a stalled
    /// item ([`Ledger::item_ended`]); the other items the crash cut off stay interrupted.
    pub(super) fn stalled_item_cut_off(&mut self, step: StepIndex, stall: &Stall) {
        let stalled = (stall.evidence.get("item").and_then(Value::as_u64))
            .and_then(|index| usize::try_from(index).ok());
        let Some((items, index)) = (self.slots[step].items.as_deref_mut()).zip(stalled) else {
            return;
        };
        if !items.interrupted.remove(&index) {
            return;
        }
        let error = stall.error();
        let step_id = &self.plan.steps()[step].id;
        let attempt = items.attempts[index];
        self.batch.record_item(ItemRecord {
            error: Some(error.to_string()),
            ..without_outcome(self.run_id, step_id, index, StepState::Failed, attempt)
        });
        items.failed.insert(index, error);
    }

    /// `step`'s attempt was cut off by a crash (found `running` at a takeover): its items
    /// recorded `running` go back to pending, as the step goes back to ready, so that none
    /// claims to run while no attempt drives it (a pause may follow). They keep their
    /// attempts, which count (they may have run), and stay interrupted until they start
    /// again: a cancel ends them `cancelled` ([`Ledger::cancel_items`]).
    pub(super) fn items_interrupted(&mut self, step: StepIndex) {
        let Some(items) = self.slots[step].items.as_deref() else {
            return;
        };
        let step_id = &self.plan.steps()[step].id;
        for &index in &items.interrupted {
            self.batch.record_item(cut_off_record(
                self.run_id,
                step_id,
                index,
                items.attempts[index],
            ));
        }
    }

    /// `step`'s attempt is cut off as the engine stops, its task ended: the items it recorded
    /// running that did not end (their ends lost with a task abandoned for ignoring its
    /// cancellation) may have run, and are cut off as those the stop cancelled
    /// ([`Ledger::item_ended`]); those never recorded running go back to pending as at a
    /// halt ([`Ledger::take_back_unstarted`]). How many items did not start, with those a
    /// rate limit or the guard held for a later window (probe 99 F1), as an attempt's end
    /// counts them.
    pub(super) fn items_stopped(&mut self, step: StepIndex) -> usize {
        if let Some(items) = self.slots[step].items.as_deref_mut() {
            let step_id = &self.plan.steps()[step].id;
            for &index in &items.order[..items.recorded] {
                if !items.has_ended(index) && items.interrupted.insert(index) {
                    let item = cut_off_record(self.run_id, step_id, index, items.attempts[index]);
                    self.batch.record_item(item);
                }
            }
        }
        self.take_back_unstarted(step) + self.items_held(step)
    }

    /// `step`'s `for_each` attempt, one of whose items ended stalled, is cut off as the engine
    /// stops: it ends as its stall's escalation says, with its items' result, as it would
    /// have had it ended by itself (probe 99 F4: recorded interrupted, it left the run its
    /// stall cancelled `running`). `false` if no item of it ended stalled.
    pub(super) fn item_stall_cut_off(
        &mut self,
        step: StepIndex,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(stall) = self.item_stall(step) else {
            return Ok(false);
        };
        let on_stall = self.plan.steps()[step].on_stall;
        self.end_attempt(step);
        self.items_stopped(step);
        let error = self.items_result(step).and_then(Result::err);
        let log = Some(json!({ "interrupted": "engine stopped" }));
        self.stalled_attempt_ended(step, (stall, on_stall), error, log, now)?;
        Ok(true)
    }

    /// Takes back the starts of the items of `step`'s attempt, which was not started at all
    /// ([`Ledger::not_started`]): whether the attempt goes on all the same, with the items
    /// it ended in an earlier window of a rate limit (or that failed on their own, their
    /// `with` not rendering). (`false` for a step without items.)
    pub(super) fn items_not_started(&mut self, step: StepIndex) -> bool {
        self.take_back_unstarted(step);
        let Some(items) = self.slots[step].items.as_deref_mut() else {
            return false;
        };
        let Items {
            started,
            outputs,
            failed,
            list,
            ..
        } = items;
        started.retain(|index| outputs.has(*index) || failed.contains_key(index));
        if started.is_empty() {
            *list = None;
        }
        !started.is_empty()
    }

    /// How many items of `step` its running attempt did not start, a rate limit or the guard
    /// holding them for a later window, and that have not succeeded.
    pub(super) fn items_held(&self, step: StepIndex) -> usize {
        (self.slots[step].items.as_deref()).map_or(0, |items| items.left().count())
    }

    /// Of [`Ledger::items_held`], those known not to have run, as a cancel of `step` counts
    /// them: not those a crash cut off, which may have; of an attempt a crash cut off, or of
    /// a step between two attempts, only those that never ran (probe 94 F2: those that had
    /// failed were counted; 105 F3: those of the attempt a stall's pause ended).
    pub(super) fn items_not_run(&self, step: StepIndex) -> usize {
        let Some(items) = self.slots[step].items.as_deref() else {
            return 0;
        };
        let left = (items.left()).filter(|index| !items.interrupted.contains(index));
        match items.restored || items.started.is_empty() {
            true => left.filter(|&index| items.attempts[index] == 0).count(),
            false => left.count(),
        }
    }

    /// `step`'s attempt ended the items it started, `left` of them not started (a rate limit
    /// or the guard held them: [`Ledger::items_window`]): the step is ready again, to go on
    /// with those as the same attempt, judged as they start, once a rate limit's window has
    /// room (it waits in [`Ledger::dispatch`] as any step of the executor would).
    pub(super) fn wait_for_window(
        &mut self,
        step: StepIndex,
        left: usize,
        log: Option<Value>,
    ) -> Result<()> {
        let executor = self.plan.node(step).executor.as_deref().unwrap_or_default();
        let detail = if self.rates.limits(executor) {
            json!({ "rate_limited": executor, "items_not_started": left })
        } else {
            json!({ "held_for": "guard", "items_not_started": left })
        };
        self.set_step(step, StepState::Ready, Some(merged(log, detail)))?;
        self.ready.push_back(step);
        Ok(())
    }

    /// Item `index` of `step`'s running attempt ended at `now`: it is committed with the next
    /// batch, with the start of the item its end gives a leave to (none while the run is
    /// halted: no leave is given then), whose window opens then. A stalled item ends with
    /// its stall, whatever it returned once stopped; one whose output is over the run's cap
    /// fails `output_too_large`, its output dropped, as does one that would bring the list
    /// of the step's outputs over it ([`Outputs::admit`]). One the engine's stop cut off
    /// (`interrupted`) goes back to pending with its attempt, to run again at the resume.
    pub(super) fn item_ended(
        &mut self,
        step: StepIndex,
        index: usize,
        mut outcome: Outcome,
        now: DateTime<Utc>,
    ) {
        let halted = self.starts_no_items();
        let slot = &mut self.slots[step];
        let Some(items) = slot
            .items
            .as_deref_mut()
            .filter(|_| slot.state == StepState::Running)
        else {
            return; // Not a running `for_each` step: nothing to record.
        };
        let step_id = &self.plan.steps()[step].id;
        if let Some(&next) = items.order.get(items.recorded).filter(|_| !halted) {
            items.recorded += 1;
            let attempt = items.attempts[next];
            let item = without_outcome(self.run_id, step_id, next, StepState::Running, attempt);
            self.batch.record_item(item);
            items.windows.insert(next, now);
        }
        if index >= items.outputs.len() {
            return;
        }
        items.windows.remove(&index);
        if let Some(stall) = items.stalled.get(&index) {
            outcome.result = Err(stall.error());
        }
        let held = self.reservations.release(step, index);
        let spent = reserved::counted(&outcome, &held);
        count_spent(&mut slot.usage, &mut self.tally.usage, &held, &spent);
        if spent != Usage::default()
            && let Some(usage) = slot.usage.as_deref()
        {
            // Committed with the item, which does not run again after a crash.
            self.batch.record_usage(self.run_id, step_id, usage.clone());
        }
        // An item over the run's cap, on its own or with those that succeeded before it,
        // fails on its own, its output not kept: a step of thousands of items commits no more
        // than the cap of outputs before its end finds its list over it.
        let cap = self.max_output_bytes;
        let result =
            (outcome.result).and_then(|output| Ok((items.outputs.admit(&output, cap)?, output)));
        let (state, output, error) = match result {
            Ok((bytes, output)) => {
                items.outputs.set(index, output.clone(), bytes);
                (StepState::Succeeded, Some(output), None)
            }
            Err(error) if error.class == ErrorClass::Interrupted => {
                items.interrupted.insert(index);
                (StepState::Pending, None, Some(CUT_OFF.to_owned()))
            }
            Err(error) => {
                let text = error.to_string();
                // An item stopped by a cancel is cancelled, as its step is.
                let state = match error.class {
                    ErrorClass::Cancelled => StepState::Cancelled,
                    _ => StepState::Failed,
                };
                items.failed.insert(index, error);
                (state, None, Some(text))
            }
        };
        self.batch.record_item(ItemRecord {
            run_id: self.run_id,
            step_id: step_id.to_string(),
            index,
            state,
            attempt: items.attempts[index],
            output,
            error,
        });
    }

    /// The shell gave the leaves of the items ends recorded running: their tasks may start
    /// them.
    pub(crate) fn leaves_given(&mut self) {
        for &step in &self.running {
            if let Some(items) = self.slots[step].items.as_deref_mut() {
                items.given = items.recorded;
            }
        }
    }

    /// The run halts before the shell gave the leaves of the items ends recorded running
    /// (the commit of those ends found a pause or a cancel asked, or the commands were read
    /// before it): the items do not start, so they go back to pending with the attempts
    /// they had, in the next batch, and wait for a leave again, which no halted run gives
    /// ([`Ledger::take_back_unstarted`] ends their attempt as the step's ends). None of
    /// them counts a run after a crash, nor is stalled for a silence it never began.
    pub(super) fn withhold_leaves(&mut self) {
        for &step in &self.running {
            if let Some(items) = self.slots[step].items.as_deref_mut() {
                let (given, step_id) = (items.given, &self.plan.steps()[step].id);
                items.unrecord(given, self.run_id, step_id, &mut self.batch);
            }
        }
    }

    /// The run halted, and `step`'s running task, told so, started `started` items of its
    /// order and will start no more: those recorded running after them, though their leave
    /// was given, never started (the task saw the halt first). They go back to pending as
    /// at [`Ledger::withhold_leaves`].
    pub(crate) fn items_unstarted(&mut self, step: StepIndex, started: usize) {
        if let Some(items) = self.slots[step].items.as_deref_mut() {
            let step_id = &self.plan.steps()[step].id;
            items.unrecord(started, self.run_id, step_id, &mut self.batch);
        }
    }

    /// Sends every item of `step` that ran back to pending (a redrive from the step); they
    /// keep counting their attempts.
    pub(super) fn reset_items(&mut self, step: StepIndex) {
        let Some(items) = self.slots[step].items.as_deref_mut() else {
            return;
        };
        items.outputs.clear();
        items.failed.clear();
        items.started.clear();
        items.list = None;
        items.interrupted.clear();
        items.none_running();
        items.stalled.clear();
        let step_id = &self.plan.steps()[step].id;
        // Those past the list's end are out of it: they stay skipped.
        let listed = items.attempts.iter().take(items.outputs.len());
        for (index, &attempt) in listed.enumerate() {
            if attempt > 0 {
                let item =
                    without_outcome(self.run_id, step_id, index, StepState::Pending, attempt);
                self.batch.record_item(item);
            }
        }
    }
}

impl Ledger {
    /// The heartbeat windows of `step`'s running items, not stalled: each one's last sign of
    /// life (its start until one came). None for a step without items.
    pub(super) fn item_windows(
        &self,
        step: StepIndex,
    ) -> impl Iterator<Item = (usize, DateTime<Utc>)> + '_ {
        (self.slots[step].items.as_deref().into_iter())
            .flat_map(|items| items.windows.iter().map(|(&index, &since)| (index, since)))
    }

    /// Item `index` of `step`'s running attempt showed a sign of life at `at`.
    pub(super) fn item_heard(&mut self, step: StepIndex, index: usize, at: DateTime<Utc>) {
        let items = self.slots[step].items.as_deref_mut();
        if let Some(since) = items.and_then(|items| items.windows.get_mut(&index)) {
            *since = (*since).max(at);
        }
    }

    /// Item `index` of `step`'s running attempt stalled: it is to be stopped, and ends with
    /// `stall`; its window closes.
    pub(super) fn item_stalled(&mut self, step: StepIndex, index: usize, stall: Stall) {
        if let Some(items) = self.slots[step].items.as_deref_mut() {
            items.windows.remove(&index);
            items.stops.push(index);
            items.stalled.insert(index, stall);
        }
    }

    /// The first stall among the items `step`'s attempt ended stalled (an item stalled but
    /// never started, its leave come at a halt, is not one); the next attempt starts afresh.
    pub(super) fn item_stall(&mut self, step: StepIndex) -> Option<Stall> {
        let items = self.slots[step].items.as_deref_mut()?;
        let stalled = std::mem::take(&mut items.stalled);
        let failed = &items.failed;
        (stalled.into_iter())
            .find(|(index, _)| failed.contains_key(index))
            .map(|(_, stall)| stall)
    }

    /// The stalled items the shell is to stop, by step (each stopped alone: its siblings go
    /// on).
    pub(crate) fn take_item_stops(&mut self) -> Vec<(StepIndex, usize)> {
        let mut stops = Vec::new();
        for &step in &self.running {
            if let Some(items) = self.slots[step].items.as_deref_mut() {
                stops.extend(items.stops.drain(..).map(|index| (step, index)));
            }
        }
        stops
    }
}

/// The error of a `pending` item an engine's stop or death cut off as it ran: it may have
/// run, and its attempt counts ([`Items::restore`] knows it so).
const CUT_OFF: &str = "interrupted: cut off as its engine stopped";

/// Item `index` of `step_id`, cut off as it ran its `attempt`: pending again.
fn cut_off_record(run_id: Uuid, step_id: &str, index: usize, attempt: u32) -> ItemRecord {
    ItemRecord {
        error: Some(CUT_OFF.to_owned()),
        ..without_outcome(run_id, step_id, index, StepState::Pending, attempt)
    }
}

/// Item `index` of step `step_id` of run `run_id` in `state` (running, or pending again) at
/// its `attempt`, with neither output nor error.
fn without_outcome(
    run_id: Uuid,
    step_id: &str,
    index: usize,
    state: StepState,
    attempt: u32,
) -> ItemRecord {
    ItemRecord {
        run_id,
        step_id: step_id.to_owned(),
        index,
        state,
        attempt,
        output: None,
        error: None,
    }
}

#[cfg(test)]
mod tests;
