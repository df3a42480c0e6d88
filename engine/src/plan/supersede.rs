//! Superseding plans: `cairn retry --from STEP` runs every planner at or after STEP again,
//! so the plans those planners committed leave the run first — their steps with them (the
//! history keeps their events) — and the planners' new plans take their place, under the
//! same ids if the planners choose them again. What the superseded steps spent still counts
//! towards the run's budgets.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Addition, Plan, StepIndex};
use crate::executor::Usage;
use crate::item::ItemRecord;
use crate::store::StepRecord;

/// What steps spent, as budgets count it: attempts and steps started, and the usage of the
/// attempts that ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spent {
    /// Attempts started.
    pub attempts: u64,
    /// Steps started at least once.
    pub steps: u64,
    /// Tokens and cost of the attempts that ended.
    pub usage: Usage,
}

impl Spent {
    /// What a step's attempts count towards the `attempts` budget: one for each run of its
    /// `for_each` items (`item_runs`, once any ran: each run of an item is an attempt), else
    /// one for each of its `attempt`s. The ledger's tally and a superseded plan's `spent`
    /// both count by it.
    pub(crate) fn attempts_of(attempt: u32, item_runs: Option<u64>) -> u64 {
        item_runs.unwrap_or(u64::from(attempt))
    }
}

impl std::ops::AddAssign<&Spent> for Spent {
    fn add_assign(&mut self, other: &Spent) {
        self.attempts += other.attempts;
        self.steps += other.steps;
        self.usage += &other.usage;
    }
}

/// A committed plan that a redrive took out of its run, with what its steps had spent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Supersession {
    /// The run.
    pub run_id: Uuid,
    /// The plan's number in the run ([`Addition::seq`]).
    pub seq: u32,
    /// The planner step that emitted it.
    pub planner: String,
    /// The plan's `steps`, exactly as the planner emitted them, as JSON text
    /// ([`Addition::steps`]): an identical plan emitted later is a repeat of it.
    pub steps: String,
    /// What the plan's steps had spent when it was superseded.
    pub spent: Spent,
}

/// The plans of `plans` (the run's, committed into `plan` in order) that a redrive from
/// step `from` supersedes: those whose planner is `from` or waits for it. Nested plans are
/// among them, since a plan's steps wait for its planner.
pub(crate) fn superseded<'a>(
    plan: &Plan,
    plans: &'a [Addition],
    from: StepIndex,
) -> Vec<&'a Addition> {
    let downstream = plan.downstream(from);
    (plans.iter())
        .filter(|addition| {
            (plan.index_of(&addition.planner))
                .is_some_and(|planner| downstream.binary_search(&planner).is_ok())
        })
        .collect()
}

impl Addition {
    /// How many steps leave the run with this plan when a redrive supersedes the plans `gone`
    /// (this one among them): its own, and those of the plans its planners added, theirs,
    /// and so on.
    pub(crate) fn steps_leaving(&self, gone: &[&Addition]) -> usize {
        let by_planner: HashMap<&str, &Addition> = (gone.iter())
            .map(|addition| (addition.planner.as_str(), *addition))
            .collect();
        let mut leaving = 0;
        let mut plans = vec![self];
        while let Some(plan) = plans.pop() {
            leaving += plan.ids.len();
            plans.extend((plan.ids.iter()).filter_map(|id| by_planner.get(id.as_str()).copied()));
        }
        leaving
    }
}

/// What the steps `ids` of `records` (a run's step rows) spent, with `items` (their
/// `for_each` items' rows).
pub(crate) fn spent(records: &[StepRecord], items: &[ItemRecord], ids: &[String]) -> Spent {
    let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut item_runs: HashMap<&str, u64> = HashMap::new();
    for item in items.iter().filter(|item| ids.contains(&*item.step_id)) {
        *item_runs.entry(&item.step_id).or_default() += u64::from(item.attempt);
    }
    let mut spent = Spent::default();
    for record in records.iter().filter(|record| ids.contains(&*record.id)) {
        let runs = item_runs.get(&*record.id).copied();
        spent.attempts += Spent::attempts_of(record.attempt, runs);
        spent.steps += u64::from(record.attempt > 0);
        if let Some(usage) = &record.usage {
            spent.usage += usage;
        }
    }
    spent
}

#[cfg(test)]
mod tests;
