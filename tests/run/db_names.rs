//! Database paths SQLite cannot take or nothing can be made at: bad input (exit 2), named,
//! and nothing made.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use crate::{output_of, root};

/// Runs `command` (cairn, or a shell that becomes cairn) and expects exit 2 with `needle`
/// in its message.
fn refused(command: &mut Command, what: &str, needle: &str) {
    let output = output_of(command.env_remove("CAIRN_DB"), what);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{what}: {message}");
    assert!(message.contains(needle), "{what}: {message}");
}

/// The example workflow every case runs.
fn hello() -> std::path::PathBuf {
    root().join("examples/hello.json")
}

#[test]
fn a_database_name_that_is_not_utf8_is_refused_named_escaped_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let db = OsStr::from_bytes(b"runs\xff.db");
    let hello = hello();
    for args in [
        &[OsStr::new("run"), hello.as_os_str()][..],
        &["runs".as_ref()],
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .current_dir(dir.path())
            .arg("--db")
            .arg(db)
            .args(args);
        refused(
            &mut command,
            &format!("cairn --db runs\\xff.db {args:?}"),
            "cairn: runs\\xff.db: the database's name is not UTF-8, which SQLite does not take; use a UTF-8 name",
        );
        let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(made.is_empty(), "{args:?} made {made:?}");
    }
}

#[test]
fn a_deleted_working_directory_holds_no_database_as_a_missing_folder_holds_none() {
    let dir = tempfile::tempdir().unwrap();
    let hello = hello();
    let cairn = env!("CARGO_BIN_EXE_cairn");
    for args in [
        &["run", hello.to_str().unwrap()][..],
        &["runs"],
        &["recover"],
    ] {
        let gone = dir.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        // As the kernel names it (a temporary folder's path may hold a symbolic link).
        let named = gone.canonicalize().unwrap();
        // The shell enters the folder, deletes it, and becomes cairn there (the default
        // `cairn.db`, a bare name).
        let mut command = Command::new("sh");
        command
            .args(["-c", r#"cd "$1" && rmdir "$1" && shift && exec "$@""#, "sh"])
            .arg(&gone)
            .arg(cairn)
            .args(args);
        refused(
            &mut command,
            &format!("cairn {args:?} in a deleted folder"),
            // The folder named as the kernel names a deleted working directory.
            &format!(
                "cairn: {} (deleted)/cairn.db: no such directory to hold the database",
                named.display()
            ),
        );
        assert!(!gone.exists(), "{args:?} made its folder again");
    }
}

#[test]
fn a_database_with_two_names_is_refused_through_each_and_left_as_it_was() {
    // SQLite keeps the write-ahead log beside the name it opens: through a hard link, each
    // name had its own, and a succeeded run was lost (probe 39 F2).
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let cairn = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command.current_dir(dir.path()).env_remove("CAIRN_DB");
        command
    };
    let made = output_of(cairn().arg("--db").arg(&a).arg("run").arg(hello()), "run");
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    std::fs::hard_link(&a, &b).unwrap();
    let before = std::fs::read(&a).unwrap();
    for db in ["a.db", "b.db"] {
        for args in [&["runs"][..], &["run", hello().to_str().unwrap()]] {
            refused(
                cairn().args(["--db", db]).args(args),
                &format!("cairn --db {db} {args:?}"),
                &format!("cairn: {db}: the database file has 2 names (hard links)"),
            );
        }
    }
    assert_eq!(std::fs::read(&a).unwrap(), before, "the file is as it was");
    assert!(
        !dir.path().join("b.db-wal").exists(),
        "no log of the second name"
    );
}

/// `CAIRN_DB` names the database when `--db` is not given (an empty one counts as unset,
/// as a shell's `CAIRN_DB=` means); `--db` given, before or after the command, wins. A usage
/// error does not name `--db <DB>` as given where only `CAIRN_DB` is (probe 192 F2).
#[test]
fn cairn_db_names_the_database_when_db_is_not_given_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let cairn = |db: &str, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .args(args)
            .current_dir(dir.path())
            .env("CAIRN_DB", db);
        output_of(&mut command, &format!("CAIRN_DB={db} cairn {args:?}"))
    };
    let hello = hello();
    let hello = hello.to_str().unwrap();
    for (db, args, made) in [
        ("", &["run", hello][..], "cairn.db"),
        ("env.db", &["run", hello], "env.db"),
        ("env.db", &["run", hello, "--db", "after.db"], "after.db"),
        ("env.db", &["--db", "before.db", "run", hello], "before.db"),
    ] {
        let output = cairn(db, args);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {said}");
        assert!(dir.path().join(made).is_file(), "{args:?} made no {made}");
    }
    for args in [&["run"][..], &["deny", "x", "y"], &["show"]] {
        let output = cairn("env.db", args);
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains("Usage: cairn"), "{args:?}: {said}");
        assert!(!said.contains("--db <DB>"), "{args:?}: {said}");
    }
}

/// An argument that is not UTF-8 is named with what it was given as (probes 192 F4, 197 F2,
/// 198 F5); a path cairn takes as it is does not hide another error (probe 198 F3).
#[test]
fn an_argument_not_utf8_is_named_and_hides_no_other_error() {
    let dir = tempfile::tempdir().unwrap();
    let said = |args: &[&[u8]]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command.current_dir(dir.path()).env_remove("CAIRN_DB");
        command.args(args.iter().map(|arg| OsStr::from_bytes(arg)));
        let output = output_of(&mut command, "cairn");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let reason = said(&[b"deny", b"r", b"s", b"--reason=\xffno"]);
    assert!(
        reason.contains("`--reason=\\xffno`, given as --reason,"),
        "{reason}"
    );
    let run = said(&[b"show", b"--json", b"01a2\xff"]);
    assert!(run.contains("`01a2\\xff`, given as <RUN>,"), "{run}");
    let unexpected = said(&[b"runs", b"x\xff"]);
    assert!(
        unexpected.contains("the argument `x\\xff` is not UTF-8"),
        "{unexpected}"
    );
    let other = said(&[b"graph", b"--format", b"bogus", b"wf\xff.json"]);
    assert!(other.contains("invalid value 'bogus'"), "{other}");
}
