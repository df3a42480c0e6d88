//! A database damaged or changed outside cairn: named as such, with its file, exit 2, and
//! left as it was.

use std::path::Path;

use serde_json::json;
use sqlx::{Connection, SqliteConnection};

use super::bad_input::{refused, with_one_run};
use super::control::{held, held_then_b, wait_for_file};
use super::guard::{approval_setup, start_awaiting};
use super::scratch::Scratch;

#[tokio::test]
async fn a_damaged_database_is_named_and_left_alone() {
    let (scratch, _, id) = with_one_run();
    let db = scratch.db();
    assert!(
        !db.with_extension("db-wal").exists(),
        "the WAL was folded in"
    );
    let pristine = std::fs::read(&db).unwrap();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let (page_size, runs_root): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_size FROM pragma_page_size),
                (SELECT rootpage FROM sqlite_master WHERE name = 'runs')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let page = |number: i64| (number - 1) as usize * page_size as usize;
    // The `runs` table's page alone (a read finds it, once the store has opened), then
    // every page after the schema's (the store's opening finds them).
    let runs_page = page(runs_root)..page(runs_root + 1);
    for damage in [runs_page, page(2)..pristine.len()] {
        let mut bytes = pristine.clone();
        bytes[damage].fill(0xff);
        std::fs::write(&db, &bytes).unwrap();
        let named = format!("{}: the database is damaged", db.display());
        for args in [vec!["runs"], vec!["show", &id]] {
            let output = scratch.cairn(&args);
            let message = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "cairn {args:?}: {message}");
            assert!(message.contains(&named), "cairn {args:?}: {message}");
            assert_eq!(
                std::fs::read(&db).unwrap(),
                bytes,
                "cairn {args:?} changed it"
            );
        }
    }
}

/// Changes the database at `db` with `sql`, outside cairn.
pub(super) async fn tamper(db: &Path, sql: &'static str) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_stored_value_changed_into_malformed_json_or_a_blob_is_named_corrupt_with_its_column() {
    // Each column is read through SQLite's JSON functions by the command beside it, which
    // named no column ("a stored JSON value is malformed"), and a BLOB was a bare "database
    // error" with exit 1 (the code of a failed run) before.
    for (sql, command, column) in [
        (
            "UPDATE steps SET output = 'x{'",
            "show --json",
            "steps.output",
        ),
        ("UPDATE steps SET usage = 'x{'", "show", "steps.usage"),
        (
            "UPDATE events SET detail = 'x{'",
            "history",
            "events.detail",
        ),
        ("UPDATE steps SET state = x'00ff'", "show", "steps.state"),
        (
            "UPDATE steps SET step_id = x'00ff'",
            "graph --run",
            "steps.step_id",
        ),
        (
            "UPDATE events SET step_id = x'00ff'",
            "history --json",
            "events.step_id",
        ),
    ] {
        let (scratch, _, id) = with_one_run();
        tamper(&scratch.db(), sql).await;
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push(&id);
        let named = format!(
            "cairn: {}: corrupt database: column {column} of run {id}: a BLOB",
            scratch.db().display()
        );
        refused(&scratch, &args, &named);
    }
}

#[tokio::test]
async fn a_run_id_stored_as_a_blob_is_named_corrupt_by_the_list_and_every_lookup() {
    // SQLite finds no BLOB equal to text: `cairn runs` named a mismatched type in column id,
    // while every lookup of the run said "no run with id", sending the user to `cairn runs`.
    let (scratch, _, id) = with_one_run();
    // As python3's sqlite3 does it: without foreign keys (its default), which refuse it.
    let sql = "PRAGMA foreign_keys = OFF; UPDATE runs SET id = CAST(id AS BLOB)";
    tamper(&scratch.db(), sql).await;
    let named = format!(
        "cairn: {}: corrupt database: column runs.id of run {id}: a BLOB where cairn keeps text",
        scratch.db().display()
    );
    for args in [
        vec!["show", &id],
        vec!["show", &id[..8]],
        vec!["runs"],
        vec!["history", &id],
        vec!["cancel", &id],
        vec!["resume", &id],
    ] {
        refused(&scratch, &args, &named);
    }
}

#[tokio::test]
async fn a_stored_input_or_output_not_json_is_named_corrupt_with_its_column() {
    // Read as bytes, parsed by cairn: "stored JSON: expected ident", no column, before.
    for (sql, column) in [
        ("UPDATE inputs SET input = 'not json'", "input"),
        ("UPDATE runs SET output = 'not json'", "output"),
    ] {
        let (scratch, _, id) = with_one_run();
        tamper(&scratch.db(), sql).await;
        let named = format!(
            "cairn: {}: corrupt database: column {column}: not JSON: ",
            scratch.db().display()
        );
        for args in [vec!["show", &id], vec!["show", &id, "--json"]] {
            refused(&scratch, &args, &named);
        }
    }
}

#[tokio::test]
async fn a_stored_time_changed_into_text_is_named_corrupt() {
    for (sql, column) in [
        ("UPDATE runs SET created_at = '2026-12-03'", "created_at"),
        ("UPDATE events SET at = '2026-12-03'", "updated_at"),
    ] {
        let (scratch, _, id) = with_one_run();
        tamper(&scratch.db(), sql).await;
        // Named with the file: a user with several databases tells which one.
        let named = format!(
            "cairn: {}: corrupt database: column {column}: ",
            scratch.db().display()
        );
        for args in [
            vec!["runs"],
            vec!["show", &id],
            vec!["cancel", &id],
            vec!["resume", &id],
        ] {
            refused(&scratch, &args, &named);
        }
    }
}

#[tokio::test]
async fn a_stored_index_or_position_below_zero_is_named_corrupt_not_wrapped() {
    let scratch = Scratch::new();
    let each = scratch.write(
        "each.json",
        &json!({"name": "each", "steps": [{"id": "each", "executor": "noop", "for_each": "${{ [1, 2] }}"}]}),
    );
    let each = scratch.run(&each, &[], 0);
    let plan = r#"echo '{"steps": [{"id": "a", "executor": "noop"}]}'"#;
    let planned = scratch.write(
        "planned.json",
        &json!({"name": "planned", "steps": [{"id": "gen", "executor": "process", "planner": true,
            "with": {"command": ["sh", "-c", plan]}}]}),
    );
    let planned = scratch.run(&planned, &[], 0);
    tamper(&scratch.db(), "UPDATE items SET idx = -1 WHERE idx = 0").await;
    tamper(&scratch.db(), "UPDATE plans SET first_position = -1").await;
    let db = scratch.db();
    let named = |column| {
        format!(
            "cairn: {}: corrupt database: column {column}: -1 is out of range",
            db.display()
        )
    };
    refused(&scratch, &["show", &each, "--json"], &named("idx"));
    refused(
        &scratch,
        &["graph", "--run", &planned],
        &named("first_position"),
    );
}

/// The id of the run, failed, of a one-step workflow whose step `a` exits 1.
fn failed_run(scratch: &Scratch) -> String {
    let workflow = scratch.write(
        "failing.json",
        &json!({"name": "failing", "steps": [{"id": "a", "executor": "process", "with": {"command": ["false"]}}]}),
    );
    scratch.run(&workflow, &[], 1)
}

#[tokio::test]
async fn a_stored_value_read_alone_of_another_type_is_named_corrupt() {
    // Read as the only column of its query: a bare "database error" (exit 1) before.
    let scratch = Scratch::new();
    let id = failed_run(&scratch);
    tamper(&scratch.db(), "UPDATE runs SET redrive_from = x'00'").await;
    let named = format!(
        "cairn: {}: corrupt database: column redrive_from: ",
        scratch.db().display()
    );
    refused(&scratch, &["retry", &id, "--from", "a"], &named);
}

#[tokio::test]
async fn a_stored_error_class_or_count_out_of_range_names_its_column() {
    // Probe 67 F8: `error class "zzz"` and "expected u32 at line 1 column 26" named none.
    let scratch = Scratch::new();
    let id = failed_run(&scratch);
    tamper(&scratch.db(), "UPDATE runs SET error_class = 'zzz'").await;
    let db = scratch.db();
    let named = format!(
        "cairn: {}: corrupt database: column runs.error_class of run {id}: unknown error class \"zzz\"",
        db.display()
    );
    refused(&scratch, &["show", &id], &named);
    tamper(&db, "UPDATE runs SET error_class = 'exit_code'").await;
    tamper(&db, "UPDATE steps SET attempt = -5").await;
    refused(
        &scratch,
        &["show", &id],
        "column steps.attempt of step a: -5 is not a count from 0 to 4294967295",
    );
}

#[tokio::test]
async fn a_retry_from_a_step_refused_for_what_the_takeover_reads_records_nothing() {
    // The redrive's first commit recorded `--from` before the takeover read the input or
    // compiled the definition; refused then, the next retry carried on a redrive never begun.
    for (broken, column) in [
        ("UPDATE inputs SET input = 'oops'", "column input: not JSON"),
        (
            r#"UPDATE workflows SET definition = '{"steps": ['"#,
            "column workflows.definition",
        ),
    ] {
        let scratch = Scratch::new();
        let id = failed_run(&scratch);
        tamper(&scratch.db(), broken).await;
        let named = format!(
            "cairn: {}: corrupt database: {column}",
            scratch.db().display()
        );
        refused(&scratch, &["retry", &id, "--from", "a"], &named);
    }
}

#[tokio::test]
async fn a_run_whose_step_row_was_deleted_or_renamed_is_named_corrupt_not_a_bug() {
    // Blamed on cairn: "internal error (a bug in cairn, please report it)", exit 1.
    for (broken, said) in [
        (
            "DELETE FROM steps WHERE step_id = 'b'",
            "step \"b\" has no stored state: its row in table steps is missing",
        ),
        (
            "UPDATE steps SET step_id = 'zzz' WHERE step_id = 'b'",
            "stored step \"zzz\" is not in the run's workflow",
        ),
    ] {
        let scratch = Scratch::new();
        let workflow = scratch.write(
            "failing.json",
            &json!({"name": "failing", "steps": [{"pipeline": [
                {"id": "a", "executor": "process", "with": {"command": ["false"]}},
                {"id": "b", "executor": "noop"}]}]}),
        );
        let id = scratch.run(&workflow, &[], 1);
        tamper(&scratch.db(), broken).await;
        let named = format!(
            "cairn: {}: corrupt database: {said}",
            scratch.db().display()
        );
        refused(&scratch, &["retry", &id], &named);
    }
}

#[tokio::test]
async fn a_json_document_is_not_begun_before_a_corrupt_value_of_its_first_page() {
    // `show --json` wrote the run's head, and `history --json` its `[`, before reading the
    // first page: a corrupt value there left half a document on stdout.
    let scratch = Scratch::new();
    let steps: Vec<_> = (0..20)
        .map(|n| json!({"id": format!("s{n:02}"), "executor": "noop", "with": {"output": n}}))
        .collect();
    let workflow = scratch.write("wide.json", &json!({"name": "wide", "steps": steps}));
    let id = scratch.run(&workflow, &[], 0);
    let pristine = std::fs::read(scratch.db()).unwrap();
    let exit = |args: &[&str]| {
        let output = scratch.cairn(args);
        let message = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(2), "cairn {args:?}: {message}");
        assert!(message.contains("corrupt database: column "), "{message}");
        output.stdout
    };
    tamper(
        &scratch.db(),
        "UPDATE steps SET output = 'x{' WHERE step_id = 's00'",
    )
    .await;
    assert_eq!(exit(&["show", &id, "--json"]), b"");
    tamper(&scratch.db(), "UPDATE events SET detail = 'x{'").await;
    assert_eq!(exit(&["history", &id, "--json"]), b"");
    // Past the first page (16 steps), the document begun is left unclosed: not JSON.
    std::fs::write(scratch.db(), &pristine).unwrap();
    tamper(
        &scratch.db(),
        "UPDATE steps SET output = 'x{' WHERE step_id = 's19'",
    )
    .await;
    let stdout = exit(&["show", &id, "--json"]);
    assert!(!stdout.is_empty());
    assert!(serde_json::from_slice::<serde_json::Value>(&stdout).is_err());
}

#[tokio::test]
async fn a_run_whose_input_or_workflow_row_was_deleted_is_named_corrupt_not_unknown() {
    // Read "no run with id …", which sends the user looking for a typo.
    for (sql, missing, commands) in [
        (
            "DELETE FROM inputs",
            "has no input: its row in table inputs is missing",
            ["show", "show --json"],
        ),
        (
            "PRAGMA foreign_keys = OFF; DELETE FROM workflows",
            "has no workflow: its row in table workflows is missing",
            ["graph --run", "graph --format mermaid --run"],
        ),
    ] {
        let (scratch, _, id) = with_one_run();
        tamper(&scratch.db(), sql).await;
        let named = format!(
            "cairn: {}: corrupt database: run {id} {missing}",
            scratch.db().display()
        );
        for command in commands {
            let mut args: Vec<&str> = command.split(' ').collect();
            args.push(&id);
            refused(&scratch, &args, &named);
        }
    }
}

/// Kills the engine of a run whose step `deploy` awaits approval, changes its approval row
/// with `sql`, and checks that `approvals`, `approve` and `resume` are each refused with
/// `cairn: DB: corrupt database: ` and what `said` says of the run, the database left as
/// it was.
async fn a_changed_approval_row_is_refused(sql: &'static str, said: impl Fn(&str) -> String) {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({}));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    tamper(&scratch.db(), sql).await;
    let named = format!(
        "cairn: {}: corrupt database: {}",
        scratch.db().display(),
        said(&run)
    );
    for args in [
        vec!["approvals"],
        vec!["approve", &run, "deploy"],
        vec!["resume", &run],
    ] {
        refused(&scratch, &args, &named);
    }
}

#[tokio::test]
async fn a_stored_approval_time_out_of_range_is_named_corrupt_not_read_as_1970() {
    // Read as 1970: the request counted as expired long ago, silently.
    a_changed_approval_row_is_refused(
        "UPDATE approvals SET expires_at = 9223372036854775807",
        |run| {
            format!(
                "column approvals.expires_at of run {run}, step \"deploy\": \
                 9223372036854775807 is out of the range of times"
            )
        },
    )
    .await;
}

#[tokio::test]
async fn a_stored_decision_neither_approved_nor_denied_is_named_corrupt_not_read_as_a_denial() {
    // Read as a denial by nobody: `approvals` listed nothing, `approve` said approved, and
    // the resume denied the step "by ".
    a_changed_approval_row_is_refused("UPDATE approvals SET decision = 'maybe'", |run| {
        format!(
            "column approvals.decision of run {run}, step \"deploy\": \"maybe\" is neither \
             `approved` nor `denied`"
        )
    })
    .await;
}

#[tokio::test]
async fn a_pause_or_cancel_of_a_run_whose_step_rows_do_not_read_records_nothing() {
    // The check before the command compiled the stored workflow only: a step's time out of
    // range refused the takeover after the command was recorded, which stood for nothing
    // (no engine could ever take the run over to carry it out).
    let scratch = Scratch::new();
    let workflow = held_then_b(&scratch, "");
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    assert_eq!(scratch.cairn(&["pause", &run]).status.code(), Some(0));
    scratch.wait_logged(&mut child, "pause asked");
    scratch.open_gate();
    assert_eq!(child.wait().unwrap().code(), Some(3), "the run paused");
    tamper(
        &scratch.db(),
        "UPDATE steps SET wake_at = 9000000000000000000",
    )
    .await;
    let named = format!("cairn: {}: corrupt database: ", scratch.db().display());
    refused(&scratch, &["cancel", &run], &named);
    let message = String::from_utf8_lossy(&scratch.cairn(&["cancel", &run]).stderr).into_owned();
    assert!(message.contains("steps.wake_at"), "{message}");
}

#[tokio::test]
async fn a_cancel_of_a_run_whose_input_or_a_step_row_is_gone_records_nothing() {
    // Recorded, "carried out by the next resume", which refused the run (probe 7 F3).
    for (broken, said) in [
        (
            "DELETE FROM inputs",
            "has no input: its row in table inputs is missing",
        ),
        ("UPDATE inputs SET input = '{'", "column input: not JSON"),
        (
            "DELETE FROM steps WHERE step_id = 'b'",
            "step \"b\" has no stored state: its row in table steps is missing",
        ),
    ] {
        let scratch = Scratch::new();
        let workflow = held_then_b(&scratch, "");
        let mut child = scratch.spawn_logged(&workflow);
        let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
        child.kill().unwrap();
        child.wait().unwrap();
        tamper(&scratch.db(), broken).await;
        let named = format!("cairn: {}: corrupt database: ", scratch.db().display());
        refused(&scratch, &["cancel", &run], &named);
        let message =
            String::from_utf8_lossy(&scratch.cairn(&["cancel", &run]).stderr).into_owned();
        assert!(message.contains(said), "{message}");
    }
}

#[tokio::test]
async fn a_column_dropped_outside_cairn_is_named_corrupt_not_a_database_error() {
    // Probe 42 F3: "database error: no such column: interrupted", exit 1 (a failed run's).
    let (scratch, _, id) = with_one_run();
    tamper(&scratch.db(), "ALTER TABLE steps DROP COLUMN interrupted").await;
    let named = format!(
        "cairn: {}: corrupt database: no such column: interrupted: the tables are not those \
         cairn's migrations made (changed outside cairn?)",
        scratch.db().display()
    );
    for args in [vec!["runs"], vec!["show", &id]] {
        refused(&scratch, &args, &named);
    }
}
