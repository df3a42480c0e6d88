//! The `with` of an `agent` step, and the argv it gives.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_engine::Action;
use cairn_engine::Duration;
use cairn_engine::{NUL_FREE_PATTERN, SCHEMA_MESSAGE_KEY};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::BadParams;
use crate::process::LONGEST_WORD;
use crate::process::params::{
    ProcessParams, env_value_schema, holds_nul, nul_free_env, nul_free_words, usable_cwd,
};

/// What to do with a prompt longer than an argument may be, wherever it goes.
const LONG_PROMPT_FIX: &str = "write the long text to a file in the step's directory and have \
     the prompt name it (\"Do the task described in task.md\")";

/// The placeholder in a `custom` command replaced by the prompt.
pub(super) const PROMPT: &str = "{prompt}";
/// The placeholder in a `custom` command replaced by `with.model`.
pub(super) const MODEL: &str = "{model}";

/// The coding-agent CLIs the executor knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Cli {
    /// Claude Code: `claude -p --output-format stream-json --verbose`, JSONL ending with a
    /// `result` object.
    Claude,
    /// OpenAI Codex: `codex exec --json`, a JSONL event stream.
    Codex,
    /// opencode: `opencode run --format json`, a JSONL event stream.
    Opencode,
    /// The step's own command; stdout JSON or text.
    Custom,
}

impl Cli {
    /// The CLI's name as written in `with.cli`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Opencode => "opencode",
            Cli::Custom => "custom",
        }
    }
}

/// An `agent` step's parameters: the schema the loader checks `with` against, and what the
/// executor reads from the rendered `with`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = budget_rules()))]
pub(super) struct AgentParams {
    /// The CLI to run.
    pub(super) cli: Cli,
    /// The prompt.
    #[schemars(length(min = 1), pattern(NUL_FREE_PATTERN))]
    pub(super) prompt: String,
    /// The model, passed as `--model` (or where a `custom` command has `{model}`).
    #[serde(default)]
    #[schemars(pattern(NUL_FREE_PATTERN))]
    pub(super) model: Option<String>,
    /// The argv of a `custom` CLI, with `{prompt}` (and `{model}`) where they go.
    #[serde(default)]
    #[schemars(inner(pattern(NUL_FREE_PATTERN)))]
    pub(super) command: Option<Vec<String>>,
    /// Extra arguments, after the preset's (or the command's).
    #[serde(default)]
    #[schemars(inner(pattern(NUL_FREE_PATTERN)))]
    pub(super) args: Vec<String>,
    /// The executable, replacing the preset's (or the command's first word).
    #[serde(default)]
    #[schemars(length(min = 1), pattern(NUL_FREE_PATTERN))]
    pub(super) program: Option<String>,
    /// Variables added to the CLI's allow-listed environment (API keys go here).
    #[schemars(extend(
        "propertyNames" = {"pattern": cairn_engine::ENV_NAME_PATTERN},
        "additionalProperties" = env_value_schema(),
    ))]
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    /// The CLI's working directory, which must exist: the run's when absent (where it was
    /// started), which a relative one is taken from.
    #[serde(default)]
    #[schemars(length(min = 1), pattern(NUL_FREE_PATTERN))]
    pub(super) cwd: Option<PathBuf>,
    /// The grace between SIGTERM and SIGKILL, overriding the process executor's.
    #[serde(default)]
    pub(super) kill_grace: Option<Duration>,
    /// The most the attempt may spend, in US dollars: claude's `--max-budget-usd` (a policy's
    /// cost budget sets it to what is left), at least $0.0001. The other CLIs take no such
    /// flag: a workflow that gives them one is refused at load.
    #[serde(default)]
    pub(super) max_budget_usd: Option<f64>,
}

impl AgentParams {
    /// Reads `action.params` and checks what their types cannot say; `Err` says what is
    /// wrong, naming the parameter.
    pub(super) fn parse(action: &Action) -> Result<Self, BadParams> {
        // A template that rendered no cap is not one left out: the step meant a cap (the
        // loader refuses a written `null` alike), and its attempt runs with none only when
        // the file says so (probe 30 F5).
        if action.params.get("max_budget_usd") == Some(&serde_json::Value::Null) {
            return Err(BadParams::Value(
                "`with.max_budget_usd` is null: give it a number, or leave it out".to_owned(),
            ));
        }
        let params: AgentParams = action.params_as()?;
        params.check().map_err(BadParams::Value)?;
        Ok(params)
    }

    /// Checks what the types cannot say: a prompt no longer than an argument may be, a
    /// `command` exactly for `cli: custom`, with its placeholders, a non-empty `program`, no
    /// NUL byte in what the CLI is given, a `cwd` that can name a directory.
    fn check(&self) -> Result<(), String> {
        if self.prompt.trim().is_empty() {
            return Err("`with.prompt` is empty".to_owned());
        }
        if self.prompt.len() >= LONGEST_WORD {
            // Told as the step's own parameter, not as an argument of the preset's argv
            // (probe 41 F7).
            return Err(format!(
                "`with.prompt` holds {} bytes, past the 128 KiB one argument may hold: {LONG_PROMPT_FIX}",
                self.prompt.len()
            ));
        }
        for (parameter, value) in [
            ("with.prompt", Some(&self.prompt)),
            ("with.model", self.model.as_ref()),
            ("with.program", self.program.as_ref()),
        ] {
            if value.is_some_and(|value| value.contains('\0')) {
                return Err(holds_nul(parameter));
            }
        }
        nul_free_words("with.command", self.command.as_deref().unwrap_or_default())?;
        nul_free_words("with.args", &self.args)?;
        nul_free_env(&self.env)?;
        // Checked before the guard sees the action, which reads an empty one as the run's
        // directory (probe 179 F2: it ran there, where a process step is refused).
        usable_cwd(self.cwd.as_deref())?;
        match (self.cli, &self.command) {
            (Cli::Custom, Some(command)) if command.is_empty() => {
                return Err("`with.command` is empty: it needs at least the program".to_owned());
            }
            (Cli::Custom, Some(command)) => {
                if !command.iter().any(|arg| arg.contains(PROMPT)) {
                    return Err(format!(
                        "`with.command` has no {PROMPT}: write it where the prompt goes, e.g. [\"my-agent\", \"--prompt\", \"{PROMPT}\"]"
                    ));
                }
                if self.model.is_none() && command.iter().any(|arg| arg.contains(MODEL)) {
                    return Err(format!(
                        "`with.command` uses {MODEL} but `with.model` is not set"
                    ));
                }
                // The prompt in a longer argument (`--prompt={prompt}`) is what makes it too
                // long: told as `with.prompt` too (probe 43 f7).
                let model = self.model.as_deref().unwrap_or_default();
                let long = (command.iter().enumerate().skip(1))
                    .filter(|(_, arg)| arg.contains(PROMPT))
                    .map(|(index, arg)| (index, fill(arg, &self.prompt, model).len()))
                    .find(|(_, len)| *len >= LONGEST_WORD);
                if let Some((index, len)) = long {
                    return Err(format!(
                        "`with.prompt` holds {} bytes, and argument {index} of `with.command`, which it goes into, {len}: past the 128 KiB one argument may hold; {LONG_PROMPT_FIX}",
                        self.prompt.len()
                    ));
                }
            }
            (Cli::Custom, None) => {
                return Err(format!(
                    "`with.command` is required for `cli: custom`: the argv, with {PROMPT} where the prompt goes"
                ));
            }
            (cli, Some(_)) => {
                return Err(format!(
                    "`with.command` is only for `cli: custom`; for `{}` use `with.args` and `with.program`",
                    cli.name()
                ));
            }
            (_, None) => {}
        }
        if self.program.as_deref() == Some("") {
            return Err("`with.program` is empty".to_owned());
        }
        let budget_flag = |arg: &&String| {
            arg.strip_prefix("--max-budget-usd")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
        };
        if self.cli == Cli::Claude && self.args.iter().any(|arg| budget_flag(&arg)) {
            // A second `--max-budget-usd` would override the one a policy's budget sets.
            return Err(
                "`with.args` sets `--max-budget-usd`: use `with.max_budget_usd`, which a policy's cost budget can lower".to_owned(),
            );
        }
        if self.max_budget_usd.is_some() && self.cli != Cli::Claude {
            // Seen only now when `cli` is a template, or a fallback's `cli` replaced claude
            // (a guard's budget sets a cap for claude alone).
            return Err(format!(
                "`with.max_budget_usd`: {}",
                no_budget_flag(self.cli)
            ));
        }
        if let Some(budget) = self.max_budget_usd.filter(|_| self.cli == Cli::Claude)
            && ten_thousandths(budget) < 1.0
        {
            // A policy's `cost_usd` budget lowers it to what is left of the run's, never to
            // nothing (its guard denies the attempt once the budget is spent): a budget of
            // nothing is the step's own. A budget of a little is either's.
            let whose = if budget <= 0.0 {
                "the step's own `max_budget_usd` leaves nothing to spend: give it at least 0.0001, or leave it out".to_owned()
            } else {
                "the step's own `max_budget_usd` is too small (give it at least 0.0001), or a policy's `cost_usd` budget lowered it to what is left of the run's budget, which is then as good as spent".to_owned()
            };
            // Shown to the hundred-millionth: what is left of a budget is a difference of
            // sums, with binary noise (`0.00006585000000000098`).
            let budget = (budget * 1e8).round() / 1e8;
            return Err(format!(
                "`with.max_budget_usd` is {budget}, less than ${MIN_BUDGET_USD}, the least claude's `--max-budget-usd` is given (a budget is rounded down to 4 decimals): {whose}"
            ));
        }
        Ok(())
    }

    /// The argv to run: the preset's (or the custom command with its placeholders filled),
    /// `with.args`, and the program replaced by `with.program`.
    pub(super) fn argv(&self) -> Vec<String> {
        let model = |argv: &mut Vec<String>| {
            if let Some(model) = &self.model {
                argv.extend(["--model".to_owned(), model.clone()]);
            }
        };
        let mut argv: Vec<String> = Vec::new();
        match self.cli {
            Cli::Claude => {
                // stream-json (which needs --verbose) prints as it goes: progress, and what a
                // killed claude had said.
                argv.extend(["claude", "-p", "--output-format", "stream-json"].map(str::to_owned));
                model(&mut argv);
                if let Some(budget) = self.max_budget_usd {
                    // A budget past what the rounding can count (`1e308`) is given as it is,
                    // not as `inf`.
                    let rounded = ten_thousandths(budget) / 10_000.0;
                    let budget = if rounded.is_finite() { rounded } else { budget };
                    argv.extend(["--max-budget-usd".to_owned(), format!("{budget:.4}")]);
                }
                argv.extend(self.args.iter().cloned());
                // claude's parser gives an option that takes a value the next word even when
                // it is `--`: `args` ending in one (`--max-turns`) would take the `--` and
                // leave the prompt to be read as options. It takes `--verbose` instead, and
                // claude refuses stream-json without it.
                argv.extend(["--verbose", "--"].map(str::to_owned));
                argv.push(self.prompt.clone());
            }
            Cli::Codex => {
                argv.extend(["codex", "exec", "--json"].map(str::to_owned));
                model(&mut argv);
                argv.extend(self.args.iter().cloned());
                argv.extend(["--".to_owned(), self.prompt.clone()]);
            }
            Cli::Opencode => {
                argv.extend(["opencode", "run", "--format", "json"].map(str::to_owned));
                model(&mut argv);
                argv.extend(self.args.iter().cloned());
                argv.extend(["--".to_owned(), self.prompt.clone()]);
            }
            Cli::Custom => {
                let model = self.model.as_deref().unwrap_or_default();
                argv.extend(
                    (self.command.iter().flatten()).map(|arg| fill(arg, &self.prompt, model)),
                );
                argv.extend(self.args.iter().cloned());
            }
        }
        if let Some(program) = &self.program {
            argv[0].clone_from(program);
        }
        argv
    }

    /// The parameters of the process that runs the CLI: the argv, nothing on stdin, and
    /// `env`, `cwd` and `kill_grace` as given.
    pub(super) fn process_params(&self) -> ProcessParams {
        ProcessParams {
            command: self.argv(),
            input: Value::Null,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            kill_grace: self.kill_grace,
        }
    }
}

/// `arg` of a custom command with each `{prompt}` and `{model}` replaced, in one pass from
/// left to right: what is put in (a prompt that says `{model}`) is never read as a
/// placeholder.
fn fill(arg: &str, prompt: &str, model: &str) -> String {
    let mut filled = String::with_capacity(arg.len() + prompt.len());
    let mut rest = arg;
    while let Some(at) = rest.find('{') {
        filled.push_str(&rest[..at]);
        rest = &rest[at..];
        let (value, placeholder) = if rest.starts_with(PROMPT) {
            (prompt, PROMPT)
        } else if rest.starts_with(MODEL) {
            (model, MODEL)
        } else {
            ("{", "{")
        };
        filled.push_str(value);
        rest = &rest[placeholder.len()..];
    }
    filled.push_str(rest);
    filled
}

/// The least budget claude's `--max-budget-usd` is given, in US dollars: a budget is
/// rounded down to 4 decimals ([`ten_thousandths`]).
const MIN_BUDGET_USD: f64 = 0.0001;

/// The rules of the parameters schema on `max_budget_usd`, by CLI, checked when a workflow
/// (or a plan) loads: claude's is at least [`MIN_BUDGET_USD`]; the other CLIs take no
/// budget flag, so a budget given them would do nothing, and is refused (at run time too,
/// when the loader could not see the CLI: a policy's `cost_usd` budget caps claude alone).
fn budget_rules() -> Value {
    let when =
        |cli: Cli| json!({"properties": {"cli": {"const": cli.name()}}, "required": ["cli"]});
    let floor = format!(
        "less than ${MIN_BUDGET_USD}, the least claude's `--max-budget-usd` is given (a budget is rounded down to 4 decimals): give `max_budget_usd` at least {MIN_BUDGET_USD}, or leave it out"
    );
    let claude = json!({
        "if": when(Cli::Claude),
        "then": {"properties": {"max_budget_usd": {"minimum": MIN_BUDGET_USD, (SCHEMA_MESSAGE_KEY): floor}}},
    });
    let others = [Cli::Codex, Cli::Opencode, Cli::Custom].map(|cli| {
        let message = no_budget_flag(cli);
        json!({
            "if": when(cli),
            "then": {"properties": {"max_budget_usd": {"not": {}, (SCHEMA_MESSAGE_KEY): message}}},
        })
    });
    Value::Array(std::iter::once(claude).chain(others).collect())
}

/// Why a `max_budget_usd` given to `cli` (not claude) is refused.
fn no_budget_flag(cli: Cli) -> String {
    format!(
        "`{}` has no budget flag, so `max_budget_usd` would do nothing: leave it out (only claude takes a budget; a policy's `cost_usd` budget bounds any run)",
        cli.name()
    )
}

/// A budget in whole ten-thousandths of a dollar, the 4 decimals `--max-budget-usd` is given
/// with: rounded down, so that claude never gets more than is left (the tolerance keeps a
/// budget of 4 decimals, such as 0.1234, whole against its binary fraction).
fn ten_thousandths(budget: f64) -> f64 {
    (budget * 10_000.0 + 1e-6).floor()
}

#[cfg(test)]
mod tests;
