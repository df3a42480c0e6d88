//! Agent steps through the real binary against the fake CLIs in examples/agents/, in each
//! case recorded from the real CLIs: what `cairn show --json` says, how often the CLI ran,
//! and that nothing is left running.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::orphans::gone;
use super::scratch::Scratch;
use crate::output_of;

/// The fake `cli`, recorded from the real one, in examples/agents/.
pub(super) fn fake(cli: &str) -> String {
    format!("{}/examples/agents/{cli}", env!("CARGO_MANIFEST_DIR"))
}

/// A one-step workflow running the fake `cli` with `with` added to its parameters, `step`
/// added to the step, and a file where the fake counts its calls.
fn workflow(scratch: &Scratch, cli: &str, with: Value, step: Value) -> (PathBuf, PathBuf) {
    let calls = scratch.dir.path().join("calls");
    let mut params = json!({"cli": cli, "program": fake(cli), "prompt": "What is 6 x 7?",
                            "env": {"FAKE_AGENT_CALLS": calls}});
    merge(&mut params, with);
    let mut node = json!({"id": "ask", "executor": "agent", "with": params});
    merge(&mut node, step);
    let file = scratch.write("agent.json", &json!({"name": "agent", "steps": [node]}));
    (file, calls)
}

/// `extra`'s keys set in `value`, objects merged key by key.
fn merge(value: &mut Value, extra: Value) {
    match (value, extra) {
        (Value::Object(value), Value::Object(extra)) => {
            for (key, item) in extra {
                merge(value.entry(key).or_insert(Value::Null), item);
            }
        }
        (value, extra) => *value = extra,
    }
}

/// Runs `workflow` with cairn's environment plus `env`; checks the exit code and returns
/// `cairn show --json` of the run's one step.
fn run(scratch: &Scratch, workflow: &Path, env: &[(&str, &str)], code: i32) -> Value {
    let args = ["run", workflow.to_str().unwrap(), "--json"];
    let mut command = scratch.command(&args);
    command
        .env_remove("CAIRN_AGENT_TIMEOUT")
        .envs(env.iter().copied());
    let output = output_of(&mut command, "cairn run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let show = scratch.json(&["show", report["id"].as_str().unwrap(), "--json"]);
    show["steps"][0].clone()
}

/// How many times the fake ran.
fn calls(file: &Path) -> usize {
    std::fs::read_to_string(file).map_or(0, |calls| calls.lines().count())
}

/// The step's error, `class: message`.
fn error(step: &Value) -> &str {
    step["error"].as_str().expect("an error")
}

/// Retries that would run the step three times if its failure were retryable.
fn retries() -> Value {
    json!({"retry": {"max_attempts": 3, "initial_delay": "10ms", "backoff": "fixed"}})
}

#[test]
fn agent_claude_not_logged_in_runs_once_and_says_how_to_pass_the_key() {
    let scratch = Scratch::new();
    let with = json!({"env": {"FAKE_AGENT_CASE": "not-logged-in"}});
    let (workflow, calls_file) = workflow(&scratch, "claude", with, retries());
    // The key is in cairn's environment, not in the step's.
    let step = run(&scratch, &workflow, &[("ANTHROPIC_API_KEY", "sk-test")], 1);
    assert_eq!(
        (step["state"].as_str(), step["attempt"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert_eq!(calls(&calls_file), 1, "no retry can log claude in");
    let error = error(&step);
    assert!(
        error.starts_with("bad_params: `claude` has no valid credentials (Not logged in · Please run /login): ANTHROPIC_API_KEY is set in cairn's environment"),
        "{error}"
    );
    // What a `cairn run` user can do, before the Rust API only an embedding program has.
    assert!(
        error.contains(
            "pass it in the step's `with.env`, e.g. `\"env\": {\"ANTHROPIC_API_KEY\": \"${{ input.anthropic_api_key }}\"}`"
        ),
        "{error}"
    );
    assert!(
        error.contains("; a program that embeds cairn can instead add it to the executor's allow-list (`ProcessExecutor::env_allow`)"),
        "{error}"
    );
    assert!(!error.contains("sk-test"), "{error}");
}

#[test]
fn agent_codex_offline_with_no_timeout_ends_at_the_default_limit_leaving_no_process() {
    let scratch = Scratch::new();
    let pids = scratch.dir.path().join("pids");
    let with = json!({"env": {"FAKE_AGENT_CASE": "offline", "FAKE_AGENT_PIDS": pids}});
    let (workflow, _) = workflow(&scratch, "codex", with, json!({}));
    let step = run(&scratch, &workflow, &[("CAIRN_AGENT_TIMEOUT", "2s")], 1);
    let error = error(&step);
    assert!(
        error.starts_with("timeout: `")
            && error.contains("timed out after 2s, the agent executor's default limit"),
        "{error}"
    );
    assert!(
        error.ends_with("codex last reported: Reconnecting... waiting for network (Connection failed: error sending request)"),
        "{error}"
    );
    let pids = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<i32> = pids.lines().map(|pid| pid.parse().unwrap()).collect();
    assert!(pids.len() >= 2, "the fake and its sleep: {pids:?}");
    for pid in pids {
        assert!(
            gone(pid),
            "process {pid} of the timed-out step is still there"
        );
    }
}

#[test]
fn agent_codex_recovering_from_reconnects_succeeds_with_its_answer_and_usage() {
    let scratch = Scratch::new();
    let with = json!({"env": {"FAKE_AGENT_CASE": "reconnect"}});
    let (workflow, _) = workflow(&scratch, "codex", with, json!({}));
    let step = run(&scratch, &workflow, &[], 0);
    assert_eq!(step["output"]["text"], "The answer is 42.");
    assert_eq!(step["usage"]["input_tokens"], 24763);
    let warning = step["output"]["warnings"][0].as_str().unwrap();
    assert!(warning.starts_with("Reconnecting... 2/5"), "{warning}");
}

#[test]
fn agent_opencode_runs_a_prompt_starting_with_a_dash() {
    let scratch = Scratch::new();
    let with = json!({"prompt": "-fix the bug"});
    let (workflow, _) = workflow(&scratch, "opencode", with, json!({}));
    let step = run(&scratch, &workflow, &[], 0);
    assert_eq!(step["output"]["text"], "The answer is 42.");
}

#[test]
fn agent_a_refused_flag_runs_once_and_names_the_flag_and_the_fix() {
    let scratch = Scratch::new();
    let with = json!({"args": ["--full-auto"]});
    let (workflow, calls_file) = workflow(&scratch, "codex", with, retries());
    let step = run(&scratch, &workflow, &[], 1);
    assert_eq!(calls(&calls_file), 1);
    let error = error(&step);
    assert!(
        error.starts_with("bad_params: `codex` refused its command line (error: unexpected argument '--full-auto' found): check `with.args`"),
        "{error}"
    );
    assert!(error.contains("codex-cli 0.171.0"), "{error}");
}

#[test]
fn agent_unreachable_api_is_retried_as_transient() {
    let scratch = Scratch::new();
    let with = json!({"env": {"FAKE_AGENT_CASE": "offline"}});
    let (workflow, calls_file) = workflow(&scratch, "opencode", with, retries());
    let step = run(&scratch, &workflow, &[], 1);
    assert_eq!(calls(&calls_file), 3);
    let error = error(&step);
    assert!(
        error.starts_with(
            "transient: `opencode` got no answer from its API (APIError: Cannot connect to API"
        ),
        "{error}"
    );
}

#[test]
fn agent_codex_outside_a_git_repository_says_how_to_allow_it() {
    let scratch = Scratch::new();
    let with = json!({"env": {"FAKE_AGENT_CASE": "not-a-git-repo"}});
    let (workflow, _) = workflow(&scratch, "codex", with, json!({}));
    let error = run(&scratch, &workflow, &[], 1)["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with("bad_params: `codex` runs only inside a git repository"),
        "{error}"
    );
    assert!(
        error.contains("add \"--skip-git-repo-check\" to `with.args`"),
        "{error}"
    );
}

#[test]
fn an_agent_step_with_an_output_schema_outputs_the_json_it_answered() {
    // As in DESIGN's example: a plan's files, read by a `for_each` after it.
    let scratch = Scratch::new();
    let answer = scratch.dir.path().join("answer");
    std::fs::write(
        &answer,
        "Two files:\n```json\n{\"files\": [\"a.rs\", \"b.rs\"]}\n```\n",
    )
    .unwrap();
    let plan = json!({"id": "plan", "executor": "agent",
        "with": {"cli": "claude", "program": fake("claude"), "prompt": "List files to fix",
                 "env": {"FAKE_AGENT_TEXT": answer}},
        "output_schema": {"type": "object", "required": ["files"]}});
    let fix = json!({"id": "fix", "executor": "noop", "needs": ["plan"],
        "for_each": "${{ steps.plan.output.files }}", "with": {"output": "${{ item }}"}});
    let file = scratch.write(
        "triage.json",
        &json!({"name": "triage", "steps": [plan, fix]}),
    );
    let id = scratch.run(&file, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(
        show["steps"][0]["output"],
        json!({"files": ["a.rs", "b.rs"]})
    );
    assert_eq!(show["steps"][1]["output"], json!(["a.rs", "b.rs"]));
}

/// Runs the fake claude answering `said` in a step whose `output_schema` requires `files`,
/// which it fails: the run's id and its `show --json`.
fn refused_for_its_schema(scratch: &Scratch, said: &str) -> (String, Value) {
    let answer = scratch.dir.path().join("answer");
    std::fs::write(&answer, said).unwrap();
    let with = json!({"env": {"FAKE_AGENT_TEXT": answer}});
    let schema = json!({"output_schema": {"type": "object", "required": ["files"]}});
    let (file, _) = workflow(scratch, "claude", with, schema);
    let id = scratch.run(&file, &[], 1);
    let show = scratch.json(&["show", &id, "--json"]);
    (id, show)
}

#[test]
fn an_agent_reply_that_fails_its_output_schema_is_kept_with_the_failed_attempt() {
    let scratch = Scratch::new();
    let said = "I looked around. {\"file\": [\"src/main.rs\"]} is what I found.\n";
    let (id, show) = refused_for_its_schema(&scratch, said);
    let error = error(&show["steps"][0]);
    assert!(
        error.starts_with("output_schema: the agent's text is not JSON")
            && error.ends_with(&format!("; text: {said:?}")),
        "{error}"
    );
    let history = scratch.json(&["history", &id, "--json"]);
    let failed = (history.as_array().unwrap().iter())
        .find(|event| event["step"] == "ask" && event["to"] == "failed")
        .expect("the step failed");
    assert_eq!(failed["detail"]["reply"], said, "{failed}");
}

#[test]
fn show_prints_the_reply_a_failed_attempt_kept_with_its_error() {
    // JSON that breaks the schema: the error names the values at fault, not the reply, which
    // only `history` showed.
    let scratch = Scratch::new();
    let said = "Found them.\n```json\n{\"file\": [\"src/main.rs\"]}\n```\n";
    let (id, show) = refused_for_its_schema(&scratch, said);
    let step = &show["steps"][0];
    assert!(!error(step).contains("src/main.rs"), "{step}");
    assert_eq!(step["reply"], said, "{step}");
    let text = scratch.cairn(&["show", &id]);
    let text = String::from_utf8_lossy(&text.stdout);
    let indented = (said.trim_end()).replace('\n', &format!("\n{}", " ".repeat(13)));
    assert!(
        text.ends_with(&format!("\n      reply: {indented}\n")),
        "{text}"
    );
}

#[test]
fn an_agent_answer_over_half_the_output_cap_is_stored_once_and_the_step_succeeds() {
    // 0.6 MiB of answer: held twice in the output (`text`, and claude's result object in
    // `raw`), it would be past the default cap of 1 MiB on a step's output.
    let scratch = Scratch::new();
    let answer = scratch.dir.path().join("answer");
    let text = format!("ANSWER-START {}\n", "word ".repeat(120 * 1024));
    std::fs::write(&answer, &text).unwrap();
    let with = json!({"env": {"FAKE_AGENT_TEXT": answer}});
    let (workflow, _) = workflow(&scratch, "claude", with, json!({}));
    let step = run(&scratch, &workflow, &[], 0);
    let output = &step["output"];
    assert_eq!(output["text"], text);
    assert_eq!(output.to_string().matches("ANSWER-START").count(), 1);
    // What claude said beside the answer stays: its session, usage and cost.
    assert_eq!(
        output["raw"]["session_id"],
        "0e639165-79b1-4bd4-bb0f-4cb4c15115d4"
    );
    assert_eq!(output["raw"]["usage"]["output_tokens"], 87);
    assert!(output["raw"]["total_cost_usd"].is_number());
}
