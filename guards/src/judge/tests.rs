//! Judging one action: its argv as its executor reads it, its directory from the engine's, an
//! agent under a cost budget.

use std::path::Path;
use std::sync::Arc;

use cairn_engine::{Action, Decision, Facts, SharedJson, Usage, Uuid, Verdict};
use serde_json::{Value, json};

use crate::policy::Policy;

/// The verdict of `policy` on a `process` action with `params` in a fresh run, the
/// engine's directory `cwd`.
fn judged(policy: &Policy, params: Value, cwd: Option<&Path>) -> Verdict {
    judged_in(
        policy,
        "process",
        params,
        cwd,
        (&Usage::default(), &Usage::default()),
    )
}

/// The verdict of `policy` on an action of `executor` with `params`, the engine's directory
/// `cwd`, in a run whose ended attempts used `spent.0` and whose attempts in flight hold
/// `spent.1`.
fn judged_in(
    policy: &Policy,
    executor: &str,
    params: Value,
    cwd: Option<&Path>,
    spent: (&Usage, &Usage),
) -> Verdict {
    in_a_fresh_run(executor, params, cwd, spent, |action, facts| {
        policy.judge(action, facts)
    })
}

/// What `see` makes of an action of `executor` with `params` (step `s`, attempt 1) and the
/// facts of a fresh run, as [`judged_in`] says.
pub(super) fn in_a_fresh_run<T>(
    executor: &str,
    params: Value,
    cwd: Option<&Path>,
    spent: (&Usage, &Usage),
    see: impl FnOnce(&Action, &Facts<'_>) -> T,
) -> T {
    let action = Action {
        run_id: Uuid::nil(),
        step_id: "s".into(),
        item_index: None,
        attempt: 1,
        executor: executor.into(),
        params,
        idempotency_key: "s".into(),
    };
    let facts = Facts {
        item: None,
        id: Uuid::nil(),
        workflow: "w",
        input: &Arc::new(SharedJson::new(json!({}))),
        attempts: 0,
        steps: 0,
        started: false,
        usage: spent.0,
        reserved: spent.1,
        elapsed: std::time::Duration::ZERO,
        cwd,
    };
    see(&action, &facts)
}

#[test]
fn a_wall_time_spent_is_said_to_the_millisecond_never_below_the_budget() {
    let said =
        |nanos| super::to_the_millisecond_up(std::time::Duration::from_nanos(nanos)).to_string();
    assert_eq!(said(2_500_300_000), "2s 501ms");
    assert_eq!(said(300_000), "1ms");
    assert_eq!(said(3_000_000_000), "3s");
}

#[test]
fn a_reason_quotes_a_command_on_one_line_its_control_characters_escaped() {
    let policy = Policy::from_str(
        r#"{"commands": {"approve": [["touch"]]}}"#,
        Path::new("."),
        "p.json",
    )
    .unwrap();
    let verdict = judged(
        &policy,
        json!({"command": ["touch", "x\n\nrm -rf /\u{1b}[2J"]}),
        None,
    );
    assert_eq!(verdict.decision, Decision::Approve);
    assert_eq!(
        verdict.reasons,
        ["`touch x\\n\\nrm -rf /\\u{1b}[2J` matches [\"touch\"], which needs approval"]
    );
    // Nor blanks other than a space, unseen characters or marks (probe 150 F2).
    let verdict = judged(
        &policy,
        json!({"command": ["touch", "x\u{a0}y\u{200b}\u{301}"]}),
        None,
    );
    assert_eq!(
        verdict.reasons,
        ["`touch x\\u{a0}y\\u{200b}\\u{301}` matches [\"touch\"], which needs approval"]
    );
}

#[test]
fn a_command_the_process_executor_refuses_is_denied_in_its_words() {
    let policy = Policy::from_str("{}", Path::new("."), "p.json").unwrap();
    for (command, message) in [
        (json!(["", "x"]), "`with.command[0]` (the program) is empty"),
        (
            json!([]),
            "`with.command` is empty: it needs at least the program",
        ),
        (json!(["ls", 1]), "`with.command[1]`: invalid type"),
    ] {
        let verdict = judged(&policy, json!({"command": command}), None);
        assert_eq!(verdict.decision, Decision::Deny, "{command}: {verdict:?}");
        assert_eq!(verdict.rules, ["commands"], "{command}");
        assert!(verdict.reasons[0].starts_with(message), "{verdict:?}");
    }
}

#[test]
fn a_missing_or_relative_cwd_is_judged_from_the_engines_directory_not_the_processs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    let policy = Policy::from_str(r#"{"cwd": ["."]}"#, &root, "p.json").unwrap();
    // The process runs outside the root (in the crate's folder), the engine inside it.
    assert!(!std::env::current_dir().unwrap().starts_with(&root));
    let engine = Some(root.as_path());
    for (params, runs_in) in [
        (json!({"command": ["ls"]}), root.clone()),
        (json!({"command": ["ls"], "cwd": "sub"}), root.join("sub")),
        (
            json!({"command": ["sh", "-c", "ls > listed"], "cwd": "sub"}),
            root.join("sub"),
        ),
    ] {
        let verdict = judged(&policy, params.clone(), engine);
        assert_eq!(verdict.decision, Decision::Allow, "{params}: {verdict:?}");
        assert_eq!(verdict.params.unwrap()["cwd"], json!(runs_in), "{params}");
    }
    let outside = json!({"command": ["ls"], "cwd": ".."});
    assert_eq!(judged(&policy, outside, engine).rules, ["cwd"]);
    // Given no directory, the guard reads none of its own: it denies what needs one.
    for params in [
        json!({"command": ["ls"]}),
        json!({"command": ["ls"], "cwd": "sub"}),
    ] {
        let verdict = judged(&policy, params.clone(), None);
        assert_eq!(verdict.decision, Decision::Deny, "{params}: {verdict:?}");
        assert_eq!(verdict.rules, ["cwd"], "{params}");
        assert!(
            verdict.reasons[0].ends_with("give the step an absolute `with.cwd`"),
            "{verdict:?}"
        );
    }
    let absolute = json!({"command": ["ls"], "cwd": root.join("sub")});
    assert_eq!(judged(&policy, absolute, None).decision, Decision::Allow);
}

#[test]
fn an_agent_under_a_cost_budget_is_judged_by_the_argv_it_runs_with_its_limit() {
    let limit = "action.commands.exists(c, c.exists(w, w == '--max-budget-usd') && c.exists(w, w == '0.5000')) && action.params.max_budget_usd == 0.5";
    let policy = json!({
        "budgets": {"cost_usd": 2.0},
        "rules": [{"id": "limit-seen", "effect": "approve", "reason": "x", "when": limit}],
        "tests": [
            {"action": {"executor": "agent", "params": {"cli": "claude", "prompt": "hi"}},
             "run": {"cost_usd": 1.5}, "expect": "approve", "rule": "limit-seen"},
            {"action": {"executor": "agent", "params": {"cli": "claude", "prompt": "hi", "max_budget_usd": 0.1}},
             "run": {"cost_usd": 1.5}, "expect": "allow"},
        ],
    });
    let policy = Policy::from_str(&policy.to_string(), Path::new("."), "p.json").unwrap();
    let failures: Vec<String> = policy.run_tests().iter().map(|f| f.to_string()).collect();
    assert!(failures.is_empty(), "{failures:?}");
}

mod spending;

#[test]
fn a_standard_stream_is_a_fine_target_unless_a_descriptor_the_checker_did_not_see_is_duplicated() {
    // `flock FILE` leaves FILE open as 3: `1<&3 >/dev/stdout` rewrote it (probe 10 G1).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let policy = Policy::from_str(r#"{"cwd": ["."]}"#, &root, "p.json").unwrap();
    let script = |script: &str| json!({"command": ["flock", "/tmp/x", "bash", "-c", script]});
    for moved in [
        "echo x 1<&3 >/dev/stdout",
        "exec 1<&3; echo x > /dev/stdout",
        "echo x 2<&3 2>/dev/stderr",
        "exec 1<&3-; echo x >/dev/stdout",
        "flock /tmp/y bash -c 'echo x >/dev/stdout' >&-",
        "exec 0<&-; flock /tmp/y bash -c 'echo x >/dev/stdin'",
        "flock /tmp/y bash -c 'echo x >/dev/stdout' 2>&1-",
        "echo x 1>&3- >/dev/stdout",
        "echo x >&$fd >/dev/stdout",
    ] {
        let verdict = judged(&policy, script(moved), Some(&root));
        assert_eq!(verdict.decision, Decision::Deny, "{moved}");
        let reopens = (verdict.reasons.iter()).any(|reason| reason.contains("reopens whatever"));
        assert!(reopens, "{moved}: {verdict:?}");
    }
    for fine in [
        "echo x >/dev/stderr 2>&1",
        "echo x >/dev/stdout 2>&1",
        "echo x >&2",
    ] {
        let verdict = judged(&policy, script(fine), Some(&root));
        assert_eq!(verdict.decision, Decision::Allow, "{fine}: {verdict:?}");
    }
}

#[test]
fn a_rule_reads_where_a_script_writes_made_canonical_under_roots() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::os::unix::fs::symlink(root.join(".git"), root.join("g")).unwrap();
    let policy = Policy::from_str(
        r#"{"cwd": ["."], "rules": [{"id": "git-dir", "effect": "deny", "reason": "no",
            "when": "action.writes.exists(w, w.contains('/.git/'))"}]}"#,
        &root,
        "p.json",
    )
    .unwrap();
    let engine = Some(root.as_path());
    // Through a symlink to `.git`, as written `g/config`: made canonical, the rule sees it.
    let through_link = json!({"command": ["sh", "-c", "echo x >> g/config"]});
    assert_eq!(judged(&policy, through_link, engine).rules, ["git-dir"]);
    let elsewhere = json!({"command": ["sh", "-c", "echo x > notes"]});
    assert_eq!(judged(&policy, elsewhere, engine).decision, Decision::Allow);
}

/// Probe 40 F5: `action.writes` lists what redirections write, not what they only read, so a
/// rule over it no longer denies `cat < f` "for writing" `f`.
#[test]
fn writes_are_the_redirections_that_write() {
    let policy = Policy::from_str(
        r#"{"rules": [{"id": "no-writes", "effect": "deny", "reason": "no",
            "when": "action.writes.size() > 0"}]}"#,
        Path::new("."),
        "p.json",
    )
    .unwrap();
    let script = |text: &str| json!({"command": ["bash", "-c", text]});
    for reads in [
        "cat < in.txt",
        "wc -l 0< in.txt",
        "exec 3< in.txt; cat <&3",
        "grep -q x < .git/config || echo clean",
    ] {
        let verdict = judged(&policy, script(reads), None);
        assert_eq!(verdict.decision, Decision::Allow, "{reads}: {verdict:?}");
    }
    for writes in [
        "echo x > f",
        "echo x >> f",
        "echo x >| f",
        "exec 3<> f",
        "echo x &> f",
        "echo x >& f",
        "cat < in.txt > out.txt",
    ] {
        let verdict = judged(&policy, script(writes), None);
        assert_eq!(verdict.rules, ["no-writes"], "{writes}: {verdict:?}");
    }
}
