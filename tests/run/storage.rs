//! The disk under the database failing a command: a write past the file-size limit, a
//! stored definition changed outside cairn, a file name the file system refuses. Each is
//! named with the database's file and the way out, and leaves the database as it was.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

use super::bad_input::{refused, with_one_run};
use super::corrupt::tamper;
use super::scratch::Scratch;
use crate::output_of;

/// What a stored definition is changed into, outside cairn: JSON cut short.
const MALFORMED_DEFINITION: &str = "UPDATE workflows SET definition = '{\"steps\": ['";

/// `cairn --db DB args` under a file-size limit of `blocks` (`ulimit -f`: 512 bytes a block
/// in dash, 1024 in bash), with `SIGXFSZ` ignored (`trap '' XFSZ`, which the exec'd cairn
/// keeps): a write past the limit fails with `EFBIG` instead of killing cairn.
fn limited(scratch: &Scratch, blocks: u32, args: &[&str]) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .arg("--db")
        .arg(scratch.db())
        .args(args)
        .env_remove("RUST_LOG");
    output_of(
        &mut command,
        &format!("cairn {args:?} under ulimit -f {blocks}"),
    )
}

/// What `cairn` says of a write past the file-size limit on the database `db`.
fn past_the_limit(db: &Path) -> String {
    format!(
        "cairn: {}: a file of the database (it, its `-wal` or its `-shm`) reached this \
         process's file-size limit; raise it (`ulimit -f unlimited`)",
        db.display()
    )
}

#[test]
fn a_file_size_limit_met_creating_the_shared_memory_file_is_named_with_the_file() {
    // The last connection closed folded the WAL in and deleted the `-shm` file: the next
    // command's opening creates it and grows it to 32 KiB, past a limit of 8 or 16 KiB.
    let (scratch, _, id) = with_one_run();
    let db = scratch.db();
    let shm = db.with_extension("db-shm");
    assert!(!shm.exists(), "the -shm file was deleted");
    let before = std::fs::read(&db).unwrap();
    for args in [vec!["runs"], vec!["show", &id], vec!["resume", &id]] {
        let output = limited(&scratch, 16, &args);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "cairn {args:?}: {message}");
        assert!(
            message.contains(&past_the_limit(&db)),
            "cairn {args:?}: {message}"
        );
        assert_eq!(std::fs::read(&db).unwrap(), before, "cairn {args:?}");
    }
    let runs = scratch.cairn(&["runs"]);
    assert!(runs.status.success(), "{runs:?}");
}

#[test]
fn a_file_size_limit_met_migrating_a_new_database_is_an_io_error_not_corruption() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "w.json",
        &json!({"name": "w", "steps": [{"id": "a", "executor": "noop"}]}),
    );
    let db = scratch.db();
    // 10 to 100 KiB: the limit met opening the database, migrating it (from 40 KiB or so),
    // or committing the run.
    for blocks in (20..=200).step_by(20) {
        for file in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{file}", db.display()));
        }
        let output = limited(&scratch, blocks, &["run", workflow.to_str().unwrap()]);
        let message = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            continue;
        }
        assert_eq!(
            output.status.code(),
            Some(1),
            "ulimit -f {blocks}: {message}"
        );
        assert!(
            message.contains(&format!("cairn: {}", db.display()))
                && message.contains("ulimit -f")
                && !message.contains("corrupt"),
            "ulimit -f {blocks}: {message}"
        );
    }
}

#[test]
fn a_file_size_limit_met_committing_a_step_is_named_and_the_run_resumes() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "big.json",
        &json!({"name": "big", "steps": [{"pipeline": [
            {"id": "small", "executor": "noop", "with": {"output": "s"}},
            {"id": "big", "executor": "process", "with": {"command":
                ["sh", "-c", "head -c 600000 /dev/zero | tr '\\0' b"]}}
        ]}]}),
    );
    // 200 or 400 KiB: room for the database and the run, not for the 600 kB output.
    let output = limited(&scratch, 400, &["run", workflow.to_str().unwrap()]);
    let message = String::from_utf8_lossy(&output.stderr);
    // A storage failure while driving: the run stopped, resumable.
    assert_eq!(output.status.code(), Some(3), "{message}");
    assert!(
        message.contains(&format!(
            "stopped unfinished; `{} resume",
            scratch.invocation()
        )),
        "{message}"
    );
    assert!(
        message.contains(&past_the_limit(&scratch.db())),
        "{message}"
    );
    let runs = scratch.json(&["runs", "--json"]);
    let id = runs[0]["id"].as_str().unwrap();
    assert_eq!(runs[0]["state"], "running", "{runs}");
    let resumed = scratch.cairn(&["resume", id]);
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
}

#[tokio::test]
async fn a_stored_definition_changed_into_malformed_json_is_named_corrupt() {
    let (scratch, _, id) = with_one_run();
    let db = scratch.db();
    tamper(&db, MALFORMED_DEFINITION).await;
    let named = format!(
        "cairn: {}: corrupt database: column workflows.definition: run {id} (its stored \
         workflow):1:11: invalid JSON",
        db.display()
    );
    refused(&scratch, &["graph", "--run", &id], &named);
}

#[tokio::test]
async fn a_stored_definition_changed_to_no_steps_is_named_corrupt_in_every_drawing() {
    let (scratch, _, id) = with_one_run();
    let db = scratch.db();
    tamper(
        &db,
        r#"UPDATE workflows SET definition = '{"name": "x", "steps": []}'"#,
    )
    .await;
    let named = format!(
        "cairn: {}: corrupt database: column workflows.definition: run {id} (its stored \
         workflow):/steps: no steps",
        db.display()
    );
    // `svg`'s layout panicked on a graph of no steps.
    for format in ["dot", "mermaid", "svg"] {
        refused(
            &scratch,
            &["graph", "--run", &id, "--format", format],
            &named,
        );
    }
}

#[tokio::test]
async fn a_pause_or_cancel_of_a_run_whose_stored_definition_is_corrupt_records_nothing() {
    // A run no engine drives (its engine gone), its stored definition changed outside cairn:
    // carrying the command out means taking the run over, which it can never be.
    let (scratch, _, id) = with_one_run();
    let db = scratch.db();
    tamper(&db, MALFORMED_DEFINITION).await;
    tamper(&db, "UPDATE runs SET state = 'running'").await;
    let named = format!(
        "cairn: {}: corrupt database: column workflows.definition",
        db.display()
    );
    for command in ["pause", "cancel"] {
        refused(&scratch, &[command, &id], &named);
    }
}

#[test]
fn a_file_name_too_long_or_a_loop_of_links_is_bad_input_named_with_the_file() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "w.json",
        &json!({"name": "w", "steps": [{"id": "a", "executor": "noop"}]}),
    );
    let long = scratch.dir.path().join(format!("{}.db", "l".repeat(300)));
    let loop_ = scratch.dir.path().join("loop.db");
    std::os::unix::fs::symlink(&loop_, &loop_).unwrap();
    for (db, said) in [
        (&long, "the file name is too long for its file system"),
        (
            &loop_,
            "a symbolic link that leads to no file (its target does not exist, or the links loop)",
        ),
    ] {
        let output = output_of(
            Command::new(env!("CARGO_BIN_EXE_cairn"))
                .arg("--db")
                .arg(db)
                .args(["run", workflow.to_str().unwrap()]),
            "cairn run",
        );
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{message}");
        let named = format!("cairn: {}: {said}", db.display());
        assert!(message.contains(&named), "{message}");
    }
    let mut left: Vec<String> = std::fs::read_dir(scratch.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["loop.db", "marks", "w.json"], "nothing created");
}

/// A database this user may only read is refused by a command that writes before SQLite
/// opens it: opened read-only, SQLite left `-wal` and `-shm` files of this user's beside it,
/// which then kept the owner from writing their own database (probe 30 F3). As root the
/// command runs as `nobody` (root may write any file); else the file is made read-only.
#[test]
fn a_database_this_user_may_only_read_is_refused_leaving_nothing_beside_it() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    let scratch = Scratch::new();
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "noop"}]});
    let workflow = scratch.write("w.json", &workflow);
    scratch.run(&workflow, &[], 0);
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut run = scratch.command(&["run", workflow.to_str().unwrap()]);
    if nix::unistd::geteuid().is_root() {
        // A shared folder, which that user may write: SQLite would make its files there.
        mode(scratch.dir.path(), 0o1777);
        mode(&scratch.db(), 0o644);
        run.uid(65534).gid(65534);
    } else {
        mode(&scratch.db(), 0o444);
    }
    let before = std::fs::read(scratch.db()).unwrap();
    let output = output_of(&mut run, "cairn run by a reader");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("read-only to this process"), "{stderr}");
    for suffix in ["-wal", "-shm"] {
        let mut beside = scratch.db().into_os_string();
        beside.push(suffix);
        assert!(!Path::new(&beside).exists(), "{beside:?} left: {stderr}");
    }
    assert_eq!(
        std::fs::read(scratch.db()).unwrap(),
        before,
        "left unchanged"
    );
}

/// A database that cannot be made where it is named says why: the folder this user may not
/// write, not "read-only to this process (the file, its folder or the disk)" (probe 44 F9).
/// Only root can run the command as another user: elsewhere the test has nothing to check.
#[test]
fn a_database_in_a_folder_this_user_may_not_write_is_told_so() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let scratch = Scratch::new();
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "noop"}]});
    let workflow = scratch.write("w.json", &workflow);
    std::fs::set_permissions(scratch.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = scratch.dir.path().join("new.db");
    let mut run = scratch.command(&["run", workflow.to_str().unwrap()]);
    run.arg("--db").arg(&db).uid(65534).gid(65534);
    let output = output_of(&mut run, "cairn run by another user");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("new.db: cannot create the database: this user may not write its folder"),
        "{stderr}"
    );
    assert!(!db.exists());
}

/// A command that only reads closes the store as one that writes does: the last connection
/// folds the WAL into the database and removes the `-wal` and `-shm` files, which `runs`,
/// `show` and the others left behind (probe 91 F3), when they succeed and when they refuse;
/// so does a `resume` or a `retry` that finds nothing to drive (probe 104 F1).
#[test]
fn a_command_that_only_reads_leaves_nothing_beside_the_database() {
    let scratch = Scratch::new();
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "noop"}]});
    let workflow = scratch.write("w.json", &workflow);
    let run = scratch.run(&workflow, &[], 0);
    let beside = |suffix: &str| {
        let mut file = scratch.db().into_os_string();
        file.push(suffix);
        Path::new(&file).exists()
    };
    let unknown = "01a24d68-0000-7000-8000-000000000000";
    let commands: [(&[&str], i32); 10] = [
        (&["runs"], 0),
        (&["show", &run], 0),
        (&["--json", "show", &run], 0),
        (&["history", &run], 0),
        (&["approvals"], 0),
        (&["graph", "--run", &run], 0),
        (&["show", unknown], 2),
        (&["resume", &run], 0),
        (&["resume", unknown], 2),
        (&["retry", &run], 2),
    ];
    for (args, code) in commands {
        let output = scratch.cairn(args);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {output:?}");
        assert!(!beside("-wal") && !beside("-shm"), "{args:?} left them");
    }
}

/// The `-wal` and `-shm` a reader's command left beside a database in a shared folder (SQLite
/// makes them to read it) keep its owner from writing it: the owner's command says whose
/// they are and what to do, not only "read-only" (probe 31 F1). Only root can make files of
/// two other users: elsewhere the test has nothing to check.
#[test]
fn files_a_reader_left_beside_the_database_are_named_with_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let scratch = Scratch::new();
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "noop"}]});
    let workflow = scratch.write("w.json", &workflow);
    scratch.run(&workflow, &[], 0);
    let (owner, reader) = (
        nix::unistd::Uid::from_raw(1000),
        nix::unistd::Uid::from_raw(65534),
    );
    let group = |id| Some(nix::unistd::Gid::from_raw(id));
    std::fs::set_permissions(scratch.dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    nix::unistd::chown(&scratch.db(), Some(owner), group(1000)).unwrap();
    for suffix in ["-wal", "-shm"] {
        let mut beside = scratch.db().into_os_string();
        beside.push(suffix);
        std::fs::write(&beside, b"").unwrap();
        std::fs::set_permissions(&beside, std::fs::Permissions::from_mode(0o644)).unwrap();
        nix::unistd::chown(Path::new(&beside), Some(reader), group(65534)).unwrap();
    }
    // Through a link in another folder too: SQLite's files are beside the target (probe 32
    // F6: the check looked beside the link).
    let link = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(scratch.db(), link.path().join("linked.db")).unwrap();
    for db in [scratch.db(), link.path().join("linked.db")] {
        let mut run = scratch.command(&["run", workflow.to_str().unwrap()]);
        run.arg("--db").arg(&db).uid(1000).gid(1000);
        let output = output_of(&mut run, "cairn run by the owner");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(
                "cairn.db-wal: a file SQLite keeps beside the database belongs to another user \
                 (uid 65534)"
            ),
            "{db:?}: {stderr}"
        );
    }
}

/// A FIFO as `--db` is not a database for a command that writes either, said at once: the
/// check of who may write an SQLite file opened it to read its header, and waited for a
/// writer forever (probe 32 F1).
#[test]
fn a_fifo_as_the_database_is_refused_at_once_by_a_command_that_writes() {
    let scratch = Scratch::new();
    let fifo = scratch.dir.path().join("fifo.db");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "noop"}]});
    let workflow = scratch.write("w.json", &workflow);
    let mut run = scratch.command(&["run", workflow.to_str().unwrap()]);
    run.arg("--db").arg(&fifo);
    let output = output_of(&mut run, "cairn run on a FIFO");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("fifo.db: not a cairn database"), "{stderr}");
}

/// A reader's look into another application's database in WAL mode, at rest (no `-wal`
/// beside it): SQLite made a `-wal` and `-shm` of the reader's to read it, which then kept
/// the application's owner from writing it (probe 32 F4). The look reads such a file as
/// immutable: refused, nothing beside it. Only root can run a command as another user.
#[test]
fn a_readers_look_into_another_applications_wal_database_leaves_nothing_beside_it() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let scratch = Scratch::new();
    std::fs::set_permissions(scratch.dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    // A name SQLite's URIs would read otherwise, unless it is escaped.
    for name in ["app.db", "a %41?#b.db"] {
        let db = scratch.dir.path().join(name);
        wal_database(&db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .close()
            .unwrap();
        let before = std::fs::read(&db).unwrap();
        refused_to_a_reader(&scratch, &db, "it holds other tables: t", &["-wal", "-shm"]);
        assert_eq!(std::fs::read(&db).unwrap(), before, "left unchanged");
    }
    // Copied with its `-wal` and not its `-shm`: SQLite reads it only by making a `-shm`,
    // so it is refused as read-only before that (probe 36 F4).
    let app = wal_database(&scratch.dir.path().join("open.db"), "");
    app.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    app.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let copy = scratch.dir.path().join("copy.db");
    for suffix in ["", "-wal"] {
        let from = scratch.dir.path().join(format!("open.db{suffix}"));
        let to = scratch.dir.path().join(format!("copy.db{suffix}"));
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    refused_to_a_reader(&scratch, &copy, "read-only to this process", &["-shm"]);
    // In WAL mode with no table yet: this user could not make cairn's, and trying left a
    // `-wal` and `-shm` (probe 38 F6). A database with nothing in it yet, as to every
    // command that only reads (probe 190 F2): no runs, and nothing beside it.
    let empty = scratch.dir.path().join("empty.db");
    wal_database(&empty, "").close().unwrap();
    let before = std::fs::read(&empty).unwrap();
    let mut runs = scratch.command(&["runs", "--json"]);
    runs.arg("--db").arg(&empty).uid(65534).gid(65534);
    let output = output_of(&mut runs, "cairn runs by a reader");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "[]");
    assert_eq!(std::fs::read(&empty).unwrap(), before, "left unchanged");
    for suffix in ["-wal", "-shm"] {
        let file = scratch.dir.path().join(format!("empty.db{suffix}"));
        assert!(!file.exists(), "{file:?} left: {stderr}");
    }
}

/// A database an older cairn wrote, which this user may only read: refused naming the
/// upgrade a user who may write it must make first, not only as read-only (probe 115 F1),
/// with nothing left beside it; its owner's next command upgrades it, and the reader's then
/// reads it. As root the reader is `nobody`; else the file is made read-only for a while.
#[test]
fn an_older_database_this_user_may_only_read_is_told_to_be_upgraded() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    let scratch = Scratch::new();
    let workflow = json!({"name": "h", "steps": [{"id": "a", "executor": "noop"}]});
    scratch.run(&scratch.write("w.json", &workflow), &[], 0);
    // The schema of the migrations before the last, as an older cairn left it.
    let older = scratch.dir.path().join("older.db");
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = (std::fs::read_dir(migrations).unwrap())
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files.pop();
    let last = i64::try_from(files.len()).unwrap();
    let db = wal_database(&older, "");
    for file in &files {
        db.execute_batch(&std::fs::read_to_string(file).unwrap())
            .unwrap();
    }
    db.execute("ATTACH ?1 AS current", [scratch.db().to_str().unwrap()])
        .unwrap();
    let record: String = (db.query_row(
        "SELECT sql FROM current.sqlite_master WHERE name = '_sqlx_migrations'",
        [],
        |row| row.get(0),
    ))
    .unwrap();
    db.execute_batch(&record).unwrap();
    db.execute(
        "INSERT INTO _sqlx_migrations SELECT * FROM current._sqlx_migrations WHERE version <= ?1",
        [last],
    )
    .unwrap();
    db.close().unwrap();
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let root = nix::unistd::geteuid().is_root();
    let reader = || {
        let mut runs = scratch.command(&["runs"]);
        runs.arg("--db").arg(&older);
        if root {
            runs.uid(65534).gid(65534);
        }
        output_of(&mut runs, "cairn runs by a reader")
    };
    if root {
        mode(scratch.dir.path(), 0o1777);
    } else {
        mode(&older, 0o444);
    }
    let before = std::fs::read(&older).unwrap();
    let output = reader();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let told = format!(
        "older.db: written by an older cairn (schema version {last}, this cairn's is {}), and \
         read-only to this process: a user who may write it must upgrade it first",
        last + 1
    );
    assert!(stderr.contains(&told), "{stderr}");
    assert_eq!(std::fs::read(&older).unwrap(), before, "left unchanged");
    for suffix in ["-wal", "-shm"] {
        let mut beside = older.clone().into_os_string();
        beside.push(suffix);
        assert!(!Path::new(&beside).exists(), "{beside:?} left: {stderr}");
    }
    // Its owner's command upgrades it; the reader's then reads it.
    if !root {
        mode(&older, 0o644);
    }
    let mut owners = scratch.command(&["runs"]);
    owners.arg("--db").arg(&older);
    assert!(output_of(&mut owners, "cairn runs").status.success());
    if !root {
        mode(&older, 0o444);
    }
    let output = reader();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A database at `path` in WAL mode, readable by all, made by `sql`: its connection, open.
fn wal_database(path: &Path, sql: &str) -> rusqlite::Connection {
    use std::os::unix::fs::PermissionsExt;

    let app = rusqlite::Connection::open(path).unwrap();
    app.pragma_update(None, "journal_mode", "wal").unwrap();
    app.execute_batch(sql).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    app
}

/// Runs `cairn runs` on `db` as `nobody`: refused (exit 2) saying `said`, with none of the
/// files `beside` (suffixes of `db`'s name) left beside it.
fn refused_to_a_reader(scratch: &Scratch, db: &Path, said: &str, beside: &[&str]) {
    use std::os::unix::process::CommandExt;

    let mut runs = scratch.command(&["runs"]);
    runs.arg("--db").arg(db).uid(65534).gid(65534);
    let output = output_of(&mut runs, "cairn runs by a reader");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(said), "{stderr}");
    for suffix in beside {
        let mut file = db.as_os_str().to_owned();
        file.push(suffix);
        assert!(!Path::new(&file).exists(), "{file:?} left: {stderr}");
    }
}
