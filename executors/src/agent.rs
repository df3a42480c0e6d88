//! The `agent` executor: a coding-agent CLI run as a process with a prompt.

mod params;
mod report;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use cairn_engine::{Action, ErrorClass, ExecContext, ExecError, Executor, Outcome};
use serde_json::json;

use self::params::{AgentParams, Cli};
use crate::ProcessExecutor;

/// How much of an unreadable stdout a [`ErrorClass::BadOutput`] message quotes.
const QUOTE: usize = 200;

/// Runs a coding-agent CLI (Claude Code, Codex, opencode, or a command of your own) with a
/// prompt, and reads its answer, token usage and cost. The step's `with`:
///
/// | `with.` | meaning |
/// | --- | --- |
/// | `cli` | required: `"claude"`, `"codex"`, `"opencode"` or `"custom"` |
/// | `prompt` | required: the prompt (templates are rendered by the engine first) |
/// | `model` | the model, passed as `--model <model>` (opencode wants `provider/model`) |
/// | `args` | array of extra arguments, placed after the preset's flags and before the prompt (after the command for `custom`) |
/// | `command` | `custom` only, required there: the argv, with `{prompt}` (and optionally `{model}`) where they go |
/// | `program` | the executable to run instead of the preset's (or `command[0]`): a path, or a name looked up on `PATH` |
/// | `env` | object of strings added to the environment |
/// | `cwd` | working directory (the repository the agent works in); must exist |
/// | `kill_grace` | duration between SIGTERM and SIGKILL |
///
/// The presets run each CLI in its documented non-interactive JSON mode (`--` ends the
/// options, so a prompt may start with `-`):
///
/// | `cli` | argv | stdout |
/// | --- | --- | --- |
/// | `claude` | `claude -p --output-format json [--model M] [args] -- <prompt>` | one JSON object: `type: "result"`, `is_error`, `result`, `total_cost_usd`, `usage` |
/// | `codex` | `codex exec --json [--model M] [args] -- <prompt>` | JSONL events: `item.completed` (`agent_message`), `turn.completed` (`usage`), `turn.failed`, `error` |
/// | `opencode` | `opencode run --format json [--model M] [args] <prompt>` | JSONL events: `text`, `step_finish` (`tokens`, `cost`), `error` |
/// | `custom` | `command` with `{prompt}` and `{model}` replaced, then `args` | JSON (read like Claude's result object when it has its fields) or text |
///
/// `{prompt}` is a plain placeholder rather than a `${{ }}` template because the engine
/// renders templates before the executor sees `with`: write `"{prompt}"` (or
/// `"--message={prompt}"`) and the executor puts the rendered `with.prompt` there. Only
/// exact `{prompt}` and `{model}` are replaced.
///
/// The output is `{"text": <the final answer>, "raw": <the last JSON object the CLI
/// printed, or null>}`: for claude, `raw` is its result object; for codex and opencode, the
/// stream's last event; for custom, stdout parsed as JSON (`null` when it is text, and
/// `text` is then stdout without trailing whitespace).
///
/// Usage and cost land in [`Outcome::usage`], even when the attempt fails, where the CLI
/// reports them. `input_tokens` counts the whole prompt, cached or not (Claude's and
/// opencode's cache reads and writes are added to their uncached count; Codex's count
/// already includes them); `output_tokens` includes opencode's reasoning tokens; `cost_usd`
/// is Claude's `total_cost_usd` and the sum of opencode's step costs. Codex reports no
/// cost: it stays 0.
///
/// The CLI runs through the [`ProcessExecutor`] (see there for the process group,
/// timeouts, the stdout cap and the environment allow-list). Nothing is written to its
/// stdin, which is closed at once: these CLIs add piped stdin to the prompt. The
/// environment is the allow-list (`PATH`, `HOME`, `LANG`, `TZ` by default: a CLI logged
/// in under `HOME` works) plus `with.env`: pass API keys there, or widen the allow-list
/// with [`AgentExecutor::with_process`]. Each CLI's permission flags (what it may edit or
/// run unattended, such as `--permission-mode acceptEdits` for claude or `--full-auto`
/// and `--skip-git-repo-check` for codex) are the step's to give in `args`.
///
/// | failure | class |
/// | --- | --- |
/// | bad `with` | [`ErrorClass::BadParams`] |
/// | CLI not found or not executable | [`ErrorClass::SpawnFailed`], naming the CLI and `with.program` |
/// | non-zero exit | [`ErrorClass::ExitCode`] (retryable), with the error the CLI reported and the stderr tail |
/// | exit 0 but the CLI reported an error (`is_error`, `turn.failed`, `error`) | [`ErrorClass::Transient`] (retryable) |
/// | exit 0 with no final answer in stdout, or stdout not UTF-8 | [`ErrorClass::BadOutput`] |
/// | timeout, cancellation, stdout past the cap | as for `process` |
///
/// ```
/// use cairn_engine::{Action, ExecContext, Executor};
/// use cairn_executors::AgentExecutor;
/// use serde_json::json;
///
/// # #[tokio::main]
/// # async fn main() {
/// // The fake `claude` in examples/agents prints what `claude -p --output-format json` does.
/// let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/agents/claude");
/// let run_id = uuid::Uuid::now_v7();
/// let action = Action {
///     run_id,
///     step_id: "ask".to_owned(),
///     item_index: None,
///     attempt: 1,
///     executor: "agent".to_owned(),
///     params: json!({"cli": "claude", "prompt": "What is the answer?", "program": fake}),
///     idempotency_key: Action::idempotency_key_for(run_id, "ask", None),
/// };
/// let outcome = AgentExecutor::new().execute(&action, ExecContext::new()).await;
/// let output = outcome.result.unwrap();
/// assert_eq!(output["text"], "The answer is 42.");
/// assert_eq!(output["raw"]["subtype"], "success");
/// assert_eq!(outcome.usage.output_tokens, 87);
/// assert!(outcome.usage.cost_usd > 0.0);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct AgentExecutor {
    process: ProcessExecutor,
}

impl AgentExecutor {
    /// The executor running CLIs with the [`ProcessExecutor`]'s defaults.
    pub fn new() -> Self {
        AgentExecutor::default()
    }

    /// The executor running CLIs with `process`: its stdout cap, stderr tail, kill grace and
    /// environment allow-list (add `ANTHROPIC_API_KEY` or `OPENAI_API_KEY` there to pass the
    /// engine's key through).
    pub fn with_process(process: ProcessExecutor) -> Self {
        AgentExecutor { process }
    }

    /// Runs one attempt with checked parameters.
    async fn run(&self, action: &Action, params: &AgentParams, ctx: &ExecContext) -> Outcome {
        let (mut outcome, stdout) = (self.process)
            .execute_raw(action, params.process_params(), ctx)
            .await;
        let cli = params.cli.name();
        let (stdout, utf8) = match String::from_utf8(stdout) {
            Ok(text) => (text, true),
            Err(error) => (
                String::from_utf8_lossy(error.as_bytes()).into_owned(),
                false,
            ),
        };
        let report = report::read(params.cli, &stdout);
        outcome.usage = report.usage;
        outcome.result = match outcome.result {
            Err(mut error) => {
                match (error.class, &report.error) {
                    (ErrorClass::SpawnFailed, _) => {
                        error.message = spawn_message(params, &error.message)
                    }
                    (ErrorClass::ExitCode, Some(reported)) => {
                        error.message = format!("{}; {cli} reported: {reported}", error.message);
                    }
                    _ => {}
                }
                Err(error)
            }
            Ok(_) if !utf8 => failure(
                ErrorClass::BadOutput,
                format!("`{cli}` wrote stdout that is not UTF-8"),
            ),
            Ok(_) => match (report.error, report.text) {
                (Some(reported), _) => failure(
                    ErrorClass::Transient,
                    format!("`{cli}` reported an error: {reported}"),
                ),
                (None, Some(text)) => Ok(json!({"text": text, "raw": report.raw})),
                (None, None) => failure(ErrorClass::BadOutput, no_answer(params.cli, &stdout)),
            },
        };
        outcome
    }
}

#[async_trait]
impl Executor for AgentExecutor {
    fn params_schema(&self) -> Option<schemars::Schema> {
        Some(schemars::schema_for!(AgentParams))
    }

    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        match AgentParams::parse(action) {
            Ok(params) => self.run(action, &params, &ctx).await,
            Err(message) => Outcome::failure(ErrorClass::BadParams, message),
        }
    }
}

/// A failed result of class `class`.
fn failure<T>(class: ErrorClass, message: String) -> Result<T, ExecError> {
    Err(ExecError { class, message })
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

/// The message of a successful exit whose stdout holds no answer.
fn no_answer(cli: Cli, stdout: &str) -> String {
    let expected = match cli {
        Cli::Claude => "a JSON object with \"type\": \"result\"",
        Cli::Codex => "an `item.completed` event with an `agent_message`",
        Cli::Opencode => "a `text` event",
        Cli::Custom => "an answer",
    };
    let mut end = stdout.len().min(QUOTE);
    while !stdout.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < stdout.len() { "…" } else { "" };
    format!(
        "`{}` exited successfully but printed no final answer (expected {expected}); stdout: {:?}{more}",
        cli.name(),
        &stdout[..end]
    )
}
