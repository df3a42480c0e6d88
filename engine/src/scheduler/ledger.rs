//! The ledger: every decision about one run, as a pure function of its committed state and
//! an input. No I/O: no store, no executors, no clock of its own (the time comes in with
//! each input).
//!
//! The shell ([`Driver`](super::Driver)) feeds it inputs — a takeover, an attempt's
//! outcome, a turn at some time, the run's deadline, an interruption — and carries out what
//! comes back: the transitions to commit (one [`Batch`]) and the attempts to start
//! ([`Start`]) once they are committed.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::approval::Approval;
use crate::command::{Command, PendingCommand, Request};
use crate::definition::OnStall;
use crate::error::Result;
use crate::executor::{ErrorClass, Executors, Outcome, Usage};
use crate::expr::SharedJson;
use crate::guard::{Guard, RateLimit};
use crate::item::ItemRecord;
use crate::plan::{Addition, Plan, Spent, StepIndex, Supersession};
use crate::report::RunReport;
use crate::stall::{Repeats, Stall};
use crate::state::{Batch, RunState, RunTransition, StepState, StepTransition, Transition};
use crate::store::StepRecord;

/// The ledger's mirror of one step's committed state.
#[derive(Debug, Clone)]
struct Slot {
    state: StepState,
    attempt: u32,
    /// How many of its attempts were cut off before they ended ([`StepRecord::interrupted`]):
    /// not counted against `retry.max_attempts`.
    interrupted: u32,
    /// 0 while the step runs its own `with`; k while it runs its k-th fallback.
    fallback: u32,
    /// Shared with the scope of every attempt that reads it: an output may be megabytes.
    /// Kept while it may be read ([`outputs`]).
    output: Option<Arc<SharedJson>>,
    /// Whether the step counts among the readers of the outputs it reads ([`outputs`]).
    reading: bool,
    /// What holds it `ready`, as recorded since it last moved ([`Ledger::waits`]).
    waiting_said: Option<Hold>,
    /// The last error, as `class: message`.
    error: Option<String>,
    wake_at: Option<DateTime<Utc>>,
    /// Usage summed over its attempts, once one reported any. This and the next two are
    /// boxed: most steps never have them, and a run keeps a slot for each of its steps.
    usage: Option<Box<Usage>>,
    /// The running attempt's last sign of life (its start, then its last progress; a
    /// `for_each` attempt's: any item's, each item having its own window besides).
    since: Option<DateTime<Utc>>,
    /// A stall of the running attempt, and its escalation, once the attempt has stopped.
    stall: Option<Box<(Stall, OnStall)>>,
    /// How the step's last attempts ended, for loop detection, once one failed.
    repeats: Option<Box<Repeats>>,
    /// A `for_each` step's items.
    items: Option<Box<items::Items>>,
}

/// What holds a ready step back, as its `ready -> ready` event says (`held_for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// An attempt in flight holds what it needs of a spending budget.
    Guard,
    /// Its executor's rate limit window is full.
    RateLimit,
}

impl Slot {
    /// A step as `record` stored it (`planner` says whether it is a planner's).
    fn restored(record: StepRecord, planner: bool) -> Slot {
        Slot {
            state: record.state,
            attempt: record.attempt,
            interrupted: record.interrupted,
            fallback: record.fallback,
            output: (record.output).map(|output| outputs::held(output, planner)),
            reading: false,
            waiting_said: None,
            error: record.error,
            wake_at: record.wake_at,
            usage: (record.usage)
                .filter(|usage| *usage != Usage::default())
                .map(Box::new),
            since: None,
            stall: None,
            repeats: None,
            items: None,
        }
    }

    /// The attempts counted against `retry.max_attempts` (and its backoff): those not cut
    /// off before they ended.
    fn counted_attempts(&self) -> u32 {
        self.attempt.saturating_sub(self.interrupted)
    }

    /// What the step's attempts count towards budgets ([`Spent::attempts_of`]).
    fn attempts_made(&self) -> u64 {
        Spent::attempts_of(self.attempt, self.items.as_deref().map(items::Items::runs))
    }

    /// A step that has not started (one a plan just added).
    fn pending() -> Slot {
        Slot {
            state: StepState::Pending,
            attempt: 0,
            interrupted: 0,
            fallback: 0,
            output: None,
            reading: false,
            waiting_said: None,
            error: None,
            wake_at: None,
            usage: None,
            since: None,
            stall: None,
            repeats: None,
            items: None,
        }
    }
}

/// Adds what an attempt `used` to a slot's `usage` (boxed only once there is some).
fn add_usage(usage: &mut Option<Box<Usage>>, used: &Usage) {
    if *used != Usage::default() {
        **usage.get_or_insert_default() += used;
    }
}

/// An attempt (or an item) that held `held` ended having spent `spent`: its step's `usage`
/// counts that instead of the charge its start made, and so does the run's `tally`.
fn count_spent(usage: &mut Option<Box<Usage>>, tally: &mut Usage, held: &Usage, spent: &Usage) {
    if let Some(charged) = usage.as_deref_mut() {
        *charged -= held;
    }
    add_usage(usage, spent);
    *tally += spent;
}

/// An attempt the ledger marked `running`: the shell starts it once that is committed.
#[derive(Debug)]
pub(crate) struct Start {
    /// The step.
    pub(crate) step: StepIndex,
    /// The executor's name.
    pub(crate) executor: String,
    /// One action, or one per item of a `for_each` step.
    pub(crate) actions: Actions,
    /// Whether the step is a `for_each` step (its output is the list of item outputs).
    pub(crate) for_each: bool,
    /// How many items run at once.
    pub(crate) item_limit: usize,
    /// The attempt's time limit.
    pub(crate) timeout: Option<std::time::Duration>,
    /// The run's cap on one step's output.
    pub(crate) max_output: usize,
}

/// A run's committed state, as a ledger takes it over.
#[derive(Debug)]
pub(crate) struct Committed {
    /// The run.
    pub(crate) run_id: Uuid,
    /// Its plan.
    pub(crate) plan: Arc<Plan>,
    /// Its input.
    pub(crate) input: Value,
    /// Its state, as stored.
    pub(crate) state: RunState,
    /// When it was created.
    pub(crate) created_at: DateTime<Utc>,
    /// When the run times out, as stored.
    pub(crate) deadline: Option<DateTime<Utc>>,
    /// The committed state of every step of the plan.
    pub(crate) steps: Vec<StepRecord>,
    /// The run's approval requests, decided or not.
    pub(crate) approvals: Vec<Approval>,
    /// The rate limits of the guard that judges the run, asked of it once
    /// ([`error::rate_limits`](crate::error::rate_limits)).
    pub(crate) rate_limits: Vec<RateLimit>,
    /// The attempt starts within the longest of those windows (step ids).
    pub(crate) recent_starts: Vec<(String, DateTime<Utc>)>,
    /// The plans the run's planners added so far (`plan` has their steps already).
    pub(crate) plans: Vec<Addition>,
    /// The plans redrives superseded: what their steps spent still counts.
    pub(crate) superseded: Vec<Supersession>,
    /// The `for_each` items committed so far.
    pub(crate) items: Vec<ItemRecord>,
    /// The stalls recorded of running steps, by step id ([`Batch::record_stall`]).
    pub(crate) stalls: Vec<(String, Value)>,
    /// The commands sent and not yet carried out, in the order they were sent: a takeover
    /// past the deadline applies those sent by then before it times the run out.
    pub(crate) commands: Vec<PendingCommand>,
    /// The executors the steps of planners' plans may name.
    pub(crate) executors: Executors,
}

/// The guard a run is judged by, the hash of its snapshot and the run's directory
/// ([`RunRecord::cwd`](crate::store::RunRecord::cwd); approvals are bound to both,
/// [`action_hash`](crate::approval::action_hash)).
#[derive(Debug, Clone)]
pub(crate) struct Judge {
    pub(crate) guard: Option<Arc<dyn Guard>>,
    pub(crate) hash: Option<String>,
    pub(crate) cwd: Option<PathBuf>,
    /// How long a turn judges a window's actions before it leaves the rest to the next turn
    /// ([`JUDGING_SLICE`]).
    pub(crate) slice: Duration,
}

/// How long a turn prepares and judges ready steps (or a window's actions) before it leaves
/// the rest to the next turn: the driver reads the commands and signals that came meanwhile
/// in between. A window of items under rules that take a while each (a `matches` the guard
/// bounds at 2 s) held the engine's thread for as long as they all took, 20-80 s in probe
/// 16, while a pause, a cancel or a SIGTERM waited; so did ready steps whose `when`s took
/// their 10 s each, with no guard at all.
pub(crate) const JUDGING_SLICE: Duration = Duration::from_millis(100);

/// Why the steps (and items) the run's deadline cut off are cancelled, whether the ledger
/// cancels them ([`Ledger::time_out`]) or the driver reads their ends past the deadline.
pub(crate) const TIMED_OUT: &str = "the run timed out";

/// Why a cancel ends the steps and the run: `cairn cancel`'s, a stall's or a loop's.
const CANCELLED: &str = "the run was cancelled";

/// The most characters of a step's error that are kept, as it is stored and as the run's
/// error quotes it: an error that quotes a value whole (a rendered string a parameter check
/// refused, a plan's unknown name) was as long as the value (probe 83 F4: 200 KB, printed
/// whole by `cairn run` and `show`). An agent's, its first and last ten, stays whole.
const KEPT_ERROR: usize = 32_768;

/// The ledger's tests' judge: no guard, and a turn's slice of [`JUDGING_SLICE`].
#[cfg(test)]
impl Default for Judge {
    fn default() -> Judge {
        Judge::new(None, None, None)
    }
}

impl Judge {
    /// The judge of a run by `guard`, whose snapshot is `snapshot`, in the run's directory
    /// `cwd`.
    pub(crate) fn new(
        guard: Option<Arc<dyn Guard>>,
        snapshot: Option<&str>,
        cwd: Option<PathBuf>,
    ) -> Judge {
        Judge {
            guard,
            hash: snapshot.map(crate::store::digest),
            cwd,
            slice: JUDGING_SLICE,
        }
    }
}

/// What the ledger is told besides the takeover.
#[derive(Debug)]
pub(crate) enum Input {
    /// An attempt ended.
    Completed {
        /// The step.
        step: StepIndex,
        /// How it went.
        outcome: Outcome,
    },
    /// The run passed its deadline; its attempts have been stopped.
    TimedOut,
    /// The engine stops driving the run; its attempts have been stopped.
    Interrupted,
    /// Another process asked something of the run.
    Command(PendingCommand),
    /// A command a person's later `cairn resume` overrules (a person's pause no engine
    /// carried out; never cairn's own, for a stall): handled, without effect.
    Overruled(PendingCommand),
    /// An item of a running `for_each` step ended.
    Item {
        /// The step.
        step: StepIndex,
        /// The item's index.
        index: usize,
        /// How it went.
        outcome: Outcome,
    },
    /// The running `for_each` attempt of `step` reached its time limit with items it had
    /// not started (told before the attempt's [`Input::Completed`]): they did not time out
    /// and did not run, the attempt did time out.
    TimeLimit {
        /// The step.
        step: StepIndex,
    },
    /// A running attempt, or one item of a running `for_each` attempt, showed a sign of life
    /// at `at`.
    Progress {
        /// The step.
        step: StepIndex,
        /// The item, if an item's.
        item: Option<usize>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The engine is stopping: start nothing new (the attempts in flight may finish).
    Drain,
    /// The attempt of `step` just committed as running was not started: its commit found a
    /// pause or a cancel asked before it (told after the commands were read, so that the
    /// run is halted). The attempt ends without an outcome ([`Ledger::not_started`]).
    NotStarted {
        /// The step.
        step: StepIndex,
    },
}

/// How many transitions a batch takes before a move of many steps waits for the next turn:
/// a cascade of skips or a fan-out's branches made ready ([`Ledger::ended`]), a takeover's
/// roots made ready ([`Ledger::go_on_readying_roots`]), a cancel or a time-out
/// ([`Ledger::cancel_steps`]), a redrive ([`Ledger::go_on_redriving`]).
/// A million-step pipeline whose first step fails commits its skips in slices, not in one
/// batch holding a transition, a row and an event per step. A crash between two slices
/// leaves pending steps whose needs ended (or that have none), which a takeover skips or
/// makes ready as it always does, a cancel or a time-out it carries on, or a redrive half
/// done that a retry carries on.
const BATCH_SLICE: usize = 4096;

/// One run's committed state and the transitions decided since the last commit.
#[derive(Debug)]
pub(crate) struct Ledger {
    run_id: Uuid,
    plan: Arc<Plan>,
    /// Shared with every attempt's expression scope: a run's input may be megabytes.
    input: Arc<SharedJson>,
    /// What expressions read as `run`: its id and its workflow's name.
    run_facts: Arc<Value>,
    run_state: RunState,
    created_at: DateTime<Utc>,
    slots: Vec<Slot>,
    /// Per step: how many of its dependencies have not ended yet, a dependency counting as
    /// ended once its own dependencies have too ([`Ledger::ended`]).
    unmet: Vec<usize>,
    ready: VecDeque<StepIndex>,
    /// The steps whose attempt runs (kept apart so that no turn scans every step).
    running: BTreeSet<StepIndex>,
    /// When the running attempts with a `timeout` reach it, about: a heartbeat due after it
    /// is no stall (the time limit stops the attempt first).
    attempt_deadlines: HashMap<StepIndex, DateTime<Utc>>,
    group_running: HashMap<String, u32>,
    /// Ready steps held back by a full group, by that group, with its limit: set aside until
    /// the group has room, so that no turn scans them again (a group of 100,000 members with
    /// a `max_parallel` of 10 would make every turn walk the whole ready queue).
    parked: HashMap<String, (u32, VecDeque<StepIndex>)>,
    /// Ready steps a guard's rate limit holds back, by executor: set aside, before their
    /// expressions are evaluated, until its window has room.
    held: HashMap<String, VecDeque<StepIndex>>,
    /// What the attempts in flight hold of the run's spending budgets, and the ready steps
    /// the guard held back until one of them ends.
    reservations: reserved::Reservations,
    /// Per step, how many unfinished steps read its output ([`outputs`]); `None` in a plan
    /// that can grow, which keeps every output.
    readers: Option<Vec<u32>>,
    /// The steps in `retry_wait`, by when they wake (so that no turn scans every step).
    retrying: BTreeSet<(DateTime<Utc>, StepIndex)>,
    unfinished: usize,
    /// Ended steps whose dependents are still to be walked ([`Ledger::ended`]): empty but
    /// for a cascade bigger than a batch, which each turn takes on.
    cascade: Vec<StepIndex>,
    /// The walk from an ended step to its dependents, when a full batch stopped it.
    walk: complete::Walk,
    /// Where a takeover's marking of the roots ready stopped at a full batch
    /// ([`Ledger::go_on_readying_roots`]).
    roots_from: Option<StepIndex>,
    /// Whether a cancel stopped at a full batch, with steps left to cancel.
    cancel_left: bool,
    /// Whether the run's deadline passed and its steps are being cancelled, a batch at a
    /// time ([`Ledger::time_out`]).
    timing_out: bool,
    /// A redrive sending more steps back to pending than a batch takes; the run stays
    /// ended until the last is ([`Ledger::go_on_redriving`]).
    redriving: Option<control::Redriving>,
    batch: Batch,
    /// The run's output and error as last decided.
    outcome: (Option<Value>, Option<(ErrorClass, String)>),
    max_output_bytes: usize,
    guard: Option<Arc<dyn Guard>>,
    guard_hash: Option<String>,
    /// How long a turn judges before it leaves the rest to the next ([`Judge::slice`]).
    judging_slice: Duration,
    /// The time of the turn being dispatched: its judging, of one step's window or of many
    /// steps, stops once [`Ledger::moment`] is [`Ledger::judging_slice`] past it.
    dispatching_at: DateTime<Utc>,
    /// The clock that tells the time within a turn ([`Ledger::moment`]): none holds the
    /// turn's time still (the ledger's own tests).
    clock: Option<fn() -> DateTime<Utc>>,
    /// The window whose judging a turn left unfinished, if any: the next turn goes on with it.
    judging: Option<Box<attempt::Judging>>,
    /// Whether the last turn left a window's judging unfinished: the next one comes at once.
    judging_left: bool,
    /// The run's directory: where its steps without `with.cwd` run, what the guard judges a
    /// relative one from, and what approvals are bound to.
    cwd: Option<PathBuf>,
    /// What budgets count: the run's steps' spending, and its superseded plans'.
    tally: Spent,
    /// Approval requests by step and item.
    approvals: approvals::Approvals,
    rates: judge::Rates,
    /// When a rate limit lets a held step start.
    rate_wake: Option<DateTime<Utc>>,
    /// When the run times out.
    deadline: Option<DateTime<Utc>>,
    /// Why the run starts nothing new, if it does not.
    halt: Option<control::Halt>,
    /// The run's last transition or progress while attempts ran (`stall.no_progress`).
    active_at: DateTime<Utc>,
    /// Running attempts the shell must cancel.
    cancels: Vec<StepIndex>,
    /// What planners' plans are checked against.
    executors: Executors,
    /// The plan in force of each planner that committed one (by [`planner::fingerprint`]),
    /// to count repeats along the planners that added a planner.
    plans: HashMap<StepIndex, String>,
    /// How many plans the run committed.
    plan_count: u32,
    /// The person's (or cairn's) pause or cancel that set the halt in force since the
    /// commands were last read, to say once they all are ([`Ledger::say_asked`]).
    asked: Option<Request>,
}

impl Ledger {
    /// Applies `input` at time `now`.
    pub(crate) fn apply(&mut self, input: Input, now: DateTime<Utc>) -> Result<()> {
        match input {
            Input::Completed { step, outcome } => self.complete(step, outcome, now),
            Input::TimedOut => self.reach_deadline(self.deadline.unwrap_or(now)),
            Input::Interrupted => self.interrupt(now),
            // A run that ended takes no command: a takeover that settled it past its deadline
            // applied those sent before then, and reads them again (probe 48 F6).
            Input::Command(_) if self.is_over() => Ok(()),
            Input::Command(pending) => {
                // The requests that had expired when the command was sent come first, however
                // late this engine reads it: an approval of one is then too late, and a pause or
                // a cancel sent after they ended the run's last steps comes after its end (probe
                // 48 F9: a cancel cancelled a run a request's expiry had ended first).
                let unfinished = self.unfinished;
                self.expire_approvals(pending.created_at)?;
                let after_the_end = unfinished > 0 && self.unfinished == 0;
                match &pending.command {
                    Command::Approve(ruling) => self.rule(ruling, true, now)?,
                    Command::Deny(ruling) => self.rule(ruling, false, now)?,
                    // Carried out by the run's end, which marks it handled: a turn's, or here for
                    // a paused run, which takes none (probe 74 F2: left paused, all ended).
                    Command::Pause(_) | Command::Cancel(_) if after_the_end => {
                        if self.run_state == RunState::Paused {
                            self.finish_run()?;
                        }
                        return Ok(());
                    }
                    // Handled by the commit that pauses or ends the run
                    // (`Command::carried_out_by`): read again until then.
                    Command::Pause(request) => {
                        let detail = self.asked("paused", OnStall::Pause, request)?;
                        if self.halt(control::Halt::Pause(detail)) {
                            self.asked = Some(request.clone());
                        }
                        return Ok(());
                    }
                    Command::Cancel(request) => {
                        let detail = self.asked("cancelled", OnStall::Cancel, request)?;
                        if self.halt(control::Halt::Cancel(detail)) {
                            self.asked = Some(request.clone());
                        }
                        return Ok(());
                    }
                }
                self.batch.mark_handled(self.run_id, pending.id);
                Ok(())
            }
            Input::Overruled(pending) => {
                tracing::info!(run = %self.run_id, command = pending.id,
                    "a pause no engine carried out is overruled by the resume asked after it");
                self.batch.mark_handled(self.run_id, pending.id);
                Ok(())
            }
            Input::Item {
                step,
                index,
                outcome,
            } => {
                self.item_ended(step, index, outcome, now);
                Ok(())
            }
            Input::TimeLimit { step } => {
                self.items_cut_off(step);
                Ok(())
            }
            Input::Progress { step, item, at } => {
                self.progress(step, item, at);
                Ok(())
            }
            Input::Drain => {
                self.halt(control::Halt::Drain);
                Ok(())
            }
            Input::NotStarted { step } => self.not_started(step),
        }
    }

    /// A turn at time `now`: wakes the retries that are due, marks running as many ready
    /// steps as the limits allow, and ends the run when nothing is left. Returns the
    /// attempts to start once the batch is committed.
    pub(crate) fn turn(&mut self, now: DateTime<Utc>) -> Result<Vec<Start>> {
        self.judging_left = false;
        if !self.carry_on(now)? {
            return Ok(Vec::new());
        }
        // A pause or a cancel read since was sent before `now`: it takes effect before the
        // requests that expired since are denied (probe 49 F4: a pause sent first was lost to
        // an expiry that ended the run's last step, a cancelled step recorded `denied`). A
        // paused run's requests wait for it to go on; a cancel's steps are no longer asked.
        let held = self.halt.is_some() && self.halted()?;
        if self.run_state != RunState::Paused {
            self.expire_approvals(now)?;
        }
        self.watch(now);
        self.wake_due_retries(now)?;
        if held || self.halted()? {
            return Ok(Vec::new());
        }
        let starts = self.dispatch(now)?;
        // A loop seen as a step failed before it started may have paused or cancelled the run.
        if self.halt.is_some() && self.halted()? {
            return Ok(starts);
        }
        if self.unfinished == 0 {
            // A turn whose preparing took its slice (a `with` that failed after seconds) leaves
            // the run's end to the next, which the driver turns once it has read the commands
            // sent meanwhile (probe 82 F1: a cancel sent then was lost to the run's failure).
            if self.took_its_slice() {
                self.judging_left = true;
            } else {
                self.finish_run()?;
            }
        }
        Ok(starts)
    }

    /// Carries on at `now` with what a full batch left (see [`BATCH_SLICE`]): a redrive, a
    /// time-out, a cascade, a takeover's roots. Whether the run may go on to anything else
    /// in this batch: not while a redrive or a time-out is under way, nor once it has ended.
    fn carry_on(&mut self, now: DateTime<Utc>) -> Result<bool> {
        if !self.go_on_redriving(now)? || self.run_state.is_terminal() {
            return Ok(false);
        }
        if self.timing_out {
            self.time_out()?;
            return Ok(false);
        }
        self.go_on_cascading()?;
        self.go_on_readying_roots()?;
        Ok(true)
    }

    /// The transitions decided since the last call, to commit together.
    pub(crate) fn take_batch(&mut self) -> Batch {
        std::mem::take(&mut self.batch)
    }

    /// Whether a turn left work for the next because its batch was full: a redrive, a
    /// cascade (of skips, or of a fan-out's branches made ready), a takeover's roots, a
    /// cancel or a time-out of more steps than a batch takes (an ended run has none, unless
    /// it is being redriven).
    pub(crate) fn has_work_left(&self) -> bool {
        self.redriving.is_some()
            || (!self.run_state.is_terminal()
                && (!self.cascade.is_empty()
                    || self.walk.is_under_way()
                    || self.roots_from.is_some()
                    || self.cancel_left
                    || self.timing_out))
    }

    /// Whether the run has ended (and is not being redriven).
    pub(crate) fn is_over(&self) -> bool {
        self.run_state.is_terminal() && self.redriving.is_none()
    }

    /// Whether the last turn's slice ran out ([`JUDGING_SLICE`]) with ready steps (or a
    /// window's actions) left to prepare and judge, or the run's end left to the next turn.
    pub(crate) fn ran_out_of_its_slice(&self) -> bool {
        self.judging_left
    }

    /// When the ledger must be turned next: at once while it has work left, else
    /// the earliest waiting retry, approval expiry, rate-limit window that opens, or silence
    /// that would be a stall.
    pub(crate) fn next_wake(&self) -> Option<DateTime<Utc>> {
        if self.has_work_left() || self.judging_left {
            return Some(DateTime::<Utc>::MIN_UTC);
        }
        let retry = self.retrying.first().map(|&(at, _)| at);
        [
            retry,
            self.approvals.next_expiry(),
            self.rate_wake,
            self.next_stall(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether a request for approval that waits for a ruling has expired by `now`: the next
    /// turn denies it, unless a ruling sent before then is read first.
    pub(crate) fn approval_expired(&self, now: DateTime<Utc>) -> bool {
        self.approvals.next_expiry().is_some_and(|at| at <= now)
    }

    /// Whether a stall's window (a heartbeat's, the run's `no_progress`) has run out by
    /// `now`: the driver reads the signs of life that came meanwhile before the turn that
    /// would judge it.
    pub(crate) fn stall_due(&self, now: DateTime<Utc>) -> bool {
        self.next_stall().is_some_and(|at| at <= now)
    }

    /// Whether every step of the run has ended.
    pub(crate) fn all_ended(&self) -> bool {
        self.unfinished == 0
    }

    /// When the run times out (`limits.timeout` after it started or was redriven); none
    /// while a redrive is under way, whose clock starts with its last batch.
    pub(crate) fn deadline(&self) -> Option<DateTime<Utc>> {
        self.deadline.filter(|_| self.redriving.is_none())
    }

    /// The run's directory ([`Judge::cwd`]).
    pub(crate) fn cwd(&self) -> Option<&PathBuf> {
        self.cwd.as_ref()
    }

    /// How the run stands.
    pub(crate) fn report(&self) -> RunReport {
        let (output, error) = self.outcome.clone();
        RunReport {
            id: self.run_id,
            state: self.run_state,
            output,
            error_class: error.as_ref().map(|(class, _)| *class),
            error: error.map(|(_, message)| message),
        }
    }

    fn wake_due_retries(&mut self, now: DateTime<Utc>) -> Result<()> {
        while let Some(&(at, step)) = self.retrying.first() {
            if at > now {
                break;
            }
            self.retrying.pop_first();
            self.slots[step].wake_at = None;
            self.set_step(step, StepState::Ready, None)?;
            self.ready.push_back(step);
        }
        Ok(())
    }

    /// Puts `step` in `retry_wait` until `at`.
    fn wait_to_retry(
        &mut self,
        step: StepIndex,
        at: DateTime<Utc>,
        detail: Option<Value>,
    ) -> Result<()> {
        self.slots[step].wake_at = Some(at);
        self.retrying.insert((at, step));
        self.set_step(step, StepState::RetryWait, detail)
    }

    /// Records `step`'s attempt `attempt` running, with the guard's `verdicts`; it counts as
    /// `actions` attempts towards budgets (one, or the items it runs).
    fn set_attempt_running(
        &mut self,
        step: StepIndex,
        attempt: u32,
        actions: usize,
        verdicts: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // A step's first start counts, not its attempt's going on in a rate limit's next window.
        self.tally.steps += u64::from(self.slots[step].attempt == 0);
        self.slots[step].attempt = attempt;
        self.slots[step].since = Some(now);
        if let Some(timeout) = self.plan.steps()[step].timeout {
            self.attempt_deadlines.insert(step, now + timeout);
        }
        self.items_began(step, now);
        self.tally.attempts += actions as u64;
        let fallback = self.slots[step].fallback;
        let mut detail = verdicts.unwrap_or_else(|| json!({}));
        if fallback > 0 {
            detail["fallback"] = json!(fallback);
        }
        let detail = (detail != json!({})).then_some(detail);
        self.set_step(step, StepState::Running, detail)?;
        self.running.insert(step);
        for (group, _) in &self.plan.steps()[step].group_limits {
            *self.group_running.entry(group.clone()).or_default() += 1;
        }
        Ok(())
    }

    /// A step whose attempt cannot even be prepared (its `when`, `for_each` or `with` does
    /// not evaluate): the attempt is counted and ends `bad_params` through
    /// [`complete`](Self::complete), as one whose parameters its executor refuses does, so
    /// the step's retries (when `retry_on` lists `bad_params`) and fallbacks apply.
    fn fail_before_start(
        &mut self,
        step: StepIndex,
        message: String,
        now: DateTime<Utc>,
    ) -> Result<attempt::Started> {
        let attempt = self.slots[step].attempt + 1;
        self.set_attempt_running(step, attempt, 1, None, now)?;
        self.complete(step, Outcome::failure(ErrorClass::BadParams, message), now)?;
        Ok(attempt::Started::No)
    }

    /// `step`'s attempt ended (or was not started): what it (and its items) still held of
    /// the run's spending budgets, charged to its usage as it started.
    fn end_attempt(&mut self, step: StepIndex) -> Usage {
        self.running.remove(&step);
        self.attempt_deadlines.remove(&step);
        for (group, _) in &self.plan.steps()[step].group_limits {
            if let Some(count) = self.group_running.get_mut(group) {
                *count -= 1;
            }
        }
        self.reservations.release_step(step)
    }

    /// `step`'s running attempt was cut off before it ended (the engine stops or died, a
    /// pause stopped its items short): the step is ready to run again, that attempt not
    /// counted against `retry.max_attempts`.
    fn cut_off(&mut self, step: StepIndex, detail: Value) -> Result<()> {
        self.slots[step].interrupted += 1;
        self.set_step(step, StepState::Ready, Some(detail))
    }

    fn set_step(&mut self, step: StepIndex, to: StepState, detail: Option<Value>) -> Result<()> {
        let slot = &mut self.slots[step];
        if let Some(error) = &mut slot.error
            && error.len() > KEPT_ERROR
        {
            *error = crate::text::elided(error, KEPT_ERROR);
        }
        let slot = &self.slots[step];
        let transition = StepTransition {
            run_id: self.run_id,
            step_id: self.plan.steps()[step].id.to_string(),
            position: Some(step),
            from: slot.state,
            to,
            attempt: slot.attempt,
            interrupted: slot.interrupted,
            fallback: slot.fallback,
            output: (slot.output.as_ref())
                .filter(|_| to == StepState::Succeeded)
                .map(Arc::clone),
            // A step waiting again (to retry, or ready after a stall paused the run) keeps
            // its last error in sight of `cairn show`; one cancelled as its attempt ended
            // (a stall's `cancel`, a cancel of the run) says why.
            error: (slot.error.clone()).filter(|_| {
                matches!(
                    to,
                    StepState::Failed
                        | StepState::RetryWait
                        | StepState::Ready
                        | StepState::Denied
                        | StepState::Cancelled
                )
            }),
            wake_at: slot.wake_at.filter(|_| to == StepState::RetryWait),
            usage: slot.usage.as_deref().cloned(),
            detail,
        };
        self.batch.push(Transition::Step(transition))?;
        self.slots[step].state = to;
        self.slots[step].waiting_said = None;
        if to.is_terminal() {
            self.stop_reading(step);
        }
        Ok(())
    }

    fn set_run(
        &mut self,
        to: RunState,
        output: Option<Value>,
        error: Option<(ErrorClass, String)>,
        detail: Option<Value>,
    ) -> Result<()> {
        self.batch.push(Transition::Run(RunTransition {
            run_id: self.run_id,
            from: self.run_state,
            to,
            output: output.clone(),
            error_class: error.as_ref().map(|(class, _)| *class),
            error: error.as_ref().map(|(_, message)| message.clone()),
            detail,
            deadline: None,
        }))?;
        self.run_state = to;
        self.outcome = (output, error);
        Ok(())
    }
}

mod accept;
mod actions;
pub(crate) use actions::{Actions, DeferredItems, Prepared};
mod answer;
mod approvals;
mod attempt;
mod complete;
mod control;
mod dispatch;
mod finish;
mod items;
pub(crate) use control::Redrive;
pub(crate) use outputs::kept as kept_outputs;
mod judge;
mod outputs;
mod planner;
mod reserved;
mod stalls;
mod takeover;
pub(crate) use takeover::in_plan_order;
#[cfg(test)]
mod tests;
