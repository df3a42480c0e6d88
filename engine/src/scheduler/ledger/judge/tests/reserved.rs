//! Reservations: what the attempts in flight hold of a spending budget, and the steps the
//! guard holds back until one of them ends ([`Verdict::held`]).

use super::spending::costing;
use super::*;
use crate::executor::Usage;
use crate::state::Transition;

/// A cost budget of `budget_usd` in which each action holds its `with.cap` while it runs,
/// and is held back while the attempts in flight leave it less than that; and `rates`.
#[derive(Debug, Default)]
struct Reserving {
    budget_usd: f64,
    rates: Vec<RateLimit>,
}

impl Guard for Reserving {
    fn judge(&self, action: &Action, facts: &Facts<'_>) -> Verdict {
        let cap = action.params["cap"].as_f64().unwrap_or(0.0);
        let left = self.budget_usd - facts.usage.cost_usd;
        if facts.reserved.cost_usd + cap > left + 1e-9 {
            return Verdict::held("budget.cost_usd", "held by the attempts in flight");
        }
        let reserves = Usage {
            cost_usd: cap,
            ..Usage::default()
        };
        Verdict {
            reserves: Some(reserves),
            ..Verdict::allow()
        }
    }

    fn counts_spending(&self) -> bool {
        true
    }

    fn rate_limits(&self) -> Vec<RateLimit> {
        self.rates.clone()
    }
}

fn reserving(workflow: Value, budget_usd: f64) -> Ledger {
    let guard = Reserving {
        budget_usd,
        ..Reserving::default()
    };
    judged_by(workflow, guard)
}

/// The holds `ledger`'s batch records, as (step, `held_for`), and takes the batch.
fn holds(ledger: &mut Ledger) -> Vec<(String, String)> {
    (ledger.take_batch().transitions().iter())
        .filter_map(|transition| match transition {
            Transition::Step(step) if step.from == step.to => {
                let held_for = step.detail.as_ref()?["held_for"].as_str()?;
                Some((step.step_id.clone(), held_for.to_owned()))
            }
            _ => None,
        })
        .collect()
}

/// Step `step`'s attempt ends at `second`, having spent `cost_usd`.
fn ends(ledger: &mut Ledger, step: usize, cost_usd: f64, second: i64) {
    let outcome = costing(cost_usd);
    ledger
        .apply(Input::Completed { step, outcome }, at(second))
        .unwrap();
}

#[test]
fn steps_side_by_side_start_while_their_caps_fit_and_the_next_waits_for_one_to_end() {
    let step = |id: &str| json!({"id": id, "executor": "noop", "with": {"cap": 0.4}});
    let mut ledger = reserving(
        json!({"name": "g", "steps": [{"parallel": [step("a"), step("b"), step("c")]}]}),
        1.0,
    );
    assert_eq!(
        started(&mut ledger, 0),
        ["a", "b"],
        "$0.8 of $1 held: c waits"
    );
    assert_eq!(ledger.slots[2].state, StepState::Ready);
    // Why c waits is recorded, for `cairn show` (probe 84 F5), once: it waits again below.
    let moves_of_c = |ledger: &mut Ledger| -> Vec<Value> {
        (ledger.take_batch().transitions().iter())
            .filter_map(|transition| match transition {
                Transition::Step(step) if step.step_id == "c" => Some(step),
                _ => None,
            })
            .map(|step| json!([step.from.as_str(), step.to.as_str(), step.detail]))
            .collect()
    };
    let why = "budget.cost_usd: held by the attempts in flight";
    assert_eq!(
        moves_of_c(&mut ledger),
        [
            json!(["pending", "ready", null]),
            json!(["ready", "ready", {"held_for": "guard", "waits": why}])
        ]
    );
    assert!(
        started(&mut ledger, 1).is_empty(),
        "nothing ended: c still waits"
    );
    // a spent $0.3 of its $0.4: $0.7 left, b holds $0.4, c's $0.4 does not fit yet.
    ends(&mut ledger, 0, 0.3, 2);
    assert!(started(&mut ledger, 2).is_empty());
    assert!(moves_of_c(&mut ledger).is_empty(), "recorded once");
    ends(&mut ledger, 1, 0.1, 3);
    assert_eq!(started(&mut ledger, 3), ["c"], "$0.6 left, nothing held");
    ends(&mut ledger, 2, 0.4, 4);
    ledger.turn(at(4)).unwrap();
    assert_eq!(ledger.report().state, RunState::Succeeded);
    assert!(ledger.tally.usage.cost_usd <= 1.0 + 1e-9);
    assert!(
        !ledger.reservations.any(),
        "every reservation ended with its attempt"
    );
}

#[test]
fn a_step_held_again_once_it_moved_says_why_again() {
    let step = |id: &str| {
        json!({"id": id, "executor": "noop", "with": {"cap": 0.6},
        "retry": {"max_attempts": 2, "initial_delay": "1s"}})
    };
    let mut ledger = reserving(
        json!({"name": "g", "steps": [{"parallel": [step("a"), step("b"), step("c")]}]}),
        1.0,
    );
    let held = |step: &str| (step.to_owned(), "guard".to_owned());
    assert_eq!(started(&mut ledger, 0), ["a"]);
    assert_eq!(holds(&mut ledger), [held("b"), held("c")]);
    ends(&mut ledger, 0, 0.1, 1);
    assert_eq!(started(&mut ledger, 1), ["b"]);
    assert!(
        holds(&mut ledger).is_empty(),
        "c, held still, said so already"
    );
    // b fails, to retry at 3; c starts meanwhile, and holds what b's retry needs.
    let failed = Outcome {
        usage: Usage {
            cost_usd: 0.1,
            ..Usage::default()
        },
        ..Outcome::failure(ErrorClass::ExitCode, "exit 1")
    };
    let ended = Input::Completed {
        step: 1,
        outcome: failed,
    };
    ledger.apply(ended, at(2)).unwrap();
    assert_eq!(started(&mut ledger, 2), ["c"]);
    assert!(started(&mut ledger, 3).is_empty(), "b waits for c");
    assert_eq!(
        holds(&mut ledger),
        [held("b")],
        "held again since it moved (probe 92 F1)"
    );
}

#[test]
fn a_step_the_guard_held_then_a_rate_limit_holds_says_why_again() {
    let rate = RateLimit {
        executor: "noop".into(),
        max: 2,
        per: Duration::from_secs(10),
    };
    let guard = Reserving {
        budget_usd: 1.0,
        rates: vec![rate],
    };
    let step = |id: &str, cap: f64| json!({"id": id, "executor": "noop", "with": {"cap": cap}});
    let parallel = [step("a", 0.6), step("b", 0.6), step("c", 0.1)];
    let mut ledger = judged_by(
        json!({"name": "g", "steps": [{"parallel": parallel}]}),
        guard,
    );
    assert_eq!(started(&mut ledger, 0), ["a", "c"], "b waits for a's hold");
    let hold = |held_for: &str| ("b".to_owned(), held_for.to_owned());
    assert_eq!(holds(&mut ledger), [hold("guard")]);
    // a ends: its hold is free, but a and c filled the window (probe 94 F4: b still showed
    // the guard's reason).
    ends(&mut ledger, 0, 0.1, 1);
    assert!(started(&mut ledger, 1).is_empty());
    assert_eq!(holds(&mut ledger), [hold("rate_limit")]);
}

#[test]
fn a_window_of_items_ends_before_the_first_item_held_and_the_rest_run_in_a_later_one() {
    let mut ledger = reserving(
        json!({"name": "g", "steps": [
            {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2] }}",
             "max_parallel": 3, "with": {"cap": 0.4}}
        ]}),
        1.0,
    );
    assert_eq!(items_started(&mut ledger, 0), [(Some(0), 1), (Some(1), 1)]);
    // One item's end gives back its reservation: the window, started as one, runs on.
    ledger
        .apply(
            Input::Item {
                step: 0,
                index: 0,
                outcome: costing(0.1),
            },
            at(1),
        )
        .unwrap();
    assert!((ledger.reservations.total().cost_usd - 0.4).abs() < 1e-9);
    end_items(&mut ledger, vec![(1, costing(0.1))], 1);
    assert_eq!(
        ledger.slots[0].state,
        StepState::Ready,
        "held for a later window"
    );
    assert_eq!(items_started(&mut ledger, 2), [(Some(2), 1)]);
    end_items(&mut ledger, vec![(2, costing(0.1))], 3);
    assert_eq!(ledger.slots[0].state, StepState::Succeeded);
}

#[test]
fn a_hold_with_nothing_reserved_is_the_deny_it_reads_as() {
    // Nothing in flight could give the $2 back: the step would wait for ever.
    let mut ledger = reserving(
        json!({"name": "g", "steps": [{"id": "a", "executor": "noop", "with": {"cap": 2.0}}]}),
        1.0,
    );
    assert!(started(&mut ledger, 0).is_empty());
    assert_eq!(ledger.slots[0].state, StepState::Denied);
    let error = ledger.report().error.unwrap();
    assert!(error.contains("held by the attempts in flight"), "{error}");
}

/// The usage step `step`'s last transition in `batch` commits.
fn committed_usage(batch: &crate::state::Batch, step: &str) -> Option<f64> {
    (batch.transitions().iter().rev())
        .find_map(|transition| match transition {
            crate::state::Transition::Step(moved) if moved.step_id == step => Some(moved),
            _ => None,
        })
        .and_then(|moved| moved.usage.as_ref().map(|usage| usage.cost_usd))
}

#[test]
fn a_hold_is_charged_as_its_attempt_starts_and_counted_when_it_is_cut_off_before_it_reports() {
    let step = |id: &str| json!({"id": id, "executor": "noop", "with": {"cap": 0.4}});
    let mut ledger = reserving(
        json!({"name": "g", "steps": [{"parallel": [step("a"), step("b")]}]}),
        1.0,
    );
    assert_eq!(started(&mut ledger, 0), ["a", "b"]);
    // Committed with `running`: an engine that dies now leaves $0.4 counted for each.
    let batch = ledger.take_batch();
    assert_eq!(committed_usage(&batch, "a"), Some(0.4));
    assert_eq!(committed_usage(&batch, "b"), Some(0.4));
    // a reports what it spent: that, not its charge, is its usage.
    ends(&mut ledger, 0, 0.1, 1);
    assert_eq!(committed_usage(&ledger.take_batch(), "a"), Some(0.1));
    // b is cut off before it could say: what it held counts.
    let timed_out = Outcome::failure(ErrorClass::Timeout, "timed out");
    (ledger.apply(
        Input::Completed {
            step: 1,
            outcome: timed_out,
        },
        at(2),
    ))
    .unwrap();
    assert_eq!(committed_usage(&ledger.take_batch(), "b"), Some(0.4));
    assert!((ledger.tally.usage.cost_usd - 0.5).abs() < 1e-9);
}

#[test]
fn an_attempt_stopped_with_the_engine_counts_what_it_reported_past_its_hold() {
    // Probe 27 F1: an agent that passed its cap as the engine stopped it reported $0.3 against
    // a hold of $0.1; the report was dropped and the run later spent it again.
    let step = |id: &str, cap: f64| json!({"id": id, "executor": "noop", "with": {"cap": cap}});
    let mut ledger = reserving(
        json!({"name": "g", "steps": [{"parallel": [step("a", 0.1), step("b", 0.2)]}]}),
        1.0,
    );
    assert_eq!(started(&mut ledger, 0), ["a", "b"]);
    ledger.take_batch();
    ledger.spent_as_stopped(0, &costing(0.3));
    // b said nothing: its hold stays counted, as for an engine that died.
    ledger.spent_as_stopped(1, &Outcome::failure(ErrorClass::Cancelled, "stopped"));
    ledger.apply(Input::Interrupted, at(1)).unwrap();
    let batch = ledger.take_batch();
    assert_eq!(committed_usage(&batch, "a"), Some(0.3));
    assert_eq!(committed_usage(&batch, "b"), Some(0.2));
    // What ended is a's report; b's hold is counted from its row by the next engine.
    assert!((ledger.tally.usage.cost_usd - 0.3).abs() < 1e-9);
}
