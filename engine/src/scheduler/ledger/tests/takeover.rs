//! Taking over a run from its records: ended steps are kept and what they decided is
//! settled; only what the unfinished steps read is scanned and kept in memory.

use super::*;

#[test]
fn a_takeover_keeps_ended_steps_and_settles_what_they_decided() {
    let workflow = json!({"name": "t", "limits": {"timeout": "1h"}, "steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop"},
        {"id": "c", "executor": "noop", "needs": ["b"]},
        {"id": "d", "executor": "noop", "needs": ["a"], "with": {"output": "${{ steps.a.output }}"}},
        {"id": "e", "executor": "noop"}
    ]});
    let records = vec![
        record("a", StepState::Succeeded, Some(json!(7))),
        record("b", StepState::Failed, None),
        record("c", StepState::Pending, None),
        record("d", StepState::Pending, None),
        // Ready when the engine stopped: waiting for a slot.
        record("e", StepState::Ready, None),
    ];
    let mut ledger = resume(Uuid::now_v7(), workflow, records);
    assert!(ledger.take_batch().is_empty(), "settled at the first turn");
    let starts = ledger.turn(at(1)).unwrap();
    let settled = ledger.take_batch();
    assert_eq!(
        moves(&settled),
        [
            "d: pending -> ready",
            "c: pending -> skipped",
            "e: ready -> running",
            "d: ready -> running"
        ],
        "ended steps stay as they are; their dependents move on, then start"
    );
    assert!(
        run_moves(&settled).is_empty(),
        "the run was running already"
    );
    assert_eq!(
        ids(&ledger, &starts),
        ["e", "d"],
        "the ready step first, then d"
    );
    assert_eq!(starts[1].actions.all()[0].params, json!({"output": 7}));
    assert!(!ledger.is_over(), "d and e have not ended");
    ledger.take_batch();
    ledger.apply(Input::TimedOut, at(2)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        ["d: running -> cancelled", "e: running -> cancelled"],
        "ended steps are kept"
    );
    assert_eq!(run_moves(&batch), [(RunState::Running, RunState::Failed)]);
}

#[test]
fn a_run_whose_steps_all_ended_while_no_engine_ran_ends_at_the_first_turn() {
    let workflow = json!({"name": "e", "steps": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}
    ]});
    let records = vec![
        record("a", StepState::Succeeded, Some(json!(1))),
        record("b", StepState::Failed, None),
    ];
    let mut ledger = resume(Uuid::now_v7(), workflow, records);
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::ExitCode));
    assert_eq!(
        report.error.as_deref(),
        Some("step b failed: exit_code: exit 1")
    );
}

#[test]
fn a_resumed_snapshot_scans_the_expressions_of_the_unfinished_steps_only() {
    // A pipeline stopped halfway: s0..s4 succeeded, s5 was running.
    let mut steps = vec![json!({"id": "s0", "executor": "noop", "with": {"output": 0}})];
    for i in 1..10 {
        steps.push(
            json!({"id": format!("s{i}"), "executor": "noop", "needs": [format!("s{}", i - 1)],
                          "with": {"output": format!("${{{{ steps.s{}.output + 1 }}}}", i - 1)}}),
        );
    }
    let workflow = json!({"name": "t", "steps": steps});
    let snapshot = plan(workflow.clone()).workflow().clone();
    let definition = serde_json::to_string(&snapshot).unwrap();
    let executors = crate::executor::test_support::accepting_anything(&["noop"]);

    crate::plan::SCANS.set(0);
    let plan = crate::load::load_snapshot(&definition, "snapshot", &executors).unwrap();
    assert_eq!(
        crate::plan::SCANS.get(),
        0,
        "loading a snapshot scans no expression"
    );
    let records = (0..10)
        .map(|i| match i {
            0..5 => record(&format!("s{i}"), StepState::Succeeded, Some(json!(i))),
            5 => record("s5", StepState::Running, None),
            _ => StepRecord::pending(&format!("s{i}")),
        })
        .collect();
    let run = committed(Uuid::now_v7(), Arc::new(plan), RunState::Running, records);
    let mut ledger = Ledger::take_over(run, Judge::default(), 1 << 20, at(0), None).unwrap();
    assert_eq!(
        crate::plan::SCANS.get(),
        5,
        "taking over scans the unfinished steps (what they read), not the finished ones"
    );
    let kept: Vec<bool> = (ledger.slots.iter())
        .map(|slot| slot.output.is_some())
        .collect();
    assert_eq!(
        kept[..5],
        [false, false, false, false, true],
        "only the output an unfinished step reads is kept in memory"
    );
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["s5"]);
    assert_eq!(starts[0].actions.all()[0].params, json!({"output": 5}));
    assert_eq!(crate::plan::SCANS.get(), 5, "nothing is scanned twice");

    // A file is checked whole: every step was scanned as it loaded (on the loader's thread),
    // none is left to scan.
    let file = self::plan(workflow);
    crate::plan::SCANS.set(0);
    let reads: Vec<&[StepIndex]> = (0..10).map(|step| file.referenced_steps(step)).collect();
    assert_eq!(reads[9], [8]);
    assert_eq!(crate::plan::SCANS.get(), 0);
}
