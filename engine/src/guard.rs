//! The policy guard: a judge of every action before it runs.
//!
//! The engine asks its [`Guard`] for a [`Verdict`] on every attempt (first attempts,
//! retries, resumed attempts, fallbacks, each `for_each` item) and commits the verdict with
//! the transition it causes. Implementations live in other crates (`cairn-guards` reads a
//! policy file); an embedder may bring its own.
//!
//! ```
//! use cairn_engine::{Action, Guard, Facts, Verdict};
//!
//! /// Denies every action of the `process` executor.
//! #[derive(Debug)]
//! struct NoProcesses;
//!
//! impl Guard for NoProcesses {
//!     fn judge(&self, action: &Action, _facts: &Facts<'_>) -> Verdict {
//!         if action.executor == "process" {
//!             Verdict::deny("no-process", "processes are not allowed here")
//!         } else {
//!             Verdict::allow()
//!         }
//!     }
//! }
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::executor::{Action, Usage};
use crate::expr::SharedJson;

/// Judges actions before they run. Called on the scheduler's decision path, once per action,
/// in order: keep it fast and free of I/O (a guard that asks a server should cache).
pub trait Guard: Send + Sync + fmt::Debug {
    /// The verdict on `action`, given how its run stands before it. A guard that panics
    /// denies the action (rule `guard`, the panic's message as the reason): what it cannot
    /// judge does not run, and the run goes on.
    fn judge(&self, action: &Action, facts: &Facts<'_>) -> Verdict;

    /// Per-executor rate limits: the engine holds an attempt back (it waits `ready`) until
    /// its executor's window has room. Counted per run, from the committed history.
    fn rate_limits(&self) -> Vec<RateLimit> {
        Vec::new()
    }

    /// Whether the guard judges by what ended attempts spent (a cost or a token budget): a
    /// `for_each` step's items are then judged a window (`max_parallel`) at a time, each
    /// window as it starts, so that each sees what the items before it spent. Else every
    /// item is judged with the step, before any starts. `false` unless overridden.
    fn counts_spending(&self) -> bool {
        false
    }

    /// The text stored with each run this guard judges (e.g. the policy), so that resuming
    /// the run judges with the same rules; `None` when there is nothing to store. A run
    /// stored without one is judged on resume by the resuming engine's own guard: only a
    /// program with this guard can drive it, and an engine that [only
    /// restores](Guard::only_restores) (`cairn resume`, `recover`, `retry`) refuses it.
    fn snapshot(&self) -> Option<String> {
        None
    }

    /// Whether this guard judges no run of its own and only [restores](Guard::restore) the
    /// guards runs stored: a run whose guard stored no snapshot is then refused, left as it
    /// was, rather than judged by this one. `false` unless overridden.
    fn only_restores(&self) -> bool {
        false
    }

    /// Rebuilds the guard a run started with from its stored [`snapshot`](Guard::snapshot).
    fn restore(&self, snapshot: &str) -> Result<Arc<dyn Guard>, GuardError> {
        let _ = snapshot;
        Err(GuardError(format!(
            "{self:?} cannot restore a stored guard snapshot"
        )))
    }
}

/// A guard could not be built (a bad policy, a snapshot it cannot read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GuardError(pub String);

/// What a guard sees besides the action: its `for_each` item, and how its run stands.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The `for_each` item of the action (`None` for a step without `for_each`).
    pub item: Option<&'a Value>,
    /// The run.
    pub id: Uuid,
    /// The workflow's name.
    pub workflow: &'a str,
    /// The run's input (a rule reads it through [`Variable::Shared`](crate::Variable), and
    /// its CEL form is kept for the next action), shared: a guard may hand it to a thread of
    /// its own.
    pub input: &'a Arc<SharedJson>,
    /// Attempts started in the run so far (each run of a `for_each` item is one), those of
    /// steps a redrive took out of the run included.
    pub attempts: u64,
    /// Steps that have started at least one attempt.
    pub steps: u64,
    /// Whether the action's step has started an attempt before, and so counts among
    /// [`steps`](Facts::steps) already: a retry, an attempt after an interruption or a
    /// redrive, the items of a `for_each` step's window after its first.
    pub started: bool,
    /// Tokens and cost of the attempts that have ended.
    pub usage: &'a Usage,
    /// What the attempts in flight hold of the run's spending budgets
    /// ([`Verdict::reserves`]), those judged before this action in the same window
    /// included: a guard that lets an action spend only what no other attempt holds keeps
    /// attempts side by side from spending past a budget together.
    pub reserved: &'a Usage,
    /// Time since the run was created.
    pub elapsed: std::time::Duration,
    /// The run's directory: where a step without `with.cwd` runs, and what a relative
    /// `with.cwd` is taken from (approvals are bound to it too). The directory of the engine
    /// that started the run, read once when it opened and stored with the run
    /// ([`RunRecord::cwd`](crate::store::RunRecord::cwd)): a guard judges with this one, never with
    /// the process's directory as it is when it judges. `None` when the engine could not
    /// read it (its directory was removed): a guard that needs it fails closed.
    pub cwd: Option<&'a Path>,
}

/// A guard's decision. Verdicts combine by severity: any deny wins, then approve, then allow.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The action runs.
    Allow,
    /// A person must approve the action before it runs.
    Approve,
    /// The action does not run; the step ends `denied`.
    Deny,
}

impl Decision {
    /// The decision's name: `allow`, `approve` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A guard's decision on one action, with the rules that made it and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// The ids of the rules that decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Why, one reason per rule (or one for the default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Audit mode: the decision is recorded, and the action runs whatever it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub audit: bool,
    /// How long an approval may wait before it is denied (`approve` only; default 24h).
    #[serde(skip)]
    pub approval_timeout: Option<std::time::Duration>,
    /// The parameters the action runs with instead of its rendered `with` (e.g. a working
    /// directory made canonical, a remaining budget passed down).
    #[serde(skip)]
    pub params: Option<Value>,
    /// What of the run's spending budgets the action holds while it runs (the cap it is
    /// given, or all that is left when nothing caps it): the engine adds it to
    /// [`Facts::reserved`] of the actions judged after it, until its attempt ends.
    #[serde(skip)]
    pub reserves: Option<Usage>,
    /// A deny that attempts in flight may lift as they end ([`Verdict::held`]).
    #[serde(skip)]
    pub held: bool,
}

impl Verdict {
    /// An allow with no rule behind it.
    pub fn allow() -> Verdict {
        Verdict::new(Decision::Allow)
    }

    /// A deny by rule `rule`, because of `reason`.
    pub fn deny(rule: impl Into<String>, reason: impl Into<String>) -> Verdict {
        Verdict::new(Decision::Deny).because(rule, reason)
    }

    /// An approval request by rule `rule`, because of `reason`.
    pub fn approve(rule: impl Into<String>, reason: impl Into<String>) -> Verdict {
        Verdict::new(Decision::Approve).because(rule, reason)
    }

    /// Not now, by rule `rule`, because of `reason`: what attempts in flight hold of a budget
    /// ([`Facts::reserved`]) leaves the action too little, and may come back as they end.
    /// The engine keeps its step `ready` until one ends and judges it again; with nothing
    /// reserved, nothing would come back, so it is the deny it reads as.
    pub fn held(rule: impl Into<String>, reason: impl Into<String>) -> Verdict {
        Verdict {
            held: true,
            ..Verdict::deny(rule, reason)
        }
    }

    /// A verdict with `decision` and no rule yet.
    pub fn new(decision: Decision) -> Verdict {
        Verdict {
            decision,
            rules: Vec::new(),
            reasons: Vec::new(),
            audit: false,
            approval_timeout: None,
            params: None,
            reserves: None,
            held: false,
        }
    }

    /// Adds a deciding rule and its reason.
    pub fn because(mut self, rule: impl Into<String>, reason: impl Into<String>) -> Verdict {
        self.rules.push(rule.into());
        self.reasons.push(reason.into());
        self
    }

    /// What the engine does: in audit mode every action runs.
    pub fn effective(&self) -> Decision {
        if self.audit {
            Decision::Allow
        } else {
            self.decision
        }
    }

    /// The reasons as one line, for a step's error.
    pub fn explain(&self) -> String {
        let parts: Vec<String> = (self.rules.iter().zip(&self.reasons))
            .map(|(rule, reason)| format!("{rule}: {reason}"))
            .collect();
        if parts.is_empty() {
            format!("{} by the policy's default", self.decision)
        } else {
            parts.join("; ")
        }
    }
}

/// At most `max` attempts of `executor` start in any window of `per`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// The executor's name.
    pub executor: String,
    /// Attempts per window.
    pub max: u32,
    /// The window.
    pub per: std::time::Duration,
}
