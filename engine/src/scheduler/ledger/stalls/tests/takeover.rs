//! A stall escalated to pause or cancel, recorded by the engine that takes the run over
//! after a crash in the stalled attempt's kill grace.

use super::super::super::control::tests::command;
use super::super::super::tests::committed_after;
use super::super::super::{Committed, Judge, Ledger};
use super::*;

#[test]
fn a_stall_that_pauses_or_cancels_is_recorded_at_a_takeover_after_a_crash_in_its_kill_grace() {
    for (on_stall, key) in [("pause", "paused"), ("cancel", "cancelled")] {
        let mut ledger = take_over(&silent(on_stall), RunState::Pending, vec![], 0, None);
        assert_eq!(started(&mut ledger, 0), ["a"]);
        ledger.turn(at(10)).unwrap();
        let seen = ledger.take_batch();
        let [(_, sent)] = seen.sent() else {
            panic!("{on_stall}: one command sent")
        };
        // The engine dies in `a`'s kill grace; the next one finds `a` running and the command.
        let run: Committed = committed_after(&ledger, RunState::Running);
        let mut taken = Ledger::take_over(run, Judge::default(), 1 << 20, at(12), None).unwrap();
        taken.apply(command(sent.clone()), at(12)).unwrap();
        taken.turn(at(12)).unwrap();
        let batch = taken.take_batch();
        let Some(Transition::Step(a)) = batch.transitions().first() else {
            panic!("{on_stall}: no transition of a")
        };
        assert_eq!((a.from, a.to), (StepState::Running, StepState::Ready));
        let detail = a.detail.clone().unwrap_or_default();
        assert_eq!(detail["interrupted"], true, "{on_stall}: {detail}");
        assert_eq!(detail["stall"]["kind"], "heartbeat", "{on_stall}: {detail}");
        assert_eq!(detail["stall"]["evidence"]["window"], "10s", "{detail}");
        assert_eq!(detail["escalation"], on_stall, "{on_stall}: {detail}");
        let error = a.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("stalled: "), "{on_stall}: {error}");
        let run = (batch.transitions().iter())
            .find_map(|transition| match transition {
                Transition::Run(run) => run.detail.clone(),
                Transition::Step(_) => None,
            })
            .expect("the run's move says why");
        assert_eq!(run[key]["by"], "cairn", "{on_stall}: {run}");
        assert_eq!(run[key].get("stall"), None, "{on_stall}: {run}");
        assert_eq!(run["stall"], detail["stall"], "{on_stall}: {run}");
    }
}
