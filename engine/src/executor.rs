//! The `Executor` trait: what runs an action, and the types it speaks.
//!
//! An executor gets an [`Action`] (what to do, with its parameters already rendered) and an
//! [`ExecContext`] (cancellation, progress, deadline) and returns an [`Outcome`]. A failure is
//! an outcome with an [`ErrorClass`], never a panic or an `Err` across the trait.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What is about to happen: one attempt of one step of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// The run.
    pub run_id: Uuid,
    /// The step's id.
    pub step_id: String,
    /// The item's index for one item of a `for_each` step.
    pub item_index: Option<usize>,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The executor's name.
    pub executor: String,
    /// The step's `with`, templates rendered.
    pub params: Value,
    /// `run/step` (plus `/index`): the same for every attempt of the step.
    pub idempotency_key: String,
}

impl Action {
    /// The idempotency key of a step (or one item of it) of a run.
    pub fn idempotency_key_for(run_id: Uuid, step_id: &str, item_index: Option<usize>) -> String {
        match item_index {
            Some(index) => format!("{run_id}/{step_id}/{index}"),
            None => format!("{run_id}/{step_id}"),
        }
    }

    /// This action with `params` in place of its own (a guard's judging it as it will run):
    /// the parameters, maybe big, are not copied.
    pub fn with_params(&self, params: Value) -> Action {
        Action {
            run_id: self.run_id,
            step_id: self.step_id.clone(),
            item_index: self.item_index,
            attempt: self.attempt,
            executor: self.executor.clone(),
            params,
            idempotency_key: self.idempotency_key.clone(),
        }
    }

    /// The rendered `with` read as `T` (an executor's parameter type); the error names the
    /// parameter at fault.
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, ParamsError> {
        serde_path_to_error::deserialize(&self.params).map_err(|error| {
            let path = error.path().to_string();
            ParamsError {
                param: if path == "." {
                    "with".to_owned()
                } else {
                    format!("with.{path}")
                },
                message: error.into_inner().to_string(),
            }
        })
    }
}

/// A step's `with` that its executor cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{param}`: {message}")]
pub struct ParamsError {
    /// Where: `with`, or a parameter in it such as `with.command[1]`.
    pub param: String,
    /// What is wrong.
    pub message: String,
}

/// Everything an executor may use besides the action: cancellation, progress, deadline,
/// and the run's cap on an output.
#[derive(Debug, Clone)]
pub struct ExecContext {
    /// Cancelled when the attempt must stop (run cancelled, engine shutting down); not at
    /// the [`deadline`](Self::deadline), which an executor watches too (see
    /// [`Executor::execute`]).
    pub cancel: CancellationToken,
    /// Cancelled, before `cancel`, when the attempt must stop at once, without the grace an
    /// executor gives a cancel (a process's `kill_grace`): its run's lease was lost, so
    /// another engine may be running the step again.
    pub kill_now: CancellationToken,
    /// Where the executor reports signs of life.
    pub progress: Progress,
    /// When the attempt times out, if it has a timeout.
    pub deadline: Option<Instant>,
    /// The attempt's time limit, which `deadline` ends (for messages).
    pub limit: Option<Duration>,
    /// The run's cap on one step's output, in bytes of its JSON: a bigger output fails the
    /// step (a `for_each` item's, the item), so an executor that buffers what it reads need
    /// not keep more (nor stop sooner).
    pub max_output: usize,
    /// The run's directory: where a step without `with.cwd` runs, and what a relative one
    /// is taken from, whichever process drives the run
    /// ([`RunRecord::cwd`](crate::store::RunRecord::cwd)); `None`: the engine process's own.
    pub cwd: Option<PathBuf>,
}

impl ExecContext {
    /// A context with no deadline, the default output cap, and a fresh cancellation token
    /// and progress counter.
    pub fn new() -> Self {
        ExecContext {
            cancel: CancellationToken::new(),
            kill_now: CancellationToken::new(),
            progress: Progress::default(),
            deadline: None,
            limit: None,
            max_output: crate::DEFAULT_MAX_OUTPUT_BYTES,
            cwd: None,
        }
    }
}

impl Default for ExecContext {
    fn default() -> Self {
        Self::new()
    }
}

/// A counter of signs of life, shared between an executor and the stall watch.
///
/// The engine's watch is told when a sign comes after it last looked, so a silent attempt
/// costs it nothing; a counter made with [`Progress::default`] tells nobody.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Signs>);

/// What a [`Progress`] shares.
#[derive(Debug, Default)]
struct Signs {
    count: AtomicU64,
    /// A sign came since the watch last looked (and it was told).
    unseen: AtomicBool,
    /// Rung at the first sign after each look.
    bell: Option<Arc<Notify>>,
    /// When the last sign came: the watch may look a while later (probe 204 F1: a sign
    /// dated by the look, up to a second late, made a heartbeat stall late, past the step's
    /// time limit).
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// A counter that rings `bell` at the first sign of life after each [`Progress::look`].
    pub(crate) fn ringing(bell: Arc<Notify>) -> Self {
        Progress(Arc::new(Signs {
            bell: Some(bell),
            ..Signs::default()
        }))
    }

    /// Records one sign of life (a line of output, a heartbeat).
    pub fn report(&self) {
        let signs = &self.0;
        *signs.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        signs.count.fetch_add(1, Ordering::SeqCst);
        if !signs.unseen.swap(true, Ordering::SeqCst)
            && let Some(bell) = &signs.bell
        {
            bell.notify_one();
        }
    }

    /// How many signs of life have been reported so far.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::SeqCst)
    }

    /// The watch's look: [`Progress::count`] and when the last sign came, after which the
    /// next sign rings the bell again.
    pub(crate) fn look(&self) -> (u64, Option<Instant>) {
        self.0.unseen.store(false, Ordering::SeqCst);
        let last = *self.0.last.lock().unwrap_or_else(PoisonError::into_inner);
        (self.count(), last)
    }
}

/// What an executor returns for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The output JSON, or why the attempt failed.
    pub result: Result<Value, ExecError>,
    /// Tokens and cost the attempt used, where known.
    #[serde(default)]
    pub usage: Usage,
    /// How long the attempt took: measured by the engine around the executor's call
    /// (executors leave it zero).
    pub duration: Duration,
    /// The tail of the step's diagnostic output (a process's stderr), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<String>,
    /// Whether the attempt ended before it could report all it spent (an agent's CLI
    /// killed by a signal, or crashed before its report): under a spending budget it then
    /// counts at least what it held, as an attempt timed out, stalled, cancelled or stopped
    /// for its output does (docs/guards.md). Executors set it; [`usage`](Self::usage) is
    /// then what was reported before the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_off: bool,
}

impl Outcome {
    /// A successful outcome with `output`.
    pub fn success(output: Value) -> Self {
        Outcome {
            result: Ok(output),
            usage: Usage::default(),
            duration: Duration::ZERO,
            log_tail: None,
            cut_off: false,
        }
    }

    /// A failed outcome.
    pub fn failure(class: ErrorClass, message: impl Into<String>) -> Self {
        Outcome {
            result: Err(ExecError {
                class,
                message: message.into(),
            }),
            usage: Usage::default(),
            duration: Duration::ZERO,
            log_tail: None,
            cut_off: false,
        }
    }
}

/// Tokens and cost an attempt used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input (prompt) tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output (completion) tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Cost in US dollars.
    #[serde(default)]
    pub cost_usd: f64,
}

impl Usage {
    /// The usage as budgets count it: a reported cost below zero (or not a number) counts
    /// as nothing, and an infinite one as the largest cost, so that what an executor
    /// reports can never lower the run's spending nor hide it from a `cost_usd` budget.
    ///
    /// ```
    /// use cairn_engine::Usage;
    ///
    /// let lying = Usage { cost_usd: -100.0, ..Usage::default() };
    /// assert_eq!(lying.counted().cost_usd, 0.0);
    /// ```
    pub fn counted(self) -> Usage {
        let cost_usd = match self.cost_usd {
            cost if cost.is_nan() || cost <= 0.0 => 0.0,
            cost => cost.min(f64::MAX),
        };
        if cost_usd != self.cost_usd {
            tracing::warn!(
                reported = self.cost_usd,
                "an executor reported a cost that cannot be one; counted as {cost_usd}"
            );
        }
        Usage { cost_usd, ..self }
    }
}

/// Sums usages as budgets count them: the counts stop at their largest value, the cost at
/// the largest finite one, so that no report overflows a run's sum or makes it infinite; a
/// cost below zero (or not a number) adds nothing, so that no report lowers the sum; and the
/// sum is rounded to a billionth of a dollar, so that costs add up as the decimals they were
/// written as (binary fractions make $0.10 + $0.70 a hair under $0.80, which a budget of
/// $0.80 would not stop).
///
/// ```
/// use cairn_engine::Usage;
///
/// let mut spent = Usage { cost_usd: 0.1, ..Usage::default() };
/// spent += &Usage { cost_usd: 0.7, ..Usage::default() };
/// spent += &Usage { cost_usd: -5.0, ..Usage::default() };
/// assert_eq!(spent.cost_usd, 0.8);
/// ```
impl std::ops::AddAssign<&Usage> for Usage {
    fn add_assign(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cost_usd = decimal_usd(self.cost_usd + other.cost_usd.max(0.0)).min(f64::MAX);
    }
}

/// Takes back what an ended attempt held (a reservation, [`Verdict::reserves`]): the
/// counts stop at zero, the cost too, rounded as a sum is.
///
/// [`Verdict::reserves`]: crate::Verdict::reserves
impl std::ops::SubAssign<&Usage> for Usage {
    fn sub_assign(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_sub(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_sub(other.output_tokens);
        self.cost_usd = decimal_usd(self.cost_usd - other.cost_usd).max(0.0);
    }
}

/// How many parts of a dollar a sum of costs counts: a billion (far below any price).
const USD_PARTS: f64 = 1e9;

/// `cost` rounded to the nearest billionth of a dollar, as a sum of costs is: the number its
/// decimal reads as, without a sum's binary rounding noise.
///
/// ```
/// assert_eq!(cairn_engine::decimal_usd(0.013_584_15 * 3.0), 0.040_752_45);
/// assert_eq!(cairn_engine::decimal_usd(1e-9), 1e-9);
/// ```
pub fn decimal_usd(cost: f64) -> f64 {
    let parts = cost * USD_PARTS;
    if parts.is_finite() {
        parts.round() / USD_PARTS
    } else {
        cost
    }
}

/// Why an attempt failed: a class that decides whether a retry can help, and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{class}: {message}")]
pub struct ExecError {
    /// The kind of failure.
    pub class: ErrorClass,
    /// What happened, for people.
    pub message: String,
}

/// The kinds of failure of an attempt, a step or a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// The parameters are wrong for the executor (not retryable).
    BadParams,
    /// The program could not be started (not retryable).
    SpawnFailed,
    /// The program exited unsuccessfully (retryable).
    ExitCode,
    /// The attempt ran past its timeout (retryable).
    Timeout,
    /// The attempt was cancelled (not retryable).
    Cancelled,
    /// The output exceeded its cap (not retryable).
    OutputTooLarge,
    /// The output could not be understood (not retryable).
    BadOutput,
    /// The executor panicked (not retryable).
    Panicked,
    /// The step's output did not satisfy its `output_schema` (not retryable).
    OutputSchema,
    /// The executor failed in a way it says may pass (retryable).
    Transient,
    /// The engine stopped while the attempt ran; it runs again on resume (a run stopped
    /// unfinished reports this class).
    Interrupted,
    /// The guard, or a person asked for approval, denied the action (not retryable).
    Denied,
    /// The attempt stalled (no progress within its heartbeat, the run's `no_progress`) or
    /// looped; its escalation decides what follows.
    Stalled,
    /// A planner's plan failed the loader's checks; nothing was added (retryable).
    InvalidPlan,
}

impl ErrorClass {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::ExitCode
                | ErrorClass::Timeout
                | ErrorClass::Transient
                | ErrorClass::InvalidPlan
        )
    }

    /// Whether a failure of this class is never retried, whatever `retry_on` lists: a
    /// cancel or a denial is a decision, not a failure another attempt may pass.
    pub fn is_never_retried(self) -> bool {
        matches!(self, ErrorClass::Cancelled | ErrorClass::Denied)
    }

    /// Why a step's `retry.retry_on` may not list this class, if it may not: listed, it could
    /// never take effect. A class never retried ([`ErrorClass::is_never_retried`]), and two
    /// whose attempts run again by other rules: a stall by its escalation (`on_stall`), an
    /// interruption at the resume.
    pub fn not_for_retry_on(self) -> Option<&'static str> {
        match self {
            ErrorClass::Cancelled | ErrorClass::Denied => Some(
                "is never retried (a cancel or a denial is a decision, not a failure another attempt may pass)",
            ),
            ErrorClass::Stalled => Some(
                "is retried by a stall's escalation, not by `retry_on`: `on_stall: \"retry\"` retries a stalled attempt while attempts are left",
            ),
            ErrorClass::Interrupted => Some(
                "is no failure of a step: an attempt the engine's stop cut off runs again when the run is resumed, uncounted",
            ),
            _ => None,
        }
    }

    /// Whether only the engine gives this class (`interrupted`, `denied`, `stalled`,
    /// `invalid_plan`): an executor's failure of one is taken as its bad output.
    pub fn is_the_engines(self) -> bool {
        matches!(
            self,
            ErrorClass::Interrupted
                | ErrorClass::Denied
                | ErrorClass::Stalled
                | ErrorClass::InvalidPlan
        )
    }

    /// The class an error's text begins with, as [`ExecError`] writes one (`exit_code: ...`);
    /// `None` for a text that begins with none.
    ///
    /// ```
    /// use cairn_engine::ErrorClass;
    ///
    /// let error = "exit_code: `sh` exited with code 3: sh: 1: nope: not found";
    /// assert_eq!(ErrorClass::of_error(error), Some(ErrorClass::ExitCode));
    /// assert_eq!(ErrorClass::of_error("not in the list any more: 3 items"), None);
    /// ```
    pub fn of_error(text: &str) -> Option<ErrorClass> {
        let (class, _) = text.split_once(": ")?;
        class.parse().ok()
    }

    /// The class's name as written in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::BadParams => "bad_params",
            ErrorClass::SpawnFailed => "spawn_failed",
            ErrorClass::ExitCode => "exit_code",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::OutputTooLarge => "output_too_large",
            ErrorClass::BadOutput => "bad_output",
            ErrorClass::Panicked => "panicked",
            ErrorClass::OutputSchema => "output_schema",
            ErrorClass::Transient => "transient",
            ErrorClass::Interrupted => "interrupted",
            ErrorClass::Denied => "denied",
            ErrorClass::Stalled => "stalled",
            ErrorClass::InvalidPlan => "invalid_plan",
        }
    }

    /// Every class, in declaration order.
    pub const ALL: &'static [ErrorClass] = &[
        ErrorClass::BadParams,
        ErrorClass::SpawnFailed,
        ErrorClass::ExitCode,
        ErrorClass::Timeout,
        ErrorClass::Cancelled,
        ErrorClass::OutputTooLarge,
        ErrorClass::BadOutput,
        ErrorClass::Panicked,
        ErrorClass::OutputSchema,
        ErrorClass::Transient,
        ErrorClass::Interrupted,
        ErrorClass::Denied,
        ErrorClass::Stalled,
        ErrorClass::InvalidPlan,
    ];
}

impl std::str::FromStr for ErrorClass {
    type Err = String;

    /// Parses a class's name as [`ErrorClass::as_str`] writes it.
    fn from_str(name: &str) -> Result<Self, String> {
        ErrorClass::ALL
            .iter()
            .copied()
            .find(|class| class.as_str() == name)
            .ok_or_else(|| format!("unknown error class {name:?}"))
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs actions. Implementations live in the `cairn-executors` crate or the embedding program.
///
/// An executor that declares its parameters ([`Executor::params_schema`]) has every step's
/// `with` checked against them when the workflow loads; it reads them at run time with
/// [`Action::params_as`], from the same type.
///
/// ```
/// use async_trait::async_trait;
/// use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// /// The `with` of an `echo` step.
/// #[derive(Deserialize, JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct EchoParams {
///     /// What the step outputs.
///     text: String,
/// }
///
/// #[derive(Debug)]
/// struct Echo;
///
/// #[async_trait]
/// impl Executor for Echo {
///     fn params_schema(&self) -> Option<schemars::Schema> {
///         Some(cairn_engine::params_schema::<EchoParams>())
///     }
///
///     async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
///         match action.params_as::<EchoParams>() {
///             Ok(params) => Outcome::success(json!(params.text)),
///             Err(error) => Outcome::failure(ErrorClass::BadParams, error.to_string()),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug {
    /// The JSON Schema of the step's `with`, checked when a workflow loads: unknown keys,
    /// missing keys and values of the wrong type are load errors (values that are
    /// `${{ ... }}` templates are checked only at run time). `None`, the default, accepts
    /// any `with`.
    fn params_schema(&self) -> Option<schemars::Schema> {
        None
    }

    /// For an executor whose actions a guard judges by the program they run (the built-in
    /// `process` and `agent`): the name a guard knows those actions by. An engine with a
    /// guard refuses to open with it registered under another name, whose actions the guard
    /// would not read as programs (probe 87 F1: a `process` executor registered as `sh` ran
    /// what `commands.deny` denies). `None`, the default, for the others.
    fn guarded_as(&self) -> Option<&'static str> {
        None
    }

    /// Runs one attempt of `action` and reports how it went. It stops when `ctx.cancel` is
    /// cancelled (failing [`ErrorClass::Cancelled`]) and at `ctx.deadline`, the step's
    /// `timeout` (failing [`ErrorClass::Timeout`]): the engine does not cancel the token at
    /// the deadline, and abandons an attempt still running 30 s after either (probe 44 F3).
    ///
    /// ```
    /// # use cairn_engine::{ErrorClass, ExecContext, Outcome};
    /// # async fn work() -> Outcome { Outcome::success(serde_json::json!(1)) }
    /// # async fn execute(ctx: ExecContext) -> Outcome {
    /// let deadline = async {
    ///     match ctx.deadline {
    ///         Some(deadline) => tokio::time::sleep_until(deadline).await,
    ///         None => std::future::pending().await,
    ///     }
    /// };
    /// tokio::select! {
    ///     outcome = work() => outcome,
    ///     () = ctx.cancel.cancelled() => Outcome::failure(ErrorClass::Cancelled, "cancelled"),
    ///     () = deadline => Outcome::failure(ErrorClass::Timeout, "past its timeout"),
    /// }
    /// # }
    /// ```
    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome;
}

/// The JSON Schema of `T` as an executor's [`params_schema`](Executor::params_schema), in
/// draft 7.
///
/// Any draft the schema declares (`$schema`) is understood; this one is the cheapest to
/// load: a schema is checked against its draft's meta-schema before it is compiled, once
/// per process, and draft 2020-12's (`schemars::schema_for!`) costs ≈ 1.4 ms of a one-step
/// `cairn run` where draft 7's costs a fraction of it. The built-in executors use it.
pub fn params_schema<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// Executors by name.
pub type Executors = BTreeMap<String, Arc<dyn Executor>>;

#[cfg(test)]
pub(crate) mod test_support {
    //! Registries of executors for tests that only load workflows.

    use super::*;

    /// An executor that declares `schema` as its parameters and never runs.
    #[derive(Debug)]
    pub(crate) struct Declared(pub(crate) Option<schemars::Schema>);

    #[async_trait]
    impl Executor for Declared {
        fn params_schema(&self) -> Option<schemars::Schema> {
            self.0.clone()
        }

        async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
            Outcome::failure(ErrorClass::BadParams, "not for running")
        }
    }

    /// Executors named `names` that accept any parameters.
    pub(crate) fn accepting_anything(names: &[&str]) -> Executors {
        (names.iter())
            .map(|name| {
                (
                    name.to_string(),
                    Arc::new(Declared(None)) as Arc<dyn Executor>,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    #[test]
    fn progress_rings_its_bell_at_the_first_sign_after_each_look() {
        let bell = Arc::new(Notify::new());
        let rung = || bell.notified().now_or_never().is_some();
        let progress = Progress::ringing(Arc::clone(&bell));
        assert!(!rung(), "no sign yet");
        progress.report();
        progress.report();
        assert!(rung(), "the first sign rings");
        progress.report();
        assert!(!rung(), "signs before the look ring no more");
        assert_eq!(progress.look().0, 3);
        assert!(!rung(), "a look rings nothing");
        progress.report();
        assert!(rung(), "the first sign after the look rings");
        assert_eq!(progress.count(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_look_tells_when_the_last_sign_came_not_when_it_looks() {
        let progress = Progress::default();
        assert_eq!(progress.look(), (0, None));
        progress.report();
        let reported = Instant::now();
        tokio::time::advance(Duration::from_millis(900)).await;
        assert_eq!(progress.look(), (1, Some(reported)));
    }

    #[test]
    fn usages_sum_without_overflowing_or_becoming_infinite() {
        let huge = Usage {
            input_tokens: u64::MAX,
            output_tokens: u64::MAX,
            cost_usd: f64::MAX,
        };
        let mut sum = Usage {
            input_tokens: u64::MAX - 1,
            output_tokens: u64::MAX / 2 + 1,
            cost_usd: f64::MAX / 2.0 + f64::MAX / 4.0,
        };
        sum += &sum.clone();
        assert_eq!(sum, huge, "the sums stop at the largest values");
    }

    /// Probe 56 F1, F2: $0.10 + $0.70 summed as binary fractions was a hair under a budget of
    /// $0.80, which let one more attempt run; one negative report lowered the sum.
    #[test]
    fn costs_add_up_as_the_decimals_they_were_written_as() {
        let usd = |cost_usd| Usage {
            cost_usd,
            ..Usage::default()
        };
        let mut spent = usd(0.1);
        spent += &usd(0.7);
        assert_eq!(spent.cost_usd, 0.8);
        let mut items = Usage::default();
        for _ in 0..3 {
            items += &usd(0.0012);
        }
        assert_eq!(items.cost_usd, 0.0036);
        // A hold taken back and a nought reported leave nothing behind.
        let mut step = usd(0.1);
        step -= &usd(0.1);
        step += &usd(0.0);
        assert_eq!(step.cost_usd, 0.0);
        let mut lying = usd(1.0);
        lying += &usd(-0.5);
        lying += &usd(f64::NAN);
        assert_eq!(lying.cost_usd, 1.0, "a negative report lowers nothing");
        let mut big = usd(1e300);
        big += &usd(1e300);
        assert_eq!(big.cost_usd, 2e300, "a sum too big to round stays as it is");
    }
}
