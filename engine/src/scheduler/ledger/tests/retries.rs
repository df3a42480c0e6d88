//! Retries: their attempts, delays and fallbacks, and the attempts a crash, a stop or a pause
//! cut off, which run again without counting against `max_attempts`.

use super::*;

/// The `interrupted` counts `batch`'s step transitions carry, in order.
fn interrupted(batch: &Batch) -> Vec<u32> {
    (batch.transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) => Some(step.interrupted),
            Transition::Run(_) => None,
        })
        .collect()
}

#[test]
fn a_retry_wait_survives_a_restart_neither_forgotten_nor_hurried() {
    let workflow = json!({"name": "r", "steps": [
        {"id": "a", "executor": "noop",
         "retry": {"max_attempts": 3, "initial_delay": "10s", "backoff": "fixed"}}
    ]});
    let mut ledger = new_run(workflow.clone());
    ledger.turn(at(0)).unwrap();
    ledger
        .apply(failed(0, ErrorClass::ExitCode, "exit 1"), at(5))
        .unwrap();
    ledger.turn(at(5)).unwrap();
    let batch = ledger.take_batch();
    let Some(Transition::Step(wait)) = batch.transitions().last() else {
        panic!("a step transition");
    };
    assert_eq!(
        (wait.from, wait.to),
        (StepState::Running, StepState::RetryWait)
    );
    assert_eq!(wait.wake_at, Some(at(15)), "the wake-up time is committed");
    assert_eq!(ledger.next_wake(), Some(at(15)));

    // The engine dies; another takes over from what was committed.
    let records = records_after(&ledger);
    let mut resumed = resume(ledger.run_id, workflow, records);
    assert_eq!(resumed.next_wake(), Some(at(15)), "not forgotten");
    assert!(resumed.turn(at(14)).unwrap().is_empty(), "not hurried");
    let starts = resumed.turn(at(15)).unwrap();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].actions.all()[0].attempt, 2);
}

#[test]
fn steps_waiting_to_retry_wake_by_their_times_from_a_queue_of_their_own() {
    let mut ledger = new_run(json!({"name": "r", "steps": [{"parallel": [
        {"id": "slow", "executor": "noop",
         "retry": {"max_attempts": 2, "initial_delay": "20s", "backoff": "fixed"}},
        {"id": "quick", "executor": "noop",
         "retry": {"max_attempts": 2, "initial_delay": "5s", "backoff": "fixed"}}
    ]}]}));
    assert_eq!(ledger.turn(at(0)).unwrap().len(), 2);
    for step in [0, 1] {
        (ledger.apply(failed(step, ErrorClass::ExitCode, "exit 1"), at(1))).unwrap();
    }
    assert!(ledger.turn(at(1)).unwrap().is_empty());
    assert_eq!(ledger.retrying.len(), 2, "no turn scans the steps for them");
    assert_eq!(ledger.next_wake(), Some(at(6)));
    let starts = ledger.turn(at(6)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["quick"]);
    assert_eq!(ledger.next_wake(), Some(at(21)));
    assert!(ledger.turn(at(20)).unwrap().is_empty());
    let starts = ledger.turn(at(21)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["slow"]);
    assert!(ledger.retrying.is_empty());
}

#[test]
fn a_step_running_at_a_crash_runs_again_as_a_new_attempt() {
    let workflow = json!({"name": "c", "steps": [{"id": "a", "executor": "noop"}]});
    let mut ledger = new_run(workflow.clone());
    ledger.turn(at(0)).unwrap();
    let records = records_after(&ledger);
    let mut resumed = resume(ledger.run_id, workflow, records);
    let starts = resumed.turn(at(1)).unwrap();
    assert_eq!(starts[0].actions.all()[0].attempt, 2);
    let batch = resumed.take_batch();
    assert_eq!(
        moves(&batch),
        ["a: running -> ready", "a: ready -> running"]
    );
}

/// The `running` marks of a run driven to its end, and the `with` of each attempt started.
#[derive(Debug, Default)]
struct Driven {
    /// Each attempt marked running: its number and its event's detail.
    marked: Vec<(u32, Option<Value>)>,
    /// The params each attempt started with.
    params: Vec<Value>,
}

/// Drives `ledger` a second at a time until its run ends, each attempt started ending as
/// `outcome` says.
fn drive(ledger: &mut Ledger, outcome: impl Fn(&Start) -> Outcome) -> Driven {
    let mut driven = Driven::default();
    let mut now = 0;
    loop {
        let starts = ledger.turn(at(now)).unwrap();
        for transition in ledger.take_batch().transitions() {
            if let Transition::Step(step) = transition
                && step.to == StepState::Running
            {
                driven.marked.push((step.attempt, step.detail.clone()));
            }
        }
        if ledger.is_over() {
            return driven;
        }
        for start in starts {
            driven.params.push(start.actions.all()[0].params.clone());
            let outcome = outcome(&start);
            let input = Input::Completed {
                step: start.step,
                outcome,
            };
            ledger.apply(input, at(now)).unwrap();
        }
        now += 1;
        assert!(now < 100, "the step never ends");
    }
}

#[test]
fn a_fallback_is_ready_at_once_never_waiting_to_retry() {
    // No retry left: nothing waits, so the history must not say `retry_wait` (probe 14 F4).
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "a", "executor": "noop", "with": {"v": 0},
         "retry": {"max_attempts": 1, "initial_delay": "5s", "backoff": "fixed"},
         "fallbacks": [{"v": 1}]}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    let failure = Outcome::failure(ErrorClass::ExitCode, "no");
    let input = Input::Completed {
        step: 0,
        outcome: failure,
    };
    ledger.apply(input, at(1)).unwrap();
    assert_eq!(moves(&ledger.take_batch()), ["a: running -> ready"]);
    let starts = ledger.turn(at(1)).unwrap();
    assert_eq!(starts[0].actions.all()[0].params, json!({"v": 1}));
}

#[test]
fn retries_then_fallbacks_then_failure() {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "a", "executor": "noop", "with": {"v": 0},
         "retry": {"max_attempts": 2, "initial_delay": "1s", "backoff": "fixed"},
         "fallbacks": [{"v": 1}]}
    ]}));
    let driven = drive(&mut ledger, |_| {
        Outcome::failure(ErrorClass::ExitCode, "no")
    });
    assert_eq!(
        driven.params,
        [json!({"v": 0}), json!({"v": 0}), json!({"v": 1})]
    );
    assert_eq!(
        driven.marked,
        [(1, None), (2, None), (3, Some(json!({"fallback": 1})))],
        "the history marks the attempt that runs a fallback"
    );
    assert_eq!(ledger.report().state, RunState::Failed);
}

#[test]
fn a_with_that_does_not_render_is_retried_as_bad_params_then_falls_back() {
    let mut ledger = new_run(json!({"name": "r", "steps": [
        {"id": "a", "executor": "noop", "with": {"output": "${{ input.missing }}"},
         "retry": {"max_attempts": 3, "retry_on": ["bad_params"], "initial_delay": "1s",
                   "backoff": "fixed"},
         "fallbacks": [{"output": "fallback ok"}]}
    ]}));
    let driven = drive(&mut ledger, |start| {
        Outcome::success(start.actions.all()[0].params["output"].clone())
    });
    assert_eq!(
        driven.marked,
        [
            (1, None),
            (2, None),
            (3, None),
            (4, Some(json!({"fallback": 1})))
        ],
        "each attempt that did not render is counted, then the fallback runs"
    );
    assert_eq!(
        driven.params,
        [json!({"output": "fallback ok"})],
        "only the fallback's `with` rendered"
    );
    let report = ledger.report();
    assert_eq!(report.state, RunState::Succeeded);
    assert_eq!(report.output, Some(json!({"a": "fallback ok"})));
}

#[test]
fn a_step_that_cannot_be_prepared_is_not_retried_by_default_but_falls_back() {
    // A `with`, a `for_each` and a `when` that do not evaluate all fail the attempt
    // `bad_params`, which the default `retry_on` does not list.
    for failing in [
        json!({"with": {"v": "${{ input.missing }}"}}),
        json!({"for_each": "${{ input.n }}"}),
        json!({"when": "input.missing == 1"}),
    ] {
        let mut step = json!({"id": "a", "executor": "noop", "retry": {"max_attempts": 3},
                              "fallbacks": [{"v": "fallback"}]});
        step.as_object_mut()
            .unwrap()
            .extend(failing.as_object().unwrap().clone());
        let mut ledger = new_run(json!({"name": "d", "steps": [step]}));
        let driven = drive(&mut ledger, |_| Outcome::success(json!("ran")));
        assert_eq!(
            driven.marked,
            [(1, None), (2, Some(json!({"fallback": 1})))],
            "{failing}"
        );
        let report = ledger.report();
        if failing.get("with").is_some() {
            assert_eq!(driven.params, [json!({"v": "fallback"})], "{failing}");
            assert_eq!(report.state, RunState::Succeeded, "{failing}");
        } else {
            // The fallback overrides `with` only: its attempt fails as the first did.
            assert!(driven.params.is_empty(), "{failing}");
            assert_eq!(report.state, RunState::Failed, "{failing}");
            assert_eq!(report.error_class, Some(ErrorClass::BadParams), "{failing}");
        }
    }
}

#[test]
fn a_fallback_whose_with_does_not_render_fails_on_to_the_next_then_the_step() {
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "a", "executor": "noop", "with": {"v": 0},
         "fallbacks": [{"v": "${{ input.gone }}"}, {"v": 2}, {"v": "${{ input.missing }}"}]}
    ]}));
    let driven = drive(&mut ledger, |_| {
        Outcome::failure(ErrorClass::ExitCode, "no")
    });
    assert_eq!(
        driven.marked,
        [
            (1, None),
            (2, Some(json!({"fallback": 1}))),
            (3, Some(json!({"fallback": 2}))),
            (4, Some(json!({"fallback": 3})))
        ]
    );
    assert_eq!(driven.params, [json!({"v": 0}), json!({"v": 2})]);
    let report = ledger.report();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.error_class, Some(ErrorClass::BadParams));
    // Named as the fallback that does not render, not as the step's `with`.
    assert_eq!(
        report.error.unwrap(),
        "step a failed: bad_params: `fallbacks[2]`: `input.missing`: No such key: missing"
    );
}

#[test]
fn a_non_retryable_error_is_not_retried() {
    let mut ledger = new_run(json!({"name": "n", "steps": [
        {"id": "a", "executor": "noop", "retry": {"max_attempts": 3}}
    ]}));
    ledger.turn(at(0)).unwrap();
    ledger
        .apply(failed(0, ErrorClass::BadParams, "no"), at(1))
        .unwrap();
    ledger.turn(at(1)).unwrap();
    assert_eq!(ledger.report().state, RunState::Failed);
}

/// An attempt the engine's death cut off doubles no backoff: the first retry after it waits
/// the initial delay (probe 84 F2: 2 s, each kill doubling it).
#[test]
fn an_attempt_a_crash_cut_off_doubles_no_backoff() {
    let workflow = json!({"name": "b", "steps": [{"id": "a", "executor": "noop",
        "retry": {"max_attempts": 2, "initial_delay": "10s", "backoff": "exponential"}}]});
    let mut ledger = new_run(workflow.clone());
    ledger.turn(at(0)).unwrap();
    let mut resumed = resume(ledger.run_id, workflow, records_after(&ledger));
    let starts = resumed.turn(at(1)).unwrap();
    assert_eq!(
        starts[0].actions.all()[0].attempt,
        2,
        "the attempt cut off is counted"
    );
    let fails = failed(starts[0].step, ErrorClass::ExitCode, "exit 1");
    resumed.apply(fails, at(2)).unwrap();
    assert_eq!(
        resumed.next_wake(),
        Some(at(12)),
        "the initial delay, not twice it"
    );
}

#[test]
fn an_interruption_records_running_attempts_as_ready_again() {
    let mut ledger = new_run(json!({"name": "i", "steps": [{"id": "a", "executor": "noop"}]}));
    ledger.turn(at(0)).unwrap();
    ledger.take_batch();
    ledger.apply(Input::Interrupted, at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(moves(&batch), ["a: running -> ready"]);
    assert_eq!(
        interrupted(&batch),
        [1],
        "the attempt cut off is committed as such"
    );
    assert_eq!(ledger.report().state, RunState::Running);
    assert_eq!(ledger.report().error_class, Some(ErrorClass::Interrupted));
}

#[test]
fn jitter_spreads_the_retries_of_steps_that_failed_together() {
    let steps: Vec<Value> = (0..8)
        .map(|n| {
            json!({"id": format!("s{n}"), "executor": "noop",
                   "retry": {"max_attempts": 2, "initial_delay": "10s", "jitter": true}})
        })
        .collect();
    let mut ledger = new_run(json!({"name": "j", "steps": steps}));
    let starts = ledger.turn(at(0)).unwrap();
    for start in &starts {
        let input = failed(start.step, ErrorClass::ExitCode, "no");
        ledger.apply(input, at(1)).unwrap();
    }
    let wakes: std::collections::BTreeSet<_> = ledger
        .slots
        .iter()
        .filter_map(|slot| slot.wake_at)
        .collect();
    assert!(wakes.len() > 1, "every step woke at {wakes:?}");
    assert!(
        wakes.iter().all(|&wake| wake >= at(6) && wake <= at(11)),
        "{wakes:?}"
    );
}

#[test]
fn an_attempt_a_crash_cut_off_runs_again_without_counting_against_max_attempts() {
    let workflow = json!({"name": "c", "steps": [{"id": "a", "executor": "noop",
        "retry": {"max_attempts": 2, "initial_delay": "1s", "backoff": "fixed"}}]});
    let mut ledger = new_run(workflow.clone());
    ledger.turn(at(0)).unwrap();
    // The engine dies during attempt 1; another takes the run over.
    let mut resumed = resume(ledger.run_id, workflow.clone(), records_after(&ledger));
    let starts = resumed.turn(at(1)).unwrap();
    assert_eq!(
        starts[0].actions.all()[0].attempt,
        2,
        "its number still counts it"
    );
    assert_eq!(interrupted(&resumed.take_batch()), [1, 1]);
    resumed
        .apply(failed(0, ErrorClass::ExitCode, "exit 1"), at(2))
        .unwrap();
    resumed.turn(at(2)).unwrap();
    assert_eq!(
        moves(&resumed.take_batch()),
        ["a: running -> retry_wait"],
        "one attempt of two ended: one retry is left"
    );
    // The count outlives another takeover: the retry runs, and its failure ends the step.
    let mut again = resume(resumed.run_id, workflow, records_after(&resumed));
    let starts = again.turn(at(3)).unwrap();
    assert_eq!(starts[0].actions.all()[0].attempt, 3);
    again
        .apply(failed(0, ErrorClass::ExitCode, "exit 1"), at(4))
        .unwrap();
    again.turn(at(4)).unwrap();
    assert_eq!(again.report().state, RunState::Failed, "two attempts ended");
}
