//! Taking a run over from its committed state: the ledger's mirror of every step, its
//! items and plans, then what the stored states already decide (a deadline passed,
//! interrupted attempts, dependents of ended steps).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::approvals::Approvals;
use super::reserved::Reservations;
use super::{BATCH_SLICE, Committed, Judge, Ledger, Redrive, Slot, items, judge, planner};
use crate::command::PendingCommand;
use crate::definition::OnStall;
use crate::error::{Error, Result};
use crate::executor::Usage;
use crate::expr::SharedJson;
use crate::plan::{Plan, Spent, StepIndex};
use crate::stall::Stall;
use crate::state::{Batch, RunState, StepState};
use crate::store::StepRecord;

impl Ledger {
    /// Takes over a run at `now` from its committed state: a run past its deadline ends
    /// timed out, interrupted attempts become ready again, and steps whose fate their
    /// dependencies decided already are moved on. A `redrive` first sends the run's ended
    /// steps (or a step and everything downstream of it) back to pending.
    pub(crate) fn take_over(
        run: Committed,
        judge: Judge,
        max_output_bytes: usize,
        now: DateTime<Utc>,
        redrive: Option<Redrive>,
    ) -> Result<Ledger> {
        let Committed {
            run_id,
            plan,
            input,
            state,
            created_at,
            deadline,
            steps: records,
            approvals,
            rate_limits,
            recent_starts,
            plans: added,
            superseded,
            items,
            stalls,
            executors,
            commands,
        } = run;
        let records = in_plan_order(records, &plan)?;
        // In place: a big run's records and slots are not held side by side.
        let mut slots: Vec<Slot> = (records.into_iter().enumerate())
            .map(|(step, record)| Slot::restored(record, plan.node(step).planner))
            .collect();
        // A stall is the running attempt's only if it names that attempt: one recorded for
        // an earlier attempt is left in the row (clearing it would cost every transition).
        for (step_id, recorded) in &stalls {
            if let Some(step) = plan.index_of(step_id)
                && slots[step].state == StepState::Running
                && recorded.get("attempt") == Some(&json!(slots[step].attempt))
            {
                slots[step].stall = restored_stall(recorded).map(Box::new);
            }
        }
        for records in items.chunk_by(|a, b| a.step_id == b.step_id) {
            if let Some(step) = plan.index_of(&records[0].step_id) {
                slots[step].items = Some(Box::new(items::Items::restore(records.iter())));
            }
        }
        let unmet = (0..slots.len())
            .map(|step| plan.dependencies(step).count())
            .collect();
        let mut tally = Spent {
            attempts: slots.iter().map(Slot::attempts_made).sum(),
            steps: slots.iter().filter(|slot| slot.attempt > 0).count() as u64,
            usage: slots.iter().fold(Usage::default(), |mut sum, slot| {
                if let Some(usage) = &slot.usage {
                    sum += usage;
                }
                sum
            }),
        };
        for gone in &superseded {
            tally += &gone.spent;
        }
        let approvals = Approvals::new((approvals.into_iter()).filter_map(|approval| {
            let step = plan.index_of(&approval.step_id)?;
            Some(((step, approval.item), approval))
        }));
        let starts = (recent_starts.into_iter()).filter_map(|(step, at)| {
            let executor = plan.node(plan.index_of(&step)?).executor.clone()?;
            Some((executor, at))
        });
        let rates = judge::Rates::new(rate_limits, starts);
        // The plans in force: a superseded plan is no repeat (a redrive starts afresh).
        let plans: HashMap<StepIndex, String> = (added.iter())
            .filter_map(|added| {
                let planner = plan.index_of(&added.planner)?;
                Some((planner, planner::fingerprint(&added.steps)))
            })
            .collect();
        let timeout = plan.workflow().limits.timeout;
        let deadline = deadline.or_else(|| timeout.map(|timeout| created_at + timeout.0));
        let run_facts = json!({ "id": run_id.to_string(), "workflow": plan.workflow().name });
        let mut ledger = Ledger {
            run_id,
            run_facts: Arc::new(run_facts),
            plan,
            input: Arc::new(SharedJson::new(input)),
            run_state: state,
            created_at,
            slots,
            unmet,
            ready: VecDeque::new(),
            running: BTreeSet::new(),
            attempt_deadlines: HashMap::new(),
            group_running: HashMap::new(),
            parked: HashMap::new(),
            readers: None,
            retrying: BTreeSet::new(),
            unfinished: 0,
            cascade: Vec::new(),
            walk: Default::default(),
            roots_from: None,
            cancel_left: false,
            timing_out: false,
            redriving: None,
            batch: Batch::new(),
            outcome: (None, None),
            max_output_bytes,
            guard: judge.guard,
            guard_hash: judge.hash,
            judging_slice: judge.slice,
            dispatching_at: now,
            clock: None,
            judging: None,
            judging_left: false,
            cwd: judge.cwd,
            tally,
            approvals,
            rates,
            held: HashMap::new(),
            reservations: Reservations::default(),
            rate_wake: None,
            deadline,
            halt: None,
            active_at: now,
            cancels: Vec::new(),
            executors,
            plans,
            // Plans are numbered on across supersessions.
            plan_count: (added.iter().map(|plan| plan.seq))
                .chain(superseded.iter().map(|gone| gone.seq))
                .max()
                .unwrap_or(0),
            asked: None,
        };
        match redrive {
            Some(redrive) => {
                ledger.redrive(redrive)?;
                ledger.go_on_redriving(now)?;
            }
            None => ledger.take_stock(now, commands)?,
        }
        Ok(ledger)
    }

    /// Counts who reads which outputs and settles what the steps' stored states decide: at
    /// takeover (with the run's pending `commands`), or once a redrive has sent its steps
    /// back to pending.
    pub(super) fn take_stock(
        &mut self,
        now: DateTime<Utc>,
        commands: Vec<PendingCommand>,
    ) -> Result<()> {
        self.count_readers();
        for slot in &mut self.slots {
            if slot.state == StepState::Succeeded {
                slot.items = None; // Its output holds the items' outputs.
            }
        }
        match self.deadline.filter(|&deadline| deadline <= now) {
            Some(deadline) => self.settle_past(deadline, commands),
            None => self.settle(now),
        }
    }

    /// Settles a run whose deadline passed while no engine drove it as an engine would have
    /// at the deadline (probe 47 F1): first what was dated before it — the stalled attempts
    /// its engine died in the kill grace of (they ended with it; a live engine would have
    /// timed the run out itself), escalated; the commands sent by then, in order; the
    /// approval requests that expired by then —, then the time-out of whatever had not
    /// ended. A run all of whose steps ended by then ends as they did, unless a cancel came
    /// first.
    fn settle_past(
        &mut self,
        deadline: DateTime<Utc>,
        commands: Vec<PendingCommand>,
    ) -> Result<()> {
        self.unfinished = self.slots.iter().filter(|s| !s.state.is_terminal()).count();
        for step in 0..self.slots.len() {
            if self.slots[step].state == StepState::Running && self.slots[step].stall.is_some() {
                self.items_interrupted(step);
                self.stalled_attempt_cut_off(step, json!(true), deadline)?;
            }
        }
        let sent: Vec<PendingCommand> = (commands.into_iter())
            .filter(|command| command.created_at <= deadline)
            .collect();
        // A stalled attempt whose stall paused or cancelled the run (recorded as the run's
        // own command) ended with its engine too: interrupted, as at any takeover, so that
        // its stall is recorded with it (probe 48 F1: lost to the time-out).
        for command in &sent {
            if let Some(step) = command
                .command
                .stalled_step()
                .and_then(|id| self.plan.index_of(id))
                && self.slots[step].state == StepState::Running
            {
                self.items_interrupted(step);
                self.cut_off(step, json!({ "interrupted": true }))?;
            }
        }
        // Queued as at any takeover, and walked as a ruling ends a step or at the deadline: a
        // step a ruling ends then counts its needs met, and its dependents are skipped (probe
        // 49 F1: a planner's step, whose need is the planner, had them timed out).
        self.walk_from_the_ended(true);
        for command in sent {
            self.apply(super::Input::Command(command), deadline)?;
        }
        self.reach_deadline(deadline)
    }

    fn settle(&mut self, now: DateTime<Utc>) -> Result<()> {
        if self.run_state == RunState::Pending {
            self.start_clock(now, None)?;
        }
        // Attempts that had stalled: escalated once the steps are counted and walked from.
        let mut stalled = Vec::new();
        for step in 0..self.slots.len() {
            match self.slots[step].state {
                StepState::Running if self.slots[step].stall.is_some() => {
                    self.items_interrupted(step);
                    stalled.push(step);
                }
                StepState::Running => {
                    self.items_interrupted(step);
                    self.cut_off(step, json!({ "interrupted": true }))?;
                    self.ready.push_back(step);
                }
                StepState::Ready => self.ready.push_back(step),
                StepState::RetryWait => {
                    // One stored without a wake-up time is due at once.
                    let at = self.slots[step].wake_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
                    self.retrying.insert((at, step));
                }
                StepState::AwaitingApproval if !self.approvals.awaits(step) => {
                    // Its request is gone (or was never stored): judge it again.
                    self.set_step(step, StepState::Ready, None)?;
                    self.ready.push_back(step);
                }
                _ => {}
            }
            if !self.slots[step].state.is_terminal() {
                self.unfinished += 1;
            }
        }
        self.walk_from_the_ended(false);
        for step in stalled {
            self.stalled_attempt_cut_off(step, json!(true), now)?;
        }
        self.roots_from = Some(0);
        self.go_on_readying_roots()
    }

    /// Queues the walks from the ended steps. Walks start from the ended steps with no needs
    /// and reach each other ended step once all its needs have ended ([`Ledger::ended`]): one
    /// that ended while a need still runs (a step skipped at once, a succeeded step whose need
    /// a redrive sent back) holds its dependents back until that need ends. The walks are
    /// taken at the first turn, after the commands sent meanwhile: a cancel's is one of
    /// cancelled steps, not skipped ones (probe 39 F4). Pushed last first, they are walked in
    /// the plan's order. `past_deadline`: not from the steps the time-out cancelled, which a
    /// crash cut off between its commits (probe 195 F1: their dependents were skipped, and
    /// the run ended cancelled): what needs them times out too.
    fn walk_from_the_ended(&mut self, past_deadline: bool) {
        let ended: Vec<StepIndex> = (0..self.slots.len())
            .filter(|&step| self.slots[step].state.is_terminal() && self.unmet[step] == 0)
            .filter(|&step| !(past_deadline && self.timed_out(step)))
            .collect();
        self.cascade.extend(ended.into_iter().rev());
    }

    /// Marks ready the pending steps with no need left to end — the roots, at a takeover —
    /// from [`Ledger::roots_from`] on, while the batch has room: a fan-out of more roots
    /// than a batch takes commits them in slices, as a cascade does.
    pub(super) fn go_on_readying_roots(&mut self) -> Result<()> {
        let Some(from) = self.roots_from.take() else {
            return Ok(());
        };
        for step in from..self.slots.len() {
            if self.slots[step].state == StepState::Pending && self.unmet[step] == 0 {
                if self.batch.len() >= BATCH_SLICE {
                    self.roots_from = Some(step);
                    return Ok(());
                }
                self.set_step(step, StepState::Ready, None)?;
                self.ready.push_back(step);
            }
        }
        Ok(())
    }
}

/// A stall as [`Batch::record_stall`](crate::state::Batch::record_stall) recorded it, with its
/// escalation; `None` if it does not read as one (changed outside cairn): the attempt is then
/// taken over as any interrupted one.
fn restored_stall(recorded: &Value) -> Option<(Stall, OnStall)> {
    let stall = Stall::recorded(recorded.get("stall")?)?;
    let on_stall = serde_json::from_value(recorded.get("escalation")?.clone()).ok()?;
    Some((stall, on_stall))
}

/// `records` in the order of `plan`'s steps, one for each. Stores list them in that order
/// already (by position); anything else is put in order. A step without a record, or a
/// record of no step, was changed outside cairn (a run's rows are written with it): named
/// corrupt, as a run's missing input is.
pub(crate) fn in_plan_order(records: Vec<StepRecord>, plan: &Plan) -> Result<Vec<StepRecord>> {
    let in_order = records.len() == plan.steps().len()
        && (records.iter().zip(plan.steps())).all(|(record, step)| *record.id == *step.id);
    if in_order {
        return Ok(records);
    }
    let mut placed: Vec<Option<StepRecord>> = Vec::new();
    placed.resize_with(plan.steps().len(), || None);
    for record in records {
        let index = plan.index_of(&record.id).ok_or_else(|| {
            Error::Corrupt(format!(
                "stored step {:?} is not in the run's workflow: its row in table steps was \
                 changed",
                record.id
            ))
        })?;
        placed[index] = Some(record);
    }
    (placed.into_iter().zip(plan.steps()))
        .map(|(record, step)| {
            record.ok_or_else(|| {
                Error::Corrupt(format!(
                    "step {:?} has no stored state: its row in table steps is missing",
                    step.id
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::in_plan_order;
    use crate::scheduler::ledger::tests::plan;
    use crate::store::StepRecord;

    #[test]
    fn records_out_of_order_are_put_in_plan_order_and_a_missing_one_is_corrupt() {
        let plan = plan(json!({"name": "w", "steps": [
            {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"},
            {"id": "c", "executor": "noop"}]}));
        let ids = |records: Vec<StepRecord>| -> Vec<String> {
            records.into_iter().map(|record| record.id).collect()
        };
        let stored = ["c", "a", "b"].map(StepRecord::pending).to_vec();
        assert_eq!(ids(in_plan_order(stored, &plan).unwrap()), ["a", "b", "c"]);
        let missing = ["c", "a"].map(StepRecord::pending).to_vec();
        let error = in_plan_order(missing, &plan).unwrap_err().to_string();
        let missing = "corrupt database: step \"b\" has no stored state: its row in table steps";
        assert!(error.starts_with(missing), "{error}");
        let stranger = ["a", "b", "c", "d"].map(StepRecord::pending).to_vec();
        let error = in_plan_order(stranger, &plan).unwrap_err().to_string();
        assert!(
            error.contains("stored step \"d\" is not in the run's workflow"),
            "{error}"
        );
    }
}
