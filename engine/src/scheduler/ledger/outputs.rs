//! Which outputs the ledger keeps: an output stays in memory while an unfinished step may
//! read it, or while the run's output needs it (a sink's); then only the store has it. A
//! run of 100,000 steps that each output 10 KB would otherwise hold a gigabyte, and a
//! resume reads from the store only the outputs kept ([`kept`]).
//!
//! A step reads only what its expressions name ([`Plan::referenced_steps`]), so the ledger
//! counts, for each step, the unfinished steps that read it, and lets the output go when the
//! count reaches zero. A plan that can grow (a planner's) keeps every output: a plan it adds
//! may read any step.

use std::sync::Arc;

use serde_json::Value;

use super::Ledger;
use crate::expr::SharedJson;
use crate::plan::{Plan, StepIndex};
use crate::state::StepState;
use crate::store::StepRecord;

/// How the ledger holds a step's `output`: a planner's compact, as JSON text read back only
/// when something reads it (its plan's steps are compiled into the run's plan already, and
/// as a `Value` it cost ≈ 750 bytes a step it adds), any other as a `Value`.
pub(super) fn held(output: Value, planner: bool) -> Arc<SharedJson> {
    Arc::new(if planner {
        SharedJson::compact(output)
    } else {
        SharedJson::new(output)
    })
}

/// For each step of `plan`, how many of the steps `unfinished` says are unfinished read its
/// output; `None` when the plan can grow.
fn readers(plan: &Plan, unfinished: impl Fn(StepIndex) -> bool) -> Option<Vec<u32>> {
    let steps = 0..plan.steps().len();
    if steps.clone().any(|step| plan.node(step).planner) {
        return None;
    }
    let mut readers = vec![0u32; steps.len()];
    for step in steps.filter(|&step| unfinished(step)) {
        for &read in plan.referenced_steps(step) {
            readers[read] += 1;
        }
    }
    Some(readers)
}

/// Whether the output of the ended `step` is kept: every output of a plan that can grow, a
/// sink's, and one an unfinished step reads.
fn keeps(plan: &Plan, readers: Option<&[u32]>, step: StepIndex) -> bool {
    readers.is_none_or(|readers| readers[step] > 0) || plan.dependents(step).next().is_none()
}

/// The ids of the steps among `records` whose outputs a ledger taking them over (without a
/// redrive) keeps: the outputs a resume reads from the store.
pub(crate) fn kept<'r>(plan: &Plan, records: &'r [StepRecord]) -> Vec<&'r str> {
    let mut unfinished = vec![false; plan.steps().len()];
    for record in records {
        if let Some(step) = plan.index_of(&record.id) {
            unfinished[step] = !record.state.is_terminal();
        }
    }
    let readers = readers(plan, |step| unfinished[step]);
    (records.iter())
        .filter(|record| record.state == StepState::Succeeded)
        .filter(|record| {
            (plan.index_of(&record.id)).is_some_and(|step| keeps(plan, readers.as_deref(), step))
        })
        .map(|record| record.id.as_str())
        .collect()
}

impl Ledger {
    /// Counts the readers of each step among the unfinished ones, and lets go of the outputs
    /// none of them reads (at take-over, after a redrive has sent steps back to pending).
    pub(super) fn count_readers(&mut self) {
        let plan = std::sync::Arc::clone(&self.plan);
        self.readers = readers(&plan, |step| !self.slots[step].state.is_terminal());
        if self.readers.is_none() {
            return;
        }
        for slot in &mut self.slots {
            slot.reading = !slot.state.is_terminal();
        }
        for step in 0..self.slots.len() {
            self.forget_if_unread(step);
        }
    }

    /// `step` has ended: it reads nothing any more, and the outputs only it read, and its
    /// own if no one reads it, are let go.
    pub(super) fn stop_reading(&mut self, step: StepIndex) {
        if !std::mem::take(&mut self.slots[step].reading) {
            return;
        }
        let plan = std::sync::Arc::clone(&self.plan);
        for &read in plan.referenced_steps(step) {
            if let Some(readers) = &mut self.readers {
                readers[read] -= 1;
            }
            self.forget_if_unread(read);
        }
        self.forget_if_unread(step);
    }

    /// Drops the output of `step` if it has ended and is not kept.
    fn forget_if_unread(&mut self, step: StepIndex) {
        if self.slots[step].state.is_terminal() && !keeps(&self.plan, self.readers.as_deref(), step)
        {
            self.slots[step].output = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::kept;
    use crate::scheduler::ledger::tests::{plan, record};
    use crate::state::StepState::{Pending, Succeeded};
    use crate::store::StepRecord;

    #[test]
    fn a_resume_reads_the_outputs_an_unfinished_step_reads_and_the_sinks() {
        let workflow = json!({"name": "k", "steps": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "needs": ["a"]},
            {"id": "c", "executor": "noop", "needs": ["b"],
             "with": {"x": "${{ steps.a.output }}"}},
            {"id": "d", "executor": "noop", "needs": ["a"]}
        ]});
        let records: Vec<StepRecord> = [("a", Succeeded), ("b", Succeeded), ("c", Pending)]
            .into_iter()
            .map(|(id, state)| record(id, state, Some(json!(id))))
            .chain([record("d", Succeeded, Some(json!("d")))])
            .collect();
        assert_eq!(
            kept(&plan(workflow), &records),
            ["a", "d"],
            "c reads a; d is a sink; no unfinished step reads b"
        );
        let grows = json!({"name": "g", "steps": [
            {"id": "a", "executor": "noop"},
            {"id": "p", "executor": "noop", "needs": ["a"], "planner": true}
        ]});
        let records = vec![
            record("a", Succeeded, Some(json!(1))),
            record("p", Pending, None),
        ];
        assert_eq!(
            kept(&plan(grows), &records),
            ["a"],
            "a planner's plan may read any step"
        );
    }
}
