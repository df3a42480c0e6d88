//! A command's output that cannot be written — stdout's reader gone, its disk full — leaves
//! the exit code to the command's outcome (docs/runs.md, "Exit codes").

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::finish;

/// A scratch directory with a run that fails, one that succeeds, an invalid workflow, a
/// policy whose test fails, and its database.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, value: serde_json::Value| {
            std::fs::write(dir.path().join(name), value.to_string()).unwrap();
        };
        let process = |script: &str| json!({"command": ["sh", "-c", script]});
        write(
            "fail.json",
            json!({"name": "fail", "steps": [{"id": "a", "executor": "process", "with": process("exit 3")}]}),
        );
        write(
            "ok.json",
            json!({"name": "ok", "steps": [{"id": "a", "executor": "noop", "with": {"output": "fine"}}]}),
        );
        write(
            "bad.json",
            json!({"name": "bad", "steps": [{"id": "a", "executor": "nope"}]}),
        );
        write(
            "policy.json",
            json!({
                "default": "allow",
                "commands": {"deny": [["rm"]]},
                "tests": [{"action": {"executor": "process", "params": {"command": ["rm", "x"]}}, "expect": "allow"}]
            }),
        );
        Files { dir }
    }

    /// Runs `cairn args` in the directory on its database, stdout going to `stdout`.
    fn cairn(&self, args: &[&str], stdout: impl Into<Stdio>) -> Output {
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(self.dir.path().join("cairn.db"))
            .args(args)
            .env_remove("CAIRN_DB")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("cairn starts");
        finish(child, &format!("cairn {args:?}"))
    }
}

/// A pipe whose read end is closed: a write to it fails with `EPIPE`, as to `| head` gone.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

#[test]
fn with_stdouts_reader_gone_a_command_exits_with_its_outcome() {
    let files = Files::new();
    let cases: [(&[&str], i32); 7] = [
        (&["run", "fail.json"], 1),
        (&["--json", "run", "fail.json"], 1),
        (&["run", "ok.json"], 0),
        (&["validate", "bad.json"], 2),
        (&["validate", "ok.json", "bad.json"], 2),
        (&["policy", "test", "policy.json"], 1),
        // A listing is all its output: its reader gone is no failure.
        (&["runs"], 0),
    ];
    for (args, code) in cases {
        let output = files.cairn(args, closed_pipe());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "cairn {args:?}: {stderr}");
        assert!(
            !stderr.contains("cannot write the output"),
            "a reader gone asked for no more: cairn {args:?}: {stderr}"
        );
    }
}

#[test]
fn with_stdouts_disk_full_a_command_says_so_and_exits_with_its_outcome() {
    let full = || {
        std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    assert!(Path::new("/dev/full").exists());
    let files = Files::new();
    let cases: [(&[&str], i32); 5] = [
        (&["run", "ok.json"], 0),
        (&["run", "fail.json"], 1),
        (&["validate", "ok.json"], 0),
        (&["validate", "bad.json"], 2),
        (&["policy", "test", "policy.json"], 1),
    ];
    for (args, code) in cases {
        let output = files.cairn(args, full());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "cairn {args:?}: {stderr}");
        assert!(
            stderr.contains("cairn: cannot write the output: No space left on device"),
            "cairn {args:?}: {stderr}"
        );
    }
    // A command whose output is all it does failed to do it: help and the version too
    // (probe 192 F3: clap's exit said nothing, and 0).
    for args in [
        &["runs"][..],
        &["--help"],
        &["run", "--help"],
        &["--version"],
    ] {
        let output = files.cairn(args, full());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "cairn {args:?}: {stderr}");
        assert!(
            stderr.contains("cairn: cannot write the output"),
            "{stderr}"
        );
    }
    // Help read by `| head` gone is no failure.
    assert_eq!(
        files.cairn(&["--help"], closed_pipe()).status.code(),
        Some(0)
    );
}
