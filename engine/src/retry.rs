//! The retry policy: how long to wait before the next attempt. Pure.

use std::hash::{DefaultHasher, Hasher};
use std::time::Duration;

use crate::definition::{Backoff, Duration as FileDuration, Retry};

/// The delay before the second attempt when `initial_delay` is left out.
pub(crate) const DEFAULT_INITIAL_DELAY: FileDuration = FileDuration(Duration::from_secs(1));

/// The cap on the delay when `max_delay` is left out.
pub(crate) const DEFAULT_MAX_DELAY: FileDuration = FileDuration(Duration::from_secs(60));

/// The delay before the attempt after `attempt` (counted from 1).
///
/// Exponential backoff doubles from `initial_delay` ([`DEFAULT_INITIAL_DELAY`]) up to
/// `max_delay` ([`DEFAULT_MAX_DELAY`]). Jitter scales the delay into `[delay/2, delay]` by a fraction drawn from `seed`
/// and the attempt, so the same step waits the same after a restart, while steps with other
/// seeds (other runs or steps) spread out.
pub(crate) fn delay(retry: &Retry, attempt: u32, seed: u64) -> Duration {
    let initial = retry.initial_delay.unwrap_or(DEFAULT_INITIAL_DELAY).0;
    let max = retry.max_delay.unwrap_or(DEFAULT_MAX_DELAY).0;
    let delay = match retry.backoff {
        Backoff::Fixed => initial,
        Backoff::Exponential => {
            initial.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        }
    }
    .min(max);
    if retry.jitter {
        // `DefaultHasher::new()` has fixed keys: the same inputs hash the same in every process.
        let mut hasher = DefaultHasher::new();
        hasher.write_u64(seed);
        hasher.write_u32(attempt);
        let unit = (hasher.finish() % 1000) as f64 / 1000.0;
        delay.mul_f64(0.5 + unit / 2.0)
    } else {
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(backoff: Backoff, jitter: bool) -> Retry {
        Retry {
            max_attempts: 5,
            backoff,
            initial_delay: Some(FileDuration(Duration::from_secs(1))),
            max_delay: Some(FileDuration(Duration::from_secs(5))),
            jitter,
            retry_on: Vec::new(),
        }
    }

    #[test]
    fn retry_on_names_the_classes_retried_but_never_cancelled_or_denied() {
        use crate::executor::ErrorClass::*;
        let default = retry(Backoff::Fixed, false);
        assert!(default.retries(ExitCode) && default.retries(Timeout));
        assert!(!default.retries(BadOutput) && !default.retries(Stalled));
        let listed = Retry {
            retry_on: vec![BadOutput, Cancelled, Denied],
            ..default
        };
        assert!(listed.retries(BadOutput));
        assert!(!listed.retries(ExitCode));
        assert!(!listed.retries(Cancelled) && !listed.retries(Denied));
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let retry = retry(Backoff::Exponential, false);
        let delays: Vec<u64> = (1..=4)
            .map(|attempt| delay(&retry, attempt, 0).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 5]);
    }

    #[test]
    fn fixed_stays_at_the_initial_delay() {
        let retry = retry(Backoff::Fixed, false);
        assert_eq!(delay(&retry, 4, 0), Duration::from_secs(1));
    }

    #[test]
    fn defaults_are_one_second_up_to_a_minute() {
        let retry = Retry {
            initial_delay: None,
            max_delay: None,
            ..retry(Backoff::Exponential, false)
        };
        assert_eq!(delay(&retry, 1, 0), Duration::from_secs(1));
        assert_eq!(delay(&retry, 20, 0), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_half_to_full_and_repeats_for_a_seed() {
        let retry = retry(Backoff::Exponential, true);
        let jittered: Vec<Duration> = (0..50).map(|seed| delay(&retry, 3, seed)).collect();
        for &one in &jittered {
            assert!(
                one >= Duration::from_secs(2) && one <= Duration::from_secs(4),
                "{one:?}"
            );
        }
        assert!(
            jittered.iter().any(|&one| one != jittered[0]),
            "seeds spread"
        );
        assert_eq!(delay(&retry, 3, 7), delay(&retry, 3, 7));
    }
}
