//! What a commit grows and shrinks its runs by, beside their transitions: planners' plans
//! with their steps, `for_each` items, and the plans and approval requests a redrive takes
//! out.

use rusqlite::{Connection, params};
use uuid::Uuid;

use super::{Rows, insert_steps};

impl Rows {
    /// Takes the superseded plans out of their runs: their steps' rows, items, approval
    /// requests and stalls are deleted (the events stay), their rows marked with what the
    /// steps spent.
    pub(super) fn supersede(&self, conn: &Connection, now: i64) -> rusqlite::Result<()> {
        use rusqlite::Error::FromSqlConversionFailure;
        use rusqlite::types::Type;
        for (run, seq, spent) in &self.superseded {
            let ids: String = conn
                .prepare_cached(
                    "SELECT ids FROM plans WHERE run_id = ? AND seq = ? AND superseded_at IS NULL",
                )?
                .query_row(params![run, seq], |row| row.get(0))?;
            let ids: Vec<String> = serde_json::from_str(&ids)
                .map_err(|error| FromSqlConversionFailure(0, Type::Text, error.into()))?;
            for table in ["items", "approvals", "stalls", "steps"] {
                let mut delete = conn.prepare_cached(&format!(
                    "DELETE FROM {table} WHERE run_id = ? AND step_id = ?"
                ))?;
                for id in &ids {
                    delete.execute(params![run, id])?;
                }
            }
            conn.prepare_cached(
                "UPDATE plans SET superseded_at = ?, spent = ? WHERE run_id = ? AND seq = ?",
            )?
            .execute(params![now, spent, run, seq])?;
        }
        Ok(())
    }

    /// Deletes the approval requests the batch withdraws, step by step
    /// ([`Batch::withdraw_approvals`](crate::state::Batch::withdraw_approvals)): before the
    /// batch's own requests are written.
    pub(super) fn withdraw(&self, conn: &Connection) -> rusqlite::Result<()> {
        let mut delete =
            conn.prepare_cached("DELETE FROM approvals WHERE run_id = ? AND step_id = ?")?;
        for (run, step) in &self.withdrawn {
            delete.execute(params![run, step])?;
        }
        Ok(())
    }

    /// Inserts what the batch grows its runs by: planners' plans and their steps (pending,
    /// so that the batch's transitions can move them), and `for_each` items.
    pub(super) fn grow(&self, conn: &Connection, now: i64) -> rusqlite::Result<()> {
        for plan in &self.plans {
            conn.prepare_cached(
                "INSERT INTO plans (run_id, seq, planner, steps, ids, first_position, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                plan.run,
                plan.seq,
                plan.planner,
                plan.steps,
                serde_json::to_string(&plan.ids).expect("ids serialize"),
                plan.first,
                now,
            ])?;
        }
        for plan in &self.plans {
            insert_steps(
                conn,
                &plan.run,
                plan.first,
                plan.ids.iter().map(String::as_str),
            )?;
        }
        let mut key = Uuid::encode_buffer();
        for item in &self.items {
            let run = &*item.run.hyphenated().encode_lower(&mut key);
            conn.prepare_cached(
                "INSERT OR REPLACE INTO items (run_id, step_id, idx, state, attempt, output, error)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                run,
                item.step,
                item.index,
                item.state,
                item.attempt,
                item.output,
                item.error,
            ])?;
        }
        Ok(())
    }
}
