//! How a batch of transitions is written: one constant multi-statement query per commit.
//!
//! A commit is a single query — `BEGIN IMMEDIATE`, the statements, `COMMIT` — so it costs
//! one round trip to sqlx's connection thread whatever the batch's size, and its statements
//! are prepared once and cached because their text never changes: the rows come in as one
//! JSON parameter, unpacked by `json_each`. A step or run that moves several times in one
//! batch is written once, with its last state, guarded by the state it had before the batch;
//! every transition still gets its own event.
//!
//! A guarded update that misses a row (the step or run is not in the state the batch expects
//! it to leave) makes the next statement fail a `CHECK` on a temporary table, which stops
//! the query before `COMMIT`; the caller then rolls back.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{Change, NewRun, RunChange, StepChange};

/// Made once per writer connection: the table the guards write to.
pub(super) const PREPARE_GUARD: &str = "CREATE TEMP TABLE IF NOT EXISTS cairn_guard (ok INTEGER NOT NULL CONSTRAINT cairn_stale_state CHECK (ok))";

/// Records a new run: its snapshot, its row (leased to its creator), its pending steps.
macro_rules! create_statements {
    () => {
        "
INSERT OR IGNORE INTO workflows (hash, name, definition, created_at)
  VALUES (?1->>'$.create.hash', ?1->>'$.create.name', ?1->>'$.create.definition', ?1->>'$.now');
INSERT INTO runs (id, workflow_hash, workflow_name, state, input, created_at,
                  lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires)
  VALUES (?1->>'$.create.id', ?1->>'$.create.hash', ?1->>'$.create.name', 'pending',
          ?1->>'$.create.input', ?1->>'$.now', ?1->>'$.create.owner',
          ?1->>'$.create.host', ?1->>'$.create.pid', ?1->>'$.create.pid_start',
          ?1->>'$.create.expires');
INSERT INTO steps (run_id, step_id, position, state)
  SELECT ?1->>'$.create.id', value, key, 'pending' FROM json_each(?1, '$.create.steps');
INSERT INTO events (run_id, seq, at, to_state)
  VALUES (?1->>'$.create.id', 1, ?1->>'$.now', 'pending');
"
    };
}

/// Applies the net effect of the batch and records every transition as an event.
macro_rules! apply_statements {
    () => {
        "
UPDATE steps SET state = u.value->>'to', attempt = u.value->>'attempt',
    fallback = u.value->>'fallback', output = u.value->>'output', error = u.value->>'error',
    wake_at = u.value->>'wake_at', usage = COALESCE(u.value->>'usage', steps.usage)
  FROM json_each(?1, '$.steps') AS u
  WHERE steps.run_id = u.value->>'run' AND steps.step_id = u.value->>'step'
    AND steps.state = u.value->>'from';
INSERT INTO temp.cairn_guard VALUES (changes() = json_array_length(?1, '$.steps'));
UPDATE runs SET state = u.value->>'to', output = u.value->>'output', error = u.value->>'error',
    lease_owner = IIF(u.value->>'ended', NULL, lease_owner),
    lease_host = IIF(u.value->>'ended', NULL, lease_host),
    lease_pid = IIF(u.value->>'ended', NULL, lease_pid),
    lease_pid_start = IIF(u.value->>'ended', NULL, lease_pid_start),
    lease_expires = IIF(u.value->>'ended', NULL, lease_expires)
  FROM json_each(?1, '$.runs') AS u
  WHERE runs.id = u.value->>'run' AND runs.state = u.value->>'from';
INSERT INTO temp.cairn_guard VALUES (changes() = json_array_length(?1, '$.runs'));
INSERT INTO events (run_id, seq, at, step_id, from_state, to_state, attempt, detail)
  SELECT u.value->>'run', u.value->>'seq', ?1->>'$.now', u.value->>'step', u.value->>'from',
         u.value->>'to', u.value->>'attempt', u.value->>'detail'
  FROM json_each(?1, '$.events') AS u;
DELETE FROM temp.cairn_guard;
"
    };
}

/// A commit of a batch.
const APPLY: &str = concat!("BEGIN IMMEDIATE;", apply_statements!(), "COMMIT;");

/// A commit that creates a run and applies its first batch.
const CREATE_AND_APPLY: &str = concat!(
    "BEGIN IMMEDIATE;",
    create_statements!(),
    apply_statements!(),
    "COMMIT;"
);

/// Which steps of a batch are not in the state the batch expects them to leave.
const STALE_STEPS: &str = "
SELECT u.value->>'step', steps.state FROM json_each(?1) AS u
  JOIN steps ON steps.run_id = u.value->>'run' AND steps.step_id = u.value->>'step'
  WHERE steps.state != u.value->>'from';
";

/// A batch of changes turned into the JSON rows [`APPLY`] reads, borrowing from the changes.
#[derive(Debug, Serialize)]
pub(super) struct Rows<'a> {
    steps: Vec<StepRow<'a>>,
    runs: Vec<RunRow<'a>>,
    events: Vec<EventRow<'a>>,
}

/// The last state of a step in a batch, guarded by the state it had before.
#[derive(Debug, Serialize)]
struct StepRow<'a> {
    run: Uuid,
    step: &'a str,
    from: &'static str,
    to: &'static str,
    attempt: u32,
    fallback: u32,
    /// JSON text, stored as is.
    output: Option<String>,
    error: Option<&'a str>,
    wake_at: Option<i64>,
    /// JSON text, stored as is.
    usage: Option<String>,
}

/// The last state of a run in a batch, guarded by the state it had before.
#[derive(Debug, Serialize)]
struct RunRow<'a> {
    run: Uuid,
    from: &'static str,
    to: &'static str,
    /// JSON text, stored as is.
    output: Option<String>,
    error: Option<&'a str>,
    /// A run that ended needs no lease any more: it is released in the same commit.
    ended: bool,
}

/// One transition, as its event.
#[derive(Debug, Serialize)]
struct EventRow<'a> {
    run: Uuid,
    seq: i64,
    step: Option<&'a str>,
    from: &'static str,
    to: &'static str,
    attempt: Option<u32>,
    /// JSON text, stored as is.
    detail: Option<String>,
}

/// What [`APPLY`] and [`CREATE_AND_APPLY`] read from their one parameter.
#[derive(Debug, Serialize)]
struct Batch<'a> {
    now: i64,
    create: Option<&'a Value>,
    #[serde(flatten)]
    rows: &'a Rows<'a>,
}

impl<'a> Rows<'a> {
    /// Numbers the events of `changes` from `next_seq` (per run) and folds each step's and
    /// run's transitions into one row.
    pub(super) fn new(changes: &'a [Change], next_seq: &mut HashMap<Uuid, i64>) -> Rows<'a> {
        let mut rows = Rows {
            steps: Vec::new(),
            runs: Vec::new(),
            events: Vec::with_capacity(changes.len()),
        };
        let mut step_rows: HashMap<(Uuid, &str), usize> = HashMap::new();
        for change in changes {
            let run_id = change.run_id();
            let seq = next_seq
                .get_mut(&run_id)
                .expect("a sequence number for every run of the batch");
            rows.events.push(event_row(change, *seq));
            *seq += 1;
            // A row keeps the state the first change left; the rest is the last change's.
            match change {
                Change::Step(change) => {
                    let mut row = step_row(change);
                    match step_rows.get(&(run_id, change.step_id.as_str())) {
                        Some(&index) => {
                            row.from = rows.steps[index].from;
                            rows.steps[index] = row;
                        }
                        None => {
                            step_rows.insert((run_id, &change.step_id), rows.steps.len());
                            rows.steps.push(row);
                        }
                    }
                }
                Change::Run(change) => {
                    let mut row = run_row(change);
                    match rows.runs.iter_mut().find(|known| known.run == run_id) {
                        Some(known) => {
                            row.from = known.from;
                            *known = row;
                        }
                        None => rows.runs.push(row),
                    }
                }
            }
        }
        rows
    }

    /// Commits the batch (after creating `create`, if given) in one query. On an error, the
    /// transaction may still be open: the caller rolls it back.
    pub(super) async fn commit(
        &self,
        conn: &mut SqliteConnection,
        create: Option<Value>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = if create.is_some() {
            CREATE_AND_APPLY
        } else {
            APPLY
        };
        let batch = Batch {
            now,
            create: create.as_ref(),
            rows: self,
        };
        let batch = serde_json::to_string(&batch).expect("a batch of rows serializes");
        sqlx::query(sql).bind(batch).execute(conn).await?;
        Ok(())
    }

    /// The first step of the batch found in another state than the one it should leave, and
    /// that state.
    pub(super) async fn stale_step(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        let steps = serde_json::to_string(&self.steps).expect("rows serialize");
        sqlx::query_as(STALE_STEPS)
            .bind(steps)
            .fetch_optional(conn)
            .await
    }
}

/// The record [`CREATE_AND_APPLY`] reads to insert a new run, leased to `lease` (owner, host,
/// pid, pid start, expiry in ms).
pub(super) fn new_run(run: &NewRun, lease: (&str, &str, i64, i64, i64)) -> Value {
    let (owner, host, pid, pid_start, expires) = lease;
    json!({
        "id": run.id.to_string(), "hash": run.workflow_hash, "name": run.workflow_name,
        "definition": run.definition, "input": run.input.to_string(), "steps": run.steps,
        "owner": owner, "host": host, "pid": pid, "pid_start": pid_start, "expires": expires,
    })
}

/// Whether `error` is a guard of [`APPLY`] failing: a stale step or run.
pub(super) fn is_stale(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.message().contains("cairn_stale_state"))
}

fn step_row(change: &StepChange) -> StepRow<'_> {
    StepRow {
        run: change.run_id,
        step: &change.step_id,
        from: change.from.as_str(),
        to: change.to.as_str(),
        attempt: change.attempt,
        fallback: change.fallback,
        output: change.output.as_ref().map(Value::to_string),
        error: change.error.as_deref(),
        wake_at: change.wake_at.map(|at| at.timestamp_millis()),
        usage: change.usage.as_ref().map(|usage| json!(usage).to_string()),
    }
}

fn run_row(change: &RunChange) -> RunRow<'_> {
    RunRow {
        run: change.run_id,
        from: change.from.as_str(),
        to: change.to.as_str(),
        output: change.output.as_ref().map(Value::to_string),
        error: change.error.as_deref(),
        ended: change.to.is_terminal(),
    }
}

fn event_row(change: &Change, seq: i64) -> EventRow<'_> {
    match change {
        Change::Step(change) => {
            let mut detail = match &change.detail {
                Some(Value::Object(detail)) => detail.clone(),
                Some(other) => Map::from_iter([("detail".to_owned(), other.clone())]),
                None => Map::new(),
            };
            if let Some(error) = &change.error {
                detail.insert("error".into(), Value::String(error.clone()));
            }
            EventRow {
                run: change.run_id,
                seq,
                step: Some(&change.step_id),
                from: change.from.as_str(),
                to: change.to.as_str(),
                attempt: Some(change.attempt),
                detail: (!detail.is_empty()).then(|| Value::Object(detail).to_string()),
            }
        }
        Change::Run(change) => EventRow {
            run: change.run_id,
            seq,
            step: None,
            from: change.from.as_str(),
            to: change.to.as_str(),
            attempt: None,
            detail: change
                .error
                .as_ref()
                .map(|error| json!({ "error": error }).to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{RunState, StepState};

    fn step(run_id: Uuid, id: &str, from: StepState, to: StepState) -> Change {
        Change::Step(StepChange {
            run_id,
            step_id: id.into(),
            from,
            to,
            attempt: 1,
            fallback: 0,
            output: None,
            error: None,
            wake_at: None,
            usage: None,
            detail: None,
        })
    }

    #[test]
    fn a_step_that_moves_twice_is_one_row_and_two_numbered_events() {
        let run_id = Uuid::now_v7();
        let changes = [
            step(run_id, "a", StepState::Pending, StepState::Ready),
            step(run_id, "b", StepState::Running, StepState::Succeeded),
            step(run_id, "a", StepState::Ready, StepState::Running),
            Change::Run(RunChange {
                run_id,
                from: RunState::Running,
                to: RunState::Succeeded,
                output: None,
                error: None,
            }),
        ];
        let mut next_seq = HashMap::from([(run_id, 7)]);
        let rows = Rows::new(&changes, &mut next_seq);
        let net: Vec<(&str, &str, &str)> = rows
            .steps
            .iter()
            .map(|row| (row.step, row.from, row.to))
            .collect();
        assert_eq!(
            net,
            [("a", "pending", "running"), ("b", "running", "succeeded")]
        );
        let seqs: Vec<i64> = rows.events.iter().map(|event| event.seq).collect();
        assert_eq!(seqs, [7, 8, 9, 10]);
        assert_eq!(next_seq[&run_id], 11);
        assert_eq!(rows.runs.len(), 1);
        assert!(rows.runs[0].ended);
    }
}
