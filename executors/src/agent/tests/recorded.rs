//! The real CLIs' recorded outputs (fixtures/) judged as the executor judges a process's end.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use cairn_engine::{ErrorClass, Outcome};
use serde_json::{Value, json};

use crate::agent::cause::Keys;
use crate::agent::outcome::Attempt;
use crate::agent::params::AgentParams;
use crate::process::RawRun;
use crate::test_support::action;

/// The outcome of `cli` that printed `stdout` and ended as `process` (the process
/// executor's run of it), with `withheld` credential variables.
fn judge(cli: &str, mut process: RawRun, stdout: &str, withheld: Vec<&'static str>) -> Outcome {
    let keys = Keys {
        withheld,
        ..Keys::default()
    };
    let params = AgentParams::parse(&action("agent", json!({"cli": cli, "prompt": "say hi"})))
        .expect("valid parameters");
    let attempt = Attempt {
        params: &params,
        limit: None,
        default_limit: false,
        keys,
    };
    process.stdout = stdout.as_bytes().to_vec();
    attempt.conclude(process)
}

/// The process executor's run of a CLI that exited with `code`, having printed `stderr`.
fn exited(cli: &str, code: i32, stderr: &str) -> RawRun {
    let outcome = match code {
        0 => Outcome::success(Value::Null),
        code => Outcome::failure(
            ErrorClass::ExitCode,
            format!("`{cli}` exited with code {code}"),
        ),
    };
    ended(outcome, ExitStatus::from_raw(code << 8), stderr)
}

/// The process executor's run of a CLI that ended with `status` as `outcome` says, having
/// printed `stderr`.
fn ended(mut outcome: Outcome, status: ExitStatus, stderr: &str) -> RawRun {
    outcome.log_tail = (!stderr.is_empty()).then(|| stderr.to_owned());
    RawRun {
        outcome,
        stdout: Vec::new(),
        status: Some(status),
    }
}

#[test]
fn codex_reconnecting_then_answering_succeeds_with_its_answer_and_usage() {
    let stdout = include_str!("../fixtures/codex-reconnect-then-success.jsonl");
    let outcome = judge("codex", exited("codex", 0, ""), stdout, vec![]);
    let output = outcome.result.expect("a success");
    assert_eq!(output["text"], "Hi!");
    assert_eq!(output["raw"]["type"], "turn.completed");
    assert!(
        output["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("Reconnecting... 2/5")
    );
    assert_eq!(
        (outcome.usage.input_tokens, outcome.usage.output_tokens),
        (2946, 7)
    );
}

#[test]
fn a_step_timeout_is_named_with_what_the_cli_last_reported() {
    let params = AgentParams::parse(&action("agent", json!({"cli": "codex", "prompt": "p"})))
        .expect("valid parameters");
    let attempt = Attempt {
        params: &params,
        limit: Some(std::time::Duration::from_secs(2)),
        default_limit: false,
        keys: Keys::default(),
    };
    let stdout = include_str!("../fixtures/codex-json-gitrepo.stdout");
    let timed_out = RawRun {
        outcome: Outcome::failure(ErrorClass::Timeout, "`codex` timed out"),
        stdout: stdout.as_bytes().to_vec(),
        status: Some(killed_by_sigkill()),
    };
    let error = (attempt.conclude(timed_out).result).expect_err("a failure");
    assert!(
        error.message.starts_with(
            "`codex` timed out after 2s (the step's `timeout`); codex last reported: "
        ),
        "{}",
        error.message
    );
}

#[test]
fn codex_offline_exiting_1_is_transient_naming_the_network() {
    let stdout = include_str!("../fixtures/codex-json-gitrepo.stdout");
    let stderr = include_str!("../fixtures/codex-json-gitrepo.stderr");
    let outcome = judge("codex", exited("codex", 1, stderr), stdout, vec![]);
    let error = outcome.result.expect_err("a failure");
    assert_eq!(error.class, ErrorClass::Transient);
    assert!(
        error.message.starts_with("`codex` got no answer from its API (Reconnecting... waiting for network (Connection failed: error sending request))"),
        "{}",
        error.message
    );
}

#[test]
fn claude_not_logged_in_is_not_retryable_and_names_the_withheld_key() {
    for stdout in [
        include_str!("../fixtures/claude-json.stdout"),
        include_str!("../fixtures/claude-streamjson-verbose.stdout"),
    ] {
        let outcome = judge(
            "claude",
            exited("claude", 1, ""),
            stdout,
            vec!["ANTHROPIC_API_KEY"],
        );
        let error = outcome.result.expect_err("a failure");
        assert_eq!(error.class, ErrorClass::BadParams);
        assert!(!error.class.is_retryable());
        let message = &error.message;
        assert!(message.starts_with("`claude` has no valid credentials (Not logged in · Please run /login): ANTHROPIC_API_KEY is set in cairn's environment, but a step's environment is cleared"), "{message}");
        assert!(
            message.contains(
                "pass it in the step's `with.env`, e.g. `\"env\": {\"ANTHROPIC_API_KEY\": "
            ),
            "{message}"
        );
        assert!(message.contains("not retried"), "{message}");
    }
}

#[test]
fn claude_without_network_is_transient() {
    let stdout = include_str!("../fixtures/claude-key-json.stdout");
    let error = judge("claude", exited("claude", 1, ""), stdout, vec![])
        .result
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
}

#[test]
fn refused_command_lines_are_not_retryable() {
    for (cli, code, stderr, said) in [
        (
            "claude",
            1,
            include_str!("../fixtures/claude-streamjson-noverbose.stderr"),
            "Error: When using --print, --output-format=stream-json requires --verbose",
        ),
        (
            "codex",
            2,
            include_str!("../fixtures/codex-fullauto.stderr"),
            "error: unexpected argument '--full-auto' found",
        ),
        (
            "opencode",
            1,
            include_str!("../fixtures/opencode-dashprompt.stderr"),
            "it printed its usage",
        ),
    ] {
        let error = judge(cli, exited(cli, code, stderr), "", vec![])
            .result
            .unwrap_err();
        assert_eq!(error.class, ErrorClass::BadParams, "{cli}");
        let expected = format!("`{cli}` refused its command line ({said})");
        assert!(error.message.starts_with(&expected), "{}", error.message);
    }
    let stderr = include_str!("../fixtures/codex-json-nogit.stderr");
    let error = judge("codex", exited("codex", 1, stderr), "", vec![])
        .result
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::BadParams);
    assert!(
        error.message.contains("--skip-git-repo-check"),
        "{}",
        error.message
    );
}

#[test]
fn opencode_without_done_succeeds_and_its_errors_fail() {
    let stdout = include_str!("../fixtures/opencode-success.jsonl");
    let outcome = judge("opencode", exited("opencode", 0, ""), stdout, vec![]);
    assert_eq!(outcome.result.expect("a success")["text"], "Hi!");
    assert_eq!(outcome.usage.cost_usd, 0.0012);

    let stdout = include_str!("../fixtures/opencode-json.stdout");
    let error = judge("opencode", exited("opencode", 1, ""), stdout, vec![])
        .result
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);

    // An unknown server error: retryable as any failed exit, with what opencode said.
    let stdout = include_str!("../fixtures/opencode-model.stdout");
    let error = judge("opencode", exited("opencode", 1, ""), stdout, vec![])
        .result
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::ExitCode);
    assert!(error.message.ends_with("opencode reported: UnknownError: Unexpected server error. Check server logs for details."), "{}", error.message);
}

#[test]
fn stderr_noise_of_a_failed_exit_is_no_cause() {
    for stderr in [
        "context usage: 45% of window",
        "mcp server github: 401 Unauthorized (tool disabled)",
        "npm warn invalid value for fund, ignoring",
    ] {
        let stdout = r#"{"type":"thread.started","thread_id":"t"}"#;
        let error = judge("codex", exited("codex", 1, stderr), stdout, vec![])
            .result
            .unwrap_err();
        assert_eq!(error.class, ErrorClass::ExitCode, "{}", error.message);
        assert_eq!(error.message, "`codex` exited with code 1");
    }
}

#[test]
fn an_error_line_that_is_no_refusal_is_classed_by_what_it_says() {
    for (stderr, class, start) in [
        (
            "error: rate limit exceeded, retry later\n",
            ErrorClass::Transient,
            "`codex` got no answer from its API (error: rate limit exceeded, retry later): ",
        ),
        (
            "error: the model is busy, something went wrong\n",
            ErrorClass::ExitCode,
            "`codex` exited with code 1",
        ),
    ] {
        let error = judge("codex", exited("codex", 1, stderr), "", vec![])
            .result
            .unwrap_err();
        assert_eq!(error.class, class, "{}", error.message);
        assert!(error.message.starts_with(start), "{}", error.message);
        assert!(!error.message.contains("refused"), "{}", error.message);
    }
}

#[test]
fn a_cli_killed_by_a_signal_is_not_classed_by_its_stderr() {
    let stderr = include_str!("../fixtures/codex-fullauto.stderr");
    let sigkill = killed_by_sigkill();
    // Told by how the process ended, whatever words its message is in.
    for message in [
        "`codex` was killed by signal SIGKILL; stderr: ...",
        "`/opt/codex/bin/codex` died of SIGKILL",
    ] {
        let killed = ended(
            Outcome::failure(ErrorClass::ExitCode, message),
            sigkill,
            stderr,
        );
        let outcome = judge("codex", killed, "", vec![]);
        assert!(outcome.cut_off, "it may have spent what it did not report");
        let error = outcome.result.unwrap_err();
        assert_eq!(error.class, ErrorClass::ExitCode, "{}", error.message);
    }
    // An exit, however its message reads, is a refusal when stderr says so.
    let exited_2 = ended(
        Outcome::failure(
            ErrorClass::ExitCode,
            "`codex` was killed by signal 2, or so it says",
        ),
        ExitStatus::from_raw(2 << 8),
        stderr,
    );
    let outcome = judge("codex", exited_2, "", vec![]);
    assert!(!outcome.cut_off, "it exited");
    let error = outcome.result.unwrap_err();
    assert_eq!(error.class, ErrorClass::BadParams, "{}", error.message);
}

/// How a process killed by SIGKILL ended.
fn killed_by_sigkill() -> ExitStatus {
    ExitStatus::from_raw(nix::sys::signal::Signal::SIGKILL as i32)
}

#[test]
fn codex_exiting_0_mid_turn_has_no_answer() {
    let stdout = concat!(
        r#"{"type":"thread.started","thread_id":"t"}"#,
        "\n",
        r#"{"type":"turn.started"}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"Let me look."}}"#,
    );
    let error = judge("codex", exited("codex", 0, ""), stdout, vec![])
        .result
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::BadOutput, "{}", error.message);
    assert!(
        error.message.contains("expected `turn.completed`"),
        "{}",
        error.message
    );
}

#[test]
fn a_warning_codex_went_on_from_is_not_the_cause_of_a_later_crash() {
    let stdout = include_str!("../fixtures/codex-reconnect-then-success.jsonl");
    let stderr = "thread 'main' panicked at core/src/exec.rs:88:5:\nindex out of bounds\n";
    let error = judge("codex", exited("codex", 101, stderr), stdout, vec![])
        .result
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::ExitCode, "{}", error.message);
    assert_eq!(error.message, "`codex` exited with code 101");
}

#[test]
fn a_cli_that_crashed_before_it_said_what_it_spent_is_cut_off_one_that_said_is_not() {
    let init = r#"{"type":"system","subtype":"init","session_id":"s"}"#;
    let working =
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"working"}]}}"#;
    let result = r#"{"type":"result","subtype":"success","is_error":true,"result":"gave up","total_cost_usd":0.2}"#;
    let codex_turn = concat!(
        r#"{"type":"thread.started","thread_id":"t"}"#,
        "\n",
        r#"{"type":"turn.started"}"#
    );
    let opencode_step = r#"{"type":"step_start","part":{}}"#;
    let opencode_text = r#"{"type":"text","part":{"text":"Hi!"}}"#;
    for (cli, code, stdout, stderr, cut_off) in [
        // A wrapper whose node child was killed (exit 137), or an uncaught exception (probe 42 F1).
        ("claude", 137, format!("{init}\n{working}\n"), "", true),
        (
            "claude",
            1,
            format!("{init}\n{working}\n"),
            "TypeError: x is undefined",
            true,
        ),
        ("codex", 1, format!("{codex_turn}\n"), "", true),
        ("opencode", 1, format!("{opencode_step}\n"), "", true),
        // It answered, and exited 0 in a step it never finished (probe 77 F1).
        (
            "opencode",
            0,
            format!("{opencode_step}\n{opencode_text}\n"),
            "",
            true,
        ),
        (
            "opencode",
            0,
            include_str!("../fixtures/opencode-success.jsonl").to_owned(),
            "",
            false,
        ),
        // It said what it spent, and that it failed.
        ("claude", 1, format!("{init}\n{result}\n"), "", false),
        // It refused its command line: it never started.
        (
            "codex",
            2,
            String::new(),
            "error: unexpected argument '--x' found",
            false,
        ),
    ] {
        let outcome = judge(cli, exited(cli, code, stderr), &stdout, vec![]);
        assert_eq!(
            outcome.cut_off, cut_off,
            "{cli} {code} {stdout:?} {:?}",
            outcome.result
        );
    }
}
