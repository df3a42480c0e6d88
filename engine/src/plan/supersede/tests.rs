//! Which plans a redrive supersedes, and what their steps spent.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Spent, spent, superseded};
use crate::executor::Usage;
use crate::executor::test_support::accepting_anything;
use crate::item::ItemRecord;
use crate::load::{load_plan, load_str};
use crate::plan::{Addition, Plan};
use crate::state::StepState;
use crate::store::StepRecord;

/// `start`, then the planners `gen` and `other` side by side, then `report`; `gen` planned
/// `gen.fix` and the planner `gen.more`, which planned `gen.more.deep`; `other` planned
/// `other.x`.
fn grown() -> (Plan, Vec<Addition>) {
    let workflow = json!({"name": "t", "steps": [{"pipeline": [
        {"id": "start", "executor": "noop"},
        {"parallel": [
            {"id": "gen", "executor": "noop", "planner": true},
            {"id": "other", "executor": "noop", "planner": true}
        ]},
        {"id": "report", "executor": "noop"}
    ]}]});
    let executors = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &executors).unwrap();
    let mut additions = Vec::new();
    let mut add = |plan: &mut Plan, planner: &str, steps: Value| {
        let index = plan.index_of(planner).unwrap();
        let first = plan.steps().len();
        let output = json!({ "steps": steps });
        let added = load_plan(&output, plan, index, &executors).unwrap();
        additions.push(Addition {
            run_id: Uuid::nil(),
            seq: additions.len() as u32 + 1,
            planner: planner.to_owned(),
            steps: output["steps"].to_string(),
            ids: added
                .map(|step| plan.steps()[step].id.to_string())
                .collect(),
            first,
        });
    };
    add(
        &mut plan,
        "gen",
        json!([{"id": "fix", "executor": "noop"},
               {"id": "more", "executor": "noop", "planner": true, "needs": ["fix"]}]),
    );
    add(&mut plan, "other", json!([{"id": "x", "executor": "noop"}]));
    add(
        &mut plan,
        "gen.more",
        json!([{"id": "deep", "executor": "noop"}]),
    );
    (plan, additions)
}

fn planners(plan: &Plan, additions: &[Addition], from: &str) -> Vec<String> {
    let from = plan.index_of(from).unwrap();
    (superseded(plan, additions, from).iter())
        .map(|addition| addition.planner.clone())
        .collect()
}

#[test]
fn a_redrive_supersedes_the_plans_of_the_planners_at_or_after_its_step() {
    let (plan, additions) = grown();
    assert_eq!(
        planners(&plan, &additions, "gen"),
        ["gen", "gen.more"],
        "a plan's nested plans go with it"
    );
    assert_eq!(
        planners(&plan, &additions, "start"),
        ["gen", "other", "gen.more"]
    );
    assert_eq!(planners(&plan, &additions, "gen.more"), ["gen.more"]);
    assert_eq!(planners(&plan, &additions, "gen.fix"), ["gen.more"]);
    assert!(planners(&plan, &additions, "report").is_empty());
    assert!(planners(&plan, &additions, "other.x").is_empty());
}

#[test]
fn what_steps_spent_sums_their_attempts_and_usage() {
    let record = |id: &str, attempt: u32, cost: f64| StepRecord {
        attempt,
        state: StepState::Succeeded,
        usage: Some(Usage {
            input_tokens: 10,
            output_tokens: 1,
            cost_usd: cost,
        }),
        ..StepRecord::pending(id)
    };
    let records = [
        record("gen.fix", 2, 0.5),
        record("gen.more", 1, 0.25),
        StepRecord::pending("gen.more.deep"),
        record("other.x", 7, 9.0),
    ];
    let ids = ["gen.fix", "gen.more", "gen.more.deep"].map(String::from);
    let expected = Spent {
        attempts: 3,
        steps: 2,
        usage: Usage {
            input_tokens: 20,
            output_tokens: 2,
            cost_usd: 0.75,
        },
    };
    assert_eq!(spent(&records, &[], &ids), expected);
}

#[test]
fn each_run_of_a_for_each_item_is_an_attempt_spent() {
    let item = |step: &str, index: usize, attempt: u32| ItemRecord {
        run_id: Uuid::nil(),
        step_id: step.to_owned(),
        index,
        state: StepState::Succeeded,
        attempt,
        output: None,
        error: None,
    };
    let records = [
        StepRecord {
            attempt: 1,
            state: StepState::Succeeded,
            ..StepRecord::pending("gen.fe")
        },
        StepRecord {
            attempt: 1,
            state: StepState::Failed,
            ..StepRecord::pending("gen.bad")
        },
        StepRecord {
            attempt: 1,
            ..StepRecord::pending("other.fe")
        },
    ];
    // Four items, one run twice; the items of a step of another plan are not counted.
    let items = [
        item("gen.fe", 0, 1),
        item("gen.fe", 1, 2),
        item("gen.fe", 2, 1),
        item("gen.fe", 3, 1),
        item("other.fe", 0, 3),
    ];
    let ids = ["gen.fe", "gen.bad"].map(String::from);
    let spent = spent(&records, &items, &ids);
    assert_eq!(
        (spent.attempts, spent.steps),
        (6, 2),
        "5 runs of items and bad's attempt, as the ledger's tally counts them"
    );
}

#[test]
fn the_steps_leaving_with_a_plan_count_those_of_its_nested_plans() {
    let (plan, additions) = grown();
    let from = plan.index_of("gen").unwrap();
    let gone = superseded(&plan, &additions, from);
    assert_eq!(
        gone[0].steps_leaving(&gone),
        3,
        "gen.fix, gen.more and gen.more.deep"
    );
    assert_eq!(gone[1].steps_leaving(&gone), 1);
}
