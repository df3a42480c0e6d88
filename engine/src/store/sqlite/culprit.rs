//! Naming the column a packing query failed on: SQLite's JSON functions, which pack a run's
//! step rows and events (see `steps.rs`, `events.rs`), refuse a BLOB ("JSON cannot hold BLOB
//! values") and malformed JSON without saying where. And naming a run whose id a lookup
//! missed because it is stored as a BLOB.

use sqlx::SqlitePool;
use uuid::Uuid;

use crate::error::Error;

/// `error`, of a query that packs run `run_id`'s rows of `table` with SQLite's JSON
/// functions (`json` the columns it reads through `json()`): a value they refuse, a
/// corrupt database, names its column when [`culprit`] finds it.
pub(super) async fn named(
    pool: &SqlitePool,
    table: &'static str,
    json: &[&str],
    run_id: Uuid,
    error: Error,
) -> Error {
    if !matches!(error, Error::Corrupt(_)) {
        return error;
    }
    match culprit(pool, table, json, run_id).await {
        Ok(Some(column)) => {
            let found = if json.contains(&column.as_str()) {
                "a BLOB or text that is not JSON"
            } else {
                "a BLOB where cairn keeps text"
            };
            Error::Corrupt(format!("column {table}.{column} of run {run_id}: {found}"))
        }
        _ => error,
    }
}

/// The first column of run `run_id`'s rows of `table` that SQLite's JSON functions refuse:
/// a BLOB (cairn writes none in the tables packed) or, in one of `json` (read through
/// `json()`), text that is not JSON. Looked for only once a read has failed: it reads every
/// row of the run again, once a column.
async fn culprit(
    pool: &SqlitePool,
    table: &'static str,
    json: &[&str],
    run_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(pool)
            .await?;
    for column in columns {
        let quoted = format!("\"{}\"", column.replace('"', "\"\""));
        let refused = if json.contains(&column.as_str()) {
            format!("typeof({quoted}) = 'blob' OR NOT json_valid({quoted})")
        } else {
            format!("typeof({quoted}) = 'blob'")
        };
        let query =
            format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE run_id = ? AND ({refused}))");
        let found: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
            .bind(run_id.to_string())
            .fetch_one(pool)
            .await?;
        if found {
            return Ok(Some(column));
        }
    }
    Ok(None)
}

/// The corrupt database of a run whose id, changed outside cairn, is stored as a BLOB
/// (`id`, read as text): cairn stores run ids as text, and SQLite finds no BLOB equal to text.
pub(super) fn blob_run_id(id: &str) -> Error {
    Error::Corrupt(format!(
        "column runs.id of run {id}: a BLOB where cairn keeps text"
    ))
}

/// The run id `key` (a whole id, or a prefix of at least `shortest` characters) finds
/// stored as a BLOB, as a corrupt database ([`blob_run_id`]): a lookup of `key` as text
/// missed it. Looked for only once that lookup found nothing; the primary key's index
/// serves it.
pub(super) async fn run_id_as_blob(
    pool: &SqlitePool,
    key: &str,
    shortest: usize,
) -> Result<Option<Error>, sqlx::Error> {
    let found: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT id FROM runs WHERE id = CAST(?1 AS BLOB)
             OR (length(?1) >= ?2 AND id > CAST(?1 AS BLOB) AND id < CAST(?1 || '~' AS BLOB))
         LIMIT 1",
    )
    .bind(key)
    .bind(shortest as i64)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|id| blob_run_id(&String::from_utf8_lossy(&id))))
}
