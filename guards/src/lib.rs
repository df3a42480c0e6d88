//! cairn-guards: the policy guard.
//!
//! A [`Policy`] is a JSON file (schema: [`schema`], `cairn schema policy`) of command
//! prefixes, working directories, variable names, budgets, rate limits and CEL rules, with
//! tests of its own. [`PolicyGuard`] is a policy whose tests pass, as the engine's
//! [`Guard`](cairn_engine::Guard): it judges every action before every attempt.
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//!
//! use cairn_engine::{Action, Decision, Facts, SharedJson, Usage, Uuid};
//! use cairn_guards::PolicyGuard;
//! use serde_json::json;
//!
//! let policy = r#"{"commands": {"deny": [["rm"]]},
//!     "tests": [{"action": {"executor": "process", "params": {"command": ["rm", "x"]}}, "expect": "deny"}]}"#;
//! let guard = PolicyGuard::from_str(policy, Path::new("."), "policy.json")?;
//! let action = Action {
//!     run_id: Uuid::nil(), step_id: "clean".into(), item_index: None, attempt: 1,
//!     executor: "process".into(), params: json!({"command": ["sh", "-c", "ls && \\rm -rf x"]}),
//!     idempotency_key: "clean".into(),
//! };
//! let input = Arc::new(SharedJson::new(json!(null)));
//! let facts = Facts {
//!     item: None, id: Uuid::nil(), workflow: "w", input: &input, attempts: 0, steps: 0,
//!     started: false, usage: &Usage::default(), reserved: &Usage::default(), elapsed: std::time::Duration::ZERO,
//!     cwd: None,
//! };
//! let verdict = guard.explain(&action, &facts);
//! assert_eq!(verdict.decision, Decision::Deny);
//! assert_eq!(verdict.rules, ["commands.deny"]);
//! # Ok::<(), cairn_engine::LoadError>(())
//! ```

#![forbid(unsafe_code)]

mod bounded;
pub mod command;
mod guard;
mod judge;
mod paths;
mod policy;
mod selftest;

pub use guard::{PolicyGuard, Restorer};
pub use policy::{
    Approval, Budgets, Commands, Mode, OnTimeout, Policy, PolicyTest, RateLimitRule, Rule,
    TestAction, TestRun, schema,
};
pub use selftest::TestFailure;
