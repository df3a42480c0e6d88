//! The `with` of an `agent` step, and the argv it gives.

use cairn_engine::Action;
use serde_json::{Map, Value, json};

use crate::params::strings;

/// The placeholder in a `custom` command replaced by the prompt.
pub(super) const PROMPT: &str = "{prompt}";
/// The placeholder in a `custom` command replaced by `with.model`.
pub(super) const MODEL: &str = "{model}";

/// The coding-agent CLIs the executor knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cli {
    /// Claude Code: `claude -p --output-format json`, one JSON result object.
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

/// An `agent` step's parameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AgentParams {
    /// `with.cli`.
    pub(super) cli: Cli,
    /// `with.prompt`.
    pub(super) prompt: String,
    /// `with.model`.
    pub(super) model: Option<String>,
    /// `with.command`: the argv template of a `custom` CLI.
    pub(super) command: Vec<String>,
    /// `with.args`: extra arguments.
    pub(super) args: Vec<String>,
    /// `with.program`: the executable, replacing the preset's (or the command's first word).
    pub(super) program: Option<String>,
}

impl AgentParams {
    /// Reads and checks `action.params`; `Err` says what is wrong, naming the parameter.
    pub(super) fn parse(action: &Action) -> Result<Self, String> {
        let cli = match action.param("cli") {
            Some(Value::String(name)) => match name.as_str() {
                "claude" => Cli::Claude,
                "codex" => Cli::Codex,
                "opencode" => Cli::Opencode,
                "custom" => Cli::Custom,
                other => {
                    return Err(format!(
                        "`with.cli` must be \"claude\", \"codex\", \"opencode\" or \"custom\", got \"{other}\""
                    ));
                }
            },
            None | Some(Value::Null) => {
                return Err(
                    "`with.cli` is required: \"claude\", \"codex\", \"opencode\" or \"custom\""
                        .to_owned(),
                );
            }
            Some(other) => return Err(format!("`with.cli` must be a string, got {other}")),
        };
        let prompt = match action.param("prompt") {
            Some(Value::String(prompt)) if !prompt.trim().is_empty() => prompt.clone(),
            Some(Value::String(_)) => return Err("`with.prompt` is empty".to_owned()),
            None | Some(Value::Null) => return Err("`with.prompt` is required".to_owned()),
            Some(other) => return Err(format!("`with.prompt` must be a string, got {other}")),
        };
        let model = optional_string(action, "model")?;
        let program = optional_string(action, "program")?;
        let args = strings(action, "args")?.unwrap_or_default();
        let command = match (cli, strings(action, "command")?) {
            (Cli::Custom, Some(command)) if command.is_empty() => {
                return Err("`with.command` is empty: it needs at least the program".to_owned());
            }
            (Cli::Custom, Some(command)) => command,
            (Cli::Custom, None) => {
                return Err(format!(
                    "`with.command` is required for `cli: custom`: the argv, with {PROMPT} where the prompt goes"
                ));
            }
            (_, Some(_)) => {
                return Err(format!(
                    "`with.command` is only for `cli: custom`; for `{}` use `with.args` and `with.program`",
                    cli.name()
                ));
            }
            (_, None) => Vec::new(),
        };
        if cli == Cli::Custom {
            if !command.iter().any(|arg| arg.contains(PROMPT)) {
                return Err(format!(
                    "`with.command` has no {PROMPT}: write it where the prompt goes, e.g. [\"my-agent\", \"--prompt\", \"{PROMPT}\"]"
                ));
            }
            if model.is_none() && command.iter().any(|arg| arg.contains(MODEL)) {
                return Err(format!(
                    "`with.command` uses {MODEL} but `with.model` is not set"
                ));
            }
        }
        if program.as_deref() == Some("") {
            return Err("`with.program` is empty".to_owned());
        }
        if action.param("input").is_some_and(|input| !input.is_null()) {
            return Err(
                "`with.input` is not used by the agent executor (nothing is written to the CLI's stdin); put it in `with.prompt`".to_owned(),
            );
        }
        Ok(AgentParams {
            cli,
            prompt,
            model,
            command,
            args,
            program,
        })
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
                argv.extend(["claude", "-p", "--output-format", "json"].map(str::to_owned));
                model(&mut argv);
                argv.extend(self.args.iter().cloned());
                argv.extend(["--".to_owned(), self.prompt.clone()]);
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
                argv.push(self.prompt.clone());
            }
            Cli::Custom => {
                let model = self.model.as_deref().unwrap_or_default();
                argv.extend(
                    self.command
                        .iter()
                        .map(|arg| arg.replace(PROMPT, &self.prompt).replace(MODEL, model)),
                );
                argv.extend(self.args.iter().cloned());
            }
        }
        if let Some(program) = &self.program {
            argv[0].clone_from(program);
        }
        argv
    }

    /// The `with` of the `process` step that runs the CLI: the argv, and `env`, `cwd` and
    /// `kill_grace` passed through as given (the process executor checks them).
    pub(super) fn process_params(&self, action: &Action) -> Value {
        let mut with = Map::new();
        with.insert("command".to_owned(), json!(self.argv()));
        for name in ["env", "cwd", "kill_grace"] {
            if let Some(value) = action.param(name) {
                with.insert(name.to_owned(), value.clone());
            }
        }
        Value::Object(with)
    }
}

/// `with.<name>` as a string: `Ok(None)` when absent or null.
fn optional_string(action: &Action, name: &str) -> Result<Option<String>, String> {
    match action.param(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!("`with.{name}` must be a string, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::AgentParams;
    use crate::params::test_support::action;

    fn parse(params: Value) -> Result<AgentParams, String> {
        AgentParams::parse(&action("agent", params))
    }

    fn argv(params: Value) -> Vec<String> {
        parse(params).unwrap().argv()
    }

    #[test]
    fn presets_build_each_clis_non_interactive_json_command() {
        assert_eq!(
            argv(json!({"cli": "claude", "prompt": "fix it", "model": "sonnet"})),
            [
                "claude",
                "-p",
                "--output-format",
                "json",
                "--model",
                "sonnet",
                "--",
                "fix it"
            ]
        );
        assert_eq!(
            argv(json!({"cli": "codex", "prompt": "-fix it", "args": ["--full-auto"]})),
            ["codex", "exec", "--json", "--full-auto", "--", "-fix it"]
        );
        assert_eq!(
            argv(
                json!({"cli": "opencode", "prompt": "fix it", "model": "anthropic/claude-sonnet-4-5",
                        "program": "/opt/opencode"})
            ),
            [
                "/opt/opencode",
                "run",
                "--format",
                "json",
                "--model",
                "anthropic/claude-sonnet-4-5",
                "fix it"
            ]
        );
    }

    #[test]
    fn custom_fills_its_placeholders() {
        assert_eq!(
            argv(json!({"cli": "custom", "prompt": "fix it", "model": "m1",
                        "command": ["aider", "--model={model}", "--message", "{prompt}"],
                        "args": ["--yes"]})),
            ["aider", "--model=m1", "--message", "fix it", "--yes"]
        );
    }

    #[test]
    fn env_cwd_and_kill_grace_pass_through_to_the_process() {
        let params = json!({"cli": "claude", "prompt": "p", "env": {"A": "1"}, "cwd": "/tmp",
                            "kill_grace": "1s", "model": "m"});
        let with = parse(params.clone())
            .unwrap()
            .process_params(&action("agent", params));
        assert_eq!(
            with,
            json!({"command": ["claude", "-p", "--output-format", "json", "--model", "m", "--", "p"],
                   "env": {"A": "1"}, "cwd": "/tmp", "kill_grace": "1s"})
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (params, named) in [
            (json!({"prompt": "p"}), "`with.cli` is required"),
            (
                json!({"cli": "gemini", "prompt": "p"}),
                "`with.cli` must be",
            ),
            (json!({"cli": "claude"}), "`with.prompt` is required"),
            (
                json!({"cli": "claude", "prompt": " "}),
                "`with.prompt` is empty",
            ),
            (
                json!({"cli": "claude", "prompt": 3}),
                "`with.prompt` must be a string",
            ),
            (
                json!({"cli": "claude", "prompt": "p", "model": 1}),
                "`with.model`",
            ),
            (
                json!({"cli": "claude", "prompt": "p", "args": "-v"}),
                "`with.args` must be an array",
            ),
            (
                json!({"cli": "claude", "prompt": "p", "args": [1]}),
                "`with.args[0]`",
            ),
            (
                json!({"cli": "claude", "prompt": "p", "program": ""}),
                "`with.program` is empty",
            ),
            (
                json!({"cli": "claude", "prompt": "p", "command": ["x"]}),
                "only for `cli: custom`",
            ),
            (
                json!({"cli": "claude", "prompt": "p", "input": {"a": 1}}),
                "`with.input`",
            ),
            (
                json!({"cli": "custom", "prompt": "p"}),
                "`with.command` is required",
            ),
            (
                json!({"cli": "custom", "prompt": "p", "command": []}),
                "`with.command` is empty",
            ),
            (
                json!({"cli": "custom", "prompt": "p", "command": ["x"]}),
                "has no {prompt}",
            ),
            (
                json!({"cli": "custom", "prompt": "p", "command": ["x", "{prompt}", "{model}"]}),
                "`with.model` is not set",
            ),
        ] {
            let message = parse(params.clone()).unwrap_err();
            assert!(message.contains(named), "{params}: {message}");
        }
    }
}
