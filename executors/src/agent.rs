//! The `agent` executor: a coding-agent CLI run as a process with a prompt.

mod cause;
mod limit;
mod outcome;
mod params;
mod report;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome, params_schema};
use tokio::time::Instant;

use self::cause::Keys;
use self::limit::Limit;
pub use self::limit::{AGENT_TIMEOUT_ENV, DEFAULT_AGENT_TIMEOUT};
use self::outcome::Attempt;
use self::params::AgentParams;
use crate::{BadParams, ProcessExecutor};

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
/// | `env` | object of strings added to the environment (API keys go here) |
/// | `cwd` | working directory (the repository the agent works in); must exist |
/// | `kill_grace` | duration between SIGTERM and SIGKILL |
///
/// The presets run each CLI in its non-interactive JSON mode, as claude 2.1.197, codex-cli
/// 0.171.0 and opencode 1.18.33 accept it (`--` ends the options, so a prompt may start
/// with `-`):
///
/// | `cli` | argv | stdout |
/// | --- | --- | --- |
/// | `claude` | `claude -p --output-format stream-json --verbose [--model M] [args] -- <prompt>` | JSONL ending with `type: "result"`: `is_error`, `result`, `total_cost_usd`, `usage` |
/// | `codex` | `codex exec --json [--model M] [args] -- <prompt>` | JSONL events: `item.completed` (`agent_message`), `turn.completed` (`usage`) or `turn.failed`; `error` events are reconnects it goes on from |
/// | `opencode` | `opencode run --format json [--model M] [args] -- <prompt>` | JSONL events: `text`, `step_finish` (`tokens`, `cost`), `error`; no `done` |
/// | `custom` | `command` with `{prompt}` and `{model}` replaced, then `args` | JSON (read like Claude's result object when it has its fields) or text |
///
/// `{prompt}` is a plain placeholder rather than a `${{ }}` template because the engine
/// renders templates before the executor sees `with`: write `"{prompt}"` (or
/// `"--message={prompt}"`) and the executor puts the rendered `with.prompt` there. Only
/// exact `{prompt}` and `{model}` are replaced, in one pass: a `{model}` inside the prompt
/// (or a `{prompt}` inside the model) stays as written.
///
/// The output is `{"text": <the final answer>, "raw": <the last JSON object the CLI
/// printed, without the answer, or null>, "warnings": [<errors the CLI reported and went on
/// from>]}`. The answer is stored once, in `text` (a 0.6 MiB answer is 0.6 MiB of output,
/// not twice that against the run's cap on an output): for claude, `raw` is its result
/// object without `result` (its session id, usage and cost stay); for codex and opencode,
/// the stream's last event (`turn.completed`, `step_finish`: these hold no answer; an
/// opencode stream ending on a `text` event loses that event's `part.text`); for custom,
/// stdout parsed as JSON without the `result` or `text` that gave the answer (`null` when
/// stdout is text, or JSON with neither field: `text` is then stdout, without trailing
/// whitespace).
///
/// Usage and cost land in [`Outcome::usage`], even when the attempt fails, where the CLI
/// reports them. `input_tokens` counts the whole prompt, cached or not (Claude's and
/// opencode's cache reads and writes are added to their uncached count; Codex's count
/// already includes them); `output_tokens` includes opencode's reasoning tokens; `cost_usd`
/// is Claude's `total_cost_usd` and the sum of opencode's step costs. Codex reports no
/// cost: it stays 0.
///
/// The CLI runs through the [`ProcessExecutor`] (see there for the process group, the
/// stdout cap and the environment allow-list). Nothing is written to its stdin, which is
/// closed at once: these CLIs add piped stdin to the prompt, and codex and opencode wait
/// for its end. The environment is the allow-list (`PATH`, `HOME`, `LANG`, `TZ` by
/// default: a CLI logged in under `HOME` works) plus `with.env`: pass API keys there, or
/// widen the allow-list with [`AgentExecutor::with_process`]. Each CLI's permission flags
/// (what it may edit or run unattended, such as `--permission-mode acceptEdits` for claude
/// or `--sandbox workspace-write` for codex) are the step's to give in `args`.
///
/// Every attempt has a time limit: the step's `timeout`, else the executor's default
/// ([`DEFAULT_AGENT_TIMEOUT`], 30 minutes; [`AGENT_TIMEOUT_ENV`] or
/// [`AgentExecutor::timeout`] change it, `"none"` / `None` removes it). Offline, codex
/// never exits. A timed-out attempt's message ends with what the CLI last reported.
///
/// | failure | class |
/// | --- | --- |
/// | bad `with`, or a bad [`AGENT_TIMEOUT_ENV`] | [`ErrorClass::BadParams`] |
/// | the CLI refused its arguments, is not logged in or has no valid key; codex outside a git repository | [`ErrorClass::BadParams`] (not retried), naming the cause and the fix |
/// | the CLI got no answer from its API (network, overload) | [`ErrorClass::Transient`] (retryable) |
/// | CLI not found or not executable | [`ErrorClass::SpawnFailed`], naming the CLI and `with.program` |
/// | any other non-zero exit | [`ErrorClass::ExitCode`] (retryable), with the error the CLI reported and the stderr tail |
/// | any other error reported with exit 0 (`is_error`, `turn.failed`, `error`) | [`ErrorClass::Transient`] (retryable) |
/// | exit 0 with no final answer in stdout, or stdout not UTF-8 | [`ErrorClass::BadOutput`] (not UTF-8: naming the program, the first byte that is not, and what to check) |
/// | timeout, cancellation, stdout past the cap | as for `process` |
///
/// ```
/// use cairn_engine::{Action, ExecContext, Executor};
/// use cairn_executors::AgentExecutor;
/// use serde_json::json;
///
/// # #[tokio::main]
/// # async fn main() {
/// // The fake `claude` in examples/agents prints what `claude -p --output-format stream-json` does.
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
/// // `raw` is claude's result object, without the answer that `text` holds.
/// assert_eq!(output["raw"]["subtype"], "success");
/// assert_eq!(output["raw"].get("result"), None);
/// assert_eq!(outcome.usage.output_tokens, 87);
/// assert!(outcome.usage.cost_usd > 0.0);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AgentExecutor {
    process: ProcessExecutor,
    timeout: Limit,
}

impl Default for AgentExecutor {
    fn default() -> Self {
        AgentExecutor::with_process(ProcessExecutor::default())
    }
}

impl AgentExecutor {
    /// The executor running CLIs with the [`ProcessExecutor`]'s defaults, and the default
    /// time limit from [`AGENT_TIMEOUT_ENV`] when set, else [`DEFAULT_AGENT_TIMEOUT`] (a
    /// bad [`AGENT_TIMEOUT_ENV`] fails each attempt with [`ErrorClass::BadParams`]).
    pub fn new() -> Self {
        AgentExecutor::default()
    }

    /// The executor running CLIs with `process`: its stdout cap, stderr tail, kill grace and
    /// environment allow-list (add `ANTHROPIC_API_KEY` or `OPENAI_API_KEY` there to pass the
    /// engine's key through); the default time limit as for [`AgentExecutor::new`].
    pub fn with_process(process: ProcessExecutor) -> Self {
        AgentExecutor {
            process,
            timeout: limit::from_env(),
        }
    }

    /// Limits each attempt of a step with no `timeout` to `limit`; `None` for no limit.
    pub fn timeout(mut self, limit: Option<Duration>) -> Self {
        self.timeout = Ok(limit);
        self
    }

    /// The argv `action` runs: its CLI's preset, or the custom `command` with `{prompt}`
    /// and `{model}` filled in, then `with.args`, the program replaced by `with.program`.
    /// This is what a guard judges, so that it judges what will run; `Err` says which
    /// parameter is wrong, in the words the attempt would fail with.
    ///
    /// ```
    /// use cairn_engine::{Action, Uuid};
    /// use cairn_executors::AgentExecutor;
    /// use serde_json::json;
    ///
    /// let params = json!({"cli": "custom", "prompt": "hi; ls", "command": ["sh", "-c", "echo {prompt}"]});
    /// let action = Action {
    ///     run_id: Uuid::nil(),
    ///     step_id: "ask".to_owned(),
    ///     item_index: None,
    ///     attempt: 1,
    ///     executor: "agent".to_owned(),
    ///     params,
    ///     idempotency_key: "ask".to_owned(),
    /// };
    /// assert_eq!(AgentExecutor::argv(&action).unwrap(), ["sh", "-c", "echo hi; ls"]);
    /// ```
    pub fn argv(action: &Action) -> Result<Vec<String>, BadParams> {
        AgentParams::parse(action).map(|params| params.argv())
    }

    /// Runs one attempt with checked parameters.
    async fn run(&self, action: &Action, params: &AgentParams, ctx: &ExecContext) -> Outcome {
        let default_limit = match (&self.timeout, ctx.deadline) {
            (_, Some(_)) | (Ok(None), None) => None,
            (Ok(Some(limit)), None) => Some(*limit),
            (Err(message), None) => return Outcome::failure(ErrorClass::BadParams, message),
        };
        let mut ctx = ctx.clone();
        if let Some(limit) = default_limit {
            ctx.deadline = Some(Instant::now() + limit);
            ctx.limit = Some(limit);
        }
        let run = (self.process)
            .execute_raw(action, params.process_params(), &ctx)
            .await;
        let attempt = Attempt {
            params,
            limit: ctx.limit,
            default_limit: default_limit.is_some(),
            keys: self.keys(params),
        };
        attempt.conclude(run)
    }

    /// Where the CLI's credential variables stand for the step: those set in cairn's
    /// environment that reach it neither through its `with.env` nor through the allow-list,
    /// and those its `with.env` gives it.
    fn keys(&self, params: &AgentParams) -> Keys {
        let (variables, _) = cause::credentials(params.cli);
        let given = |name: &&str| params.env.contains_key(*name);
        Keys {
            withheld: (variables.iter().copied())
                .filter(|name| std::env::var_os(name).is_some())
                .filter(|name| !given(name) && !self.process.passes(name))
                .collect(),
            given: variables.iter().copied().filter(given).collect(),
        }
    }
}

#[async_trait]
impl Executor for AgentExecutor {
    fn params_schema(&self) -> Option<schemars::Schema> {
        Some(params_schema::<AgentParams>())
    }

    fn guarded_as(&self) -> Option<&'static str> {
        Some("agent")
    }

    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        match AgentParams::parse(action) {
            Ok(params) => self.run(action, &params, &ctx).await,
            Err(error) => Outcome::failure(ErrorClass::BadParams, error.to_string()),
        }
    }
}
