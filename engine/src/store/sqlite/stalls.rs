//! The stalls recorded of a run's running steps ([`Store::stalls`](crate::store::Store::stalls)),
//! read from their own table (migration 17).

use serde_json::Value;
use sqlx::SqlitePool;
use uuid::Uuid;

use super::{column, parse_json};
use crate::error::Result;

/// The last stall recorded of each running step of `run_id`, by step id.
pub(super) async fn running(
    pool: &SqlitePool,
    run_id: Uuid,
) -> Result<Result<Vec<(String, Value)>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.step_id, s.stall FROM stalls s
         JOIN steps t ON t.run_id = s.run_id AND t.step_id = s.step_id
         WHERE s.run_id = ? AND t.state = 'running' ORDER BY s.step_id",
    )
    .bind(run_id.to_string())
    .fetch_all(pool)
    .await?;
    Ok((rows.iter())
        .map(|row| {
            let stall: String = column(row, 1)?;
            Ok((column(row, 0)?, parse_json(row, 1, stall)?))
        })
        .collect())
}
