//! Where a run's step rows are, so that a commit updates each one by its rowid.
//!
//! A step row's key is `(run_id, step_id)`. Found through that index, an update compares
//! the run's 36-character id and the step's at every level of the index: ≈ 40% of the
//! writer's instructions while 1,000 branches start and end (the bench's W2). A run's step
//! rows are inserted in position order by one statement after another of one transaction,
//! so their rowids follow their positions: once one row's rowid is known, the others' are
//! guessed. The update checks its guess on that one row (`run_id`, `step_id` and the state
//! the step leaves); a wrong one (the steps a planner added later, the rows of a database
//! another program wrote) falls back to the index, which tells the rowid to guess from.

use std::collections::HashMap;

use uuid::Uuid;

/// The difference between a step row's rowid and its position, by run, as last learned.
#[derive(Debug, Default)]
pub(super) struct StepRowids(HashMap<Uuid, i64>);

impl StepRowids {
    /// The rowid the row of the step at `position` of `run` probably has.
    pub(super) fn guess(&self, run: Uuid, position: usize) -> Option<i64> {
        let offset = self.0.get(&run)?;
        i64::try_from(position).ok()?.checked_add(*offset)
    }

    /// Learns that the row of the step at `position` of `run` has `rowid`.
    pub(super) fn learn(&mut self, run: Uuid, position: usize, rowid: i64) {
        if let Some(offset) = i64::try_from(position)
            .ok()
            .and_then(|position| rowid.checked_sub(position))
        {
            self.0.insert(run, offset);
        }
    }

    /// Forgets `run` (it ended: its rows are seldom written again).
    pub(super) fn forget(&mut self, run: Uuid) {
        self.0.remove(&run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rowid_is_guessed_from_the_last_one_learned_of_the_same_run() {
        let (run, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut rowids = StepRowids::default();
        assert_eq!(rowids.guess(run, 3), None);
        rowids.learn(run, 2, 102);
        assert_eq!(rowids.guess(run, 7), Some(107));
        assert_eq!(rowids.guess(other, 7), None);
        rowids.learn(run, 5, 40);
        assert_eq!(rowids.guess(run, 6), Some(41));
        rowids.forget(run);
        assert_eq!(rowids.guess(run, 6), None);
    }
}
