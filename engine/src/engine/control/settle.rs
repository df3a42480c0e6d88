//! Commands applied at once to a run no engine drives, by the process that sent them: it
//! takes the run's lease, commits what they decide, and gives the lease back.

use std::sync::Arc;

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lease::{self, LeaseAttempt};
use crate::scheduler::{Driver, Judge};
use crate::state::RunState;

impl Engine {
    /// Applies the commands of `run_id` at once if no engine drives it (see [`Engine::send`]),
    /// judged by `judge`.
    pub(super) async fn settle_undriven(&self, run_id: Uuid, judge: Judge) -> Result<()> {
        let Ok(claim) = self.claim(run_id) else {
            return Ok(()); // This engine drives it: its driver reads the command.
        };
        let inner = &self.inner;
        let lease = (inner.store)
            .acquire_lease(run_id, &inner.holder, inner.lease_ttl, &lease::is_void)
            .await?;
        if let LeaseAttempt::Held(_) = lease {
            return Ok(()); // The engine that holds it reads the command within a second.
        }
        let record = inner.store.find_run(&run_id.to_string()).await?;
        let settled = async {
            let run = self.takeover(record, judge, None).await?;
            let (events, _) = broadcast::channel(1);
            Driver::new(Arc::clone(inner), run, events, claim.bell())?
                .settle_commands()
                .await
        };
        let result = settled.await;
        drop(claim);
        let report = match result {
            Ok(report) => report,
            Err(error) => return Err(self.give_up(run_id, error).await),
        };
        if report.state == RunState::Running {
            self.finish_ended(run_id).await?;
        }
        Ok(())
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
