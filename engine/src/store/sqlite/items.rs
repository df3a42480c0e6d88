//! `for_each` items (written with the batches that end them, see `write.rs`), read back for
//! a resume.

use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{id_list, parse_json, parse_state};
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
                step_id: row.get(0),
                index: row.get::<i64, _>(1) as usize,
                state: parse_state(row.get::<&str, _>(2))?,
                attempt: row.get(3),
                output: row
                    .get::<Option<String>, _>(4)
                    .map(parse_json)
                    .transpose()?,
                error: row.get(5),
            })
        })
        .collect())
}
