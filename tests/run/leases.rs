//! A run's lease held by another process only to carry out a pause or a cancel (its owner
//! id begins with `commands:`): `cairn resume` and `recover` wait for it, and a signal ends
//! that wait, through the real binary and a real SQLite file. The leases are written into
//! the run's row for this test's own process, so that they stay live as long as the test
//! needs.

use std::process::Stdio;

use super::control::{
    HOLD, code, executions, held, held_by_an_engine_that_died, history, show, step, wait_for_file,
};
use super::scratch::{Scratch, signal, wait_until};
use crate::{HANG, finish};

/// Writes into the row of run `run` a lease of owner `owner` held by this test's process,
/// live (its pid and its start time, field 22 of /proc/self/stat, as cairn reads them) for
/// [`HANG`]; `None` clears the lease.
fn lease_of_this_test(scratch: &Scratch, run: &str, owner: Option<&str>) {
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    let Some(owner) = owner else {
        let clear = "UPDATE runs SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL,
                     lease_pid_start = NULL, lease_expires = NULL WHERE id = ?1";
        db.execute(clear, [run]).unwrap();
        return;
    };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    let start: i64 = after_name
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let expires = (now.unwrap() + HANG).as_millis() as i64;
    db.execute(
        "UPDATE runs SET lease_owner = ?1, lease_host = ?2, lease_pid = ?3, lease_pid_start = ?4,
                         lease_expires = ?5 WHERE id = ?6",
        rusqlite::params![owner, host.trim(), std::process::id(), start, expires, run],
    )
    .unwrap();
}

/// A `cairn pause` or `cancel` carrying itself out on a run no engine drives holds the run's
/// lease for a moment (0.3 s for 100,000 steps), under an owner id that begins with
/// `commands:`. A `cairn resume` that finds such a lease waits for it, saying so, then
/// resumes the run paused meanwhile; a lease of an engine driving the run is refused at once.
#[test]
fn a_resume_waits_for_a_pause_being_carried_out_then_continues_the_run() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    assert_eq!(code(&scratch.cairn(&["pause", &run])), Some(0));
    scratch.open_gate();

    lease_of_this_test(&scratch, &run, Some("an-engine"));
    let refused = scratch.cairn(&["resume", &run]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(code(&refused), Some(2), "{said}");
    let pid = std::process::id();
    assert!(
        said.contains(&format!("is being driven by pid {pid} on")),
        "{said}"
    );
    assert!(!said.contains("waiting for pid"), "{said}");

    lease_of_this_test(&scratch, &run, Some("commands:a-pause"));
    let log = std::fs::File::create(scratch.dir.path().join("run.log")).unwrap();
    let mut resume = scratch
        .command(&["resume", &run])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    scratch.wait_logged(&mut resume, &format!("waiting for pid {pid} on"));
    // The pause has been carried out (the run was paused before): it gives the lease back.
    lease_of_this_test(&scratch, &run, None);
    let resumed = finish(resume, "cairn resume");
    let said = std::fs::read_to_string(scratch.dir.path().join("run.log")).unwrap();
    assert_eq!(code(&resumed), Some(0), "{said}");
    assert!(
        said.contains("carrying out a pause or a cancel sent to the run"),
        "{said}"
    );
    assert_eq!(show(&scratch, &run)["state"], "succeeded");
    assert_eq!(
        executions(&scratch, "a").len(),
        2,
        "killed once, then resumed"
    );
}

/// A SIGTERM to a `cairn resume` or `recover` waiting for a lease held to carry out a pause
/// or a cancel ends the wait: exit 3, the run left as it was, nothing started. (The signal
/// was swallowed: they waited on to the lease's expiry, took the run over and started its
/// step, and only then stopped.) A later resume carries the run on.
#[test]
fn a_signal_to_a_resume_waiting_for_a_command_being_carried_out_stops_it_starting_nothing() {
    for command in ["resume", "recover"] {
        let scratch = Scratch::new();
        let run = held_by_an_engine_that_died(&scratch);
        scratch.open_gate();
        lease_of_this_test(&scratch, &run, Some("commands:a-pause"));
        let before = history(&scratch, &run);
        let log = std::fs::File::create(scratch.dir.path().join("run.log")).unwrap();
        let args = match command {
            "resume" => vec!["resume", &run],
            _ => vec!["recover"],
        };
        let mut waiting = (scratch.command(&args).stdout(Stdio::piped()).stderr(log))
            .spawn()
            .unwrap();
        let pid = std::process::id();
        scratch.wait_logged(&mut waiting, &format!("waiting for pid {pid} on"));
        let term = std::process::Command::new("kill")
            .args(["-TERM", &waiting.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let stopped = finish(waiting, "cairn after SIGTERM");
        let said = std::fs::read_to_string(scratch.dir.path().join("run.log")).unwrap();
        assert_eq!(code(&stopped), Some(3), "{command}: {said}");
        assert!(
            said.contains(&format!(
                "stopped before taking run {run} over: nothing was started; `{} resume {run}` carries it on",
                scratch.invocation()
            )),
            "{command}: {said}"
        );
        assert_eq!(
            history(&scratch, &run),
            before,
            "{command}: nothing written"
        );
        assert_eq!(executions(&scratch, "a").len(), 1, "{command}: nothing run");

        lease_of_this_test(&scratch, &run, None);
        let resumed = scratch.cairn(&["resume", &run]);
        let said = String::from_utf8_lossy(&resumed.stderr);
        assert_eq!(code(&resumed), Some(0), "{command}: {said}");
        assert_eq!(executions(&scratch, "a").len(), 2);
    }
}

#[test]
fn show_says_which_engine_drives_a_run_or_that_none_does() {
    let scratch = Scratch::new();
    let run = held_by_an_engine_that_died(&scratch);
    let engine_line = |scratch: &Scratch| {
        let shown = scratch.cairn(&["show", &run]);
        let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
        let line = shown.lines().find(|line| line.starts_with("engine "));
        line.unwrap_or_else(|| panic!("{shown}")).to_owned()
    };
    let resume = format!("`{} resume {run}` carries it on", scratch.invocation());
    // Its engine was killed: the lease it left names a process that is gone.
    let line = engine_line(&scratch);
    assert!(
        line.contains("is gone; ") && line.ends_with(&resume),
        "{line}"
    );
    let me = format!("pid {} on ", std::process::id());
    lease_of_this_test(&scratch, &run, Some("engine-1"));
    let line = engine_line(&scratch);
    assert!(line.contains(&me) && line.contains("drives it"), "{line}");
    lease_of_this_test(&scratch, &run, Some("commands:engine-1"));
    let line = engine_line(&scratch);
    assert!(
        line.contains(&me) && line.contains("carries out a pause"),
        "{line}"
    );
    lease_of_this_test(&scratch, &run, None);
    assert_eq!(engine_line(&scratch), format!("engine    none: {resume}"));
}

/// An engine stopped (SIGSTOP) until its lease ran out, while a `cairn cancel` ended its run,
/// saying the stopped engine's steps may still run: continued, it finds its lease taken, says
/// the run was ended meanwhile, and exits as the run ended, cancelled (1), not as a run left
/// resumable (3) (probe 16 of stop 56).
#[test]
fn an_engine_continued_after_its_run_was_cancelled_meanwhile_exits_as_the_run_ended() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "c.json",
        &serde_json::json!({"name": "c", "steps": [step(&scratch, "a", HOLD, serde_json::json!({}))]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let run = wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    signal(&child, "-STOP");
    // The lease lasts 30 s unless renewed: `show` says when it ran out.
    wait_until("the stopped engine's lease to run out", || {
        let shown = scratch.cairn(&["show", &run]);
        String::from_utf8_lossy(&shown.stdout).contains("when its lease ran out")
    });
    let cancel = scratch.cairn(&["cancel", &run]);
    assert_eq!(
        code(&cancel),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    // The stopped engine still runs: the step it started may too, and the cancel says so.
    let told = String::from_utf8_lossy(&cancel.stderr);
    let pid = child.id();
    assert!(
        told.contains(&format!("note: the engine that drove it, pid {pid} on ")),
        "{told}"
    );
    assert!(
        told.contains("the steps it started may run on until it goes on"),
        "{told}"
    );
    signal(&child, "-CONT");
    scratch.open_gate();
    let output = finish(child, "cairn run");
    let said = std::fs::read_to_string(scratch.dir.path().join("run.log")).unwrap();
    assert_eq!(code(&output), Some(1), "{said}");
    assert!(
        said.contains("another process ended the run meanwhile"),
        "{said}"
    );
    assert_eq!(show(&scratch, &run)["state"], "cancelled");
}

/// An engine frozen (SIGSTOP) past its lease, whose run another engine took over and started
/// again, kills its copy at once when continued: no SIGTERM and no kill grace, which would
/// let it run on beside the new attempt (probe 50 F2: for the whole grace). The lease is
/// made to run out by writing it, not by waiting 30 s.
#[test]
fn a_frozen_engine_whose_run_was_taken_over_kills_its_copy_without_a_grace() {
    let scratch = Scratch::new();
    // Each attempt records its pid, and a SIGTERM in a file of its own; it ignores SIGTERM.
    let a = "trap 'touch \"$DIR/a.$CAIRN_ATTEMPT.termed\"' TERM; \
        echo $$ > \"$DIR/a.$CAIRN_ATTEMPT.pid\"; \
        while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";
    let mut a = step(&scratch, "a", a, serde_json::json!({}));
    a["with"]["kill_grace"] = serde_json::json!("1h");
    let workflow = scratch.write("f.json", &serde_json::json!({"name": "f", "steps": [a]}));
    let mut first = scratch.spawn_logged(&workflow);
    let pid_of = |attempt: u32| scratch.dir.path().join(format!("a.{attempt}.pid"));
    let run = wait_for_file(&scratch, &mut first, &pid_of(1));
    signal(&first, "-STOP");
    let mut second = scratch.take_over_now(&run);
    wait_for_file(&scratch, &mut second, &pid_of(2));
    signal(&first, "-CONT");
    let output = finish(first, "the frozen cairn, continued");
    let said = std::fs::read_to_string(scratch.dir.path().join("run.log")).unwrap();
    assert_eq!(code(&output), Some(3), "{said}");
    assert!(
        !scratch.dir.path().join("a.1.termed").exists(),
        "the first attempt was sent SIGTERM, then given its grace: {said}"
    );
    scratch.open_gate();
    let output = finish(second, "cairn resume --wait");
    assert_eq!(
        code(&output),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!scratch.dir.path().join("a.2.termed").exists());
}
