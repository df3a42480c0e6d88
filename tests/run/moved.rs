//! A run's database changed under cairn. The file, or its WAL, deleted, moved away or
//! replaced while `cairn run` drives a run: SQLite writes on to the files it opened, where no
//! later `cairn` finds them, so the run is not reported done: cairn exits 3 saying what
//! became of the file.
//! A stored value changed so that a resume is refused once it holds the run's lease: the
//! lease is given back as it was found, and the run's row is left as it was.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};

use super::durable::{HOLD, gates, held};
use super::scratch::{Scratch, open_gate};
use crate::finish;

/// A step that runs `script` (with `GATES` set), then outputs `{}`.
fn step_of(id: &str, script: &str) -> Value {
    json!({
        "id": id,
        "executor": "process",
        "with": {
            "command": ["sh", "-c", format!("{script}; printf '{{}}'")],
            "env": {"GATES": "."}
        }
    })
}

/// `a` waits at the gate, then `b` ends the run.
fn gated(scratch: &Scratch) -> Value {
    let mut held = step_of("a", HOLD);
    held["with"]["env"]["GATES"] = json!(gates(scratch));
    json!({
        "name": "gated",
        "steps": [{"pipeline": [held, step_of("b", "true")]}]
    })
}

/// Removes the files of the database at `db` whose names end in `suffixes`.
fn remove(db: &Path, suffixes: &[&str]) {
    for suffix in suffixes {
        let mut file = db.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn a_run_whose_database_file_goes_is_not_reported_done() {
    for how in [
        "deleted",
        "moved",
        "replaced",
        "covered",
        "wal deleted",
        "shm deleted",
        "linked",
    ] {
        let scratch = Scratch::new();
        std::fs::create_dir(gates(&scratch)).unwrap();
        let workflow = scratch.write("gated.json", &gated(&scratch));
        let other = json!({"name": "other", "steps": [step_of("x", "true")]});
        let other = scratch.write("other.json", &other);
        let db = scratch.db();
        // The database named through a link: SQLite keeps its `-wal` and `-shm` beside the
        // file the link leads to (probe 193 F1: cairn looked beside the link).
        let linked = db.with_extension("linked");
        if how == "linked" {
            scratch.run(&other, &[], 0);
            std::fs::rename(&db, &linked).unwrap();
            std::os::unix::fs::symlink(&linked, &db).unwrap();
        }
        let mut child = scratch
            .command(&["run", workflow.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        scratch.wait_for_show(&mut child, |_| held(&scratch).contains("a"));
        match how {
            "moved" => std::fs::rename(&db, db.with_extension("moved")).unwrap(),
            "covered" => {}
            // Probe 190 F1: "to clear a lock"; another run committed meanwhile was lost
            // when the engine checkpointed its WAL over it.
            "wal deleted" => remove(&db, &["-wal", "-shm"]),
            // Probe 201 F2: the engine released its lease through its stale index over the
            // other run's commits.
            "shm deleted" => remove(&db, &["-shm"]),
            "linked" => remove(&linked, &["-wal", "-shm"]),
            _ => remove(&db, &["", "-wal", "-shm"]),
        }
        let mut other_id = None;
        if ["replaced", "wal deleted", "shm deleted", "linked"].contains(&how) {
            other_id = Some(scratch.run(&other, &[], 0));
        }
        // Another database moved over the path alone: the run's WAL is still there.
        let elsewhere = Scratch::new();
        if how == "covered" {
            other_id = Some(elsewhere.run(&other, &[], 0));
            std::fs::rename(elsewhere.db(), &db).unwrap();
        }
        open_gate(&gates(&scratch).join("open"));
        let output = finish(child, "cairn run");
        let (out, err) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert_eq!(output.status.code(), Some(3), "{how}: {out}\n{err}");
        assert!(!out.contains("succeeded"), "{how}: {out}");
        assert!(
            err.contains(&format!(
                "{} or its `-wal` or `-shm` was deleted, moved or replaced",
                db.display()
            )),
            "{how}: {err}"
        );
        // Not a bare `cairn resume`: the file it would resume from may be gone from the path.
        let resume = format!("`{} resume", scratch.invocation());
        let from = format!("from what the database at {} holds", db.display());
        assert!(err.contains(&resume) && err.contains(&from), "{how}: {err}");
        let id = err
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("run "));
        if let Some(other_id) = other_id {
            // The WAL left at the path was emptied, or left to the database there, whose
            // run reads as it was committed.
            let shown = scratch.json(&["show", &other_id, "--json"]);
            assert_eq!(shown["state"], "succeeded", "{how}: {shown}");
        }
        if how == "covered" {
            let gone = scratch.cairn(&["show", id.unwrap()]);
            assert_eq!(gone.status.code(), Some(2), "{how}: {gone:?}");
        }
        if how == "moved" {
            // What the run committed is in the file moved away: put back, it carries on.
            std::fs::rename(db.with_extension("moved"), &db).unwrap();
            let resumed = scratch.cairn(&["resume", id.unwrap()]);
            let said = String::from_utf8_lossy(&resumed.stderr);
            assert_eq!(resumed.status.code(), Some(0), "resume: {said}");
        }
    }
}

/// Every column of the run `id`'s row in the database at `db`, quoted as SQL text.
async fn runs_row(db: &Path, id: &str) -> String {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let columns: String = sqlx::query_scalar(
        "SELECT group_concat('quote(' || name || ')', ' || '','' || ') FROM pragma_table_info('runs')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let row: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM runs WHERE id = ?"
    )))
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    row
}

#[tokio::test]
async fn a_resume_refused_under_the_runs_lease_leaves_the_run_as_it_was() {
    let scratch = Scratch::new();
    std::fs::create_dir(gates(&scratch)).unwrap();
    let workflow = scratch.write("gated.json", &gated(&scratch));
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let show = scratch.wait_for_show(&mut child, |_| held(&scratch).contains("a"));
    child.kill().unwrap();
    child.wait().unwrap();
    let id = show["id"].as_str().unwrap();
    let db = scratch.db();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE inputs SET input = '{bad' WHERE run_id = ?")
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let before = runs_row(&db, id).await;
    assert!(
        before.contains(&format!(",{},", child.id())),
        "the killed engine's lease: {before}"
    );
    let resumed = scratch.cairn(&["resume", id]);
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(2), "{said}");
    assert!(said.contains("corrupt database"), "{said}");
    assert_eq!(runs_row(&db, id).await, before, "{said}");
    open_gate(&gates(&scratch).join("open"));
}
