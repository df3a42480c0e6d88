//! How a batch folds into rows.

use super::*;
use crate::state::{RunState, StepState};

fn step(run_id: Uuid, id: &str, from: StepState, to: StepState) -> Transition {
    Transition::Step(StepTransition::new(run_id, id, from, to))
}

#[test]
fn a_step_that_moves_twice_is_one_row_and_two_numbered_events() {
    let run_id = Uuid::now_v7();
    let mut batch = Batch::new();
    for transition in [
        step(run_id, "a", StepState::Pending, StepState::Ready),
        step(run_id, "b", StepState::Running, StepState::Succeeded),
        step(run_id, "a", StepState::Ready, StepState::Running),
        Transition::Run(RunTransition::new(
            run_id,
            RunState::Running,
            RunState::Succeeded,
        )),
    ] {
        batch.push(transition).unwrap();
    }
    let mut rows = Rows::new(batch);
    let next = rows.number(|_| Ok::<_, ()>(7)).unwrap();
    let net: Vec<(&str, &str, &str)> = rows
        .steps
        .iter()
        .map(|row| (row.step.as_str(), row.from, row.to))
        .collect();
    assert_eq!(
        net,
        [("a", "pending", "running"), ("b", "running", "succeeded")]
    );
    let seqs: Vec<i64> = rows.events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, [7, 8, 9, 10]);
    assert_eq!(next[&run_id], 11);
    assert_eq!(rows.runs.len(), 1);
    assert!(rows.runs[0].ended);
}

/// A connection to a database of the whole schema in memory, with run `run` (leased by
/// `"me"`) and its ready steps `a` and `b` at positions 0 and 1; and their rowids.
fn two_ready_steps(run: Uuid) -> (Connection, i64, i64) {
    let conn = Connection::open_in_memory().unwrap();
    for migration in super::super::open::MIGRATOR.iter() {
        conn.execute_batch(migration.sql.as_str()).unwrap();
    }
    conn.execute_batch(&format!(
        "INSERT INTO workflows (hash, name, definition, created_at) VALUES ('h', 'w', '{{}}', 1);
         INSERT INTO runs (id, workflow_hash, workflow_name, state, created_at, lease_owner)
             VALUES ('{run}', 'h', 'w', 'running', 1, 'me');
         INSERT INTO steps (run_id, step_id, position, state) VALUES ('{run}', 'a', 0, 'ready');
         INSERT INTO steps (run_id, step_id, position, state) VALUES ('{run}', 'b', 1, 'ready');"
    ))
    .unwrap();
    let rowid = |step: &str| {
        conn.query_row("SELECT rowid FROM steps WHERE step_id = ?", [step], |row| {
            row.get(0)
        })
        .unwrap()
    };
    let (a, b) = (rowid("a"), rowid("b"));
    (conn, a, b)
}

/// Writes one transition of step `id` (at `position`) of `run` with `rowids`.
fn write_one(
    conn: &Connection,
    rowids: &mut StepRowids,
    run: Uuid,
    (id, position): (&str, usize),
    from: StepState,
) -> Result<(), Failure> {
    let mut change = StepTransition::new(run, id, from, StepState::Running);
    change.position = Some(position);
    let mut batch = Batch::new();
    batch.push(Transition::Step(change)).unwrap();
    let mut rows = Rows::new(batch);
    let next = "SELECT COALESCE(MAX(seq), 0) + 1 FROM events";
    rows.number(|_| conn.query_row(next, [], |row| row.get(0)))
        .unwrap();
    let mut prepared = Prepared::new(conn).unwrap();
    prepared.transaction(|prepared| rows.write(prepared, None, "me", 1, rowids))
}

#[test]
fn a_step_row_guessed_wrong_is_found_by_its_key_and_the_guess_learned_again() {
    let run = Uuid::now_v7();
    let (conn, a, b) = two_ready_steps(run);
    let state = |step: &str| -> String {
        conn.query_row("SELECT state FROM steps WHERE step_id = ?", [step], |row| {
            row.get(0)
        })
        .unwrap()
    };
    // The guess for `b` (position 1) names `a`'s row, which is as ready as `b`.
    let mut rowids = StepRowids::default();
    rowids.learn(run, 1, a);
    write_one(&conn, &mut rowids, run, ("b", 1), StepState::Ready).unwrap();
    assert_eq!((state("a"), state("b")), ("ready".into(), "running".into()));
    assert_eq!(rowids.guess(run, 1), Some(b), "learned from the key's row");
    // A guess that names the right row of a step in another state than it leaves: stale.
    let stale = write_one(&conn, &mut rowids, run, ("b", 1), StepState::Ready);
    assert!(matches!(stale, Err(Failure::StaleStep(0))), "{stale:?}");
    // Then `a`, guessed right from `b`'s row.
    write_one(&conn, &mut rowids, run, ("a", 0), StepState::Ready).unwrap();
    assert_eq!(state("a"), "running");
}
