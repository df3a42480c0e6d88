//! A planner's success: its plan checked by the loader and added to the run, refused, or
//! found to repeat a plan the planners that added it emitted too often (a loop).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::Ledger;
use super::answer::answer;
use super::complete::refused_by;
use crate::error::Result;
use crate::executor::{ErrorClass, ExecError};
use crate::plan::{Addition, StepIndex};
use crate::stall::{self, Stall};
use crate::state::StepState;

/// What a planner's plan led to.
#[derive(Debug)]
pub(super) enum Planned {
    /// Its nodes were added (none, for an empty plan): the detail of the planner's success,
    /// and the steps added, for [`Ledger::skip_refused`] once that success is in the batch.
    Added(Value, std::ops::Range<StepIndex>),
    /// It failed the loader's checks; nothing was added.
    Refused(ExecError),
    /// The planners that added the planner emitted it `loop_after` times already, or the
    /// plan would nest deeper than `limits.max_plan_depth`; nothing was added.
    Looped(Stall),
}

/// The plan in a planner's `output`: for an agent, the JSON it answered ([`answer`]),
/// returned; `None` when it is the output itself.
pub(super) fn read_plan(output: &Value) -> Result<Option<Value>, ExecError> {
    match answer(output) {
        None => Ok(None),
        Some(read) => read.map(Some).map_err(|problem| ExecError {
            class: ErrorClass::InvalidPlan,
            message: format!("the planner's {problem}"),
        }),
    }
}

/// A plan's digest, to recognise it when it comes again: the hash of the JSON text of its
/// `steps` ([`Addition::steps`]).
pub(super) fn fingerprint(steps: &str) -> String {
    crate::store::digest(steps)
}

impl Ledger {
    /// Checks the plan `output` of planner `step` and adds its nodes to the run: to the plan,
    /// as pending steps, and to the batch, so that they commit with the planner's success.
    pub(super) fn add_plan(&mut self, step: StepIndex, output: &Value) -> Result<Planned> {
        let listed = output.get("steps").unwrap_or(&Value::Null);
        let empty = listed.as_array().is_some_and(Vec::is_empty);
        // The plan is kept as text only (its steps compiled into the run's plan).
        let steps = listed.to_string();
        let digest = fingerprint(&steps);
        let emitters = self.emitters(step, &digest);
        if !empty && emitters.len() as u32 >= self.loop_after() {
            return Ok(Planned::Looped(stall::repeated_plan(&digest, emitters)));
        }
        let depth = self.plan_depth(step);
        let most = self.plan.workflow().limits.max_plan_depth;
        if !empty && depth > most {
            return Ok(Planned::Looped(stall::deep_plan(depth, most)));
        }
        let plan = std::sync::Arc::make_mut(&mut self.plan);
        let added = match crate::load::load_plan(output, plan, step, &self.executors) {
            Ok(added) => added,
            Err(error) => {
                return Ok(Planned::Refused(ExecError {
                    class: ErrorClass::InvalidPlan,
                    message: error.to_string(),
                }));
            }
        };
        let ids: Vec<String> = (added.clone())
            .map(|new| self.plan.steps()[new].id.to_string())
            .collect();
        if empty {
            return Ok(Planned::Added(json!({ "plan": { "added": ids } }), added));
        }
        self.plans.insert(step, digest);
        self.plan_count += 1;
        self.batch.record_plan(Addition {
            run_id: self.run_id,
            seq: self.plan_count,
            planner: self.plan.steps()[step].id.to_string(),
            steps,
            ids: ids.clone(),
            first: added.start,
        });
        self.adopt(step, added.clone());
        Ok(Planned::Added(json!({ "plan": { "added": ids } }), added))
    }

    /// The ids of the planners that added `planner` (the planner whose plan added it, that
    /// one's, and so on up to the workflow file) and emitted the plan `digest`: each has the
    /// plan it committed in force. A planner whose plan adds a planner that emits it again is
    /// a loop; planners that one plan adds side by side (or that other planners add) and that
    /// emit the same plan are not, nor is a plan a redrive superseded (a person's fresh start).
    fn emitters(&self, planner: StepIndex, digest: &str) -> Vec<String> {
        self.planners_above(planner)
            .filter(|parent| self.plans.get(parent).is_some_and(|plan| plan == digest))
            .map(|parent| self.plan.steps()[parent].id.to_string())
            .collect()
    }

    /// How deep the plan of `planner` would nest: one more than the planners that added it
    /// (a plan of a planner of the workflow file is 1 deep).
    fn plan_depth(&self, planner: StepIndex) -> u32 {
        self.planners_above(planner).count() as u32 + 1
    }

    /// The planners that added `planner`: the planner whose plan added it, that one's, and
    /// so on up to the workflow file.
    fn planners_above(&self, planner: StepIndex) -> impl Iterator<Item = StepIndex> + '_ {
        std::iter::successors(self.plan.planner_of(planner), |&step| {
            self.plan.planner_of(step)
        })
    }

    /// Takes the steps `added` by `planner`'s plan into the ledger: pending, each waiting for
    /// its needs not yet walked from ([`Ledger::ended`]), and the planner's dependents waiting
    /// for the plan's steps they need too.
    ///
    /// A cascade committed in slices may be under way: a need still on the cascade will be
    /// walked from, and its walk reaches the added steps, so it is unmet until then. A walk
    /// begun before the plan grew does not reach them: its step counts as met. The planner's
    /// dependents keep their count (the planner has not been walked from, and a paused walk
    /// may still reach them): each waits for the added steps it needs as well.
    fn adopt(&mut self, planner: StepIndex, added: std::ops::Range<StepIndex>) {
        let plan = std::sync::Arc::clone(&self.plan);
        for _ in added.clone() {
            self.slots.push(super::Slot::pending());
            self.unmet.push(0);
            self.unfinished += 1;
        }
        let unwalked: HashSet<StepIndex> = self.cascade.iter().copied().collect();
        for step in added.clone() {
            self.unmet[step] = (plan.dependencies(step))
                .filter(|&need| {
                    !self.slots[need].state.is_terminal()
                        || self.unmet[need] > 0
                        || unwalked.contains(&need)
                })
                .count();
        }
        for dependent in plan.dependents(planner) {
            if !added.contains(&dependent) {
                self.unmet[dependent] += (plan.dependencies(dependent))
                    .filter(|need| added.contains(need))
                    .count();
            }
        }
    }

    /// Skips each of the steps `added` by a plan that needs a step which ended in a way its
    /// trigger refuses, and what that skips downstream. Called once the planner's success is
    /// in the batch: events are numbered in batch order, so the history tells the success
    /// that added a step before the step's skip.
    pub(super) fn skip_refused(&mut self, added: std::ops::Range<StepIndex>) -> Result<()> {
        let plan = std::sync::Arc::clone(&self.plan);
        for step in added {
            let trigger = plan.node(step).trigger.unwrap_or_default();
            let refused = (plan.dependencies(step)).find(|&need| {
                let state = self.slots[need].state;
                state.is_terminal() && !trigger.accepts(state)
            });
            if let Some(need) = refused
                && self.slots[step].state == StepState::Pending
            {
                let (id, state) = (&plan.steps()[need].id, self.slots[need].state);
                let detail = json!({ "reason": refused_by(id, state, trigger) });
                self.set_step(step, StepState::Skipped, Some(detail))?;
                self.unfinished -= 1;
                self.ended(step)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
