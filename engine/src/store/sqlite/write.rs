//! How a batch of transitions is written: prepared statements, typed binds.
//!
//! The writer thread (see `writer.rs`) runs a commit in one `BEGIN IMMEDIATE` transaction:
//! the new run (if any), the fencing check of every run the batch writes to, what the batch
//! grows its runs by, the steps' and runs' last states, one event per transition,
//! approvals, progress, handled commands and the redrive under way. Each statement's text
//! is fixed, so it is prepared once per connection: the hot ones for the writer's life
//! (`prepared.rs`), the others cached. A step or run that moves several times in one batch
//! is written once, with its last state, guarded by the state it had before the batch; every
//! transition still gets its own event.
//!
//! A guarded update that changes no row (the step or run is not in the state the batch
//! expects it to leave) or a run whose lease another owner holds refuses the commit: the
//! caller rolls the transaction back.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Statement, params};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::event::{Event, EventKind, recorded};
use crate::executor::ErrorClass;
use crate::expr::SharedJson;
use crate::item::ItemRecord;
use crate::plan::Addition;
use crate::state::{Batch, RunTransition, StepState, StepTransition, Transition};

use super::in_place::{StoredOutput, write_big_output};
use super::prepared::{EVENT_COLUMNS, EVENTS_AT_ONCE, Prepared};
use super::rowids::StepRowids;

use annotations::{ApprovalRow, approval_row};
pub(super) use command_row::CommandRow;
pub(super) use creation::Creation;

/// Why a commit stopped before its `COMMIT`.
#[derive(Debug)]
pub(super) enum Failure {
    /// Another owner holds the lease of a run of the batch.
    LeaseLost,
    /// This step row (an index into the batch's step rows) is not in the state the batch
    /// expects it to leave.
    StaleStep(usize),
    /// A run is not in the state the batch expects it to leave.
    StaleRun,
    /// The database failed.
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Failure::Sql(error)
    }
}

/// A batch of transitions turned into the rows a commit writes, owned so that it can be
/// sent to the writer thread.
#[derive(Debug)]
pub(super) struct Rows {
    steps: Vec<StepRow>,
    runs: Vec<RunRow>,
    events: Vec<EventRow>,
    approvals: Vec<ApprovalRow>,
    /// Steps whose approval requests are withdrawn: (run, step).
    withdrawn: Vec<(String, String)>,
    handled: Vec<i64>,
    /// Commands the engine gives its runs.
    sent: Vec<CommandRow>,
    /// Every run the batch writes to: the committer must hold each one's lease.
    leased: Vec<Uuid>,
    progress: Vec<(String, String, i64)>,
    /// The usage so far of running `for_each` steps (run, step, JSON text).
    usage: Vec<(String, String, String)>,
    /// Stalls of running steps: (run, step, `{"stall", "escalation"}` as JSON).
    stalls: Vec<(String, String, String)>,
    plans: Vec<PlanRow>,
    /// Plans taken out of their runs: (run, seq, what their steps spent as JSON).
    superseded: Vec<(String, u32, String)>,
    items: Vec<ItemRow>,
    /// Redrives from a step under way: (run, the step).
    redrives: Vec<(String, String)>,
    /// New caps on one step's output: (run, bytes).
    max_outputs: Vec<(String, i64)>,
}

/// The nodes a planner added: the plan, and its steps' rows (pending).
#[derive(Debug)]
struct PlanRow {
    run: String,
    seq: u32,
    planner: String,
    /// JSON text.
    steps: String,
    ids: Vec<String>,
    first: i64,
}

/// A `for_each` item that ended.
#[derive(Debug)]
struct ItemRow {
    run: Uuid,
    step: String,
    index: i64,
    state: &'static str,
    attempt: u32,
    /// JSON text.
    output: Option<String>,
    error: Option<String>,
}

/// The last state of a step in a batch, guarded by the state it had before.
#[derive(Debug)]
struct StepRow {
    run: Uuid,
    step: String,
    /// The step's position, if the transition said it.
    position: Option<usize>,
    from: &'static str,
    to: &'static str,
    attempt: u32,
    interrupted: u32,
    fallback: u32,
    /// Shared with the run; bound as its [text](SharedJson::text), which a planner's plan
    /// is kept as already.
    output: Option<Arc<SharedJson>>,
    error: Option<String>,
    wake_at: Option<i64>,
    /// JSON text; `None` keeps the stored usage.
    usage: Option<String>,
}

/// The last state of a run in a batch, guarded by the state it had before.
#[derive(Debug)]
struct RunRow {
    run: Uuid,
    from: &'static str,
    to: &'static str,
    /// Serialized by the writer: a big one straight into its place (`in_place.rs`).
    output: Option<Value>,
    error: Option<String>,
    error_class: Option<&'static str>,
    /// Milliseconds since the epoch; `None` keeps the stored deadline.
    deadline_at: Option<i64>,
    /// A run that ended needs no lease any more: it is released in the same commit.
    ended: bool,
}

/// One transition, as its event.
#[derive(Debug)]
struct EventRow {
    run: Uuid,
    /// Set by [`Rows::number`].
    seq: i64,
    kind: EventKind,
    attempt: Option<u32>,
    detail: Option<Map<String, Value>>,
    /// `detail` as the JSON text stored.
    detail_text: Option<String>,
}

impl StepRow {
    /// Binds the row's columns to an update of its step ([`Prepared::step`]'s first 11
    /// parameters; `key` the buffer its run id is written into).
    fn bind(&self, update: &mut Statement<'_>, key: &mut [u8; 45]) -> rusqlite::Result<()> {
        let output = self.output.as_deref().map(SharedJson::text);
        update.raw_bind_parameter(1, &*self.run.hyphenated().encode_lower(key))?;
        update.raw_bind_parameter(2, &self.step)?;
        update.raw_bind_parameter(3, self.to)?;
        update.raw_bind_parameter(4, self.attempt)?;
        update.raw_bind_parameter(5, self.fallback)?;
        update.raw_bind_parameter(6, output.as_deref())?;
        update.raw_bind_parameter(7, &self.error)?;
        update.raw_bind_parameter(8, self.wake_at)?;
        update.raw_bind_parameter(9, &self.usage)?;
        update.raw_bind_parameter(10, self.from)?;
        update.raw_bind_parameter(11, self.interrupted)
    }
}

impl EventRow {
    /// Binds the event's columns to `insert`'s parameters after the first `skip`, with `now`
    /// its time (`key` the buffer its run id is written into).
    fn bind(
        &self,
        insert: &mut Statement<'_>,
        skip: usize,
        now: i64,
        key: &mut [u8; 45],
    ) -> rusqlite::Result<()> {
        let (step, from, to) = match &self.kind {
            EventKind::Created => (None, None, "pending"),
            EventKind::Run { from, to } => (None, Some(from.as_str()), to.as_str()),
            EventKind::Step { step_id, from, to } => {
                (Some(step_id.as_str()), Some(from.as_str()), to.as_str())
            }
        };
        let run = &*self.run.hyphenated().encode_lower(key);
        insert.raw_bind_parameter(skip + 1, run)?;
        insert.raw_bind_parameter(skip + 2, self.seq)?;
        insert.raw_bind_parameter(skip + 3, now)?;
        insert.raw_bind_parameter(skip + 4, step)?;
        insert.raw_bind_parameter(skip + 5, from)?;
        insert.raw_bind_parameter(skip + 6, to)?;
        insert.raw_bind_parameter(skip + 7, self.attempt)?;
        insert.raw_bind_parameter(skip + 8, &self.detail_text)
    }
}

impl Rows {
    /// Folds each step's and run's transitions of `batch` into one row, and turns the rest
    /// of it into rows.
    pub(super) fn new(mut batch: Batch) -> Rows {
        let leased = batch.run_ids();
        let mut transitions = batch.take_transitions();
        let mut rows = Rows {
            steps: Vec::new(),
            runs: Vec::new(),
            events: Vec::with_capacity(transitions.len()),
            approvals: batch.approvals().iter().map(approval_row).collect(),
            withdrawn: (batch.withdrawn_approvals().iter())
                .map(|(run, step)| (run.to_string(), step.clone()))
                .collect(),
            handled: batch.handled().iter().map(|(_, id)| *id).collect(),
            sent: (batch.sent().iter())
                .map(|(run, command)| CommandRow::new(*run, command))
                .collect(),
            leased,
            progress: (batch.progress().iter())
                .map(|(run, step, at)| (run.to_string(), step.clone(), at.timestamp_millis()))
                .collect(),
            usage: (batch.usage().iter())
                .map(|(run, step, usage)| {
                    let text = serde_json::to_string(usage).expect("usage serializes");
                    (run.to_string(), step.clone(), text)
                })
                .collect(),
            stalls: (batch.stalls().iter())
                .map(|(run, step, stall)| (run.to_string(), step.clone(), stall.to_string()))
                .collect(),
            plans: batch.plans().iter().map(plan_row).collect(),
            superseded: (batch.supersessions().iter())
                .map(|gone| {
                    let spent = serde_json::to_string(&gone.spent).expect("spent serializes");
                    (gone.run_id.to_string(), gone.seq, spent)
                })
                .collect(),
            items: batch.items().iter().map(item_row).collect(),
            redrives: (batch.redrives().iter())
                .map(|(run, from)| (run.to_string(), from.clone()))
                .collect(),
            max_outputs: (batch.max_outputs().iter())
                .map(|(run, bytes)| (run.to_string(), stored_cap(*bytes)))
                .collect(),
        };
        let mut step_rows: hashbrown::HashMap<(Uuid, &str), usize> = hashbrown::HashMap::new();
        for transition in transitions.iter_mut() {
            // A row keeps the state the first transition left; the rest is the last one's.
            match transition {
                Transition::Step(change) => {
                    let change = &*change;
                    let mut row = step_row(change);
                    match step_rows.get(&(change.run_id, change.step_id.as_str())) {
                        Some(&index) => {
                            row.from = rows.steps[index].from;
                            rows.steps[index] = row;
                        }
                        None => {
                            step_rows.insert((change.run_id, &change.step_id), rows.steps.len());
                            rows.steps.push(row);
                        }
                    }
                }
                Transition::Run(change) => {
                    let mut row = run_row(change);
                    match rows
                        .runs
                        .iter_mut()
                        .find(|known| known.run == change.run_id)
                    {
                        Some(known) => {
                            row.from = known.from;
                            *known = row;
                        }
                        None => rows.runs.push(row),
                    }
                }
            }
        }
        drop(step_rows); // It borrows the transitions' ids.
        rows.events.extend(transitions.into_iter().map(event_row));
        rows
    }

    /// Numbers the events per run, each run's from `first(run)` on, and returns the next
    /// number of every run numbered.
    pub(super) fn number<E>(
        &mut self,
        mut first: impl FnMut(Uuid) -> Result<i64, E>,
    ) -> Result<HashMap<Uuid, i64>, E> {
        let mut next: HashMap<Uuid, i64> = HashMap::new();
        for event in &mut self.events {
            let seq = match next.entry(event.run) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => entry.insert(first(event.run)?),
            };
            event.seq = *seq;
            *seq += 1;
        }
        Ok(next)
    }

    /// Writes the batch for the lease `owner` (after creating `create`, if given) inside the
    /// transaction `prepared` has open. On a failure the caller rolls it back.
    pub(super) fn write(
        &self,
        prepared: &mut Prepared<'_>,
        create: Option<&Creation>,
        owner: &str,
        now: i64,
        rowids: &mut StepRowids,
    ) -> Result<(), Failure> {
        let conn = prepared.conn;
        if let Some(create) = create {
            create.insert(conn, now)?;
        }
        // Run ids are keyed as text: each row's is written into this buffer, not allocated.
        let mut key = Uuid::encode_buffer();
        for run in &self.leased {
            let run = &*run.hyphenated().encode_lower(&mut key);
            let holder: Option<Option<String>> = (prepared.lease)
                .query_row([run], |row| row.get(0))
                .optional()?;
            if holder.is_some_and(|holder| holder.as_deref() != Some(owner)) {
                return Err(Failure::LeaseLost);
            }
        }
        self.supersede(conn, now)?;
        self.withdraw(conn)?;
        self.grow(conn, now)?;
        // Before the runs' moves, which mark what they carry out handled.
        for command in &self.sent {
            command.insert(conn, now)?;
        }
        for (run, from) in &self.redrives {
            conn.prepare_cached("UPDATE runs SET redrive_from = ? WHERE id = ?")?
                .execute(params![from, run])?;
        }
        for (run, bytes) in &self.max_outputs {
            conn.prepare_cached("UPDATE runs SET max_output_bytes = ? WHERE id = ?")?
                .execute(params![bytes, run])?;
        }
        for (index, row) in self.steps.iter().enumerate() {
            let guessed = row
                .position
                .and_then(|position| rowids.guess(row.run, position));
            let found = match guessed {
                Some(rowid) => {
                    row.bind(&mut prepared.step_at, &mut key)?;
                    prepared.step_at.raw_bind_parameter(12, rowid)?;
                    prepared.step_at.raw_execute()? == 1
                }
                None => false,
            };
            if found {
                continue;
            }
            row.bind(&mut prepared.step, &mut key)?;
            let rowid: Option<i64> = match prepared.step.raw_query().next()? {
                Some(updated) => Some(updated.get(0)?),
                None => None,
            };
            match (rowid, row.position) {
                (None, _) => return Err(Failure::StaleStep(index)),
                (Some(rowid), Some(position)) => rowids.learn(row.run, position, rowid),
                (Some(_), None) => {}
            }
        }
        for row in &self.runs {
            let run = &*row.run.hyphenated().encode_lower(&mut key);
            let output = row.output.as_ref().map(StoredOutput::of);
            let text = match &output {
                Some(StoredOutput::Text(text)) => Some(text.as_str()),
                _ => None,
            };
            let changed = prepared.run.execute(params![
                run,
                row.to,
                text,
                row.error,
                row.error_class,
                row.deadline_at,
                row.ended,
                row.from,
            ])?;
            if changed != 1 {
                return Err(Failure::StaleRun);
            }
            if let (Some(StoredOutput::Big(size)), Some(value)) = (output, &row.output) {
                write_big_output(conn, run, value, size)?;
            }
            // Leaving `failed` or `cancelled` ends a redrive's last commit.
            if matches!(row.from, "failed" | "cancelled") {
                conn.prepare_cached("UPDATE runs SET redrive_from = NULL WHERE id = ?")?
                    .execute([run])?;
            }
            // The commands the run's move carries out (`Command::carried_out_by`).
            if row.to == "paused" || row.ended {
                conn.prepare_cached(
                    "UPDATE commands SET handled_at = ?1 WHERE run_id = ?2 AND handled_at IS NULL
                         AND (kind = 'pause' OR (?3 AND kind = 'cancel'))",
                )?
                .execute(params![now, run, row.ended])?;
            }
        }
        for chunk in self.events.chunks(EVENTS_AT_ONCE) {
            let insert = prepared.events(chunk.len())?;
            for (row, event) in chunk.iter().enumerate() {
                event.bind(insert, row * EVENT_COLUMNS, now, &mut key)?;
            }
            insert.raw_execute()?;
        }
        self.annotate(conn, now)?;
        Ok(())
    }

    /// Whether a pause or a cancel not handled yet waits for a run whose attempts the rows
    /// start (a step moving to `running`) or whose `for_each` items they record (an item's
    /// end lets its attempt start the next one), as the transaction `prepared` has open sees
    /// the commands: once written, the rows' own handled commands do not count. One look per
    /// such run, none for rows that do neither: most commits end attempts only.
    pub(super) fn halt_asked(&self, prepared: &mut Prepared<'_>) -> rusqlite::Result<bool> {
        let running = StepState::Running.as_str();
        let starting = (self.steps.iter())
            .filter(|row| row.to == running)
            .map(|row| row.run);
        let items = self.items.iter().map(|item| item.run);
        let mut looked: Vec<Uuid> = Vec::new();
        let mut key = Uuid::encode_buffer();
        for run in starting.chain(items) {
            if looked.contains(&run) {
                continue;
            }
            looked.push(run);
            let run = &*run.hyphenated().encode_lower(&mut key);
            if (prepared.halt_asked).query_row([run], |found| found.get::<_, bool>(0))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every run the rows write to.
    pub(super) fn runs(&self) -> &[Uuid] {
        &self.leased
    }

    /// The run a refused commit is reported for: the run of the batch's first event, else
    /// the first run it writes to.
    pub(super) fn first_run(&self) -> Uuid {
        (self.events.first().map(|event| event.run))
            .or_else(|| self.leased.first().copied())
            .unwrap_or_default()
    }

    /// The first step row from `index` on found in another state than the one it should
    /// leave (the transaction rolled back), and that state.
    pub(super) fn stale_step(
        &self,
        conn: &Connection,
        index: usize,
    ) -> rusqlite::Result<Option<(String, String)>> {
        let mut state =
            conn.prepare_cached("SELECT state FROM steps WHERE run_id = ? AND step_id = ?")?;
        for row in &self.steps[index..] {
            let found: Option<String> = state
                .query_row(params![row.run.to_string(), row.step], |row| row.get(0))
                .optional()?;
            if let Some(found) = found.filter(|found| found != row.from) {
                return Ok(Some((row.step.clone(), found)));
            }
        }
        Ok(None)
    }

    /// The committed events: the creation of `created` (if given) and one per transition.
    pub(super) fn events(self, created: Option<Uuid>, at: DateTime<Utc>) -> Vec<Event> {
        let at = crate::store::to_millis(at);
        let creation = created.map(|run_id| Event {
            run_id,
            seq: 1,
            at,
            kind: EventKind::Created,
            attempt: None,
            detail: None,
        });
        let events = self.events.into_iter().map(|row| Event {
            run_id: row.run,
            seq: row.seq,
            at,
            kind: row.kind,
            attempt: row.attempt,
            detail: row.detail.map(Value::Object),
        });
        creation.into_iter().chain(events).collect()
    }
}

/// A cap on one step's output as the `runs` table keeps it (a cap past `i64::MAX` is no cap
/// at all, and is kept as the largest).
fn stored_cap(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// How many step rows one `INSERT` of [`insert_steps`] writes (a statement's own work paid
/// once for them, and the run's id bound once).
const STEPS_AT_ONCE: usize = 32;

/// Inserts pending step rows for the ids `steps`, at positions from `first` on (the
/// statements looked up once, not once a row: a million-step run inserts a million).
fn insert_steps<'s>(
    conn: &Connection,
    run: &str,
    first: i64,
    steps: impl Iterator<Item = &'s str>,
) -> rusqlite::Result<()> {
    let insert = |rows: usize| {
        let values: Vec<String> = (0..rows)
            .map(|row| format!("(?1, ?{}, ?{}, 'pending')", 2 + 2 * row, 3 + 2 * row))
            .collect();
        conn.prepare_cached(&format!(
            "INSERT INTO steps (run_id, step_id, position, state) VALUES {}",
            values.join(", ")
        ))
    };
    let (mut many, mut one) = (insert(STEPS_AT_ONCE)?, insert(1)?);
    many.raw_bind_parameter(1, run)?;
    one.raw_bind_parameter(1, run)?;
    let mut chunk: Vec<(i64, &str)> = Vec::with_capacity(STEPS_AT_ONCE);
    for row in (first..).zip(steps) {
        chunk.push(row);
        if chunk.len() == STEPS_AT_ONCE {
            for (row, (position, step)) in chunk.drain(..).enumerate() {
                many.raw_bind_parameter(2 + 2 * row, step)?;
                many.raw_bind_parameter(3 + 2 * row, position)?;
            }
            many.raw_execute()?;
        }
    }
    for (position, step) in chunk {
        one.raw_bind_parameter(2, step)?;
        one.raw_bind_parameter(3, position)?;
        one.raw_execute()?;
    }
    Ok(())
}

/// Whether `error` is a unique or primary key constraint failing.
pub(super) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(failure.extended_code, SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

fn step_row(change: &StepTransition) -> StepRow {
    StepRow {
        run: change.run_id,
        step: change.step_id.clone(),
        position: change.position,
        from: change.from.as_str(),
        to: change.to.as_str(),
        attempt: change.attempt,
        interrupted: change.interrupted,
        fallback: change.fallback,
        output: change.output.clone(),
        error: change.error.clone(),
        wake_at: change.wake_at.map(|at| at.timestamp_millis()),
        usage: (change.usage.as_ref())
            .map(|usage| serde_json::to_string(usage).expect("usage serializes")),
    }
}

/// The run's row, with its output taken out of `change` (its event does not carry it).
fn run_row(change: &mut RunTransition) -> RunRow {
    RunRow {
        run: change.run_id,
        from: change.from.as_str(),
        to: change.to.as_str(),
        output: change.output.take(),
        error: change.error.clone(),
        error_class: change.error_class.map(ErrorClass::as_str),
        deadline_at: change.deadline.map(|at| at.timestamp_millis()),
        ended: change.to.is_terminal(),
    }
}

fn plan_row(plan: &Addition) -> PlanRow {
    PlanRow {
        run: plan.run_id.to_string(),
        seq: plan.seq,
        planner: plan.planner.clone(),
        steps: plan.steps.clone(),
        ids: plan.ids.clone(),
        first: plan.first as i64,
    }
}

fn item_row(item: &ItemRecord) -> ItemRow {
    ItemRow {
        run: item.run_id,
        step: item.step_id.clone(),
        index: item.index as i64,
        state: item.state.as_str(),
        attempt: item.attempt,
        output: item.output.as_ref().map(Value::to_string),
        error: item.error.clone(),
    }
}

fn event_row(transition: Transition) -> EventRow {
    let run = transition.run_id();
    let (kind, attempt, detail) = recorded(transition);
    EventRow {
        run,
        seq: 0,
        kind,
        attempt,
        detail_text: (detail.as_ref())
            .map(|detail| serde_json::to_string(detail).expect("a detail serializes")),
        detail,
    }
}

mod annotations;
mod command_row;
mod creation;
mod growth;
#[cfg(test)]
mod tests;
