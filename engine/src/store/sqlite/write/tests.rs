//! How a batch folds into rows.

use super::*;
use crate::state::{RunState, StepState};

fn step(run_id: Uuid, id: &str, from: StepState, to: StepState) -> Transition {
    Transition::Step(StepTransition::new(run_id, id, from, to))
}

#[test]
fn a_step_that_moves_twice_is_one_row_and_two_numbered_events() {
    let run_id = Uuid::now_v7();
    let mut batch = Batch::new();
    for transition in [
        step(run_id, "a", StepState::Pending, StepState::Ready),
        step(run_id, "b", StepState::Running, StepState::Succeeded),
        step(run_id, "a", StepState::Ready, StepState::Running),
        Transition::Run(RunTransition::new(
            run_id,
            RunState::Running,
            RunState::Succeeded,
        )),
    ] {
        batch.push(transition).unwrap();
    }
    let mut rows = Rows::new(batch);
    let next = rows.number(|_| Ok::<_, ()>(7)).unwrap();
    let net: Vec<(&str, &str, &str)> = rows
        .steps
        .iter()
        .map(|row| (row.step.as_str(), row.from, row.to))
        .collect();
    assert_eq!(
        net,
        [("a", "pending", "running"), ("b", "running", "succeeded")]
    );
    let seqs: Vec<i64> = rows.events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, [7, 8, 9, 10]);
    assert_eq!(next[&run_id], 11);
    assert_eq!(rows.runs.len(), 1);
    assert!(rows.runs[0].ended);
}
