//! What a commit writes beside its transitions: approval requests and decisions, and the
//! progress, usage and stalls of running steps, and the commands it handled.

use rusqlite::{Connection, params};

use super::Rows;
use crate::approval::Approval;

/// An approval request, or its decision (the row is replaced whole).
#[derive(Debug)]
pub(super) struct ApprovalRow {
    run: String,
    step: String,
    /// -1 for a step's own request.
    item: i64,
    hash: String,
    /// JSON text.
    action: String,
    /// JSON text.
    verdict: String,
    requested_at: i64,
    expires_at: i64,
    decision: Option<&'static str>,
    by: Option<String>,
    reason: Option<String>,
    decided_at: Option<i64>,
}

impl Rows {
    /// Writes approval requests and decisions, the last progress, the usage and the stalls
    /// of running steps and the commands the batch handled.
    pub(super) fn annotate(&self, conn: &Connection, now: i64) -> rusqlite::Result<()> {
        for row in &self.approvals {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO approvals (run_id, step_id, item, action_hash, action,
                     verdict, requested_at, expires_at, decision, decided_by, reason, decided_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                row.run,
                row.step,
                row.item,
                row.hash,
                row.action,
                row.verdict,
                row.requested_at,
                row.expires_at,
                row.decision,
                row.by,
                row.reason,
                row.decided_at,
            ])?;
        }
        for (run, step, at) in &self.progress {
            conn.prepare_cached(
                "UPDATE steps SET progress_at = ? WHERE run_id = ? AND step_id = ?",
            )?
            .execute(params![at, run, step])?;
        }
        for (run, step, usage) in &self.usage {
            conn.prepare_cached("UPDATE steps SET usage = ? WHERE run_id = ? AND step_id = ?")?
                .execute(params![usage, run, step])?;
        }
        for (run, step, stall) in &self.stalls {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO stalls (run_id, step_id, stall) VALUES (?, ?, ?)",
            )?
            .execute(params![run, step, stall])?;
        }
        for id in &self.handled {
            conn.prepare_cached("UPDATE commands SET handled_at = ? WHERE id = ?")?
                .execute(params![now, id])?;
        }
        Ok(())
    }
}

/// The row of `approval`.
pub(super) fn approval_row(approval: &Approval) -> ApprovalRow {
    let decision = approval.decision.as_ref();
    ApprovalRow {
        run: approval.run_id.to_string(),
        step: approval.step_id.clone(),
        item: approval.item.map_or(-1, |item| item as i64),
        hash: approval.action_hash.clone(),
        action: approval.action.to_string(),
        verdict: serde_json::to_string(&approval.verdict).expect("a verdict serializes"),
        requested_at: approval.requested_at.timestamp_millis(),
        expires_at: approval.expires_at.timestamp_millis(),
        decision: decision.map(|d| if d.approved { "approved" } else { "denied" }),
        by: decision.map(|d| d.by.clone()),
        reason: decision.and_then(|d| d.reason.clone()),
        decided_at: decision.map(|d| d.at.timestamp_millis()),
    }
}
