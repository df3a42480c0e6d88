//! Which ready steps start in a turn: as many as the run's and the groups' limits and the
//! guard's rate limits allow, prepared (`when`, `for_each`, `with`) and judged for the turn's
//! slice of time at most ([`JUDGING_SLICE`]), the rest left to the next turn.
//!
//! [`JUDGING_SLICE`]: super::JUDGING_SLICE

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Hold, Ledger, Start, attempt};
use crate::error::Result;
use crate::plan::StepIndex;
use crate::state::StepState;

impl Ledger {
    /// Starts as many ready steps as the run's and the groups' limits and the guard's rate
    /// limits allow, until a step failing before it starts halts the run (a loop whose
    /// escalation pauses or cancels it): then none starts, those marked running before it
    /// included ([`Ledger::not_started`]), as the stall holds the run from when it is seen.
    pub(super) fn dispatch(&mut self, now: DateTime<Utc>) -> Result<Vec<Start>> {
        let max_parallel = self.plan.workflow().limits.max_parallel as usize;
        let mut starts = Vec::new();
        self.dispatching_at = now;
        self.unpark(now);
        // A window half judged goes on first: its room (under a rate limit, a budget) was
        // taken when its judging began, before any step the turn lets out.
        if let Some(judging) = &self.judging
            && let Some(at) = self.ready.iter().position(|&step| step == judging.step)
            && let Some(step) = self.ready.remove(at)
        {
            self.ready.push_front(step);
        }
        while self.running.len() < max_parallel {
            let Some(step) = self.ready.pop_front() else {
                // A step let out may not have started (skipped, say), leaving room.
                if self.unpark(now) {
                    continue;
                }
                break;
            };
            if let Some((group, limit)) = self.full_group(step) {
                let (_, parked) = self.parked.entry(group).or_insert((limit, VecDeque::new()));
                parked.push_back(step);
                continue;
            }
            // After the judging this turn did so far.
            let now = self.moment();
            let executor = self.plan.node(step).executor.as_deref().unwrap_or_default();
            if self.rates.held_until(executor, now).is_some() {
                let why = self.rates.described(executor);
                self.held
                    .entry(executor.to_owned())
                    .or_default()
                    .push_back(step);
                self.waits(step, Hold::RateLimit, &why)?;
                continue;
            }
            match self.start(step, now)? {
                attempt::Started::Yes(start) => starts.push(start),
                attempt::Started::Held(why) => {
                    self.reservations.wait(step);
                    // Said on stderr too: a rate limit's wait is expected, and ends with its
                    // window; this one may last as long as another agent's attempt.
                    if self.waits(step, Hold::Guard, &why)? {
                        let id = &self.plan.steps()[step].id;
                        tracing::warn!(run = %self.run_id, "step {id} stays ready: {why}");
                    }
                }
                attempt::Started::Later => {
                    self.ready.push_front(step);
                    self.judging_left = true;
                    break;
                }
                attempt::Started::No if self.halt.is_some() => {
                    for start in starts.drain(..) {
                        self.not_started(start.step)?;
                    }
                    break;
                }
                attempt::Started::No => {}
            }
            // The steps a fan-out made ready are prepared and judged a slice at a time too,
            // guarded or not: their expressions may take 10 s each.
            if !self.ready.is_empty() && self.judging_ran_out() {
                self.judging_left = true;
                break;
            }
        }
        self.rate_wake = (self.held.keys())
            .filter_map(|executor| self.rates.held_until(executor, now))
            .min();
        Ok(starts)
    }

    /// `step`, ready, waits for what holds it: `why` is recorded, a `ready -> ready` event
    /// that `cairn show` prints under the step, once until the step moves or another holds it
    /// (probe 84 F5, 92 F1 and F4: a step that waited so looked stuck; 94 F4: one a rate
    /// limit held after the guard showed the guard's reason), though it is judged again, and
    /// may wait again, after each attempt's end. Whether it was recorded now.
    fn waits(&mut self, step: StepIndex, held_by: Hold, why: &str) -> Result<bool> {
        if self.slots[step].waiting_said == Some(held_by) {
            return Ok(false);
        }
        let held_for = match held_by {
            Hold::Guard => "guard",
            Hold::RateLimit => "rate_limit",
        };
        let detail = json!({ "held_for": held_for, "waits": why });
        self.set_step(step, StepState::Ready, Some(detail))?;
        self.slots[step].waiting_said = Some(held_by);
        Ok(true)
    }

    /// Whether the turn has judged for its slice ([`Judge::slice`](super::Judge::slice)):
    /// what is left to judge waits for the next turn. Told by the driver's clock, as
    /// [`Ledger::moment`] is: without one, only a slice of zero has run out.
    pub(super) fn judging_ran_out(&self) -> bool {
        (self.moment() - self.dispatching_at)
            .to_std()
            .unwrap_or_default()
            >= self.judging_slice
    }

    /// Whether this turn's dispatch has lasted its slice by the driver's clock (never without
    /// one).
    pub(crate) fn took_its_slice(&self) -> bool {
        self.clock.is_some() && self.judging_ran_out()
    }

    /// The time now within a turn's dispatch, by the driver's clock: what a turn judged took
    /// time, and an attempt starts, and a rate limit counts its start, once judged. Counted
    /// at the turn's time, a start judged for 0.7 s left its window 0.7 s early, and the next
    /// came that much sooner (probe 26 of stop 57). Without a clock, the turn's time; never
    /// before it (a clock set back).
    pub(super) fn moment(&self) -> DateTime<Utc> {
        let now = self.clock.map_or(self.dispatching_at, |clock| clock());
        now.max(self.dispatching_at)
    }

    /// Tells the time within a turn by `clock` ([`Ledger::moment`]).
    pub(crate) fn tell_time_by(&mut self, clock: fn() -> DateTime<Utc>) {
        self.clock = Some(clock);
    }

    /// The first of `step`'s groups that runs as many steps as its limit allows, if any.
    fn full_group(&self, step: StepIndex) -> Option<(String, u32)> {
        (self.plan.steps()[step].group_limits.iter())
            .find(|(group, limit)| self.group_running.get(group).copied().unwrap_or(0) >= *limit)
            .cloned()
    }

    /// Puts back at the front of the ready queue, in plan order, as many parked and held
    /// steps as their groups and rate limits have room for now; whether it put any back.
    fn unpark(&mut self, now: DateTime<Utc>) -> bool {
        let mut back = Vec::new();
        self.parked.retain(|group, (limit, parked)| {
            let running = self.group_running.get(group).copied().unwrap_or(0);
            let room = limit.saturating_sub(running) as usize;
            back.extend(parked.drain(..room.min(parked.len())));
            !parked.is_empty()
        });
        self.held.retain(|executor, held| {
            let room = self.rates.room(executor, now);
            back.extend(held.drain(..room.min(held.len())));
            !held.is_empty()
        });
        // A step cancelled while it waited (the run's end) is let go of, not started.
        let waited = self.reservations.let_go().into_iter();
        back.extend(waited.filter(|&step| self.slots[step].state == StepState::Ready));
        back.sort_unstable();
        let any = !back.is_empty();
        for step in back.into_iter().rev() {
            self.ready.push_front(step);
        }
        any
    }
}
