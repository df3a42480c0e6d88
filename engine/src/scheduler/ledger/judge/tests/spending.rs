//! Spending budgets within one `for_each` step: under a guard that counts spending, its items
//! are judged a window at a time, as each window starts, so an item sees what the items
//! before its window spent.

use super::*;
use crate::executor::Usage;
use crate::expr::SharedJson;

/// Denies once the run's ended attempts spent `budget_usd`, as a policy's
/// `budgets.cost_usd` does.
#[derive(Debug)]
struct Spending {
    budget_usd: f64,
}

impl Guard for Spending {
    fn judge(&self, _action: &Action, facts: &Facts<'_>) -> Verdict {
        if facts.usage.cost_usd >= self.budget_usd {
            return Verdict::deny("budget.cost_usd", "the budget is spent");
        }
        Verdict::allow()
    }

    fn counts_spending(&self) -> bool {
        true
    }
}

/// A run of `workflow` judged by a [`Spending`] guard of `budget_usd`.
fn spending(workflow: Value, budget_usd: f64) -> Ledger {
    judged_by(workflow, Spending { budget_usd })
}

/// A success that cost `cost_usd`.
pub(super) fn costing(cost_usd: f64) -> Outcome {
    Outcome {
        usage: Usage {
            cost_usd,
            ..Usage::default()
        },
        ..Outcome::success(json!("done"))
    }
}

#[test]
fn items_run_one_at_a_time_are_each_judged_against_what_the_items_before_spent() {
    let (budget, cost) = (0.1, 0.0421);
    let mut ledger = spending(
        json!({"name": "g", "steps": [
            {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2, 3, 4] }}", "max_parallel": 1}
        ]}),
        budget,
    );
    // $0, $0.0421 and $0.0842 spent when items 0, 1 and 2 start: each is allowed.
    for index in 0..3 {
        let second = index as i64;
        assert_eq!(
            items_started(&mut ledger, second),
            [(Some(index), 1)],
            "one item a window, judged as it starts"
        );
        end_items(&mut ledger, vec![(index, costing(cost))], second);
    }
    // $0.1263 spent: item 3 would pass the budget, and is denied before it starts.
    assert!(items_started(&mut ledger, 3).is_empty());
    assert_eq!(ledger.slots[0].state, StepState::Denied);
    let error = ledger.report().error.unwrap();
    assert!(error.contains("item 3: budget.cost_usd"), "{error}");
    let spent = ledger.tally.usage.cost_usd;
    assert!(
        spent <= budget + cost,
        "spent {spent}, past the budget and one item"
    );
    assert_eq!(ledger.slots[0].attempt, 1, "one attempt over the windows");
}

#[test]
fn the_items_of_one_window_are_judged_one_after_another_each_seeing_those_before_it() {
    // Three attempts allowed (the Fake's budget): the window of four starts none.
    let mut ledger = judged(json!({"name": "g", "steps": [
        {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2, 3, 4, 5] }}", "max_parallel": 4}
    ]}));
    assert!(items_started(&mut ledger, 0).is_empty(), "no item runs");
    let error = ledger.report().error.unwrap();
    assert!(error.contains("item 3: budget.attempts"), "{error}");
}

#[test]
fn only_a_guard_that_counts_spending_holds_items_back_for_a_later_window() {
    let workflow = json!({"name": "g", "steps": [
        {"id": "each", "executor": "noop", "for_each": "${{ [0, 1, 2] }}", "max_parallel": 2}
    ]});
    // The Fake judges by attempts, not by spending: every item starts with the step, two at
    // a time as slots free, none held back.
    let mut counting_attempts = judged(workflow.clone());
    assert_eq!(items_started(&mut counting_attempts, 0).len(), 3);
    let mut counting_spending = spending(workflow, 1.0);
    assert_eq!(items_started(&mut counting_spending, 0).len(), 2);
}

#[test]
fn the_later_windows_of_an_attempt_run_the_list_its_first_window_evaluated() {
    let mut ledger = spending(
        json!({"name": "g", "steps": [
            {"id": "each", "executor": "noop", "for_each": "${{ input.items }}",
             "max_parallel": 1, "with": {"v": "${{ item }}"}}
        ]}),
        1.0,
    );
    let input = |items: Value| Arc::new(SharedJson::new(json!({ "items": items })));
    ledger.input = input(json!([10, 20]));
    let values = |ledger: &mut Ledger, second| {
        let starts = ledger.turn(at(second)).unwrap();
        (starts.iter().flat_map(|start| start.actions.all()))
            .map(|action| action.params["v"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(values(&mut ledger, 0), [json!(10)]);
    end_items(&mut ledger, vec![(0, costing(0.0))], 0);
    // The list evaluated again at the next window would be this one.
    ledger.input = input(json!([30, 40]));
    assert_eq!(
        values(&mut ledger, 1),
        [json!(20)],
        "kept from the first window"
    );
    end_items(&mut ledger, vec![(1, costing(0.0))], 1);
    assert_eq!(ledger.slots[0].state, StepState::Succeeded);
}
