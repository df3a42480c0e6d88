//! Commands applied at once to a run no engine drives, by the process that sent them: it
//! takes the run's lease (as a holder that says it only applies commands), commits what they
//! decide, and gives the lease back.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::command::Command;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lease::{self, LeaseAttempt};
use crate::plan::{Addition, Plan};
use crate::report::RunReport;
use crate::scheduler::{Driver, Judge, Shared};
use crate::state::RunState;

impl Engine {
    /// Applies the commands of `run_id` at once if no engine drives it (see [`Engine::send`]),
    /// judged by `judge`; `compiled`, its plan if the sender compiled it already.
    ///
    /// Another process's command recorded while this one holds the lease finds the lease
    /// held, and leaves the command to its holder. So, once the lease is given back, the
    /// commands are read again, and those recorded since the lease was taken are applied
    /// too (the lease taken again; if another process holds it by then, that process reads
    /// them when it gives the lease back, or drives the run). A command is recorded before
    /// its sender looks at the lease, and the lease is given back before this look: either
    /// the sender takes the lease, or this look finds the command.
    pub(super) async fn settle_undriven(
        &self,
        run_id: Uuid,
        judge: Judge,
        mut compiled: Option<(Plan, Vec<Addition>)>,
    ) -> Result<()> {
        let store = &self.inner.store;
        let mut seen = HashSet::new();
        loop {
            let settled = self.settle_once(run_id, judge.clone(), &mut seen, compiled.take());
            let Some(report) = settled.await? else {
                return Ok(());
            };
            if report.state == RunState::Running {
                self.finish_ended(run_id).await?;
            }
            let pending = store.pending_commands(run_id).await?;
            if report.state.is_terminal() || pending.iter().all(|sent| seen.contains(&sent.id)) {
                return Ok(());
            }
        }
    }

    /// Applies the pending commands of `run_id` under its lease, judged by `judge`, and
    /// gives the lease back: how the run stands then, or `None` if another process holds
    /// the lease (or this engine drives the run). Adds the commands pending once the lease
    /// is held to `seen`: the commands applied are those or later ones. `compiled`: the
    /// run's plan, if compiled already ([`Engine::takeover`]).
    async fn settle_once(
        &self,
        run_id: Uuid,
        judge: Judge,
        seen: &mut HashSet<i64>,
        compiled: Option<(Plan, Vec<Addition>)>,
    ) -> Result<Option<RunReport>> {
        let Ok(claim) = self.claim(run_id) else {
            return Ok(None); // This engine drives it: its driver reads the command.
        };
        let applying = self.applying_commands();
        let inner = &applying.inner;
        let lease = (inner.store)
            .acquire_lease(run_id, &inner.holder, inner.lease_ttl, &lease::is_void)
            .await?;
        if let LeaseAttempt::Held(_) = lease {
            return Ok(None); // The engine that holds it reads the command within a second.
        }
        let settled = async {
            let pending = inner.store.pending_commands(run_id).await?;
            seen.extend(pending.iter().map(|sent| sent.id));
            let record = inner.store.find_run(&run_id.to_string()).await?;
            let run = applying.takeover(record, judge, None, compiled).await?;
            let (events, _) = broadcast::channel(1);
            Driver::new(Arc::clone(inner), run, events, claim.bell())?
                .settle_commands()
                .await
        };
        let result = settled.await;
        drop(claim);
        match result {
            Ok(report) => Ok(Some(report)),
            Err(error) => Err(applying.give_up(run_id, error).await),
        }
    }

    /// This engine as it carries out commands on a run no engine drives: its lease holder says
    /// so ([`LeaseHolder::applying_commands`](crate::lease::LeaseHolder::applying_commands)),
    /// and a takeover that finds it waits for the lease instead of refusing the run as driven.
    /// The runs it drives are this engine's.
    fn applying_commands(&self) -> Engine {
        let inner = &self.inner;
        Engine {
            inner: Arc::new(Shared {
                holder: inner.holder.applying_commands(),
                ..Shared::clone(inner)
            }),
            driving: Arc::clone(&self.driving),
        }
    }

    /// How the run of `report` stands once this engine's driver has left it and given its
    /// lease back. A driver that paused the run reads no command after the commit that
    /// paused it, and a cancel sent between that commit and the lease's release found the
    /// lease held and was left to it: that cancel is applied now, as to a run no engine
    /// drives, and the run ends `cancelled`.
    pub(crate) async fn settle_left(&self, report: RunReport) -> Result<RunReport> {
        if report.state != RunState::Paused {
            return Ok(report);
        }
        let store = &self.inner.store;
        let pending = store.pending_commands(report.id).await?;
        if !(pending.iter()).any(|sent| matches!(sent.command, Command::Cancel(_))) {
            return Ok(report);
        }
        let record = store.find_run(&report.id.to_string()).await?;
        let judge = self.restore_guard(&record)?;
        // The cancel ends the run: nothing is left to read again afterwards.
        let settled = self
            .settle_once(report.id, judge, &mut HashSet::new(), None)
            .await?;
        Ok(settled.unwrap_or(report))
    }

    /// Ends the run `run_id`, which the commands just applied left running with nothing
    /// left to run: every step has ended (a denial failed one, and skipped the steps that
    /// needed it), so a pause had nothing to hold. Taken over as `cairn recover` takes a run
    /// over, it ends as its steps say (`failed`, with the denial as its error), starting
    /// nothing. A run with a step not ended (another process un-paused it meanwhile) is left
    /// as it is.
    async fn finish_ended(&self, run_id: Uuid) -> Result<()> {
        let steps = self.inner.store.steps_without_outputs(run_id).await?;
        if !steps.iter().all(|step| step.state.is_terminal()) {
            return Ok(());
        }
        match self.take_over(&run_id.to_string(), None).await {
            Ok(handle) => handle.wait().await.map(drop),
            // Another process took it over, or ended it, meanwhile.
            Err(Error::LeaseHeld { .. } | Error::Finished(_) | Error::AlreadyDriving(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
