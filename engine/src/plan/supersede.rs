//! Superseding plans: `cairn retry --from STEP` runs every planner at or after STEP again,
//! so the plans those planners committed leave the run first — their steps with them (the
//! history keeps their events) — and the planners' new plans take their place, under the
//! same ids if the planners choose them again. What the superseded steps spent still counts
//! towards the run's budgets.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Addition, Plan, StepIndex};
use crate::executor::Usage;
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
    /// The plan's `steps`, exactly as the planner emitted them: an identical plan emitted
    /// later is a repeat of it.
    pub steps: serde_json::Value,
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

/// What the steps `ids` of `records` (a run's step rows) spent.
pub(crate) fn spent(records: &[StepRecord], ids: &[String]) -> Spent {
    let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut spent = Spent::default();
    for record in records.iter().filter(|record| ids.contains(&*record.id)) {
        spent.attempts += u64::from(record.attempt);
        spent.steps += u64::from(record.attempt > 0);
        if let Some(usage) = &record.usage {
            spent.usage += usage;
        }
    }
    spent
}

#[cfg(test)]
mod tests;
