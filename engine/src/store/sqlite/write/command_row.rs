//! A command for a run as one row of `commands`, and the checks its insert makes in its own
//! transaction: a ruling only while it decides something, a pause or a cancel only while it
//! can be carried out.

use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::command::Command;

/// A command for a run, as the `commands` table keeps it: sent by another process, or by
/// the engine to its own run in a commit.
#[derive(Debug)]
pub(in crate::store::sqlite) struct CommandRow {
    run: String,
    kind: &'static str,
    step: Option<String>,
    /// The command as JSON text.
    payload: String,
    /// What its insert checks first, in its own transaction.
    check: Check,
}

/// What the insert of a command checks in its transaction before it records the command.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Nothing: a command the engine gives its own run, or a test's.
    None,
    /// A ruling, recorded only while it decides something; its item (`None`: the step as a
    /// whole).
    Ruling(Option<i64>),
    /// A pause or a cancel, recorded only while it can be carried out.
    Halt,
}

impl CommandRow {
    /// The row of `command`, sent to `run`.
    pub(in crate::store::sqlite) fn new(run: Uuid, command: &Command) -> Self {
        CommandRow {
            run: run.to_string(),
            kind: command.kind(),
            step: command.step().map(str::to_owned),
            payload: serde_json::to_string(command).expect("a command serializes"),
            check: Check::None,
        }
    }

    /// `command`, inserted only if it is not a ruling its step's state or an earlier
    /// pending ruling makes moot, nor a pause or a cancel its run's state or an earlier
    /// pending one does ([`Store::send_ruling`](crate::store::Store::send_ruling)).
    pub(in crate::store::sqlite) fn ruling(run: Uuid, command: &Command) -> Self {
        let check = match command {
            Command::Approve(ruling) | Command::Deny(ruling) => Check::Ruling(
                ruling
                    .item
                    .map(|item| i64::try_from(item).unwrap_or(i64::MAX)),
            ),
            Command::Pause(_) | Command::Cancel(_) => Check::Halt,
        };
        CommandRow {
            check,
            ..CommandRow::new(run, command)
        }
    }

    /// Inserts the command, sent at `at` (ms), pending; whether it did. A ruling is not
    /// inserted while its step does not await approval or an earlier pending ruling covers
    /// it (a denial of the step, an approval of the step or of the same item, as
    /// [`Command::covers`] says), nor once the run's deadline has passed, behind a pending
    /// cancel, or once a request of its step has expired with no ruling sent before its
    /// expiry (the engine expires such a request first, and its denial denies the step;
    /// the checks [`Engine::send`](crate::Engine::send) makes before the write read an
    /// earlier instant, so a busy database could let the expiry pass in between); a pause or a cancel not while its run has ended and no
    /// live lease says an engine redrives it, and a pause not while the run is paused or a
    /// pause or a cancel of it is pending.
    pub(in crate::store::sqlite) fn insert(
        &self,
        conn: &Connection,
        at: i64,
    ) -> rusqlite::Result<bool> {
        let inserted = match self.check {
            Check::None => conn
                .prepare_cached(
                    "INSERT INTO commands (run_id, kind, step_id, payload, created_at)
                     VALUES (?, ?, ?, ?, ?)",
                )?
                .execute(params![self.run, self.kind, self.step, self.payload, at])?,
            Check::Ruling(item) => conn
                .prepare_cached(
                    // `rulings`: the step's pending rulings, each with the item it names
                    // (none: the step); one covers item X if it is a denial or names no
                    // item or X (`Command::covers`).
                    "WITH rulings AS (
                         SELECT kind, json_extract(payload, '$.item') AS item, created_at
                         FROM commands
                         WHERE run_id = ?1 AND handled_at IS NULL AND step_id = ?3
                           AND kind IN ('approve', 'deny'))
                     INSERT INTO commands (run_id, kind, step_id, payload, created_at)
                     SELECT ?1, ?2, ?3, ?4, ?5
                     WHERE EXISTS (SELECT 1 FROM steps WHERE run_id = ?1 AND step_id = ?3
                                       AND state = 'awaiting_approval')
                       AND NOT EXISTS (
                           SELECT 1 FROM rulings
                           WHERE kind = 'deny' OR item IS NULL OR item = ?6)
                       AND NOT EXISTS (
                           SELECT 1 FROM runs WHERE id = ?1 AND deadline_at <= ?5)
                       AND NOT EXISTS (
                           SELECT 1 FROM commands
                           WHERE run_id = ?1 AND handled_at IS NULL AND kind = 'cancel')
                       AND NOT EXISTS (
                           SELECT 1 FROM approvals AS request
                           WHERE run_id = ?1 AND step_id = ?3 AND decision IS NULL
                             AND expires_at <= ?5
                             AND NOT EXISTS (
                                 SELECT 1 FROM rulings
                                 WHERE created_at < request.expires_at
                                   AND (kind = 'deny' OR item IS NULL OR item = request.item)))",
                )?
                .execute(params![
                    self.run,
                    self.kind,
                    self.step,
                    self.payload,
                    at,
                    item
                ])?,
            Check::Halt => conn
                .prepare_cached(
                    "INSERT INTO commands (run_id, kind, step_id, payload, created_at)
                     SELECT ?1, ?2, ?3, ?4, ?5
                     WHERE EXISTS (
                           SELECT 1 FROM runs WHERE id = ?1
                             AND (state NOT IN ('succeeded', 'failed', 'cancelled')
                                  OR (lease_owner IS NOT NULL AND lease_expires > ?5))
                             AND (?2 = 'cancel' OR state <> 'paused'))
                       AND (?2 = 'cancel' OR NOT EXISTS (
                           SELECT 1 FROM commands
                           WHERE run_id = ?1 AND handled_at IS NULL
                             AND kind IN ('pause', 'cancel')))",
                )?
                .execute(params![self.run, self.kind, self.step, self.payload, at])?,
        };
        Ok(inserted == 1)
    }
}
