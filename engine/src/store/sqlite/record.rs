//! Whether a database's record of the migrations applied to it (`_sqlx_migrations`) tells
//! what its tables are, before the migrations it lacks are applied.
//!
//! The migrator applies each migration the record lacks. One whose record was lost (a hand
//! edit, a partial restore) would run again over the tables it made and rewrite their data:
//! migration 18 again cleared every run's directory (probe 39 F1). So the record must be the
//! first of cairn's migrations, without a gap, and the tables must be those its newest one
//! leaves (by name and columns: the text SQLite keeps of a table may differ between its
//! versions).

use std::collections::BTreeMap;

use super::open::MIGRATOR;
use crate::error::{Error, Result};

/// The tables of a database, but the migrator's and SQLite's own, with their columns.
type Shape = BTreeMap<String, Vec<String>>;

/// Refuses the database `conn` reads, whose record holds the migrations `applied` (some,
/// not all), when the record does not tell what its tables are.
pub(super) fn check(conn: &rusqlite::Connection, applied: &[i64]) -> rusqlite::Result<Result<()>> {
    let Some(&newest) = applied.iter().max() else {
        return Ok(Ok(()));
    };
    let lost = (MIGRATOR.iter())
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| migration.version)
        .filter(|&version| version < newest)
        .find(|version| !applied.contains(version));
    if let Some(lost) = lost {
        return Ok(Err(Error::Corrupt(format!(
            "the record of migration {lost} is missing from `_sqlx_migrations`, though later \
             ones are there (changed outside cairn?)"
        ))));
    }
    let (found, made) = (shape(conn)?, shape(&migrated_to(newest)?)?);
    let differs =
        (found.keys().chain(made.keys())).find(|table| found.get(*table) != made.get(*table));
    Ok(match differs {
        None => Ok(()),
        Some(table) => Err(Error::Corrupt(format!(
            "the table `{table}` is not what migration {newest}, the newest `_sqlx_migrations` \
             records, leaves (a later migration's record missing, or the table changed outside \
             cairn?)"
        ))),
    })
}

/// A database in memory with cairn's migrations up to `version` applied.
fn migrated_to(version: i64) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_in_memory()?;
    for migration in MIGRATOR.iter() {
        if !migration.migration_type.is_down_migration() && migration.version <= version {
            conn.execute_batch(migration.sql.as_str())?;
        }
    }
    Ok(conn)
}

/// The tables `conn` reads, with their columns.
fn shape(conn: &rusqlite::Connection) -> rusqlite::Result<Shape> {
    let mut tables = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations'",
    )?;
    let mut columns = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names: Vec<String> = tables
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names
        .into_iter()
        .map(|table| {
            let of_table = columns
                .query_map([&table], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((table, of_table))
        })
        .collect()
}
