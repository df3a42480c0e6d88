//! `for_each` items (written with the batches that end them, see `write.rs`), read back for
//! a resume.

use sqlx::SqlitePool;
use uuid::Uuid;

use super::{column, id_list, parse_json, parse_state};
use crate::error::Result;
use crate::item::ItemRecord;

/// The items of the steps `step_ids` of `run_id`, by step and index.
pub(super) async fn items(
    pool: &SqlitePool,
    run_id: Uuid,
    step_ids: &[&str],
) -> Result<Result<Vec<ItemRecord>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT step_id, idx, state, attempt, output, error FROM items
         WHERE run_id = ? AND step_id IN (SELECT value FROM json_each(?))
         ORDER BY step_id, idx",
    )
    .bind(run_id.to_string())
    .bind(id_list(step_ids))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            Ok(ItemRecord {
                run_id,
                step_id: column(row, 0)?,
                index: column::<i64>(row, 1)? as usize,
                state: parse_state(column::<&str>(row, 2)?)?,
                attempt: column(row, 3)?,
                output: column::<Option<String>>(row, 4)?
                    .map(parse_json)
                    .transpose()?,
                error: column(row, 5)?,
            })
        })
        .collect())
}
