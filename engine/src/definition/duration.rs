//! Durations written as humantime strings (`"90s"`, `"5m"`, `"1h 30m"`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pattern of a duration string in the JSON Schema: numbers, each with one of
/// humantime's units, so that a file `cairn validate` passes never fails a run on a unit
/// (`"5 parsecs"`).
pub(crate) const PATTERN: &str = concat!(
    r"^\s*([0-9]+\s*(nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|",
    r"minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|",
    r"months|month|M|years|year|yrs|yr|y)\s*)+$"
);

/// The longest duration a file may give: 100 years (humantime's `100y`). Any deadline or
/// wake-up time computed from it stays far inside what clocks and timestamps hold, so that
/// no run can fail on it; nothing a workflow does needs longer.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(3_155_760_000);

/// A span of time, written in files as a humantime string such as `"90s"` or `"1h 30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl FromStr for Duration {
    type Err = String;

    /// Reads a duration as a file writes it, or says why it is not one: numbers each with
    /// a unit, at most 100 years ([`MAX_DURATION`]); what a command-line flag takes too.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Duration::read(text)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Duration {
    /// Reads a duration as a file writes it, or says why it is not one: numbers each with a
    /// unit (what the schema's [`PATTERN`] takes), at most [`MAX_DURATION`]. The one check
    /// of every duration a file gives: the workflow's own keys, and the durations of an
    /// executor's `with` (the loader checks them with it).
    pub(crate) fn read(text: &str) -> Result<Duration, String> {
        // What the schema says of a duration, also where no schema was checked first.
        static FORM: LazyLock<Regex> = LazyLock::new(|| Regex::new(PATTERN).expect("a regex"));
        let hint = "write it like \"90s\", \"5m\" or \"1h 30m\"";
        // A rendered `with.duration` may be megabytes (probe 83 F4): quoted by its start, and
        // only in an error (every duration of a file is read here).
        let quoted = || crate::expr::quoted(text);
        if !FORM.is_match(text) {
            return Err(format!(
                "bad duration {}: whole numbers each with a unit ({hint})",
                quoted()
            ));
        }
        let too_long = || {
            format!(
                "bad duration {}: longer than 100 years (100y), the most cairn takes",
                quoted()
            )
        };
        // Of whole numbers (the form above), humantime's overflow is a number too big
        // (probe 35 F10: its words blamed "values below 1ns").
        let duration =
            humantime::parse_duration(text)
                .map(Duration)
                .map_err(|error| match error {
                    humantime::DurationError::NumberOverflow => too_long(),
                    error => format!("bad duration {}: {error} ({hint})", quoted()),
                })?;
        if duration.0 > MAX_DURATION {
            return Err(too_long());
        }
        Ok(duration)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Duration::read(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as \"90s\", \"5m\" or \"1h 30m\".",
            "pattern": PATTERN
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_humantime() {
        let duration: Duration = serde_json::from_str("\"1h 30m\"").unwrap();
        assert_eq!(duration.0, std::time::Duration::from_secs(5400));
        assert_eq!(serde_json::to_string(&duration).unwrap(), "\"1h 30m\"");
    }

    #[test]
    fn rejects_nonsense_with_a_hint() {
        let error = serde_json::from_str::<Duration>("\"soon\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("bad duration \"soon\""), "{error}");
    }

    #[test]
    fn takes_only_what_the_schema_pattern_takes() {
        for text in [
            "0",
            "5",
            "",
            " ",
            "m5",
            "1 2s",
            "5 parsecs",
            "2 fortnights",
            "1sx",
        ] {
            let error = serde_json::from_str::<Duration>(&format!("{text:?}")).unwrap_err();
            assert!(error.to_string().contains("a unit"), "{text:?}: {error}");
        }
        let duration: Duration = serde_json::from_str("\" 2m 5s \"").unwrap();
        assert_eq!(duration.0, std::time::Duration::from_secs(125));
        let duration: Duration = serde_json::from_str("\"1hour 2mins 3secs 4ms\"").unwrap();
        assert_eq!(duration.0, std::time::Duration::from_millis(3_723_004));
    }

    #[test]
    fn takes_at_most_a_hundred_years_so_no_deadline_overflows() {
        let most: Duration = serde_json::from_str("\"100y\"").unwrap();
        assert_eq!(most.0, MAX_DURATION);
        // The last past what humantime counts at all (probe 35 F10).
        for text in [
            "100y 1s",
            "900000000y",
            "400000000000y",
            "99999999999999999999s",
        ] {
            let error = serde_json::from_str::<Duration>(&format!("{text:?}")).unwrap_err();
            assert!(
                error.to_string().contains("longer than 100 years"),
                "{text}: {error}"
            );
        }
        // A file giving one is refused at load, before any run: it used to panic the engine
        // when the run's deadline was computed.
        let workflow = r#"{"name": "w", "limits": {"timeout": "900000000y"},
                           "steps": [{"id": "a", "executor": "noop", "heartbeat": "900000000y"}]}"#;
        let executors = crate::executor::test_support::accepting_anything(&["noop"]);
        let error = crate::load::load_str(workflow, "w.json", &executors).unwrap_err();
        let error = error.to_string();
        assert!(error.contains("/limits/timeout: bad duration"), "{error}");
        assert!(
            error.contains("/steps/0/heartbeat: bad duration"),
            "{error}"
        );
    }
}
