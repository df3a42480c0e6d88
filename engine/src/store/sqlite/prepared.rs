//! The statements every commit runs, prepared once for the writer's life.
//!
//! rusqlite's statement cache finds a statement by hashing its text, and hashes it again
//! to put it back: for the ≈ 6 statements of a commit (300–450 bytes for the step and run
//! updates) that was ≈ 9% of the writer thread's instructions, on the thread every commit
//! waits for. The rarer statements (a run's creation, leases, commands) stay in the cache.

use rusqlite::{Connection, Statement};

/// The most events one `INSERT` of [`Prepared::events`] writes: a statement's own work (its
/// cursor opened, its parameters bound and cleared, its program started and halted) is paid
/// once for them, not for each.
pub(super) const EVENTS_AT_ONCE: usize = 32;

/// The columns of an event, as [`insert_events`] lists them.
pub(super) const EVENT_COLUMNS: usize = 8;

/// An `INSERT` of `rows` events.
fn insert_events(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT INTO events (run_id, seq, at, step_id, from_state, to_state, attempt, detail)
         VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// An `UPDATE` of one step row found by `found`, guarded by the state it leaves, followed by
/// `then`.
fn update_step(found: &str, then: &str) -> String {
    format!(
        "UPDATE steps SET state = ?3, attempt = ?4, fallback = ?5, output = ?6, error = ?7,
             wake_at = ?8, usage = COALESCE(?9, usage),
             progress_at = IIF(?3 = 'running', NULL, progress_at), interrupted = ?11
         WHERE {found} AND state = ?10 {then}"
    )
}

/// The prepared statements of a commit, borrowed from the writer's connection.
pub(super) struct Prepared<'c> {
    /// The connection they belong to (for the statements that are not prepared here).
    pub(super) conn: &'c Connection,
    begin: Statement<'c>,
    commit: Statement<'c>,
    rollback: Statement<'c>,
    /// The lease owner of a run: `(id)`.
    pub(super) lease: Statement<'c>,
    /// A step's last state, guarded by the state it leaves, found by its key: see
    /// `Rows::write`. Returns the row's rowid.
    pub(super) step: Statement<'c>,
    /// The same, found by the rowid in `?12` ([`StepRowids`](super::rowids::StepRowids)).
    pub(super) step_at: Statement<'c>,
    /// A run's last state, guarded by the state it leaves: see `Rows::write`.
    pub(super) run: Statement<'c>,
    /// The `INSERT`s of 1 to [`EVENTS_AT_ONCE`] events, each prepared when a commit first
    /// writes that many: a pipeline's step writes 3 or 4 in one statement, not one by one.
    events: Vec<Option<Statement<'c>>>,
    /// Whether a pause or a cancel of a run waits, not handled yet: `(run id)`. Run by the
    /// commits that start attempts only (`Rows::halt_asked`), on the `commands_pending` index.
    pub(super) halt_asked: Statement<'c>,
}

impl<'c> Prepared<'c> {
    /// Prepares them on `conn`.
    pub(super) fn new(conn: &'c Connection) -> rusqlite::Result<Prepared<'c>> {
        Ok(Prepared {
            conn,
            begin: conn.prepare("BEGIN IMMEDIATE")?,
            commit: conn.prepare("COMMIT")?,
            rollback: conn.prepare("ROLLBACK")?,
            lease: conn.prepare("SELECT lease_owner FROM runs WHERE id = ?")?,
            step: conn.prepare(&update_step("run_id = ?1 AND step_id = ?2", "RETURNING rowid"))?,
            step_at: conn.prepare(&update_step("rowid = ?12 AND run_id = ?1 AND step_id = ?2", ""))?,
            run: conn.prepare(
                "UPDATE runs SET state = ?2, output = ?3, error = ?4, error_class = ?5,
                     deadline_at = COALESCE(?6, deadline_at),
                     lease_owner = IIF(?7, NULL, lease_owner), lease_host = IIF(?7, NULL, lease_host),
                     lease_pid = IIF(?7, NULL, lease_pid),
                     lease_pid_start = IIF(?7, NULL, lease_pid_start),
                     lease_expires = IIF(?7, NULL, lease_expires)
                 WHERE id = ?1 AND state = ?8",
            )?,
            events: (0..EVENTS_AT_ONCE).map(|_| None).collect(),
            halt_asked: conn.prepare(
                "SELECT EXISTS (SELECT 1 FROM commands
                     WHERE run_id = ? AND handled_at IS NULL AND kind IN ('pause', 'cancel'))",
            )?,
        })
    }

    /// The `INSERT` of `rows` events, from 1 to [`EVENTS_AT_ONCE`].
    pub(super) fn events(&mut self, rows: usize) -> rusqlite::Result<&mut Statement<'c>> {
        let insert = match self.events[rows - 1].take() {
            Some(insert) => insert,
            None => self.conn.prepare(&insert_events(rows))?,
        };
        Ok(self.events[rows - 1].insert(insert))
    }

    /// Runs `work` in a `BEGIN IMMEDIATE` transaction, committed if it succeeds and rolled
    /// back otherwise.
    pub(super) fn transaction<T, E: From<rusqlite::Error>>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.begin.execute([])?;
        let done = work(self).and_then(|value| {
            self.commit.execute([])?;
            Ok(value)
        });
        if done.is_err() && !self.conn.is_autocommit() {
            let _ = self.rollback.execute([]);
        }
        done
    }
}
