//! The embedding API: an [`Engine`] over one store, which starts, resumes and recovers runs.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::event::Event;
use crate::executor::{Executor, Executors};
use crate::lease::{self, LEASE_TTL};
use crate::load::{self, LoadError};
use crate::plan::Plan;
use crate::scheduler::{Driver, Takeover};
use crate::state::RunState;
use crate::store::{
    Durability, LeaseAttempt, LeaseHolder, NewRun, StepRecord, Store, StoreError, StoreOptions,
};

/// The default cap on one step's output, serialized: 1 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;

/// How many events a run's stream buffers for a slow watcher.
const EVENT_BUFFER: usize = 4096;

/// What can go wrong starting, resuming or driving a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The workflow (a file, or a run's stored snapshot) is invalid.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run input does not satisfy the workflow's input schema.
    #[error("the input does not match the workflow's `input` schema:\n{0}")]
    Input(String),
    /// Another live engine drives the run.
    #[error(
        "run {run} is being driven by pid {pid} on {host} (lease {owner}) until {expires}; \
         wait for it, or pass --wait",
        pid = holder.pid, host = holder.host, owner = holder.owner
    )]
    LeaseHeld {
        /// The run.
        run: Uuid,
        /// Who holds it.
        holder: LeaseHolder,
        /// Until when, unless renewed.
        expires: DateTime<Utc>,
    },
    /// The run has already ended; nothing to resume.
    #[error("run {} already {}", .0.id, .0.state)]
    Finished(RunReport),
    /// Another engine took over the run while this one drove it.
    #[error("run {0}: lost its lease to another engine; it stopped driving the run")]
    LeaseLost(Uuid),
    /// An internal invariant broke (a bug in cairn).
    #[error("internal error (a bug in cairn, please report it): {0}")]
    Bug(String),
}

/// How a run ended (or stopped).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The run.
    pub id: Uuid,
    /// Its state: terminal, or `running`/`paused` when it stopped unfinished.
    pub state: RunState,
    /// Its output, when it succeeded: the outputs of its sink steps by step id.
    pub output: Option<Value>,
    /// Why it failed or stopped.
    pub error: Option<String>,
}

/// Configures and opens an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    store: StoreOptions,
    executors: Executors,
    max_output_bytes: usize,
    lease_ttl: Duration,
}

impl EngineBuilder {
    /// Registers `executor` under `name`.
    pub fn executor(mut self, name: impl Into<String>, executor: Arc<dyn Executor>) -> Self {
        self.executors.insert(name.into(), executor);
        self
    }

    /// Registers every executor of `executors`.
    pub fn executors(mut self, executors: Executors) -> Self {
        self.executors.extend(executors);
        self
    }

    /// How hard commits are pushed to disk.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.store.durability = durability;
        self
    }

    /// How long to wait for another process's database lock before giving up (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.store.busy_timeout = timeout;
        self
    }

    /// Caps one step's serialized output (default 1 MiB); a bigger output fails the step.
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// How long a run's lease lasts unless renewed (default 30 s).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Opens the store (creating it and bringing its schema up to date).
    pub async fn open(self) -> Result<Engine, EngineError> {
        let store = Store::open(&self.store).await?;
        Ok(Engine {
            inner: Arc::new(Inner {
                store,
                executors: self.executors,
                holder: lease::this_process(),
                shutdown: CancellationToken::new(),
                max_output_bytes: self.max_output_bytes,
                lease_ttl: self.lease_ttl,
            }),
        })
    }
}

/// The engine: runs workflows durably in one SQLite store.
///
/// Built with [`Engine::builder`] (database, executors, durability); cheap to clone and
/// share. Each run it starts or resumes is driven by a task of its own; [`Engine::shutdown`]
/// stops them all, leaving the runs resumable. See the crate documentation for an example.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What every driver of this engine shares.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) executors: Executors,
    pub(crate) holder: LeaseHolder,
    pub(crate) shutdown: CancellationToken,
    pub(crate) max_output_bytes: usize,
    pub(crate) lease_ttl: Duration,
}

impl Engine {
    /// A builder for an engine over the SQLite database at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> EngineBuilder {
        EngineBuilder {
            store: StoreOptions::new(path),
            executors: Executors::new(),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            lease_ttl: LEASE_TTL,
        }
    }

    /// The registered executors: what a workflow may use, and the parameters each takes
    /// (give them to the [loader](crate::load)).
    pub fn executors(&self) -> &Executors {
        &self.inner.executors
    }

    /// The store, for reading runs and their history.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Starts a run of `plan` with `input`: checks the input, records the run, drives it.
    pub async fn start(&self, plan: Plan, input: Value) -> Result<RunHandle, EngineError> {
        check_input(&plan, &input)?;
        let definition = serde_json::to_string(plan.workflow())
            .map_err(|error| EngineError::Bug(error.to_string()))?;
        let run = NewRun {
            id: Uuid::now_v7(),
            workflow_name: plan.workflow().name.clone(),
            workflow_hash: format!("{:x}", Sha256::digest(definition.as_bytes())),
            definition,
            input,
            steps: plan.steps().iter().map(|step| step.id.clone()).collect(),
        };
        let steps = plan
            .steps()
            .iter()
            .map(|step| StepRecord::pending(&step.id))
            .collect();
        let run = Takeover {
            run_id: run.id,
            plan: Arc::new(plan),
            input: run.input.clone(),
            state: RunState::Pending,
            created_at: Utc::now(),
            steps,
            creation: Some(run),
        };
        self.drive(run).await
    }

    /// Resumes the unfinished run `run_id` (or a unique prefix of it) from its committed state.
    pub async fn resume(&self, run_id: &str) -> Result<RunHandle, EngineError> {
        let record = self.inner.store.run(run_id).await?;
        if record.state.is_terminal() {
            return Err(EngineError::Finished(RunReport {
                id: record.id,
                state: record.state,
                output: record.output,
                error: record.error,
            }));
        }
        self.take_lease(record.id).await?;
        let origin = format!("run {} (its stored workflow)", record.id);
        let takeover = async {
            let plan = load::load_snapshot(&record.definition, &origin, self.executors())?;
            let steps = self.inner.store.steps(record.id).await?;
            Ok(Takeover {
                run_id: record.id,
                plan: Arc::new(plan),
                input: record.input,
                state: record.state,
                created_at: record.created_at,
                steps,
                creation: None,
            })
        };
        match takeover.await {
            Ok(run) => self.drive(run).await,
            Err(error) => Err(self.give_up(record.id, error).await),
        }
    }

    /// Like [`Engine::resume`], but waits for a live lease to be released or expire.
    pub async fn resume_waiting(&self, run_id: &str) -> Result<RunHandle, EngineError> {
        loop {
            match self.resume(run_id).await {
                Err(EngineError::LeaseHeld { expires, .. }) => {
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

    /// Resumes every unfinished run whose lease has expired or is void; skips the others.
    pub async fn recover(&self) -> Result<Vec<RunHandle>, EngineError> {
        let mut handles = Vec::new();
        for run_id in self.inner.store.unfinished_runs().await? {
            match self.resume(&run_id.to_string()).await {
                Ok(handle) => handles.push(handle),
                Err(EngineError::LeaseHeld { .. } | EngineError::Finished(_)) => {
                    tracing::info!(%run_id, "skipped: driven by another engine or already finished");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(handles)
    }

    /// Stops driving every run: attempts are cancelled and recorded as interrupted, leases
    /// released. The runs stay resumable.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    async fn take_lease(&self, run_id: Uuid) -> Result<(), EngineError> {
        let inner = &self.inner;
        match inner
            .store
            .acquire_lease(run_id, &inner.holder, inner.lease_ttl, lease::is_void)
            .await?
        {
            LeaseAttempt::Acquired => Ok(()),
            LeaseAttempt::Held { holder, expires } => Err(EngineError::LeaseHeld {
                run: run_id,
                holder,
                expires,
            }),
        }
    }

    /// Takes over `run`: commits its first turn (recording it, if it is new), then drives
    /// the rest in a task of its own.
    async fn drive(&self, run: Takeover) -> Result<RunHandle, EngineError> {
        let (run_id, new) = (run.run_id, run.creation.is_some());
        let (events, receiver) = broadcast::channel(EVENT_BUFFER);
        let first_turn = async {
            let mut driver = Driver::new(Arc::clone(&self.inner), run, events)?;
            driver.turn().await?;
            Ok(driver)
        };
        match first_turn.await {
            Ok(driver) => Ok(RunHandle {
                id: run_id,
                events: receiver,
                task: tokio::spawn(driver.drive()),
            }),
            // A new run's failed first commit wrote nothing, the lease included.
            Err(error) if new => Err(error),
            Err(error) => Err(self.give_up(run_id, error).await),
        }
    }

    /// Releases the lease of a run this engine cannot drive after all, and returns why.
    async fn give_up(&self, run_id: Uuid, error: EngineError) -> EngineError {
        match self
            .inner
            .store
            .release_lease(run_id, &self.inner.holder.owner)
            .await
        {
            Ok(()) => error,
            Err(release) => {
                tracing::warn!(%run_id, %release, "could not release the lease");
                error
            }
        }
    }
}

/// A run being driven: its id, its events, and its end.
pub struct RunHandle {
    id: Uuid,
    events: broadcast::Receiver<Event>,
    task: JoinHandle<Result<RunReport, EngineError>>,
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

    /// The run's committed transitions, as they happen. The first call gets every event
    /// since the run was started or resumed; later calls get the events from then on.
    pub fn events(&mut self) -> broadcast::Receiver<Event> {
        let later = self.events.resubscribe();
        std::mem::replace(&mut self.events, later)
    }

    /// Waits until the run ends, or stops unfinished because the engine shut down.
    pub async fn wait(self) -> Result<RunReport, EngineError> {
        self.task
            .await
            .map_err(|error| EngineError::Bug(format!("run driver: {error}")))?
    }
}

/// Checks `input` against the workflow's `input` schema (what [`Engine::start`] does first).
pub fn check_input(plan: &Plan, input: &Value) -> Result<(), EngineError> {
    let Some(schema) = &plan.workflow().input else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema)
        .map_err(|error| EngineError::Input(format!("the schema itself: {error}")))?;
    let problems: Vec<String> = validator
        .iter_errors(input)
        .map(|error| {
            let place = error.instance_path().to_string();
            format!(
                "  input{}: {error}",
                if place.is_empty() {
                    String::new()
                } else {
                    place
                }
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Input(problems.join("\n")))
    }
}
