//! `cairn resume` of a run whose steps await a person: it tells the requests that waited
//! already, with the commands that decide them, as `cairn run` does; and an approval given
//! for the directory a symlink led to is not spent where it leads once repointed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;

use serde_json::json;

use super::guard::{approval_setup, path, policy, start_awaiting, step, workflow};
use super::scratch::Scratch;
use crate::{HANG, finish};

/// Resumes `run`, reads its stderr until a line tells a request of `step` with the command
/// that approves it, then denies the step from another process; returns the lines the
/// resumed engine printed on stderr, to its end (the run failed, the step denied).
fn resume_until_told_then_deny(scratch: &Scratch, run: &str, step: &str) -> Vec<String> {
    let mut resumed = scratch
        .command(&["resume", run])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = resumed.stderr.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let approve = format!("approve {run} {step}");
    let mut said = Vec::new();
    while !said.iter().any(|line: &String| line.ends_with(&approve)) {
        match lines.recv_timeout(HANG) {
            Ok(line) => said.push(line),
            Err(_) => fail(resumed, &format!("resume never told `{approve}`: {said:?}")),
        }
    }
    let deny = scratch.cairn(&["deny", run, step, "--reason", "not here"]);
    if !deny.status.success() {
        fail(resumed, &String::from_utf8_lossy(&deny.stderr));
    }
    let output = finish(resumed, "cairn resume");
    assert_eq!(output.status.code(), Some(1), "{said:?}");
    said.extend(lines.iter());
    said
}

/// Kills `child` (it would wait for a person for a day) and fails the test with `why`.
fn fail(mut child: Child, why: &str) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    panic!("{why}");
}

#[test]
fn resume_tells_the_requests_that_waited_with_the_commands_that_decide_them() {
    let scratch = Scratch::new();
    let (policy, workflow) = approval_setup(&scratch, json!({}));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    let said = resume_until_told_then_deny(&scratch, &run, "deploy");
    let told = "step deploy awaits approval (deploys: deploys need a person); see the whole \
                action with `cairn --db";
    let times = said.iter().filter(|line| line.starts_with(told)).count();
    assert_eq!(times, 1, "told once: {said:?}");
    assert!(!scratch.executions().contains_key("deploy"));
}

#[test]
fn an_approval_is_for_the_directory_the_guard_judged_not_where_a_symlink_leads_later() {
    let scratch = Scratch::new();
    let root = scratch.dir.path().join("root");
    for dir in ["a", "b"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let link = root.join("link");
    std::os::unix::fs::symlink("a", &link).unwrap();
    // Under `cwd` roots a redirection's target must be literal, and inside them.
    let policy = policy(&scratch, json!({"cwd": ["."], "default": "approve"}));
    let marks = scratch.marks().join("deploy");
    let script = format!("pwd >> '{}'", path(&marks));
    let mut deploy = step("deploy", &script, &scratch);
    deploy["with"]["cwd"] = json!(path(&link));
    let workflow = workflow(&scratch, json!([deploy]));
    let (mut child, run) = start_awaiting(&scratch, &policy, &workflow);
    child.kill().unwrap();
    child.wait().unwrap();
    // The person sees the directory the guard judged, and approves the step there.
    let waiting = scratch.json(&["approvals", "--json"]);
    let judged = root.join("a").canonicalize().unwrap();
    assert_eq!(waiting[0]["action"]["params"]["cwd"], path(&judged));
    let approve = scratch.cairn(&["approve", &run, "deploy"]);
    assert!(approve.status.success());
    // Repointed: the step asks again, for the other directory, and never runs there.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("b", &link).unwrap();
    let said = resume_until_told_then_deny(&scratch, &run, "deploy");
    assert!(!scratch.executions().contains_key("deploy"), "{said:?}");
    let history = scratch.json(&["approvals", "--json"]);
    assert_eq!(history, json!([]), "denied, nothing waits");
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["state"], "denied", "{show}");
}
