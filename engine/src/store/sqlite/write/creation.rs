//! A new run's record: its snapshot, its row (leased to its creator), its input, its pending
//! steps and its creation event, written by the commit that makes its first turn.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use rusqlite::{Connection, params};
use uuid::Uuid;

use super::super::in_place::{fill_blob, write_snapshot};
use super::{insert_steps, stored_cap};
use crate::lease::LeaseHolder;
use crate::store::{NewRun, Snapshot, digest};

/// A new run to insert, owned so that it can be sent to the writer thread.
#[derive(Debug)]
pub(in crate::store::sqlite) struct Creation {
    pub(in crate::store::sqlite) id: Uuid,
    name: String,
    definition: Snapshot,
    /// JSON text.
    input: Arc<String>,
    steps: Arc<[Arc<str>]>,
    holder: LeaseHolder,
    /// Milliseconds since the epoch.
    expires: i64,
    policy: Option<(String, String)>,
    max_output_bytes: usize,
    /// The directory's bytes.
    cwd: Option<Vec<u8>>,
}

impl Creation {
    /// The record of `run`, leased to `holder` until `expires` (ms).
    pub(in crate::store::sqlite) fn new(
        run: &NewRun,
        holder: &LeaseHolder,
        expires: i64,
    ) -> Creation {
        Creation {
            id: run.id,
            name: run.workflow_name.clone(),
            definition: run.definition.clone(),
            input: Arc::clone(&run.input),
            steps: Arc::clone(&run.steps),
            holder: holder.clone(),
            expires,
            policy: (run.guard.as_ref()).map(|policy| (digest(policy), policy.clone())),
            max_output_bytes: run.max_output_bytes,
            cwd: (run.cwd.as_ref()).map(|dir| dir.as_os_str().as_bytes().to_vec()),
        }
    }

    /// Records the run: its snapshot, its row (leased to its creator), its input, its
    /// pending steps and its creation event.
    pub(super) fn insert(&self, conn: &Connection, now: i64) -> rusqlite::Result<()> {
        let id = self.id.to_string();
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO workflows (hash, name, definition, created_at)
                 VALUES (?, ?, zeroblob(?), ?)",
            )?
            .execute(params![
                self.definition.hash(),
                self.name,
                self.definition.len() as i64,
                now
            ])?;
        if inserted == 1 {
            let row = conn.last_insert_rowid();
            write_snapshot(conn, row, &self.definition)?;
        }
        if let Some((hash, policy)) = &self.policy {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO policies (hash, policy, created_at) VALUES (?, ?, ?)",
            )?
            .execute(params![hash, policy, now])?;
        }
        let holder = &self.holder;
        conn.prepare_cached(
            "INSERT INTO runs (id, workflow_hash, workflow_name, state, created_at,
                               lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires,
                               policy_hash, max_output_bytes, cwd)
             VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            id,
            self.definition.hash(),
            self.name,
            now,
            holder.owner,
            holder.host,
            holder.pid,
            holder.pid_start as i64,
            self.expires,
            self.policy.as_ref().map(|(hash, _)| hash),
            stored_cap(self.max_output_bytes),
            self.cwd,
        ])?;
        conn.prepare_cached("INSERT INTO inputs (run_id, input) VALUES (?, zeroblob(?))")?
            .execute(params![id, self.input.len() as i64])?;
        let row = conn.last_insert_rowid();
        fill_blob(conn, ("inputs", "input", row), self.input.as_bytes())?;
        insert_steps(conn, &id, 0, self.steps.iter().map(|step| &**step))?;
        conn.prepare_cached(
            "INSERT INTO events (run_id, seq, at, to_state) VALUES (?, 1, ?, 'pending')",
        )?
        .execute(params![id, now])?;
        Ok(())
    }
}
