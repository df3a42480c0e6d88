//! What `with` of an `agent` step may hold, and how each mistake is named.

use serde_json::{Value, json};

use super::AgentParams;
use crate::test_support::action;

fn parse(params: Value) -> Result<AgentParams, String> {
    AgentParams::parse(&action("agent", params)).map_err(|error| error.to_string())
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
            "stream-json",
            "--model",
            "sonnet",
            "--verbose",
            "--",
            "fix it"
        ]
    );
    // An option that takes a value, last in `args`, takes `--verbose` (claude then
    // refuses to run), not the `--` before the prompt.
    let swallows =
        argv(json!({"cli": "claude", "prompt": "--settings=x", "args": ["--max-turns"]}));
    assert_eq!(
        swallows[4..],
        ["--max-turns", "--verbose", "--", "--settings=x"]
    );
    assert_eq!(
        argv(
            json!({"cli": "codex", "prompt": "-fix it", "args": ["--sandbox", "workspace-write"]})
        ),
        [
            "codex",
            "exec",
            "--json",
            "--sandbox",
            "workspace-write",
            "--",
            "-fix it"
        ]
    );
    assert_eq!(
        argv(
            json!({"cli": "opencode", "prompt": "-fix it", "model": "anthropic/claude-sonnet-4-5",
                    "program": "/opt/opencode"})
        ),
        [
            "/opt/opencode",
            "run",
            "--format",
            "json",
            "--model",
            "anthropic/claude-sonnet-4-5",
            "--",
            "-fix it"
        ]
    );
}

#[test]
fn a_budget_is_rounded_down_and_one_that_rounds_to_nothing_is_refused() {
    let budget = |max_budget_usd: f64| {
        let argv = argv(json!({"cli": "claude", "prompt": "p", "max_budget_usd": max_budget_usd}));
        let at = argv
            .iter()
            .position(|arg| arg == "--max-budget-usd")
            .unwrap();
        argv[at + 1].clone()
    };
    assert_eq!(budget(0.12346), "0.1234");
    assert_eq!(budget(0.1234), "0.1234");
    assert_eq!(budget(0.29), "0.2900");
    assert_eq!(budget(0.00019), "0.0001");
    // Past what the rounding counts: as given, never `inf` (probe 31 F4).
    assert!(budget(1e308).starts_with("1000000000"), "{}", budget(1e308));
    let error = parse(json!({"cli": "claude", "prompt": "p", "max_budget_usd": 0.00009}))
        .expect_err("refused");
    assert!(error.contains("less than $0.0001"), "{error}");
    assert!(error.contains("or a policy's `cost_usd` budget"), "{error}");
    // What is left of a budget carries binary noise; it is not shown.
    let noisy = json!({"cli": "claude", "prompt": "p", "max_budget_usd": 0.00006585000000000098});
    let error = parse(noisy).expect_err("refused");
    assert!(error.contains("is 0.00006585, less"), "{error}");
    // A policy never lowers a budget to nothing: a budget of nothing is the step's own.
    let error =
        parse(json!({"cli": "claude", "prompt": "p", "max_budget_usd": 0})).expect_err("refused");
    assert!(
        error.contains("the step's own `max_budget_usd` leaves nothing to spend")
            && !error.contains("policy"),
        "{error}"
    );
    // Only claude takes a budget: another CLI's, seen only at run time (a templated
    // `cli`, a fallback's), is refused as at load (probe 27 F5).
    let error = parse(json!({"cli": "codex", "prompt": "p", "max_budget_usd": 0.5})).unwrap_err();
    assert!(error.contains("`codex` has no budget flag"), "{error}");
    // A template that rendered no cap: refused, not run uncapped (probe 30 F5).
    let error = parse(json!({"cli": "claude", "prompt": "p", "max_budget_usd": null})).unwrap_err();
    assert!(error.contains("`with.max_budget_usd` is null"), "{error}");
}

#[test]
fn a_budget_claude_cannot_take_or_a_cli_without_a_budget_flag_is_refused_at_load() {
    let problems = |params: Value| -> Vec<String> {
        let executors = crate::builtin();
        (cairn_engine::check_params(&executors, "agent", &params, "/with").iter())
            .map(|problem| format!("{}: {}", problem.place, problem.message))
            .collect()
    };
    for budget in [json!(0), json!(0.00005), json!(-1)] {
        let params = json!({"cli": "claude", "prompt": "p", "max_budget_usd": budget});
        assert_eq!(
            problems(params),
            [
                "/with/max_budget_usd: less than $0.0001, the least claude's `--max-budget-usd` is given (a budget is rounded down to 4 decimals): give `max_budget_usd` at least 0.0001, or leave it out"
            ],
            "{budget}"
        );
    }
    for budget in [json!(0.0001), json!(2), json!("${{ input.budget }}")] {
        let params = json!({"cli": "claude", "prompt": "p", "max_budget_usd": budget});
        assert_eq!(problems(params), [] as [String; 0], "{budget}");
    }
    for (cli, command) in [
        ("codex", None),
        ("opencode", None),
        ("custom", Some(["a {prompt}"])),
    ] {
        let mut params = json!({"cli": cli, "prompt": "p"});
        if let Some(command) = command {
            params["command"] = json!(command);
        }
        assert_eq!(problems(params.clone()), [] as [String; 0], "{cli}");
        params["max_budget_usd"] = json!(1);
        assert_eq!(
            problems(params),
            [format!(
                "/with/max_budget_usd: `{cli}` has no budget flag, so `max_budget_usd` would do nothing: leave it out (only claude takes a budget; a policy's `cost_usd` budget bounds any run)"
            )],
        );
    }
}

#[test]
fn the_schema_editors_read_refuses_the_budgets_the_loader_refuses() {
    use cairn_engine::Executor;
    let params = super::super::AgentExecutor::new().params_schema().unwrap();
    let schema = cairn_engine::workflow_editor_schema([("agent", params)]);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let takes = |with: Value| {
        let step = json!({"id": "a", "executor": "agent", "with": with});
        validator.is_valid(&json!({"name": "w", "steps": [step]}))
    };
    let claude = |budget: Value| json!({"cli": "claude", "prompt": "p", "max_budget_usd": budget});
    assert!(!takes(claude(json!(0))));
    assert!(takes(claude(json!(0.0001))));
    assert!(takes(claude(json!("${{ input.budget }}"))));
    assert!(!takes(
        json!({"cli": "codex", "prompt": "p", "max_budget_usd": 1})
    ));
    assert!(takes(json!({"cli": "codex", "prompt": "p"})));
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
fn placeholders_in_the_prompt_or_the_model_are_left_as_written() {
    assert_eq!(
        argv(
            json!({"cli": "custom", "prompt": "Fix: print(f'{model}') {prompt}", "model": "m{prompt}",
                    "command": ["agent", "-m", "{model}", "{prompt}{model}", "{x}{"]})
        ),
        [
            "agent",
            "-m",
            "m{prompt}",
            "Fix: print(f'{model}') {prompt}m{prompt}",
            "{x}{"
        ]
    );
    // With no model, a `{model}` in the prompt is not replaced by nothing.
    assert_eq!(
        argv(json!({"cli": "custom", "prompt": "print(f'{model}')",
                    "command": ["agent", "{prompt}"]})),
        ["agent", "print(f'{model}')"]
    );
}

#[test]
fn env_cwd_and_kill_grace_pass_through_to_the_process() {
    let params = json!({"cli": "claude", "prompt": "p", "env": {"A": "1"}, "cwd": "/tmp",
                        "kill_grace": "1s", "model": "m"});
    let process = parse(params).unwrap().process_params();
    assert_eq!(
        process.command,
        [
            "claude",
            "-p",
            "--output-format",
            "stream-json",
            "--model",
            "m",
            "--verbose",
            "--",
            "p"
        ]
    );
    assert_eq!(process.input, Value::Null);
    assert_eq!(process.env["A"], "1");
    assert_eq!(process.cwd.as_deref(), Some(std::path::Path::new("/tmp")));
    assert_eq!(process.kill_grace.map(|grace| grace.0.as_secs()), Some(1));
}

#[test]
fn bad_parameters_are_named() {
    for (params, named) in [
        (json!({"prompt": "p"}), "missing field `cli`"),
        (
            json!({"cli": "gemini", "prompt": "p"}),
            "unknown variant `gemini`",
        ),
        (json!({"cli": "claude"}), "missing field `prompt`"),
        (
            json!({"cli": "claude", "prompt": " "}),
            "`with.prompt` is empty",
        ),
        (
            json!({"cli": "claude", "prompt": 3}),
            "`with.prompt`: invalid type",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "model": 1}),
            "`with.model`",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "args": "-v"}),
            "`with.args`: invalid type",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "args": [1]}),
            "`with.args[0]`",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "program": ""}),
            "`with.program` is empty",
        ),
        // Before the guard reads it as the run's directory (probe 179 F2).
        (
            json!({"cli": "claude", "prompt": "p", "cwd": ""}),
            "`with.cwd` is empty",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "cwd": "a\u{0}"}),
            "`with.cwd` holds a NUL byte",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "args": ["--max-budget-usd", "1000"]}),
            "`with.args` sets `--max-budget-usd`",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "args": ["-v", "--max-budget-usd=9"]}),
            "use `with.max_budget_usd`",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "command": ["x"]}),
            "only for `cli: custom`",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "input": {"a": 1}}),
            "unknown field `input`",
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
        (
            json!({"cli": "claude", "prompt": "p\u{0}"}),
            "`with.prompt` holds a NUL byte",
        ),
        (
            json!({"cli": "claude", "prompt": "p".repeat(200_000)}),
            "`with.prompt` holds 200000 bytes, past the 128 KiB one argument may hold",
        ),
        (
            json!({"cli": "custom", "prompt": "p".repeat(131_070),
                    "command": ["x", "--prompt={prompt}"]}),
            "`with.prompt` holds 131070 bytes, and argument 1 of `with.command`, which it goes into, 131079",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "model": "\u{0}"}),
            "`with.model` holds a NUL byte",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "program": "c\u{0}"}),
            "`with.program` holds a NUL byte",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "args": ["-v", "\u{0}"]}),
            "`with.args[1]` holds a NUL byte",
        ),
        (
            json!({"cli": "custom", "prompt": "p", "command": ["x", "{prompt}\u{0}"]}),
            "`with.command[1]` holds a NUL byte",
        ),
        (
            json!({"cli": "claude", "prompt": "p", "env": {"K": "\u{0}"}}),
            "`with.env.K` holds a NUL byte",
        ),
    ] {
        let message = parse(params.clone()).unwrap_err();
        assert!(message.contains(named), "{params}: {message}");
    }
}
