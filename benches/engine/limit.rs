//! The commit limits every ratio is measured against: one-row `BEGIN IMMEDIATE`
//! transactions with the engine's pragmas, through sqlx (LIMIT) and through a thin binding,
//! rusqlite over the same libsqlite3-sys (FLOOR: what SQLite itself does on this disk).

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_engine::Durability;
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};

use crate::{peak_rss_kib, reset_peak_rss};

/// The table both limits insert into.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)";

/// `n` one-row transactions through sqlx.
pub(crate) async fn sqlx_limit(db: &Path, durability: Durability, n: usize) -> Value {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            _ => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    sqlx::query(CREATE)
        .execute(&mut conn)
        .await
        .expect("create");
    reset_peak_rss();
    let started = Instant::now();
    for i in 0..n {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        sqlx::query("INSERT INTO t (v) VALUES (?)")
            .bind(format!("row {i}"))
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    json!({"count": n, "secs": started.elapsed().as_secs_f64(), "rss_kib": peak_rss_kib()})
}

/// `n` one-row transactions through rusqlite, on the calling thread, the statements
/// prepared once: the physical floor of a commit.
pub(crate) fn thin_floor(db: &Path, durability: Durability, n: usize) -> Value {
    let conn = rusqlite::Connection::open(db).expect("open");
    let synchronous = match durability {
        Durability::Full => "FULL",
        _ => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
         PRAGMA foreign_keys = ON; {CREATE};"
    ))
    .expect("set up");
    conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
    reset_peak_rss();
    let started = Instant::now();
    for i in 0..n {
        let statement = |sql| conn.prepare_cached(sql).expect("prepare");
        statement("BEGIN IMMEDIATE").execute([]).expect("begin");
        (statement("INSERT INTO t (v) VALUES (?1)"))
            .execute([format!("row {i}")])
            .expect("insert");
        statement("COMMIT").execute([]).expect("commit");
    }
    json!({"count": n, "secs": started.elapsed().as_secs_f64(), "rss_kib": peak_rss_kib()})
}
