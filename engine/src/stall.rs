//! Stalls and loops, pure: when a running attempt or a run has gone quiet for too long, and
//! when a step's attempts keep ending the same way. The ledger asks, with explicit times,
//! and carries out the escalation (`on_stall`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::executor::{ErrorClass, ExecError};

/// What kind of stall was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A running attempt reported no progress for its step's `heartbeat`.
    Heartbeat,
    /// Nothing moved in the run for `stall.no_progress` while attempts ran.
    NoProgress,
    /// `stall.loop_after` consecutive attempts of a step ended the same way.
    Loop,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Heartbeat => "heartbeat",
            Kind::NoProgress => "no_progress",
            Kind::Loop => "loop",
        }
    }
}

/// A stall or a loop, with its evidence: what the event records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stall {
    pub(crate) kind: Kind,
    pub(crate) evidence: Value,
}

impl Stall {
    /// The stall an event's `stall` records (`{"kind", "evidence"}`), if it is one.
    pub(crate) fn recorded(stall: &Value) -> Option<Stall> {
        let kind = [Kind::Heartbeat, Kind::NoProgress, Kind::Loop]
            .into_iter()
            .find(|kind| stall.get("kind").and_then(Value::as_str) == Some(kind.as_str()))?;
        let evidence = stall.get("evidence")?.clone();
        Some(Stall { kind, evidence })
    }

    /// The event detail: `{"stall": {"kind", "evidence"}}`.
    pub(crate) fn detail(&self) -> Value {
        json!({ "stall": { "kind": self.kind.as_str(), "evidence": self.evidence } })
    }

    /// The error a stalled attempt ends with.
    pub(crate) fn error(&self) -> ExecError {
        let message = match self.kind {
            Kind::Loop if self.evidence.get("plan_depth").is_some() => format!(
                "looping: this plan would be {} plans deep, past limits.max_plan_depth ({}): \
                 each round of a re-plan loop nests one deeper",
                self.evidence["plan_depth"], self.evidence["max_plan_depth"]
            ),
            Kind::Loop if self.evidence.get("plan").is_some() => {
                // Named since probe 189 F2; a stall recorded before names none.
                let emitters = self.evidence["emitted_by"].as_array().into_iter().flatten();
                let emitters: Vec<&str> = emitters.filter_map(Value::as_str).collect();
                let named = match emitters.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", emitters.join(", ")),
                };
                format!(
                    "looping: this plan was emitted {} times before by the planners that added \
                     this planner{named}",
                    self.evidence["repeats"]
                )
            }
            // Quoted as the last attempt ended, not normalised: a person reads the window
            // and the program's path (`(heartbeat 1s)`, not `(heartbeat #)`).
            Kind::Loop => format!(
                "looping: {} attempts in a row ended with {}",
                self.evidence["repeats"],
                (self.evidence.get("last_error")).unwrap_or(&self.evidence["error"])
            ),
            Kind::Heartbeat | Kind::NoProgress => self.silence(true),
        };
        ExecError {
            class: ErrorClass::Stalled,
            message,
        }
    }

    /// How the attempt this stall ended compares with its step's other endings, for loops:
    /// its error without how long the silence lasted, which the timer's jitter makes differ
    /// (`1s`, `1s 1ms`) between attempts that stalled alike.
    pub(crate) fn ending(&self) -> String {
        match self.kind {
            Kind::Heartbeat | Kind::NoProgress => ExecError {
                class: ErrorClass::Stalled,
                message: self.silence(false),
            }
            .to_string(),
            Kind::Loop => self.error().to_string(),
        }
    }

    /// What a silence is: `no sign of life for 1s (heartbeat 1s)`, without `for 1s` unless
    /// `how_long`.
    fn silence(&self, how_long: bool) -> String {
        let what = match self.kind {
            Kind::NoProgress => "nothing moved in the run",
            Kind::Heartbeat | Kind::Loop => "no sign of life",
        };
        let window = self.evidence["window"].as_str().unwrap_or("?");
        let limit = match self.kind {
            Kind::NoProgress => format!("stall.no_progress {window}"),
            Kind::Heartbeat | Kind::Loop => format!("heartbeat {window}"),
        };
        match self.evidence["silent_for"].as_str().filter(|_| how_long) {
            Some(silent_for) => format!("{what} for {silent_for} ({limit})"),
            None => format!("{what} ({limit})"),
        }
    }
}

/// A planner emitting, once more, the plan with `digest` that the planners that added it,
/// `emitters` (their ids, nearest first), emitted: a loop.
pub(crate) fn repeated_plan(digest: &str, emitters: Vec<String>) -> Stall {
    Stall {
        kind: Kind::Loop,
        evidence: json!({ "plan": digest, "repeats": emitters.len(), "emitted_by": emitters }),
    }
}

/// A planner whose plan would nest `depth` plans deep, past `limits.max_plan_depth` (`most`):
/// a re-plan loop whose plans differ (a round's counter in them), bounded.
pub(crate) fn deep_plan(depth: u32, most: u32) -> Stall {
    Stall {
        kind: Kind::Loop,
        evidence: json!({ "plan_depth": depth, "max_plan_depth": most }),
    }
}

/// A silence of `window` or more since `since` at `now`: a stall of `kind`.
pub(crate) fn silence(
    kind: Kind,
    since: DateTime<Utc>,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<Stall> {
    let silent = (now - since).to_std().ok()?;
    (silent >= window).then(|| Stall {
        kind,
        evidence: json!({
            "silent_since": since,
            "silent_for": humantime::format_duration(round(silent)).to_string(),
            "window": humantime::format_duration(window).to_string(),
        }),
    })
}

/// `duration` to the millisecond, for people.
fn round(duration: Duration) -> Duration {
    Duration::from_millis(duration.as_millis() as u64)
}

/// How many consecutive attempts of a step ended the same way (normalised) with no progress.
#[derive(Debug, Clone, Default)]
pub(crate) struct Repeats {
    last: Option<String>,
    /// How many items of a `for_each` step had succeeded when the last attempt ended.
    done: usize,
    count: u32,
}

impl Repeats {
    /// Counts an attempt that ended with `ending`, `done` items of its `for_each` step
    /// succeeded by then (0 for another step); a loop once `loop_after` in a row match. An
    /// attempt in which items succeeded made progress: it is no repeat, whatever its ending
    /// (which names only so many of its failed items, and normalises their count).
    pub(crate) fn record(&mut self, ending: &str, done: usize, loop_after: u32) -> Option<Stall> {
        let fingerprint = normalize(ending);
        if self.last.as_ref() == Some(&fingerprint) && self.done == done {
            self.count += 1;
        } else {
            self.count = 1;
        }
        self.done = done;
        let stall = (self.count >= loop_after).then(|| Stall {
            kind: Kind::Loop,
            evidence: json!({ "repeats": self.count, "error": fingerprint, "last_error": ending }),
        });
        self.last = Some(fingerprint);
        stall
    }
}

/// What a process's exit message says before its exit code, which stays as it is: failures
/// that exit with different codes are different failures.
const EXIT_CODE: &str = "exited with code ";

/// `text` with what differs between otherwise equal failures made equal: every word holding
/// a digit (pids, counts, times, dates, ids) becomes `#`, but for a process's exit code, and
/// every temporary path `<tmp>`.
pub(crate) fn normalize(text: &str) -> String {
    let mut normal = String::with_capacity(text.len());
    for token in text.split_whitespace() {
        if !normal.is_empty() {
            normal.push(' ');
        }
        if ["/tmp/", "/var/folders/", "/private/var/"]
            .iter()
            .any(|temp| token.contains(temp))
        {
            normal.push_str("<tmp>");
            continue;
        }
        let mut word = String::new();
        for char in token.chars().chain(std::iter::once(' ')) {
            if char.is_alphanumeric() || "-_.".contains(char) {
                word.push(char);
                continue;
            }
            let exit_code = normal.ends_with(EXIT_CODE) && word.parse::<i32>().is_ok();
            if !exit_code && word.chars().any(|c| c.is_ascii_digit()) {
                normal.push('#');
            } else {
                normal.push_str(&word);
            }
            word.clear();
            if char != ' ' {
                normal.push(char);
            }
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap()
    }

    #[test]
    fn pids_numbers_times_and_temp_paths_are_stripped() {
        assert_eq!(
            normalize("error: pid 4242 died at 12:03:04.5 (see /tmp/x.AbC12/log, code=7)"),
            normalize("error: pid 17 died at 09:00:00.0 (see /tmp/y.q/log, code=7)"),
        );
        assert_eq!(
            normalize("exit_code: exited with 1: no such file"),
            "exit_code: exited with #: no such file"
        );
        assert_ne!(
            normalize("connection refused"),
            normalize("no route to host")
        );
    }

    #[test]
    fn an_exit_code_is_kept_and_what_follows_it_normalised() {
        assert_eq!(
            normalize("exit_code: `sh` exited with code 107; stderr: 493 passed; 7 failed"),
            "exit_code: `sh` exited with code 107; stderr: # passed; # failed"
        );
        assert_ne!(
            normalize("`sh` exited with code 107; stderr: pid 4"),
            normalize("`sh` exited with code 103; stderr: pid 4"),
        );
        assert_eq!(
            normalize("`sh` exited with code 2; stderr: pid 4 at 10:00:01"),
            normalize("`sh` exited with code 2; stderr: pid 9 at 11:30:00"),
        );
    }

    #[test]
    fn the_same_ending_loop_after_times_in_a_row_is_a_loop() {
        let mut repeats = Repeats::default();
        assert!(repeats.record("failed: pid 1", 0, 3).is_none());
        assert!(repeats.record("failed: pid 2", 0, 3).is_none());
        let stall = repeats.record("failed: pid 3", 0, 3).unwrap();
        assert_eq!(stall.kind, Kind::Loop);
        assert_eq!(stall.evidence["repeats"], 3);
        assert_eq!(stall.error().class, ErrorClass::Stalled);
        // The message quotes the last ending as written; the evidence keeps both.
        assert!(
            stall.error().message.ends_with("\"failed: pid 3\""),
            "{stall:?}"
        );
        assert_eq!(stall.evidence["error"], "failed: pid #");
    }

    #[test]
    fn silences_alike_end_alike_however_late_they_were_seen() {
        let window = Duration::from_secs(1);
        let on_time = silence(Kind::Heartbeat, at(0), window, at(1)).unwrap();
        let late = Stall {
            evidence: json!({"silent_for": "1s 1ms", "window": "1s"}),
            ..on_time.clone()
        };
        assert_ne!(on_time.error(), late.error(), "the error says how long");
        assert_eq!(on_time.ending(), late.ending());
        assert_eq!(on_time.ending(), "stalled: no sign of life (heartbeat 1s)");
        let run = silence(Kind::NoProgress, at(0), window, at(1)).unwrap();
        assert_ne!(run.ending(), on_time.ending(), "another kind of stall");
    }

    #[test]
    fn a_different_ending_starts_the_count_again() {
        let mut repeats = Repeats::default();
        for ending in ["a 1", "a 2", "b 3", "a 4", "a 5"] {
            assert!(repeats.record(ending, 0, 3).is_none(), "{ending}");
        }
    }

    #[test]
    fn items_succeeding_between_endings_alike_are_progress_not_a_repeat() {
        let ending = "exit_code: 30 of 40 items failed (0, 1, …): item 0: HTTP 429";
        let mut repeats = Repeats::default();
        for done in [10, 15, 19, 19] {
            assert!(repeats.record(ending, done, 3).is_none(), "{done} done");
        }
        let stall = repeats.record(ending, 19, 3).unwrap();
        assert_eq!(
            stall.evidence["repeats"], 3,
            "none succeeded in the last three"
        );
    }

    #[test]
    fn a_silence_counts_from_since_and_stalls_at_the_window() {
        let window = Duration::from_secs(10);
        assert!(silence(Kind::Heartbeat, at(0), window, at(9)).is_none());
        let stall = silence(Kind::Heartbeat, at(0), window, at(10)).unwrap();
        assert_eq!(stall.evidence["silent_for"], "10s");
        assert_eq!(
            stall.detail()["stall"]["kind"],
            "heartbeat",
            "the event names the kind"
        );
        assert!(silence(Kind::NoProgress, at(5), window, at(0)).is_none());
    }
}
