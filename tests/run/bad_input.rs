//! Bad input to the run commands: a clear message, exit 2, and the database left as it was.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};

use super::scratch::{Scratch, open_gate};
use crate::output_of;

/// Every row of every table, as SQL literals: what a command must leave as it was (the raw
/// bytes when the file is not SQLite).
fn snapshot(db: &Path) -> Vec<String> {
    let bytes = std::fs::read(db).unwrap_or_default();
    if !bytes.starts_with(b"SQLite format 3") {
        return vec![String::from_utf8_lossy(&bytes).into_owned()];
    }
    let db = db.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                    .await
                    .unwrap();
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                let mut rows = Vec::new();
                for table in tables {
                    let columns: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT name FROM pragma_table_info('{table}')"
                    )))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                    let quoted: Vec<String> = columns
                        .iter()
                        .map(|column| format!("quote(\"{column}\")"))
                        .collect();
                    let select = format!(
                        "SELECT '{table}: ' || {} FROM \"{table}\" ORDER BY 1",
                        quoted.join(" || ',' || ")
                    );
                    rows.extend(
                        sqlx::query_scalar::<_, String>(AssertSqlSafe(select))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap(),
                    );
                }
                conn.close().await.unwrap();
                rows
            })
    })
    .join()
    .unwrap()
}

/// A scratch with one finished run of a workflow that needs `{"repo": string}` as input.
pub(super) fn with_one_run() -> (Scratch, std::path::PathBuf, String) {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "typed.json",
        &json!({
            "name": "typed",
            "input": {"type": "object", "required": ["repo"], "properties": {"repo": {"type": "string"}}},
            "steps": [{"id": "echo", "executor": "noop", "with": {"output": "${{ input.repo }}"}}]
        }),
    );
    let id = scratch.run(&workflow, &["--input", r#"{"repo": "cairn"}"#], 0);
    (scratch, workflow, id)
}

/// Runs cairn, expects exit 2 with `needle` in the message and the database untouched.
pub(super) fn refused(scratch: &Scratch, args: &[&str], needle: &str) {
    let before = snapshot(&scratch.db());
    let output = scratch.cairn(args);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "cairn {args:?}: {message}");
    assert!(
        message.contains(needle),
        "cairn {args:?}: expected {needle:?} in: {message}"
    );
    assert_eq!(
        snapshot(&scratch.db()),
        before,
        "cairn {args:?} changed the database"
    );
}

#[test]
fn an_unknown_run_id_is_named() {
    let (scratch, _, _) = with_one_run();
    for command in ["show", "history", "resume"] {
        refused(
            &scratch,
            &[command, "0000dead-beef"],
            "no run with id 0000dead-beef",
        );
    }
    refused(
        &scratch,
        &["runs", "--state", "done"],
        "not a run state; one of pending, running, paused, succeeded, failed, cancelled",
    );
}

#[test]
fn input_that_fails_the_input_schema_is_refused_before_anything_is_written() {
    let (scratch, workflow, _) = with_one_run();
    let workflow = workflow.to_str().unwrap();
    refused(
        &scratch,
        &["run", workflow, "--input", r#"{"repo": 7}"#],
        "input/repo",
    );
    refused(
        &scratch,
        &["run", workflow, "--input", "{}"],
        "\"repo\" is a required property",
    );
    refused(
        &scratch,
        &["run", workflow, "--input", "{not json"],
        "--input:1:2: invalid JSON",
    );
    refused(
        &scratch,
        &["run", workflow, "--input", r#"{"repo": "r", "repo": "s"}"#],
        "--input:/repo: the object gives the key `repo` twice",
    );
    assert_eq!(
        scratch.json(&["runs", "--json"]).as_array().unwrap().len(),
        1
    );
}

#[test]
fn an_integer_beyond_64_bits_is_refused_not_rounded() {
    let (scratch, workflow, _) = with_one_run();
    let input = r#"{"repo": "r", "n": [123456789012345678901234567890]}"#;
    let workflow_arg = workflow.to_str().unwrap();
    let run = |flag, value| ["run", workflow_arg, flag, value];
    refused(
        &scratch,
        &run("--input", input),
        "--input:/n/0: the integer 123456789012345678901234567890 (line 1, column 21) is beyond 64 bits",
    );
    let file = scratch.dir.path().join("input.json");
    std::fs::write(&file, input).unwrap();
    refused(
        &scratch,
        &run("--input-file", file.to_str().unwrap()),
        "write it as a string, or as 1.2345678901234568e29 if a float will do",
    );
    let big = scratch.dir.path().join("big.json");
    let text = r#"{"name": "big", "steps": [{"id": "a", "executor": "noop", "with": {"output": -9223372036854775809}}]}"#;
    std::fs::write(&big, text).unwrap();
    refused(
        &scratch,
        &["run", big.to_str().unwrap()],
        "/steps/0/with/output: the integer -9223372036854775809",
    );
    // The 64-bit integers at either end are kept exactly.
    let ends = r#"{"repo": "r", "n": [18446744073709551615, -9223372036854775808]}"#;
    let id = scratch.run(&workflow, &["--input", ends], 0);
    let shown = scratch.json(&["show", &id, "--json"]);
    assert_eq!(
        shown["input"]["n"].to_string(),
        "[18446744073709551615,-9223372036854775808]"
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_named_and_left_alone() {
    let scratch = Scratch::new();
    std::fs::write(
        scratch.db(),
        "definitely not a database, but long enough to look like a header...",
    )
    .unwrap();
    let workflow = scratch.write(
        "one.json",
        &json!({"name": "one", "steps": [{"id": "a", "executor": "noop"}]}),
    );
    refused(&scratch, &["runs"], "not a cairn database");
    refused(
        &scratch,
        &["run", workflow.to_str().unwrap()],
        "not a cairn database",
    );
}

#[tokio::test]
async fn a_database_from_a_newer_cairn_is_refused() {
    let (scratch, workflow, id) = with_one_run();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", scratch.db().display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    refused(&scratch, &["show", &id], "written by a newer cairn");
    refused(
        &scratch,
        &[
            "run",
            workflow.to_str().unwrap(),
            "--input",
            r#"{"repo": "x"}"#,
        ],
        "upgrade cairn",
    );
}

#[tokio::test]
async fn a_database_locked_past_the_busy_timeout_is_named() {
    let (scratch, workflow, _) = with_one_run();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", scratch.db().display()))
        .await
        .unwrap();
    let lock = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let workflow = workflow.to_str().unwrap();
    refused(
        &scratch,
        &[
            "--busy-timeout",
            "100ms",
            "run",
            workflow,
            "--input",
            r#"{"repo": "x"}"#,
        ],
        "database is locked",
    );
    lock.rollback().await.unwrap();
    conn.close().await.unwrap();
}

#[test]
fn a_busy_timeout_is_read_as_a_files_duration_is() {
    // humantime's own words blamed "values below 1ns", and 1000 years passed (probe 36 F7).
    let (scratch, _, _) = with_one_run();
    for (timeout, said) in [
        (
            "1000y",
            "bad duration \"1000y\": longer than 100 years (100y), the most cairn takes",
        ),
        ("99999999999999999999h", "longer than 100 years"),
        (
            "soon",
            "bad duration \"soon\": whole numbers each with a unit",
        ),
    ] {
        refused(&scratch, &["--busy-timeout", timeout, "runs"], said);
    }
}

#[test]
fn resuming_a_finished_run_says_so_and_exits_with_its_code() {
    let (scratch, _, id) = with_one_run();
    let before = snapshot(&scratch.db());
    let output = scratch.cairn(&["resume", &id]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("already succeeded; nothing to resume")
    );
    assert_eq!(snapshot(&scratch.db()), before);

    let failing = scratch.write(
        "failing.json",
        &json!({"name": "failing", "steps": [{"id": "no", "executor": "process", "with": {"command": ["false"]}}]}),
    );
    let failed_id = scratch.run(&failing, &[], 1);
    let output = scratch.cairn(&["resume", &failed_id]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already failed"));
    // A command for a running run names what drives an ended one again (probe 47 F5).
    for command in [&["pause"][..], &["cancel"], &["approve", "no"]] {
        let args = [&command[..1], &[failed_id.as_str()], &command[1..]].concat();
        let output = scratch.cairn(&args);
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let said = String::from_utf8_lossy(&output.stderr);
        let fix = format!("retry {failed_id}` runs what did not succeed again)");
        assert!(
            said.contains("already failed (`cairn") && said.contains(&fix),
            "{said}"
        );
    }
}

#[tokio::test]
async fn another_applications_database_is_named_and_left_byte_for_byte() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE invoices(id INTEGER PRIMARY KEY, customer TEXT NOT NULL, cents INTEGER NOT NULL)",
        "INSERT INTO invoices(customer, cents) VALUES ('ada', 4200), ('grace', 1700)",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let before = std::fs::read(&db).unwrap();
    let needle = format!(
        "{}: not a cairn database (it holds other tables: invoices)",
        db.display()
    );
    for args in [
        &["runs"][..],
        &["run", "examples/hello.json"],
        &["show", "x"],
    ] {
        refused(&scratch, args, &needle);
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "cairn {args:?} changed the file"
        );
        for suffix in ["-wal", "-shm", "-journal"] {
            let beside = format!("{}{suffix}", db.display());
            assert!(!Path::new(&beside).exists(), "cairn {args:?} left {beside}");
        }
    }
}

#[test]
fn a_directory_given_as_the_database_is_named() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.db()).unwrap();
    let needle = format!(
        "{}: is a directory, not a database file",
        scratch.db().display()
    );
    for args in [&["runs"][..], &["run", "examples/hello.json"]] {
        refused(&scratch, args, &needle);
    }
    assert_eq!(std::fs::read_dir(scratch.db()).unwrap().count(), 0);
}

#[test]
fn a_workflow_the_run_would_fail_on_is_refused_before_any_run() {
    let (scratch, _, _) = with_one_run();
    let cases = [
        (
            json!({"name": "x", "steps": [{"id": "a", "executor": "sleep", "with": {"duration": "200y"}}]}),
            "/steps/0/with/duration: bad duration \"200y\": longer than 100 years",
        ),
        (
            json!({"name": "x", "steps": [{"id": "a", "executor": "process",
                "with": {"command": ["true"], "kill_grace": "200y"}}]}),
            "/steps/0/with/kill_grace: bad duration \"200y\": longer than 100 years",
        ),
        (
            json!({"name": "x", "steps": [{"id": "a", "executor": "noop", "when": "foo.bar == 1"}]}),
            "/steps/0/when: `foo.bar == 1`: no variable `foo` here",
        ),
        (
            json!({"name": "x", "steps": [{"id": "a", "executor": "noop", "with": {"output": "${{ item }}"}}]}),
            "/steps/0/with/output: `item`: no variable `item` here",
        ),
    ];
    for (workflow, needle) in cases {
        let file = scratch.write("bad.json", &workflow);
        refused(&scratch, &["run", file.to_str().unwrap()], needle);
    }
    assert_eq!(
        scratch.json(&["runs", "--json"]).as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_database_path_sqlite_would_not_read_as_a_file_is_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let hello = std::env::current_dir().unwrap().join("examples/hello.json");
    let hello = hello.to_str().unwrap();
    let cases = [
        (
            ":memory:",
            "`:memory:` is SQLite's name for a database in memory, gone with the process: cairn keeps runs in a file",
        ),
        (
            "file:x.db",
            "`file:x.db` is an SQLite URI, which cairn does not take: cairn keeps runs in a file, to resume them (./file:x.db for a file of that name); pass --db PATH",
        ),
        ("", "a value is required for '--db <DB>'"),
    ];
    for (db, needle) in cases {
        for args in [&["runs"][..], &["run", hello], &["show", "x"]] {
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
                .current_dir(dir.path())
                .args(["--db", db])
                .args(args)
                .env_remove("CAIRN_DB")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let output = crate::finish(child, &format!("cairn --db {db:?} {args:?}"));
            let message = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "--db {db:?} {args:?}: {message}"
            );
            assert!(message.contains(needle), "--db {db:?} {args:?}: {message}");
            let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(made.is_empty(), "--db {db:?} {args:?} made {made:?}");
        }
    }
}

/// An empty file, and an SQLite database with no tables (probe 190 F2: a read made
/// cairn's schema in it), are no database yet: a read or a refused command leaves either
/// byte for byte as it was, and a run makes its database there.
#[test]
fn a_file_with_nothing_in_it_yet_is_no_database_and_a_read_leaves_it_as_it_was() {
    let no_tables = |db: &Path| {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("CREATE TABLE t (x); DROP TABLE t")
            .unwrap();
    };
    for make in [|db: &Path| std::fs::write(db, "").unwrap(), no_tables] {
        let scratch = Scratch::new();
        make(&scratch.db());
        let before = std::fs::read(scratch.db()).unwrap();
        for args in [
            &["show", "abcd"][..],
            &["history", "abcd"],
            &["cancel", "abcd"],
        ] {
            refused(&scratch, args, "no such database");
        }
        assert_eq!(scratch.json(&["runs", "--json"]), json!([]));
        assert_eq!(scratch.json(&["approvals", "--json"]), json!([]));
        // Probe 192 F1: recover printed nothing.
        assert_eq!(scratch.json(&["recover", "--json"]), json!([]));
        assert_eq!(
            std::fs::read(scratch.db()).unwrap(),
            before,
            "left as it was"
        );
        // A run makes its database there, as in a missing file.
        scratch.run(Path::new("examples/hello.json"), &[], 0);
    }
}

#[test]
fn an_empty_step_id_is_refused_before_anything_is_read() {
    let scratch = Scratch::new();
    for args in [
        &["retry", "0000", "--from", ""][..],
        &["approve", "0000", ""],
        &["deny", "0000", "", "--reason", "no"],
    ] {
        refused(&scratch, args, "a value is required");
    }
    assert!(!scratch.db().exists(), "no database was made");
}

#[test]
fn a_command_that_takes_a_run_over_names_a_missing_database_and_makes_none() {
    let scratch = Scratch::new();
    for args in [
        &["resume", "0000"][..],
        &["retry", "0000"],
        &["retry", "0000", "--from", "a"],
    ] {
        let output = scratch.cairn(args);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "cairn {args:?}: {message}");
        assert!(
            message.contains("no such database"),
            "cairn {args:?}: {message}"
        );
        assert!(!scratch.db().exists(), "cairn {args:?} made the database");
    }
    let output = scratch.cairn(&["recover"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no unfinished run to recover"));
    assert!(!scratch.db().exists(), "cairn recover made the database");
    // Listings of a database not made yet list nothing, as `cairn runs` does.
    assert_eq!(scratch.json(&["approvals", "--json"]), json!([]));
    assert!(!scratch.db().exists(), "cairn approvals made the database");
}

#[test]
fn listings_and_recover_refuse_a_missing_folder_or_a_name_too_long_and_make_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            dir.path().join("no-such-dir/cairn.db"),
            "no-such-dir/cairn.db: no such directory to hold the database; pass --db PATH",
        ),
        (
            dir.path().join(format!("{}.db", "x".repeat(300))),
            "x.db: the file name is too long for its file system (most allow 255 bytes); use a shorter one",
        ),
    ];
    // Not "no runs", nor "no unfinished run to recover": a mistyped --db says so.
    for (db, needle) in &cases {
        for args in [&["runs"][..], &["approvals"], &["recover"]] {
            let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
            command
                .arg("--db")
                .arg(db)
                .args(args)
                .env_remove("CAIRN_DB")
                .env_remove("RUST_LOG");
            let output = output_of(&mut command, &format!("cairn {args:?}"));
            let message = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
            assert!(message.contains(needle), "{args:?}: {message}");
        }
    }
    let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(made.is_empty(), "made {made:?}");
}

#[test]
fn a_run_whose_guard_cannot_be_restored_is_refused_with_the_database_as_it_was() {
    let scratch = Scratch::new();
    let root = scratch.dir.path().join("work");
    std::fs::create_dir(&root).unwrap();
    let policy = scratch.write("policy.json", &json!({"cwd": ["./work"]}));
    let step = |id: &str, command: &[&str]| json!({"id": id, "executor": "process", "with": {"command": command, "cwd": root}});
    let policy = policy.to_str().unwrap();
    // A run that failed, and a run whose engine was killed while its step ran.
    let failed = scratch.write(
        "failed.json",
        &json!({"name": "failed", "steps": [step("x", &["true"]), step("a", &["false"])]}),
    );
    let failed = scratch.run(&failed, &["--policy", policy], 1);
    let gate = scratch.marks().join("never");
    let waiting = scratch.write(
        "waiting.json",
        &json!({"name": "waiting", "steps": [step("w", &["sh", "-c", &format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())])]}),
    );
    let mut child = scratch
        .command(&["run", waiting.to_str().unwrap(), "--policy", policy])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let shown = scratch.wait_for_show(&mut child, |show| show["steps"][0]["state"] == "running");
    child.kill().unwrap();
    child.wait().unwrap();
    let unfinished = shown["id"].as_str().unwrap();
    // The policy's root is gone: neither run can be judged as it started.
    std::fs::rename(&root, scratch.dir.path().join("moved")).unwrap();
    let needle = "cannot restore the guard it started with";
    refused(&scratch, &["retry", &failed, "--from", "x"], needle);
    refused(&scratch, &["retry", &failed], needle);
    for command in ["pause", "cancel", "resume"] {
        refused(&scratch, &[command, unfinished], needle);
    }
    // A ruling on a step the run does not have is named as such (it needs no guard).
    refused(
        &scratch,
        &["approve", unfinished, "ww"],
        "no step `ww` (did you mean `w`?)",
    );
    // Once the root is back, the run is taken over as usual.
    std::fs::rename(scratch.dir.path().join("moved"), &root).unwrap();
    open_gate(&gate);
    let resumed = scratch.cairn(&["resume", unfinished]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

#[test]
fn a_step_id_too_long_for_its_column_overflows_it() {
    let scratch = Scratch::new();
    let long = "x".repeat(65_536);
    let workflow = scratch.write(
        "long.json",
        &json!({"name": "long", "steps": [{"id": long, "executor": "noop"}, {"id": "b", "executor": "noop"}]}),
    );
    let id = scratch.run(&workflow, &[], 0);
    let output = scratch.cairn(&["show", &id]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains(&format!("\n{long}  succeeded ")), "{text}");
    assert!(
        text.contains(&format!("\nb{}  succeeded ", " ".repeat(39))),
        "{text}"
    );
}

#[test]
fn a_field_run_does_not_have_is_refused_and_run_holds_the_documented_fields() {
    let (scratch, _, _) = with_one_run();
    let facts = scratch.write(
        "facts.json",
        &json!({"name": "facts", "steps": [
            {"id": "a", "executor": "noop", "with": {"output": "${{ run }}"}}]}),
    );
    let id = scratch.run(&facts, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(show["output"]["a"], json!({"id": id, "workflow": "facts"}));

    let name = scratch.write(
        "name.json",
        &json!({"name": "name", "steps": [
            {"id": "a", "executor": "noop", "with": {"output": "${{ run.name }}"}}]}),
    );
    refused(
        &scratch,
        &["run", name.to_str().unwrap()],
        "name.json:/steps/0/with/output: `run.name`: `run` has no field `name` (its fields: id, workflow)",
    );
}
