//! What the attempts in flight hold of the run's spending budgets, and the steps the guard
//! held back until one of them ends ([`Verdict::held`]).
//!
//! An attempt's cost is known only once it ends, so attempts side by side, each judged
//! against what ended before it, could together spend past a budget. The guard says what
//! each one holds while it runs ([`Verdict::reserves`]: the cap it is given, or all that is
//! left when nothing caps it) and judges the next against what ended *and* what is held.
//! A hold is charged to its step's usage as the attempt starts (committed with its
//! `running`), and replaced by what the attempt reports as it ends: an attempt cut off before
//! it could say what it spent (timed out, stalled, cancelled), or lost with its engine (the
//! row keeps the charge), counts what it held. The reservations themselves live in memory:
//! an engine that stops or dies leaves no attempt in flight (a takeover runs them again,
//! judged again), so none outlives its driver.
//!
//! [`Verdict::held`]: crate::guard::Verdict::held
//! [`Verdict::reserves`]: crate::guard::Verdict::reserves

use std::collections::BTreeMap;

use crate::executor::{ErrorClass, Outcome, Usage};
use crate::plan::StepIndex;

/// Reservations by attempt, their sum, and the steps waiting for one to end.
#[derive(Debug, Default)]
pub(super) struct Reservations {
    /// By step and `for_each` item (`None` for a step without items).
    held: BTreeMap<(StepIndex, Option<usize>), Usage>,
    /// The sum of `held`.
    total: Usage,
    /// Steps the guard held back, still `ready`, in the order they were held.
    waiting: Vec<StepIndex>,
    /// Whether a reservation ended since the waiting steps were last let go.
    released: bool,
}

impl Reservations {
    /// What the attempts in flight hold, all together.
    pub(super) fn total(&self) -> &Usage {
        &self.total
    }

    /// Whether any attempt in flight holds part of a budget: only then can one's end give
    /// something back.
    pub(super) fn any(&self) -> bool {
        !self.held.is_empty()
    }

    /// Item `item` of `step` (or the step itself) holds `usage` while it runs.
    pub(super) fn reserve(&mut self, step: StepIndex, item: Option<usize>, usage: Usage) {
        self.total += &usage;
        if let Some(before) = self.held.insert((step, item), usage) {
            self.total -= &before;
        }
    }

    /// Item `item` of `step` ended: what it held (returned) is free again.
    pub(super) fn release(&mut self, step: StepIndex, item: usize) -> Usage {
        let usage = self.held.remove(&(step, Some(item))).unwrap_or_default();
        self.freed(&usage);
        usage
    }

    /// `step`'s attempt ended (or was not started): what it and its items still held
    /// (returned, all together) is free again.
    pub(super) fn release_step(&mut self, step: StepIndex) -> Usage {
        // Every attempt's end asks: a run without a spending budget holds nothing.
        if self.held.is_empty() {
            return Usage::default();
        }
        let ended: Vec<_> = (self.held.range((step, None)..=(step, Some(usize::MAX))))
            .map(|(&key, _)| key)
            .collect();
        let mut all = Usage::default();
        for key in ended {
            if let Some(usage) = self.held.remove(&key) {
                self.freed(&usage);
                all += &usage;
            }
        }
        all
    }

    fn freed(&mut self, usage: &Usage) {
        if *usage == Usage::default() {
            return;
        }
        self.released = true;
        self.total -= usage;
        if self.held.is_empty() {
            // No rounding left behind: with nothing held, nothing is.
            self.total = Usage::default();
        }
    }

    /// `step`, ready, waits for a reservation to end.
    pub(super) fn wait(&mut self, step: StepIndex) {
        self.waiting.push(step);
    }

    /// The steps that waited, once a reservation ended since they were held (to be judged
    /// again); none otherwise.
    pub(super) fn let_go(&mut self) -> Vec<StepIndex> {
        if !std::mem::take(&mut self.released) {
            return Vec::new();
        }
        std::mem::take(&mut self.waiting)
    }
}

/// What an attempt (or item) that held `held` counts as spent, its `outcome` in: what it
/// reported, or, when it was cut off before it could report it all (timed out, stalled,
/// cancelled, interrupted, stopped for its output, or ended so by its executor's word:
/// [`Outcome::cut_off`]), at least what it held, which it may have spent.
pub(super) fn counted(outcome: &Outcome, held: &Usage) -> Usage {
    let reported = &outcome.usage;
    let cut_off = outcome.cut_off
        || matches!(
            &outcome.result,
            Err(error) if matches!(
                error.class,
                ErrorClass::Timeout
                    | ErrorClass::Stalled
                    | ErrorClass::Cancelled
                    | ErrorClass::Interrupted
                    | ErrorClass::OutputTooLarge
            )
        );
    if !cut_off {
        return reported.clone();
    }
    at_least(reported, held)
}

/// What an attempt cut off counts as spent: what it `reported`, and at least what it
/// `held`, which it may have spent without saying so.
pub(super) fn at_least(reported: &Usage, held: &Usage) -> Usage {
    Usage {
        input_tokens: reported.input_tokens.max(held.input_tokens),
        output_tokens: reported.output_tokens.max(held.output_tokens),
        cost_usd: reported.cost_usd.max(held.cost_usd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(cost_usd: f64) -> Usage {
        Usage {
            cost_usd,
            ..Usage::default()
        }
    }

    #[test]
    fn an_attempts_end_frees_what_it_and_its_items_held_and_lets_the_waiting_go() {
        let mut reservations = Reservations::default();
        reservations.reserve(0, None, usd(0.1));
        reservations.reserve(1, Some(0), usd(0.2));
        reservations.reserve(1, Some(1), usd(0.3));
        reservations.wait(2);
        assert!((reservations.total().cost_usd - 0.6).abs() < 1e-12);
        assert!(reservations.let_go().is_empty(), "nothing ended yet");
        reservations.release(1, 0);
        assert!((reservations.total().cost_usd - 0.4).abs() < 1e-12);
        assert_eq!(reservations.let_go(), [2]);
        assert!(reservations.let_go().is_empty(), "let go once");
        reservations.reserve(1, Some(2), usd(0.1));
        assert!((reservations.release_step(1).cost_usd - 0.4).abs() < 1e-12);
        assert_eq!(reservations.release_step(0), usd(0.1));
        assert!(!reservations.any());
        assert_eq!(reservations.total(), &Usage::default(), "no rounding left");
    }

    #[test]
    fn an_attempt_cut_off_counts_what_it_held_and_one_that_ended_what_it_reported() {
        let held = usd(0.5);
        let reported = Outcome {
            usage: usd(0.1),
            ..Outcome::failure(ErrorClass::ExitCode, "exit 1")
        };
        assert_eq!(counted(&reported, &held), usd(0.1));
        for class in [
            ErrorClass::Timeout,
            ErrorClass::Stalled,
            ErrorClass::Cancelled,
            ErrorClass::OutputTooLarge,
        ] {
            let cut_off = Outcome::failure(class, "cut off");
            assert_eq!(counted(&cut_off, &held), usd(0.5), "{class}");
        }
        // Its program killed by a signal, as its executor says (probe 41 F1).
        let killed = Outcome {
            cut_off: true,
            ..reported.clone()
        };
        assert_eq!(counted(&killed, &held), usd(0.5));
        let over = Outcome {
            usage: usd(0.7),
            ..Outcome::failure(ErrorClass::Timeout, "timed out")
        };
        assert_eq!(
            counted(&over, &held),
            usd(0.7),
            "what it reported, when more"
        );
    }
}
