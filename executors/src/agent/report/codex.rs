//! Codex's output: `codex exec --json` prints JSONL events: `thread.started`,
//! `turn.started`, `item.started` / `item.updated` / `item.completed` (an `agent_message`
//! item carries the answer in `text`, an `error` item a warning in `message`), then
//! `turn.completed` with `usage: {input_tokens, cached_input_tokens, output_tokens}` or
//! `turn.failed` with `error.message`. An `error` event is *not* the end of the turn:
//! codex 0.171 prints one for each reconnect (`Reconnecting... 2/5 ...`, `Reconnecting...
//! waiting for network ...`) and goes on; only `turn.failed` or a non-zero exit is a failure.
//! The answer is the last `agent_message` of a turn that completed: a message printed
//! mid-turn (codex says what it is about to do) is no answer when `turn.completed` never
//! comes.
//! Codex reports no cost.

use cairn_engine::Usage;

use super::{Report, count, events, failure_of, message};

/// Reads codex's stdout.
pub(super) fn read(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut message_so_far = None;
    for event in events(stdout) {
        report.went_on();
        let item = &event["item"];
        match event["type"].as_str().unwrap_or_default() {
            "turn.started" => report.untold = true,
            "item.completed" if item["type"] == "agent_message" => {
                message_so_far = item["text"].as_str().map(str::to_owned);
            }
            "item.completed" if item["type"] == "error" => report.warn(message(&item["message"])),
            "turn.completed" => {
                report.untold = false;
                report.text.clone_from(&message_so_far);
                // `input_tokens` already includes `cached_input_tokens`.
                let usage = &event["usage"];
                report.usage += &Usage {
                    input_tokens: count(&[&usage["input_tokens"]]),
                    output_tokens: count(&[&usage["output_tokens"]]),
                    cost_usd: 0.0,
                };
            }
            "turn.failed" => {
                report.untold = false;
                report.error = Some(failure_of(&[message(&event["error"]["message"])]));
            }
            "error" => report.warn(message(&event["message"])),
            _ => {}
        }
        report.raw = event;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn reconnects_then_an_answer_are_a_success_with_warnings() {
        let report = read(include_str!(
            "../fixtures/codex-reconnect-then-success.jsonl"
        ));
        assert_eq!(report.text.as_deref(), Some("Hi!"));
        assert_eq!(report.error, None);
        assert_eq!(
            (report.usage.input_tokens, report.usage.output_tokens),
            (2946, 7)
        );
        assert_eq!(report.warnings.messages.len(), 1);
        assert!(report.warnings.messages[0].starts_with("Reconnecting... 2/5"));
        // codex went on from it: it explains nothing that comes after.
        assert_eq!(report.last_problem(), None);
        assert_eq!(report.raw["type"], "turn.completed");

        let report = read(include_str!(
            "../fixtures/codex-warning-item-then-success.jsonl"
        ));
        assert_eq!(report.text.as_deref(), Some("Hi!"));
        assert!(report.warnings.messages[0].starts_with("Model metadata for `gpt-5` not found"));
    }

    /// Thousands of reconnects keep the first and the last ten, and say how many were left
    /// out between (probe 77 F2: 8,000 of them failed an answer `output_too_large`).
    #[test]
    fn many_warnings_keep_the_first_and_the_last_ones() {
        let reconnects = (1..=8000).map(|n| {
            format!(r#"{{"type":"error","message":"Reconnecting... {n}/5 (stream closed)"}}"#)
        });
        let answer = [
            r#"{"type":"item.completed","item":{"type":"agent_message","text":"Hi!"}}"#.to_owned(),
            r#"{"type":"turn.completed","usage":{}}"#.to_owned(),
        ];
        let stdout = reconnects.chain(answer).collect::<Vec<_>>().join("\n");
        let report = read(&format!("{{\"type\":\"turn.started\"}}\n{stdout}"));
        assert_eq!(report.text.as_deref(), Some("Hi!"));
        let warnings = report.output_warnings();
        assert_eq!(warnings.len(), 21);
        assert!(
            warnings[0].starts_with("Reconnecting... 1/5"),
            "{warnings:?}"
        );
        assert_eq!(warnings[10], "… 7980 more warnings, left out");
        assert!(
            warnings[20].starts_with("Reconnecting... 8000/5"),
            "{warnings:?}"
        );
        // Each to its first thousand characters (probe 79 F5: twenty of 70 KB).
        let long = format!(r#"{{"type":"error","message":"{}"}}"#, "x".repeat(70_000));
        let report = read(&long);
        assert_eq!(report.warnings.messages[0].chars().count(), 1_001);
    }

    #[test]
    fn offline_codex_reports_no_failure_but_its_last_warning_says_why() {
        let report = read(include_str!("../fixtures/codex-json-gitrepo.stdout"));
        assert_eq!(
            (report.error.as_deref(), report.text.as_deref()),
            (None, None)
        );
        assert_eq!(
            report.last_problem(),
            Some("Reconnecting... waiting for network (Connection failed: error sending request)")
        );
        // Eight "waiting for network" lines in a row are kept once.
        assert_eq!(report.warnings.messages.len(), 6);
    }

    #[test]
    fn a_message_without_turn_completed_is_no_answer() {
        let stdout = concat!(
            r#"{"type":"thread.started","thread_id":"t"}"#,
            "\n",
            r#"{"type":"turn.started"}"#,
            "\n",
            r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"Let me first look at the failing test."}}"#,
        );
        assert_eq!(read(stdout).text, None);
        let completed = format!("{stdout}\n{}", r#"{"type":"turn.completed","usage":{}}"#);
        assert_eq!(
            read(&completed).text.as_deref(),
            Some("Let me first look at the failing test.")
        );
    }

    #[test]
    fn a_failed_turn_is_the_failure() {
        let report = read(concat!(
            r#"{"type":"error","message":"Reconnecting... 2/5"}"#,
            "\n",
            r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#
        ));
        assert_eq!(report.error.as_deref(), Some("stream disconnected"));
    }

    #[test]
    fn a_stream_cut_short_still_gives_its_usage() {
        let stdout = concat!(
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":2}}"#,
            "\n",
            r#"{"type":"item.completed","item":{"id":"#
        );
        let report = read(stdout);
        assert_eq!(
            (report.usage.input_tokens, report.usage.output_tokens),
            (10, 2)
        );
        assert_eq!(report.text, None);
    }
}
