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
/// `"me"`) and the ready steps `ids`, at positions 0, 1, ...
fn ready_steps(run: Uuid, ids: &[&str]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for migration in super::super::open::MIGRATOR.iter() {
        conn.execute_batch(migration.sql.as_str()).unwrap();
    }
    conn.execute_batch(&format!(
        "INSERT INTO workflows (hash, name, definition, created_at) VALUES ('h', 'w', '{{}}', 1);
         INSERT INTO runs (id, workflow_hash, workflow_name, state, created_at, lease_owner)
             VALUES ('{run}', 'h', 'w', 'running', 1, 'me');"
    ))
    .unwrap();
    for (position, id) in ids.iter().enumerate() {
        conn.execute(
            "INSERT INTO steps (run_id, step_id, position, state) VALUES (?, ?, ?, 'ready')",
            params![run.to_string(), id, position as i64],
        )
        .unwrap();
    }
    conn
}

/// [`ready_steps`] `a` and `b`, and their rowids.
fn two_ready_steps(run: Uuid) -> (Connection, i64, i64) {
    let conn = ready_steps(run, &["a", "b"]);
    let rowid = |step: &str| {
        conn.query_row("SELECT rowid FROM steps WHERE step_id = ?", [step], |row| {
            row.get(0)
        })
        .unwrap()
    };
    let (a, b) = (rowid("a"), rowid("b"));
    (conn, a, b)
}

/// Writes the moves of `run`'s steps, each `(id, position)` from `from` to `to`, as one
/// batch with `rowids`.
fn write_moves(
    conn: &Connection,
    rowids: &mut StepRowids,
    run: Uuid,
    steps: &[(&str, usize)],
    (from, to): (StepState, StepState),
) -> Result<(), Failure> {
    let mut batch = Batch::new();
    for &(id, position) in steps {
        let mut change = StepTransition::new(run, id, from, to);
        change.position = Some(position);
        batch.push(Transition::Step(change)).unwrap();
    }
    let mut rows = Rows::new(batch);
    let next = "SELECT COALESCE(MAX(seq), 0) + 1 FROM events";
    rows.number(|_| conn.query_row(next, [], |row| row.get(0)))
        .unwrap();
    let mut prepared = Prepared::new(conn).unwrap();
    prepared.transaction(|prepared| rows.write(prepared, None, "me", 1, rowids))
}

/// Writes one transition of step `id` (at `position`) of `run` to `running` with `rowids`.
fn write_one(
    conn: &Connection,
    rowids: &mut StepRowids,
    run: Uuid,
    step: (&str, usize),
    from: StepState,
) -> Result<(), Failure> {
    write_moves(conn, rowids, run, &[step], (from, StepState::Running))
}

#[test]
fn every_event_of_a_commit_is_written_in_order_whatever_their_count() {
    let run = Uuid::now_v7();
    let names: Vec<String> = (0..70).map(|i| format!("s{i}")).collect();
    let ids: Vec<&str> = names.iter().map(String::as_str).collect();
    let conn = ready_steps(run, &ids);
    let steps: Vec<(&str, usize)> = ids.iter().copied().zip(0..).collect();
    let mut rowids = StepRowids::default();
    // 70 events (two statements of 32 rows and one of 6), then 3 and 1.
    let moves = [
        (&steps[..], StepState::Ready, StepState::Running),
        (&steps[..3], StepState::Running, StepState::Succeeded),
        (&steps[3..4], StepState::Running, StepState::Succeeded),
    ];
    let mut expected = Vec::new();
    for (moved, from, to) in moves {
        write_moves(&conn, &mut rowids, run, moved, (from, to)).unwrap();
        for (id, _) in moved {
            let seq = expected.len() as i64 + 1;
            expected.push((
                seq,
                id.to_string(),
                from.as_str().to_owned(),
                to.as_str().to_owned(),
            ));
        }
    }
    let mut read = conn
        .prepare("SELECT seq, step_id, from_state, to_state FROM events ORDER BY seq")
        .unwrap();
    let written: Vec<(i64, String, String, String)> = read
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(written, expected);
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
