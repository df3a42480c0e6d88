//! Why an agent CLI failed, read from what it said: the cause, the error class a retry
//! policy acts on, and what to do about it.

use cairn_engine::ErrorClass;

use super::params::Cli;

/// Where the CLI's credential variables stand for one step, as far as a fix goes.
#[derive(Debug, Default, Clone)]
pub(super) struct Keys {
    /// Set in cairn's environment, but reaching the step neither through its `with.env` nor
    /// through the executor's allow-list.
    pub(super) withheld: Vec<&'static str>,
    /// Given to the step in its `with.env`.
    pub(super) given: Vec<&'static str>,
}

impl Keys {
    /// These keys narrowed to `variables`.
    fn among(&self, variables: &[&str]) -> Keys {
        let kept = |keys: &[&'static str]| {
            (keys.iter().copied())
                .filter(|key| variables.contains(key))
                .collect()
        };
        Keys {
            withheld: kept(&self.withheld),
            given: kept(&self.given),
        }
    }
}

/// The variables of `cli`'s credentials that the failure `said` is about: those of the
/// provider it names, when `cli` serves several (opencode's `ProviderAuthError (anthropic)`
/// is about `ANTHROPIC_API_KEY`, whatever else the step was given: probes 42 F9, 43 f6;
/// none for a provider cairn knows no variable of, `google`: probe 45 F7); else all of them.
fn refused_variables(cli: Cli, said: &str) -> Vec<&'static str> {
    let (variables, _) = credentials(cli);
    match named_provider(said).filter(|_| cli == Cli::Opencode) {
        Some(provider) => (variables.iter().copied())
            .filter(|name| {
                let prefix = name.split('_').next().unwrap_or_default();
                prefix.eq_ignore_ascii_case(provider)
            })
            .collect(),
        None => variables.to_vec(),
    }
}

/// The provider an error names as opencode's report writes it, `Name (provider): message`
/// (`report/opencode.rs`), not a word of the message.
fn named_provider(said: &str) -> Option<&str> {
    let (name, rest) = said.split_once(" (")?;
    let (provider, _) = rest.split_once("):")?;
    (!name.contains([' ', ':']) && !provider.is_empty()).then_some(provider)
}

/// A cause of failure cairn recognises in what a CLI says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    /// codex outside a git repository without `--skip-git-repo-check`.
    NotAGitRepository,
    /// The CLI refused its command line: an unknown flag, a usage error.
    Usage,
    /// Not logged in, or no valid API key.
    Credentials,
    /// No answer from the API: the network or the API is down, or it refused for now (a
    /// rate limit, an overload).
    Unanswered,
}

/// What each cause looks like in what a CLI reported as its failure (its result, failed turn
/// or error event, or a problem it stopped on), lowercase, in the order they are tried.
const REPORTED: &[(Cause, &[&str])] = &[
    (
        Cause::Credentials,
        &[
            "not logged in",
            "please run /login",
            "authentication_failed",
            "authentication failed",
            // The API's own error type, in claude's `API Error: 401 {...}` (an expired token).
            "authentication_error",
            "invalid api key",
            "invalid x-api-key",
            "missing api key",
            "no api key",
            // opencode's `ProviderAuthError: API key is invalid`, and the AI SDK's
            // `AI_LoadAPIKeyError: ... API key is missing` (probe 41 F5).
            "api key is invalid",
            "api key is missing",
            "providerautherror",
            "unauthorized",
        ],
    ),
    (
        Cause::Unanswered,
        &[
            "unable to connect",
            "cannot connect",
            "failed to connect",
            "connection refused",
            "connectionrefused",
            "connection failed",
            "connection reset",
            "error sending request",
            "stream disconnected",
            "failed to lookup address",
            "name does not resolve",
            "waiting for network",
            "network is unreachable",
            "rate limit",
            "rate_limit",
            "too many requests",
            "overloaded",
            "service unavailable",
            // An API's own failure or slowness, which another attempt may not meet
            // (claude's `API Error: 500 Internal server error`, `API Error: Request timed
            // out.`; probe 41 F4).
            "internal server error",
            "bad gateway",
            "gateway timeout",
            "request timed out",
        ],
    ),
];

/// The start of the stderr line codex prints outside a git repository.
const NOT_A_GIT_REPOSITORY: &str = "Not inside a trusted directory";

/// The starts of the stderr lines of a refused command line: the parse errors of clap
/// (codex) and commander (claude), each `error: ` and the words of one of their errors
/// about the command line, and claude's own check of its options. An `error: ` line in
/// other words is no refusal: see [`FAILED`].
const REFUSED: &[&str] = &[
    // clap 4 (codex 0.171: `error: unexpected argument '--full-auto' found`).
    "error: unexpected argument '",
    "error: unrecognized subcommand '",
    "error: invalid value '",
    "error: unexpected value '",
    "error: a value is required for '",
    "error: the argument '",
    "error: the following required arguments were not provided",
    "error: equal sign is needed when assigning values to '",
    // commander (claude 2.1.197: `error: unknown option '--x'`).
    "error: unknown option '",
    "error: unknown command '",
    "error: option '",
    "error: missing required argument '",
    "error: required option '",
    "error: too many arguments",
    // claude 2.1.197: `Error: When using --print, --output-format=stream-json requires --verbose`.
    "Error: When using --",
];

/// The starts of the stderr line a CLI that gives up states why with (clap's and
/// commander's `error: `, a Rust `main`'s `Error: `), when it is no refusal: read as a
/// failure the CLI reported ([`Cause::reported`]), so that `error: rate limit exceeded` is
/// an unreachable API, and words no rule knows decide nothing.
const FAILED: &[&str] = &["error: ", "Error: "];

impl Cause {
    /// The cause of a failure the CLI reported (`reported`): the first whose signs it holds.
    pub(super) fn reported(reported: &str) -> Option<Cause> {
        let reported = reported.to_lowercase();
        REPORTED
            .iter()
            .find(|(_, signs)| signs.iter().any(|sign| reported.contains(sign)))
            .map(|&(cause, _)| cause)
    }

    /// The cause a CLI's `stderr` shows, with what it said: only whole lines in the shapes
    /// the CLIs print when they refuse to run or give up (a word anywhere, in a warning or
    /// a log line, is no sign).
    pub(super) fn on_stderr(stderr: &str) -> Option<(Cause, String)> {
        let lines: Vec<&str> = stderr.lines().map(str::trim_end).collect();
        let starting = |starts: &[&str]| {
            (lines.iter())
                .find(|line| starts.iter().any(|start| line.starts_with(start)))
                .map(|line| (*line).to_owned())
        };
        if let Some(line) = starting(&[NOT_A_GIT_REPOSITORY]) {
            return Some((Cause::NotAGitRepository, line));
        }
        if let Some(line) = starting(REFUSED) {
            return Some((Cause::Usage, line));
        }
        // yargs (opencode) prints its help, and no error, for an argument it refuses.
        let help = ["Positionals:", "Options:"];
        if help.iter().all(|heading| lines.contains(heading)) {
            return Some((Cause::Usage, "it printed its usage".to_owned()));
        }
        let failed =
            (lines.iter().rev()).find(|line| FAILED.iter().any(|start| line.starts_with(start)))?;
        Some((Cause::reported(failed)?, (*failed).to_owned()))
    }

    /// The class a retry policy acts on: only an unreachable network or API may pass on
    /// another try.
    pub(super) fn class(self) -> ErrorClass {
        match self {
            Cause::Unanswered => ErrorClass::Transient,
            Cause::NotAGitRepository | Cause::Usage | Cause::Credentials => ErrorClass::BadParams,
        }
    }

    /// The cause and its fix, for `cli` that said `said`, with the step's credential
    /// variables as `keys` says they stand.
    pub(super) fn explain(self, cli: Cli, said: &str, keys: &Keys) -> String {
        let name = cli.name();
        match self {
            Cause::NotAGitRepository => format!(
                "`{name}` runs only inside a git repository ({said}): run the step in one (`with.cwd`), or add \"--skip-git-repo-check\" to `with.args`; not retried"
            ),
            Cause::Usage => format!(
                "`{name}` refused its command line ({said}): check `with.args` and `with.model` against `{}`; cairn's preset was checked against {}; not retried",
                help_command(cli),
                checked_version(cli)
            ),
            Cause::Credentials => format!(
                "`{name}` has no valid credentials ({said}): {}; not retried",
                credentials_fix(cli, keys, &refused_variables(cli, said))
            ),
            Cause::Unanswered => format!(
                "`{name}` got no answer from its API ({said}): a network failure, a rate limit or an overloaded API, which another attempt may get past (retried as far as the step's `retry` allows)"
            ),
        }
    }
}

/// The variables that hold `cli`'s credentials, and the command that logs it in.
pub(super) fn credentials(cli: Cli) -> (&'static [&'static str], &'static str) {
    match cli {
        Cli::Claude => (
            &["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"],
            "`claude setup-token` or `claude /login`",
        ),
        Cli::Codex => (&["OPENAI_API_KEY", "CODEX_API_KEY"], "`codex login`"),
        Cli::Opencode => (
            &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
            "`opencode auth login`",
        ),
        Cli::Custom => (&[], "its own login"),
    }
}

/// How to give `cli` its credentials, its variables standing as `keys` says. What a
/// workflow can do comes first (`with.env`, a login), the allow-list, which only a program
/// that embeds cairn can widen, last. A key the step was given and the CLI refused is to be
/// checked, not passed again (probe 41 F6).
fn credentials_fix(cli: Cli, keys: &Keys, variables: &[&str]) -> String {
    let (_, login) = credentials(cli);
    let keys = keys.among(variables);
    let passing = "a step's environment is cleared to the executor's allow-list (PATH, HOME, LANG, TZ by default) plus its `with.env`";
    let embedded = "a program that embeds cairn can instead add it to the executor's allow-list (`ProcessExecutor::env_allow`)";
    if !keys.given.is_empty() {
        return format!(
            "the step's `with.env` gives it {}, which it refused: check that the key is for this CLI's provider and is neither expired nor revoked (a run's input is kept: pass a new key to a new run), or log `{}` in under the HOME the step sees ({login})",
            keys.given.join(" and "),
            cli.name()
        );
    }
    match (keys.withheld.as_slice(), variables) {
        ([], []) => format!(
            "{passing}: pass the CLI's key in the step's `with.env`, {}; {embedded}",
            from_input("MY_AGENT_KEY")
        ),
        ([], variables) => format!(
            "pass {} in the step's `with.env`, {}, or log `{}` in under the HOME the step sees ({login}); {embedded}",
            variables.join(" or "),
            from_input(variables[0]),
            cli.name()
        ),
        (withheld, _) => format!(
            "{} is set in cairn's environment, but {passing}: pass it in the step's `with.env`, {}; {embedded}",
            withheld.join(" and "),
            from_input(withheld[0])
        ),
    }
}

/// An example of `with.env` giving a step `variable` from the run's input.
fn from_input(variable: &str) -> String {
    let key = variable.to_lowercase();
    format!(
        "e.g. `\"env\": {{\"{variable}\": \"${{{{ input.{key} }}}}\"}}` with `--input '{{\"{key}\": \"...\"}}'` (a run's input is stored in its database)"
    )
}

/// The help that lists what `cli` accepts in the presets' mode.
fn help_command(cli: Cli) -> &'static str {
    match cli {
        Cli::Claude => "claude --help",
        Cli::Codex => "codex exec --help",
        Cli::Opencode => "opencode run --help",
        Cli::Custom => "the command's --help",
    }
}

/// The version of `cli` the preset was checked against.
fn checked_version(cli: Cli) -> &'static str {
    match cli {
        Cli::Claude => "claude 2.1.197",
        Cli::Codex => "codex-cli 0.171.0",
        Cli::Opencode => "opencode 1.18.33",
        Cli::Custom => "no version (a custom command)",
    }
}

#[cfg(test)]
mod tests {
    use cairn_engine::ErrorClass;

    use super::{Cause, Cli, Keys};

    #[test]
    fn the_recorded_failures_have_their_causes() {
        for (reported, expected) in [
            ("Not logged in · Please run /login", Cause::Credentials),
            (
                r#"API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired."}}"#,
                Cause::Credentials,
            ),
            (
                "API Error: Unable to connect to API (ConnectionRefused)",
                Cause::Unanswered,
            ),
            (
                "Reconnecting... waiting for network (Connection failed: error sending request)",
                Cause::Unanswered,
            ),
            (
                "APIError: Cannot connect to API: Unable to connect. Is the computer able to access the url?",
                Cause::Unanswered,
            ),
        ] {
            assert_eq!(Cause::reported(reported), Some(expected), "{reported}");
        }
        // The words of the CLIs' other failures an API gives (probe 41 F4, F5).
        for (reported, expected) in [
            (
                "exceeded retry limit, last status: 429 Too Many Requests",
                Cause::Unanswered,
            ),
            ("APIError: Too Many Requests", Cause::Unanswered),
            ("API Error: 500 Internal server error", Cause::Unanswered),
            ("API Error: Request timed out.", Cause::Unanswered),
            ("ProviderAuthError: API key is invalid", Cause::Credentials),
            (
                "UnknownError: AI_LoadAPIKeyError: Anthropic API key is missing. Pass it using the 'apiKey' parameter or the ANTHROPIC_API_KEY environment variable.",
                Cause::Credentials,
            ),
        ] {
            assert_eq!(Cause::reported(reported), Some(expected), "{reported}");
        }
        assert_eq!(
            Cause::reported("UnknownError: Unexpected server error"),
            None
        );

        for (stderr, expected, said) in [
            (
                include_str!("fixtures/claude-streamjson-noverbose.stderr"),
                Cause::Usage,
                "Error: When using --print, --output-format=stream-json requires --verbose",
            ),
            (
                include_str!("fixtures/codex-fullauto.stderr"),
                Cause::Usage,
                "error: unexpected argument '--full-auto' found",
            ),
            (
                include_str!("fixtures/codex-json-nogit.stderr"),
                Cause::NotAGitRepository,
                "Not inside a trusted directory and --skip-git-repo-check was not specified.",
            ),
            (
                include_str!("fixtures/opencode-dashprompt.stderr"),
                Cause::Usage,
                "it printed its usage",
            ),
        ] {
            assert_eq!(
                Cause::on_stderr(stderr),
                Some((expected, said.to_owned())),
                "{stderr}"
            );
        }
        // Offline codex's log lines speak of failing to connect: what it reported says why.
        let stderr = include_str!("fixtures/codex-json-gitrepo.stderr");
        assert_eq!(Cause::on_stderr(stderr), None);
    }

    #[test]
    fn words_in_other_stderr_lines_are_no_sign() {
        for stderr in [
            "context usage: 45% of window",
            "mcp server github: 401 Unauthorized (tool disabled)",
            "npm warn invalid value for fund, ignoring",
            "WARNING: unknown option in config, ignoring\nthread 'main' panicked at src/main.rs:1:1",
            "error: the sandbox could not start: unexpected argument in seccomp profile",
        ] {
            assert_eq!(Cause::on_stderr(stderr), None, "{stderr}");
        }
    }

    #[test]
    fn an_error_line_is_a_refusal_only_in_a_parsers_words() {
        for (line, expected) in [
            (
                "error: unexpected argument '--full-auto' found",
                Cause::Usage,
            ),
            ("error: unrecognized subcommand 'exe'", Cause::Usage),
            (
                "error: invalid value 'all' for '--sandbox <SANDBOX_MODE>'",
                Cause::Usage,
            ),
            ("error: unknown option '--bogus'", Cause::Usage),
            (
                "error: option '--model <model>' argument missing",
                Cause::Usage,
            ),
            // What a CLI gave up on is read as its reported failures are.
            ("error: rate limit exceeded, retry later", Cause::Unanswered),
            (
                "Error: stream disconnected before completion",
                Cause::Unanswered,
            ),
            ("error: 401 Unauthorized", Cause::Credentials),
        ] {
            let stderr =
                format!("WARNING: proceeding\n{line}\n\nFor more information, try '--help'.\n");
            assert_eq!(
                Cause::on_stderr(&stderr),
                Some((expected, line.to_owned())),
                "{line}"
            );
        }
    }

    #[test]
    fn only_an_unreachable_api_is_retryable() {
        assert!(Cause::Unanswered.class().is_retryable());
        for cause in [Cause::Credentials, Cause::Usage, Cause::NotAGitRepository] {
            assert_eq!(cause.class(), ErrorClass::BadParams);
        }
    }

    #[test]
    fn credentials_name_the_variable_and_how_to_pass_it() {
        let said = "Not logged in · Please run /login";
        let withheld = Keys {
            withheld: vec!["ANTHROPIC_API_KEY"],
            ..Keys::default()
        };
        let message = Cause::Credentials.explain(Cli::Claude, said, &withheld);
        assert!(
            message.contains("ANTHROPIC_API_KEY is set in cairn's environment"),
            "{message}"
        );
        // What `cairn run` can do first, the Rust API only an embedding program has last.
        assert!(
            message.contains(
                "pass it in the step's `with.env`, e.g. `\"env\": {\"ANTHROPIC_API_KEY\": \"${{ input.anthropic_api_key }}\"}` with `--input '{\"anthropic_api_key\": \"...\"}'`"
            ),
            "{message}"
        );
        assert!(
            message.ends_with("; a program that embeds cairn can instead add it to the executor's allow-list (`ProcessExecutor::env_allow`); not retried"),
            "{message}"
        );

        let message = Cause::Credentials.explain(Cli::Codex, "401 Unauthorized", &Keys::default());
        assert!(
            message.contains("OPENAI_API_KEY or CODEX_API_KEY"),
            "{message}"
        );
        assert!(message.contains("`codex login`"), "{message}");
        assert!(
            message.contains("`\"env\": {\"OPENAI_API_KEY\": \"${{ input.openai_api_key }}\"}`"),
            "{message}"
        );
        assert!(
            message.find("`codex login`") < message.find("ProcessExecutor::env_allow"),
            "{message}"
        );

        // A key given in `with.env` and refused is to be checked, not given again.
        let given = Keys {
            given: vec!["OPENAI_API_KEY"],
            ..Keys::default()
        };
        let message = Cause::Credentials.explain(Cli::Codex, "401 Unauthorized", &given);
        assert!(
            message.contains("the step's `with.env` gives it OPENAI_API_KEY, which it refused"),
            "{message}"
        );
        assert!(!message.contains("pass OPENAI_API_KEY"), "{message}");

        // opencode serves several providers: the one named is the key refused.
        let said = "ProviderAuthError (anthropic): API key is invalid";
        let message = Cause::Credentials.explain(Cli::Opencode, said, &given);
        assert!(
            !message.contains("OPENAI_API_KEY, which it refused"),
            "{message}"
        );
        assert!(message.contains("pass ANTHROPIC_API_KEY in"), "{message}");
        assert!(!message.contains("OPENAI"), "{message}");
        // A provider cairn knows no key of is not taken for the one given, and a provider
        // named in the message's words is not the one that refused (probe 45 F7).
        let said = "ProviderAuthError (google-vertex-anthropic): bad key";
        let message = Cause::Credentials.explain(Cli::Opencode, said, &given);
        assert!(!message.contains("OPENAI_API_KEY"), "{message}");
        assert!(!message.contains("ANTHROPIC_API_KEY"), "{message}");
        let said = "ProviderAuthError (openai): the Anthropic-style key is invalid";
        let message = Cause::Credentials.explain(Cli::Opencode, said, &given);
        assert!(
            message.contains("gives it OPENAI_API_KEY, which it refused"),
            "{message}"
        );
        assert!(!message.contains("ANTHROPIC"), "{message}");
    }

    #[test]
    fn a_refused_flag_points_at_the_help_and_the_checked_version() {
        let message = Cause::Usage.explain(
            Cli::Codex,
            "error: unexpected argument '--full-auto' found",
            &Keys::default(),
        );
        assert!(message.contains("'--full-auto'"), "{message}");
        assert!(message.contains("`codex exec --help`"), "{message}");
        assert!(message.contains("codex-cli 0.171.0"), "{message}");
    }
}
