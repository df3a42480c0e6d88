//! Which outputs the ledger keeps: an output stays in memory while an unfinished step may
//! read it, or while the run's output needs it (a sink's); then only the store has it. A
//! run of 100,000 steps that each output 10 KB would otherwise hold a gigabyte.
//!
//! A step reads only what its expressions name ([`Plan::referenced_steps`](crate::Plan)), so
//! the ledger counts, for each step, the unfinished steps that read it, and lets the output
//! go when the count reaches zero. A plan that can grow (a planner's) keeps every output: a
//! plan it adds may read any step.

use super::Ledger;
use crate::plan::StepIndex;

impl Ledger {
    /// Counts the readers of each step among the unfinished ones, and lets go of the outputs
    /// none of them reads (at take-over, after a redrive has sent steps back to pending).
    pub(super) fn count_readers(&mut self) {
        let plan = std::sync::Arc::clone(&self.plan);
        if (0..plan.steps().len()).any(|step| plan.node(step).planner) {
            return;
        }
        let mut readers = vec![0u32; self.slots.len()];
        for (step, slot) in self.slots.iter_mut().enumerate() {
            if !slot.state.is_terminal() {
                slot.reading = true;
                for &read in plan.referenced_steps(step) {
                    readers[read] += 1;
                }
            }
        }
        self.readers = Some(readers);
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

    /// Drops the output of `step` if it has ended, no unfinished step reads it, and it is
    /// not a sink (whose output is part of the run's).
    fn forget_if_unread(&mut self, step: StepIndex) {
        let unread = (self.readers.as_ref()).is_some_and(|readers| readers[step] == 0);
        if unread
            && self.slots[step].state.is_terminal()
            && self.plan.dependents(step).next().is_some()
        {
            self.slots[step].output = None;
        }
    }
}
