//! The plans planner steps added to runs (written with the planner's success, see
//! `write.rs`), read back for a resume, and those redrives superseded.

use sqlx::SqlitePool;
use uuid::Uuid;

use super::{column, int_column, parse_json};
use crate::error::{Error, Result};
use crate::plan::{Addition, Supersession};

/// The plans of `run_id` in force, in the order they were committed.
pub(super) async fn plans(
    pool: &SqlitePool,
    run_id: Uuid,
) -> Result<Result<Vec<Addition>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, planner, steps, ids, first_position FROM plans
         WHERE run_id = ? AND superseded_at IS NULL ORDER BY seq",
    )
    .bind(run_id.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let ids = parse_json(row, 3, column::<&str>(row, 3)?)?;
            Ok(Addition {
                run_id,
                seq: column(row, 0)?,
                planner: column(row, 1)?,
                steps: column(row, 2)?,
                ids: serde_json::from_value(ids)
                    .map_err(|error| Error::Corrupt(format!("stored plan ids: {error}")))?,
                first: int_column(row, 4)?,
            })
        })
        .collect())
}

/// The plans of `run_id` that redrives superseded, in the order they were committed.
pub(super) async fn superseded(
    pool: &SqlitePool,
    run_id: Uuid,
) -> Result<Result<Vec<Supersession>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, planner, steps, spent FROM plans
         WHERE run_id = ? AND superseded_at IS NOT NULL ORDER BY seq",
    )
    .bind(run_id.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let spent = parse_json(row, 3, column::<&str>(row, 3)?)?;
            Ok(Supersession {
                run_id,
                seq: column(row, 0)?,
                planner: column(row, 1)?,
                steps: column(row, 2)?,
                spent: serde_json::from_value(spent).map_err(|error| {
                    Error::Corrupt(format!("a superseded plan's spent: {error}"))
                })?,
            })
        })
        .collect())
}
