//! Triggers: what a step does once its needs have ended in each way.

use serde_json::json;

use super::super::control::tests::started;
use super::super::tests::{at, committed, done, failed, ids, moves, new_run, plan, record, resume};
use super::super::{Judge, Ledger};
use crate::executor::ErrorClass;
use crate::scheduler::Redrive;
use crate::state::{RunState, StepState};

/// `when` false skips `maybe`; `rejoin` (none_failed), `plain` (default) and `cleanup`
/// (all_done) need it; `cleanup` also needs `broken`, which fails.
fn joins() -> serde_json::Value {
    json!({"name": "j", "steps": [
        {"id": "maybe", "executor": "noop", "when": "false"},
        {"id": "broken", "executor": "noop"},
        {"id": "rejoin", "executor": "noop", "needs": ["maybe"], "trigger": "none_failed"},
        {"id": "plain", "executor": "noop", "needs": ["maybe"]},
        {"id": "after", "executor": "noop", "needs": ["broken"], "trigger": "none_failed"},
        {"id": "cleanup", "executor": "noop", "needs": ["maybe", "broken"], "trigger": "all_done"}
    ]})
}

#[test]
fn a_skipped_need_skips_a_default_step_and_lets_none_failed_and_all_done_run() {
    let mut ledger = new_run(joins());
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(
        ids(&ledger, &starts),
        ["broken", "rejoin"],
        "maybe is skipped by its `when`, and rejoin runs"
    );
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"rejoin: pending -> ready".to_owned()),
        "{batch:?}"
    );
    assert!(
        batch.contains(&"plain: pending -> skipped".to_owned()),
        "{batch:?}"
    );
    let broken = ledger.plan.index_of("broken").unwrap();
    ledger
        .apply(failed(broken, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["cleanup"]);
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"after: pending -> skipped".to_owned()),
        "none_failed refuses a failed need: {batch:?}"
    );
}

#[test]
fn all_done_waits_for_every_need_to_end() {
    let mut ledger = new_run(json!({"name": "j", "steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop"},
        {"id": "c", "executor": "noop", "needs": ["a", "b"], "trigger": "all_done"}
    ]}));
    ledger.turn(at(0)).unwrap();
    let (a, b) = (
        ledger.plan.index_of("a").unwrap(),
        ledger.plan.index_of("b").unwrap(),
    );
    ledger
        .apply(failed(a, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    assert!(ledger.turn(at(1)).unwrap().is_empty(), "b has not ended");
    ledger.apply(done(b, json!(1)), at(2)).unwrap();
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["c"]);
}

#[test]
fn a_takeover_settles_triggers_from_stored_states() {
    let records = vec![
        record("maybe", StepState::Skipped, None),
        record("broken", StepState::Failed, None),
        record("rejoin", StepState::Pending, None),
        record("plain", StepState::Pending, None),
        record("after", StepState::Pending, None),
        record("cleanup", StepState::Pending, None),
    ];
    let mut ledger = resume(uuid::Uuid::now_v7(), joins(), records);
    // Settled at the first turn, after the commands sent meanwhile.
    ledger.turn(at(0)).unwrap();
    let mut settled = moves(&ledger.take_batch());
    settled.sort();
    assert_eq!(
        settled,
        [
            "after: pending -> skipped",
            "cleanup: pending -> ready",
            "cleanup: ready -> running",
            "plain: pending -> skipped",
            "rejoin: pending -> ready",
            "rejoin: ready -> running",
        ]
    );
}

/// `x` is skipped by its `when` while `slow` runs, so `m` is skipped at once; `r`
/// (all_done) comes after both and reads `slow`'s output (probe p13 F1).
fn race() -> serde_json::Value {
    json!({"name": "race", "steps": [{"pipeline": [
        {"parallel": [
            {"id": "slow", "executor": "noop"},
            {"id": "x", "executor": "noop", "when": "false"}]},
        {"id": "m", "executor": "noop"},
        {"id": "r", "executor": "noop", "trigger": "all_done",
         "with": {"output": "${{ steps.slow.output }}"}}]}]})
}

/// In [`race`], `slow` ends: only then does `r` start, reading `slow`'s final output.
fn slow_ends_and_r_reads_it(ledger: &mut Ledger) {
    let slow = ledger.plan.index_of("slow").unwrap();
    ledger.apply(done(slow, json!({"v": 1})), at(2)).unwrap();
    let starts = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(ledger, &starts), ["r"]);
    assert_eq!(
        starts[0].actions.all()[0].params,
        json!({"output": {"v": 1}})
    );
}

#[test]
fn a_step_skipped_while_a_need_runs_holds_its_dependents_until_that_need_ends() {
    let mut ledger = new_run(race());
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["slow"]);
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"x: ready -> skipped".to_owned()),
        "{batch:?}"
    );
    assert!(
        batch.contains(&"m: pending -> skipped".to_owned()),
        "the skip itself is at once: {batch:?}"
    );
    assert!(
        !batch.iter().any(|change| change.starts_with("r:")),
        "r waits for slow, which m waited for: {batch:?}"
    );
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    slow_ends_and_r_reads_it(&mut ledger);
}

#[test]
fn after_a_takeover_a_step_skipped_while_a_need_runs_still_holds_its_dependents() {
    let records = vec![
        record("slow", StepState::Running, None),
        record("x", StepState::Skipped, None),
        record("m", StepState::Skipped, None),
        record("r", StepState::Pending, None),
    ];
    let mut ledger = resume(uuid::Uuid::now_v7(), race(), records);
    let settled = moves(&ledger.take_batch());
    assert_eq!(settled, ["slow: running -> ready"], "r is not ready");
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["slow"]);
    slow_ends_and_r_reads_it(&mut ledger);
}

#[test]
fn a_takeover_walks_from_each_ended_step_once() {
    // `b` is reached by the walk from `a`; walked from again, it would count twice for
    // `c`, which would start while `z` runs.
    let workflow = json!({"name": "w", "steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "needs": ["a"]},
        {"id": "z", "executor": "noop"},
        {"id": "c", "executor": "noop", "needs": ["b", "z"]}]});
    let records = vec![
        record("a", StepState::Succeeded, Some(json!(1))),
        record("b", StepState::Succeeded, Some(json!(2))),
        record("z", StepState::Running, None),
        record("c", StepState::Pending, None),
    ];
    let mut ledger = resume(uuid::Uuid::now_v7(), workflow, records);
    assert_eq!(moves(&ledger.take_batch()), ["z: running -> ready"]);
}

#[test]
fn a_plan_step_skipped_while_a_need_runs_holds_its_dependents() {
    // `n` is skipped while `slow` runs; so is `gen.m`, added by `gen`'s plan.
    let mut ledger = new_run(json!({"name": "p", "steps": [
        {"id": "slow", "executor": "noop"},
        {"id": "x", "executor": "noop", "when": "false"},
        {"id": "n", "executor": "noop", "needs": ["x", "slow"]},
        {"id": "gen", "executor": "noop", "planner": true}]}));
    assert_eq!(started(&mut ledger, 0), ["slow", "gen"]);
    let plan = json!({"steps": [
        {"id": "m", "executor": "noop", "needs": ["x", "slow"]},
        {"id": "r", "executor": "noop", "needs": ["m"], "trigger": "all_done"},
        {"id": "after_n", "executor": "noop", "needs": ["n"], "trigger": "all_done"}]});
    let gen_ = ledger.plan.index_of("gen").unwrap();
    ledger.take_batch();
    ledger.apply(done(gen_, plan), at(1)).unwrap();
    assert!(
        ledger.turn(at(1)).unwrap().is_empty(),
        "r and after_n wait for slow"
    );
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"gen.m: pending -> skipped".to_owned()),
        "{batch:?}"
    );
    let slow = ledger.plan.index_of("slow").unwrap();
    ledger.apply(done(slow, json!(1)), at(2)).unwrap();
    assert_eq!(started(&mut ledger, 2), ["gen.after_n", "gen.r"]);
}

#[test]
fn a_redrive_holds_the_dependents_of_a_succeeded_step_whose_need_runs_again() {
    // `report` (all_done) succeeded after `build` failed; `publish` failed. A retry sends
    // `build` and `publish` back: `publish` comes after `build` and waits for it.
    let workflow = json!({"name": "r", "steps": [{"pipeline": [
        {"id": "build", "executor": "noop"},
        {"id": "report", "executor": "noop", "trigger": "all_done"},
        {"id": "publish", "executor": "noop", "with": {"output": "${{ steps.build.output }}"}}]}]});
    let records = vec![
        record("build", StepState::Failed, None),
        record("report", StepState::Succeeded, Some(json!(null))),
        record("publish", StepState::Failed, None),
    ];
    let run = committed(
        uuid::Uuid::now_v7(),
        plan(workflow),
        RunState::Failed,
        records,
    );
    let redrive = Some(Redrive { from: None });
    let mut ledger = Ledger::take_over(run, Judge::default(), 1 << 20, at(0), redrive).unwrap();
    assert_eq!(started(&mut ledger, 0), ["build"]);
    let build = ledger.plan.index_of("build").unwrap();
    ledger.apply(done(build, json!("built")), at(1)).unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["publish"]);
    assert_eq!(
        starts[0].actions.all()[0].params,
        json!({"output": "built"})
    );
}

/// An error quoting the end of its attempt's stderr is one ending wherever its quote was
/// cut (probe 189 F1: a number one digit longer moved a process's 4 KiB cut, and the quote
/// began with another piece of a word); another stderr is another ending.
#[test]
fn an_ending_is_the_same_wherever_its_error_cut_the_stderr_it_quotes() {
    let stderr = "tests/test_api.py::test_case_1 PASSED\n=== 1 failed in 10.42s ===\n";
    let quoting = |from: usize| crate::executor::ExecError {
        class: ErrorClass::ExitCode,
        message: format!(
            "`sh` exited with code 1; stderr ends:\n…{}",
            &stderr[from..].trim_end()
        ),
    };
    let ending = |from, stderr| super::ending(&quoting(from), stderr);
    assert_eq!(ending(3, stderr), ending(12, stderr));
    assert!(
        ending(3, stderr).ends_with(stderr.trim_end()),
        "{}",
        ending(3, stderr)
    );
    assert_ne!(ending(3, stderr), ending(3, "=== 1 failed in 10.42s ===\n"));
    // A tail cut at its start (probe 193 F2: a process keeps the last 64 KiB of stderr) is
    // compared by its last lines, which are the same wherever the cut fell.
    let long: String = (0..150)
        .map(|n| format!("tests/test_api.py::case_{n} PASSED\n"))
        .collect();
    let long = format!("{long}=== 1 failed in 107.311s ===\n");
    let error = |tail: &str| crate::executor::ExecError {
        class: ErrorClass::ExitCode,
        message: format!(
            "`sh` exited with code 1; stderr ends:\n…{}",
            &tail[tail.len() - 40..]
        ),
    };
    let cut = |from: usize| super::ending(&error(&long[from..]), &long[from..]);
    assert_eq!(cut(5), cut(9));
    // Long lines, fewer than 100 in the tail: cut at a line's start, or one byte before or
    // after it (probes 198 F1, 200 F1), the same ending.
    let wide: String = (0..40)
        .map(|n| format!("{n:02}{}\n", "x".repeat(1998)))
        .collect();
    let start = 2001 * 7;
    let cuts: Vec<_> = [start - 1, start, start + 1]
        .map(|from| super::ending(&error(&wide[from..]), &wide[from..]))
        .into();
    assert!(cuts.windows(2).all(|pair| pair[0] == pair[1]), "{cuts:?}");
    assert!(
        cut(5).ends_with("case_149 PASSED\n=== 1 failed in 107.311s ==="),
        "{}",
        cut(5)
    );
}
