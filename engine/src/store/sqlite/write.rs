//! How a batch of transitions is written: one multi-statement query per commit.
//!
//! A commit is a single query — `BEGIN IMMEDIATE`, the statements, `COMMIT` — so it costs
//! one round trip to sqlx's connection thread whatever the batch's size, and its statements
//! are prepared once and cached because their text is one of a few: the statements of the
//! parts of a batch that has rows (a pipeline step's batch has steps and events, no run,
//! approval or command), the rows coming in as one JSON parameter, unpacked by `json_each`. A step or run that moves several times in one
//! batch is written once, with its last state, guarded by the state it had before the batch;
//! every transition still gets its own event.
//!
//! A guarded update that misses a row (the step or run is not in the state the batch expects
//! it to leave) makes the next statement fail a `CHECK` on a temporary table, which stops
//! the query before `COMMIT`; the caller then rolls back. A run of the batch whose lease is
//! held by another owner than the committer fails another `CHECK` first (a fencing token).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::approval::Approval;
use crate::event::{Event, EventKind, recorded};
use crate::executor::ErrorClass;
use crate::item::ItemRecord;
use crate::lease::LeaseHolder;
use crate::plan::Addition;
use crate::state::{Batch, RunTransition, StepTransition, Transition};
use crate::store::{NewRun, digest};

/// Made once per writer connection: the tables the guards write to, one row each (replaced
/// by every commit, so nothing needs deleting).
pub(super) const PREPARE_GUARDS: &str = "
CREATE TEMP TABLE IF NOT EXISTS cairn_guard (
  id INTEGER PRIMARY KEY, ok INTEGER NOT NULL CONSTRAINT cairn_stale_state CHECK (ok));
CREATE TEMP TABLE IF NOT EXISTS cairn_lease (
  id INTEGER PRIMARY KEY, ok INTEGER NOT NULL CONSTRAINT cairn_lease_lost CHECK (ok));
";

/// Why the database refused a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A step or run is not in the state the batch expects it to leave.
    Stale,
    /// Another owner holds the lease of a run of the batch.
    LeaseLost,
}

/// Records a new run: its snapshot, its row (leased to its creator), its pending steps.
const CREATE: &str = "
INSERT OR IGNORE INTO workflows (hash, name, definition, created_at)
  VALUES (?1->>'$.create.hash', ?1->>'$.create.name', ?1->>'$.create.definition', ?1->>'$.now');
INSERT OR IGNORE INTO policies (hash, policy, created_at)
  SELECT ?1->>'$.create.policy_hash', ?1->>'$.create.policy', ?1->>'$.now'
  WHERE ?1->>'$.create.policy' IS NOT NULL;
INSERT INTO runs (id, workflow_hash, workflow_name, state, input, created_at,
                  lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires, policy_hash)
  VALUES (?1->>'$.create.id', ?1->>'$.create.hash', ?1->>'$.create.name', 'pending',
          ?1->>'$.create.input', ?1->>'$.now', ?1->>'$.create.owner',
          ?1->>'$.create.host', ?1->>'$.create.pid', ?1->>'$.create.pid_start',
          ?1->>'$.create.expires', ?1->>'$.create.policy_hash');
INSERT INTO steps (run_id, step_id, position, state)
  SELECT ?1->>'$.create.id', value, key, 'pending' FROM json_each(?1, '$.create.steps');
INSERT INTO events (run_id, seq, at, to_state)
  VALUES (?1->>'$.create.id', 1, ?1->>'$.now', 'pending');
";

/// Checks the committer holds every run of the batch (a fencing token).
const LEASE: &str = "
INSERT OR REPLACE INTO temp.cairn_lease SELECT 1, NOT EXISTS (
  SELECT 1 FROM json_each(?3) AS r JOIN runs ON runs.id = r.value
  WHERE runs.lease_owner IS NOT ?2);
";

/// The steps' last states, each guarded by the state it had before the batch.
const STEPS: &str = "
UPDATE steps SET state = u.value->>'to', attempt = u.value->>'attempt',
    fallback = u.value->>'fallback', output = u.value->>'output', error = u.value->>'error',
    wake_at = u.value->>'wake_at', usage = COALESCE(u.value->>'usage', steps.usage),
    progress_at = IIF(u.value->>'to' = 'running', NULL, steps.progress_at)
  FROM json_each(?1, '$.steps') AS u
  WHERE steps.run_id = u.value->>'run' AND steps.step_id = u.value->>'step'
    AND steps.state = u.value->>'from';
INSERT OR REPLACE INTO temp.cairn_guard VALUES (1, changes() = json_array_length(?1, '$.steps'));
";

/// The runs' last states, each guarded by the state it had before the batch; a run that
/// ended gives its lease up.
const RUNS: &str = "
UPDATE runs SET state = u.value->>'to', output = u.value->>'output', error = u.value->>'error',
    error_class = u.value->>'error_class',
    deadline_at = COALESCE(u.value->>'deadline_at', deadline_at),
    lease_owner = IIF(u.value->>'ended', NULL, lease_owner),
    lease_host = IIF(u.value->>'ended', NULL, lease_host),
    lease_pid = IIF(u.value->>'ended', NULL, lease_pid),
    lease_pid_start = IIF(u.value->>'ended', NULL, lease_pid_start),
    lease_expires = IIF(u.value->>'ended', NULL, lease_expires)
  FROM json_each(?1, '$.runs') AS u
  WHERE runs.id = u.value->>'run' AND runs.state = u.value->>'from';
INSERT OR REPLACE INTO temp.cairn_guard VALUES (1, changes() = json_array_length(?1, '$.runs'));
";

/// Every transition as its event.
const EVENTS: &str = "
INSERT INTO events (run_id, seq, at, step_id, from_state, to_state, attempt, detail)
  SELECT u.value->>'run', u.value->>'seq', ?1->>'$.now', u.value->>'step', u.value->>'from',
         u.value->>'to', u.value->>'attempt', u.value->>'detail'
  FROM json_each(?1, '$.events') AS u;
";

/// Approval requests and decisions.
const APPROVALS: &str = "
INSERT OR REPLACE INTO approvals (run_id, step_id, item, action_hash, verdict, requested_at,
                                  expires_at, decision, decided_by, reason, decided_at)
  SELECT u.value->>'run', u.value->>'step', u.value->>'item', u.value->>'hash',
         u.value->>'verdict', u.value->>'requested_at', u.value->>'expires_at',
         u.value->>'decision', u.value->>'by', u.value->>'reason', u.value->>'decided_at'
  FROM json_each(?1, '$.approvals') AS u;
";

/// The last progress of running steps.
const PROGRESS: &str = "
UPDATE steps SET progress_at = u.value->>'at'
  FROM json_each(?1, '$.progress') AS u
  WHERE steps.run_id = u.value->>'run' AND steps.step_id = u.value->>'step';
";

/// The commands the batch handled.
const HANDLED: &str = "
UPDATE commands SET handled_at = ?1->>'$.now'
  WHERE id IN (SELECT value FROM json_each(?1, '$.handled'));
";

/// What a batch grows its runs by: planners' plans and their steps (pending, so that the
/// batch's transitions can move them), and `for_each` items.
const GROW: &str = "
INSERT INTO plans (run_id, seq, planner, steps, ids, first_position, created_at)
  SELECT u.value->>'run_id', u.value->>'seq', u.value->>'planner', u.value->>'steps',
         u.value->>'ids', u.value->>'first', ?1->>'$.now'
  FROM json_each(?1, '$.plans') AS u;
INSERT INTO steps (run_id, step_id, position, state)
  SELECT p.value->>'run_id', s.value, (p.value->>'first') + s.key, 'pending'
  FROM json_each(?1, '$.plans') AS p, json_each(p.value, '$.ids') AS s;
INSERT OR REPLACE INTO items (run_id, step_id, idx, state, attempt, output, error)
  SELECT u.value->>'run_id', u.value->>'step_id', u.value->>'index', u.value->>'state',
         u.value->>'attempt', u.value->'output', u.value->>'error'
  FROM json_each(?1, '$.items') AS u;
";

/// Which steps of a batch are not in the state the batch expects them to leave.
const STALE_STEPS: &str = "
SELECT u.value->>'step', steps.state FROM json_each(?1) AS u
  JOIN steps ON steps.run_id = u.value->>'run' AND steps.step_id = u.value->>'step'
  WHERE steps.state != u.value->>'from';
";

/// A batch of transitions turned into the JSON rows the commit reads, borrowing from the batch.
#[derive(Debug, Serialize)]
pub(super) struct Rows<'a> {
    steps: Vec<StepRow<'a>>,
    runs: Vec<RunRow<'a>>,
    events: Vec<EventRow>,
    approvals: Vec<ApprovalRow<'a>>,
    handled: Vec<i64>,
    /// Every run the batch writes to: the committer must hold each one's lease.
    #[serde(skip)]
    leased: Vec<Uuid>,
    progress: Vec<ProgressRow<'a>>,
    /// The nodes planners added: the plans, and their steps' rows (pending).
    plans: &'a [Addition],
    /// `for_each` items that ended.
    items: &'a [ItemRecord],
}

/// The last sign of life of a running step.
#[derive(Debug, Serialize)]
struct ProgressRow<'a> {
    run: Uuid,
    step: &'a str,
    at: i64,
}

/// An approval request, or its decision (the row is replaced whole).
#[derive(Debug, Serialize)]
struct ApprovalRow<'a> {
    run: Uuid,
    step: &'a str,
    /// -1 for a step's own request.
    item: i64,
    hash: &'a str,
    /// JSON text, stored as is.
    verdict: String,
    requested_at: i64,
    expires_at: i64,
    decision: Option<&'static str>,
    by: Option<&'a str>,
    reason: Option<&'a str>,
    decided_at: Option<i64>,
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
    error_class: Option<&'static str>,
    /// Milliseconds since the epoch; `None` keeps the stored deadline.
    deadline_at: Option<i64>,
    /// A run that ended needs no lease any more: it is released in the same commit.
    ended: bool,
}

/// One transition, as its event.
#[derive(Debug, Serialize)]
struct EventRow {
    run: Uuid,
    seq: i64,
    /// `step`, `from` and `to`.
    #[serde(flatten)]
    kind: EventKind,
    attempt: Option<u32>,
    /// Stored as JSON text.
    #[serde(serialize_with = "json_text")]
    detail: Option<Map<String, Value>>,
}

/// Serializes a JSON object as its text, which the query stores as is.
fn json_text<S: serde::Serializer>(
    value: &Option<Map<String, Value>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(map) => serializer
            .serialize_some(&serde_json::to_string(map).map_err(serde::ser::Error::custom)?),
        None => serializer.serialize_none(),
    }
}

/// What the commit's query reads from its first parameter. (The lease
/// guard reads the owner and the batch's runs from two small parameters of their own: every
/// statement that reads the first one parses its JSON again.)
#[derive(Debug, Serialize)]
struct Parameter<'a> {
    now: i64,
    create: Option<&'a Value>,
    #[serde(flatten)]
    rows: &'a Rows<'a>,
}

impl<'a> Rows<'a> {
    /// Numbers the events of `batch` from `next_seq` (per run) and folds each step's and
    /// run's transitions into one row.
    pub(super) fn new(batch: &'a Batch, next_seq: &mut HashMap<Uuid, i64>) -> Rows<'a> {
        let transitions = batch.transitions();
        let mut rows = Rows {
            steps: Vec::new(),
            runs: Vec::new(),
            events: Vec::with_capacity(transitions.len()),
            approvals: (batch.approvals().iter()).map(approval_row).collect(),
            handled: batch.handled().iter().map(|(_, id)| *id).collect(),
            leased: batch.run_ids(),
            progress: (batch.progress().iter())
                .map(|(run, step, at)| ProgressRow {
                    run: *run,
                    step,
                    at: at.timestamp_millis(),
                })
                .collect(),
            plans: batch.plans(),
            items: batch.items(),
        };
        let mut step_rows: HashMap<(Uuid, &str), usize> = HashMap::new();
        for transition in transitions {
            let run_id = transition.run_id();
            let seq = next_seq
                .get_mut(&run_id)
                .expect("a sequence number for every run of the batch");
            rows.events.push(event_row(transition, *seq));
            *seq += 1;
            // A row keeps the state the first transition left; the rest is the last one's.
            match transition {
                Transition::Step(change) => {
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
                Transition::Run(change) => {
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

    /// Commits the batch for the lease `owner` (after creating `create`, if given) in one
    /// query. On an error, the transaction may still be open: the caller rolls it back.
    pub(super) async fn commit(
        &self,
        conn: &mut SqliteConnection,
        create: Option<&Value>,
        owner: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = self.query(create.is_some());
        let parameter = Parameter {
            now,
            create,
            rows: self,
        };
        let parameter = serde_json::to_string(&parameter).expect("a batch of rows serializes");
        let runs = serde_json::to_string(&self.leased).expect("run ids serialize");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(parameter)
            .bind(owner)
            .bind(runs)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The query that commits these rows: `BEGIN IMMEDIATE`, the statements of the parts the
    /// batch has, `COMMIT`. (A part with no rows would still parse the parameter and cost
    /// sqlx's connection thread one more result to hand over.) There are few such texts, so
    /// each is prepared once and cached.
    fn query(&self, create: bool) -> String {
        let parts = [
            (create, CREATE),
            (true, LEASE),
            (!(self.plans.is_empty() && self.items.is_empty()), GROW),
            (!self.steps.is_empty(), STEPS),
            (!self.runs.is_empty(), RUNS),
            (!self.events.is_empty(), EVENTS),
            (!self.approvals.is_empty(), APPROVALS),
            (!self.progress.is_empty(), PROGRESS),
            (!self.handled.is_empty(), HANDLED),
        ];
        let mut sql = String::from("BEGIN IMMEDIATE;");
        for (_, part) in parts.iter().filter(|(present, _)| *present) {
            sql.push_str(part);
        }
        sql.push_str("COMMIT;");
        sql
    }

    /// The run a refused commit is reported for: the run of the batch's first event, else
    /// the first run it writes to.
    pub(super) fn first_run(&self) -> Uuid {
        (self.events.first().map(|event| event.run))
            .or_else(|| self.leased.first().copied())
            .unwrap_or_default()
    }

    /// The committed events: the creation of `created` (if given) and one per transition.
    pub(super) fn events(&self, created: Option<Uuid>, at: DateTime<Utc>) -> Vec<Event> {
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let creation = created.map(|run_id| Event {
            run_id,
            seq: 1,
            at,
            kind: EventKind::Created,
            attempt: None,
            detail: None,
        });
        let events = self.events.iter().map(|row| Event {
            run_id: row.run,
            seq: row.seq,
            at,
            kind: row.kind.clone(),
            attempt: row.attempt,
            detail: row
                .detail
                .as_ref()
                .map(|detail| Value::Object(detail.clone())),
        });
        creation.into_iter().chain(events).collect()
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

/// The record [`CREATE`] reads to insert a new run, leased to `holder` until
/// `expires` (ms).
pub(super) fn new_run(run: &NewRun, holder: &LeaseHolder, expires: i64) -> Value {
    json!({
        "id": run.id.to_string(), "hash": run.workflow_hash, "name": run.workflow_name,
        "definition": run.definition, "input": run.input.to_string(), "steps": run.steps,
        "owner": holder.owner, "host": holder.host, "pid": holder.pid,
        "pid_start": holder.pid_start, "expires": expires,
        "policy": run.guard,
        "policy_hash": run.guard.as_deref().map(digest),
    })
}

/// Whether `error` is a guard of the commit failing, and which.
pub(super) fn refusal(error: &sqlx::Error) -> Option<Refusal> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if db.message().contains("cairn_stale_state") {
        Some(Refusal::Stale)
    } else if db.message().contains("cairn_lease_lost") {
        Some(Refusal::LeaseLost)
    } else {
        None
    }
}

fn step_row(change: &StepTransition) -> StepRow<'_> {
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

fn run_row(change: &RunTransition) -> RunRow<'_> {
    RunRow {
        run: change.run_id,
        from: change.from.as_str(),
        to: change.to.as_str(),
        output: change.output.as_ref().map(Value::to_string),
        error: change.error.as_deref(),
        error_class: change.error_class.map(ErrorClass::as_str),
        deadline_at: change.deadline.map(|at| at.timestamp_millis()),
        ended: change.to.is_terminal(),
    }
}

fn approval_row(approval: &Approval) -> ApprovalRow<'_> {
    let decision = approval.decision.as_ref();
    ApprovalRow {
        run: approval.run_id,
        step: &approval.step_id,
        item: approval.item.map_or(-1, |item| item as i64),
        hash: &approval.action_hash,
        verdict: json!(approval.verdict).to_string(),
        requested_at: approval.requested_at.timestamp_millis(),
        expires_at: approval.expires_at.timestamp_millis(),
        decision: decision.map(|d| if d.approved { "approved" } else { "denied" }),
        by: decision.map(|d| d.by.as_str()),
        reason: decision.and_then(|d| d.reason.as_deref()),
        decided_at: decision.map(|d| d.at.timestamp_millis()),
    }
}

fn event_row(transition: &Transition, seq: i64) -> EventRow {
    let (kind, attempt, detail) = recorded(transition);
    EventRow {
        run: transition.run_id(),
        seq,
        kind,
        attempt,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{RunState, StepState};

    fn step(run_id: Uuid, id: &str, from: StepState, to: StepState) -> Transition {
        Transition::Step(StepTransition::new(run_id, id, from, to))
    }

    #[test]
    fn a_step_that_moves_twice_is_one_row_and_two_numbered_events() {
        let run_id = Uuid::now_v7();
        let mut batch = Batch::new();
        for transition in [
            step(run_id, "a", StepState::Pending, StepState::Ready),
            step(run_id, "b", StepState::Running, StepState::Succeeded),
            step(run_id, "a", StepState::Ready, StepState::Running),
            Transition::Run(RunTransition::new(
                run_id,
                RunState::Running,
                RunState::Succeeded,
            )),
        ] {
            batch.push(transition).unwrap();
        }
        let mut next_seq = HashMap::from([(run_id, 7)]);
        let rows = Rows::new(&batch, &mut next_seq);
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
