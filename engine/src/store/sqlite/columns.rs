//! Reading a row's columns: a value changed outside cairn (a NULL, another type, a number
//! out of range, text that is not JSON, a time past the range of times) is
//! [`Error::Corrupt`] naming its column, never read as another value.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use uuid::Uuid;

use super::culprit;
use crate::error::{Error, Result};
use crate::nesting;
use crate::state::UnknownState;

/// Column `index` of `row` as a `T`, or [`Error::Corrupt`] naming the column when the value
/// stored there is not one (a NULL, or a value of another type: changed outside cairn).
pub(super) fn column<'r, T>(row: &'r SqliteRow, index: usize) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(index).map_err(|error| {
        let error = match error {
            sqlx::Error::ColumnDecode { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        Error::Corrupt(format!("column {}: {error}", row.column(index).name()))
    })
}

/// Column `index` of `row`, an integer (SQLite keeps an `i64`), as a `T`: a value out of
/// `T`'s range (a negative index, changed outside cairn) is a corrupt database naming the
/// column, as [`column()`] names a value of the wrong type.
pub(super) fn int_column<T: TryFrom<i64>>(row: &SqliteRow, index: usize) -> Result<T> {
    in_range(row.column(index).name(), column(row, index)?)
}

/// The integer `value` of the stored `column` as a `T`, or [`Error::Corrupt`] naming the
/// column when it is out of `T`'s range.
pub(super) fn in_range<T: TryFrom<i64>>(column: &str, value: i64) -> Result<T> {
    T::try_from(value)
        .map_err(|_| Error::Corrupt(format!("column {column}: {value} is out of range")))
}

/// The corrupt database of run `run_id` found without its `what`, a row of `table`
/// (deleted outside cairn): never "no run", which would send the user looking for a typo.
pub(super) fn missing(run_id: Uuid, what: &str, table: &str) -> Error {
    Error::Corrupt(format!(
        "run {run_id} has no {what}: its row in table {table} is missing"
    ))
}

/// Column `index` of `row`, a run's `runs.id`: one stored as a BLOB (changed outside cairn)
/// is a corrupt database naming the run, as a lookup of its id names it
/// ([`culprit::run_id_as_blob`]).
pub(super) fn run_id(row: &SqliteRow, index: usize) -> Result<Uuid> {
    if (row.try_get_raw(index)).is_ok_and(|raw| raw.type_info().name() == "BLOB") {
        let id: Vec<u8> = column(row, index)?;
        return Err(culprit::blob_run_id(&String::from_utf8_lossy(&id)));
    }
    parse_uuid(column(row, index)?)
}

pub(super) fn parse_uuid(text: String) -> Result<Uuid> {
    Uuid::parse_str(&text).map_err(|e| Error::Corrupt(format!("run id {text:?}: {e}")))
}

/// `stored`, the JSON of column `index` of `row`, as text or as bytes (a BLOB of UTF-8, see
/// `write::Creation`), read past serde_json's depth limit as [`nesting::parse_stored`] reads
/// it (a run's output holds its sinks' outputs one level down); [`Error::Corrupt`] naming
/// the column when it is not JSON (changed outside cairn).
pub(super) fn parse_json(row: &SqliteRow, index: usize, stored: impl AsRef<[u8]>) -> Result<Value> {
    nesting::parse_stored(stored.as_ref()).map_err(|e| {
        let column = row.column(index).name();
        Error::Corrupt(format!("column {column}: not JSON: {e}"))
    })
}

/// Step ids as the JSON array a query unpacks with `json_each`.
pub(super) fn id_list(ids: &[&str]) -> String {
    serde_json::to_string(ids).expect("strings serialize")
}

pub(super) fn parse_state<S: FromStr<Err = UnknownState>>(text: &str) -> Result<S> {
    text.parse()
        .map_err(|e: UnknownState| Error::Corrupt(e.to_string()))
}

/// `millis` since 1970, the value of the stored time `column`, as a time, or
/// [`Error::Corrupt`] naming the column when no time is that far from 1970 (changed outside
/// cairn): never read as another time.
pub(super) fn stored_time(column: &str, millis: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis).ok_or_else(|| {
        Error::Corrupt(format!(
            "column {column}: {millis} is out of the range of times (milliseconds since 1970)"
        ))
    })
}

/// Column `index` of `row`, a stored time (milliseconds since 1970), as a time: a value of
/// another type or past the range of times is [`Error::Corrupt`] naming the column
/// ([`stored_time`]).
pub(super) fn time_column(row: &SqliteRow, index: usize) -> Result<DateTime<Utc>> {
    stored_time(row.column(index).name(), column(row, index)?)
}

/// [`time_column`] of a column that may be NULL.
pub(super) fn optional_time_column(row: &SqliteRow, index: usize) -> Result<Option<DateTime<Utc>>> {
    (column::<Option<i64>>(row, index)?)
        .map(|millis| stored_time(row.column(index).name(), millis))
        .transpose()
}
