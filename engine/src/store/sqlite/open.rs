//! Opening an SQLite database: creating it private, refusing what is not cairn's,
//! connecting patiently, migrating under a lock, and naming what went wrong.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{ErrorCode, OpenFlags, ffi};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::record;
use crate::error::{Error, Result};

/// The migrations of `migrations/`, embedded in the binary.
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Creates an empty database file readable and writable by its owner only; SQLite's WAL
/// and shared-memory files take the database file's permissions.
pub(super) fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .or_else(|error| refused_creation(path, error))
}

/// Why there is no database file at `path`: a name too long for its file system, a folder
/// that does not exist (the working directory too, for a bare file name, when it was
/// deleted), else the file alone is missing ([`Error::MissingDatabase`], which a caller
/// that creates it takes as its cue).
pub(super) fn absent(path: &Path) -> Error {
    let path = path.to_owned();
    let name = path.symlink_metadata();
    if name.is_err_and(|error| error.kind() == std::io::ErrorKind::InvalidFilename) {
        return Error::NameTooLong(path);
    }
    // A bare file name's folder is the working directory (`Path::parent` gives "").
    let folder = (path.parent()).map(|folder| match folder.as_os_str().is_empty() {
        true => Path::new("."),
        false => folder,
    });
    if folder.is_some_and(|folder| !holds_files(folder)) {
        Error::MissingDirectory(from_deleted_working_directory(path))
    } else {
        Error::MissingDatabase(path)
    }
}

/// `path`, relative, joined to the working directory as the kernel names it when that
/// directory was deleted (`/tmp/work (deleted)`), so that the message names the directory
/// that is gone rather than a bare `cairn.db`; else `path` as given.
fn from_deleted_working_directory(path: PathBuf) -> PathBuf {
    if path.is_relative()
        && std::env::current_dir().is_err()
        && let Ok(gone) = std::fs::read_link("/proc/self/cwd")
    {
        return gone.join(path);
    }
    path
}

/// Whether `folder` is a directory a file can be made in: one that exists, and was not
/// deleted while a process had it open (a deleted working directory is still found as `.`,
/// with no link left to it).
fn holds_files(folder: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    folder
        .metadata()
        .is_ok_and(|folder| folder.is_dir() && folder.nlink() > 0)
}

/// Why the database file at `path` could not be created, if that is an error at all.
fn refused_creation(path: &Path, error: std::io::Error) -> Result<()> {
    use std::io::ErrorKind;
    match error.kind() {
        // Another process created it first: fine, it is theirs to set up.
        ErrorKind::AlreadyExists => Ok(()),
        ErrorKind::PermissionDenied => Err(Error::CannotCreate {
            path: path.to_owned(),
            why: "this user may not write its folder",
        }),
        ErrorKind::ReadOnlyFilesystem => Err(Error::CannotCreate {
            path: path.to_owned(),
            why: "its folder is on a read-only file system",
        }),
        ErrorKind::InvalidFilename => Err(Error::NameTooLong(path.to_owned())),
        // The folder exists (see `absent`), but its file system makes no files (procfs, a
        // FUSE file system): probe 67 F4, a bare "No such file or directory", exit 1.
        ErrorKind::NotFound => Err(Error::CannotCreate {
            path: path.to_owned(),
            why: "its folder's file system makes no files there",
        }),
        _ => Err(Error::Database(Box::new(error))),
    }
}

/// What a look at the database found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Schema {
    /// A new database, or one the migrator has something to do with (or to refuse).
    Migrate,
    /// Every migration cairn embeds is applied, and nothing else: nothing to migrate.
    Current,
}

/// Whether the file at `path` is one of the kernel's (`/proc/self/status`, `/proc/self/mem`,
/// a sysfs file): its size says 0, but it reads as more or fails to read. Never a database
/// (SQLite reads a file by its size, and would take it for an empty one).
pub(super) fn is_a_kernel_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|file| file.len() == 0)
        && std::fs::File::open(path)
            .is_ok_and(|mut file| !matches!(std::io::Read::read(&mut file, &mut [0; 1]), Ok(0)))
}

/// Refuses an SQLite database that holds tables but not cairn's: another application's;
/// says whether cairn's schema is current. It looks through a connection that sets
/// nothing (no pragma, no write), so a refused file is left byte for byte as it was
/// (setting WAL mode alone would rewrite its header), and hands that connection back for
/// the writer to go on with (`None` for a new file). A file with no tables is a database
/// with nothing in it yet, as an empty file is: only a command that may `create` one makes
/// cairn's schema in it. Blocking: it runs on the writer thread.
pub(super) fn look(
    path: &Path,
    busy_timeout: Duration,
    create: bool,
) -> Result<(Schema, Option<rusqlite::Connection>)> {
    let file = std::fs::metadata(path).ok();
    if let Some(links) = file
        .as_ref()
        .map(MetadataExt::nlink)
        .filter(|&links| links > 1)
    {
        return Err(Error::HardLinked {
            path: path.to_owned(),
            links,
        });
    }
    // An empty file, or one with no tables (probe 190 F2), holds no database yet, as a
    // missing one: a command that only reads, or is refused, leaves it as it is.
    let nothing_yet = || Err(Error::MissingDatabase(path.to_owned()));
    if file.is_none_or(|file| file.len() == 0) {
        return if create {
            Ok((Schema::Migrate, None))
        } else {
            nothing_yet()
        };
    }
    let found = tables_and_migrations(path, busy_timeout);
    let (conn, tables, applied) = found.map_err(|error| classify_sqlite(path, error))?;
    if tables.is_empty() {
        if !create {
            return nothing_yet();
        }
        // In WAL mode, this user could not make cairn's tables, and SQLite would leave its
        // `-wal` and `-shm` trying, which keep the owner out (probe 38 F6): refused as it
        // stands. (An empty file in rollback mode reads as one without runs.)
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) && in_wal_mode(path) {
            return Err(Error::ReadOnly(path.to_owned()));
        }
        return Ok((Schema::Migrate, Some(conn)));
    }
    let embedded = (MIGRATOR.iter())
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| (migration.version, migration.checksum.as_ref(), true));
    // This cairn's newest migration.
    let latest = embedded.clone().map(|(version, ..)| version).max();
    // Whether the migrations applied are cairn's: the first is cairn's first, or there are
    // none and no table beside their own (another application's sqlx database is foreign).
    // A first one whose checksum changed, in a file that holds cairn's first tables, is
    // cairn's too: the migrator names the changed migration (`Error::Corrupt`).
    let holds_cairns = ["runs", "steps", "events", "workflows"]
        .iter()
        .all(|name| tables.iter().any(|table| table == name));
    let cairns = |applied: &[Applied]| match applied.first() {
        Some((version, checksum, _)) => (embedded.clone().next()).is_some_and(|(first, sum, _)| {
            first == *version && (sum == checksum.as_slice() || holds_cairns)
        }),
        None => tables.iter().all(|table| table == "_sqlx_migrations"),
    };
    let unrecorded = applied.is_none();
    // Cairn's tables and a record of only cairn's migrations, but not its first ones (rows
    // deleted outside cairn): cairn's, damaged (probe 42 F9: "not a cairn database").
    let first_lost = holds_cairns
        && applied.as_ref().is_some_and(|applied| {
            (applied.iter()).all(|(version, checksum, _)| {
                (embedded.clone()).any(|(known, sum, _)| known == *version && sum == checksum)
            })
        });
    let newest = (applied.iter().flatten())
        .map(|(version, ..)| *version)
        .max();
    if let Some(applied) = applied.filter(|applied| cairns(applied)) {
        let current = applied
            .iter()
            .map(|(version, checksum, success)| (*version, checksum.as_slice(), *success))
            .eq(embedded);
        let schema = if current {
            // Every table the current schema makes: one dropped outside cairn would fail
            // each command that reads it with a bare "no such table".
            if let Some(missing) = TABLES
                .iter()
                .find(|table| !tables.iter().any(|t| t == *table))
            {
                return Err(Error::Corrupt(format!(
                    "the table `{missing}` is missing (changed outside cairn?)"
                )));
            }
            Schema::Current
        } else {
            // Migrations left to apply, which only one who may write the file can: a reader
            // is told so, not only that the file is read-only (probe 115 F1), before anything
            // reads the file through `conn` (which would make a `-wal` and `-shm` of the
            // reader's beside it).
            if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
                return Err(Error::OlderSchema {
                    path: path.to_owned(),
                    version: newest.unwrap_or_default(),
                    latest: latest.unwrap_or_default(),
                });
            }
            // The record must tell what the tables are, or the migrations would be applied
            // again over what they made (probe 39 F1).
            let versions: Vec<i64> = applied.iter().map(|(version, ..)| *version).collect();
            record::check(&conn, &versions).map_err(|error| classify_sqlite(path, error))??;
            Schema::Migrate
        };
        return Ok((schema, Some(conn)));
    }
    if unrecorded && holds_cairns {
        // Cairn's tables without the record of its migrations: dropped outside cairn.
        return Err(Error::Corrupt(
            "the table `_sqlx_migrations` is missing (changed outside cairn?)".into(),
        ));
    }
    if first_lost {
        return Err(Error::Corrupt(
            "the record of cairn's first migration is missing from `_sqlx_migrations` \
             (changed outside cairn?)"
                .into(),
        ));
    }
    // Cairn's tables and a record of migrations that does not start with cairn's first: a
    // newer cairn's (one that squashed its migrations into a later first, say), or damaged
    // (probe 67 F3: "not a cairn database", naming cairn's own tables as another's).
    if holds_cairns && let Some(newest) = newest {
        if latest.is_some_and(|latest| newest > latest) {
            return Err(Error::NewerSchema {
                path: path.to_owned(),
                version: newest,
            });
        }
        return Err(Error::Corrupt(
            "the record of cairn's migrations in `_sqlx_migrations` does not start with its \
             first (changed outside cairn?)"
                .into(),
        ));
    }
    let mut shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    if tables.len() > shown.len() {
        shown.push("...");
    }
    Err(Error::ForeignDatabase {
        path: path.to_owned(),
        tables: shown.join(", "),
    })
}

/// The tables of the current schema.
pub(super) const TABLES: [&str; 12] = [
    "_sqlx_migrations",
    "approvals",
    "commands",
    "events",
    "inputs",
    "items",
    "plans",
    "policies",
    "runs",
    "stalls",
    "steps",
    "workflows",
];

/// A migration as `_sqlx_migrations` records it: version, checksum, success.
type Applied = (i64, Vec<u8>, bool);

/// A connection to the database (read-write, never creating it), its tables, and the
/// migrations applied to it if it has sqlx's table.
fn tables_and_migrations(
    path: &Path,
    busy_timeout: Duration,
) -> rusqlite::Result<(rusqlite::Connection, Vec<String>, Option<Vec<Applied>>)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    let (tables, applied) = match at_rest_to_a_reader(&conn, path)? {
        Some(file) => read_tables_and_migrations(&immutable(&file)?)?,
        None => read_tables_and_migrations(&conn)?,
    };
    Ok((conn, tables, applied))
}

/// The database's file, if `conn` may only read it and it is in WAL mode with no `-wal`
/// beside it: to read it, SQLite would make a `-wal` and `-shm` of this user's, which would
/// keep the owner from writing their file (probe 32 F4). Nothing writes such a file while
/// it has no `-wal`, so the look reads it as immutable; a cairn database's reader makes
/// them all the same afterwards, to read its runs (docs/runs.md). With a `-wal` and no
/// `-shm` (a copied file), SQLite can read it only by making the `-shm`: refused, as
/// read-only, before it does (probe 36 F4).
fn at_rest_to_a_reader(
    conn: &rusqlite::Connection,
    path: &Path,
) -> rusqlite::Result<Option<PathBuf>> {
    // (A writer's opening, the common one, asks nothing more of the file system.)
    if !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Ok(None);
    }
    let Ok(file) = std::fs::canonicalize(path) else {
        return Ok(None);
    };
    let beside = |suffix: &str| {
        let mut name = file.clone().into_os_string();
        name.push(suffix);
        Path::new(&name).exists()
    };
    match (in_wal_mode(&file), beside("-wal"), beside("-shm")) {
        (false, _, _) | (true, true, true) => Ok(None),
        (true, false, _) => Ok(Some(file)),
        (true, true, false) => Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_READONLY),
            None,
        )),
    }
}

/// Whether the database file at `path` is in WAL mode, as its header says.
fn in_wal_mode(path: &Path) -> bool {
    const WAL_MODE: u8 = 2;
    let mut header = [0; 19];
    std::fs::File::open(path)
        .and_then(|mut opened| std::io::Read::read_exact(&mut opened, &mut header))
        .is_ok_and(|()| header[18] == WAL_MODE)
}

/// A read-only connection to `file` that takes it as immutable: no lock, no `-wal` or `-shm`.
fn immutable(file: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
    use std::os::unix::ffi::OsStrExt;

    const PLAIN: AsciiSet = NON_ALPHANUMERIC.remove(b'/').remove(b'.').remove(b'-');
    let encoded = percent_encode(file.as_os_str().as_bytes(), &PLAIN);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    rusqlite::Connection::open_with_flags(format!("file:{encoded}?immutable=1"), flags)
}

/// The tables of the database `conn` is open on, and the migrations applied to it if it
/// has sqlx's table.
fn read_tables_and_migrations(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<(Vec<String>, Option<Vec<Applied>>)> {
    let tables = (conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?)
    .query_map([], |row| row.get(0))?
    .collect::<rusqlite::Result<Vec<String>>>()?;
    if !tables.iter().any(|name| name == "_sqlx_migrations") {
        return Ok((tables, None));
    }
    let applied = (conn
        .prepare("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")?)
    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
    .collect::<rusqlite::Result<Vec<Applied>>>()?;
    Ok((tables, Some(applied)))
}

/// Opens a connection, retrying while the database is busy, up to `patience`. Setting up a
/// connection (WAL mode on a new file) can meet another process's lock where SQLite does not
/// wait by itself.
pub(super) async fn connect_patiently(
    options: &SqliteConnectOptions,
    patience: Duration,
) -> std::result::Result<SqliteConnection, sqlx::Error> {
    let give_up = tokio::time::Instant::now() + patience;
    loop {
        match SqliteConnection::connect_with(options).await {
            Err(error) if is_busy(&error) && tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => return other,
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    matches!(
        sqlite_code(error).map(|code| code.code),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// The SQLite result code (primary and extended) of a database error, as the writer's
/// rusqlite errors give it.
fn sqlite_code(error: &sqlx::Error) -> Option<ffi::Error> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    let code = db.code()?.parse().ok()?;
    Some(ffi::Error::new(code))
}

/// Brings the schema up to date. Two processes opening a new database at once must not
/// both apply the first migration: when any is pending, they are applied under an
/// IMMEDIATE transaction (the migrator nests its own in savepoints), so the second process
/// waits for the first and then finds nothing left to do. (`run_direct` rather than `run`:
/// `run`'s `Acquire` bound makes the future unusable in a spawned task.)
pub(super) async fn migrate(
    conn: &mut SqliteConnection,
) -> std::result::Result<(), sqlx::migrate::MigrateError> {
    let latest = MIGRATOR.iter().map(|migration| migration.version).max();
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(None);
    if let (Some(applied), Some(latest)) = (applied, latest)
        && applied > latest
    {
        // A newer cairn's database, named by its newest migration (the migrator would name
        // the first one this cairn lacks, which a cairn knowing it may still refuse).
        return Err(sqlx::migrate::MigrateError::VersionMissing(applied));
    }
    if applied == latest {
        // Nothing to apply: only check the applied migrations' checksums, without a lock.
        return MIGRATOR.run_direct(None, conn, false).await;
    }
    // Foreign keys off while the schema changes, as SQLite asks for rebuilding a table other
    // tables refer to (migration 7); every key is checked before the commit.
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    MIGRATOR.run_direct(None, &mut *tx, false).await?;
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *tx)
        .await?;
    if !broken.is_empty() {
        let message = format!("{} rows refer to rows that are not there", broken.len());
        return Err(sqlx::Error::Protocol(message).into());
    }
    tx.commit().await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The error a user can act on for a schema [`migrate`] could not bring up to date.
pub(super) fn migration_refused(path: &Path, error: sqlx::migrate::MigrateError) -> Error {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::VersionMissing(version) => Error::NewerSchema {
            path: path.to_owned(),
            version,
        },
        MigrateError::Execute(error) => classify(path, error),
        // A migration's own statement failing on the disk (full, past the file-size limit,
        // an I/O error) is that, named with the file; what else one meets is a schema
        // changed outside cairn.
        MigrateError::ExecuteMigration(error, version) => match classify(path, error) {
            Error::Database(error) => {
                Error::Corrupt(format!("while executing migration {version}: {error}"))
            }
            named => named,
        },
        // sqlx's own advice (remove the row) would hide a schema left half changed.
        MigrateError::Dirty(version) => Error::Corrupt(format!(
            "migration {version} is recorded as not finished (`success` 0 in `_sqlx_migrations`)"
        )),
        other => Error::Corrupt(other.to_string()),
    }
}

/// Turns an sqlx error into the store error a user can act on. SQLite's JSON functions,
/// which the readers' queries pack rows with, fail on a stored value that is not JSON, or on
/// a BLOB: the rows were changed outside cairn (`culprit` names the column). (A corrupt database's message leaves out the file, as
/// every [`Error::Corrupt`] does: its caller knows which database it read; `cairn` names it.)
pub(super) fn classify(path: &Path, error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &error {
        match db.message() {
            "malformed JSON" => {
                return Error::Corrupt(
                    "a stored JSON value is malformed (changed outside cairn?)".into(),
                );
            }
            "JSON cannot hold BLOB values" => {
                return Error::Corrupt(
                    "a stored value is a BLOB where cairn keeps text (changed outside cairn?)"
                        .into(),
                );
            }
            message => {
                if let Some(changed) = schema_changed(message) {
                    return changed;
                }
            }
        }
    }
    // The OS error SQLite met is not in sqlx's error, and the errno of sqlx's worker thread
    // is out of reach: an I/O error is named with its file only.
    named(path, sqlite_code(&error), None).unwrap_or_else(|| Error::Database(Box::new(error)))
}

/// The error of a statement that names a column or a table the database lacks, though its
/// record of migrations says it has cairn's schema: one changed outside cairn (probe 42 F3:
/// "database error: no such column", exit 1).
fn schema_changed(message: &str) -> Option<Error> {
    (message.starts_with("no such column: ") || message.starts_with("no such table: ")).then(|| {
        Error::Corrupt(format!(
            "{message}: the tables are not those cairn's migrations made (changed outside \
             cairn?)"
        ))
    })
}

/// Turns an error of the writer's connection into the store error a user can act on. Called
/// on the thread SQLite failed on (the writer's), which still holds the OS error (`errno`)
/// SQLite met, as SQLite's own `sqlite3_system_errno` reads it: an I/O error is told by it.
pub(super) fn classify_sqlite(path: &Path, error: rusqlite::Error) -> Error {
    let os_error = std::io::Error::last_os_error().kind();
    if let rusqlite::Error::SqliteFailure(_, Some(message)) = &error
        && let Some(changed) = schema_changed(message)
    {
        return changed;
    }
    (named(path, error.sqlite_error().copied(), Some(os_error)))
        .unwrap_or_else(|| Error::Database(Box::new(error)))
}

/// The store error that names the database at `path` for the SQLite result `code`, when
/// the user can act on it (both connections' errors go through here). An I/O error is told
/// by `os_error`, the kind of the OS error SQLite met, when it is known: a full disk or
/// quota, the file-size limit, a file or disk this process may not write; else it is named
/// with its file and what SQLite was doing.
fn named(
    path: &Path,
    code: Option<ffi::Error>,
    os_error: Option<std::io::ErrorKind>,
) -> Option<Error> {
    use std::io::ErrorKind as Os;
    let code = code?;
    let path = path.to_owned();
    Some(match code.code {
        ErrorCode::NotADatabase => Error::NotADatabase(path),
        ErrorCode::DatabaseCorrupt => Error::Damaged(path),
        ErrorCode::DiskFull => Error::DiskFull(path),
        ErrorCode::ReadOnly => Error::ReadOnly(path),
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Error::Locked(path),
        // A file that exists but cannot be opened: unreadable, or its WAL files another user's.
        ErrorCode::CannotOpen if path.exists() => Error::Unopenable(path),
        ErrorCode::CannotOpen => absent(&path),
        ErrorCode::SystemIoFailure => match os_error {
            Some(Os::StorageFull | Os::QuotaExceeded) => Error::DiskFull(path),
            Some(Os::FileTooLarge) => Error::FileSizeLimit(path),
            Some(Os::ReadOnlyFilesystem | Os::PermissionDenied) => Error::ReadOnly(path),
            _ => {
                let (suffix, doing) = io_failure(code.extended_code);
                let mut file = path.into_os_string();
                file.push(suffix);
                Error::Io {
                    path: file.into(),
                    doing,
                }
            }
        },
        _ => return None,
    })
}

/// Which of the database's files (the suffix to its name) SQLite met the I/O error of
/// extended result code `extended` on, and what it was doing.
fn io_failure(extended: std::ffi::c_int) -> (&'static str, String) {
    let (suffix, doing) = match extended {
        ffi::SQLITE_IOERR_SHMOPEN => ("-shm", "opening the shared-memory file"),
        ffi::SQLITE_IOERR_SHMSIZE => ("-shm", "growing the shared-memory file"),
        ffi::SQLITE_IOERR_SHMLOCK => ("-shm", "locking the shared-memory file"),
        ffi::SQLITE_IOERR_SHMMAP => ("-shm", "mapping the shared-memory file"),
        ffi::SQLITE_IOERR_READ => ("", "reading"),
        // Also what a process that has the database open meets once its `-wal` is deleted or
        // truncated under it (probe 201 F5: sent to check the disk, it looked in vain).
        ffi::SQLITE_IOERR_SHORT_READ => (
            "",
            "reading (a file is shorter than SQLite expected, as when its `-wal` was deleted \
             or truncated under a process that had it open)",
        ),
        ffi::SQLITE_IOERR_WRITE => ("", "writing"),
        ffi::SQLITE_IOERR_FSYNC => ("", "syncing to the disk"),
        ffi::SQLITE_IOERR_DIR_FSYNC => ("", "syncing its folder to the disk"),
        ffi::SQLITE_IOERR_TRUNCATE => ("", "truncating"),
        ffi::SQLITE_IOERR_FSTAT => ("", "reading a file's size"),
        ffi::SQLITE_IOERR_DELETE => ("", "deleting the WAL file"),
        ffi::SQLITE_IOERR_MMAP => ("", "mapping into memory"),
        ffi::SQLITE_IOERR_CORRUPTFS => ("", "reading (the file system reports damage)"),
        _ => ("", "reading or writing"),
    };
    (suffix, format!("{doing} (SQLite extended code {extended})"))
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    #[test]
    fn a_full_disk_damaged_pages_and_a_read_only_file_are_named_with_the_file() {
        let path = Path::new("/data/cairn.db");
        let failure = |code| rusqlite::Error::SqliteFailure(ffi::Error::new(code), None);
        let full = classify_sqlite(path, failure(ffi::SQLITE_FULL));
        assert!(matches!(&full, Error::DiskFull(p) if p == path), "{full:?}");
        assert_eq!(
            full.to_string(),
            "/data/cairn.db: the disk holding the database is full; free space and try again"
        );
        let damaged = classify_sqlite(path, failure(ffi::SQLITE_CORRUPT));
        assert!(matches!(damaged, Error::Damaged(p) if p == path));
        let read_only = classify_sqlite(path, failure(ffi::SQLITE_READONLY_DBMOVED));
        assert!(matches!(read_only, Error::ReadOnly(p) if p == path));
        let other = classify_sqlite(path, failure(ffi::SQLITE_MISUSE));
        assert!(matches!(other, Error::Database(_)));
    }

    #[test]
    fn an_io_error_is_told_by_the_os_error_sqlite_met_and_named_with_its_file() {
        use std::io::ErrorKind as Os;
        let path = Path::new("/data/cairn.db");
        let io = |extended, os_error| named(path, Some(ffi::Error::new(extended)), os_error);
        let shm_size = |os_error| io(ffi::SQLITE_IOERR_SHMSIZE, os_error);
        for full in [Os::StorageFull, Os::QuotaExceeded] {
            let said = shm_size(Some(full));
            assert!(
                matches!(&said, Some(Error::DiskFull(p)) if p == path),
                "{said:?}"
            );
        }
        let limit = io(ffi::SQLITE_IOERR_WRITE, Some(Os::FileTooLarge)).unwrap();
        assert!(
            matches!(&limit, Error::FileSizeLimit(p) if p == path),
            "{limit:?}"
        );
        assert!(
            limit.to_string().contains("(`ulimit -f unlimited`)"),
            "{limit}"
        );
        let read_only = io(ffi::SQLITE_IOERR_FSYNC, Some(Os::ReadOnlyFilesystem));
        assert!(matches!(&read_only, Some(Error::ReadOnly(p)) if p == path));
        // No OS error known (sqlx's), or one that tells nothing: the file and what SQLite
        // was doing with it.
        let unknown = shm_size(None).unwrap();
        assert_eq!(
            unknown.to_string(),
            "/data/cairn.db-shm: I/O error growing the shared-memory file (SQLite extended \
             code 4874); check the disk that holds it (free space, a failing disk) and the \
             file-size limit (`ulimit -f`), then try again"
        );
        let write = io(ffi::SQLITE_IOERR_WRITE, Some(Os::NotFound)).unwrap();
        assert!(
            matches!(&write, Error::Io { path: p, doing } if p == path && doing.starts_with("writing (")),
            "{write:?}"
        );
    }

    #[test]
    fn a_file_name_too_long_for_its_file_system_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join(format!("{}.db", "l".repeat(300)));
        let refused = create_private(&long);
        assert!(
            matches!(&refused, Err(Error::NameTooLong(p)) if *p == long),
            "{refused:?}"
        );
    }

    #[test]
    fn a_database_that_exists_but_cannot_be_opened_is_not_called_missing() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().join("there.db");
        std::fs::write(&there, "").unwrap();
        let failure =
            || rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_CANTOPEN), None);
        let unopenable = classify_sqlite(&there, failure());
        assert!(
            matches!(&unopenable, Error::Unopenable(p) if *p == there),
            "{unopenable:?}"
        );
        assert!(unopenable.to_string().contains("-shm"), "{unopenable}");
        let gone = dir.path().join("gone.db");
        let missing = classify_sqlite(&gone, failure());
        assert!(
            matches!(&missing, Error::MissingDatabase(p) if *p == gone),
            "{missing:?}"
        );
        let nowhere = dir.path().join("gone/cairn.db");
        let missing = classify_sqlite(&nowhere, failure());
        assert!(
            matches!(&missing, Error::MissingDirectory(p) if *p == nowhere),
            "{missing:?}"
        );
    }

    #[test]
    fn a_folder_this_process_may_not_write_is_named_with_the_file() {
        use std::io::{Error as IoError, ErrorKind};
        let path = Path::new("/data/cairn.db");
        let creating = |kind| refused_creation(path, IoError::from(kind));
        assert!(
            creating(ErrorKind::AlreadyExists).is_ok(),
            "another process's"
        );
        for (kind, said) in [
            (
                ErrorKind::PermissionDenied,
                "this user may not write its folder",
            ),
            (
                ErrorKind::ReadOnlyFilesystem,
                "its folder is on a read-only file system",
            ),
            (
                ErrorKind::NotFound,
                "its folder's file system makes no files there",
            ),
        ] {
            assert!(
                matches!(creating(kind), Err(Error::CannotCreate { path: p, why }) if p == path && why == said)
            );
        }
        assert!(matches!(
            creating(ErrorKind::Other),
            Err(Error::Database(_))
        ));
    }
}
