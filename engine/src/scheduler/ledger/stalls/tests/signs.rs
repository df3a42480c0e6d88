//! A sign of life read later than it came counts at its own time.

use super::*;

/// The run's `no_progress` window counts from the last sign's own time, not from the turn
/// that records it (probe 208 F1: read up to a second late, the sign's record counted as a
/// move then, and the stall came that much late).
#[test]
fn a_sign_read_late_moves_no_progress_to_its_own_time() {
    let workflow = json!({"name": "n", "stall": {"no_progress": "10s", "on_stall": "fail"},
        "steps": [{"id": "a", "executor": "noop"}]});
    let mut ledger = take_over(&workflow, RunState::Pending, vec![], 0, None);
    assert_eq!(started(&mut ledger, 0), ["a"]);
    ledger.take_batch();
    let sign = Input::Progress {
        step: 0,
        item: None,
        at: at(4),
    };
    ledger.apply(sign, at(9)).unwrap();
    ledger.turn(at(9)).unwrap();
    ledger.take_batch();
    ledger.turn(at(14)).unwrap();
    assert_eq!(
        ledger.take_cancels(),
        [0],
        "stalled 10s after the sign at 4s"
    );
}
