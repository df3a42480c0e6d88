//! A store in memory: for tests, and runs that need not outlive the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{CommitReport, NewRun, RunRecord, Standing, StepRecord, Store, run_id_key};
use crate::approval::Approval;
use crate::command::{Command, PendingCommand};
use crate::error::{AMBIGUOUS_SHOWN, Error, Result, SHORTEST_PREFIX};
use crate::event::{Event, EventKind, recorded};
use crate::item::ItemRecord;
use crate::lease::{Lease, LeaseHolder};
use crate::plan::{Addition, Supersession};
use crate::report::{RunFilter, RunSummary};
use crate::state::{Batch, RunState, StepState, Transition};

/// A [`Store`] that keeps everything in memory, with the same semantics as the SQLite one
/// (it passes the same conformance suite). Nothing survives the process.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cairn_engine::Result<()> {
/// use std::sync::Arc;
/// use cairn_engine::{Engine, MemoryStore, RunFilter};
///
/// let engine = Engine::builder_with_store(Arc::new(MemoryStore::new())).open().await?;
/// assert!(engine.runs(&RunFilter::default()).await?.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    runs: Mutex<BTreeMap<Uuid, StoredRun>>,
}

#[derive(Debug)]
struct StoredRun {
    record: RunRecord,
    /// The definition snapshot's text.
    definition: Arc<str>,
    /// The input's JSON text, shared with the [`NewRun`] it came in.
    input: Arc<String>,
    steps: Vec<StepRecord>,
    positions: HashMap<String, usize>,
    events: Vec<Event>,
    /// Approval requests by step and item.
    approvals: BTreeMap<(String, Option<usize>), Approval>,
    /// Commands sent, with whether they were handled.
    commands: Vec<(PendingCommand, bool)>,
    /// The plans its planners added, in force.
    plans: Vec<Addition>,
    /// The plans redrives superseded.
    superseded: Vec<Supersession>,
    /// `for_each` items, by step and index.
    items: BTreeMap<(String, usize), ItemRecord>,
    /// The step a redrive under way runs again from ([`Batch::record_redrive`]).
    redrive_from: Option<String>,
    /// The lease found by the owner that took it, while it has committed nothing to the
    /// run ([`Store::give_back_lease`]).
    found: Option<(String, Option<Lease>)>,
}

impl StoredRun {
    /// Takes the plan `gone` names out of the run: its steps, their items and approval
    /// requests (not their events).
    fn supersede(&mut self, gone: &Supersession) {
        let Some(at) = self.plans.iter().position(|plan| plan.seq == gone.seq) else {
            return;
        };
        let plan = self.plans.remove(at);
        let ids: HashSet<&str> = plan.ids.iter().map(String::as_str).collect();
        self.steps.retain(|step| !ids.contains(step.id.as_str()));
        self.positions = (self.steps.iter().enumerate())
            .map(|(position, step)| (step.id.clone(), position))
            .collect();
        self.items
            .retain(|(step, _), _| !ids.contains(step.as_str()));
        self.approvals
            .retain(|(step, _), _| !ids.contains(step.as_str()));
        self.superseded.push(gone.clone());
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Gives up `owner`'s lease of `run_id`, if it holds it; `back`: writing back the lease
    /// it found, if it has committed nothing to the run since it took it.
    async fn let_go(&self, run_id: Uuid, owner: &str, back: bool) {
        let mut runs = self.runs.lock().await;
        let Some(run) = runs.get_mut(&run_id) else {
            return;
        };
        let found = run.found.take_if(|(taker, _)| taker == owner);
        if (run.record.lease.as_ref()).is_some_and(|lease| lease.holder.owner == owner) {
            run.record.lease = found.filter(|_| back).and_then(|(_, lease)| lease);
        }
    }
}

/// Refuses `batch` if `owner` does not hold one of its runs or a transition does not leave
/// the stored state; changes nothing.
fn check(runs: &BTreeMap<Uuid, StoredRun>, owner: &str, batch: &Batch) -> Result<()> {
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
fn apply(runs: &mut BTreeMap<Uuid, StoredRun>, mut batch: Batch, at: DateTime<Utc>) -> Vec<Event> {
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
                step.output = change.output.take();
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
    for item in batch.items() {
        if let Some(run) = runs.get_mut(&item.run_id) {
            let key = (item.step_id.clone(), item.index);
            run.items.insert(key, item.clone());
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
fn starting_runs(batch: &Batch) -> HashSet<Uuid> {
    (batch.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(change) if change.to == StepState::Running => Some(change.run_id),
            _ => None,
        })
        .chain(batch.items().iter().map(|item| item.run_id))
        .collect()
}

/// Records `command` for run `run_id` (which exists), numbered after every command sent.
fn record_command(
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

/// Now, at the milliseconds the SQLite store keeps.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_run(
        &self,
        run: &NewRun,
        holder: &LeaseHolder,
        ttl: Duration,
        batch: Batch,
    ) -> Result<Vec<Event>> {
        let at = now();
        let mut runs = self.runs.lock().await;
        if runs.contains_key(&run.id) {
            return Err(Error::RunExists(run.id));
        }
        let created = Event {
            run_id: run.id,
            seq: 1,
            at,
            kind: EventKind::Created,
            attempt: None,
            detail: None,
        };
        let stored = StoredRun {
            record: RunRecord {
                id: run.id,
                workflow_name: run.workflow_name.clone(),
                workflow_hash: run.definition.hash().to_owned(),
                state: RunState::Pending,
                output: None,
                error: None,
                error_class: None,
                guard: run.guard.clone(),
                created_at: at,
                updated_at: at,
                deadline: None,
                max_output_bytes: Some(run.max_output_bytes),
                lease: Some(Lease {
                    holder: holder.clone(),
                    expires: at + ttl,
                }),
            },
            definition: run.definition.text().into(),
            input: Arc::clone(&run.input),
            steps: run.steps.iter().map(|id| StepRecord::pending(id)).collect(),
            positions: run
                .steps
                .iter()
                .enumerate()
                .map(|(position, id)| (id.to_string(), position))
                .collect(),
            events: vec![created.clone()],
            approvals: BTreeMap::new(),
            commands: Vec::new(),
            plans: Vec::new(),
            superseded: Vec::new(),
            items: BTreeMap::new(),
            redrive_from: None,
            found: None,
        };
        // All or nothing: check the batch against the new run before keeping it.
        runs.insert(run.id, stored);
        if let Err(error) = check(&runs, &holder.owner, &batch) {
            runs.remove(&run.id);
            return Err(error);
        }
        let mut events = vec![created];
        events.extend(apply(&mut runs, batch, at));
        Ok(events)
    }

    async fn commit(&self, owner: &str, batch: Batch) -> Result<CommitReport> {
        let mut runs = self.runs.lock().await;
        check(&runs, owner, &batch)?;
        for run_id in batch.run_ids() {
            if let Some(run) = runs.get_mut(&run_id) {
                run.found = None;
            }
        }
        let starting = starting_runs(&batch);
        let events = apply(&mut runs, batch, now());
        // Under the lock: no command is sent meanwhile.
        let halt_asked = (starting.iter())
            .filter_map(|run_id| runs.get(run_id))
            .any(|run| {
                (run.commands.iter()).any(|(pending, handled)| {
                    !handled && matches!(pending.command, Command::Pause(_) | Command::Cancel(_))
                })
            });
        Ok(CommitReport { events, halt_asked })
    }

    async fn lease_run(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<Result<Standing, Lease>> {
        let now = now();
        let mut runs = self.runs.lock().await;
        let run = runs
            .get_mut(&run_id)
            .ok_or_else(|| Error::UnknownRun(run_id.to_string()))?;
        if let Some(current) = &run.record.lease
            && current.holder.owner != holder.owner
            && current.expires > now
            && !is_void(&current.holder)
        {
            return Ok(Err(current.clone()));
        }
        let taken = Lease {
            holder: holder.clone(),
            expires: now + ttl,
        };
        let found = run.record.lease.replace(taken);
        if (found.as_ref()).is_none_or(|found| found.holder.owner != holder.owner) {
            run.found = Some((holder.owner.clone(), found));
        }
        Ok(Ok(Standing {
            state: run.record.state,
            updated_at: run.record.updated_at,
        }))
    }

    async fn renew_lease(&self, run_id: Uuid, owner: &str, ttl: Duration) -> Result<bool> {
        let mut runs = self.runs.lock().await;
        let Some(lease) = (runs.get_mut(&run_id)).and_then(|run| run.record.lease.as_mut()) else {
            return Ok(false);
        };
        if lease.holder.owner != owner {
            return Ok(false);
        }
        lease.expires = now() + ttl;
        Ok(true)
    }

    async fn release_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.let_go(run_id, owner, false).await;
        Ok(())
    }

    async fn give_back_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.let_go(run_id, owner, true).await;
        Ok(())
    }

    async fn find_run(&self, id: &str) -> Result<RunRecord> {
        let key = run_id_key(id);
        let id = key.as_str();
        let runs = self.runs.lock().await;
        let matches: Vec<&StoredRun> = runs
            .values()
            .filter(|run| {
                let full = run.record.id.to_string();
                full == id || (id.len() >= SHORTEST_PREFIX && full.starts_with(id))
            })
            .collect();
        match matches.as_slice() {
            [] => Err(Error::UnknownRun(id.to_owned())),
            [only] => Ok(only.record.clone()),
            several => match several.iter().find(|run| run.record.id.to_string() == id) {
                Some(exact) => Ok(exact.record.clone()),
                None => Err(Error::AmbiguousRun {
                    prefix: id.to_owned(),
                    matches: (several.iter().take(AMBIGUOUS_SHOWN))
                        .map(|run| run.record.id.to_string())
                        .collect(),
                    more: several.len() > AMBIGUOUS_SHOWN,
                }),
            },
        }
    }

    async fn definition(&self, run_id: Uuid) -> Result<String> {
        let runs = self.runs.lock().await;
        let run = runs.get(&run_id);
        run.map(|run| run.definition.to_string())
            .ok_or_else(|| Error::UnknownRun(run_id.to_string()))
    }

    async fn input(&self, run_id: Uuid) -> Result<Value> {
        let runs = self.runs.lock().await;
        let run = (runs.get(&run_id)).ok_or_else(|| Error::UnknownRun(run_id.to_string()))?;
        (crate::nesting::parse_stored(run.input.as_bytes()))
            .map_err(|e| Error::Corrupt(format!("stored JSON: {e}")))
    }

    async fn step(&self, run_id: Uuid, step_id: &str) -> Result<Option<StepRecord>> {
        let runs = self.runs.lock().await;
        let run = runs.get(&run_id);
        Ok(run.and_then(|run| Some(run.steps[*run.positions.get(step_id)?].clone())))
    }

    async fn steps(&self, run_id: Uuid) -> Result<Vec<StepRecord>> {
        let runs = self.runs.lock().await;
        Ok(runs
            .get(&run_id)
            .map(|run| run.steps.clone())
            .unwrap_or_default())
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        let runs = self.runs.lock().await;
        let mut listed: Vec<RunSummary> = (runs.values())
            .map(|run| RunSummary::from(&run.record))
            .filter(|run| filter.admits(run))
            .collect();
        listed.sort_by_key(|run| std::cmp::Reverse((run.created_at, run.id)));
        listed.truncate(filter.limit.unwrap_or(usize::MAX));
        Ok(listed)
    }

    async fn unfinished_runs(&self) -> Result<Vec<Uuid>> {
        let runs = self.runs.lock().await;
        let mut unfinished: Vec<&RunRecord> = runs
            .values()
            .map(|run| &run.record)
            .filter(|run| matches!(run.state, RunState::Pending | RunState::Running))
            .collect();
        unfinished.sort_by_key(|run| (run.created_at, run.id));
        Ok(unfinished.into_iter().map(|run| run.id).collect())
    }

    async fn history_page(&self, run_id: Uuid, after: i64, limit: usize) -> Result<Vec<Event>> {
        let runs = self.runs.lock().await;
        let events = runs.get(&run_id).map_or(&[][..], |run| &run.events);
        let after = events.partition_point(|event| event.seq <= after);
        Ok(events[after..].iter().take(limit).cloned().collect())
    }

    async fn plans(&self, run_id: Uuid) -> Result<Vec<Addition>> {
        let runs = self.runs.lock().await;
        Ok(runs
            .get(&run_id)
            .map(|run| run.plans.clone())
            .unwrap_or_default())
    }

    async fn superseded(&self, run_id: Uuid) -> Result<Vec<Supersession>> {
        let runs = self.runs.lock().await;
        Ok(runs
            .get(&run_id)
            .map(|run| run.superseded.clone())
            .unwrap_or_default())
    }

    async fn redrive_from(&self, run_id: Uuid) -> Result<Option<String>> {
        let runs = self.runs.lock().await;
        Ok(runs.get(&run_id).and_then(|run| run.redrive_from.clone()))
    }

    async fn items(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<ItemRecord>> {
        let runs = self.runs.lock().await;
        Ok((runs.get(&run_id).into_iter())
            .flat_map(|run| run.items.values())
            .filter(|item| step_ids.contains(&item.step_id.as_str()))
            .cloned()
            .collect())
    }

    async fn send_command(&self, run_id: Uuid, command: &Command) -> Result<()> {
        let mut runs = self.runs.lock().await;
        if !runs.contains_key(&run_id) {
            return Err(Error::UnknownRun(run_id.to_string()));
        }
        record_command(&mut runs, run_id, command.clone(), now());
        Ok(())
    }

    async fn send_ruling(&self, run_id: Uuid, ruling: &Command) -> Result<bool> {
        let mut runs = self.runs.lock().await;
        let run = runs
            .get(&run_id)
            .ok_or_else(|| Error::UnknownRun(run_id.to_string()))?;
        if let Command::Approve(asked) | Command::Deny(asked) = ruling {
            let awaits = (run.steps.iter())
                .any(|step| step.id == asked.step && step.state == StepState::AwaitingApproval);
            let covered = (run.commands.iter()).any(|(earlier, handled)| {
                !handled && earlier.command.covers(&asked.step, asked.item)
            });
            if !awaits || covered {
                return Ok(false);
            }
        }
        record_command(&mut runs, run_id, ruling.clone(), now());
        Ok(true)
    }

    async fn pending_commands(&self, run_id: Uuid) -> Result<Vec<PendingCommand>> {
        let runs = self.runs.lock().await;
        let commands = runs.get(&run_id).map(|run| run.commands.as_slice());
        Ok((commands.unwrap_or_default().iter())
            .filter(|(_, handled)| !handled)
            .map(|(command, _)| command.clone())
            .collect())
    }

    async fn runs_with_commands(&self) -> Result<Vec<Uuid>> {
        let runs = self.runs.lock().await;
        Ok((runs.iter())
            .filter(|(_, run)| run.commands.iter().any(|(_, handled)| !handled))
            .map(|(&id, _)| id)
            .collect())
    }

    async fn approvals(&self, run_id: Uuid) -> Result<Vec<Approval>> {
        let runs = self.runs.lock().await;
        Ok((runs.get(&run_id).into_iter())
            .flat_map(|run| run.approvals.values().cloned())
            .collect())
    }

    async fn waiting_approvals(&self) -> Result<Vec<Approval>> {
        let runs = self.runs.lock().await;
        let mut waiting: Vec<Approval> = (runs.values())
            .filter(|run| !run.record.state.is_terminal())
            .flat_map(|run| {
                let awaits = |step: &str| {
                    (run.positions.get(step))
                        .is_some_and(|&at| run.steps[at].state == StepState::AwaitingApproval)
                };
                (run.approvals.values()).filter(move |approval| {
                    approval.decision.is_none() && awaits(&approval.step_id)
                })
            })
            .cloned()
            .collect();
        waiting.sort_by_key(|a| (a.requested_at, a.run_id));
        Ok(waiting)
    }

    async fn starts_since(
        &self,
        run_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        let runs = self.runs.lock().await;
        let events = runs.get(&run_id).map(|run| run.events.as_slice());
        Ok((events.unwrap_or_default().iter())
            .filter(|event| event.at >= since)
            .filter_map(|event| match &event.kind {
                EventKind::Step { step_id, to, .. } if *to == StepState::Running => {
                    let starts = (event.detail.as_ref())
                        .and_then(|detail| detail["verdicts"].as_array())
                        .map_or(1, Vec::len);
                    Some(std::iter::repeat_n((step_id.clone(), event.at), starts))
                }
                _ => None,
            })
            .flatten()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        conformance::check(|| async { MemoryStore::new() }).await;
    }
}
