//! The time limit of an agent step whose workflow gives it none. Offline, `codex exec`
//! never exits (it prints "Reconnecting... waiting for network" once a minute), and claude
//! takes minutes to give up: without a limit such a step would hold its run forever.

use std::time::Duration;

use cairn_engine::MAX_DURATION;

/// The default time limit of an `agent` attempt when the step has no `timeout`: 30 minutes.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The environment variable that replaces [`DEFAULT_AGENT_TIMEOUT`] for the executors
/// [`AgentExecutor::new`](super::AgentExecutor::new) builds: a duration such as `"2h"`, or
/// `"none"` for no limit.
pub const AGENT_TIMEOUT_ENV: &str = "CAIRN_AGENT_TIMEOUT";

/// The default limit: `Ok(None)` for none, `Err` saying why the setting is wrong.
pub(super) type Limit = Result<Option<Duration>, String>;

/// The limit [`AGENT_TIMEOUT_ENV`] sets, else [`DEFAULT_AGENT_TIMEOUT`].
pub(super) fn from_env() -> Limit {
    match std::env::var(AGENT_TIMEOUT_ENV) {
        Ok(value) => parse(&value),
        Err(std::env::VarError::NotPresent) => Ok(Some(DEFAULT_AGENT_TIMEOUT)),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{AGENT_TIMEOUT_ENV} is not valid UTF-8: set it to a duration such as \"30m\", or \"none\""
        )),
    }
}

/// Reads a limit as [`AGENT_TIMEOUT_ENV`] writes it.
fn parse(value: &str) -> Limit {
    match value.trim() {
        "none" => Ok(None),
        text => match humantime::parse_duration(text) {
            Ok(limit) if !limit.is_zero() && limit <= MAX_DURATION => Ok(Some(limit)),
            _ => Err(format!(
                "{AGENT_TIMEOUT_ENV}={value:?} is not a time limit: set it to a duration such as \"30m\" (at most \"100y\"), or \"none\" for no limit"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse;

    #[test]
    fn a_duration_or_none() {
        assert_eq!(parse("2s"), Ok(Some(Duration::from_secs(2))));
        assert_eq!(parse(" 1h "), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(parse("none"), Ok(None));
        for bad in ["", "0s", "soon", "-1m", "100y 1s", "900000000y"] {
            let message = parse(bad).unwrap_err();
            assert!(message.contains("CAIRN_AGENT_TIMEOUT"), "{message}");
            assert!(message.contains("\"none\""), "{message}");
        }
    }
}
