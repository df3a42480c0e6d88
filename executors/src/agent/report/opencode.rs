//! opencode's output: `opencode run --format json` prints JSONL events `{type, timestamp,
//! sessionID, ...}`: `step_start`, `text` (`part.text`), `tool_use`, `reasoning`,
//! `step_finish` (`part.cost`, `part.tokens: {input, output, reasoning, cache: {read,
//! write}}`) and `error` (`error: {name, data: {message, isRetryable?, providerID?}}`).
//! opencode 1.18.33 prints no `done` event: the end of the stream and the exit code end the
//! run.

use cairn_engine::Usage;

use super::{Report, count, events, failure_of, message, number, take_answer};

/// Reads opencode's stdout. The answer is the text of the last step that has text; tokens
/// and cost are summed over the steps, cache reads and writes counted as input and
/// reasoning as output.
pub(super) fn read(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut step_text: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    let mut finished = false;
    for event in events(stdout) {
        match event["type"].as_str().unwrap_or_default() {
            "step_start" => {
                report.untold = true;
                step_text.clear();
            }
            "text" => {
                if let Some(text) = event["part"]["text"].as_str() {
                    step_text.push(text.to_owned());
                    report.text = Some(step_text.join("\n"));
                }
            }
            "step_finish" => {
                report.untold = false;
                finished = true;
                let (part, tokens) = (&event["part"], &event["part"]["tokens"]);
                let cache = &tokens["cache"];
                report.usage += &Usage {
                    input_tokens: count(&[&tokens["input"], &cache["read"], &cache["write"]]),
                    output_tokens: count(&[&tokens["output"], &tokens["reasoning"]]),
                    cost_usd: number(&part["cost"]).unwrap_or(0.0),
                };
            }
            "error" => {
                let error = &event["error"];
                let text = (error["data"]["message"].as_str())
                    .or_else(|| error["message"].as_str())
                    .map_or_else(|| message(&error["name"]), str::to_owned);
                // A provider's refusal names the provider (`ProviderAuthError`'s
                // `data.providerID`): which of its keys was refused (probe 43 f6).
                let provider = (error["data"]["providerID"].as_str()).filter(|id| !id.is_empty());
                errors.push(match (error["name"].as_str(), provider) {
                    (Some(name), Some(provider)) => format!("{name} ({provider}): {text}"),
                    (Some(name), None) => format!("{name}: {text}"),
                    (None, _) => text,
                });
            }
            _ => {}
        }
        report.raw = event;
    }
    // An answer with no step finished never said what it spent (probe 79 F4: a stream of
    // `text` events alone counted nothing against a budget).
    if report.text.is_some() && !finished {
        report.untold = true;
    }
    // A stream that ends on a `text` event: its text is the end of the answer, in `text`.
    if report.raw["type"] == "text" {
        take_answer(&mut report.raw, &["part", "text"]);
    }
    report.error = (!errors.is_empty()).then(|| failure_of(&errors));
    report
}

#[cfg(test)]
mod tests {
    use super::read;

    /// 500 `error` events of 2,000 characters each fail the step with the first and the last
    /// ten, each cut to 1,000 characters (probe 82 F3: an error of 1 MB).
    #[test]
    fn many_errors_make_a_failure_of_the_first_and_last_ones() {
        let error = |n| {
            let text = format!("E{n} {}", "x".repeat(2_000));
            format!(
                r#"{{"type":"error","error":{{"name":"APIError","data":{{"message":"{text}"}}}}}}"#
            )
        };
        let stdout: Vec<String> = (0..500).map(error).collect();
        let failure = read(&stdout.join("\n")).error.unwrap();
        let said: Vec<&str> = failure.split("; ").collect();
        assert_eq!(said.len(), 21, "{failure}");
        assert!(said[0].starts_with("APIError: E0 xxx"), "{}", said[0]);
        assert_eq!(said[10], "… 480 more errors, left out");
        assert!(said[20].starts_with("APIError: E499 xxx"), "{}", said[20]);
        assert!(said.iter().all(|one| one.chars().count() <= 1_001));
    }

    #[test]
    fn a_stream_without_done_is_read_to_its_end() {
        let report = read(include_str!("../fixtures/opencode-success.jsonl"));
        assert_eq!(report.text.as_deref(), Some("Hi!"));
        assert_eq!(report.error, None);
        assert_eq!(report.usage.input_tokens, 100 + 2000 + 10);
        assert_eq!(report.usage.output_tokens, 5 + 3);
        assert_eq!(report.usage.cost_usd, 0.0012);
        assert_eq!(report.raw["type"], "step_finish");

        // A stream that ends on its answer's text keeps that text in `text` alone.
        let stdout = include_str!("../fixtures/opencode-success.jsonl");
        let until_text: Vec<&str> = stdout.lines().take(2).collect();
        let report = read(&until_text.join("\n"));
        assert_eq!(report.text.as_deref(), Some("Hi!"));
        assert_eq!(report.raw["type"], "text");
        assert_eq!(report.raw["part"].get("text"), None);
        assert_eq!(report.raw["part"]["id"], "prt_2");
    }

    #[test]
    fn a_provider_refusal_names_the_provider() {
        let stdout = r#"{"type":"error","error":{"name":"ProviderAuthError","data":{"providerID":"anthropic","message":"API key is invalid"}}}"#;
        assert_eq!(
            read(stdout).error.as_deref(),
            Some("ProviderAuthError (anthropic): API key is invalid")
        );
    }

    #[test]
    fn an_error_event_is_the_failure_with_its_name() {
        let report = read(include_str!("../fixtures/opencode-json.stdout"));
        assert_eq!(
            report.error.as_deref(),
            Some(
                "APIError: Cannot connect to API: Unable to connect. Is the computer able to access the url?"
            )
        );
        let report = read(include_str!("../fixtures/opencode-model.stdout"));
        assert!(
            report
                .error
                .unwrap()
                .starts_with("UnknownError: Unexpected server error")
        );
    }
}
