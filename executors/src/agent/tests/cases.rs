//! The fake CLIs in each case recorded from the real ones: a failed login, recoverable
//! errors then an answer, offline, a refused flag, a prompt starting with `-`.

use std::time::Duration;

use cairn_engine::ErrorClass;
use serde_json::{Value, json};

use super::{error, run_fake, run_fake_on};
use crate::AgentExecutor;

/// `params` with `FAKE_AGENT_CASE` set to `case`.
fn case(case: &str, mut params: Value) -> Value {
    params["env"]["FAKE_AGENT_CASE"] = json!(case);
    params
}

#[tokio::test]
async fn claude_not_logged_in_is_not_retryable_and_says_how_to_pass_the_key() {
    let (outcome, _) = run_fake("claude", case("not-logged-in", json!({"prompt": "p"}))).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(!class.is_retryable());
    assert!(
        message
            .starts_with("`claude` has no valid credentials (Not logged in · Please run /login)"),
        "{message}"
    );
    assert!(message.contains("ANTHROPIC_API_KEY"), "{message}");
    assert!(message.contains("`with.env`"), "{message}");
    assert!(message.contains("exited with code 1"), "{message}");
    assert!(!message.contains("success"), "{message}");
}

#[tokio::test]
async fn claude_offline_is_transient() {
    let (outcome, _) = run_fake("claude", case("offline", json!({"prompt": "p"}))).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::Transient);
    assert!(
        message.starts_with(
            "`claude` got no answer from its API (API Error: Unable to connect to API (ConnectionRefused))"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn codex_recovering_from_reconnects_succeeds_and_keeps_them_as_warnings() {
    let (outcome, _) = run_fake("codex", case("reconnect", json!({"prompt": "p"}))).await;
    let output = outcome.result.expect("success");
    assert_eq!(output["text"], "The answer is 42.");
    assert_eq!(outcome.usage.input_tokens, 24763);
    let warnings = output["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("Reconnecting... 2/5")
    );
}

#[tokio::test]
async fn codex_offline_ends_at_the_default_limit_with_what_it_last_reported() {
    let executor = AgentExecutor::new().timeout(Some(Duration::from_millis(500)));
    let (outcome, _) = run_fake_on(
        &executor,
        "codex",
        case("offline", json!({"prompt": "p", "kill_grace": "100ms"})),
    )
    .await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::Timeout);
    assert!(
        message.contains("timed out after 500ms, the agent executor's default limit"),
        "{message}"
    );
    assert!(message.contains("CAIRN_AGENT_TIMEOUT"), "{message}");
    assert!(
        message.ends_with("codex last reported: Reconnecting... waiting for network (Connection failed: error sending request)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_refused_flag_is_not_retryable_and_named() {
    let (outcome, _) = run_fake("codex", json!({"prompt": "p", "args": ["--full-auto"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(
        message.starts_with(
            "`codex` refused its command line (error: unexpected argument '--full-auto' found)"
        ),
        "{message}"
    );
    assert!(message.contains("codex exec --help"), "{message}");
    assert!(message.contains("exited with code 2"), "{message}");

    let (outcome, _) = run_fake("claude", json!({"prompt": "p", "args": ["--bogus"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(
        message.contains("error: unknown option '--bogus'"),
        "{message}"
    );

    let (outcome, _) = run_fake("opencode", json!({"prompt": "p", "args": ["--bogus"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(
        message.contains("refused its command line (it printed its usage)"),
        "{message}"
    );
}

#[tokio::test]
async fn codex_outside_a_git_repository_says_how_to_allow_it() {
    let (outcome, _) = run_fake("codex", case("not-a-git-repo", json!({"prompt": "p"}))).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(message.contains("--skip-git-repo-check"), "{message}");
    assert!(message.contains("`with.cwd`"), "{message}");

    let (outcome, _) = run_fake(
        "codex",
        case(
            "not-a-git-repo",
            json!({"prompt": "p", "args": ["--skip-git-repo-check"]}),
        ),
    )
    .await;
    assert_eq!(
        outcome.result.expect("success")["text"],
        "The answer is 42."
    );
}

#[tokio::test]
async fn opencode_runs_a_prompt_starting_with_a_dash() {
    let (outcome, argv) = run_fake("opencode", json!({"prompt": "-fix the bug"})).await;
    assert_eq!(argv, ["run", "--format", "json", "--", "-fix the bug"]);
    assert_eq!(
        outcome.result.expect("success")["text"],
        "The answer is 42."
    );
}

#[tokio::test]
async fn opencode_offline_is_transient() {
    let (outcome, _) = run_fake("opencode", case("offline", json!({"prompt": "p"}))).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::Transient);
    assert!(
        message.contains("got no answer from its API (APIError: Cannot connect to API"),
        "{message}"
    );
}

#[tokio::test]
async fn a_cli_that_kills_itself_after_a_usage_like_line_is_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("codex");
    let script = concat!(
        "#!/bin/sh\n",
        "echo '{\"type\":\"thread.started\",\"thread_id\":\"t\"}'\n",
        "echo 'error: unexpected argument (context usage: 45% of window)' >&2\n",
        "kill -KILL $$\n",
    );
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let params = json!({"cli": "codex", "prompt": "p", "program": program});
    let outcome = super::run(params).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::ExitCode, "{message}");
    assert!(
        message.contains("was killed by signal SIGKILL"),
        "{message}"
    );
}
