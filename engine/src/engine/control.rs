//! What an operator asks of a run from any process: commands recorded in the store, which
//! the engine driving the run acts on within a second (or the next engine to resume it, before
//! it dispatches anything).

use uuid::Uuid;

use super::Engine;
use crate::approval::Approval;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::report::RunReport;
use crate::state::StepState;

impl Engine {
    /// Sends `command` to the run `run_id` (or a unique prefix of it) and returns the run's
    /// id. An approval or denial must name a step of the run that awaits approval (and, with
    /// an item, an item whose request waits); otherwise [`Error::Refused`] and nothing is
    /// recorded. A finished run refuses every command ([`Error::Finished`]).
    pub async fn send(&self, run_id: &str, command: Command) -> Result<Uuid> {
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        if record.state.is_terminal() {
            return Err(Error::Finished(Box::new(RunReport::from(&record))));
        }
        let refused = |message: String| Error::Refused {
            run: record.id,
            message,
        };
        match &command {
            Command::Approve(ruling) | Command::Deny(ruling) => {
                let steps = store.steps(record.id).await?;
                let Some(step) = steps.iter().find(|step| step.id == ruling.step) else {
                    let known: Vec<&str> = steps.iter().map(|step| step.id.as_str()).collect();
                    return Err(refused(format!(
                        "no step `{}` (the run's steps: {})",
                        ruling.step,
                        known.join(", ")
                    )));
                };
                if step.state != StepState::AwaitingApproval {
                    return Err(refused(format!(
                        "step `{}` does not await approval (it is {})",
                        step.id, step.state
                    )));
                }
                if let Some(item) = ruling.item {
                    let approvals = store.approvals(record.id).await?;
                    let waits = approvals.iter().any(|approval| {
                        approval.step_id == step.id
                            && approval.item == Some(item)
                            && approval.decision.is_none()
                    });
                    if !waits {
                        return Err(refused(format!(
                            "item {item} of step `{}` does not await approval",
                            step.id
                        )));
                    }
                }
            }
        }
        store.send_command(record.id, &command).await?;
        Ok(record.id)
    }

    /// The approval requests that wait for a decision, in every run, oldest first.
    pub async fn approvals(&self) -> Result<Vec<Approval>> {
        self.inner.store.waiting_approvals().await
    }
}
