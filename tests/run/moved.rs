//! The database file deleted, moved away or replaced while `cairn run` drives a run: SQLite
//! writes on to the file it opened, where no later `cairn` finds it. The run is not reported
//! done: cairn exits 3 saying what became of the file.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};

use super::durable::{HOLD, gates, held};
use super::scratch::Scratch;
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

/// Removes the database file at `db` with its WAL and its index.
fn remove(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = db.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn a_run_whose_database_file_goes_is_not_reported_done() {
    for how in ["deleted", "moved", "replaced"] {
        let scratch = Scratch::new();
        std::fs::create_dir(gates(&scratch)).unwrap();
        let workflow = scratch.write("gated.json", &gated(&scratch));
        let mut child = scratch
            .command(&["run", workflow.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        scratch.wait_for_show(&mut child, |_| held(&scratch).contains("a"));
        let db = scratch.db();
        match how {
            "moved" => std::fs::rename(&db, db.with_extension("moved")).unwrap(),
            _ => remove(&db),
        }
        if how == "replaced" {
            let other = json!({"name": "other", "steps": [step_of("x", "true")]});
            scratch.run(&scratch.write("other.json", &other), &[], 0);
        }
        std::fs::write(gates(&scratch).join("open"), "").unwrap();
        let output = finish(child, "cairn run");
        let (out, err) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert_eq!(output.status.code(), Some(3), "{how}: {out}\n{err}");
        assert!(!out.contains("succeeded"), "{how}: {out}");
        assert!(
            err.contains(&format!("{} was deleted, moved or replaced", db.display())),
            "{how}: {err}"
        );
        if how == "moved" {
            // What the run committed is in the file moved away: put back, it carries on.
            let id = err
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("run "));
            std::fs::rename(db.with_extension("moved"), &db).unwrap();
            let resumed = scratch.cairn(&["resume", id.unwrap()]);
            let said = String::from_utf8_lossy(&resumed.stderr);
            assert_eq!(resumed.status.code(), Some(0), "resume: {said}");
        }
    }
}
