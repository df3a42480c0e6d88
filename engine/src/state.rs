//! The run and step state machines: the states, and the one table of legal transitions.
//!
//! Every state change the engine makes goes through [`RunState::check`] or
//! [`StepState::check`]; anything not in the table is a bug and comes back as an error.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A transition that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} transition {from} -> {to}")]
pub struct IllegalTransition {
    /// `run` or `step`.
    pub machine: &'static str,
    /// The state left.
    pub from: String,
    /// The state entered.
    pub to: String,
}

/// A state name that is not one of the machine's states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?}")]
pub struct UnknownState(pub String);

macro_rules! states {
    ($(#[$meta:meta])* $name:ident, $machine:literal, { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The state's name as stored and printed.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Checks that `self -> to` is a legal transition.
            pub fn check(self, to: $name) -> Result<(), IllegalTransition> {
                if self.can_become(to) {
                    Ok(())
                } else {
                    Err(IllegalTransition { machine: $machine, from: self.to_string(), to: to.to_string() })
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, UnknownState> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownState(text.to_owned())),
                }
            }
        }
    };
}

states!(
    /// The state of a run.
    RunState, "run", {
        /// Created, not started.
        Pending = "pending",
        /// Being driven (or interrupted while driven: see the lease).
        Running = "running",
        /// Stopped by a pause command or a stall; resumes on `cairn resume`.
        Paused = "paused",
        /// Every step ended and none failed.
        Succeeded = "succeeded",
        /// A step failed or was denied.
        Failed = "failed",
        /// Cancelled by a command or a stall.
        Cancelled = "cancelled",
    }
);

states!(
    /// The state of a step of a run.
    StepState, "step", {
        /// Waiting for its `needs`.
        Pending = "pending",
        /// Its `needs` succeeded; waiting for a slot, a guard verdict or an approval.
        Ready = "ready",
        /// Waiting for a human's approval.
        AwaitingApproval = "awaiting_approval",
        /// An attempt is running.
        Running = "running",
        /// An attempt failed; waiting until the stored wake-up time to try again.
        RetryWait = "retry_wait",
        /// Finished with an output.
        Succeeded = "succeeded",
        /// Failed for good.
        Failed = "failed",
        /// Not run: its `when` was false or a step it needs did not succeed.
        Skipped = "skipped",
        /// Stopped by a cancel.
        Cancelled = "cancelled",
        /// Refused by a guard or a human.
        Denied = "denied",
    }
);

impl RunState {
    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }

    fn can_become(self, to: RunState) -> bool {
        use RunState::*;
        matches!(
            (self, to),
            (Pending, Running | Cancelled)
                | (Running, Paused | Succeeded | Failed | Cancelled)
                | (Paused, Running | Cancelled)
        )
    }
}

impl StepState {
    /// Whether the step has ended (for good, in this run).
    pub fn is_terminal(self) -> bool {
        use StepState::*;
        matches!(self, Succeeded | Failed | Skipped | Cancelled | Denied)
    }

    fn can_become(self, to: StepState) -> bool {
        use StepState::*;
        matches!(
            (self, to),
            (Pending, Ready | Skipped | Cancelled)
                | (Ready, Running | AwaitingApproval | Denied | Skipped | Cancelled)
                | (AwaitingApproval, Ready | Denied | Cancelled)
                // `Running -> Ready` records an interrupted attempt (crash or shutdown).
                | (Running, Succeeded | Failed | RetryWait | Cancelled | Ready)
                | (RetryWait, Ready | Cancelled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legal step transitions, written out once more by hand: the exhaustive test below
    /// fails if the table and this list ever disagree.
    const LEGAL_STEP: &[(&str, &str)] = &[
        ("pending", "ready"),
        ("pending", "skipped"),
        ("pending", "cancelled"),
        ("ready", "running"),
        ("ready", "awaiting_approval"),
        ("ready", "denied"),
        ("ready", "skipped"),
        ("ready", "cancelled"),
        ("awaiting_approval", "ready"),
        ("awaiting_approval", "denied"),
        ("awaiting_approval", "cancelled"),
        ("running", "succeeded"),
        ("running", "failed"),
        ("running", "retry_wait"),
        ("running", "cancelled"),
        ("running", "ready"),
        ("retry_wait", "ready"),
        ("retry_wait", "cancelled"),
    ];

    const LEGAL_RUN: &[(&str, &str)] = &[
        ("pending", "running"),
        ("pending", "cancelled"),
        ("running", "paused"),
        ("running", "succeeded"),
        ("running", "failed"),
        ("running", "cancelled"),
        ("paused", "running"),
        ("paused", "cancelled"),
    ];

    #[test]
    fn step_table_is_exactly_the_legal_list() {
        for &from in StepState::ALL {
            for &to in StepState::ALL {
                let legal = LEGAL_STEP.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.check(to).is_ok(), legal, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn run_table_is_exactly_the_legal_list() {
        for &from in RunState::ALL {
            for &to in RunState::ALL {
                let legal = LEGAL_RUN.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.check(to).is_ok(), legal, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for &from in StepState::ALL.iter().filter(|s| s.is_terminal()) {
            assert!(
                StepState::ALL.iter().all(|&to| from.check(to).is_err()),
                "{from}"
            );
        }
        for &from in RunState::ALL.iter().filter(|s| s.is_terminal()) {
            assert!(
                RunState::ALL.iter().all(|&to| from.check(to).is_err()),
                "{from}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for &state in StepState::ALL {
            assert_eq!(state.as_str().parse::<StepState>(), Ok(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for &state in RunState::ALL {
            assert_eq!(state.as_str().parse::<RunState>(), Ok(state));
        }
        assert!("bogus".parse::<StepState>().is_err());
    }

    #[test]
    fn illegal_transition_names_both_states() {
        let error = StepState::Succeeded.check(StepState::Running).unwrap_err();
        assert_eq!(
            error.to_string(),
            "illegal step transition succeeded -> running"
        );
    }
}
