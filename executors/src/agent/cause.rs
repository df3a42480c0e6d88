//! Why an agent CLI failed, read from what it said: the cause, the error class a retry
//! policy acts on, and what to do about it.

use cairn_engine::ErrorClass;

use super::params::Cli;

/// A cause of failure cairn recognises in what a CLI says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    /// codex outside a git repository without `--skip-git-repo-check`.
    NotAGitRepository,
    /// The CLI refused its command line: an unknown flag, a usage error.
    Usage,
    /// Not logged in, or no valid API key.
    Credentials,
    /// The network or the API is down or overloaded.
    Unreachable,
}

/// What each cause looks like, lowercase, in the order they are tried.
const SIGNS: &[(Cause, &[&str])] = &[
    (
        Cause::NotAGitRepository,
        &[
            "not inside a trusted directory",
            "--skip-git-repo-check was not specified",
        ],
    ),
    (
        Cause::Usage,
        &[
            "unexpected argument",
            "unknown option",
            "unknown argument",
            "requires --verbose",
            "invalid value",
            "usage: ",
            "positionals:",
        ],
    ),
    (
        Cause::Credentials,
        &[
            "not logged in",
            "please run /login",
            "authentication_failed",
            "authentication failed",
            "invalid api key",
            "invalid x-api-key",
            "missing api key",
            "no api key",
            "unauthorized",
        ],
    ),
    (
        Cause::Unreachable,
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
            "overloaded",
            "service unavailable",
        ],
    ),
];

impl Cause {
    /// The first cause whose signs appear in `said` (what the CLI reported, its stderr).
    pub(super) fn of(said: &[&str]) -> Option<Cause> {
        let said = said.join("\n").to_lowercase();
        SIGNS
            .iter()
            .find(|(_, signs)| signs.iter().any(|sign| said.contains(sign)))
            .map(|&(cause, _)| cause)
    }

    /// The class a retry policy acts on: only an unreachable network or API may pass on
    /// another try.
    pub(super) fn class(self) -> ErrorClass {
        match self {
            Cause::Unreachable => ErrorClass::Transient,
            Cause::NotAGitRepository | Cause::Usage | Cause::Credentials => ErrorClass::BadParams,
        }
    }

    /// The cause and its fix, for `cli` that said `said`. `withheld` names the CLI's
    /// credential variables set in cairn's environment that the step does not get.
    pub(super) fn explain(self, cli: Cli, said: &str, withheld: &[&str]) -> String {
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
                credentials_fix(cli, withheld)
            ),
            Cause::Unreachable => format!(
                "`{name}` could not reach its API ({said}): a network or API failure, which another attempt may get past (retried as far as the step's `retry` allows)"
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

/// How to give `cli` its credentials; `withheld` as for [`Cause::explain`].
fn credentials_fix(cli: Cli, withheld: &[&str]) -> String {
    let (variables, login) = credentials(cli);
    let passing = "a step's environment is cleared to the executor's allow-list (PATH, HOME, LANG, TZ by default) plus its `with.env`";
    match (withheld, variables) {
        ([], []) => format!(
            "{passing}: pass the CLI's key in `with.env`, or add it to the executor's allow-list"
        ),
        ([], variables) => format!(
            "pass {} in the step's `with.env` or add it to the executor's allow-list (`ProcessExecutor::env_allow`), or log `{}` in under the HOME the step sees ({login})",
            variables.join(" or "),
            cli.name()
        ),
        (withheld, _) => format!(
            "{} is set in cairn's environment, but {passing}: pass it in `with.env` or add it to the executor's allow-list (`ProcessExecutor::env_allow`)",
            withheld.join(" and ")
        ),
    }
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

    use super::{Cause, Cli};

    /// The cause of a recording, from its stdout's report and its stderr.
    fn cause(stderr: &str) -> Option<Cause> {
        Cause::of(&[stderr])
    }

    #[test]
    fn the_recorded_failures_have_their_causes() {
        for (said, expected) in [
            ("Not logged in · Please run /login", Cause::Credentials),
            (
                "API Error: Unable to connect to API (ConnectionRefused)",
                Cause::Unreachable,
            ),
            (
                include_str!("fixtures/claude-streamjson-noverbose.stderr"),
                Cause::Usage,
            ),
            (include_str!("fixtures/codex-fullauto.stderr"), Cause::Usage),
            (
                include_str!("fixtures/codex-json-nogit.stderr"),
                Cause::NotAGitRepository,
            ),
            (
                include_str!("fixtures/codex-json-gitrepo.stderr"),
                Cause::Unreachable,
            ),
            (
                "Reconnecting... waiting for network (Connection failed: error sending request)",
                Cause::Unreachable,
            ),
            (
                include_str!("fixtures/opencode-dashprompt.stderr"),
                Cause::Usage,
            ),
            (
                "APIError: Cannot connect to API: Unable to connect. Is the computer able to access the url?",
                Cause::Unreachable,
            ),
        ] {
            assert_eq!(cause(said), Some(expected), "{said}");
        }
        assert_eq!(cause("UnknownError: Unexpected server error"), None);
    }

    #[test]
    fn only_an_unreachable_api_is_retryable() {
        assert!(Cause::Unreachable.class().is_retryable());
        for cause in [Cause::Credentials, Cause::Usage, Cause::NotAGitRepository] {
            assert_eq!(cause.class(), ErrorClass::BadParams);
        }
    }

    #[test]
    fn credentials_name_the_variable_and_how_to_pass_it() {
        let said = "Not logged in · Please run /login";
        let message = Cause::Credentials.explain(Cli::Claude, said, &["ANTHROPIC_API_KEY"]);
        assert!(
            message.contains("ANTHROPIC_API_KEY is set in cairn's environment"),
            "{message}"
        );
        assert!(message.contains("`with.env`"), "{message}");
        assert!(message.contains("allow-list"), "{message}");

        let message = Cause::Credentials.explain(Cli::Codex, "401 Unauthorized", &[]);
        assert!(
            message.contains("OPENAI_API_KEY or CODEX_API_KEY"),
            "{message}"
        );
        assert!(message.contains("`codex login`"), "{message}");
    }

    #[test]
    fn a_refused_flag_points_at_the_help_and_the_checked_version() {
        let message = Cause::Usage.explain(
            Cli::Codex,
            "error: unexpected argument '--full-auto' found",
            &[],
        );
        assert!(message.contains("'--full-auto'"), "{message}");
        assert!(message.contains("`codex exec --help`"), "{message}");
        assert!(message.contains("codex-cli 0.171.0"), "{message}");
    }
}
