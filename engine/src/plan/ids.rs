//! The plan's index of step ids.
//!
//! A hash table of step positions: the ids themselves are the steps' own, read through the
//! `id_of` each call is given, not copied into the index. A million-step plan's index is
//! ≈ 10 MB instead of ≈ 100 MB (a `HashMap<String, usize>`: a 32-byte bucket and a copy
//! of each id).

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::StepIndex;

/// Step positions by id.
#[derive(Debug, Default, Clone)]
pub(super) struct StepIds {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl StepIds {
    /// An empty index with room for `steps` steps.
    pub(super) fn with_capacity(steps: usize) -> Self {
        StepIds {
            table: HashTable::with_capacity(steps),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The step `id` names, if any; `id_of` gives a step's id.
    pub(super) fn get<'s>(
        &self,
        id: &str,
        id_of: impl Fn(StepIndex) -> &'s str,
    ) -> Option<StepIndex> {
        let found = self.table.find(self.hasher.hash_one(id), |&step| {
            id_of(step as StepIndex) == id
        });
        found.map(|&step| step as StepIndex)
    }

    /// Indexes `step`, named `id`, unless a step of that id is indexed already (the first
    /// keeps the id; a duplicate is a problem the loader reports).
    pub(super) fn insert<'s>(
        &mut self,
        id: &str,
        step: StepIndex,
        id_of: impl Fn(StepIndex) -> &'s str,
    ) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(id);
        let entry = self.table.entry(
            hash,
            |&other| id_of(other as StepIndex) == id,
            |&other| hasher.hash_one(id_of(other as StepIndex)),
        );
        entry.or_insert(step as u32);
    }

    /// Takes `id` out of the index.
    pub(super) fn remove<'s>(&mut self, id: &str, id_of: impl Fn(StepIndex) -> &'s str) {
        let hash = self.hasher.hash_one(id);
        if let Ok(entry) = self
            .table
            .find_entry(hash, |&step| id_of(step as StepIndex) == id)
        {
            entry.remove();
        }
    }

    /// Every indexed step, in no order.
    pub(super) fn steps(&self) -> impl Iterator<Item = StepIndex> + '_ {
        self.table.iter().map(|&step| step as StepIndex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_found_by_the_ids_they_hold_and_the_first_keeps_a_duplicate() {
        let ids = ["a", "b", "a", "c"];
        let id_of = |step: StepIndex| ids[step];
        let mut index = StepIds::with_capacity(1);
        for (step, id) in ids.iter().enumerate() {
            index.insert(id, step, id_of);
        }
        assert_eq!(index.get("a", id_of), Some(0));
        assert_eq!(index.get("c", id_of), Some(3));
        assert_eq!(index.get("d", id_of), None);
        index.remove("b", id_of);
        assert_eq!(index.get("b", id_of), None);
        let mut steps: Vec<_> = index.steps().collect();
        steps.sort_unstable();
        assert_eq!(steps, [0, 3]);
    }
}
