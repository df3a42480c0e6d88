//! A run's directory: where `cairn run` started it is where its steps run, and what its
//! guard judges them in, whichever process drives the rest of it.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use super::control::wait_for_file;
use super::scratch::Scratch;

/// `a`'s first attempt waits at the gate `open` (after `held`); each attempt of either step
/// marks the directory it runs in, in a file of its own there. Every path is relative: the
/// guard's `cwd` roots allow a redirection only to a literal target inside them.
fn script(step: &str) -> String {
    let hold =
        "if [ $CAIRN_ATTEMPT = 1 ]; then touch held; while [ ! -e open ]; do sleep 0.02; done; fi";
    let hold = if step == "a" { hold } else { ":" };
    format!("pwd -P >> {step}.marks; {hold}; echo '{{}}'")
}

/// A scratch dir with `project` and `elsewhere` in it, and a run of `a` then `b` started in
/// `project` (with `extra` arguments) and killed while `a` waits at its gate, opened since.
/// Returns the run's id.
fn killed_while_a_waits(scratch: &Scratch, extra: &[&str]) -> String {
    let root = scratch.dir.path();
    for dir in ["project", "elsewhere"] {
        std::fs::create_dir(root.join(dir)).unwrap();
    }
    let step = |id| json!({"id": id, "executor": "process", "with": {"command": ["sh", "-c", script(id)]}});
    let workflow = scratch.write(
        "w.json",
        &json!({"name": "here", "steps": [{"pipeline": [step("a"), step("b")]}]}),
    );
    let project = root.join("project");
    let mut args = vec!["run", workflow.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut child = (in_dir(scratch, &project, &args))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for_file(scratch, &mut child, &project.join("held"));
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(project.join("open"), "").unwrap();
    run
}

/// `cairn ARGS` on the scratch database, started in `dir`.
fn in_dir(scratch: &Scratch, dir: &Path, args: &[&str]) -> Command {
    let mut command = scratch.command(args);
    command.current_dir(dir);
    command
}

/// `cairn resume RUN` from `dir`, to its end; checks that the run succeeded.
fn resume_from(scratch: &Scratch, dir: &Path, run: &str) {
    let resumed = crate::output_of(&mut in_dir(scratch, dir, &["resume", run]), "cairn resume");
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{said}");
}

/// The directories the attempts of `step` ran in, one line each, as marked in `dir`.
fn marked(dir: &Path, step: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{step}.marks"))).unwrap_or_default()
}

#[test]
fn a_resume_from_another_directory_runs_the_rest_where_the_run_was_started() {
    let scratch = Scratch::new();
    // The guard allows the project only (a `cwd` root, taken from the policy's folder).
    let policy = scratch.write(
        "policy.json",
        &json!({"default": "allow", "cwd": ["project"]}),
    );
    let run = killed_while_a_waits(&scratch, &["--policy", policy.to_str().unwrap()]);
    let (project, elsewhere) = (
        scratch.dir.path().join("project"),
        scratch.dir.path().join("elsewhere"),
    );
    resume_from(&scratch, &elsewhere, &run);
    // `a` again (its interrupted attempt's successor) and `b`, in the project, judged there.
    let started_in = project.canonicalize().unwrap().display().to_string();
    assert_eq!(
        marked(&project, "a"),
        format!("{started_in}\n{started_in}\n")
    );
    assert_eq!(marked(&project, "b"), format!("{started_in}\n"));
    assert_eq!(marked(&elsewhere, "b"), "");
    assert!(
        shown(&scratch, &elsewhere, &run).contains(&format!("\ndirectory {started_in}\n")),
        "`cairn show` names where the run's steps run"
    );
}

#[test]
fn a_run_recorded_before_directories_were_stored_runs_where_its_driver_runs() {
    let scratch = Scratch::new();
    let run = killed_while_a_waits(&scratch, &[]);
    // As a database written before migration 18 has it.
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    db.execute("UPDATE runs SET cwd = NULL WHERE id = ?", [&run])
        .unwrap();
    drop(db);
    let elsewhere = scratch.dir.path().join("elsewhere");
    resume_from(&scratch, &elsewhere, &run);
    let driven_in = elsewhere.canonicalize().unwrap().display().to_string();
    assert_eq!(marked(&elsewhere, "a"), format!("{driven_in}\n"));
    assert_eq!(marked(&elsewhere, "b"), format!("{driven_in}\n"));
    assert!(!shown(&scratch, &elsewhere, &run).contains("\ndirectory "));
}

#[test]
fn a_directory_whose_name_is_not_utf8_is_shown_with_the_byte_escaped() {
    let scratch = Scratch::new();
    let run = killed_while_a_waits(&scratch, &[]);
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    let set = "UPDATE runs SET cwd = ?1 WHERE id = ?2";
    db.execute(set, rusqlite::params![b"/tmp/dd\xff".to_vec(), run])
        .unwrap();
    drop(db);
    let shown = shown(&scratch, scratch.dir.path(), &run);
    assert!(shown.contains("\ndirectory /tmp/dd\\xff\n"), "{shown}");
}

/// What `cairn show RUN` prints, run from `dir`.
fn shown(scratch: &Scratch, dir: &Path, run: &str) -> String {
    let show = crate::output_of(&mut in_dir(scratch, dir, &["show", run]), "cairn show");
    assert_eq!(show.status.code(), Some(0));
    String::from_utf8(show.stdout).unwrap()
}
