//! The scheduler: drives one run from its committed state to the end.
//!
//! One loop per run. Each turn it takes every attempt that finished since the last turn,
//! works out the transitions they cause (succeeded/failed/retry, dependents ready or
//! skipped), picks the ready steps that fit under the limits, commits all of that in one
//! transaction, and only then starts the picked steps. So a step's output is durable before
//! any step that reads it starts, and concurrent transitions share one commit.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::definition::{Backoff, Retry};
use crate::engine::Inner;
use crate::error::Error as EngineError;
use crate::event::Event;
use crate::executor::{Action, ErrorClass, ExecContext, Executor, Outcome, Usage};
use crate::expr::{self, Scope};
use crate::plan::{Plan, StepIndex};
use crate::report::RunReport;
use crate::state::{Batch, RunState, RunTransition, StepState, StepTransition, Transition};
use crate::store::{NewRun, StepRecord};

/// How long past its deadline an executor may take to wind down before the engine gives up on it.
const DEADLINE_GRACE: Duration = Duration::from_secs(30);

/// The in-memory mirror of one step's committed state.
#[derive(Debug, Clone)]
struct Slot {
    state: StepState,
    attempt: u32,
    /// 0 while the step runs its own `with`; k while it runs its k-th fallback.
    fallback: u32,
    output: Option<Value>,
    error: Option<String>,
    wake_at: Option<DateTime<Utc>>,
    usage: Usage,
}

/// One finished attempt, as reported by its task.
#[derive(Debug)]
struct Completion {
    step: StepIndex,
    outcome: Outcome,
}

/// An attempt that is committed as `running` and waits to be spawned.
#[derive(Debug)]
struct Start {
    step: StepIndex,
    executor: Arc<dyn Executor>,
    actions: Vec<Action>,
    for_each: bool,
    item_limit: usize,
    deadline: Option<Instant>,
}

/// A run as a driver takes it over: what it runs and where it stands.
#[derive(Debug)]
pub(crate) struct Takeover {
    pub(crate) run_id: Uuid,
    pub(crate) plan: Arc<Plan>,
    pub(crate) input: Value,
    pub(crate) state: RunState,
    pub(crate) created_at: DateTime<Utc>,
    /// The committed state of every step of the plan.
    pub(crate) steps: Vec<StepRecord>,
    /// For a new run: the record to create with the first commit.
    pub(crate) creation: Option<NewRun>,
}

/// Drives one run. Built by the engine, consumed by [`Driver::drive`].
#[derive(Debug)]
pub(crate) struct Driver {
    engine: Arc<Inner>,
    run_id: Uuid,
    plan: Arc<Plan>,
    input: Value,
    run_state: RunState,
    slots: Vec<Slot>,
    /// Per step: how many of its dependencies have not succeeded yet.
    unmet: Vec<usize>,
    ready: VecDeque<StepIndex>,
    running: usize,
    group_running: HashMap<String, u32>,
    retry_waiting: usize,
    unfinished: usize,
    batch: Batch,
    starts: Vec<Start>,
    /// The running attempts, each a task of its own so that it progresses while the driver
    /// commits.
    tasks: JoinSet<Completion>,
    events: broadcast::Sender<Event>,
    cancel: CancellationToken,
    /// Cancels the running attempts (a child of `cancel`).
    attempts: CancellationToken,
    /// When the run times out (`limits.timeout` after it was created).
    deadline: Option<Instant>,
    /// The run's output and error as last committed.
    outcome: (Option<Value>, Option<(ErrorClass, String)>),
    /// A new run's record, written with the first commit.
    creation: Option<NewRun>,
}

impl Driver {
    /// A driver that takes over `run` from its committed state.
    pub(crate) fn new(
        engine: Arc<Inner>,
        run: Takeover,
        events: broadcast::Sender<Event>,
    ) -> Result<Driver, EngineError> {
        let Takeover {
            run_id,
            plan,
            input,
            state: run_state,
            created_at,
            steps: records,
            creation,
        } = run;
        let mut stored: Vec<Option<Slot>> = vec![None; plan.steps().len()];
        for record in records {
            let index = plan.index_of(&record.id).ok_or_else(|| {
                EngineError::Bug(format!(
                    "stored step {} is not in the run's plan",
                    record.id
                ))
            })?;
            stored[index] = Some(Slot {
                state: record.state,
                attempt: record.attempt,
                fallback: record.fallback,
                output: record.output,
                error: record.error,
                wake_at: record.wake_at,
                usage: record.usage.unwrap_or_default(),
            });
        }
        let slots = (stored.into_iter().zip(plan.steps()))
            .map(|(slot, step)| {
                slot.ok_or_else(|| {
                    EngineError::Bug(format!("step {} has no stored state", step.id))
                })
            })
            .collect::<Result<Vec<Slot>, _>>()?;
        let cancel = engine.shutdown.child_token();
        let attempts = cancel.child_token();
        let deadline = plan.workflow().limits.timeout.map(|timeout| {
            let left = (created_at + timeout.0 - Utc::now())
                .to_std()
                .unwrap_or_default();
            Instant::now() + left
        });
        let unmet = (0..slots.len())
            .map(|step| {
                plan.dependencies(step)
                    .iter()
                    .filter(|&&dep| slots[dep].state != StepState::Succeeded)
                    .count()
            })
            .collect();
        let mut driver = Driver {
            engine,
            run_id,
            plan,
            input,
            run_state,
            slots,
            unmet,
            ready: VecDeque::new(),
            running: 0,
            group_running: HashMap::new(),
            retry_waiting: 0,
            unfinished: 0,
            batch: Batch::new(),
            starts: Vec::new(),
            tasks: JoinSet::new(),
            events,
            cancel,
            attempts,
            deadline,
            outcome: (None, None),
            creation,
        };
        driver.settle()?;
        Ok(driver)
    }

    /// Brings the committed states into a drivable shape: interrupted attempts become ready
    /// again, and steps whose fate is already decided by their dependencies are moved on.
    fn settle(&mut self) -> Result<(), EngineError> {
        if self.run_state != RunState::Running {
            self.set_run(RunState::Running, None, None)?;
        }
        for step in 0..self.slots.len() {
            match self.slots[step].state {
                StepState::Running => {
                    self.set_step(step, StepState::Ready, Some(json!({ "interrupted": true })))?;
                    self.ready.push_back(step);
                }
                StepState::Ready => self.ready.push_back(step),
                StepState::RetryWait => self.retry_waiting += 1,
                _ => {}
            }
            if !self.slots[step].state.is_terminal() {
                self.unfinished += 1;
            }
        }
        for step in 0..self.slots.len() {
            let state = self.slots[step].state;
            if state.is_terminal() && state != StepState::Succeeded {
                self.skip_dependents(step)?;
            }
        }
        for step in 0..self.slots.len() {
            if self.slots[step].state == StepState::Pending && self.unmet[step] == 0 {
                self.set_step(step, StepState::Ready, None)?;
                self.ready.push_back(step);
            }
        }
        Ok(())
    }

    /// Runs the loop until the run ends or the engine shuts down.
    pub(crate) async fn drive(mut self) -> Result<RunReport, EngineError> {
        let ttl = self.engine.lease_ttl;
        // (Not `interval`: its first tick waits a turn of the timer, a millisecond per run.)
        let mut renew = tokio::time::interval_at(Instant::now() + ttl / 3, ttl / 3);
        loop {
            if self.run_state.is_terminal() {
                return Ok(self.report());
            }
            let next_wake = self.next_wake();
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return self.interrupt().await,
                Some(joined) = self.tasks.join_next() => {
                    self.complete(joined)?;
                    while let Some(joined) = self.tasks.try_join_next() {
                        self.complete(joined)?;
                    }
                }
                () = sleep_until(next_wake), if next_wake.is_some() => {}
                () = sleep_until(self.deadline), if self.deadline.is_some() => return self.time_out().await,
                _ = renew.tick() => {
                    if !self.engine.store.renew_lease(self.run_id, &self.engine.holder.owner, ttl).await? {
                        self.cancel.cancel();
                        return Err(EngineError::LeaseLost(self.run_id));
                    }
                }
            }
            self.turn().await?;
        }
    }

    /// One turn: wakes due retries, starts what fits, ends the run when nothing is left, and
    /// commits it all (recording the run first if it is new).
    pub(crate) async fn turn(&mut self) -> Result<(), EngineError> {
        self.wake_due_retries()?;
        self.dispatch()?;
        if self.unfinished == 0 {
            self.finish_run()?;
        }
        self.commit().await
    }

    fn report(&self) -> RunReport {
        let (output, error) = self.outcome.clone();
        RunReport {
            id: self.run_id,
            state: self.run_state,
            output,
            error_class: error.as_ref().map(|(class, _)| *class),
            error: error.map(|(_, message)| message),
        }
    }

    /// The run ran past `limits.timeout`: stop every attempt, cancel what has not ended,
    /// and fail the run.
    async fn time_out(mut self) -> Result<RunReport, EngineError> {
        self.attempts.cancel();
        while self.tasks.join_next().await.is_some() {}
        self.starts.clear();
        for step in 0..self.slots.len() {
            if !self.slots[step].state.is_terminal() {
                self.set_step(
                    step,
                    StepState::Cancelled,
                    Some(json!({ "reason": "the run timed out" })),
                )?;
            }
        }
        let timeout = self
            .plan
            .workflow()
            .limits
            .timeout
            .map(|timeout| timeout.to_string())
            .unwrap_or_default();
        self.set_run(
            RunState::Failed,
            None,
            Some((
                ErrorClass::Timeout,
                format!("the run timed out (limits.timeout = {timeout})"),
            )),
        )?;
        // Ending the run releases its lease in the same commit.
        self.commit().await?;
        Ok(self.report())
    }

    /// Stops every attempt, records them as interrupted and gives up the lease.
    async fn interrupt(mut self) -> Result<RunReport, EngineError> {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
        for step in 0..self.slots.len() {
            if self.slots[step].state == StepState::Running {
                self.set_step(
                    step,
                    StepState::Ready,
                    Some(json!({ "interrupted": "engine stopped" })),
                )?;
            }
        }
        self.starts.clear();
        self.commit().await?;
        self.engine
            .store
            .release_lease(self.run_id, &self.engine.holder.owner)
            .await?;
        Ok(RunReport {
            id: self.run_id,
            state: self.run_state,
            output: None,
            error: Some("interrupted".into()),
            error_class: Some(ErrorClass::Interrupted),
        })
    }

    /// Commits the batch, then announces it and starts the attempts it committed.
    async fn commit(&mut self) -> Result<(), EngineError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let engine = &self.engine;
        let events = match self.creation.take() {
            Some(run) => {
                engine
                    .store
                    .create_run(&run, &engine.holder, engine.lease_ttl, &self.batch)
                    .await?
            }
            None => {
                engine
                    .store
                    .commit(&engine.holder.owner, &self.batch)
                    .await?
            }
        };
        self.batch.clear();
        for event in events {
            let _ = self.events.send(event);
        }
        for start in self.starts.drain(..) {
            let ctx = ExecContext {
                cancel: self.attempts.child_token(),
                deadline: start.deadline,
                ..ExecContext::new()
            };
            self.tasks.spawn(run_attempt(start, ctx));
        }
        Ok(())
    }

    fn next_wake(&self) -> Option<Instant> {
        if self.retry_waiting == 0 {
            return None;
        }
        let earliest = self
            .slots
            .iter()
            .filter(|slot| slot.state == StepState::RetryWait)
            .filter_map(|slot| slot.wake_at)
            .min()?;
        let wait = (earliest - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Some(Instant::now() + wait)
    }

    fn wake_due_retries(&mut self) -> Result<(), EngineError> {
        if self.retry_waiting == 0 {
            return Ok(());
        }
        let now = Utc::now();
        for step in 0..self.slots.len() {
            let slot = &self.slots[step];
            if slot.state == StepState::RetryWait && slot.wake_at.is_none_or(|at| at <= now) {
                self.retry_waiting -= 1;
                self.slots[step].wake_at = None;
                self.set_step(step, StepState::Ready, None)?;
                self.ready.push_back(step);
            }
        }
        Ok(())
    }

    /// Starts as many ready steps as the run's and the groups' limits allow.
    fn dispatch(&mut self) -> Result<(), EngineError> {
        let max_parallel = self.plan.workflow().limits.max_parallel as usize;
        let mut blocked = Vec::new();
        while self.running < max_parallel {
            let Some(step) = self.ready.pop_front() else {
                break;
            };
            if self.group_is_full(step) {
                blocked.push(step);
                continue;
            }
            self.start(step)?;
        }
        for step in blocked.into_iter().rev() {
            self.ready.push_front(step);
        }
        Ok(())
    }

    fn group_is_full(&self, step: StepIndex) -> bool {
        self.plan.steps()[step]
            .group_limits
            .iter()
            .any(|(group, limit)| self.group_running.get(group).copied().unwrap_or(0) >= *limit)
    }

    /// Evaluates a ready step's `when`, `for_each` and `with`, and queues its attempt.
    fn start(&mut self, step: StepIndex) -> Result<(), EngineError> {
        let plan = Arc::clone(&self.plan);
        let spec = &plan.steps()[step];
        let node = plan.node(step);
        let scope = self.scope(step);
        if let Some(when) = &node.when {
            match expr::condition(when, &scope) {
                Ok(true) => {}
                Ok(false) => {
                    self.set_step(
                        step,
                        StepState::Skipped,
                        Some(json!({ "reason": format!("`when` is false: {when}") })),
                    )?;
                    self.unfinished -= 1;
                    return self.skip_dependents(step);
                }
                Err(error) => return self.fail_before_start(step, format!("`when`: {error}")),
            }
        }
        let items = match &node.for_each {
            None => None,
            Some(template) => match expr::render(&Value::String(template.clone()), &scope) {
                Ok(Value::Array(items)) => Some(items),
                Ok(other) => {
                    return self.fail_before_start(
                        step,
                        format!("`for_each` must give a list, got {other}"),
                    );
                }
                Err(error) => return self.fail_before_start(step, format!("`for_each`: {error}")),
            },
        };
        let mut with = node.with.clone();
        if let Some(overrides) = node
            .fallbacks
            .get((self.slots[step].fallback as usize).wrapping_sub(1))
        {
            with.extend(overrides.clone());
        }
        let with = Value::Object(with.into_iter().collect());
        let attempt = self.slots[step].attempt + 1;
        let executor_name = node.executor.clone().unwrap_or_default();
        let action = |params: Value, item_index: Option<usize>| Action {
            run_id: self.run_id,
            step_id: spec.id.clone(),
            item_index,
            attempt,
            executor: executor_name.clone(),
            params,
            idempotency_key: Action::idempotency_key_for(self.run_id, &spec.id, item_index),
        };
        let actions = match &items {
            None => match expr::render(&with, &scope) {
                Ok(params) => vec![action(params, None)],
                Err(error) => return self.fail_before_start(step, format!("`with`: {error}")),
            },
            Some(items) => {
                let mut actions = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let item_scope = Scope {
                        item: Some(item.clone()),
                        index: Some(index),
                        ..scope.clone()
                    };
                    match expr::render(&with, &item_scope) {
                        Ok(params) => actions.push(action(params, Some(index))),
                        Err(error) => {
                            return self.fail_before_start(
                                step,
                                format!("`with` of item {index}: {error}"),
                            );
                        }
                    }
                }
                actions
            }
        };
        let Some(executor) = self.engine.executors.get(&executor_name).cloned() else {
            return self.fail_before_start(
                step,
                format!("no executor named {executor_name:?} is registered"),
            );
        };
        self.set_attempt_running(step, attempt)?;
        let item_limit = node
            .max_parallel
            .map_or(self.plan.workflow().limits.max_parallel, |limit| limit)
            as usize;
        self.starts.push(Start {
            step,
            executor,
            actions,
            for_each: items.is_some(),
            item_limit: item_limit.max(1),
            deadline: spec.timeout.map(|timeout| Instant::now() + timeout),
        });
        Ok(())
    }

    fn set_attempt_running(&mut self, step: StepIndex, attempt: u32) -> Result<(), EngineError> {
        self.slots[step].attempt = attempt;
        let fallback = self.slots[step].fallback;
        let detail = (fallback > 0).then(|| json!({ "fallback": fallback }));
        self.set_step(step, StepState::Running, detail)?;
        self.running += 1;
        for (group, _) in &self.plan.steps()[step].group_limits {
            *self.group_running.entry(group.clone()).or_default() += 1;
        }
        Ok(())
    }

    /// A step whose attempt cannot even be prepared: record the attempt and its failure.
    fn fail_before_start(&mut self, step: StepIndex, error: String) -> Result<(), EngineError> {
        let attempt = self.slots[step].attempt + 1;
        self.set_attempt_running(step, attempt)?;
        self.end_attempt(step);
        self.fail(step, error, None)
    }

    fn end_attempt(&mut self, step: StepIndex) {
        self.running -= 1;
        for (group, _) in &self.plan.steps()[step].group_limits {
            if let Some(count) = self.group_running.get_mut(group) {
                *count -= 1;
            }
        }
    }

    /// Records the end of an attempt: success, a retry, or failure.
    fn complete(&mut self, joined: Result<Completion, JoinError>) -> Result<(), EngineError> {
        let Completion { step, outcome } =
            joined.map_err(|error| EngineError::Bug(format!("attempt task: {error}")))?;
        self.end_attempt(step);
        let slot = &mut self.slots[step];
        slot.usage += &outcome.usage;
        let log = outcome.log_tail.map(|tail| json!({ "stderr_tail": tail }));
        let result = outcome
            .result
            .and_then(|output| self.check_output(step, output));
        match result {
            Ok(output) => {
                self.slots[step].output = Some(output);
                self.slots[step].error = None;
                self.set_step(step, StepState::Succeeded, log)?;
                self.unfinished -= 1;
                self.release_dependents(step)
            }
            Err(error) => {
                let spec = &self.plan.steps()[step];
                let retry = spec.retry.clone();
                let fallbacks = self.plan.node(step).fallbacks.len() as u32;
                let max_attempts = retry.as_ref().map_or(1, |retry| retry.max_attempts);
                let slot = &mut self.slots[step];
                let delay = if slot.fallback == 0
                    && error.class.is_retryable()
                    && slot.attempt < max_attempts
                {
                    retry
                        .as_ref()
                        .map_or(Duration::ZERO, |retry| backoff(retry, slot.attempt))
                } else if slot.fallback < fallbacks {
                    // Retries are exhausted (or cannot help): try the next fallback at once.
                    slot.fallback += 1;
                    Duration::ZERO
                } else {
                    return self.fail(step, error.to_string(), log);
                };
                slot.error = Some(error.to_string());
                slot.wake_at = Some(Utc::now() + delay);
                self.retry_waiting += 1;
                self.set_step(step, StepState::RetryWait, log)
            }
        }
    }

    /// Enforces the output cap and the step's `output_schema`.
    fn check_output(
        &self,
        step: StepIndex,
        output: Value,
    ) -> Result<Value, crate::executor::ExecError> {
        let failure = |class, message| crate::executor::ExecError { class, message };
        let size = serde_json::to_vec(&output).map_or(0, |bytes| bytes.len());
        if size > self.engine.max_output_bytes {
            return Err(failure(
                ErrorClass::OutputTooLarge,
                format!(
                    "output is {size} bytes, over the cap of {} bytes",
                    self.engine.max_output_bytes
                ),
            ));
        }
        if let Some(schema) = &self.plan.node(step).output_schema {
            let validator = jsonschema::validator_for(schema).map_err(|error| {
                failure(
                    ErrorClass::OutputSchema,
                    format!("bad output_schema: {error}"),
                )
            })?;
            let problems: Vec<String> = validator
                .iter_errors(&output)
                .map(|error| format!("{}: {error}", error.instance_path()))
                .collect();
            if !problems.is_empty() {
                return Err(failure(
                    ErrorClass::OutputSchema,
                    format!(
                        "output does not match output_schema: {}",
                        problems.join("; ")
                    ),
                ));
            }
        }
        Ok(output)
    }

    fn fail(
        &mut self,
        step: StepIndex,
        error: String,
        detail: Option<Value>,
    ) -> Result<(), EngineError> {
        self.slots[step].error = Some(error);
        self.set_step(step, StepState::Failed, detail)?;
        self.unfinished -= 1;
        self.skip_dependents(step)
    }

    /// A step succeeded: dependents whose last dependency it was become ready.
    fn release_dependents(&mut self, step: StepIndex) -> Result<(), EngineError> {
        let plan = Arc::clone(&self.plan);
        for &dependent in plan.dependents(step) {
            self.unmet[dependent] -= 1;
            if self.unmet[dependent] == 0 && self.slots[dependent].state == StepState::Pending {
                self.set_step(dependent, StepState::Ready, None)?;
                self.ready.push_back(dependent);
            }
        }
        Ok(())
    }

    /// A step ended without succeeding: everything downstream that has not started is skipped.
    fn skip_dependents(&mut self, step: StepIndex) -> Result<(), EngineError> {
        let plan = Arc::clone(&self.plan);
        let mut stack = vec![step];
        while let Some(current) = stack.pop() {
            for &dependent in plan.dependents(current) {
                if self.slots[dependent].state == StepState::Pending {
                    let reason = format!(
                        "needs {} which ended {}",
                        plan.steps()[current].id,
                        self.slots[current].state
                    );
                    self.set_step(
                        dependent,
                        StepState::Skipped,
                        Some(json!({ "reason": reason })),
                    )?;
                    self.unfinished -= 1;
                    stack.push(dependent);
                }
            }
        }
        Ok(())
    }

    fn finish_run(&mut self) -> Result<(), EngineError> {
        let failed = self
            .slots
            .iter()
            .any(|slot| matches!(slot.state, StepState::Failed | StepState::Denied));
        let cancelled = self
            .slots
            .iter()
            .any(|slot| slot.state == StepState::Cancelled);
        let (to, output, error) = match (failed, cancelled) {
            (true, _) => (RunState::Failed, None, self.run_error()),
            (false, true) => (
                RunState::Cancelled,
                None,
                Some((ErrorClass::Cancelled, "cancelled".into())),
            ),
            (false, false) => (RunState::Succeeded, Some(self.run_output()), None),
        };
        self.set_run(to, output, error)
    }

    /// The run's output: the outputs of the sink steps that succeeded, by step id.
    fn run_output(&self) -> Value {
        let outputs: Map<String, Value> = self
            .plan
            .sinks()
            .into_iter()
            .filter(|&sink| self.slots[sink].state == StepState::Succeeded)
            .map(|sink| {
                (
                    self.plan.steps()[sink].id.clone(),
                    self.slots[sink].output.clone().unwrap_or(Value::Null),
                )
            })
            .collect();
        Value::Object(outputs)
    }

    fn run_error(&self) -> Option<(ErrorClass, String)> {
        self.slots
            .iter()
            .zip(self.plan.steps())
            .find(|(slot, _)| matches!(slot.state, StepState::Failed | StepState::Denied))
            .map(|(slot, spec)| {
                let error = slot.error.as_deref().unwrap_or("no reason given");
                // A step's error reads `class: message`.
                let class = error
                    .split_once(": ")
                    .and_then(|(class, _)| class.parse().ok())
                    .unwrap_or(ErrorClass::BadParams);
                (class, format!("step {} {}: {error}", spec.id, slot.state))
            })
    }

    /// What a step's expressions can read: the input, the run, and the outputs it references.
    fn scope(&self, step: StepIndex) -> Scope {
        let steps = self.plan.steps()[step]
            .referenced_steps
            .iter()
            .map(|&other| {
                let output = self.slots[other].output.clone().unwrap_or(Value::Null);
                (
                    self.plan.steps()[other].id.clone(),
                    json!({ "output": output }),
                )
            })
            .collect();
        Scope {
            input: self.input.clone(),
            steps,
            item: None,
            index: None,
            run: json!({ "id": self.run_id.to_string(), "workflow": self.plan.workflow().name }),
        }
    }

    fn set_step(
        &mut self,
        step: StepIndex,
        to: StepState,
        detail: Option<Value>,
    ) -> Result<(), EngineError> {
        let slot = &mut self.slots[step];
        slot.state
            .check(to)
            .map_err(|error| EngineError::Bug(error.to_string()))?;
        let from = std::mem::replace(&mut slot.state, to);
        self.batch.push(Transition::Step(StepTransition {
            run_id: self.run_id,
            step_id: self.plan.steps()[step].id.clone(),
            from,
            to,
            attempt: slot.attempt,
            fallback: slot.fallback,
            output: if to == StepState::Succeeded {
                slot.output.clone()
            } else {
                None
            },
            error: if matches!(to, StepState::Failed | StepState::RetryWait) {
                slot.error.clone()
            } else {
                None
            },
            wake_at: slot.wake_at.filter(|_| to == StepState::RetryWait),
            usage: (slot.usage != Usage::default()).then(|| slot.usage.clone()),
            detail,
        }))?;
        Ok(())
    }

    fn set_run(
        &mut self,
        to: RunState,
        output: Option<Value>,
        error: Option<(ErrorClass, String)>,
    ) -> Result<(), EngineError> {
        self.run_state
            .check(to)
            .map_err(|error| EngineError::Bug(error.to_string()))?;
        let from = std::mem::replace(&mut self.run_state, to);
        self.outcome = (output.clone(), error.clone());
        self.batch.push(Transition::Run(RunTransition {
            run_id: self.run_id,
            from,
            to,
            output,
            error_class: error.as_ref().map(|(class, _)| *class),
            error: error.map(|(_, message)| message),
        }))?;
        Ok(())
    }
}

/// Runs one attempt (all items of a `for_each` step), turning panics and overdue executors into outcomes.
async fn run_attempt(start: Start, ctx: ExecContext) -> Completion {
    let began = StdInstant::now();
    let Start {
        step,
        executor,
        actions,
        for_each,
        item_limit,
        deadline,
    } = start;
    let attempt = async {
        let outcomes: Vec<Outcome> = futures::stream::iter(actions)
            .map(|action| guarded(Arc::clone(&executor), action, ctx.clone()))
            .buffered(item_limit)
            .collect()
            .await;
        if for_each {
            combine(outcomes)
        } else {
            outcomes
                .into_iter()
                .next()
                .expect("one action per plain step")
        }
    };
    let mut outcome = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline + DEADLINE_GRACE, attempt)
            .await
            .unwrap_or_else(|_| {
                ctx.cancel.cancel();
                Outcome::failure(
                    ErrorClass::Timeout,
                    "the executor did not stop at its deadline",
                    began.elapsed(),
                )
            }),
        None => attempt.await,
    };
    outcome.duration = began.elapsed();
    Completion { step, outcome }
}

/// One executor call, with a panic turned into a failed outcome.
async fn guarded(executor: Arc<dyn Executor>, action: Action, ctx: ExecContext) -> Outcome {
    let began = StdInstant::now();
    AssertUnwindSafe(executor.execute(&action, ctx))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::failure(
                ErrorClass::Panicked,
                format!("the executor panicked: {message}"),
                began.elapsed(),
            )
        })
}

/// The outcome of a `for_each` step: the list of item outputs, or the first item's failure.
fn combine(outcomes: Vec<Outcome>) -> Outcome {
    let mut usage = Usage::default();
    let mut outputs = Vec::with_capacity(outcomes.len());
    let mut failure = None;
    let mut log_tail = None;
    for (index, outcome) in outcomes.into_iter().enumerate() {
        usage += &outcome.usage;
        match outcome.result {
            Ok(output) => outputs.push(output),
            Err(mut error) if failure.is_none() => {
                error.message = format!("item {index}: {}", error.message);
                failure = Some(error);
                log_tail = outcome.log_tail;
            }
            Err(_) => {}
        }
    }
    Outcome {
        result: failure.map_or(Ok(Value::Array(outputs)), Err),
        usage,
        duration: Duration::ZERO,
        log_tail,
    }
}

/// The delay before the attempt after `attempt` (counted from 1).
fn backoff(retry: &Retry, attempt: u32) -> Duration {
    let initial = retry
        .initial_delay
        .map_or(Duration::from_secs(1), |delay| delay.0);
    let max = retry
        .max_delay
        .map_or(Duration::from_secs(60), |delay| delay.0);
    let delay = match retry.backoff {
        Backoff::Fixed => initial,
        Backoff::Exponential => {
            initial.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        }
    }
    .min(max);
    if retry.jitter {
        let unit = (RandomState::new().hash_one(attempt) % 1000) as f64 / 1000.0;
        delay.mul_f64(0.5 + unit / 2.0)
    } else {
        delay
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Duration as FileDuration;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let retry = Retry {
            max_attempts: 5,
            backoff: Backoff::Exponential,
            initial_delay: Some(FileDuration(Duration::from_secs(1))),
            max_delay: Some(FileDuration(Duration::from_secs(5))),
            jitter: false,
        };
        let delays: Vec<u64> = (1..=4)
            .map(|attempt| backoff(&retry, attempt).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 5]);
        let jittered = backoff(
            &Retry {
                jitter: true,
                ..retry
            },
            3,
        );
        assert!(
            jittered >= Duration::from_secs(2) && jittered <= Duration::from_secs(4),
            "{jittered:?}"
        );
    }

    #[test]
    fn a_failed_item_fails_the_step_and_usage_adds_up() {
        let mut ok = Outcome::success(json!(1), Duration::ZERO);
        ok.usage.input_tokens = 3;
        let bad = Outcome::failure(ErrorClass::ExitCode, "exit 1", Duration::ZERO);
        let combined = combine(vec![ok.clone(), bad, ok.clone()]);
        assert_eq!(combined.usage.input_tokens, 6);
        assert_eq!(combined.result.unwrap_err().message, "item 1: exit 1");
        assert_eq!(combine(vec![ok.clone(), ok]).result.unwrap(), json!([1, 1]));
    }
}
