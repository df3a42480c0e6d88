//! The time a driver decides by: the wall clock, which commits stamp and stall windows,
//! time limits and retries are measured in.
//!
//! Unit tests read it off tokio's clock instead (its [`Instant`] placed on the wall clock),
//! so that a test on tokio's paused clock (`#[tokio::test(start_paused = true)]`) drives
//! heartbeats, windows and deadlines exactly, whatever the machine's load, and one on the
//! running clock sees real time pass.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// The time now.
#[cfg(not(test))]
pub(super) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The time now: tokio's instant, placed on the wall clock by one reading of both clocks
/// (a paused clock stands at the instant it was paused, plus the time it was advanced).
#[cfg(test)]
pub(super) fn now() -> DateTime<Utc> {
    static BOTH: std::sync::OnceLock<(DateTime<Utc>, std::time::Instant)> =
        std::sync::OnceLock::new();
    let (wall, at) = *BOTH.get_or_init(|| (Utc::now(), std::time::Instant::now()));
    let tokio = Instant::now().into_std();
    let delta = |duration| chrono::TimeDelta::from_std(duration).unwrap_or_default();
    match tokio.checked_duration_since(at) {
        Some(after) => wall + delta(after),
        None => wall - delta(at - tokio),
    }
}

/// The time of a tokio instant (`now`'s instant, if it is to come).
pub(super) fn time_of(instant: Instant, now: DateTime<Utc>) -> DateTime<Utc> {
    let ago = Instant::now().saturating_duration_since(instant);
    now - chrono::TimeDelta::from_std(ago).unwrap_or_default()
}

/// The tokio instant of a time (now, if it is past).
pub(super) fn instant_of(at: DateTime<Utc>) -> Instant {
    Instant::now() + (at - now()).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeDelta;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn moves_with_the_paused_clock_and_maps_back_to_its_instants() {
        let before = now();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let after = now();
        assert_eq!(after - before, TimeDelta::hours(1));
        let due = instant_of(after + TimeDelta::seconds(5));
        assert_eq!(due - Instant::now(), Duration::from_secs(5));
        assert!(
            instant_of(before) <= Instant::now(),
            "a past time is due now"
        );
    }
}
