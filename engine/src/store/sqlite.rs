//! The SQLite store: WAL mode, one writer connection, group commit.
//!
//! One writer connection, owned by a thread of its own, commits every transition of a batch
//! in one `BEGIN IMMEDIATE` transaction, each transition with its event; a pool of readers
//! serves queries. WAL mode lets readers and the writer proceed side by side, also across
//! processes.

use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Column, Connection, Row};
use uuid::Uuid;

use super::{CommitReport, NewRun, RunRecord, Standing, StepRecord, Store, run_id_key};
use crate::approval::Approval;
use crate::command::{Command, PendingCommand};
use crate::error::{AMBIGUOUS_SHOWN, Error, Result, SHORTEST_PREFIX};
use crate::event::Event;
use crate::item::ItemRecord;
use crate::lease::{Lease, LeaseHolder};
use crate::plan::{Addition, Supersession};
use crate::report::{RunFilter, RunSummary};
use crate::state::{Batch, StepState};

mod columns;
mod culprit;
mod events;
mod guard;
mod handover;
mod in_place;
mod items;
mod open;
mod plans;
mod prepared;
mod record;
mod rowids;
mod stalls;
mod steps;
mod writable;
mod write;
mod writer;
mod writer_connection;
mod writer_file;
mod writer_lease;

use columns::{
    column, id_list, in_range, int_column, missing, optional_time_column, parse_json, parse_state,
    parse_uuid, run_id, stored_time, time_column,
};
use guard::Requests;
use open::{
    Schema, absent, classify, connect_patiently, create_private, is_a_kernel_file, migrate,
    migration_refused,
};
use write::{CommandRow, Creation, Rows};
use writer::{Commit, Writer};

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

/// The longest busy timeout SQLite takes: `i32::MAX` milliseconds (rusqlite panics past it).
const LONGEST_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The database file.
    pub path: PathBuf,
    /// Create the file when it does not exist.
    pub create: bool,
    /// How hard commits are pushed to disk.
    pub durability: Durability,
    /// How long to wait for another process's lock before giving up; SQLite counts it in
    /// milliseconds of an `int`, so anything longer than ≈ 24.8 days waits that long.
    pub busy_timeout: Duration,
    /// Opened to write (default): a database this process may not write, the file or
    /// another user's `-wal` or `-shm` beside it, is refused before SQLite opens it
    /// ([`Error::ReadOnly`], [`Error::OthersFile`]), since SQLite would open it read-only
    /// and leave files of this user's beside it that keep its owner from writing it. A
    /// reader (`cairn runs`, `show`) says `false`, and opens it all the same.
    pub writes: bool,
}

impl StoreOptions {
    /// Options for `path`: create it if missing, [`Durability::Normal`], 5 s busy timeout,
    /// opened to write.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreOptions {
            path: path.into(),
            create: true,
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
            writes: true,
        }
    }
}

/// The SQLite store. Open it with [`SqliteStore::open`]; share it behind an `Arc`.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    reads: SqlitePool,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (and if asked creates) the database and brings its schema up to date.
    ///
    /// A directory, a missing folder, a file that is not SQLite, and an SQLite database
    /// that holds another application's tables are refused and left unchanged; so are the
    /// names SQLite would not read as a file (empty, `:memory:`, a `file:` URI) or does not
    /// take (not UTF-8). A new database and its WAL files are readable by their owner only.
    pub async fn open(options: &StoreOptions) -> Result<SqliteStore> {
        let path = options.path.clone();
        let name = path.as_os_str();
        if name.is_empty() || name == ":memory:" || name.as_encoded_bytes().starts_with(b"file:") {
            return Err(Error::NotAFileName(path));
        }
        // Refused before anything is made at the path: sqlx would refuse the name only
        // once the file was created.
        if path.to_str().is_none() {
            return Err(Error::NotUtf8Name(path));
        }
        if path.is_dir() {
            return Err(Error::IsADirectory(path));
        }
        // SQLite's files beside the database: a directory there fails its opening.
        for suffix in ["-wal", "-shm"] {
            let mut beside = path.clone().into_os_string();
            beside.push(suffix);
            if Path::new(&beside).is_dir() {
                return Err(Error::IsADirectory(beside.into()));
            }
        }
        // A device or a FIFO (`/dev/null`): SQLite would fail on it with a bare I/O error.
        // A kernel's file that reads as text though its size is 0 (`/proc/self/status`)
        // would be taken for an empty database.
        if path.exists() && (!path.is_file() || is_a_kernel_file(&path)) {
            return Err(Error::NotADatabase(path));
        }
        if options.writes {
            writable::refuse_unwritable(&path)?;
        }
        if !path.exists() {
            // A link to nothing (not a file another process created since the line above).
            let link = path.symlink_metadata();
            if link.is_ok_and(|link| link.file_type().is_symlink()) {
                return Err(Error::DanglingLink(path));
            }
            // A missing folder or a name too long is an error even where a missing file is
            // a database with nothing in it yet (`cairn runs`).
            match absent(&path) {
                Error::MissingDatabase(_) if options.create => create_private(&path)?,
                missing => return Err(missing),
            }
        }
        let busy_timeout = options.busy_timeout.min(LONGEST_BUSY_TIMEOUT);
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(busy_timeout)
            .foreign_keys(true);
        let fail = |error| classify(&path, error);
        // A current schema needs no migrator, nor the sqlx connection it runs on.
        let (opening, schema) =
            Writer::start(&path, options.durability, busy_timeout, options.create).await?;
        let migrating = match schema {
            Schema::Current => None,
            Schema::Migrate => {
                // A refusal is told once both connections are closed: the last one to close
                // deletes the `-wal` and `-shm` files opening them made.
                let mut conn = match connect_patiently(&connect, busy_timeout).await {
                    Ok(conn) => conn,
                    Err(error) => {
                        opening.abandon().await;
                        return Err(fail(error));
                    }
                };
                if let Err(error) = migrate(&mut conn).await {
                    let _ = conn.close().await;
                    opening.abandon().await;
                    return Err(migration_refused(&path, error));
                }
                Some(conn)
            }
        };
        let writer = opening.open().await?;
        if let Some(conn) = migrating {
            // Closed once the writer is open: the last connection to close checkpoints
            // the WAL and deletes it, which the writer would only create again.
            let _ = conn.close().await;
        }
        // Readers connect when first asked: the writer has looked at the file already, and
        // a short run may read nothing. They stay connected until the store closes: a
        // reader closed while the writer is open could be the last connection to another
        // file put at the path, and checkpoint the run's WAL into it (see `close`).
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(connect);
        Ok(SqliteStore {
            path,
            reads,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self) -> impl Fn(sqlx::Error) -> Error + '_ {
        |error| classify(&self.path, error)
    }

    /// `packed`, the result of a query that packs run `run_id`'s rows of `table`: its error
    /// names the column SQLite's JSON functions refused, when one is found (see [`culprit`]).
    async fn packed<T>(
        &self,
        packed: sqlx::Result<T>,
        table: &'static str,
        json: &[&str],
        run_id: Uuid,
    ) -> Result<T> {
        match packed {
            Ok(packed) => Ok(packed),
            Err(error) => {
                let error = classify(&self.path, error);
                Err(culprit::named(&self.reads, table, json, run_id, error).await)
            }
        }
    }

    /// The step rows of run `run_id` as `query` (one of [`steps`]' queries) packs them;
    /// `named`: those of these steps only, for a query that takes their ids
    /// ([`steps::NAMED`]).
    async fn step_rows(
        &self,
        run_id: Uuid,
        query: &'static str,
        named: Option<&[&str]>,
    ) -> Result<Vec<StepRecord>> {
        let mut query = sqlx::query_as(query).bind(run_id.to_string());
        if let Some(step_ids) = named {
            query = query.bind(id_list(step_ids));
        }
        let packed = query.fetch_one(&self.reads).await;
        let (count, rows): (i64, String) =
            self.packed(packed, "steps", steps::JSON, run_id).await?;
        steps::records(count, &rows)
            .map_err(|e| Error::Corrupt(format!("steps of run {run_id}: {e}")))
    }

    /// Commits `batch` (creating `create` first, if given) and returns what it committed.
    async fn write(
        &self,
        create: Option<(&NewRun, &LeaseHolder, Duration)>,
        owner: &str,
        batch: Batch,
    ) -> Result<CommitReport> {
        let now = Utc::now();
        let create = create
            .map(|(run, holder, ttl)| Creation::new(run, holder, (now + ttl).timestamp_millis()));
        let commit = Commit {
            create,
            owner: owner.to_owned(),
            now,
            rows: Rows::new(batch),
        };
        self.writer.commit(commit).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_run(
        &self,
        run: &NewRun,
        holder: &LeaseHolder,
        ttl: Duration,
        batch: Batch,
    ) -> Result<Vec<Event>> {
        let written = self.write(Some((run, holder, ttl)), &holder.owner, batch);
        Ok(written.await?.events)
    }

    async fn commit(&self, owner: &str, batch: Batch) -> Result<CommitReport> {
        if batch.is_empty() {
            return Ok(CommitReport::default());
        }
        self.write(None, owner, batch).await
    }

    async fn lease_run(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        ttl: Duration,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<Result<Standing, Lease>> {
        let now = Utc::now();
        (self.writer)
            .lease_run(run_id, holder, now, now + ttl, is_void)
            .await
    }

    async fn renew_lease(&self, run_id: Uuid, owner: &str, ttl: Duration) -> Result<bool> {
        let expires = (Utc::now() + ttl).timestamp_millis();
        self.writer.renew_lease(run_id, owner, expires).await
    }

    async fn release_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.writer.release_lease(run_id, owner, false).await
    }

    async fn give_back_lease(&self, run_id: Uuid, owner: &str) -> Result<()> {
        self.writer.release_lease(run_id, owner, true).await
    }

    async fn find_run(&self, given: &str) -> Result<RunRecord> {
        let key = run_id_key(given);
        let id = key.as_str();
        // The ids first, then the one record: sorting whole records would have SQLite copy
        // each one's definition (10 MB for 100,000 steps) into its sorter.
        let rows = sqlx::query(FIND_RUN_IDS)
            .bind(id)
            .bind(AMBIGUOUS_SHOWN as i64 + 1)
            .bind(SHORTEST_PREFIX as i64)
            .fetch_all(&self.reads)
            .await
            .map_err(self.fail())?;
        let ids: Vec<String> = rows
            .iter()
            .map(|row| column(row, 0))
            .collect::<Result<_>>()?;
        let exact = match ids.as_slice() {
            [] => {
                let blob = culprit::run_id_as_blob(&self.reads, id, SHORTEST_PREFIX).await;
                return Err((blob.map_err(self.fail())?)
                    .unwrap_or_else(|| Error::UnknownRun(given.to_owned())));
            }
            [first, ..] if first == id => first,
            [only] => only,
            several => {
                let shown = several.len().min(AMBIGUOUS_SHOWN);
                return Err(Error::AmbiguousRun {
                    prefix: id.to_owned(),
                    matches: several[..shown].to_vec(),
                    more: several.len() > shown,
                });
            }
        };
        let row = sqlx::query(
            "SELECT r.id, r.workflow_name, r.workflow_hash, r.state, r.output, r.error,
                    r.error_class, r.created_at, (SELECT at FROM events e WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1) AS updated_at,
                    p.policy, r.deadline_at, r.lease_owner, r.lease_host, r.lease_pid,
                    r.lease_pid_start, r.lease_expires, r.max_output_bytes, r.cwd
             FROM runs r LEFT JOIN policies p ON p.hash = r.policy_hash
             WHERE r.id = ?1",
        )
        .bind(exact)
        .fetch_optional(&self.reads)
        .await
        .map_err(self.fail())?;
        run_record(&row.ok_or_else(|| Error::UnknownRun(id.to_owned()))?)
    }

    async fn definition(&self, run_id: Uuid) -> Result<String> {
        // A BLOB of UTF-8 (see `write::Creation`), or text in older databases: read as bytes.
        let row = sqlx::query(
            "SELECT w.definition FROM runs r LEFT JOIN workflows w ON w.hash = r.workflow_hash
             WHERE r.id = ?",
        )
        .bind(run_id.to_string())
        .fetch_optional(&self.reads)
        .await
        .map_err(self.fail())?
        .ok_or_else(|| Error::UnknownRun(run_id.to_string()))?;
        let definition = column::<Option<Vec<u8>>>(&row, 0)?
            .ok_or_else(|| missing(run_id, "workflow", "workflows"))?;
        String::from_utf8(definition)
            .map_err(|e| Error::Corrupt(format!("definition of run {run_id}: {e}")))
    }

    async fn input(&self, run_id: Uuid) -> Result<Value> {
        // A BLOB of UTF-8 (see `write::Creation`), or text in older databases: read as bytes.
        let row = sqlx::query(
            "SELECT i.input FROM runs r LEFT JOIN inputs i ON i.run_id = r.id WHERE r.id = ?",
        )
        .bind(run_id.to_string())
        .fetch_optional(&self.reads)
        .await
        .map_err(self.fail())?
        .ok_or_else(|| Error::UnknownRun(run_id.to_string()))?;
        let input =
            column::<Option<&[u8]>>(&row, 0)?.ok_or_else(|| missing(run_id, "input", "inputs"))?;
        parse_json(&row, 0, input)
    }

    async fn step(&self, run_id: Uuid, step_id: &str) -> Result<Option<StepRecord>> {
        let packed = sqlx::query_scalar(steps::ONE)
            .bind(run_id.to_string())
            .bind(step_id)
            .fetch_optional(&self.reads)
            .await;
        let row: Option<String> = self.packed(packed, "steps", steps::JSON, run_id).await?;
        row.map(|row| steps::record(&row))
            .transpose()
            .map_err(|e| Error::Corrupt(format!("step {step_id} of run {run_id}: {e}")))
    }

    async fn steps(&self, run_id: Uuid) -> Result<Vec<StepRecord>> {
        self.step_rows(run_id, steps::QUERY, None).await
    }

    async fn steps_without_outputs(&self, run_id: Uuid) -> Result<Vec<StepRecord>> {
        self.step_rows(run_id, steps::WITHOUT_OUTPUTS, None).await
    }

    async fn steps_named(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<StepRecord>> {
        self.step_rows(run_id, steps::NAMED, Some(step_ids)).await
    }

    async fn outputs(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<(String, Value)>> {
        let packed = sqlx::query_scalar(steps::OUTPUTS)
            .bind(run_id.to_string())
            .bind(id_list(step_ids))
            .fetch_one(&self.reads)
            .await;
        let rows: String = self.packed(packed, "steps", steps::JSON, run_id).await?;
        steps::outputs(&rows).map_err(|e| Error::Corrupt(format!("outputs of run {run_id}: {e}")))
    }

    async fn replies(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<(String, Value)>> {
        if step_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = events::replies(&self.reads, run_id, step_ids).await;
        rows.map_err(self.fail())?
    }

    async fn holds(&self, run_id: Uuid) -> Result<Vec<(String, String)>> {
        let rows = events::holds(&self.reads, run_id).await;
        rows.map_err(self.fail())
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        // Each row becomes its summary as it comes: a database of 100,000 runs held as
        // sqlx's rows took 96 MiB.
        let states: Vec<&str> = filter.states.iter().map(|state| state.as_str()).collect();
        let (query, limit) = match filter.limit {
            Some(limit) => (NEWEST_RUNS, limit.try_into().unwrap_or(i64::MAX)),
            None => (RUNS, -1),
        };
        let mut rows = sqlx::query(query)
            .bind(id_list(&states))
            .bind(limit)
            .fetch(&self.reads);
        let mut runs = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(self.fail())? {
            runs.push(RunSummary {
                id: run_id(&row, 0)?,
                workflow: column(&row, 1)?,
                state: parse_state(column::<&str>(&row, 2)?)?,
                created_at: time_column(&row, 3)?,
                updated_at: time_column(&row, 4)?,
            });
        }
        Ok(runs)
    }

    async fn unfinished_runs(&self) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE state IN ('pending', 'running') ORDER BY created_at, id",
        )
        .fetch_all(&self.reads)
        .await
        .map_err(self.fail())?;
        rows.iter().map(|row| run_id(row, 0)).collect()
    }

    async fn paused_past_deadline(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE state = 'paused' AND deadline_at <= ?1 \
             ORDER BY created_at, id",
        )
        .bind(now.timestamp_millis())
        .fetch_all(&self.reads)
        .await
        .map_err(self.fail())?;
        rows.iter().map(|row| run_id(row, 0)).collect()
    }

    async fn send_command(&self, run_id: Uuid, command: &Command) -> Result<()> {
        let command = CommandRow::new(run_id, command);
        self.writer.send_command(command).await.map(drop)
    }

    async fn send_ruling(&self, run_id: Uuid, ruling: &Command) -> Result<bool> {
        let command = CommandRow::ruling(run_id, ruling);
        self.writer.send_command(command).await
    }

    async fn pending_commands(&self, run_id: Uuid) -> Result<Vec<PendingCommand>> {
        let rows = guard::pending_commands(&self.reads, run_id);
        rows.await.map_err(self.fail())?
    }

    async fn runs_with_commands(&self) -> Result<Vec<Uuid>> {
        // The partial index of the commands not handled yet holds them and nothing else.
        let rows = sqlx::query("SELECT DISTINCT run_id FROM commands WHERE handled_at IS NULL")
            .fetch_all(&self.reads)
            .await
            .map_err(self.fail())?;
        rows.iter().map(|row| parse_uuid(column(row, 0)?)).collect()
    }

    async fn approvals(&self, run_id: Uuid) -> Result<Vec<Approval>> {
        let rows = guard::approvals(&self.reads, Requests::All(run_id)).await;
        rows.map_err(self.fail())?
    }

    async fn waiting_approvals(&self) -> Result<Vec<Approval>> {
        let rows = guard::approvals(&self.reads, Requests::Waiting).await;
        rows.map_err(self.fail())?
    }

    async fn waiting_approvals_of(&self, run_id: Uuid) -> Result<Vec<Approval>> {
        let rows = guard::approvals(&self.reads, Requests::WaitingOf(run_id)).await;
        rows.map_err(self.fail())?
    }

    async fn items(&self, run_id: Uuid, step_ids: &[&str]) -> Result<Vec<ItemRecord>> {
        if step_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = items::items(&self.reads, run_id, step_ids).await;
        rows.map_err(self.fail())?
    }

    async fn item_counts(
        &self,
        run_id: Uuid,
        step_ids: &[&str],
    ) -> Result<Vec<(String, StepState, usize)>> {
        let counts = items::counts(&self.reads, run_id, step_ids).await;
        counts.map_err(self.fail())?
    }

    async fn plans(&self, run_id: Uuid) -> Result<Vec<Addition>> {
        let rows = plans::plans(&self.reads, run_id).await;
        rows.map_err(self.fail())?
    }

    async fn redrive_from(&self, run_id: Uuid) -> Result<Option<String>> {
        let row = sqlx::query("SELECT redrive_from FROM runs WHERE id = ?")
            .bind(run_id.to_string())
            .fetch_optional(&self.reads)
            .await
            .map_err(self.fail())?;
        Ok(row.map(|row| column(&row, 0)).transpose()?.flatten())
    }

    async fn stalls(&self, run_id: Uuid) -> Result<Vec<(String, Value)>> {
        stalls::running(&self.reads, run_id)
            .await
            .map_err(self.fail())?
    }

    async fn superseded(&self, run_id: Uuid) -> Result<Vec<Supersession>> {
        let rows = plans::superseded(&self.reads, run_id).await;
        rows.map_err(self.fail())?
    }

    async fn starts_since(
        &self,
        run_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        let rows = sqlx::query(
            "SELECT step_id, at, coalesce(json_array_length(detail, '$.verdicts'), 1)
             FROM events
             WHERE run_id = ? AND step_id IS NOT NULL AND to_state = 'running' AND at >= ?
             ORDER BY seq",
        )
        .bind(run_id.to_string())
        .bind(since.timestamp_millis())
        .fetch_all(&self.reads)
        .await;
        let rows = self.packed(rows, "events", events::JSON, run_id).await?;
        let mut starts = Vec::new();
        for row in &rows {
            let start = (column(row, 0)?, time_column(row, 1)?);
            let count = column::<i64>(row, 2)?.try_into().unwrap_or(0);
            starts.extend(std::iter::repeat_n(start, count));
        }
        Ok(starts)
    }

    async fn history_page(&self, run_id: Uuid, after: i64, limit: usize) -> Result<Vec<Event>> {
        let packed = sqlx::query_scalar(events::PAGE)
            .bind(run_id.to_string())
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_one(&self.reads)
            .await;
        let rows: String = self.packed(packed, "events", events::JSON, run_id).await?;
        events::page(run_id, &rows)
    }

    /// Closes the readers, then the writer, whose connection, the last, checkpoints the
    /// WAL away. The writer readies its connection first (`Writer::close_after`): a
    /// reader that connected after another database was put at the path has that file open
    /// beside the run's WAL, and SQLite, finding no other connection to *that* file, would
    /// checkpoint the run's pages into it as the reader closes; the writer first empties
    /// the WAL into the file it has open.
    async fn close(&self) {
        self.writer.close_after(self.reads.close()).await;
    }
}

/// The runs in one of the states of the JSON array `?1` (every run for `[]`), newest first,
/// with the time of each one's last event; `?2` at most (-1: every one).
const RUNS: &str = "SELECT r.id, r.workflow_name, r.state, r.created_at,
        (SELECT at FROM events e WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1)
            AS updated_at
    FROM runs r WHERE ?1 = '[]' OR r.state IN (SELECT value FROM json_each(?1))
    ORDER BY r.created_at DESC, r.id DESC LIMIT ?2";

/// [`RUNS`] for a few of many: the runs are chosen first, and only theirs last events looked
/// up (SQLite would look every run's up before sorting them: the 20 newest of 100,000 in
/// 0.1 s instead of 0.5). Their order is sorted again, few rows: without a limit that
/// second sort of every run cost 0.2 s.
const NEWEST_RUNS: &str = "SELECT r.id, r.workflow_name, r.state, r.created_at,
        (SELECT at FROM events e WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1)
            AS updated_at
    FROM (SELECT id, workflow_name, state, created_at FROM runs
          WHERE ?1 = '[]' OR state IN (SELECT value FROM json_each(?1))
          ORDER BY created_at DESC, id DESC LIMIT ?2) r
    ORDER BY r.created_at DESC, r.id DESC";

/// The run whose id is `?1`, then up to `?2` others whose ids begin with it (a prefix of
/// at least `?3` characters): `find_run` asks for one more than an ambiguity names, to tell
/// whether there are more. A prefix's ids are a range of the primary key's index (a run's
/// id has only hex digits and dashes, all below `~`): SQLite searches it instead of reading
/// every run's id, which took 25 ms for 100,000 runs, for every command naming a run.
const FIND_RUN_IDS: &str = "SELECT id FROM runs WHERE id = ?1
    UNION ALL
    SELECT id FROM (
        SELECT id FROM runs WHERE length(?1) >= ?3 AND id > ?1 AND id < ?1 || '~'
        ORDER BY id LIMIT ?2
    )";

fn run_record(row: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: parse_uuid(column(row, 0)?)?,
        workflow_name: column(row, 1)?,
        workflow_hash: column(row, 2)?,
        state: parse_state(column::<&str>(row, 3)?)?,
        // Text, or a BLOB of UTF-8 when it was big (see `in_place.rs`).
        output: column::<Option<&[u8]>>(row, 4)?
            .map(|output| parse_json(row, 4, output))
            .transpose()?,
        error: column(row, 5)?,
        error_class: column::<Option<String>>(row, 6)?
            .map(|class| {
                class.parse().map_err(|unknown| {
                    let run = column::<&str>(row, 0).unwrap_or_default();
                    Error::Corrupt(format!("column runs.error_class of run {run}: {unknown}"))
                })
            })
            .transpose()?,
        guard: column(row, 9)?,
        created_at: time_column(row, 7)?,
        updated_at: time_column(row, 8)?,
        deadline: optional_time_column(row, 10)?,
        max_output_bytes: (column::<Option<i64>>(row, 16)?)
            .map(|cap| in_range(row.column(16).name(), cap))
            .transpose()?,
        // The directory's bytes, as the engine read it (a path need not be UTF-8).
        cwd: (column::<Option<Vec<u8>>>(row, 17)?)
            .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes))),
        lease: match column::<Option<String>>(row, 11)? {
            Some(owner) => Some(Lease {
                holder: LeaseHolder {
                    owner,
                    host: column::<Option<String>>(row, 12)?.unwrap_or_default(),
                    pid: column::<Option<u32>>(row, 13)?.unwrap_or_default(),
                    // Written `as i64`: read back bit for bit, any value.
                    pid_start: column::<Option<i64>>(row, 14)?.unwrap_or_default() as u64,
                },
                expires: optional_time_column(row, 15)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests;
