//! Reading a page of a run's events: a big run has millions.
//!
//! SQLite packs a page as one JSON array, so that it crosses from sqlx's connection thread
//! in one hand-over instead of one per row (≈ 1 µs each, most of `cairn history`'s time).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use sqlx::SqlitePool;
use uuid::Uuid;

use super::{column, id_list, parse_json, parse_state, stored_time};
use crate::error::{Error, Result};
use crate::event::{Event, EventKind};
use crate::nesting;

/// The query of a page (run id, the last `seq` before it, how many): the events as a JSON
/// array of arrays.
pub(super) const PAGE: &str = "SELECT json_group_array(json_array(seq, at, step_id, from_state,
        to_state, attempt, json(detail)))
    FROM (SELECT * FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?)";

/// The column [`PAGE`] reads through `json()`.
pub(super) const JSON: &[&str] = &["detail"];

/// One event's columns, as [`PAGE`] packs them.
#[derive(Deserialize)]
struct Row(
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    Option<u32>,
    Option<Value>,
);

/// The events of `run_id` in [`PAGE`]'s answer, in order.
pub(super) fn page(run_id: Uuid, rows: &str) -> Result<Vec<Event>> {
    let rows: Vec<Row> = nesting::parse_stored(rows.as_bytes())
        .map_err(|e| Error::Corrupt(format!("events of run {run_id}: {e}")))?;
    let mut events = (rows.into_iter())
        .map(|Row(seq, at, step_id, from, to, attempt, detail)| {
            let kind = match (step_id, from) {
                (_, None) => EventKind::Created,
                (None, Some(from)) => EventKind::Run {
                    from: parse_state(&from)?,
                    to: parse_state(&to)?,
                },
                (Some(step_id), Some(from)) => EventKind::Step {
                    step_id,
                    from: parse_state(&from)?,
                    to: parse_state(&to)?,
                },
            };
            Ok(Event {
                run_id,
                seq,
                at: stored_time("events.at", at)?,
                kind,
                attempt,
                detail,
            })
        })
        .collect::<Result<Vec<Event>>>()?;
    // In order already (the inner query's), which an aggregate is not promised to keep.
    events.sort_by_key(|event| event.seq);
    Ok(events)
}

/// The detail of the last event of each of the steps `step_ids` of `run_id` that kept a
/// refused reply ([`Store::replies`](crate::store::Store::replies)), by step id. The run's
/// events are walked from the last: only those whose detail names a `reply` are parsed.
pub(super) async fn replies(
    pool: &SqlitePool,
    run_id: Uuid,
    step_ids: &[&str],
) -> Result<Result<Vec<(String, Value)>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT step_id, detail FROM events
         WHERE run_id = ? AND step_id IN (SELECT value FROM json_each(?))
             AND instr(detail, '\"reply\"') > 0
         ORDER BY seq DESC",
    )
    .bind(run_id.to_string())
    .bind(id_list(step_ids))
    .fetch_all(pool)
    .await?;
    let mut last: HashMap<String, Value> = HashMap::new();
    for row in &rows {
        let step: String = match column(row, 0) {
            Ok(step) => step,
            Err(error) => return Ok(Err(error)),
        };
        if last.contains_key(&step) {
            continue;
        }
        let detail = column::<&str>(row, 1).and_then(|detail| parse_json(row, 1, detail));
        match detail {
            Ok(detail) if detail["reply"].is_string() => {
                last.insert(step, detail);
            }
            Ok(_) => {}
            Err(error) => return Ok(Err(error)),
        }
    }
    Ok(Ok(last.into_iter().collect()))
}

/// The steps of `run_id` that wait, held by the guard or a rate limit, and why
/// ([`Store::holds`](crate::store::Store::holds)): the holds among the run's events (few),
/// each kept if no later event of its step follows it.
pub(super) async fn holds(
    pool: &SqlitePool,
    run_id: Uuid,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT h.step_id, json_extract(h.detail, '$.waits') FROM events h
         WHERE h.run_id = ?1 AND h.from_state = 'ready' AND h.to_state = 'ready'
             AND json_type(h.detail, '$.waits') = 'text'
             AND NOT EXISTS (SELECT 1 FROM events l
                 WHERE l.run_id = ?1 AND l.seq > h.seq AND l.step_id = h.step_id)",
    )
    .bind(run_id.to_string())
    .fetch_all(pool)
    .await
}
