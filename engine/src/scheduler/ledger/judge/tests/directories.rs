//! The directory a step is judged in: the engine's, as it opened, for a step without
//! `with.cwd` (or with a relative one); approvals bind it, or the directory the guard judged.

use super::*;

#[test]
fn the_guard_judges_in_the_engines_directory_the_one_approvals_bind() {
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"say": "where"}}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(
        starts[0].actions.all()[0].params,
        json!({"judged_in": "/checkout"})
    );
}

#[test]
fn an_approval_binds_the_engines_directory_where_a_step_without_cwd_runs() {
    let (workflow, mut ledger) = asking_for_approval();
    let mut request: Approval = ledger.take_batch().approvals()[0].clone();
    request.decision = Some(approved_at(3));
    let mut records = records_after(&ledger);
    records[0].state = crate::state::StepState::Ready;
    // An engine started in another checkout asks again rather than run it there.
    let run = Committed {
        approvals: vec![request],
        ..committed(ledger.run_id, plan(workflow), RunState::Running, records)
    };
    let judge = judge_by(Fake::default(), "/another/checkout");
    let mut elsewhere = take_over_judged(run, judge, at(4), None);
    assert!(elsewhere.turn(at(4)).unwrap().is_empty());
    let moved = moves(&elsewhere.take_batch());
    assert!(
        moved.contains(&"a: ready -> awaiting_approval".to_owned()),
        "{moved:?}"
    );
}

/// Holds every action for approval, run in `0`: where its `with.cwd` leads now, as a
/// policy's `cwd` roots make it canonical.
#[derive(Debug)]
struct Resolves(&'static str);

impl Guard for Resolves {
    fn judge(&self, action: &Action, _: &Facts<'_>) -> Verdict {
        let mut params = action.params.clone();
        params["cwd"] = json!(self.0);
        Verdict {
            params: Some(params),
            ..Verdict::approve("ask", "a person decides")
        }
    }
}

#[test]
fn an_approval_binds_the_directory_the_guard_judged_not_the_cwd_as_written() {
    let workflow = json!({"name": "g", "steps": [
        {"id": "a", "executor": "noop", "with": {"cwd": "/root/link"}}
    ]});
    let judge = |guard: Resolves| judge_by(guard, "/checkout");
    let mut ledger = new_judged_run(workflow.clone(), judge(Resolves("/root/a")));
    ledger.turn(at(0)).unwrap();
    let mut request: Approval = ledger.take_batch().approvals()[0].clone();
    assert_eq!(
        request.action["params"]["cwd"], "/root/a",
        "the person sees where"
    );
    request.decision = Some(approved_at(3));
    let mut records = records_after(&ledger);
    records[0].state = StepState::Ready;
    let resumed = |guard: Resolves, request: &Approval| {
        let plan = plan(workflow.clone());
        let run = Committed {
            approvals: vec![request.clone()],
            ..committed(ledger.run_id, plan, RunState::Running, records.clone())
        };
        take_over_judged(run, judge(guard), at(4), None)
    };
    // The link leads where it did: the step runs there.
    let mut same = resumed(Resolves("/root/a"), &request);
    let starts = same.turn(at(4)).unwrap();
    assert_eq!(starts[0].actions.all()[0].params["cwd"], "/root/a");
    // Repointed since: the approval is not spent in the other directory.
    let mut repointed = resumed(Resolves("/root/b"), &request);
    assert!(repointed.turn(at(4)).unwrap().is_empty());
    let batch = repointed.take_batch();
    assert!(moves(&batch).contains(&"a: ready -> awaiting_approval".to_owned()));
    assert_eq!(batch.approvals()[0].action["params"]["cwd"], "/root/b");
    // An older cairn bound `with.cwd` as written: its approval is asked again, saying why,
    // rather than granted for whatever directory the link leads to now.
    let as_written = Action {
        params: json!({"cwd": "/root/link"}),
        ..starts[0].actions.all()[0].clone()
    };
    let checkout = Some(std::path::Path::new("/checkout"));
    request.action_hash = crate::approval::action_hash(&as_written, Some("policy"), checkout);
    let mut older = resumed(Resolves("/root/a"), &request);
    assert!(older.turn(at(4)).unwrap().is_empty());
    let batch = older.take_batch();
    let reasons = &batch.approvals()[0].verdict.reasons;
    assert!(reasons[1].starts_with("asked again"), "{reasons:?}");
}

#[test]
fn an_approval_of_a_step_without_a_cwd_binds_the_engines_directory_as_before() {
    // The guard judges the engine's directory; the hash binds it already (p26: an older
    // cairn's approval of such a step was asked again after an upgrade).
    let workflow = json!({"name": "g", "steps": [{"id": "a", "executor": "noop"}]});
    let judge = || judge_by(Resolves("/checkout"), "/checkout");
    let mut ledger = new_judged_run(workflow.clone(), judge());
    ledger.turn(at(0)).unwrap();
    let mut request: Approval = ledger.take_batch().approvals()[0].clone();
    assert_eq!(request.action["params"].get("cwd"), None, "as written");
    request.decision = Some(approved_at(3));
    let mut records = records_after(&ledger);
    records[0].state = StepState::Ready;
    let run = Committed {
        approvals: vec![request],
        ..committed(ledger.run_id, plan(workflow), RunState::Running, records)
    };
    let mut resumed = take_over_judged(run, judge(), at(4), None);
    let starts = resumed.turn(at(4)).unwrap();
    assert_eq!(starts.len(), 1, "granted, not asked again");
}
