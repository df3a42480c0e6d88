//! The run and step state machines: the states, the one table of legal transitions, and
//! the [`Transition`]s a [`Batch`] carries to the store.
//!
//! Every state change goes through [`RunState::check`] or [`StepState::check`], and a
//! transition enters a batch only through [`Batch::push`], which checks it against the table
//! and against the transitions already in the batch: no public path can commit an illegal
//! transition.

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::approval::Approval;
use crate::command::Command;
use crate::executor::{ErrorClass, Usage};
use crate::expr::SharedJson;
use crate::item::ItemRecord;
use crate::plan::{Addition, Supersession};

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
                // `Paused -> Failed`: the run's deadline passed while it was paused.
                | (Paused, Running | Failed | Cancelled)
                // Only a redrive (`cairn retry`) drives an ended run again.
                | (Failed | Cancelled, Running)
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
                // `Ready -> Ready` records why a ready step waits: the guard holds it until
                // an attempt in flight ends (`{"held_for": "guard", "waits": …}`).
                | (Ready, Ready)
                | (AwaitingApproval, Ready | Denied | Cancelled)
                // `Running -> Ready` records an interrupted attempt (crash or shutdown).
                | (Running, Succeeded | Failed | RetryWait | Cancelled | Ready)
                | (RetryWait, Ready | Cancelled)
                // Only a redrive (`cairn retry`) runs an ended step again (a succeeded one
                // only with `--from`).
                | (Succeeded | Failed | Skipped | Cancelled | Denied, Pending)
        )
    }
}

/// A run transition, with what it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTransition {
    /// The run.
    pub run_id: Uuid,
    /// The state it leaves (the store checks it against the stored one).
    pub from: RunState,
    /// The state it enters.
    pub to: RunState,
    /// The run's output (when it succeeds).
    pub output: Option<Value>,
    /// Why it failed or stopped.
    pub error: Option<String>,
    /// The class of `error`.
    pub error_class: Option<ErrorClass>,
    /// Anything else worth keeping in the event (who paused it, a stall, a redrive, ...).
    pub detail: Option<Value>,
    /// The run's deadline from now on, when this transition sets one (a start, a redrive).
    pub deadline: Option<DateTime<Utc>>,
}

/// A step transition, with what it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTransition {
    /// The run.
    pub run_id: Uuid,
    /// The step's id.
    pub step_id: String,
    /// The step's position in the run's plan, if known: a hint a store may find the step's
    /// row by, checked against `step_id` (the SQLite store guesses the row's rowid from it).
    pub position: Option<usize>,
    /// The state it leaves (the store checks it against the stored one).
    pub from: StepState,
    /// The state it enters.
    pub to: StepState,
    /// The attempt number after the transition.
    pub attempt: u32,
    /// How many of those attempts were cut off before they ended (see
    /// [`StepRecord::interrupted`](crate::store::StepRecord::interrupted)).
    pub interrupted: u32,
    /// Which fallback the step is on (0: its own `with`).
    pub fallback: u32,
    /// The step's output (with `succeeded`), shared with the run that made it: the store
    /// writes its [text](SharedJson::text), which a planner's plan is kept as already.
    pub output: Option<Arc<SharedJson>>,
    /// The error of the attempt that failed.
    pub error: Option<String>,
    /// When a `retry_wait` step wakes up.
    pub wake_at: Option<DateTime<Utc>>,
    /// Usage of the step so far (stored when given).
    pub usage: Option<Usage>,
    /// Anything else worth keeping in the event (interruption, stderr tail, ...).
    pub detail: Option<Value>,
}

impl RunTransition {
    /// A transition of run `run_id` that carries nothing else yet.
    pub fn new(run_id: Uuid, from: RunState, to: RunState) -> Self {
        RunTransition {
            run_id,
            from,
            to,
            output: None,
            error: None,
            error_class: None,
            detail: None,
            deadline: None,
        }
    }
}

impl StepTransition {
    /// A transition of step `step_id` of run `run_id` that carries nothing else yet.
    pub fn new(run_id: Uuid, step_id: impl Into<String>, from: StepState, to: StepState) -> Self {
        StepTransition {
            run_id,
            step_id: step_id.into(),
            position: None,
            from,
            to,
            attempt: 0,
            interrupted: 0,
            fallback: 0,
            output: None,
            error: None,
            wake_at: None,
            usage: None,
            detail: None,
        }
    }
}

/// One state transition of a run or of one of its steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A run transition.
    Run(RunTransition),
    /// A step transition.
    Step(StepTransition),
}

impl Transition {
    /// The step transition, if it is one.
    fn step(&self) -> Option<&StepTransition> {
        match self {
            Transition::Step(change) => Some(change),
            Transition::Run(_) => None,
        }
    }

    /// Whether it is a transition of step `step_id` of run `run_id`.
    fn is_of(&self, run_id: Uuid, step_id: &str) -> bool {
        self.step()
            .is_some_and(|step| step.run_id == run_id && step.step_id == step_id)
    }

    /// The run the transition belongs to.
    pub fn run_id(&self) -> Uuid {
        match self {
            Transition::Run(change) => change.run_id,
            Transition::Step(change) => change.run_id,
        }
    }
}

/// Transitions to commit together, in order, each checked as it is added.
///
/// ```
/// use cairn_engine::StepState;
/// use cairn_engine::store::{Batch, StepTransition, Transition};
///
/// let run = uuid::Uuid::now_v7();
/// let mut batch = Batch::new();
/// let step = |from, to| Transition::Step(StepTransition::new(run, "a", from, to));
/// batch.push(step(StepState::Pending, StepState::Ready)).unwrap();
/// batch.push(step(StepState::Ready, StepState::Running)).unwrap();
/// // Not in the table:
/// assert!(batch.push(step(StepState::Running, StepState::Pending)).is_err());
/// // Not where the batch left the step:
/// assert!(batch.push(step(StepState::Ready, StepState::Running)).is_err());
/// assert_eq!(batch.len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Batch {
    transitions: Vec<Transition>,
    /// Each step's last transition in the batch (its position in `transitions`), by run
    /// and step id: where the batch has left the step. The ids are read from the
    /// transitions, not copied (a cascade of skips is one batch of a million steps).
    steps: HashTable<usize>,
    hasher: DefaultHashBuilder,
    /// Where the batch has left each run.
    runs: HashMap<Uuid, RunState>,
    /// Approval requests made or decided by these transitions (upserted by run, step, item).
    approvals: Vec<Approval>,
    /// Steps whose approval requests are withdrawn (run, step), before `approvals` are
    /// written.
    withdrawn: Vec<(Uuid, String)>,
    /// Commands these transitions carry out (run, command id), marked handled in the same
    /// commit.
    handled: Vec<(Uuid, i64)>,
    /// Commands the engine gives a run itself (a stall's pause or cancel), recorded so that
    /// an engine taking the run over after a crash carries them out.
    sent: Vec<(Uuid, Command)>,
    /// The last progress of running steps (run, step, when).
    progress: Vec<(Uuid, String, DateTime<Utc>)>,
    /// The usage of running `for_each` steps whose items spent since their last transition
    /// in the batch (run, step, the step's usage so far), written after the transitions.
    usage: Vec<(Uuid, String, Usage)>,
    /// Stalls of running steps whose escalation ends only their attempt (run, step,
    /// `{"stall", "escalation"}`).
    stalls: Vec<(Uuid, String, Value)>,
    /// Nodes planners added, recorded with their planners' success.
    plans: Vec<Addition>,
    /// Plans a redrive takes out of their runs, with their steps.
    supersessions: Vec<Supersession>,
    /// `for_each` items that ended (or were sent back to pending).
    items: Vec<ItemRecord>,
    /// Redrives from a step under way, by run: the step each runs again from.
    redrives: Vec<(Uuid, String)>,
    /// New caps on one step's output, by run.
    max_outputs: Vec<(Uuid, usize)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Adds `transition` if it is in the table and leaves the state an earlier transition
    /// of the batch entered; otherwise leaves the batch as it was.
    pub fn push(&mut self, transition: Transition) -> Result<(), IllegalTransition> {
        match &transition {
            Transition::Run(change) => {
                let left = self.runs.get(&change.run_id).copied();
                Self::continues(left, change.from, "run")?;
                change.from.check(change.to)?;
                self.runs.insert(change.run_id, change.to);
            }
            Transition::Step(change) => {
                let (transitions, hasher) = (&self.transitions, &self.hasher);
                let (run_id, step_id) = (change.run_id, &*change.step_id);
                let hash = Self::step_hash(hasher, run_id, step_id);
                let last =
                    (self.steps).find_mut(hash, |&at| transitions[at].is_of(run_id, step_id));
                let left = (last.as_deref())
                    .and_then(|&at| transitions[at].step())
                    .map(|earlier| earlier.to);
                Self::continues(left, change.from, "step")?;
                change.from.check(change.to)?;
                // The transition carries the step's usage, newer than any recorded before.
                if !self.usage.is_empty() {
                    (self.usage).retain(|(run, step, _)| *run != run_id || step != step_id);
                }
                let at = self.transitions.len();
                match last {
                    Some(last) => *last = at,
                    None => {
                        // Only step transitions are indexed.
                        let rehash = |&at: &usize| {
                            (transitions[at].step()).map_or(0, |step| {
                                Self::step_hash(hasher, step.run_id, &step.step_id)
                            })
                        };
                        self.steps.insert_unique(hash, at, rehash);
                    }
                }
            }
        }
        self.transitions.push(transition);
        Ok(())
    }

    /// The last transition of step `step_id` of run `run_id` in the batch, if it has one.
    pub(crate) fn last_of_step(
        &mut self,
        run_id: Uuid,
        step_id: &str,
    ) -> Option<&mut StepTransition> {
        let transitions = &self.transitions;
        let hash = Self::step_hash(&self.hasher, run_id, step_id);
        let at = *self
            .steps
            .find(hash, |&at| transitions[at].is_of(run_id, step_id))?;
        match &mut self.transitions[at] {
            Transition::Step(step) => Some(step),
            Transition::Run(_) => None,
        }
    }

    /// The hash `steps` files step `step_id` of run `run_id` under.
    fn step_hash(hasher: &DefaultHashBuilder, run_id: Uuid, step_id: &str) -> u64 {
        hasher.hash_one((run_id, step_id))
    }

    fn continues<S: fmt::Display + PartialEq>(
        left: Option<S>,
        from: S,
        machine: &'static str,
    ) -> Result<(), IllegalTransition> {
        match left {
            Some(left) if left != from => Err(IllegalTransition {
                machine,
                from: from.to_string(),
                to: format!("(the batch left it {left})"),
            }),
            _ => Ok(()),
        }
    }

    /// Records an approval request, or its decision, with the transitions.
    pub fn record_approval(&mut self, approval: Approval) {
        self.approvals.push(approval);
    }

    /// Records that every approval request of `step` of `run` is withdrawn: a redrive sent
    /// the step back, and what its last drive asked is neither waiting nor decidable. The
    /// store deletes them in the same commit, before it writes the batch's own requests.
    pub fn withdraw_approvals(&mut self, run: Uuid, step: &str) {
        self.withdrawn.push((run, step.to_owned()));
    }

    /// The steps whose approval requests are withdrawn, with their runs, in order.
    pub fn withdrawn_approvals(&self) -> &[(Uuid, String)] {
        &self.withdrawn
    }

    /// Records that the running attempt of `step` of `run` showed a sign of life `at`.
    pub fn record_progress(&mut self, run: Uuid, step: &str, at: DateTime<Utc>) {
        self.progress.push((run, step.to_owned(), at));
    }

    /// The progress recorded, in order.
    pub fn progress(&self) -> &[(Uuid, String, DateTime<Utc>)] {
        &self.progress
    }

    /// Records the usage so far of `step` of `run`, a running `for_each` step one of whose
    /// items spent: committed with the item, so that a crash before the step's own next
    /// transition loses none of it (the item does not run again). A transition of the step
    /// pushed later carries newer usage and replaces it.
    pub fn record_usage(&mut self, run: Uuid, step: &str, usage: Usage) {
        self.usage.retain(|(r, s, _)| *r != run || s != step);
        self.usage.push((run, step.to_owned(), usage));
    }

    /// The usage recorded, by run and step, to write after the transitions.
    pub fn usage(&self) -> &[(Uuid, String, Usage)] {
        &self.usage
    }

    /// Records that the running attempt of `step` of `run` stalled, with `stall`
    /// (`{"stall": {"kind", "evidence"}, "escalation", "attempt"}`): kept with the step, so
    /// that an engine taking the run over after a crash in that attempt's kill grace
    /// escalates it as this one would have ([`Store::stalls`]); a later attempt's takeover
    /// ignores it. A pause or a cancel
    /// is recorded as the run's command instead ([`Batch::send`]).
    ///
    /// [`Store::stalls`]: crate::store::Store::stalls
    pub fn record_stall(&mut self, run: Uuid, step: &str, stall: Value) {
        self.stalls.push((run, step.to_owned(), stall));
    }

    /// The stalls recorded, in order.
    pub fn stalls(&self) -> &[(Uuid, String, Value)] {
        &self.stalls
    }

    /// Records the nodes a planner added, with the transitions (its success among them).
    pub fn record_plan(&mut self, addition: Addition) {
        self.plans.push(addition);
    }

    /// Records that a redrive takes a plan out of its run: its steps (their rows, items and
    /// approval requests, not their events) leave the run in the same commit.
    pub fn record_supersession(&mut self, supersession: Supersession) {
        self.supersessions.push(supersession);
    }

    /// Records how a `for_each` item ended, to commit with the transitions.
    pub fn record_item(&mut self, item: ItemRecord) {
        self.items.push(item);
    }

    /// Records `command` for run `run` in the same commit, as if another process had sent it:
    /// until a commit carries it out ([`Command::carried_out_by`]), an engine taking the run
    /// over applies it.
    pub fn send(&mut self, run: Uuid, command: Command) {
        self.sent.push((run, command));
    }

    /// The commands the engine gives its runs, in order.
    pub fn sent(&self) -> &[(Uuid, Command)] {
        &self.sent
    }

    /// Records that run `run` is being redriven from step `from` (`cairn retry --from`): the
    /// store keeps it until the run moves out of `failed` or `cancelled` with the redrive's
    /// last commit, so that a retry after a crash between its commits carries it on
    /// ([`Store::redrive_from`](crate::store::Store::redrive_from)).
    pub fn record_redrive(&mut self, run: Uuid, from: &str) {
        self.redrives.push((run, from.to_owned()));
    }

    /// The redrives recorded, with their runs, in order.
    pub fn redrives(&self) -> &[(Uuid, String)] {
        &self.redrives
    }

    /// Records that run `run` is driven with a cap of `bytes` on one step's output from now
    /// on, in place of the one it started with ([`RunRecord::max_output_bytes`]).
    ///
    /// [`RunRecord::max_output_bytes`]: crate::store::RunRecord::max_output_bytes
    pub fn record_max_output(&mut self, run: Uuid, bytes: usize) {
        self.max_outputs.push((run, bytes));
    }

    /// The caps recorded, with their runs, in order.
    pub fn max_outputs(&self) -> &[(Uuid, usize)] {
        &self.max_outputs
    }

    /// Marks command `id` of run `run` handled in the same commit as the transitions.
    pub fn mark_handled(&mut self, run: Uuid, id: i64) {
        self.handled.push((run, id));
    }

    /// The transitions, in the order they were added.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// Takes the transitions out, in order, leaving the rest of the batch: a store moves
    /// them into its rows and events instead of copying their details. Afterwards
    /// [`run_ids`](Self::run_ids) and [`len`](Self::len) no longer count them.
    pub(crate) fn take_transitions(&mut self) -> Vec<Transition> {
        self.steps.clear();
        self.runs.clear();
        std::mem::take(&mut self.transitions)
    }

    /// The approval requests made or decided, in order.
    pub fn approvals(&self) -> &[Approval] {
        &self.approvals
    }

    /// The nodes planners added, in order.
    pub fn plans(&self) -> &[Addition] {
        &self.plans
    }

    /// The plans taken out of their runs, in order.
    pub fn supersessions(&self) -> &[Supersession] {
        &self.supersessions
    }

    /// The items recorded, in order.
    pub fn items(&self) -> &[ItemRecord] {
        &self.items
    }

    /// The commands handled, with their runs.
    pub fn handled(&self) -> &[(Uuid, i64)] {
        &self.handled
    }

    /// Every run the batch writes to, once each, sorted: the runs whose lease the committer
    /// must hold (transitions, approvals and their withdrawals, commands, progress, usage, stalls,
    /// plans, supersessions, items, redrives and caps alike).
    pub fn run_ids(&self) -> Vec<Uuid> {
        let mut runs: Vec<Uuid> = (self.transitions.iter().map(Transition::run_id))
            .chain(self.approvals.iter().map(|approval| approval.run_id))
            .chain(self.withdrawn.iter().map(|(run, _)| *run))
            .chain(self.handled.iter().map(|(run, _)| *run))
            .chain(self.sent.iter().map(|(run, _)| *run))
            .chain(self.progress.iter().map(|(run, _, _)| *run))
            .chain(self.usage.iter().map(|(run, _, _)| *run))
            .chain(self.stalls.iter().map(|(run, _, _)| *run))
            .chain(self.plans.iter().map(|plan| plan.run_id))
            .chain(self.supersessions.iter().map(|gone| gone.run_id))
            .chain(self.items.iter().map(|item| item.run_id))
            .chain(self.redrives.iter().map(|(run, _)| *run))
            .chain(self.max_outputs.iter().map(|(run, _)| *run))
            .collect();
        runs.sort_unstable();
        runs.dedup();
        runs
    }

    /// How many transitions the batch holds.
    pub fn len(&self) -> usize {
        self.transitions.len()
    }

    /// Whether the batch holds nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.progress.is_empty() && !self.moves()
    }

    /// Whether the batch holds more than signs of life ([`Batch::record_progress`]), which
    /// count as the run's progress at their own times, not at the turn that records them.
    pub(crate) fn moves(&self) -> bool {
        !(self.transitions.is_empty()
            && self.approvals.is_empty()
            && self.withdrawn.is_empty()
            && self.handled.is_empty()
            && self.sent.is_empty()
            && self.usage.is_empty()
            && self.stalls.is_empty()
            && self.plans.is_empty()
            && self.supersessions.is_empty()
            && self.items.is_empty()
            && self.redrives.is_empty()
            && self.max_outputs.is_empty())
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.transitions.clear();
        self.steps.clear();
        self.runs.clear();
        self.approvals.clear();
        self.withdrawn.clear();
        self.handled.clear();
        self.sent.clear();
        self.progress.clear();
        self.usage.clear();
        self.stalls.clear();
        self.plans.clear();
        self.supersessions.clear();
        self.items.clear();
        self.redrives.clear();
        self.max_outputs.clear();
    }
}

#[cfg(test)]
mod tests;
