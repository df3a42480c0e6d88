//! The `with` of a `process` step.

use std::path::PathBuf;
use std::time::Duration;

use cairn_engine::Action;
use serde_json::Value;

use crate::params;

/// A `process` step's parameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProcessParams {
    /// `with.command`: the program and its arguments, never empty.
    pub(super) command: Vec<String>,
    /// `with.input`, `null` when absent: written to stdin as JSON.
    pub(super) input: Value,
    /// `with.env`: variables added to the allow-listed environment, in order.
    pub(super) env: Vec<(String, String)>,
    /// `with.cwd`: the working directory, the engine's when absent.
    pub(super) cwd: Option<PathBuf>,
    /// `with.kill_grace`: overrides the executor's grace between SIGTERM and SIGKILL.
    pub(super) kill_grace: Option<Duration>,
}

impl ProcessParams {
    /// Reads and checks `action.params`; `Err` says what is wrong, naming the parameter.
    pub(super) fn parse(action: &Action) -> Result<Self, String> {
        if let Some(other) = action
            .param("command")
            .filter(|value| !value.is_array() && !value.is_null())
        {
            return Err(format!(
                "`with.command` must be an array of strings (no shell; write [\"sh\", \"-c\", \"...\"] for one), got {other}"
            ));
        }
        let command = match crate::params::strings(action, "command")? {
            None => {
                return Err("`with.command` is required: the program and its arguments, e.g. [\"ls\", \"-l\"]".to_owned());
            }
            Some(command) if command.is_empty() => {
                return Err("`with.command` is empty: it needs at least the program".to_owned());
            }
            Some(command) => command,
        };
        if command[0].is_empty() {
            return Err("`with.command[0]` (the program) is empty".to_owned());
        }
        let env = match action.param("env") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(vars)) => vars
                .iter()
                .map(|(name, value)| match value {
                    Value::String(text) if valid_env_name(name) => Ok((name.clone(), text.clone())),
                    Value::String(_) => {
                        Err(format!("`with.env` has an invalid variable name {name:?}"))
                    }
                    other => Err(format!("`with.env.{name}` must be a string, got {other}")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(format!(
                    "`with.env` must be an object of strings, got {other}"
                ));
            }
        };
        let cwd = match action.param("cwd") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) if !path.is_empty() => Some(PathBuf::from(path)),
            Some(other) => {
                return Err(format!(
                    "`with.cwd` must be a non-empty path string, got {other}"
                ));
            }
        };
        Ok(ProcessParams {
            command,
            input: action.param("input").cloned().unwrap_or(Value::Null),
            env,
            cwd,
            kill_grace: params::duration(action, "kill_grace")?,
        })
    }
}

/// Whether `name` can be an environment variable's name (non-empty, no `=` or NUL).
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::ProcessParams;
    use crate::params::test_support::action;

    fn parse(params: Value) -> Result<ProcessParams, String> {
        ProcessParams::parse(&action("process", params))
    }

    #[test]
    fn reads_every_parameter() {
        let params = parse(json!({
            "command": ["ls", "-l"], "input": {"a": 1}, "env": {"X": "1"}, "cwd": "/tmp",
            "kill_grace": "2s"
        }))
        .unwrap();
        assert_eq!(params.command, ["ls", "-l"]);
        assert_eq!(params.input, json!({"a": 1}));
        assert_eq!(params.env, [("X".to_owned(), "1".to_owned())]);
        assert_eq!(params.cwd.as_deref(), Some(std::path::Path::new("/tmp")));
        assert_eq!(params.kill_grace, Some(std::time::Duration::from_secs(2)));
    }

    #[test]
    fn input_defaults_to_null() {
        assert_eq!(
            parse(json!({"command": ["true"]})).unwrap().input,
            Value::Null
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (params, named) in [
            (json!({}), "`with.command` is required"),
            (json!({"command": []}), "`with.command` is empty"),
            (
                json!({"command": "ls -l"}),
                "`with.command` must be an array",
            ),
            (json!({"command": ["ls", 1]}), "`with.command[1]`"),
            (json!({"command": [""]}), "`with.command[0]`"),
            (json!({"command": ["ls"], "env": {"X": 1}}), "`with.env.X`"),
            (
                json!({"command": ["ls"], "env": ["X"]}),
                "`with.env` must be an object",
            ),
            (
                json!({"command": ["ls"], "env": {"A=B": "1"}}),
                "invalid variable name",
            ),
            (json!({"command": ["ls"], "cwd": 3}), "`with.cwd`"),
            (
                json!({"command": ["ls"], "kill_grace": "soon"}),
                "`with.kill_grace`",
            ),
        ] {
            let message = parse(params.clone()).unwrap_err();
            assert!(message.contains(named), "{params}: {message}");
        }
    }
}
