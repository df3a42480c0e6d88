//! A SIGKILLed engine leaves no step process behind: not even a background grandchild of a
//! step, outside the reach of anything the engine could do before it died.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use super::scratch::{Scratch, holds_within, states, wait_until};

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

/// A resume right after a crash starts a step's next attempt only once the dead engine's
/// attempt is gone, even before the dead engine's reaper has killed it (probe 187 F1:
/// attempt 2 ran beside attempt 1). The reaper is held stopped. The engine runs under a
/// shell that adopts its orphans (a child subreaper), as init keeps them alive on a host:
/// a container's first process may kill the orphans it inherits at once, which would hide
/// the race.
#[test]
fn a_resume_after_a_crash_starts_a_step_again_only_once_its_last_attempt_is_gone() {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    // Each attempt notes whether the last one still runs (a zombie has ended), then holds.
    let step = r#"cd "$DIR"; if [ -f pid ] && read -r s < "/proc/$(cat pid)/stat"; then
        case "${s##*) }" in Z*) ;; *) echo "$CAIRN_ATTEMPT" >> overlap ;; esac; fi
        echo $$ > pid; echo "$CAIRN_ATTEMPT" >> started
        while [ ! -e gate ]; do sleep 0.01; done"#;
    let workflow = scratch.write(
        "w.json",
        &json!({"name": "w", "steps": [{"id": "s", "executor": "process",
            "with": {"command": ["sh", "-c", step], "env": {"DIR": dir.to_str().unwrap()}}}]}),
    );
    let run = scratch.command(&["run", workflow.to_str().unwrap()]);
    let mut adopter = Command::new("sh");
    adopter
        .args([
            "-c",
            "\"$@\" & echo $! > engine.pid; wait; while [ ! -e done ]; do sleep 0.01; done",
            "sh",
        ])
        .arg(run.get_program())
        .args(run.get_args())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let subreaper = || nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from);
    // SAFETY: between fork and exec this only calls `prctl`, which is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        adopter.pre_exec(subreaper);
    }
    let mut adopter = adopter.spawn().unwrap();
    let started = dir.join("started");
    wait_until("attempt 1 to start", || {
        std::fs::read_to_string(&started).is_ok_and(|text| text == "1\n")
    });
    let engine = std::fs::read_to_string(dir.join("engine.pid")).unwrap();
    let engine: i32 = engine.trim().parse().unwrap();
    // The reaper: the engine's child that runs the reaper's script.
    let children = std::fs::read_to_string(format!("/proc/{engine}/task/{engine}/children"));
    let reaper = (children.unwrap().split_whitespace())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.windows(12).any(|window| window == b"cairn-reaper"))
        })
        .expect("the engine's reaper")
        .to_owned();
    let send = |signal: &str, pid: &str| {
        let sent = Command::new("kill").args([signal, pid]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    };
    send("-STOP", &reaper);
    send("-KILL", &engine.to_string());
    let id = scratch.json(&["runs", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut resume = scratch
        .command(&["resume", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("attempt 2 to start", || {
        std::fs::read_to_string(&started).is_ok_and(|text| text == "1\n2\n")
    });
    let overlap = std::fs::read_to_string(dir.join("overlap")).unwrap_or_default();
    send("-CONT", &reaper);
    std::fs::write(dir.join("gate"), "").unwrap();
    std::fs::write(dir.join("done"), "").unwrap();
    assert!(
        resume.wait().unwrap().success(),
        "the resume finished the run"
    );
    adopter.wait().unwrap();
    assert_eq!(overlap, "", "attempt 2 started while attempt 1 still ran");
}
