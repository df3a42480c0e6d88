//! How a batch changes the runs of a [`MemoryStore`](super::MemoryStore): checked against
//! what is stored (the lease, each transition's starting state), then applied, with its
//! events, and the commands sent to a run recorded.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::StoredRun;
use crate::command::{Command, PendingCommand};
use crate::error::{Error, Result};
use crate::event::{Event, recorded};
use crate::expr::SharedJson;
use crate::state::{Batch, RunState, StepState, Transition};
use crate::store::StepRecord;

/// Refuses `batch` if `owner` does not hold one of its runs or a transition does not leave
/// the stored state; changes nothing.
pub(super) fn check(runs: &BTreeMap<Uuid, StoredRun>, owner: &str, batch: &Batch) -> Result<()> {
    // A batch's transitions of one run or step continue from each other (`Batch::push`
    // checks that): only the first must leave the stored state, as in the SQLite store.
    let mut seen_runs = HashSet::new();
    let mut seen_steps = HashSet::new();
    // Steps a plan of the batch adds are pending until its transitions move them.
    let added: HashSet<(Uuid, &str)> = (batch.plans().iter())
        .flat_map(|plan| plan.ids.iter().map(|id| (plan.run_id, id.as_str())))
        .collect();
    let held = |run_id: Uuid| {
        let run = runs
            .get(&run_id)
            .ok_or_else(|| Error::UnknownRun(run_id.to_string()))?;
        match &run.record.lease {
            Some(lease) if lease.holder.owner == owner => Ok(run),
            _ => Err(Error::LeaseLost(run_id)),
        }
    };
    for run_id in batch.run_ids() {
        held(run_id)?;
    }
    for gone in batch.supersessions() {
        if !(held(gone.run_id)?.plans.iter()).any(|plan| plan.seq == gone.seq) {
            return Err(Error::Conflict {
                run: gone.run_id,
                what: format!("plan {} (not in force)", gone.seq),
            });
        }
    }
    for transition in batch.transitions() {
        let run_id = transition.run_id();
        let run = held(run_id)?;
        match transition {
            Transition::Run(change) => {
                if seen_runs.insert(run_id) && run.record.state != change.from {
                    return Err(Error::Conflict {
                        run: run_id,
                        what: "the run".into(),
                    });
                }
            }
            Transition::Step(change) => {
                if !seen_steps.insert((run_id, change.step_id.as_str())) {
                    continue;
                }
                let position = run.positions.get(&change.step_id).copied();
                let stored = position
                    .map(|position| run.steps[position].state)
                    .or((added.contains(&(run_id, change.step_id.as_str())))
                        .then_some(StepState::Pending));
                if stored != Some(change.from) {
                    return Err(Error::Conflict {
                        run: run_id,
                        what: format!(
                            "step {} (now {})",
                            change.step_id,
                            stored.map_or("missing", |state| state.as_str())
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Applies a checked `batch` and returns its events.
pub(super) fn apply(
    runs: &mut BTreeMap<Uuid, StoredRun>,
    mut batch: Batch,
    at: DateTime<Utc>,
) -> Vec<Event> {
    for gone in batch.supersessions() {
        let run = runs
            .get_mut(&gone.run_id)
            .expect("checked: every run of the batch exists");
        run.supersede(gone);
    }
    // Before the runs' moves, which mark what they carry out handled.
    for (run_id, command) in batch.sent() {
        record_command(runs, *run_id, command.clone(), at);
    }
    for (run_id, from) in batch.redrives() {
        let run = runs
            .get_mut(run_id)
            .expect("checked: every run of the batch exists");
        run.redrive_from = Some(from.clone());
    }
    for (run_id, bytes) in batch.max_outputs() {
        let run = runs
            .get_mut(run_id)
            .expect("checked: every run of the batch exists");
        run.record.max_output_bytes = Some(*bytes);
    }
    for plan in batch.plans() {
        let run = runs
            .get_mut(&plan.run_id)
            .expect("checked: every run of the batch exists");
        for id in &plan.ids {
            run.positions.insert(id.clone(), run.steps.len());
            run.steps.push(StepRecord::pending(id));
        }
        run.plans.push(plan.clone());
    }
    let mut events = Vec::with_capacity(batch.len());
    for mut transition in batch.take_transitions() {
        let run = runs
            .get_mut(&transition.run_id())
            .expect("checked: every run of the batch exists");
        // Outputs move into the records: an event does not carry them.
        match &mut transition {
            Transition::Run(change) => {
                run.record.state = change.to;
                run.record.output = change.output.take();
                run.record.error = change.error.clone();
                run.record.error_class = change.error_class;
                run.record.deadline = change.deadline.or(run.record.deadline);
                if change.to.is_terminal() {
                    run.record.lease = None;
                }
                for (pending, handled) in &mut run.commands {
                    *handled |= pending.command.carried_out_by(change.to);
                }
                // Leaving `failed` or `cancelled` ends a redrive's last commit.
                if matches!(change.from, RunState::Failed | RunState::Cancelled) {
                    run.redrive_from = None;
                }
            }
            Transition::Step(change) => {
                let step = &mut run.steps[run.positions[&change.step_id]];
                step.state = change.to;
                step.attempt = change.attempt;
                step.interrupted = change.interrupted;
                step.fallback = change.fallback;
                step.output = change.output.take().map(SharedJson::unshared);
                step.error = change.error.clone();
                step.wake_at = change.wake_at;
                if change.to == StepState::Running {
                    step.progress_at = None;
                }
                if change.usage.is_some() {
                    step.usage = change.usage.clone();
                }
            }
        }
        let (kind, attempt, detail) = recorded(transition);
        let event = Event {
            run_id: run.record.id,
            seq: run.events.len() as i64 + 1,
            at,
            kind,
            attempt,
            detail: detail.map(Value::Object),
        };
        run.record.updated_at = at;
        run.events.push(event.clone());
        events.push(event);
    }
    for (run_id, step_id, at) in batch.progress() {
        if let Some(run) = runs.get_mut(run_id)
            && let Some(&position) = run.positions.get(step_id)
        {
            run.steps[position].progress_at = Some(*at);
        }
    }
    for (run_id, step_id, usage) in batch.usage() {
        if let Some(run) = runs.get_mut(run_id)
            && let Some(&position) = run.positions.get(step_id)
        {
            run.steps[position].usage = Some(usage.clone());
        }
    }
    for (run_id, step_id, stall) in batch.stalls() {
        if let Some(run) = runs.get_mut(run_id)
            && let Some(&position) = run.positions.get(step_id)
            && run.steps[position].state == StepState::Running
        {
            run.stalls.insert(step_id.clone(), stall.clone());
        }
    }
    for item in batch.items() {
        if let Some(run) = runs.get_mut(&item.run_id) {
            let key = (item.step_id.clone(), item.index);
            run.items.insert(key, item.clone());
        }
    }
    // Before the batch's own requests, which a withdrawal leaves.
    for (run_id, step_id) in batch.withdrawn_approvals() {
        if let Some(run) = runs.get_mut(run_id) {
            run.approvals.retain(|(step, _), _| step != step_id);
        }
    }
    for approval in batch.approvals() {
        if let Some(run) = runs.get_mut(&approval.run_id) {
            let key = (approval.step_id.clone(), approval.item);
            run.approvals.insert(key, approval.clone());
        }
    }
    for run in runs.values_mut() {
        for (command, handled) in &mut run.commands {
            *handled |= batch.handled().contains(&(command.run_id, command.id));
        }
    }
    events
}

/// The runs `batch` starts attempts of (moves a step of to `running`).
pub(super) fn starting_runs(batch: &Batch) -> HashSet<Uuid> {
    (batch.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(change) if change.to == StepState::Running => Some(change.run_id),
            _ => None,
        })
        .chain(batch.items().iter().map(|item| item.run_id))
        .collect()
}

/// Records `command` for run `run_id` (which exists), numbered after every command sent.
pub(super) fn record_command(
    runs: &mut BTreeMap<Uuid, StoredRun>,
    run_id: Uuid,
    command: Command,
    at: DateTime<Utc>,
) {
    let id = 1
        + (runs.values())
            .map(|run| run.commands.len() as i64)
            .sum::<i64>();
    let run = runs.get_mut(&run_id).expect("the run exists");
    let pending = PendingCommand {
        id,
        run_id,
        command,
        created_at: at,
    };
    run.commands.push((pending, false));
}
