//! Engines and their runs through the real binary: one driver per run (two resumes, a locked
//! database), signals, `recover`, a run's timeout, the history, a 10,000-step run.

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc::Receiver;

use serde_json::{Value, json};

use super::scratch::{Scratch, holds_within, open_gate, states};
use crate::{HANG, finish};

/// The usage of steps that report none.
fn no_usage() -> Value {
    json!({"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
}

/// Starts `cairn run` on a one-step workflow whose step waits until `gate` exists (then
/// outputs `"open"`); returns the running cairn and the show output once the step runs.
fn start_gated(scratch: &Scratch, gate: &Path) -> (Child, Value) {
    start_gated_with(scratch, gate, &[])
}

/// [`start_gated`], with `global` options before `run`.
fn start_gated_with(scratch: &Scratch, gate: &Path, global: &[&str]) -> (Child, Value) {
    let workflow = scratch.write(
        "gated.json",
        &json!({
            "name": "gated",
            "steps": [{
                "id": "wait",
                "executor": "process",
                "with": {
                    "command": ["sh", "-c", "while [ ! -e \"$GATE\" ]; do sleep 0.02; done; echo '\"open\"'"],
                    "env": {"GATE": gate.to_str().unwrap()},
                    "kill_grace": "100ms"
                }
            }]
        }),
    );
    let args = [global, &["run", workflow.to_str().unwrap()]].concat();
    let mut run = scratch
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let show = scratch.wait_for_show(&mut run, |show| states(show)["wait"] == "running");
    (run, show)
}

#[test]
fn a_database_locked_while_a_run_is_driven_stops_it_resumable_with_exit_3() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (run, show) = start_gated_with(&scratch, &gate, &["--busy-timeout", "200ms"]);
    let run_id = show["id"].as_str().unwrap();
    // Another process holds the write lock past the busy timeout; the step then ends.
    let lock = rusqlite::Connection::open(scratch.db()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    open_gate(&gate);
    let stopped = finish(run, "cairn run under another process's lock");
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("locked")
            && stderr.contains(&format!("`{} resume {run_id}`", scratch.invocation())),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARN") && !stderr.contains('\x1b'),
        "log lines to a pipe carry no colour codes: {stderr:?}"
    );
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    let resumed = scratch.cairn(&["resume", run_id]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

#[test]
fn two_resumes_at_once_exactly_one_drives() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (mut first, show) = start_gated(&scratch, &gate);
    first.kill().unwrap();
    first.wait().unwrap();
    let run_id = show["id"].as_str().unwrap();

    let spawn_resume = || {
        scratch
            .command(&["resume", run_id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut resumes = [spawn_resume(), spawn_resume()];
    // The gate is shut, so the resume that drives the run cannot end: the first to end is
    // the one refused.
    let mut ended = None;
    let one_ended = holds_within(HANG, || {
        ended = (resumes.iter_mut()).position(|child| child.try_wait().unwrap().is_some());
        ended.is_some()
    });
    if !one_ended {
        for child in &mut resumes {
            let _ = child.kill();
        }
        panic!("neither resume ended within {HANG:?}: was neither refused?");
    }
    let [a, b] = resumes;
    let (loser, winner) = if ended == Some(0) { (a, b) } else { (b, a) };
    let loser = finish(loser, "the refused resume");
    let message = String::from_utf8_lossy(&loser.stderr);
    assert_eq!(loser.status.code(), Some(2), "{message}");
    assert!(
        message.contains("is being driven by pid") && message.contains("until"),
        "{message}"
    );

    open_gate(&gate);
    let winner = finish(winner, "the resume driving the run");
    assert_eq!(
        winner.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&winner.stderr)
    );
    assert_eq!(
        scratch.json(&["show", run_id, "--json"])["state"],
        "succeeded"
    );
}

#[test]
fn history_lists_every_transition_in_order_and_show_matches_the_design() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "pair.json",
        &json!({
            "name": "pair",
            "steps": [
                {"id": "first", "executor": "noop", "with": {"output": {"n": "${{ input.n }}"}}},
                {"id": "second", "needs": ["first"], "executor": "noop", "with": {"output": "${{ steps.first.output.n + 1 }}"}}
            ]
        }),
    );
    let run_id = &scratch.run(&workflow, &["--input", r#"{"n": 41}"#], 0);

    let show = scratch.json(&["show", run_id, "--json"]);
    let keys: Vec<&str> = show
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "error",
            "error_class",
            "id",
            "input",
            "output",
            "state",
            "steps",
            "usage",
            "workflow"
        ]
    );
    assert_eq!(show["workflow"], "pair");
    assert_eq!(show["input"], json!({"n": 41}));
    assert_eq!(show["output"], json!({"second": 42}));
    assert_eq!(
        show["steps"],
        json!([
            {"id": "first", "state": "succeeded", "attempt": 1, "output": {"n": 41}, "error": null, "error_class": null, "usage": no_usage()},
            {"id": "second", "state": "succeeded", "attempt": 1, "output": 42, "error": null, "error_class": null, "usage": no_usage()}
        ])
    );

    let history = scratch.json(&["history", run_id, "--json"]);
    let transitions: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            format!(
                "{} {}",
                event["step"].as_str().unwrap_or("run"),
                event["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        transitions,
        [
            "run pending",
            "run running",
            "first ready",
            "first running",
            "first succeeded",
            "second ready",
            "second running",
            "second succeeded",
            "run succeeded"
        ]
    );
    let seqs: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["at"].as_str().is_some_and(|at| at.contains('T')))
    );

    let text = scratch.cairn(&["history", run_id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.lines().count(), 9, "{text}");
}

#[test]
fn a_ten_thousand_step_workflow_runs_to_completion_with_a_complete_history() {
    let scratch = Scratch::new();
    // 100 chains of 100 noop steps, side by side; each step passes its index on.
    let chains: Vec<Value> = (0..100)
        .map(|chain| {
            let steps: Vec<Value> = (0..100)
                .map(|link| json!({"id": format!("s{chain}_{link}"), "executor": "noop", "with": {"output": link}}))
                .collect();
            json!({"id": format!("chain{chain}"), "pipeline": steps})
        })
        .collect();
    let workflow = scratch.write(
        "big.json",
        &json!({"name": "big", "limits": {"max_parallel": 16}, "steps": chains}),
    );
    let run_id = scratch.run(&workflow, &[], 0);

    let show = scratch.json(&["show", &run_id, "--json"]);
    let steps = show["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10_000);
    assert!(
        steps
            .iter()
            .all(|step| step["state"] == "succeeded" && step["attempt"] == 1)
    );
    assert_eq!(
        show["output"].as_object().unwrap().len(),
        100,
        "one output per chain's last step"
    );

    let history = scratch.json(&["history", &run_id, "--json"]);
    // created + running + (ready, running, succeeded) per step + succeeded, read in pages
    // of 10,000: each once, in order.
    let seqs: Vec<u64> = (history.as_array().unwrap().iter())
        .map(|event| event["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=3 + 3 * 10_000).collect::<Vec<u64>>());
}

#[test]
fn sigterm_stops_cleanly_and_the_run_resumes() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (run, show) = start_gated(&scratch, &gate);
    let run_id = show["id"].as_str().unwrap().to_owned();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = finish(run, "cairn run after SIGTERM");
    assert_eq!(
        stopped.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    // The run has no error: what stopped it is not called one.
    let said = String::from_utf8_lossy(&stopped.stdout);
    assert!(
        said.contains(&format!("run {run_id} running\nstopped: interrupted\n")),
        "{said}"
    );
    let history = scratch.json(&["history", &run_id, "--json"]);
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["step"].as_str(), last["to"].as_str()),
        (Some("wait"), Some("ready")),
        "{last}"
    );
    assert_eq!(last["detail"]["interrupted"], "engine stopped");

    open_gate(&gate);
    let resumed = scratch.cairn(&["resume", &run_id, "--json"]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let show = scratch.json(&["show", &run_id, "--json"]);
    assert_eq!(show["steps"][0]["attempt"], 2);
    assert_eq!(show["output"], json!({"wait": "open"}));
}

#[test]
fn a_run_past_its_timeout_fails_and_cancels_what_has_not_ended() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "slow.json",
        &json!({
            "name": "slow",
            // Long enough for `quick` to end first even on a loaded machine; `slow` never
            // ends, so the timeout is what ends the run.
            "limits": {"timeout": "2s"},
            "steps": [
                {"id": "quick", "executor": "noop", "with": {"output": 1}},
                {"id": "slow", "needs": ["quick"], "executor": "sleep", "with": {"duration": "1h"}},
                {"id": "after", "needs": ["slow"], "executor": "noop"}
            ]
        }),
    );
    let run_id = scratch.run(&workflow, &[], 1);
    let show = scratch.json(&["show", &run_id, "--json"]);
    assert_eq!(show["state"], "failed");
    assert!(
        show["error"]
            .as_str()
            .unwrap()
            .contains("timed out (limits.timeout = 2s)"),
        "{show}"
    );
    let states = states(&show);
    assert_eq!(
        states.into_iter().collect::<Vec<_>>(),
        [
            ("after".into(), "cancelled".into()),
            ("quick".into(), "succeeded".into()),
            ("slow".into(), "cancelled".into())
        ]
    );
}

/// Two runs whose engines were killed while their first step waited at `gate`, and a
/// `cairn recover --json` that drives both (it named them): their ids, sorted, it, and the
/// lines it says next.
fn recovering_two_runs(scratch: &Scratch, gate: &Path) -> (Vec<String>, Child, Receiver<String>) {
    // The first step of each run leaves `held.<run id>` and waits for the gate.
    let wait = format!(
        "touch \"$DIR/held.$CAIRN_RUN_ID\"; while [ ! -e \"{}\" ]; do sleep 0.02; done; echo '\"slept\"'",
        gate.display()
    );
    let workflow = scratch.write(
        "two.json",
        &json!({
            "name": "two",
            "steps": [
                {"id": "slow", "executor": "process", "with": {
                    "command": ["sh", "-c", wait],
                    "env": {"DIR": scratch.dir.path().to_str().unwrap()}
                }},
                {"id": "after", "needs": ["slow"], "executor": "noop", "with": {"output": "${{ steps.slow.output }}"}}
            ]
        }),
    );
    let mut killed: Vec<String> = Vec::new();
    for _ in 0..2 {
        let mut run = scratch
            .command(&["run", workflow.to_str().unwrap()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let show = scratch.wait_for_show(&mut run, |show| {
            let id = show["id"].as_str().unwrap();
            !killed.iter().any(|killed| killed == id)
                && scratch.dir.path().join(format!("held.{id}")).exists()
        });
        assert_eq!(states(&show)["slow"], "running");
        run.kill().unwrap();
        run.wait().unwrap();
        killed.push(show["id"].as_str().unwrap().to_owned());
    }
    // `recover` names every run it drives before the first one ends (they wait at the gate).
    let mut recover = (scratch.command(&["recover", "--json"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = lines_of(recover.stderr.take().unwrap());
    let mut named = Vec::new();
    while named.len() < killed.len() {
        let line = said
            .recv_timeout(HANG)
            .expect("recover names the runs it drives");
        named.extend(line.strip_prefix("recovering run ").map(str::to_owned));
    }
    named.sort();
    killed.sort();
    assert_eq!(named, killed);
    (killed, recover, said)
}

#[test]
fn recover_resumes_every_run_whose_engine_died() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (killed, recover, _) = recovering_two_runs(&scratch, &gate);
    open_gate(&gate);
    let recovered = finish(recover, "cairn recover");
    assert_eq!(recovered.status.code(), Some(0));
    let reports: Value = serde_json::from_slice(&recovered.stdout).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 2, "{reports}");
    for id in &killed {
        let show = scratch.json(&["show", id, "--json"]);
        assert_eq!(show["state"], "succeeded", "{show}");
        assert_eq!(show["output"], json!({"after": "slept"}));
    }
    let again = scratch.cairn(&["recover"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no unfinished run to recover"));
}

/// A run whose lease another process took while `recover` drove it stops with that error,
/// and the runs it drove beside it are told all the same (probe 50 F1: its stdout was
/// empty, the other run's success untold).
#[test]
fn recover_tells_the_other_runs_when_one_run_is_taken_from_it() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (killed, recover, said) = recovering_two_runs(&scratch, &gate);
    steal_first(&scratch, &killed);
    open_gate(&gate);
    let (recovered, said) = recovered_losing_a_lease(recover, said);
    assert_eq!(recovered.status.code(), Some(3), "{said:?}");
    let reports: Value = serde_json::from_slice(&recovered.stdout).unwrap();
    let [report] = reports.as_array().unwrap().as_slice() else {
        panic!("one report, the other run's: {reports}")
    };
    assert_eq!(
        (&report["id"], &report["state"]),
        (&json!(killed[1]), &json!("succeeded"))
    );
}

/// One run taken from `recover` and another cancelled meanwhile: the cancelled run's exit 1
/// comes before the lost lease's 3 (probe 58 F1: it exited 3, a failed run told on stdout).
#[test]
fn recover_exits_1_for_a_run_that_ended_badly_though_another_was_taken_from_it() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (killed, recover, said) = recovering_two_runs(&scratch, &gate);
    steal_first(&scratch, &killed);
    let cancel = scratch.cairn(&["cancel", &killed[1]]);
    assert_eq!(cancel.status.code(), Some(0));
    open_gate(&gate);
    let (recovered, said) = recovered_losing_a_lease(recover, said);
    assert_eq!(recovered.status.code(), Some(1), "{said:?}");
    let reports: Value = serde_json::from_slice(&recovered.stdout).unwrap();
    assert_eq!(reports[0]["state"], "cancelled", "{reports}");
}

/// Takes the first of the `killed` runs from the `recover` that drives them, as an engine
/// that took its lease over would (its owner changed in the store).
fn steal_first(scratch: &Scratch, killed: &[String]) {
    let db = rusqlite::Connection::open(scratch.db()).unwrap();
    let steal = "UPDATE runs SET lease_owner = 'another engine' WHERE id = ?1";
    db.execute(steal, [&killed[0]]).unwrap();
}

/// Waits for `recover`, one of whose runs was taken from it: its output and what it said,
/// which tells the lost lease.
fn recovered_losing_a_lease(recover: Child, said: Receiver<String>) -> (Output, Vec<String>) {
    let recovered = finish(recover, "cairn recover");
    let said: Vec<String> = said.iter().collect();
    assert!(
        said.iter().any(|line| line.contains("lost its lease")),
        "{said:?}"
    );
    (recovered, said)
}

#[test]
fn recover_says_when_the_unfinished_runs_are_driven_by_a_live_engine() {
    let scratch = Scratch::new();
    let gate = scratch.dir.path().join("gate");
    let (run, _) = start_gated(&scratch, &gate);
    let recovered = scratch.cairn(&["recover"]);
    let said = String::from_utf8_lossy(&recovered.stderr);
    assert_eq!(recovered.status.code(), Some(0), "{said}");
    assert!(
        said.contains("no run to recover: the 1 unfinished run(s) are driven by live engines"),
        "{said}"
    );
    open_gate(&gate);
    assert_eq!(finish(run, "the driving cairn").status.code(), Some(0));
}

/// The lines `stderr` says, as they come (read on a thread of their own).
fn lines_of(stderr: std::process::ChildStderr) -> Receiver<String> {
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}
