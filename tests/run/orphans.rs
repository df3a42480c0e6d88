//! A SIGKILLed engine leaves no step process behind: not even a background grandchild of a
//! step, outside the reach of anything the engine could do before it died.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use super::scratch::{Scratch, holds_within, states};

/// Whether `pid` is gone: missing from /proc, or a zombie (dead, awaiting its reaping by init).
pub(super) fn gone(pid: i32) -> bool {
    matches!(state(pid).as_deref(), None | Some("Z" | "X"))
}

/// The state of process `pid` in `/proc/PID/stat` (`S`, `R`, `T` stopped, `Z`…); none if it
/// is missing.
pub(super) fn state(pid: i32) -> Option<String> {
    state_and_parent(pid).map(|(state, _)| state)
}

/// The state of process `pid` ([`state`]) and its parent's pid; none if it is missing.
pub(super) fn state_and_parent(pid: i32) -> Option<(String, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state and the parent's pid follow the command name, which is in parentheses and
    // may hold spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.to_owned();
    Some((state, fields.next()?.parse().ok()?))
}

/// Waits (within a generous bound) until `pid` is gone; past it, kills `pid` (so that it
/// does not outlive the test) and fails.
pub(super) fn wait_gone(pid: i32, within: Duration) {
    if !holds_within(within, || gone(pid)) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
        panic!("process {pid} was still running {within:?} later");
    }
}

#[test]
fn a_killed_engine_takes_its_steps_grandchildren_with_it() {
    killed_engine_takes_the_grandchild(&["sh", "-c", "sleep 1000 & echo $! > \"$PIDFILE\"; wait"]);
}

/// A job a step's shell put in a group of its own, whose leader has exited: the reaper
/// kills the process alone, as it cannot kill the group by its leader (probe 180 F1: it ran
/// on, beside the attempt a resume started again). The step says the leader has exited
/// (`wait`) before it writes the pid the test waits for.
#[test]
fn a_killed_engine_takes_a_job_whose_groups_leader_has_exited() {
    let script = "set -m; ( sleep 1000 & echo $! > \"$PIDFILE.tmp\" ) & wait $!; \
                  mv \"$PIDFILE.tmp\" \"$PIDFILE\"; exec sleep 1000";
    killed_engine_takes_the_grandchild(&["bash", "-c", script]);
}

/// The same job, named with a newline (`/proc/PID/comm`): the reaper reads the whole of its
/// `/proc/PID/stat` (probe 181 F1: it read the first line, found no session, and spared it).
#[test]
fn a_killed_engine_takes_a_job_whose_name_holds_a_newline() {
    // It blocks in a builtin (opening a FIFO no one writes): no child of its own, which a
    // kill could reach instead.
    let job =
        "printf 'x\\ny' > /proc/$$/comm; echo $$ > \"$PIDFILE.tmp\"; read x < \"$PIDFILE.fifo\"";
    let script = format!(
        "mkfifo \"$PIDFILE.fifo\"; set -m; ( sh -c '{}' & ) & wait $!; while [ ! -e \"$PIDFILE.tmp\" ]; do sleep 0.01; done; \
         mv \"$PIDFILE.tmp\" \"$PIDFILE\"; exec sleep 1000",
        job.replace('\'', "'\\''")
    );
    killed_engine_takes_the_grandchild(&["bash", "-c", &script]);
}

/// Runs a step whose `command` writes its grandchild's pid to `$PIDFILE` and runs on, kills
/// the engine once the pid is written, and checks the grandchild dies.
fn killed_engine_takes_the_grandchild(command: &[&str]) {
    let scratch = Scratch::new();
    let pidfile = scratch.dir.path().join("grandchild.pid");
    let workflow = scratch.write(
        "orphan.json",
        &json!({
            "name": "orphan",
            "steps": [{
                "id": "spawner",
                "executor": "process",
                "with": {"command": command, "env": {"PIDFILE": pidfile.to_str().unwrap()}}
            }]
        }),
    );
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    scratch.wait_for_show(&mut child, |show| {
        states(show)["spawner"] == "running" && written(&pidfile)
    });
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .expect("the grandchild's pid");
    assert!(
        !gone(grandchild),
        "the grandchild {grandchild} is not running"
    );

    child.kill().unwrap();
    child.wait().unwrap();

    // Far longer than the reaper needs; the grandchild would otherwise sleep 1000 s.
    wait_gone(grandchild, Duration::from_secs(60));
}

/// Whether the step has written its grandchild's pid (a whole line).
fn written(pidfile: &Path) -> bool {
    std::fs::read_to_string(pidfile).is_ok_and(|text| text.ends_with('\n'))
}
