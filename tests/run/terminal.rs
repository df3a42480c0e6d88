//! What cairn draws when its stderr is a terminal (a pseudo-terminal here): the progress bar,
//! and every other line written above it, never on the bar's own line.

use std::fs::File;
use std::io::Read;
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver};

use nix::pty::openpty;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use super::control::{HOLD, MARK, code, held, step, wait_for_file};
use super::scratch::Scratch;
use crate::{HANG, finish};

/// Reads what `terminal` receives into `seen` until it holds `what`; fails if the terminal
/// closes first or nothing of it comes within [`HANG`].
fn read_until(terminal: &Receiver<Vec<u8>>, seen: &mut String, what: &str) {
    while !seen.contains(what) {
        match terminal.recv_timeout(HANG) {
            Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Err(error) => panic!("the terminal never showed {what:?} ({error}): {seen:?}"),
        }
    }
}

#[test]
fn a_line_said_while_the_bar_is_drawn_has_a_line_of_its_own() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "held.json",
        &json!({"name": "held", "steps": [{"pipeline": [
            step(&scratch, "a", HOLD, json!({})),
            step(&scratch, "b", MARK, json!({}))
        ]}]}),
    );
    let pty = openpty(None, None).unwrap();
    let mut child = scratch
        .command(&["run", workflow.to_str().unwrap()])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    // The terminal's screen, read as it comes, until cairn (its last writer) has gone.
    let (shown, terminal) = mpsc::channel();
    let mut screen = File::from(pty.master);
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(read @ 1..) = screen.read(&mut buffer) {
            if shown.send(buffer[..read].to_vec()).is_err() {
                break;
            }
        }
    });
    wait_for_file(&scratch, &mut child, &held(&scratch, "a"));
    let mut seen = String::new();
    // The bar is drawn (of the run's 2 steps).
    let bar = "/2 steps";
    read_until(&terminal, &mut seen, bar);
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGINT).unwrap();
    read_until(&terminal, &mut seen, "stopping: starting nothing new");
    scratch.open_gate();
    let output = finish(child, "cairn run on a terminal");
    assert_eq!(code(&output), Some(3), "stopped unfinished");
    // Each line as the terminal shows it: a redraw starts at `\r`.
    let stopping = (seen.split(['\r', '\n']))
        .find(|line| line.contains("stopping:"))
        .unwrap();
    assert!(
        !stopping.contains(bar),
        "the line was written on the bar's: {stopping:?}"
    );
}

/// A value quoted in a refusal of the command line cannot reach a terminal as an escape
/// sequence: clap's message passed `1\e]0;pwned\a` through, which set the window's title
/// (probe 38 F3).
#[test]
fn a_refused_flag_value_reaches_a_terminal_without_its_escapes() {
    let scratch = Scratch::new();
    let pty = openpty(None, None).unwrap();
    let output = scratch
        .command(&["runs", "--limit", "1\u{1b}]0;pwned\u{7}2"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(pty.slave))
        .output()
        .unwrap();
    assert_eq!(code(&output), Some(2));
    let mut screen = File::from(pty.master);
    let mut buffer = [0; 4096];
    let read = screen.read(&mut buffer).unwrap();
    let shown = String::from_utf8_lossy(&buffer[..read]);
    assert!(shown.contains("invalid value"), "{shown:?}");
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
}
