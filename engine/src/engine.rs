//! The embedding API: an [`Engine`] over one store, which loads workflows and starts,
//! resumes and recovers runs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use self::builder::EngineBuilder;
use self::builder::StoreChoice;
pub use self::driving::LeaseLosses;
use self::driving::{Claim, SharedDriving};
use self::takeover::Continued;
use crate::definition::Workflow;
use crate::error::{self, Error, Result};
use crate::event::Event;
use crate::executor::Executors;
use crate::lease::{self, Lease};
use crate::load::{self, Place};
use crate::nesting;
use crate::plan::Plan;
use crate::report::{RunFilter, RunReport, RunSummary, RunView, StepView};
use crate::scheduler::{Committed, Driver, Judge, Shared, Takeover};
use crate::state::RunState;
use crate::store::{NewRun, RunRecord, Snapshot, Standing, StepRecord, Store, StoreOptions};

/// The default cap on one step's output, serialized: 1 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;

/// How many runs [`Engine::recover`] takes over at once: their takeovers' reads and first
/// commits overlap (the store's writer commits those waiting together), while the plans
/// being loaded at once stay few.
const RECOVER_AT_ONCE: usize = 8;

/// How often a takeover looks again at a run's lease held by another process only to carry
/// out a pause or a cancel ([`Engine::take_lease`]).
const APPLYING_POLL: Duration = Duration::from_millis(50);

/// Most events a run's stream buffers for a slow watcher.
const EVENT_BUFFER: usize = 4096;

/// How many events the stream of a run of `plan` buffers for a slow watcher: enough for
/// any one commit of the run (at most a few events a step, and the run's own), up to
/// [`EVENT_BUFFER`]; that many for a plan that can grow (planners, `for_each` items). The
/// buffer is made and written whole when the run starts: 4,096 slots cost a one-step run
/// ≈ 0.9 ms of CPU, and a margin of 64 (tokio rounds up to a power of two: 128 slots of
/// 136 bytes) 17 KB of every small run's memory, 40% of an idle one's.
fn event_buffer(plan: &Plan) -> usize {
    let steps = plan.steps();
    let grows = (0..steps.len()).any(|step| {
        let node = plan.node(step);
        node.planner || node.for_each.is_some()
    });
    match grows {
        true => EVENT_BUFFER,
        false => (4 * steps.len() + 16).min(EVENT_BUFFER),
    }
}

/// Does `work` on a task of its own and waits for it: a caller that stops waiting does not
/// stop it half way ([`Engine`]'s cancel-safe methods). Its panic is the caller's.
async fn to_the_end<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // The runtime shut down under it.
        Err(_) => Err(Error::ShutDown),
    }
}

/// The engine: loads workflows and runs them durably in one store.
///
/// Built with [`Engine::builder`] (an SQLite file) or [`Engine::builder_with_store`]; cheap
/// to clone and share. Each run it starts or resumes is driven by a task of its own, and
/// never by two at once; [`Engine::shutdown`] stops them all, leaving the runs resumable.
/// Dropping every clone of an engine does not: its runs' tasks go on to their ends on the
/// runtime, holding their leases, as spawned tokio tasks do. Dropping the runtime stops them
/// where they are: their runs stay `running`, their leases held until they expire (the
/// lease's time to live, 30 s by default), when any engine may resume them.
///
/// The methods that start or take over a run ([`start`](Engine::start),
/// [`start_with_id`](Engine::start_with_id), [`resume`](Engine::resume),
/// [`resume_waiting`](Engine::resume_waiting), [`recover`](Engine::recover),
/// [`retry`](Engine::retry)) are cancel-safe: they do their work on a task of their own, so a
/// caller that stops waiting (a timeout, a `select!`) does not stop it half way — a run it
/// recorded or took over is driven to its end as one whose [`RunHandle`] was dropped, never
/// left `running` with nothing driving it.
///
/// See the crate documentation for an example.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Shared>,
    /// The runs this engine drives now: it never drives one twice.
    driving: SharedDriving,
}

impl Engine {
    /// A builder for an engine over the SQLite database at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> EngineBuilder {
        Self::with_store(StoreChoice::Sqlite(StoreOptions::new(path)))
    }

    /// A builder for an engine over `store` (e.g. a [`MemoryStore`](crate::store::MemoryStore)).
    pub fn builder_with_store(store: Arc<dyn Store>) -> EngineBuilder {
        Self::with_store(StoreChoice::Given(store))
    }

    fn with_store(store: StoreChoice) -> EngineBuilder {
        EngineBuilder::new(store)
    }

    /// The registered executors: what a workflow may use, and the parameters each takes
    /// (what [`Engine::load_str`] checks a workflow against).
    pub fn executors(&self) -> &Executors {
        &self.inner.executors
    }

    /// The store, for reading what the engine's read model does not show. A write through
    /// it skips the engine's checks (docs/architecture.md): send commands with
    /// [`Engine::send`].
    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    /// Loads and compiles a workflow from its JSON text against this engine's executors;
    /// `origin` names it in messages.
    pub fn load_str(&self, source: &str, origin: &str) -> Result<Plan> {
        Ok(load::load_str(source, origin, self.executors())?)
    }

    /// Loads and compiles the workflow file at `path` against this engine's executors.
    pub fn load_file(&self, path: &Path) -> Result<Plan> {
        Ok(load::load_file(path, self.executors())?)
    }

    /// Checks and compiles a workflow built in Rust, exactly as a file would be.
    pub fn load(&self, workflow: &Workflow) -> Result<Plan> {
        let source =
            serde_json::to_string(workflow).map_err(|error| Error::Bug(error.to_string()))?;
        let origin = format!("workflow {}", workflow.name);
        let mut error = match load::load_str(&source, &origin, self.executors()) {
            Ok(plan) => return Ok(plan),
            Err(error) => error,
        };
        // A line and column are of text the caller never saw (one problem has them: the
        // workflow nests too deep), and a pointer to the place would be 128 levels long:
        // the problem is the workflow's, named without a place.
        for problem in &mut error.problems {
            if let Place::LineCol { .. } = problem.place {
                problem.place = Place::Pointer(String::new());
            }
        }
        Err(error.into())
    }

    /// Starts a run of `plan` with `input` under a new id: checks the input and the
    /// executors, records the run, drives it.
    pub async fn start(&self, plan: Plan, input: Value) -> Result<RunHandle> {
        let engine = self.clone();
        let id = Uuid::now_v7();
        to_the_end(async move { engine.create(id, Arc::new(plan), input, None).await }).await
    }

    /// Starts a run under the caller's `id`, idempotently: when a run with this id exists
    /// already with the same workflow and input (a start retried after a crash), it is
    /// resumed instead (or [`Error::Finished`] reports how it ended); with another workflow
    /// or input, [`Error::RunExists`].
    pub async fn start_with_id(&self, id: Uuid, plan: Plan, input: Value) -> Result<RunHandle> {
        let engine = self.clone();
        to_the_end(async move { engine.start_with_id_now(id, plan, input).await }).await
    }

    /// What [`Engine::start_with_id`] does, on the caller's task.
    async fn start_with_id_now(&self, id: Uuid, plan: Plan, input: Value) -> Result<RunHandle> {
        let plan = Arc::new(plan);
        let snapshot = Snapshot::of(Arc::clone(&plan))?;
        let hash = snapshot.hash().to_owned();
        match self.inner.store.find_run(&id.to_string()).await {
            Ok(existing) => self.start_existing(existing, &hash, &input).await,
            Err(Error::UnknownRun(_)) => {
                match self.create(id, plan, input.clone(), Some(snapshot)).await {
                    // Another engine created the run since it was looked for: a start of
                    // the same run raced this one.
                    Err(Error::RunExists(_)) => {
                        let existing = self.inner.store.find_run(&id.to_string()).await?;
                        self.start_existing(existing, &hash, &input).await
                    }
                    created => created,
                }
            }
            Err(error) => Err(error),
        }
    }

    /// What [`Engine::start_with_id`] of the run `existing` with the workflow whose snapshot
    /// hashes to `hash` and `input` does: resumes the run if they are the run's own,
    /// [`Error::RunExists`] if not.
    async fn start_existing(
        &self,
        existing: RunRecord,
        hash: &str,
        input: &Value,
    ) -> Result<RunHandle> {
        let id = existing.id;
        if existing.workflow_hash == hash && self.inner.store.input(id).await? == *input {
            self.resume(&id.to_string()).await
        } else {
            Err(Error::RunExists(id))
        }
    }

    /// Records a new run `id` of `plan` (its definition snapshot, if measured already) and
    /// drives it.
    async fn create(
        &self,
        id: Uuid,
        plan: Arc<Plan>,
        input: Value,
        snapshot: Option<Snapshot>,
    ) -> Result<RunHandle> {
        if self.inner.shutdown.is_cancelled() {
            return Err(Error::ShutDown);
        }
        check_input(&plan, &input)?;
        let origin = format!("workflow {}", plan.workflow().name);
        load::check_executors(&plan, self.executors(), &origin)?;
        let definition = match snapshot {
            Some(snapshot) => snapshot,
            None => Snapshot::of(Arc::clone(&plan))?,
        };
        let run = NewRun {
            id,
            workflow_name: plan.workflow().name.clone(),
            definition,
            input: Arc::new(input.to_string()),
            guard: match &self.inner.guard {
                Some(guard) => Some(error::snapshot(guard.as_ref(), id)?),
                None => None,
            },
            steps: plan.steps().iter().map(|step| step.id.clone()).collect(),
            max_output_bytes: self.inner.max_output_bytes,
            cwd: self.inner.cwd.clone(),
        };
        let steps = plan
            .steps()
            .iter()
            .map(|step| StepRecord::pending(&step.id))
            .collect();
        let guard = self.inner.guard.clone();
        let judge = Judge::new(guard, run.guard.as_deref(), run.cwd.clone());
        let rate_limits = error::rate_limits(judge.guard.as_deref(), Some(run.id))?;
        let run = Takeover {
            run: Committed {
                run_id: run.id,
                plan,
                input,
                state: RunState::Pending,
                created_at: Utc::now(),
                deadline: None,
                steps,
                approvals: Vec::new(),
                rate_limits,
                recent_starts: Vec::new(),
                plans: Vec::new(),
                superseded: Vec::new(),
                items: Vec::new(),
                stalls: Vec::new(),
                commands: Vec::new(),
                executors: self.executors().clone(),
            },
            judge,
            max_output_bytes: run.max_output_bytes,
            creation: Some(run),
            redrive: None,
            continued_at: None,
        };
        let claim = self.claim(id)?;
        self.drive(run, claim).await
    }

    /// Resumes the unfinished run `run_id` (or a unique prefix of it) from its committed state:
    /// a person's "continue", which un-pauses a paused run and overrules a pause recorded
    /// before it that no engine carried out (its engine stopped first).
    ///
    /// A run this engine already drives is refused ([`Error::AlreadyDriving`]): nothing is
    /// started twice.
    pub async fn resume(&self, run_id: &str) -> Result<RunHandle> {
        let continued = Continued {
            at: Utc::now(),
            waited: false,
        };
        let (engine, run_id) = (self.clone(), run_id.to_owned());
        to_the_end(async move { engine.take_over(&run_id, Some(continued)).await }).await
    }

    /// The plan of run `run_id` (or a unique prefix of it) as it stands: its stored
    /// workflow, grown by the plans its planners added.
    pub async fn plan(&self, run_id: &str) -> Result<Plan> {
        let record = self.inner.store.find_run(run_id).await?;
        Ok(self.grown_plan(&record).await?.0)
    }

    /// Like [`Engine::resume`], but waits for a live lease to be released or expire. The
    /// person asked to continue the run when the wait began: a pause that the engine driving
    /// the run carried out after that holds ([`Error::PausedSince`]), as a pause recorded
    /// after it does, and so does one carried out while it waits for a lease held only to
    /// carry out a pause (where [`Engine::resume`], the word of a person now, continues the
    /// run).
    pub async fn resume_waiting(&self, run_id: &str) -> Result<RunHandle> {
        let continued = Continued {
            at: Utc::now(),
            waited: true,
        };
        loop {
            let (engine, run) = (self.clone(), run_id.to_owned());
            let taken = to_the_end(async move { engine.take_over(&run, Some(continued)).await });
            match taken.await {
                Err(Error::LeaseHeld { expires, .. }) => {
                    let until_expiry = (expires - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(
                        until_expiry
                            .min(Duration::from_secs(1))
                            .max(Duration::from_millis(50)),
                    )
                    .await;
                }
                other => return other,
            }
        }
    }

    /// Resumes every unfinished run whose lease has expired or is void; skips the others,
    /// the runs this engine drives already, and those paused once listed (a recovery never
    /// continues a paused run), but ends, failed with class `timeout`, a paused run whose
    /// deadline has passed. The runs are taken over eight at a time.
    ///
    /// One entry per run it took over or could not, oldest run first: the run's id, and its
    /// handle or why it could not take the run over. A run it cannot judge (a stored policy
    /// that cannot be restored) is refused before anything is written to it, and the others
    /// are taken over all the same: one bad run holds no other run's recovery hostage, and
    /// no run is taken over and then left.
    pub async fn recover(&self) -> Result<Vec<(Uuid, Result<RunHandle>)>> {
        let engine = self.clone();
        to_the_end(async move { engine.recover_now().await }).await
    }

    /// What [`Engine::recover`] does, on the caller's task.
    async fn recover_now(&self) -> Result<Vec<(Uuid, Result<RunHandle>)>> {
        let now = Utc::now();
        let unfinished = self.inner.store.unfinished_runs().await?;
        let unfinished = unfinished.into_iter().map(|run_id| (run_id, None));
        // A paused run whose deadline has passed can only end (failed, timeout): ending it is
        // no continuing, and it would otherwise wait for a person's `resume` to end it.
        let ending = Continued {
            at: now,
            waited: false,
        };
        let timed_out = self.inner.store.paused_past_deadline(now).await?;
        let timed_out = timed_out.into_iter().map(|run_id| (run_id, Some(ending)));
        let mut resumed = futures::stream::iter(unfinished.chain(timed_out))
            .map(|(run_id, continued)| async move {
                (run_id, self.take_over(&run_id.to_string(), continued).await)
            })
            .buffered(RECOVER_AT_ONCE);
        let mut recovered = Vec::new();
        while let Some((run_id, result)) = resumed.next().await {
            match result {
                Err(
                    Error::LeaseHeld { .. }
                    | Error::Finished(_)
                    | Error::AlreadyDriving(_)
                    | Error::PausedSince { .. },
                ) => {
                    tracing::info!(%run_id, "skipped: driven already, paused meanwhile, or finished");
                }
                result => recovered.push((run_id, result)),
            }
        }
        Ok(recovered)
    }

    /// Stops driving every run: attempts are cancelled and recorded as interrupted, leases
    /// released. The runs stay resumable; this engine starts nothing more. Each run's
    /// [`RunHandle::wait`] returns within 30 s, an executor that ignores its cancellation
    /// abandoned then (docs/executors.md, "Cancellation").
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Stops starting attempts: each run this engine drives stops unfinished (resumable,
    /// its lease released) once its attempts in flight have finished, and a run it has not
    /// taken over yet (one whose lease it waits for included) is refused with
    /// [`Error::ShutDown`], left as it was. A later [`Engine::shutdown`] cancels those
    /// attempts.
    pub fn drain(&self) {
        self.inner.drain.cancel();
    }

    /// How many leases this engine has found lost so far, as a mark for
    /// [`Engine::renew_leases`]: taken before the program is suspended.
    pub fn lease_losses(&self) -> LeaseLosses {
        driving::losses(&self.driving)
    }

    /// Renews now the lease of every run this engine drives, as its heartbeat does every
    /// third of the leases' time to live; returns whether it still held every one: no lease
    /// found lost since `since`, by this renewal or by the heartbeat's (whose thread, woken
    /// by the same continuation, may find a loss first). The driver of a run whose lease is
    /// lost (another engine took the run over) or could not be renewed stops it, as when its
    /// heartbeat finds so: its attempts cancelled. For a program continued after a
    /// suspension (Ctrl-Z then `fg`), which may have outlived its leases.
    ///
    /// ```no_run
    /// # async fn suspend(engine: &cairn_engine::Engine) {
    /// let before = engine.lease_losses();
    /// // … the program is stopped, then continued …
    /// if !engine.renew_leases(before).await {
    ///     engine.shutdown(); // another engine took a run over meanwhile
    /// }
    /// # }
    /// ```
    pub async fn renew_leases(&self, since: LeaseLosses) -> bool {
        driving::renew_now(&self.driving, since).await
    }

    /// The runs in the store that `filter` admits, newest first
    /// ([`RunFilter::default`]: every one).
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        self.inner.store.runs(filter).await
    }

    /// The run `run_id` (or a unique prefix of it) and its steps as they stand, each
    /// `for_each` step with its items.
    pub async fn view(&self, run_id: &str) -> Result<RunView> {
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        let input = store.input(record.id).await?;
        let steps = store.steps(record.id).await?;
        let mut run = RunView::new(record, input, steps);
        let ids: Vec<&str> = run.steps.iter().map(|step| step.id.as_str()).collect();
        let items = store.items(run.id, &ids).await?;
        StepView::with_items(&mut run.steps, items);
        Ok(run)
    }

    /// [`Engine::view`] without the steps' outputs (each `None`) and items, for whoever shows
    /// the run: a big run's outputs are hundreds of megabytes.
    pub async fn view_without_outputs(&self, run_id: &str) -> Result<RunView> {
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        let input = store.input(record.id).await?;
        let steps = store.steps_without_outputs(record.id).await?;
        Ok(RunView::new(record, input, steps))
    }

    /// The steps of the run `run_id` (or a unique prefix of it) as they stand, without their
    /// outputs (each `None`), and without the run's input: for whoever shows their states.
    pub async fn steps_without_outputs(&self, run_id: &str) -> Result<Vec<StepView>> {
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        let steps = store.steps_without_outputs(record.id).await?;
        Ok(steps.into_iter().map(StepView::from).collect())
    }

    /// Every committed transition of the run `run_id` (or a unique prefix of it), in order.
    pub async fn history(&self, run_id: &str) -> Result<Vec<Event>> {
        let record = self.inner.store.find_run(run_id).await?;
        self.inner.store.history(record.id).await
    }

    /// Marks `run_id` as driven by this engine until the returned claim is dropped.
    fn claim(&self, run_id: Uuid) -> Result<Claim> {
        driving::claim(&self.driving, run_id)
    }

    /// Takes the lease of `run_id` for this engine: how the run stood then, or
    /// [`Error::LeaseHeld`] if a live engine drives it.
    ///
    /// A lease taken only to carry out a pause or a cancel ([`LeaseHolder::applies_commands`]:
    /// another process applying them to a run no engine drives, ≈ 0.3 s for 100,000 steps) is
    /// waited for, looked at every [`APPLYING_POLL`], up to the expiry it had when first
    /// found; the wait is logged once. Then the run is judged as it stands: paused or
    /// cancelled meanwhile. An engine that drains or shuts down (before or during the wait)
    /// takes no lease: [`Error::ShutDown`], nothing written.
    ///
    /// [`LeaseHolder::applies_commands`]: crate::LeaseHolder::applies_commands
    async fn take_lease(&self, run_id: Uuid) -> Result<Standing> {
        let inner = &self.inner;
        let mut waits_until = None;
        loop {
            if self.stops() {
                return Err(Error::ShutDown);
            }
            let leased = (inner.store)
                .lease_run(run_id, &inner.holder, inner.lease_ttl, &lease::is_void)
                .await?;
            let Lease { holder, expires } = match leased {
                Ok(standing) => return Ok(standing),
                Err(held) => held,
            };
            let until = match waits_until {
                _ if !holder.applies_commands() => None,
                Some(until) => Some(until),
                None => {
                    let (pid, host, owner) = (holder.pid, &holder.host, &holder.owner);
                    tracing::warn!(
                        %run_id,
                        "waiting for pid {pid} on {host} to give the run's lease back: it is \
                         carrying out a pause or a cancel sent to the run (lease {owner}, until \
                         {expires})"
                    );
                    Some(*waits_until.insert(expires))
                }
            };
            let left = until.and_then(|until| (until - Utc::now()).to_std().ok());
            let Some(left) = left else {
                return Err(Error::LeaseHeld {
                    run: run_id,
                    holder,
                    expires,
                });
            };
            tokio::select! {
                () = tokio::time::sleep(left.min(APPLYING_POLL)) => {}
                () = inner.drain.cancelled() => {}
                () = inner.shutdown.cancelled() => {}
            }
        }
    }

    /// Whether this engine starts nothing more: it drains ([`Engine::drain`]) or has shut
    /// down ([`Engine::shutdown`]).
    fn stops(&self) -> bool {
        self.inner.drain.is_cancelled() || self.inner.shutdown.is_cancelled()
    }

    /// Takes over `run`: commits its first turn (recording it, if it is new), then drives
    /// the rest in a task of its own, which holds `claim` until the driver stops.
    async fn drive(&self, run: Takeover, claim: Claim) -> Result<RunHandle> {
        let (run_id, new) = (run.run.run_id, run.creation.is_some());
        // Drained or shut down since the lease was taken: the run is left as it was found
        // (a new one is not recorded), nothing started.
        if self.stops() {
            return Err(match new {
                true => Error::ShutDown,
                false => self.give_up(run_id, Error::ShutDown).await,
            });
        }
        let (events, receiver) = broadcast::channel(event_buffer(&run.run.plan));
        // A new run's lease is taken by its first commit, which comes after this; a run taken
        // over had its lease taken before its plan was compiled, when is not kept.
        let leased_at = new.then(std::time::Instant::now);
        let first_turn = async {
            let mut driver = Driver::new(Arc::clone(&self.inner), run, events, claim.bell())?;
            // Commands sent while no engine drove the run come before anything starts.
            driver.read_commands().await?;
            driver.turn().await?;
            Ok(driver)
        };
        match first_turn.await {
            Ok(driver) => {
                let engine = self.clone();
                Ok(RunHandle {
                    id: run_id,
                    events: receiver,
                    task: tokio::spawn(async move {
                        let report = driver.drive(claim.heartbeat(leased_at)).await;
                        drop(claim);
                        engine.settle_left(report?).await
                    }),
                })
            }
            // A new run's failed first commit wrote nothing, the lease included.
            Err(error) if new => Err(error),
            Err(error) => Err(self.give_up(run_id, error).await),
        }
    }

    /// Gives back the lease of a run this engine cannot drive after all, as it found it if
    /// it committed nothing to the run ([`Store::give_back_lease`]), and returns why.
    async fn give_up(&self, run_id: Uuid, error: Error) -> Error {
        let owner = &self.inner.holder.owner;
        if let Err(release) = self.inner.store.give_back_lease(run_id, owner).await {
            tracing::warn!(%run_id, %release, "could not release the lease");
        }
        error
    }
}

/// A run being driven: its id, its events, and its end.
pub struct RunHandle {
    id: Uuid,
    events: broadcast::Receiver<Event>,
    task: JoinHandle<Result<RunReport>>,
}

impl fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl RunHandle {
    /// The run's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The run's committed transitions, as they happen. The first call gets the events
    /// since the run was started or resumed; later calls get the events from then on.
    ///
    /// The stream is for watching, not for keeping: it buffers what any one commit of the
    /// run makes (a few events a step; 4,096 for a run that can grow), and a receiver that
    /// falls further behind — one read only after [`RunHandle::wait`], or a slow one beside
    /// a run that retries a step many times — gets [`RecvError::Lagged`] with the number it
    /// missed, then the newer events. Read [`Engine::history`] for every event, from the
    /// store.
    ///
    /// [`RecvError::Lagged`]: tokio::sync::broadcast::error::RecvError::Lagged
    pub fn events(&mut self) -> broadcast::Receiver<Event> {
        let later = self.events.resubscribe();
        std::mem::replace(&mut self.events, later)
    }

    /// Waits until the run ends, or stops unfinished because the engine shut down.
    pub async fn wait(self) -> Result<RunReport> {
        self.task
            .await
            .map_err(|error| Error::Bug(format!("run driver: {error}")))?
    }
}

/// Checks `input` against the workflow's `input` schema (what [`Engine::start`] does
/// first), and that it nests at most 128 levels of arrays and objects, as every value a run
/// holds does.
pub fn check_input(plan: &Plan, input: &Value) -> Result<()> {
    if let Err(too_deep) = nesting::check(input, 0) {
        return Err(Error::Input(format!("  input: {too_deep}")));
    }
    let Some(schema) = &plan.workflow().input else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema)
        .map_err(|error| Error::Input(format!("the schema itself: {error}")))?;
    let problems: Vec<String> = validator
        .iter_errors(input)
        .map(|error| format!("  input{}: {error}", error.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Input(problems.join("\n")))
    }
}

mod builder;
mod control;
mod driving;
mod takeover;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::Node;
    use crate::executor::test_support::accepting_anything;
    use crate::store::held::Held;

    fn plan(steps: serde_json::Value) -> Plan {
        let workflow = json!({"name": "t", "steps": steps});
        load::load_str(
            &workflow.to_string(),
            "t.json",
            &accepting_anything(&["noop"]),
        )
        .unwrap()
    }

    #[test]
    fn a_small_fixed_plan_buffers_a_few_events_a_step_and_a_growing_one_the_most() {
        let one = plan(json!([{"id": "a", "executor": "noop"}]));
        assert_eq!(event_buffer(&one), 4 + 16);
        let planner = plan(json!([{"id": "a", "executor": "noop", "planner": true}]));
        assert_eq!(event_buffer(&planner), EVENT_BUFFER);
        let items = plan(json!([{"id": "a", "executor": "noop", "for_each": "${{ [1, 2] }}"}]));
        assert_eq!(event_buffer(&items), EVENT_BUFFER);
        let many: Vec<_> = (0..2000)
            .map(|i| json!({"id": format!("s{i}"), "executor": "noop"}))
            .collect();
        let many = plan(json!([{"parallel": many}]));
        assert_eq!(event_buffer(&many), EVENT_BUFFER);
    }

    #[test]
    fn an_input_nested_deeper_than_a_run_holds_is_refused() {
        let one = plan(json!([{"id": "a", "executor": "noop"}]));
        let nested = |levels: usize| (1..levels).fold(json!([]), |inner, _| json!([inner]));
        assert!(check_input(&one, &nested(128)).is_ok());
        let Err(Error::Input(message)) = check_input(&one, &nested(129)) else {
            panic!("a 129-level input is refused as input")
        };
        assert!(
            message.contains("nested deeper than 128 levels"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_start_with_an_id_created_since_it_looked_answers_as_a_start_of_that_run() {
        let store = Arc::new(Held::default());
        let engine = Engine::builder_with_store(store.clone())
            .executors(accepting_anything(&["noop"]))
            .open()
            .await
            .unwrap();
        let workflow = json!({"name": "t", "steps": [{"id": "a", "executor": "noop"}]});
        let plan = || load::load_str(&workflow.to_string(), "t.json", engine.executors()).unwrap();
        let (id, input) = (Uuid::now_v7(), json!({"n": 1}));
        let handle = engine.start_with_id(id, plan(), input.clone()).await;
        let report = handle.unwrap().wait().await.unwrap();
        // Another start of the same run looked for it before it was created.
        store.read_stale();
        match engine.start_with_id(id, plan(), input).await {
            Err(Error::Finished(finished)) => assert_eq!(*finished, report),
            other => panic!("expected Finished, got {other:?}"),
        }
        // With another input, the id is taken.
        store.read_stale();
        let other = engine.start_with_id(id, plan(), json!({"n": 2})).await;
        assert!(
            matches!(other, Err(Error::RunExists(taken)) if taken == id),
            "{other:?}"
        );
    }

    #[tokio::test]
    async fn a_workflow_built_in_rust_nested_too_deep_is_refused_without_a_place_in_hidden_text() {
        let engine = Engine::builder_with_store(Arc::new(crate::store::MemoryStore::new()))
            .executors(accepting_anything(&["noop"]))
            .open()
            .await
            .unwrap();
        let nested = (1..200).fold(json!([]), |inner, _| json!([inner]));
        let workflow = Workflow::new("w", vec![Node::step("a", "noop", [("output", nested)])]);
        let error = engine.load(&workflow).unwrap_err().to_string();
        assert_eq!(
            error,
            "workflow w: JSON nested 128 levels deep or more (the most is 127)"
        );
    }
}
