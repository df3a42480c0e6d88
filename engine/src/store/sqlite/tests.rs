//! The SQLite store on a real file: the conformance suite, and what only a file has (locks,
//! permissions, the WAL, the writer thread).

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

#[tokio::test]
async fn a_database_put_over_the_path_is_left_its_own_when_a_reader_opened_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, other) = (dir.path().join("cairn.db"), dir.path().join("other.db"));
    let ttl = Duration::from_secs(60);
    let (theirs, holder) = one_step_run();
    let store = SqliteStore::open(&StoreOptions::new(&other)).await.unwrap();
    (store.create_run(&theirs, &holder, ttl, Batch::new()).await).unwrap();
    store.close().await;

    let (ours, _) = one_step_run();
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    (store.create_run(&ours, &holder, ttl, Batch::new()).await).unwrap();
    // The file the writer has open, kept at a name of its own to look into afterwards.
    let kept = dir.path().join("kept.db");
    std::fs::hard_link(&path, &kept).unwrap();
    std::fs::rename(&other, &path).unwrap();
    // The readers' first connection opens the file now at the path, beside our WAL: what
    // it reads is a mix of the two, whatever it is.
    let _ = store.find_run(&theirs.id.to_string()).await;
    store.close().await;

    assert_eq!(find_in(&path, theirs.id).await.unwrap(), theirs.id);
    let ours_at_path = find_in(&path, ours.id).await;
    assert!(
        matches!(ours_at_path, Err(Error::UnknownRun(_))),
        "{ours_at_path:?}"
    );
    assert_eq!(find_in(&kept, ours.id).await.unwrap(), ours.id);
}

/// The id of run `id` as the database at `path` finds it.
async fn find_in(path: &Path, id: Uuid) -> Result<Uuid> {
    let store = SqliteStore::open(&StoreOptions::new(path)).await.unwrap();
    let found = store.find_run(&id.to_string()).await;
    store.close().await;
    found.map(|record| record.id)
}

#[tokio::test]
async fn a_runs_directory_is_kept_byte_for_byte() {
    use std::os::unix::ffi::OsStringExt;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&StoreOptions::new(dir.path().join("cairn.db")))
        .await
        .unwrap();
    // A directory's name need not be UTF-8.
    let started_in = PathBuf::from(std::ffi::OsString::from_vec(b"/srv/caf\xe9".to_vec()));
    for cwd in [Some(started_in), None] {
        let (run, holder) = one_step_run();
        let run = NewRun { cwd, ..run };
        let ttl = Duration::from_secs(60);
        (store.create_run(&run, &holder, ttl, Batch::new()).await).unwrap();
        let record = store.find_run(&run.id.to_string()).await.unwrap();
        assert_eq!(record.cwd, run.cwd);
    }
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
        cwd: None,
    };
    let holder = LeaseHolder {
        owner: "me".into(),
        host: "here".into(),
        pid: 1,
        pid_start: 1,
    };
    (run, holder)
}

/// A store on a new database at `path` holding [`one_step_run`], leased for a minute.
async fn one_step_run_in(path: &Path) -> (SqliteStore, NewRun, LeaseHolder) {
    let store = SqliteStore::open(&StoreOptions::new(path)).await.unwrap();
    let (run, holder) = one_step_run();
    let ttl = Duration::from_secs(60);
    (store.create_run(&run, &holder, ttl, Batch::new()).await).unwrap();
    (store, run, holder)
}

/// Runs `sql` on the database at `path`, as a person with `sqlite3` would.
fn edit(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn a_lease_pid_out_of_range_is_a_corrupt_database_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let (store, run, holder) = one_step_run_in(&path).await;
    edit(&path, "UPDATE runs SET lease_pid = -1");
    let other = LeaseHolder {
        owner: "other".into(),
        ..holder
    };
    let taking = (store.acquire_lease(run.id, &other, Duration::from_secs(60), &|_| false)).await;
    assert!(
        matches!(&taking, Err(Error::Corrupt(message))
            if message == "column lease_pid: -1 is out of range"),
        "{taking:?}"
    );
}

/// A stored time past the range of times (changed outside cairn) is a corrupt database
/// naming its column, never read as 1970: a deadline so read would end the run at once, a
/// lease's expiry would let any engine take the run over.
#[tokio::test]
async fn a_stored_time_out_of_range_is_a_corrupt_database_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let (store, run, holder) = one_step_run_in(&path).await;
    let edit = |sql: &str| edit(&path, sql);
    let too_far = "9000000000000000000";
    edit(&format!("UPDATE runs SET deadline_at = {too_far}"));
    let found = store.find_run(&run.id.to_string()).await;
    assert!(
        matches!(&found, Err(Error::Corrupt(message))
            if message.starts_with("column deadline_at: 9000000000000000000 is out of the range of times")),
        "{found:?}"
    );
    edit("UPDATE runs SET deadline_at = NULL");
    edit(&format!("UPDATE steps SET wake_at = {too_far}"));
    let steps = store.steps(run.id).await;
    assert!(
        matches!(&steps, Err(Error::Corrupt(message))
            if message.contains("column steps.wake_at") && !message.contains("corrupt database")),
        "{steps:?}"
    );
    edit(&format!("UPDATE runs SET lease_expires = -{too_far}"));
    let other = LeaseHolder {
        owner: "other".into(),
        ..holder
    };
    let taking = (store.acquire_lease(run.id, &other, Duration::from_secs(60), &|_| true)).await;
    assert!(
        matches!(&taking, Err(Error::Corrupt(message)) if message.contains("lease_expires")),
        "{taking:?}"
    );
}

/// A command is dated when it is written, under the write lock, not when it was asked for:
/// one that waited for another process's commit is never dated before that commit (a
/// resume overrules the pauses dated before it was asked).
#[tokio::test]
async fn a_command_is_dated_when_written_not_when_sent() {
    use crate::command::Request;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let store = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    let run = conformance::started(&store, "me").await;
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let pause = Command::Pause(Request::new("ann", None));
    let mut sent = std::pin::pin!(store.send_ruling(run, &pause));
    assert!(futures::poll!(sent.as_mut()).is_pending());
    // The other process commits a millisecond later at least (the clock is read until it
    // has moved on: nothing waits for a time).
    let asked = Utc::now().timestamp_millis();
    let mut committed = asked;
    while committed <= asked {
        committed = Utc::now().timestamp_millis();
    }
    other.execute_batch("COMMIT").unwrap();
    assert!(sent.await.unwrap());
    let pending = store.pending_commands(run).await.unwrap();
    assert!(
        pending[0].created_at.timestamp_millis() >= committed,
        "dated {} before the commit it waited for, at {committed}",
        pending[0].created_at.timestamp_millis()
    );
}

mod grouped_commits;
mod paths;
mod refused;
mod schema;

#[test]
fn the_bundled_sqlite_keeps_no_memory_statistics() {
    // `.cargo/config.toml`: they would take a global mutex at every allocation and free.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut pragma = conn.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = (pragma.query_map([], |row| row.get(0)).unwrap())
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        options.iter().any(|option| option == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}

/// The POSIX locks this process holds on `path`'s file, as `/proc/locks` lists them.
fn locks_held_on(path: &std::path::Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let inode = format!(":{}", std::fs::metadata(path).unwrap().ino());
    let pid = std::process::id().to_string();
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    (locks.lines())
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.get(1) == Some(&"POSIX") && fields.get(4) == Some(&pid.as_str()))
        .filter(|fields| fields.get(5).is_some_and(|file| file.ends_with(&inode)))
        .count()
}

/// A second store opened on a database this process has open keeps the locks SQLite holds
/// on it: the check that this user may write it opened and closed the files, and closing a
/// descriptor drops every POSIX lock the process holds on the file; another process then
/// took itself for the last connection and deleted the write-ahead log, and a committed run
/// was lost (probe 45 F2).
#[tokio::test]
async fn a_second_store_on_an_open_database_keeps_the_first_ones_locks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let first = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    let shm = dir.path().join("cairn.db-shm");
    let held = (locks_held_on(&path), locks_held_on(&shm));
    assert!(held.0 > 0 && held.1 > 0, "{held:?}");
    let second = SqliteStore::open(&StoreOptions::new(&path)).await.unwrap();
    assert!(
        locks_held_on(&path) >= held.0,
        "the database's locks dropped"
    );
    assert!(locks_held_on(&shm) >= held.1, "the -shm's locks dropped");
    second.close().await;
    first.close().await;
}
