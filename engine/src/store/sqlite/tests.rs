use std::os::unix::fs::PermissionsExt;

use sqlx::sqlite::SqliteConnection;

use super::*;
use crate::store::conformance;

/// A new database at `cairn.db` in `dir`, made by a store that then closed it.
async fn new_database(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("cairn.db");
    SqliteStore::open(&StoreOptions::new(&path))
        .await
        .unwrap()
        .close()
        .await;
    path
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    conformance::check(|| {
        n += 1;
        let path = dir.path().join(format!("cairn-{n}.db"));
        async move { SqliteStore::open(&StoreOptions::new(path)).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn a_directory_where_the_wal_goes_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let wal = dir.path().join("cairn.db-wal");
    std::fs::create_dir(&wal).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&path))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::IsADirectory(p) if *p == wal),
        "{error:?}"
    );
    assert!(!path.exists(), "the database was made");
}

#[tokio::test]
async fn a_link_to_nothing_is_named_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("cairn.db");
    std::os::unix::fs::symlink(dir.path().join("gone/x.db"), &link).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&link))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::DanglingLink(p) if *p == link),
        "{error:?}"
    );
    assert!(!dir.path().join("gone").exists());
}

#[tokio::test]
async fn a_busy_timeout_longer_than_sqlite_counts_waits_the_longest_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        busy_timeout: Duration::from_secs(30 * 24 * 3600),
        ..StoreOptions::new(dir.path().join("patient.db"))
    };
    let store = SqliteStore::open(&options).await.unwrap();
    assert!(store.unfinished_runs().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_device_is_not_a_database() {
    let error = SqliteStore::open(&StoreOptions::new("/dev/null"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::NotADatabase(p) if p == Path::new("/dev/null")),
        "{error:?}"
    );
}

#[tokio::test]
async fn names_sqlite_reads_as_no_file_are_refused_and_nothing_is_made() {
    let here = std::env::current_dir().unwrap();
    for name in ["", ":memory:", "file:x.db", "file:x.db?mode=memory"] {
        let error = SqliteStore::open(&StoreOptions::new(name))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::NotAFileName(p) if p.as_os_str() == name),
            "{name:?}: {error:?}"
        );
        assert!(
            name.is_empty() || !here.join(name).exists(),
            "{name:?} made a file"
        );
    }
}

#[tokio::test]
async fn bad_files_are_named_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&junk))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotADatabase(_)), "{error:?}");
    assert!(
        std::fs::read(&junk).unwrap() == vec![b'x'; 4096],
        "the file changed"
    );

    let missing = StoreOptions {
        create: false,
        ..StoreOptions::new(dir.path().join("none.db"))
    };
    let error = SqliteStore::open(&missing).await.unwrap_err();
    assert!(matches!(error, Error::MissingDatabase(_)), "{error:?}");
    assert!(!dir.path().join("none.db").exists());

    let error = SqliteStore::open(&StoreOptions::new(dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::IsADirectory(_)), "{error:?}");

    let nowhere = dir.path().join("no/such/folder/cairn.db");
    let error = SqliteStore::open(&StoreOptions::new(&nowhere))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MissingDirectory(_)), "{error:?}");
}

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
    sqlx::query("DROP TABLE inputs")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&path))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Corrupt(message) if message.contains("the table `inputs` is missing")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_lock_held_past_the_busy_timeout_is_reported_as_such_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let options = StoreOptions {
        busy_timeout: Duration::from_millis(50),
        ..StoreOptions::new(&path)
    };
    let store = SqliteStore::open(&options).await.unwrap();
    let mut other = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let (run, holder) = one_step_run();
    let ttl = Duration::from_secs(60);
    let error = (store.create_run(&run, &holder, ttl, Batch::new()))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Locked(_)), "{error:?}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let unknown = store.find_run(&run.id.to_string()).await.unwrap_err();
    assert!(matches!(unknown, Error::UnknownRun(_)), "{unknown:?}");
    // Once the lock is gone, the same run is created.
    store
        .create_run(&run, &holder, ttl, Batch::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_new_database_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    for file in ["cairn.db", "cairn.db-wal", "cairn.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opening_a_new_database_at_once_all_succeed() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.db");
        let opens = (0..4).map(|_| {
            let options = StoreOptions::new(&path);
            tokio::spawn(async move { SqliteStore::open(&options).await.map(drop) })
        });
        for open in futures::future::join_all(opens).await {
            open.unwrap().unwrap();
        }
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_database(&dir).await;
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    // Two migrations this cairn lacks: the database is named by its newest.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9998, 'future', 1, x'00', 0), (9999, 'further', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&path))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::NewerSchema { version: 9999, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn closing_or_dropping_the_store_ends_the_writer_and_checkpoints_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let wal = dir.path().join("cairn.db-wal");
    let (run, holder) = one_step_run();
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    (store.create_run(&run, &holder, Duration::from_secs(60), Batch::new()))
        .await
        .unwrap();
    assert!(wal.exists());
    store.close().await;
    assert!(
        !wal.exists(),
        "the last connection to close checkpoints the WAL"
    );

    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    store.release_lease(run.id, "me").await.unwrap();
    drop(store);
    // The writer thread closes its connection once it sees the store gone.
    for _ in 0..200 {
        if !wal.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the WAL is still there: the writer's connection was not closed");
}

/// A new one-step run, and who holds its lease.
fn one_step_run() -> (NewRun, LeaseHolder) {
    let run = NewRun {
        id: Uuid::now_v7(),
        workflow_name: "w".into(),
        definition: "{}".into(),
        input: "{}".to_owned().into(),
        guard: None,
        steps: vec!["a".into()].into(),
        max_output_bytes: crate::DEFAULT_MAX_OUTPUT_BYTES,
    };
    let holder = LeaseHolder {
        owner: "me".into(),
        host: "here".into(),
        pid: 1,
        pid_start: 1,
    };
    (run, holder)
}

#[tokio::test]
async fn a_database_of_the_schema_before_keeps_its_runs_and_keys_when_migrated() {
    const RUN: &str = "01a22c3d-05c4-7224-af0a-0d8e44168e87";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    // The database as the release before migration 7 left it, with a run in it.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT
                 CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL,
                 execution_time BIGINT NOT NULL)",
        )
        .unwrap();
        for migration in open::MIGRATOR.iter().filter(|m| m.version < 7) {
            conn.execute_batch(migration.sql.as_str()).unwrap();
            conn.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum,
                     execution_time) VALUES (?, ?, 1, ?, 0)",
                rusqlite::params![
                    migration.version,
                    &*migration.description,
                    &*migration.checksum
                ],
            )
            .unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON;
             INSERT INTO workflows (hash, name, definition, created_at)
                 VALUES ('h', 'w', '{{\"big\": 1}}', 1);
             INSERT INTO policies (hash, policy, created_at) VALUES ('p', '{{}}', 1);
             INSERT INTO runs (id, workflow_hash, workflow_name, state, input, created_at,
                 policy_hash) VALUES ('{RUN}', 'h', 'w', 'running', '{{\"n\": 1}}', 1, 'p');
             INSERT INTO steps (run_id, step_id, position, state, output)
                 VALUES ('{RUN}', 'a', 0, 'succeeded', '42');
             INSERT INTO items (run_id, step_id, idx, state, attempt, output)
                 VALUES ('{RUN}', 'a', 0, 'succeeded', 1, '\"x\"');
             INSERT INTO events (run_id, seq, at, to_state) VALUES ('{RUN}', 1, 1, 'pending');"
        ))
        .unwrap();
    }
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    let record = store.find_run(RUN).await.unwrap();
    assert_eq!(record.state, crate::state::RunState::Running);
    assert_eq!(
        store.input(record.id).await.unwrap(),
        serde_json::json!({"n": 1})
    );
    assert_eq!(record.guard.as_deref(), Some("{}"));
    assert_eq!(store.definition(record.id).await.unwrap(), r#"{"big": 1}"#);
    let steps = store.steps(record.id).await.unwrap();
    assert_eq!(steps[0].output, Some(serde_json::json!(42)));
    let items = store.items(record.id, &["a"]).await.unwrap();
    assert_eq!(items[0].output, Some(serde_json::json!("x")));
    assert_eq!(store.history(record.id).await.unwrap().len(), 1);
    store.close().await;

    let conn = rusqlite::Connection::open(&path).unwrap();
    for table in ["runs", "steps", "items"] {
        let sql: String = (conn.query_row(
            "SELECT sql FROM sqlite_master WHERE name = ?",
            [table],
            |row| row.get(0),
        ))
        .unwrap();
        assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
        // A run's row, which every state and lease change rewrites, holds no input.
        assert!(table != "runs" || !sql.contains("input"), "{sql}");
    }
    // The tables that refer to runs still do.
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    for orphan in [
        "INSERT INTO events (run_id, seq, at, to_state) VALUES ('nope', 1, 1, 'pending')",
        "INSERT INTO steps (run_id, step_id, position, state) VALUES ('nope', 'a', 0, 'pending')",
        "INSERT INTO inputs (run_id, input) VALUES ('nope', '{}')",
    ] {
        assert!(conn.execute(orphan, []).is_err(), "{orphan} was accepted");
    }
    // And a step is still one row per run and id.
    let twice = format!(
        "INSERT INTO steps (run_id, step_id, position, state) VALUES ('{RUN}', 'a', 1, 'pending')"
    );
    assert!(
        conn.execute(&twice, []).is_err(),
        "a step was recorded twice"
    );
}

/// Every command naming a run finds it: through the primary key's index, not by reading
/// every run's id (`find_run` did, 25 ms a command with 100,000 runs).
#[tokio::test]
async fn a_run_is_found_by_id_or_prefix_through_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    drop(SqliteStore::open(&StoreOptions::new(&path)).await.unwrap());
    let options = SqliteConnectOptions::new().filename(&path);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    for id in ["01a2", "01a2343c-6311-76fe-926c-7ce745b9f9ee"] {
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {FIND_RUN_IDS}"
        )))
        .bind(id)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let steps: Vec<&str> = plan.iter().map(|(.., detail)| detail.as_str()).collect();
        assert!(
            !steps.iter().any(|step| step.starts_with("SCAN runs")),
            "{steps:?}"
        );
        assert_eq!(
            (steps.iter())
                .filter(|step| step.starts_with("SEARCH runs USING COVERING INDEX"))
                .count(),
            2,
            "{steps:?}"
        );
    }
}

/// How many transactions the WAL at `path` holds: its frames that end a commit (a frame
/// header's second word is the database's size after a commit, 0 otherwise).
fn commits_in_wal(path: &Path) -> usize {
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap();
    let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    (wal[32..].chunks(24 + page_size))
        .filter(|frame| frame.len() == 24 + page_size && frame[4..8] != [0; 4])
        .count()
}

/// Commits of different runs that wait for the writer while it is busy commit in one
/// transaction, a savepoint each: a stale one rolls back alone.
#[tokio::test]
async fn waiting_commits_of_other_runs_commit_together_and_fail_alone() {
    use crate::state::StepState::{Pending, Ready, Running};
    use conformance::{batch, started, step};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(started(&store, "me").await);
    }
    let before = commits_in_wal(&path);
    // Another connection holds the write lock: the writer waits for it on its first
    // request, and the commits sent meanwhile wait in its queue.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Not the creation's 60 s: a renewal within the same millisecond would write the same
    // bytes, which SQLite does not write at all (no frame, no transaction in the WAL).
    let ttl = Duration::from_secs(600);
    let mut first = std::pin::pin!(store.renew_lease(runs[3], "me", ttl));
    assert!(futures::poll!(first.as_mut()).is_pending());
    let ready_to_running = |run| batch([step(run, "a", Ready, Running)]);
    let mut commits = [
        Box::pin(store.commit("me", ready_to_running(runs[0]))),
        Box::pin(store.commit("me", batch([step(runs[1], "b", Ready, Running)]))),
        Box::pin(store.commit("me", ready_to_running(runs[2]))),
    ];
    for commit in &mut commits {
        assert!(futures::poll!(commit.as_mut()).is_pending());
    }
    other.execute_batch("COMMIT").unwrap();
    assert!(first.await.unwrap());
    let [ok, stale, also_ok] = commits;
    let (ok, stale, also_ok) = (ok.await.unwrap(), stale.await, also_ok.await.unwrap());
    assert_eq!(
        (ok.events[0].seq, also_ok.events[0].seq),
        (4, 4),
        "after each run's first three"
    );
    assert!(
        matches!(stale, Err(Error::Conflict { run, .. }) if run == runs[1]),
        "{stale:?}"
    );
    let state = async |run| store.steps(run).await.unwrap()[0].state;
    assert_eq!(state(runs[0]).await, Running);
    assert_eq!(state(runs[1]).await, Ready, "the stale commit left nothing");
    assert_eq!(store.steps(runs[1]).await.unwrap()[1].state, Pending);
    assert_eq!(state(runs[2]).await, Running);
    assert_eq!(store.history(runs[1]).await.unwrap().len(), 3);
    assert_eq!(
        commits_in_wal(&path) - before,
        2,
        "the lease's renewal, then the three commits as one transaction"
    );
}

/// Lease renewals waiting for the writer renew in one transaction: runs started together
/// renew together, and each renewal alone was a commit (an `fsync` under FULL).
#[tokio::test]
async fn waiting_lease_renewals_renew_together() {
    use crate::command::Request;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    let mut runs = Vec::new();
    for owner in ["me", "me", "me", "someone else"] {
        runs.push(conformance::started(&store, owner).await);
    }
    let before = commits_in_wal(&path);
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The writer waits for the lock on a command (which joins no group), then the
    // renewals wait in its queue, whenever it took the command from it.
    let pause = Command::Pause(Request {
        by: "ann".into(),
        reason: None,
    });
    let mut first = std::pin::pin!(store.send_command(runs[0], &pause));
    assert!(futures::poll!(first.as_mut()).is_pending());
    let ttl = Duration::from_secs(600); // Not the creation's 60 s: see the test above.
    let mut renewals: Vec<_> = (runs.iter())
        .map(|&run| Box::pin(store.renew_lease(run, "me", ttl)))
        .collect();
    for renewal in &mut renewals {
        assert!(futures::poll!(renewal.as_mut()).is_pending());
    }
    other.execute_batch("COMMIT").unwrap();
    first.await.unwrap();
    let mut renewed = Vec::new();
    for renewal in renewals {
        renewed.push(renewal.await.unwrap());
    }
    assert_eq!(renewed, [true, true, true, false], "not my lease to renew");
    assert_eq!(
        commits_in_wal(&path) - before,
        2,
        "the command, then the four renewals as one transaction"
    );
    let lease = async |run: Uuid| store.find_run(&run.to_string()).await.unwrap().lease;
    let (mine, theirs) = (lease(runs[0]).await.unwrap(), lease(runs[3]).await.unwrap());
    assert_eq!(theirs.holder.owner, "someone else");
    assert!(
        mine.expires > theirs.expires,
        "mine renewed, theirs as it was"
    );
}

#[tokio::test]
async fn every_value_written_in_place_is_the_last_column_of_its_row() {
    // SQLite builds a record holding a zeroblob without allocating its zeros only when
    // nothing but NULLs follows it: a run's 270 MB output was allocated whole while its
    // output cap came after it.
    let dir = tempfile::tempdir().unwrap();
    let path = new_database(&dir).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (table, column) in [
        ("runs", "output"),
        ("workflows", "definition"),
        ("inputs", "input"),
    ] {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(columns.last().map(String::as_str), Some(column), "{table}");
    }
}

#[tokio::test]
async fn a_lease_pid_out_of_range_is_a_corrupt_database_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    let (run, holder) = one_step_run();
    let ttl = Duration::from_secs(60);
    (store.create_run(&run, &holder, ttl, Batch::new()).await).unwrap();
    let options = SqliteConnectOptions::new().filename(&path);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query("UPDATE runs SET lease_pid = -1")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let other = LeaseHolder {
        owner: "other".into(),
        ..holder
    };
    let taking = store.acquire_lease(run.id, &other, ttl, &|_| false).await;
    assert!(
        matches!(&taking, Err(Error::Corrupt(message))
            if message == "column lease_pid: -1 is out of range"),
        "{taking:?}"
    );
}
