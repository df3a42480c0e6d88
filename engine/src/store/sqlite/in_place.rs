//! Values written in place: a `zeroblob` of their size, filled through the pager.
//!
//! SQLite copies a bound value, then builds the row from the copy: a 100 MB definition,
//! input or run output was three copies at once. Written into a zeroblob, it is none. Such
//! a value is a BLOB of UTF-8, which the store reads as bytes (older rows hold text).

use std::io::{self, BufWriter, Write};

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::store::Snapshot;

/// Writes `bytes` into the zeroblob of their size in `column` of `table`'s row `row`.
pub(super) fn fill_blob(
    conn: &Connection,
    table: &str,
    column: &str,
    row: i64,
    bytes: &[u8],
) -> rusqlite::Result<()> {
    conn.blob_open("main", table, column, row, false)?
        .write_all_at(bytes, 0)
}

/// Writes `snapshot` into the zeroblob of its length in the `workflows` row `row`,
/// serializing it through the pager rather than from a copy of its text.
pub(super) fn write_snapshot(
    conn: &Connection,
    row: i64,
    snapshot: &Snapshot,
) -> rusqlite::Result<()> {
    let blob = conn.blob_open("main", "workflows", "definition", row, false)?;
    let mut place = BufWriter::with_capacity(64 * 1024, blob);
    let failed = |error: io::Error| rusqlite::Error::ToSqlConversionFailure(error.into());
    snapshot.write_to(&mut place).map_err(failed)?;
    place.flush().map_err(failed)
}

/// The size from which a run's output is written in place ([`write_big_output`]).
const BIG_OUTPUT: usize = 64 * 1024;

/// A run's output as the writer stores it.
pub(super) enum StoredOutput {
    /// Its JSON text, bound.
    Text(String),
    /// Its size in bytes of JSON: written in place.
    Big(usize),
}

impl StoredOutput {
    /// Serializes `output` once: kept as text while under [`BIG_OUTPUT`], only measured
    /// past it.
    pub(super) fn of(output: &Value) -> StoredOutput {
        let mut measured = Measured::default();
        serde_json::to_writer(&mut measured, output).expect("measuring never fails");
        if measured.size < BIG_OUTPUT {
            StoredOutput::Text(String::from_utf8(measured.text).expect("JSON is UTF-8"))
        } else {
            StoredOutput::Big(measured.size)
        }
    }
}

/// A writer that keeps what it is given while under [`BIG_OUTPUT`], and counts it all.
#[derive(Default)]
struct Measured {
    text: Vec<u8>,
    size: usize,
}

impl Write for Measured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.size += bytes.len();
        if self.size < BIG_OUTPUT {
            self.text.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes run `run`'s output (its sinks' outputs, which may add up to hundreds of MB) of
/// `size` bytes of JSON in place, serialized straight into its zeroblob: never held as
/// text.
pub(super) fn write_big_output(
    conn: &Connection,
    run: &str,
    output: &Value,
    size: usize,
) -> rusqlite::Result<()> {
    let row: i64 = conn
        .prepare_cached("UPDATE runs SET output = zeroblob(?2) WHERE id = ?1 RETURNING rowid")?
        .query_row(params![run, size as i64], |row| row.get(0))?;
    let blob = conn.blob_open("main", "runs", "output", row, false)?;
    let mut place = BufWriter::with_capacity(64 * 1024, blob);
    serde_json::to_writer(&mut place, output)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(error.into()))?;
    place
        .into_inner()
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(error.into_error().into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{BIG_OUTPUT, StoredOutput};

    #[test]
    fn a_small_output_is_its_text_and_a_big_one_its_size() {
        let small = json!({"a": [1, "two"]});
        let StoredOutput::Text(text) = StoredOutput::of(&small) else {
            panic!("a small output is kept as text")
        };
        assert_eq!(text, r#"{"a":[1,"two"]}"#);
        let big = json!({"a": "x".repeat(BIG_OUTPUT)});
        let size = big.to_string().len();
        assert!(matches!(StoredOutput::of(&big), StoredOutput::Big(measured) if measured == size));
    }
}
