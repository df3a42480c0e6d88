//! Reading what a coding-agent CLI printed: its answer, its usage and cost, the error it
//! failed with and the errors it recovered from. One module per CLI's protocol.

mod claude;
mod codex;
mod lenient;
mod opencode;

use cairn_engine::{Usage, cut};
use serde_json::Value;

use self::lenient::parse;
use super::params::Cli;

/// What a CLI's stdout says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Report {
    /// The final answer, when the CLI gave one.
    pub(super) text: Option<String>,
    /// The final JSON object the CLI printed, without the answer when that object holds it
    /// (`text` does: the answer is stored once); `null` when none.
    pub(super) raw: Value,
    /// Tokens and cost, where the CLI reports them.
    pub(super) usage: Usage,
    /// The failure the CLI reported, if it did.
    pub(super) error: Option<String>,
    /// Errors the CLI reported and went on from (codex's `Reconnecting...`), in order,
    /// repeats in a row kept once.
    pub(super) warnings: Kept,
    /// Whether the last warning is the last event the CLI printed: it stopped on it, where
    /// a warning followed by more events is one it went on from.
    pub(super) stopped_on_warning: bool,
    /// Whether the stream stopped before the CLI said what it spent: claude's without its
    /// `result`, codex's in a turn not ended, opencode's in a step not finished. (A custom
    /// CLI's is never told so: nothing says when it reports.)
    pub(super) untold: bool,
}

impl Report {
    /// What the CLI last said about a problem: its failure, else the warning it stopped on
    /// (one it went on from explains nothing that came after).
    pub(super) fn last_problem(&self) -> Option<&str> {
        (self.error.as_deref()).or_else(|| {
            (self.warnings.messages.last())
                .filter(|_| self.stopped_on_warning)
                .map(String::as_str)
        })
    }

    /// Records a warning ([`Kept::push`]), unless it repeats the one before, as the last
    /// event so far.
    fn warn(&mut self, warning: String) {
        let warning = kept_text(&warning);
        if self.warnings.messages.last() != Some(&warning) {
            self.warnings.push(warning);
        }
        self.stopped_on_warning = true;
    }

    /// The output's `warnings` ([`Kept::lines`]).
    pub(super) fn output_warnings(&self) -> Vec<String> {
        self.warnings.lines("warnings")
    }

    /// Records that the CLI printed an event after its warnings, if any: it went on.
    fn went_on(&mut self) {
        self.stopped_on_warning = false;
    }
}

/// How many of its messages of a kind (warnings, errors) a CLI's report keeps: a codex
/// offline for hours prints a reconnect a minute, and 8,000 of them passed the run's cap on a
/// step's output, failing an answer (probe 77 F2); 500 opencode `error` events made an error
/// of 1 MB (probe 82 F3).
const KEPT_MESSAGES: usize = 20;

/// How many characters of a warning, or of an error message, are kept (probe 79 F5: twenty
/// warnings of 70 KB).
const MESSAGE_CHARS: usize = 1_000;

/// A CLI's messages of a kind, as they are kept: past [`KEPT_MESSAGES`], the first and the
/// last ones, and how many were left out between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Kept {
    /// The first and the last messages, each [`kept_text`].
    pub(super) messages: Vec<String>,
    /// How many were left out between them.
    left_out: usize,
}

impl Kept {
    /// Keeps `message` as the last one so far; past [`KEPT_MESSAGES`], the oldest of the last
    /// ones is left out, and counted.
    fn push(&mut self, message: String) {
        self.messages.push(message);
        if self.messages.len() > KEPT_MESSAGES {
            self.messages.remove(KEPT_MESSAGES / 2);
            self.left_out += 1;
        }
    }

    /// The messages kept, with a line between the first and the last ones that says how many
    /// `what` were left out.
    fn lines(&self, what: &str) -> Vec<String> {
        let mut lines = self.messages.clone();
        if self.left_out > 0 {
            let left_out = format!("… {} more {what}, left out", self.left_out);
            lines.insert(KEPT_MESSAGES / 2, left_out);
        }
        lines
    }
}

/// `message` cut to its first [`MESSAGE_CHARS`] characters.
fn kept_text(message: &str) -> String {
    cut(message, MESSAGE_CHARS)
}

/// The failure of a CLI that reported `problems`, [`Kept`] and joined with `; `.
fn failure_of(problems: &[String]) -> String {
    let mut kept = Kept::default();
    for problem in problems {
        kept.push(kept_text(problem));
    }
    kept.lines("errors").join("; ")
}

/// Reads `stdout` as `cli` prints it. Lines that are not JSON (in a stream) are skipped, so
/// a partial stdout (a killed CLI) still gives what it holds.
pub(super) fn read(cli: Cli, stdout: &str) -> Report {
    match cli {
        Cli::Claude => claude::read(stdout),
        Cli::Codex => codex::read(stdout),
        Cli::Opencode => opencode::read(stdout),
        Cli::Custom => custom(stdout),
    }
}

/// The JSON objects of a JSONL stream (or of one JSON document), in order, parsed one at a
/// time as they are read: a parsed event takes tens of times its text's size, and a stream
/// of a million small events held at once took 1.5 GB (probe 27 F8). A `\r` ends a line as
/// a `\n` does, as for the output capture: a progress line redrawn with `\r` before an
/// event does not hide it (JSON holds no raw `\r`).
fn events(stdout: &str) -> impl Iterator<Item = Value> + '_ {
    let whole = parse(stdout);
    let lines = whole.is_none().then(|| {
        (stdout.split(['\n', '\r']))
            .filter_map(|line| parse(line.trim()))
            .filter(Value::is_object)
    });
    whole.into_iter().chain(lines.into_iter().flatten())
}

/// The sum of `values` as token counts, stopping at the largest count rather than
/// overflowing on what a CLI reports. A count may be written as a number with a fraction
/// or as a string holding a number (`"30000"`): it is read (its fraction dropped) rather
/// than counted as none, which a `tokens` budget would not see (probe 41 F3); one absent,
/// negative or not a number counts 0.
fn count(values: &[&Value]) -> u64 {
    (values.iter()).fold(0, |sum, value| {
        let exact = (value.as_u64()).or_else(|| value.as_str()?.trim().parse().ok());
        // A float past the largest count is read as the largest (`as` saturates).
        let read = exact.or_else(|| number(value).map(|count| count as u64));
        sum.saturating_add(read.unwrap_or(0))
    })
}

/// A number a CLI reported: a JSON number, or a number written as a string (`"0.05"`, as
/// a custom CLI may print a cost), which a budget would otherwise not count.
fn number(value: &Value) -> Option<f64> {
    (value.as_f64()).or_else(|| value.as_str()?.trim().parse().ok())
}

/// Takes the string at `path` out of `object` (its field, its field's field, ...): the
/// answer a CLI's last object holds, which `text` carries, so that `raw` does not repeat
/// it. `None`, and `object` unchanged, when there is no string there.
fn take_answer(object: &mut Value, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let parent = (parents.iter()).try_fold(object, |value, field| value.get_mut(field))?;
    let fields = parent.as_object_mut()?;
    if !fields.get(*last)?.is_string() {
        return None;
    }
    match fields.remove(*last) {
        Some(Value::String(answer)) => Some(answer),
        _ => None,
    }
}

/// A JSON value as a message: a string as it is, anything else as JSON.
fn message(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// A custom CLI: stdout that is one JSON document is read as Claude's result object is
/// when it has its fields (`result` or `text` for the answer, `is_error`, `usage`,
/// `total_cost_usd`), and kept as `raw` without its answer; a document with neither field
/// is the answer as a whole (`raw` is then `null`); any other stdout is the answer as text,
/// and a stdout of only whitespace is no answer.
fn custom(stdout: &str) -> Report {
    let trimmed = stdout.trim();
    match parse(trimmed) {
        Some(mut raw) => {
            let error = (raw["is_error"] == true).then(|| {
                raw["result"]
                    .as_str()
                    .or_else(|| raw["error"].as_str())
                    .unwrap_or("the CLI reported an error")
                    .to_owned()
            });
            let usage = claude::usage(&raw);
            let text = (["result", "text"].iter())
                .find_map(|field| take_answer(&mut raw, &[field]))
                .unwrap_or_else(|| {
                    raw = Value::Null;
                    trimmed.to_owned()
                });
            Report {
                text: Some(text),
                usage,
                error,
                raw,
                ..Report::default()
            }
        }
        None => Report {
            text: (!trimmed.is_empty()).then(|| stdout.trim_end().to_owned()),
            ..Report::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Cli, read};

    /// Probe 56 F3: `1e400` made serde_json refuse the line, and the answer and its tokens
    /// were lost with it (`bad_output`).
    #[test]
    fn a_number_past_a_float_is_the_largest_and_keeps_its_event() {
        let report = read(
            Cli::Claude,
            r#"{"type":"result","result":"done","usage":{"input_tokens":7},"total_cost_usd":1e400}"#,
        );
        assert_eq!(report.text.as_deref(), Some("done"));
        assert_eq!(report.usage.input_tokens, 7);
        assert_eq!(report.usage.cost_usd, f64::MAX);
        let events = "{\"type\":\"step_finish\",\"part\":{\"cost\":-2e999,\"tokens\":{\"input\":3}}}\n\
            {\"type\":\"text\",\"part\":{\"text\":\"é ok\"}}";
        let report = read(Cli::Opencode, events);
        assert_eq!(report.usage.input_tokens, 3);
        assert_eq!(report.usage.cost_usd, 0.0, "a negative cost counts nothing");
        assert_eq!(report.text.as_deref(), Some("é ok"));
        // A document printed over several lines, the number on one of the later ones.
        let report = read(
            Cli::Custom,
            "{\n  \"text\": \"hi\",\n  \"cost_usd\": 1e400\n}\n",
        );
        assert_eq!(report.text.as_deref(), Some("hi"));
        assert_eq!(report.usage.cost_usd, f64::MAX);
    }

    /// Probe 177 F1–F3: a lone surrogate escape (JavaScript's half an emoji) or Python's
    /// `NaN` and `Infinity` made serde_json refuse the line or the document: the answer and
    /// the cost a budget counts were lost (a custom CLI's whole document became its answer).
    #[test]
    fn json_as_javascript_and_python_write_it_keeps_its_answer_and_cost() {
        let report = read(
            Cli::Claude,
            r#"{"type":"result","result":"Hi \ud83d","usage":{"input_tokens":25012},"total_cost_usd":0.0421}"#,
        );
        assert_eq!(report.text.as_deref(), Some("Hi \u{fffd}"));
        assert_eq!(report.usage.input_tokens, 25012);
        assert_eq!(report.usage.cost_usd, 0.0421);
        let report = read(
            Cli::Custom,
            r#"{"result":"done \ud83d","total_cost_usd":0.06}"#,
        );
        assert_eq!(report.text.as_deref(), Some("done \u{fffd}"));
        assert_eq!(report.usage.cost_usd, 0.06);
        let report = read(
            Cli::Custom,
            r#"{"result":"done","total_cost_usd":Infinity}"#,
        );
        assert_eq!(report.text.as_deref(), Some("done"));
        assert_eq!(report.usage.cost_usd, f64::MAX);
        let report = read(
            Cli::Claude,
            r#"{"type":"result","result":"ok","usage":{"input_tokens":NaN},"total_cost_usd":0.5}"#,
        );
        assert_eq!(report.text.as_deref(), Some("ok"));
        assert_eq!(report.usage.cost_usd, 0.5);
    }

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
        // The answer is in `text` alone; the rest of the document stays in `raw`.
        assert_eq!(
            report.raw,
            json!({"usage": {"input_tokens": 3, "output_tokens": 4}, "cost_usd": 0.5})
        );

        // A cost written as a string is counted all the same: a budget would miss it.
        let report = read(Cli::Custom, r#"{"text": "hi", "total_cost_usd": " 0.25 "}"#);
        assert_eq!(report.usage.cost_usd, 0.25);

        // A document with neither field is the answer as a whole, stored once.
        let report = read(Cli::Custom, r#"{"answer": 42}"#);
        assert_eq!(report.text.as_deref(), Some(r#"{"answer": 42}"#));
        assert!(report.raw.is_null());
    }

    #[test]
    fn usage_written_as_strings_or_with_fractions_is_counted_in_every_clis_shape() {
        let claude = read(
            Cli::Claude,
            r#"{"type":"result","result":"hi","usage":{"input_tokens":"30000","output_tokens":1e23,"cache_read_input_tokens":12.9}}"#,
        );
        assert_eq!(
            (claude.usage.input_tokens, claude.usage.output_tokens),
            (30012, u64::MAX)
        );
        let codex = concat!(
            r#"{"type":"item.completed","item":{"type":"agent_message","text":"hi"}}"#,
            "\n",
            r#"{"type":"turn.completed","usage":{"input_tokens":" 100 ","output_tokens":-5}}"#,
        );
        let codex = read(Cli::Codex, codex);
        assert_eq!(
            (codex.usage.input_tokens, codex.usage.output_tokens),
            (100, 0)
        );
        let opencode = read(
            Cli::Opencode,
            r#"{"type":"step_finish","part":{"cost":"0.5","tokens":{"input":"7","output":2}}}"#,
        );
        assert_eq!(opencode.usage.cost_usd, 0.5);
        assert_eq!(opencode.usage.input_tokens, 7);
    }

    #[test]
    fn a_progress_line_redrawn_with_cr_does_not_hide_the_next_event() {
        let stdout = concat!(
            "Thinking 10%\rThinking 50%\r",
            r#"{"type":"result","subtype":"success","is_error":false,"result":"Hi!"}"#,
            "\r\n",
        );
        assert_eq!(read(Cli::Claude, stdout).text.as_deref(), Some("Hi!"));
    }

    #[test]
    fn custom_stdout_of_only_whitespace_is_no_answer() {
        for stdout in ["", "  \n", "\n\t\n"] {
            assert_eq!(read(Cli::Custom, stdout).text, None, "{stdout:?}");
        }
    }
}
