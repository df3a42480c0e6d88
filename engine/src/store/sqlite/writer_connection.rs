//! The writer's connection: opened (or taken over from the look at the database) and set
//! up as the writer thread writes through it.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::Durability;

/// Opens the writer connection, or goes on with the one the look went through: WAL mode,
/// the durability asked, foreign keys, the busy timeout. Setting it up (WAL mode) can meet
/// another process's lock where SQLite does not wait by itself: it retries while the
/// database is busy, up to `busy_timeout`.
pub(super) fn connect(
    path: &Path,
    looked_through: Option<Connection>,
    durability: Durability,
    busy_timeout: Duration,
) -> rusqlite::Result<Connection> {
    let conn = match looked_through {
        Some(conn) => conn,
        None => {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(path, flags)?;
            conn.busy_timeout(busy_timeout)?;
            conn
        }
    };
    let give_up = Instant::now() + busy_timeout;
    loop {
        match set_up(&conn, durability) {
            Err(error)
                if matches!(
                    error.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && Instant::now() < give_up =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.map(|()| conn),
        }
    }
}

/// The writer's pragmas and statement cache.
fn set_up(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}
