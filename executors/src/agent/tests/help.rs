//! Each preset's argv against the recorded `--help` of its CLI (fixtures/help/): every
//! option the preset passes, and every option the docs recommend in `with.args`, is one
//! the CLI lists.

use serde_json::json;

use crate::agent::params::AgentParams;
use crate::test_support::action;

/// Whether `help` lists `option` (a whole word: `--model` is not `--model-foo`).
fn lists(help: &str, option: &str) -> bool {
    help.match_indices(option).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + option.len()..].chars().next();
        matches!(before, None | Some(' ' | ',' | '\n' | '['))
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// The options of `argv` before its `--`, which ends them.
fn options(argv: &[String]) -> Vec<&str> {
    (argv.iter().skip(1))
        .take_while(|arg| *arg != "--")
        .map(String::as_str)
        .filter(|arg| arg.starts_with('-'))
        .collect()
}

/// The preset argv of `cli` with a model, a budget if it is claude (the one CLI that takes
/// one), and `args`.
fn argv(cli: &str, args: &[&str]) -> Vec<String> {
    let mut params = json!({"cli": cli, "prompt": "-p", "model": "m", "args": args});
    if cli == "claude" {
        params["max_budget_usd"] = json!(1);
    }
    AgentParams::parse(&action("agent", params)).unwrap().argv()
}

/// Checks the preset of `cli`, with the `args` the docs recommend, against `help`; and
/// that the preset's subcommand, if any, is one `top` (the CLI's own help) lists.
fn check(cli: &str, help: &str, top: &str, args: &[&str]) {
    let argv = argv(cli, args);
    assert_eq!(
        argv[argv.len() - 2..],
        ["--", "-p"],
        "{cli}: `--` before the prompt"
    );
    for option in options(&argv) {
        assert!(
            lists(help, option),
            "{cli} --help does not list {option}: {argv:?}"
        );
    }
    if let Some(subcommand) = argv.get(1).filter(|arg| !arg.starts_with('-')) {
        assert!(
            lists(top, subcommand),
            "{cli} --help does not list {subcommand}"
        );
    }
}

#[test]
fn claude_preset_is_accepted_by_claude_2_1_197() {
    let help = include_str!("../fixtures/help/claude--help.txt");
    check("claude", help, help, &["--permission-mode", "acceptEdits"]);
    let argv = argv("claude", &[]);
    assert!(argv.contains(&"--max-budget-usd".to_owned()), "{argv:?}");
    assert!(
        argv.contains(&"--verbose".to_owned()),
        "stream-json needs --verbose"
    );
}

#[test]
fn codex_preset_is_accepted_by_codex_cli_0_171_0() {
    let help = include_str!("../fixtures/help/codex-exec--help.txt");
    let top = include_str!("../fixtures/help/codex--help.txt");
    check(
        "codex",
        help,
        top,
        &["--sandbox", "workspace-write", "--skip-git-repo-check"],
    );
    assert!(!lists(help, "--full-auto"), "0.171 has no --full-auto");
}

#[test]
fn opencode_preset_is_accepted_by_opencode_1_18_33() {
    let help = include_str!("../fixtures/help/opencode-run--help.txt");
    let top = include_str!("../fixtures/help/opencode--help.txt");
    check("opencode", help, top, &["--agent", "build"]);
}

#[test]
fn an_option_not_in_the_help_is_caught() {
    let help = include_str!("../fixtures/help/codex-exec--help.txt");
    assert!(lists(help, "--json"));
    assert!(!lists(help, "--jso"));
    assert!(!lists(help, "--full-auto"));
}

#[test]
fn a_budget_reaches_claude_as_a_flag_its_help_lists() {
    let params = json!({"cli": "claude", "prompt": "hi", "max_budget_usd": 0.25});
    let argv = AgentParams::parse(&action("agent", params)).unwrap().argv();
    let at = argv
        .iter()
        .position(|arg| arg == "--max-budget-usd")
        .expect("the flag");
    assert_eq!(argv[at + 1], "0.2500");
    let help = include_str!("../fixtures/help/claude--help.txt");
    assert!(options(&argv).iter().all(|option| lists(help, option)));
}
