//! The schema as the code relies on it: a database of the release before migrated with its
//! runs, a run found through the index, values written in place last in their rows.

use super::*;

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
