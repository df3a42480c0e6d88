//! The step's outcome from what a CLI did: how its process ended and what it printed.

use std::string::FromUtf8Error;
use std::time::Duration;

use cairn_engine::{ErrorClass, ExecError, Outcome};
use serde_json::json;

use super::cause::{Cause, Keys};
use super::limit::AGENT_TIMEOUT_ENV;
use super::params::{AgentParams, Cli};
use super::report::{self, Report};
use crate::process::{self, RawRun, UTF8_LOCALE};

/// How much of an unreadable stdout a [`ErrorClass::BadOutput`] message quotes.
const QUOTE: usize = 200;

/// One attempt of an agent step, as far as judging its end goes.
#[derive(Debug)]
pub(super) struct Attempt<'a> {
    /// The step's parameters.
    pub(super) params: &'a AgentParams,
    /// The attempt's time limit, if it has one.
    pub(super) limit: Option<Duration>,
    /// Whether that limit is the executor's default (the step has no `timeout`).
    pub(super) default_limit: bool,
    /// Where the CLI's credential variables stand for the step.
    pub(super) keys: Keys,
}

impl Attempt<'_> {
    /// The step's outcome from the process executor's `run` of the CLI: its outcome, its
    /// stdout and how it ended. The CLI succeeded when it exited 0 with an answer and
    /// reported no failure; errors it went on from are kept as the output's `warnings`.
    pub(super) fn conclude(&self, run: RawRun) -> Outcome {
        let cli = self.params.cli;
        let killed = run.killed_by_signal();
        let RawRun {
            mut outcome,
            stdout,
            ..
        } = run;
        let (stdout, not_utf8) = match String::from_utf8(stdout) {
            Ok(text) => (text, None),
            Err(error) => (
                String::from_utf8_lossy(error.as_bytes()).into_owned(),
                Some(self.not_utf8(&error)),
            ),
        };
        let report = report::read(cli, &stdout);
        outcome.usage = report.usage.clone();
        let stderr = outcome.log_tail.as_deref().unwrap_or_default();
        outcome.result = match (outcome.result, not_utf8) {
            (Err(error), _) => Err(self.failed(error, &report, stderr, killed)),
            (Ok(_), Some(message)) => Err(ExecError {
                class: ErrorClass::BadOutput,
                message,
            }),
            (Ok(_), None) => match (&report.error, &report.text) {
                (Some(reported), _) => Err(self.reported(reported)),
                (None, Some(text)) => Ok(json!({
                    "text": text, "raw": report.raw, "warnings": report.output_warnings(),
                })),
                (None, None) => Err(ExecError {
                    class: ErrorClass::BadOutput,
                    message: no_answer(self.params, &stdout, &report),
                }),
            },
        };
        // A CLI killed by a signal (not by cairn: that one's class says so), or one that
        // crashed before it said what it spent, may have spent what it never reported (probe
        // 41 F1, probe 42 F1), and so may one that answered and exited 0 in a step it never
        // finished (opencode's: probe 77 F1, a budget it never counted against). One that
        // refused to run or got no answer from its API, or that said it failed, did say.
        let crashed = matches!(&outcome.result,
            Err(error) if matches!(error.class, ErrorClass::ExitCode | ErrorClass::BadOutput));
        outcome.cut_off = killed || (report.untold && (crashed || outcome.result.is_ok()));
        outcome
    }

    /// The error of an attempt whose process failed (`error`), with what the CLI said;
    /// `killed` when a signal ended it.
    fn failed(
        &self,
        mut error: ExecError,
        report: &Report,
        stderr: &str,
        killed: bool,
    ) -> ExecError {
        let cli = self.params.cli;
        match error.class {
            ErrorClass::SpawnFailed => error.message = spawn_message(self.params, &error.message),
            ErrorClass::Timeout => {
                if let Some(limit) = self.limit {
                    let limit = humantime::format_duration(limit);
                    error.message.push_str(&if self.default_limit {
                        format!(" after {limit}, the agent executor's default limit for a step with no `timeout` (give the step a `timeout`, or set {AGENT_TIMEOUT_ENV})")
                    } else {
                        format!(" after {limit} (the step's `timeout`)")
                    });
                }
                if let Some(last) = report.last_problem() {
                    error
                        .message
                        .push_str(&format!("; {} last reported: {last}", cli.name()));
                }
            }
            ErrorClass::ExitCode => {
                let last = report.last_problem();
                let reported =
                    last.and_then(|last| Some((Cause::reported(last)?, last.to_owned())));
                // A CLI killed by a signal did not refuse to run nor give up, whatever its
                // stderr says.
                let on_stderr = || Cause::on_stderr(stderr).filter(|_| !killed);
                match reported.or_else(on_stderr) {
                    Some((cause, said)) => {
                        error.message = format!(
                            "{}; {}",
                            cause.explain(cli, &said, &self.keys),
                            error.message
                        );
                        error.class = cause.class();
                    }
                    None => {
                        if let Some(last) = last {
                            error
                                .message
                                .push_str(&format!("; {} reported: {last}", cli.name()));
                        }
                    }
                }
            }
            _ => {}
        }
        error
    }

    /// The message of a stdout that is not UTF-8 (`error`): the program, the byte, and
    /// what to check. The presets' CLIs print JSON, always UTF-8: the bytes come from
    /// something else than the CLI.
    fn not_utf8(&self, error: &FromUtf8Error) -> String {
        let argv = self.params.argv();
        let program = argv.first().map_or(self.params.cli.name(), String::as_str);
        let place = process::not_utf8(program, error);
        match self.params.cli {
            Cli::Custom => {
                format!("{place}; make `with.command` print UTF-8 text or JSON ({UTF8_LOCALE})")
            }
            cli => format!(
                "{place}; {name} prints JSON, which is UTF-8, so the bytes come from elsewhere: check that `with.program` (or the `{name}` on the step's PATH) is the CLI itself and not a wrapper that writes to stdout",
                name = cli.name()
            ),
        }
    }

    /// The error of a CLI that exited 0 but reported a failure.
    fn reported(&self, reported: &str) -> ExecError {
        let cli = self.params.cli;
        match Cause::reported(reported) {
            Some(cause) => ExecError {
                class: cause.class(),
                message: cause.explain(cli, reported, &self.keys),
            },
            None => ExecError {
                class: ErrorClass::Transient,
                message: format!("`{}` reported an error: {reported}", cli.name()),
            },
        }
    }
}

/// The message of a CLI that could not be started: what failed, and how to point at it.
fn spawn_message(params: &AgentParams, message: &str) -> String {
    match (params.cli, &params.program) {
        (Cli::Custom, _) => format!(
            "cannot start the custom agent command: {message}; check `with.command` (or `with.program`)"
        ),
        (cli, Some(_)) => format!(
            "cannot start the {} CLI: {message}; check `with.program`",
            cli.name()
        ),
        (cli, None) => format!(
            "cannot start the {name} CLI: {message}; install `{name}` on the PATH the step sees, or set `with.program` to its path",
            name = cli.name()
        ),
    }
}

/// `text` quoted, cut at [`QUOTE`] characters.
fn quoted(text: &str) -> String {
    format!("{:?}", cairn_engine::cut(text, QUOTE))
}

/// The message of a successful exit whose stdout holds no answer, naming the program (a
/// `custom` agent's own).
fn no_answer(params: &AgentParams, stdout: &str, report: &Report) -> String {
    let cli = params.cli;
    let argv = params.argv();
    let name = match cli {
        Cli::Custom => argv.first().map_or("custom", String::as_str),
        _ => cli.name(),
    };
    // A claude result without an answer: its subtype says why (`error_max_turns`), where
    // the quote of stdout may be cut before it.
    if report.raw["type"] == "result" {
        let subtype = report.raw["subtype"].as_str().unwrap_or("none given");
        return format!(
            "`{name}` exited successfully but its result holds no answer text (subtype: \
             {subtype}); the result: {}",
            quoted(&report.raw.to_string())
        );
    }
    let expected = match cli {
        Cli::Claude => "a JSON object with \"type\": \"result\"",
        Cli::Codex => "`turn.completed` after an `item.completed` event with an `agent_message`",
        Cli::Opencode => "a `text` event",
        Cli::Custom => "an answer",
    };
    let mut message = format!(
        "`{name}` exited successfully but printed no final answer (expected {expected}); stdout: {}",
        quoted(stdout)
    );
    if let Some(last) = report.last_problem() {
        message.push_str(&format!("; it last reported: {last}"));
    }
    message
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{AgentParams, no_answer};
    use crate::agent::params::Cli;
    use crate::agent::report;
    use crate::test_support::action;

    #[test]
    fn a_result_without_answer_text_names_its_subtype() {
        // Probe 27 F7: "printed no final answer (expected a result object)", which it printed.
        let params = json!({"cli": "claude", "prompt": "p"});
        let params = AgentParams::parse(&action("agent", params)).unwrap();
        let stdout = "{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"is_error\":false}";
        let message = no_answer(&params, stdout, &report::read(Cli::Claude, stdout));
        assert!(
            message.starts_with(
                "`claude` exited successfully but its result holds no answer text (subtype: \
                 error_max_turns)"
            ),
            "{message}"
        );
    }
}
