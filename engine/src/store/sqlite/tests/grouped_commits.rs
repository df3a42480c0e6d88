//! The writer's groups: commits and lease renewals that wait for it while it is busy commit
//! in one transaction.

use super::*;

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
    let pause = Command::Pause(Request::new("ann", None));
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
