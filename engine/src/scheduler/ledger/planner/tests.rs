//! Planner steps in the ledger: plans added with the planner's success, refused plans,
//! repeated plans, and a restart after a plan.

use serde_json::{Value, json};

use super::super::tests::{at, committed_after, done, failed, ids, moves, new_run};
use super::super::{BATCH_SLICE, Committed, Judge, Ledger};
use crate::executor::ErrorClass;
use crate::executor::Usage;
use crate::plan::{Spent, Supersession};
use crate::state::{Batch, RunState, StepState, Transition};

/// `gen` plans; `report` needs it.
fn workflow(retry: u32) -> Value {
    json!({"name": "p", "stall": {"loop_after": 2, "on_stall": "fail"}, "steps": [
        {"id": "gen", "executor": "noop", "planner": true, "retry": {"max_attempts": retry}},
        {"id": "report", "executor": "noop", "needs": ["gen"]}
    ]})
}

fn plan_of(ids: &[&str]) -> Value {
    let steps: Vec<Value> = (ids.iter())
        .map(|id| json!({"id": id, "executor": "noop"}))
        .collect();
    json!({ "steps": steps })
}

fn step(ledger: &Ledger, id: &str) -> usize {
    ledger.plan.index_of(id).unwrap()
}

#[test]
fn a_plan_commits_with_its_planner_and_runs_before_the_planners_dependents() {
    let mut ledger = new_run(workflow(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let gen_ = step(&ledger, "gen");
    ledger
        .apply(done(gen_, plan_of(&["a", "b"])), at(1))
        .unwrap();
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["gen.a", "gen.b"]);
    let batch = ledger.take_batch();
    assert_eq!(batch.plans().len(), 1);
    assert_eq!(batch.plans()[0].ids, ["gen.a", "gen.b"]);
    assert_eq!(batch.plans()[0].seq, 1);
    let success = batch
        .transitions()
        .iter()
        .find_map(|transition| match transition {
            crate::state::Transition::Step(step) if step.to == StepState::Succeeded => Some(step),
            _ => None,
        });
    assert_eq!(
        success.unwrap().detail,
        Some(json!({"plan": {"added": ["gen.a", "gen.b"]}}))
    );
    ledger
        .apply(done(step(&ledger, "gen.a"), json!(1)), at(2))
        .unwrap();
    assert!(
        ledger.turn(at(2)).unwrap().is_empty(),
        "report waits for gen.b too"
    );
    ledger
        .apply(done(step(&ledger, "gen.b"), json!(2)), at(3))
        .unwrap();
    let starts = ledger.turn(at(3)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["report"]);
}

#[test]
fn a_planners_plan_is_kept_as_json_text_and_read_back_only_when_read() {
    let mut ledger = new_run(workflow(1));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let gen_ = step(&ledger, "gen");
    let plan = plan_of(&["a", "b"]);
    ledger.apply(done(gen_, plan.clone()), at(1)).unwrap();
    let output = std::sync::Arc::clone(ledger.slots[gen_].output.as_ref().unwrap());
    assert!(
        output.is_text(),
        "its steps are compiled into the run's plan already"
    );
    let batch = ledger.take_batch();
    assert_eq!(batch.plans()[0].steps, plan["steps"].to_string());
    let success = (batch.transitions().iter()).find_map(|transition| match transition {
        crate::state::Transition::Step(step) if step.to == StepState::Succeeded => Some(step),
        _ => None,
    });
    let committed = success.unwrap().output.as_ref().unwrap();
    assert!(
        std::sync::Arc::ptr_eq(committed, &output),
        "the transition shares the output the ledger keeps, as its text"
    );
    assert_eq!(committed.to_json(), plan, "committed whole");
    assert!(
        output.is_text(),
        "committing it read it without keeping the value"
    );
    let run = Committed {
        plans: batch.plans().to_vec(),
        ..committed_after(&ledger, RunState::Running)
    };
    let resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    let restored = resumed.slots[gen_].output.as_ref().unwrap();
    assert!(restored.is_text(), "a restart keeps it as text too");
    assert_eq!(
        restored.json(),
        &plan,
        "read, it is the plan the planner emitted"
    );
    assert!(!restored.is_text());
}

#[test]
fn an_invalid_plan_fails_the_attempt_and_the_planners_retry_asks_again() {
    let mut ledger = new_run(workflow(2));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let gen_ = step(&ledger, "gen");
    let cycle = json!({"steps": [
        {"id": "a", "executor": "noop", "needs": ["b"]},
        {"id": "b", "executor": "noop", "needs": ["a"]}]});
    ledger.apply(done(gen_, cycle), at(1)).unwrap();
    let error = ledger.slots[gen_].error.clone().unwrap();
    assert!(
        error.starts_with("invalid_plan: plan of gen:/steps/0: cycle: gen.a -> gen.b -> gen.a"),
        "{error}"
    );
    assert_eq!(ledger.slots[gen_].state, StepState::RetryWait);
    assert!(ledger.take_batch().plans().is_empty(), "nothing was added");
    assert_eq!(ledger.plan.steps().len(), 2);
    let wake = ledger.next_wake().unwrap();
    let starts = ledger.turn(wake).unwrap();
    assert_eq!(ids(&ledger, &starts), ["gen"]);
    ledger.apply(done(gen_, plan_of(&["a"])), wake).unwrap();
    let starts = ledger.turn(wake).unwrap();
    assert_eq!(ids(&ledger, &starts), ["gen.a"]);
}

/// A run of `workflow` whose planner plans, round after round, a planner `again` with the
/// plan `plan_of_round` gives: three rounds (`gen`, `gen.again`, `gen.again.again`).
fn replanned(workflow: Value, plan_of_round: impl Fn(i64) -> Value) -> Ledger {
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    let mut planner = "gen".to_owned();
    for round in 0..3 {
        let index = step(&ledger, &planner);
        ledger
            .apply(done(index, plan_of_round(round)), at(round))
            .unwrap();
        ledger.turn(at(round)).unwrap();
        planner.push_str(".again");
    }
    ledger
}

/// Whether the third round's planner failed as a loop saying `why`.
fn third_round_looped(ledger: &Ledger, why: &str) -> bool {
    let third = &ledger.slots[step(ledger, "gen.again.again")];
    let looped = (third.error.as_deref()).is_some_and(|error| error.contains(why));
    match third.state {
        StepState::Failed => looped,
        _ => false,
    }
}

/// A round's plan: a planner `again` whose `with` holds the round's number.
fn counting(round: i64) -> Value {
    json!({"steps": [
        {"id": "again", "executor": "noop", "planner": true, "with": {"output": {"round": round}}}
    ]})
}

#[test]
fn a_plan_emitted_again_and_again_is_a_loop() {
    // Each round's planner plans one more planner with the same plan.
    let again = json!({"steps": [{"id": "again", "executor": "noop", "planner": true}]});
    let mut ledger = replanned(workflow(1), |_| again.clone());
    // loop_after is 2: the third emission is the second repeat.
    assert!(third_round_looped(
        &ledger,
        "looping: this plan was emitted 2 times before"
    ));
    assert!(ledger.is_over());
    assert_eq!(ledger.report().state, RunState::Failed);
    let batch = moves(&ledger.take_batch());
    assert!(
        batch.contains(&"report: pending -> skipped".to_owned()),
        "{batch:?}"
    );
}

#[test]
fn a_plan_that_differs_by_a_counter_is_no_repeat_but_a_loop_of_them_stops_at_its_depth() {
    // A round's counter makes each plan another: three rounds run.
    let ledger = replanned(workflow(1), counting);
    assert!(!third_round_looped(&ledger, "looping"));
    let third = step(&ledger, "gen.again.again");
    assert_eq!(ledger.slots[third].state, StepState::Succeeded);
    // Two plans deep at most: the third round's plan would be the third.
    let mut shallow = workflow(1);
    shallow["limits"] = json!({"max_plan_depth": 2});
    let ledger = replanned(shallow, counting);
    assert!(third_round_looped(
        &ledger,
        "looping: this plan would be 3 plans deep, past limits.max_plan_depth (2)"
    ));
}

#[test]
fn a_restart_keeps_the_added_steps_and_counts_repeats_from_the_stored_plans() {
    let mut ledger = new_run(workflow(1));
    ledger.turn(at(0)).unwrap();
    let gen_ = step(&ledger, "gen");
    ledger.apply(done(gen_, plan_of(&["a"])), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    let plans = ledger.take_batch().plans().to_vec();
    let run = Committed {
        plans,
        ..committed_after(&ledger, RunState::Running)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    assert_eq!(moves(&resumed.take_batch()), ["gen.a: running -> ready"]);
    assert_eq!(resumed.plan_count, 1);
    assert_eq!(resumed.plans.len(), 1);
    let starts = resumed.turn(at(2)).unwrap();
    assert_eq!(ids(&resumed, &starts), ["gen.a"]);
}

/// Takes over `ledger`'s run after a restart, with the plans of its batch committed.
fn restarted(ledger: &mut Ledger) -> Ledger {
    let run = Committed {
        plans: ledger.take_batch().plans().to_vec(),
        ..committed_after(ledger, RunState::Running)
    };
    Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap()
}

#[test]
fn repeats_count_the_planners_that_added_a_planner_not_others_before_and_after_a_restart() {
    let planners: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("g{i}"), "executor": "noop", "planner": true}))
        .collect();
    let workflow = json!({"name": "sibs", "stall": {"loop_after": 2, "on_stall": "fail"},
        "steps": planners});
    let again = json!({"steps": [{"id": "again", "executor": "noop", "planner": true}]});
    let mut ledger = new_run(workflow);
    ledger.turn(at(0)).unwrap();
    for planner in ["g0", "g1"] {
        let index = step(&ledger, planner);
        ledger.apply(done(index, again.clone()), at(1)).unwrap();
    }
    ledger.turn(at(1)).unwrap();
    let mut resumed = restarted(&mut ledger);
    resumed.turn(at(2)).unwrap();
    // The run emitted the plan twice (loop_after) already, from planners of the file.
    for (round, planner) in ["g2", "g3", "g0.again", "g0.again.again"]
        .iter()
        .enumerate()
    {
        let index = step(&resumed, planner);
        let now = at(3 + round as i64);
        resumed.apply(done(index, again.clone()), now).unwrap();
        resumed.turn(now).unwrap();
    }
    for planner in ["g0", "g1", "g2", "g3", "g0.again"] {
        let index = step(&resumed, planner);
        assert_eq!(
            resumed.slots[index].state,
            StepState::Succeeded,
            "{planner}"
        );
        assert!(resumed.plan.index_of(&format!("{planner}.again")).is_some());
    }
    // g0's plan added g0.again, whose plan added g0.again.again: both emitted its plan, and
    // the error names them (probe 189 F2: only a digest told which plan repeated).
    let looped = step(&resumed, "g0.again.again");
    let error = resumed.slots[looped].error.clone().unwrap();
    assert!(
        error.contains("looping: this plan was emitted 2 times before by the planners that added this planner (g0.again, g0)"),
        "{error}"
    );
}

/// Starts `gen` of a run taken over, lets it emit the plan `[a]`: the batch of that.
fn gen_plans_a(ledger: &mut Ledger) -> Batch {
    ledger.turn(at(2)).unwrap();
    ledger.take_batch();
    let gen_ = step(ledger, "gen");
    ledger.apply(done(gen_, plan_of(&["a"])), at(3)).unwrap();
    ledger.turn(at(3)).unwrap();
    ledger.take_batch()
}

#[test]
fn superseded_plans_keep_their_numbers_and_what_their_steps_spent() {
    let ledger = new_run(workflow(2));
    let gone = Supersession {
        run_id: ledger.run_id,
        seq: 3,
        planner: "gen".into(),
        steps: plan_of(&["old"])["steps"].to_string(),
        spent: Spent {
            attempts: 5,
            steps: 2,
            usage: Usage {
                input_tokens: 7,
                output_tokens: 1,
                cost_usd: 0.5,
            },
        },
    };
    let run = Committed {
        superseded: vec![gone.clone()],
        ..committed_after(&ledger, RunState::Running)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    assert_eq!(resumed.tally, gone.spent, "budgets count what they spent");
    let batch = gen_plans_a(&mut resumed);
    assert_eq!(
        batch.plans()[0].seq,
        4,
        "numbered after the superseded plan"
    );
}

#[test]
fn superseded_plans_are_no_repeats_a_redrive_starts_afresh() {
    let ledger = new_run(workflow(2));
    let gone = |seq: u32| Supersession {
        run_id: ledger.run_id,
        seq,
        planner: "gen".into(),
        steps: plan_of(&["a"])["steps"].to_string(),
        spent: Spent::default(),
    };
    // loop_after is 2: three redrives superseded the plan `gen` emits once more.
    let run = Committed {
        superseded: vec![gone(1), gone(2), gone(3)],
        ..committed_after(&ledger, RunState::Running)
    };
    let mut resumed = Ledger::take_over(run, Judge::default(), 1 << 20, at(2), None).unwrap();
    let batch = gen_plans_a(&mut resumed);
    assert_eq!(batch.plans().len(), 1, "the plan is added again");
    assert!(
        moves(&batch).contains(&"gen: running -> succeeded".to_owned()),
        "{:?}",
        moves(&batch)
    );
}

#[test]
fn planners_one_plan_adds_side_by_side_that_emit_the_same_plan_are_no_loop() {
    let mut ledger = new_run(workflow(1));
    ledger.turn(at(0)).unwrap();
    let checks = plan_of(&["chk"]);
    let fan: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("m{i}"), "executor": "noop", "planner": true}))
        .collect();
    let gen_ = step(&ledger, "gen");
    let fan = json!({ "steps": fan });
    ledger.apply(done(gen_, fan), at(1)).unwrap();
    ledger.turn(at(1)).unwrap();
    // loop_after is 2: the run emits the plan a third and a fourth time, from siblings.
    for (round, planner) in ["gen.m0", "gen.m1", "gen.m2", "gen.m3"].iter().enumerate() {
        let index = step(&ledger, planner);
        let now = at(2 + round as i64);
        ledger.apply(done(index, checks.clone()), now).unwrap();
        ledger.turn(now).unwrap();
        assert_eq!(ledger.slots[index].state, StepState::Succeeded, "{planner}");
        assert!(ledger.plan.index_of(&format!("{planner}.chk")).is_some());
    }
}

#[test]
fn an_agents_text_is_read_as_its_plan() {
    let plan = json!({"steps": [{"id": "a", "executor": "noop"}]});
    let fenced = format!("```json\n{plan}\n```");
    let agent = |text: &str| json!({"text": text, "raw": {}, "warnings": []});
    assert_eq!(
        super::read_plan(&agent(&fenced)).unwrap(),
        Some(plan.clone())
    );
    assert_eq!(
        super::read_plan(&agent(&plan.to_string())).unwrap(),
        Some(plan.clone())
    );
    assert_eq!(
        super::read_plan(&plan).unwrap(),
        None,
        "a plan is read as it is"
    );
    let error = super::read_plan(&agent("Here is the plan.")).unwrap_err();
    assert_eq!(error.class, crate::executor::ErrorClass::InvalidPlan);
    let said = format!("Here is the plan:\n\n{fenced}\n\nIt adds one step.");
    assert_eq!(
        super::read_plan(&agent(&said)).unwrap(),
        Some(plan),
        "a sentence around the plan's code block"
    );
    let two = format!("First:\n{fenced}\nOr:\n{fenced}");
    let error = super::read_plan(&agent(&two)).unwrap_err();
    assert!(
        error.message.contains("holds 2 code blocks"),
        "{}",
        error.message
    );
}

/// A plan's step whose need ended already in a way it refuses is skipped at once: after the
/// planner's success that added it, in the batch (and so in the history), and so is what
/// that skip skips downstream.
#[test]
fn a_plans_step_skipped_at_once_follows_the_planners_success_in_the_batch() {
    let mut ledger = new_run(json!({"name": "p", "steps": [
        {"id": "f", "executor": "noop"},
        {"id": "gen", "executor": "noop", "planner": true},
        {"id": "after", "executor": "noop", "needs": ["gen"]}
    ]}));
    ledger.turn(at(0)).unwrap();
    let f = step(&ledger, "f");
    let failure = failed(f, ErrorClass::BadParams, "no");
    ledger.apply(failure, at(1)).unwrap();
    ledger.take_batch();
    let plan = json!({"steps": [{"id": "x", "executor": "noop", "needs": ["f"]},
        {"id": "y", "executor": "noop", "needs": ["f"], "trigger": "none_failed"}]});
    ledger
        .apply(done(step(&ledger, "gen"), plan), at(2))
        .unwrap();
    let batch = ledger.take_batch();
    assert_eq!(
        moves(&batch),
        [
            "gen: running -> succeeded",
            "gen.x: pending -> skipped",
            "gen.y: pending -> skipped",
            "after: pending -> skipped"
        ]
    );
    // Told as a step of the file is (probe 178 F2: the plan's left its trigger out).
    let reasons: Vec<String> = (batch.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) if step.step_id.starts_with("gen.") => {
                Some(step.detail.as_ref()?["reason"].to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            r#""needs f which ended failed""#,
            r#""needs f which ended failed (trigger none_failed)""#
        ]
    );
}

/// `f`, which `gen` (all_done) and more steps than a batch takes need, fails while `slow`
/// runs: the cascade from `f` commits in slices, and `gen` runs and plans before it is
/// over. `gen` also gets `extra` (nodes after the fan-out).
fn sliced_cascade(extra: &[Value]) -> Value {
    let n = BATCH_SLICE + 100;
    let mut steps = vec![
        json!({"id": "f", "executor": "noop"}),
        json!({"id": "slow", "executor": "noop"}),
        json!({"id": "gen", "executor": "noop", "needs": ["f"], "trigger": "all_done",
            "planner": true}),
    ];
    steps
        .extend((0..n).map(|i| json!({"id": format!("k{i}"), "executor": "noop", "needs": ["f"]})));
    steps.extend(extra.iter().cloned());
    json!({"name": "sliced", "limits": {"max_steps": n + 10}, "steps": steps})
}

/// Fails `f` (its cascade fills the batch) and starts `gen` with the batch still full, then
/// lets `gen` emit `plan`: the cascade from `f` is under way when the plan is added.
fn plan_mid_cascade(ledger: &mut Ledger, plan: Value) {
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(ledger, &starts), ["f", "slow"]);
    ledger.take_batch();
    let f = step(ledger, "f");
    ledger
        .apply(failed(f, ErrorClass::ExitCode, "no"), at(1))
        .unwrap();
    assert!(
        ledger.walk.is_under_way(),
        "the batch is full: the cascade waits"
    );
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(ledger, &starts), ["gen"]);
    ledger.take_batch();
    ledger
        .apply(done(step(ledger, "gen"), plan), at(2))
        .unwrap();
}

/// Turns the ledger until its cascade is over: the ids of the steps it starts.
fn turn_through(ledger: &mut Ledger, now: i64) -> Vec<String> {
    let mut started = Vec::new();
    loop {
        let starts = ledger.turn(at(now)).unwrap();
        started.extend(ids(ledger, &starts));
        ledger.take_batch();
        if !ledger.has_work_left() {
            return started;
        }
    }
}

/// A plan's step needs a step skipped by the cascade but not walked from yet (and `slow`,
/// which runs): that walk, when it comes, counts it as met, not the plan's adoption too
/// (probe p14 F1, shape A).
#[test]
fn a_plan_added_mid_cascade_waits_for_its_needs_not_yet_walked_from() {
    let mut ledger = new_run(sliced_cascade(&[]));
    let plan = json!({"steps": [
        {"id": "z", "executor": "noop", "needs": ["k0", "slow"], "trigger": "none_failed"},
        {"id": "y", "executor": "noop", "needs": ["k0", "slow"]},
        {"id": "y2", "executor": "noop", "needs": ["y"], "trigger": "all_done"}]});
    plan_mid_cascade(&mut ledger, plan);
    assert!(
        turn_through(&mut ledger, 3).is_empty(),
        "gen.z and gen.y2 wait for slow"
    );
    for id in ["gen.z", "gen.y2"] {
        assert_eq!(
            ledger.slots[step(&ledger, id)].state,
            StepState::Pending,
            "{id}"
        );
    }
    assert_eq!(
        ledger.slots[step(&ledger, "gen.y")].state,
        StepState::Skipped
    );
    ledger
        .apply(done(step(&ledger, "slow"), json!(1)), at(4))
        .unwrap();
    assert_eq!(turn_through(&mut ledger, 4), ["gen.z", "gen.y2"]);
}

/// The planner's dependent `d` needs `f` too, and the paused walk from `f` has not reached
/// it when the plan is added: that walk counts `f` as met, not the plan's adoption too
/// (probe p14 F1, shape B).
#[test]
fn a_planners_dependent_not_yet_reached_by_a_paused_walk_waits_for_the_whole_plan() {
    let d = json!({"id": "d", "executor": "noop", "needs": ["f", "gen"], "trigger": "all_done"});
    let mut ledger = new_run(sliced_cascade(&[d]));
    plan_mid_cascade(&mut ledger, plan_of(&["u", "v"]));
    assert_eq!(turn_through(&mut ledger, 3), ["gen.u", "gen.v"]);
    ledger
        .apply(done(step(&ledger, "gen.u"), json!(1)), at(4))
        .unwrap();
    assert!(turn_through(&mut ledger, 4).is_empty(), "d waits for gen.v");
    ledger
        .apply(done(step(&ledger, "gen.v"), json!(2)), at(5))
        .unwrap();
    assert_eq!(turn_through(&mut ledger, 5), ["d"]);
}
