//! A halted `for_each` step through the real binary: after the first SIGTERM no item left of
//! the running step starts, the item in flight finishes, the step waits unfinished, and a
//! resume runs only the items that never started, each as its first attempt.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long the test waits for any one thing before failing: it only turns a hang into a
/// failure, and never decides a result.
const HANG: Duration = Duration::from_secs(300);

/// An item: writes `index:attempt` to `ran`, leaves `held`, then waits for the file `open`.
const ITEM: &str = "echo \"$CAIRN_ITEM_INDEX:$CAIRN_ATTEMPT\" >> \"$DIR/ran\"; \
    touch \"$DIR/held\"; while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";

/// What the CLI prints on the first SIGTERM, once it stops starting new work.
const STOPPING: &str = "stopping: starting nothing new";

/// `cairn --db DIR/cairn.db ARGS`.
fn cairn(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    command
        .arg("--db")
        .arg(dir.join("cairn.db"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` to end (failing past [`HANG`]) and returns its output.
fn finish(child: Child) -> Output {
    let (sender, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    ended.recv_timeout(HANG).expect("cairn ended").unwrap()
}

/// `cairn ARGS --json`, to its end, as JSON.
fn json(dir: &Path, args: &[&str]) -> Value {
    let output = finish(cairn(dir, args).arg("--json").spawn().unwrap());
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The items that ran, in order, as `index:attempt`.
fn ran(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("ran")).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// Waits until `path` exists, while `child` runs.
fn wait_for(path: &Path, child: &mut Child) {
    let started = Instant::now();
    while !path.exists() {
        assert!(child.try_wait().unwrap().is_none(), "cairn ended early");
        assert!(started.elapsed() < HANG, "{} never came", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends the lines `child` writes on stderr to the channel returned, as it writes them.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (sender, lines) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    lines
}

/// A workflow of one `for_each` step of five [`ITEM`]s, one at a time, in `dir`.
fn workflow(dir: &Path) -> PathBuf {
    let path = dir.join("w.json");
    let workflow = json!({"name": "halt", "steps": [{
        "id": "each", "executor": "process", "for_each": "${{ [0, 1, 2, 3, 4] }}",
        "max_parallel": 1,
        "with": {"command": ["sh", "-c", ITEM], "env": {"DIR": dir.to_str().unwrap()}}
    }]});
    std::fs::write(&path, workflow.to_string()).unwrap();
    path
}

#[test]
fn after_the_first_sigterm_no_item_left_starts_and_a_resume_runs_only_those() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let workflow = workflow(dir);
    let mut child = cairn(dir, &["run", workflow.to_str().unwrap(), "--json"])
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    wait_for(&dir.join("held"), &mut child);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    loop {
        let line = lines.recv_timeout(HANG).expect("cairn says it stops");
        if line.contains(STOPPING) {
            break;
        }
    }
    std::fs::write(dir.join("open"), "").unwrap();
    let output = finish(child);
    assert_eq!(output.status.code(), Some(3), "the run stopped unfinished");
    assert_eq!(ran(dir), ["0:1"], "only the item in flight ran");
    let run = json(dir, &["runs"])[0]["id"].as_str().unwrap().to_owned();
    let show = json(dir, &["show", &run]);
    assert_eq!(show["state"], "running", "resumable");
    assert_eq!(
        show["steps"][0]["state"], "ready",
        "neither failed nor retried"
    );

    let output = finish(cairn(dir, &["resume", &run]).spawn().unwrap());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        ran(dir),
        ["0:1", "1:1", "2:1", "3:1", "4:1"],
        "the items left ran once each, as their first attempt; item 0 did not run again"
    );
    assert_eq!(json(dir, &["show", &run])["steps"][0]["state"], "succeeded");
}
