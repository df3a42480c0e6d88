//! `max_parallel`: a group's and the run's cap on the attempts that run at once.

use super::*;

#[test]
fn a_group_max_parallel_holds_back_the_rest_of_its_members() {
    let mut ledger = new_run(json!({"name": "g", "steps": [
        {"id": "g", "max_parallel": 2, "parallel": [
            {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"},
            {"id": "c", "executor": "noop"}, {"id": "d", "executor": "noop"}
        ]},
        {"id": "free", "executor": "noop"}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["a", "b", "free"]);
    ledger.apply(done(starts[1].step, json!(1)), at(1)).unwrap();
    let next = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &next), ["c"], "one slot of the group freed");
    assert!(ledger.turn(at(1)).unwrap().is_empty());
}

#[test]
fn members_held_back_by_a_full_group_start_as_it_frees_even_past_a_skipped_one() {
    let mut ledger = new_run(json!({"name": "g", "steps": [
        {"id": "g", "max_parallel": 1, "parallel": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "when": "1 > 2"},
            {"id": "c", "executor": "noop"},
            {"id": "d", "executor": "noop"}
        ]}
    ]}));
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["a"]);
    assert!(ledger.turn(at(0)).unwrap().is_empty(), "the group is full");
    ledger.apply(done(starts[0].step, json!(1)), at(1)).unwrap();
    // The freed slot goes to b, which is skipped: c takes it in the same turn.
    let next = ledger.turn(at(1)).unwrap();
    assert_eq!(ids(&ledger, &next), ["c"]);
    ledger.apply(done(next[0].step, json!(2)), at(2)).unwrap();
    let last = ledger.turn(at(2)).unwrap();
    assert_eq!(ids(&ledger, &last), ["d"]);
    ledger.apply(done(last[0].step, json!(3)), at(3)).unwrap();
    assert!(ledger.turn(at(3)).unwrap().is_empty());
    assert_eq!(ledger.report().state, RunState::Succeeded);
}

#[test]
fn the_run_max_parallel_caps_every_step() {
    let mut ledger = new_run(
        json!({"name": "m", "limits": {"max_parallel": 1}, "steps": [
            {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}
        ]}),
    );
    let starts = ledger.turn(at(0)).unwrap();
    assert_eq!(ids(&ledger, &starts), ["a"]);
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    ledger.apply(done(0, json!(1)), at(1)).unwrap();
    let next = ledger.turn(at(1)).unwrap();
    assert_eq!(
        ids(&ledger, &next),
        ["b"],
        "the ended attempt freed its slot"
    );
}
