//! The `with` of a `process` step.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_engine::Action;
use cairn_engine::Duration;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::{BadParams, ProcessExecutor};

/// A `process` step's parameters: the schema the loader checks `with` against, and what the
/// executor reads from the rendered `with`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcessParams {
    /// The program and its arguments, `["prog", "arg", ...]`; no shell (write
    /// `["sh", "-c", "..."]` for one).
    #[schemars(length(min = 1), inner(pattern(cairn_engine::NUL_FREE_PATTERN)))]
    pub(crate) command: Vec<String>,
    /// Any JSON, written to stdin (`null` when absent), then EOF.
    #[serde(default)]
    pub(crate) input: Value,
    /// Variables added to the allow-listed environment.
    #[schemars(extend(
        "propertyNames" = {"pattern": cairn_engine::ENV_NAME_PATTERN},
        "additionalProperties" = env_value_schema(),
    ))]
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// The working directory, which must exist: the run's when absent (where it was started),
    /// which a relative one is taken from.
    #[serde(default)]
    #[schemars(length(min = 1), pattern(cairn_engine::NUL_FREE_PATTERN))]
    pub(crate) cwd: Option<PathBuf>,
    /// The grace between SIGTERM and SIGKILL, overriding the executor's.
    #[serde(default)]
    pub(crate) kill_grace: Option<Duration>,
}

impl ProcessParams {
    /// Reads `action.params` and checks what their types cannot say; `Err` says what is
    /// wrong, naming the parameter.
    pub(super) fn parse(action: &Action) -> Result<Self, BadParams> {
        let params: ProcessParams = action.params_as()?;
        params.check().map_err(BadParams::Value)?;
        Ok(params)
    }

    /// Checks what the types cannot say: a program to run, no NUL byte in an argument,
    /// valid variable names and values, a `cwd` not empty and without NUL.
    pub(super) fn check(&self) -> Result<(), String> {
        match self.command.first() {
            None => {
                return Err("`with.command` is empty: it needs at least the program".to_owned());
            }
            Some(program) if program.is_empty() => {
                return Err("`with.command[0]` (the program) is empty".to_owned());
            }
            Some(_) => {}
        }
        nul_free_words("with.command", &self.command)?;
        nul_free_env(&self.env)?;
        if let Some(name) = self
            .env
            .keys()
            .find(|name| !cairn_engine::is_env_name(name))
        {
            return Err(format!("`with.env` has an invalid variable name {name:?}"));
        }
        usable_cwd(self.cwd.as_deref())
    }
}

/// `Err` saying why `cwd`, a step's `with.cwd`, can name no directory: it is empty or holds
/// a NUL byte (a template's value may; the file's are refused at load).
pub(crate) fn usable_cwd(cwd: Option<&std::path::Path>) -> Result<(), String> {
    match cwd.map(|cwd| cwd.as_os_str().as_encoded_bytes()) {
        Some([]) => Err("`with.cwd` is empty".to_owned()),
        Some(cwd) if cwd.contains(&0) => Err(holds_nul("with.cwd")),
        _ => Ok(()),
    }
}

impl ProcessExecutor {
    /// The argv `action` runs: its `with.command`, once the executor has read and checked
    /// the whole `with`. This is what a guard judges, so that it judges what will run with
    /// the executor's own reading (what the executor refuses, the guard is told, in the
    /// words the attempt would fail with).
    ///
    /// ```
    /// use cairn_engine::{Action, Uuid};
    /// use cairn_executors::ProcessExecutor;
    /// use serde_json::json;
    ///
    /// let action = |command| Action {
    ///     run_id: Uuid::nil(),
    ///     step_id: "list".to_owned(),
    ///     item_index: None,
    ///     attempt: 1,
    ///     executor: "process".to_owned(),
    ///     params: json!({"command": command}),
    ///     idempotency_key: "list".to_owned(),
    /// };
    /// assert_eq!(ProcessExecutor::argv(&action(json!(["ls", "-l"]))).unwrap(), ["ls", "-l"]);
    /// let refused = ProcessExecutor::argv(&action(json!(["", "-l"]))).unwrap_err();
    /// assert_eq!(refused.to_string(), "`with.command[0]` (the program) is empty");
    /// ```
    pub fn argv(action: &Action) -> Result<Vec<String>, BadParams> {
        ProcessParams::parse(action).map(|params| params.command)
    }
}

/// The schema of a `with.env` value: a string without NUL, which no process can be given.
pub(crate) fn env_value_schema() -> Value {
    serde_json::json!({"type": "string", "pattern": cairn_engine::NUL_FREE_PATTERN})
}

/// `Err` naming the word of `parameter` (`with.command`, an agent's `with.args`) that holds
/// a NUL byte, if one does.
pub(crate) fn nul_free_words(parameter: &str, words: &[String]) -> Result<(), String> {
    match words.iter().position(|word| word.contains('\0')) {
        Some(index) => Err(holds_nul(&format!("{parameter}[{index}]"))),
        None => Ok(()),
    }
}

/// `Err` naming the variable of `with.env` whose value holds a NUL byte, if one does.
pub(crate) fn nul_free_env(env: &BTreeMap<String, String>) -> Result<(), String> {
    match env.iter().find(|(_, value)| value.contains('\0')) {
        Some((name, _)) => Err(holds_nul(&format!("with.env.{name}"))),
        None => Ok(()),
    }
}

/// The message of a `parameter` that holds a NUL byte. A literal one is refused when the
/// workflow loads ([`cairn_engine::NUL_FREE_PATTERN`]); this one a template rendered.
pub(crate) fn holds_nul(parameter: &str) -> String {
    format!(
        "`{parameter}` holds a NUL byte, which no process can be given in an argument, a variable or its directory (a C string ends at one): remove it from the value its template reads"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::ProcessParams;
    use crate::test_support::action;

    fn parse(params: Value) -> Result<ProcessParams, String> {
        ProcessParams::parse(&action("process", params)).map_err(|error| error.to_string())
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
        assert_eq!(params.env["X"], "1");
        assert_eq!(params.cwd.as_deref(), Some(std::path::Path::new("/tmp")));
        assert_eq!(
            params.kill_grace.map(|grace| grace.0),
            Some(std::time::Duration::from_secs(2))
        );
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
            (json!({}), "missing field `command`"),
            (json!({"command": []}), "`with.command` is empty"),
            (json!({"command": "ls -l"}), "`with.command`: invalid type"),
            (json!({"command": ["ls", 1]}), "`with.command[1]`"),
            (json!({"command": [""]}), "`with.command[0]`"),
            (json!({"command": ["ls"], "env": {"X": 1}}), "`with.env.X`"),
            (json!({"command": ["ls"], "env": ["X"]}), "`with.env`"),
            (
                json!({"command": ["ls"], "env": {"A=B": "1"}}),
                "invalid variable name",
            ),
            (
                json!({"command": ["ls", "a\u{0}b"]}),
                "`with.command[1]` holds a NUL byte",
            ),
            (
                json!({"command": ["ls"], "env": {"A": "1", "X": "a\u{0}b"}}),
                "`with.env.X` holds a NUL byte",
            ),
            (json!({"command": ["ls"], "cwd": 3}), "`with.cwd`"),
            (json!({"command": ["ls"], "cwd": ""}), "`with.cwd` is empty"),
            (
                json!({"command": ["ls"], "cwd": "a\u{0}b"}),
                "`with.cwd` holds a NUL byte",
            ),
            (
                json!({"command": ["ls"], "kill_grace": "soon"}),
                "`with.kill_grace`",
            ),
            (
                json!({"command": ["ls"], "cwdd": "/x"}),
                "unknown field `cwdd`",
            ),
        ] {
            let message = parse(params.clone()).unwrap_err();
            assert!(message.contains(named), "{params}: {message}");
        }
    }
}
