//! What stops an attempt early: its cancellation token or its deadline.

use std::future::pending;

use cairn_engine::{ErrorClass, ExecContext, Outcome};
use tokio::time::sleep_until;

/// Why an attempt was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// `ctx.cancel` was cancelled.
    Cancelled,
    /// `ctx.deadline` passed.
    Timeout,
}

impl Interrupt {
    /// Resolves when the attempt is cancelled or its deadline passes; never without either.
    /// Cancellation wins when both have happened.
    pub(crate) async fn wait(ctx: &ExecContext) -> Interrupt {
        let deadline = async {
            match ctx.deadline {
                Some(deadline) => sleep_until(deadline).await,
                None => pending().await,
            }
        };
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => Interrupt::Cancelled,
            () = deadline => Interrupt::Timeout,
        }
    }

    /// The error class of an attempt stopped this way.
    pub(crate) fn class(self) -> ErrorClass {
        match self {
            Interrupt::Cancelled => ErrorClass::Cancelled,
            Interrupt::Timeout => ErrorClass::Timeout,
        }
    }

    /// A failed outcome for an attempt stopped this way; `what` names what was stopped.
    pub(crate) fn outcome(self, what: &str) -> Outcome {
        let message = match self {
            Interrupt::Cancelled => format!("{what} was cancelled"),
            Interrupt::Timeout => format!("{what} timed out"),
        };
        Outcome::failure(self.class(), message)
    }
}
