//! The shell reads the signs of life before it judges a heartbeat, whichever event woke it:
//! an attempt that talked while a commit waited on the store is not stalled.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::approval::Approval;
use crate::command::PendingCommand;
use crate::item::ItemRecord;
use crate::lease::{Lease, LeaseAttempt};
use crate::plan::{Addition, Supersession};
use crate::report::RunSummary;
use crate::state::Batch;
use crate::store::{RunRecord, Standing, StepRecord};

/// A [`MemoryStore`] whose commits, once [`Held::hold`] is called, each wait until the test
/// lets one go (as a commit waits on another connection's lock).
#[derive(Debug, Default)]
struct Held {
    inner: MemoryStore,
    held: AtomicBool,
    /// Rung by each commit as it starts waiting.
    waiting: Notify,
    /// Lets one waiting commit go.
    go: Notify,
}

impl Held {
    fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Lets the commit waiting go, and the ones after it through.
    fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.go.notify_one();
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
        self.inner.commit(owner, batch).await
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
        self.inner.renew_lease(run_id, owner, ttl).await
    }

    async fn release_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.inner.release_lease(run_id, owner).await
    }

    async fn find_run(&self, id: &str) -> Result<RunRecord> {
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

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        self.inner.runs(filter).await
    }

    async fn unfinished_runs(&self) -> Result<Vec<Uuid>> {
        self.inner.unfinished_runs().await
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

    async fn items(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<ItemRecord>> {
        self.inner.items(run_id, step_ids).await
    }

    async fn send_command(&self, run_id: Uuid, command: &Command) -> Result<()> {
        self.inner.send_command(run_id, command).await
    }

    async fn send_ruling(&self, run_id: Uuid, ruling: &Command) -> Result<bool> {
        self.inner.send_ruling(run_id, ruling).await
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

    async fn starts_since(
        &self,
        run_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.inner.starts_since(run_id, since).await
    }
}

/// Hands the test its attempt's signs of life and stop, then runs until the test lets it
/// go (or it is stopped).
#[derive(Debug, Default)]
struct Talks {
    ctx: Mutex<Option<(Progress, CancellationToken)>>,
    started: Notify,
    go: Notify,
}

#[async_trait]
impl Executor for Talks {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        *self.ctx.lock().unwrap() = Some((ctx.progress.clone(), ctx.cancel.clone()));
        self.started.notify_one();
        tokio::select! {
            () = self.go.notified() => Outcome::success(json!("talked")),
            () = ctx.cancel.cancelled() => Outcome::failure(ErrorClass::Cancelled, "cancelled"),
        }
    }
}

/// Waits until the wall clock, by which the ledger judges a heartbeat, shows `at`.
async fn until_wall_clock(at: DateTime<Utc>) {
    while let Ok(left) = (at - Utc::now()).to_std() {
        tokio::time::sleep(left).await;
    }
}

#[tokio::test]
async fn an_attempt_that_talked_while_a_commit_waited_is_not_stalled() {
    let store = Arc::new(Held::default());
    let (talks, gated) = (Arc::new(Talks::default()), Arc::new(Gated::default()));
    let engine = Engine::builder_with_store(store.clone())
        .executor("talks", talks.clone())
        .executor("gated", gated.clone())
        .open()
        .await
        .unwrap();
    // Wide enough that the setup before `a` talks never outlasts it, even on a loaded box.
    let heartbeat = Duration::from_secs(2);
    let workflow = json!({"name": "s", "steps": [
        {"id": "a", "executor": "talks", "heartbeat": "2s", "on_stall": "fail"},
        {"id": "b", "executor": "gated"},
        {"id": "c", "executor": "gated"}
    ]});
    let plan = engine.load_str(&workflow.to_string(), "s.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    talks.started.notified().await;
    let (progress, stop) = talks.ctx.lock().unwrap().clone().unwrap();
    while gated.calls.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        gated.started.notified().await;
    }
    // One of b and c ends: the driver's commit of it waits, as on another's lock.
    store.hold();
    gated.go.notify_one();
    store.waiting.notified().await;
    // Meanwhile the other ends (its end is queued for the driver), `a` talks, and its
    // heartbeat's window, counted from before the wait, runs out.
    let window_out = Utc::now() + heartbeat;
    gated.go.notify_one();
    progress.report();
    until_wall_clock(window_out).await;
    // The commit goes; the driver takes the queued end first, and commits its turn.
    store.go.notify_one();
    store.waiting.notified().await;
    assert!(
        !stop.is_cancelled(),
        "a was stalled though it talked while the commit waited"
    );
    store.release();
    talks.go.notify_one();
    handle.wait().await.unwrap();
}
