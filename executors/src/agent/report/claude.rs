//! Claude Code's output: `claude -p --output-format stream-json --verbose` prints JSONL
//! events (`system`, `assistant`, `user`, ...) and ends with one `result` object; with
//! `--output-format json` only that object. The result says `is_error`: claude 2.1.197
//! reports a failed login or API call as `"subtype": "success", "is_error": true` with the
//! reason in `result` (and exits 1).

use cairn_engine::Usage;
use serde_json::Value;

use super::{Report, count, events, failure_of, message, number, take_answer};

/// Reads claude's stdout: the last `result` object (kept as `raw` without its `result`,
/// the answer), and the errors its `assistant` events carry (what a killed claude had
/// reported).
pub(super) fn read(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut last_result = None;
    for event in events(stdout) {
        report.went_on();
        if event["type"] == "assistant" && event["error"].is_string() {
            report.warn(assistant_text(&event).unwrap_or_else(|| message(&event["error"])));
        }
        if event["type"] == "result" {
            last_result = Some(event);
        }
    }
    let Some(mut result) = last_result else {
        report.untold = true;
        return report;
    };
    if result["is_error"] == true {
        report.error = Some(failure(&result));
    } else {
        report.text = take_answer(&mut result, &["result"]);
    }
    report.usage = usage(&result);
    report.raw = result;
    report
}

/// The reason of a result with `is_error`: its `errors`, else its `result`; prefixed by the
/// subtype when that is not `success` (`error_max_turns: ...`).
fn failure(result: &Value) -> String {
    let detail = match &result["errors"] {
        Value::Array(errors) if !errors.is_empty() => {
            failure_of(&errors.iter().map(message).collect::<Vec<_>>())
        }
        _ => failure_of(&[result["result"].as_str().unwrap_or_default().to_owned()]),
    };
    match (result["subtype"].as_str(), detail.is_empty()) {
        (Some("success") | None, true) => "an error, with no reason given".to_owned(),
        (Some("success") | None, false) => detail,
        (Some(subtype), true) => subtype.to_owned(),
        (Some(subtype), false) => format!("{subtype}: {detail}"),
    }
}

/// The text of an `assistant` event's message.
fn assistant_text(event: &Value) -> Option<String> {
    let text: Vec<&str> = (event["message"]["content"].as_array()?.iter())
        .filter_map(|part| part["text"].as_str())
        .collect();
    (!text.is_empty()).then(|| text.join("\n"))
}

/// Usage in Claude's shape: `usage.input_tokens` counts only the uncached part of the
/// prompt, so the cache writes and reads are added to it; the cost is `total_cost_usd`
/// (`cost_usd` in older versions).
pub(super) fn usage(result: &Value) -> Usage {
    let usage = &result["usage"];
    Usage {
        input_tokens: count(&[
            &usage["input_tokens"],
            &usage["cache_creation_input_tokens"],
            &usage["cache_read_input_tokens"],
        ]),
        output_tokens: count(&[&usage["output_tokens"]]),
        cost_usd: number(&result["total_cost_usd"])
            .or_else(|| number(&result["cost_usd"]))
            .unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::read;

    const NOT_LOGGED_IN: &str = "Not logged in · Please run /login";

    #[test]
    fn a_success_gives_the_answer_usage_and_cost() {
        let report = read(include_str!("../fixtures/claude-success.json"));
        assert_eq!(report.text.as_deref(), Some("Hi! How can I help?"));
        assert_eq!(report.error, None);
        assert_eq!(report.usage.input_tokens, 12 + 5000 + 20000);
        assert_eq!(report.usage.output_tokens, 300);
        assert_eq!(report.usage.cost_usd, 0.0421);
        assert_eq!(report.raw["subtype"], "success");
        // The answer is `text`, not repeated in `raw`; the session id stays.
        assert_eq!(report.raw.get("result"), None);
        assert!(report.raw["session_id"].is_string());
    }

    #[test]
    fn is_error_with_subtype_success_is_a_failure_with_its_result_as_the_reason() {
        for stdout in [
            include_str!("../fixtures/claude-json.stdout"),
            include_str!("../fixtures/claude-notloggedin.json"),
        ] {
            let report = read(stdout);
            assert_eq!(report.error.as_deref(), Some(NOT_LOGGED_IN));
            assert_eq!(report.text, None);
        }
        let report = read(include_str!("../fixtures/claude-key-json.stdout"));
        assert_eq!(
            report.error.as_deref(),
            Some("API Error: Unable to connect to API (ConnectionRefused)")
        );
    }

    #[test]
    fn the_stream_json_stream_ends_with_its_result() {
        let stdout = include_str!("../fixtures/claude-streamjson-verbose.stdout");
        let report = read(stdout);
        assert_eq!(report.error.as_deref(), Some(NOT_LOGGED_IN));
        assert_eq!(report.raw["type"], "result");
        // A stream cut before its result still says what claude reported.
        let cut: String = stdout.lines().take(2).collect::<Vec<_>>().join("\n");
        let report = read(&cut);
        assert_eq!(report.error, None);
        assert_eq!(report.last_problem(), Some(NOT_LOGGED_IN));
    }

    #[test]
    fn counts_too_big_to_add_stop_at_the_largest() {
        let report = read(
            r#"{"type":"result","subtype":"success","is_error":false,"result":"x",
                "usage":{"input_tokens":18446744073709551615,"cache_read_input_tokens":5}}"#,
        );
        assert_eq!(report.usage.input_tokens, u64::MAX);
    }

    #[test]
    fn a_subtype_other_than_success_names_itself() {
        let report = read(
            r#"{"type":"result","subtype":"error_max_turns","is_error":true,"errors":["Reached maximum number of turns (1)"]}"#,
        );
        assert_eq!(
            report.error.as_deref(),
            Some("error_max_turns: Reached maximum number of turns (1)")
        );
    }
}
