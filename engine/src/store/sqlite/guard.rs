//! The guard's rows: commands other processes send, and approval requests.

use sqlx::{Column, Row, SqlitePool};
use uuid::Uuid;

use super::{column, in_range, parse_json, parse_uuid, stored_time, time_column};
use crate::approval::{Approval, ApprovalDecision};
use crate::command::PendingCommand;
use crate::error::{Error, Result};

/// The commands of `run_id` not handled yet, oldest first.
pub(super) async fn pending_commands(
    pool: &SqlitePool,
    run_id: Uuid,
) -> Result<Result<Vec<PendingCommand>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, payload, created_at FROM commands
         WHERE run_id = ? AND handled_at IS NULL ORDER BY id",
    )
    .bind(run_id.to_string())
    .fetch_all(pool)
    .await?;
    Ok((rows.iter())
        .map(|row| {
            let payload: String = column(row, 1)?;
            let command = serde_json::from_str(&payload)
                .map_err(|e| Error::Corrupt(format!("command {payload:?}: {e}")))?;
            Ok(PendingCommand {
                id: column(row, 0)?,
                run_id,
                command,
                created_at: time_column(row, 2)?,
            })
        })
        .collect())
}

/// Which approval requests [`approvals`] reads.
#[derive(Debug, Clone, Copy)]
pub(super) enum Requests {
    /// Every request of a run, decided or not.
    All(Uuid),
    /// The requests that wait, of every run that has not ended.
    Waiting,
    /// The requests that wait of one run (none once it has ended): read by its key.
    WaitingOf(Uuid),
}

/// The columns [`approval`] reads, `FROM approvals a`, before a `WHERE`.
macro_rules! select {
    ($($where:expr),+) => {
        concat!(
            "SELECT run_id, step_id, item, action_hash, verdict, requested_at, expires_at,
                    decision, decided_by, reason, decided_at, action
             FROM approvals a WHERE ",
            $($where,)+
            " ORDER BY requested_at, run_id, step_id, item"
        )
    };
}

/// A request that waits: undecided, its run not ended, its step awaiting approval. A
/// decision that is neither `approved` nor `denied` (changed outside cairn) is read too, to
/// be named corrupt rather than pass for a decided request.
macro_rules! waits {
    () => {
        "(decision IS NULL OR decision NOT IN ('approved', 'denied'))
         AND (SELECT state FROM runs WHERE id = a.run_id) IN ('pending', 'running', 'paused')
         AND (SELECT state FROM steps s WHERE s.run_id = a.run_id AND s.step_id = a.step_id)
             = 'awaiting_approval'"
    };
}

/// The approval requests `which` names, in the order they were asked.
pub(super) async fn approvals(
    pool: &SqlitePool,
    which: Requests,
) -> Result<Result<Vec<Approval>>, sqlx::Error> {
    let (query, run_id) = match which {
        Requests::All(run_id) => (select!("run_id = ?"), Some(run_id)),
        Requests::Waiting => (select!(waits!()), None),
        Requests::WaitingOf(run_id) => (select!("run_id = ? AND ", waits!()), Some(run_id)),
    };
    let mut query = sqlx::query(query);
    if let Some(run_id) = run_id {
        query = query.bind(run_id.to_string());
    }
    let rows = query.fetch_all(pool).await?;
    Ok(rows.iter().map(approval).collect())
}

/// One request of [`approvals`]' rows. A time stored there that is no time (changed outside
/// cairn) is a corrupt row naming the table, the run and the step ([`stored_time`]): read as
/// 1970, an expiry would have passed long ago.
fn approval(row: &sqlx::sqlite::SqliteRow) -> Result<Approval> {
    let run_id = parse_uuid(column(row, 0)?)?;
    let step_id: String = column(row, 1)?;
    let time = |index: usize, millis: i64| {
        let named = format!(
            "approvals.{} of run {run_id}, step {step_id:?}",
            row.column(index).name()
        );
        stored_time(&named, millis)
    };
    let verdict = parse_json(row, 4, column::<&str>(row, 4)?)?;
    let verdict = serde_json::from_value(verdict)
        .map_err(|e| Error::Corrupt(format!("stored verdict: {e}")))?;
    // Written `approved` or `denied`: another value (changed outside cairn) is read as
    // neither, not as a denial by nobody.
    let approved = |decision: &str| match decision {
        "approved" => Ok(true),
        "denied" => Ok(false),
        other => Err(Error::Corrupt(format!(
            "column approvals.decision of run {run_id}, step {step_id:?}: {other:?} is neither \
             `approved` nor `denied`"
        ))),
    };
    let decision = match column::<Option<String>>(row, 7)? {
        Some(decision) => Some(ApprovalDecision {
            approved: approved(&decision)?,
            by: column::<Option<String>>(row, 8)?.unwrap_or_default(),
            reason: column(row, 9)?,
            at: time(10, column::<Option<i64>>(row, 10)?.unwrap_or_default())?,
        }),
        None => None,
    };
    // -1: the request of a step, not of one of its items (see `write.rs`).
    let item = match column::<i64>(row, 2)? {
        -1 => None,
        item => Some(in_range("item", item)?),
    };
    Ok(Approval {
        item,
        action_hash: column(row, 3)?,
        action: match column::<Option<&str>>(row, 11)? {
            Some(action) => parse_json(row, 11, action)?,
            None => serde_json::Value::Null,
        },
        verdict,
        requested_at: time(5, column(row, 5)?)?,
        expires_at: time(6, column(row, 6)?)?,
        decision,
        run_id,
        step_id,
    })
}
