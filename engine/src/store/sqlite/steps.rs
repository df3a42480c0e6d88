//! Reading a run's step rows: a big run's are 100,000.
//!
//! SQLite packs them as one JSON array (one hand-over from sqlx's connection thread, not one
//! per row), which is read straight into [`StepRecord`]s, in a vector sized once from the
//! rows' count: no intermediate rows beside the records. The rows come in the table's key
//! order, each with its position, and are put in plan order here: sorting them inside
//! SQLite's aggregate took as long as packing them (≈ 45 ms of ≈ 100 for 100,000 rows).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use super::{parse_state, stored_time};
use crate::error::Error;
use crate::executor::Usage;
use crate::nesting;
use crate::store::StepRecord;

/// One row as a JSON array: its position, then a [`StepRecord`]'s columns, the output as
/// `output` gives it.
macro_rules! row {
    ($output:literal) => {
        concat!(
            "json_array(position, step_id, state, attempt, ",
            $output,
            ", error, wake_at, json(usage), fallback, progress_at, interrupted)"
        )
    };
}

/// The columns [`QUERY`], [`NAMED`], [`ONE`] and [`OUTPUTS`] read through `json()`.
pub(super) const JSON: &[&str] = &["output", "usage"];

/// The query: the rows' count, and the rows as a JSON array of arrays, in no given order.
pub(super) const QUERY: &str = concat!(
    "SELECT count(*), json_group_array(",
    row!("json(output)"),
    ") FROM steps WHERE run_id = ?"
);

/// [`QUERY`] without the outputs.
pub(super) const WITHOUT_OUTPUTS: &str = concat!(
    "SELECT count(*), json_group_array(",
    row!("NULL"),
    ") FROM steps WHERE run_id = ?"
);

/// [`QUERY`] of some steps only (run id, the step ids as a JSON array): one statement, so
/// one moment of every row it reads.
pub(super) const NAMED: &str = concat!(
    "SELECT count(*), json_group_array(",
    row!("json(output)"),
    ") FROM steps WHERE run_id = ? AND step_id IN (SELECT value FROM json_each(?))"
);

/// The query of one step's row (by run and step id), read by [`record`].
pub(super) const ONE: &str = concat!(
    "SELECT ",
    row!("json(output)"),
    " FROM steps WHERE run_id = ? AND step_id = ?"
);

/// The query of some steps' outputs (run id, the step ids as a JSON array): `[id, output]`
/// pairs as a JSON array, read by [`outputs`].
pub(super) const OUTPUTS: &str = "SELECT json_group_array(json_array(step_id, json(output)))
    FROM steps WHERE run_id = ? AND output IS NOT NULL
        AND step_id IN (SELECT value FROM json_each(?))";

/// The pairs of [`OUTPUTS`]'s answer (read past serde_json's depth limit: the pairs in their
/// array wrap outputs in two more levels).
pub(super) fn outputs(rows: &str) -> serde_json::Result<Vec<(String, Value)>> {
    nesting::parse_stored(rows.as_bytes())
}

/// The record of [`ONE`]'s answer.
pub(super) fn record(row: &str) -> serde_json::Result<StepRecord> {
    let Row(_, record) = nesting::parse_stored(row.as_bytes())?;
    Ok(record)
}

/// The records of [`QUERY`]'s (or [`NAMED`]'s) answer, `count` rows packed in `rows`, in plan order.
pub(super) fn records(count: i64, rows: &str) -> serde_json::Result<Vec<StepRecord>> {
    let mut placed = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    nesting::from_stored(rows.as_bytes(), |rows| {
        placed.clear();
        Records(&mut placed).deserialize(rows)
    })?;
    placed.sort_unstable_by_key(|(position, _)| *position);
    Ok(placed.into_iter().map(|(_, record)| record).collect())
}

/// Reads a JSON array of rows into the vector, each with its position.
struct Records<'v>(&'v mut Vec<(i64, StepRecord)>);

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of step rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut rows: A) -> Result<(), A::Error> {
        while let Some(Row(position, record)) = rows.next_element()? {
            self.0.push((position, record));
        }
        Ok(())
    }
}

/// One row, an array of the columns of [`QUERY`]: the step's position and record.
struct Row(i64, StepRecord);

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        type Columns<'a> = (
            i64,
            String,
            &'a str,
            i64,
            Option<Value>,
            Option<String>,
            Option<i64>,
            Option<Usage>,
            i64,
            Option<i64>,
            i64,
        );
        let (
            position,
            id,
            state,
            attempt,
            output,
            error,
            wake_at,
            usage,
            fallback,
            progress_at,
            interrupted,
        ) = Columns::deserialize(deserializer)?;
        // A stored time past the range of times is corrupt, never read as another time.
        let time = |column: &str, millis: Option<i64>| {
            (millis.map(|millis| stored_time(column, millis)))
                .transpose()
                .map_err(corrupt)
        };
        // A count out of range names its column and step (probe 67 F8: "expected u32 at
        // line 1 column 26", a place in the query's JSON).
        let count = |column: &str, value: i64| {
            u32::try_from(value).map_err(|_| {
                corrupt(Error::Corrupt(format!(
                    "column steps.{column} of step {id}: {value} is not a count from 0 to {}",
                    u32::MAX
                )))
            })
        };
        let (attempt, interrupted, fallback) = (
            count("attempt", attempt)?,
            count("interrupted", interrupted)?,
            count("fallback", fallback)?,
        );
        Ok(Row(
            position,
            StepRecord {
                id,
                state: parse_state(state).map_err(corrupt)?,
                attempt,
                interrupted,
                fallback,
                output,
                error,
                wake_at: time("steps.wake_at", wake_at)?,
                usage,
                progress_at: time("steps.progress_at", progress_at)?,
            },
        ))
    }
}

/// A corrupt value of a step row as the row's parse error: its message alone, which the
/// read's error names as corrupt once (not "corrupt database: … corrupt database: …").
fn corrupt<E: de::Error>(error: Error) -> E {
    match error {
        Error::Corrupt(message) => E::custom(message),
        other => E::custom(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StepState;

    #[test]
    fn rows_are_read_into_records_sized_once_in_plan_order() {
        let rows = r#"[[1, "b", "ready", 3, null, "boom", 2000, null, 1, null, 2],
                       [0, "a", "succeeded", 1, {"n": 1}, null, null, {"cost_usd": 0.5}, 0, 1000, 0]]"#;
        let records = records(2, rows).unwrap();
        assert_eq!(records.capacity(), 2);
        assert_eq!(
            (records[0].id.as_str(), records[0].state),
            ("a", StepState::Succeeded)
        );
        assert_eq!(records[0].output, Some(serde_json::json!({"n": 1})));
        assert_eq!(
            records[0].usage.as_ref().map(|usage| usage.cost_usd),
            Some(0.5)
        );
        assert_eq!(
            records[0].progress_at,
            chrono::DateTime::from_timestamp_millis(1000)
        );
        assert_eq!(
            (records[1].error.as_deref(), records[1].fallback),
            (Some("boom"), 1)
        );
        assert_eq!(
            records[1].wake_at,
            chrono::DateTime::from_timestamp_millis(2000)
        );
        assert_eq!((records[1].attempt, records[1].interrupted), (3, 2));
    }

    #[test]
    fn a_row_the_store_cannot_read_is_an_error() {
        let unknown_state = r#"[[0, "a", "melted", 1, null, null, null, null, 0, null, 0]]"#;
        assert!(
            records(1, unknown_state)
                .unwrap_err()
                .to_string()
                .contains("melted")
        );
        assert!(records(1, r#"[[0, "a", "pending"]]"#).is_err());
        let negative = r#"[[0, "a", "pending", -5, null, null, null, null, 0, null, 0]]"#;
        assert!(
            (records(1, negative).unwrap_err().to_string())
                .contains("column steps.attempt of step a: -5 is not a count from 0 to 4294967295"),
        );
    }
}
