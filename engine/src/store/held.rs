//! A test store over a [`MemoryStore`] that holds commits back (before or just after they
//! are made) and reads stale on demand: how a test reaches the orders a real store's locks
//! and other engines make.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{CommitReport, NewRun, RunRecord, Standing, StepRecord, Store};
use crate::approval::Approval;
use crate::command::{Command, PendingCommand};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::item::ItemRecord;
use crate::lease::{Lease, LeaseAttempt, LeaseHolder};
use crate::plan::{Addition, Supersession};
use crate::report::{RunFilter, RunSummary};
use crate::state::{Batch, StepState};
use crate::store::MemoryStore;

/// An item record as a commit made it: index, state, attempt.
pub(crate) type Item = (usize, StepState, u32);

/// Which commit a [`Held`] holds once made.
type Matches = fn(&Batch) -> bool;

/// A [`MemoryStore`] whose commits, once [`Held::hold`] is called, each wait until the test
/// lets one go (as a commit waits on another connection's lock); or, once
/// [`Held::hold_after`] is, the first that matches waits once made; and whose next
/// [`Store::find_run`], once [`Held::read_stale`] is called, reads the store as it was
/// before every run was created (as another engine's read that a creation overtook). It
/// keeps the item records of each commit.
#[derive(Debug, Default)]
pub(crate) struct Held {
    inner: MemoryStore,
    held: AtomicBool,
    stale: AtomicBool,
    /// Which commit waits once made.
    after: Mutex<Option<Matches>>,
    /// Rung by each commit as it starts waiting.
    pub(crate) waiting: Notify,
    /// Lets one waiting commit go.
    pub(crate) go: Notify,
    /// The item records of each commit.
    pub(crate) items: Mutex<Vec<Vec<Item>>>,
    /// Whose lease the next [`Store::send_ruling`] gives back once made.
    leaves_at_ruling: Mutex<Option<String>>,
    /// How many of the next lease renewals fail as another process's lock would fail them.
    locked_renewals: AtomicUsize,
    /// How many lease renewals were asked for.
    pub(crate) renewals: AtomicUsize,
}

impl Held {
    /// Makes each commit from now on wait for [`Held::go`].
    pub(crate) fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// The first commit from now on that `matches` waits once made.
    pub(crate) fn hold_after(&self, matches: Matches) {
        *self.after.lock().unwrap() = Some(matches);
    }

    /// Lets the commit waiting go, and the ones after it through.
    pub(crate) fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.go.notify_one();
    }

    /// Makes the next [`Store::send_ruling`], once made, give back the lease `owner` holds of
    /// its run: a driver that left between a sender's read of the run and its write.
    pub(crate) fn leave_at_ruling(&self, owner: &str) {
        *self.leaves_at_ruling.lock().unwrap() = Some(owner.to_owned());
    }

    /// Makes the next `count` lease renewals fail with [`Error::Locked`], as a lock another
    /// process holds on the database past the busy timeout fails them.
    pub(crate) fn lock_renewals(&self, count: usize) {
        self.locked_renewals.store(count, Ordering::SeqCst);
    }

    /// Makes the next [`Store::find_run`] find no run.
    pub(crate) fn read_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for Held {
    async fn create_run(
        &self,
        run: &NewRun,
        holder: &LeaseHolder,
        ttl: Duration,
        batch: Batch,
    ) -> Result<Vec<Event>> {
        self.inner.create_run(run, holder, ttl, batch).await
    }

    async fn commit(&self, owner: &str, batch: Batch) -> Result<CommitReport> {
        if self.held.load(Ordering::SeqCst) {
            self.waiting.notify_one();
            self.go.notified().await;
        }
        let after = self
            .after
            .lock()
            .unwrap()
            .take_if(|matches| matches(&batch));
        let items = (batch.items().iter())
            .map(|item| (item.index, item.state, item.attempt))
            .collect();
        self.items.lock().unwrap().push(items);
        let committed = self.inner.commit(owner, batch).await?;
        if after.is_some() {
            self.waiting.notify_one();
            self.go.notified().await;
        }
        Ok(committed)
    }

    async fn lease_run(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<std::result::Result<Standing, Lease>> {
        self.inner.lease_run(run_id, holder, ttl, is_void).await
    }

    async fn acquire_lease(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<LeaseAttempt> {
        self.inner.acquire_lease(run_id, holder, ttl, is_void).await
    }

    async fn renew_lease(&self, run_id: Uuid, owner: &str, ttl: Duration) -> Result<bool> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        let locked =
            self.locked_renewals
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                });
        if locked.is_ok() {
            return Err(Error::Locked("held.db".into()));
        }
        self.inner.renew_lease(run_id, owner, ttl).await
    }

    async fn release_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.inner.release_lease(run_id, owner).await
    }

    async fn find_run(&self, id: &str) -> Result<RunRecord> {
        if self.stale.swap(false, Ordering::SeqCst) {
            return Err(Error::UnknownRun(id.to_owned()));
        }
        self.inner.find_run(id).await
    }

    async fn definition(&self, run_id: Uuid) -> Result<String> {
        self.inner.definition(run_id).await
    }

    async fn input(&self, run_id: Uuid) -> Result<serde_json::Value> {
        self.inner.input(run_id).await
    }

    async fn step(&self, run_id: Uuid, step_id: &str) -> Result<Option<StepRecord>> {
        self.inner.step(run_id, step_id).await
    }

    async fn steps(&self, run_id: Uuid) -> Result<Vec<StepRecord>> {
        self.inner.steps(run_id).await
    }

    async fn steps_named(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<StepRecord>> {
        self.inner.steps_named(run_id, step_ids).await
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        self.inner.runs(filter).await
    }

    async fn unfinished_runs(&self) -> Result<Vec<Uuid>> {
        self.inner.unfinished_runs().await
    }

    async fn paused_past_deadline(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        self.inner.paused_past_deadline(now).await
    }

    async fn history_page(&self, run_id: Uuid, after: i64, limit: usize) -> Result<Vec<Event>> {
        self.inner.history_page(run_id, after, limit).await
    }

    async fn plans(&self, run_id: Uuid) -> Result<Vec<Addition>> {
        self.inner.plans(run_id).await
    }

    async fn superseded(&self, run_id: Uuid) -> Result<Vec<Supersession>> {
        self.inner.superseded(run_id).await
    }

    async fn redrive_from(&self, run_id: Uuid) -> Result<Option<String>> {
        self.inner.redrive_from(run_id).await
    }

    async fn stalls(&self, run_id: Uuid) -> Result<Vec<(String, serde_json::Value)>> {
        self.inner.stalls(run_id).await
    }

    async fn items(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<ItemRecord>> {
        self.inner.items(run_id, step_ids).await
    }

    async fn send_command(&self, run_id: Uuid, command: &Command) -> Result<()> {
        self.inner.send_command(run_id, command).await
    }

    async fn send_ruling(&self, run_id: Uuid, ruling: &Command) -> Result<bool> {
        let sent = self.inner.send_ruling(run_id, ruling).await?;
        let leaves = self.leaves_at_ruling.lock().unwrap().take();
        if let Some(owner) = leaves {
            self.inner.release_lease(run_id, &owner).await?;
        }
        Ok(sent)
    }

    async fn pending_commands(&self, run_id: Uuid) -> Result<Vec<PendingCommand>> {
        self.inner.pending_commands(run_id).await
    }

    async fn runs_with_commands(&self) -> Result<Vec<Uuid>> {
        self.inner.runs_with_commands().await
    }

    async fn approvals(&self, run_id: Uuid) -> Result<Vec<Approval>> {
        self.inner.approvals(run_id).await
    }

    async fn waiting_approvals(&self) -> Result<Vec<Approval>> {
        self.inner.waiting_approvals().await
    }

    async fn waiting_approvals_of(&self, run_id: Uuid) -> Result<Vec<Approval>> {
        self.inner.waiting_approvals_of(run_id).await
    }

    async fn starts_since(
        &self,
        run_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.inner.starts_since(run_id, since).await
    }
}
