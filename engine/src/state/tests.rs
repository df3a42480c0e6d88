//! The transition tables and batches.

use super::*;

/// The legal step transitions, written out once more by hand: the exhaustive test below
/// fails if the table and this list ever disagree.
const LEGAL_STEP: &[(&str, &str)] = &[
    ("pending", "ready"),
    ("pending", "skipped"),
    ("pending", "cancelled"),
    ("ready", "running"),
    ("ready", "awaiting_approval"),
    ("ready", "denied"),
    ("ready", "skipped"),
    ("ready", "cancelled"),
    ("ready", "ready"),
    ("awaiting_approval", "ready"),
    ("awaiting_approval", "denied"),
    ("awaiting_approval", "cancelled"),
    ("running", "succeeded"),
    ("running", "failed"),
    ("running", "retry_wait"),
    ("running", "cancelled"),
    ("running", "ready"),
    ("retry_wait", "ready"),
    ("retry_wait", "cancelled"),
    ("succeeded", "pending"),
    ("failed", "pending"),
    ("skipped", "pending"),
    ("cancelled", "pending"),
    ("denied", "pending"),
];

const LEGAL_RUN: &[(&str, &str)] = &[
    ("pending", "running"),
    ("pending", "cancelled"),
    ("running", "paused"),
    ("running", "succeeded"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("paused", "running"),
    ("paused", "failed"),
    ("paused", "cancelled"),
    ("failed", "running"),
    ("cancelled", "running"),
];

#[test]
fn step_table_is_exactly_the_legal_list() {
    for &from in StepState::ALL {
        for &to in StepState::ALL {
            let legal = LEGAL_STEP.contains(&(from.as_str(), to.as_str()));
            assert_eq!(from.check(to).is_ok(), legal, "{from} -> {to}");
        }
    }
}

#[test]
fn run_table_is_exactly_the_legal_list() {
    for &from in RunState::ALL {
        for &to in RunState::ALL {
            let legal = LEGAL_RUN.contains(&(from.as_str(), to.as_str()));
            assert_eq!(from.check(to).is_ok(), legal, "{from} -> {to}");
        }
    }
}

#[test]
fn the_terminal_states_are_exactly_the_ends() {
    let steps: Vec<StepState> = (StepState::ALL.iter().copied())
        .filter(|state| state.is_terminal())
        .collect();
    use StepState::*;
    assert_eq!(steps, [Succeeded, Failed, Skipped, Cancelled, Denied]);
    let runs: Vec<RunState> = (RunState::ALL.iter().copied())
        .filter(|state| state.is_terminal())
        .collect();
    assert_eq!(
        runs,
        [RunState::Succeeded, RunState::Failed, RunState::Cancelled]
    );
}

#[test]
fn terminal_states_are_left_only_by_a_redrive() {
    for &from in StepState::ALL.iter().filter(|s| s.is_terminal()) {
        for &to in StepState::ALL {
            assert_eq!(
                from.check(to).is_ok(),
                to == StepState::Pending,
                "{from} -> {to}"
            );
        }
    }
    for &from in RunState::ALL.iter().filter(|s| s.is_terminal()) {
        for &to in RunState::ALL {
            let redrive = from != RunState::Succeeded && to == RunState::Running;
            assert_eq!(from.check(to).is_ok(), redrive, "{from} -> {to}");
        }
    }
}

#[test]
fn names_round_trip() {
    for &state in StepState::ALL {
        assert_eq!(state.as_str().parse::<StepState>(), Ok(state));
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
    }
    for &state in RunState::ALL {
        assert_eq!(state.as_str().parse::<RunState>(), Ok(state));
    }
    assert!("bogus".parse::<StepState>().is_err());
}

#[test]
fn a_batch_refuses_an_illegal_or_discontinuous_transition() {
    let run = Uuid::now_v7();
    let step = |id: &str, from, to| Transition::Step(StepTransition::new(run, id, from, to));
    let mut batch = Batch::new();
    assert!(
        batch
            .push(step("a", StepState::Pending, StepState::Succeeded))
            .is_err()
    );
    batch
        .push(step("a", StepState::Pending, StepState::Ready))
        .unwrap();
    // Another step is independent of `a`.
    batch
        .push(step("b", StepState::Running, StepState::Succeeded))
        .unwrap();
    assert!(
        batch
            .push(step("a", StepState::Running, StepState::Succeeded))
            .is_err()
    );
    let run_change = |from, to| Transition::Run(RunTransition::new(run, from, to));
    batch
        .push(run_change(RunState::Pending, RunState::Running))
        .unwrap();
    assert!(
        batch
            .push(run_change(RunState::Pending, RunState::Running))
            .is_err()
    );
    assert!(
        batch
            .push(run_change(RunState::Running, RunState::Pending))
            .is_err()
    );
    assert_eq!(batch.len(), 3);
    batch.clear();
    assert!(batch.is_empty());
    batch
        .push(step("a", StepState::Running, StepState::Succeeded))
        .unwrap();
}

#[test]
fn illegal_transition_names_both_states() {
    let error = StepState::Succeeded.check(StepState::Running).unwrap_err();
    assert_eq!(
        error.to_string(),
        "illegal step transition succeeded -> running"
    );
}

#[test]
fn a_batch_follows_each_step_of_each_run_to_its_last_state() {
    let (run, other) = (Uuid::now_v7(), Uuid::now_v7());
    let step = |run, from, to| Transition::Step(StepTransition::new(run, "a", from, to));
    let mut batch = Batch::new();
    for (from, to) in [
        (StepState::Pending, StepState::Ready),
        (StepState::Ready, StepState::Running),
    ] {
        batch.push(step(run, from, to)).unwrap();
    }
    // The same id in another run is another step.
    batch
        .push(step(other, StepState::Pending, StepState::Ready))
        .unwrap();
    // `a` of `run` was left running, not ready.
    assert!(
        batch
            .push(step(run, StepState::Ready, StepState::Running))
            .is_err()
    );
    batch
        .push(step(run, StepState::Running, StepState::Succeeded))
        .unwrap();
    batch
        .push(step(other, StepState::Ready, StepState::Running))
        .unwrap();
    assert_eq!(batch.len(), 5);
}
