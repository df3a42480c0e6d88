//! `for_each` items (written with the batches that end them, see `write.rs`), read back for
//! a resume, or counted by state for a summary.

use futures::TryStreamExt;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{column, id_list, int_column, parse_json, parse_state};
use crate::error::Result;
use crate::item::ItemRecord;
use crate::state::StepState;

/// The items of the steps `step_ids` of `run_id`, by step and index: each row parsed as it
/// comes, so that a big step's rows are never all held at once beside their records (probe
/// 205 F2: a resume of 200,000 items done peaked at 220 MB, four times the run's).
pub(super) async fn items(
    pool: &SqlitePool,
    run_id: Uuid,
    step_ids: &[&str],
) -> Result<Result<Vec<ItemRecord>>, sqlx::Error> {
    let mut rows = sqlx::query(
        "SELECT step_id, idx, state, attempt, output, error FROM items
         WHERE run_id = ? AND step_id IN (SELECT value FROM json_each(?))
         ORDER BY step_id, idx",
    )
    .bind(run_id.to_string())
    .bind(id_list(step_ids))
    .fetch(pool);
    let mut records = Vec::new();
    while let Some(row) = rows.try_next().await? {
        match record(&row, run_id) {
            Ok(record) => records.push(record),
            Err(error) => return Ok(Err(error)),
        }
    }
    Ok(Ok(records))
}

/// The item `row` holds, of `run_id`.
fn record(row: &SqliteRow, run_id: Uuid) -> Result<ItemRecord> {
    Ok(ItemRecord {
        run_id,
        step_id: column(row, 0)?,
        index: int_column(row, 1)?,
        state: parse_state(column::<&str>(row, 2)?)?,
        attempt: column(row, 3)?,
        output: column::<Option<&str>>(row, 4)?
            .map(|output| parse_json(row, 4, output))
            .transpose()?,
        error: column(row, 5)?,
    })
}

/// How many items of the steps `step_ids` of `run_id` are in each state, by step id and
/// state name: counted by SQLite, without reading an output.
pub(super) async fn counts(
    pool: &SqlitePool,
    run_id: Uuid,
    step_ids: &[&str],
) -> Result<Result<Vec<(String, StepState, usize)>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT step_id, state, count(*) FROM items
         WHERE run_id = ? AND step_id IN (SELECT value FROM json_each(?))
         GROUP BY step_id, state ORDER BY step_id, state",
    )
    .bind(run_id.to_string())
    .bind(id_list(step_ids))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let state = parse_state(column::<&str>(row, 1)?)?;
            Ok((column(row, 0)?, state, int_column(row, 2)?))
        })
        .collect())
}
