//! Tests of the policy guard through its public API. One test binary, one module per area.

mod guards {
    mod adversarial;
    mod cwd_env;
    mod load;
    mod verdicts;
    mod wrappers;
}

use std::path::Path;
use std::sync::Arc;

use cairn_engine::{Action, Decision, Facts, Guard, SharedJson, Usage, Uuid, Verdict};
use cairn_guards::{Policy, PolicyGuard};
use serde_json::{Value, json};

/// A policy from its JSON text, tests run, roots relative to `base`.
fn guard_in(policy: &Value, base: &Path) -> PolicyGuard {
    PolicyGuard::from_str(&policy.to_string(), base, "policy.json")
        .unwrap_or_else(|error| panic!("{error}"))
}

/// A policy from its JSON text.
fn guard(policy: Value) -> PolicyGuard {
    guard_in(&policy, Path::new("."))
}

/// The parsed policy, tests not run.
fn policy(policy: Value) -> Policy {
    Policy::from_str(&policy.to_string(), Path::new("."), "policy.json")
        .unwrap_or_else(|error| panic!("{error}"))
}

/// An action of `executor` with `params`, first attempt.
fn action(executor: &str, params: Value) -> Action {
    Action {
        run_id: Uuid::nil(),
        step_id: "step".into(),
        item_index: None,
        attempt: 1,
        executor: executor.into(),
        params,
        idempotency_key: "step".into(),
    }
}

/// How a run stands: `attempts` and `steps` started, `usage` spent, `elapsed` seconds.
struct Run {
    attempts: u64,
    steps: u64,
    usage: Usage,
    elapsed: u64,
    input: Value,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            attempts: 0,
            steps: 0,
            usage: Usage::default(),
            elapsed: 0,
            input: json!({}),
        }
    }
}

/// The verdict of `guard` (a policy, restored or not) on `action` in a run standing as `run`.
fn judge_in(guard: &dyn Guard, action: &Action, run: &Run) -> Verdict {
    let facts = Facts {
        item: None,
        id: Uuid::nil(),
        workflow: "w",
        input: &Arc::new(SharedJson::new(run.input.clone())),
        attempts: run.attempts,
        steps: run.steps,
        started: action.attempt > 1,
        usage: &run.usage,
        reserved: &Usage::default(),
        elapsed: std::time::Duration::from_secs(run.elapsed),
        cwd: Some(&std::env::current_dir().unwrap()),
    };
    guard.judge(action, &facts)
}

/// The verdict on `action` in a fresh run.
fn judge(guard: &PolicyGuard, action: &Action) -> Verdict {
    judge_in(guard, action, &Run::default())
}

/// The verdict on `bash -c script`.
fn judge_script(guard: &PolicyGuard, script: &str) -> Verdict {
    judge(
        guard,
        &action("process", json!({"command": ["bash", "-c", script]})),
    )
}

/// Asserts that `guard` decides `decision` on `bash -c` of each of `scripts`.
fn each_decided(guard: &PolicyGuard, scripts: &[&str], decision: Decision) {
    for script in scripts {
        let verdict = judge_script(guard, script);
        assert_eq!(verdict.decision, decision, "{script:?}: {verdict:?}");
    }
}
