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
use crate::event::{Event, EventKind};
use crate::item::ItemRecord;
use crate::lease::{Lease, LeaseHolder};
use crate::plan::{Addition, Supersession};
use crate::report::{RunFilter, RunSummary};
use crate::state::{Batch, RunState, StepState};

mod apply;

use apply::{apply, check, record_command, starting_runs};

/// A [`Store`] that keeps everything in memory, with the same semantics as the SQLite one
/// (it passes the same conformance suite). Nothing survives the process.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cairn_engine::Result<()> {
/// use std::sync::Arc;
/// use cairn_engine::store::MemoryStore;
/// use cairn_engine::{Engine, RunFilter};
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
    /// The last stall recorded of each step, by step id ([`Batch::record_stall`]).
    stalls: HashMap<String, Value>,
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
        self.stalls.retain(|step, _| !ids.contains(step.as_str()));
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

/// Now, to the millisecond, as the SQLite store keeps it.
fn now() -> DateTime<Utc> {
    super::to_millis(Utc::now())
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
                cwd: run.cwd.clone(),
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
            stalls: HashMap::new(),
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

    async fn find_run(&self, given: &str) -> Result<RunRecord> {
        let key = run_id_key(given);
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
            [] => Err(Error::UnknownRun(given.to_owned())),
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

    async fn steps_named(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<StepRecord>> {
        let runs = self.runs.lock().await;
        let Some(run) = runs.get(&run_id) else {
            return Ok(Vec::new());
        };
        let mut positions: Vec<usize> = (step_ids.iter())
            .filter_map(|id| run.positions.get(*id).copied())
            .collect();
        positions.sort_unstable();
        positions.dedup();
        Ok(positions
            .into_iter()
            .map(|at| run.steps[at].clone())
            .collect())
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

    async fn paused_past_deadline(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let runs = self.runs.lock().await;
        let mut past: Vec<&RunRecord> = (runs.values())
            .map(|run| &run.record)
            .filter(|run| run.state == RunState::Paused)
            .filter(|run| run.deadline.is_some_and(|deadline| deadline <= now))
            .collect();
        past.sort_by_key(|run| (run.created_at, run.id));
        Ok(past.into_iter().map(|run| run.id).collect())
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

    async fn stalls(&self, run_id: Uuid) -> Result<Vec<(String, Value)>> {
        let runs = self.runs.lock().await;
        let mut stalls: Vec<(String, Value)> = (runs.get(&run_id).into_iter())
            .flat_map(|run| {
                (run.stalls.iter())
                    .filter(|(step, _)| {
                        let at = run.positions.get(*step);
                        at.is_some_and(|&at| run.steps[at].state == StepState::Running)
                    })
                    .map(|(step, stall)| (step.clone(), stall.clone()))
            })
            .collect();
        stalls.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(stalls)
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
        let at = now();
        let pending = || (run.commands.iter()).filter(|(_, handled)| !handled);
        let recorded = match ruling {
            Command::Approve(asked) | Command::Deny(asked) => {
                let awaits = (run.steps.iter())
                    .any(|step| step.id == asked.step && step.state == StepState::AwaitingApproval);
                let cancelled =
                    || pending().any(|(earlier, _)| matches!(earlier.command, Command::Cancel(_)));
                let expired = || {
                    let unapplied: Vec<PendingCommand> =
                        pending().map(|(sent, _)| sent.clone()).collect();
                    Approval::first_expired(run.approvals.values(), &unapplied, &asked.step, at)
                        .is_some()
                };
                awaits
                    && !pending()
                        .any(|(earlier, _)| earlier.command.covers(&asked.step, asked.item))
                    && run.record.deadline.is_none_or(|deadline| at < deadline)
                    && !cancelled()
                    && !expired()
            }
            Command::Pause(_) | Command::Cancel(_) => {
                let record = &run.record;
                let halted = || {
                    record.state == RunState::Paused
                        || pending().any(|(earlier, _)| {
                            matches!(earlier.command, Command::Pause(_) | Command::Cancel(_))
                        })
                };
                (!record.state.is_terminal() || record.is_driven(at))
                    && (matches!(ruling, Command::Cancel(_)) || !halted())
            }
        };
        if !recorded {
            return Ok(false);
        }
        record_command(&mut runs, run_id, ruling.clone(), at);
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
        let mut waiting: Vec<Approval> = runs.values().flat_map(waiting).collect();
        waiting.sort_by_key(|a| (a.requested_at, a.run_id));
        Ok(waiting)
    }

    async fn waiting_approvals_of(&self, run_id: Uuid) -> Result<Vec<Approval>> {
        let runs = self.runs.lock().await;
        let mut waiting: Vec<Approval> = runs.get(&run_id).into_iter().flat_map(waiting).collect();
        waiting.sort_by_key(|a| a.requested_at);
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

/// The approval requests of `run` that wait ([`Store::waiting_approvals`]): undecided, of
/// a step that awaits approval, none once the run has ended.
fn waiting(run: &StoredRun) -> impl Iterator<Item = Approval> + '_ {
    let awaits = |step: &str| {
        (run.positions.get(step))
            .is_some_and(|&at| run.steps[at].state == StepState::AwaitingApproval)
    };
    let live = !run.record.state.is_terminal();
    (run.approvals.values())
        .filter(move |approval| live && approval.decision.is_none() && awaits(&approval.step_id))
        .cloned()
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
