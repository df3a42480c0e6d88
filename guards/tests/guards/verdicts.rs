//! How findings combine, budgets, audit mode, rules, rate limits, snapshots.

use std::sync::Arc;

use cairn_engine::{Decision, Guard, Usage};
use serde_json::json;

use crate::{Run, action, guard, judge, judge_in, judge_script, policy};

#[test]
fn deny_wins_over_approve_over_allow_over_the_default() {
    let guard = guard(json!({
        "default": "deny",
        "commands": {"allow": [["git"]], "approve": [["git", "push"]], "deny": [["git", "push", "--force"]]}
    }));
    let decide = |line: &str| {
        let argv: Vec<&str> = line.split(' ').collect();
        judge(&guard, &action("process", json!({"command": argv})))
    };
    assert_eq!(decide("git push --force").decision, Decision::Deny);
    let push = decide("git push");
    assert_eq!(push.decision, Decision::Approve);
    assert_eq!(push.rules, ["commands.approve"]);
    assert_eq!(
        push.approval_timeout,
        Some(std::time::Duration::from_secs(86_400))
    );
    assert_eq!(decide("git status").decision, Decision::Allow);
    assert_eq!(
        decide("bash -c ls").decision,
        Decision::Deny,
        "bash is not allowed"
    );
    let noop = judge(&guard, &action("noop", json!({})));
    assert_eq!(noop.decision, Decision::Deny);
    assert!(noop.rules.is_empty(), "the default decides");
}

/// A command `approve` names surely is asked, not denied by an allow-list that leaves it out;
/// one it matches only by a path's basename or a word known at run time is denied (probe 84
/// F1: every `git push` was denied, "matches no allowed command").
#[test]
fn an_approval_outside_the_allow_list_asks_for_what_it_surely_names() {
    let guard = guard(json!({
        "default": "deny",
        "commands": {"allow": [["bash", "-c"]], "approve": [["git", "push"]]}
    }));
    let push = judge_script(&guard, "git push origin main");
    assert_eq!(push.decision, Decision::Approve, "{push:?}");
    assert_eq!(push.rules, ["commands.approve"]);
    for unsure in ["./git push", "$GIT push", "git status"] {
        let verdict = judge_script(&guard, unsure);
        assert_eq!(verdict.decision, Decision::Deny, "{unsure}: {verdict:?}");
    }
}

#[test]
fn rules_see_whether_a_command_has_a_word_known_only_at_run_time() {
    let guard = guard(json!({"rules": [
        {"id": "unread", "effect": "approve", "reason": "a word the checker cannot read",
         "when": "action.dynamic"}
    ]}));
    for (script, decision) in [
        ("claude -p --x -- hi", Decision::Allow),
        ("claude -p --x$E -- hi", Decision::Approve),
        ("claude -p \"$(cat flags)\" -- hi", Decision::Approve),
    ] {
        assert_eq!(judge_script(&guard, script).decision, decision, "{script}");
    }
}

/// Probe 40 F3: `action.dynamic_commands` lists the commands holding a word known only at
/// run time, so a rule can deny `git` given one (`git ls-remote "$1"`) and not every action
/// in which some other command has one.
#[test]
fn rules_see_which_commands_have_a_word_known_only_at_run_time() {
    let guard = guard(json!({"rules": [
        {"id": "git-words-known", "effect": "deny", "reason": "git's words are all known",
         "when": "action.dynamic_commands.exists(c, c[0] == 'git')"}
    ]}));
    for (script, decision) in [
        ("git ls-remote \"$1\" .", Decision::Deny),
        ("LANG=x; git ls-remote $LANG .", Decision::Deny),
        ("echo \"$HOME\"; git status", Decision::Allow),
        ("git status", Decision::Allow),
    ] {
        assert_eq!(judge_script(&guard, script).decision, decision, "{script}");
    }
}

#[test]
fn rules_see_the_action_and_the_run_and_an_error_denies() {
    let guard = guard(json!({
        "approval": {"timeout": "1h"},
        "rules": [
            {"id": "no-prod", "effect": "deny", "reason": "never against production",
             "when": "action.executor == 'process' && run.input.target == 'prod'"},
            {"id": "pushes", "effect": "approve", "reason": "a person checks pushes",
             "when": "action.commands.exists(c, c.size() > 1 && c[0] == 'git' && c[1] == 'push')"},
            {"id": "broken", "effect": "allow", "reason": "x", "when": "action.params.nope.deeper"}
        ]
    }));
    let ls = action("process", json!({"command": ["ls"]}));
    let prod = Run {
        input: json!({"target": "prod"}),
        ..Run::default()
    };
    let verdict = judge_in(&guard, &ls, &prod);
    assert_eq!(verdict.decision, Decision::Deny);
    assert_eq!(verdict.rules, ["no-prod", "broken"]);
    assert!(
        verdict.reasons[1].starts_with("rule errored: "),
        "{verdict:?}"
    );
    let ok_guard = super::super::guard(json!({"rules": [
        {"id": "pushes", "effect": "approve", "reason": "a person checks pushes",
         "when": "action.commands.exists(c, c.size() > 1 && c[0] == 'git' && c[1] == 'push')"}
    ], "approval": {"timeout": "1h"}}));
    let push = judge_script(&ok_guard, "cd x && git push");
    assert_eq!(push.decision, Decision::Approve, "{push:?}");
    assert_eq!(
        push.approval_timeout,
        Some(std::time::Duration::from_secs(3600))
    );
}

#[test]
fn budgets_deny_once_spent() {
    let guard = guard(json!({"budgets": {
        "attempts": 3, "steps": 2, "cost_usd": 1.5, "tokens": 1000, "wall_time": "1h"
    }}));
    let first = action("noop", json!({}));
    let mut retry = first.clone();
    retry.attempt = 2;
    let cases = [
        (
            Run {
                attempts: 3,
                ..Run::default()
            },
            &first,
            Some("budget.attempts"),
        ),
        (
            Run {
                attempts: 2,
                ..Run::default()
            },
            &first,
            None,
        ),
        (
            Run {
                steps: 2,
                ..Run::default()
            },
            &first,
            Some("budget.steps"),
        ),
        (
            Run {
                steps: 2,
                ..Run::default()
            },
            &retry,
            None,
        ),
        (
            Run {
                usage: Usage {
                    cost_usd: 1.5,
                    ..Usage::default()
                },
                ..Run::default()
            },
            &first,
            Some("budget.cost_usd"),
        ),
        (
            Run {
                usage: Usage {
                    input_tokens: 600,
                    output_tokens: 400,
                    cost_usd: 0.0,
                },
                ..Run::default()
            },
            &first,
            Some("budget.tokens"),
        ),
        (
            Run {
                usage: Usage {
                    input_tokens: 600,
                    ..Usage::default()
                },
                ..Run::default()
            },
            &first,
            None,
        ),
        (
            Run {
                elapsed: 3600,
                ..Run::default()
            },
            &first,
            Some("budget.wall_time"),
        ),
    ];
    for (run, action, rule) in cases {
        let verdict = judge_in(&guard, action, &run);
        match rule {
            Some(rule) => {
                assert_eq!(verdict.decision, Decision::Deny, "{rule}");
                assert_eq!(verdict.rules, [rule]);
            }
            None => assert_eq!(verdict.decision, Decision::Allow, "{verdict:?}"),
        }
    }
}

#[test]
fn an_agent_under_a_cost_budget_gets_what_is_left_as_its_own_limit() {
    let guard = guard(json!({"budgets": {"cost_usd": 2.0}}));
    let spent = Run {
        usage: Usage {
            cost_usd: 1.5,
            ..Usage::default()
        },
        ..Run::default()
    };
    let claude = action("agent", json!({"cli": "claude", "prompt": "hi"}));
    let verdict = judge_in(&guard, &claude, &spent);
    assert_eq!(verdict.params.unwrap()["max_budget_usd"], json!(0.5));
    let capped = action(
        "agent",
        json!({"cli": "claude", "prompt": "hi", "max_budget_usd": 0.1}),
    );
    let verdict = judge_in(&guard, &capped, &spent);
    assert_eq!(
        verdict.params.unwrap()["max_budget_usd"],
        json!(0.1),
        "never raised"
    );
    let process = action("process", json!({"command": ["true"]}));
    assert_eq!(judge_in(&guard, &process, &spent).params, None);
}

#[test]
fn a_spent_budget_denies_in_its_own_words_and_an_audit_caps_nothing() {
    let over = Run {
        usage: Usage {
            cost_usd: 2.5,
            ..Usage::default()
        },
        ..Run::default()
    };
    let claude = action("agent", json!({"cli": "claude", "prompt": "hi"}));
    // Not the executor's "max_budget_usd is 0", which blamed a step that set none.
    let verdict = judge_in(
        &guard(json!({"budgets": {"cost_usd": 2.0}})),
        &claude,
        &over,
    );
    assert_eq!(verdict.decision, Decision::Deny);
    assert_eq!(verdict.rules, ["budget.cost_usd"], "{verdict:?}");
    // A sum of costs, told without its binary rounding noise, to the billionth.
    let noisy = Run {
        usage: Usage {
            cost_usd: 0.013_584_15 * 3.0,
            ..Usage::default()
        },
        ..Run::default()
    };
    let verdict = judge_in(
        &guard(json!({"budgets": {"cost_usd": 0.03}})),
        &claude,
        &noisy,
    );
    let why = "the run's budget is spent: $0.04075245 of $0.03";
    assert!(verdict.reasons[0].starts_with(why), "{verdict:?}");
    let audit = guard(json!({"mode": "audit", "budgets": {"cost_usd": 2.0}}));
    let spent = Run {
        usage: Usage {
            cost_usd: 1.5,
            ..Usage::default()
        },
        ..Run::default()
    };
    assert_eq!(
        judge_in(&audit, &claude, &spent).params,
        None,
        "runs as written"
    );
    assert!(
        !audit.counts_spending(),
        "an audit keeps items starting as slots free"
    );
    assert!(guard(json!({"budgets": {"tokens": 10}})).counts_spending());
}

#[test]
fn an_audit_holds_no_attempt_back_for_a_rate_limit() {
    let limits = json!([{"executor": "process", "max": 1, "per": "1m"}]);
    let enforced = guard(json!({"rate_limits": limits}));
    assert_eq!(enforced.rate_limits().len(), 1);
    let audit = guard(json!({"mode": "audit", "rate_limits": limits}));
    assert!(
        audit.rate_limits().is_empty(),
        "an audit changes nothing of how a run runs"
    );
}

#[test]
fn an_agent_is_judged_by_the_command_it_runs_with_its_prompt_filled_in() {
    let guard =
        guard(json!({"commands": {"allow": [["sh", "-c"], ["echo"]], "deny": [["touch"]]}}));
    let custom = |prompt: &str, model: &str| {
        let command = ["sh", "-c", "echo {model} {prompt}"];
        let params = json!({"cli": "custom", "prompt": prompt, "model": model, "command": command});
        judge(&guard, &action("agent", params))
    };
    assert_eq!(custom("hi", "m").decision, Decision::Allow);
    for (prompt, model) in [("hi; touch x", "m"), ("hi", "m; touch x")] {
        let verdict = custom(prompt, model);
        assert_eq!(verdict.decision, Decision::Deny, "{prompt} {model}");
        assert!(
            verdict.rules.contains(&"commands.deny".to_owned()),
            "{verdict:?}"
        );
    }
    // What the executor would refuse to run is refused here too, naming the parameter.
    let bad = action("agent", json!({"cli": "custom", "prompt": "hi"}));
    let verdict = judge(&guard, &bad);
    assert_eq!(verdict.decision, Decision::Deny);
    assert!(verdict.reasons[0].contains("with.command"), "{verdict:?}");
}

#[test]
fn a_step_never_sets_a_variable_that_runs_code_unseen_whatever_the_policy() {
    let guard = guard(json!({}));
    let with_env = |env: serde_json::Value| {
        let params = json!({"command": ["bash", "-c", "ls"], "env": env});
        judge(&guard, &action("process", params))
    };
    assert_eq!(with_env(json!({"LANG": "C"})).decision, Decision::Allow);
    for name in ["BASH_ENV", "PS4", "LD_PRELOAD", "BASH_FUNC_ls%%"] {
        let verdict = with_env(json!({ name: "/tmp/x" }));
        assert_eq!(verdict.decision, Decision::Deny, "{name}");
        assert_eq!(verdict.rules, ["env"], "{name}");
    }
}

#[test]
fn text_bash_arithmetic_would_run_a_command_from_is_denied_in_argv_env_and_prompts() {
    let guard = guard(json!({"commands": {"allow": [["sh", "-c"], ["bash", "-c"], ["echo"]]}}));
    let payload = "a[$(touch x)]";
    let process = |command: serde_json::Value, env: serde_json::Value| {
        let params = json!({"command": command, "env": env});
        judge(&guard, &action("process", params))
    };
    for (command, env) in [
        (json!(["bash", "-c", "(( $1 ))", "x", payload]), json!({})),
        (
            json!(["bash", "-c", "[[ $LANG -eq 0 ]]"]),
            json!({"LANG": payload}),
        ),
        (json!(["echo", payload]), json!({})),
    ] {
        let verdict = process(command.clone(), env);
        assert_eq!(verdict.decision, Decision::Deny, "{command}: {verdict:?}");
    }
    let with_env = process(
        json!(["bash", "-c", "(( LANG ))"]),
        json!({"LANG": payload}),
    );
    assert_eq!(with_env.rules, ["env"], "{with_env:?}");
    // A prompt handed to a shell as `$1`, the safe way to pass text, may not hold one either.
    let agent = |prompt: &str| {
        let command = ["sh", "-c", "echo \"$1\"", "_", "{prompt}"];
        let params = json!({"cli": "custom", "prompt": prompt, "command": command});
        judge(&guard, &action("agent", params))
    };
    assert_eq!(agent(payload).decision, Decision::Deny);
    for prompt in [
        "Fix `items[0]` in [`main.rs`](src/main.rs); run `$(pwd)`",
        "[ \"$(id -u)\" -eq 0 ] && echo root; echo \"[$(date)] x\" ${a[$((i + 1))]}",
    ] {
        let verdict = agent(prompt);
        assert_eq!(verdict.decision, Decision::Allow, "{prompt}: {verdict:?}");
    }
}

#[test]
fn text_bash_arithmetic_would_run_a_command_from_is_denied_in_a_process_steps_stdin() {
    // `with.input` is written to stdin: `IFS='"' read -r _ v _; (( v ))` runs `touch x`.
    let guard = guard(json!({"commands": {"allow": [["bash"], ["read"], ["true"]]}}));
    let script = "IFS='\"' read -r _ v _; (( v )); true";
    let with_input = |input: serde_json::Value| {
        let params = json!({"command": ["bash", "-c", script], "input": input});
        judge(&guard, &action("process", params))
    };
    let payload = "a[$(touch x)]";
    for (input, place) in [
        (json!(payload), "in `with.input` holds"),
        (
            json!({"files": ["ok", payload]}),
            "`with.input` at `/files/1`",
        ),
        (
            json!({"a/b": {payload: 1}}),
            "in the key at `/a~1b/a[$(touch x)]`",
        ),
        (
            json!([{"x": [[payload, payload]]}]),
            "(and 1 more in `with.input`)",
        ),
    ] {
        let verdict = with_input(input.clone());
        assert_eq!(verdict.decision, Decision::Deny, "{input}: {verdict:?}");
        assert_eq!(verdict.rules, ["input"], "{input}: {verdict:?}");
        assert!(verdict.reasons[0].contains(place), "{input}: {verdict:?}");
    }
    for input in [
        json!(null),
        json!({"items[0]": "[`main.rs`](src/main.rs)", "log": ["[$(date)] done", 3, true]}),
        json!("${a[$((i + 1))]}"),
    ] {
        let verdict = with_input(input.clone());
        assert_eq!(verdict.decision, Decision::Allow, "{input}: {verdict:?}");
    }
}

#[test]
fn audit_mode_records_what_enforce_would_do() {
    let guard = guard(json!({"mode": "audit", "commands": {"deny": [["rm"]]}}));
    let verdict = judge_script(&guard, "rm x");
    assert_eq!(verdict.decision, Decision::Deny);
    assert!(verdict.audit);
    assert_eq!(verdict.effective(), Decision::Allow);
}

#[test]
fn rate_limits_come_from_the_policy() {
    let guard = guard(json!({"rate_limits": [{"executor": "agent", "max": 10, "per": "1m"}]}));
    let limits = guard.rate_limits();
    assert_eq!(limits.len(), 1);
    assert_eq!((limits[0].executor.as_str(), limits[0].max), ("agent", 10));
    assert_eq!(limits[0].per, std::time::Duration::from_secs(60));
}

#[test]
fn a_snapshot_restores_a_guard_that_judges_alike() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let text = json!({
        "cwd": ["work"], "env": ["HOME"], "commands": {"deny": [["rm"]]},
        "rules": [{"id": "r", "effect": "approve", "reason": "x", "when": "action.step == 'deploy'"}],
        "tests": [{"action": {"executor": "process", "params": {"command": ["rm"]}}, "expect": "deny"}]
    });
    let original = crate::guard_in(&text, dir.path());
    let snapshot = original.snapshot().unwrap();
    assert!(
        snapshot.contains(
            &*dir
                .path()
                .canonicalize()
                .unwrap()
                .join("work")
                .to_string_lossy()
        )
    );
    let restored: Arc<dyn Guard> = original.restore(&snapshot).unwrap();
    assert_eq!(restored.snapshot().unwrap(), snapshot);
    let work = dir.path().join("work");
    for params in [
        json!({"command": ["rm", "x"], "cwd": work}),
        json!({"command": ["ls"], "cwd": work}),
        json!({"command": ["ls"], "cwd": dir.path()}),
    ] {
        let action = action("process", params);
        let expected = judge_in(&original, &action, &Run::default());
        assert_eq!(judge_in(&*restored, &action, &Run::default()), expected);
    }
    assert_eq!(
        policy(serde_json::from_str(&snapshot).unwrap()).cwd,
        original.policy().cwd
    );
}

#[test]
fn the_restorer_restores_snapshots_and_alone_denies_everything() {
    let restorer = cairn_guards::Restorer;
    let fresh = Run::default();
    let ls = action("process", json!({"command": ["ls"]}));
    let alone = judge_in(&restorer, &ls, &fresh);
    assert_eq!(
        alone.decision,
        Decision::Deny,
        "a run stored without a policy"
    );
    assert_eq!(alone.rules, ["guard"]);
    let empty = guard(json!({}));
    let restored = restorer.restore(&empty.snapshot().unwrap()).unwrap();
    assert_eq!(judge_in(&*restored, &ls, &fresh).decision, Decision::Allow);
    let denying = guard(json!({"commands": {"deny": [["ls"]]}}));
    let restored = restorer.restore(&denying.snapshot().unwrap()).unwrap();
    assert_eq!(judge_in(&*restored, &ls, &fresh).decision, Decision::Deny);
}
