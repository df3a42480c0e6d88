//! A scratch directory for end-to-end runs: a database, a marker directory, workflow files,
//! and the real `cairn` binary pointed at them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{HANG, output_of};

/// A scratch directory with a database, a marker directory and a workflow file.
pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let scratch = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(scratch.marks()).unwrap();
        scratch
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("cairn.db")
    }

    /// How cairn's hints call it on this scratch's database: `cairn --db PATH`, which a hint
    /// pasted as printed needs (the database is not `./cairn.db`).
    pub(crate) fn invocation(&self) -> String {
        format!("cairn --db {}", self.db().display())
    }

    pub(crate) fn marks(&self) -> PathBuf {
        self.dir.path().join("marks")
    }

    /// The gate [`super::control::HOLD`] waits for: the file `open` in the scratch dir.
    pub(crate) fn gate(&self) -> PathBuf {
        self.dir.path().join("open")
    }

    /// Opens [`Scratch::gate`]: every step held there goes on.
    pub(crate) fn open_gate(&self) {
        open_gate(&self.gate());
    }

    pub(crate) fn write(&self, name: &str, workflow: &Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(workflow).unwrap()).unwrap();
        path
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env_remove("RUST_LOG");
        with_default_signals(&mut command);
        command
    }

    /// Runs cairn to its end (within [`HANG`]) and returns what it printed.
    pub(crate) fn cairn(&self, args: &[&str]) -> Output {
        output_of(&mut self.command(args), &format!("cairn {args:?}"))
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let output = self.cairn(args);
        assert!(
            output.status.success(),
            "cairn {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Runs `workflow` with `cairn run --json` and `extra` arguments; checks the exit code
    /// and returns the run's id.
    pub(crate) fn run(&self, workflow: &Path, extra: &[&str], code: i32) -> String {
        let mut args = vec!["run", workflow.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let output = self.cairn(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "cairn {args:?}: {stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        report["id"].as_str().unwrap().to_owned()
    }

    /// `cairn resume RUN --wait` in the background, once the lease of `run`'s engine (stopped,
    /// so it renews nothing) has been made to run out by writing it: it takes the run over
    /// without waiting the lease's 30 s.
    pub(crate) fn take_over_now(&self, run: &str) -> Child {
        let db = rusqlite::Connection::open(self.db()).unwrap();
        let expire = "UPDATE runs SET lease_expires = 0 WHERE id = ?1";
        db.execute(expire, [run]).unwrap();
        self.command(&["resume", run, "--wait"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// How many times each step left its marker.
    pub(crate) fn executions(&self) -> BTreeMap<String, usize> {
        std::fs::read_dir(self.marks())
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let count = std::fs::read_to_string(entry.path())
                    .unwrap()
                    .lines()
                    .count();
                (entry.file_name().to_string_lossy().into_owned(), count)
            })
            .collect()
    }

    /// `cairn run WORKFLOW --json` in the background, its stderr written to `run.log` in the
    /// scratch dir ([`Scratch::wait_logged`]).
    pub(crate) fn spawn_logged(&self, workflow: &Path) -> Child {
        let log = std::fs::File::create(self.dir.path().join("run.log")).unwrap();
        self.command(&["run", workflow.to_str().unwrap(), "--json"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// Waits until the `cairn` of [`Scratch::spawn_logged`] has said `what` on its stderr:
    /// that it read a pause or a cancel (marked handled only by the commit that carries it
    /// out), or that a signal made it stop starting new work.
    pub(crate) fn wait_logged(&self, child: &mut Child, what: &str) {
        let log = self.dir.path().join("run.log");
        let said = || std::fs::read_to_string(&log).unwrap_or_default();
        self.wait_for_show(child, |_| said().contains(what));
    }

    /// Polls `cairn show --json` until `ready` holds; returns the show output that satisfied it.
    /// `ready` should hold of a state the run stays in (a step held at a gate), so that
    /// whether it is seen does not depend on how fast the polling is.
    pub(crate) fn wait_for_show(&self, child: &mut Child, ready: impl Fn(&Value) -> bool) -> Value {
        let mut seen = None;
        wait_until("the kill point to come", || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "cairn ended ({status}) before the kill point: {}",
                    stderr_of(child)
                );
            }
            seen = self.show_of_the_first_run().filter(|show| ready(show));
            seen.is_some()
        });
        seen.unwrap()
    }

    /// `cairn show --json` of the run `cairn runs` lists first, if there is one yet and both
    /// commands succeed.
    fn show_of_the_first_run(&self) -> Option<Value> {
        let output = self.cairn(&["runs", "--json"]);
        if !output.status.success() {
            return None;
        }
        let runs: Value = serde_json::from_slice(&output.stdout).unwrap();
        let id = runs.get(0)?["id"].as_str()?;
        let show = self.cairn(&["show", id, "--json"]);
        show.status
            .success()
            .then(|| serde_json::from_slice(&show.stdout).unwrap())
    }
}

/// Polls `condition` until it holds; fails the test, naming `what` it waited for, if it has
/// not within [`HANG`]. The bound only turns a hang into a failure: it never decides a result.
pub(crate) fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    assert!(
        holds_within(HANG, condition),
        "waited {HANG:?} in vain for {what}"
    );
}

/// Polls `condition`, 10 ms apart, until it holds or `within` has passed; whether it held.
pub(crate) fn holds_within(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() >= within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Opens the gate at `path`: a held step's script waits for that file to exist.
pub(crate) fn open_gate(path: &Path) {
    std::fs::write(path, "")
        .unwrap_or_else(|error| panic!("opening the gate {}: {error}", path.display()));
}

/// Sends `child` the signal `signal` (`-STOP`, `-CONT`) with `kill`.
pub(crate) fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    assert!(sent.unwrap().success(), "kill {signal}");
}

/// What an ended child wrote on its piped stderr, if it was piped.
pub(crate) fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    if let Some(pipe) = child.stderr.as_mut() {
        let _ = std::io::Read::read_to_string(pipe, &mut stderr);
    }
    stderr
}

/// Each step's state, from `cairn show --json`.
pub(crate) fn states(show: &Value) -> BTreeMap<String, String> {
    show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["id"].as_str().unwrap().to_owned(),
                step["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Starts `command` with the signals a test sends cairn at their defaults, as a person's
/// shell starts it, whatever the test runner was started with: cairn leaves a signal that
/// was ignored at its start ignored, and a script's background job (`cargo test &`) ignores
/// SIGINT, `nohup` SIGHUP.
fn with_default_signals(command: &mut Command) {
    use nix::sys::signal::{SigHandler, Signal, signal};
    use std::os::unix::process::CommandExt;
    let reset = || {
        for stop in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGTSTP,
        ] {
            // SAFETY: between fork and exec this only calls `sigaction`, which is
            // async-signal-safe, and installs no handler of ours.
            #[allow(unsafe_code)]
            unsafe { signal(stop, SigHandler::SigDfl) }.map_err(std::io::Error::from)?;
        }
        Ok(())
    };
    // SAFETY: `reset` allocates nothing and takes no lock (see above).
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(reset);
    }
}
