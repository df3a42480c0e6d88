//! The scheduler's shell: drives one run by feeding its [`Ledger`] and carrying out what it
//! decides.
//!
//! One loop per run. It waits for an attempt to end, a retry to come due, the run's
//! deadline, a lease renewal or the engine's shutdown; tells the ledger; commits the
//! transitions the ledger decided in one transaction; and only then starts the attempts
//! the ledger marked running. So a step's output is durable before any step that reads it
//! starts, and concurrent transitions share one commit. Every decision is the ledger's.

mod clock;
mod ledger;
mod task;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::executor::{ErrorClass, ExecContext, ExecError, Executors, Progress};
use crate::guard::Guard;
use crate::lease::LeaseHolder;
use crate::plan::StepIndex;
use crate::report::RunReport;
use crate::store::{CommitReport, NewRun, Store};
#[cfg(test)]
pub(crate) use ledger::JUDGING_SLICE;
pub(crate) use ledger::{Committed, Judge, Redrive, in_plan_order, kept_outputs};
use ledger::{Input, Ledger, Start};
use task::{Completion, ItemChannels, ItemEnd, RunningItems, run_attempt};

/// How often, at most, a driver tells its ledger which running attempts showed signs of
/// life (and so commits their clocks): it looks at the first sign after a quiet spell, then
/// at most once in this long while signs keep coming. A run whose attempts are silent, or
/// that has none running, does not wake for them.
const PROGRESS_POLL: Duration = Duration::from_secs(1);

/// What every driver of an engine shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Where the runs are committed.
    pub(crate) store: Arc<dyn Store>,
    /// The executors steps name.
    pub(crate) executors: Executors,
    /// The guard of the runs this engine starts.
    pub(crate) guard: Option<Arc<dyn Guard>>,
    /// The engine's directory, read once when it opened (`None` if it could not be): the
    /// directory of the runs it starts ([`RunRecord::cwd`](crate::store::RunRecord::cwd)), and of
    /// those stored without one that it drives.
    pub(crate) cwd: Option<PathBuf>,
    /// Who this engine is, as a lease holder.
    pub(crate) holder: LeaseHolder,
    /// Cancelled when the engine shuts down.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled when the engine stops starting new attempts.
    pub(crate) drain: CancellationToken,
    /// The cap on one step's output of the runs this engine starts (and of those recorded
    /// without one).
    pub(crate) max_output_bytes: usize,
    /// The cap this engine gives every run it takes over, recorded with the run.
    pub(crate) max_output_override: Option<usize>,
    /// How long a lease this engine takes lasts unless renewed.
    pub(crate) lease_ttl: Duration,
}

/// A run as a driver takes it over: what it runs, where it stands, who judges it.
#[derive(Debug)]
pub(crate) struct Takeover {
    pub(crate) run: Committed,
    pub(crate) judge: Judge,
    /// For a new run: the record to create with the first commit.
    pub(crate) creation: Option<NewRun>,
    /// For an ended run driven again: what to run again.
    pub(crate) redrive: Option<Redrive>,
    /// When a person asked to continue the run (`cairn resume`): a person's pause recorded
    /// before then that no engine carried out is overruled by it (cairn's own, for a stall,
    /// is carried out).
    pub(crate) continued_at: Option<DateTime<Utc>>,
    /// The cap on one step's output the run is driven with (as stored with it).
    pub(crate) max_output_bytes: usize,
}

/// A running attempt as the shell watches it: how to cancel it, and its signs of life.
#[derive(Debug)]
struct Watch {
    cancel: CancellationToken,
    progress: Progress,
    /// The progress count last told to the ledger.
    seen: u64,
    /// A `for_each` attempt's leave to start items: one an item, the first window's given
    /// at its start, one more for each item's end once it is committed and no pause or
    /// cancel was asked before that commit ([`CommitReport::halt_asked`]).
    items: Arc<Semaphore>,
    /// Items that ended since the last commit: their leaves are given after it.
    ended: usize,
    /// A `for_each` attempt's running items: each one's signs of life and own stop.
    running: Arc<RunningItems>,
    /// When its time limit cuts the attempt off, if it has one.
    deadline: Option<Instant>,
}

/// How the driver reads an item's end before telling the ledger.
#[derive(Clone, Copy, Debug)]
enum EndRead {
    /// As its attempt reported it.
    AsReported,
    /// Read once the run's deadline passed: cancelled with the run (what it spent is kept,
    /// its output not).
    Late,
    /// Read as the engine stops: an item its stop cancelled (not a cancel of the run) was
    /// interrupted, and runs again at the resume.
    Interrupted,
}

/// Drives one run. Built by the engine, consumed by [`Driver::drive`].
#[derive(Debug)]
pub(crate) struct Driver {
    engine: Arc<Shared>,
    run_id: Uuid,
    ledger: Ledger,
    /// A new run's record, written with the first commit.
    creation: Option<NewRun>,
    /// Attempts committed as running, to start after the commit.
    starts: Vec<Start>,
    /// The running attempts, each a task of its own so that it progresses while the driver
    /// commits.
    tasks: JoinSet<Completion>,
    events: broadcast::Sender<Event>,
    cancel: CancellationToken,
    /// Cancels the running attempts (a child of `cancel`).
    attempts: CancellationToken,
    /// Tells the running attempts to stop at once, with no grace: the run's lease is lost.
    kill_now: CancellationToken,
    /// Cancelled once the ledger halts the run: no new item of a running `for_each`
    /// attempt starts.
    halted: CancellationToken,
    /// The running attempts, by step.
    watches: HashMap<StepIndex, Watch>,
    /// Where `for_each` attempts report each item as it ends, and where the driver reads them.
    /// (Boxed: the channel allocates a block of 32 slots when made, for every run, 3.9 KB
    /// of `ItemEnd`s that a run without `for_each` never sends.)
    item_ends: (
        mpsc::UnboundedSender<Box<ItemEnd>>,
        mpsc::UnboundedReceiver<Box<ItemEnd>>,
    ),
    /// Rung when the run has commands to read (the engine's watch, or a send in this process).
    commands: Arc<Notify>,
    /// Counts the reads of the commands that left the run going: an item that comes 10 ms or
    /// more after the last one waits for the next, rung for, before it starts
    /// ([`ItemChannels`]).
    commands_read: watch::Sender<u64>,
    /// Rung by the running attempts' [`Progress`] at their first sign of life after a look.
    signs: Arc<Notify>,
    /// [`Takeover::continued_at`], until the first read of the commands.
    continued_at: Option<DateTime<Utc>>,
}

impl Driver {
    /// A driver that takes over `run` from its committed state.
    pub(crate) fn new(
        engine: Arc<Shared>,
        run: Takeover,
        events: broadcast::Sender<Event>,
        commands: Arc<Notify>,
    ) -> Result<Driver> {
        let run_id = run.run.run_id;
        let mut ledger = Ledger::take_over(
            run.run,
            run.judge,
            run.max_output_bytes,
            clock::now(),
            run.redrive,
        )?;
        ledger.tell_time_by(clock::now);
        let cancel = engine.shutdown.child_token();
        let attempts = cancel.child_token();
        Ok(Driver {
            engine,
            run_id,
            ledger,
            creation: run.creation,
            starts: Vec::new(),
            tasks: JoinSet::new(),
            events,
            cancel,
            attempts,
            kill_now: CancellationToken::new(),
            halted: CancellationToken::new(),
            watches: HashMap::new(),
            item_ends: mpsc::unbounded_channel(),
            commands,
            commands_read: watch::Sender::new(0),
            signs: Arc::new(Notify::new()),
            continued_at: run.continued_at,
        })
    }

    /// Runs the loop until the run ends, pauses, or the engine stops, or `lease` tells that
    /// the run's lease is gone (the engine's heartbeat renews it). On a storage or lease
    /// failure the attempts are stopped and the run is left resumable.
    pub(crate) async fn drive(mut self, lease: oneshot::Receiver<Error>) -> Result<RunReport> {
        let result = self.steer(lease).await;
        if result.is_err() {
            self.attempts.cancel();
            while self.tasks.join_next().await.is_some() {}
            let owner = &self.engine.holder.owner;
            if let Err(error) = self.engine.store.release_lease(self.run_id, owner).await {
                tracing::warn!(run_id = %self.run_id, %error, "could not release the lease");
            }
        }
        result
    }

    async fn steer(&mut self, mut lease: oneshot::Receiver<Error>) -> Result<RunReport> {
        // A sign of life came since the last look; the next look may come at `next_look`.
        let (mut signs, mut next_look) = (false, Instant::now());
        let mut draining = false;
        loop {
            // Read each time round: a redrive's clock starts with its last batch.
            let deadline = self.ledger.deadline().map(clock::instant_of);
            if self.ledger.is_over() {
                return Ok(self.ledger.report());
            }
            if self.tasks.is_empty() && self.ledger.is_paused() {
                let owner = &self.engine.holder.owner;
                self.engine.store.release_lease(self.run_id, owner).await?;
                return Ok(self.ledger.report());
            }
            if self.tasks.is_empty() && self.ledger.is_draining() {
                return self.stop(Input::Interrupted).await;
            }
            let next_wake = self.ledger.next_wake().map(clock::instant_of);
            tokio::select! {
                biased;
                // First: a run whose lease is lost is no longer this engine's, whatever else
                // came (a Ctrl-Z'd cairn that finds it lost also shuts the engine down).
                lost = &mut lease => {
                    // Another engine may run the steps again already: no grace (probe 50
                    // F2: a frozen engine's copy ran beside the new one for its grace).
                    self.kill_now.cancel();
                    self.cancel.cancel();
                    // (A heartbeat gone without a word is a bug: stop, as for a lost lease.)
                    return Err(lost.unwrap_or(Error::LeaseLost(self.run_id)));
                }
                () = self.cancel.cancelled() => return self.stop(Input::Interrupted).await,
                () = self.engine.drain.cancelled(), if !draining => {
                    draining = true;
                    self.ledger.apply(Input::Drain, clock::now())?;
                }
                Some(end) = self.item_ends.1.recv() => {
                    // Every item that ended since: they commit together (group commit). Read
                    // once the deadline passed, their ends are not kept (probe 36 F1).
                    let late = self.past_deadline();
                    let read = if late { EndRead::Late } else { EndRead::AsReported };
                    self.item(*end, read)?;
                    while let Ok(end) = self.item_ends.1.try_recv() {
                        self.item(*end, read)?;
                    }
                    if late {
                        return self.stop(Input::TimedOut).await;
                    }
                }
                Some(joined) = self.tasks.join_next() => {
                    // An end read once the deadline passed is not kept: the run times out,
                    // its step cancelled with the others (probe 33 F1: kept, it ended
                    // `succeeded` in a run that failed as timed out).
                    if self.past_deadline() {
                        self.spent_as_stopped(&joined);
                        return self.stop(Input::TimedOut).await;
                    }
                    self.complete(joined)?;
                    while let Some(joined) = self.tasks.try_join_next() {
                        self.complete(joined)?;
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    return self.stop(Input::TimedOut).await;
                }
                () = self.commands.notified() => self.read_commands().await?,
                () = self.signs.notified(), if !signs => signs = true,
                () = tokio::time::sleep_until(next_look), if signs => {
                    self.read_progress()?;
                    signs = false;
                    next_look = Instant::now() + PROGRESS_POLL;
                }
                // Last: a ledger with work left wakes at once, turn after turn, and must not
                // starve the deadline or the commands.
                () = sleep_until(next_wake), if next_wake.is_some() => {}
            }
            if self.ledger.stall_due(clock::now()) {
                // Signs of life are read at most once a `PROGRESS_POLL`, but always before a
                // window is judged: one shorter than that would otherwise run out on an
                // attempt that kept talking. Whether or not the bell was heard: another
                // branch may have won the select each time since it rang (an attempt's end
                // that came while a commit waited on the store's lock).
                self.read_progress()?;
                (signs, next_look) = (false, Instant::now() + PROGRESS_POLL);
            }
            // Whatever woke the loop: the select above takes an attempt's end before the
            // deadline, and a run of steps that end at once always has one ready, so a
            // deadline due by now would otherwise wait while turn after turn starts more.
            // A run whose steps have all ended (read before the deadline) ends as they did.
            if self.past_deadline() && !self.ledger.all_ended() {
                return self.stop(Input::TimedOut).await;
            }
            // A ruling sent before a request expired counts, however late it is read: the
            // commands are read before the turn that would deny the request (probe 39 F5: a
            // ruling sent within the second before the expiry was lost to it).
            if self.ledger.approval_expired(clock::now()) {
                self.read_commands().await?;
            }
            self.turn().await?;
        }
    }

    /// Tells the ledger the commands other processes sent the run.
    pub(crate) async fn read_commands(&mut self) -> Result<()> {
        self.read_commands_sent_by(None).await
    }

    /// Tells the ledger the commands other processes sent the run by `by` (all, if `None`);
    /// later ones are left pending. Says what a pause or a cancel among them does.
    async fn read_commands_sent_by(&mut self, by: Option<DateTime<Utc>>) -> Result<()> {
        self.take_commands_sent_by(by).await?;
        self.ledger.say_asked();
        Ok(())
    }

    /// [`Driver::read_commands_sent_by`], saying nothing yet.
    async fn take_commands_sent_by(&mut self, by: Option<DateTime<Utc>>) -> Result<()> {
        if self.creation.is_some() {
            return Ok(()); // Nobody can have sent a command to a run not recorded yet.
        }
        let continued_at = self.continued_at.take();
        let pending = self.engine.store.pending_commands(self.run_id).await?;
        let sent = pending
            .into_iter()
            .filter(|command| by.is_none_or(|by| command.created_at <= by));
        for command in sent {
            // A person's "continue" overrules a person's pause, never cairn's own for a
            // stall: that one is carried out, as `cairn recover` carries it out.
            let input = match (&command.command, continued_at) {
                (Command::Pause(request), Some(at))
                    if command.created_at < at && !request.is_for_a_stall() =>
                {
                    Input::Overruled(command)
                }
                _ => Input::Command(command),
            };
            self.ledger.apply(input, clock::now())?;
        }
        if !self.ledger.starts_no_items() {
            self.commands_read.send_modify(|reads| *reads += 1);
        }
        Ok(())
    }

    /// Tells the ledger which running attempts, and which of their items, showed signs of
    /// life since the last look.
    fn read_progress(&mut self) -> Result<()> {
        let now = clock::now();
        for (&step, watch) in &mut self.watches {
            // Each sign is dated when it came, not when it is read.
            let (count, last) = watch.progress.look();
            if count != watch.seen {
                watch.seen = count;
                let at = last.map_or(now, |last| clock::time_of(last, now));
                let input = Input::Progress {
                    step,
                    item: None,
                    at,
                };
                self.ledger.apply(input, now)?;
            }
            for (item, last) in watch.running.heard() {
                let input = Input::Progress {
                    step,
                    item: Some(item),
                    at: clock::time_of(last, now),
                };
                self.ledger.apply(input, now)?;
            }
        }
        Ok(())
    }

    /// Applies the commands sent while no engine drove the run, with no engine driving it
    /// now (the caller holds its lease): a pause or a cancel takes effect at once. Starts
    /// nothing; gives the lease up.
    pub(crate) async fn settle_commands(mut self) -> Result<RunReport> {
        self.read_commands().await?;
        self.ledger.settle_halt(clock::now())?;
        self.commit().await?;
        self.commit_work_left().await?;
        let owner = &self.engine.holder.owner;
        self.engine.store.release_lease(self.run_id, owner).await?;
        Ok(self.ledger.report())
    }

    /// Commits, batch after batch, what the ledger left for later batches (a cancel or a
    /// time-out of many steps, a long cascade of skips), starting nothing.
    async fn commit_work_left(&mut self) -> Result<()> {
        while self.ledger.has_work_left() {
            self.ledger.settle_halt(clock::now())?;
            self.commit().await?;
        }
        Ok(())
    }

    /// One turn: the ledger decides at the current time, the decisions are committed (with
    /// the run's record if it is new), then the attempts it started are spawned.
    pub(crate) async fn turn(&mut self) -> Result<()> {
        let starts = self.ledger.turn(clock::now())?;
        self.starts.extend(starts);
        // Preparing held the runtime's thread for its slice: the signal a person sent
        // meanwhile is read before the attempts it prepared start, which then do not
        // ([`Driver::commit`]). A yield lets the runtime poll its driver, where signals wait.
        let took_long = self.ledger.took_its_slice();
        if took_long {
            tokio::task::yield_now().await;
        }
        self.commit().await?;
        // A turn that took its slice (the steps' expressions took long) reads the commands
        // sent meanwhile before anything else is told: the next turn, or the ends of the
        // attempts that came meanwhile (probe 85 F3: those ended the run `failed`, a cancel
        // sent before them lost).
        if took_long || self.ledger.ran_out_of_its_slice() {
            self.read_commands().await?;
        }
        Ok(())
    }

    /// Tells the ledger an item's end, as `read` says.
    fn item(&mut self, end: ItemEnd, read: EndRead) -> Result<()> {
        let ItemEnd {
            step,
            index,
            mut outcome,
        } = end;
        match (read, &mut outcome.result) {
            (EndRead::Late, result) => {
                *result = Err(ExecError {
                    class: ErrorClass::Cancelled,
                    message: ledger::TIMED_OUT.into(),
                });
            }
            (EndRead::Interrupted, Err(error))
                if error.class == ErrorClass::Cancelled && !self.ledger.is_cancelling() =>
            {
                error.class = ErrorClass::Interrupted;
            }
            _ => {}
        }
        if let Some(watch) = self.watches.get_mut(&step) {
            watch.ended += 1;
        }
        let input = Input::Item {
            step,
            index,
            outcome,
        };
        self.ledger.apply(input, clock::now())
    }

    fn complete(&mut self, joined: Result<Completion, tokio::task::JoinError>) -> Result<()> {
        let Completion {
            step,
            outcome,
            cut_off,
        } = joined.map_err(|error| Error::Bug(format!("attempt task: {error}")))?;
        // A `for_each` task reported its items before it ended: they come first.
        while let Ok(end) = self.item_ends.1.try_recv() {
            self.item(*end, EndRead::AsReported)?;
        }
        self.watches.remove(&step);
        if cut_off {
            self.ledger.apply(Input::TimeLimit { step }, clock::now())?;
        }
        let input = Input::Completed { step, outcome };
        self.ledger.apply(input, clock::now())
    }

    /// Whether the run's deadline has passed.
    fn past_deadline(&self) -> bool {
        self.ledger.deadline().is_some_and(|at| at <= clock::now())
    }

    /// Counts what an attempt whose end is not kept (the engine stopped it) spent.
    fn spent_as_stopped(&mut self, joined: &Result<Completion, tokio::task::JoinError>) {
        if let Ok(done) = joined {
            self.ledger.spent_as_stopped(done.step, &done.outcome);
        }
    }

    /// Stops every attempt, then tells the ledger why (`TimedOut` ends the run, releasing
    /// its lease in the same commit; `Interrupted` leaves it resumable and gives up the
    /// lease). At an interruption, an attempt that succeeded meanwhile is recorded so
    /// ([`Ledger::keeps_at_interruption`]); of any other end, only what it spent is kept
    /// ([`Ledger::spent_as_stopped`]).
    async fn stop(&mut self, why: Input) -> Result<RunReport> {
        let interrupted = matches!(why, Input::Interrupted);
        if matches!(why, Input::TimedOut) {
            // A cancel sent before the deadline, which the engine reads within a second, wins
            // over the time-out (probe 39 F6); one sent after it does not, as when no engine
            // drives the run (probe 42 F2).
            self.read_commands_sent_by(self.ledger.deadline()).await?;
        }
        let stopped_at = Instant::now();
        self.attempts.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            let kept = joined.as_ref().is_ok_and(|done| {
                let deadline = (self.watches.get(&done.step)).and_then(|watch| watch.deadline);
                let timed_out = deadline.is_some_and(|deadline| deadline <= stopped_at);
                let (step, outcome) = (done.step, &done.outcome);
                interrupted && (self.ledger).keeps_at_interruption(step, outcome, timed_out)
            });
            if kept {
                self.complete(joined)?;
            } else {
                self.spent_as_stopped(&joined);
            }
        }
        // Items that ended before the stop are kept: they do not run again. Not at the
        // deadline: their ends are read after it. At an interruption, those the stop
        // cancelled run again at the resume.
        let read = if interrupted {
            EndRead::Interrupted
        } else {
            EndRead::Late
        };
        while let Ok(end) = self.item_ends.1.try_recv() {
            self.item(*end, read)?;
        }
        self.starts.clear();
        self.ledger.apply(why, clock::now())?;
        self.commit().await?;
        if interrupted {
            let owner = &self.engine.holder.owner;
            self.engine.store.release_lease(self.run_id, owner).await?;
        } else {
            // A time-out of more steps than a batch takes ends the run over several commits.
            self.commit_work_left().await?;
        }
        Ok(self.ledger.report())
    }

    /// Commits the ledger's batch, then announces it and starts the attempts it committed —
    /// unless the engine was told to stop meanwhile, or the commit found a pause or a cancel
    /// asked before it ([`CommitReport::halt_asked`]): then they start only if the commands,
    /// read at once, do not halt the run ([`Driver::halt_before_start`]), and the batch that
    /// halts it is committed in turn.
    async fn commit(&mut self) -> Result<()> {
        loop {
            for step in self.ledger.take_cancels() {
                if let Some(watch) = self.watches.get(&step) {
                    watch.cancel.cancel();
                }
            }
            for (step, index) in self.ledger.take_item_stops() {
                if let Some(watch) = self.watches.get(&step) {
                    watch.running.stop(index);
                }
            }
            if self.ledger.starts_no_items() {
                self.halted.cancel();
                // Items whose leave was given, but that their task did not start before
                // the halt, never will: they go back to pending.
                for (&step, watch) in &self.watches {
                    self.ledger.items_unstarted(step, watch.running.close());
                }
            }
            let batch = self.ledger.take_batch();
            if batch.is_empty() {
                // Items whose end recorded nothing (their step ended meanwhile) hold no leave.
                self.give_item_leaves();
                return Ok(());
            }
            let engine = &self.engine;
            let committed = match self.creation.take() {
                Some(run) => {
                    let (holder, ttl) = (&engine.holder, engine.lease_ttl);
                    // Nobody can have sent a command to a run not recorded yet.
                    let events = engine.store.create_run(&run, holder, ttl, batch).await?;
                    CommitReport {
                        events,
                        halt_asked: false,
                    }
                }
                None => engine.store.commit(&engine.holder.owner, batch).await?,
            };
            for event in committed.events {
                let _ = self.events.send(event);
            }
            let items_ended = self.watches.values().any(|watch| watch.ended > 0);
            // The engine told to stop while the turn prepared these attempts (a slow `when`
            // held the runtime: probe 83 F2) starts none of them either.
            let stopping = self.engine.drain.is_cancelled() && !self.ledger.starts_no_items();
            if (committed.halt_asked || stopping)
                && (!self.starts.is_empty() || items_ended)
                && self.halt_before_start(committed.halt_asked).await?
            {
                continue;
            }
            self.give_item_leaves();
            return self.spawn_starts();
        }
    }

    /// Halts the run before the attempts a commit marked running start, if the engine was
    /// told to stop meanwhile, or if the commands, read when the commit found a pause or a
    /// cancel `asked` among them, halt it: then none of those attempts starts (the ledger is
    /// told so, then carries out the halt as far as it can: the run pauses, or is
    /// cancelled, once nothing runs), and `true` comes back, with a batch to commit.
    /// `false`: the run goes on (a pause a person's `cairn resume` overruled), the attempts
    /// are to start.
    async fn halt_before_start(&mut self, asked: bool) -> Result<bool> {
        if self.engine.drain.is_cancelled() {
            self.ledger.apply(Input::Drain, clock::now())?;
        }
        if asked {
            self.take_commands_sent_by(None).await?;
        }
        let halted = self.ledger.starts_no_items();
        let now = clock::now();
        if halted {
            for start in std::mem::take(&mut self.starts) {
                let step = start.step;
                tracing::info!(run_id = %self.run_id, step, "not started: the run is halted");
                self.ledger.apply(Input::NotStarted { step }, now)?;
            }
        }
        // Said once the attempts that never start are no longer counted in flight (probe 80
        // F1: "once its 1 step(s) in flight finish", and the run paused at once).
        self.ledger.say_asked();
        if !halted {
            return Ok(false);
        }
        // Halted, the ledger starts nothing.
        let starts = self.ledger.turn(now)?;
        self.starts.extend(starts);
        Ok(true)
    }

    /// Lets each `for_each` attempt start as many items as ended since the last commit,
    /// unless the run is halted (then its attempts start no item at all).
    fn give_item_leaves(&mut self) {
        let halted = self.ledger.starts_no_items();
        if !halted {
            self.ledger.leaves_given();
        }
        for watch in self.watches.values_mut() {
            let ended = std::mem::take(&mut watch.ended);
            if !halted {
                watch.items.add_permits(ended);
            }
        }
    }

    /// Starts the attempts committed as running, each a task of its own.
    fn spawn_starts(&mut self) -> Result<()> {
        for start in self.starts.drain(..) {
            let Some(executor) = self.engine.executors.get(&start.executor).cloned() else {
                return Err(Error::UnknownExecutor(start.executor));
            };
            let ctx = ExecContext {
                cancel: self.attempts.child_token(),
                kill_now: self.kill_now.clone(),
                progress: Progress::ringing(Arc::clone(&self.signs)),
                deadline: start.timeout.map(|timeout| Instant::now() + timeout),
                limit: start.timeout,
                max_output: start.max_output,
                cwd: self.ledger.cwd().cloned(),
            };
            let leaves = Arc::new(Semaphore::new(start.item_limit));
            let running = Arc::new(RunningItems::new(Arc::clone(&self.signs)));
            let watch = Watch {
                cancel: ctx.cancel.clone(),
                progress: ctx.progress.clone(),
                seen: 0,
                items: Arc::clone(&leaves),
                ended: 0,
                running: Arc::clone(&running),
                deadline: ctx.deadline,
            };
            self.watches.insert(start.step, watch);
            let items = ItemChannels {
                ends: self.item_ends.0.clone(),
                leaves,
                halted: self.halted.clone(),
                read_commands: Arc::clone(&self.commands),
                commands_read: self.commands_read.subscribe(),
                running,
                run_deadline: self.ledger.deadline().map(clock::instant_of),
            };
            self.tasks.spawn(run_attempt(start, executor, ctx, items));
        }
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
