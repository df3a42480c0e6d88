//! The agent executor against the fake CLIs in examples/agents (real processes), the
//! recorded outputs of the real CLIs, and their `--help`.

mod cases;
mod help;
mod recorded;

use std::time::Duration;

use cairn_engine::{ErrorClass, ExecContext, Executor, Outcome};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::AgentExecutor;
use crate::test_support::{action, within};

/// The path of the fake `cli` in examples/agents.
pub(super) fn fake(cli: &str) -> String {
    format!("{}/../examples/agents/{cli}", env!("CARGO_MANIFEST_DIR"))
}

async fn run(params: Value) -> Outcome {
    run_with(params, ExecContext::new()).await
}

/// Runs one attempt; fails the test if it does not end (see [`within`]).
async fn run_with(params: Value, ctx: ExecContext) -> Outcome {
    run_on(&AgentExecutor::new(), params, ctx).await
}

/// Runs one attempt on `executor`; fails the test if it does not end (see [`within`]).
pub(super) async fn run_on(executor: &AgentExecutor, params: Value, ctx: ExecContext) -> Outcome {
    let what = format!("the attempt of {params}");
    within(&what, executor.execute(&action("agent", params), ctx)).await
}

pub(super) fn error(outcome: &Outcome) -> (ErrorClass, &str) {
    let error = outcome.result.as_ref().expect_err("a failed outcome");
    (error.class, error.message.as_str())
}

/// Runs the fake `cli` with `params` added, and returns the outcome and the argv it got.
pub(super) async fn run_fake(cli: &str, params: Value) -> (Outcome, Vec<String>) {
    run_fake_on(&AgentExecutor::new(), cli, params).await
}

/// Runs the fake `cli` on `executor` with `params` added, and returns the outcome and the
/// argv it got.
pub(super) async fn run_fake_on(
    executor: &AgentExecutor,
    cli: &str,
    mut params: Value,
) -> (Outcome, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let argv_file = dir.path().join("argv");
    params["cli"] = json!(cli);
    params["program"] = json!(fake(cli));
    params["env"]["FAKE_AGENT_ARGV"] = json!(argv_file);
    let outcome = run_on(executor, params, ExecContext::new()).await;
    let argv = std::fs::read_to_string(&argv_file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    (outcome, argv)
}

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

#[tokio::test]
async fn claude_answer_usage_and_cost() {
    let (outcome, argv) = run_fake(
        "claude",
        json!({"prompt": "What is the answer?", "model": "sonnet"}),
    )
    .await;
    assert_eq!(
        argv,
        [
            "-p",
            "--output-format",
            "stream-json",
            "--model",
            "sonnet",
            "--verbose",
            "--",
            "What is the answer?"
        ]
    );
    let output = outcome.result.expect("success");
    assert_eq!(output["text"], "The answer is 42.");
    assert_eq!(output["raw"]["type"], "result");
    assert_eq!(
        output["raw"]["session_id"],
        "0e639165-79b1-4bd4-bb0f-4cb4c15115d4"
    );
    // The answer is stored once: `raw` is the result object without its `result`.
    assert_eq!(output["raw"].get("result"), None);
    // 4 uncached + 2131 cache writes + 14253 cache reads.
    assert_eq!(outcome.usage.input_tokens, 4 + 2131 + 14253);
    assert_eq!(outcome.usage.output_tokens, 87);
    assert_close(outcome.usage.cost_usd, 0.013_584_15);
}

#[tokio::test]
async fn codex_answer_and_usage() {
    let (outcome, argv) = run_fake(
        "codex",
        json!({"prompt": "What is the answer?", "args": ["--skip-git-repo-check"]}),
    )
    .await;
    assert_eq!(
        argv,
        [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--",
            "What is the answer?"
        ]
    );
    let output = outcome.result.expect("success");
    assert_eq!(output["text"], "The answer is 42.");
    assert_eq!(output["raw"]["type"], "turn.completed");
    assert_eq!(outcome.usage.input_tokens, 24763);
    assert_eq!(outcome.usage.output_tokens, 122);
    assert_close(outcome.usage.cost_usd, 0.0);
    // What codex writes on stderr is kept, as for any process.
    assert!(
        outcome
            .log_tail
            .unwrap()
            .contains("Reading additional input from stdin")
    );
}

#[tokio::test]
async fn opencode_answer_usage_and_cost_summed_over_steps() {
    let (outcome, argv) = run_fake(
        "opencode",
        json!({"prompt": "What is the answer?", "model": "anthropic/claude-sonnet-4-5"}),
    )
    .await;
    assert_eq!(
        argv,
        [
            "run",
            "--format",
            "json",
            "--model",
            "anthropic/claude-sonnet-4-5",
            "--",
            "What is the answer?"
        ]
    );
    let output = outcome.result.expect("success");
    assert_eq!(output["text"], "The answer is 42.");
    // opencode 1.18.33 prints no `done` event.
    assert_eq!(output["raw"]["type"], "step_finish");
    assert_eq!(outcome.usage.input_tokens, (1890 + 12220) + (73 + 14220));
    assert_eq!(outcome.usage.output_tokens, 52 + (58 + 20));
    assert_close(outcome.usage.cost_usd, 0.007_123_5 + 0.004_876_5);
}

#[tokio::test]
async fn custom_command_gets_the_prompt_and_its_text_is_the_answer() {
    let outcome = run(json!({
        "cli": "custom",
        "prompt": "hello there",
        "model": "m1",
        "command": ["sh", "-c", "printf 'model %s said: %s\\n' \"$1\" \"$2\"", "sh", "{model}", "{prompt}"],
    }))
    .await;
    assert_eq!(
        outcome.result,
        Ok(json!({"text": "model m1 said: hello there", "raw": null, "warnings": []}))
    );
}

#[tokio::test]
async fn an_argument_the_prompt_makes_too_long_is_told_as_the_prompt_not_with_input() {
    // A prompt under the limit, in an argument that passes it (probes 42 F8, 43 f7): told
    // as the step's `with.prompt`, and never `with.input`, which agents refuse.
    let prompt = "p".repeat(131_070);
    let params =
        json!({"cli": "custom", "prompt": prompt, "command": ["true", "--prompt={prompt}"]});
    let outcome = run(params).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams, "{message}");
    assert!(
        message.contains(
            "`with.prompt` holds 131070 bytes, and argument 1 of `with.command`, which it goes \
             into, 131079"
        ),
        "{message}"
    );
    assert!(!message.contains("with.input"), "{message}");
}

#[tokio::test]
async fn custom_json_in_claudes_shape_gives_usage() {
    let script = r#"echo '{"result": "done", "usage": {"input_tokens": 10, "output_tokens": 5}, "total_cost_usd": 0.25}'"#;
    let outcome = run(json!({
        "cli": "custom", "prompt": "p", "command": ["sh", "-c", script, "sh", "{prompt}"],
    }))
    .await;
    let output = outcome.result.expect("success");
    assert_eq!(output["text"], "done");
    assert_eq!(output["raw"]["total_cost_usd"], 0.25);
    assert_eq!(output["raw"].get("result"), None);
    assert_eq!(
        (outcome.usage.input_tokens, outcome.usage.output_tokens),
        (10, 5)
    );
    assert_close(outcome.usage.cost_usd, 0.25);
}

#[tokio::test]
async fn a_non_zero_exit_is_retryable_and_says_what_the_cli_reported() {
    let (outcome, _) = run_fake(
        "claude",
        json!({"prompt": "p", "env": {"FAKE_AGENT_FAIL": "1"}}),
    )
    .await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::ExitCode);
    assert!(class.is_retryable());
    assert!(message.contains("exited with code 1"), "{message}");
    assert!(
        message.contains("claude reported: error_max_turns: Reached maximum number of turns (1)"),
        "{message}"
    );
    // The failed attempt's cost is still counted.
    assert_eq!(outcome.usage.output_tokens, 41);
    assert_close(outcome.usage.cost_usd, 0.005_267_1);

    let (outcome, _) = run_fake(
        "codex",
        json!({"prompt": "p", "env": {"FAKE_AGENT_FAIL": "1"}}),
    )
    .await;
    // A failed turn that names a rate limit is a failure another attempt may get past.
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::Transient);
    assert!(message.contains("`codex` got no answer from its API (stream disconnected before completion: rate limit reached for requests)"), "{message}");
    assert!(message.contains("exited with code 1"), "{message}");
}

#[tokio::test]
async fn an_error_reported_with_exit_zero_is_transient() {
    for (cli, reported) in [
        (
            "claude",
            "reported an error: error_max_turns: Reached maximum number of turns (1)",
        ),
        (
            "codex",
            "got no answer from its API (stream disconnected before completion: rate limit",
        ),
        (
            "opencode",
            "got no answer from its API (APIError: Rate limit exceeded, retry later)",
        ),
    ] {
        let (outcome, _) = run_fake(
            cli,
            json!({"prompt": "p", "env": {"FAKE_AGENT_FAIL": "1", "FAKE_AGENT_EXIT": "0"}}),
        )
        .await;
        let (class, message) = error(&outcome);
        assert_eq!(class, ErrorClass::Transient, "{cli}: {message}");
        assert!(
            message.starts_with(&format!("`{cli}` {reported}")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_missing_cli_fails_to_spawn_naming_it_and_the_way_to_point_at_it() {
    // A PATH where no CLI is found.
    let outcome =
        run(json!({"cli": "codex", "prompt": "p", "env": {"PATH": "/nonexistent"}})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::SpawnFailed);
    assert!(!class.is_retryable());
    assert!(message.contains("codex CLI"), "{message}");
    assert!(message.contains("`codex`"), "{message}");
    assert!(message.contains("with.program"), "{message}");

    let outcome =
        run(json!({"cli": "claude", "prompt": "p", "program": "/nonexistent/claude"})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::SpawnFailed);
    assert!(message.contains("/nonexistent/claude"), "{message}");
    assert!(message.contains("check `with.program`"), "{message}");
}

#[tokio::test]
async fn exit_zero_without_an_answer_is_bad_output() {
    // A `claude` that prints something else than a result object and exits 0.
    let outcome = run(json!({"cli": "claude", "prompt": "p", "program": "echo"})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadOutput);
    assert!(message.contains("no final answer"), "{message}");
    assert!(
        message.contains("-p --output-format stream-json --verbose -- p"),
        "{message}"
    );
}

#[tokio::test]
async fn a_custom_agent_without_an_answer_is_named_by_its_program() {
    // Probe 27 F7: it was named `custom`, where its exit_code message names the program.
    let outcome =
        run(json!({"cli": "custom", "prompt": "p", "command": ["true", "{prompt}"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadOutput);
    assert!(
        message.starts_with("`true` exited successfully"),
        "{message}"
    );
}

#[tokio::test]
async fn stdout_that_is_not_utf8_names_the_program_the_byte_and_the_fix() {
    let script = "printf 'caf\\351\\n'";
    let outcome = run(json!({
        "cli": "custom", "prompt": "p", "command": ["sh", "-c", script, "sh", "{prompt}"],
    }))
    .await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadOutput);
    assert!(
        message.starts_with("`sh` wrote stdout that is not UTF-8: the byte at offset 3 (0xE9) starts an invalid UTF-8 sequence; make `with.command` print UTF-8 text or JSON"),
        "{message}"
    );
    assert!(message.contains(r#""LANG": "C.UTF-8""#), "{message}");

    // A preset's CLI prints JSON: the bytes come from what `with.program` runs.
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("claude");
    std::fs::write(&program, "#!/bin/sh\nprintf '\\377'\n").unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let outcome = run(json!({"cli": "claude", "prompt": "p", "program": program})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadOutput);
    let expected = format!(
        "`{}` wrote stdout that is not UTF-8: the byte at offset 0 (0xFF)",
        program.display()
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        message.contains(
            "check that `with.program` (or the `claude` on the step's PATH) is the CLI itself"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn bad_params_fail_before_anything_runs() {
    let outcome = run(json!({"cli": "claude"})).await;
    assert_eq!(error(&outcome).0, ErrorClass::BadParams);
    // A NUL byte a template put in the prompt: the prompt is named, not the command.
    let params = json!({"cli": "custom", "prompt": "a\u{0}b", "command": ["echo", "{prompt}"]});
    let outcome = run(params).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(
        message.starts_with("`with.prompt` holds a NUL byte"),
        "{message}"
    );
}

#[tokio::test]
async fn the_process_executor_enforces_the_timeout() {
    let ctx = ExecContext {
        deadline: Some(Instant::now() + Duration::from_millis(200)),
        ..ExecContext::new()
    };
    // Unenforced, the timeout would leave the attempt running for 1000 s: run_with fails
    // the test long before.
    let outcome = run_with(
        json!({"cli": "custom", "prompt": "p", "command": ["sh", "-c", "sleep 1000", "sh", "{prompt}"],
               "kill_grace": "100ms"}),
        ctx,
    )
    .await;
    assert_eq!(error(&outcome).0, ErrorClass::Timeout);
}
