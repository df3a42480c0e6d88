//! What an operator asks of a run from any process: commands recorded in the store, which
//! the engine driving the run acts on within a second (or the next engine to resume it, before
//! it dispatches anything).

use std::collections::HashSet;

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Engine, RunHandle, driving, takeover};
use crate::approval::Approval;
use crate::command::{Command, PendingCommand, Ruling};
use crate::definition::Node;
use crate::error::{Error, Result};
use crate::plan::{self, Addition, Plan, Supersession};
use crate::problem::closest;
use crate::report::RunReport;
use crate::scheduler::{Redrive, in_plan_order};
use crate::state::{Batch, RunState, StepState, StepTransition, Transition};
use crate::store::RunRecord;

/// A refusal naming an unknown step lists the run's steps up to this many, and one naming an
/// item that does not wait the items that do.
const FEW_STEPS: usize = 20;

/// A pause of a paused run is refused with what continues it (probe 47 F5).
const PAUSED_ALREADY: &str = "the run is paused already; a resume continues it";

/// `names` joined for a message, only the first [`FEW_STEPS`] of more, then how many there
/// are in all (`what` counts them): "a, b, … (25 steps)".
fn first_few<S: std::borrow::Borrow<str>>(names: &[S], what: &str) -> String {
    match names.len() {
        n if n <= FEW_STEPS => names.join(", "),
        n => format!("{}, … ({n} {what})", names[..FEW_STEPS].join(", ")),
    }
}

/// Why a ruling on `expired`, an undecided request past its expiry, is refused: the expiry
/// came first and decides.
fn expired_request(expired: &Approval) -> String {
    let item = (expired.item).map_or(String::new(), |item| format!("item {item} of "));
    format!(
        "the approval request of {item}step `{}` expired at {}: an expired request is denied, \
         never granted, by cairn when an engine drives the run",
        expired.step_id,
        expired
            .expires_at
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

impl Engine {
    /// Sends `command` to the run `run_id` (or a unique prefix of it) and returns the run's
    /// id. A denial without a reason, or with a blank one, is refused ([`Error::Refused`]),
    /// and so is a command whose sender ([`Command::by`]) is empty or blank: the history
    /// says who decided.
    /// An approval or denial must name a step of the run that awaits approval (and, with an
    /// item, an item whose request waits); otherwise [`Error::Refused`] and nothing is
    /// recorded. So are an approval of an expired request (it is denied, never granted) and
    /// a ruling that one recorded before it covers already (the first ruling decides; see
    /// [`Command::covers`]). Pausing a paused run is refused too, and so is a pause behind a
    /// pending pause or cancel (a cancel behind a pending pause is taken: it wins). A finished run refuses
    /// every command ([`Error::Finished`]), unless it is being redriven: a redrive of many
    /// steps sends them back a batch at a time before the run itself moves
    /// ([`Engine::retry`]), and the engine that redrives it takes the command. The write
    /// judges these again ([`Store::send_ruling`](crate::store::Store::send_ruling)): a
    /// pause or a cancel that meets the run's end, its pause, or another one on the way is
    /// refused, the store unchanged, rather than left pending for the run's next drive.
    ///
    /// A pause or a cancel of a run no engine drives takes effect at once: this engine takes
    /// the run's lease, commits the pause or the cancel, and gives the lease back. So a run
    /// this engine could not take over — its guard not restored, its stored workflow
    /// corrupt ([`Error::Corrupt`]) or naming an executor this engine lacks — is refused
    /// before the command is recorded. A run a live engine drives is not read for it, and
    /// its guard need not be restored: that engine carries the command out under its own
    /// guard, so an engine without the run's guard may pause or cancel it. (Should that
    /// engine leave before the command is recorded, the command waits for the next engine
    /// to take the run over, as below.) The rulings
    /// recorded before it are applied with it: a run they leave with every step ended (a
    /// denial, and the steps that needed the step skipped) ends as its steps say, `failed`.
    /// Once recorded, the command stands: if carrying it out fails (the database locked by
    /// another process meanwhile), the run's id still comes back, the run is left as it was
    /// with the command pending, and the next engine to take it over carries it out.
    ///
    /// A pause, then [`resume`](Engine::resume) (the step in flight finishes; the next one
    /// waits for the resume):
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use async_trait::async_trait;
    /// use cairn_engine::{Action, Command, Engine, ExecContext, Executor, Outcome, Request, RunState};
    /// use serde_json::json;
    /// use tokio::sync::Notify;
    ///
    /// /// Says it started, then succeeds once let go.
    /// #[derive(Debug, Default)]
    /// struct Gate {
    ///     started: Notify,
    ///     go: Notify,
    /// }
    ///
    /// #[async_trait]
    /// impl Executor for Gate {
    ///     async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
    ///         self.started.notify_one();
    ///         self.go.notified().await;
    ///         Outcome::success(json!("done"))
    ///     }
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let gate = Arc::new(Gate::default());
    /// let engine = Engine::builder(dir.path().join("cairn.db")).executor("gate", gate.clone()).open().await?;
    /// let workflow = r#"{"name": "two", "steps": [{"pipeline": [
    ///     {"id": "a", "executor": "gate"}, {"id": "b", "executor": "gate"}
    /// ]}]}"#;
    /// let run = engine.start(engine.load_str(workflow, "two.json")?, json!({})).await?;
    /// let id = run.id().to_string();
    /// let pause = Request::new("ann", Some("deploy window closed".into()));
    /// gate.started.notified().await; // `a` runs
    /// engine.send(&id, Command::Pause(pause)).await?;
    /// gate.go.notify_one(); // `a` ends; `b` does not start
    /// assert_eq!(run.wait().await?.state, RunState::Paused);
    ///
    /// let run = engine.resume(&id).await?;
    /// gate.started.notified().await; // `b` runs now
    /// gate.go.notify_one();
    /// assert_eq!(run.wait().await?.state, RunState::Succeeded);
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, run_id: &str, command: Command) -> Result<Uuid> {
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        let refused = |message: String| Error::Refused {
            run: record.id,
            message,
        };
        if let Command::Deny(Ruling { reason, .. }) = &command
            && reason
                .as_deref()
                .is_none_or(|reason| reason.trim().is_empty())
        {
            return Err(refused(
                "a denial needs a reason (kept in the run's history and the step's error), \
                 not an empty or blank one"
                    .into(),
            ));
        }
        if command.by().trim().is_empty() {
            return Err(refused(format!(
                "who sends the {} is empty or blank: name who decides (`cairn`'s `--by`, \
                 $USER when it is left out)",
                command.kind()
            )));
        }
        if record.state.is_terminal() && !record.is_driven(Utc::now()) {
            return Err(Error::Finished(Box::new(RunReport::from(&record))));
        }
        // A pause or a cancel may take the run over: a run this engine cannot judge is
        // refused before the command is recorded. What it takes the run over with: the
        // run's judge (or, for a run a live engine drives, why this engine has none), and
        // its plan if no engine drives it.
        let takeover = match &command {
            Command::Approve(ruling) | Command::Deny(ruling) => {
                if let Some(message) = self.ruling_refused(&record, ruling).await? {
                    return Err(refused(message));
                }
                None
            }
            Command::Pause(_) if record.state == RunState::Paused => {
                return Err(refused(PAUSED_ALREADY.into()));
            }
            Command::Pause(_) | Command::Cancel(_) if record.is_driven(Utc::now()) => {
                // Recorded for the engine that drives the run, which carries it out under
                // its own guard: this one needs a judge only to take the run over should
                // that engine leave before the write, and is not refused for lacking one.
                Some((self.restore_guard(&record), None))
            }
            Command::Pause(_) | Command::Cancel(_) => {
                let judge = self.restore_guard(&record)?;
                // Carried out at once by taking the run over: a run whose stored workflow
                // no longer compiles, whose input, step rows (one for each step) or approval
                // requests do not read (a corrupt database: a time past the range of times,
                // a row deleted), could never be, and a command recorded for it would stand
                // for nothing. The plan compiled for the check serves the takeover.
                let compiled = self.grown_plan(&record).await?;
                store.input(record.id).await?;
                in_plan_order(store.steps_without_outputs(record.id).await?, &compiled.0)?;
                store.approvals(record.id).await?;
                Some((Ok(judge), Some(compiled)))
            }
        };
        // The checks above read before the write: a ruling recorded or applied in between,
        // or a pause or a cancel, or the run's end, is found by the write itself, and this
        // command refused, never taken and left pending for good.
        if !store.send_ruling(record.id, &command).await? {
            return Err(match &command {
                Command::Approve(ruling) | Command::Deny(ruling) => {
                    let message = self.ruling_refused(&record, ruling).await?;
                    refused(message.unwrap_or_else(|| {
                        "another ruling decided the step first: the first ruling recorded \
                         decides"
                            .into()
                    }))
                }
                Command::Pause(_) | Command::Cancel(_) => self.halt_refused(record.id).await?,
            });
        }
        driving::ring(&self.driving, record.id);
        let settled = match takeover {
            Some((Ok(judge), compiled)) => self.settle_undriven(record.id, judge, compiled).await,
            Some((Err(error), _)) => self.left_to_driver(record.id, error).await,
            None => Ok(()),
        };
        if let Err(error) = settled {
            // The command is recorded: it stands, and the next engine to take the run over
            // (a resume, a recovery) carries it out.
            tracing::warn!(run_id = %record.id, %error, "recorded, not carried out now");
        }
        Ok(record.id)
    }

    /// Checks that the pause or cancel just recorded for the run `run`, which a live engine
    /// drove when [`Engine::send`] looked and this one cannot take over (`error` says why),
    /// is left to a live engine: `Err(error)` if none drives the run now and a pause or a
    /// cancel of it is still pending. That command waits for the next engine to take the run
    /// over (a resume, a recovery), which carries it out before it dispatches anything.
    async fn left_to_driver(&self, run: Uuid, error: Error) -> Result<()> {
        let store = &self.inner.store;
        // The run first: a driver gone by then reads no command later (but a cancel of the
        // run it paused: see `Engine::settle_left`), so one still pending is left over.
        let record = store.find_run(&run.to_string()).await?;
        if record.is_driven(Utc::now()) {
            return Ok(());
        }
        let pending = store.pending_commands(run).await?;
        let halt =
            |sent: &PendingCommand| matches!(sent.command, Command::Pause(_) | Command::Cancel(_));
        if pending.iter().any(halt) {
            return Err(error);
        }
        Ok(())
    }

    /// Why the store did not record a pause or a cancel of the run `run` that [`Engine::send`]
    /// found it could take: the run ended meanwhile ([`Error::Finished`]), or paused, or a
    /// pause or a cancel of it is pending (a pause is refused behind either).
    async fn halt_refused(&self, run: Uuid) -> Result<Error> {
        let store = &self.inner.store;
        // The commands first: a pending pause or cancel is handled only by the commit that
        // pauses or ends the run, so the run read after them shows that move if it is gone.
        let pending = store.pending_commands(run).await?;
        let record = store.find_run(&run.to_string()).await?;
        if record.state.is_terminal() && !record.is_driven(Utc::now()) {
            return Ok(Error::Finished(Box::new(RunReport::from(&record))));
        }
        let halt = pending.iter().find_map(|sent| match &sent.command {
            Command::Pause(asked) => Some(("pause", asked)),
            Command::Cancel(asked) => Some(("cancel", asked)),
            Command::Approve(_) | Command::Deny(_) => None,
        });
        // With no engine to carry it out, say which command does (an engine that died in a
        // stall's kill grace leaves the stall's own pause pending). A person's pause is
        // carried out by a recovery, and overruled by a resume (probe 39 F3).
        let undriven = match halt {
            _ if record.is_driven(Utc::now()) => "",
            Some(("pause", asked)) if !asked.is_for_a_stall() => {
                ": no engine drives the run now; the next recovery carries it out, and a \
                 resume overrules it (a person's \"continue\")"
            }
            _ => {
                ": no engine drives the run now; the next to take it over (a resume, a \
                 recovery) carries it out"
            }
        };
        let message = match (record.state, halt) {
            (RunState::Paused, _) => PAUSED_ALREADY.to_owned(),
            (_, Some((kind, asked))) => format!(
                "a {kind} of the run, by {}, is pending already (recorded, not carried \
                 out yet{undriven})",
                asked.by
            ),
            (state, None) => format!("the run paused or ended meanwhile (it is {state} now)"),
        };
        Ok(Error::Refused { run, message })
    }

    /// Why `ruling`, on `ruling.step`, cannot be recorded for `record`'s run (the run's
    /// deadline passed, a cancel is pending, its step does not await approval, its item does
    /// not, an expired request, an earlier ruling), or `None`.
    async fn ruling_refused(&self, record: &RunRecord, ruling: &Ruling) -> Result<Option<String>> {
        let store = &self.inner.store;
        let pending = store.pending_commands(record.id).await?;
        let approvals = store.approvals(record.id).await?;
        // The first request of the step that expired by `by` with no ruling sent in time
        // denies the step (probe 181 F2: taken, then the step denied); a ruling sent before
        // a request's expiry keeps it out (probe 183 F1: a whole step's ruling was refused
        // for an item approved in time), one sent at the expiry does not (probe 183 F3).
        let first_expired = |by| Approval::first_expired(&approvals, &pending, &ruling.step, by);
        let expired_refusal = |expired: &Approval| match ruling.item {
            Some(item) if expired.item != Some(item) => {
                format!(
                    "{}; a denied item denies its step",
                    expired_request(expired)
                )
            }
            _ => expired_request(expired),
        };
        // The deadline ends what has not ended: a ruling after it would be dropped unread
        // (probe 48 F5: acknowledged, then dropped). A request that expired before it is
        // denied first, by the engine that takes the run over (probe 174 F1).
        if let Some(deadline) = record.deadline.filter(|&at| at <= Utc::now()) {
            if let Some(expired) = first_expired(deadline) {
                return Ok(Some(expired_refusal(expired)));
            }
            return Ok(Some(format!(
                "the run's deadline passed at {}: a ruling now comes too late, and the engine \
                 that ends the run times out what had not ended by then",
                deadline.to_rfc3339_opts(SecondsFormat::Millis, true)
            )));
        }
        // Commands are applied in the order sent: a ruling after a cancel decides nothing
        // (probe 74 F1: told it would be acted on).
        if let Some(asked) = (pending.iter()).find_map(|sent| match &sent.command {
            Command::Cancel(asked) => Some(asked),
            _ => None,
        }) {
            return Ok(Some(format!(
                "a cancel of the run, by {}, is pending (recorded, not carried out yet): it \
                 ends step `{}` `cancelled`, whatever a ruling sent after it says",
                asked.by, ruling.step
            )));
        }
        let Some(step) = store.step(record.id, &ruling.step).await? else {
            return Ok(Some(self.no_step(record, &ruling.step).await?));
        };
        if step.state != StepState::AwaitingApproval {
            // A step left `running` by an engine that stopped runs nowhere: say so.
            let how = if step.state == StepState::Running && !record.is_driven(Utc::now()) {
                "it was running when the engine driving the run stopped; a resume of the run \
                 starts it again"
                    .to_owned()
            } else if step.state == StepState::Ready && record.state == RunState::Paused {
                // Nothing starts in a paused run, so nothing is judged (probe 33 F5).
                "it is ready, and the run is paused: it starts, and is judged if the run \
                 has a guard, once the run is resumed"
                    .to_owned()
            } else if step.state == StepState::Ready {
                // Held back before it is judged: the guard asks only as it would start.
                "it is ready and has not been judged: it waits to start (its turn, a rate \
                 limit, a group's `max_parallel`, or a spending budget the run's attempts in \
                 flight hold); a request is listed with the approvals once the guard asks"
                    .to_owned()
            } else {
                format!("it is {}", step.state)
            };
            return Ok(Some(format!(
                "step `{}` does not await approval ({how})",
                step.id
            )));
        }
        let waiting: Vec<&Approval> = (approvals.iter())
            .filter(|approval| {
                approval.step_id == step.id
                    && approval.decision.is_none()
                    && (ruling.item.is_none() || approval.item == ruling.item)
            })
            .collect();
        let whole = |approval: &Approval| {
            approval.step_id == step.id && approval.decision.is_none() && approval.item.is_none()
        };
        if ruling.item.is_some() && approvals.iter().any(whole) {
            return Ok(Some(format!(
                "step `{}` has no items (it has no for_each): approve or deny it \
                 without `--item`",
                step.id
            )));
        }
        if let (Some(item), true) = (ruling.item, waiting.is_empty()) {
            let items: Vec<String> = (approvals.iter())
                .filter(|approval| approval.step_id == step.id && approval.decision.is_none())
                .filter_map(|approval| approval.item.map(|item| item.to_string()))
                .collect();
            let wait = match items.as_slice() {
                [] => "none waits".to_owned(),
                [item] => format!("item {item} waits"),
                items => format!("items {} wait", first_few(items, "items")),
            };
            // One decided already: by whom.
            let decided = (approvals.iter())
                .filter(|approval| approval.step_id == step.id && approval.item == Some(item))
                .find_map(|approval| approval.decision.as_ref());
            let ruled = decided.map_or(String::new(), |decision| {
                let how = if decision.approved {
                    "approved"
                } else {
                    "denied"
                };
                format!(": it was {how} by {} already", decision.by)
            });
            return Ok(Some(format!(
                "item {item} of step `{}` does not await approval{ruled} ({wait})",
                step.id
            )));
        }
        // A denial of one too: the expiry came first and decides (probe 49 F3: acknowledged,
        // it was listed as ruled on before the expiry).
        if let Some(expired) = first_expired(Utc::now()) {
            return Ok(Some(expired_refusal(expired)));
        }
        let earlier = pending
            .iter()
            .find(|earlier| earlier.command.covers(&ruling.step, ruling.item));
        if let Some(command @ (Command::Approve(earlier) | Command::Deny(earlier))) =
            earlier.map(|earlier| &earlier.command)
        {
            let ruled = match earlier.item {
                Some(item) => format!("item {item} of step `{}`", step.id),
                None => format!("step `{}`", step.id),
            };
            let whole = matches!(command, Command::Deny(_)) && earlier.item != ruling.item;
            return Ok(Some(format!(
                "{ruled} has a ruling already, by {}, that no engine has applied yet{}: \
                 the first ruling recorded decides",
                earlier.by,
                if whole {
                    " (a denial of an item denies its step)"
                } else {
                    ""
                },
            )));
        }
        Ok(None)
    }

    /// Drives the failed or cancelled run `run_id` (or a unique prefix of it) again: its
    /// failed, denied, cancelled and skipped steps — or, `from` a step, that step and
    /// everything downstream of it — run again as new attempts; succeeded steps keep their
    /// outputs; the history is kept, and its events say why. A run that succeeded or has not
    /// ended is refused ([`Error::Refused`]), and so is a `from` the run does not have.
    ///
    /// A redrive from a step that a crash interrupted between its commits is carried on
    /// from that step, with or without `from`; a `from` neither upstream nor downstream of
    /// it is refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// use async_trait::async_trait;
    /// use cairn_engine::{Action, Engine, ErrorClass, ExecContext, Executor, Outcome, RunState};
    /// use serde_json::json;
    ///
    /// /// Fails (the way a program exits 1) until it is fixed.
    /// #[derive(Debug, Default)]
    /// struct Flaky(AtomicBool);
    ///
    /// #[async_trait]
    /// impl Executor for Flaky {
    ///     async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
    ///         match self.0.load(Ordering::SeqCst) {
    ///             true => Outcome::success(json!("fixed")),
    ///             false => Outcome::failure(ErrorClass::ExitCode, "exit status 1"),
    ///         }
    ///     }
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let flaky = Arc::new(Flaky::default());
    /// let engine = Engine::builder(dir.path().join("cairn.db")).executor("flaky", flaky.clone()).open().await?;
    /// let workflow = r#"{"name": "f", "steps": [{"id": "a", "executor": "flaky"}]}"#;
    /// let run = engine.start(engine.load_str(workflow, "f.json")?, json!({})).await?;
    /// let id = run.id().to_string();
    /// assert_eq!(run.wait().await?.state, RunState::Failed);
    ///
    /// flaky.0.store(true, Ordering::SeqCst); // the fix
    /// let report = engine.retry(&id, None).await?.wait().await?;
    /// assert_eq!(report.output, Some(json!({"a": "fixed"})));
    /// # Ok(()) }
    /// ```
    pub async fn retry(&self, run_id: &str, from: Option<&str>) -> Result<RunHandle> {
        let (engine, run_id, from) = (self.clone(), run_id.to_owned(), from.map(str::to_owned));
        super::to_the_end(async move { engine.retry_now(&run_id, from.as_deref()).await }).await
    }

    /// What [`Engine::retry`] does, on the caller's task.
    async fn retry_now(&self, run_id: &str, from: Option<&str>) -> Result<RunHandle> {
        if self.inner.shutdown.is_cancelled() {
            return Err(Error::ShutDown);
        }
        let store = &self.inner.store;
        let record = store.find_run(run_id).await?;
        let run = record.id;
        let refused = |message: String| Error::Refused { run, message };
        if !matches!(record.state, RunState::Failed | RunState::Cancelled) {
            // A resume of a run a live engine drives is refused too: say who drives it.
            let driver = (record.lease.as_ref()).filter(|lease| lease.is_live(Utc::now()));
            let hint = match (record.state, driver) {
                (RunState::Succeeded, _) => String::new(),
                (_, Some(lease)) => format!(
                    " (a live engine drives it: pid {} on {})",
                    lease.holder.pid, lease.holder.host
                ),
                (_, None) => " (a resume carries an unfinished run on)".to_owned(),
            };
            let was = match record.state {
                RunState::Succeeded => "succeeded".to_owned(),
                state => format!("is {state}"),
            };
            return Err(refused(format!(
                "the run {was}; only a failed or cancelled run can be retried{hint}"
            )));
        }
        if let Some(from) = from
            && store.step(record.id, from).await?.is_none()
        {
            return Err(refused(self.no_step(&record, from).await?));
        }
        // Refused before the lease is taken: a refusal leaves the store as it was.
        if from.is_some() {
            self.redrive_from(&record, from).await?;
        }
        let judge = self.restore_guard(&record)?;
        let claim = self.claim(record.id)?;
        let standing = self.take_lease(record.id).await?;
        // Another process may have redriven it meanwhile: as it stands under the lease.
        let record = self.as_leased(record, standing).await?;
        if !matches!(record.state, RunState::Failed | RunState::Cancelled) {
            let error = refused(format!("the run is {} now", record.state));
            return Err(self.give_up(record.id, error).await);
        }
        let run_id = record.id;
        let asked = from;
        let from = match self.redrive_from(&record, asked).await {
            Ok(from) => from,
            Err(error) => return Err(self.give_up(run_id, error).await),
        };
        if from.as_deref() != asked {
            tracing::warn!(run = %run_id, from = from.as_deref().unwrap_or_default(),
                "carrying on a redrive from a step that a crash interrupted before it ended");
        }
        if let Some(from) = &from
            && let Err(error) = self.begin_redrive(&record, from).await
        {
            return Err(self.give_up(run_id, error).await);
        }
        let redrive = Redrive { from };
        match self.takeover(record, judge, Some(redrive), None).await {
            Ok(run) => self.drive(run, claim).await,
            Err(error) => Err(self.give_up(run_id, error).await),
        }
    }

    /// The step a redrive of `record` runs again from, when `asked` to run from `asked`
    /// (`None`: what failed). A redrive from a step that a crash interrupted between its
    /// commits ([`Store::redrive_from`](crate::store::Store::redrive_from)) is carried on:
    /// steps it had not sent back yet would otherwise keep outputs computed before it. Asked
    /// for another step, the redrive runs from whichever of the two is upstream of the other,
    /// which re-runs everything both ask for; two steps neither of which is downstream of the
    /// other are refused.
    async fn redrive_from(
        &self,
        record: &RunRecord,
        asked: Option<&str>,
    ) -> Result<Option<String>> {
        let Some(interrupted) = self.inner.store.redrive_from(record.id).await? else {
            return Ok(asked.map(str::to_owned));
        };
        let Some(asked) = asked.filter(|asked| *asked != interrupted) else {
            return Ok(Some(interrupted));
        };
        let (plan, _) = self.grown_plan(record).await?;
        let index = |id: &str| {
            (plan.index_of(id))
                .ok_or_else(|| Error::Bug(format!("redrive from {id}, not a step of the run")))
        };
        let (was, now) = (index(&interrupted)?, index(asked)?);
        if plan.downstream(was).binary_search(&now).is_ok() {
            return Ok(Some(interrupted));
        }
        if plan.downstream(now).binary_search(&was).is_ok() {
            return Ok(Some(asked.to_owned()));
        }
        Err(Error::Refused {
            run: record.id,
            message: format!(
                "a redrive from `{interrupted}` was interrupted before it ended, and `{asked}` \
                 is neither upstream nor downstream of it: carry it on with a retry of the run \
                 (from no step, or from `{interrupted}`), or redrive from a step both are \
                 downstream of"
            ),
        })
    }

    /// The first commit of a redrive of `record` from step `from` (under its lease): records
    /// the redrive ([`Batch::record_redrive`]), and takes the plans it supersedes out of the
    /// run ([`Engine::supersede`]).
    async fn begin_redrive(&self, record: &RunRecord, from: &str) -> Result<()> {
        // What the takeover after this commit reads and a database changed outside cairn
        // may have broken, read first: a refusal leaves the run as it was.
        self.inner.store.input(record.id).await?;
        let (plan, plans) = self.grown_plan(record).await?;
        let mut batch = Batch::new();
        batch.record_redrive(record.id, from);
        self.supersede(record, from, (&plan, &plans), &mut batch)
            .await?;
        self.inner
            .store
            .commit(&self.inner.holder.owner, batch)
            .await?;
        Ok(())
    }

    /// Adds to `batch`, the first commit of a redrive of `record` from step `from`: the
    /// plans of the planners at or after `from` taken out of the run, and those planners
    /// sent back to pending; their next success commits a new plan. (A crash after it
    /// leaves the planners pending, and the redrive recorded: the next `cairn retry` carries
    /// it on.) Refused when a plan left in force needs a step of one taken out. `(plan, plans)`:
    /// the run's plan and the plans that grew it ([`Engine::grown_plan`]).
    async fn supersede(
        &self,
        record: &RunRecord,
        from: &str,
        (plan, plans): (&Plan, &[Addition]),
        batch: &mut Batch,
    ) -> Result<()> {
        let store = &self.inner.store;
        if plans.is_empty() {
            return Ok(());
        }
        let from = (plan.index_of(from))
            .ok_or_else(|| Error::Bug(format!("redrive from {from}, not a step of the run")))?;
        let gone = plan::superseded(plan, plans, from);
        if gone.is_empty() {
            return Ok(());
        }
        let kept: Vec<Addition> = (plans.iter())
            .filter(|addition| !gone.contains(addition))
            .cloned()
            .collect();
        if let Err(error) = self.grow_plan(record, kept).await {
            let planners: Vec<&str> = gone.iter().map(|gone| gone.planner.as_str()).collect();
            // The plan left in force names the problem, not the stored workflow it grows
            // (`the plan of B:/steps/0/needs/0: unknown step or group `A.a1``).
            let error = match error {
                Error::Load(mut load) => {
                    let stored = format!("{}, ", takeover::stored_origin(record.id));
                    if let Some(plan) = load.origin.strip_prefix(&stored) {
                        load.origin = plan.to_owned();
                    }
                    load.to_string()
                }
                error => error.to_string(),
            };
            return Err(Error::Refused {
                run: record.id,
                message: format!(
                    "a redrive from {} supersedes the plans of {}, and a plan left in force \
                     needs their steps: {error}; redrive from a step both planners wait \
                     for, or from a step of the plan to keep it",
                    plan.steps()[from].id,
                    planners.join(", ")
                ),
            });
        }
        let steps = store.steps_without_outputs(record.id).await?;
        let dropped: HashSet<&str> = (gone.iter())
            .flat_map(|addition| addition.ids.iter().map(String::as_str))
            .collect();
        let items = (store.items(record.id, &dropped.iter().copied().collect::<Vec<_>>())).await?;
        for addition in &gone {
            batch.record_supersession(Supersession {
                run_id: record.id,
                seq: addition.seq,
                planner: addition.planner.clone(),
                steps: addition.steps.clone(),
                spent: plan::spent(&steps, &items, &addition.ids),
            });
            let planner = (steps.iter()).find(|step| step.id == addition.planner);
            let Some(planner) = planner.filter(|step| !dropped.contains(step.id.as_str())) else {
                continue; // A step of another plan taken out, or back to pending already.
            };
            if planner.state == StepState::Pending {
                continue;
            }
            let reason = format!(
                "the run was redriven from {}: plan {} of {} is superseded ({} steps)",
                plan.steps()[from].id,
                addition.seq,
                addition.planner,
                addition.steps_leaving(&gone)
            );
            batch.push(Transition::Step(StepTransition {
                run_id: record.id,
                step_id: planner.id.clone(),
                position: None,
                from: planner.state,
                to: StepState::Pending,
                attempt: planner.attempt,
                interrupted: planner.interrupted,
                fallback: 0,
                output: None,
                error: None,
                wake_at: None,
                usage: planner.usage.clone(),
                detail: Some(json!({ "reason": reason })),
            }))?;
        }
        Ok(())
    }

    /// Why a command naming `step` is refused when run `record` has no such step: a group's
    /// id with its steps, else the closest id, or the run's ids when they are few.
    async fn no_step(&self, record: &RunRecord, step: &str) -> Result<String> {
        let (plan, _) = self.grown_plan(record).await?;
        let group = (plan.roots())
            .flat_map(|root| Node::all(std::slice::from_ref(root)))
            .find(|node| node.id.as_deref() == Some(step) && node.group().is_some());
        if let Some((kind, members)) = group.and_then(Node::group) {
            let ids: Vec<&str> = (Node::all(members))
                .filter(|node| node.executor.is_some())
                .filter_map(|node| node.id.as_deref())
                .collect();
            let shown = first_few(&ids, "steps");
            return Ok(format!(
                "`{step}` is a {kind} group, not a step: name one of its steps ({shown})"
            ));
        }
        let steps = self.inner.store.steps_without_outputs(record.id).await?;
        let ids = steps.iter().map(|step| step.id.as_str());
        let hint = match closest(step, ids.clone()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if steps.len() <= FEW_STEPS => {
                format!("the run's steps: {}", ids.collect::<Vec<_>>().join(", "))
            }
            None => format!("none of the run's {} steps is close", steps.len()),
        };
        Ok(format!("no step `{step}` ({hint})"))
    }

    /// The approval requests that wait for a decision, in every run, oldest first.
    pub async fn approvals(&self) -> Result<Vec<Approval>> {
        self.inner.store.waiting_approvals().await
    }
}

mod settle;
#[cfg(test)]
mod tests;
