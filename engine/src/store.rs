//! The durable store: runs, steps and their history in SQLite.
//!
//! One writer connection behind a mutex commits every change of a batch in one
//! `BEGIN IMMEDIATE` transaction, each transition with its event; a pool of readers serves
//! queries. WAL mode lets readers and the writer proceed side by side, also across processes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::executor::Usage;
use crate::state::{RunState, StepState, UnknownState};

mod write;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file does not exist (and the caller did not ask to create it).
    #[error("{0}: no such database (run a workflow first, or pass --db PATH)")]
    Missing(PathBuf),
    /// The file exists but is not an SQLite database.
    #[error(
        "{0}: not a cairn database (the file is not SQLite); pass --db PATH to use another file"
    )]
    NotADatabase(PathBuf),
    /// The database was written by a newer cairn.
    #[error("{path}: written by a newer cairn (schema version {version}); upgrade cairn to use it")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The newest schema version found in it.
        version: i64,
    },
    /// Another process held the database locked past the busy timeout.
    #[error("{0}: database is locked by another process; retry when it is done")]
    Locked(PathBuf),
    /// No run has this id.
    #[error("no run with id {0} (see `cairn runs`)")]
    UnknownRun(String),
    /// A recorded state was not the one the change expected: someone else moved the run.
    #[error(
        "run {run}: {what} is not in the state this engine last saw; another engine may be driving it"
    )]
    Conflict {
        /// The run.
        run: Uuid,
        /// `the run`, or the step and its state.
        what: String,
    },
    /// A stored value could not be read back.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How hard each commit is pushed to disk (SQLite's `synchronous`, in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives a crash of cairn; the last commits may be lost on power
    /// loss (the database stays consistent).
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on disk before it is reported, also across power loss.
    Full,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The database file.
    pub path: PathBuf,
    /// Create the file when it does not exist.
    pub create: bool,
    /// How hard commits are pushed to disk.
    pub durability: Durability,
    /// How long to wait for another process's lock before giving up.
    pub busy_timeout: Duration,
}

impl StoreOptions {
    /// Options for `path`: create it if missing, [`Durability::Normal`], 5 s busy timeout.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreOptions {
            path: path.into(),
            create: true,
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A new run to record: its definition snapshot, input and the initial state of every step.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The run's id.
    pub id: Uuid,
    /// The workflow's name.
    pub workflow_name: String,
    /// The hash of `definition`.
    pub workflow_hash: String,
    /// The definition snapshot (canonical JSON).
    pub definition: String,
    /// The run's input.
    pub input: Value,
    /// Every step's id, in plan order; each starts `pending`.
    pub steps: Vec<String>,
}

/// One state transition to commit, with what it carries.
#[derive(Debug, Clone)]
pub enum Change {
    /// A run transition.
    Run(RunChange),
    /// A step transition.
    Step(StepChange),
}

impl Change {
    /// The run the change belongs to.
    pub fn run_id(&self) -> Uuid {
        match self {
            Change::Run(change) => change.run_id,
            Change::Step(change) => change.run_id,
        }
    }
}

/// A run transition.
#[derive(Debug, Clone)]
pub struct RunChange {
    /// The run.
    pub run_id: Uuid,
    /// The state it leaves (checked against the stored one).
    pub from: RunState,
    /// The state it enters.
    pub to: RunState,
    /// The run's output (when it succeeds).
    pub output: Option<Value>,
    /// Why it failed or stopped.
    pub error: Option<String>,
}

/// A step transition.
#[derive(Debug, Clone)]
pub struct StepChange {
    /// The run.
    pub run_id: Uuid,
    /// The step's id.
    pub step_id: String,
    /// The state it leaves (checked against the stored one).
    pub from: StepState,
    /// The state it enters.
    pub to: StepState,
    /// The attempt number after the transition.
    pub attempt: u32,
    /// Which fallback the step is on (0: its own `with`).
    pub fallback: u32,
    /// The step's output (with `succeeded`).
    pub output: Option<Value>,
    /// The error of the attempt that failed.
    pub error: Option<String>,
    /// When a `retry_wait` step wakes up.
    pub wake_at: Option<DateTime<Utc>>,
    /// Usage of the step so far (stored when given).
    pub usage: Option<Usage>,
    /// Anything else worth keeping in the event (interruption, stderr tail, ...).
    pub detail: Option<Value>,
}

/// A run as stored.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The run's id.
    pub id: Uuid,
    /// The workflow's name.
    pub workflow_name: String,
    /// The definition snapshot the run started with.
    pub definition: String,
    /// The run's state.
    pub state: RunState,
    /// The run's input.
    pub input: Value,
    /// The run's output, once it succeeded.
    pub output: Option<Value>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// When the run was created.
    pub created_at: DateTime<Utc>,
    /// When the run last changed.
    pub updated_at: DateTime<Utc>,
}

/// The current state of one step of a run.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// The step's id.
    pub id: String,
    /// Its state.
    pub state: StepState,
    /// Attempts made so far.
    pub attempt: u32,
    /// Which fallback the step is on (0: its own `with`).
    pub fallback: u32,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// The last error.
    pub error: Option<String>,
    /// When a `retry_wait` step wakes up.
    pub wake_at: Option<DateTime<Utc>>,
    /// Usage summed over its attempts.
    pub usage: Option<Usage>,
}

impl StepRecord {
    /// A step that has not started.
    pub fn pending(id: &str) -> Self {
        StepRecord {
            id: id.to_owned(),
            state: StepState::Pending,
            attempt: 0,
            fallback: 0,
            output: None,
            error: None,
            wake_at: None,
            usage: None,
        }
    }
}

/// One entry of a run's history.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// Position in the run's history, from 1.
    pub seq: i64,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// The step, or `None` for a run transition.
    pub step_id: Option<String>,
    /// The state left (`None` when the run was created).
    pub from: Option<String>,
    /// The state entered.
    pub to: String,
    /// The attempt, for step transitions.
    pub attempt: Option<u32>,
    /// What else was recorded.
    pub detail: Option<Value>,
}

/// Who drives a run: the lease fields of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// A unique id of the holding engine.
    pub owner: String,
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's process start time (clock ticks since boot), to tell a reused pid apart.
    pub pid_start: u64,
}

/// The outcome of trying to take a run's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAttempt {
    /// The lease is ours until the given time.
    Acquired,
    /// Somebody else holds it.
    Held {
        /// The holder.
        holder: LeaseHolder,
        /// When their lease expires unless renewed.
        expires: DateTime<Utc>,
    },
}

/// The durable store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    reads: SqlitePool,
    writer: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    conn: SqliteConnection,
    next_seq: HashMap<Uuid, i64>,
}

impl Store {
    /// Opens (and if asked creates) the database and brings its schema up to date.
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        let path = options.path.clone();
        if !options.create && !path.exists() {
            return Err(StoreError::Missing(path));
        }
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(options.create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true)
            // The commit guards write a temporary table: keep it off the disk.
            .pragma("temp_store", "memory");
        let fail = |error| classify(&path, error);
        let mut conn = connect_patiently(&connect, options.busy_timeout)
            .await
            .map_err(fail)?;
        migrate(&mut conn).await.map_err(|error| match error {
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::NewerSchema {
                path: path.clone(),
                version,
            },
            sqlx::migrate::MigrateError::Execute(error) => classify(&path, error),
            other => StoreError::Corrupt(other.to_string()),
        })?;
        sqlx::query(write::PREPARE_GUARD)
            .execute(&mut conn)
            .await
            .map_err(fail)?;
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(connect.create_if_missing(false))
            .await
            .map_err(fail)?;
        Ok(Store {
            path,
            reads,
            writer: Mutex::new(Writer {
                conn,
                next_seq: HashMap::new(),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a new run (its snapshot, input and pending steps), leased to `holder` for
    /// `ttl`, and commits `changes` (its first transitions) in the same transaction.
    pub async fn create_run(
        &self,
        run: &NewRun,
        holder: &LeaseHolder,
        ttl: Duration,
        changes: &[Change],
    ) -> Result<()> {
        self.commit(Some((run, holder, ttl)), changes).await
    }

    /// Commits `changes` in one transaction, each with its event, in order.
    ///
    /// Every change names the state it leaves; if the stored state differs, nothing is
    /// committed and [`StoreError::Conflict`] comes back. A change that ends a run also
    /// releases its lease.
    pub async fn apply(&self, changes: &[Change]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.commit(None, changes).await
    }

    async fn commit(
        &self,
        create: Option<(&NewRun, &LeaseHolder, Duration)>,
        changes: &[Change],
    ) -> Result<()> {
        let fail = |error| classify(&self.path, error);
        let now = Utc::now();
        let mut writer = self.writer.lock().await;
        let Writer { conn, next_seq } = &mut *writer;
        let before = next_seq.clone();
        let record = create.map(|(run, holder, ttl)| {
            next_seq.insert(run.id, 2);
            let expires = (now + ttl).timestamp_millis();
            let lease = (
                holder.owner.as_str(),
                holder.host.as_str(),
                i64::from(holder.pid),
                holder.pid_start as i64,
                expires,
            );
            write::new_run(run, lease)
        });
        for change in changes {
            let run_id = change.run_id();
            if let std::collections::hash_map::Entry::Vacant(entry) = next_seq.entry(run_id) {
                entry.insert(next_seq_of(conn, run_id).await.map_err(fail)?);
            }
        }
        let rows = write::Rows::new(changes, next_seq);
        if let Err(error) = rows.commit(conn, record, now.timestamp_millis()).await {
            // The query stopped before its COMMIT: end the transaction it began, if any.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            *next_seq = before;
            if !write::is_stale(&error) {
                return Err(fail(error));
            }
            let run = changes[0].run_id();
            let stale = rows.stale_step(conn).await.map_err(fail)?;
            return Err(match stale {
                Some((step, state)) => StoreError::Conflict {
                    run,
                    what: format!("step {step} (now {state})"),
                },
                None => StoreError::Conflict {
                    run,
                    what: "the run".into(),
                },
            });
        }
        for change in changes {
            if let Change::Run(change) = change
                && change.to.is_terminal()
            {
                next_seq.remove(&change.run_id);
            }
        }
        Ok(())
    }

    /// Takes the lease of `run_id` for `holder` for `ttl`, unless somebody else holds a live one.
    ///
    /// `is_void` tells whether a foreign holder is known to be gone (its process died).
    pub async fn acquire_lease(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: impl Fn(&LeaseHolder) -> bool,
    ) -> Result<LeaseAttempt> {
        let now = Utc::now();
        let mut writer = self.writer.lock().await;
        let mut tx = writer
            .conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| classify(&self.path, e))?;
        let row = sqlx::query(
            "SELECT lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires FROM runs WHERE id = ?",
        )
        .bind(run_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| classify(&self.path, e))?
        .ok_or_else(|| StoreError::UnknownRun(run_id.to_string()))?;
        if let Some(owner) = row.get::<Option<String>, _>(0) {
            let current = LeaseHolder {
                owner,
                host: row.get(1),
                pid: row.get::<i64, _>(2) as u32,
                pid_start: row.get::<i64, _>(3) as u64,
            };
            let expires = millis_to_time(row.get(4));
            if current.owner != holder.owner && expires > now && !is_void(&current) {
                return Ok(LeaseAttempt::Held {
                    holder: current,
                    expires,
                });
            }
        }
        let expires = now + ttl;
        sqlx::query(
            "UPDATE runs SET lease_owner = ?, lease_host = ?, lease_pid = ?, lease_pid_start = ?, lease_expires = ?
             WHERE id = ?",
        )
        .bind(&holder.owner)
        .bind(&holder.host)
        .bind(i64::from(holder.pid))
        .bind(holder.pid_start as i64)
        .bind(expires.timestamp_millis())
        .bind(run_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(&self.path, e))?;
        tx.commit().await.map_err(|e| classify(&self.path, e))?;
        Ok(LeaseAttempt::Acquired)
    }

    /// Extends our lease of `run_id` by `ttl` from now; `false` if it is no longer ours.
    pub async fn renew_lease(&self, run_id: Uuid, owner: &str, ttl: Duration) -> Result<bool> {
        let expires = (Utc::now() + ttl).timestamp_millis();
        let mut writer = self.writer.lock().await;
        let done =
            sqlx::query("UPDATE runs SET lease_expires = ? WHERE id = ? AND lease_owner = ?")
                .bind(expires)
                .bind(run_id.to_string())
                .bind(owner)
                .execute(&mut writer.conn)
                .await
                .map_err(|e| classify(&self.path, e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up our lease of `run_id`.
    pub async fn release_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        let mut writer = self.writer.lock().await;
        sqlx::query(
            "UPDATE runs SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, lease_pid_start = NULL,
             lease_expires = NULL WHERE id = ? AND lease_owner = ?",
        )
        .bind(run_id.to_string())
        .bind(owner)
        .execute(&mut writer.conn)
        .await
        .map_err(|e| classify(&self.path, e))?;
        writer.next_seq.remove(&run_id);
        Ok(())
    }

    /// The run `run_id`, or the only run whose id starts with `run_id`.
    pub async fn run(&self, run_id: &str) -> Result<RunRecord> {
        let rows = sqlx::query(
            "SELECT r.id, r.workflow_name, w.definition, r.state, r.input, r.output, r.error, r.created_at,
                    (SELECT at FROM events e WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1)
             FROM runs r JOIN workflows w ON w.hash = r.workflow_hash
             WHERE r.id = ?1 OR (length(?1) >= 4 AND substr(r.id, 1, length(?1)) = ?1) ORDER BY r.id != ?1 LIMIT 2",
        )
        .bind(run_id)
        .fetch_all(&self.reads)
        .await
        .map_err(|e| classify(&self.path, e))?;
        let row = match rows.as_slice() {
            [row] => row,
            [first, _] if first.get::<String, _>(0) == run_id => first,
            _ => return Err(StoreError::UnknownRun(run_id.to_owned())),
        };
        run_record(row)
    }

    /// The current state of every step of a run, in plan order.
    ///
    /// The rows come back as one JSON array (one round trip to sqlx's connection thread,
    /// not one per row): resuming a run of 100,000 steps reads them all.
    pub async fn steps(&self, run_id: Uuid) -> Result<Vec<StepRecord>> {
        let rows: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(step_id, state, attempt, json(output), error,
                                                wake_at, json(usage), fallback) ORDER BY position)
             FROM steps WHERE run_id = ?",
        )
        .bind(run_id.to_string())
        .fetch_one(&self.reads)
        .await
        .map_err(|e| classify(&self.path, e))?;
        type Row = (
            String,
            String,
            u32,
            Option<Value>,
            Option<String>,
            Option<i64>,
            Option<Usage>,
            u32,
        );
        let rows: Vec<Row> = serde_json::from_str(&rows)
            .map_err(|e| StoreError::Corrupt(format!("steps of run {run_id}: {e}")))?;
        rows.into_iter()
            .map(
                |(id, state, attempt, output, error, wake_at, usage, fallback)| {
                    Ok(StepRecord {
                        id,
                        state: parse_state(state)?,
                        attempt,
                        fallback,
                        output,
                        error,
                        wake_at: wake_at.map(millis_to_time),
                        usage,
                    })
                },
            )
            .collect()
    }

    /// Every run, newest first (without their definitions).
    pub async fn runs(&self) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(
            "SELECT r.id, r.workflow_name, '', r.state, r.input, r.output, r.error, r.created_at,
                    (SELECT at FROM events e WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1)
             FROM runs r ORDER BY r.created_at DESC, r.id DESC",
        )
        .fetch_all(&self.reads)
        .await
        .map_err(|e| classify(&self.path, e))?;
        rows.iter().map(run_record).collect()
    }

    /// Ids of runs that have not ended and are not paused, oldest first.
    pub async fn unfinished_runs(&self) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE state IN ('pending', 'running') ORDER BY created_at, id",
        )
        .fetch_all(&self.reads)
        .await
        .map_err(|e| classify(&self.path, e))?;
        rows.iter().map(|row| parse_uuid(row.get(0))).collect()
    }

    /// The history of a run, in order.
    pub async fn history(&self, run_id: Uuid) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT seq, at, step_id, from_state, to_state, attempt, detail FROM events WHERE run_id = ? ORDER BY seq",
        )
        .bind(run_id.to_string())
        .fetch_all(&self.reads)
        .await
        .map_err(|e| classify(&self.path, e))?;
        rows.iter()
            .map(|row| {
                Ok(EventRecord {
                    seq: row.get(0),
                    at: millis_to_time(row.get(1)),
                    step_id: row.get(2),
                    from: row.get(3),
                    to: row.get(4),
                    attempt: row.get::<Option<i64>, _>(5).map(|a| a as u32),
                    detail: row
                        .get::<Option<String>, _>(6)
                        .map(parse_json)
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Closes every connection (checkpointing the WAL when it is the last one).
    pub async fn close(self) {
        self.reads.close().await;
        let _ = self.writer.into_inner().conn.close().await;
    }
}

async fn next_seq_of(
    conn: &mut SqliteConnection,
    run_id: Uuid,
) -> std::result::Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?")
        .bind(run_id.to_string())
        .fetch_one(conn)
        .await?;
    Ok(row.get(0))
}

fn run_record(row: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: parse_uuid(row.get(0))?,
        workflow_name: row.get(1),
        definition: row.get(2),
        state: parse_state(row.get(3))?,
        input: parse_json(row.get(4))?,
        output: row
            .get::<Option<String>, _>(5)
            .map(parse_json)
            .transpose()?,
        error: row.get(6),
        created_at: millis_to_time(row.get(7)),
        updated_at: millis_to_time(row.get(8)),
    })
}

/// Opens a connection, retrying while the database is busy, up to `patience`. Setting up a
/// connection (WAL mode on a new file) can meet another process's lock where SQLite does not
/// wait by itself.
async fn connect_patiently(
    options: &SqliteConnectOptions,
    patience: Duration,
) -> std::result::Result<SqliteConnection, sqlx::Error> {
    let give_up = tokio::time::Instant::now() + patience;
    loop {
        match SqliteConnection::connect_with(options).await {
            Err(error) if is_busy(&error) && tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => return other,
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    matches!(primary_code(error), Some(5 | 6))
}

/// The primary SQLite result code of a database error.
fn primary_code(error: &sqlx::Error) -> Option<i64> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    db.code()
        .and_then(|code| code.parse::<i64>().ok())
        .map(|code| code & 0xff)
}

/// Brings the schema up to date. Two processes opening a new database at once must not
/// both apply the first migration: when any is pending, they are applied under an
/// IMMEDIATE transaction (the migrator nests its own in savepoints), so the second process
/// waits for the first and then finds nothing left to do. (`run_direct` rather than `run`:
/// `run`'s `Acquire` bound makes the future unusable in a spawned task.)
async fn migrate(
    conn: &mut SqliteConnection,
) -> std::result::Result<(), sqlx::migrate::MigrateError> {
    let latest = MIGRATOR.iter().map(|migration| migration.version).max();
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(None);
    if applied == latest {
        // Nothing to apply: only check the applied migrations' checksums, without a lock.
        return MIGRATOR.run_direct(None, conn, false).await;
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    MIGRATOR.run_direct(None, &mut *tx, false).await?;
    tx.commit().await?;
    Ok(())
}

/// Turns an sqlx error into the store error a user can act on.
fn classify(path: &Path, error: sqlx::Error) -> StoreError {
    match primary_code(&error) {
        Some(26) => StoreError::NotADatabase(path.to_owned()),
        Some(5 | 6) => StoreError::Locked(path.to_owned()),
        Some(14) => StoreError::Missing(path.to_owned()),
        _ => StoreError::Sqlx(error),
    }
}

fn parse_uuid(text: String) -> Result<Uuid> {
    Uuid::parse_str(&text).map_err(|e| StoreError::Corrupt(format!("run id {text:?}: {e}")))
}

fn parse_json(text: String) -> Result<Value> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

fn parse_state<S: FromStr<Err = UnknownState>>(text: String) -> Result<S> {
    text.parse()
        .map_err(|e: UnknownState| StoreError::Corrupt(e.to_string()))
}

fn millis_to_time(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease;

    async fn open(dir: &tempfile::TempDir) -> Store {
        Store::open(&StoreOptions::new(dir.path().join("cairn.db")))
            .await
            .unwrap()
    }

    fn new_run() -> NewRun {
        NewRun {
            id: Uuid::now_v7(),
            workflow_name: "demo".into(),
            workflow_hash: "h1".into(),
            definition: "{}".into(),
            input: serde_json::json!({"n": 1}),
            steps: vec!["a".into(), "b".into()],
        }
    }

    /// Records `run`, leased to a new holder in this process, with no transition yet.
    async fn create(store: &Store, run: &NewRun) -> LeaseHolder {
        let holder = lease::this_process();
        store
            .create_run(run, &holder, Duration::from_secs(60), &[])
            .await
            .unwrap();
        holder
    }

    fn step(
        run: &NewRun,
        id: &str,
        from: StepState,
        to: StepState,
        output: Option<Value>,
    ) -> Change {
        Change::Step(StepChange {
            run_id: run.id,
            step_id: id.into(),
            from,
            to,
            attempt: 1,
            fallback: 0,
            output,
            error: None,
            wake_at: None,
            usage: None,
            detail: None,
        })
    }

    #[tokio::test]
    async fn transitions_commit_with_their_events_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let run = new_run();
        create(&store, &run).await;
        store
            .apply(&[
                Change::Run(RunChange {
                    run_id: run.id,
                    from: RunState::Pending,
                    to: RunState::Running,
                    output: None,
                    error: None,
                }),
                step(&run, "a", StepState::Pending, StepState::Ready, None),
                step(&run, "a", StepState::Ready, StepState::Running, None),
            ])
            .await
            .unwrap();
        store
            .apply(&[step(
                &run,
                "a",
                StepState::Running,
                StepState::Succeeded,
                Some(serde_json::json!(42)),
            )])
            .await
            .unwrap();

        let steps = store.steps(run.id).await.unwrap();
        let a = steps.iter().find(|s| s.id == "a").unwrap();
        assert_eq!(
            (a.state, a.output.clone()),
            (StepState::Succeeded, Some(serde_json::json!(42)))
        );
        let history = store.history(run.id).await.unwrap();
        let seqs: Vec<i64> = history.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(history[0].to, "pending");
        let last = history.last().unwrap();
        assert_eq!(
            (
                last.step_id.as_deref(),
                last.from.as_deref(),
                last.to.as_str()
            ),
            (Some("a"), Some("running"), "succeeded")
        );
        assert_eq!(
            store.run(&run.id.to_string()[..8]).await.unwrap().state,
            RunState::Running
        );
    }

    #[tokio::test]
    async fn a_stale_change_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let run = new_run();
        create(&store, &run).await;
        let result = store
            .apply(&[
                step(&run, "a", StepState::Pending, StepState::Ready, None),
                step(&run, "b", StepState::Ready, StepState::Running, None),
            ])
            .await;
        assert!(
            matches!(result, Err(StoreError::Conflict { .. })),
            "{result:?}"
        );
        let a = store
            .steps(run.id)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id == "a")
            .unwrap();
        assert_eq!(a.state, StepState::Pending);
        assert_eq!(store.history(run.id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_live_lease_is_refused_and_a_void_one_taken() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let run = new_run();
        let creator = create(&store, &run).await;
        store.release_lease(run.id, &creator.owner).await.unwrap();
        let first = lease::this_process();
        let second = lease::this_process();
        let ttl = Duration::from_secs(60);
        assert_eq!(
            store
                .acquire_lease(run.id, &first, ttl, lease::is_void)
                .await
                .unwrap(),
            LeaseAttempt::Acquired
        );
        match store
            .acquire_lease(run.id, &second, ttl, lease::is_void)
            .await
            .unwrap()
        {
            LeaseAttempt::Held { holder, .. } => assert_eq!(holder, first),
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(
            store
                .acquire_lease(run.id, &second, ttl, |_| true)
                .await
                .unwrap(),
            LeaseAttempt::Acquired
        );
        assert!(!store.renew_lease(run.id, &first.owner, ttl).await.unwrap());
    }

    #[tokio::test]
    async fn bad_files_are_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let error = Store::open(&StoreOptions::new(&junk)).await.unwrap_err();
        assert!(matches!(error, StoreError::NotADatabase(_)), "{error:?}");
        assert_eq!(std::fs::read(&junk).unwrap(), vec![b'x'; 4096]);

        let missing = StoreOptions {
            create: false,
            ..StoreOptions::new(dir.path().join("none.db"))
        };
        assert!(matches!(
            Store::open(&missing).await,
            Err(StoreError::Missing(_))
        ));
        assert!(!dir.path().join("none.db").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn stores_opening_a_new_database_at_once_all_succeed() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cairn.db");
            let opens = (0..4).map(|_| {
                let options = StoreOptions::new(&path);
                tokio::spawn(async move { Store::open(&options).await.map(drop) })
            });
            for open in futures::future::join_all(opens).await {
                open.unwrap().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        open(&dir).await.close().await;
        let path = dir.path().join("cairn.db");
        let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'future', 1, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let error = Store::open(&StoreOptions::new(&path)).await.unwrap_err();
        assert!(
            matches!(error, StoreError::NewerSchema { version: 9999, .. }),
            "{error:?}"
        );
    }
}
