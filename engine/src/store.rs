//! Where runs live: the [`Store`] trait, the one place a commit happens, its two
//! implementations and the records it keeps.
//!
//! An embedder needs this module only to choose a store ([`MemoryStore`] for throwaway runs,
//! or a [`SqliteStore`] opened with its own [`StoreOptions`]) and to close one
//! (`engine.store().close()`); [`Engine::builder`](crate::Engine::builder) opens SQLite by
//! itself. The rest — [`Batch`] and its transitions, the records, leases — is for whoever
//! implements a store, and for the conformance suite that holds every store to one contract.
//!
//! A store keeps rows — runs, their steps' current states, their events, leases — and knows
//! nothing of scheduling. Two implementations: [`SqliteStore`] (WAL mode, one writer, group
//! commit) and [`MemoryStore`] (for tests and throwaway runs). Both pass the same
//! conformance suite (`store::conformance`, built with the `conformance` feature), which a
//! future store (PostgreSQL, many workers) must pass too.
//!
//! The trait is shaped for many workers sharing one database: every write names the lease
//! owner it is made for and is refused once another owner holds the run (a fencing token),
//! leases are taken and renewed per run, and a batch commits all or nothing.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::approval::Approval;
use crate::command::Command;
use crate::error::Result;
use crate::event::Event;
use crate::executor::{ErrorClass, Usage};
use crate::lease::LeaseHolder;
use crate::report::{RunFilter, RunReport, RunSummary, RunView, StepView};
use crate::state::{RunState, StepState};

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(test)]
pub(crate) mod held;
mod memory;
mod snapshot;
mod sqlite;

pub use crate::command::PendingCommand;
pub use crate::item::ItemRecord;
pub use crate::lease::{Lease, LeaseAttempt, MAX_LEASE_TTL, MIN_LEASE_TTL};
pub use crate::plan::{Addition, Supersession};
pub use crate::state::{Batch, RunTransition, StepTransition, Transition};
pub use memory::MemoryStore;
pub use snapshot::Snapshot;
pub use sqlite::{Durability, SqliteStore, StoreOptions};

/// `at` to the millisecond, the precision the stores keep times in.
pub(crate) fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// Durable storage of runs. Implementations must commit each call's writes atomically and
/// make them visible to every later read, also from other processes sharing the database.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Records `run` (its snapshot, input and pending steps), leased to `holder` for `ttl`,
    /// and commits `batch` (its first transitions) in the same transaction. Returns the
    /// committed events, the run's creation first.
    async fn create_run(
        &self,
        run: &NewRun,
        holder: &LeaseHolder,
        ttl: Duration,
        batch: Batch,
    ) -> Result<Vec<Event>>;

    /// Commits `batch` in one transaction, each transition with its event, in order, and
    /// returns the events, and whether a pause or a cancel was pending for a run whose
    /// attempts or `for_each` items it starts ([`CommitReport::halt_asked`]).
    ///
    /// Every transition names the state it leaves: if the stored state differs, nothing is
    /// committed and [`Error::Conflict`](crate::Error::Conflict) comes back. A run whose lease
    /// `owner` no longer holds is refused with [`Error::LeaseLost`](crate::Error::LeaseLost).
    /// A transition that ends a run also releases its lease.
    async fn commit(&self, owner: &str, batch: Batch) -> Result<CommitReport>;

    /// Takes the lease of `run_id` for `holder` for `ttl`, unless another owner holds a live
    /// one (`Err`: their lease); `is_void` tells whether a foreign holder is known to be gone.
    /// Taken, it tells how the run stood then, read in the same transaction: a takeover judges
    /// the run on that, as another process may have moved it since the takeover read it.
    async fn lease_run(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<Result<Standing, Lease>>;

    /// [`lease_run`](Store::lease_run), for a caller that does not ask how the run stood.
    async fn acquire_lease(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<LeaseAttempt> {
        Ok(match self.lease_run(run_id, holder, ttl, is_void).await? {
            Ok(_) => LeaseAttempt::Acquired,
            Err(held) => LeaseAttempt::Held(held),
        })
    }

    /// Extends `owner`'s lease of `run_id` to `ttl` from now; `false` if it is not theirs.
    async fn renew_lease(&self, run_id: Uuid, owner: &str, ttl: Duration) -> Result<bool>;

    /// Gives up `owner`'s lease of `run_id` (nothing happens if it is not theirs).
    async fn release_lease(&self, run_id: Uuid, owner: &str) -> Result<()>;

    /// Gives `owner`'s lease of `run_id` back as it found it: if `owner` has committed
    /// nothing to the run since it took the lease ([`lease_run`](Store::lease_run)), the
    /// lease the run had then (another owner's, expired or void, or none) is written back as
    /// it was, so that a takeover refused under the lease leaves the run's row as it found
    /// it; otherwise as [`release_lease`](Store::release_lease), which this default does.
    async fn give_back_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.release_lease(run_id, owner).await
    }

    /// The run `id`, or the only run whose id starts with `id` (at least 4 characters); `id`
    /// in any case, or a whole id without its dashes.
    async fn find_run(&self, id: &str) -> Result<RunRecord>;

    /// The definition snapshot run `run_id` started with. Apart from the run's record,
    /// which most readers want without it: a big workflow's is megabytes.
    async fn definition(&self, run_id: Uuid) -> Result<String>;

    /// The input run `run_id` started with. Apart from the run's record, which commands
    /// such as `pause` or `history` want without it: an input may be hundreds of megabytes.
    async fn input(&self, run_id: Uuid) -> Result<Value>;

    /// The current state of one step of a run (`None`: the run has no such step).
    async fn step(&self, run_id: Uuid, step_id: &str) -> Result<Option<StepRecord>>;

    /// The current state of every step of a run, in plan order.
    async fn steps(&self, run_id: Uuid) -> Result<Vec<StepRecord>>;

    /// [`steps`](Store::steps) without their outputs (every `output` is `None`): a resume
    /// reads these, then the outputs its unfinished steps read ([`outputs`](Store::outputs)).
    async fn steps_without_outputs(&self, run_id: Uuid) -> Result<Vec<StepRecord>> {
        let mut steps = self.steps(run_id).await?;
        for step in &mut steps {
            step.output = None;
        }
        Ok(steps)
    }

    /// The outputs of the steps `step_ids` of a run that have one, by step id, in no given
    /// order.
    async fn outputs(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<(String, Value)>> {
        let wanted: std::collections::HashSet<&str> = step_ids.iter().copied().collect();
        Ok((self.steps(run_id).await?.into_iter())
            .filter(|step| wanted.contains(step.id.as_str()))
            .filter_map(|step| Some((step.id, step.output?)))
            .collect())
    }

    /// The current state of the steps `step_ids` of a run, outputs included, in plan order,
    /// all read at one moment: each record is one moment of its step (its state, attempt,
    /// error and output agree), as `cairn show --json` prints a page of steps. An id that
    /// names no step of the run is left out; one named twice is read once.
    async fn steps_named(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<StepRecord>>;

    /// The detail of the last event of each of the steps `step_ids` of a run that kept a
    /// refused reply (`reply` in its detail, a string, beside the `error` it was refused
    /// with: an `output_schema` or `invalid_plan` ending), by step id, in no given order: what
    /// `cairn show` prints beside a step's error. This default reads the run's history.
    async fn replies(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<(String, Value)>> {
        let wanted: std::collections::HashSet<&str> = step_ids.iter().copied().collect();
        let mut last = std::collections::HashMap::new();
        for event in self.history(run_id).await? {
            let Some(step) = event.step_id().filter(|step| wanted.contains(step)) else {
                continue;
            };
            let step = step.to_owned();
            if let Some(detail) = event.detail.filter(|detail| detail["reply"].is_string()) {
                last.insert(step, detail);
            }
        }
        Ok(last.into_iter().collect())
    }

    /// The steps of a run that wait `ready`, held by the guard or a rate limit, and why: each
    /// one whose last event records the hold (`ready -> ready`, `{"held_for": …, "waits":
    /// …}`), with its `waits`, by step id, in no given order. What `cairn show` prints
    /// beside a held step. This default reads the run's history.
    async fn holds(&self, run_id: Uuid) -> Result<Vec<(String, String)>> {
        let mut last = std::collections::HashMap::new();
        for event in self.history(run_id).await? {
            if let Some(step) = event.step_id() {
                last.insert(step.to_owned(), event);
            }
        }
        Ok((last.into_iter())
            .filter_map(|(step, event)| Some((step, event.waits()?.to_owned())))
            .collect())
    }

    /// The runs `filter` admits, newest first, as a listing shows them: without their
    /// inputs and outputs, which may be megabytes each.
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>>;

    /// Ids of the runs that have not ended and are not paused, oldest first.
    async fn unfinished_runs(&self) -> Result<Vec<Uuid>>;

    /// Ids of the paused runs whose deadline is at or before `now`, oldest first: those a
    /// recovery ends (failed, `timeout`), read without their records.
    async fn paused_past_deadline(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>>;

    /// Up to `limit` events of a run numbered after `after` (0: from the first), in order: a
    /// long history read a page at a time.
    async fn history_page(&self, run_id: Uuid, after: i64, limit: usize) -> Result<Vec<Event>>;

    /// The whole history of a run, in order.
    async fn history(&self, run_id: Uuid) -> Result<Vec<Event>> {
        self.history_page(run_id, 0, usize::MAX).await
    }

    /// The plans the planners of a run added, in the order they were committed, but those a
    /// redrive superseded since.
    async fn plans(&self, run_id: Uuid) -> Result<Vec<Addition>>;

    /// The plans of a run that redrives superseded ([`Batch::record_supersession`]), in the
    /// order they were committed.
    async fn superseded(&self, run_id: Uuid) -> Result<Vec<Supersession>>;

    /// The stalls recorded of the running steps of `run_id` ([`Batch::record_stall`]), by
    /// step id: the last one recorded of each, whichever attempt it names.
    async fn stalls(&self, run_id: Uuid) -> Result<Vec<(String, Value)>>;

    /// The step a redrive of `run_id` from a step runs again from, from its first commit
    /// ([`Batch::record_redrive`]) until the run moves out of `failed` or `cancelled` with its
    /// last: a redrive a crash interrupted between its commits. `None` otherwise.
    async fn redrive_from(&self, run_id: Uuid) -> Result<Option<String>>;

    /// The `for_each` items committed so far of the steps `step_ids` of a run, by step and
    /// index. A resume asks for those of the steps not succeeded: a succeeded step's output
    /// holds its items' outputs.
    async fn items(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<ItemRecord>>;

    /// How many [`items`](Store::items) of the steps `step_ids` of a run are in each state:
    /// `(step id, state, count)`, by step id and then state name, only the states counted.
    /// A summary (`cairn show`) reads these rather than the items with their outputs.
    async fn item_counts(
        &self,
        run_id: Uuid,
        step_ids: &[&str],
    ) -> Result<Vec<(String, StepState, usize)>> {
        let mut counts = std::collections::BTreeMap::new();
        for item in self.items(run_id, step_ids).await? {
            let key = (item.step_id, item.state.as_str());
            counts.entry(key).or_insert((item.state, 0)).1 += 1;
        }
        Ok((counts.into_iter())
            .map(|((step, _), (state, count))| (step, state, count))
            .collect())
    }

    /// Records `command` for the engine driving `run_id` (or the next one to take it over).
    /// Needs no lease: any process may send one.
    async fn send_command(&self, run_id: Uuid, command: &Command) -> Result<()>;

    /// Records `ruling` as [`send_command`](Store::send_command) does, if it can still
    /// take effect, judged in the write itself: of two rulings sent side by side, one is
    /// recorded, and so is one of two pauses. Whether it was. An approve or a deny is
    /// recorded if its step awaits approval, no pending ruling covers it
    /// ([`Command::covers`]), no cancel is pending, the run's deadline has not passed, and no
    /// request of its step has expired without a pending ruling sent before its expiry
    /// covering it (the engine denies such a step by that expiry); a pause or a cancel if its run has not ended, or a live lease
    /// says an engine redrives it ([`RunRecord::is_driven`]; SQLite judges the lease by its
    /// expiry alone); a pause not while the run is paused or a pause or a cancel of it is
    /// pending (a cancel after a pending pause is recorded: it wins).
    async fn send_ruling(&self, run_id: Uuid, ruling: &Command) -> Result<bool>;

    /// The commands for `run_id` not handled yet, oldest first.
    async fn pending_commands(&self, run_id: Uuid) -> Result<Vec<PendingCommand>>;

    /// The runs that have commands not handled yet, in no particular order: what an engine
    /// looks at once a second for all the runs it drives, instead of a look for each.
    async fn runs_with_commands(&self) -> Result<Vec<Uuid>>;

    /// The approval requests of `run_id`, decided or not.
    async fn approvals(&self, run_id: Uuid) -> Result<Vec<Approval>>;

    /// The approval requests not decided yet whose step awaits approval, in every run that
    /// has not ended, oldest first. (A `for_each` step denied for one item leaves its other
    /// items' requests undecided: they wait for nothing.)
    async fn waiting_approvals(&self) -> Result<Vec<Approval>>;

    /// [`waiting_approvals`](Store::waiting_approvals) of `run_id` alone, read by run (a
    /// run's engine telling its person what waits reads none of the other runs'): none once
    /// the run has ended, oldest first.
    async fn waiting_approvals_of(&self, run_id: Uuid) -> Result<Vec<Approval>>;

    /// When attempts of `run_id` started since `since`, with their step ids, oldest first
    /// (from the history: what rate limits count). A `running` event is as many starts as
    /// the verdicts it records (`detail.verdicts`: one per `for_each` item it started),
    /// or one.
    async fn starts_since(
        &self,
        run_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>>;

    /// Closes the store's connections, for a process about to exit once nothing uses the
    /// store any more: what the next process would otherwise redo is done now (SQLite:
    /// checkpointing the WAL, which the next opening would read whole). Calls after it fail.
    async fn close(&self) {}
}

/// A run id or id prefix as a user may type it, in the form run ids are stored in: a whole
/// id in any form `Uuid` reads (upper case, without dashes, braced) hyphenated, a prefix in
/// lower case. Every [`Store::find_run`] looks up this.
pub(crate) fn run_id_key(id: &str) -> String {
    match Uuid::try_parse(id) {
        Ok(uuid) => uuid.to_string(),
        Err(_) => id.to_ascii_lowercase(),
    }
}

/// The SHA-256 digest of `text`, in hex: how snapshots (definitions, guards) are keyed.
pub(crate) fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// What a [`Store::commit`] committed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitReport {
    /// The events, in order.
    pub events: Vec<Event>,
    /// Whether a pause or a cancel not handled yet was recorded, before the commit, for a
    /// run the commit moves a step of to `running` or records a `for_each` item of (an
    /// item's end lets its attempt start the next one): looked at inside the commit's own
    /// transaction, so that no command recorded before the attempts' start goes unseen
    /// until the next look at the commands. Its engine reads the commands then, and does
    /// not start those attempts or items. Always `false` for a commit that does neither.
    pub halt_asked: bool,
}

/// A new run to record: its definition snapshot, input and the initial state of every step.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The run's id.
    pub id: Uuid,
    /// The workflow's name.
    pub workflow_name: String,
    /// The definition snapshot (canonical JSON) and its hash, written by the store as it
    /// serializes it: a big workflow's is megabytes.
    pub definition: Snapshot,
    /// The run's input as JSON text, serialized once and shared, never copied: an input may
    /// be hundreds of megabytes. (An `Arc<str>` made from the text would copy it.)
    pub input: Arc<String>,
    /// The snapshot of the guard the run is judged with (see [`Guard::snapshot`](crate::Guard::snapshot)).
    pub guard: Option<String>,
    /// Every step's id, in plan order; each starts `pending`. (The plan's own ids,
    /// shared: a million-step run's are tens of megabytes.)
    pub steps: Arc<[Arc<str>]>,
    /// The cap on one step's serialized output the run is driven with, from its start on.
    pub max_output_bytes: usize,
    /// The directory the run is started in ([`RunRecord::cwd`]); `None` if the engine could
    /// not read its own.
    pub cwd: Option<PathBuf>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run's id.
    pub id: Uuid,
    /// The workflow's name.
    pub workflow_name: String,
    /// The hash of the definition snapshot.
    pub workflow_hash: String,
    /// The run's state.
    pub state: RunState,
    /// The run's output, once it succeeded.
    pub output: Option<Value>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// The class of `error`.
    pub error_class: Option<ErrorClass>,
    /// The snapshot of the guard the run is judged with (`None` in listings, and for a run
    /// without a guard).
    pub guard: Option<String>,
    /// When the run was created.
    pub created_at: DateTime<Utc>,
    /// When the run last changed (its last event).
    pub updated_at: DateTime<Utc>,
    /// When the run times out (`limits.timeout` from its start or its last redrive).
    pub deadline: Option<DateTime<Utc>>,
    /// The cap on one step's serialized output the run is driven with: the one it started
    /// with, or the last one recorded since ([`Batch::record_max_output`]). `None` for a
    /// run recorded before caps were stored: it keeps the cap of the engine driving it.
    pub max_output_bytes: Option<usize>,
    /// The directory the run was started in: where its steps without `with.cwd` run, what a
    /// relative one and the guard's `cwd` roots are taken from, and what approvals are bound
    /// to, whichever process drives it later. `None` for a run recorded before directories
    /// were stored (or by an engine that could not read its own): the driving engine's then.
    pub cwd: Option<PathBuf>,
    /// The lease of the engine driving the run, if one holds it (an ended run's only while
    /// it is being redriven).
    pub lease: Option<Lease>,
}

impl RunRecord {
    /// Whether an engine drives the run at `now`: its lease is live ([`Lease::is_live`]). An
    /// ended run's only while an engine redrives it.
    pub fn is_driven(&self, now: DateTime<Utc>) -> bool {
        (self.lease.as_ref()).is_some_and(|lease| lease.is_live(now))
    }
}

/// How a run stood when its lease was taken ([`Store::lease_run`]): what a takeover that
/// read the run's [`RunRecord`] before checks it against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The run's state ([`RunRecord::state`]).
    pub state: RunState,
    /// When the run last changed ([`RunRecord::updated_at`]).
    pub updated_at: DateTime<Utc>,
}

/// The current state of one step of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The step's id.
    pub id: String,
    /// Its state.
    pub state: StepState,
    /// Attempts made so far.
    pub attempt: u32,
    /// How many of them were cut off before they ended: the engine stopped or died while
    /// they ran, or a pause stopped a `for_each` step's attempt short. They run again and do
    /// not count against `retry.max_attempts`.
    pub interrupted: u32,
    /// Which fallback the step is on (0: its own `with`).
    pub fallback: u32,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// The last error.
    pub error: Option<String>,
    /// When a `retry_wait` step wakes up.
    pub wake_at: Option<DateTime<Utc>>,
    /// Usage summed over its attempts.
    pub usage: Option<Usage>,
    /// The running attempt's last sign of life, once it showed one.
    pub progress_at: Option<DateTime<Utc>>,
}

impl StepRecord {
    /// A step that has not started.
    pub fn pending(id: &str) -> Self {
        StepRecord {
            id: id.to_owned(),
            state: StepState::Pending,
            attempt: 0,
            interrupted: 0,
            fallback: 0,
            output: None,
            error: None,
            wake_at: None,
            usage: None,
            progress_at: None,
        }
    }
}

impl From<&RunRecord> for RunReport {
    fn from(record: &RunRecord) -> Self {
        RunReport {
            id: record.id,
            state: record.state,
            output: record.output.clone(),
            error: record.error.clone(),
            error_class: record.error_class,
        }
    }
}

impl From<&RunRecord> for RunSummary {
    fn from(record: &RunRecord) -> Self {
        RunSummary {
            id: record.id,
            workflow: record.workflow_name.clone(),
            state: record.state,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

impl From<StepRecord> for StepView {
    fn from(step: StepRecord) -> Self {
        StepView {
            id: step.id,
            state: step.state,
            attempt: step.attempt,
            output: step.output,
            error_class: step.error.as_deref().and_then(ErrorClass::of_error),
            error: step.error,
            reply: None,
            waits: None,
            usage: step.usage.unwrap_or_default(),
            progress_at: step
                .progress_at
                .filter(|_| step.state == StepState::Running),
            wake_at: step.wake_at.filter(|_| step.state == StepState::RetryWait),
            items: Vec::new(),
        }
    }
}

impl RunView {
    /// The view of `run`, started with `input`, with its `steps`.
    pub fn new(run: RunRecord, input: Value, steps: Vec<StepRecord>) -> Self {
        let steps: Vec<StepView> = steps.into_iter().map(StepView::from).collect();
        let mut usage = Usage::default();
        for step in &steps {
            usage += &step.usage;
        }
        RunView {
            id: run.id,
            workflow: run.workflow_name,
            state: run.state,
            input,
            output: run.output,
            error: run.error,
            error_class: run.error_class,
            usage,
            steps,
            created_at: run.created_at,
            updated_at: run.updated_at,
            deadline: run.deadline,
            cwd: run.cwd,
        }
    }
}
