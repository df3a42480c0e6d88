//! Values written in place: a `zeroblob` of their size, filled through the pager.
//!
//! SQLite copies a bound value, then builds the row from the copy: a 100 MB definition,
//! input or run output was three copies at once. Written into a zeroblob, it is none. Such
//! a value is a BLOB of UTF-8, which the store reads as bytes (older rows hold text).

use std::io::{self, BufWriter, Seek, Write};

use rusqlite::{Connection, blob::Blob, params};
use serde_json::Value;

use crate::store::Snapshot;

/// Writes `bytes` into the zeroblob of their size at `place` (table, column, rowid).
pub(super) fn fill_blob(
    conn: &Connection,
    place: (&str, &str, i64),
    bytes: &[u8],
) -> rusqlite::Result<()> {
    fill_blob_with(conn, place, bytes.len(), |out| out.write_all(bytes))
}

/// Writes `snapshot` into the zeroblob of its length in the `workflows` row `row`,
/// serializing it through the pager rather than from a copy of its text.
pub(super) fn write_snapshot(
    conn: &Connection,
    row: i64,
    snapshot: &Snapshot,
) -> rusqlite::Result<()> {
    let len = snapshot.len();
    fill_blob_with(conn, ("workflows", "definition", row), len, |out| {
        snapshot.write_to(out)
    })
}

/// Fills the zeroblob of `len` bytes at `place` (table, column, rowid) with what `write`
/// writes, through the pager: exactly `len` bytes, or an error.
fn fill_blob_with(
    conn: &Connection,
    (table, column, row): (&str, &str, i64),
    len: usize,
    write: impl FnOnce(&mut BufWriter<Blob<'_>>) -> io::Result<()>,
) -> rusqlite::Result<()> {
    let blob = conn.blob_open("main", table, column, row, false)?;
    let mut out = BufWriter::with_capacity(64 * 1024, blob);
    write(&mut out).map_err(blob_error)?;
    let mut blob = out
        .into_inner()
        .map_err(|error| blob_error(error.into_error()))?;
    let written = blob.stream_position().map_err(blob_error)?;
    if written != len as u64 {
        let message = format!("{written} bytes written into a blob of {len}");
        return Err(rusqlite::Error::ToSqlConversionFailure(message.into()));
    }
    Ok(())
}

/// The SQLite error behind a blob's I/O error (a full disk, say), so that it is classified
/// as any other; anything else, such as a value written past the blob's end, as a failed
/// conversion of the value.
fn blob_error(error: io::Error) -> rusqlite::Error {
    match error.downcast::<rusqlite::Error>() {
        Ok(error) => error,
        Err(error) => rusqlite::Error::ToSqlConversionFailure(error.into()),
    }
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
    fill_blob_with(conn, ("runs", "output", row), size, |out| {
        serde_json::to_writer(out, output).map_err(io::Error::from)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rusqlite::{Connection, ErrorCode};
    use serde_json::json;

    use super::{BIG_OUTPUT, StoredOutput, blob_error, fill_blob_with};

    #[test]
    fn a_blob_takes_exactly_its_length_and_anything_else_is_an_error() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB); INSERT INTO t VALUES (zeroblob(5));")
            .unwrap();
        let fill = |text: &'static [u8]| {
            fill_blob_with(&conn, ("t", "b", 1), 5, |out| out.write_all(text))
        };
        assert!(fill(b"abc").is_err(), "too short: zeros would be left");
        assert!(fill(b"abcdefg").is_err(), "too long: the blob cannot grow");
        fill(b"abcde").unwrap();
        let stored: Vec<u8> = conn
            .query_row("SELECT b FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(stored, b"abcde");
    }

    #[test]
    fn a_blobs_io_error_is_the_sqlite_error_behind_it() {
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(13), None);
        let error = blob_error(std::io::Error::other(full));
        assert_eq!(error.sqlite_error_code(), Some(ErrorCode::DiskFull));
        let other = blob_error(std::io::Error::other("no"));
        assert!(matches!(other, rusqlite::Error::ToSqlConversionFailure(_)));
    }

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
