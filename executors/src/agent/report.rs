//! Reading what a coding-agent CLI printed: its answer, its usage and cost, its error.

use cairn_engine::Usage;
use serde_json::Value;

use super::params::Cli;

/// What a CLI's stdout says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Report {
    /// The final answer, when the CLI gave one.
    pub(super) text: Option<String>,
    /// The final JSON object the CLI printed, `null` when none.
    pub(super) raw: Value,
    /// Tokens and cost, where the CLI reports them.
    pub(super) usage: Usage,
    /// The error the CLI reported, if it did.
    pub(super) error: Option<String>,
}

/// Reads `stdout` as `cli` prints it. Lines that are not JSON (in a stream) are skipped, so
/// a partial stdout (a killed CLI) still gives what usage it holds.
pub(super) fn read(cli: Cli, stdout: &str) -> Report {
    match cli {
        Cli::Claude => claude(stdout),
        Cli::Codex => codex(stdout),
        Cli::Opencode => opencode(stdout),
        Cli::Custom => custom(stdout),
    }
}

/// The JSON objects of a JSONL stream (or of one JSON document), in order.
fn events(stdout: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(stdout) {
        return vec![value];
    }
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter(Value::is_object)
        .collect()
}

/// `value` as a token count (0 when absent or not a count).
fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// `claude -p --output-format json`: one object, `{"type": "result", "subtype", "is_error",
/// "result", "total_cost_usd", "usage": {"input_tokens", "cache_creation_input_tokens",
/// "cache_read_input_tokens", "output_tokens", ...}, "errors"?, ...}`. The last `result`
/// object is taken, so `--output-format stream-json` (given in `with.args`) reads too.
fn claude(stdout: &str) -> Report {
    let Some(result) = events(stdout)
        .into_iter()
        .rfind(|event| event["type"] == "result")
    else {
        return Report::default();
    };
    let error = (result["is_error"] == true).then(|| {
        let subtype = result["subtype"].as_str().unwrap_or("error");
        let detail = match &result["errors"] {
            Value::Array(errors) if !errors.is_empty() => errors
                .iter()
                .map(|error| {
                    error
                        .as_str()
                        .map_or_else(|| error.to_string(), str::to_owned)
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => result["result"].as_str().unwrap_or_default().to_owned(),
        };
        if detail.is_empty() {
            subtype.to_owned()
        } else {
            format!("{subtype}: {detail}")
        }
    });
    Report {
        text: result["result"].as_str().map(str::to_owned),
        usage: claude_usage(&result),
        error,
        raw: result,
    }
}

/// Usage in Claude's shape: `usage.input_tokens` counts only the uncached part of the
/// prompt, so the cache writes and reads are added to it; the cost is `total_cost_usd`
/// (`cost_usd` in older versions).
fn claude_usage(report: &Value) -> Usage {
    let usage = &report["usage"];
    Usage {
        input_tokens: count(&usage["input_tokens"])
            + count(&usage["cache_creation_input_tokens"])
            + count(&usage["cache_read_input_tokens"]),
        output_tokens: count(&usage["output_tokens"]),
        cost_usd: report["total_cost_usd"]
            .as_f64()
            .or_else(|| report["cost_usd"].as_f64())
            .unwrap_or(0.0),
    }
}

/// `codex exec --json`: JSONL events `thread.started`, `turn.started`, `item.started` /
/// `item.updated` / `item.completed` (`item.type` `agent_message` carries `item.text`),
/// `turn.completed` with `usage: {input_tokens, cached_input_tokens, output_tokens}`,
/// `turn.failed` with `error.message`, and `error` with `message`. Codex reports no cost.
fn codex(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut errors = Vec::new();
    for event in events(stdout) {
        match event["type"].as_str().unwrap_or_default() {
            "item.completed" if event["item"]["type"] == "agent_message" => {
                report.text = event["item"]["text"].as_str().map(str::to_owned);
            }
            "turn.completed" => {
                // `input_tokens` already includes `cached_input_tokens`.
                let usage = &event["usage"];
                report.usage.input_tokens += count(&usage["input_tokens"]);
                report.usage.output_tokens += count(&usage["output_tokens"]);
            }
            "turn.failed" => errors.push(message(&event["error"]["message"])),
            "error" => errors.push(message(&event["message"])),
            _ => {}
        }
        report.raw = event;
    }
    errors.dedup();
    report.error = (!errors.is_empty()).then(|| errors.join("; "));
    report
}

/// `opencode run --format json`: JSONL events `{type, timestamp, sessionID, ...}`:
/// `step_start`, `text` (`part.text`), `tool_use`, `reasoning`, `step_finish`
/// (`part.cost`, `part.tokens: {input, output, reasoning, cache: {read, write}}`), `error`
/// (`error: {name, data: {message}}`) and, in recent versions, `done`. The answer is the
/// text of the last step that has text; tokens and cost are summed over the steps, cache
/// reads and writes counted as input and reasoning as output.
fn opencode(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut step_text: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for event in events(stdout) {
        match event["type"].as_str().unwrap_or_default() {
            "step_start" => step_text.clear(),
            "text" => {
                if let Some(text) = event["part"]["text"].as_str() {
                    step_text.push(text.to_owned());
                    report.text = Some(step_text.join("\n"));
                }
            }
            "step_finish" => {
                let (part, tokens) = (&event["part"], &event["part"]["tokens"]);
                report.usage.input_tokens += count(&tokens["input"])
                    + count(&tokens["cache"]["read"])
                    + count(&tokens["cache"]["write"]);
                report.usage.output_tokens +=
                    count(&tokens["output"]) + count(&tokens["reasoning"]);
                report.usage.cost_usd += part["cost"].as_f64().unwrap_or(0.0);
            }
            "error" => {
                let error = &event["error"];
                let text = error["data"]["message"]
                    .as_str()
                    .or_else(|| error["message"].as_str())
                    .map(str::to_owned);
                errors.push(text.unwrap_or_else(|| message(&error["name"])));
            }
            _ => {}
        }
        report.raw = event;
    }
    report.error = (!errors.is_empty()).then(|| errors.join("; "));
    report
}

/// A custom CLI: stdout that is one JSON document is read as Claude's result object is
/// when it has its fields (`result` or `text` for the answer, `is_error`, `usage`,
/// `total_cost_usd`), and kept as `raw`; any other stdout is the answer as text.
fn custom(stdout: &str) -> Report {
    let trimmed = stdout.trim();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(raw) => {
            let text = ["result", "text"]
                .iter()
                .find_map(|field| raw[field].as_str())
                .map_or_else(|| trimmed.to_owned(), str::to_owned);
            let error = (raw["is_error"] == true).then(|| {
                raw["result"]
                    .as_str()
                    .or_else(|| raw["error"].as_str())
                    .unwrap_or("the CLI reported an error")
                    .to_owned()
            });
            Report {
                text: Some(text),
                usage: claude_usage(&raw),
                error,
                raw,
            }
        }
        Err(_) => Report {
            text: Some(stdout.trim_end().to_owned()),
            ..Report::default()
        },
    }
}

/// A JSON value as an error message.
fn message(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Cli, read};

    #[test]
    fn custom_text_and_json() {
        let report = read(Cli::Custom, "just text\n\n");
        assert_eq!(report.text.as_deref(), Some("just text"));
        assert!(report.raw.is_null());

        let report = read(
            Cli::Custom,
            r#"{"text": "hi", "usage": {"input_tokens": 3, "output_tokens": 4}, "cost_usd": 0.5}"#,
        );
        assert_eq!(report.text.as_deref(), Some("hi"));
        assert_eq!(
            (report.usage.input_tokens, report.usage.output_tokens),
            (3, 4)
        );
        assert_eq!(report.usage.cost_usd, 0.5);
        assert_eq!(report.raw["text"], json!("hi"));

        let report = read(Cli::Custom, r#"{"answer": 42}"#);
        assert_eq!(report.text.as_deref(), Some(r#"{"answer": 42}"#));
    }

    #[test]
    fn a_stream_cut_short_still_gives_its_usage() {
        let stdout = concat!(
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":2}}"#,
            "\n",
            r#"{"type":"item.completed","item":{"id":"#
        );
        let report = read(Cli::Codex, stdout);
        assert_eq!(
            (report.usage.input_tokens, report.usage.output_tokens),
            (10, 2)
        );
        assert_eq!(report.text, None);
    }

    #[test]
    fn claude_error_without_errors_uses_its_result() {
        let report = read(
            Cli::Claude,
            r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 529 overloaded"}"#,
        );
        assert_eq!(
            report.error.as_deref(),
            Some("success: API Error: 529 overloaded")
        );
    }
}
