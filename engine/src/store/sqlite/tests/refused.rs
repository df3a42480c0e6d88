//! Databases cairn does not open: another application's, one missing a table, a newer
//! cairn's; the error says which.

use super::*;

#[tokio::test]
async fn another_applications_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let error = refused_as_foreign(&path).await;
    assert!(
        error.to_string().contains("invoices"),
        "the error names what is there: {error}"
    );
}

/// Opens the database at `path`, which holds another application's tables: the error,
/// after checking that it is [`Error::ForeignDatabase`] and that the file is unchanged.
async fn refused_as_foreign(path: &Path) -> Error {
    let before = std::fs::read(path).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(path))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ForeignDatabase { .. }), "{error:?}");
    assert!(
        std::fs::read(path).unwrap() == before,
        "{} changed",
        path.display()
    );
    error
}

#[tokio::test]
async fn another_applications_sqlx_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    // Its migrations: none yet, cairn's first version with another checksum, its own version.
    for (name, applied) in [
        ("none.db", None),
        ("one.db", Some(1)),
        ("dated.db", Some(20240101000000_i64)),
    ] {
        let path = dir.path().join(name);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
                 installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
                 checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);
             CREATE TABLE users (name TEXT);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        if let Some(version) = applied {
            sqlx::query("INSERT INTO _sqlx_migrations VALUES (?, 'users', 0, 1, x'beef', 5)")
                .bind(version)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
        refused_as_foreign(&path).await;
    }
}

#[tokio::test]
async fn a_cairn_database_whose_first_migration_changed_names_it_and_is_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_database(&dir).await;
    let conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let change = "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1";
    let before = refused_after(conn, &path, change).await;
    let bytes = std::fs::read(&path).unwrap();
    let message = before.to_string();
    assert!(
        matches!(&before, Error::Corrupt(_))
            && message.contains("migration 1 was previously applied but has been modified"),
        "{message}"
    );
    let again = SqliteStore::open(&StoreOptions::new(&path))
        .await
        .unwrap_err();
    assert_eq!(again.to_string(), message);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left unchanged");
}

#[tokio::test]
async fn a_table_dropped_outside_cairn_is_named_when_the_database_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_database(&dir).await;
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let made: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        made,
        open::TABLES,
        "the schema's tables, as the check knows them"
    );
    let error = refused_after(conn, &path, "DROP TABLE inputs").await;
    assert!(
        matches!(&error, Error::Corrupt(message) if message.contains("the table `inputs` is missing")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_record_of_migrations_dropped_or_left_unfinished_is_named_not_called_foreign() {
    // Probe 7 F9: cairn's tables without `_sqlx_migrations` were "another application's", and
    // a migration marked unfinished came with sqlx's advice to delete its row.
    for (change, said) in [
        (
            "DROP TABLE _sqlx_migrations",
            "the table `_sqlx_migrations` is missing",
        ),
        (
            "UPDATE _sqlx_migrations SET success = 0 WHERE version = 1",
            "migration 1 is recorded as not finished",
        ),
        // Probe 39 F1: applied again, migration 18 cleared every run's directory.
        (
            "DELETE FROM _sqlx_migrations WHERE version = 18",
            "the table `runs` is not what migration 17, the newest `_sqlx_migrations` records",
        ),
        (
            "DELETE FROM _sqlx_migrations WHERE version = 8",
            "the record of migration 8 is missing",
        ),
        // Probe 42 F9: called "not a cairn database".
        (
            "DELETE FROM _sqlx_migrations WHERE version = 1",
            "the record of cairn's first migration is missing",
        ),
        (
            "DELETE FROM _sqlx_migrations",
            "the record of cairn's first migration is missing",
        ),
        // Probe 67 F3: named "not a cairn database", listing cairn's own tables.
        (
            "UPDATE _sqlx_migrations SET version = -1 WHERE version = 1",
            "does not start with its first",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = new_database(&dir).await;
        let conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
        let error = refused_after(conn, &path, change).await;
        assert!(
            matches!(&error, Error::Corrupt(message) if message.contains(said)),
            "{change}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_database(&dir).await;
    let conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    // Two migrations this cairn lacks: the database is named by its newest.
    let newer =
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9998, 'future', 1, x'00', 0), (9999, 'further', 1, x'00', 0)";
    let error = refused_after(conn, &path, newer).await;
    assert!(
        matches!(error, Error::NewerSchema { version: 9999, .. }),
        "{error:?}"
    );
    // A newer cairn whose migrations were squashed into one, later than this cairn's last
    // (probe 67 F3: "not a cairn database").
    let dir = tempfile::tempdir().unwrap();
    let path = new_database(&dir).await;
    let conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let squashed = "DELETE FROM _sqlx_migrations WHERE version > 1; \
                    UPDATE _sqlx_migrations SET version = 100";
    let error = refused_after(conn, &path, squashed).await;
    assert!(
        matches!(error, Error::NewerSchema { version: 100, .. }),
        "{error:?}"
    );
}

/// Why the store refuses to open the database at `path` once `conn`, connected to it, has
/// run `change` on it (and closed). The refusal leaves no `-wal` or `-shm` file beside it
/// (probe 7 F8: they outlived a refused open, owned by whoever ran it).
async fn refused_after(mut conn: SqliteConnection, path: &Path, change: &'static str) -> Error {
    sqlx::query(change).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let error = SqliteStore::open(&StoreOptions::new(path))
        .await
        .unwrap_err();
    for suffix in ["-wal", "-shm"] {
        let mut beside = path.as_os_str().to_owned();
        beside.push(suffix);
        assert!(
            !Path::new(&beside).exists(),
            "{beside:?} left beside: {error}"
        );
    }
    error
}
