//! Taking a stored run over: its guard restored, its plan compiled again from the stored
//! definition and its planners' plans, and the rows the ledger needs read beside it.

use std::collections::HashMap;
use std::panic;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use super::{Engine, RunHandle};
use crate::error::{self, Error, Result};
use crate::guard::GuardError;
use crate::load;
use crate::plan::{Addition, Plan};
use crate::report::RunReport;
use crate::scheduler::{Committed, Judge, Redrive, Takeover, kept_outputs};
use crate::state::{Batch, RunState, StepState};
use crate::store::{RunRecord, Standing, StepRecord};

/// A person's "continue" of a run (`cairn resume`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Continued {
    /// When it was asked ([`Takeover::continued_at`]).
    pub(super) at: DateTime<Utc>,
    /// Asked before this takeover, by a resume that waited for the lease: a pause carried out
    /// since then holds ([`Error::PausedSince`]).
    pub(super) waited: bool,
}

impl Engine {
    /// Takes the unfinished run `run_id` over; `continued`: a person's "continue", `None`
    /// for a recovery.
    pub(super) async fn take_over(
        &self,
        run_id: &str,
        continued: Option<Continued>,
    ) -> Result<RunHandle> {
        if self.inner.shutdown.is_cancelled() {
            return Err(Error::ShutDown);
        }
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        // An ended run a live engine holds is being redriven (`cairn retry`, its steps sent
        // back a batch at a time): the lease answers, as for a run in flight, not the end it
        // had (probe 39 F7: "already failed", and then the run succeeded).
        let redriven = record.state.is_terminal() && record.is_driven(Utc::now());
        if !redriven && let Some(refusal) = refused(&record, continued) {
            return Err(refusal);
        }
        // Restored before the lease is taken: a run this engine cannot judge is refused with
        // the store as it was.
        let judge = self.restore_guard(&record)?;
        let claim = self.claim(record.id)?;
        let standing = self.take_lease(record.id).await?;
        let record = self.as_leased(record, standing).await?;
        if let Some(refusal) = refused(&record, continued) {
            return Err(self.give_up(record.id, refusal).await);
        }
        let run_id = record.id;
        match self.takeover(record, judge, None, None).await {
            Ok(run) => {
                let run = Takeover {
                    continued_at: continued.map(|continued| continued.at),
                    ..run
                };
                self.drive(run, claim).await
            }
            Err(error) => Err(self.give_up(run_id, error).await),
        }
    }

    /// The run of `record`, read before its lease was taken, as it stood when the lease was
    /// taken (`standing`, read in the same transaction). Another process may have moved the
    /// run in between (a pause or a cancel carried out while no engine drove it, another
    /// engine's drive or redrive): it is then read again, under the lease, which holds it as
    /// it is now (the lease given back if that read fails). Else `record` is the run's as it
    /// stands, and a big run's is not read twice.
    pub(super) async fn as_leased(
        &self,
        record: RunRecord,
        standing: Standing,
    ) -> Result<RunRecord> {
        if standing.state == record.state && standing.updated_at == record.updated_at {
            return Ok(record);
        }
        match self.inner.store.find_run(&record.id.to_string()).await {
            Ok(record) => Ok(record),
            Err(error) => Err(self.give_up(record.id, error).await),
        }
    }

    /// A stored run as a driver takes it over, judged by `judge` (its restored guard).
    /// `compiled`: its plan as compiled before the lease was taken, used if no plan has been
    /// added to the run or superseded since ([`grown_plan`](Self::grown_plan) otherwise).
    pub(super) async fn takeover(
        &self,
        record: RunRecord,
        judge: Judge,
        redrive: Option<Redrive>,
        compiled: Option<(Plan, Vec<Addition>)>,
    ) -> Result<Takeover> {
        // The step rows are read (and parsed) on another task while this one compiles the
        // stored definition: two linear parts of a resume side by side. Their outputs are
        // read once the plan says which ones the run keeps (a redrive keeps every one).
        let steps = AbortOnDropHandle::new(tokio::spawn({
            let store = Arc::clone(&self.inner.store);
            let (run_id, all) = (record.id, redrive.is_some());
            async move {
                if all {
                    store.steps(run_id).await
                } else {
                    store.steps_without_outputs(run_id).await
                }
            }
        }));
        let (plan, plans) = self.plan_to_take_over(&record, compiled).await?;
        let store = &self.inner.store;
        let mut steps = steps
            .await
            .unwrap_or_else(|e| panic::resume_unwind(e.into_panic()))?;
        if redrive.is_none() {
            self.read_kept_outputs(record.id, &plan, &mut steps).await?;
        }
        let approvals = match &judge.guard {
            Some(_) => store.approvals(record.id).await?,
            None => Vec::new(),
        };
        let rate_limits = error::rate_limits(judge.guard.as_deref(), Some(record.id))?;
        let recent_starts = match rate_limits.iter().map(|limit| limit.per).max() {
            Some(window) => {
                let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
                let since = Utc::now().checked_sub_signed(window).unwrap_or_default();
                store.starts_since(record.id, since).await?
            }
            None => Vec::new(),
        };
        let for_each = for_each_to_read(&plan, &steps, redrive.is_some());
        let items = store.items(record.id, &for_each).await?;
        let input = store.input(record.id).await?;
        let superseded = store.superseded(record.id).await?;
        let stalls = store.stalls(record.id).await?;
        // Read for a run that has a deadline: one that passed while no engine drove the run
        // is settled with the commands sent before it ([`Committed::commands`]).
        let commands = match record.deadline {
            Some(_) => store.pending_commands(record.id).await?,
            None => Vec::new(),
        };
        let max_output_bytes = self.max_output_of(&record).await?;
        Ok(Takeover {
            run: Committed {
                run_id: record.id,
                plan: Arc::new(plan),
                input,
                state: record.state,
                created_at: record.created_at,
                deadline: record.deadline,
                steps,
                approvals,
                rate_limits,
                recent_starts,
                plans,
                superseded,
                items,
                stalls,
                commands,
                executors: self.executors().clone(),
            },
            judge,
            creation: None,
            redrive,
            continued_at: None,
            max_output_bytes,
        })
    }

    /// The cap on one step's output `record` is driven with: this engine's override, if it
    /// has one, recorded with the run (under its lease, which the caller holds) unless the
    /// run has it already; else the run's own, or this engine's for a run stored without one.
    async fn max_output_of(&self, record: &RunRecord) -> Result<usize> {
        let inner = &self.inner;
        let Some(cap) = inner.max_output_override else {
            return Ok(record.max_output_bytes.unwrap_or(inner.max_output_bytes));
        };
        if record.max_output_bytes != Some(cap) {
            let mut batch = Batch::new();
            batch.record_max_output(record.id, cap);
            inner.store.commit(&inner.holder.owner, batch).await?;
        }
        Ok(cap)
    }

    /// Reads into `steps` (read without outputs) the outputs a ledger taking them over keeps.
    async fn read_kept_outputs(
        &self,
        run_id: Uuid,
        plan: &Plan,
        steps: &mut [StepRecord],
    ) -> Result<()> {
        let kept = kept_outputs(plan, steps);
        if kept.is_empty() {
            return Ok(());
        }
        let mut outputs: HashMap<String, Value> = self
            .inner
            .store
            .outputs(run_id, &kept)
            .await?
            .into_iter()
            .collect();
        for step in steps {
            step.output = outputs.remove(&step.id);
        }
        Ok(())
    }

    /// The plan of `record`: its stored workflow, grown by its planners' plans in the order
    /// they were committed, every executor it names checked against this engine's.
    pub(super) async fn grown_plan(&self, record: &RunRecord) -> Result<(Plan, Vec<Addition>)> {
        let plans = self.inner.store.plans(record.id).await?;
        self.grow_plan(record, plans).await
    }

    /// The plan of `record` as [`grown_plan`](Self::grown_plan) gives it: `compiled`, the
    /// one compiled earlier, if given and the run's plans are still the ones it was grown by.
    async fn plan_to_take_over(
        &self,
        record: &RunRecord,
        compiled: Option<(Plan, Vec<Addition>)>,
    ) -> Result<(Plan, Vec<Addition>)> {
        let plans = self.inner.store.plans(record.id).await?;
        let seqs = |plans: &[Addition]| plans.iter().map(|plan| plan.seq).collect::<Vec<_>>();
        match compiled {
            Some(compiled) if seqs(&plans) == seqs(&compiled.1) => Ok(compiled),
            _ => self.grow_plan(record, plans).await,
        }
    }

    /// The stored workflow of `record` grown by `plans`, as [`grown_plan`](Self::grown_plan).
    /// The stored definition is dropped once compiled: a big workflow's text is megabytes.
    pub(super) async fn grow_plan(
        &self,
        record: &RunRecord,
        plans: Vec<Addition>,
    ) -> Result<(Plan, Vec<Addition>)> {
        let origin = stored_origin(record.id);
        let definition = self.inner.store.definition(record.id).await?;
        // Compiling is a takeover's work for the CPU (≈ 0.2 s for 100,000 steps): on a
        // blocking thread, whatever the runtime, so that the runtime's thread parses the
        // step rows meanwhile (`takeover`) and a one-thread runtime is not held up.
        let (plan, plans, origin) = tokio::task::spawn_blocking(move || {
            // The definition was stored as it loaded: one that no longer compiles was changed
            // outside cairn, a corrupt database (named with its column), not a workflow to fix.
            let mut plan = load::compile_snapshot(&definition, &origin)
                .map_err(|error| Error::Corrupt(format!("column workflows.definition: {error}")))?;
            drop(definition);
            for addition in &plans {
                load::restore_plan(&mut plan, addition, &origin)?;
            }
            Ok::<_, Error>((plan, plans, origin))
        })
        .await
        .unwrap_or_else(|e| panic::resume_unwind(e.into_panic()))?;
        load::check_executors(&plan, self.executors(), &origin)?;
        Ok((plan, plans))
    }

    /// The guard `record` is judged by: the one it started with, restored from its snapshot
    /// by this engine's guard (or that guard itself, for a run whose guard stored none,
    /// unless it [only restores](crate::Guard::only_restores)); none if it started without one. In
    /// the directory the run was started in, or this engine's for a run recorded before
    /// directories were stored.
    /// Callers restore it before they write anything for the run.
    pub(super) fn restore_guard(&self, record: &RunRecord) -> Result<Judge> {
        let cwd = (record.cwd.clone()).or_else(|| self.inner.cwd.clone());
        let Some(snapshot) = &record.guard else {
            return Ok(Judge::new(None, None, cwd));
        };
        let refused = |message: &str| Error::Guard {
            run: record.id,
            error: GuardError(message.to_owned()),
        };
        let engine_guard = (self.inner.guard.clone()).ok_or_else(|| {
            refused(
                "the run was started with a guard, and this engine has none (open it with \
                     that guard, or with one that restores it from its snapshot, such as \
                     cairn_guards::Restorer)",
            )
        })?;
        let guard = if snapshot.is_empty() {
            if engine_guard.only_restores() {
                return Err(refused(
                    "the run was started with a guard that stored no policy to resume it with \
                     (an embedding program's own guard): only a program with that guard can \
                     drive it, and nothing was written to the run",
                ));
            }
            engine_guard
        } else {
            error::restored(&*engine_guard, record.id, snapshot)?
        };
        Ok(Judge::new(Some(guard), Some(snapshot), cwd))
    }
}

/// Why a takeover, `continued` by a person or a recovery (`None`), leaves `record` alone: it
/// has ended; a recovery never continues a paused run; a resume that waited for the lease
/// does not overrule a pause carried out after it was asked.
fn refused(record: &RunRecord, continued: Option<Continued>) -> Option<Error> {
    if record.state.is_terminal() {
        return Some(Error::Finished(Box::new(RunReport::from(record))));
    }
    // Stored times are to the millisecond: a pause in the millisecond the person asked holds
    // (the safe side).
    let holds = match continued {
        None => true,
        Some(Continued { at, waited }) => {
            waited && record.updated_at.timestamp_millis() >= at.timestamp_millis()
        }
    };
    (record.state == RunState::Paused && holds).then(|| Error::PausedSince {
        run: record.id,
        at: record.updated_at,
    })
}

/// The `for_each` steps among `steps` whose items a takeover reads: those that have not
/// succeeded (a succeeded step's output holds its items' outputs), or all of them for a
/// `redrive`, which sends a succeeded step's items back with their attempts counting on.
fn for_each_to_read<'s>(plan: &Plan, steps: &'s [StepRecord], redrive: bool) -> Vec<&'s str> {
    (steps.iter())
        .filter(|step| redrive || step.state != StepState::Succeeded)
        .filter(|step| {
            (plan.index_of(&step.id)).is_some_and(|index| plan.node(index).for_each.is_some())
        })
        .map(|step| step.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests;

/// How load errors name the stored workflow of the run `run_id` (a plan restored on it adds
/// `, the plan of PLANNER`).
pub(super) fn stored_origin(run_id: Uuid) -> String {
    format!("run {run_id} (its stored workflow)")
}
